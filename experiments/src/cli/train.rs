//! `archforge train`: one architecture, trained stand-alone, written to a run folder.

use crate::config::ExperimentFile;
use crate::runner;
use anyhow::Result;
use std::path::PathBuf;
use std::time::Instant;

/// `archforge train`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file.
    pub file: PathBuf,
    /// The architecture as its decisions, `-`-separated (the ledger's `decisions` column).
    #[arg(long)]
    pub arch: String,
    /// The seed (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The run folder (default: runs/<name>-train-<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    let decisions = archforge::search::parse_decisions(arch).ok_or_else(|| {
        anyhow::anyhow!("--arch `{arch}`: expected decisions separated by `-`, e.g. 3-0-1-2-4-3")
    })?;
    let candidate = prepared
        .env()
        .build(&decisions)
        .map_err(|e| anyhow::anyhow!("--arch `{arch}`: {e}"))?;
    let out = args
        .out
        .unwrap_or_else(|| runner::default_out(&format!("{}-train", file.experiment.name)));
    runner::create_run_folder(&out)?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
    let started = Instant::now();
    let trained = archforge::evaluator::train_candidate(
        &candidate,
        &training.data,
        &training.config,
        file.experiment.seed,
    )
    .map_err(|status| anyhow::anyhow!("{arch}: {} ({})", status.kind(), status.reason()))?;
    let seconds = started.elapsed().as_secs_f64();
    let m = &trained.metrics;
    let summary = serde_json::json!({
        "arch": candidate.label,
        "decisions": candidate.decisions,
        "hash": candidate.hash.to_string(),
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
