//! `archforge rank-check`: can the supernet's ranking be trusted, and is it worth more than
//! counting parameters? N random architectures with distinct canonical hashes are trained
//! stand-alone with two seeds (the ground truth is their mean validation accuracy) and scored
//! by a supernet built as the file's `[evaluator]` says (`supernet` settings, or the defaults).
//! Kendall's tau and Spearman's rho against the ground truth are reported for the supernet, the
//! training-free baselines (parameter count, number of convolutions) and the two stand-alone
//! seeds against each other (`seed_to_seed`, the noise ceiling of the ground truth).
//!
//! The stand-alone trainings are the expensive part: each finished architecture is appended
//! to `standalone.csv` at once, and `--truth FILE` takes the architectures and their
//! stand-alone accuracies from such a file (or an earlier `rank_check.csv`), so supernet
//! settings can be compared against one ground truth without training it again. Progress
//! goes to standard error, one line per architecture.

use crate::config::ExperimentFile;
use crate::plot;
use crate::rank::{kendall, spearman};
use crate::registry::EvaluatorConfig;
use crate::report::write_csv;
use crate::runner::{Prepared, create_run_folder};
use anyhow::{Context, Result, bail};
use archforge::budget::{Budget, BudgetLimits};
use archforge::evaluator::{SupernetEvaluator, SupernetSettings, train_candidate};
use archforge::{Candidate, Environment, Evaluator, Op};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

/// One architecture's stand-alone ground truth, as written to `standalone.csv`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Truth {
    /// Its label.
    pub arch: String,
    /// Its decisions.
    pub decisions: String,
    /// Its canonical hash.
    pub hash: String,
    /// Stand-alone validation accuracy, first seed.
    pub standalone_seed1: f64,
    /// Stand-alone validation accuracy, second seed.
    pub standalone_seed2: f64,
}

/// One architecture's scores, as written to `rank_check.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    /// Its label.
    pub arch: String,
    /// Its decisions.
    pub decisions: String,
    /// Its canonical hash.
    pub hash: String,
    /// Trainable parameters.
    pub params: f64,
    /// Convolutions in its graph: for cell spaces, the conv edges of a cell times the number
    /// of cells plus a constant, so it ranks exactly as the conv-edge count does.
    pub conv_edges: f64,
    /// Stand-alone validation accuracy, first seed.
    pub standalone_seed1: f64,
    /// Stand-alone validation accuracy, second seed.
    pub standalone_seed2: f64,
    /// Their mean: the ground truth.
    pub standalone_mean: f64,
    /// The supernet's validation accuracy.
    pub supernet: f64,
}

/// One line of `rank_summary.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct Correlation {
    /// `supernet`, `params`, `conv_edges` or `seed_to_seed`.
    pub scorer: String,
    /// Kendall's tau-b against the ground truth.
    pub kendall: f64,
    /// Spearman's rho against the ground truth.
    pub spearman: f64,
}

/// Where the architectures and their ground truth come from.
pub enum Source<'a> {
    /// `n` new random architectures, trained stand-alone here.
    Random(usize),
    /// The architectures and stand-alone accuracies of an earlier `standalone.csv` or
    /// `rank_check.csv`.
    Truth(&'a Path),
}

/// Runs the rank check into `out`.
pub fn run(file: &mut ExperimentFile, source: Source, out: &Path) -> Result<Vec<Correlation>> {
    if let Source::Random(n) = source
        && n < 3
    {
        bail!("--archs must be at least 3 to rank anything");
    }
    file.ensure_training();
    let prepared = Prepared::new(file)?;
    let training = prepared
        .training()
        .expect("ensure_training provides data and settings");
    let settings = match &file.experiment.evaluator {
        EvaluatorConfig::Supernet(s) => s.clone(),
        _ => SupernetSettings::default(),
    };
    let seed = file.experiment.seed;
    let env = prepared.shared_env();
    let (candidates, known) = match source {
        Source::Random(n) => (distinct_candidates(env.as_ref(), n, seed)?, Vec::new()),
        Source::Truth(path) => {
            let known = read_truth(path)?;
            (rebuild(env.as_ref(), &known, path)?, known)
        }
    };
    create_run_folder(out)?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;

    let n = candidates.len();
    let truth = if known.is_empty() {
        let path = out.join("standalone.csv");
        let context = || format!("writing {}", path.display());
        let mut writer = csv::Writer::from_path(&path).with_context(context)?;
        let mut truth = Vec::with_capacity(n);
        for (k, c) in candidates.iter().enumerate() {
            let started = Instant::now();
            let accuracy = |s: u64| {
                train_candidate(c, &training.data, &training.config, s)
                    .ok()
                    .and_then(|t| t.metrics.search)
                    .unwrap_or(f64::NAN)
            };
            let row = Truth {
                arch: c.label.clone(),
                decisions: archforge::search::join_decisions(&c.decisions),
                hash: c.hash.to_string(),
                standalone_seed1: accuracy(seed),
                standalone_seed2: accuracy(seed + 1),
            };
            eprintln!(
                "stand-alone {}/{n} {}: {:.2} / {:.2} % ({:.1} s)",
                k + 1,
                row.arch,
                row.standalone_seed1,
                row.standalone_seed2,
                started.elapsed().as_secs_f64()
            );
            writer.serialize(&row).with_context(context)?;
            writer.flush().with_context(context)?;
            truth.push(row);
        }
        truth
    } else {
        known
    };

    let started = Instant::now();
    eprintln!(
        "supernet: {} warm-up epochs, then {n} architectures scored",
        settings.warmup_epochs
    );
    let mut supernet = SupernetEvaluator::new(
        env.clone(),
        training.data.clone(),
        training.config.clone(),
        settings,
        seed,
    );
    let mut budget = Budget::new(BudgetLimits {
        evaluations: u64::MAX,
        simulated_seconds: None,
        wall_seconds: None,
    });
    let mut rows = Vec::with_capacity(n);
    for (k, (c, t)) in candidates.iter().zip(&truth).enumerate() {
        let outcome = supernet.evaluate(c, &mut budget);
        let shared = outcome.metrics.search.unwrap_or(f64::NAN);
        eprintln!(
            "supernet {}/{n} {}: {shared:.2} % ({:.1} s so far)",
            k + 1,
            c.label,
            started.elapsed().as_secs_f64()
        );
        let convs = c
            .arch
            .node_ids()
            .filter(|&id| matches!(c.arch.node(id).op, Op::Conv(_)))
            .count();
        rows.push(Scored {
            arch: c.label.clone(),
            decisions: t.decisions.clone(),
            hash: t.hash.clone(),
            params: c.arch.params().unwrap_or(0) as f64,
            conv_edges: convs as f64,
            standalone_seed1: t.standalone_seed1,
            standalone_seed2: t.standalone_seed2,
            standalone_mean: (t.standalone_seed1 + t.standalone_seed2) / 2.0,
            supernet: shared,
        });
    }
    let summary = correlations(&rows);
    write_csv(&out.join("rank_check.csv"), &rows)?;
    write_csv(&out.join("rank_summary.csv"), &summary)?;
    let points: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.standalone_mean.is_finite() && r.supernet.is_finite())
        .map(|r| (r.supernet, r.standalone_mean))
        .collect();
    plot::scatter(
        &out.join("rank_scatter.svg"),
        &format!(
            "{}: supernet vs stand-alone ({} architectures)",
            file.experiment.name,
            points.len()
        ),
        "supernet validation accuracy (%)",
        "stand-alone validation accuracy, mean of 2 seeds (%)",
        &points,
    )?;
    Ok(summary)
}

/// Kendall's tau and Spearman's rho of every scorer, over the architectures whose stand-alone
/// and supernet accuracies are both known.
fn correlations(rows: &[Scored]) -> Vec<Correlation> {
    let scored: Vec<&Scored> = rows
        .iter()
        .filter(|r| r.standalone_mean.is_finite() && r.supernet.is_finite())
        .collect();
    let column = |f: fn(&Scored) -> f64| scored.iter().map(|r| f(r)).collect::<Vec<f64>>();
    let truth = column(|r| r.standalone_mean);
    let seed1 = column(|r| r.standalone_seed1);
    let against = |name: &str, values: Vec<f64>, reference: &[f64]| Correlation {
        scorer: name.into(),
        kendall: kendall(&values, reference),
        spearman: spearman(&values, reference),
    };
    vec![
        against("supernet", column(|r| r.supernet), &truth),
        against("params", column(|r| r.params), &truth),
        against("conv_edges", column(|r| r.conv_edges), &truth),
        against("seed_to_seed", column(|r| r.standalone_seed2), &seed1),
    ]
}

/// The ground truth of an earlier rank check (`standalone.csv` or `rank_check.csv`).
fn read_truth(path: &Path) -> Result<Vec<Truth>> {
    let context = || format!("reading the ground truth {}", path.display());
    let mut reader = csv::Reader::from_path(path).with_context(context)?;
    let rows = reader
        .deserialize()
        .collect::<std::result::Result<Vec<Truth>, _>>()
        .with_context(context)?;
    if rows.len() < 3 {
        bail!(
            "{} holds {} architectures; at least 3 are needed to rank anything",
            path.display(),
            rows.len()
        );
    }
    Ok(rows)
}

/// The candidates of a ground-truth file, rebuilt by this file's environment; their hashes
/// must match, or the truth belongs to another space.
fn rebuild(env: &dyn Environment, known: &[Truth], path: &Path) -> Result<Vec<Candidate>> {
    known
        .iter()
        .enumerate()
        .map(|(row, t)| {
            let decisions = archforge::search::parse_decisions(&t.decisions)
                .with_context(|| format!("{} row {}", path.display(), row + 1))?;
            let c = env
                .build(&decisions)
                .with_context(|| format!("{} row {}", path.display(), row + 1))?;
            if c.hash.to_string() != t.hash {
                bail!(
                    "{} row {}: {} builds a different network here (hash {} instead of {}); \
                     was the ground truth made with another environment?",
                    path.display(),
                    row + 1,
                    t.decisions,
                    c.hash,
                    t.hash
                );
            }
            Ok(c)
        })
        .collect()
}
/// `n` candidates drawn uniformly with distinct canonical hashes.
fn distinct_candidates(
    env: &dyn archforge::Environment,
    n: usize,
    seed: u64,
) -> Result<Vec<Candidate>> {
    let mut rng = archforge::rng::seeded(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for _ in 0..n.saturating_mul(1000) {
        if out.len() == n {
            break;
        }
        let mut decisions = Vec::new();
        archforge::env::complete_uniformly(env, &mut decisions, &mut rng)?;
        if let Ok(c) = env.build(&decisions)
            && seen.insert(c.hash)
        {
            out.push(c);
        }
    }
    if out.len() < n {
        bail!(
            "the space offered only {} distinct architectures of the {n} asked for",
            out.len()
        );
    }
    Ok(out)
}
