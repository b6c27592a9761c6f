//! The weight store: every layer a run has created, addressed by its path — where it sits,
//! what it computes and what it reads (`stage0/cell0/edge_0_1/relu_conv3x3_bn(c16)/16x32x32`)
//! — so that every candidate using an operation at a place reads and trains the same tensors:
//! weight sharing (ENAS, one-shot). A stand-alone candidate is simply the only user of a
//! fresh store.
//!
//! A candidate's [`Plan`] maps its nodes to store layers, creating the missing ones; each new
//! layer is initialised from the store's seed and its path alone, so initial weights do not
//! depend on the order in which candidates arrive — or, in a store made
//! [`from`](WeightStore::from) a [`Snapshot`], taken from the snapshot by path (a saved
//! network, a child cut out of a supernet, a supernet itself). A slicing store
//! ([`WeightStore::slicing`]) addresses a convolution with an
//! [`Envelope`](crate::arch::Envelope) by that largest form instead, holds it at that size and
//! lets each variant use its slice; [`WeightStore::cut`] takes a candidate's own-size tensors
//! out of it, under the paths a stand-alone network of that candidate has. Every tensor is
//! named `LAYER PATH/TENSOR` ([`Layer::tensors`]) in snapshots and safetensors files.

use super::drop_path::PathDropper;
use super::kernels::{self, Window};
use super::layer::Layer;
use crate::arch::{Arch, Op, PoolKind, Shape};
use crate::error::{Error, Result};
use crate::weights::Snapshot;
use burn::prelude::*;
use burn::tensor::Gradients;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Every layer of a store, as one engine module (what optimisers step and files hold).
#[derive(Module, Debug)]
pub struct Weights {
    layers: Vec<Layer>,
}

/// One node of a plan: its operation, the nodes it reads, its store layer and — for a node
/// with weights — the path and input shape its layer has in a stand-alone network.
#[derive(Debug, Clone)]
struct Step {
    op: Op,
    inputs: Vec<usize>,
    layer: Option<usize>,
    own: Option<(String, Shape)>,
}

/// A candidate's way through a store: its nodes in order, each with its layer.
#[derive(Debug, Clone)]
pub struct Plan {
    steps: Vec<Step>,
    output: usize,
}

impl Plan {
    /// The store layers the candidate uses.
    pub fn layers(&self) -> impl Iterator<Item = usize> + '_ {
        self.steps.iter().filter_map(|s| s.layer)
    }

    /// Whether the network has a dropout node (and so draws masks in training).
    pub fn has_dropout(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.op, Op::Dropout { .. }))
    }
}

/// The weight store (see the module documentation).
pub struct WeightStore {
    weights: Option<Weights>,
    index: HashMap<String, usize>,
    /// The path of each layer, by position.
    paths: Vec<String>,
    device: Device,
    seed: u64,
    slicing: bool,
    source: Option<Source>,
    /// Layers a resuming store drew because its snapshot did not hold them.
    drawn: Vec<String>,
}

/// Where a store's new layers come from when not from its seed alone.
#[derive(Debug, Clone)]
struct Source {
    weights: Arc<Snapshot>,
    /// Layers the snapshot lacks are drawn as new (else they cannot be planned).
    draw_missing: bool,
}

/// The path of the layer computing `op` on inputs of shape `input` at node `name`.
pub fn layer_path(name: &str, op: &Op, input: Shape) -> String {
    format!("{}/{}/{input}", name.replace('.', "/"), op.key())
}

impl WeightStore {
    /// An empty store whose layers live on `device` (an autodiff device for training) and are
    /// initialised from `seed`.
    pub fn new(device: Device, seed: u64) -> Self {
        WeightStore {
            weights: Some(Weights { layers: Vec::new() }),
            index: HashMap::new(),
            paths: Vec::new(),
            device,
            seed,
            slicing: false,
            source: None,
            drawn: Vec::new(),
        }
    }

    /// The store with every layer it creates taken from `source` by path (a layer whose
    /// tensors `source` lacks or shapes differently cannot be planned: an error naming the
    /// tensor).
    pub fn from(mut self, source: Arc<Snapshot>) -> Self {
        self.source = Some(Source {
            weights: source,
            draw_missing: false,
        });
        self
    }

    /// The store continuing one that was saved as `saved`: the layers it held come back, and
    /// a layer it never made is drawn from the seed, as that store would have drawn it (and
    /// listed in [`WeightStore::drawn`]); a layer `saved` holds only some tensors of is an
    /// error.
    pub fn resuming(mut self, saved: Arc<Snapshot>) -> Self {
        self.source = Some(Source {
            weights: saved,
            draw_missing: true,
        });
        self
    }

    /// The store with weight slicing on: every variant of a convolution at a place that has an
    /// envelope shares the envelope's weight (leading channels, central kernel window).
    pub fn slicing(mut self) -> Self {
        self.slicing = true;
        self
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Number of layers held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the store holds no layer.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The weights.
    pub fn weights(&self) -> &Weights {
        self.weights
            .as_ref()
            .expect("the weights are only out during an update")
    }

    /// Replaces the weights through `update` (an optimiser step consumes and returns them).
    pub fn update(&mut self, update: impl FnOnce(Weights) -> Weights) {
        let weights = self
            .weights
            .take()
            .expect("the weights are only out during an update");
        self.weights = Some(update(weights));
    }

    /// The plan for `arch`, creating the layers it needs. An architecture without shapes or
    /// with operations the trainer cannot run is an error (an invalid candidate).
    pub fn plan(&mut self, arch: &Arch) -> Result<Plan> {
        let output = arch
            .output()
            .ok_or_else(|| Error::Arch("the architecture has no output".into()))?;
        let mut steps = Vec::with_capacity(arch.len());
        for id in arch.node_ids() {
            let node = arch.node(id);
            let inputs = arch.inputs(id);
            if let Op::Labelled(name) = &node.op {
                return Err(Error::Arch(format!(
                    "`{name}` is not an operation the trainer can run"
                )));
            }
            let layer = match inputs.first() {
                Some(&first) => {
                    let shape = arch.node(first).shape.ok_or_else(|| {
                        Error::Arch(format!("node `{}` has no known input shape", node.name))
                    })?;
                    let (op, shape) = match (&node.op, node.envelope) {
                        (Op::Conv(conv), Some(envelope)) if self.slicing => {
                            let widest = envelope
                                .widest(conv, shape.channels)
                                .map_err(|why| Error::Arch(format!("`{}`: {why}", node.name)))?;
                            let shape = Shape {
                                channels: envelope.in_channels,
                                ..shape
                            };
                            (Op::Conv(widest), shape)
                        }
                        (op, _) => (op.clone(), shape),
                    };
                    let path = layer_path(&node.name, &op, shape);
                    let layer = match self.index.get(&path) {
                        Some(&i) => Some(i),
                        None => self.create(path, &op, shape)?,
                    };
                    let input = arch.node(first).shape.expect("checked above");
                    layer.map(|i| (i, layer_path(&node.name, &node.op, input), input))
                }
                None => None,
            };
            steps.push(Step {
                op: node.op.clone(),
                inputs: inputs.iter().map(|i| i.index()).collect(),
                layer: layer.as_ref().map(|(i, ..)| *i),
                own: layer.map(|(_, path, input)| (path, input)),
            });
        }
        Ok(Plan {
            steps,
            output: output.index(),
        })
    }

    /// Creates the layer at `path` (`None` for an operation without weights): from the
    /// store's source when it has one, else from the seed and the path.
    fn create(&mut self, path: String, op: &Op, input: Shape) -> Result<Option<usize>> {
        let mut rng = crate::rng::seeded(crate::arch::hash::hash_words(&path, &[self.seed]));
        let Some(mut layer) = Layer::new(op, input, &self.device, &mut rng) else {
            return Ok(None);
        };
        if let Some(source) = &self.source {
            let tensors = layer.tensors();
            let held = tensors
                .iter()
                .filter(|(name, _)| source.weights.get(&format!("{path}/{name}")).is_some())
                .count();
            if held == 0 && source.draw_missing {
                self.drawn.push(path.clone());
            } else {
                for (name, _) in tensors {
                    let full = format!("{path}/{name}");
                    let values = source.weights.get(&full).ok_or_else(|| {
                        Error::Arch(format!("the initial weights have no tensor `{full}`"))
                    })?;
                    layer
                        .set(name, values, &self.device)
                        .map_err(|why| Error::Arch(format!("initial weights, `{full}`: {why}")))?;
                }
            }
        }
        let weights = self
            .weights
            .as_mut()
            .expect("the weights are only out during an update");
        weights.layers.push(layer);
        let i = weights.layers.len() - 1;
        self.index.insert(path.clone(), i);
        self.paths.push(path);
        Ok(Some(i))
    }

    /// The layers a resuming store drew fresh, by path, in the order it made them.
    pub fn drawn(&self) -> &[String] {
        &self.drawn
    }

    /// Every tensor of the store by path (batch norm's running statistics as they stand).
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::new();
        for (layer, path) in self.weights().layers.iter().zip(&self.paths) {
            for (name, values) in layer.tensors() {
                snapshot.insert(format!("{path}/{name}"), values);
            }
        }
        snapshot
    }

    /// The tensors of `plan`'s network at its own size, under the paths a stand-alone network
    /// of it has: in a slicing store each convolution's slice (leading output and input
    /// channels, central kernel window, leading bias and batch-norm entries), elsewhere the
    /// layers as they are.
    pub fn cut(&self, plan: &Plan) -> Snapshot {
        let layers = &self.weights().layers;
        let mut snapshot = Snapshot::new();
        for step in &plan.steps {
            let (Some(i), Some((own, input))) = (step.layer, &step.own) else {
                continue;
            };
            for (name, held) in layers[i].tensors() {
                let ranges: Vec<std::ops::Range<usize>> = match (&step.op, held.shape.as_slice()) {
                    (Op::Conv(c), [_, _, kh, kw]) => {
                        let (top, left) = ((kh - c.kernel[0]) / 2, (kw - c.kernel[1]) / 2);
                        vec![
                            0..c.out_channels,
                            0..input.channels / c.groups,
                            top..top + c.kernel[0],
                            left..left + c.kernel[1],
                        ]
                    }
                    (Op::Conv(c), [_]) => std::iter::once(0..c.out_channels).collect(),
                    (_, shape) => shape.iter().map(|&n| 0..n).collect(),
                };
                snapshot.insert(format!("{own}/{name}"), held.window(&ranges));
            }
        }
        snapshot
    }

    /// The tensors of `snapshot` that are not tensors of this store (a file made for another
    /// network), by path.
    pub fn foreign<'a>(&self, snapshot: &'a Snapshot) -> Vec<&'a str> {
        let held: std::collections::HashSet<String> = self
            .weights()
            .layers
            .iter()
            .zip(&self.paths)
            .flat_map(|(layer, path)| {
                layer
                    .tensors()
                    .into_iter()
                    .map(move |(name, _)| format!("{path}/{name}"))
            })
            .collect();
        snapshot
            .iter()
            .map(|(path, _)| path.as_str())
            .filter(|path| !held.contains(*path))
            .collect()
    }

    /// Saves every layer to a safetensors file (refusing to replace an existing one).
    pub fn save(&self, path: &Path) -> Result<()> {
        self.snapshot().save(path)
    }
}

impl Weights {
    /// The same weights with every batch norm's running-statistics momentum set to `momentum`.
    pub fn with_batch_norm_momentum(mut self, momentum: f64) -> Self {
        for layer in &mut self.layers {
            layer.set_batch_norm_momentum(momentum);
        }
        self
    }

    /// The logits of `plan`'s network on `x` (`[batch, classes]`; an output that is not
    /// `C x 1 x 1` comes flattened). Batch norm uses batch statistics (and updates its running
    /// ones) on an autodiff device; elsewhere ([`Module::valid`]) it uses the running
    /// statistics.
    pub fn forward(&self, plan: &Plan, x: Tensor<4>) -> Tensor<2> {
        self.forward_dropping(plan, x, None)
    }

    /// [`Weights::forward`] with the plan's drop-path and dropout nodes drawing their masks
    /// from `paths` (without it they are identities).
    pub fn forward_dropping(
        &self,
        plan: &Plan,
        x: Tensor<4>,
        paths: Option<&mut PathDropper>,
    ) -> Tensor<2> {
        let mut values = self.node_values(plan, x, paths);
        let out = values[plan.output].take().expect("the output is computed");
        let [b, c, h, w] = out.dims();
        out.reshape([b, c * h * w])
    }

    /// Per ReLU of `plan`'s network on `x` (a ReLU node, the ReLU before a convolution, the
    /// ReLU of `BnRelu`), a tensor that is positive exactly where that ReLU's input is: what
    /// NASWOT's activation codes read.
    pub fn relu_patterns(&self, plan: &Plan, x: Tensor<4>) -> Vec<Tensor<4>> {
        let values = self.node_values(plan, x, None);
        let value = |k: usize| values[k].clone().expect("every node is computed");
        plan.steps
            .iter()
            .enumerate()
            .filter_map(|(k, step)| match &step.op {
                Op::Relu | Op::BnRelu => Some(value(k)),
                Op::Conv(c) if c.relu_before => Some(value(step.inputs[0])),
                _ => None,
            })
            .collect()
    }

    /// The value of every node of `plan` on `x`, in plan order.
    fn node_values(
        &self,
        plan: &Plan,
        x: Tensor<4>,
        mut paths: Option<&mut PathDropper>,
    ) -> Vec<Option<Tensor<4>>> {
        let mut values: Vec<Option<Tensor<4>>> = Vec::with_capacity(plan.steps.len());
        let mut x = Some(x);
        for step in &plan.steps {
            let arg = |k: usize| values[step.inputs[k]].clone().expect("inputs come first");
            let y = match (&step.op, step.layer) {
                (_, Some(layer)) => self.layers[layer].forward(&step.op, arg(0)),
                (Op::Input, _) => x.take().expect("one input node"),
                (Op::Output | Op::Identity, _) => arg(0),
                (Op::Zero, _) => arg(0).zeros_like(),
                (Op::Relu, _) => burn::tensor::activation::relu(arg(0)),
                (Op::Tanh, _) => burn::tensor::activation::tanh(arg(0)),
                (Op::Sigmoid, _) => burn::tensor::activation::sigmoid(arg(0)),
                (Op::Flatten, _) => {
                    let [b, c, h, w] = arg(0).dims();
                    arg(0).reshape([b, c * h * w, 1, 1])
                }
                (Op::Dropout { permille }, _) => match paths.as_deref_mut() {
                    Some(paths) => paths.dropout(arg(0), f64::from(*permille) / 1000.0),
                    None => arg(0),
                },
                (Op::Add, _) => (1..step.inputs.len()).fold(arg(0), |acc, k| acc + arg(k)),
                (Op::Concat, _) => Tensor::cat((0..step.inputs.len()).map(arg).collect(), 1),
                (
                    Op::Pool {
                        kind,
                        kernel,
                        stride,
                    },
                    _,
                ) => {
                    let pad = (kernel - 1) / 2;
                    let window = Window {
                        kernel: [*kernel; 2],
                        stride: [*stride; 2],
                        padding: [pad; 2],
                    };
                    match kind {
                        PoolKind::Avg => kernels::avg_pool2d(arg(0), window),
                        PoolKind::Max => kernels::max_pool2d(arg(0), window),
                    }
                }
                (Op::GlobalAvgPool, _) => arg(0).mean_dims(&[2, 3]),
                (Op::Gate, _) => arg(0) * burn::tensor::activation::sigmoid(arg(1)),
                (Op::DropPath { cell, cells }, _) => match paths.as_deref_mut() {
                    Some(paths) => paths.apply(arg(0), *cell, *cells),
                    None => arg(0),
                },
                (op, None) => unreachable!("plans give {} a layer", op.key()),
            };
            values.push(Some(y));
        }
        values
    }

    /// Every convolution's and linear layer's weight (not biases, not batch norms) as flat
    /// values, with its gradient in `grads` — the layers that took part in the graph.
    pub fn weight_gradients(&self, grads: &Gradients) -> Vec<(Vec<f32>, Vec<f32>)> {
        self.layers
            .iter()
            .filter_map(|l| l.weight_gradient(grads))
            .collect()
    }

    /// The gradient in `grads` of every convolution's and linear layer's weight, by layer
    /// index (`None` for a batch norm and for a layer that took no part in the graph).
    pub fn gradients_by_layer(&self, grads: &Gradients) -> Vec<Option<Vec<f32>>> {
        self.layers
            .iter()
            .map(|l| l.weight_gradient(grads).map(|(_, g)| g))
            .collect()
    }
}
