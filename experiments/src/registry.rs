//! The registry: the one place that names every environment, controller, evaluator and
//! objective, maps the experiment file's `kind` strings to types and builds them. Adding a
//! controller or an environment = one variant and one match arm here.

use archforge::data::Splits;
use archforge::evaluator::{
    CacheMode, CachedEvaluator, Isolated, SharedLatencyTable, TableEvaluator, TableLatency,
};
use archforge::evaluator::{
    ProxyEvaluator, ProxySettings, StandaloneEvaluator, SupernetEvaluator, SupernetSettings,
};
use archforge::nn::{Teacher, TrainConfig};
use archforge::toy::{Toy, ToyConfig};
use archforge::{Controller, Environment, Evaluator};
use archforge_controllers::{
    Diffusion, DiffusionConfig, Eas, EasConfig, Evolution, EvolutionConfig, Mcts, MctsConfig,
    PolicyGradient, PolicyGradientConfig, RandomConfig, RandomSearch, Smbo, SmboConfig,
};
use archforge_environments::{
    Compression, Images, Mnasnet, MnasnetConfig, Nasnet, NasnetConfig, Nb201, Nb201Config,
    Netmorph, NetmorphConfig, Network, RemovalConfig, ShrinkageConfig, Tabular, TabularConfig,
    Tree, TreeConfig,
};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// A registered name with its one-line description.
pub type Entry = (&'static str, &'static str);

/// Every environment kind.
pub const ENVIRONMENTS: &[Entry] = &[
    (
        "nb201",
        "NAS-Bench-201 cells (6 edges x 5 ops), scored by the embedded benchmark table",
    ),
    (
        "mnasnet",
        "MnasNet blocks: conv type, kernel, squeeze-excite, skip, width, depth vs a MobileNetV2-like baseline (trained)",
    ),
    (
        "nasnet",
        "NASNet cells: B blocks of two inputs, two of 13 operations and a combiner, normal and reduction (trained)",
    ),
    (
        "tabular",
        "any CSV benchmark of your own: one categorical decision per column",
    ),
    (
        "tree",
        "a space of your own from modules (conv, pool, dense, ...) and or / optional / repeat / concat / residual (trained)",
    ),
    (
        "netmorph",
        "EAS network transformation: a seed CNN grown step by step by Net2Wider / Net2Deeper morphs, each child from its parent's weights (trained)",
    ),
    (
        "toy",
        "a small masked space with a known best sequence, for checking controllers",
    ),
    (
        "layer-removal",
        "N2N: keep or remove each layer (or identity-skip block) of a trained [teacher]; students inherit its weights",
    ),
    (
        "layer-shrinkage",
        "N2N: a width factor per channel space of a trained [teacher]; students keep its strongest filters",
    ),
];

/// Every controller kind.
pub const CONTROLLERS: &[Entry] = &[
    (
        "random",
        "random search: each decision uniform over its legal options",
    ),
    (
        "evolution",
        "regularized evolution: tournament of S from the P most recent, mutate one decision",
    ),
    (
        "reinforce",
        "LSTM policy (autoregressive or bidirectional) trained by REINFORCE with a moving-average baseline (NAS, ENAS, N2N)",
    ),
    (
        "ppo",
        "LSTM policy trained by PPO's clipped surrogate (NASNet, MnasNet)",
    ),
    (
        "mcts",
        "Monte-Carlo tree search (UCT) over the decision tree; `bisection = true` splits k-way choices in halves",
    ),
    (
        "eas",
        "EAS meta-controller: a bidirectional-LSTM agent grows the best network so far by Net2Wider / Net2Deeper steps (netmorph)",
    ),
    (
        "smbo",
        "sequential model-based optimisation: a surrogate (ridge, forest, perceptron, graph network, ensemble) on the space's features or graph ranks candidates",
    ),
    (
        "diffusion",
        "DiffusionNAG: a score-based diffusion model of the space's graphs, sampled under the guidance of a graph network fitted on the run's evaluations",
    ),
];

/// Every evaluator kind.
pub const EVALUATORS: &[Entry] = &[
    (
        "table",
        "look the candidate up in the environment's benchmark table",
    ),
    (
        "standalone",
        "train each candidate on [data] as [training] says: from scratch, or a student from its inherited weights, distilled",
    ),
    (
        "supernet",
        "weight sharing: one supernet for the run; `finetune` or `enas` mode, uniform or fair sampling",
    ),
    (
        "proxy",
        "a zero-cost proxy (synflow, grad_norm, snip, jacob_cov, naswot) of the untrained network on one batch of [data]",
    ),
];

/// The `[environment]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EnvironmentConfig {
    /// NAS-Bench-201.
    Nb201(Nb201Config),
    /// MnasNet blocks.
    Mnasnet(MnasnetConfig),
    /// NASNet cells.
    Nasnet(NasnetConfig),
    /// A user's table.
    Tabular(TabularConfig),
    /// A tree-structured space of the user's own.
    Tree(TreeConfig),
    /// Network transformation from a seed network.
    Netmorph(NetmorphConfig),
    /// The toy space.
    Toy(ToyConfig),
    /// Layer removal from a trained network.
    LayerRemoval(RemovalConfig),
    /// Layer shrinkage of a trained network.
    LayerShrinkage(ShrinkageConfig),
}

impl EnvironmentConfig {
    /// Makes relative file paths absolute against the experiment file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        match self {
            EnvironmentConfig::Tabular(t) if t.csv.is_relative() => {
                let joined = base.join(&t.csv);
                t.csv = std::path::absolute(&joined).unwrap_or(joined);
            }
            EnvironmentConfig::Tree(t) => t.resolve_paths(base),
            _ => {}
        }
    }

    /// Tells a space written in the experiment file where it was read from, so that its
    /// errors name the line.
    pub fn attach_source(&mut self, path: &Path, text: &str) {
        if let EnvironmentConfig::Tree(t) = self {
            t.source = Some(archforge_environments::tree::Source {
                path: path.into(),
                text: text.into(),
            });
        }
    }

    /// Checks what can be checked of the space before any data is loaded: a tree space's
    /// definition (its networks' shapes are probed when it is built for the run's data).
    pub fn check(&self) -> archforge::error::Result<()> {
        match self {
            EnvironmentConfig::Tree(t) => {
                let (def, source) = t.definition()?;
                archforge_environments::tree::compile::compile(&def, &source).map(|_| ())
            }
            EnvironmentConfig::Netmorph(c) => c.check().map_err(archforge::Error::Arch),
            _ => Ok(()),
        }
    }

    /// Whether the space compresses a trained network (and so needs one to build).
    pub fn compresses(&self) -> bool {
        matches!(
            self,
            EnvironmentConfig::LayerRemoval(_) | EnvironmentConfig::LayerShrinkage(_)
        )
    }

    /// For a compression space, the decisions of its smallest student: every unit removed,
    /// or every width at the smallest factor.
    pub fn smallest(&self, env: &dyn Environment) -> Option<Vec<usize>> {
        let n = env.spec().max_length;
        match self {
            EnvironmentConfig::LayerRemoval(_) => Some(vec![1; n]),
            EnvironmentConfig::LayerShrinkage(c) => {
                let least =
                    (0..c.scales.len()).min_by(|&a, &b| c.scales[a].total_cmp(&c.scales[b]))?;
                Some(vec![least; n])
            }
            _ => None,
        }
    }

    /// Builds the environment; `images` sizes its networks for a trainable run's data, and
    /// a compression space compresses `network`.
    pub fn build(
        &self,
        images: Option<Images>,
        network: Option<&Arc<Network>>,
    ) -> archforge::error::Result<Arc<dyn Environment>> {
        let network = || {
            network.cloned().ok_or_else(|| {
                archforge::Error::Arch(
                    "a compression space needs a trained network: set [teacher] path to a teacher's run folder (`archforge train FILE` trains one), or run `archforge compress`".into(),
                )
            })
        };
        Ok(match self {
            EnvironmentConfig::LayerRemoval(c) => Arc::new(Compression::removal(network()?, c)?),
            EnvironmentConfig::LayerShrinkage(c) => {
                Arc::new(Compression::shrinkage(network()?, c)?)
            }
            EnvironmentConfig::Nb201(c) => match images {
                Some(images) => Arc::new(Nb201::for_images(c.clone(), images)?),
                None => Arc::new(Nb201::new(c.clone())?),
            },
            EnvironmentConfig::Mnasnet(c) => Arc::new(Mnasnet::new(c.clone(), images)?),
            EnvironmentConfig::Nasnet(c) => Arc::new(Nasnet::new(c.clone(), images)?),
            EnvironmentConfig::Tabular(c) => Arc::new(Tabular::load(c, Path::new("."))?),
            EnvironmentConfig::Tree(c) => Arc::new(Tree::new(c, images)?),
            EnvironmentConfig::Netmorph(c) => Arc::new(Netmorph::new(c.clone(), images)?),
            EnvironmentConfig::Toy(c) => Arc::new(Toy::new(c.length, c.options)?),
        })
    }
}

/// The most proposals a controller may be asked for at a time.
pub const MAX_BATCH: usize = 100_000;

/// A `[[controller]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ControllerConfig {
    /// Random search.
    Random(RandomConfig),
    /// Regularized evolution.
    Evolution(EvolutionConfig),
    /// LSTM policy, REINFORCE.
    Reinforce(PolicyGradientConfig),
    /// LSTM policy, PPO.
    Ppo(PolicyGradientConfig),
    /// Monte-Carlo tree search.
    Mcts(MctsConfig),
    /// Sequential model-based optimisation.
    Smbo(SmboConfig),
    /// EAS's network-transformation meta-controller.
    Eas(EasConfig),
    /// DiffusionNAG's predictor-guided graph generator.
    Diffusion(DiffusionConfig),
}

impl ControllerConfig {
    /// The registered kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ControllerConfig::Random(_) => "random",
            ControllerConfig::Evolution(_) => "evolution",
            ControllerConfig::Reinforce(_) => "reinforce",
            ControllerConfig::Ppo(_) => "ppo",
            ControllerConfig::Mcts(_) => "mcts",
            ControllerConfig::Smbo(_) => "smbo",
            ControllerConfig::Eas(_) => "eas",
            ControllerConfig::Diffusion(_) => "diffusion",
        }
    }

    /// The name in reports: the entry's `name`, else its kind.
    pub fn name(&self) -> String {
        let name = match self {
            ControllerConfig::Random(c) => &c.name,
            ControllerConfig::Evolution(c) => &c.name,
            ControllerConfig::Reinforce(c) | ControllerConfig::Ppo(c) => &c.name,
            ControllerConfig::Mcts(c) if c.name.is_none() && c.bisection => {
                return "mcts-bisection".into();
            }
            ControllerConfig::Mcts(c) => &c.name,
            ControllerConfig::Smbo(c) => &c.name,
            ControllerConfig::Eas(c) => &c.name,
            ControllerConfig::Diffusion(c) => &c.name,
        };
        name.clone().unwrap_or_else(|| self.kind().to_string())
    }

    /// Proposals evaluated between observations.
    pub fn batch(&self) -> usize {
        match self {
            ControllerConfig::Random(c) => c.batch,
            ControllerConfig::Evolution(c) => c.batch,
            ControllerConfig::Reinforce(c) | ControllerConfig::Ppo(c) => c.batch,
            ControllerConfig::Mcts(c) => c.batch,
            ControllerConfig::Smbo(c) => c.batch,
            ControllerConfig::Eas(c) => c.batch,
            ControllerConfig::Diffusion(c) => c.batch,
        }
    }

    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(1..=MAX_BATCH).contains(&self.batch()) {
            return Err(("batch", format!("batch must be in 1..={MAX_BATCH}")));
        }
        match self {
            ControllerConfig::Random(_) => Ok(()),
            ControllerConfig::Evolution(c) if c.population == 0 => {
                Err(("population", "population must be at least 1".into()))
            }
            ControllerConfig::Evolution(c) if c.sample > c.population => Err((
                "sample",
                format!(
                    "sample ({}) must not exceed population ({})",
                    c.sample, c.population
                ),
            )),
            ControllerConfig::Evolution(c) if c.sample == 0 => {
                Err(("sample", "sample must be at least 1".into()))
            }
            ControllerConfig::Evolution(_) => Ok(()),
            ControllerConfig::Reinforce(c) => c.check_not_ppo().and_then(|()| c.check()),
            ControllerConfig::Ppo(c) => c.check(),
            ControllerConfig::Mcts(c) => c.check(),
            ControllerConfig::Smbo(c) => c.check(),
            ControllerConfig::Eas(c) => c.check(),
            ControllerConfig::Diffusion(c) => c.check(),
        }
    }

    /// The entry with every default its kind has filled in and its paths made absolute
    /// against `base`, the experiment file's folder (for the resolved experiment).
    pub fn resolved(self, base: &std::path::Path) -> Self {
        match self {
            ControllerConfig::Ppo(c) => ControllerConfig::Ppo(c.with_ppo_defaults()),
            ControllerConfig::Diffusion(mut c) => {
                if let Some(path) = c.score_net.as_mut().filter(|p| p.is_relative()) {
                    let joined = base.join(&*path);
                    *path = std::path::absolute(&joined).unwrap_or(joined);
                }
                ControllerConfig::Diffusion(c)
            }
            other => other,
        }
    }

    /// Builds a fresh controller.
    pub fn build(&self) -> archforge::error::Result<Box<dyn Controller>> {
        Ok(match self {
            ControllerConfig::Random(_) => Box::new(RandomSearch),
            ControllerConfig::Evolution(c) => Box::new(Evolution::new(c.clone())?),
            ControllerConfig::Reinforce(c) => Box::new(PolicyGradient::reinforce(c.clone())?),
            ControllerConfig::Ppo(c) => Box::new(PolicyGradient::ppo(c.clone())?),
            ControllerConfig::Mcts(c) => Box::new(Mcts::new(c.clone())?),
            ControllerConfig::Smbo(c) => Box::new(Smbo::new(c.clone())?),
            ControllerConfig::Eas(c) => Box::new(Eas::new(c.clone())),
            ControllerConfig::Diffusion(c) => Box::new(Diffusion::new(c.clone())?),
        })
    }
}

/// The `[evaluator]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EvaluatorConfig {
    /// Look candidates up in the environment's table.
    Table(NoSettings),
    /// Train each candidate from scratch.
    Standalone(NoSettings),
    /// Weight sharing.
    Supernet(SupernetSettings),
    /// A zero-cost proxy at initialisation.
    Proxy(ProxySettings),
}

impl Default for EvaluatorConfig {
    fn default() -> Self {
        EvaluatorConfig::Table(NoSettings {})
    }
}

/// An evaluator without settings of its own (a struct, so that unknown keys are refused).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// What a trainable evaluator trains on: the run's data and the `[training]` settings.
#[derive(Clone)]
pub struct Training {
    /// The data, loaded once per experiment.
    pub data: Arc<Splits>,
    /// How to train.
    pub config: TrainConfig,
    /// The latency table candidates' latencies come from, when the objective says so.
    pub latency: Option<Arc<SharedLatencyTable>>,
    /// The teacher every candidate is distilled from (compression spaces).
    pub teacher: Option<Teacher>,
}

impl EvaluatorConfig {
    /// Why runs with this evaluator cannot hand their evaluations to workers (`--workers`),
    /// if they cannot.
    pub fn workers_refusal(&self) -> Option<&'static str> {
        match self {
            EvaluatorConfig::Supernet(_) => Some(
                "a weight-sharing evaluator keeps its supernet with the searching process: run it without --workers",
            ),
            EvaluatorConfig::Table(_) => Some(
                "a table's lookups take less than a round trip to a worker: run it without --workers",
            ),
            EvaluatorConfig::Standalone(_) | EvaluatorConfig::Proxy(_) => None,
        }
    }

    /// The registered kind.
    pub fn kind(&self) -> &'static str {
        match self {
            EvaluatorConfig::Table(_) => "table",
            EvaluatorConfig::Standalone(_) => "standalone",
            EvaluatorConfig::Supernet(_) => "supernet",
            EvaluatorConfig::Proxy(_) => "proxy",
        }
    }

    /// Whether the evaluator builds the candidates' networks on the data — trains them, or
    /// scores them at initialisation — and so needs `[data]` (and, to train, `[training]`).
    pub fn trains(&self) -> bool {
        !matches!(self, EvaluatorConfig::Table(_))
    }

    /// Checks that the evaluator can score `env`'s candidates.
    pub fn check(&self, env: &dyn Environment) -> Result<(), String> {
        match self {
            EvaluatorConfig::Table(_) if env.benchmark().is_none() => Err(format!(
                "evaluator `table` needs an environment with a benchmark table; `{}` has none",
                env.spec().name
            )),
            EvaluatorConfig::Standalone(_)
            | EvaluatorConfig::Supernet(_)
            | EvaluatorConfig::Proxy(_) => {
                // The first of a few draws that builds (some networks of a tree space may not).
                let mut rng = archforge::rng::seeded(0);
                let sample = (0..16).find_map(|_| {
                    let mut decisions = Vec::new();
                    archforge::env::complete_uniformly(env, &mut decisions, &mut rng)
                        .and_then(|()| env.build(&decisions))
                        .ok()
                });
                if let (EvaluatorConfig::Supernet(_), Some(c)) = (self, &sample)
                    && !c.training.is_empty()
                {
                    return Err(format!(
                        "evaluator `supernet` trains one set of weights on the run's [training]; `{}` chooses training settings per candidate ({}): use evaluator `standalone`",
                        env.spec().name,
                        c.training.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                sample
                    .filter(|c| c.arch().output_shape().is_some())
                    .map(|_| ())
                    .ok_or_else(|| {
                        format!(
                            "evaluator `{}` needs an environment whose candidates are networks with shapes; `{}` has none",
                            self.kind(),
                            env.spec().name
                        )
                    })
            }
            EvaluatorConfig::Table(_) => Ok(()),
        }
    }

    /// A fresh evaluator chain for the run with seed `seed`: a cache of kind `cache` in front
    /// of failure isolation in front of the evaluator proper.
    pub fn build(
        &self,
        env: &Arc<dyn Environment>,
        cache: CacheMode,
        keep_weights: bool,
        training: Option<&Training>,
        seed: u64,
    ) -> Result<Box<dyn Evaluator>, String> {
        let proper = self.proper(env, keep_weights, training, seed)?;
        Ok(Box::new(CachedEvaluator::new(Isolated(proper), cache)))
    }

    /// The evaluator proper for the run with seed `seed` (with table latencies when the
    /// objective asks for them, its outcomes carrying trained weights when `keep_weights`),
    /// without cache or isolation.
    pub fn proper(
        &self,
        env: &Arc<dyn Environment>,
        keep_weights: bool,
        training: Option<&Training>,
        seed: u64,
    ) -> Result<Box<dyn Evaluator>, String> {
        self.check(env.as_ref())?;
        let proper: Box<dyn Evaluator> = match (self, training) {
            (EvaluatorConfig::Table(_), _) => {
                Box::new(TableEvaluator::new(env.benchmark().expect("checked above")))
            }
            (EvaluatorConfig::Standalone(_), Some(t)) => {
                let mut e = StandaloneEvaluator::new(t.data.clone(), t.config.clone(), seed);
                if let Some(teacher) = &t.teacher {
                    e = e.distilling(teacher.clone());
                }
                Box::new(if keep_weights { e.keeping_weights() } else { e })
            }
            (EvaluatorConfig::Supernet(settings), Some(t)) => {
                let e = SupernetEvaluator::new(
                    env.clone(),
                    t.data.clone(),
                    t.config.clone(),
                    settings.clone(),
                    seed,
                );
                Box::new(if keep_weights { e.keeping_weights() } else { e })
            }
            (EvaluatorConfig::Proxy(settings), Some(t)) => {
                Box::new(ProxyEvaluator::new(t.data.clone(), settings.clone(), seed))
            }
            (
                EvaluatorConfig::Standalone(_)
                | EvaluatorConfig::Supernet(_)
                | EvaluatorConfig::Proxy(_),
                None,
            ) => {
                return Err(format!(
                    "evaluator `{}` needs data to train on",
                    self.kind()
                ));
            }
        };
        let proper = match training.and_then(|t| t.latency.clone()) {
            Some(table) => Box::new(TableLatency::new(proper, table)),
            None => proper,
        };
        Ok(proper)
    }
}
