//! Graph encoding: a complete decision sequence as a graph of at most `max_nodes` nodes —
//! each node an operation from the encoding's vocabulary, edges in an adjacency matrix
//! (always from an earlier node to a later one), and a mask marking the real nodes of a
//! padded graph — and back: `decode(encode(x)) == x`. Spaces whose wiring is decided
//! (NASNet's block inputs) encode their wiring in the adjacency; spaces with a fixed wiring
//! (NAS-Bench-201's cell, a chain of tabular decisions) encode only the operations.
//! A graph that is not the encoding of a legal sequence (a generator's sample, say) decodes
//! to an error saying why.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// An architecture as a padded graph of operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchGraph {
    /// Per node, its operation as an index into the encoding's vocabulary (0 for padding).
    pub ops: Vec<usize>,
    /// `adjacency[i][j]`: an edge from node `i` to node `j`, only ever with `i < j`.
    pub adjacency: Vec<Vec<bool>>,
    /// Which nodes are real; padding nodes have no edges.
    pub mask: Vec<bool>,
}

impl ArchGraph {
    /// A graph of `nodes` padding nodes and no edges.
    pub fn empty(nodes: usize) -> Self {
        ArchGraph {
            ops: vec![0; nodes],
            adjacency: vec![vec![false; nodes]; nodes],
            mask: vec![false; nodes],
        }
    }

    /// Number of node slots (real and padding).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the graph has no node slots.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Makes slot `node` a real node computing operation `op`.
    pub fn set_node(&mut self, node: usize, op: usize) {
        self.ops[node] = op;
        self.mask[node] = true;
    }

    /// The real nodes with an edge into `node`, in increasing order.
    pub fn inputs(&self, node: usize) -> Vec<usize> {
        (0..node).filter(|&i| self.adjacency[i][node]).collect()
    }

    /// Checks the graph's form against an encoding of `max_nodes` nodes and `operations`
    /// operations: sizes agree, operations are in the vocabulary, edges run forward between
    /// real nodes.
    pub fn check_form(&self, max_nodes: usize, operations: usize) -> Result<()> {
        let bad = |why: String| Err(Error::Arch(format!("graph encoding: {why}")));
        if self.ops.len() != max_nodes
            || self.mask.len() != max_nodes
            || self.adjacency.len() != max_nodes
            || self.adjacency.iter().any(|row| row.len() != max_nodes)
        {
            return bad(format!(
                "expected {max_nodes} nodes in ops, mask and adjacency"
            ));
        }
        if let Some(i) = (0..max_nodes).find(|&i| self.mask[i] && self.ops[i] >= operations) {
            return bad(format!(
                "node {i} has operation {} of {operations}",
                self.ops[i]
            ));
        }
        for i in 0..max_nodes {
            for j in 0..max_nodes {
                if self.adjacency[i][j] && (j <= i || !self.mask[i] || !self.mask[j]) {
                    return bad(format!(
                        "edge {i} -> {j} must run forward between real nodes"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A space's graph encoding (see the module documentation).
pub trait GraphEncoding {
    /// The number of node slots every encoded graph has.
    fn max_nodes(&self) -> usize;

    /// The operation vocabulary: a node's `ops` entry indexes it.
    fn operations(&self) -> &[String];

    /// The graph of a complete, legal sequence.
    fn encode(&self, decisions: &[usize]) -> Result<ArchGraph>;

    /// The sequence a graph encodes, or why it encodes none.
    fn decode(&self, graph: &ArchGraph) -> Result<Vec<usize>>;
}
