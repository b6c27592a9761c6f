//! MnasNet's factorized hierarchical space (Tan et al. 2019), CPU-sized: a MobileNetV2-like
//! baseline of five blocks with strides adapted to 28x28 and 32x32 images. For each block the
//! controller picks its convolution (regular conv, depthwise-separable conv, MBConv with
//! expansion 3 or 6), kernel (3, 5), squeeze-excite ratio (0, 0.25), skip (none, identity),
//! width multiplier (0.75, 1.0, 1.25) and layer count change (-1, 0, +1) relative to the
//! baseline; all layers of a block are alike. A sequence is 6 decisions per block, 30 in all.
//!
//! Layers: `conv` is conv(k)-BN-ReLU; `sep_conv` is depthwise conv(k)-BN-ReLU, then a 1x1
//! conv-BN; `mbconvE` is a 1x1 expansion to E times the input width (BN-ReLU), a depthwise
//! conv(k)-BN-ReLU and a 1x1 projection-BN. Squeeze-excite (after the depthwise stage, or the
//! conv) pools to one value per channel, squeezes to `ratio` of the block's input width
//! (1x1 conv, ReLU), expands back (1x1 conv) and gates the channels by its sigmoid. An identity
//! skip adds a layer's input to its output where stride and width allow (the first layer of a
//! block with stride 2 or a new width has none). The first layer of a block carries its
//! stride. Skeleton: a 3x3 conv-BN-ReLU stem, the blocks, a 1x1 conv-BN-ReLU head, global
//! average pooling, linear. Widths are rounded to multiples of 4.
//!
//! Weight sharing: nodes are named by block, layer and conv family (`conv`, `sep`, `mbconv`),
//! and every convolution after the stem carries an envelope — its widest input and output
//! and the 5x5 kernel — so a slicing supernet trains one weight per place for all widths,
//! kernels and both MBConv expansions.
//!
//! Abilities: features (one-hot decisions, option counts per kind, params and MACs); layer
//! tokens of the whole network.

use crate::images::Images;
use archforge::ability::{
    Features, NetworkLayers, Positional, PositionalFeatures, Tokens, features::Position,
};
use archforge::arch::{Conv, Envelope, NodeId};
use archforge::error::{Error, Result};
use archforge::{Arch, Candidate, Choice, DecisionKindSpec, EnvSpec, Environment, Op, Shape};
use serde::{Deserialize, Serialize};

/// The baseline: per block, (output width, layers, stride of its first layer).
pub const BASELINE: [(usize, usize, usize); 5] =
    [(16, 1, 1), (24, 2, 2), (32, 2, 2), (48, 2, 1), (64, 1, 2)];

/// The stem's width before the multiplier.
const STEM: usize = 16;
/// The head's width before the multiplier.
const HEAD: usize = 128;

/// The decision kinds, in the order a block's decisions come, with their labels.
const KINDS: [(&str, &[&str]); 6] = [
    ("conv_op", &["conv", "sep_conv", "mbconv3", "mbconv6"]),
    ("kernel", &["3", "5"]),
    ("se_ratio", &["0", "0.25"]),
    ("skip", &["none", "identity"]),
    ("width", &["0.75", "1.0", "1.25"]),
    ("layers", &["-1", "+0", "+1"]),
];

const WIDTHS: [f64; 3] = [0.75, 1.0, 1.25];
/// MBConv's expansion ratios (`mbconv3`, `mbconv6`).
const EXPANSIONS: [usize; 2] = [3, 6];
/// The largest kernel.
const MAX_KERNEL: usize = 5;

/// The `[environment]` section for `kind = "mnasnet"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MnasnetConfig {
    /// Multiplies every width of the baseline (before rounding to multiples of 4).
    #[serde(default = "default_width")]
    pub width: f64,
}

fn default_width() -> f64 {
    1.0
}

impl Default for MnasnetConfig {
    fn default() -> Self {
        MnasnetConfig {
            width: default_width(),
        }
    }
}

/// The MnasNet environment (see the module documentation).
pub struct Mnasnet {
    spec: EnvSpec,
    config: MnasnetConfig,
    images: Images,
    features: PositionalFeatures,
}

/// The widths of one layer: its input, its output and its squeeze-excite bottleneck.
#[derive(Debug, Clone, Copy)]
struct Widths {
    c_in: usize,
    c_out: usize,
    se: usize,
}

/// One block's decisions.
#[derive(Debug, Clone, Copy)]
struct Block {
    conv_op: usize,
    kernel: usize,
    se: bool,
    skip: bool,
    width: usize,
    layers: usize,
}

/// A width scaled by `factor`, rounded to a multiple of 4 (at least 4).
fn scaled(channels: usize, factor: f64) -> usize {
    (((channels as f64 * factor) / 4.0).round() as usize).max(1) * 4
}

impl Mnasnet {
    /// The space for `config`, its networks sized for `images` (Fashion-MNIST's 1x28x28 and 10
    /// classes when no data is given).
    pub fn new(config: MnasnetConfig, images: Option<Images>) -> Result<Self> {
        if !(config.width > 0.0 && config.width <= 8.0) {
            return Err(Error::Arch("mnasnet: width must be in (0, 8]".into()));
        }
        let images = images.unwrap_or(Images {
            shape: Shape::new(1, 28, 28),
            classes: 10,
        });
        let spec = EnvSpec {
            name: "mnasnet".into(),
            kinds: KINDS
                .iter()
                .map(|(name, labels)| DecisionKindSpec {
                    name: name.to_string(),
                    labels: labels.iter().map(|l| l.to_string()).collect(),
                })
                .collect(),
            max_length: KINDS.len() * BASELINE.len(),
        };
        let positions = (0..BASELINE.len())
            .flat_map(|b| {
                KINDS
                    .iter()
                    .enumerate()
                    .map(move |(k, (name, labels))| Position {
                        name: format!("block{b}.{name}"),
                        kind: k,
                        options: labels.len(),
                    })
            })
            .collect();
        let features = PositionalFeatures::new(&spec, positions, true);
        Ok(Mnasnet {
            spec,
            config,
            images,
            features,
        })
    }

    fn blocks(decisions: &[usize]) -> Vec<Block> {
        decisions
            .chunks(KINDS.len())
            .zip(BASELINE)
            .map(|(d, (_, layers, _))| Block {
                conv_op: d[0],
                kernel: [3, 5][d[1]],
                se: d[2] == 1,
                skip: d[3] == 1,
                width: d[4],
                layers: (layers + d[5]).saturating_sub(1).max(1),
            })
            .collect()
    }

    fn label(decisions: &[usize]) -> String {
        Self::blocks(decisions)
            .iter()
            .map(|b| {
                format!(
                    "{}_k{}{}{}_w{}_l{}",
                    KINDS[0].1[b.conv_op],
                    b.kernel,
                    if b.se { "_se" } else { "" },
                    if b.skip { "_id" } else { "" },
                    KINDS[4].1[b.width],
                    b.layers
                )
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    /// One layer of `block` on `x`: from `width.c_in` to `width.c_out` channels with `stride`;
    /// `widest` holds the largest widths this layer takes in the space, which bound its
    /// convolutions' envelopes.
    fn add_layer(
        arch: &mut Arch,
        place: &str,
        block: &Block,
        x: NodeId,
        width: Widths,
        widest: Widths,
        stride: usize,
    ) -> Result<NodeId> {
        let k = block.kernel;
        let (c_in, c_out) = (width.c_in, width.c_out);
        let conv = |out, kernel, stride, groups| Conv {
            out_channels: out,
            kernel: [kernel, kernel],
            stride,
            dilation: 1,
            groups,
            relu_before: false,
            batch_norm: true,
            bias: false,
        };
        let envelope = |in_channels, out_channels, kernel| Envelope {
            in_channels,
            out_channels,
            kernel,
        };
        let relu = |arch: &mut Arch, name: String, x| arch.add(name, Op::Relu, &[x]);
        // Squeeze-excite on `x` of `channels` (at most `most`) channels.
        let excite = |arch: &mut Arch, x: NodeId, channels: usize, most: usize| {
            if !block.se {
                return Ok(x);
            }
            let pooled = arch.add(format!("{place}.se_pool"), Op::GlobalAvgPool, &[x])?;
            let mut squeeze = Conv::plain(width.se, 1, 1);
            squeeze.bias = true;
            let name = format!("{place}.se_squeeze");
            let s = arch.add_sliced(name, squeeze, envelope(most, widest.se, 1), pooled)?;
            let s = relu(arch, format!("{place}.se_relu"), s)?;
            let mut expand = Conv::plain(channels, 1, 1);
            expand.bias = true;
            let name = format!("{place}.se_expand");
            let g = arch.add_sliced(name, expand, envelope(widest.se, most, 1), s)?;
            arch.add(format!("{place}.se_gate"), Op::Gate, &[x, g])
        };
        let (most_in, most_out) = (widest.c_in, widest.c_out);
        let y = match block.conv_op {
            0 => {
                let name = format!("{place}.conv");
                let y = arch.add_sliced(
                    name,
                    conv(c_out, k, stride, 1),
                    envelope(most_in, most_out, MAX_KERNEL),
                    x,
                )?;
                let y = relu(arch, format!("{place}.relu"), y)?;
                excite(arch, y, c_out, most_out)?
            }
            1 => {
                let depthwise = conv(c_in, k, stride, c_in);
                let most = envelope(most_in, most_in, MAX_KERNEL);
                let d = arch.add_sliced(format!("{place}.dw"), depthwise, most, x)?;
                let d = relu(arch, format!("{place}.dw_relu"), d)?;
                let d = excite(arch, d, c_in, most_in)?;
                let pointwise = conv(c_out, 1, 1, 1);
                let most = envelope(most_in, most_out, 1);
                arch.add_sliced(format!("{place}.pw"), pointwise, most, d)?
            }
            op => {
                let wide = c_in * EXPANSIONS[op - 2];
                let most_wide = most_in * EXPANSIONS[1];
                let expand = conv(wide, 1, 1, 1);
                let most = envelope(most_in, most_wide, 1);
                let e = arch.add_sliced(format!("{place}.expand"), expand, most, x)?;
                let e = relu(arch, format!("{place}.expand_relu"), e)?;
                let depthwise = conv(wide, k, stride, wide);
                let most = envelope(most_wide, most_wide, MAX_KERNEL);
                let d = arch.add_sliced(format!("{place}.dw"), depthwise, most, e)?;
                let d = relu(arch, format!("{place}.dw_relu"), d)?;
                let d = excite(arch, d, wide, most_wide)?;
                let project = conv(c_out, 1, 1, 1);
                let most = envelope(most_wide, most_out, 1);
                arch.add_sliced(format!("{place}.project"), project, most, d)?
            }
        };
        if block.skip && stride == 1 && c_in == c_out {
            arch.add(format!("{place}.skip"), Op::Add, &[y, x])
        } else {
            Ok(y)
        }
    }

    /// The whole network for a complete, legal sequence.
    pub fn network(&self, decisions: &[usize]) -> Result<Arch> {
        let w = self.config.width;
        let mut arch = Arch::new(Some(self.images.shape));
        let stem = scaled(STEM, w);
        let node = arch.add("stem", Op::Conv(Conv::conv_bn(stem, 3, 1)), &[arch.input()])?;
        let mut x = arch.add("stem_relu", Op::Relu, &[node])?;
        let (mut c, mut most) = (stem, stem);
        for (i, (block, (base, _, stride))) in
            Self::blocks(decisions).iter().zip(BASELINE).enumerate()
        {
            let c_out = scaled(base, w * WIDTHS[block.width]);
            let most_out = scaled(base, w * WIDTHS[WIDTHS.len() - 1]);
            let (se, most_se) = ((c / 4).max(1), (most / 4).max(1));
            let family = ["conv", "sep", "mbconv", "mbconv"][block.conv_op];
            for layer in 0..block.layers {
                let s = if layer == 0 { stride } else { 1 };
                let place = format!("block{i}.layer{layer}.{family}");
                let width = Widths { c_in: c, c_out, se };
                let widest = Widths {
                    c_in: most,
                    c_out: most_out,
                    se: most_se,
                };
                x = Self::add_layer(&mut arch, &place, block, x, width, widest, s)?;
                (c, most) = (c_out, most_out);
            }
        }
        let head = Conv::conv_bn(scaled(HEAD, w), 1, 1);
        let envelope = Envelope {
            in_channels: most,
            out_channels: head.out_channels,
            kernel: 1,
        };
        let head = arch.add_sliced("head", head, envelope, x)?;
        let head = arch.add("head_relu", Op::Relu, &[head])?;
        arch.finish_with_classifier(head, self.images.classes)?;
        Ok(arch)
    }
}

impl Environment for Mnasnet {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        let kind = |i: usize| i % KINDS.len();
        if prefix.len() > self.spec.max_length {
            return Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: format!("longer than {} decisions", self.spec.max_length),
            });
        }
        if let Some(bad) = (0..prefix.len()).find(|&i| prefix[i] >= KINDS[kind(i)].1.len()) {
            return Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: format!("option {} at position {bad} is out of range", prefix[bad]),
            });
        }
        Ok((prefix.len() < self.spec.max_length).then(|| {
            let k = kind(prefix.len());
            Choice::new(k, KINDS[k].1.len())
        }))
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        archforge::env::validate(self, decisions)?;
        let arch = self.network(decisions)?;
        Ok(Candidate::new(
            decisions.to_vec(),
            Self::label(decisions),
            arch,
        ))
    }

    fn features(&self) -> Option<&dyn Features> {
        Some(self)
    }

    fn tokens(&self) -> Option<&dyn Tokens> {
        Some(self)
    }
}

impl Positional for Mnasnet {
    fn positions(&self) -> &PositionalFeatures {
        &self.features
    }
}

impl NetworkLayers for Mnasnet {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_has_the_expected_shape_and_the_options_move_its_cost() {
        let env = Mnasnet::new(MnasnetConfig::default(), None).unwrap();
        // mbconv6, k3, no SE, identity skip, width 1.0, baseline layers, in every block.
        let baseline: Vec<usize> = (0..5).flat_map(|_| [3, 0, 0, 1, 1, 1]).collect();
        let c = env.build(&baseline).unwrap();
        assert_eq!(c.arch().output_shape(), Some(Shape::new(10, 1, 1)));
        let last = c
            .arch()
            .node_ids()
            .map(|id| c.arch().node(id))
            .find(|n| n.name == "block4.layer0.mbconv.project")
            .unwrap();
        assert_eq!(last.shape, Some(Shape::new(64, 4, 4)));
        let params = |d: &[usize]| env.build(d).unwrap().params().unwrap();
        let mut wider = baseline.clone();
        wider[4] = 2;
        let mut deeper = baseline.clone();
        deeper[5] = 2;
        let mut excited = baseline.clone();
        excited[2] = 1;
        let mut lighter = baseline.clone();
        lighter[0] = 2;
        let p = params(&baseline);
        assert!(params(&wider) > p && params(&deeper) > p && params(&excited) > p);
        assert!(params(&lighter) < p);
    }

    #[test]
    fn every_sampled_network_builds_and_runs_a_forward_pass() {
        let shape = Shape::new(1, 28, 28);
        let images = Images { shape, classes: 10 };
        let env = Mnasnet::new(MnasnetConfig { width: 0.5 }, Some(images)).unwrap();
        crate::forward_check::sampled_networks_run(&env, shape, 10, 20);
    }

    #[test]
    fn a_slicing_store_holds_one_weight_per_place() {
        use archforge::nn::{WeightStore, training_device};
        let env = Mnasnet::new(MnasnetConfig { width: 0.5 }, None).unwrap();
        let mut rng = archforge::rng::seeded(5);
        let mut slicing = WeightStore::new(training_device(), 0).slicing();
        let mut exact = WeightStore::new(training_device(), 0);
        let mut places = std::collections::HashSet::new();
        for _ in 0..30 {
            let mut d = Vec::new();
            archforge::env::complete_uniformly(&env, &mut d, &mut rng).unwrap();
            let arch = env.build(&d).unwrap().arch().clone();
            for id in arch.node_ids() {
                let node = arch.node(id);
                if matches!(node.op, Op::Conv(_) | Op::Linear { .. }) {
                    places.insert(node.name.clone());
                }
            }
            slicing.plan(&arch).unwrap();
            exact.plan(&arch).unwrap();
        }
        assert_eq!(slicing.len(), places.len());
        assert!(exact.len() > 2 * slicing.len(), "{} layers", exact.len());
    }

    #[test]
    fn morphs_keep_the_function_of_a_trained_mnasnet() {
        use archforge::data::{Augment, DataConfig};
        use archforge::nn::morph::{
            channel_moments, deepen, enlarge_kernel, largest_change, node_named, widen,
        };
        use archforge::nn::{TrainConfig, WeightStore, train, training_device};
        use std::sync::Arc;
        let data = DataConfig::default()
            .load(std::path::Path::new("."))
            .unwrap();
        let images = Images {
            shape: data.train.shape,
            classes: 10,
        };
        let env = Mnasnet::new(MnasnetConfig { width: 0.5 }, Some(images)).unwrap();
        // Every block an mbconv6 with a 3x3 depthwise, squeeze-excite and an identity skip.
        let decisions: Vec<usize> = (0..5).flat_map(|_| [3, 0, 1, 1, 1, 1]).collect();
        let arch = env.build(&decisions).unwrap().arch().clone();
        let mut store = WeightStore::new(training_device(), 1);
        let plan = store.plan(&arch).unwrap();
        let config = TrainConfig {
            epochs: 1,
            ..TrainConfig::default()
        };
        train(
            &mut store,
            &plan,
            &data.train,
            &config,
            &mut archforge::rng::seeded(2),
        )
        .unwrap();
        let weights = Arc::new(store.cut(&plan));
        let batch = data
            .valid
            .batches(64, None, Augment::default())
            .next()
            .unwrap();
        let block = "block1.layer0.mbconv";
        let id = |name: &str| node_named(&arch, &format!("{block}.{name}")).unwrap();
        let expand = id("expand");
        let wide = arch.node(expand).shape.unwrap().channels + 8;
        let mut rng = archforge::rng::seeded(3);
        let at = id("dw_relu");
        let moments = channel_moments(&arch, &weights, at, &data.valid, &batch).unwrap();
        let morphs = [
            (
                "wider expansion",
                widen(&arch, &weights, expand, wide, 0.0, &mut rng),
            ),
            (
                "larger depthwise kernel",
                enlarge_kernel(&arch, &weights, id("dw"), 5),
            ),
            (
                "deeper after the depthwise",
                deepen(&arch, &weights, at, 3, &moments),
            ),
        ];
        for (what, morphed) in morphs {
            let m = morphed.unwrap();
            let change = largest_change(
                (&arch, &weights),
                (&m.arch, &Arc::new(m.weights)),
                &data.valid,
                &batch,
            )
            .unwrap();
            assert!(change.iter().all(|&c| c <= 1e-4), "{what}: {change:?}");
        }
        // The projection writes the residual stream: widening it alone would break the sum.
        let err = widen(&arch, &weights, id("project"), 64, 0.0, &mut rng).unwrap_err();
        assert!(err.to_string().contains("only plain chains widen"), "{err}");
    }

    #[test]
    fn out_of_range_options_are_errors() {
        let env = Mnasnet::new(MnasnetConfig::default(), None).unwrap();
        assert!(env.next_choice(&[4]).is_err());
        assert!(env.next_choice(&[0, 2]).is_err());
        assert_eq!(env.next_choice(&[0, 1, 0, 0]).unwrap().unwrap().options, 3);
        assert!(env.build(&[0; 29]).is_err());
        assert!(Mnasnet::new(MnasnetConfig { width: 0.0 }, None).is_err());
    }
}
