//! Reports of a finished experiment, written into the run folder:
//! - [`summary`]: `summary.csv` / `summary.md`, the reported metric of each controller's best
//!   architecture so far at every budget checkpoint;
//! - `best_so_far.svg`, its later half `best_so_far_tail.svg`, and [`curves`]' learning
//!   curves;
//! - [`pareto`]: accuracy-against-cost fronts per controller;
//! - [`best`]: `best.json` and `best.dot`, the best architecture over all runs;
//! - [`target`]: for a latency target, `under_target.csv`: how much of each run's later
//!   search was under it, and its best model there;
//! - [`lineage`]: for a space that grows networks, which network grew from which
//!   (`lineage.csv`, `lineage.dot`, `lineage.svg`);
//! - [`plot`] draws the pictures; tables are written as flat records
//!   ([`archforge::record`]);
//! - [`stored`] rebuilds all of it from a run store, and [`html`] writes it as one page.
//!
//! [`write_tables`] writes what the runs' rows alone decide; [`write_best`] what also needs
//! the environment (the best architecture's graph).

pub mod best;
pub mod curves;
pub mod html;
pub mod lineage;
pub mod pareto;
pub mod plot;
pub mod stored;
pub mod summary;
pub mod target;

pub use best::BestArch;
pub use summary::{SummaryRow, best_reported_at, describe, markdown, summarize};

use anyhow::Result;
use archforge::Environment;
use archforge::record::write_rows;
use archforge::search::{self, RunResult};
use std::path::Path;

/// What the reports need to know of the experiment (kept with a stored run as JSON).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Context {
    /// The experiment's name, the plots' title.
    pub title: String,
    /// The budgets the summary reports at.
    pub checkpoints: Vec<u64>,
    /// The random-search controller's name, the summary's baseline.
    pub random: Option<String>,
    /// Whether larger search metrics are better.
    pub maximize: bool,
    /// The `mnas` objective's latency target, marked on latency plots.
    pub target_ms: Option<f64>,
}

/// What [`write()`] produced.
pub struct Report {
    /// The summary rows.
    pub summary: Vec<SummaryRow>,
    /// The best architecture.
    pub best: Option<BestArch>,
}

/// Writes every report file of the runs `results` of `env`, with their Pareto `fronts`, into
/// `out`.
pub fn write(
    out: &Path,
    context: &Context,
    env: &dyn Environment,
    results: &[RunResult],
    fronts: &pareto::Fronts,
) -> Result<Report> {
    let summary = write_tables(out, context, results, fronts)?;
    let best = write_best(out, env, results)?;
    Ok(Report { summary, best })
}

/// The controllers of `results`, in order of first appearance.
fn controllers(results: &[RunResult]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in results {
        if !names.contains(&r.controller) {
            names.push(r.controller.clone());
        }
    }
    names
}

/// Writes the summary, the latency-target table, the curves and the Pareto fronts of
/// `results` into `out` (whose `evaluations.csv` is the runs' ledger); the summary rows.
pub fn write_tables(
    out: &Path,
    context: &Context,
    results: &[RunResult],
    fronts: &pareto::Fronts,
) -> Result<Vec<SummaryRow>> {
    let names = controllers(results);
    let random = context
        .random
        .as_deref()
        .filter(|r| names.iter().any(|n| n == r));
    let summary = summarize(
        results,
        &names,
        &context.checkpoints,
        random,
        context.maximize,
    );

    write_rows(&out.join("summary.csv"), &summary)?;
    let heading = format!(
        "# {}\n\nReported metric of the architecture with the best search reward so far.\n\n",
        context.title
    );
    let mut md = heading + &markdown(&summary);
    if let Some(t) = context.target_ms {
        let runs = target::write(out, t, context.maximize)?;
        md += &format!(
            "\nUnder the latency target T = {t:.4} ms (later half of each run's evaluations; the best model by the search metric):\n\n{}",
            target::markdown(&runs)
        );
    }
    std::fs::write(out.join("summary.md"), md)?;

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
    plot::best_so_far(&out.join("best_so_far.svg"), &context.title, &curves)?;
    plot::best_so_far_tail(&out.join("best_so_far_tail.svg"), &context.title, &curves)?;
    curves::write_reward_curves(out, &context.title, &names, results)?;
    fronts.write(out, &context.title, context.target_ms)?;
    Ok(summary)
}

/// Writes `best.json` (with the graph `env` builds of it) and `best.dot` of the best
/// architecture of `results`, and returns it.
pub fn write_best(
    out: &Path,
    env: &dyn Environment,
    results: &[RunResult],
) -> Result<Option<BestArch>> {
    let best = results
        .iter()
        .filter_map(|r| r.best())
        .max_by(|a, b| a.reward.total_cmp(&b.reward))
        .map(|b| BestArch {
            controller: b.row.controller.clone(),
            seed: b.row.seed,
            step: b.row.step,
            reward: b.reward,
            record: b.row.record.clone(),
        });
    if let Some(best) = &best {
        let decisions = search::parse_decisions(&best.record.decisions).unwrap_or_default();
        let candidate = env.build(&decisions)?;
        let mut doc = serde_json::to_value(best)?;
        doc["graph"] = serde_json::from_str(&candidate.arch().to_json())?;
        std::fs::write(
            out.join("best.json"),
            serde_json::to_string_pretty(&doc)? + "\n",
        )?;
        std::fs::write(out.join("best.dot"), candidate.arch().to_dot())?;
    }
    Ok(best)
}
