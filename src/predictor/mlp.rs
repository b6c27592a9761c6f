//! A multi-layer perceptron on the graph laid flat: the node-operation weights row by row,
//! then the adjacency, through `layers` ReLU layers of `hidden` units to one output. It sees
//! which operation sits in which slot but nothing of how the slots connect beyond the
//! adjacency entries as numbers — the baseline the graph network is measured against.

use super::GraphInput;
use super::dense::{Dense, relu, relu_backward};
use super::neural::{GraphNet, NeuralConfig, Trained};
use crate::rng::Rng;

/// The perceptron's layers (see the module documentation).
#[derive(Debug, Clone)]
pub struct MlpNet {
    hidden: Vec<Dense>,
    output: Dense,
    node_inputs: usize,
    len: usize,
}

/// The perceptron predictor.
pub type Mlp = Trained<MlpNet>;

impl GraphNet for MlpNet {
    const KIND: &'static str = "mlp";

    fn new(nodes: usize, operations: usize, config: &NeuralConfig) -> Self {
        let node_inputs = nodes * operations;
        let mut next = 0;
        let mut width = node_inputs + nodes * nodes;
        let hidden = (0..config.layers)
            .map(|_| {
                let layer = Dense::place(width, config.hidden, true, &mut next);
                width = config.hidden;
                layer
            })
            .collect();
        let output = Dense::place(width, 1, true, &mut next);
        MlpNet {
            hidden,
            output,
            node_inputs,
            len: next,
        }
    }

    fn parameters(&self) -> usize {
        self.len
    }

    fn init(&self, params: &mut [f64], rng: &mut Rng) {
        for layer in self.hidden.iter().chain([&self.output]) {
            layer.init(params, rng);
        }
    }

    fn run(
        &self,
        params: &[f64],
        graph: &GraphInput,
        dout: &mut dyn FnMut(f64) -> f64,
        mut grad: Option<&mut [f64]>,
        dx: Option<&mut [f64]>,
    ) -> f64 {
        let mut input = graph.x.clone();
        input.extend_from_slice(&graph.adjacency);
        // Activations: the input, then every hidden layer's ReLU output.
        let mut acts = vec![input];
        for layer in &self.hidden {
            let mut y = vec![0.0; layer.outputs];
            layer.forward_add(params, acts.last().expect("the input"), &mut y);
            relu(&mut y);
            acts.push(y);
        }
        let mut out = [0.0];
        self.output
            .forward_add(params, acts.last().expect("a layer"), &mut out);
        if grad.is_none() && dx.is_none() {
            return out[0];
        }
        let d_out = [dout(out[0])];
        let mut d = vec![0.0; self.output.inputs];
        self.output.backward(
            params,
            acts.last().expect("a layer"),
            &d_out,
            grad.as_deref_mut(),
            Some(&mut d),
        );
        for (k, layer) in self.hidden.iter().enumerate().rev() {
            relu_backward(&acts[k + 1], &mut d);
            let wants_dx = k > 0 || dx.is_some();
            let mut below = vec![0.0; if wants_dx { layer.inputs } else { 0 }];
            layer.backward(
                params,
                &acts[k],
                &d,
                grad.as_deref_mut(),
                wants_dx.then_some(&mut below[..]),
            );
            d = below;
        }
        if let Some(dx) = dx {
            for (t, v) in dx.iter_mut().zip(&d[..self.node_inputs]) {
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
    fn the_perceptron_s_gradients_match_central_differences() {
        check_input_gradient::<MlpNet>(&relaxed_graph());
    }
}
