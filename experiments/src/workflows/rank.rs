//! Rank correlations for `archforge rank-check` and `proxy-check`: Kendall's tau-b and
//! Spearman's rho (Pearson on average ranks), both handling ties, and percentile bootstrap
//! intervals of either over the architectures, paired when two scorers are compared.

pub use archforge::predictor::targets::ranks;
use serde::Serialize;

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    if vx == 0.0 || vy == 0.0 {
        f64::NAN
    } else {
        cov / (vx * vy).sqrt()
    }
}

/// Spearman's rho; NaN when either side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Kendall's tau-b; NaN when either side is constant.
pub fn kendall(x: &[f64], y: &[f64]) -> f64 {
    let (mut concordant, mut discordant, mut ties_x, mut ties_y) = (0f64, 0f64, 0f64, 0f64);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let dx = (x[i] - x[j]).signum() * f64::from(x[i] != x[j]);
            let dy = (y[i] - y[j]).signum() * f64::from(y[i] != y[j]);
            match (dx == 0.0, dy == 0.0) {
                (true, true) => {}
                (true, false) => ties_x += 1.0,
                (false, true) => ties_y += 1.0,
                (false, false) if dx == dy => concordant += 1.0,
                (false, false) => discordant += 1.0,
            }
        }
    }
    let denominator =
        ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)).sqrt();
    if denominator == 0.0 {
        f64::NAN
    } else {
        (concordant - discordant) / denominator
    }
}

/// Resamples of the architectures with replacement, drawn once and shared by every scorer:
/// each interval is a 95 % percentile interval over them, and the difference of two scorers'
/// correlations is paired (both computed on the same resample each time).
pub struct Bootstrap {
    picks: Vec<Vec<usize>>,
}

impl Bootstrap {
    /// `resamples` resamples of `n` architectures, drawn from `seed`.
    pub fn new(n: usize, resamples: usize, seed: u64) -> Self {
        use rand::Rng as _;
        let mut rng = archforge::rng::seeded(seed);
        let picks = (0..resamples)
            .map(|_| (0..n).map(|_| rng.random_range(0..n)).collect())
            .collect();
        Bootstrap { picks }
    }

    /// The interval of `correlation(x, y)`; `None` when no resample gave a number (a side
    /// constant in every one).
    pub fn interval(&self, x: &[f64], y: &[f64], correlation: Correlate) -> Option<(f64, f64)> {
        self.percentiles(|p| correlation(&pick(x, p), &pick(y, p)))
    }

    /// The paired interval of `correlation(a) - correlation(b)`, each a (scores, reference)
    /// pair over the same architectures.
    pub fn difference(
        &self,
        a: (&[f64], &[f64]),
        b: (&[f64], &[f64]),
        correlation: Correlate,
    ) -> Option<(f64, f64)> {
        self.percentiles(|p| {
            correlation(&pick(a.0, p), &pick(a.1, p)) - correlation(&pick(b.0, p), &pick(b.1, p))
        })
    }

    /// The 2.5 and 97.5 percentiles of `statistic` over the resamples where it is finite.
    fn percentiles(&self, statistic: impl Fn(&[usize]) -> f64) -> Option<(f64, f64)> {
        let mut values: Vec<f64> = self
            .picks
            .iter()
            .map(|p| statistic(p))
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Some((at(0.025), at(0.975)))
    }
}

/// A rank correlation of two equally long columns.
pub type Correlate = fn(&[f64], &[f64]) -> f64;

fn pick(values: &[f64], picks: &[usize]) -> Vec<f64> {
    picks.iter().map(|&i| values[i]).collect()
}

/// Bootstrap resamples behind each interval.
pub const RESAMPLES: usize = 2000;

/// A scorer's values over the ranked architectures, and what they are ranked against (the
/// ground truth, or for `seed_to_seed` the other seed).
pub struct Column {
    /// The scorer's name.
    pub scorer: String,
    /// Its score of each architecture.
    pub values: Vec<f64>,
    /// The reference of each architecture.
    pub reference: Vec<f64>,
    /// Mean seconds it took to score one architecture (none for counts).
    pub seconds_per_arch: Option<f64>,
}

/// One scorer's correlations, with 95 % bootstrap intervals over the architectures.
#[derive(Debug, Clone, Serialize)]
pub struct Correlation {
    /// The scorer's name.
    pub scorer: String,
    /// The architectures it is computed over.
    pub architectures: usize,
    /// The checked architectures left out because a training or score failed.
    pub failed: usize,
    /// Kendall's tau-b against the reference (none when either side is constant).
    pub kendall: Option<f64>,
    /// Lower end of its 95 % bootstrap interval.
    pub kendall_low: Option<f64>,
    /// Upper end of that interval.
    pub kendall_high: Option<f64>,
    /// Spearman's rho against the reference (none when either side is constant).
    pub spearman: Option<f64>,
    /// Lower end of its 95 % bootstrap interval.
    pub spearman_low: Option<f64>,
    /// Upper end of that interval.
    pub spearman_high: Option<f64>,
    /// Mean seconds to score one architecture (none for counts).
    pub seconds_per_arch: Option<f64>,
}

impl Correlation {
    /// The correlations of `column`, its intervals over `bootstrap`'s resamples.
    pub fn of(column: &Column, failed: usize, bootstrap: &Bootstrap) -> Self {
        let (x, y) = (&column.values, &column.reference);
        let finite = |v: f64| v.is_finite().then_some(v);
        let tau = bootstrap.interval(x, y, kendall);
        let rho = bootstrap.interval(x, y, spearman);
        Correlation {
            scorer: column.scorer.clone(),
            architectures: x.len(),
            failed,
            kendall: finite(kendall(x, y)),
            kendall_low: tau.map(|t| t.0),
            kendall_high: tau.map(|t| t.1),
            spearman: finite(spearman(x, y)),
            spearman_low: rho.map(|r| r.0),
            spearman_high: rho.map(|r| r.1),
            seconds_per_arch: column.seconds_per_arch,
        }
    }
}

/// How much better one scorer ranks than another, with paired 95 % bootstrap intervals.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// The scorer.
    pub scorer: String,
    /// The scorer it is compared with.
    pub against: String,
    /// Kendall's tau of `scorer` minus that of `against`.
    pub kendall_difference: Option<f64>,
    /// Lower end of its paired 95 % bootstrap interval.
    pub kendall_low: Option<f64>,
    /// Upper end of that interval.
    pub kendall_high: Option<f64>,
    /// Spearman's rho of `scorer` minus that of `against`.
    pub spearman_difference: Option<f64>,
    /// Lower end of its paired 95 % bootstrap interval.
    pub spearman_low: Option<f64>,
    /// Upper end of that interval.
    pub spearman_high: Option<f64>,
}

/// Every column's correlations, and the paired difference of every pair of columns (all
/// over the same architectures), each pair once in column order.
pub fn summarize(
    columns: &[Column],
    failed: usize,
    seed: u64,
) -> (Vec<Correlation>, Vec<Difference>) {
    let n = columns.first().map_or(0, |c| c.values.len());
    let bootstrap = Bootstrap::new(n, RESAMPLES, seed);
    let correlations = columns
        .iter()
        .map(|c| Correlation::of(c, failed, &bootstrap))
        .collect();
    let mut differences = Vec::new();
    for (i, a) in columns.iter().enumerate() {
        for b in &columns[i + 1..] {
            let pair = |f: Correlate| {
                let estimate = f(&a.values, &a.reference) - f(&b.values, &b.reference);
                let interval =
                    bootstrap.difference((&a.values, &a.reference), (&b.values, &b.reference), f);
                (estimate.is_finite().then_some(estimate), interval)
            };
            let (tau, tau_interval) = pair(kendall);
            let (rho, rho_interval) = pair(spearman);
            differences.push(Difference {
                scorer: a.scorer.clone(),
                against: b.scorer.clone(),
                kendall_difference: tau,
                kendall_low: tau_interval.map(|t| t.0),
                kendall_high: tau_interval.map(|t| t.1),
                spearman_difference: rho,
                spearman_low: rho_interval.map(|r| r.0),
                spearman_high: rho_interval.map(|r| r.1),
            });
        }
    }
    (correlations, differences)
}

/// The mean of two scorers' ranks over the same architectures: a scorer that combines them
/// with equal weight, whatever their scales.
pub fn rank_mean(a: &[f64], b: &[f64]) -> Vec<f64> {
    ranks(a)
        .iter()
        .zip(ranks(b))
        .map(|(x, y)| (x + y) / 2.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_reversed_and_tied_orders() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(kendall(&x, &[10.0, 20.0, 30.0, 40.0]), 1.0);
        assert_eq!(spearman(&x, &[4.0, 3.0, 2.0, 1.0]), -1.0);
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
        // One swapped pair of six: tau = (5 - 1) / 6.
        assert!((kendall(&x, &[1.0, 3.0, 2.0, 4.0]) - 4.0 / 6.0).abs() < 1e-12);
        // Ties: tau-b of x against [1, 1, 2, 2] is 4 / sqrt(6 * 4).
        assert!((kendall(&x, &[1.0, 1.0, 2.0, 2.0]) - 4.0 / 24f64.sqrt()).abs() < 1e-12);
        assert!(kendall(&x, &[1.0; 4]).is_nan());
    }

    #[test]
    fn bootstrap_intervals_hold_the_estimate_and_shrink_with_more_data() {
        let x: Vec<f64> = (0..40).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| v + (v * 7.0 % 11.0) * 3.0).collect();
        let tau = kendall(&x, &y);
        let (lo, hi) = Bootstrap::new(40, 500, 1)
            .interval(&x, &y, kendall)
            .unwrap();
        assert!(lo < tau && tau < hi, "{lo} {tau} {hi}");
        let (lo8, hi8) = Bootstrap::new(8, 500, 1)
            .interval(&x[..8], &y[..8], kendall)
            .unwrap();
        assert!(hi8 - lo8 > hi - lo);
        let flat = Bootstrap::new(2, 50, 1).interval(&[1.0, 1.0], &[1.0, 2.0], kendall);
        assert!(flat.is_none());
    }

    #[test]
    fn paired_differences_see_what_unpaired_intervals_miss() {
        // b carries half of a's noise: every pair a orders right, b does too (and some more),
        // so b ranks better on every resample though the single intervals overlap.
        let truth: Vec<f64> = (0..40).map(f64::from).collect();
        let noise = |i: usize| ((i * 37) % 17) as f64 * 3.0;
        let a: Vec<f64> = truth
            .iter()
            .enumerate()
            .map(|(i, t)| t + noise(i))
            .collect();
        let b: Vec<f64> = truth
            .iter()
            .enumerate()
            .map(|(i, t)| t + 0.5 * noise(i))
            .collect();
        let bootstrap = Bootstrap::new(40, 1000, 3);
        let (a_lo, a_hi) = bootstrap.interval(&a, &truth, kendall).unwrap();
        let (b_lo, b_hi) = bootstrap.interval(&b, &truth, kendall).unwrap();
        assert!(a_lo < b_hi && b_lo < a_hi, "the single intervals overlap");
        let (lo, hi) = bootstrap
            .difference((&b, &truth), (&a, &truth), kendall)
            .unwrap();
        let gain = kendall(&b, &truth) - kendall(&a, &truth);
        assert!(lo <= gain && gain <= hi, "{lo} {gain} {hi}");
        assert!(
            gain > 0.0 && lo >= 0.0,
            "paired, the gain is never negative: {lo}"
        );
        // A scorer against itself differs by nothing.
        assert_eq!(
            bootstrap.difference((&a, &truth), (&a, &truth), kendall),
            Some((0.0, 0.0))
        );
    }
}
