//! A dense layer over rows of numbers, its weights a slice of one flat parameter vector —
//! the building block of the hand-written predictor networks ([`super::mlp`],
//! [`super::gcn`]) and of the generator's score network. Forward and backward run the
//! register-blocked loops of the `kernel` module; at these sizes (tens of units, a few
//! nodes) that is faster than handing tensors to the engine.

use super::kernel;
use crate::rng::Rng;
use rand::Rng as _;

/// A dense layer `y = x W (+ b)`: `W` is `inputs x outputs` row-major at `at` in the
/// parameter vector, followed by the `outputs` biases when the layer has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dense {
    /// Width of an input row.
    pub inputs: usize,
    /// Width of an output row.
    pub outputs: usize,
    /// Offset of the weights in the parameter vector.
    pub at: usize,
    /// Whether the layer adds biases.
    pub bias: bool,
}

impl Dense {
    /// A layer placed at `*next` in the parameter vector, moving `*next` past it.
    pub fn place(inputs: usize, outputs: usize, bias: bool, next: &mut usize) -> Self {
        let layer = Dense {
            inputs,
            outputs,
            at: *next,
            bias,
        };
        *next += layer.len();
        layer
    }

    /// Parameters the layer holds.
    pub fn len(&self) -> usize {
        self.inputs * self.outputs + if self.bias { self.outputs } else { 0 }
    }

    /// Whether the layer holds no parameters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// He-uniform weights (bound `sqrt(6 / inputs)`, for ReLU networks) and zero biases.
    pub fn init(&self, params: &mut [f64], rng: &mut Rng) {
        let bound = (6.0 / self.inputs.max(1) as f64).sqrt();
        let weights = self.inputs * self.outputs;
        for p in &mut params[self.at..self.at + weights] {
            *p = rng.random_range(-bound..bound);
        }
        params[self.at + weights..self.at + self.len()].fill(0.0);
    }

    /// Adds `x W (+ b)` of `x`'s rows to `y` (rows x outputs).
    pub fn forward_add(&self, params: &[f64], x: &[f64], y: &mut [f64]) {
        let (w, b) = self.split(params);
        kernel::rows_times(w, b, x, y, self.inputs);
    }

    /// Back through the layer: adds the weight (and bias) gradients of `dy` at input `x` to
    /// `grad`, and `dy Wᵀ` to `dx` when asked.
    pub fn backward(
        &self,
        params: &[f64],
        x: &[f64],
        dy: &[f64],
        grad: Option<&mut [f64]>,
        dx: Option<&mut [f64]>,
    ) {
        let (i, o) = (self.inputs, self.outputs);
        if let Some(grad) = grad {
            let (gw, gb) = grad[self.at..self.at + self.len()].split_at_mut(i * o);
            kernel::outer_sum(x, dy, gw, i);
            if self.bias {
                for dr in dy.chunks_exact(o) {
                    for (g, d) in gb.iter_mut().zip(dr) {
                        *g += d;
                    }
                }
            }
        }
        if let Some(dx) = dx {
            kernel::rows_times_transposed(self.split(params).0, dy, dx, i);
        }
    }

    /// The layer's weights and, when it has them, its biases.
    fn split<'p>(&self, params: &'p [f64]) -> (&'p [f64], Option<&'p [f64]>) {
        let weights = self.inputs * self.outputs;
        let w = &params[self.at..self.at + weights];
        let b = self
            .bias
            .then(|| &params[self.at + weights..self.at + weights + self.outputs]);
        (w, b)
    }
}

/// ReLU in place.
pub fn relu(values: &mut [f64]) {
    for v in values {
        *v = v.max(0.0);
    }
}

/// Zeroes the gradient `d` where the ReLU's output `out` is not positive.
pub fn relu_backward(out: &[f64], d: &mut [f64]) {
    for (g, &y) in d.iter_mut().zip(out) {
        if y <= 0.0 {
            *g = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dense_layer_computes_x_w_plus_b_and_its_gradients() {
        let mut next = 0;
        let layer = Dense::place(2, 3, true, &mut next);
        assert_eq!(next, 9);
        // W = [[1, 2, 3], [4, 5, 6]], b = [0.5, 0, -1].
        let params = [1., 2., 3., 4., 5., 6., 0.5, 0., -1.];
        let x = [1.0, -1.0, 2.0, 0.5];
        let mut y = vec![0.0; 6];
        layer.forward_add(&params, &x, &mut y);
        assert_eq!(y, [-2.5, -3.0, -4.0, 4.5, 6.5, 8.0]);
        let dy = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let (mut grad, mut dx) = (vec![0.0; 9], vec![0.0; 4]);
        layer.backward(&params, &x, &dy, Some(&mut grad), Some(&mut dx));
        // dW = xᵀ dy, db = column sums of dy, dx = dy Wᵀ.
        assert_eq!(grad, [1., 0., 2., -1., 0., 0.5, 1., 0., 1.]);
        assert_eq!(dx, [1.0, 4.0, 3.0, 6.0]);
    }
}
