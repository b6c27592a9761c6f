//! The prior: a score network trained, without labels, on uniform samples of a space to
//! denoise their states — what valid architectures of the space look like. It depends only
//! on the space and its own settings (which carry their own seed), never on a run's seed, so
//! one process trains it once per space and settings and every run and seed shares it; it is
//! kept by path (safetensors, one tensor per layer) in the run folder, and a later run of
//! the same space loads it from there instead of training (`score_net = "..."`).
//!
//! Training is denoising score matching: a minibatch of states, a noise level per state drawn
//! log-uniformly over the SDE's range, Gaussian noise on the diffused coordinates, and the
//! squared error of the predicted noise over them; Adam with a short warm-up, a cosine decay
//! and the gradient clipped to norm 1. Gradients are summed over fixed chunks of the
//! minibatch in order, so the result does not depend on the thread count; the parameters are
//! rounded to f32 when training ends, so a network read back from its file is exactly the
//! one that was trained.

use super::layout::Layout;
use super::sampler::{Denoiser, Noise};
use super::score::{ScoreConfig, ScoreNet};
use archforge::adam::Adam;
use archforge::env::complete_uniformly;
use archforge::error::{Error, Result};
use archforge::weights::{Snapshot, Values};
use archforge::{Environment, rng};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// Rows of a minibatch whose gradients one task sums.
const CHUNK: usize = 8;
/// Adam steps over which the learning rate warms up.
const WARM_UP: usize = 100;

/// What the prior is trained on and how (`prior = { samples = 4096, ... }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorConfig {
    /// Uniform samples of the space the network learns from.
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Adam steps.
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// States per step.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// The peak learning rate.
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    /// The smallest noise level of the SDE.
    #[serde(default = "default_sigma_min")]
    pub sigma_min: f64,
    /// The largest noise level of the SDE.
    #[serde(default = "default_sigma_max")]
    pub sigma_max: f64,
    /// The seed of the samples, the initial weights and the noise (not the run's).
    #[serde(default)]
    pub seed: u64,
    /// The network's size.
    #[serde(default)]
    pub network: ScoreConfig,
}

fn default_samples() -> usize {
    4096
}
fn default_steps() -> usize {
    2000
}
fn default_batch() -> usize {
    128
}
fn default_learning_rate() -> f64 {
    1e-2
}
fn default_sigma_min() -> f64 {
    0.1
}
fn default_sigma_max() -> f64 {
    5.0
}

impl Default for PriorConfig {
    fn default() -> Self {
        PriorConfig {
            samples: default_samples(),
            steps: default_steps(),
            batch: default_batch(),
            learning_rate: default_learning_rate(),
            sigma_min: default_sigma_min(),
            sigma_max: default_sigma_max(),
            seed: 0,
            network: ScoreConfig::default(),
        }
    }
}

impl PriorConfig {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        for (key, value) in [
            ("samples", self.samples),
            ("steps", self.steps),
            ("batch", self.batch),
        ] {
            if value == 0 {
                return Err((key, format!("{key} must be at least 1")));
            }
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err((
                "learning_rate",
                format!("learning_rate must be > 0, not {}", self.learning_rate),
            ));
        }
        if !(self.sigma_min > 0.0 && self.sigma_max > self.sigma_min && self.sigma_max.is_finite())
        {
            return Err((
                "sigma_max",
                format!(
                    "the noise range must satisfy 0 < sigma_min < sigma_max, not {} and {}",
                    self.sigma_min, self.sigma_max
                ),
            ));
        }
        self.network.check()
    }

    /// The SDE's noise range.
    pub fn noise(&self) -> Noise {
        Noise {
            min: self.sigma_min,
            max: self.sigma_max,
        }
    }
}

/// A trained score network for one space (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    /// The space's layout.
    pub layout: Layout,
    /// The network.
    pub net: ScoreNet,
    /// Its parameters (f32 values).
    pub params: Vec<f64>,
    /// The SDE's noise range.
    pub noise: Noise,
    /// The encoded samples it learned from (novelty is measured against them).
    pub samples: Vec<Vec<usize>>,
    /// The mean loss of the last tenth of training (`None` for a network read from a file).
    pub final_loss: Option<f64>,
    /// Seconds spent training it (0 for a network read from a file).
    pub seconds: f64,
}

impl Prior {
    /// The space's samples and layout for `config`.
    fn sampled(env: &dyn Environment, config: &PriorConfig) -> Result<(Vec<Vec<usize>>, Layout)> {
        let encoding = env
            .graph()
            .ok_or_else(|| unable(env, "it has no graph encoding"))?;
        let mut rng = rng::seeded(config.seed);
        let mut samples = Vec::with_capacity(config.samples);
        let mut graphs = Vec::with_capacity(config.samples);
        for _ in 0..config.samples {
            let mut decisions = Vec::new();
            complete_uniformly(env, &mut decisions, &mut rng)?;
            graphs.push(encoding.encode(&decisions)?);
            samples.push(decisions);
        }
        let layout = Layout::of(encoding, &graphs)?;
        if layout.free_count() == 0 {
            return Err(unable(env, "its samples all encode to the same graph"));
        }
        Ok((samples, layout))
    }

    /// The prior of `env` for `config`: read from `file` when given (checked against the
    /// space and the settings), else trained — once per process for each space and settings.
    pub fn of(
        env: &dyn Environment,
        config: &PriorConfig,
        file: Option<&Path>,
    ) -> Result<Arc<Prior>> {
        let (samples, layout) = Self::sampled(env, config)?;
        if let Some(path) = file {
            return Self::read(path, layout, samples, config).map(Arc::new);
        }
        type Slot = Arc<OnceLock<std::result::Result<Arc<Prior>, String>>>;
        static TRAINED: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
        let key = format!("{config:?}|{:?}|{:?}", layout.free, layout.fixed);
        let slot = TRAINED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone();
        slot.get_or_init(|| {
            Self::train(layout, samples, env, config)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|reason| Error::Controller {
            controller: "diffusion".into(),
            reason,
        })
    }

    /// Trains the network on the samples' states.
    fn train(
        layout: Layout,
        samples: Vec<Vec<usize>>,
        env: &dyn Environment,
        config: &PriorConfig,
    ) -> Result<Prior> {
        let started = std::time::Instant::now();
        let encoding = env
            .graph()
            .ok_or_else(|| unable(env, "it has no graph encoding"))?;
        let states = samples
            .iter()
            .map(|d| layout.state(&encoding.encode(d)?))
            .collect::<Result<Vec<_>>>()?;
        let net = ScoreNet::new(&layout, &config.network);
        let noise = config.noise();
        let mut rng = rng::seeded(config.seed ^ 0xd1ff_u64);
        let mut params = vec![0.0; net.parameters()];
        net.init(&mut params, &mut rng);
        let mut adam = Adam::new(params.len());
        let free = layout.free_count() as f64;
        let mut losses = Vec::with_capacity(config.steps);
        for step in 0..config.steps {
            // Each row's state, noise level and noise, drawn in order from the one stream.
            let rows: Vec<(usize, f64, u64)> = (0..config.batch)
                .map(|_| {
                    (
                        rng.random_range(0..states.len()),
                        noise.sigma(rng.random::<f64>()),
                        rng.random(),
                    )
                })
                .collect();
            let scale = 1.0 / (config.batch as f64 * free);
            let parts: Vec<(Vec<f64>, f64)> = rows
                .par_chunks(CHUNK)
                .map(|chunk| {
                    let mut grad = vec![0.0; params.len()];
                    let mut loss = 0.0;
                    for &(row, sigma, seed) in chunk {
                        let mut own = rng::seeded(seed);
                        let clean = &states[row];
                        let z: Vec<f64> = layout
                            .free
                            .iter()
                            .map(|&f| {
                                if f {
                                    StandardNormal.sample(&mut own)
                                } else {
                                    0.0
                                }
                            })
                            .collect();
                        let noised: Vec<f64> =
                            clean.iter().zip(&z).map(|(x, z)| x + sigma * z).collect();
                        let (out, cache) = net.forward(&params, &noised, sigma);
                        let dout: Vec<f64> = out
                            .iter()
                            .zip(&z)
                            .zip(&layout.free)
                            .map(|((e, z), &f)| {
                                if f {
                                    loss += (e - z).powi(2) * scale;
                                    2.0 * (e - z) * scale
                                } else {
                                    0.0
                                }
                            })
                            .collect();
                        net.backward(&params, &noised, &cache, &dout, &mut grad);
                    }
                    (grad, loss)
                })
                .collect();
            let mut grad = vec![0.0; params.len()];
            let mut loss = 0.0;
            for (part, l) in parts {
                for (g, p) in grad.iter_mut().zip(part) {
                    *g += p;
                }
                loss += l;
            }
            losses.push(loss);
            let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
            if norm > 1.0 {
                grad.iter_mut().for_each(|g| *g /= norm);
            }
            let progress = step as f64 / config.steps as f64;
            let warm = ((step + 1) as f64 / WARM_UP as f64).min(1.0);
            let lr =
                config.learning_rate * warm * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
            adam.step(&mut params, &grad, lr);
        }
        if params.iter().any(|p| !p.is_finite()) {
            return Err(unable(env, "training the score network diverged"));
        }
        for p in &mut params {
            *p = f64::from(*p as f32);
        }
        let tail = &losses[losses.len() - losses.len().div_ceil(10)..];
        Ok(Prior {
            layout,
            net,
            params,
            noise,
            samples,
            final_loss: Some(tail.iter().sum::<f64>() / tail.len() as f64),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The network and its layout by path: `layout/free`, `layout/fixed`, `noise` and one
    /// tensor per layer under `score/`.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::new();
        let vector = |data: Vec<f64>| Values {
            shape: vec![data.len()],
            data: data.iter().map(|&v| v as f32).collect(),
        };
        let free = self
            .layout
            .free
            .iter()
            .map(|&f| f64::from(u8::from(f)))
            .collect();
        snapshot.insert("layout/free".into(), vector(free));
        snapshot.insert("layout/fixed".into(), vector(self.layout.fixed.clone()));
        snapshot.insert("noise".into(), vector(vec![self.noise.min, self.noise.max]));
        for (path, at, shape) in self.net.tensors() {
            let len = shape.iter().product::<usize>();
            let data = self.params[at..at + len]
                .iter()
                .map(|&v| v as f32)
                .collect();
            snapshot.insert(format!("score/{path}"), Values { shape, data });
        }
        snapshot
    }

    /// Reads a prior written by [`Prior::snapshot`], refusing one of another space, noise
    /// range or network size.
    fn read(
        path: &Path,
        layout: Layout,
        samples: Vec<Vec<usize>>,
        config: &PriorConfig,
    ) -> Result<Prior> {
        let snapshot = Snapshot::load(path)?;
        let bad = |why: String| Error::Controller {
            controller: "diffusion".into(),
            reason: format!("score network {}: {why}", path.display()),
        };
        let vector = |name: &str| {
            snapshot
                .get(name)
                .map(|v| v.data.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>())
                .ok_or_else(|| bad(format!("no tensor `{name}`")))
        };
        let free: Vec<bool> = vector("layout/free")?.iter().map(|&f| f > 0.5).collect();
        let fixed = vector("layout/fixed")?;
        if free != layout.free || fixed != layout.fixed {
            return Err(bad("it was trained on another space".into()));
        }
        let noise = config.noise();
        let stored = vector("noise")?;
        if stored != [f64::from(noise.min as f32), f64::from(noise.max as f32)] {
            return Err(bad(format!(
                "it was trained for the noise range {stored:?}, the settings give [{}, {}]",
                noise.min, noise.max
            )));
        }
        let net = ScoreNet::new(&layout, &config.network);
        let mut params = vec![0.0; net.parameters()];
        for (name, at, shape) in net.tensors() {
            let path = format!("score/{name}");
            let values = snapshot
                .get(&path)
                .ok_or_else(|| bad(format!("no tensor `{path}` (another network size?)")))?;
            if values.shape != shape {
                return Err(bad(format!(
                    "tensor `{path}` is {:?}, the settings give {shape:?}",
                    values.shape
                )));
            }
            for (p, &v) in params[at..].iter_mut().zip(&values.data) {
                *p = f64::from(v);
            }
        }
        Ok(Prior {
            layout,
            net,
            params,
            noise,
            samples,
            final_loss: None,
            seconds: 0.0,
        })
    }
}

impl Denoiser for Prior {
    fn noise(&self, state: &[f64], sigma: f64) -> Vec<f64> {
        self.net.forward(&self.params, state, sigma).0
    }
}

fn unable(env: &dyn Environment, why: &str) -> Error {
    Error::Controller {
        controller: "diffusion".into(),
        reason: format!(
            "cannot generate architectures of `{}`: {why}",
            env.spec().name
        ),
    }
}
