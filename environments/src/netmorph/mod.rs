//! Network transformation (EAS): a decision sequence is a lineage. It starts from a seed
//! network — plain convolutions (3x3, batch norm, ReLU, each followed by a 2x2 max-pool while
//! the map is at least 2 pixels), flattened into dense layers (with ReLU) and the classifier —
//! and every step grows the network by function-preserving morphs, as the [`Growth`] ability
//! lays out: at a boundary, stop or grow; then, per convolution or hidden dense layer, keep it
//! or widen it to the next of `widths` (Net2Wider); then where to insert an identity layer
//! (after a ReLU or a pool of the convolutional part, or nowhere) and with which of `kernels`
//! (Net2Deeper). Morphs that a step decides are applied at its end, in order.
//!
//! The environment is a pure function of the prefix: the network at a boundary is the seed
//! with the steps so far applied to its graph ([`morph_graph`]), under the layer names the
//! morphs give (an inserted layer after `pool1` is `pool1.deep0`). A candidate carries its
//! [`Lineage`] — the seed, each step's morphs, and a key per boundary prefix — so a trainer
//! that trained its parent starts it from the parent's weights, morphed; tokens give the
//! network layer by layer.

mod network;

use crate::images::Images;
use archforge::ability::growth::{NOWHERE, STOP, WIDEN};
use archforge::ability::{Growth, NetworkLayers, StepLayout, Tokens, layer_tokens};
use archforge::arch::hash::hash_words;
use archforge::error::{Error, Result};
use archforge::lineage::{GrowthStep, Lineage, Morph};
use archforge::nn::morph::morph_graph;
use archforge::{Arch, Candidate, Choice, DecisionKindSpec, EnvSpec, Environment, Shape};
use network::{Offer, offer, seed_network, token_of};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[environment]` settings of `kind = "netmorph"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetmorphConfig {
    /// The seed network's convolution widths, first to last.
    #[serde(default = "defaults::convs")]
    pub convs: Vec<usize>,
    /// The seed network's hidden dense widths, after the convolutions.
    #[serde(default = "defaults::dense")]
    pub dense: Vec<usize>,
    /// The widths a layer may take, rising; a widened layer takes the next one above its own.
    #[serde(default = "defaults::widths")]
    pub widths: Vec<usize>,
    /// The kernel sizes an inserted layer may have (odd).
    #[serde(default = "defaults::kernels")]
    pub kernels: Vec<usize>,
    /// The most steps a lineage may take from the seed.
    #[serde(default = "defaults::max_steps")]
    pub max_steps: usize,
    /// Epochs the seed network is trained from scratch before anything grows from it.
    #[serde(default = "defaults::seed_epochs")]
    pub seed_epochs: usize,
    /// Net2Wider's noise on the copied units' incoming weights, relative to the layer's weight
    /// deviation (0: exact copies).
    #[serde(default = "defaults::noise")]
    pub noise: f64,
}

mod defaults {
    pub fn convs() -> Vec<usize> {
        vec![4; 4]
    }
    pub fn dense() -> Vec<usize> {
        vec![8]
    }
    pub fn widths() -> Vec<usize> {
        (1..=16).map(|k| 4 * k).collect()
    }
    pub fn kernels() -> Vec<usize> {
        vec![1, 3, 5]
    }
    pub fn max_steps() -> usize {
        20
    }
    pub fn seed_epochs() -> usize {
        2
    }
    pub fn noise() -> f64 {
        0.01
    }
}

impl Default for NetmorphConfig {
    fn default() -> Self {
        NetmorphConfig {
            convs: defaults::convs(),
            dense: defaults::dense(),
            widths: defaults::widths(),
            kernels: defaults::kernels(),
            max_steps: defaults::max_steps(),
            seed_epochs: defaults::seed_epochs(),
            noise: defaults::noise(),
        }
    }
}

impl NetmorphConfig {
    /// Whether the settings can make a space: the reason in one line when not.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.convs.is_empty() || self.convs.contains(&0) || self.dense.contains(&0) {
            return Err(
                "`convs` needs at least one width, and no width (of `convs` or `dense`) may be 0"
                    .into(),
            );
        }
        if self.widths.is_empty() || self.widths.windows(2).any(|w| w[0] >= w[1]) {
            return Err("`widths` must rise, from the narrowest".into());
        }
        if self.kernels.is_empty() || self.kernels.iter().any(|k| k % 2 == 0) {
            return Err(format!(
                "`kernels` {:?} must be odd sizes (1, 3, 5, ...)",
                self.kernels
            ));
        }
        if !(0.0..1.0).contains(&self.noise) {
            return Err(format!("`noise` {} must be in [0, 1)", self.noise));
        }
        Ok(())
    }
}

/// Decision kinds.
const BOUNDARY: usize = 0;
const WIDEN_KIND: usize = 1;
const PLACE: usize = 2;
const KERNEL: usize = 3;

/// Where a prefix stands.
enum Phase {
    /// At a boundary.
    Boundary,
    /// Before widening decision `i` of the step.
    Widen(usize),
    /// Before the place decision.
    Place,
    /// Before the kernel of a layer inserted after place `p`.
    Kernel(usize),
    /// The sequence is complete.
    Done,
}

/// A prefix replayed: the network at the last boundary, the steps so far, and where the
/// prefix stands in the step it is in.
struct Replay {
    arch: Arch,
    offer: Offer,
    steps: Vec<GrowthStep>,
    boundaries: Vec<usize>,
    pending: Vec<Morph>,
    phase: Phase,
}

/// The network-transformation space (see the module documentation).
pub struct Netmorph {
    config: NetmorphConfig,
    seed: Arch,
    spec: EnvSpec,
}

impl Netmorph {
    /// The space `config` describes, its seed sized for `images` (the embedded digits'
    /// 1x8x8 and 10 classes when `None`).
    pub fn new(config: NetmorphConfig, images: Option<Images>) -> Result<Self> {
        config.check().map_err(Error::Arch)?;
        let images = images.unwrap_or(Images {
            shape: Shape::new(1, 8, 8),
            classes: 10,
        });
        let seed = seed_network(&config, images)?;
        let widths = config.widths.clone();
        if let Some(w) = config
            .convs
            .iter()
            .chain(&config.dense)
            .find(|w| !widths.contains(w))
        {
            return Err(Error::Arch(format!(
                "the seed's width {w} is not one of `widths` {widths:?}"
            )));
        }
        let seed_places = offer(&seed, &config.widths).places.len();
        let most_places = seed_places + config.max_steps;
        let most_layers = config.convs.len() + config.dense.len() + config.max_steps;
        let labels = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        let spec = EnvSpec {
            name: "netmorph".into(),
            kinds: vec![
                DecisionKindSpec {
                    name: "step".into(),
                    labels: labels(&["stop", "grow"]),
                },
                DecisionKindSpec {
                    name: "widen".into(),
                    labels: labels(&["keep", "widen"]),
                },
                DecisionKindSpec {
                    name: "insert".into(),
                    labels: std::iter::once("nowhere".to_string())
                        .chain((1..=most_places).map(|p| format!("place {p}")))
                        .collect(),
                },
                DecisionKindSpec {
                    name: "kernel".into(),
                    labels: config.kernels.iter().map(|k| format!("{k}x{k}")).collect(),
                },
            ],
            max_length: config.max_steps * (most_layers + 3) + 1,
        };
        Ok(Netmorph { config, seed, spec })
    }

    /// The seed network.
    pub fn seed(&self) -> &Arch {
        &self.seed
    }

    /// The key of the network a boundary prefix ends in.
    fn key(prefix: &[usize]) -> u64 {
        let words: Vec<u64> = prefix.iter().map(|&d| d as u64).collect();
        hash_words("netmorph", &words)
    }

    /// Replays `prefix`, checking every decision.
    fn replay(&self, prefix: &[usize]) -> Result<Replay> {
        let mut r = Replay {
            arch: self.seed.clone(),
            offer: offer(&self.seed, &self.config.widths),
            steps: Vec::new(),
            boundaries: vec![0],
            pending: Vec::new(),
            phase: Phase::Boundary,
        };
        for (t, &d) in prefix.iter().enumerate() {
            let illegal = |why: &str| Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: format!("decision {t} ({d}): {why}"),
            };
            let choice = self
                .choice(&r)
                .ok_or_else(|| illegal("the sequence is complete"))?;
            if !choice.is_legal(d) {
                return Err(illegal("not a legal option"));
            }
            r.phase = match r.phase {
                Phase::Boundary if d == STOP => Phase::Done,
                Phase::Boundary => self.after_widening(&r, 0),
                Phase::Widen(i) => {
                    if d == WIDEN {
                        let (id, next) = r.offer.widen[i];
                        r.pending.push(Morph::Widen {
                            layer: r.arch.node(id).name.clone(),
                            width: next.expect("legal"),
                        });
                    }
                    self.after_widening(&r, i + 1)
                }
                Phase::Place if d == NOWHERE => {
                    self.end_step(&mut r, &prefix[..=t])?;
                    Phase::Boundary
                }
                Phase::Place => Phase::Kernel(d - 1),
                Phase::Kernel(p) => {
                    r.pending.push(Morph::Deepen {
                        after: r.arch.node(r.offer.places[p]).name.clone(),
                        kernel: self.config.kernels[d],
                    });
                    self.end_step(&mut r, &prefix[..=t])?;
                    Phase::Boundary
                }
                Phase::Done => unreachable!("a complete sequence offers no choice"),
            };
        }
        Ok(r)
    }

    /// The phase after the step's widening decision `i`.
    fn after_widening(&self, r: &Replay, i: usize) -> Phase {
        if i < r.offer.widen.len() {
            Phase::Widen(i)
        } else {
            Phase::Place
        }
    }

    /// Applies the step's morphs at the end of `prefix`.
    fn end_step(&self, r: &mut Replay, prefix: &[usize]) -> Result<()> {
        let morphs = std::mem::take(&mut r.pending);
        for morph in &morphs {
            r.arch = morph_graph(&r.arch, morph)?;
        }
        r.offer = offer(&r.arch, &self.config.widths);
        r.steps.push(GrowthStep {
            key: Self::key(prefix),
            morphs,
        });
        r.boundaries.push(prefix.len());
        Ok(())
    }

    /// The choice where `r` stands (`None` when complete).
    fn choice(&self, r: &Replay) -> Option<Choice> {
        Some(match r.phase {
            Phase::Boundary => {
                let mut c = Choice::new(BOUNDARY, 2);
                if r.steps.len() >= self.config.max_steps {
                    c.mask = Some(vec![true, false]);
                }
                c
            }
            Phase::Widen(i) => {
                let mut c = Choice::new(WIDEN_KIND, 2);
                if r.offer.widen[i].1.is_none() {
                    c.mask = Some(vec![true, false]);
                }
                c
            }
            Phase::Place => Choice::new(PLACE, r.offer.places.len() + 1),
            Phase::Kernel(_) => Choice::new(KERNEL, self.config.kernels.len()),
            Phase::Done => return None,
        })
    }

    /// The lineage of a replayed, complete sequence.
    fn lineage(&self, r: Replay) -> Lineage {
        Lineage {
            seed: self.seed.clone(),
            seed_key: Self::key(&[]),
            seed_epochs: self.config.seed_epochs,
            steps: r.steps,
            noise: self.config.noise,
        }
    }
}

impl Environment for Netmorph {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        let r = self.replay(prefix)?;
        Ok(self.choice(&r))
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        let r = self.replay(decisions)?;
        if !matches!(r.phase, Phase::Done) {
            return Err(Error::InvalidDecisions {
                decisions: decisions.to_vec(),
                reason: "the sequence does not end with a stop".into(),
            });
        }
        let label = label(&r.steps);
        let arch = r.arch.clone();
        Ok(Candidate::new(decisions.to_vec(), label, arch).grown(Arc::new(self.lineage(r))))
    }

    fn tokens(&self) -> Option<&dyn Tokens> {
        Some(self)
    }

    fn growth(&self) -> Option<&dyn Growth> {
        Some(self)
    }
}

impl NetworkLayers for Netmorph {}

impl Growth for Netmorph {
    fn step(&self, prefix: &[usize]) -> Result<StepLayout> {
        let r = self.replay(prefix)?;
        if !matches!(r.phase, Phase::Boundary) {
            return Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: "the prefix does not end at a step boundary".into(),
            });
        }
        let tokens = layer_tokens(&r.arch);
        let index = token_of(&r.arch);
        Ok(StepLayout {
            tokens,
            widen: r.offer.widen.iter().map(|(id, _)| index[id]).collect(),
            places: r.offer.places.iter().map(|id| index[id]).collect(),
            kernels: self.config.kernels.clone(),
        })
    }

    fn boundaries(&self, decisions: &[usize]) -> Result<Vec<usize>> {
        let r = self.replay(decisions)?;
        Ok(r.boundaries)
    }
}

/// A readable name for a lineage: each step's widened layers (with their new widths) and
/// inserted layer, `seed` for none.
fn label(steps: &[GrowthStep]) -> String {
    if steps.is_empty() {
        return "seed".into();
    }
    steps
        .iter()
        .map(|s| {
            let parts: Vec<String> = s
                .morphs
                .iter()
                .map(|m| match m {
                    Morph::Widen { layer, width } => format!("{layer}>{width}"),
                    Morph::Deepen { after, kernel } => format!("+{kernel}x{kernel}@{after}"),
                })
                .collect();
            if parts.is_empty() {
                "=".into()
            } else {
                parts.join(",")
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests;
