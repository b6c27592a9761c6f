//! The trainable layers behind the operations that have weights: a convolution (with its
//! optional batch norm), batch norm on its own (`BnRelu`), and a linear layer. One [`Layer`]
//! per weighted node; parameter-free operations need none.
//!
//! Weights are initialised from the caller's generator, not the engine's global one, so a
//! layer's initial values depend only on its seed — whatever runs beside it on other threads.
//! The distribution is PyTorch's default: `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for weights and
//! biases, batch norm at scale 1 and shift 0.
//!
//! Convolutions, and batch norm in training (with the ReLU of `BnRelu` fused), run on the
//! trainer's own kernels ([`super::kernels`]); the engine's modules only hold the parameters
//! and running statistics.

use super::kernels::{self, ConvStep};
use crate::arch::{Conv, Op, Shape};
use crate::weights::Values;
use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Gradients;
use rand::Rng as _;

/// The epsilon every batch norm adds to its variance.
pub const BATCH_NORM_EPSILON: f64 = 1e-5;

/// A parameter of `shape` drawn uniformly from `[-bound, bound]`.
fn uniform<const D: usize>(
    shape: [usize; D],
    bound: f64,
    rng: &mut crate::rng::Rng,
    device: &Device,
) -> Param<Tensor<D>> {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| rng.random_range(-bound..=bound) as f32)
        .collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// A convolution and its optional batch norm.
#[derive(Module, Debug)]
pub struct ConvLayer {
    conv: Conv2d,
    norm: Option<BatchNorm>,
}

impl ConvLayer {
    /// The convolution `c` on `x` (with its ReLU before, if any), by the trainer's own kernel:
    /// with the whole weight when its size is `c`'s, else (a slicing store's envelope) with its
    /// leading channels and central kernel window.
    fn convolve(&self, c: &Conv, x: Tensor<4>) -> Tensor<4> {
        let held = self.conv.weight.dims();
        let [out, per_group] = [c.out_channels, x.dims()[1] / c.groups];
        let [kh, kw] = c.kernel;
        let weight = if held == [out, per_group, kh, kw] {
            self.conv.weight.val()
        } else {
            let (top, left) = ((held[2] - kh) / 2, (held[3] - kw) / 2);
            self.conv
                .weight
                .val()
                .slice([0..out, 0..per_group, top..top + kh, left..left + kw])
        };
        let pad = |axis: usize| c.dilation * (c.kernel[axis] - 1) / 2;
        let step = ConvStep {
            stride: [c.stride; 2],
            padding: [pad(0), pad(1)],
            dilation: [c.dilation; 2],
            groups: c.groups,
            relu_input: c.relu_before,
        };
        let y = kernels::conv2d(x, weight, step);
        match &self.conv.bias {
            Some(bias) => y + bias.val().slice(0..out).reshape([1, out, 1, 1]),
            None => y,
        }
    }
}

/// The weights of one operation.
// A store holds few layers, each made once: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Layer {
    /// `Op::Conv`.
    Conv(ConvLayer),
    /// The batch norm of `Op::BnRelu` or `Op::BatchNorm`.
    Norm(BatchNorm),
    /// `Op::Linear`.
    Linear(Linear),
}

impl Layer {
    /// The layer for `op` on an input of shape `input`, on `device`, initialised from `rng`;
    /// `None` for an operation without weights.
    pub fn new(op: &Op, input: Shape, device: &Device, rng: &mut crate::rng::Rng) -> Option<Layer> {
        match op {
            Op::Conv(c) => {
                let pad = |axis: usize| c.dilation * (c.kernel[axis] - 1) / 2;
                let mut conv = Conv2dConfig::new([input.channels, c.out_channels], c.kernel)
                    .with_stride([c.stride, c.stride])
                    .with_dilation([c.dilation, c.dilation])
                    .with_groups(c.groups)
                    .with_padding(PaddingConfig2d::Explicit(pad(0), pad(1), pad(0), pad(1)))
                    .with_bias(c.bias)
                    .with_initializer(Initializer::Zeros)
                    .init(device);
                let per_group = input.channels / c.groups;
                let bound = 1.0 / ((per_group * c.kernel[0] * c.kernel[1]) as f64).sqrt();
                conv.weight = uniform(
                    [c.out_channels, per_group, c.kernel[0], c.kernel[1]],
                    bound,
                    rng,
                    device,
                );
                if c.bias {
                    conv.bias = Some(uniform([c.out_channels], bound, rng, device));
                }
                let norm = c.batch_norm.then(|| {
                    BatchNormConfig::new(c.out_channels)
                        .with_epsilon(BATCH_NORM_EPSILON)
                        .init(device)
                });
                Some(Layer::Conv(ConvLayer { conv, norm }))
            }
            Op::BnRelu | Op::BatchNorm => Some(Layer::Norm(
                BatchNormConfig::new(input.channels)
                    .with_epsilon(BATCH_NORM_EPSILON)
                    .init(device),
            )),
            Op::Linear { out_features, bias } => {
                let mut linear = LinearConfig::new(input.channels, *out_features)
                    .with_bias(*bias)
                    .with_initializer(Initializer::Zeros)
                    .init(device);
                let bound = 1.0 / (input.channels as f64).sqrt();
                linear.weight = uniform([input.channels, *out_features], bound, rng, device);
                if *bias {
                    linear.bias = Some(uniform([*out_features], bound, rng, device));
                }
                Some(Layer::Linear(linear))
            }
            _ => None,
        }
    }

    /// The layer's tensors, named within the layer: `weight` and `bias` of a convolution or
    /// linear layer (a linear weight is `[inputs, outputs]`), and `gamma`, `beta`,
    /// `running_mean`, `running_var` of a batch norm (`bn/...` after a convolution).
    pub fn tensors(&self) -> Vec<(&'static str, Values)> {
        let mut out = Vec::new();
        match self {
            Layer::Conv(l) => {
                out.push(("weight", values(l.conv.weight.val())));
                if let Some(b) = &l.conv.bias {
                    out.push(("bias", values(b.val())));
                }
                if let Some(norm) = &l.norm {
                    out.extend(norm_tensors(norm, true));
                }
            }
            Layer::Norm(norm) => out.extend(norm_tensors(norm, false)),
            Layer::Linear(l) => {
                out.push(("weight", values(l.weight.val())));
                if let Some(b) = &l.bias {
                    out.push(("bias", values(b.val())));
                }
            }
        }
        out
    }

    /// Replaces the tensor named `name` (as [`Layer::tensors`] names it) by `v`, on `device`;
    /// why not when the layer has no such tensor or its shape differs.
    pub fn set(&mut self, name: &str, v: &Values, device: &Device) -> Result<(), String> {
        let held = self
            .tensors()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, h)| h.shape)
            .ok_or_else(|| format!("the layer has no tensor `{name}`"))?;
        if held != v.shape {
            return Err(format!(
                "shape {:?} where the layer holds {held:?}",
                v.shape
            ));
        }
        let param = |shape: &[usize]| -> Tensor<1> {
            Tensor::from_data(
                TensorData::new(v.data.clone(), [shape.iter().product::<usize>()]),
                device,
            )
        };
        match (self, name) {
            (Layer::Conv(l), "weight") => {
                let shape: [usize; 4] = held.try_into().expect("a 4-d weight");
                l.conv.weight = Param::from_tensor(Tensor::from_data(
                    TensorData::new(v.data.clone(), shape),
                    device,
                ));
            }
            (Layer::Conv(l), "bias") => l.conv.bias = Some(Param::from_tensor(param(&held))),
            (Layer::Conv(l), bn) => {
                let norm = l.norm.as_mut().expect("listed among the tensors");
                set_norm(norm, bn.trim_start_matches("bn/"), param(&held));
            }
            (Layer::Norm(norm), n) => set_norm(norm, n, param(&held)),
            (Layer::Linear(l), "weight") => {
                let shape: [usize; 2] = held.try_into().expect("a 2-d weight");
                l.weight = Param::from_tensor(Tensor::from_data(
                    TensorData::new(v.data.clone(), shape),
                    device,
                ));
            }
            (Layer::Linear(l), _) => l.bias = Some(Param::from_tensor(param(&held))),
        }
        Ok(())
    }

    /// A convolution's or linear layer's weight and its gradient in `grads`, as flat values
    /// (`None` for a batch norm, or a weight that took no part in the graph).
    pub fn weight_gradient(&self, grads: &Gradients) -> Option<(Vec<f32>, Vec<f32>)> {
        fn flat<const D: usize>(t: Tensor<D>) -> Vec<f32> {
            values(t).data
        }
        match self {
            Layer::Conv(l) => {
                let w = l.conv.weight.val();
                let g = w.grad(grads)?;
                Some((flat(w), flat(g)))
            }
            Layer::Linear(l) => {
                let w = l.weight.val();
                let g = w.grad(grads)?;
                Some((flat(w), flat(g)))
            }
            Layer::Norm(_) => None,
        }
    }

    /// Sets the momentum with which batch norm (if any) updates its running statistics.
    pub fn set_batch_norm_momentum(&mut self, momentum: f64) {
        match self {
            Layer::Conv(ConvLayer {
                norm: Some(norm), ..
            })
            | Layer::Norm(norm) => norm.momentum = momentum,
            _ => {}
        }
    }

    /// Applies the layer (`op` says what surrounds the weights: a ReLU before a convolution,
    /// the ReLU after `BnRelu`'s norm).
    pub fn forward(&self, op: &Op, x: Tensor<4>) -> Tensor<4> {
        match (self, op) {
            (Layer::Conv(l), Op::Conv(c)) => {
                let y = l.convolve(c, x);
                match &l.norm {
                    Some(norm) => batch_norm(norm, y, false),
                    None => y,
                }
            }
            (Layer::Norm(norm), op) => batch_norm(norm, x, *op == Op::BnRelu),
            (Layer::Linear(linear), _) => {
                let [b, c, h, w] = x.dims();
                let y = linear.forward(x.reshape([b, c * h * w]));
                let [b, n] = y.dims();
                y.reshape([b, n, 1, 1])
            }
            (Layer::Conv(_), _) => unreachable!("a convolution layer is only made for Op::Conv"),
        }
    }
}

/// A tensor's values, as a snapshot holds them.
fn values<const D: usize>(t: Tensor<D>) -> Values {
    let shape = t.dims().to_vec();
    let data = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("weights are f32");
    Values { shape, data }
}

/// A batch norm's tensors, under `bn/` when it follows a convolution.
fn norm_tensors(norm: &BatchNorm, after_conv: bool) -> Vec<(&'static str, Values)> {
    let names: [&'static str; 4] = if after_conv {
        ["bn/gamma", "bn/beta", "bn/running_mean", "bn/running_var"]
    } else {
        ["gamma", "beta", "running_mean", "running_var"]
    };
    vec![
        (names[0], values(norm.gamma.val())),
        (names[1], values(norm.beta.val())),
        (names[2], values(norm.running_mean.value_sync())),
        (names[3], values(norm.running_var.value_sync())),
    ]
}

fn set_norm(norm: &mut BatchNorm, name: &str, t: Tensor<1>) {
    match name {
        "gamma" => norm.gamma = Param::from_tensor(t),
        "beta" => norm.beta = Param::from_tensor(t),
        "running_mean" => norm.running_mean = RunningState::new(t),
        _ => norm.running_var = RunningState::new(t),
    }
}

/// Batch norm of `x` (`[batch, channels, height, width]`) by the first `channels` of `norm`
/// (all of them unless a slicing store's variant is narrower), followed by a ReLU when `relu`:
/// on an autodiff device, with the batch's statistics (biased variance, as the engine's
/// module) by the trainer's own kernel, updating the running ones by `norm.momentum`;
/// elsewhere with the running statistics.
fn batch_norm(norm: &BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let c = x.dims()[1];
    let whole = c == norm.gamma.dims()[0];
    let part = |t: Tensor<1>| if whole { t } else { t.slice(0..c) };
    if !x.device().is_autodiff() {
        // One formula for whole and sliced norms, so a child cut out of a supernet computes
        // exactly what the supernet computed for it.
        let per_channel = |t: Tensor<1>| part(t).reshape([1, c, 1, 1]);
        let inv_std = (per_channel(norm.running_var.value()) + norm.epsilon)
            .sqrt()
            .recip();
        let scale = inv_std * per_channel(norm.gamma.val());
        let y = (x - per_channel(norm.running_mean.value())) * scale + per_channel(norm.beta.val());
        return if relu {
            burn::tensor::activation::relu(y)
        } else {
            y
        };
    }
    let (y, mean, variance) = kernels::batch_norm(
        x,
        part(norm.gamma.val()),
        part(norm.beta.val()),
        norm.epsilon,
        relu,
    );
    let m = norm.momentum;
    let update = |state: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
        let device = batch.device();
        let old = state.value_sync().to_device(&device);
        let new = part(old.clone()) * (1.0 - m) + batch * m;
        let new = if whole {
            new
        } else {
            old.slice_assign(0..c, new)
        };
        state.update(new.detach());
    };
    update(&norm.running_mean, mean);
    update(&norm.running_var, variance);
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tensor of `shape` with values from a fixed generator, on `device`.
    fn values<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
        let mut rng = crate::rng::seeded(seed);
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    #[test]
    fn a_slice_is_the_central_window_and_leading_channels_of_the_held_weight() {
        let device = crate::nn::train::training_device().without_autodiff();
        let mut rng = crate::rng::seeded(3);
        let held = Conv::conv_bn(6, 5, 1);
        let Some(Layer::Conv(mut layer)) =
            Layer::new(&Op::Conv(held), Shape::new(4, 7, 7), &device, &mut rng)
        else {
            unreachable!("a convolution layer")
        };
        // With a zero border a 5x5 kernel computes what its central 3x3 window does.
        let mask: Vec<f32> = (0..6 * 4 * 25)
            .map(|i| {
                let (r, c) = ((i % 25) / 5, i % 5);
                f32::from((1..4).contains(&r) && (1..4).contains(&c))
            })
            .collect();
        let mask = Tensor::<4>::from_data(TensorData::new(mask, [6, 4, 5, 5]), &device);
        layer.conv.weight = Param::from_tensor(layer.conv.weight.val() * mask);
        let x = values([2, 4, 7, 7], 4, &device);
        let whole = layer.convolve(&held, x.clone()).slice([0..2, 0..3]);
        let part = layer.convolve(&Conv::conv_bn(3, 3, 1), x);
        let d = (whole - part).abs().max().into_scalar::<f32>();
        assert!(d < 1e-5, "difference {d}");

        // Batch norm of the leading channels: as a norm of that width, the rest untouched.
        let train_device = crate::nn::train::training_device();
        let wide = BatchNormConfig::new(6).init(&train_device);
        let narrow = BatchNormConfig::new(3).init(&train_device);
        let y = values([4, 3, 5, 5], 5, &train_device);
        let d = (batch_norm(&wide, y.clone(), false) - batch_norm(&narrow, y, false))
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(d < 1e-6, "difference {d}");
        let mean = wide
            .running_mean
            .value()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let expected = narrow
            .running_mean
            .value()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(&mean[..3], &expected[..]);
        assert_eq!(&mean[3..], &[0.0; 3]);
    }

    #[test]
    fn batch_norm_matches_the_engines_own_with_its_gradients_and_statistics() {
        let device = crate::nn::train::training_device();
        let ours = BatchNormConfig::new(3).init(&device);
        let theirs = BatchNormConfig::new(3).init(&device);
        let x = values([4, 3, 5, 6], 1, &device).require_grad();
        let weight = values([4, 3, 5, 6], 2, &device);
        let y_ours = batch_norm(&ours, x.clone(), false);
        let y_theirs = theirs.forward(x.clone());
        let close = |a: Tensor<4>, b: Tensor<4>, tol: f32| {
            let d = (a - b).abs().max().into_scalar::<f32>();
            assert!(d < tol, "difference {d}");
        };
        close(y_ours.clone(), y_theirs.clone(), 1e-5);
        let g_ours = (y_ours * weight.clone()).sum().backward();
        let g_theirs = (y_theirs * weight).sum().backward();
        close(
            x.grad(&g_ours).unwrap().reshape([4, 3, 5, 6]),
            x.grad(&g_theirs).unwrap().reshape([4, 3, 5, 6]),
            1e-4,
        );
        let diff = |a: Tensor<1>, b: Tensor<1>| (a - b).abs().max().into_scalar::<f32>();
        assert!(diff(ours.running_mean.value(), theirs.running_mean.value()) < 1e-6);
        assert!(diff(ours.running_var.value(), theirs.running_var.value()) < 1e-5);
    }
}
