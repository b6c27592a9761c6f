//! Evaluations done by workers: the remote evaluator queues each candidate as a task of the
//! run store ([`crate::store::tasks`]) and waits for a worker's outcome. A batch is queued
//! whole before the first of it is waited for ([`Evaluator::prefetch`]), so as many workers as
//! the batch has candidates train at once, and the search takes the outcomes in proposal
//! order: a run with workers writes the ledger a run without them does. An outcome travels
//! as JSON, with the candidate's trained weights as a safetensors file's bytes beside it when
//! the run keeps them ([`outcome_record`], [`outcome_from_record`]).

use super::{Evaluator, Metrics, Outcome, Status, StatusKind};
use crate::candidate::Candidate;
use crate::error::{Error, Result};
use crate::record::join_decisions;
use crate::store::Store;
use crate::store::tasks::{TaskPart, TaskState};
use crate::weights::Snapshot;
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

/// `outcome` as a task records it: its JSON, and its trained weights' bytes when it carries
/// them.
pub fn outcome_record(outcome: &Outcome) -> Result<(String, Option<Vec<u8>>)> {
    let m = &outcome.metrics;
    let weights = outcome
        .weights
        .as_ref()
        .map(|w| w.to_bytes())
        .transpose()
        .map_err(|e| Error::Store(format!("trained weights do not serialise: {e}")))?;
    let json = serde_json::to_string(&Recorded {
        status: outcome.status.kind(),
        reason: outcome.status.reason().to_string(),
        search: m.search,
        reported: m.reported,
        params: m.params,
        macs: m.macs,
        latency_ms: m.latency_ms,
        simulated_seconds: m.simulated_seconds,
    })
    .expect("an outcome serialises");
    Ok((json, weights))
}

/// The outcome a task recorded: its JSON `text` and the `weights` sent with it.
pub fn outcome_from_record(text: &str, weights: Option<&[u8]>) -> Result<Outcome> {
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
        weights: weights
            .map(Snapshot::from_bytes)
            .transpose()
            .map_err(|e| Error::Store(format!("a worker's trained weights are unreadable: {e}")))?
            .map(Arc::new),
    })
}

/// The evaluator of one (controller, seed) part of a run whose evaluations workers do.
pub struct RemoteEvaluator {
    store: Arc<Store>,
    part: TaskPart,
    keep_weights: bool,
    /// Tasks queued ahead, by the candidate's decisions.
    queued: HashMap<Vec<usize>, i64>,
}

impl RemoteEvaluator {
    /// The evaluator of `part`, whose tasks are queued in `store`.
    pub fn new(store: Arc<Store>, part: TaskPart) -> Self {
        RemoteEvaluator {
            store,
            part,
            keep_weights: false,
            queued: HashMap::new(),
        }
    }

    /// The same evaluator, its outcomes carrying the trained weights workers send back (a
    /// worker sends them when the run keeps weights, and for a growing space's children).
    pub fn keeping_weights(mut self) -> Self {
        self.keep_weights = true;
        self
    }

    fn queue(&self, candidate: &Candidate) -> Result<i64> {
        self.store.enqueue(
            &self.part,
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
            match self.store.task_state(task, self.keep_weights)? {
                TaskState::Done { outcome, weights } => {
                    return outcome_from_record(&outcome, weights.as_deref());
                }
                TaskState::Failed(why) => return Ok(Outcome::failed(why)),
                TaskState::Waiting => {}
            }
            if !said && started.elapsed() >= SAY_WAITING_AFTER {
                eprintln!(
                    "run {}, seed {}: waiting for a worker to evaluate {} (`archforge worker --store {}`)",
                    self.part.run,
                    self.part.seed,
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
    use crate::weights::Values;

    #[test]
    fn an_outcome_travels_whole_with_its_weights() {
        let mut weights = Snapshot::new();
        weights.insert(
            "fc/bias".into(),
            Values {
                shape: vec![2],
                data: vec![0.5, -1.25],
            },
        );
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
            weights: Some(Arc::new(weights)),
        };
        let (json, bytes) = outcome_record(&outcome).unwrap();
        assert_eq!(
            outcome_from_record(&json, bytes.as_deref()).unwrap(),
            outcome
        );
        let bare = Outcome {
            weights: None,
            ..outcome
        };
        let (json, bytes) = outcome_record(&bare).unwrap();
        assert_eq!(bytes, None);
        assert_eq!(outcome_from_record(&json, None).unwrap(), bare);
        assert!(outcome_from_record("{", None).is_err());
        assert!(outcome_from_record(&json, Some(b"junk")).is_err());
    }
}
