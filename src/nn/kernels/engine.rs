//! The kernels as an engine extension: one trait, implemented on the Flex backend (values
//! only) and on Flex under autodiff, where each operation records its own backward step —
//! the convolution keeps its input (after its fused ReLU) and weight, max pooling the indices
//! of its maxima, average pooling only its geometry, batch norm its input, scale, shift and
//! the batch's moments.

use super::conv;
use super::geometry::ConvGeometry;
use super::norm::{self, Moments, NormGeometry};
use super::pool::{self, PoolGeometry};
use super::{ConvStep, Window};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::TensorData;
use std::sync::Arc;

/// The trainer's kernels, as engine operations.
#[backend_extension(Flex, Autodiff)]
pub trait Kernels: Backend {
    /// Convolution without bias.
    fn conv2d_kernel(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        step: ConvStep,
    ) -> FloatTensor<Self>;
    /// Max pooling.
    fn max_pool2d_kernel(x: FloatTensor<Self>, window: Window) -> FloatTensor<Self>;
    /// Average pooling, padding not counted.
    fn avg_pool2d_kernel(x: FloatTensor<Self>, window: Window) -> FloatTensor<Self>;
    /// Batch norm with the batch's statistics, and its ReLU when `relu`: the output and the
    /// moments (`[2, channels]`: means, then biased variances), the latter outside the graph.
    fn batch_norm_kernel(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// `t` with its elements contiguous, as the kernels read them.
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The elements of a tensor [`contiguous`] made contiguous.
fn floats(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("the trainer's tensors are contiguous f32")
}

/// A tensor of `shape` holding `values`.
fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let shape = t.shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

fn conv_geometry(x: &FlexTensor, weight: &FlexTensor, step: ConvStep) -> ConvGeometry {
    let ([batch, in_channels, h, w], [out, _, kh, kw]) = (dims4(x), dims4(weight));
    ConvGeometry {
        batch,
        in_channels,
        in_size: [h, w],
        out_channels: out,
        kernel: [kh, kw],
        stride: step.stride,
        padding: step.padding,
        dilation: step.dilation,
        groups: step.groups,
    }
}

fn pool_geometry(x: &FlexTensor, window: Window) -> PoolGeometry {
    let [b, c, h, w] = dims4(x);
    PoolGeometry {
        planes: b * c,
        in_size: [h, w],
        kernel: window.kernel,
        stride: window.stride,
        padding: window.padding,
    }
}

/// The convolution's input: `x`, through the ReLU when `step` asks for it.
fn conv_input(x: FlexTensor, step: ConvStep) -> FlexTensor {
    let x = contiguous(x);
    if step.relu_input {
        tensor(conv::relu(floats(&x)), dims4(&x))
    } else {
        x
    }
}

fn conv_forward(g: &ConvGeometry, x: &FlexTensor, weight: &FlexTensor) -> FlexTensor {
    let [oh, ow] = g.out_size();
    let y = conv::forward(g, floats(x), floats(weight));
    tensor(y, [g.batch, g.out_channels, oh, ow])
}

fn pooled_shape(g: &PoolGeometry, x: &FlexTensor) -> [usize; 4] {
    let ([b, c, _, _], [oh, ow]) = (dims4(x), g.out_size());
    [b, c, oh, ow]
}

fn norm_geometry(x: &FlexTensor, relu: bool) -> NormGeometry {
    let [batch, channels, h, w] = dims4(x);
    NormGeometry {
        batch,
        channels,
        pixels: h * w,
        relu,
    }
}

/// Moments as a `[2, channels]` tensor's values.
fn moments_data(moments: &[Moments]) -> TensorData {
    let values: Vec<f32> = moments
        .iter()
        .map(|m| m.mean)
        .chain(moments.iter().map(|m| m.var))
        .collect();
    TensorData::new(values, [2, moments.len()])
}

impl Kernels for Flex {
    fn conv2d_kernel(x: FlexTensor, weight: FlexTensor, step: ConvStep) -> FlexTensor {
        let (x, weight) = (conv_input(x, step), contiguous(weight));
        conv_forward(&conv_geometry(&x, &weight, step), &x, &weight)
    }

    fn max_pool2d_kernel(x: FlexTensor, window: Window) -> FlexTensor {
        let x = contiguous(x);
        let g = pool_geometry(&x, window);
        tensor(pool::max_forward(&g, floats(&x)).0, pooled_shape(&g, &x))
    }

    fn avg_pool2d_kernel(x: FlexTensor, window: Window) -> FlexTensor {
        let x = contiguous(x);
        let g = pool_geometry(&x, window);
        tensor(pool::avg_forward(&g, floats(&x)), pooled_shape(&g, &x))
    }

    fn batch_norm_kernel(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor) {
        let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
        let g = norm_geometry(&x, relu);
        let (y, moments) = norm::forward(&g, floats(&x), floats(&gamma), floats(&beta), epsilon);
        (
            tensor(y, dims4(&x)),
            FlexTensor::from_data(moments_data(&moments)),
        )
    }
}

/// The convolution's backward step: its input (after the fused ReLU, if any), its weight,
/// its geometry and whether the ReLU ran.
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = (FlexTensor, FlexTensor, ConvGeometry, bool);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (x, weight, g, relu_input) = ops.state;
        if let Some(node) = node_x {
            let mut dx = conv::input_grad(&g, floats(&weight), floats(&dy));
            if relu_input {
                conv::relu_backward(&mut dx, floats(&x));
            }
            grads.register::<Flex>(node.id, tensor(dx, dims4(&x)));
        }
        if let Some(node) = node_weight {
            let dw = conv::weight_grad(&g, floats(&x), floats(&dy));
            grads.register::<Flex>(node.id, tensor(dw, dims4(&weight)));
        }
    }
}

/// Max pooling's backward step: where each maximum was, and the geometry.
#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = (Arc<Vec<u32>>, PoolGeometry, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (at, g, shape) = ops.state;
        if let Some(node) = node {
            let dx = pool::max_backward(&g, &at, floats(&dy));
            grads.register::<Flex>(node.id, tensor(dx, shape));
        }
    }
}

/// Average pooling's backward step: the geometry.
#[derive(Debug)]
struct AvgPoolBackward;

impl Backward<Flex, 1> for AvgPoolBackward {
    type State = (PoolGeometry, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (g, shape) = ops.state;
        if let Some(node) = node {
            let dx = pool::avg_backward(&g, floats(&dy));
            grads.register::<Flex>(node.id, tensor(dx, shape));
        }
    }
}

/// Batch norm's backward step: its input, scale and shift, the batch's moments, the
/// geometry and epsilon.
#[derive(Debug)]
struct NormBackward;

/// What batch norm's backward step keeps.
#[derive(Clone, Debug)]
struct NormState {
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    moments: Arc<Vec<Moments>>,
    geometry: NormGeometry,
    epsilon: f64,
}

impl Backward<Flex, 3> for NormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let (dx, dgamma, dbeta) = norm::backward(
            &s.geometry,
            floats(&s.x),
            floats(&s.gamma),
            floats(&s.beta),
            &s.moments,
            s.epsilon,
            floats(&dy),
        );
        let channels = s.geometry.channels;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(dx, dims4(&s.x)));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, tensor(dgamma, [channels]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, tensor(dbeta, [channels]));
        }
    }
}

impl<C: CheckpointStrategy> Kernels for Autodiff<Flex, C> {
    fn conv2d_kernel(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        step: ConvStep,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node()];
        let (xp, wp) = (
            conv_input(x.into_primitive(), step),
            contiguous(weight.into_primitive()),
        );
        let g = conv_geometry(&xp, &wp, step);
        let y = conv_forward(&g, &xp, &wp);
        match ConvBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((xp, wp, g, step.relu_input), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn max_pool2d_kernel(x: FloatTensor<Self>, window: Window) -> FloatTensor<Self> {
        let nodes = [x.node()];
        let xp = contiguous(x.into_primitive());
        let g = pool_geometry(&xp, window);
        let shape = dims4(&xp);
        let (y, at) = pool::max_forward(&g, floats(&xp));
        let y = tensor(y, pooled_shape(&g, &xp));
        match MaxPoolBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((Arc::new(at), g, shape), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn avg_pool2d_kernel(x: FloatTensor<Self>, window: Window) -> FloatTensor<Self> {
        let nodes = [x.node()];
        let xp = contiguous(x.into_primitive());
        let g = pool_geometry(&xp, window);
        let shape = dims4(&xp);
        let y = tensor(pool::avg_forward(&g, floats(&xp)), pooled_shape(&g, &xp));
        match AvgPoolBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((g, shape), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn batch_norm_kernel(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let nodes = [x.node(), gamma.node(), beta.node()];
        let [x, gamma, beta] = [x, gamma, beta].map(|t| contiguous(t.into_primitive()));
        let device = x.device();
        let geometry = norm_geometry(&x, relu);
        let (y, moments) = norm::forward(
            &geometry,
            floats(&x),
            floats(&gamma),
            floats(&beta),
            epsilon,
        );
        let y = tensor(y, dims4(&x));
        let stats = Self::float_from_data(moments_data(&moments), &device);
        let y = match NormBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let state = NormState {
                    x,
                    gamma,
                    beta,
                    moments: Arc::new(moments),
                    geometry,
                    epsilon,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (y, stats)
    }
}
