//! From the space as written ([`super::language`]) to the space as walked: every
//! hyper-parameter checked against what its module accepts, every decision given its kind
//! (its place in the space, with the values as labels), shared names resolved (a derived one to
//! the name it follows, cycles refused), and the bounds the environment promises (most
//! decisions, most graph nodes, the operation vocabulary) computed. Whatever is wrong is one
//! error naming `FILE:LINE:COLUMN` of the offending module or value.

use super::language::{Located, Module, Raw, SpaceDef};
use archforge::arch::PoolKind;
use archforge::candidate::TrainingChoices;
use archforge::error::{Error, Result};
use archforge::nn::TrainConfig;
use archforge::spec::DecisionKindSpec;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

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
    fn of(value: &toml::Value) -> Option<Scalar> {
        match value {
            toml::Value::Integer(v) => Some(Scalar::Int(*v)),
            toml::Value::Float(v) => Some(Scalar::Float(*v)),
            toml::Value::String(v) => Some(Scalar::Text(v.clone())),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
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

/// What a hyper-parameter of a module accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepts {
    /// A whole number >= 1.
    Positive,
    /// An odd whole number >= 1.
    Odd,
    /// A whole number >= 0.
    Count,
    /// A number in [0, 1).
    Rate,
    /// `relu`, `tanh` or `sigmoid`.
    Function,
}

impl Accepts {
    fn check(self, value: &Scalar) -> std::result::Result<(), String> {
        let int = match value {
            Scalar::Int(v) => Some(*v),
            _ => None,
        };
        let ok = match self {
            Accepts::Positive => int.is_some_and(|v| v >= 1),
            Accepts::Odd => int.is_some_and(|v| v >= 1 && v % 2 == 1),
            Accepts::Count => int.is_some_and(|v| v >= 0),
            Accepts::Rate => value.as_f64().is_some_and(|v| (0.0..1.0).contains(&v)),
            Accepts::Function => Activation::parse(&value.to_string()).is_some(),
        };
        let wants = match self {
            Accepts::Positive => "a whole number >= 1",
            Accepts::Odd => "an odd whole number >= 1",
            Accepts::Count => "a whole number >= 0",
            Accepts::Rate => "a number in [0, 1)",
            Accepts::Function => "one of `relu`, `tanh`, `sigmoid`",
        };
        if ok {
            Ok(())
        } else {
            Err(format!("`{value}` is not {wants}"))
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
    /// Every layer label a network can hold, then `input`, `add` and `concat`.
    pub operations: Vec<String>,
}

/// Lowers a written space (see the module documentation).
pub fn compile(def: &SpaceDef, source: &Source) -> Result<Space> {
    let mut c = Compiler {
        source,
        kinds: Vec::new(),
        shared_index: HashMap::new(),
        shared: Vec::new(),
        used: Vec::new(),
        labels: Vec::new(),
    };
    c.shared(&def.shared)?;
    let training = c.training(&def.training)?;
    if def.space.is_empty() {
        return Err(Error::Space {
            location: source.path.display().to_string(),
            reason: "the space has no modules: `space = [ ... ]` lists the network's modules"
                .into(),
        });
    }
    let root = c.sequence(&def.space, "space")?;
    if let Some(first) = def.space.first()
        && can_be_empty(&root, &c.shared)
    {
        return Err(source.error(
            &first.span(),
            "the whole network can be empty (a repeat of 0 or an optional module with nothing else beside it)",
        ));
    }
    for (i, used) in c.used.iter().enumerate() {
        if !used {
            let (name, raw) = def
                .shared
                .iter()
                .nth(i)
                .expect("one shared entry per index");
            return Err(source.error(
                &raw.span(),
                format!("shared hyper-parameter `{name}` is never used"),
            ));
        }
    }
    let shared_decisions = c.shared.iter().filter(|s| s.kind.is_some()).count();
    let training_decisions = training
        .iter()
        .filter(|t| matches!(t.param, Param::Choose { .. }))
        .count();
    let max_length = most_decisions(&root, &c.shared) + shared_decisions + training_decisions;
    let max_nodes = 1 + most_nodes(&root, &c.shared);
    let mut operations = c.labels;
    operations.extend(["input", "add", "concat"].map(String::from));
    let mut kinds = c.kinds;
    if kinds.is_empty() {
        // A space of fixed modules still declares a kind (it offers no choice).
        kinds.push(DecisionKindSpec {
            name: "none".into(),
            labels: vec!["-".into()],
        });
    }
    Ok(Space {
        root,
        shared: c.shared,
        training,
        kinds,
        max_length: max_length.max(1),
        max_nodes,
        operations,
    })
}

struct Compiler<'a> {
    source: &'a Source,
    kinds: Vec<DecisionKindSpec>,
    shared_index: HashMap<String, usize>,
    shared: Vec<Shared>,
    used: Vec<bool>,
    /// Every layer label seen, without repeats.
    labels: Vec<String>,
}

impl Compiler<'_> {
    fn kind(&mut self, name: String, labels: Vec<String>) -> usize {
        self.kinds.push(DecisionKindSpec { name, labels });
        self.kinds.len() - 1
    }

    /// The values written at `raw`: a value or a list of them.
    fn values(&self, raw: &Raw) -> Result<Vec<Scalar>> {
        let bad = || {
            self.source.error(
                &raw.span(),
                "expected a value, a list of values, or `{ shared = \"name\" }`",
            )
        };
        let values = match raw.get_ref() {
            toml::Value::Array(items) => items
                .iter()
                .map(Scalar::of)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(bad)?,
            other => vec![Scalar::of(other).ok_or_else(bad)?],
        };
        if values.is_empty() {
            return Err(self.source.error(&raw.span(), "an empty list of values"));
        }
        Ok(values)
    }

    fn shared(&mut self, defs: &BTreeMap<String, Raw>) -> Result<()> {
        for (i, name) in defs.keys().enumerate() {
            self.shared_index.insert(name.clone(), i);
        }
        // Each name's root and factor, following `of` chains (cycles refused).
        let mut follows: Vec<Option<(usize, f64)>> = Vec::with_capacity(defs.len());
        for raw in defs.values() {
            follows.push(match raw.get_ref() {
                toml::Value::Table(t) => {
                    let keys: Vec<&str> = t.keys().map(String::as_str).collect();
                    let of = t.get("of").and_then(toml::Value::as_str);
                    let times = match t.get("times") {
                        None => Some(1.0),
                        Some(v) => Scalar::of(v).and_then(|s| s.as_f64()),
                    };
                    match (of, times) {
                        (Some(of), Some(times))
                            if keys.iter().all(|k| matches!(*k, "of" | "times")) =>
                        {
                            let target = *self.shared_index.get(of).ok_or_else(|| {
                                self.source.error(
                                    &raw.span(),
                                    format!("`of = \"{of}\"` names no shared hyper-parameter"),
                                )
                            })?;
                            Some((target, times))
                        }
                        _ => {
                            return Err(self.source.error(
                                &raw.span(),
                                "a shared hyper-parameter is a list of values or `{ of = \"name\", times = k }`",
                            ));
                        }
                    }
                }
                _ => None,
            });
        }
        let names: Vec<&String> = defs.keys().collect();
        let raws: Vec<&Raw> = defs.values().collect();
        for i in 0..defs.len() {
            let (mut root, mut factor) = (i, 1.0);
            let mut chain = vec![i];
            while let Some((next, times)) = follows[root] {
                if chain.contains(&next) {
                    let cycle: Vec<&str> = chain
                        .iter()
                        .chain([&next])
                        .map(|&k| names[k].as_str())
                        .collect();
                    return Err(self.source.error(
                        &raws[i].span(),
                        format!("shared names form a cycle: {}", cycle.join(" -> ")),
                    ));
                }
                chain.push(next);
                factor *= times;
                root = next;
            }
            let base = self.values(raws[root])?;
            let values = base
                .iter()
                .map(|v| match (v, factor == 1.0) {
                    (_, true) => Ok(v.clone()),
                    (Scalar::Text(_), false) => Err(self
                        .source
                        .error(&raws[i].span(), format!("`{}` cannot be multiplied", v))),
                    (v, false) => {
                        let x = v.as_f64().expect("numbers") * factor;
                        Ok(if x.fract() == 0.0 && x.abs() < 1e15 {
                            Scalar::Int(x as i64)
                        } else {
                            Scalar::Float(x)
                        })
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            self.shared.push(Shared {
                name: names[i].clone(),
                root,
                values,
                kind: None,
            });
        }
        for i in 0..self.shared.len() {
            if self.shared[i].root == i && self.shared[i].values.len() > 1 {
                let labels = self.shared[i]
                    .values
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                let kind = self.kind(format!("shared.{}", self.shared[i].name), labels);
                self.shared[i].kind = Some(kind);
            }
        }
        self.used = vec![false; self.shared.len()];
        Ok(())
    }

    fn training(&mut self, defs: &BTreeMap<String, Raw>) -> Result<Vec<TrainingParam>> {
        let mut out = Vec::new();
        for (key, raw) in defs {
            let values = self.values(raw)?;
            for v in &values {
                let choice = TrainingChoices::from([(key.clone(), v.json())]);
                TrainConfig::default()
                    .with_choices(&choice)
                    .map_err(|why| {
                        self.source
                            .error(&raw.span(), format!("training `{key}` = {v}: {why}"))
                    })?;
            }
            let param = self.param_of(values, format!("training.{key}"));
            out.push(TrainingParam {
                key: key.clone(),
                param,
            });
        }
        Ok(out)
    }

    fn param_of(&mut self, mut values: Vec<Scalar>, name: String) -> Param {
        if values.len() == 1 {
            return Param::Fixed(values.remove(0));
        }
        let labels = values.iter().map(|v| v.to_string()).collect();
        Param::Choose {
            kind: self.kind(name, labels),
            values,
        }
    }

    /// A module's hyper-parameter, its every possible value checked.
    fn param(
        &mut self,
        raw: Option<&Raw>,
        default: Option<Scalar>,
        accepts: Accepts,
        name: String,
        module: &Range<usize>,
    ) -> Result<Param> {
        let Some(raw) = raw else {
            let value = default.expect("an optional hyper-parameter has a default");
            accepts
                .check(&value)
                .map_err(|why| self.source.error(module, why))?;
            return Ok(Param::Fixed(value));
        };
        let shared = match raw.get_ref() {
            toml::Value::Table(t) if t.len() == 1 && t.contains_key("shared") => {
                let n = t["shared"].as_str().unwrap_or("");
                Some(*self.shared_index.get(n).ok_or_else(|| {
                    let known: Vec<&str> = self.shared.iter().map(|s| s.name.as_str()).collect();
                    self.source.error(
                        &raw.span(),
                        format!(
                            "`{n}` names no shared hyper-parameter (shared: {})",
                            if known.is_empty() {
                                "none".into()
                            } else {
                                known.join(", ")
                            }
                        ),
                    )
                })?)
            }
            _ => None,
        };
        let values = match shared {
            Some(i) => self.shared[i].values.clone(),
            None => self.values(raw)?,
        };
        for v in &values {
            accepts
                .check(v)
                .map_err(|why| self.source.error(&raw.span(), why))?;
        }
        Ok(match shared {
            Some(i) => {
                self.used[i] = true;
                Param::Shared(i)
            }
            None => self.param_of(values, name),
        })
    }

    fn sequence(&mut self, modules: &[Located], path: &str) -> Result<Node> {
        let nodes = modules
            .iter()
            .enumerate()
            .map(|(i, m)| self.module(m, &format!("{path}[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        Ok(match nodes.len() {
            1 => nodes.into_iter().next().expect("one"),
            _ => Node::Sequence(nodes),
        })
    }

    fn module(&mut self, located: &Located, path: &str) -> Result<Node> {
        let span = located.span();
        let int = |v: i64| Some(Scalar::Int(v));
        let layer = |def: LayerDef, c: &mut Self| {
            let node = Node::Layer(def, span.clone());
            for label in layer_labels(&node, &c.shared) {
                if !c.labels.contains(&label) {
                    c.labels.push(label);
                }
            }
            Ok(node)
        };
        let list = |c: &mut Self, items: &[Located], what: &str| -> Result<Vec<Node>> {
            if items.is_empty() {
                return Err(c.source.error(&span, format!("`{what}` lists no modules")));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, m)| c.module(m, &format!("{path}.{what}[{i}]")))
                .collect()
        };
        match located.get_ref() {
            Module::Conv(d) | Module::Separable(d) => {
                let which = if matches!(located.get_ref(), Module::Conv(_)) {
                    "conv"
                } else {
                    "separable"
                };
                let p = format!("{path}.{which}");
                let filters = self.param(
                    Some(&d.filters),
                    None,
                    Accepts::Positive,
                    format!("{p}.filters"),
                    &span,
                )?;
                let kernel = self.param(
                    d.kernel.as_ref(),
                    int(3),
                    Accepts::Odd,
                    format!("{p}.kernel"),
                    &span,
                )?;
                let stride = self.param(
                    d.stride.as_ref(),
                    int(1),
                    Accepts::Positive,
                    format!("{p}.stride"),
                    &span,
                )?;
                let def = if which == "conv" {
                    LayerDef::Conv {
                        filters,
                        kernel,
                        stride,
                    }
                } else {
                    LayerDef::Separable {
                        filters,
                        kernel,
                        stride,
                    }
                };
                layer(def, self)
            }
            Module::MaxPool(d) | Module::AvgPool(d) => {
                let kind = if matches!(located.get_ref(), Module::MaxPool(_)) {
                    PoolKind::Max
                } else {
                    PoolKind::Avg
                };
                let p = format!("{path}.pool");
                let window = self.param(
                    d.window.as_ref(),
                    int(2),
                    Accepts::Positive,
                    format!("{p}.window"),
                    &span,
                )?;
                let stride = match &d.stride {
                    Some(raw) => Some(self.param(
                        Some(raw),
                        None,
                        Accepts::Positive,
                        format!("{p}.stride"),
                        &span,
                    )?),
                    None => None,
                };
                layer(
                    LayerDef::Pool {
                        kind,
                        window,
                        stride,
                    },
                    self,
                )
            }
            Module::Dense(d) => {
                let units = self.param(
                    Some(&d.units),
                    None,
                    Accepts::Positive,
                    format!("{path}.dense.units"),
                    &span,
                )?;
                layer(LayerDef::Dense { units }, self)
            }
            Module::BatchNorm(_) => layer(LayerDef::BatchNorm, self),
            Module::GlobalPool(_) => layer(LayerDef::GlobalPool, self),
            Module::Activation(d) => {
                let function = self.param(
                    d.function.as_ref(),
                    Some(Scalar::Text("relu".into())),
                    Accepts::Function,
                    format!("{path}.activation"),
                    &span,
                )?;
                layer(LayerDef::Activation { function }, self)
            }
            Module::Dropout(d) => {
                let rate = self.param(
                    Some(&d.rate),
                    None,
                    Accepts::Rate,
                    format!("{path}.dropout.rate"),
                    &span,
                )?;
                layer(LayerDef::Dropout { rate }, self)
            }
            Module::Sequence(items) => {
                let nodes = list(self, items, "sequence")?;
                Ok(Node::Sequence(nodes))
            }
            Module::Or(items) => {
                let branches = list(self, items, "or")?;
                let labels = items
                    .iter()
                    .enumerate()
                    .map(|(i, m)| format!("{i}:{}", type_name(m.get_ref())))
                    .collect();
                let kind = self.kind(format!("{path}.or"), labels);
                Ok(Node::Or { kind, branches })
            }
            Module::Optional(inner) => {
                let inner = self.module(inner, &format!("{path}.optional"))?;
                let kind = self.kind(
                    format!("{path}.optional"),
                    vec!["skip".into(), "use".into()],
                );
                Ok(Node::Optional {
                    kind,
                    inner: Box::new(inner),
                })
            }
            Module::Repeat(d) => {
                if d.module.is_empty() {
                    return Err(self.source.error(&span, "`repeat` has no module"));
                }
                let counts = self.param(
                    Some(&d.counts),
                    None,
                    Accepts::Count,
                    format!("{path}.repeat.counts"),
                    &span,
                )?;
                let inner = self.sequence(&d.module, &format!("{path}.repeat"))?;
                Ok(Node::Repeat {
                    counts,
                    inner: Box::new(inner),
                })
            }
            Module::Concat(items) => {
                let branches = list(self, items, "concat")?;
                Ok(Node::Concat(branches, span))
            }
            Module::Residual(inner) => {
                let body = self.module(inner, &format!("{path}.residual"))?;
                if can_be_empty(&body, &self.shared) {
                    return Err(self.source.error(
                        &span,
                        "a residual around a module that can be empty (a repeat of 0 or an optional module) adds its input to itself",
                    ));
                }
                Ok(Node::Residual(Box::new(body), span))
            }
        }
    }
}

/// The type name of a written module (labels of an `or`).
fn type_name(m: &Module) -> &'static str {
    match m {
        Module::Conv(_) => "conv",
        Module::Separable(_) => "separable",
        Module::MaxPool(_) => "max_pool",
        Module::AvgPool(_) => "avg_pool",
        Module::Dense(_) => "dense",
        Module::BatchNorm(_) => "batch_norm",
        Module::Activation(_) => "activation",
        Module::Dropout(_) => "dropout",
        Module::GlobalPool(_) => "global_pool",
        Module::Sequence(_) => "sequence",
        Module::Or(_) => "or",
        Module::Optional(_) => "optional",
        Module::Repeat(_) => "repeat",
        Module::Concat(_) => "concat",
        Module::Residual(_) => "residual",
    }
}

/// Every value `param` can take.
fn possible(param: &Param, shared: &[Shared]) -> Vec<Scalar> {
    match param {
        Param::Fixed(v) => vec![v.clone()],
        Param::Choose { values, .. } => values.clone(),
        Param::Shared(i) => shared[*i].values.clone(),
    }
}

/// The labels every instance of a basic module can have.
fn layer_labels(node: &Node, shared: &[Shared]) -> Vec<String> {
    let Node::Layer(def, _) = node else {
        return Vec::new();
    };
    let mut out = Vec::new();
    super::walk::each_instance(def, &|p| possible(p, shared), &mut |layer| {
        out.push(layer.label())
    });
    out
}

/// Whether some choice leaves `node` without any layer.
fn can_be_empty(node: &Node, shared: &[Shared]) -> bool {
    let empty = |n: &Node| can_be_empty(n, shared);
    match node {
        Node::Layer(..) => false,
        Node::Sequence(nodes) => nodes.iter().all(empty),
        Node::Or { branches, .. } => branches.iter().any(empty),
        Node::Optional { .. } => true,
        Node::Repeat { counts, inner } => empty(inner) || counts_of(counts, shared).contains(&0),
        Node::Concat(branches, _) => branches.iter().all(empty),
        Node::Residual(..) => false,
    }
}

/// Every count a repeat can take.
fn counts_of(counts: &Param, shared: &[Shared]) -> Vec<usize> {
    possible(counts, shared)
        .iter()
        .filter_map(|v| match v {
            Scalar::Int(v) => Some(*v as usize),
            _ => None,
        })
        .collect()
}

fn local_decisions(param: &Param) -> usize {
    usize::from(matches!(param, Param::Choose { .. }))
}

fn layer_decisions(def: &LayerDef) -> usize {
    match def {
        LayerDef::Conv {
            filters,
            kernel,
            stride,
        }
        | LayerDef::Separable {
            filters,
            kernel,
            stride,
        } => local_decisions(filters) + local_decisions(kernel) + local_decisions(stride),
        LayerDef::Pool { window, stride, .. } => {
            local_decisions(window) + stride.as_ref().map_or(0, local_decisions)
        }
        LayerDef::Dense { units } => local_decisions(units),
        LayerDef::Activation { function } => local_decisions(function),
        LayerDef::Dropout { rate } => local_decisions(rate),
        LayerDef::BatchNorm | LayerDef::GlobalPool => 0,
    }
}

fn most_count(counts: &Param, shared: &[Shared]) -> usize {
    counts_of(counts, shared).into_iter().max().unwrap_or(0)
}

/// The most decisions a module's own hyper-parameters (shared ones aside) can take.
fn most_decisions(node: &Node, shared: &[Shared]) -> usize {
    let most = |n: &Node| most_decisions(n, shared);
    match node {
        Node::Layer(def, _) => layer_decisions(def),
        Node::Sequence(nodes) | Node::Concat(nodes, _) => nodes.iter().map(most).sum(),
        Node::Or { branches, .. } => 1 + branches.iter().map(most).max().unwrap_or(0),
        Node::Optional { inner, .. } => 1 + most(inner),
        Node::Repeat { counts, inner } => {
            local_decisions(counts) + most_count(counts, shared).max(1) * most(inner)
        }
        Node::Residual(inner, _) => most(inner),
    }
}

/// The most graph nodes a module can emit (a separable convolution and a dense layer's
/// flattening are one node of the graph each).
fn most_nodes(node: &Node, shared: &[Shared]) -> usize {
    match node {
        Node::Layer(..) => 1,
        Node::Sequence(nodes) => nodes.iter().map(|n| most_nodes(n, shared)).sum(),
        Node::Concat(nodes, _) => 1 + nodes.iter().map(|n| most_nodes(n, shared)).sum::<usize>(),
        Node::Or { branches, .. } => branches
            .iter()
            .map(|n| most_nodes(n, shared))
            .max()
            .unwrap_or(0),
        Node::Optional { inner, .. } => most_nodes(inner, shared),
        Node::Repeat { counts, inner } => most_count(counts, shared) * most_nodes(inner, shared),
        Node::Residual(inner, _) => 1 + most_nodes(inner, shared),
    }
}
