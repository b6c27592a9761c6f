//! Dense convolution at stride 1 (any kernel, padding, dilation and group count) as direct,
//! register-blocked loops over zero-padded planes ([`Grid`]), with no im2col matrix and no
//! packing: the small channel counts of cell-based search spaces (8-32) leave a matrix
//! product too little to amortise those copies.
//!
//! On the wide layout every kernel tap is a constant shift, so one block of output is
//! `BLOCK` output channels by `L` consecutive wide pixels, held in registers while every
//! (input channel, tap) pair adds one shifted strip of input times `BLOCK` weights:
//! - forward: `y[o, q] += w[o, c, t] * x[c, q + shift(t)]`;
//! - input gradient: the same loop on the output gradient, with the kernel flipped and its
//!   channels swapped (a stride-1 convolution's transpose is a stride-1 convolution, padded by
//!   `dilation * (kernel - 1) - padding`);
//! - weight gradient: `dw[o, c, t] = sum over q of dy[o, q] * x[c, q + shift(t)]`, `BLOCK`
//!   output channels in lanes of partial sums, per sample, summed by [`sum_over_batch`] (the
//!   result does not depend on the number of threads).
//!
//! The loops are written once over [`Lanes`] and compiled three times, picked at run time:
//! with AVX-512 (16 lanes, fused multiply-add), with AVX2 and FMA (8 lanes), and for any other
//! processor.

use super::chunks::sum_over_batch;
use super::geometry::ConvGeometry;
use super::grid::Grid;
use super::lanes::{Lanes, MAX_LANES, dispatch};
use rayon::prelude::*;

/// Output channels per register block (weights are padded with zeros to a multiple).
const BLOCK: usize = 8;

/// The fewest wide outputs per plane for which the weight gradient runs here (measured: a
/// 28x28 plane's 838 run 1.8x faster than the matrix product, a 14x14 plane's 222 slower).
const WEIGHT_GRAD_PLANE: usize = 512;

/// Whether the direct path computes `g`: a stride-1 convolution whose transpose is one too.
pub fn handles(g: &ConvGeometry) -> bool {
    g.stride == [1, 1]
        && !g.is_pointwise()
        && (0..2).all(|a| g.padding[a] <= g.dilation[a] * (g.kernel[a] - 1))
}

/// One convolution of a sample's group, on wide planes.
struct Planes<'a> {
    /// The padded input planes, one after another, then [`MAX_LANES`] of slack.
    x: &'a [f32],
    /// Elements per padded plane.
    plane: usize,
    /// Input planes.
    inputs: usize,
    /// Each tap's shift; the largest plus the run of outputs fits in a plane.
    shifts: &'a [usize],
    /// Wide output elements per plane, a multiple of [`MAX_LANES`].
    len: usize,
}

impl Planes<'_> {
    /// Panics unless every strip the loops read of `x` lies inside it.
    fn check(&self) {
        let reach = self.shifts.iter().max().map_or(0, |&s| s + self.len);
        assert!(self.len.is_multiple_of(MAX_LANES));
        assert!(self.inputs == 0 || (self.inputs - 1) * self.plane + reach <= self.x.len());
    }
}

/// `wide[o, q] = sum over (c, t) of w[c, t, o] * x[c, q + shift(t)]` for `outs` output planes
/// (a multiple of [`BLOCK`]) of `p.len` elements each.
///
/// # Safety
/// `s`'s features must be present and the slices hold what the arguments say (checked by
/// [`forward_planes`]).
#[inline(always)]
unsafe fn forward_kernel<S: Lanes>(
    s: S,
    p: &Planes,
    weights: &[f32],
    outs: usize,
    wide: &mut [f32],
) {
    let taps = p.shifts.len();
    let (x, w, y) = (p.x.as_ptr(), weights.as_ptr(), wide.as_mut_ptr());
    // SAFETY: `x` reads stay within `p.x` (`Planes::check`), `w` within `inputs * taps *
    // outs` weights and `y` within `outs * len` outputs (asserted by `forward_planes`).
    unsafe {
        for ob in (0..outs).step_by(BLOCK) {
            for q0 in (0..p.len).step_by(S::L) {
                let mut acc = [s.zero(); BLOCK];
                for c in 0..p.inputs {
                    let x = x.add(c * p.plane + q0);
                    let w = w.add(c * taps * outs + ob);
                    for (t, &shift) in p.shifts.iter().enumerate() {
                        let xs = s.load(x.add(shift));
                        let w = w.add(t * outs);
                        for (o, acc) in acc.iter_mut().enumerate() {
                            *acc = s.madd(xs, s.splat(*w.add(o)), *acc);
                        }
                    }
                }
                for (o, &acc) in acc.iter().enumerate() {
                    s.store(y.add((ob + o) * p.len + q0), acc);
                }
            }
        }
    }
}

/// `dw[o, c, t] += sum over q of dy[o, q] * x[c, q + shift(t)]` for `outs` output planes (a
/// multiple of [`BLOCK`]) of the wide output gradient `dy`, zero outside the outputs.
///
/// # Safety
/// As for [`forward_kernel`] (checked by [`weight_planes`]).
#[inline(always)]
unsafe fn weight_kernel<S: Lanes>(s: S, p: &Planes, dy: &[f32], outs: usize, dw: &mut [f32]) {
    let taps = p.shifts.len();
    let (x, d) = (p.x.as_ptr(), dy.as_ptr());
    // SAFETY: `x` reads stay within `p.x` (`Planes::check`), `d` within `outs * len`
    // gradients (asserted by `weight_planes`).
    unsafe {
        for ob in (0..outs).step_by(BLOCK) {
            for c in 0..p.inputs {
                for (t, &shift) in p.shifts.iter().enumerate() {
                    let (x, d) = (x.add(c * p.plane + shift), d.add(ob * p.len));
                    let mut acc = [s.zero(); BLOCK];
                    for q0 in (0..p.len).step_by(S::L) {
                        let xs = s.load(x.add(q0));
                        for (o, acc) in acc.iter_mut().enumerate() {
                            *acc = s.madd(s.load(d.add(o * p.len + q0)), xs, *acc);
                        }
                    }
                    for (o, &acc) in acc.iter().enumerate() {
                        dw[((ob + o) * p.inputs + c) * taps + t] += s.sum(acc);
                    }
                }
            }
        }
    }
}

dispatch!(forward_any, forward_kernel, (p: &Planes, weights: &[f32], outs: usize, wide: &mut [f32]));
dispatch!(weight_any, weight_kernel, (p: &Planes, dy: &[f32], outs: usize, dw: &mut [f32]));

/// [`forward_kernel`] with the best lanes, after checking every bound it relies on.
fn forward_planes(p: &Planes, weights: &[f32], outs: usize, wide: &mut [f32]) {
    p.check();
    assert!(outs.is_multiple_of(BLOCK) && wide.len() >= outs * p.len);
    assert!(weights.len() >= p.inputs * p.shifts.len() * outs);
    forward_any(p, weights, outs, wide)
}

/// [`weight_kernel`] with the best lanes, after checking every bound it relies on.
fn weight_planes(p: &Planes, dy: &[f32], outs: usize, dw: &mut [f32]) {
    p.check();
    assert!(outs.is_multiple_of(BLOCK) && dy.len() >= outs * p.len);
    assert!(dw.len() >= outs * p.inputs * p.shifts.len());
    weight_any(p, dy, outs, dw)
}

/// `n` rounded up to a multiple of `m`.
fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

/// One group's weights laid out `[in][tap][out]`, the output channels padded with zeros to a
/// multiple of [`BLOCK`]; `transposed` swaps the channels and flips the kernel (the input
/// gradient's convolution).
fn arrange(g: &ConvGeometry, weight: &[f32], group: usize, transposed: bool) -> Vec<f32> {
    let (og, gi, taps) = (g.group_out(), g.group_in(), g.kernel[0] * g.kernel[1]);
    let (ins, outs) = if transposed { (og, gi) } else { (gi, og) };
    let padded = round_up(outs, BLOCK);
    let mut arranged = vec![0.0; ins * taps * padded];
    for o in 0..og {
        for c in 0..gi {
            let w = &weight[((group * og + o) * gi + c) * taps..][..taps];
            for (t, &v) in w.iter().enumerate() {
                let (i, t, j) = if transposed {
                    (o, taps - 1 - t, c)
                } else {
                    (c, t, o)
                };
                arranged[(i * taps + t) * padded + j] = v;
            }
        }
    }
    arranged
}

/// The convolution of `x` by weights already [`arrange`]d per group, on geometry `g`.
fn convolve(g: &ConvGeometry, x: &[f32], arranged: &[Vec<f32>]) -> Vec<f32> {
    let grid = Grid::new(g);
    let ([oh, ow], gi, og) = (grid.out, g.group_in(), g.group_out());
    let (plane_in, outs) = (g.in_size[0] * g.in_size[1], round_up(og, BLOCK));
    let len = round_up(grid.run(), MAX_LANES);
    let mut y = vec![0.0; g.batch * g.out_channels * oh * ow];
    y.par_chunks_mut(g.out_channels * oh * ow)
        .zip(x.par_chunks(g.sample_in()))
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(padded, wide), (y, x)| {
                wide.resize(outs * len, 0.0);
                for (group, weights) in arranged.iter().enumerate() {
                    grid.pad(&x[group * gi * plane_in..], gi, MAX_LANES, padded);
                    let planes = Planes {
                        x: padded,
                        plane: grid.plane(),
                        inputs: gi,
                        shifts: &grid.shifts,
                        len,
                    };
                    forward_planes(&planes, weights, outs, wide);
                    for o in 0..og {
                        grid.gather(&wide[o * len..], &mut y[(group * og + o) * oh * ow..]);
                    }
                }
            },
        );
    y
}

/// The convolution of `x` (`[batch, in, h, w]`) by `weight` (`[out, in / groups, kh, kw]`).
pub fn forward(g: &ConvGeometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let arranged: Vec<_> = (0..g.groups)
        .map(|i| arrange(g, weight, i, false))
        .collect();
    convolve(g, x, &arranged)
}

/// The gradient with respect to the input, given the output's gradient `dy`: the convolution
/// of `dy` by the flipped, transposed kernel.
pub fn input_grad(g: &ConvGeometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    let transpose = ConvGeometry {
        in_channels: g.out_channels,
        in_size: g.out_size(),
        out_channels: g.in_channels,
        padding: [0, 1].map(|a| g.dilation[a] * (g.kernel[a] - 1) - g.padding[a]),
        ..*g
    };
    let arranged: Vec<_> = (0..g.groups).map(|i| arrange(g, weight, i, true)).collect();
    convolve(&transpose, dy, &arranged)
}

/// Whether the weight gradient of `g` runs here: its loops sum each weight's products in
/// vector lanes over one sample's plane, which pays for the sum across lanes only on planes of
/// at least [`WEIGHT_GRAD_PLANE`] wide outputs; smaller ones run as one matrix product per
/// sample (`conv`).
pub fn handles_weight_grad(g: &ConvGeometry) -> bool {
    handles(g) && Grid::new(g).run() >= WEIGHT_GRAD_PLANE
}

/// The gradient with respect to the weight, given the input `x` and the output's gradient `dy`.
pub fn weight_grad(g: &ConvGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let grid = Grid::new(g);
    let ([oh, ow], gi, og) = (grid.out, g.group_in(), g.group_out());
    let (plane_in, outs, taps) = (
        g.in_size[0] * g.in_size[1],
        round_up(og, BLOCK),
        grid.shifts.len(),
    );
    let len = round_up(grid.run(), MAX_LANES);
    let group_size = outs * gi * taps;
    let sum = sum_over_batch(g.batch, g.groups * group_size, |samples, dw| {
        let (mut padded, mut wide) = (Vec::new(), Vec::new());
        for n in samples {
            for group in 0..g.groups {
                let x = &x[n * g.sample_in() + group * gi * plane_in..];
                let dy = &dy[(n * g.out_channels + group * og) * oh * ow..];
                grid.pad(x, gi, MAX_LANES, &mut padded);
                grid.spread(dy, og, len, &mut wide);
                wide.resize(outs * len, 0.0);
                let planes = Planes {
                    x: &padded,
                    plane: grid.plane(),
                    inputs: gi,
                    shifts: &grid.shifts,
                    len,
                };
                weight_planes(&planes, &wide, outs, &mut dw[group * group_size..]);
            }
        }
    });
    // Each group's padded output channels hold zeros: keep the first `og` of each.
    sum.chunks(group_size)
        .flat_map(|group| &group[..og * gi * taps])
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::kernels::lanes::Portable;

    /// Every lane type this processor has computes what the portable lanes compute, within
    /// rounding (fused and unfused multiply-adds differ in the last bits).
    #[test]
    fn every_lane_type_computes_the_same_planes() {
        let g = ConvGeometry {
            batch: 1,
            in_channels: 3,
            in_size: [9, 7],
            out_channels: 11,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [1, 1],
            dilation: [1, 1],
            groups: 1,
        };
        let grid = Grid::new(&g);
        let x: Vec<f32> = (0..3 * 63).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
        let w: Vec<f32> = (0..11 * 27).map(|i| ((i * 13) % 7) as f32 - 3.0).collect();
        let (outs, len) = (round_up(11, BLOCK), round_up(grid.run(), MAX_LANES));
        let mut padded = Vec::new();
        grid.pad(&x, 3, MAX_LANES, &mut padded);
        let planes = Planes {
            x: &padded,
            plane: grid.plane(),
            inputs: 3,
            shifts: &grid.shifts,
            len,
        };
        planes.check();
        let weights = arrange(&g, &w, 0, false);
        let run = |kernel: &dyn Fn(&mut [f32], &mut [f32])| {
            let (mut y, mut dw) = (vec![0.0; outs * len], vec![0.0; outs * 27]);
            kernel(&mut y, &mut dw);
            (y, dw)
        };
        // SAFETY: the buffers are sized as `forward_planes` and `weight_planes` assert.
        let portable = run(&|y, dw| unsafe {
            forward_kernel(Portable, &planes, &weights, outs, y);
            weight_kernel(Portable, &planes, y, outs, dw);
        });
        let dispatched = run(&|y, dw| {
            forward_planes(&planes, &weights, outs, y);
            weight_planes(&planes, y, outs, dw);
        });
        let close = |a: &[f32], b: &[f32]| {
            let scale = a.iter().fold(1f32, |m, v| m.max(v.abs()));
            a.iter().zip(b).all(|(a, b)| (a - b).abs() <= 1e-6 * scale)
        };
        assert!(portable.0.iter().any(|&v| v != 0.0));
        assert!(close(&portable.0, &dispatched.0) && close(&portable.1, &dispatched.1));
        #[cfg(target_arch = "x86_64")]
        if let Some(s) = crate::nn::kernels::lanes::Avx2::detect() {
            // SAFETY: as above; the token proves AVX2 and FMA.
            let avx2 = run(&|y, dw| unsafe {
                forward_kernel(s, &planes, &weights, outs, y);
                weight_kernel(s, &planes, y, outs, dw);
            });
            assert!(close(&portable.0, &avx2.0) && close(&portable.1, &avx2.1));
        }
    }
}
