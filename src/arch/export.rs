//! Exports of an [`Arch`]: JSON (nodes with their op, inputs and shape — read back with
//! [`Arch::from_json`]) and Graphviz DOT for drawing.

use super::{Arch, Node, NodeId, Shape};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

#[derive(Serialize, Deserialize)]
struct ArchJson {
    input_shape: Option<Shape>,
    nodes: Vec<NodeJson>,
    output: Option<usize>,
}

#[derive(Serialize, Deserialize)]
struct NodeJson {
    #[serde(flatten)]
    node: Node,
    inputs: Vec<usize>,
}

impl Arch {
    /// The graph as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        let doc = ArchJson {
            input_shape: self.node(self.input()).shape,
            nodes: self
                .node_ids()
                .map(|id| NodeJson {
                    node: self.node(id).clone(),
                    inputs: self.inputs(id).iter().map(|i| i.index()).collect(),
                })
                .collect(),
            output: self.output().map(|o| o.index()),
        };
        serde_json::to_string_pretty(&doc).expect("architecture JSON is always serialisable")
    }

    /// Rebuilds an architecture from [`Arch::to_json`]'s output, re-checking every shape.
    pub fn from_json(text: &str) -> Result<Arch> {
        let doc: ArchJson = serde_json::from_str(text)
            .map_err(|e| Error::Arch(format!("architecture JSON: {e}")))?;
        let mut arch = Arch::new(doc.input_shape);
        let mut ids: Vec<NodeId> = vec![arch.input()];
        for (i, n) in doc.nodes.into_iter().enumerate().skip(1) {
            let inputs = n
                .inputs
                .iter()
                .map(|&j| ids.get(j).copied())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::Arch(format!("node {i} reads a later or missing node")))?;
            let id = match inputs.as_slice() {
                [result] if Some(i) == doc.output => arch.finish(*result)?,
                _ if Some(i) == doc.output => {
                    return Err(Error::Arch("the output node must have one input".into()));
                }
                _ => {
                    let id = arch.add(n.node.name, n.node.op, &inputs)?;
                    if let Some(envelope) = n.node.envelope {
                        arch.set_envelope(id, envelope)?;
                    }
                    id
                }
            };
            ids.push(id);
        }
        if doc.output.is_some() && arch.output().is_none() {
            return Err(Error::Arch("the output node is missing".into()));
        }
        Ok(arch)
    }

    /// The graph in Graphviz DOT: one box per node labelled with its name, op and shape.
    pub fn to_dot(&self) -> String {
        let mut dot = String::from(
            "digraph arch {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n",
        );
        for id in self.node_ids() {
            let n = self.node(id);
            let shape = n.shape.map(|s| format!("\\n{s}")).unwrap_or_default();
            let _ = writeln!(
                dot,
                "  n{} [label=\"{}\\n{}{}\"];",
                id.index(),
                escape(&n.name),
                escape(&n.op.key()),
                shape
            );
        }
        for id in self.node_ids() {
            for input in self.inputs(id) {
                let _ = writeln!(dot, "  n{} -> n{};", input.index(), id.index());
            }
        }
        dot.push_str("}\n");
        dot
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use crate::arch::{Arch, Conv, Envelope, Op, Shape};

    #[test]
    fn json_round_trip_keeps_the_graph_and_its_hash() {
        let mut a = Arch::new(Some(Shape::new(3, 8, 8)));
        let envelope = Envelope {
            in_channels: 3,
            out_channels: 8,
            kernel: 5,
        };
        let c = a
            .add_sliced("c", Conv::conv_bn(4, 3, 1), envelope, a.input())
            .unwrap();
        let d = a.add("d", Op::Conv(Conv::conv_bn(4, 1, 1)), &[c]).unwrap();
        let cat = a.add("cat", Op::Concat, &[d, c]).unwrap();
        a.finish(cat).unwrap();
        let b = Arch::from_json(&a.to_json()).unwrap();
        assert_eq!(a.to_json(), b.to_json());
        assert_eq!(b.node(c).envelope, Some(envelope));
        assert_eq!(a.canonical_hash(), b.canonical_hash());
        assert_eq!(b.params(), a.params());
    }

    #[test]
    fn corrupt_json_is_an_error() {
        assert!(Arch::from_json("{\"nodes\": 3}").is_err());
    }

    #[test]
    fn dot_has_one_line_per_node_and_edge() {
        let mut a = Arch::new(None);
        let x = a
            .add("x", Op::Labelled("k=\"3\"".into()), &[a.input()])
            .unwrap();
        a.finish(x).unwrap();
        let dot = a.to_dot();
        assert!(dot.starts_with("digraph arch {"));
        assert_eq!(dot.matches(" -> ").count(), 2);
        assert!(dot.contains("k=\\\"3\\\""));
    }
}
