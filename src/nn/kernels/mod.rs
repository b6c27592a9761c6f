//! The trainer's own kernels for its hot operations — convolution (with the ReLU before it),
//! max / average pooling and batch norm in training (with the ReLU after it) — with their own
//! backward passes, plugged into the engine through its backend-extension mechanism, so the
//! rest of the trainer keeps calling them on ordinary tensors. The im2col buffer lives per
//! thread and is reused across steps; pooling and depthwise scratch is made once per task.
//!
//! - `gemm`: one cache-blocked matrix product over strided views;
//! - `chunks`: sums over a batch in fixed chunks, independent of the thread count;
//! - `geometry`: what a convolution computes, and the ranges its taps read;
//! - `conv`: convolution and its input and weight gradients as products over an im2col
//!   buffer kept per thread;
//! - `grid`: the zero-padded planes of a stride-1 convolution, on which every tap is a shift;
//! - `lanes`: vectors of `f32` for AVX-512, AVX2 and any processor, picked at run time;
//! - `direct`: dense convolution at stride 1 and its gradients as register-blocked loops over
//!   those planes, in those lanes;
//! - `depthwise`: depthwise convolution at stride 1 and its gradients as direct loops over
//!   padded planes;
//! - `pool`: pooling forward and backward, max pooling through recorded indices;
//! - `norm`: batch norm in training with its ReLU fused, and its backward;
//! - `engine`: the extension trait, on the Flex backend and on its autodiff decorator.
//!
//! Each kernel is checked against the engine's own operation, values and gradients, over
//! random shapes, strides, paddings, groups and dilations, and shown to keep a NaN (`tests`).

mod chunks;
mod conv;
mod depthwise;
mod direct;
mod engine;
mod gemm;
mod geometry;
mod grid;
mod lanes;
mod norm;
mod pool;

#[cfg(test)]
mod tests;

use burn::backend::Dispatch;
use burn::prelude::*;
use engine::Kernels;

/// How a convolution's kernel moves over its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvStep {
    /// Step between two outputs, per axis.
    pub stride: [usize; 2],
    /// Zeros before and after the input, per axis.
    pub padding: [usize; 2],
    /// Spacing of the kernel's taps, per axis.
    pub dilation: [usize; 2],
    /// Channel groups.
    pub groups: usize,
    /// Whether the input passes through a ReLU first (fused: one operation, one backward).
    pub relu_input: bool,
}

/// A pooling window and how it moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Step between two windows, per axis.
    pub stride: [usize; 2],
    /// Padding before and after, per axis; never counted.
    pub padding: [usize; 2],
}

/// The convolution of `x` (`[batch, in, h, w]`, through a ReLU first when `step` says so)
/// by `weight` (`[out, in / groups, kh, kw]`), without bias.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, step: ConvStep) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Kernels>::conv2d_kernel(
        x.into_dispatch(),
        weight.into_dispatch(),
        step,
    ))
}

/// Max pooling of `x` (`[batch, channels, h, w]`) over `window`.
pub fn max_pool2d(x: Tensor<4>, window: Window) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Kernels>::max_pool2d_kernel(
        x.into_dispatch(),
        window,
    ))
}

/// Average pooling of `x` over `window`, dividing by the taps inside the input.
pub fn avg_pool2d(x: Tensor<4>, window: Window) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Kernels>::avg_pool2d_kernel(
        x.into_dispatch(),
        window,
    ))
}

/// Batch norm of `x` (`[batch, channels, h, w]`) with the batch's statistics, scaled by
/// `gamma` and shifted by `beta` (`[channels]`), followed by a ReLU when `relu`: the output,
/// and the batch's means and biased variances (`[channels]` each, outside the graph).
pub fn batch_norm(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    relu: bool,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (y, moments) = <Dispatch as Kernels>::batch_norm_kernel(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
        relu,
    );
    let moments = Tensor::<2>::from_dispatch(moments);
    let c = moments.dims()[1];
    let [mean, var] = [0, 1].map(|row| moments.clone().slice(row..row + 1).reshape([c]));
    (Tensor::from_dispatch(y), mean, var)
}
