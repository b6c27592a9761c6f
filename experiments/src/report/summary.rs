//! `summary.csv` / `summary.md`: per controller and budget checkpoint, the mean, standard
//! deviation (over seeds, n - 1), median, min and max of the *reported* metric of the
//! architecture with the best reward so far (a run that ended early counts with its final
//! best), and the relative improvement over the random search mean at the same budget,
//! `RI = 100 * (mean - mean_random) / |mean_random|` (negated when smaller is better, so that
//! a positive RI is always better than random search), with the difference of the two means
//! and its 95 % confidence interval (Welch's normal approximation,
//! `diff ± 1.96 · sqrt(s²/n + s_r²/n_r)`, signed like RI): an interval above 0 says the
//! controller beats random search beyond the seeds' noise.

use archforge::search::RunResult;
use serde::Serialize;
use std::fmt::Write as _;

/// One line of `summary.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// The controller's name.
    pub controller: String,
    /// The budget checkpoint (evaluations).
    pub evaluations: u64,
    /// Runs that reached the checkpoint with a scored architecture.
    pub runs: usize,
    /// Mean reported metric of the best-so-far architecture.
    pub mean: f64,
    /// Its standard deviation over runs (n - 1).
    pub std: f64,
    /// Its median.
    pub median: f64,
    /// Its minimum.
    pub min: f64,
    /// Its maximum.
    pub max: f64,
    /// Relative improvement over random search's mean at the same budget, in percent.
    pub relative_improvement: Option<f64>,
    /// The difference of means against random search (signed like RI).
    pub diff_vs_random: Option<f64>,
    /// The low end of its 95 % confidence interval.
    pub diff_low: Option<f64>,
    /// The high end of its 95 % confidence interval.
    pub diff_high: Option<f64>,
}

/// The 95 % normal quantile.
const Z95: f64 = 1.959_964;

/// Mean, sample standard deviation, median, min, max of `values` (not empty).
pub fn describe(values: &[f64]) -> (f64, f64, f64, f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    };
    (
        mean,
        var.sqrt(),
        median,
        sorted[0],
        sorted[sorted.len() - 1],
    )
}

/// The reported metric of each run's best-so-far architecture after `evaluations`. A run
/// that ended earlier (its simulated or wall-clock budget spent, or nothing new left to
/// propose) counts with the best it ended with.
pub fn best_reported_at<'a>(
    runs: impl Iterator<Item = &'a RunResult>,
    evaluations: u64,
) -> Vec<f64> {
    runs.filter_map(|r| r.best_at(evaluations as usize)?.row.record.reported_metric)
        .collect()
}

/// Summary rows for every controller (in `names` order) at every checkpoint. The relative
/// improvement is signed so that positive means better than random search: negated when
/// smaller metrics are better (`maximize = false`).
pub fn summarize(
    results: &[RunResult],
    names: &[String],
    checkpoints: &[u64],
    random: Option<&str>,
    maximize: bool,
) -> Vec<SummaryRow> {
    let at =
        |name: &str, b: u64| best_reported_at(results.iter().filter(|r| r.controller == name), b);
    let sign = if maximize { 1.0 } else { -1.0 };
    let mut rows = Vec::new();
    for name in names {
        for &b in checkpoints {
            let values = at(name, b);
            if values.is_empty() {
                continue;
            }
            let (mean, std, median, min, max) = describe(&values);
            let base = random.map(|r| at(r, b)).filter(|base| !base.is_empty());
            let against = base.map(|base| {
                let (base_mean, base_std, ..) = describe(&base);
                let diff = sign * (mean - base_mean);
                let se = (std.powi(2) / values.len() as f64 + base_std.powi(2) / base.len() as f64)
                    .sqrt();
                (100.0 * diff / base_mean.abs(), diff, Z95 * se)
            });
            rows.push(SummaryRow {
                controller: name.clone(),
                evaluations: b,
                runs: values.len(),
                mean,
                std,
                median,
                min,
                max,
                relative_improvement: against.map(|a| a.0),
                diff_vs_random: against.map(|a| a.1),
                diff_low: against.map(|a| a.1 - a.2),
                diff_high: against.map(|a| a.1 + a.2),
            });
        }
    }
    rows
}

/// The summary as a Markdown table.
pub fn markdown(rows: &[SummaryRow]) -> String {
    let mut md = String::from(
        "| controller | evaluations | runs | mean ± std | median | min | max | RI vs random (%) | diff vs random (95 % CI) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let ri = r
            .relative_improvement
            .map_or_else(|| "–".into(), |v| format!("{v:+.3}"));
        let diff = match (r.diff_vs_random, r.diff_low, r.diff_high) {
            (Some(d), Some(lo), Some(hi)) => format!("{d:+.3} [{lo:+.3}, {hi:+.3}]"),
            _ => "–".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.3} ± {:.3} | {:.3} | {:.3} | {:.3} | {} | {} |",
            r.controller, r.evaluations, r.runs, r.mean, r.std, r.median, r.min, r.max, ri, diff
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_uses_the_sample_deviation_and_true_median() {
        let (mean, std, median, min, max) = describe(&[1.0, 2.0, 3.0, 10.0]);
        assert_eq!(mean, 4.0);
        assert!((std - (50.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(median, 2.5);
        assert_eq!((min, max), (1.0, 10.0));
        assert_eq!(describe(&[5.0]).1, 0.0);
    }
}
