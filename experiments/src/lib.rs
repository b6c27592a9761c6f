//! # archforge-experiments — the `archforge` binary's library
//!
//! Everything between an experiment file and a run folder, by role:
//! - [`config`]: experiment files (TOML), checked as a whole, written back resolved;
//! - [`registry`]: the one place that names every environment, controller and evaluator;
//! - [`runner`]: controllers x seeds in parallel, one flushed ledger, one run folder
//!   ([`run_folder`]: its place and its files' names);
//! - [`report`]: summary tables (CSV, Markdown), best-so-far and learning curves, Pareto
//!   fronts (SVG), the best architecture (JSON, DOT);
//! - [`resume`]: a stored run whose process died, checked and claimed to go on;
//! - [`serve`]: a store's report pages on localhost, live while a run goes on;
//! - [`worker`]: evaluations handed to workers through the store, and the worker process;
//! - [`latency_target`]: a latency target relative to the machine, resolved from its table;
//! - [`teacher`]: a compression's trained teacher, checked and scored once;
//! - [`workflows`]: what runs around or instead of a search — finalists retrained at the end
//!   of a run, the supernet rank check;
//! - [`cli`]: the command line, one module per subcommand.

pub mod cli;
pub mod config;
pub mod latency_target;
pub mod registry;
pub mod report;
pub mod resume;
pub mod run_folder;
pub mod runner;
pub mod serve;
pub mod teacher;
pub mod worker;
pub mod workflows;
