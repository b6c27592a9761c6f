//! Net2Deeper: a `k x k` convolution with batch norm and a ReLU inserted after a layer, set to
//! compute the identity — its kernel the identity (1 at the centre, from each channel to
//! itself), its batch norm's scale `sqrt(var + eps)` and shift `mean`, and its running
//! statistics `mean` and `var`, the per-channel moments of the layer's output on a batch
//! ([`channel_moments`]). In evaluation the new layer is then the identity on any input; in
//! training, on that batch. The ReLU keeps it so only where the layer's output is never
//! negative, so the place must be one: a ReLU, or pooling, dropout or an identity after one.

use super::check::in_training;
use super::graph::{Morphed, carry, node_named, rebuild, refuse};
use crate::arch::{Arch, Conv, NodeId, Op};
use crate::data::{Batch, Dataset};
use crate::error::{Error, Result};
use crate::nn::layer::BATCH_NORM_EPSILON;
use crate::nn::store::layer_path;
use crate::weights::{Snapshot, Values};
use std::sync::Arc;

/// Whether node `id`'s output is never negative: where Net2Deeper may insert a layer.
pub fn non_negative(arch: &Arch, id: NodeId) -> bool {
    match arch.node(id).op {
        Op::Relu | Op::BnRelu => true,
        Op::Pool { .. } | Op::Dropout { .. } | Op::Identity | Op::DropPath { .. } => arch
            .inputs(id)
            .first()
            .is_some_and(|&i| non_negative(arch, i)),
        _ => false,
    }
}

/// Per channel, the mean and (biased) variance of node `at`'s output on `batch` of `data`,
/// the network (`arch` with `weights`) in training mode — batch statistics in its batch norms.
pub fn channel_moments(
    arch: &Arch,
    weights: &Arc<Snapshot>,
    at: NodeId,
    data: &Dataset,
    batch: &Batch,
) -> Result<Vec<(f64, f64)>> {
    // The network cut after `at`: the same layers under the same paths.
    let mut cut = Arch::new(arch.node(arch.input()).shape);
    let mut map = std::collections::HashMap::new();
    map.insert(arch.input(), cut.input());
    for id in arch.node_ids() {
        if id == arch.input() || arch.node(id).op == Op::Output {
            continue;
        }
        let inputs: Vec<NodeId> = arch.inputs(id).iter().map(|i| map[i]).collect();
        let node = arch.node(id);
        map.insert(id, cut.add(node.name.clone(), node.op.clone(), &inputs)?);
        if id == at {
            break;
        }
    }
    cut.finish(map[&at])?;
    let shape = cut
        .output_shape()
        .ok_or_else(|| Error::Arch("Net2Deeper: a network without shapes".into()))?;
    let values = in_training(&cut, weights, data, batch)?;
    let (c, plane) = (shape.channels, shape.height * shape.width);
    let n = (batch.len() * plane) as f64;
    Ok((0..c)
        .map(|ch| {
            let sample = |b: usize| &values[(b * c + ch) * plane..][..plane];
            let mean = (0..batch.len())
                .flat_map(|b| sample(b).iter())
                .map(|&v| v as f64)
                .sum::<f64>()
                / n;
            let var = (0..batch.len())
                .flat_map(|b| sample(b).iter())
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / n;
            (mean, var)
        })
        .collect())
}

/// The graph of `arch` with a `kernel x kernel` convolution, batch norm and ReLU inserted
/// after `after` (what [`deepen`] gives, without the weights), and the new layer's name.
pub fn deepen_graph(arch: &Arch, after: NodeId, kernel: usize) -> Result<(Arch, String)> {
    let node = arch.node(after);
    if kernel == 0 || kernel.is_multiple_of(2) {
        return Err(refuse(
            "Net2Deeper",
            format!("a kernel of {kernel} is not odd"),
        ));
    }
    if !non_negative(arch, after) {
        return Err(refuse(
            "Net2Deeper",
            format!(
                "the output of `{}` (`{}`) can be negative, so a ReLU after the new layer would change it",
                node.name,
                node.op.key()
            ),
        ));
    }
    let shape = node
        .shape
        .ok_or_else(|| refuse("Net2Deeper", "a network without shapes"))?;
    let name = (0..)
        .map(|n| format!("{}.deep{n}", node.name))
        .find(|n| node_named(arch, n).is_err())
        .expect("some name is free");
    let conv = identity_conv(shape.channels, kernel);
    let (new, _) = rebuild(
        arch,
        |_, op| op.clone(),
        |id| {
            if id == after {
                vec![
                    (name.clone(), conv.clone()),
                    (format!("{name}.relu"), Op::Relu),
                ]
            } else {
                Vec::new()
            }
        },
    )?;
    Ok((new, name))
}

/// The inserted layer: a `kernel x kernel` convolution of `channels` to `channels`, with
/// batch norm.
fn identity_conv(channels: usize, kernel: usize) -> Op {
    Op::Conv(Conv {
        batch_norm: true,
        ..Conv::plain(channels, kernel, 1)
    })
}

/// `arch` (with `weights`) with an identity `kernel x kernel` convolution, batch norm and
/// ReLU inserted after `after` (see the module documentation); `moments` are `after`'s
/// output moments ([`channel_moments`]). The new layer is named `<after>.deep<n>`.
pub fn deepen(
    arch: &Arch,
    weights: &Snapshot,
    after: NodeId,
    kernel: usize,
    moments: &[(f64, f64)],
) -> Result<Morphed> {
    let (new, name) = deepen_graph(arch, after, kernel)?;
    let shape = arch.node(after).shape.expect("checked by deepen_graph");
    if moments.len() != shape.channels {
        return Err(refuse(
            "Net2Deeper",
            format!("{} moments for {} channels", moments.len(), shape.channels),
        ));
    }
    let conv = identity_conv(shape.channels, kernel);
    let mut out = carry(arch, weights, &new)?;
    let prefix = layer_path(&name, &conv, shape);
    let c = shape.channels;
    let mut identity = vec![0.0f32; c * c * kernel * kernel];
    let centre = (kernel / 2) * kernel + kernel / 2;
    for ch in 0..c {
        identity[(ch * c + ch) * kernel * kernel + centre] = 1.0;
    }
    let per_channel = |f: &dyn Fn(&(f64, f64)) -> f64| Values {
        shape: vec![c],
        data: moments.iter().map(|m| f(m) as f32).collect(),
    };
    out.insert(
        format!("{prefix}/weight"),
        Values {
            shape: vec![c, c, kernel, kernel],
            data: identity,
        },
    );
    out.insert(
        format!("{prefix}/bn/gamma"),
        per_channel(&|&(_, var)| (var + BATCH_NORM_EPSILON).sqrt()),
    );
    out.insert(format!("{prefix}/bn/beta"), per_channel(&|&(mean, _)| mean));
    out.insert(
        format!("{prefix}/bn/running_mean"),
        per_channel(&|&(mean, _)| mean),
    );
    out.insert(
        format!("{prefix}/bn/running_var"),
        per_channel(&|&(_, var)| var),
    );
    Ok(Morphed {
        arch: new,
        weights: out,
    })
}
