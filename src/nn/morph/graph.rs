//! The graph and weight plumbing every morph shares: rebuilding a network node by node under
//! the same names, carrying its tensors to their new paths, and finding layers and readers.

use crate::arch::{Arch, NodeId, Op};
use crate::error::{Error, Result};
use crate::nn::store::layer_path;
use crate::weights::Snapshot;
use std::collections::HashMap;

/// A morphed network: its graph and its weights.
#[derive(Debug, Clone)]
pub struct Morphed {
    /// The new graph.
    pub arch: Arch,
    /// Its weights, by path.
    pub weights: Snapshot,
}

/// An error of morph `morph`.
pub(super) fn refuse(morph: &str, why: impl Into<String>) -> Error {
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
pub(super) fn readers(arch: &Arch, id: NodeId) -> Vec<NodeId> {
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
