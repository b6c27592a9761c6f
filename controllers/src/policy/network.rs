//! The LSTM policy network, written out by hand on flat `f64` parameters: small enough that
//! the engine's per-operation overhead would dominate, and exact to checkpoint and replay.
//!
//! At step t the input is the embedding of the previous decision (a table per decision kind;
//! a learned start vector at t = 0), fed through `layers` LSTM layers of `hidden` units. The
//! top hidden state goes to the head of the choice's decision kind — one linear layer sized
//! to the kind's labels — whose logits z become `v = z / temperature`, then `C * tanh(v)`
//! when `tanh_constant` C is set (ENAS), and a softmax over the choice's legal options only.
//!
//! [`Network::backward`] gives the exact gradient of
//! `loss = -sum_s coef_s * log pi(seq_s) - entropy_weight * sum_s sum_t H(pi_t(seq_s))`
//! by back-propagation through time; every policy-gradient rule is a choice of `coef_s`.

use archforge::env::legal_options;
use archforge::error::{Error, Result};
use archforge::{EnvSpec, Environment};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The shape and sampling settings of the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// LSTM units per layer (also the embedding size).
    #[serde(default = "defaults::hidden")]
    pub hidden: usize,
    /// Stacked LSTM layers.
    #[serde(default = "defaults::layers")]
    pub layers: usize,
    /// Logits are divided by it before sampling.
    #[serde(default = "defaults::temperature")]
    pub temperature: f64,
    /// ENAS's logit clipping `C * tanh(logits / temperature)` (none: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tanh_constant: Option<f64>,
    /// Parameters start uniform in `[-init_range, init_range]`.
    #[serde(default = "defaults::init_range")]
    pub init_range: f64,
}

mod defaults {
    pub fn hidden() -> usize {
        64
    }
    pub fn layers() -> usize {
        1
    }
    pub fn temperature() -> f64 {
        1.0
    }
    pub fn init_range() -> f64 {
        0.1
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            hidden: defaults::hidden(),
            layers: defaults::layers(),
            temperature: defaults::temperature(),
            tanh_constant: None,
            init_range: defaults::init_range(),
        }
    }
}

impl NetworkConfig {
    /// Checks the settings; `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(1..=1024).contains(&self.hidden) {
            return Err(("hidden", "hidden must be in 1..=1024".into()));
        }
        if !(1..=4).contains(&self.layers) {
            return Err(("layers", "layers must be in 1..=4".into()));
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(("temperature", "temperature must be positive".into()));
        }
        if self
            .tanh_constant
            .is_some_and(|c| !(c > 0.0 && c.is_finite()))
        {
            return Err(("tanh_constant", "tanh_constant must be positive".into()));
        }
        if !(self.init_range > 0.0 && self.init_range.is_finite()) {
            return Err(("init_range", "init_range must be positive".into()));
        }
        Ok(())
    }
}

/// Where each tensor sits in the flat parameter vector.
#[derive(Debug, Clone)]
struct Layout {
    hidden: usize,
    /// Labels per decision kind.
    options: Vec<usize>,
    start: usize,
    /// Per kind: its embedding table (`options x hidden`).
    embeddings: Vec<usize>,
    /// Per layer: weights (`4 hidden x 2 hidden`, input then recurrent) and biases (`4 hidden`).
    lstm: Vec<(usize, usize)>,
    /// Per kind: head weights (`options x hidden`) and biases.
    heads: Vec<(usize, usize)>,
    len: usize,
}

impl Layout {
    fn new(spec: &EnvSpec, hidden: usize, layers: usize) -> Self {
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
            .map(|_| (take(8 * hidden * hidden), take(4 * hidden)))
            .collect();
        let heads = options
            .iter()
            .map(|&n| (take(n * hidden), take(n)))
            .collect();
        Layout {
            hidden,
            options,
            start,
            embeddings,
            lstm,
            heads,
            len,
        }
    }
}

/// What one LSTM layer computed at one step (kept for back-propagation).
#[derive(Debug, Clone)]
struct CellTrace {
    /// `[input; previous h]`.
    joined: Vec<f64>,
    /// Gates after their non-linearities: input, forget, candidate, output.
    gates: Vec<f64>,
    c_prev: Vec<f64>,
    c: Vec<f64>,
    tanh_c: Vec<f64>,
}

/// What one decision step computed.
#[derive(Debug, Clone)]
struct StepTrace {
    /// Which input the step read: `None` for the start vector, else (kind, option).
    input: Option<(usize, usize)>,
    cells: Vec<CellTrace>,
    top: Vec<f64>,
    kind: usize,
    legal: Vec<usize>,
    /// Per legal option: `u = z / temperature` and the probability.
    scaled: Vec<f64>,
    probs: Vec<f64>,
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
    /// Every parameter, laid out as [`Layout`] says.
    pub params: Vec<f64>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `y1 += a * x1` and `y2 += a * x2` in one pass (slices of equal length).
fn axpy2(a: f64, (y1, x1): (&mut [f64], &[f64]), (y2, x2): (&mut [f64], &[f64])) {
    for ((y1, x1), (y2, x2)) in y1.iter_mut().zip(x1).zip(y2.iter_mut().zip(x2)) {
        *y1 += a * x1;
        *y2 += a * x2;
    }
}

/// `a . b`, kept in eight running sums so that the compiler can vectorise it.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    const LANES: usize = 8;
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = (a_chunks.remainder().iter())
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut sums = [0.0; LANES];
    for (x, y) in a_chunks.zip(b_chunks) {
        for k in 0..LANES {
            sums[k] += x[k] * y[k];
        }
    }
    sums.iter().sum::<f64>() + tail
}

impl Network {
    /// A network for `spec`'s decision kinds, parameters drawn from `rng`.
    pub fn new(spec: &EnvSpec, config: NetworkConfig, rng: &mut archforge::Rng) -> Self {
        let layout = Layout::new(spec, config.hidden, config.layers);
        let r = config.init_range;
        let params = (0..layout.len).map(|_| rng.random_range(-r..=r)).collect();
        Network {
            config,
            layout,
            params,
        }
    }

    /// The same network with `params` (from a checkpoint): an error unless the count fits.
    pub fn with_params(mut self, params: Vec<f64>) -> std::result::Result<Self, String> {
        if params.len() != self.layout.len {
            return Err(format!(
                "the checkpoint holds {} policy parameters; this policy has {}",
                params.len(),
                self.layout.len
            ));
        }
        self.params = params;
        Ok(self)
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
        let mut log_prob = 0.0;
        let mut entropy = 0.0;
        for step in trace {
            let chosen = step.legal.iter().position(|&o| o == step.action);
            log_prob += step.probs[chosen.expect("the action is legal")].ln();
            entropy -= step
                .probs
                .iter()
                .filter(|&&p| p > 0.0)
                .map(|p| p * p.ln())
                .sum::<f64>();
        }
        SequenceStats { log_prob, entropy }
    }

    /// The steps of `decisions`: from `known` if it was sampled there, else replayed.
    fn trace<'a>(
        &self,
        env: &dyn Environment,
        decisions: &[usize],
        known: &'a [Sampled],
    ) -> Result<std::borrow::Cow<'a, [StepTrace]>> {
        Ok(match known.iter().find(|s| s.decisions == decisions) {
            Some(sampled) => std::borrow::Cow::Borrowed(&sampled.steps),
            None => std::borrow::Cow::Owned(self.replay(env, decisions)?),
        })
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
            let x = self.input_vector(input);
            let mut cells = Vec::with_capacity(layers);
            let mut below = x;
            for l in 0..layers {
                let cell = self.cell_forward(l, &below, &hs[l], &cs[l]);
                let (c, hidden) = Self::cell_state(&cell, h);
                cs[l] = c;
                hs[l] = hidden.clone();
                below = hidden;
                cells.push(cell);
            }
            let top = below;
            let (scaled, probs) = self.head_forward(kind, &top, &legal);
            if probs.iter().any(|p| !p.is_finite()) {
                return Err(Error::Controller {
                    controller: "policy".into(),
                    reason: format!(
                        "its probabilities at decision {} are no longer finite numbers (is the learning rate too high?)",
                        decisions.len()
                    ),
                });
            }
            let Some(action) = pick(decisions.len(), &probs, &legal) else {
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
                cells,
                top,
                kind,
                legal,
                scaled,
                probs,
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

    fn input_vector(&self, input: Option<(usize, usize)>) -> Vec<f64> {
        let h = self.layout.hidden;
        let at = match input {
            None => self.layout.start,
            Some((kind, option)) => self.layout.embeddings[kind] + option * h,
        };
        self.params[at..at + h].to_vec()
    }

    fn cell_forward(&self, layer: usize, x: &[f64], h_prev: &[f64], c_prev: &[f64]) -> CellTrace {
        let h = self.layout.hidden;
        let (w, b) = self.layout.lstm[layer];
        let mut joined = Vec::with_capacity(2 * h);
        joined.extend_from_slice(x);
        joined.extend_from_slice(h_prev);
        let mut gates = vec![0.0; 4 * h];
        for (r, gate) in gates.iter_mut().enumerate() {
            let row = &self.params[w + r * 2 * h..w + (r + 1) * 2 * h];
            let z = self.params[b + r] + dot(row, &joined);
            *gate = if (2 * h..3 * h).contains(&r) {
                z.tanh()
            } else {
                sigmoid(z)
            };
        }
        let c: Vec<f64> = (0..h)
            .map(|j| gates[h + j] * c_prev[j] + gates[j] * gates[2 * h + j])
            .collect();
        CellTrace {
            joined,
            gates,
            c_prev: c_prev.to_vec(),
            tanh_c: c.iter().map(|v| v.tanh()).collect(),
            c,
        }
    }

    /// The cell's new memory and hidden state.
    fn cell_state(cell: &CellTrace, h: usize) -> (Vec<f64>, Vec<f64>) {
        let hidden = (0..h)
            .map(|j| cell.gates[3 * h + j] * cell.tanh_c[j])
            .collect();
        (cell.c.clone(), hidden)
    }

    /// `u = z / temperature` and the softmax over the legal options of `C * tanh(u)` (or u).
    fn head_forward(&self, kind: usize, top: &[f64], legal: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let h = self.layout.hidden;
        let (w, b) = self.layout.heads[kind];
        let scaled: Vec<f64> = legal
            .iter()
            .map(|&o| {
                let row = &self.params[w + o * h..w + (o + 1) * h];
                let z = self.params[b + o] + dot(row, top);
                z / self.config.temperature
            })
            .collect();
        let logits: Vec<f64> = scaled
            .iter()
            .map(|&u| self.config.tanh_constant.map_or(u, |c| c * u.tanh()))
            .collect();
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = logits.iter().map(|v| (v - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        (scaled, exps.into_iter().map(|e| e / sum).collect())
    }

    fn backward_one(&self, trace: &[StepTrace], coef: f64, entropy_weight: f64, grad: &mut [f64]) {
        let h = self.layout.hidden;
        let layers = self.layout.lstm.len();
        // Gradients flowing back into each layer's h and c from the step after.
        let mut dh_next = vec![vec![0.0; h]; layers];
        let mut dc_next = vec![vec![0.0; h]; layers];
        for step in trace.iter().rev() {
            // d loss / d logit over the legal options.
            let entropy: f64 = -step
                .probs
                .iter()
                .filter(|&&p| p > 0.0)
                .map(|p| p * p.ln())
                .sum::<f64>();
            let (w, b) = self.layout.heads[step.kind];
            let mut dtop = vec![0.0; h];
            for (i, &option) in step.legal.iter().enumerate() {
                let p = step.probs[i];
                let chosen = if option == step.action { 1.0 } else { 0.0 };
                let log_p = if p > 0.0 { p.ln() } else { 0.0 };
                let dlogit = -coef * (chosen - p) + entropy_weight * p * (log_p + entropy);
                let u = step.scaled[i];
                let du = match self.config.tanh_constant {
                    Some(c) => dlogit * c * (1.0 - u.tanh().powi(2)),
                    None => dlogit,
                };
                let dz = du / self.config.temperature;
                grad[b + option] += dz;
                let row = w + option * h..w + (option + 1) * h;
                axpy2(
                    dz,
                    (&mut grad[row.clone()], &step.top),
                    (&mut dtop, &self.params[row]),
                );
            }
            // Down through the layers of this step.
            let mut dbelow = dtop;
            for l in (0..layers).rev() {
                let cell = &step.cells[l];
                let g = &cell.gates;
                let dh: Vec<f64> = (0..h).map(|j| dbelow[j] + dh_next[l][j]).collect();
                let mut dgate = vec![0.0; 4 * h];
                let mut dc_prev = vec![0.0; h];
                for j in 0..h {
                    let (i_g, f_g, c_g, o_g) = (g[j], g[h + j], g[2 * h + j], g[3 * h + j]);
                    let dc = dc_next[l][j] + dh[j] * o_g * (1.0 - cell.tanh_c[j].powi(2));
                    dgate[3 * h + j] = dh[j] * cell.tanh_c[j] * o_g * (1.0 - o_g);
                    dgate[j] = dc * c_g * i_g * (1.0 - i_g);
                    dgate[h + j] = dc * cell.c_prev[j] * f_g * (1.0 - f_g);
                    dgate[2 * h + j] = dc * i_g * (1.0 - c_g * c_g);
                    dc_prev[j] = dc * f_g;
                }
                let (wl, bl) = self.layout.lstm[l];
                let mut djoined = vec![0.0; 2 * h];
                for (r, &dg) in dgate.iter().enumerate() {
                    if dg == 0.0 {
                        continue;
                    }
                    grad[bl + r] += dg;
                    let row = wl + r * 2 * h..wl + (r + 1) * 2 * h;
                    axpy2(
                        dg,
                        (&mut grad[row.clone()], &cell.joined),
                        (&mut djoined, &self.params[row]),
                    );
                }
                dh_next[l] = djoined[h..].to_vec();
                dc_next[l] = dc_prev;
                dbelow = djoined[..h].to_vec();
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
