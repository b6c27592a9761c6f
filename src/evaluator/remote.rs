//! Evaluations done by workers: the remote evaluator queues each candidate as a task of the
//! run store ([`crate::store::tasks`]) and waits for a worker's outcome. A batch is queued
//! whole before the first of it is waited for ([`Evaluator::prefetch`]), so as many workers as
//! the batch has candidates train at once, and the search takes the outcomes in proposal
//! order: a run with workers writes the ledger a run without them does. An outcome travels
//! as JSON ([`outcome_json`], [`outcome_from_json`]), without trained weights.

use super::{Evaluator, Metrics, Outcome, Status, StatusKind};
use crate::candidate::Candidate;
use crate::error::{Error, Result};
use crate::record::join_decisions;
use crate::store::tasks::TaskState;
use crate::store::{RunId, Store};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a waiting search looks for its task's outcome.
const LOOK_EVERY: Duration = Duration::from_millis(20);

/// How long a search waits without a word before it says it is waiting for workers.
const SAY_WAITING_AFTER: Duration = Duration::from_secs(30);

/// An outcome as a task records it.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    status: StatusKind,
    reason: String,
    search: Option<f64>,
    reported: Option<f64>,
    params: Option<u64>,
    macs: Option<u64>,
    latency_ms: Option<f64>,
    simulated_seconds: f64,
}

/// `outcome` as a task records it (its weights left out).
pub fn outcome_json(outcome: &Outcome) -> String {
    let m = &outcome.metrics;
    serde_json::to_string(&Recorded {
        status: outcome.status.kind(),
        reason: outcome.status.reason().to_string(),
        search: m.search,
        reported: m.reported,
        params: m.params,
        macs: m.macs,
        latency_ms: m.latency_ms,
        simulated_seconds: m.simulated_seconds,
    })
    .expect("an outcome serialises")
}

/// The outcome a task recorded.
pub fn outcome_from_json(text: &str) -> Result<Outcome> {
    let r: Recorded = serde_json::from_str(text)
        .map_err(|e| Error::Store(format!("a worker's outcome is unreadable: {e}")))?;
    let status = match r.status {
        StatusKind::Ok => Status::Ok,
        StatusKind::Invalid => Status::Invalid(r.reason),
        StatusKind::Failed => Status::Failed(r.reason),
    };
    Ok(Outcome {
        status,
        metrics: Metrics {
            search: r.search,
            reported: r.reported,
            params: r.params,
            macs: r.macs,
            latency_ms: r.latency_ms,
            simulated_seconds: r.simulated_seconds,
        },
        cached: false,
        weights: None,
    })
}

/// The evaluator of one run and seed whose evaluations workers do.
pub struct RemoteEvaluator {
    store: Arc<Store>,
    run: RunId,
    seed: u64,
    /// Tasks queued ahead, by the candidate's decisions.
    queued: HashMap<Vec<usize>, i64>,
}

impl RemoteEvaluator {
    /// The evaluator of run `run` of `store` on `seed`.
    pub fn new(store: Arc<Store>, run: RunId, seed: u64) -> Self {
        RemoteEvaluator {
            store,
            run,
            seed,
            queued: HashMap::new(),
        }
    }

    fn queue(&self, candidate: &Candidate) -> Result<i64> {
        self.store.enqueue(
            self.run,
            self.seed,
            &candidate.hash.to_string(),
            &join_decisions(&candidate.decisions),
        )
    }
}

impl Evaluator for RemoteEvaluator {
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        let task = match self.queued.remove(&candidate.decisions) {
            Some(task) => task,
            None => self.queue(candidate)?,
        };
        let started = Instant::now();
        let mut said = false;
        loop {
            match self.store.task_state(task)? {
                TaskState::Done(outcome) => return outcome_from_json(&outcome),
                TaskState::Failed(why) => return Ok(Outcome::failed(why)),
                TaskState::Waiting => {}
            }
            if !said && started.elapsed() >= SAY_WAITING_AFTER {
                eprintln!(
                    "run {}, seed {}: waiting for a worker to evaluate {} (`archforge worker --store {}`)",
                    self.run,
                    self.seed,
                    candidate.label,
                    self.store.location()
                );
                said = true;
            }
            std::thread::sleep(LOOK_EVERY);
        }
    }

    fn evaluates_ahead(&self) -> bool {
        true
    }

    /// Queues every candidate of the batch, so that workers evaluate them side by side.
    fn prefetch(&mut self, candidates: &[Candidate]) -> Result<()> {
        for candidate in candidates {
            if !self.queued.contains_key(&candidate.decisions) {
                let task = self.queue(candidate)?;
                self.queued.insert(candidate.decisions.clone(), task);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_travels_whole_but_for_its_weights() {
        let outcome = Outcome {
            status: Status::Invalid("too wide".into()),
            metrics: Metrics {
                // 348 of 360 right: a number whose decimal form reads back exactly only
                // with a correctly rounding parser.
                search: Some(100.0 * 348.0 / 360.0),
                reported: None,
                params: Some(12),
                macs: Some(3400),
                latency_ms: Some(0.25),
                simulated_seconds: 1.5,
            },
            cached: false,
            weights: None,
        };
        assert_eq!(outcome_from_json(&outcome_json(&outcome)).unwrap(), outcome);
        assert!(outcome_from_json("{").is_err());
    }
}
