//! Evaluators score candidates. An evaluation always ends in an [`Outcome`] — `Ok` with
//! metrics, `Invalid` (the architecture cannot be scored: not in the table, shapes that do not
//! fit) or `Failed` (something broke: a NaN loss, a panic) — and never in a panic or an error
//! that stops the run. An `Err` from an evaluator means the evaluator itself can score
//! nothing more (a supernet whose warm-up diverged): the run ends with that one error, and
//! the rows already recorded stay. Evaluators do not touch the budget: the run loop charges
//! every evaluation exactly once ([`crate::search`]), from the outcome's `cached` flag and
//! simulated cost.
//!
//! Implementations: [`TableEvaluator`] (tabular benchmarks), [`StandaloneEvaluator`]
//! (training each candidate from scratch), [`SupernetEvaluator`] (weight sharing; its warm-up
//! paths drawn by a [`Sampling`] rule), [`ProxyEvaluator`] (a zero-cost proxy of the untrained
//! network), [`RemoteEvaluator`] (workers evaluate, through the run store). Wrappers that
//! are evaluators themselves:
//! [`CachedEvaluator`] (function-equivalence cache keyed by the canonical hash or the exact
//! decisions, as [`CacheMode`] says), [`Isolated`]
//! (turns a panic into a `Failed` outcome) and [`TableLatency`] (latency from a per-operation
//! lookup table instead of a measurement).

mod cache;
mod isolate;
mod proxy;
pub mod remote;
mod sampling;
mod standalone;
mod supernet;
mod table;
mod table_latency;

pub use cache::{CacheMode, CachedEvaluator};
pub use isolate::{Isolated, panic_message};
pub use proxy::{ProxyEvaluator, ProxySettings, scoring_batch};
pub use remote::RemoteEvaluator;
pub use sampling::Sampling;
pub use standalone::{StandaloneEvaluator, Trained, train_candidate, train_candidate_with};
pub use supernet::{SplitAt, SplitChoice, SupernetEvaluator, SupernetMode, SupernetSettings};
pub use table::TableEvaluator;
pub use table_latency::{LatencyCheck, SharedLatencyTable, TableLatency};

pub use crate::record::StatusKind;

use crate::candidate::Candidate;
use crate::error::Result;
use crate::weights::Snapshot;
use std::sync::Arc;

/// How an evaluation ended, with the reason when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Scored.
    Ok,
    /// The candidate cannot be scored (not in the table, does not build).
    Invalid(String),
    /// The evaluation broke (NaN loss, panic); the run goes on.
    Failed(String),
}

impl Status {
    /// The status without its reason.
    pub fn kind(&self) -> StatusKind {
        match self {
            Status::Ok => StatusKind::Ok,
            Status::Invalid(_) => StatusKind::Invalid,
            Status::Failed(_) => StatusKind::Failed,
        }
    }

    /// The reason for `Invalid` and `Failed`, empty for `Ok`.
    pub fn reason(&self) -> &str {
        match self {
            Status::Ok => "",
            Status::Invalid(r) | Status::Failed(r) => r,
        }
    }
}

/// What an evaluation measured. Missing values are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// The metric the search optimises (a validation accuracy).
    pub search: Option<f64>,
    /// The metric the result is reported by (a test accuracy); never shown to controllers.
    pub reported: Option<f64>,
    /// Trainable parameters.
    pub params: Option<u64>,
    /// Multiply-accumulates of one forward pass on one example.
    pub macs: Option<u64>,
    /// Measured inference latency in milliseconds.
    pub latency_ms: Option<f64>,
    /// Simulated cost in seconds (a table's recorded training time).
    pub simulated_seconds: f64,
}

/// The result of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// What it measured.
    pub metrics: Metrics,
    /// Served from the cache rather than evaluated.
    pub cached: bool,
    /// The candidate's trained weights, when the evaluator was asked to keep them (a cached
    /// outcome has none).
    pub weights: Option<Arc<Snapshot>>,
}

impl Outcome {
    /// A successful evaluation.
    pub fn ok(metrics: Metrics) -> Self {
        Outcome {
            status: Status::Ok,
            metrics,
            cached: false,
            weights: None,
        }
    }

    /// A candidate that cannot be scored.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Outcome {
            status: Status::Invalid(reason.into()),
            metrics: Metrics::default(),
            cached: false,
            weights: None,
        }
    }

    /// An evaluation that broke.
    pub fn failed(reason: impl Into<String>) -> Self {
        Outcome {
            status: Status::Failed(reason.into()),
            metrics: Metrics::default(),
            cached: false,
            weights: None,
        }
    }
}

impl From<Status> for Outcome {
    /// An outcome with no metrics (an invalid or failed evaluation).
    fn from(status: Status) -> Self {
        Outcome {
            status,
            metrics: Metrics::default(),
            cached: false,
            weights: None,
        }
    }
}

/// Scores candidates.
pub trait Evaluator: Send {
    /// Scores `candidate`. A problem with the candidate is an `Invalid` or `Failed` outcome;
    /// an `Err` says the evaluator can score nothing more and ends the run.
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome>;

    /// Scores `candidate` with the evaluator's state as it stands, changing nothing that
    /// later scores depend on and serving nothing from a cache: ENAS's derivation, after a
    /// search. Evaluators without shared state score as [`Evaluator::evaluate`] does.
    fn rescore(&mut self, candidate: &Candidate) -> Result<Outcome> {
        self.evaluate(candidate)
    }

    /// The weights the evaluator keeps across candidates (a supernet's store), for the run
    /// folder; `None` for evaluators without shared weights.
    fn shared_weights(&self) -> Option<Snapshot> {
        None
    }

    /// What the evaluator decided while it ran that its settings left open (a few-shot
    /// supernet's split decision), for the run folder; `None` when nothing was.
    fn resolved(&self) -> Option<serde_json::Value> {
        None
    }

    /// Takes `outcome` as this evaluator's own earlier score of `candidate`, for a run
    /// resumed from its recorded rows ([`crate::resume`]): a cache remembers it; evaluators
    /// whose scores depend on the candidate alone have nothing to do.
    fn recall(&mut self, _candidate: &Candidate, _outcome: &Outcome) {}

    /// Whether the evaluator starts evaluations ahead ([`Evaluator::prefetch`]).
    fn evaluates_ahead(&self) -> bool {
        false
    }

    /// Says which candidates are to be evaluated next, in order, before the first of them
    /// is: an evaluator whose workers evaluate side by side ([`remote`]) starts them all;
    /// the others have nothing to do.
    fn prefetch(&mut self, _candidates: &[Candidate]) -> Result<()> {
        Ok(())
    }
}

impl<E: Evaluator + ?Sized> Evaluator for Box<E> {
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        (**self).evaluate(candidate)
    }

    fn rescore(&mut self, candidate: &Candidate) -> Result<Outcome> {
        (**self).rescore(candidate)
    }

    fn shared_weights(&self) -> Option<Snapshot> {
        (**self).shared_weights()
    }

    fn resolved(&self) -> Option<serde_json::Value> {
        (**self).resolved()
    }

    fn recall(&mut self, candidate: &Candidate, outcome: &Outcome) {
        (**self).recall(candidate, outcome)
    }

    fn evaluates_ahead(&self) -> bool {
        (**self).evaluates_ahead()
    }

    fn prefetch(&mut self, candidates: &[Candidate]) -> Result<()> {
        (**self).prefetch(candidates)
    }
}
