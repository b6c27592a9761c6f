//! Failure isolation: an evaluator wrapper that turns a panic inside the wrapped evaluator
//! into a `Failed` outcome, so one broken candidate never ends a run or loses its results.

use super::{Evaluator, Outcome};
use crate::candidate::Candidate;
use crate::error::Result;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Wraps an evaluator so that its panics become `Failed` outcomes.
pub struct Isolated<E>(pub E);

impl<E: Evaluator> Isolated<E> {
    fn guarded(&mut self, score: impl FnOnce(&mut E) -> Result<Outcome>) -> Result<Outcome> {
        // The wrapped evaluator may be left mid-update by a panic; it is only ever asked for
        // further independent evaluations, which is what its own state must tolerate.
        catch_unwind(AssertUnwindSafe(|| score(&mut self.0))).unwrap_or_else(|payload| {
            let message = panic_message(payload.as_ref());
            Ok(Outcome::failed(format!("evaluator panicked: {message}")))
        })
    }
}

impl<E: Evaluator> Evaluator for Isolated<E> {
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        self.guarded(|e| e.evaluate(candidate))
    }

    fn rescore(&mut self, candidate: &Candidate) -> Result<Outcome> {
        self.guarded(|e| e.rescore(candidate))
    }

    fn shared_weights(&self) -> Option<crate::weights::Snapshot> {
        self.0.shared_weights()
    }

    fn resolved(&self) -> Option<serde_json::Value> {
        self.0.resolved()
    }

    fn recall(&mut self, candidate: &Candidate, outcome: &Outcome) {
        self.0.recall(candidate, outcome)
    }

    fn evaluates_ahead(&self) -> bool {
        self.0.evaluates_ahead()
    }

    fn prefetch(&mut self, candidates: &[Candidate]) -> Result<()> {
        self.0.prefetch(candidates)
    }
}

/// The text a panic was raised with (`panic!("...")`'s message), for one-line reports.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
