//! The core's one error type. Every fallible contract in the crate returns [`Error`]; the
//! binary turns it into one readable line.

use std::path::PathBuf;

/// What can go wrong in the core contracts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A decision sequence that the environment does not accept (wrong length, an option out
    /// of range or masked out).
    #[error("invalid decisions {decisions:?}: {reason}")]
    InvalidDecisions {
        /// The offending sequence (or prefix).
        decisions: Vec<usize>,
        /// Why it is not accepted.
        reason: String,
    },
    /// A choice whose mask leaves no legal option.
    #[error(
        "no legal option for decision {position} (kind `{kind}`): the mask excludes all {options} options"
    )]
    NoLegalOption {
        /// Position in the sequence.
        position: usize,
        /// The decision kind's name.
        kind: String,
        /// How many options the choice has.
        options: usize,
    },
    /// An architecture graph that is malformed or whose shapes do not fit.
    #[error("architecture: {0}")]
    Arch(String),
    /// A search space written in an experiment file (or a file it names) that cannot be
    /// used, with where: `FILE:LINE:COLUMN`.
    #[error("{location}: {reason}")]
    Space {
        /// Where in which file.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A controller that cannot work with the environment or its own state.
    #[error("controller `{controller}`: {reason}")]
    Controller {
        /// The controller's name.
        controller: String,
        /// What went wrong.
        reason: String,
    },
    /// A performance predictor that cannot be fitted or asked (too few rows, an input it
    /// does not take, a non-finite target).
    #[error("predictor `{predictor}`: {reason}")]
    Predictor {
        /// The predictor's kind.
        predictor: String,
        /// What went wrong.
        reason: String,
    },
    /// A checkpoint that does not belong to the controller restoring it, or is corrupt.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A benchmark table that cannot be used (missing column, non-numeric value, duplicate row).
    #[error("table {path}: {reason}")]
    Table {
        /// Where the table came from.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A dataset that cannot be loaded or split as asked.
    #[error("{path}: {reason}")]
    Data {
        /// The file or folder (or `<embedded digits>`).
        path: PathBuf,
        /// What is wrong, and what was expected.
        reason: String,
    },
    /// A part that breaks a promise of its contract, found by the conformance check.
    #[error("{part}: {broken}")]
    Conformance {
        /// The part, e.g. ``environment `nb201` ``.
        part: String,
        /// The promise it broke, and where.
        broken: String,
    },
    /// Training that cannot go on (a NaN or infinite loss).
    #[error("training: {0}")]
    Training(String),
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A table of records that cannot be written or read (a file, a row, a field).
    #[error("{0}")]
    Record(String),
    /// A run store that cannot be opened, read or written (`STORE: what went wrong`).
    #[error("{0}")]
    Store(String),
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
