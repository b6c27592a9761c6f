//! The trainer: the only part of archforge that talks to the deep-learning engine (burn, on
//! its pure-Rust Flex CPU backend). It turns a candidate's [`Arch`](crate::arch::Arch) into a network
//! whose weights live in a [`WeightStore`] keyed by place, operation and shape — shared by
//! every candidate of a run for weight sharing, or fresh for stand-alone training — and trains
//! and scores it on a [`Dataset`](crate::data::Dataset).
//!
//! - [`layer`]: the weighted layers behind convolutions, norms and linear layers;
//! - [`store`]: the weight store, candidate plans, the forward pass, safetensors files;
//! - [`train`](mod@train): optimisers, schedules, the training loop and accuracy;
//! - [`drop_path`]: NASNet's ScheduledDropPath for stand-alone training;
//! - [`latency`]: measured batch-1 inference latency;
//! - [`proxy`]: zero-cost proxies of an untrained network on one batch (synflow, grad_norm,
//!   snip, jacob_cov, NASWOT);
//! - [`morph`]: function-preserving Net2Net morphs (wider, deeper, larger kernels);
//! - [`reference`](mod@reference): the reference CNN the trainer is calibrated with;
//! - [`kernels`]: the trainer's own convolution, pooling and batch-norm kernels, with their
//!   backward passes, behind the engine's backend extension.

pub mod drop_path;
pub mod kernels;
pub mod latency;
pub mod layer;
pub mod morph;
pub mod proxy;
pub mod reference;
pub mod store;
pub mod train;

#[cfg(test)]
mod tests;

pub use latency::{LatencyTable, latency_ms, machine_fingerprint};
pub use proxy::Proxy;
pub use store::{Plan, WeightStore, Weights};
pub use train::{
    DistillKind, Distillation, EpochReport, Stepper, Teacher, TrainConfig, accuracy, logits,
    path_gradients, recalibrate_batch_norm, train, train_with, training_device,
};
