//! Depthwise convolution at stride 1 (as many groups as input channels, each output channel
//! reading one input channel) as direct loops over zero-padded planes ([`Grid`]): every
//! kernel tap is one shift of the whole plane, `out[q] += weight * padded[q + shift]` over one
//! long contiguous run, which compiles to vector code. The input gradient runs the taps in reverse into a padded buffer (one input plane per
//! task, gathering its output channels), and the weight gradient is one dot product per tap
//! and sample (one output channel per task, over the batch in order), in vector lanes.

use super::geometry::ConvGeometry;
use super::grid::Grid;
use rayon::prelude::*;

/// Lanes of the weight gradient's dot products.
const LANES: usize = 8;

/// Whether the depthwise path computes `g`.
pub fn handles(g: &ConvGeometry) -> bool {
    g.groups > 1 && g.groups == g.in_channels && g.stride == [1, 1]
}

/// The depthwise convolution of `x` by `weight` (`[out, 1, kh, kw]`).
pub fn forward(g: &ConvGeometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let grid = Grid::new(g);
    let ([oh, ow], taps, plane) = (grid.out, grid.shifts.len(), g.in_size[0] * g.in_size[1]);
    let per_input = g.group_out();
    let mut y = vec![0.0; g.batch * g.out_channels * oh * ow];
    y.par_chunks_mut(oh * ow).enumerate().for_each_init(
        || (Vec::new(), Vec::new()),
        |(padded, wide), (index, y)| {
            let (n, o) = (index / g.out_channels, index % g.out_channels);
            let c = o / per_input;
            grid.pad(&x[(n * g.in_channels + c) * plane..], 1, 0, padded);
            wide.clear();
            wide.resize(grid.run(), 0.0);
            for (&shift, &wv) in grid.shifts.iter().zip(&weight[o * taps..][..taps]) {
                let src = &padded[shift..shift + wide.len()];
                wide.iter_mut().zip(src).for_each(|(d, &v)| *d += wv * v);
            }
            grid.gather(wide, y);
        },
    );
    y
}

/// The gradient with respect to the input, given the output's gradient `dy`.
pub fn input_grad(g: &ConvGeometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    let grid = Grid::new(g);
    let ([oh, ow], taps) = (grid.out, grid.shifts.len());
    let ([h, w], [ph, pw], per_input) = (g.in_size, g.padding, g.group_out());
    let mut dx = vec![0.0; g.batch * g.in_channels * h * w];
    dx.par_chunks_mut(h * w).enumerate().for_each_init(
        || (Vec::new(), Vec::new()),
        |(padded, wide), (index, dx)| {
            let (n, c) = (index / g.in_channels, index % g.in_channels);
            padded.clear();
            padded.resize(grid.hp * grid.wp, 0.0);
            for o in c * per_input..(c + 1) * per_input {
                grid.spread(
                    &dy[(n * g.out_channels + o) * oh * ow..],
                    1,
                    oh * grid.wp,
                    wide,
                );
                let run = &wide[..grid.run()];
                for (&shift, &wv) in grid.shifts.iter().zip(&weight[o * taps..][..taps]) {
                    let dst = &mut padded[shift..shift + run.len()];
                    dst.iter_mut().zip(run).for_each(|(d, &v)| *d += wv * v);
                }
            }
            for r in 0..h {
                dx[r * w..][..w].copy_from_slice(&padded[(r + ph) * grid.wp + pw..][..w]);
            }
        },
    );
    dx
}

/// `sum a[i] * b[i]`, in `LANES` partial sums.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (a, b) in ca.zip(cb) {
        for lane in 0..LANES {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The gradient with respect to the weight, given the input `x` and the output's gradient `dy`.
pub fn weight_grad(g: &ConvGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let grid = Grid::new(g);
    let ([oh, ow], taps, plane) = (grid.out, grid.shifts.len(), g.in_size[0] * g.in_size[1]);
    let per_input = g.group_out();
    let mut dw = vec![0.0; g.out_channels * taps];
    dw.par_chunks_mut(taps).enumerate().for_each_init(
        || (Vec::new(), Vec::new()),
        |(padded, wide), (o, dw)| {
            let c = o / per_input;
            for n in 0..g.batch {
                grid.pad(&x[(n * g.in_channels + c) * plane..], 1, 0, padded);
                grid.spread(
                    &dy[(n * g.out_channels + o) * oh * ow..],
                    1,
                    oh * grid.wp,
                    wide,
                );
                let run = &wide[..grid.run()];
                for (d, &shift) in dw.iter_mut().zip(&grid.shifts) {
                    *d += dot(run, &padded[shift..shift + run.len()]);
                }
            }
        },
    );
    dw
}
