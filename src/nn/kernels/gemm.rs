//! One matrix product over strided views of `f32` slices, through the `gemm` crate's
//! cache-blocked kernels. A view names its slice, its shape and its two strides, so a
//! transposed operand is the same slice with its strides swapped — no copy.

/// A read-only `rows x cols` matrix in `data`: element `(r, c)` at `r * row_stride + c * col_stride`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance between two rows.
    pub row_stride: usize,
    /// Distance between two columns.
    pub col_stride: usize,
}

impl<'a> View<'a> {
    /// The row-major `rows x cols` matrix at the start of `data`.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> View<'a> {
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, on the same elements.
    pub fn t(self) -> View<'a> {
        View {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Index one past the last element the view reads.
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return 0;
        }
        (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
    }
}

/// `out = a x b`, or `out += a x b` when `accumulate`; `out` is the row-major
/// `a.rows x b.cols` matrix at its start.
///
/// Panics when the shapes do not agree or a view reaches past its slice.
pub fn multiply(out: &mut [f32], a: View, b: View, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "inner dimensions differ");
    assert!(out.len() >= m * n, "the output is too small");
    assert!(a.extent() <= a.data.len() && b.extent() <= b.data.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out[..m * n].fill(0.0);
        }
        return;
    }
    // SAFETY: the asserts above keep every index the product reads within `a.data` and
    // `b.data`, and every index it writes within `out`; the three slices do not overlap
    // (`out` is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_of_plain_and_transposed_views_match_the_definition() {
        let a: Vec<f32> = (0..6).map(|i| i as f32 - 2.0).collect(); // 2x3
        let b: Vec<f32> = (0..12).map(|i| (i as f32) * 0.5).collect(); // 3x4
        let naive = |a: View, b: View| {
            let mut out = vec![0.0; a.rows * b.cols];
            for r in 0..a.rows {
                for c in 0..b.cols {
                    out[r * b.cols + c] = (0..a.cols)
                        .map(|k| {
                            a.data[r * a.row_stride + k * a.col_stride]
                                * b.data[k * b.row_stride + c * b.col_stride]
                        })
                        .sum();
                }
            }
            out
        };
        let (va, vb) = (View::rows(&a, 2, 3), View::rows(&b, 3, 4));
        let mut out = vec![7.0; 8];
        multiply(&mut out, va, vb, false);
        assert_eq!(out, naive(va, vb));
        multiply(&mut out, va, vb, true);
        let twice: Vec<f32> = naive(va, vb).iter().map(|v| 2.0 * v).collect();
        assert_eq!(out, twice);
        // (b^T a^T) = (a b)^T, read through swapped strides.
        let mut t = vec![0.0; 8];
        multiply(&mut t, vb.t(), va.t(), false);
        let ab = naive(va, vb);
        for (r, c) in (0..2).flat_map(|r| (0..4).map(move |c| (r, c))) {
            assert_eq!(t[c * 2 + r], ab[r * 4 + c]);
        }
    }
}
