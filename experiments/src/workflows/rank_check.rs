//! `archforge rank-check`: can the supernet's ranking be trusted, and is it worth more than
//! counting parameters? N random architectures with distinct canonical hashes are trained
//! stand-alone with two seeds (the ground truth is their mean validation accuracy) and scored
//! by a supernet built as the file's `[evaluator]` says (`supernet` settings, or the defaults).
//! Kendall's tau and Spearman's rho against the ground truth, each with a 95 % bootstrap
//! interval over the architectures, are reported for the supernet, the training-free
//! baselines (parameter count, number of convolutions), every zero-cost proxy (at
//! initialisation, on one batch of 64 training images), the supernet combined with params
//! and with NASWOT (the mean of the two ranks), and the two stand-alone seeds against each
//! other (`seed_to_seed`, the noise ceiling of the ground truth); `rank_differences.csv` holds
//! the difference of every two scorers with its paired bootstrap interval (both computed on
//! the same resamples).
//!
//! The warmed-up supernet is written to `supernet.safetensors` before it scores anything, and
//! `--supernet FILE` scores with such a file instead of warming up again (it must come from
//! a check of the same file and seed), so scoring settings — batch-norm recalibration, the
//! scoring images, fine-tune steps, the few-shot split — can be compared on one trained
//! supernet. `--beside FILE` puts an earlier check's supernet scores (its `rank_check.csv`,
//! on the same architectures) beside this one's as the scorer `supernet@FOLDER`, so a
//! variant's gain over it comes with a paired interval on the same resamples. A few-shot
//! supernet's split decision (and, when gradient matching chose it, the
//! similarity of every decision) goes to `split.json`.
//!
//! The stand-alone trainings are the expensive part: each finished architecture is appended
//! to `standalone.csv` at once, and `--truth FILE` takes the architectures and their
//! stand-alone accuracies from such a file (or an earlier `rank_check.csv`), so supernet
//! settings can be compared against one ground truth without training it again. Progress
//! goes to standard error, one line per architecture.
//!
//! A training or score that fails is recorded as such (`status`, `reason`), left out of every
//! correlation and counted in the summary (`architectures`, the number each correlation is
//! over; an architecture a proxy fails on is left out of every correlation, so that all are
//! over the same architectures); with fewer than 3 architectures left the check ends with an
//! error, its files kept.

use super::proxy_scores::ProxyScores;
use super::rank::{Column, Correlation, Difference, rank_mean, summarize};
use crate::config::ExperimentFile;
use crate::registry::EvaluatorConfig;
use crate::report::plot;
use crate::run_folder::create_run_folder;
use crate::runner::{Prepared, Recording};
use crate::workflows::stored_workflow::StoredWorkflow;
use anyhow::{Context, Result, bail};
use archforge::evaluator::StatusKind;
use archforge::evaluator::{
    ProxySettings, Status, SupernetEvaluator, SupernetSettings, scoring_batch, train_candidate,
};
use archforge::nn::proxy::Proxy;
use archforge::record::{ArchRecord, lenient, read_rows, write_rows};
use archforge::weights::Snapshot;
use archforge::{Candidate, Environment, Evaluator, Op};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// One architecture's stand-alone ground truth, as written to `standalone.csv`: its record
/// holds the mean over the two seeds of the validation accuracy (the search metric: the
/// ground truth) and of the test accuracy, and `ok` only when both seeds trained.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Truth {
    /// The architecture and its stand-alone scores.
    #[serde(flatten)]
    pub record: ArchRecord,
    /// Stand-alone validation accuracy, first seed.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub standalone_seed1: Option<f64>,
    /// Stand-alone validation accuracy, second seed.
    #[serde(deserialize_with = "lenient::opt_f64")]
    pub standalone_seed2: Option<f64>,
}

/// One architecture's scores, as written to `rank_check.csv`: the ground truth's record
/// (`ok` when the supernet scored it too) and the scorers.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    /// The architecture, its stand-alone scores and how the check of it ended.
    #[serde(flatten)]
    pub record: ArchRecord,
    /// Stand-alone validation accuracy, first seed.
    pub standalone_seed1: Option<f64>,
    /// Stand-alone validation accuracy, second seed.
    pub standalone_seed2: Option<f64>,
    /// The supernet's validation accuracy.
    pub supernet: Option<f64>,
    /// Convolutions in its graph: for cell spaces, the conv edges of a cell times the number
    /// of cells plus a constant, so it ranks exactly as the conv-edge count does.
    pub conv_edges: usize,
    /// Its zero-cost proxies at initialisation.
    #[serde(flatten)]
    pub proxies: ProxyScores,
}

/// What a rank check wrote: `rank_summary.csv` and `rank_differences.csv`.
#[derive(Debug)]
pub struct Summary {
    /// Each scorer's correlations with the ground truth.
    pub correlations: Vec<Correlation>,
    /// Every two scorers' differences.
    pub differences: Vec<Difference>,
}

/// An earlier rank check's supernet scores, by architecture hash, as one more scorer.
#[derive(Debug, Clone)]
pub struct Beside {
    /// The scorer's name: `supernet@` and the earlier check's folder.
    pub scorer: String,
    /// Its supernet score of each architecture it scored.
    pub scores: HashMap<String, f64>,
}

/// The columns of an earlier `rank_check.csv` that `--beside` reads.
#[derive(Debug, Deserialize)]
struct BesideRow {
    hash: String,
    #[serde(deserialize_with = "lenient::opt_f64")]
    supernet: Option<f64>,
}

impl Beside {
    /// The supernet scores of the rank check whose `rank_check.csv` is at `path`.
    pub fn read(path: &Path) -> Result<Beside> {
        let rows: Vec<BesideRow> = read_rows(path)
            .with_context(|| format!("--beside {}: not a rank check's scores", path.display()))?;
        let folder = path.parent().and_then(Path::file_name).map_or_else(
            || path.display().to_string(),
            |f| f.to_string_lossy().into(),
        );
        let scores = rows
            .into_iter()
            .filter_map(|r| Some((r.hash, r.supernet.filter(|v| v.is_finite())?)))
            .collect();
        Ok(Beside {
            scorer: format!("supernet@{folder}"),
            scores,
        })
    }
}

/// Where the architectures and their ground truth come from.
pub enum Source<'a> {
    /// `n` new random architectures, trained stand-alone here.
    Random(usize),
    /// The architectures and stand-alone accuracies of an earlier `standalone.csv` or
    /// `rank_check.csv`.
    Truth(&'a Path),
}

/// Runs the rank check into `out`, with the warmed-up supernet at `supernet` when given and
/// the earlier checks' supernet scores `beside` as scorers too; recorded in a store when
/// `store` says so (`arguments`: the flags the file does not hold, which a resume must give
/// again).
pub fn run(
    file: &mut ExperimentFile,
    source: Source,
    supernet: Option<&Path>,
    beside: &[Beside],
    out: &Path,
    store: Option<(&Recording, &str)>,
) -> Result<Summary> {
    if let Source::Random(n) = source
        && n < 3
    {
        bail!("--archs must be at least 3 to rank anything");
    }
    file.ensure_training();
    let file: &ExperimentFile = file;
    let prepared = Prepared::new(file)?;
    let seed = file.experiment.seed;
    let env = prepared.networks().clone();
    let (candidates, known) = match source {
        Source::Random(n) => (distinct_candidates(env.as_ref(), n, seed)?, Vec::new()),
        Source::Truth(path) => {
            let known = read_truth(path)?;
            (rebuild(env.as_ref(), &known, path)?, known)
        }
    };
    let record = store
        .map(|(recording, arguments)| StoredWorkflow::begin(recording, file, out, None, arguments))
        .transpose()?;
    match record.as_ref().is_some_and(StoredWorkflow::resuming) {
        true => {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?
        }
        false => create_run_folder(out)?,
    }
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
    let checked = check(
        &prepared,
        &candidates,
        known,
        supernet,
        beside,
        out,
        record.as_ref(),
    );
    if let Some(record) = &record {
        let failure = checked.as_ref().err().map(|e| format!("{e:#}"));
        record.end(out, failure.as_deref())?;
    }
    checked
}

/// The rank check of `candidates` (with their ground truth `known`, when it was given) into
/// the open folder `out`, as [`run`] says.
fn check(
    prepared: &Prepared<'_>,
    candidates: &[Candidate],
    known: Vec<Truth>,
    supernet: Option<&Path>,
    beside: &[Beside],
    out: &Path,
    record: Option<&StoredWorkflow>,
) -> Result<Summary> {
    let experiment = prepared.experiment();
    let training = prepared
        .training()
        .expect("ensure_training provides data and settings");
    let settings = match &experiment.evaluator {
        EvaluatorConfig::Supernet(s) => s.clone(),
        _ => SupernetSettings::default(),
    };
    let seed = experiment.seed;
    let env = prepared.networks().clone();
    let n = candidates.len();
    let truth = if known.is_empty() {
        let path = out.join("standalone.csv");
        let context = || format!("writing {}", path.display());
        let before = match record.map(|r| r.kept(STANDALONE)).transpose()?.flatten() {
            Some(content) => {
                std::fs::write(&path, content).with_context(context)?;
                let rows = read_rows(&path).context("the stored ground truth is unreadable")?;
                trained_before(rows, candidates)?
            }
            None => Vec::new(),
        };
        let file = std::fs::File::create(&path).with_context(context)?;
        let mut writer = archforge::record::FlatWriter::new(file);
        for row in &before {
            writer.write(row).with_context(context)?;
        }
        writer.flush().with_context(context)?;
        if !before.is_empty() {
            eprintln!("stand-alone: {} of {n} trained before", before.len());
        }
        let mut truth = before;
        for (k, c) in candidates.iter().enumerate().skip(truth.len()) {
            let started = Instant::now();
            let trained =
                |s: u64| train_candidate(c, &training.data, &training.config, s).map(|t| t.metrics);
            let (first, second) = (trained(seed), trained(seed + 1));
            let mean = |f: fn(&archforge::Metrics) -> Option<f64>| match (&first, &second) {
                (Ok(a), Ok(b)) => Some((f(a)? + f(b)?) / 2.0),
                _ => None,
            };
            let failure = [&first, &second].into_iter().find_map(|r| r.as_ref().err());
            let row = Truth {
                record: ArchRecord {
                    arch: c.label.clone(),
                    hash: c.hash.to_string(),
                    decisions: archforge::search::join_decisions(&c.decisions),
                    search_metric: mean(|m| m.search),
                    reported_metric: mean(|m| m.reported),
                    params: c.params(),
                    macs: c.macs(),
                    latency_ms: None,
                    status: failure.map_or(StatusKind::Ok, |s| s.kind()),
                    reason: failure.map(|s| s.reason().to_string()).unwrap_or_default(),
                },
                standalone_seed1: first.as_ref().ok().and_then(|m| m.search),
                standalone_seed2: second.as_ref().ok().and_then(|m| m.search),
            };
            let shown = |a: Option<f64>| a.map_or_else(|| "failed".into(), |a| format!("{a:.2} %"));
            eprintln!(
                "stand-alone {}/{n} {}: {} / {} ({:.1} s)",
                k + 1,
                row.record.arch,
                shown(row.standalone_seed1),
                shown(row.standalone_seed2),
                started.elapsed().as_secs_f64()
            );
            writer.write(&row).with_context(context)?;
            writer.flush().with_context(context)?;
            if let Some(record) = record {
                record.keep(STANDALONE, &std::fs::read(&path).with_context(context)?)?;
            }
            truth.push(row);
        }
        truth
    } else {
        known
    };

    let batch = scoring_batch(&training.data.train, ProxySettings::default().batch, seed)
        .context("the training data holds no image")?;
    let mut seconds = [0.0f64; 5];
    let proxies: Vec<ProxyScores> = candidates
        .iter()
        .map(|c| ProxyScores::score(c, &batch, training.data.train.shape, seed, &mut seconds))
        .collect();
    eprintln!(
        "proxies: {n} architectures scored in {:.1} s",
        seconds.iter().sum::<f64>()
    );

    let started = Instant::now();
    let kept = out.join("supernet.safetensors");
    let weights = match supernet {
        Some(path) => {
            eprintln!(
                "supernet: {} (no warm-up), then {n} architectures scored",
                path.display()
            );
            Snapshot::load(path).context("--supernet")?
        }
        None if record.is_some_and(StoredWorkflow::resuming) && kept.exists() => {
            eprintln!(
                "supernet: warmed up before ({}), then {n} architectures scored",
                kept.display()
            );
            Snapshot::load(&kept)?
        }
        None => {
            eprintln!(
                "supernet: {} warm-up epochs, then {n} architectures scored",
                settings.warmup_epochs
            );
            let mut supernet = SupernetEvaluator::new(
                env.clone(),
                training.data.clone(),
                training.config.clone(),
                settings.clone(),
                seed,
            );
            supernet.warm_up()?;
            let weights = supernet.shared_weights().expect("warmed up");
            weights.save(&kept)?;
            eprintln!(
                "supernet: warmed up in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            weights
        }
    };
    // Every check scores with the supernet read back from its kept weights, however it got
    // them, so a resumed check scores as an uninterrupted one.
    let mut supernet = SupernetEvaluator::trained(
        env.clone(),
        training.data.clone(),
        training.config.clone(),
        settings,
        seed,
        Arc::new(weights),
    );
    // The read-back supernet splits here, when it is a few-shot one.
    supernet.warm_up()?;
    if let Some(choice) = supernet.split_choice() {
        eprintln!("supernet: few-shot split on decision {}", choice.position);
        let text = serde_json::to_string_pretty(choice)?;
        std::fs::write(out.join("split.json"), text + "\n")?;
    }
    let scoring = Instant::now();
    let mut rows = Vec::with_capacity(n);
    for (k, ((c, t), proxies)) in candidates.iter().zip(&truth).zip(proxies).enumerate() {
        // The supernet's warm-up failing is an error that ends the check here.
        let outcome = supernet
            .evaluate(c)
            .with_context(|| format!("supernet, {}", c.label))?;
        let shared = outcome
            .metrics
            .search
            .filter(|_| outcome.status == Status::Ok);
        eprintln!(
            "supernet {}/{n} {}: {} ({:.1} s so far)",
            k + 1,
            c.label,
            shared.map_or_else(
                || outcome.status.kind().to_string(),
                |s| format!("{s:.2} %")
            ),
            started.elapsed().as_secs_f64()
        );
        let convs = conv_count(c);
        let mut record = t.record.clone();
        match (t.record.status, &outcome.status) {
            (StatusKind::Ok, Status::Ok) => {}
            (StatusKind::Ok, other) => {
                record.status = other.kind();
                record.reason = format!("supernet: {}", other.reason());
            }
            _ => record.reason = format!("stand-alone: {}", t.record.reason),
        }
        rows.push(Scored {
            record,
            standalone_seed1: t.standalone_seed1,
            standalone_seed2: t.standalone_seed2,
            supernet: shared,
            conv_edges: convs,
            proxies,
        });
    }
    write_rows(&out.join("rank_check.csv"), &rows)?;
    let per_arch = |total: f64| Some(total / n as f64);
    let mut timing: Vec<(&str, Option<f64>)> =
        vec![("supernet", per_arch(scoring.elapsed().as_secs_f64()))];
    for (i, p) in Proxy::ALL.iter().enumerate() {
        timing.push((p.name(), per_arch(seconds[i])));
    }
    let summary = summarize_rows(&rows, beside, &timing, seed)?;
    write_rows(&out.join("rank_summary.csv"), &summary.correlations)?;
    write_rows(&out.join("rank_differences.csv"), &summary.differences)?;
    let points: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.supernet?, r.record.search_metric?)))
        .collect();
    plot::scatter(
        &out.join("rank_scatter.svg"),
        &format!(
            "{}: supernet vs stand-alone ({} architectures)",
            experiment.name,
            points.len()
        ),
        "supernet validation accuracy (%)",
        "stand-alone validation accuracy, mean of 2 seeds (%)",
        &points,
    )?;
    Ok(summary)
}

/// The name under which a stored rank check keeps its ground truth as it is trained.
const STANDALONE: &str = "standalone.csv";

/// The ground truth a killed check had kept (its `standalone.csv`), which must be of the
/// first of `candidates`, in order.
fn trained_before(rows: Vec<Truth>, candidates: &[Candidate]) -> Result<Vec<Truth>> {
    if rows.len() > candidates.len() {
        bail!(
            "the stored ground truth has {} architectures, more than the {} of this check",
            rows.len(),
            candidates.len()
        );
    }
    for (k, (row, c)) in rows.iter().zip(candidates).enumerate() {
        if row.record.hash != c.hash.to_string() {
            bail!(
                "the stored ground truth's architecture {} is {}, not this check's {}",
                k + 1,
                row.record.arch,
                c.label
            );
        }
    }
    Ok(rows)
}

/// The convolutions in a candidate's graph (the `conv_edges` scorer).
pub fn conv_count(c: &Candidate) -> usize {
    c.arch()
        .node_ids()
        .filter(|&id| matches!(c.arch().node(id).op, Op::Conv(_)))
        .count()
}

/// The least number of architectures a correlation is computed over.
const MIN_RANKED: usize = 3;

/// The scorers' correlations and differences over the architectures whose stand-alone
/// accuracies, supernet score, proxies and scores `beside` are all known (`timing`: seconds
/// per architecture by scorer); an error when fewer than `MIN_RANKED` are.
pub fn summarize_rows(
    rows: &[Scored],
    beside: &[Beside],
    timing: &[(&str, Option<f64>)],
    seed: u64,
) -> Result<Summary> {
    let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
    let ranked: Vec<&Scored> = rows
        .iter()
        .filter(|r| r.record.status == StatusKind::Ok)
        .filter(|r| {
            [
                r.record.search_metric,
                r.standalone_seed1,
                r.standalone_seed2,
                r.supernet,
            ]
            .into_iter()
            .chain(Proxy::ALL.iter().map(|&p| r.proxies.get(p)))
            .chain(beside.iter().map(|b| b.scores.get(&r.record.hash).copied()))
            .all(|v| finite(v).is_some())
        })
        .collect();
    let failed = rows.len() - ranked.len();
    if ranked.len() < MIN_RANKED {
        bail!(
            "only {} of {} architectures were trained and scored ({failed} failed; see rank_check.csv); at least {MIN_RANKED} are needed to rank",
            ranked.len(),
            rows.len()
        );
    }
    let known = |v: Option<f64>| v.expect("ranked rows are complete");
    let column = |f: &dyn Fn(&Scored) -> f64| ranked.iter().map(|r| f(r)).collect::<Vec<f64>>();
    let truth = column(&|r| known(r.record.search_metric));
    let supernet = column(&|r| known(r.supernet));
    let params = column(&|r| r.record.params.unwrap_or(0) as f64);
    let naswot = column(&|r| known(r.proxies.naswot));
    let seconds = |name: &str| timing.iter().find(|t| t.0 == name).and_then(|t| t.1);
    let against_truth = |name: &str, values: Vec<f64>| Column {
        scorer: name.into(),
        values,
        reference: truth.clone(),
        seconds_per_arch: seconds(name),
    };
    let mut columns = vec![
        against_truth("supernet", supernet.clone()),
        against_truth("params", params.clone()),
        against_truth("conv_edges", column(&|r| r.conv_edges as f64)),
    ];
    for &p in &Proxy::ALL {
        columns.push(against_truth(
            p.name(),
            column(&|r| known(r.proxies.get(p))),
        ));
    }
    columns.push(against_truth(
        "supernet+params",
        rank_mean(&supernet, &params),
    ));
    columns.push(against_truth(
        "supernet+naswot",
        rank_mean(&supernet, &naswot),
    ));
    for b in beside {
        columns.push(against_truth(
            &b.scorer,
            column(&|r| b.scores[&r.record.hash]),
        ));
    }
    columns.push(Column {
        scorer: "seed_to_seed".into(),
        values: column(&|r| known(r.standalone_seed2)),
        reference: column(&|r| known(r.standalone_seed1)),
        seconds_per_arch: None,
    });
    let (correlations, differences) = summarize(&columns, failed, seed);
    Ok(Summary {
        correlations,
        differences,
    })
}

/// The ground truth of an earlier rank check (`standalone.csv` or `rank_check.csv`).
pub fn read_truth(path: &Path) -> Result<Vec<Truth>> {
    let mut rows: Vec<Truth> = read_rows(path).context("reading the ground truth")?;
    // A `rank_check.csv` also records how the supernet did: the ground truth is whether both
    // seeds trained.
    for t in &mut rows {
        let trained = |v: Option<f64>| v.is_some_and(f64::is_finite);
        if trained(t.standalone_seed1) && trained(t.standalone_seed2) {
            t.record.status = StatusKind::Ok;
            t.record.reason.clear();
        } else if t.record.status == StatusKind::Ok {
            t.record.status = StatusKind::Failed;
        }
        if let Some(reason) = t.record.reason.strip_prefix("stand-alone: ") {
            t.record.reason = reason.to_string();
        }
    }
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
pub fn rebuild(env: &dyn Environment, known: &[Truth], path: &Path) -> Result<Vec<Candidate>> {
    known
        .iter()
        .enumerate()
        .map(|(row, t)| {
            let decisions = archforge::search::parse_decisions(&t.record.decisions)
                .with_context(|| format!("{} row {}", path.display(), row + 1))?;
            let c = env
                .build(&decisions)
                .with_context(|| format!("{} row {}", path.display(), row + 1))?;
            if c.hash.to_string() != t.record.hash {
                bail!(
                    "{} row {}: {} builds a different network here (hash {} instead of {}); \
                     was the ground truth made with another environment?",
                    path.display(),
                    row + 1,
                    t.record.decisions,
                    c.hash,
                    t.record.hash
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize, truth: Option<f64>, supernet: Option<f64>, status: StatusKind) -> Scored {
        Scored {
            record: ArchRecord {
                arch: format!("a{i}"),
                decisions: i.to_string(),
                hash: i.to_string(),
                params: Some(100 * i as u64),
                search_metric: truth.map(|t| t + 0.25 * (i % 2) as f64),
                status,
                ..ArchRecord::default()
            },
            conv_edges: i,
            standalone_seed1: truth,
            standalone_seed2: truth.map(|t| t + 0.5 * (i % 2) as f64),
            supernet,
            proxies: ProxyScores {
                synflow: Some(i as f64),
                grad_norm: Some(1.0 + (i % 3) as f64),
                snip: Some(2.0 + 0.5 * i as f64),
                jacob_cov: Some(-(i as f64)),
                naswot: Some(10.0 * i as f64),
            },
        }
    }

    #[test]
    fn failed_architectures_are_left_out_and_counted() {
        let rows = vec![
            row(0, Some(80.0), Some(60.0), StatusKind::Ok),
            row(1, None, Some(70.0), StatusKind::Failed),
            row(2, Some(82.0), Some(65.0), StatusKind::Ok),
            row(3, Some(84.0), None, StatusKind::Failed),
            row(4, Some(86.0), Some(66.0), StatusKind::Ok),
        ];
        let summary = summarize_rows(&rows, &[], &[("supernet", Some(0.5))], 1).unwrap();
        for c in &summary.correlations {
            assert_eq!((c.architectures, c.failed), (3, 2), "{}", c.scorer);
            assert!(c.kendall.is_some() && c.spearman.is_some(), "{}", c.scorer);
            assert!(
                c.kendall_low <= c.kendall && c.kendall <= c.kendall_high,
                "{}",
                c.scorer
            );
        }
        let scorers: Vec<&str> = summary
            .correlations
            .iter()
            .map(|c| c.scorer.as_str())
            .collect();
        assert_eq!(scorers.len(), 11);
        assert_eq!(summary.correlations[0].seconds_per_arch, Some(0.5));
        assert_eq!(summary.correlations[0].kendall, Some(1.0));
        // Every two scorers compared once, a scorer with itself never.
        assert_eq!(summary.differences.len(), 11 * 10 / 2);
        assert!(summary.differences.iter().all(|d| d.scorer != d.against));
        // A scorer that scores every architecture alike ranks nothing: no number, not NaN.
        let flat: Vec<Scored> = rows
            .iter()
            .cloned()
            .map(|mut r| {
                r.supernet = Some(10.0);
                r
            })
            .collect();
        let flat = summarize_rows(&flat, &[], &[], 1).unwrap();
        assert_eq!(flat.correlations[0].kendall, None);
        assert_eq!(flat.differences[0].kendall_difference, None);
        // An architecture a proxy failed on is left out of every correlation.
        let mut missing = rows.clone();
        missing[4].proxies.naswot = None;
        let err = summarize_rows(&missing, &[], &[], 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("only 2 of 5 architectures"), "{err}");
        let err = summarize_rows(&rows[..2], &[], &[], 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("only 1 of 2 architectures"), "{err}");
        // An earlier check's supernet beside this one: one more scorer, paired with every
        // other; an architecture it did not score is left out of every correlation.
        let earlier = |scored: usize| Beside {
            scorer: "supernet@earlier".into(),
            scores: rows
                .iter()
                .take(scored)
                .map(|r| (r.record.hash.clone(), -r.supernet.unwrap_or(0.0)))
                .collect(),
        };
        let err = summarize_rows(&rows, &[earlier(4)], &[], 1).unwrap_err();
        assert!(err.to_string().contains("only 2 of 5"), "{err}");
        let both = summarize_rows(&rows, &[earlier(5)], &[], 1).unwrap();
        let named = |name: &str| {
            both.correlations
                .iter()
                .find(|c| c.scorer == name)
                .unwrap_or_else(|| panic!("{name}"))
                .clone()
        };
        assert_eq!(both.correlations.len(), 12);
        assert_eq!(named("supernet@earlier").architectures, 3);
        assert_eq!(named("supernet@earlier").kendall, Some(-1.0));
        assert_eq!(named("supernet").kendall, Some(1.0));
        let pair = both
            .differences
            .iter()
            .find(|d| d.scorer == "supernet" && d.against == "supernet@earlier")
            .expect("the two supernets compared");
        assert_eq!(pair.kendall_difference, Some(2.0));
    }
}
