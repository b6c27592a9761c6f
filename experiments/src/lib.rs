//! # archforge-experiments — the `archforge` binary's library
//!
//! Everything between an experiment file and a run folder:
//! - [`config`]: experiment files (TOML), checked as a whole, written back resolved;
//! - [`registry`]: the one place that names every environment, controller and evaluator;
//! - [`runner`]: controllers x seeds in parallel, one flushed ledger, one run folder;
//! - [`finalists`]: the best architectures retrained stand-alone at the end of a run;
//! - [`report`] and [`plot`]: summary tables (CSV, Markdown), best-so-far and learning curves
//!   (SVG), the best architecture (JSON, DOT);
//! - [`pareto`]: accuracy-against-cost fronts per controller (CSV, SVG);
//! - [`rank_check`] and [`rank`]: supernet vs stand-alone rank correlations;
//! - [`cli`]: the command line (`run`, `compare`, `train`, `rank-check`, `list`).

pub mod cli;
pub mod config;
pub mod finalists;
pub mod pareto;
pub mod plot;
pub mod rank;
pub mod rank_check;
pub mod registry;
pub mod report;
pub mod runner;
