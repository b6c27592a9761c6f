//! Lineages of a space that grows networks (network transformation): which network grew from
//! which, with accuracies and parameters — `lineage.csv`, `lineage.dot` (a tree per run) and
//! `lineage.svg` (per run, each network's search metric by evaluation, a line from each parent
//! to its child).
//!
//! A run's rows are read in the order they were evaluated, as the stand-alone evaluator
//! trained them: a child's parent is the evaluation, earlier in its run, that trained the
//! nearest network on its lineage (a boundary prefix of its decisions) — what its weights
//! grew from. Without one it grew from the seed network trained first (`parent` empty).

use crate::report::plot;
use anyhow::Result;
use archforge::ability::Growth;
use archforge::evaluator::StatusKind;
use archforge::ledger::Row;
use archforge::record::write_rows;
use archforge::search::parse_decisions;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// One evaluated network and where its weights grew from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageRow {
    /// The run's controller.
    pub controller: String,
    /// The run's seed.
    pub seed: u64,
    /// The evaluation's step in its run.
    pub step: u64,
    /// The step of the evaluation whose trained network it grew from (none: the seed
    /// network, trained first).
    pub parent: Option<u64>,
    /// Morph steps from that network to this one.
    pub grown_steps: usize,
    /// Trainings its weights went through after the seed's: its parent's and its own.
    pub generation: usize,
    /// Served from the cache (not trained).
    pub cached: bool,
    /// How the evaluation ended.
    pub status: StatusKind,
    /// Validation accuracy.
    pub search_metric: Option<f64>,
    /// Test accuracy.
    pub reported_metric: Option<f64>,
    /// Trainable parameters.
    pub params: Option<u64>,
    /// The network's morphs, step by step.
    pub arch: String,
}

/// A run's lineage, built row by row as the run records them.
#[derive(Debug, Default)]
pub struct Lineages {
    /// The networks trained so far in the run: their boundary prefix, with the step and
    /// generation of the evaluation that trained them last.
    trained: HashMap<(String, u64, Vec<usize>), (u64, usize)>,
    /// Every row, in the order recorded.
    pub rows: Vec<LineageRow>,
}

impl Lineages {
    /// Adds the evaluation `row` of a space that grows as `growth` says.
    pub fn add(&mut self, growth: &dyn Growth, row: &Row) {
        let Some(decisions) = parse_decisions(&row.record.decisions) else {
            return;
        };
        let Ok(bounds) = growth.boundaries(&decisions) else {
            return;
        };
        let run = (row.controller.clone(), row.seed);
        let nearest = bounds.iter().enumerate().rev().find_map(|(i, &b)| {
            let key = (run.0.clone(), run.1, decisions[..b].to_vec());
            self.trained
                .get(&key)
                .map(|&(step, generation)| (i, step, generation))
        });
        let (parent, grown_steps, generation) = match nearest {
            Some((i, step, generation)) => (Some(step), bounds.len() - 1 - i, generation + 1),
            None => (None, bounds.len().saturating_sub(1), 1),
        };
        let trained = row.record.status == StatusKind::Ok && !row.cached;
        if trained && let Some(&last) = bounds.last() {
            self.trained.insert(
                (run.0.clone(), run.1, decisions[..last].to_vec()),
                (row.step, generation),
            );
        }
        self.rows.push(LineageRow {
            controller: row.controller.clone(),
            seed: row.seed,
            step: row.step,
            parent,
            grown_steps,
            generation,
            cached: row.cached,
            status: row.record.status,
            search_metric: row.record.search_metric,
            reported_metric: row.record.reported_metric,
            params: row.record.params,
            arch: row.record.arch.clone(),
        });
    }

    /// Adds another run's lineage.
    pub fn merge(&mut self, other: Lineages) {
        self.rows.extend(other.rows);
    }

    /// Writes `lineage.csv`, `lineage.dot` and `lineage.svg` into `out`, runs in the order
    /// of `runs` (controller, seed).
    pub fn write(&self, out: &Path, title: &str, runs: &[(String, u64)]) -> Result<()> {
        let mut rows: Vec<LineageRow> = Vec::with_capacity(self.rows.len());
        for (controller, seed) in runs {
            rows.extend(
                self.rows
                    .iter()
                    .filter(|r| &r.controller == controller && r.seed == *seed)
                    .cloned(),
            );
        }
        write_rows(&out.join("lineage.csv"), &rows)?;
        std::fs::write(out.join("lineage.dot"), dot(title, runs, &rows))?;
        let panels: Vec<plot::Lineage> = runs
            .iter()
            .map(|(controller, seed)| {
                let run: Vec<&LineageRow> = rows
                    .iter()
                    .filter(|r| &r.controller == controller && r.seed == *seed)
                    .collect();
                let at: HashMap<u64, (f64, f64)> = run
                    .iter()
                    .filter_map(|r| Some((r.step, (r.step as f64, r.search_metric?))))
                    .collect();
                plot::Lineage {
                    name: format!("{controller}, seed {seed}"),
                    points: at.values().copied().collect(),
                    edges: run
                        .iter()
                        .filter_map(|r| Some((*at.get(&r.parent?)?, *at.get(&r.step)?)))
                        .collect(),
                }
            })
            .collect();
        plot::lineages(&out.join("lineage.svg"), title, &panels)
    }
}

/// The lineages as Graphviz DOT: per run a cluster, a node per evaluation (its step, search
/// metric and parameters) and the seed, an edge from each parent to its children.
fn dot(title: &str, runs: &[(String, u64)], rows: &[LineageRow]) -> String {
    let mut s =
        format!("digraph \"{title}\" {{\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
    for (r, (controller, seed)) in runs.iter().enumerate() {
        let _ = writeln!(
            s,
            "  subgraph cluster_{r} {{\n    label=\"{controller}, seed {seed}\";\n    r{r}_seed [label=\"seed network\", style=filled, fillcolor=\"#dddddd\"];"
        );
        for row in rows
            .iter()
            .filter(|x| &x.controller == controller && x.seed == *seed)
        {
            let metric = row
                .search_metric
                .map_or_else(|| row.status.to_string(), |m| format!("{m:.2} %"));
            let params = row
                .params
                .map_or(String::new(), |p| format!("\\n{p} params"));
            let style = if row.cached { ", style=dashed" } else { "" };
            let _ = writeln!(
                s,
                "    r{r}_{} [label=\"#{} {metric}{params}\"{style}];",
                row.step, row.step
            );
            let from = row
                .parent
                .map_or_else(|| format!("r{r}_seed"), |p| format!("r{r}_{p}"));
            let _ = writeln!(
                s,
                "    {from} -> r{r}_{} [label=\"{}\"];",
                row.step, row.grown_steps
            );
        }
        s.push_str("  }\n");
    }
    s.push_str("}\n");
    s
}
