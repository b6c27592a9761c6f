//! NASNet's ScheduledDropPath: in stand-alone training, each path marked by an
//! [`Op::DropPath`](crate::arch::Op::DropPath) node is zeroed per example with probability
//! `1 - keep`, kept paths scaled by `1 / keep`, where the keep probability falls linearly over
//! training from 1 to `1 - (cell + 1) / cells * (1 - keep0)` — deeper cells drop more
//! (`keep0` is `[training] drop_path_keep_prob`). The same dropper draws the element masks of
//! [`Op::Dropout`](crate::arch::Op::Dropout) nodes (inverted dropout). Masks come from the
//! dropper's own seeded generator, so a run repeats exactly.

use burn::prelude::*;
use rand::Rng as _;

/// Draws drop-path masks (see the module documentation).
pub struct PathDropper {
    keep: f64,
    progress: f64,
    rng: crate::rng::Rng,
}

impl PathDropper {
    /// A dropper with final keep probability `keep` (for the last cell), its masks from
    /// `seed`; training progress starts at 0 (nothing dropped).
    pub fn new(keep: f64, seed: u64) -> Self {
        PathDropper {
            keep,
            progress: 0.0,
            rng: crate::rng::seeded(seed),
        }
    }

    /// Sets how far training has come, from 0 to 1.
    pub fn set_progress(&mut self, progress: f64) {
        self.progress = progress.clamp(0.0, 1.0);
    }

    /// The keep probability of a path in cell `cell` of `cells` at the current progress.
    pub fn keep_probability(&self, cell: usize, cells: usize) -> f64 {
        let depth = (cell + 1) as f64 / cells.max(1) as f64;
        1.0 - self.progress * depth * (1.0 - self.keep)
    }

    /// `x` (`[batch, ...]`) with each example's path dropped or rescaled.
    pub fn apply(&mut self, x: Tensor<4>, cell: usize, cells: usize) -> Tensor<4> {
        let keep = self.keep_probability(cell, cells);
        if keep >= 1.0 {
            return x;
        }
        let batch = x.dims()[0];
        let mask: Vec<f32> = (0..batch)
            .map(|_| {
                if self.rng.random::<f64>() < keep {
                    (1.0 / keep) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_data(TensorData::new(mask, [batch, 1, 1, 1]), &x.device());
        x * mask
    }

    /// `x` with each value zeroed with probability `rate` and the rest scaled by
    /// `1 / (1 - rate)`.
    pub fn dropout(&mut self, x: Tensor<4>, rate: f64) -> Tensor<4> {
        if rate <= 0.0 {
            return x;
        }
        let dims = x.dims();
        let scale = (1.0 / (1.0 - rate)) as f32;
        let mask: Vec<f32> = (0..dims.iter().product::<usize>())
            .map(|_| {
                if self.rng.random::<f64>() < rate {
                    0.0
                } else {
                    scale
                }
            })
            .collect();
        let mask = Tensor::from_data(TensorData::new(mask, dims), &x.device());
        x * mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_zeroes_its_share_and_keeps_the_mean() {
        let mut dropper = PathDropper::new(1.0, 7);
        let device = crate::nn::train::training_device();
        let x = Tensor::<4>::ones([10, 4, 10, 10], &device);
        let y = dropper
            .dropout(x, 0.25)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        assert!((zeros - 0.25).abs() < 0.03, "{zeros}");
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
        assert!((mean - 1.0).abs() < 0.05, "{mean}");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6));
    }

    #[test]
    fn deeper_cells_and_later_steps_drop_more_and_kept_paths_are_rescaled() {
        let mut dropper = PathDropper::new(0.6, 1);
        assert_eq!(dropper.keep_probability(4, 5), 1.0);
        dropper.set_progress(0.5);
        assert!((dropper.keep_probability(4, 5) - 0.8).abs() < 1e-12);
        assert!((dropper.keep_probability(0, 5) - 0.96).abs() < 1e-12);
        dropper.set_progress(1.0);
        assert!((dropper.keep_probability(4, 5) - 0.6).abs() < 1e-12);

        let device = crate::nn::train::training_device();
        let x = Tensor::<4>::ones([2000, 1, 1, 1], &device);
        let y = dropper
            .apply(x, 4, 5)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let kept = y.iter().filter(|v| **v > 0.0).count() as f64 / 2000.0;
        assert!((kept - 0.6).abs() < 0.05, "kept {kept}");
        assert!(y.iter().all(|v| *v == 0.0 || (*v - 1.0 / 0.6).abs() < 1e-6));
        // The mean is preserved in expectation.
        let mean = y.iter().map(|v| *v as f64).sum::<f64>() / 2000.0;
        assert!((mean - 1.0).abs() < 0.1, "mean {mean}");
    }
}
