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

use crate::images::Images;
use archforge::ability::growth::{NOWHERE, STOP, WIDEN};
use archforge::ability::{Growth, NetworkLayers, StepLayout, Tokens, layer_tokens};
use archforge::arch::hash::hash_words;
use archforge::arch::{Conv, NodeId, PoolKind};
use archforge::error::{Error, Result};
use archforge::lineage::{GrowthStep, Lineage, Morph};
use archforge::nn::morph::{morph_graph, non_negative};
use archforge::{Arch, Candidate, Choice, DecisionKindSpec, EnvSpec, Environment, Op, Shape};
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

/// What a network offers a step: the layers it may widen (with their next width) and the
/// places a layer may be inserted after.
struct Offer {
    widen: Vec<(NodeId, Option<usize>)>,
    places: Vec<NodeId>,
}

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

/// The seed network (see the module documentation).
fn seed_network(config: &NetmorphConfig, images: Images) -> Result<Arch> {
    let mut a = Arch::new(Some(images.shape));
    let mut x = a.input();
    let mut size = images.shape.height.min(images.shape.width);
    for (i, &width) in config.convs.iter().enumerate() {
        x = a.add(
            format!("conv{i}"),
            Op::Conv(Conv::conv_bn(width, 3, 1)),
            &[x],
        )?;
        x = a.add(format!("conv{i}.relu"), Op::Relu, &[x])?;
        if size >= 2 {
            let pool = Op::Pool {
                kind: PoolKind::Max,
                kernel: 2,
                stride: 2,
            };
            x = a.add(format!("pool{i}"), pool, &[x])?;
            size /= 2;
        }
    }
    x = a.add("flatten", Op::Flatten, &[x])?;
    for (i, &width) in config.dense.iter().enumerate() {
        let dense = Op::Linear {
            out_features: width,
            bias: true,
        };
        x = a.add(format!("dense{i}"), dense, &[x])?;
        x = a.add(format!("dense{i}.relu"), Op::Relu, &[x])?;
    }
    let classifier = Op::Linear {
        out_features: images.classes,
        bias: true,
    };
    x = a.add("classifier", classifier, &[x])?;
    a.finish(x)?;
    Ok(a)
}

/// What `arch` offers a step: its convolutions and hidden dense layers (not the classifier)
/// with the next of `widths` above theirs, and the places before the flatten whose output is
/// never negative.
fn offer(arch: &Arch, widths: &[usize]) -> Offer {
    let output = arch.output();
    let classifier = output.and_then(|o| arch.inputs(o).first().copied());
    let mut widen = Vec::new();
    let mut places = Vec::new();
    let mut flattened = false;
    for id in arch.node_ids() {
        let node = arch.node(id);
        let units = match &node.op {
            Op::Conv(c) if c.groups == 1 => Some(c.out_channels),
            Op::Linear { out_features, .. } if Some(id) != classifier => Some(*out_features),
            Op::Flatten => {
                flattened = true;
                None
            }
            _ => None,
        };
        if let Some(units) = units {
            widen.push((id, widths.iter().copied().find(|&w| w > units)));
        } else if !flattened
            && matches!(node.op, Op::Relu | Op::Pool { .. })
            && non_negative(arch, id)
        {
            places.push(id);
        }
    }
    Offer { widen, places }
}

/// Each node's token index: the layer token it is, or the last one before it.
fn token_of(arch: &Arch) -> std::collections::HashMap<NodeId, usize> {
    let mut at = 0usize;
    let mut seen = false;
    arch.node_ids()
        .map(|id| {
            if archforge::ability::layer_token(arch, id).is_some() {
                if seen {
                    at += 1;
                }
                seen = true;
            }
            (id, at)
        })
        .collect()
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
mod tests {
    use super::*;
    use archforge::ability::growth::GROW;
    use archforge::conformance::check_environment;
    use archforge::env::complete_uniformly;

    fn space() -> Netmorph {
        Netmorph::new(
            NetmorphConfig {
                max_steps: 4,
                ..NetmorphConfig::default()
            },
            None,
        )
        .unwrap()
    }

    #[test]
    fn the_space_keeps_the_environment_contract() {
        check_environment(&space(), 40).unwrap();
    }

    #[test]
    fn the_seed_is_the_official_plain_cnn() {
        let env = space();
        let seed = env.build(&[STOP]).unwrap();
        assert_eq!(seed.label, "seed");
        // 1x8x8 digits: pools after the first three convolutions only.
        let convs = seed
            .arch()
            .node_ids()
            .filter(|&id| matches!(seed.arch().node(id).op, Op::Conv(_)))
            .count();
        let pools = seed
            .arch()
            .node_ids()
            .filter(|&id| matches!(seed.arch().node(id).op, Op::Pool { .. }))
            .count();
        assert_eq!((convs, pools), (4, 3));
    }

    #[test]
    fn a_step_widens_and_inserts_as_decided_and_its_prefix_is_the_parent() {
        let env = space();
        let layout = env.step(&[]).unwrap();
        // Four convolutions and the dense layer may widen; 4 ReLUs + 3 pools are places.
        assert_eq!((layout.widen.len(), layout.places.len()), (5, 7));
        // Grow; widen conv0 and dense0; insert a 5x5 layer after pool1 (place 4); stop.
        let place = 4;
        let decisions = [GROW, 1, 0, 0, 0, 1, place, 2, STOP];
        let c = env.build(&decisions).unwrap();
        assert_eq!(c.label, "conv0>8,dense0>12,+5x5@pool1");
        let Some(archforge::candidate::Init::Grown(lineage)) = &c.init else {
            panic!("a grown candidate");
        };
        assert_eq!(lineage.steps.len(), 1);
        assert_eq!(lineage.steps[0].key, Netmorph::key(&decisions[..8]));
        assert_eq!(env.boundaries(&decisions).unwrap(), [0, 8]);
        // The parent of a second step is the first step's network.
        let mut more = decisions[..8].to_vec();
        more.extend([GROW, 0, 0, 0, 0, 0, 0, NOWHERE, STOP]);
        let child = env.build(&more).unwrap();
        assert_eq!(child.label, "conv0>8,dense0>12,+5x5@pool1 | =");
        assert_eq!(child.hash, c.hash);
        // The widened layers widen to the next width in a later step.
        let layout = env.step(&decisions[..8]).unwrap();
        assert_eq!(layout.widen.len(), 6);
    }

    #[test]
    fn every_random_lineage_builds_a_network_with_shapes() {
        let env = space();
        let mut rng = archforge::rng::seeded(3);
        for _ in 0..30 {
            let mut d = Vec::new();
            complete_uniformly(&env, &mut d, &mut rng).unwrap();
            let c = env.build(&d).unwrap();
            assert!(c.arch().output_shape().is_some(), "{}", c.label);
        }
    }

    #[test]
    fn a_child_grown_from_trained_weights_computes_its_parent_s_function_and_trains() {
        use archforge::Evaluator;
        use archforge::data::{Augment, DataConfig};
        use archforge::evaluator::{StandaloneEvaluator, train_candidate};
        use archforge::nn::TrainConfig;
        use archforge::nn::morph::{grow, largest_change};
        let data = Arc::new(
            DataConfig::default()
                .load(std::path::Path::new("."))
                .unwrap(),
        );
        let env = Netmorph::new(
            NetmorphConfig {
                noise: 0.0,
                ..NetmorphConfig::default()
            },
            None,
        )
        .unwrap();
        let config = TrainConfig {
            epochs: 1,
            ..TrainConfig::default()
        };
        let seed = env.build(&[STOP]).unwrap();
        let trained = train_candidate(&seed.clone().from_scratch(), &data, &config, 0).unwrap();
        let weights = Arc::new(trained.store.cut(&trained.plan));
        // Two steps: widen conv0, conv2 and the dense layer, insert a 3x3 layer after
        // conv1's ReLU; then widen the inserted layer and insert a 1x1 after pool0.
        let mut decisions = vec![GROW, 1, 0, 1, 0, 1, 3, 1];
        let layout = env.step(&decisions).unwrap();
        decisions.push(GROW);
        decisions.extend((0..layout.widen.len()).map(|i| usize::from(i == 2)));
        decisions.extend([2, 0, STOP]);
        let child = env.build(&decisions).unwrap();
        assert_eq!(
            child.label,
            "conv0>8,conv2>8,dense0>12,+3x3@conv1.relu | conv1.relu.deep0>8,+1x1@pool0"
        );
        let Some(archforge::candidate::Init::Grown(lineage)) = &child.init else {
            panic!("a grown candidate");
        };
        let grown = grow(
            lineage,
            0,
            seed.arch().clone(),
            weights.clone(),
            &data.train,
        )
        .unwrap();
        assert_eq!(grown.arch.canonical_hash(), child.hash);
        let batch = data
            .valid
            .batches(64, None, Augment::default())
            .next()
            .unwrap();
        let change = largest_change(
            (seed.arch(), &weights),
            (&grown.arch, &Arc::new(grown.weights)),
            &data.valid,
            &batch,
        )
        .unwrap();
        // In evaluation (running statistics); in training, an inserted layer is the identity
        // on the batch its statistics came from only (checked in `archforge::nn::morph`).
        assert!(change[0] < 1e-4, "{change:?}");
        // The evaluator trains the seed, then the child from it, then a grandchild from the
        // child; a candidate whose parent it trained starts near the parent's accuracy.
        let mut evaluator = StandaloneEvaluator::new(data.clone(), config, 0);
        let parent = evaluator
            .evaluate(&env.build(&[GROW, 1, 0, 1, 0, 1, 3, 1, STOP]).unwrap())
            .unwrap();
        let outcome = evaluator.evaluate(&child).unwrap();
        assert!(parent.status == archforge::Status::Ok && outcome.status == archforge::Status::Ok);
        assert!(
            outcome.metrics.search.unwrap() > 0.5,
            "{:?}",
            outcome.metrics
        );
    }

    #[test]
    fn bad_settings_are_one_line_errors() {
        let bad = |c: NetmorphConfig| Netmorph::new(c, None).err().unwrap().to_string();
        assert!(
            bad(NetmorphConfig {
                kernels: vec![2],
                ..NetmorphConfig::default()
            })
            .contains("odd")
        );
        assert!(
            bad(NetmorphConfig {
                convs: vec![6],
                ..NetmorphConfig::default()
            })
            .contains("not one of `widths`")
        );
    }
}
