//! # archforge-environments — search spaces
//!
//! Each module is one search space behind the core [`archforge::Environment`] contract, with
//! its own experiment-file configuration type:
//! - [`nb201`]: the NAS-Bench-201 cell space (6 edges x 5 operations), with the benchmark's
//!   table embedded in the binary and the CIFAR skeleton built as a graph for parameter and
//!   MAC counts;
//! - [`tabular`]: any CSV of a user's own benchmark, one categorical decision per column.
//!
//! Environments know nothing of controllers; only the experiments registry names both.

pub mod nb201;
pub mod tabular;

pub use nb201::{Images, Nb201, Nb201Config, Nb201Dataset};
pub use tabular::{Tabular, TabularConfig, TabularDecision};
