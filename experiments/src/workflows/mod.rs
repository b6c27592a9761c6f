//! Workflows: what runs around a search or instead of one, each built from the runner's
//! prepared experiment and the trainer.
//! - [`compress`]: a trained teacher compressed by two searches (N2N learning), the final
//!   students fine-tuned beside the baselines; [`compress_inputs`]: what workers prepare
//!   its searches from;
//! - [`finalists`]: the best architectures of a run retrained stand-alone;
//! - [`rank_check`] (with [`rank`]'s correlations): can a supernet's ranking be trusted?
//! - [`predictor_check`]: how well each performance predictor ranks a table's unseen
//!   architectures; [`proxy_check`]: how well each zero-cost proxy ranks trained ones (each
//!   architecture's [`proxy_scores`]);
//! - [`generate`]: what a diffusion generator makes, and what its guidance changes;
//! - [`export`]: a child's weights cut out of a run's trained supernet ([`supernet`]), as a
//!   stand-alone network;
//! - [`train`]: one network trained stand-alone into a folder;
//! - [`stored_workflow`]: a compression's or rank check's run in a store (`--store`,
//!   `--resume`), with its searches as runs under it.

pub mod compress;
pub mod compress_inputs;
pub mod export;
pub mod finalists;
pub mod generate;
pub mod predictor_check;
pub mod proxy_check;
pub mod proxy_scores;
pub mod rank;
pub mod rank_check;
pub mod stored_workflow;
pub mod supernet;
pub mod train;
