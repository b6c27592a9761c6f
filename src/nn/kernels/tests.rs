//! Each kernel against the engine's own operation on random geometries: outputs, input
//! gradients and weight gradients equal within 1e-5 relative to the largest magnitude.

use super::{ConvStep, Window, avg_pool2d, batch_norm, conv2d, max_pool2d};
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
    let device = crate::nn::train::training_device();
    let mut rng = crate::rng::seeded(11);
    let mut checked = 0;
    while checked < 120 {
        // Every fourth case is depthwise (a group per input channel), which at stride 1 has
        // its own path.
        let depthwise = rng.random_bool(0.25);
        let groups = rng.random_range(1..=if depthwise { 6 } else { 3 });
        // Every fifth case has more channels than a register block of the direct loops.
        let wide = if rng.random_bool(0.2) { 7 } else { 1 };
        let in_c = groups
            * if depthwise {
                1
            } else {
                rng.random_range(1..=3 * wide)
            };
        let out_c = groups * rng.random_range(1..=3 * wide);
        let batch = rng.random_range(1..=10);
        // Every tenth case has planes large enough for the direct weight gradient.
        let side = if rng.random_bool(0.1) {
            24..=32
        } else {
            1..=11
        };
        let size = [rng.random_range(side.clone()), rng.random_range(side)];
        let kernel = [rng.random_range(1..=7), rng.random_range(1..=7)];
        let stride = [rng.random_range(1..=3), rng.random_range(1..=3)];
        let padding = [rng.random_range(0..=4), rng.random_range(0..=4)];
        let dilation = [rng.random_range(1..=3), rng.random_range(1..=3)];
        // Every other case keeps the input's size ("same" padding, stride 1), as the search
        // spaces' convolutions do.
        let (kernel, stride, padding) = if rng.random_bool(0.5) {
            let kernel = kernel.map(|k| k | 1);
            let padding = [0, 1].map(|a| dilation[a] * (kernel[a] - 1) / 2);
            (kernel, [1, 1], padding)
        } else {
            (kernel, stride, padding)
        };
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
        let relu_input = rng.random_bool(0.5);
        let case = format!("{case}, relu on the input {relu_input}");
        let step = ConvStep {
            stride,
            padding,
            dilation,
            groups,
            relu_input,
        };
        let options = ConvOptions::new(stride, padding, dilation, groups);
        let ours = output_and_grads(|x, w| conv2d(x, w, step), &x, &w, checked);
        let theirs = output_and_grads(
            |x, w| {
                let x = if relu_input {
                    burn::tensor::activation::relu(x)
                } else {
                    x
                };
                module::conv2d(x, w, None, options.clone())
            },
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
    let device = crate::nn::train::training_device().without_autodiff();
    let mut rng = crate::rng::seeded(12);
    let x = random([3, 4, 9, 7], &mut rng, &device);
    let w = random([6, 2, 3, 3], &mut rng, &device);
    let step = ConvStep {
        stride: [2, 1],
        padding: [1, 1],
        dilation: [1, 2],
        groups: 2,
        relu_input: false,
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
    let device = crate::nn::train::training_device();
    let mut rng = crate::rng::seeded(13);
    let mut checked = 0;
    while checked < 100 {
        let kernel = [rng.random_range(1..=5), rng.random_range(1..=5)];
        let stride = [rng.random_range(1..=3), rng.random_range(1..=3)];
        let padding = [
            rng.random_range(0..=kernel[0] / 2),
            rng.random_range(0..=kernel[1] / 2),
        ];
        let size = [rng.random_range(1..=10), rng.random_range(1..=10)];
        // Every fourth case is the common 2x2 pooling at stride 2, which has its own path.
        let (kernel, stride, padding) = if checked % 4 == 0 {
            ([2, 2], [2, 2], [0, 0])
        } else {
            (kernel, stride, padding)
        };
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

#[test]
fn batch_norm_matches_the_engines_with_and_without_its_relu() {
    let device = crate::nn::train::training_device();
    let mut rng = crate::rng::seeded(14);
    for case in 0..24 {
        let shape = [
            rng.random_range(1..=6),
            rng.random_range(1..=5),
            rng.random_range(1..=7),
            rng.random_range(1..=7),
        ];
        if shape[0] * shape[2] * shape[3] < 2 {
            continue;
        }
        let relu = case % 2 == 0;
        let what = format!("{shape:?}, relu {relu}");
        let c = shape[1];
        let x = (random(shape, &mut rng, &device) * 3.0 + 0.5).require_grad();
        let gamma = random([c], &mut rng, &device).require_grad();
        let beta = random([c], &mut rng, &device).require_grad();
        let r = random(shape, &mut rng, &device);
        let (ours, mean, var) = batch_norm(x.clone(), gamma.clone(), beta.clone(), 1e-5, relu);
        // The engine's: the same formula from tensor operations.
        let flat = x.clone().reshape([shape[0], c, shape[2] * shape[3]]);
        let their_mean = flat.clone().mean_dim(2).mean_dim(0);
        let centered = flat - their_mean.clone();
        let their_var = centered.clone().square().mean_dim(2).mean_dim(0);
        let scale = (their_var.clone() + 1e-5).sqrt().recip() * gamma.clone().reshape([1, c, 1]);
        let theirs = (centered * scale + beta.clone().reshape([1, c, 1])).reshape(shape);
        let theirs = if relu {
            burn::tensor::activation::relu(theirs)
        } else {
            theirs
        };
        assert_close("output", &what, ours.clone(), theirs.clone());
        assert_close("mean", &what, mean, their_mean.reshape([c]).detach());
        assert_close("variance", &what, var, their_var.reshape([c]).detach());
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * r).sum().backward();
        let grad = |t: &Tensor<4>, g| t.grad(g).expect("takes part").reshape(shape);
        let grad1 = |t: &Tensor<1>, g| t.grad(g).expect("takes part").reshape([c]);
        assert_close(
            "input gradient",
            &what,
            grad(&x, &g_ours),
            grad(&x, &g_theirs),
        );
        assert_close(
            "gamma gradient",
            &what,
            grad1(&gamma, &g_ours),
            grad1(&gamma, &g_theirs),
        );
        assert_close(
            "beta gradient",
            &what,
            grad1(&beta, &g_ours),
            grad1(&beta, &g_theirs),
        );
    }
}

#[test]
fn a_nan_input_shows_in_every_kernels_output() {
    let device = crate::nn::train::training_device();
    let mut values = vec![0.5f32; 2 * 2 * 4 * 4];
    values[5] = f32::NAN;
    let x = Tensor::<4>::from_data(TensorData::new(values, [2, 2, 4, 4]), &device);
    let has_nan = |t: Tensor<4>| t.is_nan().any().into_scalar::<bool>();
    let w = Tensor::<4>::ones([3, 2, 3, 3], &device);
    for relu_input in [false, true] {
        let step = ConvStep {
            stride: [1, 1],
            padding: [1, 1],
            dilation: [1, 1],
            groups: 1,
            relu_input,
        };
        assert!(
            has_nan(conv2d(x.clone(), w.clone(), step)),
            "relu {relu_input}"
        );
    }
    let window = Window {
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
    };
    assert!(has_nan(max_pool2d(x.clone(), window)));
    assert!(has_nan(avg_pool2d(x.clone(), window)));
    let (gamma, beta) = (
        Tensor::<1>::ones([2], &device),
        Tensor::<1>::zeros([2], &device),
    );
    for relu in [false, true] {
        let (y, _, _) = batch_norm(x.clone(), gamma.clone(), beta.clone(), 1e-5, relu);
        assert!(has_nan(y), "batch norm, relu {relu}");
    }
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let device = crate::nn::train::training_device();
            let mut rng = crate::rng::seeded(21);
            let x = random([20, 6, 9, 9], &mut rng, &device);
            let w = random([8, 6, 3, 3], &mut rng, &device);
            let step = ConvStep {
                stride: [1, 1],
                padding: [1, 1],
                dilation: [1, 1],
                groups: 1,
                relu_input: true,
            };
            let (y, dx, dw) = output_and_grads(
                |x, w| {
                    let y = conv2d(x, w, step);
                    let c = y.dims()[1];
                    let ones = Tensor::<1>::ones([c], &y.device());
                    batch_norm(y, ones.clone(), ones.zeros_like(), 1e-5, true).0
                },
                &x,
                &w,
                3,
            );
            [y, dx, dw].map(|t| t.into_data().try_into_vec::<f32>().expect("f32 values"))
        })
    };
    assert_eq!(run(1), run(3));
}
