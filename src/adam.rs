//! Adam (Kingma & Ba) on a flat parameter vector, for the hand-written networks (the
//! policies, the neural performance predictors); its moments are part of a controller's
//! checkpoint so that a resumed run continues identically.

use serde::{Deserialize, Serialize};

/// Adam's state: step count and first and second moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Steps taken.
    pub steps: u64,
    /// First moments.
    pub m: Vec<f64>,
    /// Second moments.
    pub v: Vec<f64>,
}

/// Adam's coefficients.
pub const BETA1: f64 = 0.9;
/// Adam's second-moment decay.
pub const BETA2: f64 = 0.999;
/// Adam's epsilon (PyTorch's default).
pub const EPSILON: f64 = 1e-8;

impl Adam {
    /// A fresh state for `n` parameters.
    pub fn new(n: usize) -> Self {
        Adam {
            steps: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// One step down `grad` at learning rate `lr`, bias-corrected.
    pub fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) {
        self.steps += 1;
        let t = self.steps as i32;
        let (c1, c2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        for (i, (p, g)) in params.iter_mut().zip(grad).enumerate() {
            self.m[i] = BETA1 * self.m[i] + (1.0 - BETA1) * g;
            self.v[i] = BETA2 * self.v[i] + (1.0 - BETA2) * g * g;
            *p -= lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + EPSILON);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut x = vec![3.0, -2.0];
        let mut adam = Adam::new(2);
        for _ in 0..2000 {
            let grad: Vec<f64> = x.iter().map(|v| 2.0 * v).collect();
            adam.step(&mut x, &grad, 0.01);
        }
        assert!(x.iter().all(|v| v.abs() < 1e-2), "{x:?}");
    }

    #[test]
    fn the_first_step_moves_each_parameter_by_the_learning_rate() {
        let mut x = vec![1.0, 1.0];
        Adam::new(2).step(&mut x, &[0.5, -100.0], 0.1);
        assert!(
            (x[0] - 0.9).abs() < 1e-6 && (x[1] - 1.1).abs() < 1e-6,
            "{x:?}"
        );
    }
}
