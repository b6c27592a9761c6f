//! How a neural predictor sees its targets: standardised (zero mean, unit variance), or as
//! quantiles — each target replaced by its rank, spread uniformly over `±sqrt(3)` (variance
//! `1 - 1/n²`) — so
//! that a long tail of failed architectures does not squeeze the good ones together and the
//! loss weighs every pair of architectures alike, as a rank correlation does. Predictions go
//! back through the inverse map: linear for standardised targets, for quantiles a linear
//! interpolation between the sorted training targets (extended past the ends along the end
//! segments), so a prediction is in the metric's units and ranks as the model's output does.

use serde::{Deserialize, Serialize};

/// The target scale (`targets = "quantile"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetScale {
    /// Zero mean, unit variance.
    Standard,
    /// Ranks spread uniformly over `±sqrt(3)`.
    #[default]
    Quantile,
}

/// A fitted target map (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    scale: TargetScale,
    sorted: Vec<f64>,
    mean: f64,
    sd: f64,
}

/// The half-width of a unit-variance uniform distribution, `sqrt(3)`.
const HALF_WIDTH: f64 = 1.732_050_807_568_877_2;

impl Targets {
    /// The map fitted on `y` (at least one value), and `y` mapped.
    pub fn fit(scale: TargetScale, y: &[f64]) -> (Self, Vec<f64>) {
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let sd = (y.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n).sqrt();
        let sd = if sd > 0.0 { sd } else { 1.0 };
        let mut sorted = y.to_vec();
        sorted.sort_by(f64::total_cmp);
        let map = Targets {
            scale,
            sorted,
            mean,
            sd,
        };
        let mapped = match scale {
            TargetScale::Standard => y.iter().map(|t| (t - mean) / sd).collect(),
            TargetScale::Quantile => ranks(y)
                .iter()
                .map(|r| ((r - 0.5) / n * 2.0 - 1.0) * HALF_WIDTH)
                .collect(),
        };
        (map, mapped)
    }

    /// A model output mapped back to the metric's units.
    pub fn back(&self, z: f64) -> f64 {
        match self.scale {
            TargetScale::Standard => self.mean + self.sd * z,
            TargetScale::Quantile => {
                let s = &self.sorted;
                let n = s.len();
                if n == 1 {
                    return s[0];
                }
                // The position among the sorted targets: rank - 1, fractional.
                let at = (z / HALF_WIDTH + 1.0) / 2.0 * n as f64 - 0.5;
                let i = (at.floor().max(0.0) as usize).min(n - 2);
                s[i] + (s[i + 1] - s[i]) * (at - i as f64)
            }
        }
    }

    /// The metric's units per unit of model output, on average: how a gradient of the
    /// output is scaled into one of the prediction.
    pub fn slope(&self) -> f64 {
        match self.scale {
            TargetScale::Standard => self.sd,
            TargetScale::Quantile => {
                let n = self.sorted.len() as f64;
                let range = self.sorted[self.sorted.len() - 1] - self.sorted[0];
                range / (2.0 * HALF_WIDTH) * n / (n - 1.0).max(1.0)
            }
        }
    }
}

/// Average ranks (1-based) of `values`, ties sharing the mean of their positions.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_spread_ranks_and_map_back_monotonically() {
        let y = [10.0, 90.0, 91.0, 92.0];
        let (map, z) = Targets::fit(TargetScale::Quantile, &y);
        // Equal steps whatever the gaps: ranks 1..4 at (r - 0.5) / 4 * 2 - 1 of sqrt(3).
        let steps: Vec<f64> = z.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(steps.iter().all(|s| (s - steps[0]).abs() < 1e-12), "{z:?}");
        assert!((z.iter().sum::<f64>()).abs() < 1e-12);
        for (t, zi) in y.iter().zip(&z) {
            assert!((map.back(*zi) - t).abs() < 1e-9, "{t} {zi}");
        }
        // Past the ends, along the end segments; in between, increasing.
        assert!(map.back(z[3] + 0.5) > 92.0);
        assert!(map.back(z[0] - 0.5) < 10.0);
        assert!(map.back(0.1) > map.back(0.0));
        let (standard, s) = Targets::fit(TargetScale::Standard, &y);
        assert!((standard.back(s[1]) - 90.0).abs() < 1e-9);
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
    }
}
