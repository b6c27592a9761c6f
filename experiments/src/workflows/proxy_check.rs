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

use super::rank::{bootstrap_interval, kendall, spearman};
use super::rank_check::{conv_count, read_truth, rebuild};
use crate::config::ExperimentFile;
use crate::registry::EvaluatorConfig;
use crate::report::plot;
use crate::run_folder::create_run_folder;
use crate::runner::Prepared;
use anyhow::{Context, Result, bail};
use archforge::evaluator::{ProxySettings, StatusKind, scoring_batch};
use archforge::nn::proxy::{self, Proxy};
use archforge::record::{ArchRecord, write_rows};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Bootstrap resamples behind each interval.
const RESAMPLES: usize = 2000;

/// One architecture's scores, as written to `proxy_check.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyScored {
    /// The architecture and its stand-alone scores.
    #[serde(flatten)]
    pub record: ArchRecord,
    /// Convolutions in its graph.
    pub conv_edges: usize,
    /// synflow.
    pub synflow: Option<f64>,
    /// grad_norm.
    pub grad_norm: Option<f64>,
    /// snip.
    pub snip: Option<f64>,
    /// jacob_cov.
    pub jacob_cov: Option<f64>,
    /// naswot.
    pub naswot: Option<f64>,
}

impl ProxyScored {
    fn proxy(&self, p: Proxy) -> Option<f64> {
        match p {
            Proxy::Synflow => self.synflow,
            Proxy::GradNorm => self.grad_norm,
            Proxy::Snip => self.snip,
            Proxy::JacobCov => self.jacob_cov,
            Proxy::Naswot => self.naswot,
        }
    }

    fn set(&mut self, p: Proxy, v: Option<f64>) {
        let slot = match p {
            Proxy::Synflow => &mut self.synflow,
            Proxy::GradNorm => &mut self.grad_norm,
            Proxy::Snip => &mut self.snip,
            Proxy::JacobCov => &mut self.jacob_cov,
            Proxy::Naswot => &mut self.naswot,
        };
        *slot = v;
    }
}

/// One line of `proxy_summary.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyCorrelation {
    /// A proxy's name, `params` or `conv_edges`.
    pub scorer: String,
    /// The architectures it is computed over.
    pub architectures: usize,
    /// Kendall's tau against the ground truth.
    pub kendall: Option<f64>,
    /// Its 95 % bootstrap interval.
    pub kendall_low: Option<f64>,
    /// Upper end of that interval.
    pub kendall_high: Option<f64>,
    /// Spearman's rho against the ground truth.
    pub spearman: Option<f64>,
    /// Its 95 % bootstrap interval.
    pub spearman_low: Option<f64>,
    /// Upper end of that interval.
    pub spearman_high: Option<f64>,
    /// Mean seconds to score one architecture (none for the counts).
    pub seconds_per_arch: Option<f64>,
}

fn correlation(
    scorer: &str,
    values: &[f64],
    truth: &[f64],
    seconds: Option<f64>,
    seed: u64,
) -> ProxyCorrelation {
    let finite = |v: f64| v.is_finite().then_some(v);
    let tau = bootstrap_interval(values, truth, kendall, RESAMPLES, seed);
    let rho = bootstrap_interval(values, truth, spearman, RESAMPLES, seed);
    ProxyCorrelation {
        scorer: scorer.into(),
        architectures: values.len(),
        kendall: finite(kendall(values, truth)),
        kendall_low: tau.map(|t| t.0),
        kendall_high: tau.map(|t| t.1),
        spearman: finite(spearman(values, truth)),
        spearman_low: rho.map(|r| r.0),
        spearman_high: rho.map(|r| r.1),
        seconds_per_arch: seconds,
    }
}

/// Runs the check into `out` on the ground truth at `truth`.
pub fn run(file: &mut ExperimentFile, truth: &Path, out: &Path) -> Result<Vec<ProxyCorrelation>> {
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
        let mut row = ProxyScored {
            record: t.record.clone(),
            conv_edges: conv_count(c),
            synflow: None,
            grad_norm: None,
            snip: None,
            jacob_cov: None,
            naswot: None,
        };
        for (i, &p) in Proxy::ALL.iter().enumerate() {
            let started = Instant::now();
            let value = match proxy::score(c.arch(), &batch, train.shape, p, seed) {
                Ok(v) => Some(v),
                Err(e) => {
                    eprintln!("{} {}: {e}", c.label, p.name());
                    None
                }
            };
            seconds[i] += started.elapsed().as_secs_f64();
            row.set(p, value);
        }
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
            .filter_map(|r| Some((r.proxy(p)?, truth_of(r))))
            .unzip();
        summary.push(correlation(
            p.name(),
            &values,
            &target,
            Some(seconds[i] / n),
            seed,
        ));
        let points: Vec<(f64, f64)> = values.iter().copied().zip(target).collect();
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
    }
    let target: Vec<f64> = trained.iter().map(|r| truth_of(r)).collect();
    let params: Vec<f64> = trained
        .iter()
        .map(|r| r.record.params.unwrap_or(0) as f64)
        .collect();
    let convs: Vec<f64> = trained.iter().map(|r| r.conv_edges as f64).collect();
    summary.push(correlation("params", &params, &target, None, seed));
    summary.push(correlation("conv_edges", &convs, &target, None, seed));
    write_rows(&out.join("proxy_summary.csv"), &summary)?;
    Ok(summary)
}
