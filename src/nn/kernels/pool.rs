//! Max and average 2-d pooling on contiguous NCHW `f32` slices, with their gradients, one
//! plane (sample and channel) per task. Max pooling records the input position of each
//! output's maximum, and its gradient scatters the output's gradient back through those
//! indices; average pooling divides by the taps inside the input (padding is not counted),
//! and its gradient spreads each output's gradient evenly over them.

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

    /// Calls `f(output index, rows, columns)` for every output of a plane.
    fn for_each_window(&self, mut f: impl FnMut(usize, Range<usize>, Range<usize>)) {
        let [oh, ow] = self.out_size();
        for oy in 0..oh {
            let rows = self.window(0, oy);
            for ox in 0..ow {
                f(oy * ow + ox, rows.clone(), self.window(1, ox));
            }
        }
    }
}

/// Max pooling of `x`: the outputs and, for each, the index of its maximum within its plane.
pub fn max_forward(g: &PoolGeometry, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let (ip, op, w) = (g.in_plane(), g.out_plane(), g.in_size[1]);
    let mut y = vec![0.0; g.planes * op];
    let mut at = vec![0u32; g.planes * op];
    y.par_chunks_mut(op)
        .zip(at.par_chunks_mut(op))
        .zip(x.par_chunks(ip))
        .for_each(|((y, at), x)| {
            g.for_each_window(|o, rows, cols| {
                let (mut best, mut index) = (f32::NEG_INFINITY, rows.start * w + cols.start);
                for r in rows {
                    let row = &x[r * w..][cols.clone()];
                    for (c, &v) in row.iter().enumerate() {
                        // A NaN wins, so that it shows in the output.
                        if v > best || v.is_nan() {
                            (best, index) = (v, r * w + cols.start + c);
                        }
                    }
                }
                (y[o], at[o]) = (best, index as u32);
            })
        });
    (y, at)
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
    let (ip, op, w) = (g.in_plane(), g.out_plane(), g.in_size[1]);
    let mut y = vec![0.0; g.planes * op];
    y.par_chunks_mut(op)
        .zip(x.par_chunks(ip))
        .for_each(|(y, x)| {
            g.for_each_window(|o, rows, cols| {
                let count = rows.len() * cols.len();
                let sum: f32 = rows
                    .map(|r| x[r * w + cols.start..r * w + cols.end].iter().sum::<f32>())
                    .sum();
                y[o] = sum / count as f32;
            })
        });
    y
}

/// The gradient of average pooling with respect to its input.
pub fn avg_backward(g: &PoolGeometry, dy: &[f32]) -> Vec<f32> {
    let (ip, op, w) = (g.in_plane(), g.out_plane(), g.in_size[1]);
    let mut dx = vec![0.0; g.planes * ip];
    dx.par_chunks_mut(ip)
        .zip(dy.par_chunks(op))
        .for_each(|(dx, dy)| {
            g.for_each_window(|o, rows, cols| {
                let share = dy[o] / (rows.len() * cols.len()) as f32;
                for r in rows {
                    dx[r * w + cols.start..r * w + cols.end]
                        .iter_mut()
                        .for_each(|d| *d += share);
                }
            })
        });
    dx
}
