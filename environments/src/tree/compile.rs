//! From the space as written ([`super::language`]) to the space as walked
//! ([`super::space`]): every hyper-parameter checked against what its module accepts, every
//! decision given its kind (its place in the space, with the values as labels), shared names
//! resolved (a derived one to the name it follows, cycles refused), and the bounds the
//! environment promises (most decisions, most graph nodes) computed. Whatever is wrong is one
//! error naming `FILE:LINE:COLUMN` of the offending module or value.

use super::language::{Located, Module, Raw, Source, SpaceDef};
use super::space::{
    Activation, LayerDef, Node, Param, Scalar, Shared, Space, TrainingParam, possible,
};
use archforge::arch::PoolKind;
use archforge::candidate::TrainingChoices;
use archforge::error::{Error, Result};
use archforge::nn::TrainConfig;
use archforge::spec::DecisionKindSpec;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

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

/// Lowers a written space (see the module documentation).
pub fn compile(def: &SpaceDef, source: &Source) -> Result<Space> {
    let mut c = Compiler {
        source,
        kinds: Vec::new(),
        shared_index: HashMap::new(),
        shared: Vec::new(),
        used: Vec::new(),
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
    })
}

struct Compiler<'a> {
    source: &'a Source,
    kinds: Vec<DecisionKindSpec>,
    shared_index: HashMap<String, usize>,
    shared: Vec<Shared>,
    used: Vec<bool>,
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
        let layer = |def: LayerDef| Ok(Node::Layer(def, span.clone()));
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
                layer(def)
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
                layer(LayerDef::Pool {
                    kind,
                    window,
                    stride,
                })
            }
            Module::Dense(d) => {
                let units = self.param(
                    Some(&d.units),
                    None,
                    Accepts::Positive,
                    format!("{path}.dense.units"),
                    &span,
                )?;
                layer(LayerDef::Dense { units })
            }
            Module::BatchNorm(_) => layer(LayerDef::BatchNorm),
            Module::GlobalPool(_) => layer(LayerDef::GlobalPool),
            Module::Activation(d) => {
                let function = self.param(
                    d.function.as_ref(),
                    Some(Scalar::Text("relu".into())),
                    Accepts::Function,
                    format!("{path}.activation"),
                    &span,
                )?;
                layer(LayerDef::Activation { function })
            }
            Module::Dropout(d) => {
                let rate = self.param(
                    Some(&d.rate),
                    None,
                    Accepts::Rate,
                    format!("{path}.dropout.rate"),
                    &span,
                )?;
                layer(LayerDef::Dropout { rate })
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
    def.params().into_iter().map(local_decisions).sum()
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
