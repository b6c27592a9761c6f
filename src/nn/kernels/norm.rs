//! Batch norm in training, with its ReLU fused when one follows, on contiguous NCHW `f32`
//! slices: per channel the batch mean and biased variance (two passes, in vector lanes per plane and
//! `f64` across planes), then
//! `y = gamma * (x - mean) / sqrt(var + eps) + beta`, clipped at 0 with the ReLU. Its backward
//! recomputes the normalised input from the saved statistics:
//! `dx = gamma / (std * M) * (M * g - sum(g) - xhat * sum(g * xhat))`, with `g` the output's
//! gradient where the output is positive (all of it without the ReLU) and `M` the values per
//! channel. Statistics are reduced one channel per task, and outputs written one plane per
//! task; the loops run over slices, so they compile to vector code.

use rayon::prelude::*;

/// The layout of a batch-normalised tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormGeometry {
    /// Samples.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Pixels per plane.
    pub pixels: usize,
    /// Whether a ReLU follows.
    pub relu: bool,
}

/// A channel's batch statistics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moments {
    /// The mean.
    pub mean: f32,
    /// The biased variance.
    pub var: f32,
}

/// Lanes of the sums below: eight independent partial sums, which the compiler keeps in one
/// vector register.
const LANES: usize = 8;

/// `(sum f(a, b).0, sum f(a, b).1)` over the pairs of `a` and `b`, in `LANES` partial sums.
fn lane_sums(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> (f32, f32)) -> (f64, f64) {
    let (mut u, mut v) = ([0f32; LANES], [0f32; LANES]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (a, b) in ca.zip(cb) {
        for lane in 0..LANES {
            let (p, q) = f(a[lane], b[lane]);
            u[lane] += p;
            v[lane] += q;
        }
    }
    let total = |lanes: [f32; LANES]| lanes.iter().map(|&s| s as f64).sum::<f64>();
    let (mut su, mut sv) = (total(u), total(v));
    for (&a, &b) in ra.iter().zip(rb) {
        let (p, q) = f(a, b);
        su += p as f64;
        sv += q as f64;
    }
    (su, sv)
}

impl NormGeometry {
    /// Channel `c`'s values in sample `n`.
    fn plane<'a>(&self, t: &'a [f32], n: usize, c: usize) -> &'a [f32] {
        &t[(n * self.channels + c) * self.pixels..][..self.pixels]
    }

    /// Sums over channel `c` of the two parts of `f(a, b)`, plane by plane.
    fn channel_sums(
        &self,
        a: &[f32],
        b: &[f32],
        c: usize,
        f: impl Fn(f32, f32) -> (f32, f32) + Copy,
    ) -> (f64, f64) {
        (0..self.batch)
            .map(|n| lane_sums(self.plane(a, n, c), self.plane(b, n, c), f))
            .fold((0.0, 0.0), |(a, b), (u, v)| (a + u, b + v))
    }

    fn count(&self) -> f64 {
        (self.batch * self.pixels) as f64
    }
}

/// Per channel, the scale and shift the forward applies: `y = x * scale + shift`.
fn affine(moments: &[Moments], gamma: &[f32], beta: &[f32], epsilon: f64) -> Vec<(f32, f32)> {
    moments
        .iter()
        .zip(gamma.iter().zip(beta))
        .map(|(m, (&gamma, &beta))| {
            let scale = gamma / (m.var as f64 + epsilon).sqrt() as f32;
            (scale, beta - m.mean * scale)
        })
        .collect()
}

/// Batch norm of `x`: the output and each channel's moments.
pub fn forward(
    g: &NormGeometry,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
) -> (Vec<f32>, Vec<Moments>) {
    let moments: Vec<Moments> = (0..g.channels)
        .into_par_iter()
        .map(|c| {
            let mean = g.channel_sums(x, x, c, |x, _| (x, 0.0)).0 / g.count();
            let m = mean as f32;
            let var = g.channel_sums(x, x, c, |x, _| ((x - m) * (x - m), 0.0)).0 / g.count();
            Moments {
                mean: m,
                var: var as f32,
            }
        })
        .collect();
    let affine = affine(&moments, gamma, beta, epsilon);
    let mut y = vec![0.0; x.len()];
    y.par_chunks_mut(g.pixels)
        .zip(x.par_chunks(g.pixels))
        .enumerate()
        .for_each(|(plane, (y, x))| {
            let (scale, shift) = affine[plane % g.channels];
            for (y, &x) in y.iter_mut().zip(x) {
                let v = x * scale + shift;
                // Not `max`: a NaN stays a NaN, so a diverged network shows in its loss.
                *y = if g.relu && v < 0.0 { 0.0 } else { v };
            }
        });
    (y, moments)
}

/// The gradients of batch norm with respect to `x`, `gamma` and `beta`, given the output's
/// gradient `dy` and the forward's moments.
pub fn backward(
    g: &NormGeometry,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    moments: &[Moments],
    epsilon: f64,
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let affine = affine(moments, gamma, beta, epsilon);
    let inv_std: Vec<f32> = moments
        .iter()
        .map(|m| (1.0 / (m.var as f64 + epsilon).sqrt()) as f32)
        .collect();
    // Per channel, from an input and its output's gradient: the gradient reaching the norm's
    // output (zero where the forward's ReLU clipped it) and the normalised input.
    let at = |c: usize| {
        let ((scale, shift), mean, inv_std, relu) =
            (affine[c], moments[c].mean, inv_std[c], g.relu);
        move |x: f32, dy: f32| {
            let passed = if relu && x * scale + shift <= 0.0 {
                0.0
            } else {
                dy
            };
            (passed, (x - mean) * inv_std)
        }
    };
    let sums: Vec<(f32, f32)> = (0..g.channels)
        .into_par_iter()
        .map(|c| {
            let at = at(c);
            let (dbeta, dgamma) = g.channel_sums(x, dy, c, move |x, dy| {
                let (d, xhat) = at(x, dy);
                (d, d * xhat)
            });
            (dgamma as f32, dbeta as f32)
        })
        .collect();
    let m = g.count() as f32;
    let mut dx = vec![0.0; x.len()];
    dx.par_chunks_mut(g.pixels)
        .enumerate()
        .for_each(|(index, dx)| {
            let (n, c) = (index / g.channels, index % g.channels);
            let ((dgamma, dbeta), at) = (sums[c], at(c));
            let k = gamma[c] * inv_std[c] / m;
            for ((d, &x), &dy) in dx.iter_mut().zip(g.plane(x, n, c)).zip(g.plane(dy, n, c)) {
                let (passed, xhat) = at(x, dy);
                *d = k * (m * passed - dbeta - xhat * dgamma);
            }
        });
    let (dgamma, dbeta) = sums.into_iter().unzip();
    (dx, dgamma, dbeta)
}
