//! The `table` evaluator: a candidate scored by looking its label up in the environment's
//! benchmark [`Table`]; the row's recorded training time is the evaluation's simulated cost.
//! A label missing from the table is an `Invalid` outcome.

use super::{Evaluator, Metrics, Outcome};
use crate::ability::Table;
use crate::candidate::Candidate;
use crate::error::Result;
use std::sync::Arc;

/// Scores candidates by table lookup (see the module documentation).
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
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        let Some(row) = self.table.rows.get(&candidate.label) else {
            return Ok(Outcome::invalid(format!(
                "`{}` is not in the table",
                candidate.label
            )));
        };
        let cost = row.cost.unwrap_or(0.0);
        Ok(Outcome::ok(Metrics {
            search: Some(row.search),
            reported: Some(row.reported),
            params: candidate.params(),
            macs: candidate.macs(),
            latency_ms: None,
            simulated_seconds: cost,
        }))
    }
}
