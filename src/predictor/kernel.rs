//! The loops of a [`super::dense::Dense`] layer — rows times a weight matrix, and its two
//! gradients — blocked so that a run of outputs stays in registers while the inputs stream
//! past, and compiled twice: portably, and with AVX2 for processors that have it (chosen at
//! run time). Blocking only reorders work between independent outputs: every output is the
//! same sequence of additions as in the plain loops, in the same order, with no fused
//! multiply-add, so results are bit-identical on every processor and with either path.

/// The widest run of outputs kept in registers (eight AVX2 vectors of `f64`).
const WIDEST: usize = 32;

/// `y[r] += x[r] W (+ b)` for the rows of `x` (`inputs` wide) and `y` (`outputs` wide),
/// `W` row-major `inputs x outputs`; zero inputs are skipped.
pub fn rows_times(w: &[f64], b: Option<&[f64]>, x: &[f64], y: &mut [f64], inputs: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2.
        return unsafe { rows_times_avx2(w, b, x, y, inputs) };
    }
    rows_times_loops(w, b, x, y, inputs);
}

/// `g += Σ_r x[r]ᵀ dy[r]` (the weight gradient, `inputs x outputs`) over the rows of `x` and
/// `dy`, rows in order; zero inputs are skipped.
pub fn outer_sum(x: &[f64], dy: &[f64], g: &mut [f64], inputs: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2.
        return unsafe { outer_sum_avx2(x, dy, g, inputs) };
    }
    outer_sum_loops(x, dy, g, inputs);
}

/// `dx[r] += dy[r] Wᵀ`: each `dx[r][k]` gains the sum over outputs, in order, of
/// `W[k][c] dy[r][c]`.
pub fn rows_times_transposed(w: &[f64], dy: &[f64], dx: &mut [f64], inputs: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2.
        return unsafe { rows_times_transposed_avx2(w, dy, dx, inputs) };
    }
    rows_times_transposed_loops(w, dy, dx, inputs);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn rows_times_avx2(w: &[f64], b: Option<&[f64]>, x: &[f64], y: &mut [f64], inputs: usize) {
    rows_times_loops(w, b, x, y, inputs);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn outer_sum_avx2(x: &[f64], dy: &[f64], g: &mut [f64], inputs: usize) {
    outer_sum_loops(x, dy, g, inputs);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn rows_times_transposed_avx2(w: &[f64], dy: &[f64], dx: &mut [f64], inputs: usize) {
    rows_times_transposed_loops(w, dy, dx, inputs);
}

/// The runs `[start, start + width)` that cover `0..len`: the widest first, then halving.
fn runs(len: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut start = 0;
    let mut width = WIDEST;
    std::iter::from_fn(move || {
        while width > 1 && start + width > len {
            width /= 2;
        }
        (start < len).then(|| {
            let run = (start, width);
            start += width;
            run
        })
    })
}

/// `acc[l] += a * row[l]` for a run of `L` lanes held in registers.
#[inline(always)]
fn add_scaled<const L: usize>(acc: &mut [f64; L], a: f64, row: &[f64]) {
    let row: &[f64; L] = row[..L].try_into().expect("a run of L lanes");
    for l in 0..L {
        acc[l] += a * row[l];
    }
}

/// Runs `body::<L>` with the run's width as a constant.
macro_rules! by_width {
    ($width:expr, $body:ident, $($arg:expr),*) => {
        match $width {
            32 => $body::<32>($($arg),*),
            16 => $body::<16>($($arg),*),
            8 => $body::<8>($($arg),*),
            4 => $body::<4>($($arg),*),
            2 => $body::<2>($($arg),*),
            _ => $body::<1>($($arg),*),
        }
    };
}

#[inline(always)]
fn rows_times_loops(w: &[f64], b: Option<&[f64]>, x: &[f64], y: &mut [f64], inputs: usize) {
    let outputs = w.len() / inputs.max(1);
    if outputs == 0 {
        return;
    }
    for (xr, yr) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(outputs)) {
        for (start, width) in runs(outputs) {
            by_width!(width, rows_times_run, w, b, xr, yr, start, outputs);
        }
    }
}

#[inline(always)]
fn rows_times_run<const L: usize>(
    w: &[f64],
    b: Option<&[f64]>,
    xr: &[f64],
    yr: &mut [f64],
    start: usize,
    outputs: usize,
) {
    let out: &mut [f64; L] = (&mut yr[start..start + L]).try_into().expect("L lanes");
    let mut acc = *out;
    if let Some(b) = b {
        add_scaled(&mut acc, 1.0, &b[start..]);
    }
    for (k, &a) in xr.iter().enumerate() {
        if a != 0.0 {
            add_scaled(&mut acc, a, &w[k * outputs + start..]);
        }
    }
    *out = acc;
}

#[inline(always)]
fn outer_sum_loops(x: &[f64], dy: &[f64], g: &mut [f64], inputs: usize) {
    let outputs = g.len() / inputs.max(1);
    if outputs == 0 {
        return;
    }
    for k in 0..inputs {
        let gk = &mut g[k * outputs..(k + 1) * outputs];
        for (start, width) in runs(outputs) {
            by_width!(width, outer_sum_run, x, dy, gk, k, start, inputs, outputs);
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn outer_sum_run<const L: usize>(
    x: &[f64],
    dy: &[f64],
    gk: &mut [f64],
    k: usize,
    start: usize,
    inputs: usize,
    outputs: usize,
) {
    let out: &mut [f64; L] = (&mut gk[start..start + L]).try_into().expect("L lanes");
    let mut acc = *out;
    for (xr, dr) in x.chunks_exact(inputs).zip(dy.chunks_exact(outputs)) {
        let a = xr[k];
        if a != 0.0 {
            add_scaled(&mut acc, a, &dr[start..]);
        }
    }
    *out = acc;
}

#[inline(always)]
fn rows_times_transposed_loops(w: &[f64], dy: &[f64], dx: &mut [f64], inputs: usize) {
    let outputs = w.len() / inputs.max(1);
    if outputs == 0 || inputs == 0 {
        return;
    }
    // Wᵀ, so that a run of inputs is contiguous for each output.
    let mut t = vec![0.0; w.len()];
    for (k, row) in w.chunks_exact(outputs).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * inputs + k] = v;
        }
    }
    for (dxr, dr) in dx.chunks_exact_mut(inputs).zip(dy.chunks_exact(outputs)) {
        for (start, width) in runs(inputs) {
            by_width!(width, transposed_run, &t, dr, dxr, start, inputs);
        }
    }
}

#[inline(always)]
fn transposed_run<const L: usize>(
    t: &[f64],
    dr: &[f64],
    dxr: &mut [f64],
    start: usize,
    inputs: usize,
) {
    // A sum starts from -0.0, the identity of addition, as `Iterator::sum` does.
    let mut acc = [-0.0; L];
    for (c, &a) in dr.iter().enumerate() {
        add_scaled(&mut acc, a, &t[c * inputs + start..]);
    }
    let out: &mut [f64; L] = (&mut dxr[start..start + L]).try_into().expect("L lanes");
    for l in 0..L {
        out[l] += acc[l];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    /// The plain loops the blocked ones must equal bit for bit.
    fn plain(w: &[f64], b: Option<&[f64]>, x: &[f64], y: &mut [f64], i: usize) {
        let o = w.len() / i;
        for (xr, yr) in x.chunks_exact(i).zip(y.chunks_exact_mut(o)) {
            if let Some(b) = b {
                for (v, b) in yr.iter_mut().zip(b) {
                    *v += b;
                }
            }
            for (k, &a) in xr.iter().enumerate() {
                if a != 0.0 {
                    for (v, wk) in yr.iter_mut().zip(&w[k * o..(k + 1) * o]) {
                        *v += a * wk;
                    }
                }
            }
        }
    }

    fn numbers(rng: &mut crate::rng::Rng, len: usize) -> Vec<f64> {
        (0..len)
            .map(|_| {
                if rng.random_bool(0.2) {
                    0.0
                } else {
                    rng.random_range(-3.0..3.0)
                }
            })
            .collect()
    }

    #[test]
    fn runs_cover_every_output_once_widest_first() {
        let widths: Vec<_> = runs(45).collect();
        assert_eq!(widths, [(0, 32), (32, 8), (40, 4), (44, 1)]);
        assert_eq!(runs(0).count(), 0);
        assert_eq!(runs(7).map(|r| r.1).sum::<usize>(), 7);
    }

    #[test]
    fn blocked_loops_equal_the_plain_ones_bit_for_bit() {
        let mut rng = crate::rng::seeded(11);
        for (rows, i, o) in [(8, 7, 32), (3, 32, 64), (5, 9, 1), (2, 64, 45), (1, 1, 3)] {
            let (w, b) = (numbers(&mut rng, i * o), numbers(&mut rng, o));
            let (x, dy) = (numbers(&mut rng, rows * i), numbers(&mut rng, rows * o));
            let start = numbers(&mut rng, rows * o);

            let (mut fast, mut slow) = (start.clone(), start.clone());
            rows_times(&w, Some(&b), &x, &mut fast, i);
            plain(&w, Some(&b), &x, &mut slow, i);
            assert_eq!(fast, slow, "x W + b, {rows}x{i}x{o}");

            let g0 = numbers(&mut rng, i * o);
            let (mut fast, mut slow) = (g0.clone(), g0);
            outer_sum(&x, &dy, &mut fast, i);
            for (xr, dr) in x.chunks_exact(i).zip(dy.chunks_exact(o)) {
                for (k, &a) in xr.iter().enumerate() {
                    if a != 0.0 {
                        for (g, d) in slow[k * o..(k + 1) * o].iter_mut().zip(dr) {
                            *g += a * d;
                        }
                    }
                }
            }
            assert_eq!(fast, slow, "xᵀ dy, {rows}x{i}x{o}");

            let d0 = numbers(&mut rng, rows * i);
            let (mut fast, mut slow) = (d0.clone(), d0);
            rows_times_transposed(&w, &dy, &mut fast, i);
            for (dxr, dr) in slow.chunks_exact_mut(i).zip(dy.chunks_exact(o)) {
                for (k, v) in dxr.iter_mut().enumerate() {
                    *v += w[k * o..(k + 1) * o]
                        .iter()
                        .zip(dr)
                        .map(|(a, b)| a * b)
                        .sum::<f64>();
                }
            }
            assert_eq!(fast, slow, "dy Wᵀ, {rows}x{i}x{o}");
        }
    }
}
