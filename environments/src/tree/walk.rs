//! Walking a space with a decision prefix: the training settings first, then the modules
//! depth first — an `or` decides its branch before the branch's own decisions, a `repeat` its
//! count before its copies, a shared hyper-parameter where its name is first met. Each basic
//! module whose hyper-parameters are all decided is emitted as a graph node with its inputs;
//! a residual emits an `add` of its body and its input, a concat a `concat` of its branches.
//! The walk stops at the first decision the prefix does not hold (that is the next choice) or
//! at the end of the space (the sequence is complete). The same walk serves the decision
//! process, the network builder, the features and the graph encoding.

use super::space::{Activation, LayerDef, Node, Param, Scalar, Space};
use archforge::arch::PoolKind;
use archforge::candidate::TrainingChoices;
use archforge::env::Choice;
use archforge::error::{Error, Result};
use std::ops::Range;

/// A basic module with every hyper-parameter decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// A convolution.
    Conv {
        /// Output channels.
        filters: usize,
        /// Kernel size.
        kernel: usize,
        /// Stride.
        stride: usize,
    },
    /// A depthwise-separable convolution.
    Separable {
        /// Output channels.
        filters: usize,
        /// Depthwise kernel size.
        kernel: usize,
        /// Stride.
        stride: usize,
    },
    /// Pooling.
    Pool {
        /// Max or average.
        kind: PoolKind,
        /// Window.
        window: usize,
        /// Stride.
        stride: usize,
    },
    /// A fully connected layer.
    Dense {
        /// Output features.
        units: usize,
    },
    /// Batch norm.
    BatchNorm,
    /// An activation.
    Activation(Activation),
    /// Dropout, its rate in thousandths.
    Dropout {
        /// Drop probability x 1000.
        permille: u16,
    },
    /// Global average pooling.
    GlobalPool,
}

impl Layer {
    /// The module type's name (the words of the features' n-grams).
    pub fn type_name(&self) -> &'static str {
        match self {
            Layer::Conv { .. } => "conv",
            Layer::Separable { .. } => "separable",
            Layer::Pool {
                kind: PoolKind::Max,
                ..
            } => "max_pool",
            Layer::Pool { .. } => "avg_pool",
            Layer::Dense { .. } => "dense",
            Layer::BatchNorm => "batch_norm",
            Layer::Activation(Activation::Relu) => "relu",
            Layer::Activation(Activation::Tanh) => "tanh",
            Layer::Activation(Activation::Sigmoid) => "sigmoid",
            Layer::Dropout { .. } => "dropout",
            Layer::GlobalPool => "global_pool",
        }
    }

    /// Its hyper-parameters as `type.name=value` words.
    pub fn settings(&self) -> Vec<String> {
        let t = self.type_name();
        match self {
            Layer::Conv {
                filters,
                kernel,
                stride,
            }
            | Layer::Separable {
                filters,
                kernel,
                stride,
            } => vec![
                format!("{t}.filters={filters}"),
                format!("{t}.kernel={kernel}"),
                format!("{t}.stride={stride}"),
            ],
            Layer::Pool { window, stride, .. } => {
                vec![
                    format!("{t}.window={window}"),
                    format!("{t}.stride={stride}"),
                ]
            }
            Layer::Dense { units } => vec![format!("{t}.units={units}")],
            Layer::Dropout { permille } => vec![format!("{t}.rate={permille}/1000")],
            Layer::BatchNorm | Layer::Activation(_) | Layer::GlobalPool => Vec::new(),
        }
    }

    /// A readable, unique label: its type and hyper-parameters.
    pub fn label(&self) -> String {
        match self {
            Layer::Conv {
                filters,
                kernel,
                stride,
            }
            | Layer::Separable {
                filters,
                kernel,
                stride,
            } => format!(
                "{}({filters},{kernel}x{kernel},s{stride})",
                self.type_name()
            ),
            Layer::Pool { window, stride, .. } => {
                format!("{}({window},s{stride})", self.type_name())
            }
            Layer::Dense { units } => format!("dense({units})"),
            Layer::Dropout { permille } => format!("dropout({permille}/1000)"),
            other => other.type_name().to_string(),
        }
    }
}

/// The layer `def` is with `values` for its [`LayerDef::params`] (checked at compile).
fn make(def: &LayerDef, values: &[Scalar]) -> Layer {
    let int = |i: usize| match &values[i] {
        Scalar::Int(v) => *v as usize,
        other => unreachable!("checked to be a whole number: {other}"),
    };
    match def {
        LayerDef::Conv { .. } => Layer::Conv {
            filters: int(0),
            kernel: int(1),
            stride: int(2),
        },
        LayerDef::Separable { .. } => Layer::Separable {
            filters: int(0),
            kernel: int(1),
            stride: int(2),
        },
        LayerDef::Pool { kind, stride, .. } => Layer::Pool {
            kind: *kind,
            window: int(0),
            stride: if stride.is_some() { int(1) } else { int(0) },
        },
        LayerDef::Dense { .. } => Layer::Dense { units: int(0) },
        LayerDef::BatchNorm => Layer::BatchNorm,
        LayerDef::GlobalPool => Layer::GlobalPool,
        LayerDef::Activation { .. } => Layer::Activation(
            Activation::parse(&values[0].to_string()).expect("checked to be a function"),
        ),
        LayerDef::Dropout { .. } => {
            let rate = match &values[0] {
                Scalar::Int(v) => *v as f64,
                Scalar::Float(v) => *v,
                other => unreachable!("checked to be a rate: {other}"),
            };
            Layer::Dropout {
                permille: (rate * 1000.0).round() as u16,
            }
        }
    }
}

/// Calls `out` with every layer `def` can become, its hyper-parameters' values from `values`.
pub fn each_instance(
    def: &LayerDef,
    values: &dyn Fn(&Param) -> Vec<Scalar>,
    out: &mut dyn FnMut(Layer),
) {
    let lists: Vec<Vec<Scalar>> = def.params().into_iter().map(values).collect();
    let mut pick = vec![0usize; lists.len()];
    loop {
        let chosen: Vec<Scalar> = pick
            .iter()
            .zip(&lists)
            .map(|(&i, l)| l[i].clone())
            .collect();
        out(make(def, &chosen));
        let Some(k) = (0..lists.len()).rposition(|k| pick[k] + 1 < lists[k].len()) else {
            return;
        };
        pick[k] += 1;
        pick[k + 1..].fill(0);
    }
}

/// What a graph node computes.
#[derive(Debug, Clone, PartialEq)]
pub enum Emit {
    /// The network input.
    Input,
    /// A basic module.
    Layer(Layer),
    /// A residual's sum of its body and its input (in that order).
    Add,
    /// A concat's channel concatenation of its branches.
    Concat,
}

impl Emit {
    /// The node's operation label (an entry of the graph encoding's vocabulary).
    pub fn label(&self) -> String {
        match self {
            Emit::Input => "input".into(),
            Emit::Layer(layer) => layer.label(),
            Emit::Add => "add".into(),
            Emit::Concat => "concat".into(),
        }
    }
}

/// One node of a walked network.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// What it computes.
    pub emit: Emit,
    /// Its inputs (earlier nodes).
    pub inputs: Vec<usize>,
    /// Where its module was written.
    pub span: Range<usize>,
}

/// How a walk ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The sequence is complete; the network's last node.
    Complete(usize),
    /// The next choice, which the prefix does not hold.
    Next(Choice),
}

/// A walk's result: the nodes emitted so far, the training choices made, and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Walked {
    /// Nodes in emission order; node 0 is the input.
    pub nodes: Vec<Emitted>,
    /// The training settings decided.
    pub training: TrainingChoices,
    /// Complete, or the next choice.
    pub end: End,
}

/// Walks `space` with `decisions` (see the module documentation). A decision out of range,
/// or decisions left over after a complete sequence, are an error.
pub fn walk(space: &Space, decisions: &[usize]) -> Result<Walked> {
    let mut w = Walker {
        space,
        decisions,
        position: 0,
        shared: vec![None; space.shared.len()],
        nodes: vec![Emitted {
            emit: Emit::Input,
            inputs: Vec::new(),
            span: 0..0,
        }],
        training: TrainingChoices::new(),
    };
    let end = match w.run() {
        Ok(_) if w.position < decisions.len() => {
            return Err(Error::InvalidDecisions {
                decisions: decisions.to_vec(),
                reason: format!("the sequence is complete after {} decisions", w.position),
            });
        }
        Ok(output) => End::Complete(output),
        Err(Halt::Need(choice)) => End::Next(choice),
        Err(Halt::Bad(e)) => return Err(e),
    };
    Ok(Walked {
        nodes: w.nodes,
        training: w.training,
        end,
    })
}

/// Why a walk stopped early.
enum Halt {
    /// At a decision the prefix does not hold.
    Need(Choice),
    /// At a decision out of range.
    Bad(Error),
}

struct Walker<'a> {
    space: &'a Space,
    decisions: &'a [usize],
    position: usize,
    /// Per shared root, the option chosen.
    shared: Vec<Option<usize>>,
    nodes: Vec<Emitted>,
    training: TrainingChoices,
}

impl Walker<'_> {
    fn run(&mut self) -> std::result::Result<usize, Halt> {
        for t in &self.space.training {
            let value = self.value(&t.param)?;
            self.training.insert(t.key.clone(), value.json());
        }
        self.node(&self.space.root, 0)
    }

    /// The next decision, of kind `kind` among `options`.
    fn decide(&mut self, kind: usize, options: usize) -> std::result::Result<usize, Halt> {
        let Some(&d) = self.decisions.get(self.position) else {
            return Err(Halt::Need(Choice::new(kind, options)));
        };
        if d >= options {
            return Err(Halt::Bad(Error::InvalidDecisions {
                decisions: self.decisions.to_vec(),
                reason: format!(
                    "option {d} at position {} is out of range (kind `{}` has {options})",
                    self.position, self.space.kinds[kind].name
                ),
            }));
        }
        self.position += 1;
        Ok(d)
    }

    fn value(&mut self, param: &Param) -> std::result::Result<Scalar, Halt> {
        Ok(match param {
            Param::Fixed(v) => v.clone(),
            Param::Choose { kind, values } => values[self.decide(*kind, values.len())?].clone(),
            Param::Shared(i) => {
                let shared = &self.space.shared[*i];
                let root = shared.root;
                let option = match (self.shared[root], self.space.shared[root].kind) {
                    (Some(option), _) => option,
                    (None, None) => 0,
                    (None, Some(kind)) => {
                        let option = self.decide(kind, self.space.shared[root].values.len())?;
                        self.shared[root] = Some(option);
                        option
                    }
                };
                shared.values[option].clone()
            }
        })
    }

    fn emit(&mut self, emit: Emit, inputs: Vec<usize>, span: &Range<usize>) -> usize {
        self.nodes.push(Emitted {
            emit,
            inputs,
            span: span.clone(),
        });
        self.nodes.len() - 1
    }

    fn count(&mut self, counts: &Param) -> std::result::Result<usize, Halt> {
        Ok(match self.value(counts)? {
            Scalar::Int(v) => v as usize,
            other => unreachable!("checked to be a count: {other}"),
        })
    }

    /// Walks `node` on the output of node `input`; returns its output node.
    fn node(&mut self, node: &Node, input: usize) -> std::result::Result<usize, Halt> {
        match node {
            Node::Layer(def, span) => {
                let values = def
                    .params()
                    .into_iter()
                    .map(|p| self.value(p))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(self.emit(Emit::Layer(make(def, &values)), vec![input], span))
            }
            Node::Sequence(nodes) => nodes.iter().try_fold(input, |x, n| self.node(n, x)),
            Node::Or { kind, branches } => {
                let b = self.decide(*kind, branches.len())?;
                self.node(&branches[b], input)
            }
            Node::Optional { kind, inner } => match self.decide(*kind, 2)? {
                0 => Ok(input),
                _ => self.node(inner, input),
            },
            Node::Repeat { counts, inner } => {
                let k = self.count(counts)?;
                (0..k).try_fold(input, |x, _| self.node(inner, x))
            }
            Node::Concat(branches, span) => {
                let outputs = branches
                    .iter()
                    .map(|b| self.node(b, input))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(self.emit(Emit::Concat, outputs, span))
            }
            Node::Residual(body, span) => {
                let out = self.node(body, input)?;
                Ok(self.emit(Emit::Add, vec![out, input], span))
            }
        }
    }
}
