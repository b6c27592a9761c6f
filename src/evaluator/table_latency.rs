//! Table latency: an evaluator wrapper that replaces each outcome's measured latency by the
//! estimate of a per-operation [`LatencyTable`] (shared by every run of an experiment), so a
//! latency-aware reward is the same every time the experiment runs; the measured value is
//! kept beside it, to report how far the table's sum is from the real thing.

use super::{Evaluator, Outcome, Status};
use crate::candidate::Candidate;
use crate::error::Result;
use crate::nn::LatencyTable;
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// One candidate's latency both ways.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyCheck {
    /// The candidate's label.
    pub arch: String,
    /// Measured batch-1 latency, milliseconds.
    pub measured_ms: f64,
    /// The table's estimate, milliseconds.
    pub table_ms: f64,
}

/// A latency table shared by the runs of one experiment, with the checks made against it.
#[derive(Debug)]
pub struct SharedLatencyTable {
    /// The table.
    pub table: Mutex<LatencyTable>,
    /// Every evaluated candidate's measured and estimated latency.
    pub checks: Mutex<Vec<LatencyCheck>>,
}

impl SharedLatencyTable {
    /// Shares `table`.
    pub fn new(table: LatencyTable) -> Arc<Self> {
        Arc::new(SharedLatencyTable {
            table: Mutex::new(table),
            checks: Mutex::new(Vec::new()),
        })
    }
}

/// Wraps an evaluator so that its outcomes carry the table's latency.
pub struct TableLatency<E> {
    inner: E,
    shared: Arc<SharedLatencyTable>,
}

impl<E> TableLatency<E> {
    /// `inner`, its latencies taken from `shared`.
    pub fn new(inner: E, shared: Arc<SharedLatencyTable>) -> Self {
        TableLatency { inner, shared }
    }
}

impl<E> TableLatency<E> {
    /// `outcome` with its measured latency replaced by the table's estimate.
    fn estimated(&self, candidate: &Candidate, mut outcome: Outcome) -> Outcome {
        if outcome.metrics.latency_ms.is_none() {
            return outcome;
        }
        let estimate = {
            let mut table = self.shared.table.lock().unwrap_or_else(|p| p.into_inner());
            table.estimate_ms(candidate.arch())
        };
        match estimate {
            Ok(table_ms) => {
                if let Some(measured_ms) = outcome.metrics.latency_ms.replace(table_ms) {
                    let mut checks = self.shared.checks.lock().unwrap_or_else(|p| p.into_inner());
                    checks.push(LatencyCheck {
                        arch: candidate.label.clone(),
                        measured_ms,
                        table_ms,
                    });
                }
            }
            Err(e) => outcome.status = Status::Failed(format!("latency table: {e}")),
        }
        outcome
    }
}

impl<E: Evaluator> Evaluator for TableLatency<E> {
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        let outcome = self.inner.evaluate(candidate)?;
        Ok(self.estimated(candidate, outcome))
    }

    fn rescore(&mut self, candidate: &Candidate) -> Result<Outcome> {
        let outcome = self.inner.rescore(candidate)?;
        Ok(self.estimated(candidate, outcome))
    }

    fn shared_weights(&self) -> Option<crate::weights::Snapshot> {
        self.inner.shared_weights()
    }

    fn resolved(&self) -> Option<serde_json::Value> {
        self.inner.resolved()
    }

    fn recall(&mut self, candidate: &Candidate, outcome: &Outcome) {
        self.inner.recall(candidate, outcome)
    }

    fn evaluates_ahead(&self) -> bool {
        self.inner.evaluates_ahead()
    }

    fn prefetch(&mut self, candidates: &[Candidate]) -> Result<()> {
        self.inner.prefetch(candidates)
    }
}
