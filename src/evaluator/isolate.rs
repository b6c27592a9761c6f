//! Failure isolation: an evaluator wrapper that turns a panic inside the wrapped evaluator
//! into a `Failed` outcome, so one broken candidate never ends a run or loses its results.

use super::{Evaluator, Outcome};
use crate::budget::Budget;
use crate::candidate::Candidate;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Wraps an evaluator so that its panics become `Failed` outcomes.
pub struct Isolated<E>(pub E);

impl<E: Evaluator> Evaluator for Isolated<E> {
    fn evaluate(&mut self, candidate: &Candidate, budget: &mut Budget) -> Outcome {
        // The wrapped evaluator may be left mid-update by a panic; it is only ever asked for
        // further independent evaluations, which is what its own state must tolerate.
        let spent_before = budget.evaluations();
        match catch_unwind(AssertUnwindSafe(|| self.0.evaluate(candidate, budget))) {
            Ok(outcome) => outcome,
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                // An evaluation is charged once, whether or not the evaluator got to charge it.
                if budget.evaluations() == spent_before {
                    budget.charge(1, 0.0);
                }
                Outcome::failed(format!("evaluator panicked: {message}"))
            }
        }
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
