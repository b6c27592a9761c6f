//! The search-space language as written: modules as nested TOML tables, each a table with one
//! key naming its type, and hyper-parameters as a value, a list of values to choose from, or
//! `{ shared = "name" }` for a hyper-parameter shared by name. The same types build a space
//! from Rust. Every module and hyper-parameter keeps where it was written (its span), so
//! that [`super::compile`] can name the line of anything wrong.
//!
//! ```toml
//! [environment]
//! kind = "tree"
//! space = [
//!   { repeat = { counts = [1, 2], module = [
//!       { conv = { filters = { shared = "width" }, kernel = [3, 5] } },
//!       { batch_norm = {} },
//!       { activation = { function = ["relu", "tanh"] } },
//!       { optional = { max_pool = { window = 2 } } },
//!   ] } },
//!   { dropout = { rate = [0.0, 0.25] } },
//! ]
//! shared = { width = [16, 32] }
//! training = { learning_rate = [0.1, 0.01] }
//! ```

use archforge::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use toml::Spanned;

/// A hyper-parameter as written: a value, a list of values, or `{ shared = "name" }`
/// (`{ of = "name", times = k }` for a shared hyper-parameter derived from another).
pub type Raw = Spanned<toml::Value>;

/// A module with where it was written.
pub type Located = Spanned<Module>;

/// Modules in series.
pub type Modules = Vec<Located>;

/// One module: a basic layer or a substitution module over others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    /// A convolution (with bias, padding that keeps the size at stride 1).
    Conv(ConvDef),
    /// A depthwise-separable convolution: a depthwise `kernel x kernel`, then a 1x1 to
    /// `filters`.
    Separable(ConvDef),
    /// Max pooling.
    MaxPool(PoolDef),
    /// Average pooling.
    AvgPool(PoolDef),
    /// A fully connected layer (a feature map is flattened first).
    Dense(DenseDef),
    /// Batch norm.
    BatchNorm(Empty),
    /// An activation function.
    Activation(ActivationDef),
    /// Dropout.
    Dropout(DropoutDef),
    /// Global average pooling.
    GlobalPool(Empty),
    /// Modules in series.
    Sequence(Modules),
    /// One of several modules (one decision).
    Or(Modules),
    /// A module or nothing (one decision).
    Optional(Box<Located>),
    /// `k` copies of a module in series, `k` chosen; each copy decides on its own.
    Repeat(RepeatDef),
    /// Branches on the same input, their outputs concatenated along channels.
    Concat(Modules),
    /// `y = f(x) + x`, a 1x1 projection on the skip where `f` changes the shape.
    Residual(Box<Located>),
}

/// A module without settings (`batch_norm = {}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `conv` and `separable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvDef {
    /// Output channels.
    pub filters: Raw,
    /// Square kernel size (odd; default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Raw>,
    /// Stride (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<Raw>,
}

/// `max_pool` and `avg_pool`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolDef {
    /// Window size (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Raw>,
    /// Stride (default: the window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<Raw>,
}

/// `dense`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseDef {
    /// Output features.
    pub units: Raw,
}

/// `activation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationDef {
    /// `relu`, `tanh` or `sigmoid` (default `relu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<Raw>,
}

/// `dropout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropoutDef {
    /// The drop probability, in [0, 1).
    pub rate: Raw,
}

/// `repeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatDef {
    /// How many copies (whole numbers, 0 allowed where something else stands).
    pub counts: Raw,
    /// The module repeated (a list: modules in series).
    pub module: Modules,
}

/// A search space as written: the modules in series, the shared hyper-parameters, and the
/// training settings chosen per candidate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceDef {
    /// The network's modules, in series (the classifier is added after them).
    #[serde(default)]
    pub space: Modules,
    /// Hyper-parameters shared by name: a list of values (one decision, made where the name
    /// is first used), or `{ of = "name", times = k }`, the other's value times `k`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shared: BTreeMap<String, Raw>,
    /// `[training]` keys chosen per candidate (a learning rate, an optimiser): a list of
    /// values each, decided before the network.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub training: BTreeMap<String, Raw>,
}

/// The file a space was written in, to name the line of a problem.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Source {
    /// The file.
    pub path: PathBuf,
    /// Its text (spans are byte offsets into it).
    pub text: Arc<str>,
}

impl Source {
    /// `FILE:LINE:COLUMN` of byte `offset`.
    pub fn locate(&self, offset: usize) -> String {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        format!("{}:{line}:{column}", self.path.display())
    }

    /// The error `reason` at `span`.
    pub fn error(&self, span: &Range<usize>, reason: impl Into<String>) -> Error {
        Error::Space {
            location: self.locate(span.start),
            reason: reason.into(),
        }
    }
}
