//! The policy a policy-gradient controller trains, whichever network its settings name
//! ([`PolicyKind`]): made for an environment (a bidirectional one, or one that reads layers,
//! from the environment's layer tokens per decision), sampled, scored and differentiated alike.

use super::bidirectional::Bidirectional;
use super::config::{NetworkConfig, PolicyKind};
use super::network::{Network, Sampled, SequenceStats};
use archforge::Environment;
use archforge::error::Result;

/// A policy network of either kind.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Decision by decision.
    Autoregressive(Network),
    /// All decisions at once from the layers' tokens.
    Bidirectional(Bidirectional),
}

impl Policy {
    /// The policy `config` describes for `env`, parameters drawn from `rng`.
    pub fn new(
        env: &dyn Environment,
        config: NetworkConfig,
        rng: &mut archforge::Rng,
    ) -> Result<Self> {
        let subjects = env.tokens().and_then(|t| t.subjects());
        Ok(match config.kind {
            PolicyKind::Autoregressive => {
                Policy::Autoregressive(Network::new(env.spec(), config, subjects, rng)?)
            }
            PolicyKind::Bidirectional => {
                Policy::Bidirectional(Bidirectional::new(env.spec(), config, subjects, rng)?)
            }
        })
    }

    /// Every parameter.
    pub fn params(&self) -> &[f64] {
        match self {
            Policy::Autoregressive(n) => &n.params,
            Policy::Bidirectional(b) => &b.params,
        }
    }

    /// Every parameter, to update.
    pub fn params_mut(&mut self) -> &mut [f64] {
        match self {
            Policy::Autoregressive(n) => &mut n.params,
            Policy::Bidirectional(b) => &mut b.params,
        }
    }

    /// The same policy with `params` (from a checkpoint): an error unless the count fits.
    pub fn with_params(mut self, params: Vec<f64>) -> std::result::Result<Self, String> {
        let held = self.params().len();
        if params.len() != held {
            return Err(format!(
                "the checkpoint holds {} policy parameters; this policy has {held}",
                params.len()
            ));
        }
        self.params_mut().copy_from_slice(&params);
        Ok(self)
    }

    /// Samples one complete decision sequence from `env`, drawing from `rng`.
    pub fn sample(&self, env: &dyn Environment, rng: &mut archforge::Rng) -> Result<Sampled> {
        match self {
            Policy::Autoregressive(n) => n.sample(env, rng),
            Policy::Bidirectional(b) => b.sample(env, rng).map(Sampled::untraced),
        }
    }

    /// Log-probability and step entropies of a complete sequence (see [`Network::stats`]).
    pub fn stats(
        &self,
        env: &dyn Environment,
        decisions: &[usize],
        known: &[Sampled],
    ) -> Result<SequenceStats> {
        match self {
            Policy::Autoregressive(n) => n.stats(env, decisions, known),
            Policy::Bidirectional(b) => b.stats(env, decisions),
        }
    }

    /// The gradient of the policy-gradient loss (see [`Network::backward`]).
    pub fn backward(
        &self,
        env: &dyn Environment,
        sequences: &[(&[usize], f64)],
        entropy_weight: f64,
        known: &[Sampled],
    ) -> Result<(Vec<f64>, Vec<SequenceStats>)> {
        match self {
            Policy::Autoregressive(n) => n.backward(env, sequences, entropy_weight, known),
            Policy::Bidirectional(b) => b.backward(env, sequences, entropy_weight),
        }
    }
}
