//! `best.json` and `best.dot`: the best architecture over all runs (by reward), with its
//! metrics and graph.

use archforge::record::ArchRecord;
use serde::Serialize;

/// The best architecture of an experiment, as written to `best.json`.
#[derive(Debug, Clone, Serialize)]
pub struct BestArch {
    /// Which controller found it.
    pub controller: String,
    /// In which run.
    pub seed: u64,
    /// After how many evaluations.
    pub step: u64,
    /// Its reward.
    pub reward: f64,
    /// The architecture and what it scored.
    #[serde(flatten)]
    pub record: ArchRecord,
}
