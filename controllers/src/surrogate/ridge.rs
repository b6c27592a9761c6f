//! Ridge regression with an intercept: the columns and the target are centred, then
//! `(XᵀX + λI) w = Xᵀy` is solved by a Cholesky factorisation. A large λ keeps a surrogate
//! fitted on a handful of architectures from chasing noise; it shrinks the weights but keeps
//! the direction the data points in, which is all a ranking needs.

use super::model::Surrogate;
use archforge::error::{Error, Result};

/// A fitted (or not yet fitted) ridge regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Ridge {
    lambda: f64,
    mean_x: Vec<f64>,
    mean_y: f64,
    weights: Vec<f64>,
}

impl Ridge {
    /// An unfitted model with penalty `lambda` (> 0).
    pub fn new(lambda: f64) -> Self {
        Ridge {
            lambda,
            mean_x: Vec::new(),
            mean_y: 0.0,
            weights: Vec::new(),
        }
    }

    /// The fitted weights, one per feature.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

impl Surrogate for Ridge {
    fn fit(&mut self, x: &[Vec<f64>], y: &[f64], _rng: &mut archforge::Rng) -> Result<()> {
        if x.is_empty() || x.len() != y.len() {
            return Err(Error::Controller {
                controller: "ridge".into(),
                reason: format!("{} rows and {} targets", x.len(), y.len()),
            });
        }
        let d = x[0].len();
        let n = x.len() as f64;
        let mean_x: Vec<f64> = (0..d)
            .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n)
            .collect();
        let mean_y = y.iter().sum::<f64>() / n;
        // Normal equations on centred data, the penalty on the diagonal.
        let mut a = vec![0.0; d * d];
        let mut b = vec![0.0; d];
        let mut centred = vec![0.0; d];
        for (row, &target) in x.iter().zip(y) {
            for j in 0..d {
                centred[j] = row[j] - mean_x[j];
            }
            let t = target - mean_y;
            for i in 0..d {
                let ci = centred[i];
                if ci == 0.0 {
                    continue;
                }
                b[i] += ci * t;
                for j in 0..=i {
                    a[i * d + j] += ci * centred[j];
                }
            }
        }
        for i in 0..d {
            a[i * d + i] += self.lambda;
        }
        self.weights = cholesky_solve(&mut a, b, d);
        self.mean_x = mean_x;
        self.mean_y = mean_y;
        Ok(())
    }

    fn predict(&self, x: &[f64]) -> f64 {
        self.mean_y
            + x.iter()
                .zip(&self.mean_x)
                .zip(&self.weights)
                .map(|((v, m), w)| (v - m) * w)
                .sum::<f64>()
    }
}

/// Solves `A w = b` for a symmetric positive definite `A` of which the lower triangle is
/// filled (row-major, `d x d`), factorising `A` in place.
fn cholesky_solve(a: &mut [f64], mut b: Vec<f64>, d: usize) -> Vec<f64> {
    for j in 0..d {
        let mut diag = a[j * d + j];
        for k in 0..j {
            diag -= a[j * d + k] * a[j * d + k];
        }
        let diag = diag.max(f64::MIN_POSITIVE).sqrt();
        a[j * d + j] = diag;
        for i in j + 1..d {
            let mut v = a[i * d + j];
            for k in 0..j {
                v -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = v / diag;
        }
    }
    // L z = b, then Lᵀ w = z.
    for i in 0..d {
        for k in 0..i {
            b[i] -= a[i * d + k] * b[k];
        }
        b[i] /= a[i * d + i];
    }
    for i in (0..d).rev() {
        for k in i + 1..d {
            b[i] -= a[k * d + i] * b[k];
        }
        b[i] /= a[i * d + i];
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_matches_the_closed_form_on_one_feature() {
        // One centred feature: w = sum(x y) / (sum(x^2) + lambda).
        let x = vec![vec![-1.0], vec![0.0], vec![1.0]];
        let y = vec![1.0, 2.0, 4.0];
        let mut r = Ridge::new(1.0);
        r.fit(&x, &y, &mut archforge::rng::seeded(0)).unwrap();
        let w = (-1.0 + 4.0) / (2.0 + 1.0); // (-1 * 1 + 0 * 2 + 1 * 4) / (2 + 1)
        assert!((r.weights()[0] - w).abs() < 1e-12);
        assert!((r.predict(&[0.0]) - 7.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ridge_recovers_a_linear_function_with_a_small_penalty() {
        let x: Vec<Vec<f64>> = (0..20)
            .map(|i| vec![i as f64, (i * i % 7) as f64, 1.0])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 3.0 * r[0] - 2.0 * r[1] + 5.0).collect();
        let mut r = Ridge::new(1e-9);
        r.fit(&x, &y, &mut archforge::rng::seeded(0)).unwrap();
        for row in &x {
            let want = 3.0 * row[0] - 2.0 * row[1] + 5.0;
            assert!((r.predict(row) - want).abs() < 1e-5);
        }
        assert!(r.fit(&[], &[], &mut archforge::rng::seeded(0)).is_err());
    }
}
