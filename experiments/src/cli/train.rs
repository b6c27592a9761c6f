//! `archforge train`: one architecture, trained stand-alone (from fresh weights or from a
//! weights file, `--init`), written to a run folder.

use crate::config::ExperimentFile;
use crate::run_folder;
use crate::runner;
use anyhow::{Context, Result, anyhow};
use archforge::weights::Snapshot;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// `archforge train`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file.
    pub file: PathBuf,
    /// The architecture as its decisions, `-`-separated (the ledger's `decisions` column).
    #[arg(long)]
    pub arch: String,
    /// Start from these weights (a safetensors file of this network's tensors by path, as
    /// `train` and `export` write) instead of fresh ones; their accuracy before the first
    /// step is reported too.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// The seed (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The run folder (default: runs/<name>-train-<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `--arch`'s decisions.
pub fn decisions(arch: &str) -> Result<Vec<usize>> {
    archforge::search::parse_decisions(arch).ok_or_else(|| {
        anyhow!("--arch `{arch}`: expected decisions separated by `-`, e.g. 3-0-1-2-4-3")
    })
}

/// Trains the architecture and writes `trained.json`, its weights and its graph.
pub fn main(args: Args) -> Result<()> {
    let arch = &args.arch;
    let mut file = ExperimentFile::load(&args.file)?;
    file.override_with(args.seed, None, None)?;
    file.ensure_training();
    let prepared = runner::Prepared::new(&file)?;
    let training = prepared
        .training()
        .expect("ensure_training provides data and settings");
    let mut candidate = prepared
        .networks()
        .build(&decisions(arch)?)
        .map_err(|e| anyhow!("--arch `{arch}`: {e}"))?;
    if let Some(path) = &args.init {
        let weights = Snapshot::load(path).context("--init")?;
        candidate = candidate.with_init(Arc::new(weights));
    }
    let out = args
        .out
        .unwrap_or_else(|| run_folder::default_out(&format!("{}-train", file.experiment.name)));
    run_folder::create_run_folder(&out)?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
    let started = Instant::now();
    let trained = archforge::evaluator::train_candidate(
        &candidate,
        &training.data,
        &training.config,
        file.experiment.seed,
    )
    .map_err(|status| {
        let from = args
            .init
            .as_ref()
            .map(|p| format!(" from {}", p.display()))
            .unwrap_or_default();
        anyhow!("{arch}{from}: {} ({})", status.kind(), status.reason())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let m = &trained.metrics;
    let summary = serde_json::json!({
        "arch": candidate.label,
        "decisions": candidate.decisions,
        "hash": candidate.hash.to_string(),
        "init": args.init,
        "initial_valid_accuracy": trained.initial.map(|i| i.0),
        "initial_test_accuracy": trained.initial.map(|i| i.1),
        "valid_accuracy": m.search,
        "test_accuracy": m.reported,
        "params": m.params,
        "macs": m.macs,
        "latency_ms": m.latency_ms,
        "train_seconds": seconds,
    });
    std::fs::write(
        out.join("trained.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    trained.store.save(&out.join("weights.safetensors"))?;
    std::fs::write(out.join("arch.json"), candidate.arch().to_json() + "\n")?;
    std::fs::write(out.join("arch.dot"), candidate.arch().to_dot())?;
    let num = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.2}"));
    println!("Trained {} in {seconds:.1} s:", candidate.label);
    if let Some((valid, test)) = trained.initial {
        println!("  before training  valid {valid:.4}, test {test:.4}");
    }
    println!("  valid accuracy   {}", num(m.search));
    println!("  test accuracy    {}", num(m.reported));
    println!(
        "  params           {}",
        m.params.map_or_else(|| "–".into(), |p| p.to_string())
    );
    println!("  latency (ms)     {}", num(m.latency_ms));
    println!("results in {}", out.display());
    Ok(())
}
