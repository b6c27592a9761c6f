//! The diffusion state of a space's graphs: an encoded graph as one vector of numbers — per
//! node a one-hot row over the operations, then the whole adjacency matrix — centred to
//! `2x - 1` as DiffusionNAG does, so that "off" is -1 and "on" is +1. Which coordinates are
//! diffused is read from samples of the space: a coordinate that is the same in every sample
//! (a node whose operation is fixed, an operation a node never takes, an edge a wiring never
//! has or always has, the whole adjacency of a fixed-wiring cell) is held at its value, and
//! only the others are noised, denoised and generated. A generated state decodes to a graph
//! by the largest operation per node and the sign of each edge, and the graph to a decision
//! sequence by the space's own graph encoding, which says why when it encodes none.

use archforge::ability::{ArchGraph, GraphEncoding};
use archforge::error::{Error, Result};
use archforge::predictor::GraphInput;

/// Where each coordinate of a state sits and which ones are diffused (see the module
/// documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Node slots.
    pub nodes: usize,
    /// Operations in the vocabulary.
    pub operations: usize,
    /// Per coordinate, whether it is diffused.
    pub free: Vec<bool>,
    /// Per coordinate, its value when it is held (centred).
    pub fixed: Vec<f64>,
    /// Per node, its mask when every sample agrees on it (else it is read off the state).
    pub mask: Vec<Option<bool>>,
}

impl Layout {
    /// The layout of a space, read from encoded samples of it.
    pub fn of(encoding: &dyn GraphEncoding, samples: &[ArchGraph]) -> Result<Layout> {
        let (nodes, operations) = (encoding.max_nodes(), encoding.operations().len());
        let Some(first) = samples.first() else {
            return Err(Error::Arch(
                "a diffusion layout needs at least one sample".into(),
            ));
        };
        let mut layout = Layout {
            nodes,
            operations,
            free: vec![false; nodes * operations + nodes * nodes],
            fixed: Vec::new(),
            mask: first.mask.iter().map(|&m| Some(m)).collect(),
        };
        layout.fixed = layout.state(first)?;
        for graph in &samples[1..] {
            let state = layout.state(graph)?;
            for (i, (free, value)) in layout.free.iter_mut().zip(&state).enumerate() {
                *free |= *value != layout.fixed[i];
            }
            for (m, &real) in layout.mask.iter_mut().zip(&graph.mask) {
                if *m != Some(real) {
                    *m = None;
                }
            }
        }
        Ok(layout)
    }

    /// Coordinates of a state.
    pub fn len(&self) -> usize {
        self.free.len()
    }

    /// Whether a state has no coordinates.
    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }

    /// Coordinates that are diffused.
    pub fn free_count(&self) -> usize {
        self.free.iter().filter(|&&f| f).count()
    }

    /// Offset of the adjacency in a state.
    pub fn edges_at(&self) -> usize {
        self.nodes * self.operations
    }

    /// The centred state of an encoded graph.
    pub fn state(&self, graph: &ArchGraph) -> Result<Vec<f64>> {
        graph.check_form(self.nodes, self.operations)?;
        let mut state = vec![-1.0; self.len()];
        for i in 0..self.nodes {
            if graph.mask[i] {
                state[i * self.operations + graph.ops[i]] = 1.0;
            }
            for j in 0..self.nodes {
                if graph.adjacency[i][j] {
                    state[self.edges_at() + i * self.nodes + j] = 1.0;
                }
            }
        }
        Ok(state)
    }

    /// Sets every held coordinate of `state` to its value.
    pub fn hold(&self, state: &mut [f64]) {
        for ((v, &free), &fixed) in state.iter_mut().zip(&self.free).zip(&self.fixed) {
            if !free {
                *v = fixed;
            }
        }
    }

    /// The graph a (generated) state stands for: per real node its largest operation, an
    /// edge wherever the entry is positive. A node whose mask varies across the space is real
    /// when its largest operation is positive.
    pub fn graph(&self, state: &[f64]) -> ArchGraph {
        let mut graph = ArchGraph::empty(self.nodes);
        for i in 0..self.nodes {
            let row = &state[i * self.operations..(i + 1) * self.operations];
            let (op, top) = row
                .iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (o, &v)| {
                    if v > best.1 { (o, v) } else { best }
                });
            if self.mask[i].unwrap_or(top > 0.0) {
                graph.set_node(i, op);
            }
        }
        for i in 0..self.nodes {
            for j in i + 1..self.nodes {
                graph.adjacency[i][j] = graph.mask[i]
                    && graph.mask[j]
                    && state[self.edges_at() + i * self.nodes + j] > 0.0;
            }
        }
        graph
    }

    /// A state as a predictor reads it: node rows mapped back to `[0, 1]`-scale weights
    /// (`(x + 1) / 2`, relaxed), the adjacency and mask of the graph it decodes to. The
    /// gradient of a prediction with respect to a state's node coordinates is half the
    /// gradient with respect to these weights.
    pub fn relaxed(&self, state: &[f64]) -> GraphInput {
        let graph = self.graph(state);
        let mut input = GraphInput::one_hot(&graph, self.operations);
        for (w, &v) in input.x.iter_mut().zip(&state[..self.edges_at()]) {
            *w = 0.5 * (v + 1.0);
        }
        input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three nodes over two operations: node 0 always op 0, nodes 1 and 2 either op; the edge
    /// 0 -> 1 always there, 1 -> 2 sometimes, 0 -> 2 never.
    struct Chain;

    impl GraphEncoding for Chain {
        fn max_nodes(&self) -> usize {
            3
        }
        fn operations(&self) -> &[String] {
            static OPS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
            OPS.get_or_init(|| vec!["a".into(), "b".into()])
        }
        fn encode(&self, _: &[usize]) -> Result<ArchGraph> {
            unreachable!("the layout reads graphs only")
        }
        fn decode(&self, _: &ArchGraph) -> Result<Vec<usize>> {
            unreachable!("the layout reads graphs only")
        }
    }

    fn graph(ops: [usize; 3], edge_1_2: bool) -> ArchGraph {
        let mut g = ArchGraph::empty(3);
        for (i, &op) in ops.iter().enumerate() {
            g.set_node(i, op);
        }
        g.adjacency[0][1] = true;
        g.adjacency[1][2] = edge_1_2;
        g
    }

    #[test]
    fn coordinates_that_never_vary_are_held_and_a_state_decodes_back() {
        let samples = [graph([0, 0, 1], false), graph([0, 1, 0], true)];
        let layout = Layout::of(&Chain, &samples).unwrap();
        assert_eq!(layout.len(), 3 * 2 + 9);
        // Node 0's row is held; nodes 1 and 2 vary in both columns.
        assert_eq!(&layout.free[..6], &[false, false, true, true, true, true]);
        let edge = |i: usize, j: usize| layout.edges_at() + i * 3 + j;
        assert!(!layout.free[edge(0, 1)] && layout.fixed[edge(0, 1)] == 1.0);
        assert!(layout.free[edge(1, 2)]);
        assert!(!layout.free[edge(0, 2)] && layout.fixed[edge(0, 2)] == -1.0);
        assert_eq!(layout.free_count(), 5);
        for g in &samples {
            assert_eq!(&layout.graph(&layout.state(g).unwrap()), g);
        }
        // A noisy state decodes by the largest operation and the sign of each edge, with the
        // held coordinates restored first.
        let mut noisy = vec![0.3; layout.len()];
        noisy[2] = 0.9; // node 1: op 0
        noisy[5] = 0.8; // node 2: op 1
        noisy[edge(1, 2)] = -0.2;
        layout.hold(&mut noisy);
        assert_eq!(layout.graph(&noisy), graph([0, 0, 1], false));
        let relaxed = layout.relaxed(&noisy);
        assert!((relaxed.x[2] - 0.95).abs() < 1e-12);
        assert_eq!(relaxed.adjacency[1], 1.0);
    }
}
