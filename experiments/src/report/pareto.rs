//! Pareto fronts of accuracy against cost: for every cost the evaluations recorded (measured
//! latency, parameters, MACs), each controller's non-dominated evaluations — no other of its
//! evaluations is at least as good in the search metric and at most as costly, and better in
//! one — written to `pareto_<cost>.csv` and drawn in `pareto_<cost>.svg` (every evaluation
//! faint, each controller's front bold), from the run's ledger rows.

use super::plot;
use anyhow::Result;
use archforge::ledger::Row;
use archforge::record::{ArchRecord, write_rows};
use serde::Serialize;
use std::path::Path;

/// One point of a front, as written to `pareto_<cost>.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct FrontPoint {
    /// The controller whose front it is on.
    pub controller: String,
    /// The run's seed.
    pub seed: u64,
    /// Its cost.
    pub cost: f64,
    /// The architecture and what it scored.
    #[serde(flatten)]
    pub record: ArchRecord,
}

/// Reads a cost from a row.
type CostOf = fn(&Row) -> Option<f64>;

/// The costs a front can be drawn against, with how to read each from a row.
const COSTS: [(&str, &str, CostOf); 3] = [
    ("latency_ms", "latency, batch 1 (ms)", |r| {
        r.record.latency_ms
    }),
    ("params", "parameters", |r| {
        r.record.params.map(|p| p as f64)
    }),
    ("macs", "multiply-accumulates", |r| {
        r.record.macs.map(|m| m as f64)
    }),
];

/// The indices of the non-dominated points of `points` (cost, metric), lower cost and higher
/// (or, when `maximize` is false, lower) metric being better; ties keep the first.
pub fn front(points: &[(f64, f64)], maximize: bool) -> Vec<usize> {
    let sign = if maximize { 1.0 } else { -1.0 };
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then((sign * points[b].1).total_cmp(&(sign * points[a].1)))
            .then(a.cmp(&b))
    });
    let mut best = f64::NEG_INFINITY;
    let mut kept = Vec::new();
    for i in order {
        let value = sign * points[i].1;
        if value > best {
            best = value;
            kept.push(i);
        }
    }
    kept
}

/// Writes a front file and plot for every cost `rows` record; the latency plot marks
/// `target_ms` (the `mnas` objective's T) when given.
pub fn write(
    out: &Path,
    title: &str,
    rows: &[Row],
    maximize: bool,
    target_ms: Option<f64>,
) -> Result<()> {
    let ok: Vec<&Row> = rows
        .iter()
        .filter(|r| r.record.status == "ok" && r.record.search_metric.is_some_and(f64::is_finite))
        .collect();
    let mut controllers: Vec<&str> = Vec::new();
    for r in &ok {
        if !controllers.contains(&r.controller.as_str()) {
            controllers.push(&r.controller);
        }
    }
    for (name, axis, cost_of) in COSTS {
        let costed: Vec<(&Row, f64)> = ok
            .iter()
            .filter_map(|r| cost_of(r).filter(|c| c.is_finite()).map(|c| (*r, c)))
            .collect();
        if costed.is_empty() {
            continue;
        }
        let mut points = Vec::new();
        let mut fronts = Vec::new();
        for controller in &controllers {
            let mine: Vec<&(&Row, f64)> = costed
                .iter()
                .filter(|(r, _)| r.controller == *controller)
                .collect();
            let xy: Vec<(f64, f64)> = mine
                .iter()
                .map(|(r, c)| (*c, r.record.search_metric.expect("filtered")))
                .collect();
            let kept = front(&xy, maximize);
            let mut line: Vec<(f64, f64)> = kept.iter().map(|&i| xy[i]).collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            fronts.push(plot::Front {
                name: controller.to_string(),
                points: line,
            });
            points.extend(kept.iter().map(|&i| {
                let (row, cost) = mine[i];
                FrontPoint {
                    controller: row.controller.clone(),
                    seed: row.seed,
                    cost: *cost,
                    record: row.record.clone(),
                }
            }));
        }
        write_rows(&out.join(format!("pareto_{name}.csv")), &points)?;
        let all: Vec<(f64, f64)> = costed
            .iter()
            .map(|(r, c)| (*c, r.record.search_metric.expect("filtered")))
            .collect();
        let marker = target_ms
            .filter(|_| name == "latency_ms")
            .map(|t| (t, format!("T = {t} ms")));
        plot::pareto(
            &out.join(format!("pareto_{name}.svg")),
            &format!("{title}: search metric against {name}"),
            axis,
            &all,
            &fronts,
            marker,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_exactly_the_non_dominated_points() {
        let points = [
            (1.0, 50.0),
            (2.0, 40.0),
            (2.0, 60.0),
            (3.0, 60.0),
            (4.0, 70.0),
        ];
        assert_eq!(front(&points, true), [0, 2, 4]);
        // Smaller metrics better: (2, 40) beats the cheaper (1, 50) on the metric.
        assert_eq!(front(&points, false), [0, 1]);
        assert!(front(&[], true).is_empty());
    }

    #[test]
    fn the_latency_plot_marks_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<Row> = [(0.5, 70.0), (1.5, 80.0), (0.7, 60.0)]
            .iter()
            .enumerate()
            .map(|(i, (latency, metric))| Row {
                controller: "random".into(),
                seed: 0,
                step: i as u64 + 1,
                proposal: i as u64,
                record: ArchRecord {
                    arch: format!("a{i}"),
                    hash: format!("{i}"),
                    decisions: i.to_string(),
                    search_metric: Some(*metric),
                    latency_ms: Some(*latency),
                    status: "ok".into(),
                    ..ArchRecord::default()
                },
                reward: Some(*metric),
                cached: false,
                counted: true,
                simulated_seconds: 0.0,
                wall_seconds: 0.0,
            })
            .collect();
        write(dir.path(), "t", &rows, true, Some(0.8)).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("pareto_latency_ms.svg")).unwrap();
        assert!(svg.contains("T = 0.8 ms"));
        let front = std::fs::read_to_string(dir.path().join("pareto_latency_ms.csv")).unwrap();
        assert_eq!(
            front.lines().count(),
            1 + 2,
            "two points on the front: {front}"
        );
    }
}
