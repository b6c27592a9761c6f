//! `archforge train`: one architecture, trained stand-alone (from fresh weights or from a
//! weights file, `--init`), written to a run folder — or, without `--arch`, the file's
//! `[teacher]` network as its `[teacher] training` says, the folder a compression's
//! `[teacher] path` names.

use crate::config::ExperimentFile;
use crate::run_folder;
use crate::runner;
use anyhow::{Context, Result, anyhow, bail};
use archforge::Candidate;
use archforge::evaluator::train_candidate_with;
use archforge::nn::{Stepper, training_device};
use archforge::weights::Snapshot;
use archforge_environments::Images;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// `archforge train`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file.
    pub file: PathBuf,
    /// The architecture as its decisions, `-`-separated (the ledger's `decisions` column);
    /// without it, the file's `[teacher]`.
    #[arg(long)]
    pub arch: Option<String>,
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

/// Trains the architecture (or the teacher) and writes `trained.json`, its weights and its
/// graph.
pub fn main(args: Args) -> Result<()> {
    let mut file = ExperimentFile::load(&args.file)?;
    file.override_with(args.seed, None, None)?;
    file.ensure_training();
    let (candidate, config, data, extra) = match (&args.arch, &file.experiment.teacher) {
        (Some(arch), _) => {
            let prepared = runner::Prepared::new(&file)?;
            let training = prepared
                .training()
                .expect("ensure_training provides data and settings");
            let candidate = prepared
                .networks()
                .build(&decisions(arch)?)
                .map_err(|e| anyhow!("--arch `{arch}`: {e}"))?;
            let extra = serde_json::json!({ "init": args.init });
            (
                candidate,
                training.config.clone(),
                training.data.clone(),
                extra,
            )
        }
        (None, Some(teacher)) => {
            if let Some(path) = &teacher.path {
                bail!(
                    "{}: [teacher] path names a trained teacher ({}); remove it to train one",
                    file.path.display(),
                    path.display()
                );
            }
            let data = Arc::new(runner::load_data(&file)?);
            let images = Images {
                shape: data.train.shape,
                classes: data.train.classes,
            };
            let arch = teacher
                .arch(images)
                .map_err(|e| anyhow!("{}: [teacher]: {e}", file.path.display()))?;
            let label = format!(
                "teacher-{}",
                serde_json::to_value(teacher.kind)?
                    .as_str()
                    .unwrap_or("net")
            );
            let extra = serde_json::json!({ "teacher": teacher, "data": file.experiment.data });
            (
                Candidate::new(Vec::new(), label, arch),
                teacher.training.clone(),
                data,
                extra,
            )
        }
        (None, None) => bail!(
            "--arch is needed: {} has no [teacher] section to train",
            file.path.display()
        ),
    };
    let mut candidate = candidate;
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
    let name = candidate.label.clone();
    let stepper = Stepper::new(&config, &training_device()).with_progress(Box::new(
        move |epoch, epochs, loss| eprintln!("{name}: epoch {epoch}/{epochs}, loss {loss:.4}"),
    ));
    let trained = train_candidate_with(stepper, &candidate, &data, &config, file.experiment.seed)
        .map_err(|status| {
        let from = args
            .init
            .as_ref()
            .map(|p| format!(" from {}", p.display()))
            .unwrap_or_default();
        anyhow!(
            "{}{from}: {} ({})",
            candidate.label,
            status.kind(),
            status.reason()
        )
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let m = &trained.metrics;
    let mut summary = serde_json::json!({
        "arch": candidate.label,
        "decisions": candidate.decisions,
        "hash": candidate.hash.to_string(),
        "initial_valid_accuracy": trained.initial.map(|i| i.0),
        "initial_test_accuracy": trained.initial.map(|i| i.1),
        "valid_accuracy": m.search,
        "test_accuracy": m.reported,
        "params": m.params,
        "macs": m.macs,
        "latency_ms": m.latency_ms,
        "train_seconds": seconds,
    });
    if let (Some(summary), serde_json::Value::Object(extra)) = (summary.as_object_mut(), extra) {
        summary.extend(extra);
    }
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
