//! The small dense linear algebra the proxies need, in `f64` on row-major square matrices:
//! the eigenvalues of a symmetric matrix (cyclic Jacobi rotations) and the log of the
//! absolute determinant (LU with partial pivoting).

/// The eigenvalues of the symmetric `n x n` matrix `a`, in no particular order.
pub fn symmetric_eigenvalues(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    let scale: f64 = a
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-14 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation that zeroes a[p][q].
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                // Zero by construction; rounding would leave eps-sized entries that keep
                // the sweeps from ever meeting the tolerance on larger matrices.
                a[p * n + q] = 0.0;
                a[q * n + p] = 0.0;
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).collect()
}

/// `log |det a|` of the `n x n` matrix `a`, each pivot's magnitude floored at `floor` (so a
/// singular matrix scores very low instead of minus infinity).
pub fn log_abs_determinant(mut a: Vec<f64>, n: usize, floor: f64) -> f64 {
    let mut total = 0.0;
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .expect("a column");
        if pivot != col {
            for k in 0..n {
                a.swap(col * n + k, pivot * n + k);
            }
        }
        let p = a[col * n + col];
        total += p.abs().max(floor).ln();
        if p.abs() < floor {
            continue;
        }
        for i in col + 1..n {
            let f = a[i * n + col] / p;
            for k in col..n {
                a[i * n + k] -= f * a[col * n + k];
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvalues_and_determinants_of_small_matrices() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let mut e = symmetric_eigenvalues(vec![2.0, 1.0, 1.0, 2.0], 2);
        e.sort_by(f64::total_cmp);
        assert!(
            (e[0] - 1.0).abs() < 1e-12 && (e[1] - 3.0).abs() < 1e-12,
            "{e:?}"
        );
        // A 3 x 3 matrix: the eigenvalues sum to the trace and multiply to the determinant.
        let a = vec![4.0, 1.0, 2.0, 1.0, 3.0, 0.5, 2.0, 0.5, 5.0];
        let e = symmetric_eigenvalues(a.clone(), 3);
        assert!((e.iter().sum::<f64>() - 12.0).abs() < 1e-10);
        let det = 4.0 * (15.0 - 0.25) - 1.0 * (5.0 - 1.0) + 2.0 * (0.5 - 6.0);
        assert!((e.iter().product::<f64>() - det).abs() < 1e-9);
        assert!((log_abs_determinant(a, 3, 1e-12) - det.ln()).abs() < 1e-12);
        // A row swap changes the sign, not the magnitude; a singular matrix hits the floor.
        assert!(
            (log_abs_determinant(vec![0.0, 2.0, 3.0, 0.0], 2, 1e-12) - 6f64.ln()).abs() < 1e-12
        );
        let singular = log_abs_determinant(vec![1.0, 2.0, 2.0, 4.0], 2, 1e-12);
        assert!(singular < -20.0, "{singular}");
    }
}
