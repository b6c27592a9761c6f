//! Net2Wider: a convolution's (or dense layer's) `C` output units become `C' >= C`. Unit
//! `j < C` stays itself, and each new unit copies one drawn uniformly from the old ones — a
//! mapping `g`. The layer's weights, bias and batch-norm entries are gathered by `g`; so are
//! those of every batch norm its units pass through; and every layer that reads them takes,
//! for input `j`, the old input `g(j)`'s weights divided by how many units copy `g(j)` — so
//! the sum each reader computes is unchanged. Units pass through activations, pooling,
//! dropout and global pooling as channels, through a flatten as blocks of pixels, through a
//! depthwise convolution (its filters and batch norm gathered too: MnasNet's inverted
//! bottlenecks) and through a squeeze-excite gate (the excitation's outputs gathered, the
//! squeeze reading them divided). With
//! `noise > 0` the copies' own incoming weights get Gaussian noise of `noise` times the
//! layer's weight deviation, to break their symmetry (the function is then only nearly kept).

use super::graph::{Morphed, carry, layer_prefix, readers, rebuild, refuse};
use crate::arch::{Arch, NodeId, Op};
use crate::error::Result;
use crate::rng::Rng;
use crate::weights::{Snapshot, Values};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashMap;

/// What widening a layer changes in a layer that its units reach.
enum Reach {
    /// A batch norm: its entries gathered.
    Norm(NodeId),
    /// A convolution reading the units: its input channels gathered and divided.
    Conv(NodeId),
    /// A dense layer reading them, each unit a block of `block` features.
    Dense(NodeId, usize),
    /// A depthwise convolution the units pass through: its filters gathered.
    Depthwise(NodeId),
    /// The convolution writing a gate's other input: its outputs gathered.
    Gated(NodeId),
}

/// The layers `layer`'s units reach, or why it cannot widen.
fn reached(arch: &Arch, layer: NodeId) -> Result<Vec<Reach>> {
    let mut out = Vec::new();
    let mut stack = vec![(layer, 1usize)];
    while let Some((at, block)) = stack.pop() {
        for r in readers(arch, at) {
            let node = arch.node(r);
            match &node.op {
                Op::Relu
                | Op::Tanh
                | Op::Sigmoid
                | Op::Pool { .. }
                | Op::Dropout { .. }
                | Op::Identity
                | Op::DropPath { .. } => stack.push((r, block)),
                Op::BnRelu | Op::BatchNorm => {
                    out.push(Reach::Norm(r));
                    stack.push((r, block));
                }
                Op::GlobalAvgPool => stack.push((r, 1)),
                Op::Flatten => {
                    let s = arch
                        .node(at)
                        .shape
                        .ok_or_else(|| refuse("Net2Wider", "a network without shapes"))?;
                    stack.push((r, block * s.height * s.width));
                }
                Op::Conv(c) if c.groups == 1 => out.push(Reach::Conv(r)),
                Op::Conv(c) if c.groups == c.out_channels && arch.inputs(r)[0] == at => {
                    if let Some(s) = arch.node(at).shape
                        && s.channels == c.groups
                    {
                        out.push(Reach::Depthwise(r));
                        stack.push((r, block));
                        continue;
                    }
                    return Err(refuse(
                        "Net2Wider",
                        format!("`{}` groups its channels other than one by one", node.name),
                    ));
                }
                Op::Gate if arch.inputs(r)[0] == at => {
                    let gate = arch.inputs(r)[1];
                    match arch.node(gate).op {
                        Op::Conv(c) if c.groups == 1 => out.push(Reach::Gated(gate)),
                        _ => {
                            return Err(refuse(
                                "Net2Wider",
                                format!("the gate `{}` is not written by a convolution", node.name),
                            ));
                        }
                    }
                    stack.push((r, block));
                }
                Op::Gate => {
                    return Err(refuse(
                        "Net2Wider",
                        format!(
                            "`{}` writes the gate `{}`; widen the layer it gates instead",
                            arch.node(layer).name,
                            node.name
                        ),
                    ));
                }
                Op::Linear { .. } => out.push(Reach::Dense(r, block)),
                Op::Output => {
                    return Err(refuse(
                        "Net2Wider",
                        format!(
                            "`{}` is the network's output; its width is the number of classes",
                            arch.node(layer).name
                        ),
                    ));
                }
                other => {
                    return Err(refuse(
                        "Net2Wider",
                        format!(
                            "the units of `{}` reach `{}` (`{}`); only plain chains widen",
                            arch.node(layer).name,
                            node.name,
                            other.key()
                        ),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// `values` with its `axis` rebuilt from `picks`: new index `i` is old index `picks[i].0`
/// times `picks[i].1`.
fn select(values: &Values, axis: usize, picks: &[(usize, f32)]) -> Values {
    let outer: usize = values.shape[..axis].iter().product();
    let inner: usize = values.shape[axis + 1..].iter().product();
    let old = values.shape[axis];
    let mut data = Vec::with_capacity(outer * picks.len() * inner);
    for o in 0..outer {
        for &(from, scale) in picks {
            let row = &values.data[(o * old + from) * inner..][..inner];
            data.extend(row.iter().map(|v| v * scale));
        }
    }
    let mut shape = values.shape.clone();
    shape[axis] = picks.len();
    Values { shape, data }
}

/// Replaces the tensor at `path` of `weights` by `f` of it.
fn rewrite(weights: &mut Snapshot, path: &str, f: impl FnOnce(&Values) -> Values) -> Result<()> {
    let old = weights
        .get(path)
        .ok_or_else(|| refuse("Net2Wider", format!("the weights hold no `{path}`")))?;
    let new = f(old);
    weights.insert(path.to_string(), new);
    Ok(())
}

/// Rewrites the tensors named `names` under `prefix` (those present) by `f`.
fn rewrite_all(
    weights: &mut Snapshot,
    prefix: &str,
    names: &[&str],
    f: impl Fn(&Values) -> Values,
) -> Result<()> {
    for name in names {
        let path = format!("{prefix}/{name}");
        if weights.get(&path).is_some() {
            rewrite(weights, &path, &f)?;
        }
    }
    Ok(())
}

const NORM: [&str; 4] = ["gamma", "beta", "running_mean", "running_var"];
const CONV_NORM: [&str; 4] = ["bn/gamma", "bn/beta", "bn/running_mean", "bn/running_var"];

/// The graph of a widened network, and what the weights need from it.
struct Widened {
    arch: Arch,
    ids: HashMap<NodeId, NodeId>,
    reach: Vec<Reach>,
    units: usize,
}

/// `arch` with `layer` widened to `width` units: the graph alone.
fn widened(arch: &Arch, layer: NodeId, width: usize) -> Result<Widened> {
    let node = arch.node(layer);
    let units = match &node.op {
        Op::Conv(c) if c.groups == 1 => c.out_channels,
        Op::Linear { out_features, .. } => *out_features,
        other => {
            return Err(refuse(
                "Net2Wider",
                format!(
                    "`{}` is a `{}`, not a convolution or dense layer",
                    node.name,
                    other.key()
                ),
            ));
        }
    };
    if width < units {
        return Err(refuse(
            "Net2Wider",
            format!("`{}` has {units} units; {width} is not wider", node.name),
        ));
    }
    let reach = reached(arch, layer)?;
    // The layers whose output units grow: the layer, the depthwise convolutions its units
    // pass through, and the convolutions writing the gates they pass.
    let mut grown: Vec<NodeId> = vec![layer];
    for r in &reach {
        if let Reach::Depthwise(id) | Reach::Gated(id) = r {
            grown.push(*id);
        }
    }
    let (new, ids) = rebuild(
        arch,
        |id, op| match op {
            Op::Conv(c) if grown.contains(&id) => Op::Conv(crate::arch::Conv {
                out_channels: width,
                groups: if c.groups > 1 { width } else { 1 },
                ..*c
            }),
            Op::Linear { bias, .. } if id == layer => Op::Linear {
                out_features: width,
                bias: *bias,
            },
            other => other.clone(),
        },
        |_| Vec::new(),
    )?;
    Ok(Widened {
        arch: new,
        ids,
        reach,
        units,
    })
}

/// The graph of `arch` with `layer` widened to `width` units (what [`widen`] gives, without
/// the weights).
pub fn widen_graph(arch: &Arch, layer: NodeId, width: usize) -> Result<Arch> {
    Ok(widened(arch, layer, width)?.arch)
}

/// `arch` (with `weights`) with `layer` widened to `width` units (see the module
/// documentation); the new units' sources drawn from `rng`.
pub fn widen(
    arch: &Arch,
    weights: &Snapshot,
    layer: NodeId,
    width: usize,
    noise: f64,
    rng: &mut Rng,
) -> Result<Morphed> {
    let node = arch.node(layer);
    let Widened {
        arch: new,
        ids,
        reach,
        units,
    } = widened(arch, layer, width)?;
    let map: Vec<usize> = (0..width)
        .map(|j| {
            if j < units {
                j
            } else {
                rng.random_range(0..units)
            }
        })
        .collect();
    let mut copies = vec![0usize; units];
    for &g in &map {
        copies[g] += 1;
    }
    let mut out = carry(arch, weights, &new)?;
    let prefix = |id: NodeId| layer_prefix(&new, ids[&id]).expect("a layer with weights");
    let copy: Vec<(usize, f32)> = map.iter().map(|&g| (g, 1.0)).collect();
    let split = |block: usize| -> Vec<(usize, f32)> {
        map.iter()
            .flat_map(|&g| {
                let scale = 1.0 / copies[g] as f32;
                (0..block).map(move |b| (g * block + b, scale))
            })
            .collect()
    };
    // The layer itself: its output units gathered, the copies' weights given noise.
    let own = prefix(layer);
    let axis = if matches!(node.op, Op::Conv(_)) { 0 } else { 1 };
    rewrite(&mut out, &format!("{own}/weight"), |w| {
        let mut w = select(w, axis, &copy);
        if noise > 0.0 {
            add_noise(&mut w, axis, units, noise, rng);
        }
        w
    })?;
    rewrite_all(&mut out, &own, &["bias"], |v| select(v, 0, &copy))?;
    rewrite_all(&mut out, &own, &CONV_NORM, |v| select(v, 0, &copy))?;
    for r in reach {
        match r {
            Reach::Norm(id) => rewrite_all(&mut out, &prefix(id), &NORM, |v| select(v, 0, &copy))?,
            Reach::Conv(id) => {
                rewrite(&mut out, &format!("{}/weight", prefix(id)), |w| {
                    select(w, 1, &split(1))
                })?;
            }
            Reach::Dense(id, block) => {
                rewrite(&mut out, &format!("{}/weight", prefix(id)), |w| {
                    select(w, 0, &split(block))
                })?;
            }
            Reach::Depthwise(id) | Reach::Gated(id) => {
                let p = prefix(id);
                rewrite_all(&mut out, &p, &["weight", "bias"], |v| select(v, 0, &copy))?;
                rewrite_all(&mut out, &p, &CONV_NORM, |v| select(v, 0, &copy))?;
            }
        }
    }
    Ok(Morphed {
        arch: new,
        weights: out,
    })
}

/// Gaussian noise of `scale` times the weight's deviation on the units `from..` of `axis`.
fn add_noise(w: &mut Values, axis: usize, from: usize, scale: f64, rng: &mut Rng) {
    let n = w.data.len() as f64;
    let mean = w.data.iter().map(|&v| v as f64).sum::<f64>() / n;
    let std = (w
        .data
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let outer: usize = w.shape[..axis].iter().product();
    let inner: usize = w.shape[axis + 1..].iter().product();
    let units = w.shape[axis];
    for o in 0..outer {
        for u in from..units {
            for v in &mut w.data[(o * units + u) * inner..][..inner] {
                let z: f64 = StandardNormal.sample(rng);
                *v += (scale * std * z) as f32;
            }
        }
    }
}
