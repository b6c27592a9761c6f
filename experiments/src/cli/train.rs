//! `archforge train`: one architecture, trained stand-alone (from fresh weights or from a
//! weights file, `--init`), written to a run folder — or, without `--arch`, the file's
//! `[teacher]` network as its `[teacher] training` says, the folder a compression's
//! `[teacher] path` names.

use crate::config::ExperimentFile;
use crate::run_folder;
use crate::runner;
use crate::workflows::train::{Lesson, train_into, train_teacher};
use anyhow::{Context, Result, anyhow, bail};
use archforge::weights::Snapshot;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// The run folder (default: `runs/<name>-train-<timestamp>`).
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
    let out = args
        .out
        .unwrap_or_else(|| run_folder::default_out(&format!("{}-train", file.experiment.name)));
    let done = match (&args.arch, &file.experiment.teacher) {
        (Some(arch), _) => {
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
            run_folder::create_run_folder(&out)?;
            std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
            let lesson = Lesson {
                data: &training.data,
                config: &training.config,
                seed: file.experiment.seed,
                teacher: None,
            };
            let from = args
                .init
                .as_ref()
                .map(|p| format!(" from {}", p.display()))
                .unwrap_or_default();
            train_into(
                &out,
                &candidate,
                lesson,
                serde_json::json!({ "init": args.init }),
            )
            .with_context(|| format!("--arch {arch}{from}"))?
        }
        (None, Some(_)) if args.init.is_some() => {
            bail!("--init applies to an --arch; a teacher trains from fresh weights")
        }
        (None, Some(_)) => train_teacher(&file, &out)?,
        (None, None) => bail!(
            "--arch is needed: {} has no [teacher] section to train",
            file.path.display()
        ),
    };
    let m = &done.trained.metrics;
    let num = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.2}"));
    println!(
        "Trained {} in {:.1} s:",
        done.summary["arch"].as_str().unwrap_or("network"),
        done.seconds
    );
    if let Some((valid, test)) = done.trained.initial {
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
