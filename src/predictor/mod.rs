//! Performance predictors: models fitted on the architectures a run has evaluated that
//! predict the search metric of those it has not, with an uncertainty where the model has
//! one. One contract ([`Predictor`]); what a predictor reads is a [`Sample`] of an
//! architecture — the space's feature vector (the features ability) or its graph as relaxed
//! one-hot node operations and an adjacency ([`GraphInput`], from the graph-encoding
//! ability) — so every predictor works on every space that offers the input it takes.
//!
//! The implementations, each in its own module, are chosen by one checked setting
//! ([`PredictorConfig`]):
//! - [`ridge`] regression and a random [`forest`] on the features;
//! - a multi-layer perceptron ([`mlp`]) and a graph convolutional network ([`gcn`]) on the
//!   graph, hand-written on [`dense`] layers and trained as [`neural`] says; both are
//!   differentiable with respect to the node features, which is what guides a generator;
//! - an [`ensemble`] of any of them, whose spread is the uncertainty.
//!
//! The neural predictors fit their targets as [`targets`] scales them (quantiles by default).
//!
//! [`Vocabulary`] prunes features that too few evaluated architectures have (DeepArchitect's
//! rule), for predictors fitted on a handful of rows.

pub mod config;
pub mod dense;
pub mod ensemble;
pub mod forest;
pub mod gcn;
mod kernel;
pub mod mlp;
pub mod neural;
pub mod ridge;
pub mod targets;
pub mod vocabulary;

pub use config::{EnsembleConfig, PredictorConfig};
pub use ensemble::Ensemble;
pub use forest::{Forest, ForestConfig};
pub use gcn::Gcn;
pub use mlp::Mlp;
pub use neural::NeuralConfig;
pub use ridge::Ridge;
pub use targets::TargetScale;
pub use vocabulary::Vocabulary;

use crate::ability::ArchGraph;
use crate::env::Environment;
use crate::error::{Error, Result};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// What a predictor reads of an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The space's feature vector (the features ability).
    Features,
    /// The space's graph (the graph-encoding ability).
    Graph,
}

/// A graph as a predictor reads it: per node a row of operation weights (one-hot for an
/// encoded architecture, any real values for a generator's relaxed sample), the adjacency
/// and the mask of real nodes, all as numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphInput {
    /// Node slots.
    pub nodes: usize,
    /// Operations in the vocabulary (the width of a node row).
    pub operations: usize,
    /// `nodes x operations`, row-major: node `i`'s weight on operation `o` at `i * operations + o`.
    pub x: Vec<f64>,
    /// `nodes x nodes`, row-major: 1 for an edge from `i` to `j` at `i * nodes + j`.
    pub adjacency: Vec<f64>,
    /// Per node, 1 for a real node and 0 for padding.
    pub mask: Vec<f64>,
}

impl GraphInput {
    /// The one-hot input of an encoded graph over a vocabulary of `operations`.
    pub fn one_hot(graph: &ArchGraph, operations: usize) -> Self {
        let nodes = graph.len();
        let mut x = vec![0.0; nodes * operations];
        let mut adjacency = vec![0.0; nodes * nodes];
        for i in 0..nodes {
            if graph.mask[i] {
                x[i * operations + graph.ops[i]] = 1.0;
            }
            for j in 0..nodes {
                adjacency[i * nodes + j] = f64::from(u8::from(graph.adjacency[i][j]));
            }
        }
        GraphInput {
            nodes,
            operations,
            x,
            adjacency,
            mask: graph.mask.iter().map(|&m| f64::from(u8::from(m))).collect(),
        }
    }

    /// Checks that the sizes agree with each other.
    pub fn check(&self) -> Result<()> {
        let n = self.nodes;
        if self.x.len() != n * self.operations
            || self.adjacency.len() != n * n
            || self.mask.len() != n
        {
            return Err(Error::Arch(format!(
                "graph input of {n} nodes and {} operations has {} node weights, {} adjacency \
                 entries and {} mask entries",
                self.operations,
                self.x.len(),
                self.adjacency.len(),
                self.mask.len()
            )));
        }
        Ok(())
    }
}

/// One architecture as predictors read it: what the space offers of the inputs asked for.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Sample {
    /// The feature vector, when asked for.
    pub features: Option<Vec<f64>>,
    /// The graph, when asked for.
    pub graph: Option<GraphInput>,
}

impl Sample {
    /// The sample of a complete sequence of `env` carrying `input`, or a one-line error
    /// naming the ability the space lacks.
    pub fn of(env: &dyn Environment, decisions: &[usize], input: Input) -> Result<Sample> {
        let lacks = |ability: &str| {
            Error::Arch(format!(
                "the predictor reads the {ability} ability, which `{}` does not have",
                env.spec().name
            ))
        };
        Ok(match input {
            Input::Features => Sample {
                features: Some(
                    env.features()
                        .ok_or_else(|| lacks("features"))?
                        .vector(decisions)?,
                ),
                graph: None,
            },
            Input::Graph => {
                let encoding = env.graph().ok_or_else(|| lacks("graph-encoding"))?;
                let graph = encoding.encode(decisions)?;
                graph.check_form(encoding.max_nodes(), encoding.operations().len())?;
                Sample {
                    features: None,
                    graph: Some(GraphInput::one_hot(&graph, encoding.operations().len())),
                }
            }
        })
    }

    /// The features, or an error from `predictor` that it needs them.
    pub fn features_for(&self, predictor: &str) -> Result<&[f64]> {
        self.features.as_deref().ok_or_else(|| Error::Predictor {
            predictor: predictor.into(),
            reason: "the sample has no features".into(),
        })
    }

    /// The graph, or an error from `predictor` that it needs one.
    pub fn graph_for(&self, predictor: &str) -> Result<&GraphInput> {
        self.graph.as_ref().ok_or_else(|| Error::Predictor {
            predictor: predictor.into(),
            reason: "the sample has no graph".into(),
        })
    }
}

/// A predicted search metric, with the model's uncertainty (a standard deviation) where it
/// has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The predicted metric.
    pub mean: f64,
    /// Its standard deviation (the spread of an ensemble or of a forest's trees).
    pub std: Option<f64>,
}

impl Prediction {
    /// A prediction without uncertainty.
    pub fn point(mean: f64) -> Self {
        Prediction { mean, std: None }
    }
}

/// A performance predictor (see the module documentation).
pub trait Predictor: Send + Sync {
    /// The predictor's kind, for errors and reports.
    fn kind(&self) -> &'static str;

    /// What it reads of an architecture.
    fn input(&self) -> Input;

    /// Fits the model on `samples` with their metrics `targets` (as many, at least two,
    /// finite); refitting starts afresh.
    fn fit(&mut self, samples: &[Sample], targets: &[f64], rng: &mut Rng) -> Result<()>;

    /// The prediction for one sample (an error before the first fit).
    fn predict(&self, sample: &Sample) -> Result<Prediction>;

    /// Whether [`Predictor::gradient`] is available.
    fn differentiable(&self) -> bool {
        false
    }

    /// The predicted metric of a graph and its gradient with respect to the node weights
    /// (`graph.x`'s layout), for guidance; only for differentiable predictors.
    fn gradient(&self, graph: &GraphInput) -> Result<(f64, Vec<f64>)> {
        let _ = graph;
        Err(Error::Predictor {
            predictor: self.kind().into(),
            reason: "this predictor is not differentiable".into(),
        })
    }
}

/// Checks the rows of a fit: as many samples as targets, at least two, all targets finite.
pub fn check_fit(kind: &str, samples: usize, targets: &[f64]) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::Predictor {
            predictor: kind.into(),
            reason,
        })
    };
    if samples != targets.len() {
        return bad(format!("{samples} samples and {} targets", targets.len()));
    }
    if samples < 2 {
        return bad(format!("needs at least 2 rows to fit, not {samples}"));
    }
    if let Some(t) = targets.iter().find(|t| !t.is_finite()) {
        return bad(format!("target {t} is not finite"));
    }
    Ok(())
}

/// The feature rows of `samples` for predictor `kind`: every sample must have features, all
/// of one width.
pub(crate) fn feature_rows<'a>(kind: &str, samples: &'a [Sample]) -> Result<Vec<&'a [f64]>> {
    let rows = samples
        .iter()
        .map(|s| s.features_for(kind))
        .collect::<Result<Vec<_>>>()?;
    if let Some(r) = rows.iter().find(|r| r.len() != rows[0].len()) {
        return Err(Error::Predictor {
            predictor: kind.into(),
            reason: format!("feature rows of {} and {} values", rows[0].len(), r.len()),
        });
    }
    Ok(rows)
}

/// The error of a predictor fitted on `fitted` features asked about `asked`.
pub(crate) fn wrong_width(kind: &str, fitted: usize, asked: usize) -> Error {
    Error::Predictor {
        predictor: kind.into(),
        reason: format!("fitted on {fitted} features, asked about {asked}"),
    }
}

/// The error of a predictor asked before it was fitted.
pub(crate) fn not_fitted(kind: &str) -> Error {
    Error::Predictor {
        predictor: kind.into(),
        reason: "asked to predict before it was fitted".into(),
    }
}
