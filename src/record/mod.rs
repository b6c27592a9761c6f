//! One record of an architecture and what it scored — [`ArchRecord`] — flattened (serde's
//! `flatten`) into every table that lists architectures: the ledger's rows, finalists, the
//! best architecture, Pareto fronts, rank-check ground truths. So the shared columns are
//! declared once, read the same everywhere and appear in the same order.
//!
//! [`flat`] writes such rows as CSV (a header from the first row's fields, nested records
//! flattened), [`read`] reads them back; the `lenient` helpers let non-text columns read
//! through a flattened record.

pub mod flat;
pub mod read;

pub use flat::{FlatWriter, write_rows};
pub use read::{lenient, read_rows};

use crate::evaluator::StatusKind;
use serde::{Deserialize, Serialize};

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
