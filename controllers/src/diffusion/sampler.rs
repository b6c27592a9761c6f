//! The variance-exploding SDE and its predictor–corrector sampler, as DiffusionNAG uses them.
//! Noise levels run geometrically from `sigma_max` down to `sigma_min`
//! (`σ(t) = σ_min (σ_max / σ_min)^t`); a sample starts as `N(0, σ_max²)` on the diffused
//! coordinates and, at each level, takes one Langevin corrector step (its size set by the
//! signal-to-noise ratio `snr`) and one reverse-diffusion (Euler–Maruyama) predictor step to
//! the next level; the last step adds no noise. Held coordinates are restored after every
//! step.
//!
//! Guidance adds `k · ∇ f` to the score in both steps, `f` the guiding predictor: its
//! gradient is taken at the network's denoised estimate of the clean state
//! (`x̂ = x − σ · noise`, Tweedie's formula for this SDE), where a predictor fitted on clean
//! architectures is on familiar ground, and is divided by the spread of the targets it was
//! fitted on, so that `k` is in standard deviations of the metric per unit of state. It is
//! taken once per level, before the corrector step, and used by both steps of the level.

use super::layout::Layout;
use archforge::error::Result;
use archforge::rng::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The noise range of the SDE.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// The smallest noise level.
    pub min: f64,
    /// The largest noise level.
    pub max: f64,
}

impl Noise {
    /// The noise level at time `t` in `[0, 1]`.
    pub fn sigma(&self, t: f64) -> f64 {
        self.min * (self.max / self.min).powf(t)
    }

    /// `steps` levels from the largest down to the smallest.
    pub fn levels(&self, steps: usize) -> Vec<f64> {
        let last = steps.saturating_sub(1).max(1) as f64;
        (0..steps)
            .map(|i| self.sigma(1.0 - i as f64 / last))
            .collect()
    }
}

/// The gradient a guide adds at a denoised estimate (every coordinate of the state), or
/// `None` for unguided sampling.
pub type Guide<'a> = Option<&'a (dyn Fn(&[f64]) -> Result<Vec<f64>> + Sync)>;

/// How to sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Noise levels visited.
    pub steps: usize,
    /// The corrector's signal-to-noise ratio.
    pub snr: f64,
    /// The guidance scale `k`.
    pub guidance: f64,
}

/// What predicts the noise in a state at a noise level (the trained score network).
pub trait Denoiser: Sync {
    /// The predicted noise of every coordinate of `state` at level `sigma`.
    fn noise(&self, state: &[f64], sigma: f64) -> Vec<f64>;
}

/// A denoiser over a space's layout and noise range: what the sampler runs.
pub struct Score<'a> {
    /// The space's layout.
    pub layout: &'a Layout,
    /// The noise predictor.
    pub denoiser: &'a dyn Denoiser,
    /// The SDE's noise range.
    pub noise: Noise,
}

impl Score<'_> {
    /// The unguided score at `state`, noise level `sigma`, and the denoised estimate of the
    /// clean state there.
    fn at(&self, state: &[f64], sigma: f64) -> (Vec<f64>, Vec<f64>) {
        let noise = self.denoiser.noise(state, sigma);
        let score = noise.iter().map(|e| -e / sigma).collect();
        let denoised = state
            .iter()
            .zip(&noise)
            .map(|(x, e)| x - sigma * e)
            .collect();
        (score, denoised)
    }

    /// `score + k · guidance` on the diffused coordinates, 0 on the held ones.
    fn guided(&self, mut score: Vec<f64>, guidance: Option<&[f64]>, k: f64) -> Vec<f64> {
        if let Some(g) = guidance {
            for (s, g) in score.iter_mut().zip(g) {
                *s += k * g;
            }
        }
        for (s, &free) in score.iter_mut().zip(&self.layout.free) {
            if !free {
                *s = 0.0;
            }
        }
        score
    }

    /// One sample (see the module documentation): the final denoised state.
    pub fn sample(&self, how: &Sampling, guide: Guide, rng: &mut Rng) -> Result<Vec<f64>> {
        let layout = self.layout;
        let gaussian = |rng: &mut Rng| -> Vec<f64> {
            layout
                .free
                .iter()
                .map(|&f| if f { StandardNormal.sample(rng) } else { 0.0 })
                .collect()
        };
        let levels = self.noise.levels(how.steps);
        let mut x: Vec<f64> = gaussian(rng).iter().map(|z| z * self.noise.max).collect();
        layout.hold(&mut x);
        let mut mean = x.clone();
        for (i, &sigma) in levels.iter().enumerate() {
            // Corrector: one Langevin step at this level.
            let (score, denoised) = self.at(&x, sigma);
            let guidance = match guide.filter(|_| how.guidance != 0.0) {
                Some(guide) => Some(guide(&denoised)?),
                None => None,
            };
            let score = self.guided(score, guidance.as_deref(), how.guidance);
            let z = gaussian(rng);
            let (zn, sn) = (norm(&z), norm(&score));
            if sn > 0.0 {
                let eps = 2.0 * (how.snr * zn / sn).powi(2);
                for ((v, s), z) in x.iter_mut().zip(&score).zip(&z) {
                    *v += eps * s + (2.0 * eps).sqrt() * z;
                }
            }
            // Predictor: reverse diffusion to the next level.
            let next = levels.get(i + 1).copied().unwrap_or(0.0);
            let score = self.guided(self.at(&x, sigma).0, guidance.as_deref(), how.guidance);
            let step = sigma * sigma - next * next;
            let z = gaussian(rng);
            for (((v, m), s), z) in x.iter_mut().zip(&mut mean).zip(&score).zip(&z) {
                *m = *v + step * s;
                *v = *m + if next > 0.0 { step.sqrt() * z } else { 0.0 };
            }
            layout.hold(&mut x);
            layout.hold(&mut mean);
        }
        Ok(mean)
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact denoiser of two coordinates that are always opposite signs, `(1, -1)` or
    /// `(-1, 1)` with equal odds: the posterior mean is `w (1, -1)`,
    /// `w = tanh((x1 - x2) / σ²)`.
    struct Opposite;

    impl Denoiser for Opposite {
        fn noise(&self, x: &[f64], sigma: f64) -> Vec<f64> {
            let w = ((x[0] - x[1]) / (sigma * sigma)).tanh();
            vec![(x[0] - w) / sigma, (x[1] + w) / sigma]
        }
    }

    #[test]
    fn with_the_exact_score_every_sample_lands_on_the_data() {
        let layout = Layout {
            nodes: 1,
            operations: 1,
            free: vec![true, true],
            fixed: vec![0.0, 0.0],
            mask: vec![Some(true)],
        };
        let score = Score {
            layout: &layout,
            denoiser: &Opposite,
            noise: Noise { min: 0.1, max: 5.0 },
        };
        let how = Sampling {
            steps: 30,
            snr: 0.16,
            guidance: 0.0,
        };
        let mut rng = archforge::rng::seeded(3);
        let mut positive = 0;
        for _ in 0..200 {
            let x = score.sample(&how, None, &mut rng).unwrap();
            assert!(x[0] * x[1] < 0.0 && (x[0].abs() - 1.0).abs() < 0.3, "{x:?}");
            positive += usize::from(x[0] > 0.0);
        }
        // Both points, in about equal shares.
        assert!((70..130).contains(&positive), "{positive}");
    }

    #[test]
    fn levels_fall_geometrically_from_the_largest_to_the_smallest() {
        let noise = Noise { min: 0.1, max: 5.0 };
        let levels = noise.levels(3);
        assert!((levels[0] - 5.0).abs() < 1e-12);
        assert!((levels[1] - (0.1f64 * 5.0).sqrt()).abs() < 1e-12);
        assert!((levels[2] - 0.1).abs() < 1e-12);
    }
}
