//! A stored run's reports rebuilt from the store alone: the run folder's files it kept are
//! restored, its ledger is written from the stored rows, and the summary, curves and Pareto
//! fronts are computed again from those rows — each part's rows folded in as the search
//! folded them ([`RunResult::add`], [`Fronts::add`]), the parts merged in plan order. So a
//! finished run's rebuilt tables equal the ones its run wrote, and a run still going (or
//! killed) gets the tables of the rows it has so far. Failed parts are left out, as a run
//! leaves them out of its own report. A workflow's own run (a compression, a rank check) has
//! no parts: its kept files are its reports.

use super::pareto::Fronts;
use super::{Context, SummaryRow, write_tables};
use anyhow::{Context as _, Result, anyhow, bail};
use archforge::ledger::Ledger;
use archforge::search::{RunResult, StopReason};
use archforge::store::{PartEnd, RunStatus, Store, StoredRun};
use std::collections::HashMap;
use std::path::Path;

/// What [`rebuild`] wrote.
pub struct Rebuilt {
    /// The run's report context, as it was stored.
    pub context: Context,
    /// The summary rows.
    pub summary: Vec<SummaryRow>,
    /// How many ledger rows it holds.
    pub rows: usize,
}

/// Writes the reports of the stored `run` into the (existing, empty) folder `out`.
pub fn rebuild(store: &Store, run: &StoredRun, out: &Path) -> Result<Rebuilt> {
    let context: Context = serde_json::from_str(&run.context).map_err(|e| {
        anyhow!(
            "run {}: its stored report context is unreadable: {e}",
            run.id
        )
    })?;
    for (name, content) in store.artefacts(run.id)? {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            bail!("run {}: a stored file has no plain name: {name:?}", run.id);
        }
        std::fs::write(out.join(&name), content)
            .with_context(|| format!("writing {}", out.join(&name).display()))?;
    }
    let all_parts = store.parts(run.id)?;
    if all_parts.is_empty() {
        // A workflow's own run (a compression, a rank check): its kept files are its reports.
        return Ok(Rebuilt {
            context,
            summary: Vec::new(),
            rows: 0,
        });
    }
    let rows = store.rows(run.id)?;
    Ledger::rewrite(&out.join("evaluations.csv"), &rows)?;

    let parts: Vec<_> = all_parts
        .into_iter()
        .filter(|p| p.status != RunStatus::Failed)
        .collect();
    let position: HashMap<(&str, u64), usize> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| ((p.controller.as_str(), p.seed), i))
        .collect();
    let mut results: Vec<RunResult> = parts
        .iter()
        .map(|p| RunResult::new(&p.controller, p.seed))
        .collect();
    let mut part_fronts: Vec<Fronts> = parts
        .iter()
        .map(|_| Fronts::new(context.maximize))
        .collect();
    for row in &rows {
        if let Some(&i) = position.get(&(row.controller.as_str(), row.seed)) {
            results[i].add(row);
            part_fronts[i].add(row);
        }
    }
    for (result, part) in results.iter_mut().zip(&parts) {
        if let Some(end) = &part.end {
            ended(result, end);
        }
    }
    let mut fronts = Fronts::new(context.maximize);
    for f in part_fronts {
        fronts.merge(f);
    }
    let summary = write_tables(out, &context, &results, &fronts)?;
    Ok(Rebuilt {
        context,
        summary,
        rows: rows.len(),
    })
}

/// How a part ended, as the store keeps it.
pub fn part_end(result: &RunResult) -> PartEnd {
    PartEnd {
        stop: match result.stop {
            StopReason::Budget => "budget",
            StopReason::Exhausted => "exhausted",
        }
        .into(),
        controller_seconds: result.controller_seconds,
        seconds: result.seconds,
    }
}

/// Gives a result rebuilt from a part's rows the end the store kept ([`part_end`]'s inverse).
pub fn ended(result: &mut RunResult, end: &PartEnd) {
    result.stop = match end.stop.as_str() {
        "exhausted" => StopReason::Exhausted,
        _ => StopReason::Budget,
    };
    result.controller_seconds = end.controller_seconds;
    result.seconds = end.seconds;
}

/// The line of facts under a page's heading.
pub fn facts(store: &Store, run: &StoredRun, rows: usize) -> String {
    format!(
        "run {} of {} · {} · {} · started {}{} · {rows} ledger rows",
        run.id,
        store.location(),
        run.command,
        run.status,
        run.started_at,
        run.finished_at
            .as_ref()
            .map_or(String::new(), |f| format!(", ended {f}")),
    )
}
