//! Whether a latency target binds (`mnas` objectives): per run, the share of the later half of
//! its counted evaluations whose latency is at most T — how much of its search the
//! controller spends under the target — and its best successful evaluation under T by the
//! search metric, the model a user would take. Written to `under_target.csv`, one row per
//! run in plan order, from the finished ledger.

use anyhow::Result;
use archforge::evaluator::StatusKind;
use archforge::ledger::Row;
use archforge::record::write_rows;
use serde::Serialize;
use std::path::Path;

/// One run's line of `under_target.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct UnderTarget {
    /// The controller's name.
    pub controller: String,
    /// The run's seed.
    pub seed: u64,
    /// The latency target T (ms).
    pub target_ms: f64,
    /// Counted evaluations of the run.
    pub evaluations: usize,
    /// Counted evaluations of its later half.
    pub late: usize,
    /// Of those, how many had a latency of at most T.
    pub late_under_target: usize,
    /// `late_under_target / late`.
    pub late_share_under_target: Option<f64>,
    /// The best successful evaluation at most T: its architecture.
    pub best_arch: Option<String>,
    /// Its search metric.
    pub best_search_metric: Option<f64>,
    /// Its reported metric.
    pub best_reported_metric: Option<f64>,
    /// Its latency (ms).
    pub best_latency_ms: Option<f64>,
}

/// The runs of `rows` (a ledger in plan order) against `target_ms`; `maximize` says whether
/// larger search metrics are better.
pub fn under_target(rows: &[Row], target_ms: f64, maximize: bool) -> Vec<UnderTarget> {
    let mut runs: Vec<UnderTarget> = Vec::new();
    let mut counted: Vec<Vec<&Row>> = Vec::new();
    for row in rows.iter().filter(|r| r.counted) {
        let same = runs
            .last()
            .is_some_and(|r| r.controller == row.controller && r.seed == row.seed);
        if !same {
            runs.push(UnderTarget {
                controller: row.controller.clone(),
                seed: row.seed,
                target_ms,
                evaluations: 0,
                late: 0,
                late_under_target: 0,
                late_share_under_target: None,
                best_arch: None,
                best_search_metric: None,
                best_reported_metric: None,
                best_latency_ms: None,
            });
            counted.push(Vec::new());
        }
        counted.last_mut().expect("pushed above").push(row);
    }
    let sign = if maximize { 1.0 } else { -1.0 };
    for (run, rows) in runs.iter_mut().zip(counted) {
        let under = |r: &Row| r.record.latency_ms.is_some_and(|l| l <= target_ms);
        run.evaluations = rows.len();
        let later = &rows[rows.len() / 2..];
        run.late = later.len();
        run.late_under_target = later.iter().filter(|r| under(r)).count();
        run.late_share_under_target =
            (run.late > 0).then(|| run.late_under_target as f64 / run.late as f64);
        let best = rows
            .iter()
            .filter(|r| r.record.status == StatusKind::Ok && under(r))
            .filter_map(|r| Some((r.record.search_metric.filter(|m| m.is_finite())?, *r)))
            .fold(None::<(f64, &Row)>, |best, (m, r)| match best {
                Some((b, _)) if sign * b >= sign * m => best,
                _ => Some((m, r)),
            });
        if let Some((metric, r)) = best {
            run.best_arch = Some(r.record.arch.clone());
            run.best_search_metric = Some(metric);
            run.best_reported_metric = r.record.reported_metric;
            run.best_latency_ms = r.record.latency_ms;
        }
    }
    runs
}

/// Writes `under_target.csv` into `out` from its ledger `evaluations.csv`.
pub fn write(out: &Path, target_ms: f64, maximize: bool) -> Result<Vec<UnderTarget>> {
    let rows: Vec<Row> = archforge::record::read_rows(&out.join("evaluations.csv"))?;
    let runs = under_target(&rows, target_ms, maximize);
    write_rows(&out.join("under_target.csv"), &runs)?;
    Ok(runs)
}

/// The runs as a Markdown table.
pub fn markdown(runs: &[UnderTarget]) -> String {
    let num = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.2}"));
    let mut md = String::from(
        "| controller | seed | late evaluations under T | best under T: search / reported | its latency (ms) |\n|---|---:|---:|---:|---:|\n",
    );
    for r in runs {
        md += &format!(
            "| {} | {} | {} / {} ({}) | {} / {} | {} |\n",
            r.controller,
            r.seed,
            r.late_under_target,
            r.late,
            r.late_share_under_target
                .map_or_else(|| "–".into(), |s| format!("{:.0} %", 100.0 * s)),
            num(r.best_search_metric),
            num(r.best_reported_metric),
            r.best_latency_ms
                .map_or_else(|| "–".into(), |l| format!("{l:.3}")),
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use archforge::record::ArchRecord;

    fn row(controller: &str, seed: u64, step: u64, metric: f64, latency: f64) -> Row {
        Row {
            controller: controller.into(),
            seed,
            step,
            proposal: step,
            record: ArchRecord {
                arch: format!("{controller}-{seed}-{step}"),
                search_metric: Some(metric),
                reported_metric: Some(metric - 1.0),
                latency_ms: Some(latency),
                status: StatusKind::Ok,
                ..ArchRecord::default()
            },
            reward: Some(metric),
            cached: false,
            counted: true,
            simulated_seconds: 0.0,
            wall_seconds: 0.0,
        }
    }

    #[test]
    fn the_late_share_and_the_best_model_under_the_target() {
        let mut rows = vec![
            row("a", 0, 1, 90.0, 2.0),
            row("a", 0, 2, 80.0, 0.5),
            row("a", 0, 3, 85.0, 0.9),
            row("a", 0, 4, 70.0, 1.5),
        ];
        rows.push(row("b", 0, 1, 60.0, 3.0));
        let mut uncounted = row("b", 0, 1, 99.0, 0.1);
        uncounted.counted = false;
        rows.push(uncounted);
        let runs = under_target(&rows, 1.0, true);
        assert_eq!(runs.len(), 2);
        let a = &runs[0];
        assert_eq!((a.evaluations, a.late, a.late_under_target), (4, 2, 1));
        assert_eq!(a.late_share_under_target, Some(0.5));
        // 90 is over T; of those under it, 85 is the best.
        assert_eq!(a.best_search_metric, Some(85.0));
        assert_eq!(a.best_reported_metric, Some(84.0));
        assert_eq!(a.best_latency_ms, Some(0.9));
        let b = &runs[1];
        assert_eq!((b.evaluations, b.late_under_target), (1, 0));
        assert_eq!(b.best_arch, None, "nothing counted under T");
        assert!(markdown(&runs).contains("| a | 0 | 1 / 2 (50 %) | 85.00 / 84.00 | 0.900 |"));
    }
}
