//! The LSTM policy network, written out by hand on flat `f64` parameters: small enough that
//! the engine's per-operation overhead would dominate, and exact to checkpoint and replay.
//!
//! At step t the input is the embedding of the previous decision (a table per decision kind;
//! a learned start vector at t = 0) — plus, with `read_layers`, a linear projection of the
//! decision's layer token (network compression: the layer it keeps or shrinks) — fed through `layers` LSTM layers of `hidden` units. The
//! top hidden state goes to the head of the choice's decision kind — one linear layer sized
//! to the kind's labels — whose logits z become `v = z / temperature`, then `C * tanh(v)`
//! when `tanh_constant` C is set (ENAS), and a softmax over the choice's legal options only.
//!
//! [`Network::backward`] gives the exact gradient of
//! `loss = -sum_s coef_s * log pi(seq_s) - entropy_weight * sum_s sum_t H(pi_t(seq_s))`
//! by back-propagation through time; every policy-gradient rule is a choice of `coef_s`.

use super::config::NetworkConfig;
use super::head::{self, HeadParams, HeadTrace};
use super::lstm::{self, CellParams, CellTrace, dot};
use archforge::env::legal_options;
use archforge::error::{Error, Result};
use archforge::{EnvSpec, Environment};
use rand::Rng as _;

/// Where each tensor sits in the flat parameter vector.
#[derive(Debug, Clone)]
struct Layout {
    hidden: usize,
    /// Labels per decision kind.
    options: Vec<usize>,
    start: usize,
    /// Per kind: its embedding table (`options x hidden`).
    embeddings: Vec<usize>,
    /// Per layer: the cell (input `hidden`, the embedding or the layer below).
    lstm: Vec<CellParams>,
    /// With `read_layers`: the projection of a layer token into the input (`hidden x width`)
    /// and the token width.
    tokens: Option<(usize, usize)>,
    /// Per kind: its head (input `hidden`).
    heads: Vec<HeadParams>,
    len: usize,
}

impl Layout {
    fn new(spec: &EnvSpec, hidden: usize, layers: usize, token_width: Option<usize>) -> Self {
        let mut len = 0;
        let mut take = |n: usize| {
            let at = len;
            len += n;
            at
        };
        let options: Vec<usize> = spec.kinds.iter().map(|k| k.labels.len()).collect();
        let start = take(hidden);
        let embeddings = options.iter().map(|&n| take(n * hidden)).collect();
        let lstm = (0..layers)
            .map(|_| CellParams {
                weights: take(8 * hidden * hidden),
                bias: take(4 * hidden),
                input: hidden,
                hidden,
            })
            .collect();
        let tokens = token_width.map(|w| (take(hidden * w), w));
        let heads = options
            .iter()
            .map(|&n| HeadParams {
                weights: take(n * hidden),
                bias: take(n),
                input: hidden,
            })
            .collect();
        Layout {
            hidden,
            options,
            start,
            embeddings,
            lstm,
            tokens,
            heads,
            len,
        }
    }
}

/// What one decision step computed.
#[derive(Debug, Clone)]
struct StepTrace {
    /// Which input the step read: `None` for the start vector, else (kind, option).
    input: Option<(usize, usize)>,
    /// The decision's position (its layer token, with `read_layers`).
    position: usize,
    cells: Vec<CellTrace>,
    top: Vec<f64>,
    kind: usize,
    head: HeadTrace,
    action: usize,
}

/// A sampled sequence with what the policy computed along it. While the parameters are
/// unchanged, [`Network::stats`] and [`Network::backward`] given it skip replaying the
/// sequence (a replay computes exactly the same numbers).
#[derive(Debug, Clone)]
pub struct Sampled {
    /// The decisions.
    pub decisions: Vec<usize>,
    steps: Vec<StepTrace>,
}

impl Sampled {
    /// A sequence without the autoregressive network's computation along it (what another
    /// policy sampled).
    pub(super) fn untraced(decisions: Vec<usize>) -> Self {
        Sampled {
            decisions,
            steps: Vec::new(),
        }
    }
}

/// One sequence's log-probability and the entropies of its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceStats {
    /// `log pi(seq)`.
    pub log_prob: f64,
    /// Sum over its steps of each step's entropy.
    pub entropy: f64,
}

/// The policy network (see the module documentation).
#[derive(Debug, Clone)]
pub struct Network {
    config: NetworkConfig,
    layout: Layout,
    /// With `read_layers`: each decision's layer token, scaled ([`scaled_tokens`]).
    subjects: Vec<Vec<f64>>,
    /// Every parameter, in the network's fixed layout.
    pub params: Vec<f64>,
}

impl Network {
    /// A network for `spec`'s decision kinds, parameters drawn from `rng`; with
    /// `read_layers`, `subjects` are the token of each decision's layer (the environment's
    /// [`Tokens::subjects`](archforge::ability::Tokens::subjects)).
    pub fn new(
        spec: &EnvSpec,
        config: NetworkConfig,
        subjects: Option<&[Vec<f64>]>,
        rng: &mut archforge::Rng,
    ) -> Result<Self> {
        let subjects = match (config.read_layers, subjects) {
            (false, _) => Vec::new(),
            (true, Some(tokens)) if tokens.len() == spec.max_length => scaled_tokens(tokens),
            (true, _) => {
                return Err(Error::Controller {
                    controller: "policy".into(),
                    reason: format!(
                        "read_layers needs a space with a layer token per decision (layer-removal, layer-shrinkage); `{}` has none",
                        spec.name
                    ),
                });
            }
        };
        let width = subjects.first().map(Vec::len);
        let layout = Layout::new(spec, config.hidden, config.layers, width);
        let r = config.init_range;
        let params = (0..layout.len).map(|_| rng.random_range(-r..=r)).collect();
        Ok(Network {
            config,
            layout,
            subjects,
            params,
        })
    }

    /// Samples one complete decision sequence from `env`, drawing from `rng`.
    pub fn sample(&self, env: &dyn Environment, rng: &mut archforge::Rng) -> Result<Sampled> {
        let mut decisions = Vec::new();
        let steps = self.run(env, &mut decisions, |probs, legal| {
            let mut u: f64 = rng.random();
            for (p, &option) in probs.iter().zip(legal) {
                if u < *p {
                    return option;
                }
                u -= p;
            }
            *legal.last().expect("legal options are never empty")
        })?;
        Ok(Sampled { decisions, steps })
    }

    /// Log-probability and step entropies of a complete sequence (from `known` samples
    /// drawn with the current parameters when it is one of them).
    pub fn stats(
        &self,
        env: &dyn Environment,
        decisions: &[usize],
        known: &[Sampled],
    ) -> Result<SequenceStats> {
        Ok(Self::stats_of(&self.trace(env, decisions, known)?))
    }

    /// The gradient of
    /// `-sum_s coef_s * log pi(seq_s) - entropy_weight * sum_s sum_t H_t(seq_s)` with respect
    /// to [`Network::params`], and each sequence's statistics. Sequences among `known`
    /// (sampled with the current parameters) are not replayed.
    pub fn backward(
        &self,
        env: &dyn Environment,
        sequences: &[(&[usize], f64)],
        entropy_weight: f64,
        known: &[Sampled],
    ) -> Result<(Vec<f64>, Vec<SequenceStats>)> {
        let mut grad = vec![0.0; self.layout.len];
        let mut stats = Vec::with_capacity(sequences.len());
        for &(decisions, coef) in sequences {
            let trace = self.trace(env, decisions, known)?;
            stats.push(Self::stats_of(&trace));
            self.backward_one(&trace, coef, entropy_weight, &mut grad);
        }
        Ok((grad, stats))
    }

    fn stats_of(trace: &[StepTrace]) -> SequenceStats {
        SequenceStats {
            log_prob: trace.iter().map(|s| s.head.log_prob(s.action)).sum(),
            entropy: trace.iter().map(|s| s.head.entropy()).sum(),
        }
    }

    /// The steps of `decisions`: from `known` if it was sampled there, else replayed.
    fn trace<'a>(
        &self,
        env: &dyn Environment,
        decisions: &[usize],
        known: &'a [Sampled],
    ) -> Result<std::borrow::Cow<'a, [StepTrace]>> {
        Ok(
            match known
                .iter()
                .find(|s| s.decisions == decisions && !s.steps.is_empty())
            {
                Some(sampled) => std::borrow::Cow::Borrowed(&sampled.steps),
                None => std::borrow::Cow::Owned(self.replay(env, decisions)?),
            },
        )
    }

    /// Runs the policy along `decisions` (which must be legal), keeping every step's trace.
    fn replay(&self, env: &dyn Environment, decisions: &[usize]) -> Result<Vec<StepTrace>> {
        let mut prefix = Vec::with_capacity(decisions.len());
        let trace = self.run_with(env, &mut prefix, |position, _, _| {
            decisions.get(position).copied()
        })?;
        if prefix.len() != decisions.len() {
            return Err(archforge::Error::InvalidDecisions {
                decisions: decisions.to_vec(),
                reason: format!(
                    "the environment's sequence ends after {} decisions",
                    prefix.len()
                ),
            });
        }
        Ok(trace)
    }

    /// Runs the policy from the empty prefix, `pick(probs, legal)` choosing each decision.
    fn run(
        &self,
        env: &dyn Environment,
        decisions: &mut Vec<usize>,
        mut pick: impl FnMut(&[f64], &[usize]) -> usize,
    ) -> Result<Vec<StepTrace>> {
        self.run_with(env, decisions, |_, probs, legal| Some(pick(probs, legal)))
    }

    /// The forward pass: each step asks `pick(position, probs, legal)` for its decision
    /// (`None` ends a replay that is too short: an error).
    fn run_with(
        &self,
        env: &dyn Environment,
        decisions: &mut Vec<usize>,
        mut pick: impl FnMut(usize, &[f64], &[usize]) -> Option<usize>,
    ) -> Result<Vec<StepTrace>> {
        let h = self.layout.hidden;
        let layers = self.layout.lstm.len();
        let mut hs = vec![vec![0.0; h]; layers];
        let mut cs = vec![vec![0.0; h]; layers];
        let mut input: Option<(usize, usize)> = None;
        let mut trace = Vec::new();
        while let Some(choice) = env.next_choice(decisions)? {
            let legal = legal_options(env, decisions.len(), &choice)?;
            let kind = choice.kind;
            if kind >= self.layout.options.len() || choice.options > self.layout.options[kind] {
                return Err(archforge::Error::InvalidDecisions {
                    decisions: decisions.clone(),
                    reason: format!(
                        "the environment offers a choice (kind {kind}, {} options) its spec does not declare",
                        choice.options
                    ),
                });
            }
            let position = decisions.len();
            let x = self.input_vector(input, position);
            let mut cells = Vec::with_capacity(layers);
            let mut below = x;
            for l in 0..layers {
                let cell = lstm::forward(&self.params, self.layout.lstm[l], &below, &hs[l], &cs[l]);
                let hidden = cell.hidden();
                cs[l] = cell.c.clone();
                hs[l] = hidden.clone();
                below = hidden;
                cells.push(cell);
            }
            let top = below;
            let head = head::forward(
                &self.params,
                self.layout.heads[kind],
                &self.config,
                &top,
                &legal,
            );
            if head.probs.iter().any(|p| !p.is_finite()) {
                return Err(Error::Controller {
                    controller: "policy".into(),
                    reason: format!(
                        "its probabilities at decision {} are no longer finite numbers (is the learning rate too high?)",
                        decisions.len()
                    ),
                });
            }
            let Some(action) = pick(decisions.len(), &head.probs, &legal) else {
                return Err(archforge::Error::InvalidDecisions {
                    decisions: decisions.clone(),
                    reason: "the sequence ends before the environment does".into(),
                });
            };
            if !legal.contains(&action) {
                return Err(archforge::Error::InvalidDecisions {
                    decisions: decisions.clone(),
                    reason: format!("option {action} is not legal at step {}", decisions.len()),
                });
            }
            decisions.push(action);
            trace.push(StepTrace {
                input,
                position,
                cells,
                top,
                kind,
                head,
                action,
            });
            input = Some((kind, action));
            if decisions.len() > env.spec().max_length {
                return Err(archforge::Error::InvalidDecisions {
                    decisions: decisions.clone(),
                    reason: "longer than the environment's maximum".into(),
                });
            }
        }
        Ok(trace)
    }

    /// The step's input: the previous decision's embedding (the start vector first), plus
    /// the projection of the decision's layer token with `read_layers`.
    fn input_vector(&self, input: Option<(usize, usize)>, position: usize) -> Vec<f64> {
        let h = self.layout.hidden;
        let at = match input {
            None => self.layout.start,
            Some((kind, option)) => self.layout.embeddings[kind] + option * h,
        };
        let mut x = self.params[at..at + h].to_vec();
        if let (Some((proj, width)), Some(token)) =
            (self.layout.tokens, self.subjects.get(position))
        {
            for (j, xj) in x.iter_mut().enumerate() {
                *xj += dot(
                    &self.params[proj + j * width..proj + (j + 1) * width],
                    token,
                );
            }
        }
        x
    }

    fn backward_one(&self, trace: &[StepTrace], coef: f64, entropy_weight: f64, grad: &mut [f64]) {
        let h = self.layout.hidden;
        let layers = self.layout.lstm.len();
        // Gradients flowing back into each layer's h and c from the step after.
        let mut dh_next = vec![vec![0.0; h]; layers];
        let mut dc_next = vec![vec![0.0; h]; layers];
        for step in trace.iter().rev() {
            let mut dtop = vec![0.0; h];
            head::backward(
                &self.params,
                self.layout.heads[step.kind],
                &self.config,
                &step.top,
                &step.head,
                step.action,
                (coef, entropy_weight),
                grad,
                &mut dtop,
            );
            // Down through the layers of this step.
            let mut dbelow = dtop;
            for l in (0..layers).rev() {
                let dh: Vec<f64> = (0..h).map(|j| dbelow[j] + dh_next[l][j]).collect();
                let (dx, dh_prev, dc_prev) = lstm::backward(
                    &self.params,
                    self.layout.lstm[l],
                    &step.cells[l],
                    &dh,
                    &dc_next[l],
                    grad,
                );
                dh_next[l] = dh_prev;
                dc_next[l] = dc_prev;
                dbelow = dx;
            }
            if let (Some((proj, width)), Some(token)) =
                (self.layout.tokens, self.subjects.get(step.position))
            {
                for (j, &d) in dbelow.iter().enumerate() {
                    for (g, t) in grad[proj + j * width..proj + (j + 1) * width]
                        .iter_mut()
                        .zip(token)
                    {
                        *g += d * t;
                    }
                }
            }
            let at = match step.input {
                None => self.layout.start,
                Some((kind, option)) => self.layout.embeddings[kind] + option * h,
            };
            for j in 0..h {
                grad[at + j] += dbelow[j];
            }
        }
    }
}

/// Layer tokens as a policy reads them: each entry `sign(x) ln(1 + |x|)`, so channel and
/// parameter counts of any size stay within a few units.
pub fn scaled_tokens(tokens: &[Vec<f64>]) -> Vec<Vec<f64>> {
    tokens
        .iter()
        .map(|t| t.iter().map(|x| x.signum() * x.abs().ln_1p()).collect())
        .collect()
}
