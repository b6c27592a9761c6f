//! One network trained stand-alone into a folder: `trained.json` (accuracies, params, MACs,
//! latency, seconds, and what the caller adds), `weights.safetensors`, `arch.json` and
//! `arch.dot` — what `archforge train` writes for an architecture or for the file's teacher
//! ([`train_teacher`]), and what a compression's final students and baselines leave; a
//! folder whose training finished says so ([`finished`]), for a resumed compression.

use crate::config::ExperimentFile;
use crate::run_folder::create_run_folder;
use anyhow::{Result, anyhow, bail};
use archforge::Candidate;
use archforge::data::Splits;
use archforge::evaluator::{Trained, train_candidate_with};
use archforge::nn::{Stepper, Teacher, TrainConfig, training_device};
use archforge_environments::Images;
use std::path::Path;
use std::time::Instant;

/// What the network was trained from and how.
pub struct Lesson<'a> {
    /// The data.
    pub data: &'a Splits,
    /// The settings.
    pub config: &'a TrainConfig,
    /// The seed of its weights (when drawn) and batch order.
    pub seed: u64,
    /// A teacher to distil from.
    pub teacher: Option<Teacher>,
}

/// A network trained into a folder.
pub struct TrainedNetwork {
    /// The training's result.
    pub trained: Trained,
    /// Seconds it took.
    pub seconds: f64,
    /// What `trained.json` holds.
    pub summary: serde_json::Value,
}

/// Trains `candidate` as `lesson` says, reporting each epoch on standard error, and writes
/// its files into `out` (which exists); `extra`'s fields join `trained.json`'s.
pub fn train_into(
    out: &Path,
    candidate: &Candidate,
    lesson: Lesson<'_>,
    extra: serde_json::Value,
) -> Result<TrainedNetwork> {
    let started = Instant::now();
    let name = candidate.label.clone();
    let config = &lesson
        .config
        .with_choices(&candidate.training)
        .map_err(|why| anyhow!("{}: {why}", candidate.label))?;
    let mut stepper = Stepper::new(config, &training_device()).with_progress(Box::new(
        move |epoch, epochs, loss| eprintln!("{name}: epoch {epoch}/{epochs}, loss {loss:.4}"),
    ));
    if let Some(teacher) = lesson.teacher {
        stepper = stepper.with_teacher(teacher);
    }
    let trained = train_candidate_with(stepper, candidate, lesson.data, config, lesson.seed, true)
        .map_err(|status| {
            anyhow!(
                "{}: {} ({})",
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
    if let (Some(fields), serde_json::Value::Object(extra)) = (summary.as_object_mut(), extra) {
        fields.extend(extra);
    }
    trained.store.save(&out.join("weights.safetensors"))?;
    std::fs::write(out.join("arch.json"), candidate.arch().to_json() + "\n")?;
    std::fs::write(out.join("arch.dot"), candidate.arch().to_dot())?;
    // Written last, whole or not at all: it says the folder is complete ([`finished`]).
    let partial = out.join("trained.json.partial");
    std::fs::write(&partial, serde_json::to_string_pretty(&summary)? + "\n")?;
    std::fs::rename(&partial, out.join("trained.json"))?;
    Ok(TrainedNetwork {
        trained,
        seconds,
        summary,
    })
}

/// What `trained.json` of the network trained into `out` holds, when its training finished
/// and every file of it was written ([`train_into`] writes `trained.json` last).
pub fn finished(out: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("trained.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Trains the file's `[teacher]` on the whole training split of its `[data]` as
/// `[teacher] training` says, into the folder `out` (created; `experiment.toml` and what
/// [`train_into`] writes, `trained.json` recording the teacher's settings and data).
pub fn train_teacher(file: &ExperimentFile, out: &Path) -> Result<TrainedNetwork> {
    let Some(teacher) = &file.experiment.teacher else {
        bail!("{}: no [teacher] section to train", file.path.display());
    };
    if let Some(path) = &teacher.path {
        bail!(
            "{}: [teacher] path names a trained teacher ({}); remove it to train one",
            file.path.display(),
            path.display()
        );
    }
    let data = file.load_data()?;
    let images = Images {
        shape: data.train.shape,
        classes: data.train.classes,
    };
    let arch = teacher
        .arch(images)
        .map_err(|e| anyhow!("{}: [teacher]: {e}", file.path.display()))?;
    let kind = serde_json::to_value(teacher.kind)?;
    let label = format!("teacher-{}", kind.as_str().unwrap_or("network"));
    create_run_folder(out)?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
    let lesson = Lesson {
        data: &data,
        config: &teacher.training,
        seed: file.experiment.seed,
        teacher: None,
    };
    let data_config = file.experiment.data.clone().unwrap_or_default();
    let extra = serde_json::json!({ "teacher": teacher, "data": data_config });
    train_into(out, &Candidate::new(Vec::new(), label, arch), lesson, extra)
}
