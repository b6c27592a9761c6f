//! The operation library: what each node of an [`Arch`](super::Arch) computes, its output
//! shape, its parameter and multiply-accumulate counts, and how it behaves under the canonical
//! hash. New search spaces add their operations here, in one place.

use super::Shape;
use serde::{Deserialize, Serialize};

/// A 2-D convolution, optionally preceded by a ReLU and followed by batch norm (so that
/// NAS-Bench-201's `nor_conv` is `ReLU -> Conv -> BN` in one node). Padding keeps the spatial
/// size at stride 1: `dilation * (kernel - 1) / 2` on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Conv {
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride in both directions.
    pub stride: usize,
    /// Dilation in both directions.
    pub dilation: usize,
    /// Channel groups (the input channel count for a depthwise convolution).
    pub groups: usize,
    /// A ReLU on the input before the convolution.
    pub relu_before: bool,
    /// Batch norm (affine) after the convolution.
    pub batch_norm: bool,
    /// A bias term in the convolution.
    pub bias: bool,
}

impl Conv {
    /// A square `ReLU -> Conv(k x k) -> BN` without bias, as in NAS-Bench-201 and DARTS.
    pub fn relu_conv_bn(out_channels: usize, kernel: usize, stride: usize) -> Self {
        Conv {
            out_channels,
            kernel: [kernel, kernel],
            stride,
            dilation: 1,
            groups: 1,
            relu_before: true,
            batch_norm: true,
            bias: false,
        }
    }

    /// A square `Conv(k x k) -> BN` without bias (a network stem).
    pub fn conv_bn(out_channels: usize, kernel: usize, stride: usize) -> Self {
        Conv {
            relu_before: false,
            ..Self::relu_conv_bn(out_channels, kernel, stride)
        }
    }

    /// A plain square convolution without bias, norm or activation.
    pub fn plain(out_channels: usize, kernel: usize, stride: usize) -> Self {
        Conv {
            batch_norm: false,
            ..Self::conv_bn(out_channels, kernel, stride)
        }
    }

    fn padding(&self, axis: usize) -> usize {
        self.dilation * (self.kernel[axis] - 1) / 2
    }
}

/// The largest form a convolution takes at its place in a search space. A weight-sharing
/// store that slices keeps one weight of this size there, and every variant uses its leading
/// input and output channels and the central window of its kernel (elastic width and kernel
/// size, as in Once-for-All): narrow and small variants train the same numbers as the large
/// ones instead of weights of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Envelope {
    /// The most input channels.
    pub in_channels: usize,
    /// The most output channels.
    pub out_channels: usize,
    /// The largest (square) kernel.
    pub kernel: usize,
}

impl Envelope {
    /// The convolution the envelope stands for at its place: `conv` widened to the envelope's
    /// output channels and kernel (a depthwise `conv` stays depthwise), or why `conv` on
    /// `in_channels` inputs is not a slice of it.
    pub fn widest(&self, conv: &Conv, in_channels: usize) -> Result<Conv, String> {
        let depthwise = conv.groups > 1 && conv.groups == in_channels;
        let [kh, kw] = conv.kernel;
        if kh != kw || kh > self.kernel || !(self.kernel - kh).is_multiple_of(2) {
            return Err(format!(
                "a {kh}x{kw} kernel is not the central window of a {0}x{0} one",
                self.kernel
            ));
        }
        if in_channels > self.in_channels || conv.out_channels > self.out_channels {
            return Err(format!(
                "{in_channels} -> {} channels exceed the envelope's {} -> {}",
                conv.out_channels, self.in_channels, self.out_channels
            ));
        }
        if conv.groups > 1 && !(depthwise && self.in_channels == self.out_channels) {
            return Err(format!(
                "only dense and depthwise convolutions slice, not {} groups of {in_channels}",
                conv.groups
            ));
        }
        Ok(Conv {
            out_channels: self.out_channels,
            kernel: [self.kernel; 2],
            groups: if depthwise { self.in_channels } else { 1 },
            ..*conv
        })
    }
}

/// Average or max pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolKind {
    /// Average over the window (padding not counted).
    Avg,
    /// Maximum over the window.
    Max,
}

/// What a node computes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// The network input; its shape is the architecture's input shape.
    Input,
    /// The result of the network; passes its single input through.
    Output,
    /// All zeros, shaped like its input (NAS-Bench-201's `none`).
    Zero,
    /// Its input unchanged (a skip connection).
    Identity,
    /// Element-wise sum of its inputs, which must agree in shape.
    Add,
    /// Concatenation of its inputs along channels; spatial sizes must agree.
    Concat,
    /// A convolution, see [`Conv`].
    Conv(Conv),
    /// Pooling over a square window; padding `(kernel - 1) / 2`.
    Pool {
        /// Average or max.
        kind: PoolKind,
        /// Window size.
        kernel: usize,
        /// Stride.
        stride: usize,
    },
    /// Batch norm (affine) followed by ReLU.
    BnRelu,
    /// ReLU.
    Relu,
    /// Hyperbolic tangent.
    Tanh,
    /// The logistic sigmoid.
    Sigmoid,
    /// Batch norm (affine) on its own.
    BatchNorm,
    /// Inverted dropout: in training each value is zeroed with probability
    /// `permille / 1000` and the rest scaled up to keep the mean; otherwise the identity.
    Dropout {
        /// The drop probability in thousandths (so that the operation hashes exactly).
        permille: u16,
    },
    /// Flattens `C x H x W` into `CHW x 1 x 1`, for a dense layer on a feature map.
    Flatten,
    /// Mean over the spatial positions: `C x H x W -> C x 1 x 1`.
    GlobalAvgPool,
    /// Channel gating (squeeze-excite's last step): `x * sigmoid(g)` for inputs `x`
    /// (`C x H x W`) and `g` (`C x 1 x 1`), in that order.
    Gate,
    /// NASNet's ScheduledDropPath on a path of cell `cell` of `cells`: the identity, except in
    /// training with drop-path on, where each example's path is zeroed with a probability that
    /// grows with the cell's depth and the progress of training (and kept paths rescaled).
    DropPath {
        /// The cell's position in the network, from 0.
        cell: usize,
        /// Cells in the network.
        cells: usize,
    },
    /// A fully connected layer on a `C x 1 x 1` input.
    Linear {
        /// Output features.
        out_features: usize,
        /// With a bias term.
        bias: bool,
    },
    /// An operation known only by its name (a row key of a tabular space): no shape, no cost.
    Labelled(String),
}

/// How an operation behaves under the canonical hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashRole {
    /// The input itself (`Identity`, `Output`).
    Transparent,
    /// Zero, whatever the input.
    Zero,
    /// A commutative, associative sum of the inputs.
    Sum,
    /// Any other function of the (ordered) inputs.
    Opaque,
}

impl Op {
    /// A short, stable description used in labels, DOT output and the canonical hash.
    pub fn key(&self) -> String {
        match self {
            Op::Input => "input".into(),
            Op::Output => "output".into(),
            Op::Zero => "zero".into(),
            Op::Identity => "identity".into(),
            Op::Add => "add".into(),
            Op::Concat => "concat".into(),
            Op::Conv(c) => {
                let mut s = String::new();
                if c.relu_before {
                    s.push_str("relu_");
                }
                s.push_str(&format!("conv{}x{}", c.kernel[0], c.kernel[1]));
                if c.batch_norm {
                    s.push_str("_bn");
                }
                s.push_str(&format!("(c{}", c.out_channels));
                for (name, value, default) in
                    [("s", c.stride, 1), ("d", c.dilation, 1), ("g", c.groups, 1)]
                {
                    if value != default {
                        s.push_str(&format!(",{name}{value}"));
                    }
                }
                if c.bias {
                    s.push_str(",bias");
                }
                s.push(')');
                s
            }
            Op::Pool {
                kind,
                kernel,
                stride,
            } => {
                let k = match kind {
                    PoolKind::Avg => "avg",
                    PoolKind::Max => "max",
                };
                format!("{k}_pool{kernel}x{kernel}(s{stride})")
            }
            Op::BnRelu => "bn_relu".into(),
            Op::Relu => "relu".into(),
            Op::Tanh => "tanh".into(),
            Op::Sigmoid => "sigmoid".into(),
            Op::BatchNorm => "bn".into(),
            Op::Dropout { permille } => format!("dropout({permille}/1000)"),
            Op::Flatten => "flatten".into(),
            Op::GlobalAvgPool => "global_avg_pool".into(),
            Op::Gate => "gate".into(),
            Op::DropPath { cell, cells } => format!("drop_path({}/{cells})", cell + 1),
            Op::Linear { out_features, bias } => {
                format!("linear({out_features}{})", if *bias { ",bias" } else { "" })
            }
            Op::Labelled(name) => name.clone(),
        }
    }

    pub(crate) fn hash_role(&self) -> HashRole {
        match self {
            Op::Identity | Op::Output | Op::DropPath { .. } => HashRole::Transparent,
            Op::Zero => HashRole::Zero,
            Op::Add => HashRole::Sum,
            _ => HashRole::Opaque,
        }
    }

    /// The inputs this operation takes: `(min, max)`.
    pub fn arity(&self) -> (usize, usize) {
        match self {
            Op::Input => (0, 0),
            Op::Add | Op::Concat => (1, usize::MAX),
            Op::Gate => (2, 2),
            Op::Labelled(_) => (0, usize::MAX),
            _ => (1, 1),
        }
    }

    /// The output shape from the input shapes, or why they do not fit.
    pub fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        let first = inputs.first().copied();
        let one = || first.ok_or_else(|| "needs an input".to_string());
        match self {
            Op::Input | Op::Labelled(_) => Err("has no shape rule".into()),
            Op::Output
            | Op::Zero
            | Op::Identity
            | Op::BnRelu
            | Op::Relu
            | Op::Tanh
            | Op::Sigmoid
            | Op::BatchNorm => one(),
            Op::Dropout { permille } if *permille >= 1000 => Err(format!(
                "a dropout rate of {permille}/1000 drops everything"
            )),
            Op::Dropout { .. } => one(),
            Op::Flatten => {
                let s = one()?;
                Ok(Shape::new(s.channels * s.height * s.width, 1, 1))
            }
            Op::DropPath { cell, cells } if cell >= cells => {
                Err(format!("cell {cell} of {cells} does not exist"))
            }
            Op::DropPath { .. } => one(),
            Op::Add => {
                let s = one()?;
                match inputs.iter().find(|i| **i != s) {
                    Some(other) => Err(format!("adds {s} and {other}")),
                    None => Ok(s),
                }
            }
            Op::Concat => {
                let s = one()?;
                if let Some(other) = inputs
                    .iter()
                    .find(|i| (i.height, i.width) != (s.height, s.width))
                {
                    return Err(format!("concatenates {s} and {other}"));
                }
                Ok(Shape::new(
                    inputs.iter().map(|i| i.channels).sum(),
                    s.height,
                    s.width,
                ))
            }
            Op::Conv(c) => {
                let s = one()?;
                if c.out_channels == 0 || c.stride == 0 || c.dilation == 0 || c.groups == 0 {
                    return Err(format!("{} has a zero size", self.key()));
                }
                if s.channels % c.groups != 0 || c.out_channels % c.groups != 0 {
                    return Err(format!(
                        "{} does not divide {} input channels into groups",
                        self.key(),
                        s.channels
                    ));
                }
                let h = window_out(s.height, c.kernel[0], c.stride, c.padding(0), c.dilation)?;
                let w = window_out(s.width, c.kernel[1], c.stride, c.padding(1), c.dilation)?;
                Ok(Shape::new(c.out_channels, h, w))
            }
            Op::Pool { kernel, stride, .. } => {
                let s = one()?;
                if *kernel == 0 || *stride == 0 {
                    return Err(format!("{} has a zero size", self.key()));
                }
                let pad = (kernel - 1) / 2;
                let h = window_out(s.height, *kernel, *stride, pad, 1)?;
                let w = window_out(s.width, *kernel, *stride, pad, 1)?;
                Ok(Shape::new(s.channels, h, w))
            }
            Op::GlobalAvgPool => Ok(Shape::new(one()?.channels, 1, 1)),
            Op::Gate => match inputs {
                [x, g] if *g == Shape::new(x.channels, 1, 1) => Ok(*x),
                [x, g] => Err(format!(
                    "gates {x} by {g}; the gate must be {} x 1 x 1",
                    x.channels
                )),
                _ => Err("needs an input and a gate".into()),
            },
            Op::Linear { out_features, .. } => {
                let s = one()?;
                if (s.height, s.width) != (1, 1) {
                    return Err(format!("linear layer on a spatial input {s}"));
                }
                if *out_features == 0 {
                    return Err("linear layer with zero outputs".into());
                }
                Ok(Shape::new(*out_features, 1, 1))
            }
        }
    }

    /// Trainable parameters (batch-norm scale and shift counted, running statistics not).
    /// Counts saturate at `u64::MAX` rather than overflow.
    pub fn params(&self, inputs: &[Shape]) -> u64 {
        let c_in = inputs.first().map_or(0, |s| s.channels) as u64;
        match self {
            Op::Conv(c) => {
                let out = c.out_channels as u64;
                let per_output = (c_in / c.groups as u64).saturating_mul(kernel_area(c));
                let extra = u64::from(c.bias) + 2 * u64::from(c.batch_norm);
                out.saturating_mul(per_output.saturating_add(extra))
            }
            Op::BnRelu | Op::BatchNorm => c_in.saturating_mul(2),
            Op::Linear { out_features, bias } => {
                (*out_features as u64).saturating_mul(c_in.saturating_add(u64::from(*bias)))
            }
            _ => 0,
        }
    }

    /// Multiply-accumulate operations of one forward pass on one example: convolutions and
    /// linear layers (the count NAS-Bench-201 reports as FLOPs); norms, pooling and additions
    /// are not counted. Counts saturate at `u64::MAX` rather than overflow.
    pub fn macs(&self, inputs: &[Shape], output: Shape) -> u64 {
        let c_in = inputs.first().map_or(0, |s| s.channels) as u64;
        match self {
            Op::Conv(c) => output
                .elements()
                .saturating_mul(c_in / c.groups as u64)
                .saturating_mul(kernel_area(c)),
            Op::Linear { out_features, .. } => c_in.saturating_mul(*out_features as u64),
            _ => 0,
        }
    }
}

fn kernel_area(c: &Conv) -> u64 {
    (c.kernel[0] as u64).saturating_mul(c.kernel[1] as u64)
}

fn window_out(
    size: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
) -> Result<usize, String> {
    let span = dilation * (kernel - 1) + 1;
    let padded = size + 2 * pad;
    if padded < span {
        return Err(format!(
            "a {kernel}x{kernel} window does not fit a size of {size}"
        ));
    }
    Ok((padded - span) / stride + 1)
}
