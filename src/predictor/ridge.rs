//! Ridge regression with an intercept: the columns and the target are centred, then
//! `(XᵀX + λI) w = Xᵀy` is solved by a Cholesky factorisation. A large λ keeps a surrogate
//! fitted on a handful of architectures from chasing noise; it shrinks the weights but keeps
//! the direction the data points in, which is all a ranking needs.

use super::{
    Input, Prediction, Predictor, Sample, check_fit, feature_rows, not_fitted, wrong_width,
};
use crate::error::Result;
use crate::rng::Rng;

/// A fitted (or not yet fitted) ridge regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Ridge {
    lambda: f64,
    mean_x: Vec<f64>,
    mean_y: f64,
    weights: Vec<f64>,
    fitted: bool,
}

impl Ridge {
    /// An unfitted model with penalty `lambda` (> 0).
    pub fn new(lambda: f64) -> Self {
        Ridge {
            lambda,
            mean_x: Vec::new(),
            mean_y: 0.0,
            weights: Vec::new(),
            fitted: false,
        }
    }

    /// The fitted weights, one per feature.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Fits on feature rows `x` with targets `y` (checked by the caller).
    fn fit_rows(&mut self, x: &[&[f64]], y: &[f64]) {
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
    }
}

impl Predictor for Ridge {
    fn kind(&self) -> &'static str {
        "ridge"
    }

    fn input(&self) -> Input {
        Input::Features
    }

    fn fit(&mut self, samples: &[Sample], targets: &[f64], _rng: &mut Rng) -> Result<()> {
        check_fit("ridge", samples.len(), targets)?;
        let rows = feature_rows("ridge", samples)?;
        self.fit_rows(&rows, targets);
        self.fitted = true;
        Ok(())
    }

    fn predict(&self, sample: &Sample) -> Result<Prediction> {
        let x = sample.features_for("ridge")?;
        if !self.fitted {
            return Err(not_fitted("ridge"));
        }
        if self.weights.len() != x.len() {
            return Err(wrong_width("ridge", self.weights.len(), x.len()));
        }
        Ok(Prediction::point(
            self.mean_y
                + x.iter()
                    .zip(&self.mean_x)
                    .zip(&self.weights)
                    .map(|((v, m), w)| (v - m) * w)
                    .sum::<f64>(),
        ))
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
pub(crate) mod tests {
    use super::*;

    pub(crate) fn rows(x: &[Vec<f64>]) -> Vec<Sample> {
        x.iter()
            .map(|r| Sample {
                features: Some(r.clone()),
                graph: None,
            })
            .collect()
    }

    fn predicted(p: &dyn Predictor, x: &[f64]) -> f64 {
        p.predict(&rows(&[x.to_vec()])[0]).unwrap().mean
    }

    #[test]
    fn ridge_matches_the_closed_form_on_one_feature() {
        // One centred feature: w = sum(x y) / (sum(x^2) + lambda).
        let x = vec![vec![-1.0], vec![0.0], vec![1.0]];
        let y = vec![1.0, 2.0, 4.0];
        let mut r = Ridge::new(1.0);
        r.fit(&rows(&x), &y, &mut crate::rng::seeded(0)).unwrap();
        let w = (-1.0 + 4.0) / (2.0 + 1.0); // (-1 * 1 + 0 * 2 + 1 * 4) / (2 + 1)
        assert!((r.weights()[0] - w).abs() < 1e-12);
        assert!((predicted(&r, &[0.0]) - 7.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ridge_recovers_a_linear_function_with_a_small_penalty() {
        let x: Vec<Vec<f64>> = (0..20)
            .map(|i| vec![i as f64, (i * i % 7) as f64, 1.0])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 3.0 * r[0] - 2.0 * r[1] + 5.0).collect();
        let mut r = Ridge::new(1e-9);
        r.fit(&rows(&x), &y, &mut crate::rng::seeded(0)).unwrap();
        for row in &x {
            let want = 3.0 * row[0] - 2.0 * row[1] + 5.0;
            assert!((predicted(&r, row) - want).abs() < 1e-5);
        }
        let mut rng = crate::rng::seeded(0);
        assert!(r.fit(&[], &[], &mut rng).is_err());
        assert!(r.fit(&rows(&x[..2]), &[1.0, f64::NAN], &mut rng).is_err());
        assert!(Ridge::new(1.0).predict(&rows(&x)[0]).is_err());
    }
}
