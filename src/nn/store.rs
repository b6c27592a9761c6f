//! The weight store: every layer a run has created, keyed by where it sits and what it is
//! (node name, operation, input shape), so that every candidate using an operation at a place
//! reads and trains the same tensors — weight sharing (ENAS, one-shot). A stand-alone
//! candidate is simply the only user of a fresh store.
//!
//! A candidate's [`Plan`] maps its nodes to store layers, creating the missing ones; each new
//! layer is initialised from the store's seed and its key alone, so initial weights do not
//! depend on the order in which candidates arrive. A slicing store
//! ([`WeightStore::slicing`]) keys a convolution with an [`Envelope`](crate::arch::Envelope)
//! by that largest form instead, holds it at that size and lets each variant use its slice.
//! Stores save to and load from safetensors.

use super::drop_path::PathDropper;
use super::layer::Layer;
use crate::arch::{Arch, Op, PoolKind, Shape};
use crate::error::{Error, Result};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use std::collections::HashMap;
use std::path::Path;

/// Every layer of a store, as one engine module (what optimisers step and files hold).
#[derive(Module, Debug)]
pub struct Weights {
    layers: Vec<Layer>,
}

/// One node of a plan: its operation, the nodes it reads and its store layer.
#[derive(Debug, Clone)]
struct Step {
    op: Op,
    inputs: Vec<usize>,
    layer: Option<usize>,
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
}

/// The weight store (see the module documentation).
pub struct WeightStore {
    weights: Option<Weights>,
    index: HashMap<String, usize>,
    device: Device,
    seed: u64,
    slicing: bool,
}

impl WeightStore {
    /// An empty store whose layers live on `device` (an autodiff device for training) and are
    /// initialised from `seed`.
    pub fn new(device: Device, seed: u64) -> Self {
        WeightStore {
            weights: Some(Weights { layers: Vec::new() }),
            index: HashMap::new(),
            device,
            seed,
            slicing: false,
        }
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
                    let key = format!("{}|{}|{}", node.name, op.key(), shape);
                    match self.index.get(&key) {
                        Some(&i) => Some(i),
                        None => self.create(key, &op, shape),
                    }
                }
                None => None,
            };
            steps.push(Step {
                op: node.op.clone(),
                inputs: inputs.iter().map(|i| i.index()).collect(),
                layer,
            });
        }
        Ok(Plan {
            steps,
            output: output.index(),
        })
    }

    fn create(&mut self, key: String, op: &Op, input: Shape) -> Option<usize> {
        let mut rng = crate::rng::seeded(crate::arch::hash::hash_words(&key, &[self.seed]));
        let layer = Layer::new(op, input, &self.device, &mut rng)?;
        let weights = self
            .weights
            .as_mut()
            .expect("the weights are only out during an update");
        weights.layers.push(layer);
        let i = weights.layers.len() - 1;
        self.index.insert(key, i);
        Some(i)
    }

    /// Saves every layer to a safetensors file (refusing to replace an existing one).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut store = SafetensorsStore::from_file(path);
        // The inference copy: batch norm's running statistics synchronised.
        self.weights()
            .valid()
            .save_into(&mut store)
            .map_err(|e| Error::Io {
                path: path.into(),
                source: std::io::Error::other(e.to_string()),
            })
    }

    /// Loads a file written by [`WeightStore::save`] into a store holding the same layers
    /// (the same plans made in the same order).
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let mut store = SafetensorsStore::from_file(path);
        let mut weights = self
            .weights
            .take()
            .expect("the weights are only out during an update");
        let result = weights.load_from(&mut store);
        self.weights = Some(weights);
        let applied = result.map_err(|e| Error::Io {
            path: path.into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if !applied.errors.is_empty() || !applied.missing.is_empty() {
            return Err(Error::Io {
                path: path.into(),
                source: std::io::Error::other(format!(
                    "{} tensors missing, {} errors",
                    applied.missing.len(),
                    applied.errors.len()
                )),
            });
        }
        Ok(())
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

    /// [`Weights::forward`] with the plan's drop-path nodes dropping paths by `paths`
    /// (without it they are identities).
    pub fn forward_dropping(
        &self,
        plan: &Plan,
        x: Tensor<4>,
        mut paths: Option<&mut PathDropper>,
    ) -> Tensor<2> {
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
                    match kind {
                        PoolKind::Avg => avg_pool2d(
                            arg(0),
                            AvgPoolOptions::new([*kernel, *kernel])
                                .with_stride([*stride, *stride])
                                .with_padding([pad, pad])
                                .with_count_include_pad(false),
                        ),
                        PoolKind::Max => max_pool2d(
                            arg(0),
                            MaxPoolOptions::new([*kernel, *kernel])
                                .with_stride([*stride, *stride])
                                .with_padding([pad, pad]),
                        ),
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
        let out = values[plan.output].take().expect("the output is computed");
        let [b, c, h, w] = out.dims();
        out.reshape([b, c * h * w])
    }
}
