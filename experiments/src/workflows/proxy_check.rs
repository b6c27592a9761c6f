//! `archforge proxy-check`: how well does each zero-cost proxy rank architectures that were
//! trained? The architectures and their stand-alone ground truth come from an earlier rank
//! check (`--truth`, its `standalone.csv`); every proxy ([`Proxy::ALL`]) scores each of them
//! at initialisation on one batch of the file's training data (as large as a `proxy`
//! evaluator's `batch`, else 64; drawn from the file's seed, the weights from the same
//! seed). Kendall's tau and Spearman's rho
//! against the ground truth, each with a 95 % bootstrap interval over the architectures, and
//! the seconds per architecture are reported per proxy beside the training-free baselines
//! (parameters, convolutions); `proxy_check.csv` holds every architecture's scores,
//! `proxy_summary.csv` the correlations, and `proxy_<name>.svg` each proxy's scatter plot.
//!
//! A proxy that fails on an architecture (a score that is not finite) is recorded empty and
//! that architecture left out of that proxy's correlation only.

use super::proxy_scores::ProxyScores;
use super::rank::{Bootstrap, Column, Correlation, RESAMPLES};
use super::rank_check::{conv_count, read_truth, rebuild};
use crate::config::ExperimentFile;
use crate::registry::EvaluatorConfig;
use crate::report::plot;
use crate::run_folder::create_run_folder;
use crate::runner::Prepared;
use anyhow::{Context, Result, bail};
use archforge::evaluator::{ProxySettings, StatusKind, scoring_batch};
use archforge::nn::proxy::Proxy;
use archforge::record::{ArchRecord, write_rows};
use serde::Serialize;
use std::path::Path;

/// One architecture's scores, as written to `proxy_check.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyScored {
    /// The architecture and its stand-alone scores.
    #[serde(flatten)]
    pub record: ArchRecord,
    /// Convolutions in its graph.
    pub conv_edges: usize,
    /// Its proxy scores.
    #[serde(flatten)]
    pub proxies: ProxyScores,
}

/// The correlation of one scorer over the architectures it scored.
fn correlation(
    scorer: &str,
    values: Vec<f64>,
    truth: Vec<f64>,
    seconds: Option<f64>,
    seed: u64,
) -> Correlation {
    let bootstrap = Bootstrap::new(values.len(), RESAMPLES, seed);
    let column = Column {
        scorer: scorer.into(),
        values,
        reference: truth,
        seconds_per_arch: seconds,
    };
    Correlation::of(&column, 0, &bootstrap)
}

/// Runs the check into `out` on the ground truth at `truth`.
pub fn run(file: &mut ExperimentFile, truth: &Path, out: &Path) -> Result<Vec<Correlation>> {
    file.ensure_training();
    let prepared = Prepared::new(file)?;
    let training = prepared
        .training()
        .expect("ensure_training provides data and settings");
    let env = prepared.networks().clone();
    let known = read_truth(truth)?;
    let candidates = rebuild(env.as_ref(), &known, truth)?;
    let seed = file.experiment.seed;
    let train = &training.data.train;
    let size = match &file.experiment.evaluator {
        EvaluatorConfig::Proxy(settings) => settings.batch,
        _ => ProxySettings::default().batch,
    };
    let batch = scoring_batch(train, size, seed).context("the training data holds no image")?;
    create_run_folder(out)?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;

    let mut seconds = [0.0f64; 5];
    let mut rows = Vec::with_capacity(candidates.len());
    for (k, (c, t)) in candidates.iter().zip(&known).enumerate() {
        let row = ProxyScored {
            record: t.record.clone(),
            conv_edges: conv_count(c),
            proxies: ProxyScores::score(c, &batch, train.shape, seed, &mut seconds),
        };
        eprintln!(
            "proxies {}/{}: {} done ({:.1} s so far)",
            k + 1,
            candidates.len(),
            c.label,
            seconds.iter().sum::<f64>()
        );
        rows.push(row);
    }
    write_rows(&out.join("proxy_check.csv"), &rows)?;

    let trained: Vec<&ProxyScored> = rows
        .iter()
        .filter(|r| r.record.status == StatusKind::Ok)
        .filter(|r| r.record.search_metric.is_some_and(f64::is_finite))
        .collect();
    if trained.len() < 3 {
        bail!(
            "only {} architectures of {} have a stand-alone ground truth; at least 3 are needed to rank",
            trained.len(),
            truth.display()
        );
    }
    let truth_of = |r: &ProxyScored| r.record.search_metric.expect("filtered");
    let n = candidates.len() as f64;
    let mut summary = Vec::new();
    for (i, &p) in Proxy::ALL.iter().enumerate() {
        let (values, target): (Vec<f64>, Vec<f64>) = trained
            .iter()
            .filter_map(|r| Some((r.proxies.get(p)?, truth_of(r))))
            .unzip();
        let points: Vec<(f64, f64)> = values.iter().copied().zip(target.iter().copied()).collect();
        plot::scatter(
            &out.join(format!("proxy_{}.svg", p.name())),
            &format!(
                "{}: {} vs stand-alone ({} architectures)",
                file.experiment.name,
                p.name(),
                points.len()
            ),
            &format!("{} at initialisation", p.name()),
            "stand-alone validation accuracy (%)",
            &points,
        )?;
        summary.push(correlation(
            p.name(),
            values,
            target,
            Some(seconds[i] / n),
            seed,
        ));
    }
    let target: Vec<f64> = trained.iter().map(|r| truth_of(r)).collect();
    let params: Vec<f64> = trained
        .iter()
        .map(|r| r.record.params.unwrap_or(0) as f64)
        .collect();
    let convs: Vec<f64> = trained.iter().map(|r| r.conv_edges as f64).collect();
    summary.push(correlation("params", params, target.clone(), None, seed));
    summary.push(correlation("conv_edges", convs, target, None, seed));
    write_rows(&out.join("proxy_summary.csv"), &summary)?;
    Ok(summary)
}
