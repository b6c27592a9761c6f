//! The two compression spaces of N2N learning, over a trained network with its weights:
//!
//! - `layer-removal`: one keep / remove decision per unit of the network (a layer on its main
//!   chain, or a residual block whose skip carries the shape), in network order; a unit whose
//!   removal alone cannot build is not offered, nor a pooling layer unless asked for;
//! - `layer-shrinkage`: per channel space that may shrink (a VGG layer's outputs, a ResNet
//!   block's inner width or a stage's residual stream), a scale factor from a list for its
//!   width (`max(1, round(width * scale))`).
//!
//! A complete sequence builds the student under the network's node names, its training
//! starting from the inherited weights ([`student`](mod@super::student)). Its canonical hash
//! joins the graph's with the decisions, since two students of equal graphs inherit different
//! weights. Both spaces have layer tokens: a student's layers, and the token of each
//! decision's layer (the unit's head, the space's first convolution) for policies that read
//! the network before deciding.

use super::anatomy::{Anatomy, Network};
use super::student::{Edit, student};
use archforge::Candidate;
use archforge::ability::{LAYER_FIELDS, Tokens, layer_token, layer_tokens};
use archforge::arch::ArchHash;
use archforge::arch::hash::hash_words;
use archforge::env::{Choice, DecisionKindSpec, EnvSpec, Environment};
use archforge::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[environment]` section for `kind = "layer-removal"`: the network is the teacher.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovalConfig {
    /// Offer the pooling layers too. Off by default: removing one saves no parameter and
    /// multiplies the cost of every layer after it.
    #[serde(default)]
    pub pools: bool,
}

/// The `[environment]` section for `kind = "layer-shrinkage"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShrinkageConfig {
    /// The width factors a space may take, each in (0, 1].
    #[serde(default = "default_scales")]
    pub scales: Vec<f64>,
}

fn default_scales() -> Vec<f64> {
    vec![0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
}

impl Default for ShrinkageConfig {
    fn default() -> Self {
        ShrinkageConfig {
            scales: default_scales(),
        }
    }
}

impl ShrinkageConfig {
    /// Checks the settings; `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.scales.is_empty() {
            return Err(("scales", "scales needs at least one factor".into()));
        }
        if let Some(bad) = self.scales.iter().find(|s| !(**s > 0.0 && **s <= 1.0)) {
            return Err(("scales", format!("scale {bad} is outside (0, 1]")));
        }
        Ok(())
    }
}

/// What each decision is about.
#[derive(Debug, Clone)]
enum Decisions {
    /// Keep (0) or remove (1) each of these units.
    Removal(Vec<usize>),
    /// One of `scales` for each of these spaces.
    Shrinkage {
        spaces: Vec<usize>,
        scales: Vec<f64>,
    },
}

/// A compression space (see the module documentation).
pub struct Compression {
    spec: EnvSpec,
    net: Arc<Network>,
    anatomy: Anatomy,
    decisions: Decisions,
    subjects: Vec<Vec<f64>>,
}

impl Compression {
    /// `layer-removal` over `net` as `config` says; an error when nothing in it can be
    /// removed.
    pub fn removal(net: Arc<Network>, config: &RemovalConfig) -> Result<Self> {
        let anatomy = Anatomy::of(&net.arch);
        let offered: Vec<usize> = (0..anatomy.units.len())
            .filter(|&u| {
                let head = &net.arch.node(anatomy.units[u].head).op;
                config.pools || !matches!(head, archforge::Op::Pool { .. })
            })
            .filter(|&u| {
                let mut edit = Edit::none(&anatomy);
                edit.removed[u] = true;
                student(&net, &anatomy, &edit).is_ok()
            })
            .collect();
        if offered.is_empty() {
            return Err(Error::Arch(
                "the network has nothing removable (no layer on its main chain, no block with an identity skip)".into(),
            ));
        }
        let subjects = offered
            .iter()
            .map(|&u| token(&net, anatomy.units[u].head))
            .collect();
        let kinds = vec![DecisionKindSpec {
            name: "layer".into(),
            labels: vec!["keep".into(), "remove".into()],
        }];
        Ok(Compression {
            spec: spec("layer-removal", kinds, offered.len()),
            net,
            anatomy,
            decisions: Decisions::Removal(offered),
            subjects,
        })
    }

    /// `layer-shrinkage` over `net` with the width factors of `config`; an error when no
    /// width of it can shrink.
    pub fn shrinkage(net: Arc<Network>, config: &ShrinkageConfig) -> Result<Self> {
        config
            .check()
            .map_err(|(key, why)| Error::Arch(format!("{key}: {why}")))?;
        let anatomy = Anatomy::of(&net.arch);
        let spaces = anatomy.shrinkable();
        if spaces.is_empty() {
            return Err(Error::Arch(
                "the network has no width that can shrink".into(),
            ));
        }
        let subjects = spaces
            .iter()
            .map(|&s| token(&net, anatomy.spaces[s].members[0]))
            .collect();
        let kinds = vec![DecisionKindSpec {
            name: "scale".into(),
            labels: config.scales.iter().map(|s| format!("x{s}")).collect(),
        }];
        Ok(Compression {
            spec: spec("layer-shrinkage", kinds, spaces.len()),
            net,
            anatomy,
            decisions: Decisions::Shrinkage {
                spaces,
                scales: config.scales.clone(),
            },
            subjects,
        })
    }

    /// The network it compresses.
    pub fn network(&self) -> &Arc<Network> {
        &self.net
    }

    /// What the decisions change, and a label naming the changes.
    fn edit(&self, decisions: &[usize]) -> (Edit, String) {
        let mut edit = Edit::none(&self.anatomy);
        let mut changes = Vec::new();
        match &self.decisions {
            Decisions::Removal(units) => {
                for (&u, &d) in units.iter().zip(decisions) {
                    if d == 1 {
                        edit.removed[u] = true;
                        changes.push(format!("-{}", self.anatomy.units[u].name));
                    }
                }
            }
            Decisions::Shrinkage { spaces, scales } => {
                for (&s, &d) in spaces.iter().zip(decisions) {
                    let space = &self.anatomy.spaces[s];
                    let width = ((space.width as f64 * scales[d]).round() as usize).max(1);
                    edit.widths[s] = width.min(space.width);
                    if width < space.width {
                        let first = self.net.arch.node(space.members[0]).name.clone();
                        changes.push(format!("{first}:{width}"));
                    }
                }
            }
        }
        let label = if changes.is_empty() {
            "unchanged".to_string()
        } else {
            changes.join(" ")
        };
        (edit, label)
    }
}

fn spec(name: &str, kinds: Vec<DecisionKindSpec>, length: usize) -> EnvSpec {
    EnvSpec {
        name: name.into(),
        kinds,
        max_length: length,
    }
}

fn token(net: &Network, id: archforge::arch::NodeId) -> Vec<f64> {
    layer_token(&net.arch, id).unwrap_or_else(|| vec![0.0; LAYER_FIELDS.len()])
}

impl Environment for Compression {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        let options = self.spec.kinds[0].labels.len();
        if prefix.len() > self.spec.max_length || prefix.iter().any(|&d| d >= options) {
            return Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: format!(
                    "{} takes {} decisions of {options} options",
                    self.spec.name, self.spec.max_length
                ),
            });
        }
        Ok((prefix.len() < self.spec.max_length).then(|| Choice::new(0, options)))
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        archforge::env::validate(self, decisions)?;
        let (edit, label) = self.edit(decisions);
        let built = student(&self.net, &self.anatomy, &edit)?;
        let mut candidate = Candidate::new(decisions.to_vec(), label, built.arch)
            .with_init(Arc::new(built.weights));
        let words: Vec<u64> = std::iter::once(candidate.hash.0)
            .chain(decisions.iter().map(|&d| d as u64))
            .collect();
        candidate.hash = ArchHash(hash_words(&self.spec.name, &words));
        Ok(candidate)
    }

    fn tokens(&self) -> Option<&dyn Tokens> {
        Some(self)
    }
}

impl Tokens for Compression {
    fn token_fields(&self) -> &[&'static str] {
        &LAYER_FIELDS
    }

    fn sequence(&self, decisions: &[usize]) -> Result<Vec<Vec<f64>>> {
        Ok(layer_tokens(self.build(decisions)?.arch()))
    }

    fn subjects(&self) -> Option<&[Vec<f64>]> {
        Some(&self.subjects)
    }
}
