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

use crate::Images;
use archforge::arch::{Conv, NodeId};
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
        Ok(Mnasnet {
            spec,
            config,
            images,
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

    /// One layer of `block` on `x` (width `c_in`) to width `c_out` with `stride`.
    #[allow(clippy::too_many_arguments)]
    fn add_layer(
        arch: &mut Arch,
        place: &str,
        block: &Block,
        x: NodeId,
        c_in: usize,
        c_out: usize,
        stride: usize,
        se_width: usize,
    ) -> Result<NodeId> {
        let k = block.kernel;
        let conv = |out, kernel, stride, groups| {
            Op::Conv(Conv {
                out_channels: out,
                kernel: [kernel, kernel],
                stride,
                dilation: 1,
                groups,
                relu_before: false,
                batch_norm: true,
                bias: false,
            })
        };
        let relu = |arch: &mut Arch, name: String, x| arch.add(name, Op::Relu, &[x]);
        let excite = |arch: &mut Arch, x: NodeId, channels: usize| -> Result<NodeId> {
            if !block.se {
                return Ok(x);
            }
            let pooled = arch.add(format!("{place}.se_pool"), Op::GlobalAvgPool, &[x])?;
            let mut squeeze = Conv::plain(se_width, 1, 1);
            squeeze.bias = true;
            let s = arch.add(format!("{place}.se_squeeze"), Op::Conv(squeeze), &[pooled])?;
            let s = relu(arch, format!("{place}.se_relu"), s)?;
            let mut expand = Conv::plain(channels, 1, 1);
            expand.bias = true;
            let g = arch.add(format!("{place}.se_expand"), Op::Conv(expand), &[s])?;
            arch.add(format!("{place}.se_gate"), Op::Gate, &[x, g])
        };
        let y = match block.conv_op {
            0 => {
                let y = arch.add(format!("{place}.conv"), conv(c_out, k, stride, 1), &[x])?;
                let y = relu(arch, format!("{place}.relu"), y)?;
                excite(arch, y, c_out)?
            }
            1 => {
                let d = arch.add(format!("{place}.dw"), conv(c_in, k, stride, c_in), &[x])?;
                let d = relu(arch, format!("{place}.dw_relu"), d)?;
                let d = excite(arch, d, c_in)?;
                arch.add(format!("{place}.pw"), conv(c_out, 1, 1, 1), &[d])?
            }
            op => {
                let wide = c_in * if op == 2 { 3 } else { 6 };
                let e = arch.add(format!("{place}.expand"), conv(wide, 1, 1, 1), &[x])?;
                let e = relu(arch, format!("{place}.expand_relu"), e)?;
                let d = arch.add(format!("{place}.dw"), conv(wide, k, stride, wide), &[e])?;
                let d = relu(arch, format!("{place}.dw_relu"), d)?;
                let d = excite(arch, d, wide)?;
                arch.add(format!("{place}.project"), conv(c_out, 1, 1, 1), &[d])?
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
        let mut c = scaled(STEM, w);
        let stem = arch.add("stem", Op::Conv(Conv::conv_bn(c, 3, 1)), &[arch.input()])?;
        let mut x = arch.add("stem_relu", Op::Relu, &[stem])?;
        for (i, (block, (base, _, stride))) in
            Self::blocks(decisions).iter().zip(BASELINE).enumerate()
        {
            let c_out = scaled(base, w * WIDTHS[block.width]);
            let se_width = (c / 4).max(1);
            for layer in 0..block.layers {
                let s = if layer == 0 { stride } else { 1 };
                let place = format!("block{i}.layer{layer}");
                x = Self::add_layer(&mut arch, &place, block, x, c, c_out, s, se_width)?;
                c = c_out;
            }
        }
        let head = arch.add("head", Op::Conv(Conv::conv_bn(scaled(HEAD, w), 1, 1)), &[x])?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_has_the_expected_shape_and_the_options_move_its_cost() {
        let env = Mnasnet::new(MnasnetConfig::default(), None).unwrap();
        // mbconv6, k3, no SE, identity skip, width 1.0, baseline layers, in every block.
        let baseline: Vec<usize> = (0..5).flat_map(|_| [3, 0, 0, 1, 1, 1]).collect();
        let c = env.build(&baseline).unwrap();
        assert_eq!(c.arch.output_shape(), Some(Shape::new(10, 1, 1)));
        let last = c
            .arch
            .node_ids()
            .map(|id| c.arch.node(id))
            .find(|n| n.name == "block4.layer0.project")
            .unwrap();
        assert_eq!(last.shape, Some(Shape::new(64, 4, 4)));
        let params = |d: &[usize]| env.build(d).unwrap().arch.params().unwrap();
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
    fn out_of_range_options_are_errors() {
        let env = Mnasnet::new(MnasnetConfig::default(), None).unwrap();
        assert!(env.next_choice(&[4]).is_err());
        assert!(env.next_choice(&[0, 2]).is_err());
        assert_eq!(env.next_choice(&[0, 1, 0, 0]).unwrap().unwrap().options, 3);
        assert!(env.build(&[0; 29]).is_err());
        assert!(Mnasnet::new(MnasnetConfig { width: 0.0 }, None).is_err());
    }
}
