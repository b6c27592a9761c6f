//! Grouped, strided, padded and dilated 2-d convolution on contiguous NCHW `f32` slices, and
//! its two gradients, as matrix products over an im2col buffer:
//!
//! - forward, per sample and group: `y[og, P] = w[og, K] x cols[K, P]`;
//! - input gradient: `cols'[K, P] = w^T x dy[og, P]`, scattered back by col2im;
//! - weight gradient: `dw[og, K] = sum over samples of dy[og, P] x cols^T` — one product per
//!   sample accumulated in place, summed by [`sum_over_batch`], so the result does not
//!   depend on the number of threads.
//!
//! `K` is a group's input channels times the kernel's area and `P` the output's pixels. A
//! pointwise convolution (1x1, stride 1, no padding) reads its input as `cols` directly, and
//! a depthwise one at stride 1 runs on [`depthwise`]'s direct loops, any other at stride 1
//! on [`direct`]'s. The im2col buffer is one
//! per thread, kept and grown across calls. A ReLU on the input runs here too ([`relu`],
//! [`relu_backward`]), fused into the operation.

use super::chunks::sum_over_batch;
use super::depthwise;
use super::direct;
use super::gemm::{View, multiply};
use super::geometry::ConvGeometry;
use rayon::prelude::*;
use std::cell::RefCell;
use std::ops::Range;

/// Elements per task of the fused ReLU.
const RELU_CHUNK: usize = 1 << 14;

thread_local! {
    /// This thread's im2col buffer.
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Visits every (im2col row, output row) pair of one group: `f(row, oy, iy, columns)`
/// with `row` the im2col row, `iy` the input row read (`None` in the padding), and `columns`
/// the valid output columns with the input column of the first.
fn for_each_tap(
    g: &ConvGeometry,
    mut f: impl FnMut(usize, usize, Option<usize>, Range<usize>, usize),
) {
    let ([kh, kw], [oh, _]) = (g.kernel, g.out_size());
    for c in 0..g.group_in() {
        for ki in 0..kh {
            let rows = g.valid(0, g.offset(0, ki));
            for kj in 0..kw {
                let row = (c * kh + ki) * kw + kj;
                let dx = g.offset(1, kj);
                let cols = g.valid(1, dx);
                let first = (cols.start as isize * g.stride[1] as isize + dx).max(0) as usize;
                for oy in 0..oh {
                    let iy = rows.contains(&oy).then(|| {
                        c * g.in_size[0]
                            + (oy as isize * g.stride[0] as isize + g.offset(0, ki)) as usize
                    });
                    f(row, oy, iy, cols.clone(), first);
                }
            }
        }
    }
}

/// Whether each im2col row is the input plane shifted by a constant: stride 1 and an output
/// as wide as the input ("same" padding), where a row's pixel `q` reads the input's pixel
/// `q + shift` except in the columns that wrap around a row's edge.
fn is_shifted_plane(g: &ConvGeometry) -> bool {
    g.stride == [1, 1] && g.out_size()[1] == g.in_size[1]
}

/// Visits every im2col row of one group as a shifted plane ([`is_shifted_plane`]):
/// `f(row, channel, shift, rows, wrap)` with `rows` the output rows that read inside the
/// input and `wrap` the columns of each of those rows that read outside it.
fn for_each_shift(
    g: &ConvGeometry,
    mut f: impl FnMut(usize, usize, isize, Range<usize>, Range<usize>),
) {
    let ([kh, kw], w) = (g.kernel, g.in_size[1] as isize);
    for c in 0..g.group_in() {
        for ki in 0..kh {
            let (dy, rows) = (g.offset(0, ki), g.valid(0, g.offset(0, ki)));
            for kj in 0..kw {
                let dx = g.offset(1, kj);
                let wrap = if dx < 0 {
                    0..(-dx).min(w) as usize
                } else {
                    (w - dx).max(0) as usize..w as usize
                };
                f((c * kh + ki) * kw + kj, c, dy * w + dx, rows.clone(), wrap);
            }
        }
    }
}

/// The pixels `q` in `rows` (of width `w`) whose `q + shift` lies in `0..len`, and the first
/// of those `q + shift`; `None` when there are none.
fn shifted_span(
    rows: &Range<usize>,
    w: usize,
    shift: isize,
    len: usize,
) -> Option<(Range<usize>, usize)> {
    let lo = ((rows.start * w) as isize).max(-shift);
    let hi = ((rows.end * w) as isize).min(len as isize - shift);
    (lo < hi).then(|| (lo as usize..hi as usize, (lo + shift) as usize))
}

/// [`im2col`] for a shifted plane: one copy per row, then zeros where it wrapped.
fn im2col_shifted(g: &ConvGeometry, x: &[f32], cols: &mut [f32]) {
    let (p, w, plane) = (g.pixels(), g.in_size[1], g.in_size[0] * g.in_size[1]);
    for_each_shift(g, |row, c, shift, rows, wrap| {
        let out = &mut cols[row * p..][..p];
        let src = &x[c * plane..][..plane];
        let Some((span, from)) = shifted_span(&rows, w, shift, plane) else {
            out.fill(0.0);
            return;
        };
        out[..span.start].fill(0.0);
        out[span.end..].fill(0.0);
        out[span.clone()].copy_from_slice(&src[from..from + span.len()]);
        for oy in rows {
            out[oy * w + wrap.start..oy * w + wrap.end].fill(0.0);
        }
    });
}

/// [`col2im`] for a shifted plane: zeros where the row wrapped, then one sum per row.
fn col2im_shifted(g: &ConvGeometry, cols: &mut [f32], dx: &mut [f32]) {
    let (p, w, plane) = (g.pixels(), g.in_size[1], g.in_size[0] * g.in_size[1]);
    for_each_shift(g, |row, c, shift, rows, wrap| {
        let src = &mut cols[row * p..][..p];
        for oy in rows.clone() {
            src[oy * w + wrap.start..oy * w + wrap.end].fill(0.0);
        }
        let Some((span, from)) = shifted_span(&rows, w, shift, plane) else {
            return;
        };
        let dst = &mut dx[c * plane + from..][..span.len()];
        dst.iter_mut().zip(&src[span]).for_each(|(d, v)| *d += v);
    });
}

/// Fills `cols` (`K x P`) with one group's patches of `x` (its `group_in` channels).
fn im2col(g: &ConvGeometry, x: &[f32], cols: &mut [f32]) {
    if is_shifted_plane(g) {
        return im2col_shifted(g, x, cols);
    }
    let ([_, ow], p, w, sw) = (g.out_size(), g.pixels(), g.in_size[1], g.stride[1]);
    for_each_tap(g, |row, oy, iy, valid, first| {
        let out = &mut cols[row * p + oy * ow..][..ow];
        let Some(iy) = iy else {
            out.fill(0.0);
            return;
        };
        if valid.is_empty() {
            out.fill(0.0);
            return;
        }
        let src = &x[iy * w..][..w];
        out[..valid.start].fill(0.0);
        out[valid.end..].fill(0.0);
        let n = valid.len();
        if sw == 1 {
            out[valid].copy_from_slice(&src[first..first + n]);
        } else {
            for (k, o) in out[valid].iter_mut().enumerate() {
                *o = src[first + k * sw];
            }
        }
    });
}

/// Adds one group's `cols` (`K x P`) back onto the input positions they were read from (the
/// buffer is scratch: a shifted plane's wrapped columns are zeroed in it first).
fn col2im(g: &ConvGeometry, cols: &mut [f32], dx: &mut [f32]) {
    if is_shifted_plane(g) {
        return col2im_shifted(g, cols, dx);
    }
    let ([_, ow], p, w, sw) = (g.out_size(), g.pixels(), g.in_size[1], g.stride[1]);
    for_each_tap(g, |row, oy, iy, valid, first| {
        let (Some(iy), false) = (iy, valid.is_empty()) else {
            return;
        };
        let src = &cols[row * p + oy * ow..][..ow];
        let dst = &mut dx[iy * w..][..w];
        let n = valid.len();
        if sw == 1 {
            let dst = &mut dst[first..first + n];
            dst.iter_mut().zip(&src[valid]).for_each(|(d, v)| *d += v);
        } else {
            for (k, v) in src[valid].iter().enumerate() {
                dst[first + k * sw] += v;
            }
        }
    });
}

/// `max(x, 0)`, element by element (a NaN stays a NaN).
pub fn relu(x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    y.par_chunks_mut(RELU_CHUNK)
        .zip(x.par_chunks(RELU_CHUNK))
        .for_each(|(y, x)| {
            // Not `max`: a NaN stays a NaN, so a diverged network shows in its loss.
            y.iter_mut()
                .zip(x)
                .for_each(|(y, &x)| *y = if x < 0.0 { 0.0 } else { x })
        });
    y
}

/// Zeroes the gradient `dx` wherever the ReLU's output `relu_x` is not positive.
pub fn relu_backward(dx: &mut [f32], relu_x: &[f32]) {
    dx.par_chunks_mut(RELU_CHUNK)
        .zip(relu_x.par_chunks(RELU_CHUNK))
        .for_each(|(dx, x)| {
            dx.iter_mut()
                .zip(x)
                .for_each(|(d, &x)| *d = if x > 0.0 { *d } else { 0.0 })
        });
}

/// Runs `f` with this thread's im2col buffer, long enough for one group of `g` (empty for a
/// pointwise convolution, which needs none).
fn with_columns<R>(g: &ConvGeometry, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let len = if g.is_pointwise() {
        0
    } else {
        g.patch() * g.pixels()
    };
    COLUMNS.with(|cell| {
        let mut buffer = cell.borrow_mut();
        if buffer.len() < len {
            buffer.resize(len, 0.0);
        }
        f(&mut buffer[..len])
    })
}

/// One group's im2col matrix of `x` (the group's channels): `x` itself for a pointwise
/// convolution, else `buffer` filled by [`im2col`].
fn columns<'a>(g: &ConvGeometry, x: &'a [f32], buffer: &'a mut [f32]) -> &'a [f32] {
    if g.is_pointwise() {
        x
    } else {
        im2col(g, x, buffer);
        buffer
    }
}

/// The convolution of `x` (`[batch, in, h, w]`) by `weight` (`[out, in / groups, kh, kw]`),
/// without bias: `[batch, out, oh, ow]`.
pub fn forward(g: &ConvGeometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    if depthwise::handles(g) {
        return depthwise::forward(g, x, weight);
    }
    if direct::handles(g) {
        return direct::forward(g, x, weight);
    }
    let (k, p, og, gi) = (g.patch(), g.pixels(), g.group_out(), g.group_in());
    let plane = g.in_size[0] * g.in_size[1];
    let mut y = vec![0.0; g.batch * g.out_channels * p];
    y.par_chunks_mut(g.out_channels * p)
        .zip(x.par_chunks(g.sample_in()))
        .for_each(|(y, x)| {
            with_columns(g, |buffer| {
                for group in 0..g.groups {
                    let cols = columns(g, &x[group * gi * plane..][..gi * plane], buffer);
                    multiply(
                        &mut y[group * og * p..][..og * p],
                        View::rows(&weight[group * og * k..], og, k),
                        View::rows(cols, k, p),
                        false,
                    );
                }
            })
        });
    y
}

/// The gradient with respect to the input, given the output's gradient `dy`.
pub fn input_grad(g: &ConvGeometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    if depthwise::handles(g) {
        return depthwise::input_grad(g, weight, dy);
    }
    if direct::handles(g) {
        return direct::input_grad(g, weight, dy);
    }
    let (k, p, og, gi) = (g.patch(), g.pixels(), g.group_out(), g.group_in());
    let plane = g.in_size[0] * g.in_size[1];
    let mut dx = vec![0.0; g.batch * g.sample_in()];
    dx.par_chunks_mut(g.sample_in())
        .zip(dy.par_chunks(g.out_channels * p))
        .for_each(|(dx, dy)| {
            with_columns(g, |cols| {
                for group in 0..g.groups {
                    let w = View::rows(&weight[group * og * k..], og, k).t();
                    let dy = View::rows(&dy[group * og * p..], og, p);
                    let dx = &mut dx[group * gi * plane..][..gi * plane];
                    if g.is_pointwise() {
                        multiply(dx, w, dy, false);
                    } else {
                        multiply(cols, w, dy, false);
                        col2im(g, cols, dx);
                    }
                }
            })
        });
    dx
}

/// The gradient with respect to the weight, given the input `x` and the output's gradient `dy`.
pub fn weight_grad(g: &ConvGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    if depthwise::handles(g) {
        return depthwise::weight_grad(g, x, dy);
    }
    if direct::handles_weight_grad(g) {
        return direct::weight_grad(g, x, dy);
    }
    let (k, p, og, gi) = (g.patch(), g.pixels(), g.group_out(), g.group_in());
    let plane = g.in_size[0] * g.in_size[1];
    let size = g.out_channels * k;
    sum_over_batch(g.batch, size, |samples, dw| {
        with_columns(g, |buffer| {
            for n in samples {
                let x = &x[n * g.sample_in()..][..g.sample_in()];
                let dy = &dy[n * g.out_channels * p..][..g.out_channels * p];
                for group in 0..g.groups {
                    let cols = columns(g, &x[group * gi * plane..][..gi * plane], buffer);
                    multiply(
                        &mut dw[group * og * k..][..og * k],
                        View::rows(&dy[group * og * p..], og, p),
                        View::rows(cols, k, p).t(),
                        true,
                    );
                }
            }
        })
    })
}
