//! Each kernel against the engine's own operation on random geometries: outputs, input
//! gradients and weight gradients equal within 1e-5 relative to the largest magnitude.

use super::{ConvStep, Window, avg_pool2d, conv2d, max_pool2d};
use burn::prelude::*;
use burn::tensor::module;
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use rand::Rng as _;

const TOLERANCE: f32 = 1e-5;

fn random<const D: usize>(
    shape: [usize; D],
    rng: &mut crate::rng::Rng,
    device: &Device,
) -> Tensor<D> {
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// `max |ours - theirs| / max |theirs|`.
fn relative_error<const D: usize>(ours: Tensor<D>, theirs: Tensor<D>) -> f32 {
    assert_eq!(ours.dims(), theirs.dims());
    let scale = theirs
        .clone()
        .abs()
        .max()
        .into_scalar::<f32>()
        .max(f32::MIN_POSITIVE);
    (ours - theirs).abs().max().into_scalar::<f32>() / scale
}

fn assert_close<const D: usize>(what: &str, case: &str, ours: Tensor<D>, theirs: Tensor<D>) {
    let e = relative_error(ours, theirs);
    assert!(e <= TOLERANCE, "{what} of {case}: relative error {e}");
}

/// The gradients of `sum(f(x, w) * r)` for a fixed random `r`, and the output.
fn output_and_grads(
    f: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
    x: &Tensor<4>,
    w: &Tensor<4>,
    seed: u64,
) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
    let (x, w) = (x.clone().require_grad(), w.clone().require_grad());
    let y = f(x.clone(), w.clone());
    let r = random(y.dims(), &mut crate::rng::seeded(seed), &y.device());
    let grads = (y.clone() * r).sum().backward();
    let dx = x.grad(&grads).expect("x takes part");
    let dw = w.grad(&grads).expect("w takes part");
    (y, dx.reshape(x.dims()), dw.reshape(w.dims()))
}

#[test]
fn convolutions_match_the_engines_over_random_geometries() {
    let device = crate::nn::training_device();
    let mut rng = crate::rng::seeded(11);
    let mut checked = 0;
    while checked < 60 {
        let groups = rng.random_range(1..=3);
        let in_c = groups * rng.random_range(1..=3);
        let out_c = groups * rng.random_range(1..=3);
        let batch = rng.random_range(1..=10);
        let size = [rng.random_range(1..=11), rng.random_range(1..=11)];
        let kernel = [rng.random_range(1..=4), rng.random_range(1..=4)];
        let stride = [rng.random_range(1..=3), rng.random_range(1..=3)];
        let padding = [rng.random_range(0..=2), rng.random_range(0..=2)];
        let dilation = [rng.random_range(1..=2), rng.random_range(1..=2)];
        if (0..2).any(|a| size[a] + 2 * padding[a] < dilation[a] * (kernel[a] - 1) + 1) {
            continue;
        }
        checked += 1;
        let case = format!(
            "batch {batch}, {in_c}->{out_c} channels in {groups} groups, {size:?} input, \
             kernel {kernel:?}, stride {stride:?}, padding {padding:?}, dilation {dilation:?}"
        );
        let x = random([batch, in_c, size[0], size[1]], &mut rng, &device);
        // Every other case reads its weight as a window of a larger one, as a slicing store does.
        let w = if checked % 2 == 0 {
            random(
                [out_c + 1, in_c / groups, kernel[0] + 2, kernel[1] + 2],
                &mut rng,
                &device,
            )
            .slice([
                0..out_c,
                0..in_c / groups,
                1..kernel[0] + 1,
                1..kernel[1] + 1,
            ])
        } else {
            random(
                [out_c, in_c / groups, kernel[0], kernel[1]],
                &mut rng,
                &device,
            )
        };
        let step = ConvStep {
            stride,
            padding,
            dilation,
            groups,
        };
        let options = ConvOptions::new(stride, padding, dilation, groups);
        let ours = output_and_grads(|x, w| conv2d(x, w, step), &x, &w, checked);
        let theirs = output_and_grads(
            |x, w| module::conv2d(x, w, None, options.clone()),
            &x,
            &w,
            checked,
        );
        assert_close("output", &case, ours.0, theirs.0);
        assert_close("input gradient", &case, ours.1, theirs.1);
        assert_close("weight gradient", &case, ours.2, theirs.2);
    }
}

#[test]
fn convolutions_without_autodiff_compute_the_same_values() {
    let device = crate::nn::training_device().without_autodiff();
    let mut rng = crate::rng::seeded(12);
    let x = random([3, 4, 9, 7], &mut rng, &device);
    let w = random([6, 2, 3, 3], &mut rng, &device);
    let step = ConvStep {
        stride: [2, 1],
        padding: [1, 1],
        dilation: [1, 2],
        groups: 2,
    };
    let theirs = module::conv2d(
        x.clone(),
        w.clone(),
        None,
        ConvOptions::new([2, 1], [1, 1], [1, 2], 2),
    );
    assert_close("output", "a plain device", conv2d(x, w, step), theirs);
}

#[test]
fn poolings_match_the_engines_over_random_geometries() {
    let device = crate::nn::training_device();
    let mut rng = crate::rng::seeded(13);
    let mut checked = 0;
    while checked < 60 {
        let kernel = [rng.random_range(1..=4), rng.random_range(1..=4)];
        let stride = [rng.random_range(1..=3), rng.random_range(1..=3)];
        let padding = [
            rng.random_range(0..=kernel[0] / 2),
            rng.random_range(0..=kernel[1] / 2),
        ];
        let size = [rng.random_range(1..=10), rng.random_range(1..=10)];
        if (0..2).any(|a| size[a] + 2 * padding[a] < kernel[a]) {
            continue;
        }
        checked += 1;
        let case =
            format!("{size:?} input, kernel {kernel:?}, stride {stride:?}, padding {padding:?}");
        let shape = [
            rng.random_range(1..=4),
            rng.random_range(1..=5),
            size[0],
            size[1],
        ];
        let x = random(shape, &mut rng, &device);
        let window = Window {
            kernel,
            stride,
            padding,
        };
        // The second operand is unused: pooling has no weight.
        let unused = Tensor::<4>::zeros([1, 1, 1, 1], &device);
        let grads = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
            let (y, dx, _) = output_and_grads(
                |x, w| f(x) + w.sum().reshape([1, 1, 1, 1]),
                &x,
                &unused,
                checked,
            );
            (y, dx)
        };
        let ours = grads(&|x| max_pool2d(x, window));
        let theirs = grads(&|x| {
            let options = MaxPoolOptions::new(kernel)
                .with_stride(stride)
                .with_padding(padding);
            module::max_pool2d(x, options)
        });
        assert_close("max-pool output", &case, ours.0, theirs.0);
        assert_close("max-pool gradient", &case, ours.1, theirs.1);
        let ours = grads(&|x| avg_pool2d(x, window));
        let theirs = grads(&|x| {
            let options = AvgPoolOptions::new(kernel)
                .with_stride(stride)
                .with_padding(padding)
                .with_count_include_pad(false);
            module::avg_pool2d(x, options)
        });
        assert_close("avg-pool output", &case, ours.0, theirs.0);
        assert_close("avg-pool gradient", &case, ours.1, theirs.1);
    }
}
