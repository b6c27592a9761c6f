//! A sum over a batch that does not depend on the number of threads: the batch is split into
//! fixed chunks of samples, each task accumulates its chunk's partial sum, and the partial
//! sums are added in chunk order. The weight gradients use it.

use rayon::prelude::*;
use std::ops::Range;

/// Samples per chunk.
const CHUNK: usize = 8;

/// The sum over `batch` samples of a vector of `size` elements: `accumulate(samples, sum)`
/// adds the given samples' terms to a zeroed partial sum.
pub fn sum_over_batch(
    batch: usize,
    size: usize,
    accumulate: impl Fn(Range<usize>, &mut [f32]) + Sync,
) -> Vec<f32> {
    let partials: Vec<Vec<f32>> = (0..batch.div_ceil(CHUNK))
        .into_par_iter()
        .map(|chunk| {
            let mut sum = vec![0.0; size];
            accumulate(chunk * CHUNK..((chunk + 1) * CHUNK).min(batch), &mut sum);
            sum
        })
        .collect();
    let mut partials = partials.into_iter();
    let mut sum = partials.next().unwrap_or_else(|| vec![0.0; size]);
    for partial in partials {
        sum.iter_mut().zip(&partial).for_each(|(a, b)| *a += b);
    }
    sum
}
