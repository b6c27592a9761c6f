//! Architectures as typed graphs. An [`Arch`] is a directed acyclic graph (petgraph) whose
//! nodes are operations ([`Op`]) with a place name and, where the input shape is known, an
//! inferred output [`Shape`]. Edges carry the input slot, so ordered operations (concat) stay
//! ordered. From the graph alone come the parameter and multiply-accumulate counts, a canonical
//! hash under which functionally identical cells agree ([`hash`]), and JSON / Graphviz DOT
//! exports ([`export`]).
//!
//! Graphs are built front to back with [`Arch::add`], which checks arity and shapes at once, so
//! an architecture that exists has shapes that fit.

pub mod export;
pub mod hash;
pub mod op;

pub use hash::ArchHash;
pub use op::{Conv, Envelope, Op, PoolKind};

use crate::error::{Error, Result};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A feature-map shape of one example: channels x height x width (`C x 1 x 1` for vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// Channels (features for vectors).
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

impl Shape {
    /// A `channels x height x width` shape.
    pub fn new(channels: usize, height: usize, width: usize) -> Self {
        Shape {
            channels,
            height,
            width,
        }
    }

    /// Number of values in one example (saturating at `u64::MAX`).
    pub fn elements(&self) -> u64 {
        (self.channels as u64)
            .saturating_mul(self.height as u64)
            .saturating_mul(self.width as u64)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// Identifies a node within its [`Arch`].
pub type NodeId = NodeIndex<u32>;

/// One node of an architecture graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Where the node sits, e.g. `stage1.cell0.edge_0_2`; weight-sharing stores key on it.
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Its output shape, when the architecture's input shape is known.
    pub shape: Option<Shape>,
    /// For a convolution with variants at this place, their largest form (see [`Envelope`]);
    /// weight-sharing stores that slice keep one weight of that size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Envelope>,
}

/// A candidate network (or cell) as a DAG of operations, with one input and one output node.
#[derive(Debug, Clone)]
pub struct Arch {
    graph: DiGraph<Node, usize>,
    input: NodeId,
    output: Option<NodeId>,
}

impl Arch {
    /// A graph holding only its input node; `shape` is the shape of one input example, or
    /// `None` for spaces whose operations have no shapes.
    pub fn new(shape: Option<Shape>) -> Self {
        let mut graph = DiGraph::default();
        let input = graph.add_node(Node {
            name: "input".into(),
            op: Op::Input,
            shape,
            envelope: None,
        });
        Arch {
            graph,
            input,
            output: None,
        }
    }

    /// The input node.
    pub fn input(&self) -> NodeId {
        self.input
    }

    /// The output node, once [`Arch::finish`] has been called.
    pub fn output(&self) -> Option<NodeId> {
        self.output
    }

    /// Adds a node computing `op` on `inputs` (in slot order), checking arity and shapes.
    pub fn add(&mut self, name: impl Into<String>, op: Op, inputs: &[NodeId]) -> Result<NodeId> {
        let name = name.into();
        if self.output.is_some() {
            return Err(Error::Arch(format!("node `{name}` added after the output")));
        }
        let (min, max) = op.arity();
        if inputs.len() < min || inputs.len() > max {
            return Err(Error::Arch(format!(
                "node `{name}` ({}) takes {min}..{max} inputs, got {}",
                op.key(),
                inputs.len()
            )));
        }
        if let Some(bad) = inputs
            .iter()
            .find(|i| self.graph.node_weight(**i).is_none())
        {
            return Err(Error::Arch(format!(
                "node `{name}` reads a missing node {}",
                bad.index()
            )));
        }
        let shapes: Option<Vec<Shape>> = inputs.iter().map(|i| self.graph[*i].shape).collect();
        let shape = match (&op, shapes) {
            (Op::Labelled(_), _) | (_, None) => None,
            (_, Some(shapes)) => Some(
                op.output_shape(&shapes)
                    .map_err(|why| Error::Arch(format!("node `{name}` ({}): {why}", op.key())))?,
            ),
        };
        let id = self.graph.add_node(Node {
            name,
            op,
            shape,
            envelope: None,
        });
        for (slot, input) in inputs.iter().enumerate() {
            self.graph.add_edge(*input, id, slot);
        }
        Ok(id)
    }

    /// Adds a convolution `conv` on `input` (as [`Arch::add`]) that is a slice of `envelope`,
    /// the largest form it takes at this place; a `conv` that does not fit is an error.
    pub fn add_sliced(
        &mut self,
        name: impl Into<String>,
        conv: Conv,
        envelope: Envelope,
        input: NodeId,
    ) -> Result<NodeId> {
        let id = self.add(name, Op::Conv(conv), &[input])?;
        self.set_envelope(id, envelope)?;
        Ok(id)
    }

    fn set_envelope(&mut self, id: NodeId, envelope: Envelope) -> Result<()> {
        let inputs = self.inputs(id);
        let node = &self.graph[id];
        let in_channels = inputs.first().and_then(|&i| self.graph[i].shape);
        match (&node.op, in_channels) {
            (Op::Conv(conv), Some(input)) => {
                envelope.widest(conv, input.channels).map_err(|why| {
                    Error::Arch(format!(
                        "node `{}` is not a slice of its envelope: {why}",
                        node.name
                    ))
                })?;
            }
            _ => {
                return Err(Error::Arch(format!(
                    "node `{}`: only a convolution with a known input shape has an envelope",
                    node.name
                )));
            }
        }
        self.graph[id].envelope = Some(envelope);
        Ok(())
    }

    /// Marks `result` as the network's result by adding the output node.
    pub fn finish(&mut self, result: NodeId) -> Result<NodeId> {
        let id = self.add("output", Op::Output, &[result])?;
        self.output = Some(id);
        Ok(id)
    }

    /// Ends a network with the usual head: global average pooling of `features`, a linear
    /// classifier (with bias) to `classes` outputs, and the output node.
    pub fn finish_with_classifier(&mut self, features: NodeId, classes: usize) -> Result<NodeId> {
        let pooled = self.add("pool", Op::GlobalAvgPool, &[features])?;
        let linear = Op::Linear {
            out_features: classes,
            bias: true,
        };
        let logits = self.add("classifier", linear, &[pooled])?;
        self.finish(logits)
    }

    /// The same graph with every node's operation replaced by `map(op)`, for maps that keep
    /// each node's output shape (a network without its batch norms, say).
    pub fn with_ops(mut self, map: impl Fn(&Op) -> Op) -> Arch {
        for node in self.graph.node_weights_mut() {
            node.op = map(&node.op);
        }
        self
    }

    /// The node with id `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.graph[id]
    }

    /// Every node id in insertion order, which is a topological order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.graph.node_indices()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Whether the graph holds only its input.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() <= 1
    }

    /// The inputs of `id` in slot order.
    pub fn inputs(&self, id: NodeId) -> Vec<NodeId> {
        let mut inputs = Vec::new();
        self.inputs_into(id, &mut inputs);
        inputs
    }

    /// Fills `inputs` with the inputs of `id` in slot order (a reusable buffer for
    /// traversals that visit every node).
    pub(crate) fn inputs_into(&self, id: NodeId, inputs: &mut Vec<NodeId>) {
        inputs.clear();
        // petgraph lists a node's edges in reverse order of addition, and `add` adds them in
        // slot order and never changes them.
        let edges = self.graph.edges_directed(id, Direction::Incoming);
        inputs.extend(edges.map(|e| e.source()));
        inputs.reverse();
        debug_assert!(
            self.graph
                .edges_directed(id, Direction::Incoming)
                .all(|e| inputs.get(*e.weight()) == Some(&e.source()))
        );
    }

    /// The shape of the output, when known.
    pub fn output_shape(&self) -> Option<Shape> {
        self.output.and_then(|o| self.graph[o].shape)
    }

    /// Total trainable parameters, or `None` when shapes are unknown.
    pub fn params(&self) -> Option<u64> {
        self.counts().map(|(params, _)| params)
    }

    /// Total multiply-accumulates of one forward pass on one example, or `None` when shapes
    /// are unknown.
    pub fn macs(&self) -> Option<u64> {
        self.counts().map(|(_, macs)| macs)
    }

    /// Parameters and multiply-accumulates together, in one pass over the graph.
    pub fn counts(&self) -> Option<(u64, u64)> {
        let (mut params, mut macs) = (0, 0);
        let mut inputs = Vec::new();
        let mut shapes = Vec::new();
        for id in self.graph.node_indices() {
            let node = &self.graph[id];
            self.inputs_into(id, &mut inputs);
            shapes.clear();
            for i in &inputs {
                shapes.push(self.graph[*i].shape?);
            }
            let out = node.shape?;
            params = node.op.params(&shapes).saturating_add(params);
            macs = node.op.macs(&shapes, out).saturating_add(macs);
        }
        Some((params, macs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_inferred_and_mismatches_refused() {
        let mut a = Arch::new(Some(Shape::new(3, 8, 8)));
        let c = a
            .add("c", Op::Conv(Conv::conv_bn(4, 3, 2)), &[a.input()])
            .unwrap();
        assert_eq!(a.node(c).shape, Some(Shape::new(4, 4, 4)));
        let err = a.add("sum", Op::Add, &[a.input(), c]).unwrap_err();
        assert!(err.to_string().contains("adds 3x8x8 and 4x4x4"), "{err}");
        let cat = a.add("cat", Op::Concat, &[c, c]).unwrap();
        assert_eq!(a.node(cat).shape, Some(Shape::new(8, 4, 4)));
    }

    #[test]
    fn zero_width_and_oversized_windows_are_errors() {
        let mut a = Arch::new(Some(Shape::new(3, 1, 1)));
        assert!(
            a.add("c", Op::Conv(Conv::plain(0, 1, 1)), &[a.input()])
                .is_err()
        );
        let pool = Op::Pool {
            kind: PoolKind::Max,
            kernel: 2,
            stride: 2,
        };
        assert!(a.add("p", pool, &[a.input()]).is_err());
    }

    #[test]
    fn params_and_macs_count_convs_norms_and_linear_layers() {
        let mut a = Arch::new(Some(Shape::new(3, 32, 32)));
        let stem = a
            .add("stem", Op::Conv(Conv::conv_bn(16, 3, 1)), &[a.input()])
            .unwrap();
        let gap = a.add("gap", Op::GlobalAvgPool, &[stem]).unwrap();
        let fc = a
            .add(
                "fc",
                Op::Linear {
                    out_features: 10,
                    bias: true,
                },
                &[gap],
            )
            .unwrap();
        a.finish(fc).unwrap();
        assert_eq!(a.params(), Some(3 * 16 * 9 + 32 + 16 * 10 + 10));
        assert_eq!(a.macs(), Some(32 * 32 * 16 * 3 * 9 + 160));
        assert_eq!(a.output_shape(), Some(Shape::new(10, 1, 1)));
    }

    #[test]
    fn shapeless_graphs_have_no_counts() {
        let mut a = Arch::new(None);
        let x = a
            .add("lr", Op::Labelled("lr=0.1".into()), &[a.input()])
            .unwrap();
        a.finish(x).unwrap();
        assert_eq!(a.params(), None);
        assert_eq!(a.macs(), None);
    }
}
