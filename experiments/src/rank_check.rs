//! `archforge rank-check`: can the supernet's ranking be trusted, and is it worth more than
//! counting parameters? N random architectures with distinct canonical hashes are trained
//! stand-alone with two seeds (the ground truth is their mean validation accuracy) and scored
//! by a supernet built as the file's `[evaluator]` says (`supernet` settings, or the defaults).
//! Kendall's tau and Spearman's rho against the ground truth are reported for the supernet, the
//! training-free baselines (parameter count, number of convolutions) and the two stand-alone
//! seeds against each other (`seed_to_seed`, the noise ceiling of the ground truth).

use crate::config::ExperimentFile;
use crate::plot;
use crate::rank::{kendall, spearman};
use crate::registry::EvaluatorConfig;
use crate::report::write_csv;
use crate::runner::{Prepared, create_run_folder};
use anyhow::{Result, bail};
use archforge::budget::{Budget, BudgetLimits};
use archforge::evaluator::{SupernetEvaluator, SupernetSettings, train_candidate};
use archforge::{Candidate, Evaluator, Op};
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

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
    /// Convolution nodes in its graph.
    pub conv_nodes: f64,
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
    /// `supernet`, `params`, `conv_nodes` or `seed_to_seed`.
    pub scorer: String,
    /// Kendall's tau-b against the ground truth.
    pub kendall: f64,
    /// Spearman's rho against the ground truth.
    pub spearman: f64,
}

/// Runs the rank check for `archs` architectures into `out`.
pub fn run(file: &mut ExperimentFile, archs: usize, out: &Path) -> Result<Vec<Correlation>> {
    if archs < 3 {
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
    let candidates = distinct_candidates(env.as_ref(), archs, seed)?;
    create_run_folder(out)?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;

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
    let mut rows = Vec::new();
    for c in &candidates {
        let accuracy = |s: u64| {
            train_candidate(c, &training.data, &training.config, s)
                .ok()
                .and_then(|t| t.metrics.search)
                .unwrap_or(f64::NAN)
        };
        let (a, b) = (accuracy(seed), accuracy(seed + 1));
        let shared = supernet
            .evaluate(c, &mut budget)
            .metrics
            .search
            .unwrap_or(f64::NAN);
        let conv_nodes = c
            .arch
            .node_ids()
            .filter(|&n| matches!(c.arch.node(n).op, Op::Conv(_)))
            .count();
        rows.push(Scored {
            arch: c.label.clone(),
            decisions: archforge::search::join_decisions(&c.decisions),
            hash: c.hash.to_string(),
            params: c.arch.params().unwrap_or(0) as f64,
            conv_nodes: conv_nodes as f64,
            standalone_seed1: a,
            standalone_seed2: b,
            standalone_mean: (a + b) / 2.0,
            supernet: shared,
        });
    }
    let scored: Vec<&Scored> = rows
        .iter()
        .filter(|r| r.standalone_mean.is_finite() && r.supernet.is_finite())
        .collect();
    let truth: Vec<f64> = scored.iter().map(|r| r.standalone_mean).collect();
    let against = |name: &str, values: Vec<f64>, reference: &[f64]| Correlation {
        scorer: name.into(),
        kendall: kendall(&values, reference),
        spearman: spearman(&values, reference),
    };
    let seed1: Vec<f64> = scored.iter().map(|r| r.standalone_seed1).collect();
    let summary = vec![
        against(
            "supernet",
            scored.iter().map(|r| r.supernet).collect(),
            &truth,
        ),
        against("params", scored.iter().map(|r| r.params).collect(), &truth),
        against(
            "conv_nodes",
            scored.iter().map(|r| r.conv_nodes).collect(),
            &truth,
        ),
        against(
            "seed_to_seed",
            scored.iter().map(|r| r.standalone_seed2).collect(),
            &seed1,
        ),
    ];

    write_csv(&out.join("rank_check.csv"), &rows)?;
    write_csv(&out.join("rank_summary.csv"), &summary)?;
    let points: Vec<(f64, f64)> = scored
        .iter()
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
