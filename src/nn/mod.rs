//! The trainer: the only part of archforge that talks to the deep-learning engine (burn, on
//! its pure-Rust Flex CPU backend). It turns a candidate's [`Arch`](crate::arch::Arch) into a network
//! whose weights live in a [`WeightStore`] keyed by place, operation and shape — shared by
//! every candidate of a run for weight sharing, or fresh for stand-alone training — and trains
//! and scores it on a [`Dataset`](crate::data::Dataset).
//!
//! - [`layer`]: the weighted layers behind convolutions, norms and linear layers;
//! - [`store`]: the weight store, candidate plans, the forward pass, safetensors files;
//! - [`train`]: optimisers, schedules, the training loop and accuracy;
//! - [`drop_path`]: NASNet's ScheduledDropPath for stand-alone training;
//! - [`latency`]: measured batch-1 inference latency;
//! - [`reference`]: the reference CNN the trainer is calibrated with.

pub mod drop_path;
pub mod latency;
pub mod layer;
pub mod reference;
pub mod store;
pub mod train;

#[cfg(test)]
mod tests;

pub use latency::{LatencyTable, latency_ms, machine_fingerprint};
pub use store::{Plan, WeightStore, Weights};
pub use train::{
    Distillation, Stepper, Teacher, TrainConfig, accuracy, recalibrate_batch_norm, train,
    train_with,
};

/// The engine device for training: the CPU (Flex) backend with automatic differentiation.
pub fn training_device() -> burn::prelude::Device {
    keep_large_buffers();
    burn::prelude::Device::flex().autodiff()
}

/// The engine allocates and frees multi-megabyte buffers for every operation. glibc hands
/// each buffer above 128 KiB back to the kernel, so its pages are faulted in and zeroed again
/// on the next operation — about a third of a training step's time went there. Raising the
/// mmap threshold to 32 MiB and never trimming the heap keeps such buffers for reuse
/// (measured: about 40% less CPU time per step); memory stays at its peak instead of
/// shrinking between steps.
fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only changes allocator thresholds; glibc allows it at any time.
        ONCE.call_once(|| unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, i32::MAX);
        });
    }
}
