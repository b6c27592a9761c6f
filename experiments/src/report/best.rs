//! `best.json` and `best.dot`: the best architecture over all runs (by reward), with its
//! metrics and graph.

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
    /// Its label.
    pub arch: String,
    /// Its decisions.
    pub decisions: Vec<usize>,
    /// Its canonical hash.
    pub hash: String,
    /// Its reward.
    pub reward: f64,
    /// Its search metric.
    pub search_metric: Option<f64>,
    /// Its reported metric.
    pub reported_metric: Option<f64>,
    /// Its parameters.
    pub params: Option<u64>,
    /// Its multiply-accumulates.
    pub macs: Option<u64>,
}
