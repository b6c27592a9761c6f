//! `archforge export RUN --arch ...`: a child's weights cut out of a run's trained supernet
//! — with slicing where the space slices — and saved as a stand-alone network that
//! `archforge train --init` loads and runs (BigNAS / Once-for-All: children without
//! retraining). The run folder's resolved experiment rebuilds the space, the data and the
//! supernet settings; `export.json` records the supernet's scores of the child, which the
//! loaded network reproduces before any training step.

use super::supernet::TrainedSupernet;
use crate::config::ExperimentFile;
use crate::registry::EvaluatorConfig;
use crate::run_folder::{create_run_folder, file_safe, supernet_file};
use crate::runner::Prepared;
use anyhow::{Context, Result, bail};
use archforge::search::join_decisions;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `export.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    /// The run folder the child was cut from.
    pub run: PathBuf,
    /// The supernet file.
    pub supernet: PathBuf,
    /// The child's label.
    pub arch: String,
    /// Its decisions.
    pub decisions: String,
    /// Its canonical hash.
    pub hash: String,
    /// The supernet's validation accuracy of it.
    pub supernet_valid_accuracy: f64,
    /// The supernet's test accuracy of it.
    pub supernet_test_accuracy: f64,
    /// How many validation images the supernet scored it on (the first ones): `train --init`
    /// reproduces the score exactly when these are the whole validation split.
    pub scored_images: usize,
    /// Trainable parameters.
    pub params: Option<u64>,
    /// Multiply-accumulates.
    pub macs: Option<u64>,
    /// Its layers the supernet never trained (drawn fresh, as the supernet would have), by
    /// path.
    pub untrained_layers: Vec<String>,
}

/// Which run of a run folder to take the supernet from.
#[derive(Debug, Clone, Default)]
pub struct Which<'a> {
    /// The controller's name (default: the folder's only supernet, if it has one).
    pub controller: Option<&'a str>,
    /// The seed.
    pub seed: Option<u64>,
}

/// Exports the child `decisions` of the supernet in `run` into the new folder `out`.
pub fn export(run: &Path, decisions: &[usize], which: Which, out: &Path) -> Result<Exported> {
    let toml = run.join("experiment.toml");
    if !toml.exists() {
        bail!(
            "{} is not a run folder: it has no experiment.toml",
            run.display()
        );
    }
    let file = ExperimentFile::load(&toml)?;
    let EvaluatorConfig::Supernet(settings) = &file.experiment.evaluator else {
        bail!(
            "{} is not a weight-sharing run (its evaluator is `{}`): there is no supernet to export from",
            run.display(),
            file.experiment.evaluator.kind()
        );
    };
    let (path, seed) = pick_supernet(run, &which)?;
    let prepared = Prepared::new(&file)?;
    let candidate = prepared
        .networks()
        .build(decisions)
        .with_context(|| format!("--arch {}", join_decisions(decisions)))?;
    let mut supernet = TrainedSupernet::open(&prepared, settings, &path, seed)?;
    let child = supernet.child(&candidate)?;
    create_run_folder(out)?;
    child.weights.save(&out.join("weights.safetensors"))?;
    std::fs::write(out.join("arch.json"), candidate.arch().to_json() + "\n")?;
    std::fs::write(out.join("arch.dot"), candidate.arch().to_dot())?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
    let exported = Exported {
        run: run.to_path_buf(),
        supernet: path,
        arch: candidate.label.clone(),
        decisions: join_decisions(decisions),
        hash: candidate.hash.to_string(),
        supernet_valid_accuracy: child.valid,
        supernet_test_accuracy: child.test,
        scored_images: prepared.training().map_or(0, |t| {
            (settings.valid_batches * t.config.batch_size).min(t.data.valid.len())
        }),
        params: candidate.params(),
        macs: candidate.macs(),
        untrained_layers: child.untrained.clone(),
    };
    std::fs::write(
        out.join("export.json"),
        serde_json::to_string_pretty(&exported)? + "\n",
    )?;
    Ok(exported)
}

/// The supernet file `which` names in `run`, or the only one there, with its run's seed.
fn pick_supernet(run: &Path, which: &Which) -> Result<(PathBuf, u64)> {
    if let (Some(controller), Some(seed)) = (which.controller, which.seed) {
        let path = supernet_file(run, controller, seed);
        if !path.exists() {
            bail!("{} does not exist", path.display());
        }
        return Ok((path, seed));
    }
    let folder = run.join("weights");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&folder)
        .with_context(|| format!("reading {}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("supernet-") && n.ends_with(".safetensors"))
        })
        .filter(|p| {
            let stem = p.file_stem().and_then(|n| n.to_str()).unwrap_or("");
            which
                .controller
                .is_none_or(|c| stem.starts_with(&format!("supernet-{}-seed", file_safe(c))))
                && which
                    .seed
                    .is_none_or(|s| stem.ends_with(&format!("-seed{s}")))
        })
        .collect();
    found.sort();
    match found.as_slice() {
        [one] => {
            let seed = one
                .file_stem()
                .and_then(|n| n.to_str())
                .and_then(|n| n.rsplit_once("-seed"))
                .and_then(|(_, seed)| seed.parse().ok())
                .with_context(|| format!("{}: no seed in its name", one.display()))?;
            Ok((one.clone(), seed))
        }
        [] => bail!("{} holds no supernet that matches", folder.display()),
        many => bail!(
            "{} holds {} supernets; pick one with --controller and --seed: {}",
            folder.display(),
            many.len(),
            many.iter()
                .filter_map(|p| p.file_name()?.to_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
