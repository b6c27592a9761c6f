//! One evaluation as recorded — a run's columns (controller, seed, step, proposal, reward,
//! budget) around the architecture's [`ArchRecord`] — the row of the ledger, of the store's
//! evaluations and of everything that reads them back.

use super::{ArchRecord, lenient};
use serde::{Deserialize, Serialize};

/// One evaluation as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The controller's name in the experiment.
    pub controller: String,
    /// The run's seed.
    #[serde(deserialize_with = "lenient::u64")]
    pub seed: u64,
    /// Budget evaluations spent after this evaluation.
    #[serde(deserialize_with = "lenient::u64")]
    pub step: u64,
    /// Index of the proposal within the run (counts uncounted duplicates too).
    #[serde(deserialize_with = "lenient::u64")]
    pub proposal: u64,
    /// The architecture and what it scored.
    #[serde(flatten)]
    pub record: ArchRecord,
    /// The reward the controller saw.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub reward: Option<f64>,
    /// Served from the cache.
    #[serde(deserialize_with = "lenient::bool")]
    pub cached: bool,
    /// Whether it counted against the budget.
    #[serde(deserialize_with = "lenient::bool")]
    pub counted: bool,
    /// Simulated cost in seconds charged to the budget.
    #[serde(deserialize_with = "lenient::f64")]
    pub simulated_seconds: f64,
    /// Wall-clock seconds of the evaluation (with measured latency, what differs between
    /// repeats of a run).
    #[serde(deserialize_with = "lenient::f64")]
    pub wall_seconds: f64,
}
