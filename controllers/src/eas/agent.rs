//! EAS's meta-controller network, on flat `f64` parameters: an encoder reads the network a
//! step starts from — each layer token ([`scaled_tokens`]) embedded by a linear layer, then a
//! bidirectional LSTM — and two actors decide the step from the encoder's states:
//!
//! - the Net2Wider actor: one head shared by every layer, reading the layer's two states, whose
//!   two options (keep, widen) are a sigmoid's two sides;
//! - the Net2Deeper actor: an LSTM decoder of two steps. The first reads the mean of the
//!   states, and its output `h1` points at the place of the new layer: place `i` scores
//!   `s_i . (A h1 + a)`, `s_i` the states of the layer the place follows. The second reads the
//!   chosen place's states and picks the kernel with a head.
//!
//! [`Agent::step`] walks one growth step along the environment's choices, drawing or
//! replaying each decision; [`Agent::backward`] gives the exact gradient of
//! `-coef * log pi(step) - entropy_weight * H(step)` through the actors, the decoder, both
//! directions of the encoder and the embedding.

use crate::policy::NetworkConfig;
use crate::policy::head::{self, HeadParams, HeadTrace};
use crate::policy::lstm::{self, CellParams, CellTrace, dot};
use crate::policy::network::scaled_tokens;
use archforge::Environment;
use archforge::ability::StepLayout;
use archforge::ability::growth::{GROW, NOWHERE};
use archforge::error::{Error, Result};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The network's sizes (EAS's: embedding 16, 50 LSTM units per direction).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Embedding size of a layer token.
    #[serde(default = "defaults::embedding")]
    pub embedding: usize,
    /// LSTM units per direction of the encoder.
    #[serde(default = "defaults::hidden")]
    pub hidden: usize,
    /// Initial parameters are uniform in `[-init_range, init_range]`.
    #[serde(default = "defaults::init_range")]
    pub init_range: f64,
}

mod defaults {
    pub fn embedding() -> usize {
        16
    }
    pub fn hidden() -> usize {
        50
    }
    pub fn init_range() -> f64 {
        0.1
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            embedding: defaults::embedding(),
            hidden: defaults::hidden(),
            init_range: defaults::init_range(),
        }
    }
}

/// Where the parameters sit.
#[derive(Debug, Clone)]
struct Layout {
    /// The embedding's weights (`embedding x fields`) and bias.
    embed: (usize, usize),
    fields: usize,
    /// The encoder's forward and backward cells.
    encoder: [CellParams; 2],
    /// The Net2Wider head (2 options, on both states).
    wider: HeadParams,
    /// The decoder's cell (input: both states; hidden: as wide).
    decoder: CellParams,
    /// The pointer's `A` (`2 hidden x 2 hidden`) and `a`.
    pointer: (usize, usize),
    /// The kernel head.
    kernel: HeadParams,
    len: usize,
}

/// The encoder's computation over one network's tokens.
struct Encoded {
    tokens: Vec<Vec<f64>>,
    /// Per direction, per position: the cell's trace.
    cells: [Vec<CellTrace>; 2],
    /// Per position: both directions' states, joined.
    top: Vec<Vec<f64>>,
}

/// The Net2Deeper actor's computation.
struct Deeper {
    /// The decoder's first step (on the states' mean).
    first: CellTrace,
    /// `A h1 + a`.
    query: Vec<f64>,
    /// The layers the places follow, their probabilities and the chosen place.
    places: Vec<usize>,
    probs: Vec<f64>,
    chosen: usize,
    /// The decoder's second step and the kernel head, with the chosen kernel option.
    second: CellTrace,
    kernel: HeadTrace,
    kernel_option: usize,
}

/// One growth step as the agent took it (kept for back-propagation).
pub struct StepTrace {
    encoded: Encoded,
    /// Per widening decision it drew: the layer, the head's trace and the option.
    widen: Vec<(usize, HeadTrace, usize)>,
    deeper: Option<Deeper>,
}

impl StepTrace {
    /// `log pi` of the step's drawn decisions.
    pub fn log_prob(&self) -> f64 {
        let wider: f64 = self.widen.iter().map(|(_, h, a)| h.log_prob(*a)).sum();
        wider
            + self.deeper.as_ref().map_or(0.0, |d| {
                d.probs[d.chosen].ln() + d.kernel.log_prob(d.kernel_option)
            })
    }

    /// The entropy of each distribution it drew from, summed.
    pub fn entropy(&self) -> f64 {
        let wider: f64 = self.widen.iter().map(|(_, h, _)| h.entropy()).sum();
        wider
            + self
                .deeper
                .as_ref()
                .map_or(0.0, |d| entropy(&d.probs) + d.kernel.entropy())
    }
}

fn entropy(probs: &[f64]) -> f64 {
    -probs
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|p| p * p.ln())
        .sum::<f64>()
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// EAS's meta-controller network (see the module documentation).
#[derive(Debug, Clone)]
pub struct Agent {
    config: AgentConfig,
    heads: NetworkConfig,
    layout: Layout,
    /// How many kernel sizes its kernel head chooses among.
    kernels: usize,
    /// Every parameter.
    pub params: Vec<f64>,
}

impl Agent {
    /// An agent reading tokens of `fields` numbers and choosing among `kernels` kernel sizes,
    /// parameters drawn from `rng`.
    pub fn new(
        config: AgentConfig,
        fields: usize,
        kernels: usize,
        rng: &mut archforge::Rng,
    ) -> Self {
        let (e, h) = (config.embedding, config.hidden);
        let mut len = 0;
        let mut take = |n: usize| {
            let at = len;
            len += n;
            at
        };
        let embed = (take(e * fields), take(e));
        let mut cell = |input: usize, hidden: usize| CellParams {
            weights: take(4 * hidden * (input + hidden)),
            bias: take(4 * hidden),
            input,
            hidden,
        };
        let encoder = [cell(e, h), cell(e, h)];
        let decoder = cell(2 * h, 2 * h);
        let wider = HeadParams {
            weights: take(2 * 2 * h),
            bias: take(2),
            input: 2 * h,
        };
        let pointer = (take(4 * h * h), take(2 * h));
        let kernel = HeadParams {
            weights: take(kernels * 2 * h),
            bias: take(kernels),
            input: 2 * h,
        };
        let r = config.init_range;
        let params = (0..len).map(|_| rng.random_range(-r..=r)).collect();
        Agent {
            config,
            heads: NetworkConfig::default(),
            layout: Layout {
                embed,
                fields,
                encoder,
                wider,
                decoder,
                pointer,
                kernel,
                len,
            },
            kernels,
            params,
        }
    }

    /// Both directions of the encoder over a network's tokens.
    fn encode(&self, tokens: &[Vec<f64>]) -> Result<Encoded> {
        let e = self.config.embedding;
        let f = self.layout.fields;
        if tokens.is_empty() || tokens.iter().any(|t| t.len() != f) {
            return Err(Error::Controller {
                controller: "eas".into(),
                reason: format!("the network's layer tokens are not of {f} numbers each"),
            });
        }
        let tokens = scaled_tokens(tokens);
        let (w, b) = self.layout.embed;
        let embedded: Vec<Vec<f64>> = tokens
            .iter()
            .map(|x| {
                (0..e)
                    .map(|i| self.params[b + i] + dot(&self.params[w + i * f..w + (i + 1) * f], x))
                    .collect()
            })
            .collect();
        let n = tokens.len();
        let [forward, backward] = self.layout.encoder;
        let (fwd, fwd_states) = lstm::sweep(&self.params, forward, &embedded, false);
        let (bwd, bwd_states) = lstm::sweep(&self.params, backward, &embedded, true);
        let states = [fwd_states, bwd_states];
        let cells = [fwd, bwd];
        let top = (0..n)
            .map(|t| [states[0][t].as_slice(), states[1][t].as_slice()].concat())
            .collect();
        Ok(Encoded { tokens, cells, top })
    }

    /// One growth step from the boundary `prefix` (extended in place), laid out as `layout`
    /// says; `pick(position, probs, legal)` chooses each drawn decision. The agent always
    /// inserts a layer where the network has a place for one.
    pub fn step(
        &self,
        env: &dyn Environment,
        prefix: &mut Vec<usize>,
        layout: &StepLayout,
        mut pick: impl FnMut(usize, &[f64], &[usize]) -> Result<usize>,
    ) -> Result<StepTrace> {
        let encoded = self.encode(&layout.tokens)?;
        // The legal options of the choice after `prefix`, which must number at most `most`
        // (what the step's layout says it is).
        let offered_within = |prefix: &[usize], most: usize| -> Result<Vec<usize>> {
            let choice = env
                .next_choice(prefix)?
                .ok_or_else(|| Error::InvalidDecisions {
                    decisions: prefix.to_vec(),
                    reason: "the sequence ended inside a growth step".into(),
                })?;
            if choice.options > most {
                return Err(Error::Controller {
                    controller: "eas".into(),
                    reason: format!(
                        "after {prefix:?} the space offers {} options where its step layout allows {most}",
                        choice.options
                    ),
                });
            }
            archforge::env::legal_options(env, prefix.len(), &choice)
        };
        let offered = |prefix: &[usize]| offered_within(prefix, 2);
        if !offered(prefix)?.contains(&GROW) {
            return Err(Error::InvalidDecisions {
                decisions: prefix.clone(),
                reason: "the network may not grow further".into(),
            });
        }
        prefix.push(GROW);
        let mut widen = Vec::new();
        for &layer in &layout.widen {
            let legal = offered(prefix)?;
            if legal.len() == 1 {
                prefix.push(legal[0]);
                continue;
            }
            let trace = head::forward(
                &self.params,
                self.layout.wider,
                &self.heads,
                &encoded.top[layer],
                &legal,
            );
            let option = pick(prefix.len(), &trace.probs, &legal)?;
            prefix.push(option);
            widen.push((layer, trace, option));
        }
        let legal = offered_within(prefix, layout.places.len() + 1)?;
        if layout.places.is_empty() {
            prefix.push(NOWHERE);
            return Ok(StepTrace {
                encoded,
                widen,
                deeper: None,
            });
        }
        let d = 2 * self.config.hidden;
        let n = encoded.top.len() as f64;
        let mean: Vec<f64> = (0..d)
            .map(|j| encoded.top.iter().map(|s| s[j]).sum::<f64>() / n)
            .collect();
        let zeros = vec![0.0; d];
        let first = lstm::forward(&self.params, self.layout.decoder, &mean, &zeros, &zeros);
        let h1 = first.hidden();
        let (a, bias) = self.layout.pointer;
        let query: Vec<f64> = (0..d)
            .map(|i| self.params[bias + i] + dot(&self.params[a + i * d..a + (i + 1) * d], &h1))
            .collect();
        let options: Vec<usize> = (1..=layout.places.len())
            .filter(|o| legal.contains(o))
            .collect();
        let logits: Vec<f64> = options
            .iter()
            .map(|&o| dot(&encoded.top[layout.places[o - 1]], &query))
            .collect();
        let probs = softmax(&logits);
        let option = pick(prefix.len(), &probs, &options)?;
        let chosen =
            options
                .iter()
                .position(|&o| o == option)
                .ok_or_else(|| Error::InvalidDecisions {
                    decisions: prefix.clone(),
                    reason: format!("the agent does not draw place option {option}"),
                })?;
        prefix.push(option);
        let places: Vec<usize> = options.iter().map(|&o| layout.places[o - 1]).collect();
        let second = lstm::forward(
            &self.params,
            self.layout.decoder,
            &encoded.top[places[chosen]],
            &h1,
            &first.c,
        );
        let legal = offered_within(prefix, layout.kernels.len().min(self.kernels))?;
        let kernel = head::forward(
            &self.params,
            self.layout.kernel,
            &self.heads,
            &second.hidden(),
            &legal,
        );
        let kernel_option = pick(prefix.len(), &kernel.probs, &legal)?;
        prefix.push(kernel_option);
        Ok(StepTrace {
            encoded,
            widen,
            deeper: Some(Deeper {
                first,
                query,
                places,
                probs,
                chosen,
                second,
                kernel,
                kernel_option,
            }),
        })
    }

    /// Adds into `grad` the gradient of `-coef * log pi(step) - entropy_weight * H(step)`.
    pub fn backward(&self, step: &StepTrace, coef: f64, entropy_weight: f64, grad: &mut [f64]) {
        let h = self.config.hidden;
        let d = 2 * h;
        let enc = &step.encoded;
        let n = enc.top.len();
        let mut dtop = vec![vec![0.0; d]; n];
        for (layer, trace, option) in &step.widen {
            head::backward(
                &self.params,
                self.layout.wider,
                &self.heads,
                &enc.top[*layer],
                trace,
                *option,
                (coef, entropy_weight),
                grad,
                &mut dtop[*layer],
            );
        }
        if let Some(deep) = &step.deeper {
            // The kernel head and the decoder's second step.
            let h2 = deep.second.hidden();
            let mut dh2 = vec![0.0; d];
            head::backward(
                &self.params,
                self.layout.kernel,
                &self.heads,
                &h2,
                &deep.kernel,
                deep.kernel_option,
                (coef, entropy_weight),
                grad,
                &mut dh2,
            );
            let (dx2, mut dh1, dc1) = lstm::backward(
                &self.params,
                self.layout.decoder,
                &deep.second,
                &dh2,
                &vec![0.0; d],
                grad,
            );
            for (a, b) in dtop[deep.places[deep.chosen]].iter_mut().zip(&dx2) {
                *a += b;
            }
            // The pointer: logit_i = s_i . q, q = A h1 + a.
            let spread = entropy(&deep.probs);
            let mut dq = vec![0.0; d];
            for (i, &layer) in deep.places.iter().enumerate() {
                let p = deep.probs[i];
                let chosen = if i == deep.chosen { 1.0 } else { 0.0 };
                let log_p = if p > 0.0 { p.ln() } else { 0.0 };
                let dlogit = -coef * (chosen - p) + entropy_weight * p * (log_p + spread);
                for j in 0..d {
                    dq[j] += dlogit * enc.top[layer][j];
                    dtop[layer][j] += dlogit * deep.query[j];
                }
            }
            let h1 = deep.first.hidden();
            let (a, bias) = self.layout.pointer;
            for i in 0..d {
                grad[bias + i] += dq[i];
                for j in 0..d {
                    grad[a + i * d + j] += dq[i] * h1[j];
                    dh1[j] += dq[i] * self.params[a + i * d + j];
                }
            }
            let (dmean, _, _) = lstm::backward(
                &self.params,
                self.layout.decoder,
                &deep.first,
                &dh1,
                &dc1,
                grad,
            );
            for row in dtop.iter_mut() {
                for (a, b) in row.iter_mut().zip(&dmean) {
                    *a += b / n as f64;
                }
            }
        }
        // The encoder, each direction through time in its own order, then the embedding.
        let e = self.config.embedding;
        let mut demb = vec![vec![0.0; e]; n];
        for (dir, at) in self.layout.encoder.iter().enumerate() {
            let dh = |t: usize| dtop[t][dir * h..(dir + 1) * h].to_vec();
            lstm::sweep_backward(
                &self.params,
                *at,
                &enc.cells[dir],
                dir == 1,
                dh,
                grad,
                &mut demb,
            );
        }
        let (w, b) = self.layout.embed;
        let f = self.layout.fields;
        for (t, de) in demb.iter().enumerate() {
            for (i, &g) in de.iter().enumerate() {
                grad[b + i] += g;
                for (k, &x) in enc.tokens[t].iter().enumerate() {
                    grad[w + i * f + k] += g * x;
                }
            }
        }
    }

    /// How many parameters the agent has.
    pub fn len(&self) -> usize {
        self.layout.len
    }

    /// Whether it has none (never: every agent has an encoder).
    pub fn is_empty(&self) -> bool {
        self.layout.len == 0
    }
}
