//! A walked network as an [`Arch`] the shared trainer trains: each emitted node becomes its
//! operation (a separable convolution a depthwise and a pointwise one, a dense layer on a
//! feature map a flatten and a linear layer), a residual whose body changes the shape gets a
//! 1x1 projection (with batch norm) on its skip, and a classifier — flattened, then linear to
//! the number of classes — follows the last module. Shapes are checked node by node; a
//! network whose shapes do not fit names the module (file and line) where they stop fitting.

use super::language::Source;
use super::space::Activation;
use super::walk::{Emit, Emitted, Layer};
use crate::images::Images;
use archforge::arch::{Arch, Conv, NodeId, Op};
use archforge::error::{Error, Result};

/// A plain convolution with bias, padding that keeps the size at stride 1.
fn conv(out_channels: usize, kernel: usize, stride: usize, groups: usize, bias: bool) -> Op {
    Op::Conv(Conv {
        out_channels,
        kernel: [kernel, kernel],
        stride,
        dilation: 1,
        groups,
        relu_before: false,
        batch_norm: false,
        bias,
    })
}

/// The network of `nodes` (output `output`) for `images` (see the module documentation).
pub fn network(nodes: &[Emitted], output: usize, images: Images, source: &Source) -> Result<Arch> {
    let mut arch = Arch::new(Some(images.shape));
    let mut ids: Vec<NodeId> = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let inputs: Vec<NodeId> = node.inputs.iter().map(|&k| ids[k]).collect();
        let at = |e: Error| match e {
            Error::Arch(why) => source.error(&node.span, why),
            other => other,
        };
        let id = add(&mut arch, i, &node.emit, &inputs).map_err(at)?;
        ids.push(id);
    }
    let mut x = ids[output];
    if spatial(&arch, x) {
        x = arch.add("head.flatten", Op::Flatten, &[x])?;
    }
    let logits = arch.add(
        "classifier",
        Op::Linear {
            out_features: images.classes,
            bias: true,
        },
        &[x],
    )?;
    arch.finish(logits)?;
    Ok(arch)
}

fn spatial(arch: &Arch, id: NodeId) -> bool {
    arch.node(id)
        .shape
        .is_some_and(|s| (s.height, s.width) != (1, 1))
}

fn channels(arch: &Arch, id: NodeId) -> usize {
    arch.node(id).shape.map_or(0, |s| s.channels)
}

/// Adds node `i` computing `emit` on `inputs`; returns its output.
fn add(arch: &mut Arch, i: usize, emit: &Emit, inputs: &[NodeId]) -> Result<NodeId> {
    let name = |what: &str| format!("n{i}.{what}");
    let layer = match emit {
        Emit::Input => return Ok(arch.input()),
        Emit::Concat if inputs.len() == 1 => return Ok(inputs[0]),
        Emit::Concat => return arch.add(name("concat"), Op::Concat, inputs),
        Emit::Add => return residual(arch, i, inputs),
        Emit::Layer(layer) => layer,
    };
    let x = inputs[0];
    let t = layer.type_name();
    match layer {
        Layer::Conv {
            filters,
            kernel,
            stride,
        } => arch.add(name(t), conv(*filters, *kernel, *stride, 1, true), &[x]),
        Layer::Separable {
            filters,
            kernel,
            stride,
        } => {
            let c = channels(arch, x);
            let depthwise = arch.add(
                name("depthwise"),
                conv(c, *kernel, *stride, c.max(1), false),
                &[x],
            )?;
            arch.add(
                name("pointwise"),
                conv(*filters, 1, 1, 1, true),
                &[depthwise],
            )
        }
        Layer::Pool {
            kind,
            window,
            stride,
        } => arch.add(
            name(t),
            Op::Pool {
                kind: *kind,
                kernel: *window,
                stride: *stride,
            },
            &[x],
        ),
        Layer::Dense { units } => {
            let x = if spatial(arch, x) {
                arch.add(name("flatten"), Op::Flatten, &[x])?
            } else {
                x
            };
            arch.add(
                name(t),
                Op::Linear {
                    out_features: *units,
                    bias: true,
                },
                &[x],
            )
        }
        Layer::BatchNorm => arch.add(name(t), Op::BatchNorm, &[x]),
        Layer::Activation(f) => {
            let op = match f {
                Activation::Relu => Op::Relu,
                Activation::Tanh => Op::Tanh,
                Activation::Sigmoid => Op::Sigmoid,
            };
            arch.add(name(t), op, &[x])
        }
        Layer::Dropout { permille: 0 } => arch.add(name(t), Op::Identity, &[x]),
        Layer::Dropout { permille } => arch.add(
            name(t),
            Op::Dropout {
                permille: *permille,
            },
            &[x],
        ),
        Layer::GlobalPool => arch.add(name(t), Op::GlobalAvgPool, &[x]),
    }
}

/// A residual's sum of its body `inputs[0]` and its input `inputs[1]`, the input projected
/// by a strided 1x1 convolution with batch norm where the shapes differ.
fn residual(arch: &mut Arch, i: usize, inputs: &[NodeId]) -> Result<NodeId> {
    let (body, skip) = (inputs[0], inputs[1]);
    let (b, s) = match (arch.node(body).shape, arch.node(skip).shape) {
        (Some(b), Some(s)) => (b, s),
        _ => return Err(Error::Arch("a residual without shapes".into())),
    };
    let skip = if b == s {
        skip
    } else {
        let stride = (s.height / b.height.max(1)).max(1);
        let projection = Op::Conv(Conv {
            batch_norm: true,
            ..Conv::plain(b.channels, 1, stride)
        });
        let fits = projection.output_shape(&[s]).is_ok_and(|shape| shape == b);
        if !fits {
            return Err(Error::Arch(format!(
                "the residual's body turns {s} into {b}, which no 1x1 projection of its input matches"
            )));
        }
        arch.add(format!("n{i}.projection"), projection, &[skip])?
    };
    arch.add(format!("n{i}.add"), Op::Add, &[body, skip])
}
