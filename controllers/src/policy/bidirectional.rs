//! The bidirectional policy of N2N learning's layer removal, on flat `f64` parameters: a
//! stack of `layers` bidirectional LSTM layers of `hidden` units per direction reads the
//! layer token of every decision (the environment's
//! [`Tokens::subjects`](archforge::ability::Tokens::subjects), scaled as
//! [`scaled_tokens`]) — the first layer the tokens, each further one both directions' states
//! of the layer below — and each decision's head reads the top layer's two states at its
//! position. The decisions are drawn independently given the tokens, each over its choice's
//! legal options, so the whole sequence is decided at once from the network as a whole.
//!
//! [`Bidirectional::backward`] gives the exact gradient of the same loss as the
//! autoregressive network's, back-propagating through both directions.

use super::config::NetworkConfig;
use super::head::{self, HeadParams, HeadTrace};
use super::lstm::{self, CellParams, CellTrace};
use super::network::{SequenceStats, scaled_tokens};
use archforge::env::legal_options;
use archforge::error::{Error, Result};
use archforge::{EnvSpec, Environment};
use rand::Rng as _;

/// Where the parameters sit.
#[derive(Debug, Clone)]
struct Layout {
    /// Per layer: the forward and the backward cell.
    cells: Vec<[CellParams; 2]>,
    /// Per decision kind: its head (input `2 hidden`).
    heads: Vec<HeadParams>,
    len: usize,
}

/// The encoder's computation over the tokens (kept for back-propagation).
struct Encoded {
    /// Per layer, per direction, per position: the cell's trace.
    cells: Vec<[Vec<CellTrace>; 2]>,
    /// Per position: the top layer's forward and backward states, joined.
    top: Vec<Vec<f64>>,
}

/// The bidirectional policy (see the module documentation).
#[derive(Debug, Clone)]
pub struct Bidirectional {
    config: NetworkConfig,
    layout: Layout,
    tokens: Vec<Vec<f64>>,
    /// Every parameter.
    pub params: Vec<f64>,
}

impl Bidirectional {
    /// A policy for `spec`'s decisions, one per token of `subjects`, parameters drawn from
    /// `rng`.
    pub fn new(
        spec: &EnvSpec,
        config: NetworkConfig,
        subjects: Option<&[Vec<f64>]>,
        rng: &mut archforge::Rng,
    ) -> Result<Self> {
        let tokens = match subjects {
            Some(tokens) if tokens.len() == spec.max_length && !tokens.is_empty() => {
                scaled_tokens(tokens)
            }
            _ => {
                return Err(Error::Controller {
                    controller: "policy".into(),
                    reason: format!(
                        "a bidirectional policy reads a layer token per decision (layer-removal, layer-shrinkage); `{}` has none",
                        spec.name
                    ),
                });
            }
        };
        let h = config.hidden;
        let mut len = 0;
        let mut take = |n: usize| {
            let at = len;
            len += n;
            at
        };
        let mut input = tokens[0].len();
        let mut cells = Vec::with_capacity(config.layers);
        for _ in 0..config.layers {
            let mut cell = || CellParams {
                weights: take(4 * h * (input + h)),
                bias: take(4 * h),
                input,
                hidden: h,
            };
            cells.push([cell(), cell()]);
            input = 2 * h;
        }
        let heads = spec
            .kinds
            .iter()
            .map(|k| HeadParams {
                weights: take(k.labels.len() * 2 * h),
                bias: take(k.labels.len()),
                input: 2 * h,
            })
            .collect();
        let r = config.init_range;
        let params = (0..len).map(|_| rng.random_range(-r..=r)).collect();
        Ok(Bidirectional {
            config,
            layout: Layout { cells, heads, len },
            tokens,
            params,
        })
    }

    /// Both directions of every layer over the tokens.
    fn encode(&self) -> Encoded {
        let n = self.tokens.len();
        let mut below: Vec<Vec<f64>> = self.tokens.clone();
        let mut cells = Vec::with_capacity(self.layout.cells.len());
        for layer in &self.layout.cells {
            let (fwd, fwd_states) = lstm::sweep(&self.params, layer[0], &below, false);
            let (bwd, bwd_states) = lstm::sweep(&self.params, layer[1], &below, true);
            let states = [fwd_states, bwd_states];
            let traces = [fwd, bwd];
            below = (0..n)
                .map(|t| [states[0][t].as_slice(), states[1][t].as_slice()].concat())
                .collect();
            cells.push(traces);
        }
        Encoded { cells, top: below }
    }

    /// Runs the heads along the environment's choices, `pick(position, probs, legal)` choosing
    /// each decision; returns each step's (kind, head trace, action).
    fn decide(
        &self,
        env: &dyn Environment,
        encoded: &Encoded,
        decisions: &mut Vec<usize>,
        mut pick: impl FnMut(usize, &[f64], &[usize]) -> Option<usize>,
    ) -> Result<Vec<(usize, HeadTrace, usize)>> {
        let mut steps = Vec::with_capacity(encoded.top.len());
        while let Some(choice) = env.next_choice(decisions)? {
            let t = decisions.len();
            let (Some(state), Some(&at)) = (encoded.top.get(t), self.layout.heads.get(choice.kind))
            else {
                return Err(Error::InvalidDecisions {
                    decisions: decisions.clone(),
                    reason: format!(
                        "the environment offers a decision (kind {}, position {t}) the policy's tokens and spec do not cover",
                        choice.kind
                    ),
                });
            };
            let legal = legal_options(env, t, &choice)?;
            let trace = head::forward(&self.params, at, &self.config, state, &legal);
            if trace.probs.iter().any(|p| !p.is_finite()) {
                return Err(Error::Controller {
                    controller: "policy".into(),
                    reason: format!(
                        "its probabilities at decision {t} are no longer finite numbers (is the learning rate too high?)"
                    ),
                });
            }
            let action = pick(t, &trace.probs, &legal).ok_or_else(|| Error::InvalidDecisions {
                decisions: decisions.clone(),
                reason: "the sequence ends before the environment does".into(),
            })?;
            if !legal.contains(&action) {
                return Err(Error::InvalidDecisions {
                    decisions: decisions.clone(),
                    reason: format!("option {action} is not legal at step {t}"),
                });
            }
            decisions.push(action);
            steps.push((choice.kind, trace, action));
        }
        Ok(steps)
    }

    /// Samples one complete decision sequence from `env`, drawing from `rng`.
    pub fn sample(&self, env: &dyn Environment, rng: &mut archforge::Rng) -> Result<Vec<usize>> {
        let encoded = self.encode();
        let mut decisions = Vec::new();
        self.decide(env, &encoded, &mut decisions, |_, probs, legal| {
            let mut u: f64 = rng.random();
            for (p, &option) in probs.iter().zip(legal) {
                if u < *p {
                    return Some(option);
                }
                u -= p;
            }
            legal.last().copied()
        })?;
        Ok(decisions)
    }

    /// The steps of a complete sequence, replayed.
    fn replay(
        &self,
        env: &dyn Environment,
        encoded: &Encoded,
        decisions: &[usize],
    ) -> Result<Vec<(usize, HeadTrace, usize)>> {
        let mut prefix = Vec::with_capacity(decisions.len());
        let steps = self.decide(env, encoded, &mut prefix, |t, _, _| {
            decisions.get(t).copied()
        })?;
        if prefix.len() != decisions.len() {
            return Err(Error::InvalidDecisions {
                decisions: decisions.to_vec(),
                reason: format!(
                    "the environment's sequence ends after {} decisions",
                    prefix.len()
                ),
            });
        }
        Ok(steps)
    }

    fn stats_of(steps: &[(usize, HeadTrace, usize)]) -> SequenceStats {
        SequenceStats {
            log_prob: steps.iter().map(|(_, h, a)| h.log_prob(*a)).sum(),
            entropy: steps.iter().map(|(_, h, _)| h.entropy()).sum(),
        }
    }

    /// Log-probability and step entropies of a complete sequence.
    pub fn stats(&self, env: &dyn Environment, decisions: &[usize]) -> Result<SequenceStats> {
        Ok(Self::stats_of(&self.replay(
            env,
            &self.encode(),
            decisions,
        )?))
    }

    /// The gradient of
    /// `-sum_s coef_s * log pi(seq_s) - entropy_weight * sum_s sum_t H_t(seq_s)` with respect
    /// to [`Bidirectional::params`], and each sequence's statistics.
    pub fn backward(
        &self,
        env: &dyn Environment,
        sequences: &[(&[usize], f64)],
        entropy_weight: f64,
    ) -> Result<(Vec<f64>, Vec<SequenceStats>)> {
        let h = self.config.hidden;
        let n = self.tokens.len();
        let encoded = self.encode();
        let mut grad = vec![0.0; self.layout.len];
        let mut dtop = vec![vec![0.0; 2 * h]; n];
        let mut stats = Vec::with_capacity(sequences.len());
        for &(decisions, coef) in sequences {
            let steps = self.replay(env, &encoded, decisions)?;
            stats.push(Self::stats_of(&steps));
            for (t, (kind, trace, action)) in steps.iter().enumerate() {
                head::backward(
                    &self.params,
                    self.layout.heads[*kind],
                    &self.config,
                    &encoded.top[t],
                    trace,
                    *action,
                    (coef, entropy_weight),
                    &mut grad,
                    &mut dtop[t],
                );
            }
        }
        // Down through the layers, each direction through time in its own order.
        let mut dout = dtop;
        for (l, layer) in self.layout.cells.iter().enumerate().rev() {
            let mut din = vec![vec![0.0; layer[0].input]; n];
            for (d, at) in layer.iter().enumerate() {
                let dh = |t: usize| dout[t][d * h..(d + 1) * h].to_vec();
                lstm::sweep_backward(
                    &self.params,
                    *at,
                    &encoded.cells[l][d],
                    d == 1,
                    dh,
                    &mut grad,
                    &mut din,
                );
            }
            dout = din;
        }
        Ok((grad, stats))
    }
}
