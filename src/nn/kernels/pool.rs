//! Max and average 2-d pooling on contiguous NCHW `f32` slices, with their gradients, one
//! plane (sample and channel) per task. Max pooling scans each window and records the input
//! position of its maximum (the first in row-major order); its gradient scatters the output's
//! gradient back through those indices. Average pooling divides by the taps inside the input
//! (padding is not counted) and is separable: a pass along each row sums the window's columns
//! into a buffer of `rows x output columns` (for stride 1 as one shifted slice per tap, in
//! vector lanes), and a pass down the columns sums the window's rows, a whole output row at
//! a time; its gradient runs the same two passes in reverse.

use rayon::prelude::*;
use std::ops::Range;

/// What a pooling computes: planes, their size, the window and how it moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Planes (batch times channels).
    pub planes: usize,
    /// Input height and width.
    pub in_size: [usize; 2],
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Step between two windows, per axis.
    pub stride: [usize; 2],
    /// Padding before and after, per axis (never read).
    pub padding: [usize; 2],
}

impl PoolGeometry {
    /// Output height and width.
    pub fn out_size(&self) -> [usize; 2] {
        let axis = |a: usize| {
            (self.in_size[a] + 2 * self.padding[a] - self.kernel[a]) / self.stride[a] + 1
        };
        [axis(0), axis(1)]
    }

    /// The input positions along `axis` under output `o`'s window.
    fn window(&self, axis: usize, o: usize) -> Range<usize> {
        let start = (o * self.stride[axis]) as isize - self.padding[axis] as isize;
        let end = (start + self.kernel[axis] as isize).min(self.in_size[axis] as isize);
        start.max(0) as usize..end.max(0) as usize
    }

    fn in_plane(&self) -> usize {
        self.in_size[0] * self.in_size[1]
    }

    fn out_plane(&self) -> usize {
        let [h, w] = self.out_size();
        h * w
    }
}

/// The output columns whose window reads column `o + tap - padding` of a row of width `w`,
/// for a stride of 1: `o + tap - padding` in `0..w`.
fn tap_columns(g: &PoolGeometry, tap: usize, ow: usize) -> Range<usize> {
    let (w, p) = (g.in_size[1], g.padding[1]);
    let lo = p.saturating_sub(tap);
    lo..ow.min((w + p).saturating_sub(tap)).max(lo)
}

/// `out[o]` = the sum of `row` over output column `o`'s window.
fn row_sums(g: &PoolGeometry, windows: &[Range<usize>], row: &[f32], out: &mut [f32]) {
    if g.stride[1] == 1 {
        // One shifted slice per tap, so the sums run in vector lanes.
        out.fill(0.0);
        for tap in 0..g.kernel[1] {
            let cols = tap_columns(g, tap, out.len());
            if cols.is_empty() {
                continue;
            }
            let from = cols.start + tap - g.padding[1];
            out[cols.clone()]
                .iter_mut()
                .zip(&row[from..from + cols.len()])
                .for_each(|(o, v)| *o += v);
        }
    } else {
        for (o, cols) in out.iter_mut().zip(windows) {
            *o = row[cols.clone()].iter().sum();
        }
    }
}

/// Adds `share[o]` onto every column of output column `o`'s window in `row`.
fn spread_row(g: &PoolGeometry, windows: &[Range<usize>], share: &[f32], row: &mut [f32]) {
    if g.stride[1] == 1 {
        for tap in 0..g.kernel[1] {
            let cols = tap_columns(g, tap, share.len());
            if cols.is_empty() {
                continue;
            }
            let from = cols.start + tap - g.padding[1];
            row[from..from + cols.len()]
                .iter_mut()
                .zip(&share[cols])
                .for_each(|(d, s)| *d += s);
        }
    } else {
        for (cols, &s) in windows.iter().zip(share) {
            row[cols.clone()].iter_mut().for_each(|d| *d += s);
        }
    }
}

/// Max pooling of `x`: the outputs and, for each, the index of its maximum within its plane.
pub fn max_forward(g: &PoolGeometry, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let (ip, op, w, [oh, ow]) = (g.in_plane(), g.out_plane(), g.in_size[1], g.out_size());
    let mut y = vec![0.0; g.planes * op];
    let mut at = vec![0u32; g.planes * op];
    let windows: Vec<Range<usize>> = (0..ow).map(|o| g.window(1, o)).collect();
    y.par_chunks_mut(op)
        .zip(at.par_chunks_mut(op))
        .zip(x.par_chunks(ip))
        .for_each(|((y, at), x)| {
            if g.kernel == [2, 2] && g.stride == [2, 2] && g.padding == [0, 0] {
                return max_2x2(w, [oh, ow], x, y, at);
            }
            for oy in 0..oh {
                let rows = g.window(0, oy);
                let (y, at) = (&mut y[oy * ow..][..ow], &mut at[oy * ow..][..ow]);
                for ((y, at), cols) in y.iter_mut().zip(at.iter_mut()).zip(&windows) {
                    let (mut best, mut index) = (f32::NEG_INFINITY, rows.start * w + cols.start);
                    for r in rows.clone() {
                        let row = &x[r * w..][cols.clone()];
                        for (c, &v) in row.iter().enumerate() {
                            // A NaN wins, so that it shows in the output. Selects rather than
                            // a branch: on real data the comparison is a coin toss.
                            let wins = v > best || v.is_nan();
                            best = if wins { v } else { best };
                            index = if wins { r * w + cols.start + c } else { index };
                        }
                    }
                    (*y, *at) = (best, index as u32);
                }
            }
        });
    (y, at)
}

/// One plane of the most common max pooling, 2x2 windows at stride 2 without padding, as
/// straight-line selects.
fn max_2x2(w: usize, [oh, ow]: [usize; 2], x: &[f32], y: &mut [f32], at: &mut [u32]) {
    let pick = |(b, i): (f32, usize), (v, j): (f32, usize)| {
        let wins = v > b || v.is_nan();
        (if wins { v } else { b }, if wins { j } else { i })
    };
    for oy in 0..oh {
        let (top, bottom) = (2 * oy * w, (2 * oy + 1) * w);
        let (r0, r1) = (&x[top..][..w], &x[bottom..][..w]);
        let (y, at) = (&mut y[oy * ow..][..ow], &mut at[oy * ow..][..ow]);
        for (ox, (y, at)) in y.iter_mut().zip(at.iter_mut()).enumerate() {
            let c = 2 * ox;
            let best = pick((r0[c], top + c), (r0[c + 1], top + c + 1));
            let best = pick(best, (r1[c], bottom + c));
            let (v, i) = pick(best, (r1[c + 1], bottom + c + 1));
            (*y, *at) = (v, i as u32);
        }
    }
}

/// The gradient of max pooling with respect to its input.
pub fn max_backward(g: &PoolGeometry, at: &[u32], dy: &[f32]) -> Vec<f32> {
    let (ip, op) = (g.in_plane(), g.out_plane());
    let mut dx = vec![0.0; g.planes * ip];
    dx.par_chunks_mut(ip)
        .zip(dy.par_chunks(op).zip(at.par_chunks(op)))
        .for_each(|(dx, (dy, at))| {
            for (d, &i) in dy.iter().zip(at) {
                dx[i as usize] += d;
            }
        });
    dx
}

/// Average pooling of `x` over the taps inside the input.
pub fn avg_forward(g: &PoolGeometry, x: &[f32]) -> Vec<f32> {
    let (ip, op, [h, w], [oh, ow]) = (g.in_plane(), g.out_plane(), g.in_size, g.out_size());
    let mut y = vec![0.0; g.planes * op];
    let windows: Vec<Range<usize>> = (0..ow).map(|o| g.window(1, o)).collect();
    let inv_width: Vec<f32> = windows.iter().map(|c| 1.0 / c.len() as f32).collect();
    y.par_chunks_mut(op)
        .zip(x.par_chunks(ip))
        .for_each_init(Vec::new, |rows, (y, x)| {
            // Along each row: the window's sum.
            rows.resize(h * ow, 0.0);
            for r in 0..h {
                row_sums(g, &windows, &x[r * w..][..w], &mut rows[r * ow..][..ow]);
            }
            // Down the columns: the window's rows summed, divided by the taps.
            for oy in 0..oh {
                let (y, window) = (&mut y[oy * ow..][..ow], g.window(0, oy));
                let inv_height = 1.0 / window.len() as f32;
                y.copy_from_slice(&rows[window.start * ow..][..ow]);
                for r in window.start + 1..window.end {
                    y.iter_mut()
                        .zip(&rows[r * ow..][..ow])
                        .for_each(|(y, v)| *y += v);
                }
                y.iter_mut()
                    .zip(&inv_width)
                    .for_each(|(y, s)| *y *= s * inv_height);
            }
        });
    y
}

/// The gradient of average pooling with respect to its input.
pub fn avg_backward(g: &PoolGeometry, dy: &[f32]) -> Vec<f32> {
    let (ip, op, [h, w], [oh, ow]) = (g.in_plane(), g.out_plane(), g.in_size, g.out_size());
    let mut dx = vec![0.0; g.planes * ip];
    let windows: Vec<Range<usize>> = (0..ow).map(|o| g.window(1, o)).collect();
    let inv_width: Vec<f32> = windows.iter().map(|c| 1.0 / c.len() as f32).collect();
    dx.par_chunks_mut(ip)
        .zip(dy.par_chunks(op))
        .for_each_init(Vec::new, |rows, (dx, dy)| {
            // Up the columns: each output's gradient divided by its taps, onto the rows its
            // window read.
            rows.clear();
            rows.resize(h * ow, 0.0);
            for oy in 0..oh {
                let window = g.window(0, oy);
                let inv_height = 1.0 / window.len() as f32;
                let dy = &dy[oy * ow..][..ow];
                for r in window {
                    rows[r * ow..][..ow]
                        .iter_mut()
                        .zip(dy.iter().zip(&inv_width))
                        .for_each(|(s, (d, iw))| *s += d * iw * inv_height);
                }
            }
            // Along each row: onto the columns each window read.
            for r in 0..h {
                spread_row(g, &windows, &rows[r * ow..][..ow], &mut dx[r * w..][..w]);
            }
        });
    dx
}
