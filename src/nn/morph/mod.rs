//! Function-preserving network morphs (Net2Net, as EAS grows networks): each takes a network
//! — its [`Arch`] and its weights by path ([`Snapshot`]) — and gives a larger network whose
//! weights compute the same function, so that training it continues where its parent stood.
//!
//! - [`wider`]: Net2Wider — a layer's units replicated by a random mapping, the outgoing
//!   weights of each replicated unit divided by its number of copies;
//! - [`deeper`]: Net2Deeper — an identity convolution with batch norm and ReLU inserted after a
//!   layer whose output is not negative, its batch norm set from the batch statistics there;
//! - [`kernel`]: a convolution's kernel enlarged by zero padding.
//!
//! A morph rebuilds the graph node by node ([`rebuild`]) under the same node names, and
//! carries every tensor to the new network's paths ([`carry`]); the morph then rewrites the
//! tensors it changes. They apply to plain networks — convolutions, batch norm, activations,
//! pooling, dropout, flattening and dense layers in a chain — and to MnasNet's blocks
//! (depthwise convolutions, squeeze-excite gates); they refuse, in one line, a layer whose
//! channels reach an addition or a concatenation. [`largest_change`] measures how far a morph
//! moved a network's outputs, so that a caller can check it kept the function.

pub mod deeper;
pub mod kernel;
pub mod wider;

#[cfg(test)]
mod tests;

pub use deeper::{channel_moments, deepen};
pub use kernel::enlarge_kernel;
pub use wider::widen;

use crate::arch::{Arch, NodeId, Op};
use crate::data::{Batch, Dataset};
use crate::error::{Error, Result};
use crate::nn::store::layer_path;
use crate::nn::train::batch_tensors;
use crate::nn::{WeightStore, logits, training_device};
use crate::weights::Snapshot;
use std::collections::HashMap;
use std::sync::Arc;

/// A morphed network: its graph and its weights.
#[derive(Debug, Clone)]
pub struct Morphed {
    /// The new graph.
    pub arch: Arch,
    /// Its weights, by path.
    pub weights: Snapshot,
}

/// An error of morph `morph`.
fn refuse(morph: &str, why: impl Into<String>) -> Error {
    Error::Arch(format!("{morph}: {}", why.into()))
}

/// The path prefix of node `id`'s layer (`None` for a node without weights).
pub fn layer_prefix(arch: &Arch, id: NodeId) -> Option<String> {
    let node = arch.node(id);
    if !matches!(
        node.op,
        Op::Conv(_) | Op::Linear { .. } | Op::BnRelu | Op::BatchNorm
    ) {
        return None;
    }
    let input = arch.node(*arch.inputs(id).first()?).shape?;
    Some(layer_path(&node.name, &node.op, input))
}

/// `arch` rebuilt node by node: each node's operation is `op(id, old)`, and the nodes
/// `after(id)` (name, operation) follow it in a chain, their last one read by whatever read
/// the node. Returns the new graph and where each old node's result now is.
pub fn rebuild(
    arch: &Arch,
    mut op: impl FnMut(NodeId, &Op) -> Op,
    mut after: impl FnMut(NodeId) -> Vec<(String, Op)>,
) -> Result<(Arch, HashMap<NodeId, NodeId>)> {
    let input = arch.node(arch.input()).shape;
    let mut new = Arch::new(input);
    let mut map: HashMap<NodeId, NodeId> = HashMap::new();
    map.insert(arch.input(), new.input());
    let output = arch
        .output()
        .ok_or_else(|| Error::Arch("the network has no output".into()))?;
    for id in arch.node_ids() {
        if id == arch.input() || id == output {
            continue;
        }
        let node = arch.node(id);
        let inputs: Vec<NodeId> = arch.inputs(id).iter().map(|i| map[i]).collect();
        let mut at = new.add(node.name.clone(), op(id, &node.op), &inputs)?;
        for (name, op) in after(id) {
            at = new.add(name, op, &[at])?;
        }
        map.insert(id, at);
    }
    let result = arch.inputs(output)[0];
    new.finish(map[&result])?;
    Ok((new, map))
}

/// Every tensor of `old`'s layers moved to the same layer of `new` (found by node name),
/// under its path there.
pub fn carry(old: &Arch, weights: &Snapshot, new: &Arch) -> Result<Snapshot> {
    let by_name: HashMap<&str, NodeId> = new
        .node_ids()
        .map(|id| (new.node(id).name.as_str(), id))
        .collect();
    let mut out = Snapshot::new();
    for id in old.node_ids() {
        let Some(from) = layer_prefix(old, id) else {
            continue;
        };
        let name = old.node(id).name.as_str();
        let to = by_name
            .get(name)
            .and_then(|&n| layer_prefix(new, n))
            .ok_or_else(|| Error::Arch(format!("the morph lost layer `{name}`")))?;
        let mut found = false;
        for (path, values) in weights.iter() {
            if let Some(tensor) = path.strip_prefix(&from).and_then(|t| t.strip_prefix('/')) {
                out.insert(format!("{to}/{tensor}"), values.clone());
                found = true;
            }
        }
        if !found {
            return Err(Error::Arch(format!(
                "the weights hold no tensor of layer `{from}`"
            )));
        }
    }
    Ok(out)
}

/// The nodes that read node `id`.
fn readers(arch: &Arch, id: NodeId) -> Vec<NodeId> {
    arch.node_ids()
        .filter(|&n| arch.inputs(n).contains(&id))
        .collect()
}

/// The node id whose name is `name`.
pub fn node_named(arch: &Arch, name: &str) -> Result<NodeId> {
    arch.node_ids()
        .find(|&id| arch.node(id).name == name)
        .ok_or_else(|| Error::Arch(format!("the network has no layer `{name}`")))
}

/// The logits of `arch` with `weights`: over `data` in evaluation (running statistics), and
/// on `batch` of it in training (batch statistics).
fn outputs(
    arch: &Arch,
    weights: &Arc<Snapshot>,
    data: &Dataset,
    batch: &Batch,
) -> Result<[Vec<f32>; 2]> {
    let mut store = WeightStore::new(training_device(), 0).from(weights.clone());
    let plan = store.plan(arch)?;
    let eval = logits(&store, &plan, data, 64);
    let (x, _) = batch_tensors(batch, data, store.device());
    let train = store
        .weights()
        .forward(&plan, x)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Training(format!("{e:?}")))?;
    Ok([eval, train])
}

/// How far `after` moved the outputs of `before` (each a network and its weights): the
/// largest difference of a logit over `data` in evaluation and over `batch` in training,
/// each relative to the largest logit `before` gives there (at least 1). A morph keeps the
/// function when both are within rounding (1e-4).
pub fn largest_change(
    before: (&Arch, &Arc<Snapshot>),
    after: (&Arch, &Arc<Snapshot>),
    data: &Dataset,
    batch: &Batch,
) -> Result<[f32; 2]> {
    let b = outputs(before.0, before.1, data, batch)?;
    let a = outputs(after.0, after.1, data, batch)?;
    let change = |b: &[f32], a: &[f32]| {
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let worst = b
            .iter()
            .zip(a)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        worst / scale
    };
    Ok([change(&b[0], &a[0]), change(&b[1], &a[1])])
}
