//! A policy's output head for one decision kind: one linear layer from the policy's state to
//! the kind's options, `u = z / temperature`, then `C * tanh(u)` when `tanh_constant` C is set
//! (ENAS), and a softmax over the choice's legal options only; with its backward pass for
//! `-coef * log pi(action) - entropy_weight * H(pi)`.

use super::config::NetworkConfig;
use super::lstm::{axpy2, dot};

/// Where a head's parameters sit in a flat vector: its weights (`options x input`) and biases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadParams {
    /// Offset of the weights.
    pub weights: usize,
    /// Offset of the biases.
    pub bias: usize,
    /// Input size.
    pub input: usize,
}

/// What a head computed at one decision.
#[derive(Debug, Clone)]
pub struct HeadTrace {
    /// The legal options.
    pub legal: Vec<usize>,
    /// Per legal option: `u = z / temperature`.
    pub scaled: Vec<f64>,
    /// Per legal option: its probability.
    pub probs: Vec<f64>,
}

impl HeadTrace {
    /// The entropy of the distribution.
    pub fn entropy(&self) -> f64 {
        -self
            .probs
            .iter()
            .filter(|&&p| p > 0.0)
            .map(|p| p * p.ln())
            .sum::<f64>()
    }

    /// `log pi(action)` (the action must be legal).
    pub fn log_prob(&self, action: usize) -> f64 {
        let chosen = self.legal.iter().position(|&o| o == action);
        self.probs[chosen.expect("the action is legal")].ln()
    }
}

/// The distribution over `legal` of the head at `at`, read from `state`.
pub fn forward(
    params: &[f64],
    at: HeadParams,
    config: &NetworkConfig,
    state: &[f64],
    legal: &[usize],
) -> HeadTrace {
    let n = at.input;
    let scaled: Vec<f64> = legal
        .iter()
        .map(|&o| {
            let row = &params[at.weights + o * n..at.weights + (o + 1) * n];
            (params[at.bias + o] + dot(row, state)) / config.temperature
        })
        .collect();
    let logits: Vec<f64> = scaled
        .iter()
        .map(|&u| config.tanh_constant.map_or(u, |c| c * u.tanh()))
        .collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    HeadTrace {
        legal: legal.to_vec(),
        scaled,
        probs: exps.into_iter().map(|e| e / sum).collect(),
    }
}

/// Adds the gradient of `-coef * log pi(action) - entropy_weight * H(pi)` with respect to the
/// head's parameters into `grad`, and with respect to `state` into `dstate`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    params: &[f64],
    at: HeadParams,
    config: &NetworkConfig,
    state: &[f64],
    trace: &HeadTrace,
    action: usize,
    (coef, entropy_weight): (f64, f64),
    grad: &mut [f64],
    dstate: &mut [f64],
) {
    let n = at.input;
    let entropy = trace.entropy();
    for (i, &option) in trace.legal.iter().enumerate() {
        let p = trace.probs[i];
        let chosen = if option == action { 1.0 } else { 0.0 };
        let log_p = if p > 0.0 { p.ln() } else { 0.0 };
        let dlogit = -coef * (chosen - p) + entropy_weight * p * (log_p + entropy);
        let u = trace.scaled[i];
        let du = match config.tanh_constant {
            Some(c) => dlogit * c * (1.0 - u.tanh().powi(2)),
            None => dlogit,
        };
        let dz = du / config.temperature;
        grad[at.bias + option] += dz;
        let row = at.weights + option * n..at.weights + (option + 1) * n;
        axpy2(dz, (&mut grad[row.clone()], state), (dstate, &params[row]));
    }
}
