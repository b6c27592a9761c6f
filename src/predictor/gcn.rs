//! A graph convolutional network over the architecture's graph (directed both ways, as the
//! neural predictors of NAS do): each of `layers` convolutions gives every real node
//! `ReLU(h W_self + mean(h of its inputs) W_in + mean(h of its outputs) W_out + b)`,
//! starting from the node-operation weights; the mean over real nodes then goes through one
//! hidden ReLU layer to the output. Padding nodes stay zero.

use super::GraphInput;
use super::dense::{Dense, relu, relu_backward};
use super::neural::{GraphNet, NeuralConfig, Trained};
use crate::rng::Rng;

/// One graph convolution: the self, in-neighbour and out-neighbour weights.
#[derive(Debug, Clone, Copy)]
struct Convolution {
    own: Dense,
    inward: Dense,
    outward: Dense,
}

/// The graph network's layers (see the module documentation).
#[derive(Debug, Clone)]
pub struct GcnNet {
    convolutions: Vec<Convolution>,
    readout: Dense,
    output: Dense,
    len: usize,
}

/// The graph-network predictor.
pub type Gcn = Trained<GcnNet>;

/// Row-normalised propagation: `into[j][i]` is `1 / indegree(j)` for an edge `i -> j`
/// (node `j` averages its inputs), `from[i][j]` is `1 / outdegree(i)` (node `i` averages its
/// outputs).
fn propagation(graph: &GraphInput) -> (Vec<f64>, Vec<f64>) {
    let n = graph.nodes;
    let a = |i: usize, j: usize| graph.adjacency[i * n + j] * graph.mask[i] * graph.mask[j];
    let mut into = vec![0.0; n * n];
    let mut from = vec![0.0; n * n];
    for j in 0..n {
        let indegree: f64 = (0..n).map(|i| a(i, j)).sum();
        let outdegree: f64 = (0..n).map(|k| a(j, k)).sum();
        for i in 0..n {
            if indegree > 0.0 {
                into[j * n + i] = a(i, j) / indegree;
            }
            if outdegree > 0.0 {
                from[j * n + i] = a(j, i) / outdegree;
            }
        }
    }
    (into, from)
}

/// `m h` for an `n x n` matrix `m` and `n` rows of `width`.
fn mix(m: &[f64], h: &[f64], n: usize, width: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * width];
    for i in 0..n {
        for k in 0..n {
            let w = m[i * n + k];
            if w != 0.0 {
                for (o, v) in out[i * width..(i + 1) * width]
                    .iter_mut()
                    .zip(&h[k * width..(k + 1) * width])
                {
                    *o += w * v;
                }
            }
        }
    }
    out
}

/// Adds `mᵀ d` to `target` for an `n x n` matrix `m` and `n` rows of `width`.
fn mix_back(m: &[f64], d: &[f64], n: usize, width: usize, target: &mut [f64]) {
    for i in 0..n {
        for k in 0..n {
            let w = m[i * n + k];
            if w != 0.0 {
                for (t, v) in target[k * width..(k + 1) * width]
                    .iter_mut()
                    .zip(&d[i * width..(i + 1) * width])
                {
                    *t += w * v;
                }
            }
        }
    }
}

impl GraphNet for GcnNet {
    const KIND: &'static str = "gcn";

    fn new(_nodes: usize, operations: usize, config: &NeuralConfig) -> Self {
        let mut next = 0;
        let mut width = operations;
        let convolutions = (0..config.layers)
            .map(|_| {
                let c = Convolution {
                    own: Dense::place(width, config.hidden, true, &mut next),
                    inward: Dense::place(width, config.hidden, false, &mut next),
                    outward: Dense::place(width, config.hidden, false, &mut next),
                };
                width = config.hidden;
                c
            })
            .collect();
        let readout = Dense::place(width, config.hidden, true, &mut next);
        let output = Dense::place(config.hidden, 1, true, &mut next);
        GcnNet {
            convolutions,
            readout,
            output,
            len: next,
        }
    }

    fn parameters(&self) -> usize {
        self.len
    }

    fn init(&self, params: &mut [f64], rng: &mut Rng) {
        for c in &self.convolutions {
            for layer in [c.own, c.inward, c.outward] {
                layer.init(params, rng);
            }
        }
        self.readout.init(params, rng);
        self.output.init(params, rng);
    }

    fn run(
        &self,
        params: &[f64],
        graph: &GraphInput,
        dout: &mut dyn FnMut(f64) -> f64,
        mut grad: Option<&mut [f64]>,
        dx: Option<&mut [f64]>,
    ) -> f64 {
        let n = graph.nodes;
        let (into, from) = propagation(graph);
        // Per convolution: its input h, the input's in- and out-neighbour means, its output.
        let mut tape: Vec<[Vec<f64>; 3]> = Vec::with_capacity(self.convolutions.len());
        let mut h = graph.x.clone();
        for c in &self.convolutions {
            let width = c.own.inputs;
            let (up, down) = (mix(&into, &h, n, width), mix(&from, &h, n, width));
            let mut z = vec![0.0; n * c.own.outputs];
            c.own.forward_add(params, &h, &mut z);
            c.inward.forward_add(params, &up, &mut z);
            c.outward.forward_add(params, &down, &mut z);
            relu(&mut z);
            for (row, &m) in z.chunks_exact_mut(c.own.outputs).zip(&graph.mask) {
                if m == 0.0 {
                    row.fill(0.0);
                }
            }
            tape.push([std::mem::replace(&mut h, z), up, down]);
        }
        let width = self.readout.inputs;
        let real: f64 = graph.mask.iter().sum::<f64>().max(1.0);
        let mut pooled = vec![0.0; width];
        for (row, &m) in h.chunks_exact(width).zip(&graph.mask) {
            for (p, v) in pooled.iter_mut().zip(row) {
                *p += m * v / real;
            }
        }
        let mut hidden = vec![0.0; self.readout.outputs];
        self.readout.forward_add(params, &pooled, &mut hidden);
        relu(&mut hidden);
        let mut out = [0.0];
        self.output.forward_add(params, &hidden, &mut out);
        if grad.is_none() && dx.is_none() {
            return out[0];
        }

        let d_out = [dout(out[0])];
        let mut d_hidden = vec![0.0; hidden.len()];
        self.output.backward(
            params,
            &hidden,
            &d_out,
            grad.as_deref_mut(),
            Some(&mut d_hidden),
        );
        relu_backward(&hidden, &mut d_hidden);
        let mut d_pooled = vec![0.0; width];
        self.readout.backward(
            params,
            &pooled,
            &d_hidden,
            grad.as_deref_mut(),
            Some(&mut d_pooled),
        );
        let mut d_h: Vec<f64> = graph
            .mask
            .iter()
            .flat_map(|&m| d_pooled.iter().map(move |d| m * d / real))
            .collect();
        for (k, c) in self.convolutions.iter().enumerate().rev() {
            let [input, up, down] = &tape[k];
            // The convolution's output is the next one's input, or the last h.
            let output = tape.get(k + 1).map_or(&h, |t| &t[0]);
            relu_backward(output, &mut d_h);
            let width = c.own.inputs;
            let wants_dx = k > 0 || dx.is_some();
            let size = if wants_dx { n * width } else { 0 };
            let (mut d_in, mut d_up, mut d_down) =
                (vec![0.0; size], vec![0.0; size], vec![0.0; size]);
            c.own.backward(
                params,
                input,
                &d_h,
                grad.as_deref_mut(),
                wants_dx.then_some(&mut d_in[..]),
            );
            c.inward.backward(
                params,
                up,
                &d_h,
                grad.as_deref_mut(),
                wants_dx.then_some(&mut d_up[..]),
            );
            c.outward.backward(
                params,
                down,
                &d_h,
                grad.as_deref_mut(),
                wants_dx.then_some(&mut d_down[..]),
            );
            if wants_dx {
                mix_back(&into, &d_up, n, width, &mut d_in);
                mix_back(&from, &d_down, n, width, &mut d_in);
            }
            d_h = d_in;
        }
        if let Some(dx) = dx {
            for (t, v) in dx.iter_mut().zip(&d_h) {
                *t += v;
            }
        }
        out[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictor::neural::tests::{check_input_gradient, relaxed_graph};

    #[test]
    fn the_graph_network_s_gradients_match_central_differences() {
        check_input_gradient::<GcnNet>(&relaxed_graph());
    }

    #[test]
    fn propagation_averages_inputs_and_outputs_of_real_nodes() {
        let g = relaxed_graph();
        let (into, from) = propagation(&g);
        // Node 2 has inputs 0 and 1; node 0 has outputs 1 and 2.
        assert_eq!(&into[2 * 4..3 * 4], [0.5, 0.5, 0.0, 0.0]);
        assert_eq!(&from[0..4], [0.0, 0.5, 0.5, 0.0]);
        assert_eq!(&into[0..4], [0.0; 4]);
    }
}
