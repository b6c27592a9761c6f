//! `archforge generate`: what a file's diffusion generator makes. Its score network is
//! trained (or read, as the entry says) and `count` graphs are generated without guidance:
//! the share that decode to legal architectures (validity), the share of those that are
//! distinct (uniqueness) and the share of those not among the network's training samples
//! (novelty), with the seconds to train and to generate one round's pool
//! (`generation.csv`). On a space with a benchmark table, guidance is measured too: per seed,
//! the generator's predictor is fitted on `train` uniform architectures, and one pool is
//! generated at each guidance scale asked for and at 0 from the same random streams; the mean
//! search metric of each pool's valid graphs goes to `guidance.csv`, and each scale's paired
//! difference from 0, with its 95 % confidence interval over the seeds, to
//! `guidance_summary.csv`.

use crate::config::ExperimentFile;
use crate::registry::ControllerConfig;
use crate::report::summary::describe;
use crate::run_folder::{create_run_folder, trained_weights_file};
use crate::runner::Prepared;
use anyhow::{Context, Result, bail};
use archforge::env::complete_uniformly;
use archforge::predictor::{Input, Sample};
use archforge::record::write_rows;
use archforge::{Environment, Table};
use archforge_controllers::DiffusionConfig;
use archforge_controllers::diffusion::{self, Prior, predictor_guide, target_spread};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

/// The 95 % normal quantile.
const Z95: f64 = 1.959_964;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The `[[controller]]` entry's name (default: the file's first diffusion entry).
    pub controller: Option<String>,
    /// Unguided graphs generated for validity, uniqueness and novelty.
    pub count: usize,
    /// Guidance scales compared with 0 (none: no guidance check).
    pub guidance: Vec<f64>,
    /// Architectures the predictor is fitted on per seed.
    pub train: usize,
    /// Seeds of the guidance check, from the file's seed.
    pub seeds: u64,
}

/// The unguided generator's quality, as written to `generation.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct Quality {
    /// Graphs generated.
    pub generated: usize,
    /// Those that decode to a legal architecture.
    pub valid: usize,
    /// Distinct valid architectures.
    pub unique: usize,
    /// Valid architectures not among the score network's training samples.
    pub novel: usize,
    /// `valid / generated`.
    pub validity: f64,
    /// `unique / valid`.
    pub uniqueness: f64,
    /// `novel / valid`.
    pub novelty: f64,
    /// The space's most frequent reason for refusing a generated graph, with its count.
    pub top_refusal: String,
    /// The share of the space's samples the network learned from that are distinct
    /// (uniqueness of a perfect uniform generator of this space, for comparison).
    pub training_uniqueness: f64,
    /// Seconds spent training the score network (0 when read from a file).
    pub train_seconds: f64,
    /// Its mean loss over the last tenth of training.
    pub final_loss: Option<f64>,
    /// Seconds to generate one round's pool (`pool` graphs), unguided.
    pub pool_seconds: f64,
    /// Graphs in a pool.
    pub pool: usize,
    /// Noise levels per graph.
    pub steps: usize,
}

/// One pool of the guidance check, as written to `guidance.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    /// The seed.
    pub seed: u64,
    /// The guidance scale.
    pub guidance: f64,
    /// Graphs generated.
    pub generated: usize,
    /// Valid ones.
    pub valid: usize,
    /// Mean search metric of the valid ones (negated where smaller is better).
    pub mean_metric: f64,
    /// The best of them.
    pub best_metric: f64,
    /// Seconds to generate the pool.
    pub seconds: f64,
}

/// One guidance scale against none, as written to `guidance_summary.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct GuidanceSummary {
    /// The guidance scale.
    pub guidance: f64,
    /// Seeds.
    pub seeds: usize,
    /// Mean over seeds of the pools' mean search metric at this scale.
    pub mean_metric: f64,
    /// The same at scale 0.
    pub unguided_metric: f64,
    /// The mean paired difference (this scale minus 0).
    pub difference: f64,
    /// The low end of its 95 % confidence interval.
    pub low: f64,
    /// The high end.
    pub high: f64,
    /// Mean validity at this scale.
    pub validity: f64,
}

/// The file's diffusion entry: the one named, or the first.
fn entry<'a>(
    file: &'a ExperimentFile,
    name: Option<&str>,
) -> Result<(String, &'a DiffusionConfig)> {
    file.experiment
        .controller
        .iter()
        .find_map(|c| match c {
            ControllerConfig::Diffusion(d) if name.is_none_or(|n| n == c.name()) => {
                Some((c.name(), d))
            }
            _ => None,
        })
        .with_context(|| match name {
            Some(n) => format!(
                "{}: no diffusion controller named `{n}`",
                file.path.display()
            ),
            None => format!(
                "{}: no [[controller]] of kind `diffusion`",
                file.path.display()
            ),
        })
}

/// The search metric of `decisions` in `table` (larger is better), if listed.
fn metric(env: &dyn Environment, table: &Table, decisions: &[usize]) -> Option<f64> {
    let row = table.rows.get(&env.build(decisions).ok()?.label)?;
    Some(if table.maximize {
        row.search
    } else {
        -row.search
    })
}

/// Runs the measurements into `out`.
pub fn run(
    file: &ExperimentFile,
    plan: &Plan,
    out: &Path,
) -> Result<(Quality, Vec<GuidanceSummary>)> {
    let (name, config) = entry(file, plan.controller.as_deref())?;
    let prepared = Prepared::new(file)?;
    let env = prepared.env();
    create_run_folder(out)?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
    let prior = Prior::of(env, &config.prior, config.score_net.as_deref())?;
    prior
        .snapshot()
        .save(&trained_weights_file(out, &name, "score-net"))?;
    let quality = quality(env, &prior, config, plan.count, file.experiment.seed)?;
    write_rows(&out.join("generation.csv"), std::slice::from_ref(&quality))?;
    if plan.guidance.is_empty() {
        return Ok((quality, Vec::new()));
    }
    let Some(table) = env.benchmark() else {
        bail!(
            "--guidance needs a space with a benchmark table; `{}` has none",
            env.spec().name
        );
    };
    let mut pools = Vec::new();
    for seed in file.experiment.seed..file.experiment.seed + plan.seeds {
        pools.extend(guided_pools(env, &table, &prior, config, plan, seed)?);
    }
    write_rows(&out.join("guidance.csv"), &pools)?;
    let summary: Vec<GuidanceSummary> = plan
        .guidance
        .iter()
        .map(|&k| summarize(&pools, k))
        .collect();
    write_rows(&out.join("guidance_summary.csv"), &summary)?;
    Ok((quality, summary))
}

/// Validity, uniqueness and novelty of `count` unguided graphs.
fn quality(
    env: &dyn Environment,
    prior: &Prior,
    config: &DiffusionConfig,
    count: usize,
    seed: u64,
) -> Result<Quality> {
    let mut rng = archforge::rng::seeded(seed);
    let how = diffusion::Sampling {
        guidance: 0.0,
        ..config.sampling()
    };
    let started = Instant::now();
    let states = diffusion::generate(prior, &how, None, count, &mut rng)?;
    let pool_seconds = started.elapsed().as_secs_f64() * config.pool as f64 / count.max(1) as f64;
    let learned: HashSet<&Vec<usize>> = prior.samples.iter().collect();
    let mut valid: Vec<Vec<usize>> = Vec::new();
    let mut refusals: HashMap<String, usize> = HashMap::new();
    for state in &states {
        match diffusion::decode(env, &prior.layout, state) {
            Ok(d) => valid.push(d),
            Err(e) => *refusals.entry(e.to_string()).or_default() += 1,
        }
    }
    let top_refusal = refusals
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or_else(String::new, |(why, n)| format!("{n}x {why}"));
    let unique: HashSet<&Vec<usize>> = valid.iter().collect();
    let novel = valid.iter().filter(|d| !learned.contains(d)).count();
    let share = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Ok(Quality {
        generated: count,
        valid: valid.len(),
        unique: unique.len(),
        novel,
        validity: share(valid.len(), count),
        uniqueness: share(unique.len(), valid.len()),
        novelty: share(novel, valid.len()),
        top_refusal,
        training_uniqueness: share(learned.len(), prior.samples.len()),
        train_seconds: prior.seconds,
        final_loss: prior.final_loss,
        pool_seconds,
        pool: config.pool,
        steps: config.steps,
    })
}

/// One seed of the guidance check: the predictor fitted on `plan.train` uniform
/// architectures, then one pool per scale (0 first) from the same random streams.
fn guided_pools(
    env: &dyn Environment,
    table: &Table,
    prior: &Prior,
    config: &DiffusionConfig,
    plan: &Plan,
    seed: u64,
) -> Result<Vec<Pool>> {
    let mut rng = archforge::rng::seeded(seed);
    let (mut samples, mut targets) = (Vec::new(), Vec::new());
    let mut drawn = HashSet::new();
    for _ in 0..plan.train * 20 {
        if samples.len() == plan.train {
            break;
        }
        let mut d = Vec::new();
        complete_uniformly(env, &mut d, &mut rng)?;
        if let Some(m) = metric(env, table, &d)
            && drawn.insert(d.clone())
        {
            samples.push(Sample::of(env, &d, Input::Graph)?);
            targets.push(m);
        }
    }
    if samples.len() < 2 {
        bail!("seed {seed}: fewer than 2 architectures of the table to fit the predictor on");
    }
    let mut model = config.predictor.build();
    model.fit(
        &samples,
        &targets,
        &mut archforge::rng::seeded(seed ^ 0xd1f),
    )?;
    let guide = predictor_guide(&prior.layout, model.as_ref(), target_spread(&targets));
    let streams: u64 = rand::Rng::random(&mut rng);
    let mut pools = Vec::new();
    for &k in std::iter::once(&0.0).chain(&plan.guidance) {
        let how = diffusion::Sampling {
            guidance: k,
            ..config.sampling()
        };
        let started = Instant::now();
        let states = diffusion::generate(
            prior,
            &how,
            Some(&guide),
            config.pool,
            &mut archforge::rng::seeded(streams),
        )?;
        let seconds = started.elapsed().as_secs_f64();
        let metrics: Vec<f64> = states
            .iter()
            .filter_map(|s| diffusion::decode(env, &prior.layout, s).ok())
            .filter_map(|d| metric(env, table, &d))
            .collect();
        let sign = if table.maximize { 1.0 } else { -1.0 };
        let (mean_metric, best_metric) = match metrics.is_empty() {
            true => (f64::NAN, f64::NAN),
            false => (
                describe(&metrics).0,
                metrics.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ),
        };
        pools.push(Pool {
            seed,
            guidance: k,
            generated: config.pool,
            valid: metrics.len(),
            mean_metric: sign * mean_metric,
            best_metric: sign * best_metric,
            seconds,
        });
    }
    Ok(pools)
}

/// Scale `k` against 0 over the seeds where both pools had valid graphs.
fn summarize(pools: &[Pool], k: f64) -> GuidanceSummary {
    let at = |g: f64| -> Vec<&Pool> { pools.iter().filter(|p| p.guidance == g).collect() };
    let (guided, plain) = (at(k), at(0.0));
    let pairs: Vec<(f64, f64)> = guided
        .iter()
        .filter_map(|g| {
            let p = plain.iter().find(|p| p.seed == g.seed)?;
            (g.mean_metric.is_finite() && p.mean_metric.is_finite())
                .then_some((g.mean_metric, p.mean_metric))
        })
        .collect();
    let n = pairs.len();
    let diffs: Vec<f64> = pairs.iter().map(|(g, p)| g - p).collect();
    let mean = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            describe(v).0
        }
    };
    let (difference, sd) = match n {
        0 => (f64::NAN, f64::NAN),
        _ => {
            let (m, s, ..) = describe(&diffs);
            (m, s)
        }
    };
    let half = Z95 * sd / (n.max(1) as f64).sqrt();
    GuidanceSummary {
        guidance: k,
        seeds: n,
        mean_metric: mean(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()),
        unguided_metric: mean(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
        difference,
        low: difference - half,
        high: difference + half,
        validity: mean(
            &guided
                .iter()
                .map(|p| p.valid as f64 / p.generated as f64)
                .collect::<Vec<_>>(),
        ),
    }
}
