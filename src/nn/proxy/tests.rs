//! Every proxy against its formula worked through by hand on a two-layer network
//! (`flatten -> linear 4x3 -> ReLU -> linear 3x2`, no biases), with the weights the proxies
//! draw from the same seed.

use super::*;
use crate::arch::Conv;

const SEED: u64 = 11;
const N: usize = 5;

fn two_layers() -> Arch {
    let mut arch = Arch::new(Some(Shape::new(1, 2, 2)));
    let flat = arch.add("flat", Op::Flatten, &[arch.input()]).unwrap();
    let linear = |out_features| Op::Linear {
        out_features,
        bias: false,
    };
    let fc1 = arch.add("fc1", linear(3), &[flat]).unwrap();
    let relu = arch.add("relu", Op::Relu, &[fc1]).unwrap();
    let fc2 = arch.add("fc2", linear(2), &[relu]).unwrap();
    arch.finish(fc2).unwrap();
    arch
}

fn batch() -> Batch {
    let images: Vec<f32> = (0..N * 4)
        .map(|i| ((i * 37 % 23) as f32 / 11.0) - 1.0)
        .collect();
    Batch {
        images,
        labels: vec![0, 1, 1, 0, 1],
        indices: (0..N).collect(),
    }
}

/// The weights as the proxies draw them: `W1` (4 x 3) and `W2` (3 x 2), `[inputs, outputs]`.
fn weights() -> (Vec<f64>, Vec<f64>) {
    let mut store = WeightStore::new(training_device(), SEED);
    store.plan(&two_layers()).unwrap();
    let snapshot = store.snapshot();
    let get = |name: &str| -> Vec<f64> {
        let (_, v) = snapshot
            .iter()
            .find(|(p, _)| p.starts_with(name) && p.ends_with("/weight"))
            .unwrap();
        v.data.iter().map(|x| f64::from(*x)).collect()
    };
    (get("fc1"), get("fc2"))
}

/// `a` (r x k) times `b` (k x c).
fn matmul(a: &[f64], b: &[f64], r: usize, k: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            out[i * c + j] = (0..k).map(|t| a[i * k + t] * b[t * c + j]).sum();
        }
    }
    out
}

fn transpose(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    (0..c * r).map(|t| a[(t % r) * c + t / r]).collect()
}

fn close(ours: f64, hand: f64, what: &str) {
    assert!(
        (ours - hand).abs() <= 1e-4 * hand.abs().max(1.0),
        "{what}: {ours} against {hand} by hand"
    );
}

fn ours(proxy: Proxy) -> f64 {
    score(&two_layers(), &batch(), Shape::new(1, 2, 2), proxy, SEED).unwrap()
}

#[test]
fn grad_norm_and_snip_follow_the_cross_entropy_s_gradients() {
    let (w1, w2) = weights();
    let x: Vec<f64> = batch().images.iter().map(|v| f64::from(*v)).collect();
    let h = matmul(&x, &w1, N, 4, 3);
    let a: Vec<f64> = h.iter().map(|v| v.max(0.0)).collect();
    let z = matmul(&a, &w2, N, 3, 2);
    // dL/dz of the mean cross-entropy: (softmax - one-hot) / N.
    let mut dz = vec![0.0; N * 2];
    for n in 0..N {
        let (z0, z1) = (z[2 * n], z[2 * n + 1]);
        let m = z0.max(z1);
        let (e0, e1) = ((z0 - m).exp(), (z1 - m).exp());
        let label = batch().labels[n] as usize;
        for j in 0..2 {
            let p = [e0, e1][j] / (e0 + e1);
            dz[2 * n + j] = (p - f64::from(u8::from(j == label))) / N as f64;
        }
    }
    let dw2 = matmul(&transpose(&a, N, 3), &dz, 3, N, 2);
    let da = matmul(&dz, &transpose(&w2, 3, 2), N, 2, 3);
    let dh: Vec<f64> = da
        .iter()
        .zip(&h)
        .map(|(d, h)| if *h > 0.0 { *d } else { 0.0 })
        .collect();
    let dw1 = matmul(&transpose(&x, N, 4), &dh, 4, N, 3);
    let norm = |g: &[f64]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    close(ours(Proxy::GradNorm), norm(&dw1) + norm(&dw2), "grad_norm");
    let snip: f64 = dw1
        .iter()
        .zip(&w1)
        .chain(dw2.iter().zip(&w2))
        .map(|(g, w)| (g * w).abs())
        .sum();
    close(ours(Proxy::Snip), snip, "snip");
}

#[test]
fn synflow_sums_the_absolute_network_s_path_products() {
    let (w1, w2) = weights();
    let (w1, w2): (Vec<f64>, Vec<f64>) = (
        w1.iter().map(|v| v.abs()).collect(),
        w2.iter().map(|v| v.abs()).collect(),
    );
    // On an all-ones input: h_i = Σ_k |W1|_ki, R = Σ_ij h_i |W2|_ij, so
    // ∂R/∂|W2|_ij = h_i and ∂R/∂|W1|_ki = Σ_j |W2|_ij.
    let h: Vec<f64> = (0..3)
        .map(|i| (0..4).map(|k| w1[k * 3 + i]).sum())
        .collect();
    let out: Vec<f64> = (0..3).map(|i| w2[i * 2] + w2[i * 2 + 1]).collect();
    let first: f64 = (0..4)
        .flat_map(|k| (0..3).map(move |i| (k, i)))
        .map(|(k, i)| w1[k * 3 + i] * out[i])
        .sum();
    let second: f64 = (0..3)
        .flat_map(|i| (0..2).map(move |j| (i, j)))
        .map(|(i, j)| w2[i * 2 + j] * h[i])
        .sum();
    close(ours(Proxy::Synflow), first + second, "synflow");
}

#[test]
fn jacob_cov_and_naswot_read_the_relu_pattern_of_each_image() {
    let (w1, w2) = weights();
    let x: Vec<f64> = batch().images.iter().map(|v| f64::from(*v)).collect();
    let h = matmul(&x, &w1, N, 4, 3);
    // d(Σ_j z_nj)/dx_nk = Σ_i W1_ki [h_ni > 0] (W2_i0 + W2_i1).
    let mut jacobian = vec![0.0; N * 4];
    for n in 0..N {
        for k in 0..4 {
            jacobian[n * 4 + k] = (0..3)
                .filter(|&i| h[n * 3 + i] > 0.0)
                .map(|i| w1[k * 3 + i] * (w2[i * 2] + w2[i * 2 + 1]))
                .sum();
        }
    }
    // The Jacobian by hand; the score's formula is checked on known rows below.
    close(
        ours(Proxy::JacobCov),
        jacob_cov(&jacobian, N).unwrap(),
        "jacob_cov",
    );
    let codes: Vec<bool> = h.iter().map(|v| *v > 0.0).collect();
    let mut kernel = vec![0.0; N * N];
    for i in 0..N {
        for j in 0..N {
            kernel[i * N + j] = (0..3)
                .filter(|&b| codes[i * 3 + b] == codes[j * 3 + b])
                .count() as f64;
        }
    }
    close(
        ours(Proxy::Naswot),
        linalg::log_abs_determinant(kernel, N, 1e-12),
        "naswot",
    );
}

#[test]
fn jacob_cov_follows_the_eigenvalues_of_the_rows_correlations() {
    // Orthogonal centred rows: the identity correlation, eigenvalues 1.
    let rows = [1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0];
    let k = 1e-5f64;
    let identity = -2.0 * ((1.0 + k).ln() + 1.0 / (1.0 + k));
    close(jacob_cov(&rows, 2).unwrap(), identity, "orthogonal rows");
    // Perfectly correlated rows: eigenvalues 2 and 0, the 1 / (0 + k) term dominates.
    let correlated = jacob_cov(&[1.0, -1.0, 0.0, 0.0, 2.0, -2.0, 0.0, 0.0], 2).unwrap();
    let by_hand = -(((2.0 + k).ln() + 1.0 / (2.0 + k)) + (k.ln() + 1.0 / k));
    assert!(
        (correlated - by_hand).abs() < 1e-3 * by_hand.abs(),
        "{correlated} {by_hand}"
    );
    // An image the output does not depend on: no correlation, an error.
    assert!(jacob_cov(&[1.0, -1.0, 0.0, 0.0, 3.0, 3.0, 3.0, 3.0], 2).is_err());
}

#[test]
fn synflow_takes_batch_norms_out_and_a_broken_network_is_an_error() {
    let c = Conv::relu_conv_bn(4, 3, 1);
    assert_eq!(
        without_batch_norm(&Op::Conv(c)),
        Op::Conv(Conv {
            batch_norm: false,
            ..c
        })
    );
    assert_eq!(without_batch_norm(&Op::BnRelu), Op::Relu);
    let unfinished = Arch::new(Some(Shape::new(1, 2, 2)));
    assert!(score(&unfinished, &batch(), Shape::new(1, 2, 2), Proxy::Snip, 0).is_err());
}
