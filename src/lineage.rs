//! A lineage: how a network grew from a seed network by function-preserving morphs, step
//! after step (network transformation, as EAS grows networks). It is plain data — morphs name
//! the layers they change — so that an environment can say how a candidate grew and a
//! trainer can redo it on weights ([`crate::nn::morph::grow`]).
//!
//! Every network on the way has a key, unique to the steps that made it: a trainer keeps the
//! weights it trained for a key, and a child then starts from its nearest trained ancestor —
//! its parent's weights, morphed — instead of from scratch.

use crate::arch::Arch;
use serde::{Deserialize, Serialize};

/// One function-preserving change of a network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "morph", rename_all = "snake_case")]
pub enum Morph {
    /// Net2Wider: layer `layer` grows to `width` units.
    Widen {
        /// The convolution or dense layer's node name.
        layer: String,
        /// Its new number of units.
        width: usize,
    },
    /// Net2Deeper: an identity `kernel x kernel` convolution inserted after node `after`.
    Deepen {
        /// The node whose output the new layer reads.
        after: String,
        /// The new layer's (odd) kernel size.
        kernel: usize,
    },
}

/// One step of a lineage: its morphs, applied in order, and the key of the network they give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrowthStep {
    /// The network this step ends in.
    pub key: u64,
    /// What the step changes.
    pub morphs: Vec<Morph>,
}

/// How a network grew (see the module documentation).
#[derive(Debug, Clone)]
pub struct Lineage {
    /// The seed network every step starts from.
    pub seed: Arch,
    /// The seed's key.
    pub seed_key: u64,
    /// Epochs the seed is trained from scratch before anything grows from it.
    pub seed_epochs: usize,
    /// The steps, in order.
    pub steps: Vec<GrowthStep>,
    /// Net2Wider's noise on the copied units' incoming weights, relative to the layer's
    /// weight deviation (0: exact copies).
    pub noise: f64,
}

impl Lineage {
    /// The key of the network at the end of the lineage.
    pub fn key(&self) -> u64 {
        self.steps.last().map_or(self.seed_key, |s| s.key)
    }

    /// The keys of every network on the way, the seed's first: `keys()[i]` is the network
    /// after `i` steps.
    pub fn keys(&self) -> Vec<u64> {
        std::iter::once(self.seed_key)
            .chain(self.steps.iter().map(|s| s.key))
            .collect()
    }
}
