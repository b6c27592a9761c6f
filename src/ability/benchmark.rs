//! Tabular benchmarks: every architecture's metrics precomputed in a [`Table`], keyed by the
//! candidate's label. An environment that is such a benchmark offers its table through
//! `Environment::benchmark`; the `table` evaluator scores by looking labels up in it.

use std::collections::HashMap;

/// A table's rows by label (hashed with a fixed, fast hash: lookups are the table
/// evaluator's whole work).
pub type Rows = HashMap<String, TableRow, foldhash::fast::FixedState>;

/// One architecture's recorded metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableRow {
    /// The metric a search may look at.
    pub search: f64,
    /// The metric results are reported by.
    pub reported: f64,
    /// Recorded cost in seconds, if the table has one.
    pub cost: Option<f64>,
}

/// A benchmark table: rows keyed by candidate label.
#[derive(Debug, Clone)]
pub struct Table {
    /// Rows by label.
    pub rows: Rows,
    /// Whether larger metrics are better.
    pub maximize: bool,
}
