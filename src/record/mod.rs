//! One record of an architecture and what it scored — [`ArchRecord`] — flattened (serde's
//! `flatten`) into every table that lists architectures: the ledger's rows, finalists, the
//! best architecture, Pareto fronts, rank-check ground truths. So the shared columns are
//! declared once, read the same everywhere and appear in the same order.
//!
//! [`row`] is one evaluation as recorded: the run's columns around the record. [`flat`] writes
//! such rows as CSV (a header from the first row's fields, nested records
//! flattened), [`read`] reads them back; the `lenient` helpers let non-text columns read
//! through a flattened record.

pub mod flat;
pub mod read;
pub mod row;

pub use flat::{FlatWriter, write_rows};
pub use read::{lenient, read_rows};
pub use row::Row;

use serde::{Deserialize, Serialize};
use std::fmt;

/// An architecture and what it scored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArchRecord {
    /// Its label (NAS-Bench-201's `arch_str`, a tabular row key).
    pub arch: String,
    /// Its canonical hash, hex.
    pub hash: String,
    /// Its decisions, `-`-separated.
    pub decisions: String,
    /// The search metric (a validation accuracy).
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub search_metric: Option<f64>,
    /// The reported metric (a test accuracy).
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub reported_metric: Option<f64>,
    /// Trainable parameters.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub params: Option<u64>,
    /// Multiply-accumulates of one forward pass on one example.
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub macs: Option<u64>,
    /// Batch-1 latency in milliseconds.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub latency_ms: Option<f64>,
    /// `ok`, `invalid` or `failed`.
    pub status: StatusKind,
    /// Why it is invalid or failed.
    pub reason: String,
}

/// How an evaluation ended, without its reason: the record's `status` column (an
/// evaluator's [`Status`](crate::evaluator::Status) holds the reason too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusKind {
    /// Scored.
    #[default]
    Ok,
    /// Cannot be scored.
    Invalid,
    /// Broke.
    Failed,
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatusKind::Ok => "ok",
            StatusKind::Invalid => "invalid",
            StatusKind::Failed => "failed",
        })
    }
}

/// Decisions as the ledger writes them: `3-0-4`.
pub fn join_decisions(decisions: &[usize]) -> String {
    let mut text = String::with_capacity(3 * decisions.len());
    let mut digits = itoa::Buffer::new();
    for (i, &d) in decisions.iter().enumerate() {
        if i > 0 {
            text.push('-');
        }
        text.push_str(digits.format(d));
    }
    text
}

/// Parses [`join_decisions`]' format.
pub fn parse_decisions(text: &str) -> Option<Vec<usize>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split('-').map(|d| d.trim().parse().ok()).collect()
}
