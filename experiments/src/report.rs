//! Reports of a finished experiment, written into the run folder:
//! - `summary.csv` / `summary.md`: per controller and budget checkpoint, the mean, standard
//!   deviation (over seeds, n - 1), median, min and max of the *reported* metric of the
//!   architecture with the best reward so far (a run that ended early counts with its final
//!   best), and the relative improvement over the random search mean at the same budget,
//!   `RI = 100 * (mean - mean_random) / mean_random` (negated when smaller is better);
//! - `best_so_far.svg`: mean and a one-standard-deviation band per controller vs evaluations,
//!   up to the longest run;
//! - `best.json` and `best.dot`: the best architecture over all runs (by reward), with its
//!   metrics and graph.

use crate::config::ExperimentFile;
use crate::plot;
use anyhow::{Context, Result};
use archforge::search::RunResult;
use archforge::{Environment, search};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

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
}

/// The best architecture of an experiment, as written to `best.json`.
#[derive(Debug, Clone, Serialize)]
pub struct BestArch {
    /// Which controller found it.
    pub controller: String,
    /// In which run.
    pub seed: u64,
    /// After how many evaluations.
    pub step: u64,
    /// Its label.
    pub arch: String,
    /// Its decisions.
    pub decisions: Vec<usize>,
    /// Its canonical hash.
    pub hash: String,
    /// Its reward.
    pub reward: f64,
    /// Its search metric.
    pub search_metric: Option<f64>,
    /// Its reported metric.
    pub reported_metric: Option<f64>,
    /// Its parameters.
    pub params: Option<u64>,
    /// Its multiply-accumulates.
    pub macs: Option<u64>,
}

/// What [`write`] produced.
pub struct Report {
    /// The summary rows.
    pub summary: Vec<SummaryRow>,
    /// The best architecture.
    pub best: Option<BestArch>,
}

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
    runs.filter_map(|r| r.best_at(evaluations as usize)?.row.reported_metric)
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
            let relative_improvement = random.and_then(|r| {
                let base = at(r, b);
                (!base.is_empty()).then(|| {
                    let base_mean = describe(&base).0;
                    sign * 100.0 * (mean - base_mean) / base_mean.abs()
                })
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
                relative_improvement,
            });
        }
    }
    rows
}

/// The summary as a Markdown table.
pub fn markdown(rows: &[SummaryRow]) -> String {
    let mut md = String::from(
        "| controller | evaluations | runs | mean ± std | median | min | max | RI vs random (%) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let ri = r
            .relative_improvement
            .map_or_else(|| "–".into(), |v| format!("{v:+.3}"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.3} ± {:.3} | {:.3} | {:.3} | {:.3} | {} |",
            r.controller, r.evaluations, r.runs, r.mean, r.std, r.median, r.min, r.max, ri
        );
    }
    md
}

/// Writes `rows` as a CSV file with a header row.
pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let context = || format!("writing {}", path.display());
    let mut writer = csv::Writer::from_path(path).with_context(context)?;
    for row in rows {
        writer.serialize(row).with_context(context)?;
    }
    writer.flush().with_context(context)
}

/// Writes every report file into `out`.
pub fn write(
    out: &Path,
    file: &ExperimentFile,
    env: &dyn Environment,
    results: &[RunResult],
) -> Result<Report> {
    let experiment = &file.experiment;
    let mut names: Vec<String> = Vec::new();
    for r in results {
        if !names.contains(&r.controller) {
            names.push(r.controller.clone());
        }
    }
    let random = experiment
        .controller
        .iter()
        .find(|c| c.kind() == "random" && names.contains(&c.name()))
        .map(|c| c.name());
    let maximize = env.table().is_none_or(|t| t.maximize);
    let summary = summarize(
        results,
        &names,
        &file.checkpoints(),
        random.as_deref(),
        maximize,
    );

    write_csv(&out.join("summary.csv"), &summary)?;
    let title = format!(
        "# {}\n\nReported metric of the architecture with the best search reward so far.\n\n",
        experiment.name
    );
    std::fs::write(out.join("summary.md"), title + &markdown(&summary))?;

    let curves: Vec<plot::Curve> = names
        .iter()
        .map(|name| {
            let runs: Vec<&RunResult> = results.iter().filter(|r| &r.controller == name).collect();
            let longest = runs.iter().map(|r| r.evaluations()).max().unwrap_or(0) as u64;
            let points = (1..=longest)
                .filter_map(|b| {
                    let values = best_reported_at(runs.iter().copied(), b);
                    (!values.is_empty()).then(|| {
                        let (mean, std, ..) = describe(&values);
                        (b as f64, mean, std)
                    })
                })
                .collect();
            plot::Curve {
                name: name.clone(),
                points,
            }
        })
        .collect();
    plot::best_so_far(&out.join("best_so_far.svg"), &experiment.name, &curves)?;
    write_reward_curves(out, &experiment.name, &names, results)?;
    let target_ms = experiment.objective.latency_target().map(|t| t.target_ms);
    crate::pareto::write(out, &experiment.name, maximize, target_ms)?;

    let best = results
        .iter()
        .filter_map(|r| r.best())
        .max_by(|a, b| a.reward.total_cmp(&b.reward))
        .map(|b| BestArch {
            controller: b.row.controller.clone(),
            seed: b.row.seed,
            step: b.row.step,
            arch: b.row.arch.clone(),
            decisions: search::parse_decisions(&b.row.decisions).unwrap_or_default(),
            hash: b.row.hash.clone(),
            reward: b.reward,
            search_metric: b.row.search_metric,
            reported_metric: b.row.reported_metric,
            params: b.row.params,
            macs: b.row.macs,
        });
    if let Some(best) = &best {
        let candidate = env.build(&best.decisions)?;
        let mut doc = serde_json::to_value(best)?;
        doc["graph"] = serde_json::from_str(&candidate.arch.to_json())?;
        std::fs::write(
            out.join("best.json"),
            serde_json::to_string_pretty(&doc)? + "\n",
        )?;
        std::fs::write(out.join("best.dot"), candidate.arch.to_dot())?;
    }
    Ok(Report { summary, best })
}

/// One window of a controller's learning curve, as written to `reward_curve.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct RewardWindow {
    /// The controller's name.
    pub controller: String,
    /// The last proposal of the window (counted from 1).
    pub proposals: usize,
    /// Runs with a reward in the window.
    pub runs: usize,
    /// Mean over those runs of each run's mean reward in the window.
    pub mean_reward: f64,
    /// Their standard deviation (n - 1).
    pub std: f64,
}

/// The learning curves: each controller's mean reward over windows of proposals (about 50
/// windows), averaged over its runs; `reward_curve.csv` and `reward_curve.svg`.
fn write_reward_curves(
    out: &Path,
    title: &str,
    names: &[String],
    results: &[RunResult],
) -> Result<()> {
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for name in names {
        let runs: Vec<&RunResult> = results.iter().filter(|r| &r.controller == name).collect();
        let longest = runs.iter().map(|r| r.rewards.len()).max().unwrap_or(0);
        let window = longest.div_ceil(50).max(1);
        let mut points = Vec::new();
        for start in (0..longest).step_by(window) {
            let means: Vec<f64> = runs
                .iter()
                .filter_map(|r| {
                    let part: Vec<f64> = r
                        .rewards
                        .get(start..(start + window).min(r.rewards.len()))?
                        .iter()
                        .filter(|v| v.is_finite())
                        .map(|&v| v as f64)
                        .collect();
                    (!part.is_empty()).then(|| part.iter().sum::<f64>() / part.len() as f64)
                })
                .collect();
            if means.is_empty() {
                continue;
            }
            let (mean, std, ..) = describe(&means);
            let end = (start + window).min(longest);
            points.push((end as f64, mean, std));
            rows.push(RewardWindow {
                controller: name.clone(),
                proposals: end,
                runs: means.len(),
                mean_reward: mean,
                std,
            });
        }
        curves.push(plot::Curve {
            name: name.clone(),
            points,
        });
    }
    write_csv(&out.join("reward_curve.csv"), &rows)?;
    let axes = plot::Axes {
        x: "proposals",
        y: "mean reward per window (mean ± std over runs)",
        log_x: false,
    };
    plot::lines(
        &out.join("reward_curve.svg"),
        &format!("{title}: learning curve"),
        &axes,
        &curves,
    )
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
