//! Tabular benchmarks: every architecture's metrics precomputed in a [`Table`], keyed by the
//! candidate's label. Looking one up costs one evaluation and, when the table records it, its
//! training time in simulated seconds.

use super::{Evaluator, Metrics, Outcome};
use crate::budget::Budget;
use crate::candidate::Candidate;
use std::collections::HashMap;
use std::sync::Arc;

/// One architecture's recorded metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableRow {
    /// The metric a search may look at.
    pub search: f64,
    /// The metric results are reported by.
    pub reported: f64,
    /// Recorded cost in seconds, if the table has one.
    pub cost: Option<f64>,
}

/// A benchmark table: rows keyed by candidate label.
#[derive(Debug, Clone)]
pub struct Table {
    /// Rows by label.
    pub rows: HashMap<String, TableRow>,
    /// Whether larger metrics are better.
    pub maximize: bool,
}

/// Scores a candidate by looking its label up in a [`Table`]; a label missing from the table
/// is an `Invalid` outcome.
#[derive(Debug, Clone)]
pub struct TableEvaluator {
    table: Arc<Table>,
}

impl TableEvaluator {
    /// An evaluator over `table`.
    pub fn new(table: Arc<Table>) -> Self {
        TableEvaluator { table }
    }
}

impl Evaluator for TableEvaluator {
    fn evaluate(&mut self, candidate: &Candidate, budget: &mut Budget) -> Outcome {
        let Some(row) = self.table.rows.get(&candidate.label) else {
            budget.charge(1, 0.0);
            return Outcome::invalid(format!("`{}` is not in the table", candidate.label));
        };
        let cost = row.cost.unwrap_or(0.0);
        let counts = candidate.arch.counts();
        budget.charge(1, cost);
        Outcome::ok(Metrics {
            search: Some(row.search),
            reported: Some(row.reported),
            params: counts.map(|(params, _)| params),
            macs: counts.map(|(_, macs)| macs),
            latency_ms: None,
            simulated_seconds: cost,
        })
    }
}
