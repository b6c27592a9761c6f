//! A network read for compression: which parts of it can be removed and which widths can
//! shrink, from its graph alone, so any trained network can be compressed.
//!
//! - **Units** are what a removal decision is about: a convolution or pooling layer on the
//!   network's main chain (every path from input to output passes through it), with the ReLU
//!   that follows it; or a residual block whose shortcut is the identity (the skip carries the
//!   shape), with its add and the ReLU after it. Layers inside blocks are not units, and the
//!   classifier never is.
//! - **Channel spaces** are what a shrinkage decision is about: the channels that must keep
//!   one width together — a convolution's outputs and everything that passes them on (ReLU,
//!   pooling, depthwise convolutions), joined across additions, so a ResNet stage's residual
//!   stream is one space. A space holding the input, a classifier's outputs or a concatenation
//!   cannot shrink.

use archforge::arch::{Arch, NodeId, Op};
use archforge::weights::Snapshot;
use std::sync::Arc;

/// A network with its weights by path: a trained teacher, or a trained student that a later
/// stage compresses further.
#[derive(Debug, Clone)]
pub struct Network {
    /// Its graph.
    pub arch: Arch,
    /// Its tensors by path.
    pub weights: Arc<Snapshot>,
}

/// Something a removal decision can take out (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// A readable name: the layer's node name, or the block's common prefix.
    pub name: String,
    /// The layer (or the block's first convolution), whose token describes the unit.
    pub head: NodeId,
    /// The nodes it removes; whatever read them reads `source` instead (a block's inner
    /// nodes are then read by nothing and drop out).
    pub nodes: Vec<NodeId>,
    /// What takes its place: the layer's input, or the block's shortcut.
    pub source: NodeId,
}

/// Channels that keep one width together (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    /// Its channel count in the network.
    pub width: usize,
    /// The dense convolutions writing it, in order; their output channels are its width.
    pub members: Vec<NodeId>,
    /// Whether its width may change.
    pub shrinkable: bool,
}

/// A network's units and channel spaces.
#[derive(Debug, Clone)]
pub struct Anatomy {
    /// The units, in network order.
    pub units: Vec<Unit>,
    /// The channel spaces, in order of their first node.
    pub spaces: Vec<Space>,
    /// The space of each node's output, by node index.
    pub space_of: Vec<usize>,
}

impl Anatomy {
    /// Reads `arch` (a network with shapes).
    pub fn of(arch: &Arch) -> Anatomy {
        let n = arch.len();
        let inputs: Vec<Vec<NodeId>> = arch.node_ids().map(|id| arch.inputs(id)).collect();
        let mut consumers = vec![Vec::new(); n];
        for (i, ins) in inputs.iter().enumerate() {
            for input in ins {
                consumers[input.index()].push(i);
            }
        }
        // A node is on the main chain when no edge jumps over it (node order is topological).
        let mut jumps = vec![0i64; n + 1];
        for (b, ins) in inputs.iter().enumerate() {
            for a in ins {
                if a.index() + 1 < b {
                    jumps[a.index() + 1] += 1;
                    jumps[b] -= 1;
                }
            }
        }
        let mut on_chain = vec![false; n];
        let mut open = 0;
        for (v, chained) in on_chain.iter_mut().enumerate() {
            open += jumps[v];
            *chained = open == 0;
        }
        let id = |i: usize| NodeId::new(i);
        let trailing_relu = |v: usize| match consumers[v].as_slice() {
            [r] if on_chain[*r] && arch.node(id(*r)).op == Op::Relu => Some(id(*r)),
            _ => None,
        };
        let mut units = Vec::new();
        for v in 0..n {
            let node = arch.node(id(v));
            match &node.op {
                Op::Conv(_) | Op::Pool { .. } if on_chain[v] => {
                    let mut nodes = vec![id(v)];
                    nodes.extend(trailing_relu(v));
                    units.push(Unit {
                        name: node.name.clone(),
                        head: id(v),
                        nodes,
                        source: inputs[v][0],
                    });
                }
                Op::Add if on_chain[v] && inputs[v].len() == 2 => {
                    let chained: Vec<NodeId> = inputs[v]
                        .iter()
                        .copied()
                        .filter(|i| on_chain[i.index()])
                        .collect();
                    let [shortcut] = chained.as_slice() else {
                        continue;
                    };
                    if arch.node(*shortcut).shape != node.shape {
                        continue;
                    }
                    let Some(head) = (shortcut.index() + 1..v)
                        .find(|&i| matches!(arch.node(id(i)).op, Op::Conv(_)))
                    else {
                        continue;
                    };
                    let mut nodes = vec![id(v)];
                    nodes.extend(trailing_relu(v));
                    units.push(Unit {
                        name: common_prefix(&node.name, &arch.node(id(head)).name),
                        head: id(head),
                        nodes,
                        source: *shortcut,
                    });
                }
                _ => {}
            }
        }
        let (spaces, space_of) = channel_spaces(arch, &inputs);
        Anatomy {
            units,
            spaces,
            space_of,
        }
    }

    /// The spaces that may shrink, in order.
    pub fn shrinkable(&self) -> Vec<usize> {
        (0..self.spaces.len())
            .filter(|&s| self.spaces[s].shrinkable)
            .collect()
    }
}

/// The dotted prefix two names share (`stage0.block1.add`, `stage0.block1.conv1` ->
/// `stage0.block1`), or the first name when they share none.
fn common_prefix(a: &str, b: &str) -> String {
    let shared: Vec<&str> = a
        .split('.')
        .zip(b.split('.'))
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect();
    if shared.is_empty() {
        a.to_string()
    } else {
        shared.join(".")
    }
}

/// Every node's channel space by union-find over the graph (see the module documentation).
fn channel_spaces(arch: &Arch, inputs: &[Vec<NodeId>]) -> (Vec<Space>, Vec<usize>) {
    let n = arch.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut fixed = vec![false; n];
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (find(parent, a), find(parent, b));
        if ra != rb {
            // The earlier node stays the root, so spaces are named by their first node.
            let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
            parent[child] = root;
        }
    };
    for v in 0..n {
        let node = arch.node(NodeId::new(v));
        let ins: Vec<usize> = inputs[v].iter().map(|i| i.index()).collect();
        let c_in = inputs[v]
            .first()
            .and_then(|&i| arch.node(i).shape)
            .map(|s| s.channels);
        match &node.op {
            Op::Input | Op::Labelled(_) | Op::Linear { .. } => fixed[v] = true,
            Op::Conv(c) if c.groups > 1 && Some(c.groups) == c_in => union(&mut parent, v, ins[0]),
            Op::Conv(c) if c.groups > 1 => {
                fixed[v] = true;
                fixed[ins[0]] = true;
            }
            Op::Conv(_) => {}
            Op::Concat => {
                fixed[v] = true;
                for &i in &ins {
                    fixed[i] = true;
                }
            }
            Op::Add | Op::Gate => {
                for &i in &ins {
                    union(&mut parent, v, i);
                }
            }
            _ => {
                if let Some(&i) = ins.first() {
                    union(&mut parent, v, i);
                }
            }
        }
    }
    let roots: Vec<usize> = (0..n).map(|v| find(&mut parent, v)).collect();
    let mut index = vec![usize::MAX; n];
    let mut spaces: Vec<Space> = Vec::new();
    let mut space_of = vec![0; n];
    for v in 0..n {
        let root = roots[v];
        if index[root] == usize::MAX {
            index[root] = spaces.len();
            spaces.push(Space {
                width: arch.node(NodeId::new(v)).shape.map_or(0, |s| s.channels),
                members: Vec::new(),
                shrinkable: true,
            });
        }
        let s = index[root];
        space_of[v] = s;
        if fixed[v] {
            spaces[s].shrinkable = false;
        }
        if let Op::Conv(c) = &arch.node(NodeId::new(v)).op
            && c.groups == 1
        {
            spaces[s].members.push(NodeId::new(v));
        }
    }
    for space in &mut spaces {
        space.shrinkable &= !space.members.is_empty();
    }
    (spaces, space_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::teacher::{resnet, vgg};
    use crate::images::Images;
    use archforge::Shape;

    fn images() -> Images {
        Images {
            shape: Shape::new(1, 28, 28),
            classes: 10,
        }
    }

    #[test]
    fn every_vgg_conv_and_pool_is_a_unit_with_its_own_space() {
        let arch = vgg(images(), 0.25).unwrap();
        let a = Anatomy::of(&arch);
        let names: Vec<&str> = a.units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "conv0", "pool0", "conv1", "pool1", "conv2", "conv3", "pool2", "conv4", "conv5",
                "pool3", "conv6", "conv7"
            ]
        );
        // A conv unit takes its ReLU along; a pool unit is alone.
        assert_eq!(a.units[0].nodes.len(), 2);
        assert_eq!(a.units[1].nodes.len(), 1);
        let shrinkable = a.shrinkable();
        assert_eq!(shrinkable.len(), 8);
        let widths: Vec<usize> = shrinkable.iter().map(|&s| a.spaces[s].width).collect();
        assert_eq!(widths, [16, 32, 64, 64, 128, 128, 128, 128]);
    }

    #[test]
    fn resnet_blocks_with_identity_skips_are_units_and_stages_are_spaces() {
        let arch = resnet(images(), 1.0, 2).unwrap();
        let a = Anatomy::of(&arch);
        let names: Vec<&str> = a.units.iter().map(|u| u.name.as_str()).collect();
        // The stem is on the chain (a unit, though removing it cannot build); blocks that
        // project their shortcut are not units.
        assert_eq!(
            names,
            [
                "stem",
                "stage0.block0",
                "stage0.block1",
                "stage1.block1",
                "stage2.block1"
            ]
        );
        // Spaces: the three residual streams and each block's inner width.
        let shrinkable = a.shrinkable();
        let members: Vec<usize> = shrinkable
            .iter()
            .map(|&s| a.spaces[s].members.len())
            .collect();
        // stage0's stream: stem + 2 conv2; stage1 and 2: shortcut + 2 conv2; six inner convs.
        assert_eq!(members.iter().filter(|&&m| m == 3).count(), 3);
        assert_eq!(members.iter().filter(|&&m| m == 1).count(), 6);
    }
}
