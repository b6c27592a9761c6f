//! Pareto fronts of accuracy against cost: for every cost the evaluations record (measured
//! latency, parameters, MACs), each controller's non-dominated evaluations — no other of its
//! evaluations is at least as good in the search metric and at most as costly, and better in
//! one — written to `pareto_<cost>.csv` and drawn in `pareto_<cost>.svg` (evaluations faint,
//! at most [`CLOUD`] of them, each controller's front bold).
//!
//! Fronts are kept as rows arrive ([`Fronts::add`]): each run keeps its own, and a
//! controller's front is the front of its runs' fronts, merged in plan order — so the result
//! does not depend on which run finished first, and no run's rows need to be kept.

use super::plot;
use anyhow::Result;
use archforge::evaluator::StatusKind;
use archforge::ledger::Row;
use archforge::record::{ArchRecord, write_rows};
use serde::Serialize;
use std::path::Path;

/// The most evaluations a Pareto plot draws (an even sample of them when there are more).
pub const CLOUD: usize = 5_000;

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

/// One controller's front against one cost, with every evaluation's (cost, metric).
#[derive(Debug, Clone, Default)]
struct Front {
    /// The non-dominated points, by increasing cost (and so increasing metric).
    points: Vec<FrontPoint>,
    cloud: Vec<(f64, f64)>,
}

impl Front {
    /// Whether a point of this `cost` and `metric` would be on the front: no point of no more
    /// cost is worth as much or more (a tie keeps the earlier point).
    fn admits(&self, cost: f64, metric: f64, sign: f64) -> bool {
        let at = self.points.partition_point(|p| p.cost <= cost);
        at == 0
            || sign * self.points[at - 1].record.search_metric.unwrap_or(f64::NAN) < sign * metric
    }

    /// Puts `point` on the front unless an earlier point dominates it or equals it, and
    /// takes off the points it dominates; `sign` is 1 when larger metrics are better, else -1.
    fn insert(&mut self, point: FrontPoint, sign: f64) {
        let value = |p: &FrontPoint| sign * p.record.search_metric.unwrap_or(f64::NAN);
        let v = value(&point);
        if !self.admits(
            point.cost,
            point.record.search_metric.unwrap_or(f64::NAN),
            sign,
        ) {
            return;
        }
        // The points it dominates cost as much or more and are worth no more: a run of them
        // from the first point costing as much.
        let first = self.points.partition_point(|p| p.cost < point.cost);
        let dominated = self.points[first..]
            .iter()
            .take_while(|p| value(p) <= v)
            .count();
        self.points.splice(first..first + dominated, [point]);
    }
}

/// The fronts of one run, or of a whole experiment, per cost and controller.
#[derive(Debug, Clone)]
pub struct Fronts {
    sign: f64,
    /// Per cost (as [`COSTS`]), per controller in order of appearance.
    costs: Vec<Vec<(String, Front)>>,
}

impl Fronts {
    /// Empty fronts; `maximize` says whether larger search metrics are better.
    pub fn new(maximize: bool) -> Self {
        Fronts {
            sign: if maximize { 1.0 } else { -1.0 },
            costs: vec![Vec::new(); COSTS.len()],
        }
    }

    /// Takes in one evaluation (only successful ones with a finite search metric count).
    pub fn add(&mut self, row: &Row) {
        if row.record.status != StatusKind::Ok
            || !row.record.search_metric.is_some_and(f64::is_finite)
        {
            return;
        }
        for ((_, _, cost_of), fronts) in COSTS.iter().zip(&mut self.costs) {
            let Some(cost) = cost_of(row).filter(|c| c.is_finite()) else {
                continue;
            };
            let front = match fronts.iter().position(|(c, _)| *c == row.controller) {
                Some(i) => &mut fronts[i].1,
                None => {
                    fronts.push((row.controller.clone(), Front::default()));
                    &mut fronts.last_mut().expect("just pushed").1
                }
            };
            let metric = row.record.search_metric.expect("checked above");
            front.cloud.push((cost, metric));
            if !front.admits(cost, metric, self.sign) {
                continue;
            }
            let point = FrontPoint {
                controller: row.controller.clone(),
                seed: row.seed,
                cost,
                record: row.record.clone(),
            };
            front.insert(point, self.sign);
        }
    }

    /// Takes in another run's fronts (after this one's, in plan order).
    pub fn merge(&mut self, other: Fronts) {
        for (mine, theirs) in self.costs.iter_mut().zip(other.costs) {
            for (controller, front) in theirs {
                let at = match mine.iter().position(|(c, _)| *c == controller) {
                    Some(i) => i,
                    None => {
                        mine.push((controller, Front::default()));
                        mine.len() - 1
                    }
                };
                let target = &mut mine[at].1;
                for point in front.points {
                    target.insert(point, self.sign);
                }
                target.cloud.extend(front.cloud);
            }
        }
    }

    /// Writes a front file and plot for every cost any evaluation had; the latency plot
    /// marks `target_ms` (the `mnas` objective's T) when given.
    pub fn write(&self, out: &Path, title: &str, target_ms: Option<f64>) -> Result<()> {
        for ((name, axis, _), fronts) in COSTS.iter().zip(&self.costs) {
            if fronts.is_empty() {
                continue;
            }
            let points: Vec<&FrontPoint> = fronts.iter().flat_map(|(_, f)| &f.points).collect();
            write_rows(&out.join(format!("pareto_{name}.csv")), &points)?;
            let lines: Vec<plot::Front> = fronts
                .iter()
                .map(|(controller, f)| plot::Front {
                    name: controller.clone(),
                    points: f
                        .points
                        .iter()
                        .map(|p| (p.cost, p.record.search_metric.unwrap_or(f64::NAN)))
                        .collect(),
                })
                .collect();
            let all: Vec<(f64, f64)> = fronts.iter().flat_map(|(_, f)| &f.cloud).copied().collect();
            let step = all.len().div_ceil(CLOUD).max(1);
            let sample: Vec<(f64, f64)> = all.iter().step_by(step).copied().collect();
            let marker = target_ms
                .filter(|_| *name == "latency_ms")
                .map(|t| (t, format!("T = {t} ms")));
            plot::pareto(
                &out.join(format!("pareto_{name}.svg")),
                &format!("{title}: search metric against {name}"),
                axis,
                &sample,
                &lines,
                marker,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn row(controller: &str, seed: u64, cost: f64, metric: f64) -> Row {
        Row {
            controller: controller.into(),
            seed,
            step: 1,
            proposal: 0,
            record: ArchRecord {
                arch: format!("{cost}/{metric}"),
                search_metric: Some(metric),
                latency_ms: Some(cost),
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
    fn fronts_kept_row_by_row_and_merged_run_by_run_are_the_batch_fronts() {
        use rand::Rng;
        let mut rng = archforge::rng::seeded(11);
        for maximize in [true, false] {
            let points: Vec<(f64, f64)> = (0..300)
                .map(|_| {
                    (
                        f64::from(rng.random_range(0..30u8)),
                        f64::from(rng.random_range(0..30u8)),
                    )
                })
                .collect();
            // Three runs of one controller, merged in order.
            let mut all = Fronts::new(maximize);
            for run in points.chunks(100) {
                let mut fronts = Fronts::new(maximize);
                for &(cost, metric) in run {
                    fronts.add(&row("c", 0, cost, metric));
                }
                all.merge(fronts);
            }
            let kept: Vec<(f64, f64)> = all.costs[0][0]
                .1
                .points
                .iter()
                .map(|p| (p.cost, p.record.search_metric.unwrap()))
                .collect();
            let mut expected: Vec<(f64, f64)> = front(&points, maximize)
                .iter()
                .map(|&i| points[i])
                .collect();
            expected.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(kept, expected, "maximize {maximize}");
            assert_eq!(all.costs[0][0].1.cloud.len(), 300);
        }
    }

    #[test]
    fn the_latency_plot_marks_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let mut fronts = Fronts::new(true);
        for (latency, metric) in [(0.5, 70.0), (1.5, 80.0), (0.7, 60.0)] {
            fronts.add(&row("random", 0, latency, metric));
        }
        fronts.write(dir.path(), "t", Some(0.8)).unwrap();
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
