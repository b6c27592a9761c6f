//! What the neural predictors share: their settings ([`NeuralConfig`]), the contract of a
//! network over one graph ([`GraphNet`]: forward, then back to its parameters and its input),
//! and [`Trained`], the one [`Predictor`] every such network is — fitted by Adam on the mean
//! squared error of its targets as [`super::targets`] scales them (quantiles by default), in
//! shuffled minibatches with a cosine-decayed learning rate and L2 weight decay, and
//! differentiable with respect to the node weights.

use super::targets::{TargetScale, Targets};
use super::{GraphInput, Input, Prediction, Predictor, Sample, check_fit, not_fitted};
use crate::adam::Adam;
use crate::error::{Error, Result};
use crate::rng::Rng;
use rand::seq::SliceRandom as _;
use serde::{Deserialize, Serialize};

/// The settings of a neural predictor (`{ kind = "gcn", hidden = 32, ... }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuralConfig {
    /// Units per hidden layer.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Hidden layers (graph convolutions for the GCN).
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// Passes over the training rows.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Rows per Adam step.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Adam's initial learning rate (decayed to zero along a cosine).
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    /// The L2 penalty on the parameters.
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f64,
    /// How the targets are scaled for the loss.
    #[serde(default)]
    pub targets: TargetScale,
}

fn default_hidden() -> usize {
    64
}
fn default_layers() -> usize {
    3
}
fn default_epochs() -> usize {
    300
}
fn default_batch() -> usize {
    16
}
fn default_learning_rate() -> f64 {
    3e-3
}
fn default_weight_decay() -> f64 {
    1e-3
}

impl Default for NeuralConfig {
    fn default() -> Self {
        NeuralConfig {
            hidden: default_hidden(),
            layers: default_layers(),
            epochs: default_epochs(),
            batch: default_batch(),
            learning_rate: default_learning_rate(),
            weight_decay: default_weight_decay(),
            targets: TargetScale::default(),
        }
    }
}

impl NeuralConfig {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        for (key, value) in [
            ("hidden", self.hidden),
            ("layers", self.layers),
            ("epochs", self.epochs),
            ("batch", self.batch),
        ] {
            if value == 0 {
                return Err((key, format!("{key} must be at least 1")));
            }
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err((
                "learning_rate",
                format!(
                    "learning_rate must be a finite number > 0, not {}",
                    self.learning_rate
                ),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err((
                "weight_decay",
                format!(
                    "weight_decay must be a finite number >= 0, not {}",
                    self.weight_decay
                ),
            ));
        }
        Ok(())
    }
}

/// A network from one graph to one number, its parameters a flat vector it does not own.
pub trait GraphNet: Send + Sync + Sized {
    /// The predictor kind it makes.
    const KIND: &'static str;

    /// The network for graphs of `nodes` slots over `operations` operations.
    fn new(nodes: usize, operations: usize, config: &NeuralConfig) -> Self;

    /// Parameters it reads.
    fn parameters(&self) -> usize;

    /// Fresh parameters.
    fn init(&self, params: &mut [f64], rng: &mut Rng);

    /// The output at `graph`; when `grad` or `dx` is given, the network then runs back from
    /// the output gradient `dout(output)`, adding the parameter gradients to `grad` and the
    /// gradient with respect to `graph.x` to `dx`.
    fn run(
        &self,
        params: &[f64],
        graph: &GraphInput,
        dout: &mut dyn FnMut(f64) -> f64,
        grad: Option<&mut [f64]>,
        dx: Option<&mut [f64]>,
    ) -> f64;
}

/// A fitted network: its parameters and the target scale it predicts in.
#[derive(Debug, Clone)]
struct Fitted<N> {
    net: N,
    params: Vec<f64>,
    nodes: usize,
    operations: usize,
    targets: Targets,
}

/// A neural predictor: a [`GraphNet`] and how to train it (see the module documentation).
#[derive(Debug, Clone)]
pub struct Trained<N> {
    config: NeuralConfig,
    fitted: Option<Fitted<N>>,
}

impl<N: GraphNet> Trained<N> {
    /// An unfitted predictor.
    pub fn new(config: NeuralConfig) -> Self {
        Trained {
            config,
            fitted: None,
        }
    }

    fn fitted_for(&self, graph: &GraphInput) -> Result<&Fitted<N>> {
        let fitted = self.fitted.as_ref().ok_or_else(|| not_fitted(N::KIND))?;
        graph.check()?;
        if graph.nodes != fitted.nodes || graph.operations != fitted.operations {
            return Err(Error::Predictor {
                predictor: N::KIND.into(),
                reason: format!(
                    "fitted on graphs of {} nodes over {} operations, asked about {} over {}",
                    fitted.nodes, fitted.operations, graph.nodes, graph.operations
                ),
            });
        }
        Ok(fitted)
    }
}

impl<N: GraphNet> Predictor for Trained<N> {
    fn kind(&self) -> &'static str {
        N::KIND
    }

    fn input(&self) -> Input {
        Input::Graph
    }

    fn fit(&mut self, samples: &[Sample], targets: &[f64], rng: &mut Rng) -> Result<()> {
        check_fit(N::KIND, samples.len(), targets)?;
        let graphs = samples
            .iter()
            .map(|s| s.graph_for(N::KIND))
            .collect::<Result<Vec<_>>>()?;
        let (nodes, operations) = (graphs[0].nodes, graphs[0].operations);
        if nodes == 0 || operations == 0 {
            return Err(Error::Predictor {
                predictor: N::KIND.into(),
                reason: format!("graphs of {nodes} nodes over {operations} operations"),
            });
        }
        for g in &graphs {
            g.check()?;
            if (g.nodes, g.operations) != (nodes, operations) {
                return Err(Error::Predictor {
                    predictor: N::KIND.into(),
                    reason: "the training graphs differ in size".into(),
                });
            }
        }
        let c = &self.config;
        let (map, standard) = Targets::fit(c.targets, targets);
        let net = N::new(nodes, operations, c);
        let mut params = vec![0.0; net.parameters()];
        net.init(&mut params, rng);
        let mut adam = Adam::new(params.len());
        let mut grad = vec![0.0; params.len()];
        let mut order: Vec<usize> = (0..graphs.len()).collect();
        let steps_per_epoch = graphs.len().div_ceil(c.batch);
        let total = (c.epochs * steps_per_epoch) as f64;
        let mut step = 0usize;
        for _ in 0..c.epochs {
            order.shuffle(rng);
            for batch in order.chunks(c.batch) {
                grad.fill(0.0);
                let b = batch.len() as f64;
                for &i in batch {
                    let y = standard[i];
                    net.run(
                        &params,
                        graphs[i],
                        &mut |out| 2.0 * (out - y) / b,
                        Some(&mut grad),
                        None,
                    );
                }
                for (g, p) in grad.iter_mut().zip(&params) {
                    *g += c.weight_decay * p;
                }
                let lr = c.learning_rate
                    * 0.5
                    * (1.0 + (std::f64::consts::PI * step as f64 / total).cos());
                adam.step(&mut params, &grad, lr);
                step += 1;
            }
        }
        if params.iter().any(|p| !p.is_finite()) {
            return Err(Error::Predictor {
                predictor: N::KIND.into(),
                reason: "training diverged (a parameter is not finite)".into(),
            });
        }
        self.fitted = Some(Fitted {
            net,
            params,
            nodes,
            operations,
            targets: map,
        });
        Ok(())
    }

    fn predict(&self, sample: &Sample) -> Result<Prediction> {
        let graph = sample.graph_for(N::KIND)?;
        let f = self.fitted_for(graph)?;
        let out = f.net.run(&f.params, graph, &mut |_| 0.0, None, None);
        Ok(Prediction::point(f.targets.back(out)))
    }

    fn differentiable(&self) -> bool {
        true
    }

    /// The gradient is the output's, scaled by the target map's mean slope: exact for
    /// standardised targets, and for quantiles the direction of the prediction's gradient
    /// (the map back is monotone) at the metric's overall scale.
    fn gradient(&self, graph: &GraphInput) -> Result<(f64, Vec<f64>)> {
        let f = self.fitted_for(graph)?;
        let mut dx = vec![0.0; graph.x.len()];
        let slope = f.targets.slope();
        let out = f
            .net
            .run(&f.params, graph, &mut |_| slope, None, Some(&mut dx));
        Ok((f.targets.back(out), dx))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks a network's input gradient against central differences at a relaxed graph.
    pub(crate) fn check_input_gradient<N: GraphNet>(graph: &GraphInput) {
        let config = NeuralConfig {
            hidden: 6,
            layers: 2,
            ..NeuralConfig::default()
        };
        let net = N::new(graph.nodes, graph.operations, &config);
        let mut params = vec![0.0; net.parameters()];
        net.init(&mut params, &mut crate::rng::seeded(3));
        let mut dx = vec![0.0; graph.x.len()];
        net.run(&params, graph, &mut |_| 1.0, None, Some(&mut dx));
        let h = 1e-6;
        for (i, &analytic) in dx.iter().enumerate() {
            let mut g = graph.clone();
            g.x[i] += h;
            let up = net.run(&params, &g, &mut |_| 0.0, None, None);
            g.x[i] -= 2.0 * h;
            let down = net.run(&params, &g, &mut |_| 0.0, None, None);
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (numeric - analytic).abs() < 1e-6 * (1.0 + numeric.abs()),
                "{}: input {i}: numeric {numeric} against {analytic}",
                N::KIND
            );
        }
        // And the parameter gradient against central differences, on a few parameters.
        let mut grad = vec![0.0; params.len()];
        net.run(&params, graph, &mut |_| 1.0, Some(&mut grad), None);
        for i in (0..params.len()).step_by(params.len() / 17 + 1) {
            let mut p = params.clone();
            p[i] += h;
            let up = net.run(&p, graph, &mut |_| 0.0, None, None);
            p[i] -= 2.0 * h;
            let down = net.run(&p, graph, &mut |_| 0.0, None, None);
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (numeric - grad[i]).abs() < 1e-6 * (1.0 + numeric.abs()),
                "{}: parameter {i}: numeric {numeric} against {}",
                N::KIND,
                grad[i]
            );
        }
    }

    /// A small relaxed graph: 4 nodes (the last padding), 3 operations, a triangle of edges.
    pub(crate) fn relaxed_graph() -> GraphInput {
        let nodes = 4;
        let mut adjacency = vec![0.0; 16];
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            adjacency[i * nodes + j] = 1.0;
        }
        GraphInput {
            nodes,
            operations: 3,
            x: vec![0.9, 0.2, -0.1, 0.3, 0.5, 0.4, -0.2, 0.1, 1.1, 0.7, 0.3, 0.2],
            adjacency,
            mask: vec![1.0, 1.0, 1.0, 0.0],
        }
    }
}
