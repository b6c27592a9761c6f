//! The policy's settings (the `policy` table of a policy-gradient controller): which network,
//! its size and how it samples, with their defaults and their check.

use serde::{Deserialize, Serialize};

/// The shape and sampling settings of the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// The network: `autoregressive` (decision by decision, the previous fed back) or
    /// `bidirectional` (reads every decision's layer token, then decides all at once).
    #[serde(default)]
    pub kind: PolicyKind,
    /// `autoregressive`: add each decision's layer token to its input (spaces with layer
    /// tokens per decision: network compression).
    #[serde(default)]
    pub read_layers: bool,
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

/// Which policy network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// An LSTM writing the sequence decision by decision (NAS, ENAS, N2N's shrinkage).
    #[default]
    Autoregressive,
    /// A bidirectional LSTM over the decisions' layer tokens (N2N's layer removal).
    Bidirectional,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            kind: PolicyKind::default(),
            read_layers: false,
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
