//! The space as walked: every hyper-parameter a fixed value, a decision of a declared kind
//! with its values, or a shared name; every module a node of a tree the walk descends; and
//! the bounds the environment promises (most decisions, most graph nodes).

use archforge::arch::PoolKind;
use archforge::spec::DecisionKindSpec;
use std::fmt;
use std::ops::Range;

/// A hyper-parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A whole number.
    Int(i64),
    /// A real number.
    Float(f64),
    /// A word.
    Text(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(v) => write!(f, "{v}"),
            Scalar::Float(v) => write!(f, "{v}"),
            Scalar::Text(v) => write!(f, "{v}"),
        }
    }
}

impl Scalar {
    /// The value a TOML scalar holds.
    pub fn of(value: &toml::Value) -> Option<Scalar> {
        match value {
            toml::Value::Integer(v) => Some(Scalar::Int(*v)),
            toml::Value::Float(v) => Some(Scalar::Float(*v)),
            toml::Value::String(v) => Some(Scalar::Text(v.clone())),
            _ => None,
        }
    }

    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(v) => Some(*v as f64),
            Scalar::Float(v) => Some(*v),
            Scalar::Text(_) => None,
        }
    }

    /// The value as JSON, for a training choice.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Scalar::Int(v) => serde_json::Value::from(*v),
            Scalar::Float(v) => serde_json::Value::from(*v),
            Scalar::Text(v) => serde_json::Value::from(v.clone()),
        }
    }
}

/// An activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// ReLU.
    Relu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
}

impl Activation {
    /// The function a word names.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "relu" => Some(Activation::Relu),
            "tanh" => Some(Activation::Tanh),
            "sigmoid" => Some(Activation::Sigmoid),
            _ => None,
        }
    }
}

/// A hyper-parameter as walked.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// One value: no decision.
    Fixed(Scalar),
    /// A decision of kind `kind` among `values`.
    Choose {
        /// The decision kind.
        kind: usize,
        /// Its values, by option.
        values: Vec<Scalar>,
    },
    /// The shared hyper-parameter with this index.
    Shared(usize),
}

/// A shared hyper-parameter: its values follow the option chosen for its root (itself, or
/// the name it is derived from).
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    /// Its name.
    pub name: String,
    /// The shared hyper-parameter whose decision it follows.
    pub root: usize,
    /// Its value for each of the root's options.
    pub values: Vec<Scalar>,
    /// For a root with several values, its decision kind.
    pub kind: Option<usize>,
}

/// A basic module's settings as walked.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerDef {
    /// A convolution.
    Conv {
        /// Output channels.
        filters: Param,
        /// Kernel size.
        kernel: Param,
        /// Stride.
        stride: Param,
    },
    /// A depthwise-separable convolution.
    Separable {
        /// Output channels.
        filters: Param,
        /// Depthwise kernel size.
        kernel: Param,
        /// Stride.
        stride: Param,
    },
    /// Pooling.
    Pool {
        /// Max or average.
        kind: PoolKind,
        /// Window.
        window: Param,
        /// Stride (none: the window).
        stride: Option<Param>,
    },
    /// A fully connected layer.
    Dense {
        /// Output features.
        units: Param,
    },
    /// Batch norm.
    BatchNorm,
    /// An activation.
    Activation {
        /// Which function.
        function: Param,
    },
    /// Dropout.
    Dropout {
        /// The drop probability.
        rate: Param,
    },
    /// Global average pooling.
    GlobalPool,
}

impl LayerDef {
    /// The module's hyper-parameters, in decision order.
    pub fn params(&self) -> Vec<&Param> {
        match self {
            LayerDef::Conv {
                filters,
                kernel,
                stride,
            }
            | LayerDef::Separable {
                filters,
                kernel,
                stride,
            } => vec![filters, kernel, stride],
            LayerDef::Pool { window, stride, .. } => {
                std::iter::once(window).chain(stride).collect()
            }
            LayerDef::Dense { units } => vec![units],
            LayerDef::Activation { function } => vec![function],
            LayerDef::Dropout { rate } => vec![rate],
            LayerDef::BatchNorm | LayerDef::GlobalPool => Vec::new(),
        }
    }
}

/// A module as walked.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A basic module, with where it was written.
    Layer(LayerDef, Range<usize>),
    /// Modules in series.
    Sequence(Vec<Node>),
    /// One of `branches`, by a decision of kind `kind`.
    Or {
        /// The decision kind.
        kind: usize,
        /// The alternatives.
        branches: Vec<Node>,
    },
    /// `inner` or nothing, by a decision of kind `kind` (option 0: nothing).
    Optional {
        /// The decision kind.
        kind: usize,
        /// The module.
        inner: Box<Node>,
    },
    /// `counts` copies of `inner`.
    Repeat {
        /// How many.
        counts: Param,
        /// The module.
        inner: Box<Node>,
    },
    /// Branches concatenated along channels.
    Concat(Vec<Node>, Range<usize>),
    /// A residual connection around the module.
    Residual(Box<Node>, Range<usize>),
}

/// A training setting chosen per candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingParam {
    /// The `[training]` key.
    pub key: String,
    /// Its values.
    pub param: Param,
}

/// A space ready to walk (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    /// The network's modules, in series.
    pub root: Node,
    /// Shared hyper-parameters.
    pub shared: Vec<Shared>,
    /// Training settings, decided first.
    pub training: Vec<TrainingParam>,
    /// Every decision kind.
    pub kinds: Vec<DecisionKindSpec>,
    /// The most decisions a sequence has.
    pub max_length: usize,
    /// The most graph nodes a network has (its input included).
    pub max_nodes: usize,
}

/// Every value `param` can take.
pub fn possible(param: &Param, shared: &[Shared]) -> Vec<Scalar> {
    match param {
        Param::Fixed(v) => vec![v.clone()],
        Param::Choose { values, .. } => values.clone(),
        Param::Shared(i) => shared[*i].values.clone(),
    }
}
