//! Curves over a run: the learning curves (`reward_curve.csv` / `.svg`: each controller's
//! mean reward per window of proposals).

use super::plot;
use super::summary::describe;
use anyhow::Result;
use archforge::record::write_rows;
use archforge::search::RunResult;
use serde::Serialize;
use std::path::Path;

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
pub fn write_reward_curves(
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
    write_rows(&out.join("reward_curve.csv"), &rows)?;
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
