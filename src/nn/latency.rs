//! Measured inference latency: one image at a time on this machine's CPU, the median of
//! repeated runs after a warm-up.

use super::store::{Plan, WeightStore};
use crate::arch::Shape;
use burn::prelude::*;
use std::time::Instant;

/// Runs before timing starts.
const WARM_UP: usize = 3;
/// Timed runs; the median is reported.
const RUNS: usize = 15;

/// Median milliseconds of one batch-1 forward pass of `plan`'s network in `store`.
pub fn latency_ms(store: &WeightStore, plan: &Plan, input: Shape) -> f64 {
    let weights = store.weights().valid();
    let device = store.device().clone().without_autodiff();
    let x = Tensor::<4>::zeros([1, input.channels, input.height, input.width], &device);
    let mut times: Vec<f64> = (0..WARM_UP + RUNS)
        .map(|_| {
            let started = Instant::now();
            let y = weights.forward(plan, x.clone());
            // Reading the result back waits for the computation to finish.
            let _ = y.into_data();
            started.elapsed().as_secs_f64() * 1e3
        })
        .skip(WARM_UP)
        .collect();
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}
