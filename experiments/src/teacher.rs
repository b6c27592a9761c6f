//! The teacher of a compression run, read back from the folder `archforge train` wrote for
//! it, checked against the file's data and scored once — its parameters and validation
//! accuracy for the `n2n` reward, its test accuracy for the report, its logits on every image
//! the students train on, cached for distillation.

use crate::config::{DistillConfig, ExperimentFile};
use anyhow::{Result, anyhow, bail};
use archforge::data::Splits;
use archforge::nn::{Teacher, WeightStore, accuracy, latency_ms, logits, training_device};
use archforge::objective::{Limits, TeacherScore};
use archforge_environments::{Network, TrainedTeacher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A trained teacher, scored on the run's data.
#[derive(Clone)]
pub struct ScoredTeacher {
    /// Its run folder.
    pub folder: PathBuf,
    /// The teacher as a network.
    pub network: Arc<Network>,
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates of one forward pass.
    pub macs: u64,
    /// Batch-1 latency in milliseconds, measured here.
    pub latency_ms: f64,
    /// Validation accuracy (percent).
    pub valid_accuracy: f64,
    /// Test accuracy (percent).
    pub test_accuracy: f64,
    /// The students' data: the file's splits, the training split cut to `[distill] images`.
    pub data: Arc<Splits>,
    /// What students learn from: the teacher's cached logits on the whole training split,
    /// distilled as `[distill]` says.
    pub teacher: Teacher,
}

impl ScoredTeacher {
    /// Reads the teacher `folder` holds, checks it was trained on the file's `[data]`, and
    /// scores it on `data` (the file's data, loaded).
    pub fn load(
        folder: &Path,
        file: &ExperimentFile,
        data: &Splits,
        distill: &DistillConfig,
    ) -> Result<Self> {
        let trained = TrainedTeacher::load(folder).map_err(|e| anyhow!("[teacher] path: {e}"))?;
        // The splits must be the teacher's; how many validation and test images score the
        // students may differ.
        let splits = |data: serde_json::Value| {
            let mut data = data;
            if let Some(subset) = data.get_mut("subset").and_then(|s| s.as_object_mut()) {
                subset.remove("valid");
                subset.remove("test");
            }
            data
        };
        let recorded = splits(trained.record.get("data").cloned().unwrap_or_default());
        let ours = splits(serde_json::to_value(
            file.experiment.data.clone().unwrap_or_default(),
        )?);
        if recorded != ours {
            bail!(
                "{}: the teacher in {} was trained on other data ({recorded}); its validation split would not be held out: give the file the same [data]",
                file.path.display(),
                folder.display()
            );
        }
        let mut store = WeightStore::new(training_device(), 0).from(trained.weights.clone());
        let plan = store.plan(&trained.arch).map_err(|e| {
            anyhow!(
                "[teacher] path: {}: the weights do not match arch.json: {e}",
                folder.display()
            )
        })?;
        if let Some(foreign) = store.foreign(&trained.weights).first() {
            bail!(
                "[teacher] path: {}: weights.safetensors holds `{foreign}`, which is not a tensor of arch.json's network",
                folder.display()
            );
        }
        let (params, macs) = trained.arch.counts().unwrap_or_default();
        let valid_accuracy = accuracy(&store, &plan, &data.valid, 256);
        if valid_accuracy <= 0.0 {
            bail!(
                "[teacher] path: {}: the teacher classifies no validation image correctly",
                folder.display()
            );
        }
        let students = Arc::new(distill.students(data)?);
        // The students train on the first images of the training split: the logits of the
        // whole split serve them and a final fine-tuning on all of it alike.
        let cached = Arc::new(logits(&store, &plan, &data.train, 256));
        let teacher = Teacher::cached(cached, data.train.classes, distill.loss());
        Ok(ScoredTeacher {
            folder: folder.into(),
            params,
            macs,
            latency_ms: latency_ms(&store, &plan, data.train.shape),
            valid_accuracy,
            test_accuracy: accuracy(&store, &plan, &data.test, 256),
            data: students,
            teacher,
            network: Arc::new(Network {
                arch: trained.arch,
                weights: trained.weights,
            }),
        })
    }

    /// What the `n2n` reward measures students against, with `limits` on them.
    pub fn score(&self, limits: Limits) -> TeacherScore {
        TeacherScore {
            params: self.params,
            search: self.valid_accuracy,
            limits,
        }
    }
}
