//! DiffusionNAG's generator as a controller, for every space with the graph-encoding
//! ability: a score network learns, from unlabelled uniform samples of the space, to denoise
//! the space's graphs as continuous states ([`layout`], [`score`], [`prior`]); a
//! predictor-corrector sampler on a variance-exploding SDE turns noise into graphs, steered
//! by the gradient of a performance predictor fitted on what the run has evaluated
//! ([`sampler`]).
//!
//! Each round after the first `initial` uniform proposals generates `pool` graphs with
//! guidance scale `guidance`, decodes them (argmax per node, the sign of each edge, then the
//! space's own decoding, which refuses invalid graphs), drops the invalid ones and those
//! already proposed, ranks the rest by the predictor's mean, as the paper re-ranks its
//! generated candidates, and proposes the best; uniform samples fill a round the generator
//! could not. The predictor is refitted on the whole history before a round that uses it
//! when observations arrived since the last fit. Unlike the paper's NAS-Bench-201
//! experiments, whose predictor is meta-trained on other data sets, the predictor here
//! learns only from this run's evaluations.

pub mod layout;
pub mod prior;
pub mod sampler;
pub mod score;

#[cfg(test)]
mod tests;

pub use layout::Layout;
pub use prior::{Prior, PriorConfig};
pub use sampler::{Denoiser, Guide, Noise, Sampling, Score};
pub use score::{ScoreConfig, ScoreNet};

use crate::history::History;
use archforge::error::{Error, Result};
use archforge::predictor::{Input, NeuralConfig, Predictor, PredictorConfig, Sample};
use archforge::weights::Snapshot;
use archforge::{Checkpoint, Controller, Environment, Evaluated, Proposal, Rng};
use rand::Rng as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The `[[controller]]` entry for `kind = "diffusion"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffusionConfig {
    /// The name in reports (default: `diffusion`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Proposals evaluated between observations (one generated round).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Uniform proposals before the predictor is used.
    #[serde(default = "default_initial")]
    pub initial: usize,
    /// Graphs generated per round.
    #[serde(default = "default_pool")]
    pub pool: usize,
    /// The guidance scale `k` (0: unguided generation, re-ranked by the predictor).
    #[serde(default = "default_guidance")]
    pub guidance: f64,
    /// Noise levels the sampler visits.
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// The Langevin corrector's signal-to-noise ratio.
    #[serde(default = "default_snr")]
    pub snr: f64,
    /// The guiding and ranking predictor (it reads the graph and is differentiable).
    #[serde(default = "default_predictor")]
    pub predictor: PredictorConfig,
    /// How the score network is trained.
    #[serde(default)]
    pub prior: PriorConfig,
    /// A score network to read instead of training one (a run folder's
    /// `CONTROLLER-score-net.safetensors` of the same space and settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_net: Option<PathBuf>,
}

fn default_batch() -> usize {
    5
}
fn default_initial() -> usize {
    10
}
fn default_pool() -> usize {
    200
}
fn default_guidance() -> f64 {
    1.0
}
fn default_steps() -> usize {
    10
}
fn default_snr() -> f64 {
    0.16
}
fn default_predictor() -> PredictorConfig {
    PredictorConfig::Gcn(NeuralConfig {
        hidden: 16,
        layers: 2,
        epochs: 100,
        ..NeuralConfig::default()
    })
}

impl Default for DiffusionConfig {
    fn default() -> Self {
        DiffusionConfig {
            name: None,
            batch: default_batch(),
            initial: default_initial(),
            pool: default_pool(),
            guidance: default_guidance(),
            steps: default_steps(),
            snr: default_snr(),
            predictor: default_predictor(),
            prior: PriorConfig::default(),
            score_net: None,
        }
    }
}

impl DiffusionConfig {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        for (key, value) in [("pool", self.pool), ("steps", self.steps)] {
            if value == 0 {
                return Err((key, format!("{key} must be at least 1")));
            }
        }
        if !self.guidance.is_finite() {
            return Err((
                "guidance",
                format!("guidance must be finite, not {}", self.guidance),
            ));
        }
        if !(self.snr.is_finite() && self.snr >= 0.0) {
            return Err((
                "snr",
                format!("snr must be a finite number >= 0, not {}", self.snr),
            ));
        }
        self.predictor.check()?;
        let model = self.predictor.build();
        if model.input() != Input::Graph || !model.differentiable() {
            return Err((
                "predictor",
                format!(
                    "the predictor must read the graph and be differentiable (mlp, gcn or an \
                     ensemble of them), not {}",
                    self.predictor.label()
                ),
            ));
        }
        self.prior.check()
    }

    /// How a round samples.
    pub fn sampling(&self) -> Sampling {
        Sampling {
            steps: self.steps,
            snr: self.snr,
            guidance: self.guidance,
        }
    }
}

/// The predictor as fitted on the history, and the spread of the targets it was fitted on.
struct Fitted {
    model: Box<dyn Predictor>,
    spread: f64,
}

/// The diffusion generator (see the module documentation).
pub struct Diffusion {
    config: DiffusionConfig,
    history: History,
    fitted: Option<Fitted>,
    /// Whether observations arrived since the last fit.
    stale: bool,
    prior: Option<Arc<Prior>>,
}

impl std::fmt::Debug for Diffusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diffusion")
            .field("config", &self.config)
            .field("history", &self.history.len())
            .finish()
    }
}

/// A guide that adds the gradient of `model`'s prediction at a denoised state, divided by
/// `spread`, to the node coordinates (see [`sampler`]).
pub fn predictor_guide<'a>(
    layout: &'a Layout,
    model: &'a dyn Predictor,
    spread: f64,
) -> impl Fn(&[f64]) -> Result<Vec<f64>> + Sync + 'a {
    move |denoised: &[f64]| {
        let (_, dx) = model.gradient(&layout.relaxed(denoised))?;
        let mut out = vec![0.0; layout.len()];
        for (o, g) in out.iter_mut().zip(dx) {
            // The predictor reads (x + 1) / 2.
            *o = 0.5 * g / spread;
        }
        Ok(out)
    }
}

/// The standard deviation of a predictor's targets (1 when they are all equal): the unit
/// of the guidance scale.
pub fn target_spread(targets: &[f64]) -> f64 {
    let n = targets.len().max(1) as f64;
    let mean = targets.iter().sum::<f64>() / n;
    let sd = (targets.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n).sqrt();
    if sd > 0.0 { sd } else { 1.0 }
}

/// `count` states generated from `prior`, one random stream each (drawn from `rng` in
/// order, so the result does not depend on the thread count).
pub fn generate(
    prior: &Prior,
    how: &Sampling,
    guide: Guide,
    count: usize,
    rng: &mut Rng,
) -> Result<Vec<Vec<f64>>> {
    let seeds: Vec<u64> = (0..count).map(|_| rng.random()).collect();
    let score = Score {
        layout: &prior.layout,
        denoiser: prior,
        noise: prior.noise,
    };
    seeds
        .par_iter()
        .map(|&seed| score.sample(how, guide, &mut archforge::rng::seeded(seed)))
        .collect()
}

/// The predictor's input of `decisions`, or the space's missing ability in one line.
fn graph_sample(env: &dyn Environment, decisions: &[usize]) -> Result<Sample> {
    Sample::of(env, decisions, Input::Graph).map_err(|e| Error::Controller {
        controller: "diffusion".into(),
        reason: e.to_string(),
    })
}

/// The decision sequence a generated state decodes to, or why it decodes to none.
pub fn decode(env: &dyn Environment, layout: &Layout, state: &[f64]) -> Result<Vec<usize>> {
    let encoding = env.graph().ok_or_else(|| Error::Controller {
        controller: "diffusion".into(),
        reason: format!("`{}` has no graph encoding", env.spec().name),
    })?;
    let decisions = encoding.decode(&layout.graph(state))?;
    archforge::env::validate(env, &decisions)?;
    Ok(decisions)
}

impl Diffusion {
    /// A controller for `config`.
    pub fn new(config: DiffusionConfig) -> Result<Self> {
        config.check().map_err(|(_, reason)| Error::Controller {
            controller: "diffusion".into(),
            reason,
        })?;
        Ok(Diffusion {
            config,
            history: History::default(),
            fitted: None,
            stale: false,
            prior: None,
        })
    }

    /// Refits the predictor on every successful evaluation (none fitted while too few).
    fn refit(&mut self) -> Result<()> {
        let (samples, targets): (Vec<Sample>, Vec<f64>) = self.history.rewarded();
        self.fitted = None;
        self.stale = false;
        if samples.len() < 2 {
            return Ok(());
        }
        let mut model = self.config.predictor.build();
        // The model's draws come from the history's length, so a restored controller refits
        // to the same model.
        let mut rng = archforge::rng::seeded(0xd1f ^ self.history.len() as u64);
        model.fit(&samples, &targets, &mut rng)?;
        self.fitted = Some(Fitted {
            model,
            spread: target_spread(&targets),
        });
        Ok(())
    }

    /// The score network for `env`, trained or read on first use.
    fn prior(&mut self, env: &dyn Environment) -> Result<Arc<Prior>> {
        if self.prior.is_none() {
            let prior = Prior::of(env, &self.config.prior, self.config.score_net.as_deref())?;
            self.prior = Some(prior);
        }
        Ok(self.prior.clone().expect("set above"))
    }

    /// Up to `n` fresh generated architectures, best-predicted first.
    fn generated(
        &mut self,
        env: &dyn Environment,
        n: usize,
        rng: &mut Rng,
    ) -> Result<Vec<Vec<usize>>> {
        let prior = self.prior(env)?;
        let Some(fitted) = &self.fitted else {
            return Ok(Vec::new());
        };
        let guide = predictor_guide(&prior.layout, fitted.model.as_ref(), fitted.spread);
        let states = generate(
            &prior,
            &self.config.sampling(),
            Some(&guide),
            self.config.pool.max(n),
            rng,
        )?;
        let mut seen = HashSet::new();
        let mut ranked = Vec::new();
        for state in &states {
            let Ok(decisions) = decode(env, &prior.layout, state) else {
                continue;
            };
            if self.history.proposed.contains(&decisions) || !seen.insert(decisions.clone()) {
                continue;
            }
            let score = fitted.model.predict(&graph_sample(env, &decisions)?)?.mean;
            ranked.push((score, decisions));
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(ranked.into_iter().take(n).map(|(_, d)| d).collect())
    }
}

impl Controller for Diffusion {
    fn kind(&self) -> &'static str {
        "diffusion"
    }

    fn propose(&mut self, env: &dyn Environment, n: usize, rng: &mut Rng) -> Result<Vec<Proposal>> {
        if self.stale && self.history.len() + n > self.config.initial {
            self.refit()?;
        }
        let mut chosen = if self.history.len() >= self.config.initial && self.fitted.is_some() {
            self.generated(env, n, rng)?
        } else {
            Vec::new()
        };
        while chosen.len() < n {
            chosen.push(self.history.fresh_sample(env, rng)?);
        }
        let mut proposals = Vec::with_capacity(n);
        for decisions in chosen {
            // Checked now, so a space without a graph encoding is refused at once.
            graph_sample(env, &decisions)?;
            self.history.proposed.insert(decisions.clone());
            proposals.push(Proposal { decisions });
        }
        Ok(proposals)
    }

    fn observe(&mut self, env: &dyn Environment, results: &[Evaluated]) -> Result<()> {
        self.history.observe(results, |d| graph_sample(env, d))?;
        self.stale = true;
        Ok(())
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        self.history.checkpoint(self.kind())
    }

    fn restore(&mut self, checkpoint: Checkpoint) -> Result<()> {
        self.history = History::restore(self.kind(), checkpoint)?;
        self.fitted = None;
        self.stale = true;
        Ok(())
    }

    fn trained_weights(&self) -> Option<(&'static str, Snapshot)> {
        self.prior.as_ref().map(|p| ("score-net", p.snapshot()))
    }
}
