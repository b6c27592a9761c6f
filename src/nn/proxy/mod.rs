//! Zero-cost proxies: scores of an untrained network, computed on one mini-batch at
//! initialisation, that rank architectures without training them (Abdelfattah et al., ICLR
//! 2021; Mellor et al., ICML 2021). The weight-based ones sum over the convolution and linear
//! weights (not biases, not batch norms); for every proxy a higher score means a better
//! network:
//! - `grad_norm`: `Σ_l ‖∂L/∂W_l‖` (Frobenius norm per layer) of the cross-entropy `L` on the
//!   batch, batch norm on the batch's statistics;
//! - `snip`: `Σ |∂L/∂W ⊙ W|`;
//! - `synflow`: data-free — every parameter replaced by its absolute value, batch norms
//!   removed, one all-ones input: `R = Σ f(1)`, score `Σ |W ⊙ ∂R/∂W|` (in `f32`, where the
//!   reference computes in `f64`: the networks here are small enough not to overflow, and an
//!   overflow is an error);
//! - `jacob_cov`: the Jacobian `J` of `Σ_k f(x)_k` with respect to each image, the eigenvalues
//!   `λ` of the correlation matrix of its rows, score `-Σ [ln(λ + 1e-5) + 1 / (λ + 1e-5)]`
//!   (a constant row — an image the output does not depend on — is an error, as the
//!   correlation is undefined there);
//! - `naswot`: per image the binary code of every ReLU (input > 0), the kernel
//!   `K = Σ_ReLU c cᵀ + (1 - c)(1 - c)ᵀ` over the batch, score `ln |det K|` (pivots floored at
//!   1e-12, so a singular kernel scores very low rather than minus infinity).
//!
//! The network's weights are drawn from the given seed exactly as stand-alone training would
//! draw them, so a proxy is a function of the architecture, the batch and the seed.

pub mod features;
pub mod linalg;

pub use features::WithProxies;

use super::store::WeightStore;
use super::train::training_device;
use crate::arch::{Arch, Op, Shape};
use crate::data::Batch;
use crate::error::{Error, Result};
use crate::weights::{Snapshot, Values};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A zero-cost proxy (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proxy {
    /// Synaptic flow.
    Synflow,
    /// The gradient norm.
    GradNorm,
    /// SNIP's connection sensitivity.
    Snip,
    /// The Jacobian covariance (NASWOT's first version).
    JacobCov,
    /// NASWOT's activation-code kernel.
    Naswot,
}

impl Proxy {
    /// Every proxy, in report order.
    pub const ALL: [Proxy; 5] = [
        Proxy::Synflow,
        Proxy::GradNorm,
        Proxy::Snip,
        Proxy::JacobCov,
        Proxy::Naswot,
    ];

    /// Whether the proxy can serve as a feature ([`WithProxies`]): its scores are positive
    /// on networks that learn, so a failed score, counted as 0, ranks below them. jacob_cov's
    /// are negative (and undefined where the output ignores an image).
    pub fn as_feature(self) -> bool {
        self != Proxy::JacobCov
    }

    /// The proxy's name in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Proxy::Synflow => "synflow",
            Proxy::GradNorm => "grad_norm",
            Proxy::Snip => "snip",
            Proxy::JacobCov => "jacob_cov",
            Proxy::Naswot => "naswot",
        }
    }
}

/// `proxy` of `arch`'s network, its weights drawn from `seed`, on `batch` (images of
/// `shape`). A network the trainer cannot build, or a score that is not finite, is an error.
pub fn score(arch: &Arch, batch: &Batch, shape: Shape, proxy: Proxy, seed: u64) -> Result<f64> {
    let device = training_device();
    let value = match proxy {
        Proxy::GradNorm | Proxy::Snip => {
            let mut store = WeightStore::new(device.clone(), seed);
            let plan = store.plan(arch)?;
            let (x, y) = tensors(batch, shape, &device);
            let logits = store.weights().forward(&plan, x);
            let loss = CrossEntropyLossConfig::new()
                .init(&device)
                .forward(logits, y);
            let grads = loss.backward();
            let pairs = store.weights().weight_gradients(&grads);
            match proxy {
                Proxy::GradNorm => pairs
                    .iter()
                    .map(|(_, g)| g.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt())
                    .sum(),
                _ => saliency(&pairs),
            }
        }
        Proxy::Synflow => {
            let linear = arch.clone().with_ops(without_batch_norm);
            let mut drawn = WeightStore::new(device.clone(), seed);
            drawn.plan(&linear)?;
            let mut store =
                WeightStore::new(device.clone(), seed).from(Arc::new(absolute(&drawn.snapshot())));
            let plan = store.plan(&linear)?;
            let ones = Tensor::<4>::ones([1, shape.channels, shape.height, shape.width], &device);
            let grads = store.weights().forward(&plan, ones).sum().backward();
            saliency(&store.weights().weight_gradients(&grads))
        }
        Proxy::JacobCov => {
            let mut store = WeightStore::new(device.clone(), seed);
            let plan = store.plan(arch)?;
            let (x, _) = tensors(batch, shape, &device);
            let x = x.require_grad();
            let grads = store.weights().forward(&plan, x.clone()).sum().backward();
            let jacobian = x
                .grad(&grads)
                .ok_or_else(|| Error::Training("jacob_cov: the input took no part".into()))?;
            let rows = to_f64(jacobian);
            jacob_cov(&rows, batch.len())?
        }
        Proxy::Naswot => {
            let mut store = WeightStore::new(device.clone(), seed);
            let plan = store.plan(arch)?;
            let weights = store.weights().clone().no_grad();
            let (x, _) = tensors(batch, shape, &device);
            let n = batch.len();
            let mut kernel = vec![0.0; n * n];
            for pattern in weights.relu_patterns(&plan, x) {
                let codes: Vec<bool> = to_f64(pattern).iter().map(|v| *v > 0.0).collect();
                add_codes(&mut kernel, &codes, n);
            }
            linalg::log_abs_determinant(kernel, n, 1e-12)
        }
    };
    if !value.is_finite() {
        return Err(Error::Training(format!(
            "the {} proxy is {value}",
            proxy.name()
        )));
    }
    Ok(value)
}

/// The batch as tensors on `device`.
fn tensors(batch: &Batch, shape: Shape, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let x = Tensor::<4>::from_data(
        TensorData::new(
            batch.images.clone(),
            [batch.len(), shape.channels, shape.height, shape.width],
        ),
        device,
    );
    let labels: Vec<i64> = batch.labels.iter().map(|&l| i64::from(l)).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch.len()]), device);
    (x, y)
}

fn to_f64<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .iter::<f32>()
        .map(f64::from)
        .collect()
}

/// `Σ |g ⊙ w|` over every weight.
fn saliency(pairs: &[(Vec<f32>, Vec<f32>)]) -> f64 {
    pairs
        .iter()
        .flat_map(|(w, g)| w.iter().zip(g))
        .map(|(w, g)| (f64::from(*w) * f64::from(*g)).abs())
        .sum()
}

/// The operation with its batch norm taken out (synflow's network).
fn without_batch_norm(op: &Op) -> Op {
    match op {
        Op::Conv(c) => Op::Conv(crate::arch::Conv {
            batch_norm: false,
            ..*c
        }),
        Op::BnRelu => Op::Relu,
        Op::BatchNorm => Op::Identity,
        other => other.clone(),
    }
}

/// Every tensor of `snapshot` replaced by its absolute values.
fn absolute(snapshot: &Snapshot) -> Snapshot {
    let mut out = Snapshot::new();
    for (path, v) in snapshot.iter() {
        out.insert(
            path.clone(),
            Values {
                shape: v.shape.clone(),
                data: v.data.iter().map(|x| x.abs()).collect(),
            },
        );
    }
    out
}

/// jacob_cov's score of the Jacobian's `n` rows (see the module documentation).
fn jacob_cov(rows: &[f64], n: usize) -> Result<f64> {
    let d = rows.len() / n;
    let centred: Vec<Vec<f64>> = rows
        .chunks_exact(d)
        .map(|r| {
            let mean = r.iter().sum::<f64>() / d as f64;
            r.iter().map(|v| v - mean).collect()
        })
        .collect();
    let norms: Vec<f64> = centred
        .iter()
        .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    if let Some(i) = norms.iter().position(|&v| v == 0.0) {
        return Err(Error::Training(format!(
            "jacob_cov: the Jacobian of image {i} is constant (the output does not depend on it)"
        )));
    }
    let mut corr = vec![1.0; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let dot: f64 = centred[i].iter().zip(&centred[j]).map(|(a, b)| a * b).sum();
                corr[i * n + j] = dot / (norms[i] * norms[j]);
            }
        }
    }
    let k = 1e-5;
    Ok(-linalg::symmetric_eigenvalues(corr, n)
        .iter()
        .map(|l| (l + k).ln() + 1.0 / (l + k))
        .sum::<f64>())
}

/// Adds one ReLU's codes (`n` images, image after image) to NASWOT's kernel:
/// `K_ij += (agreements of images i and j)`.
fn add_codes(kernel: &mut [f64], codes: &[bool], n: usize) {
    let m = codes.len() / n;
    let rows: Vec<&[bool]> = codes.chunks_exact(m).collect();
    for i in 0..n {
        for j in i..n {
            let agree = rows[i].iter().zip(rows[j]).filter(|(a, b)| a == b).count() as f64;
            kernel[i * n + j] += agree;
            if i != j {
                kernel[j * n + i] += agree;
            }
        }
    }
}

#[cfg(test)]
mod tests;
