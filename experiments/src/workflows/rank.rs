//! Rank correlations for `archforge rank-check` and `proxy-check`: Kendall's tau-b and
//! Spearman's rho (Pearson on average ranks), both handling ties, and percentile bootstrap
//! intervals of either over the architectures.

pub use archforge::predictor::targets::ranks;

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

/// The 95 % percentile bootstrap interval of `correlation(x, y)`: `resamples` resamples of
/// the pairs with replacement, drawn from `seed` (resamples where a side is constant are
/// skipped); `None` when none could be computed.
pub fn bootstrap_interval(
    x: &[f64],
    y: &[f64],
    correlation: fn(&[f64], &[f64]) -> f64,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    use rand::Rng as _;
    let mut rng = archforge::rng::seeded(seed);
    let n = x.len();
    let mut values: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let picks: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            let xs: Vec<f64> = picks.iter().map(|&i| x[i]).collect();
            let ys: Vec<f64> = picks.iter().map(|&i| y[i]).collect();
            Some(correlation(&xs, &ys)).filter(|v| v.is_finite())
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
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
        let (lo, hi) = bootstrap_interval(&x, &y, kendall, 500, 1).unwrap();
        assert!(lo < tau && tau < hi, "{lo} {tau} {hi}");
        let (lo8, hi8) = bootstrap_interval(&x[..8], &y[..8], kendall, 500, 1).unwrap();
        assert!(hi8 - lo8 > hi - lo);
        assert!(bootstrap_interval(&[1.0, 1.0], &[1.0, 2.0], kendall, 50, 1).is_none());
    }
}
