//! A compression's record in the store: the compression is a run of its own (command
//! `compress`, no parts, its summary files kept as artefacts), and each of its searches — the
//! removal stage, one shrinkage stage per run — is an ordinary stored run under it
//! ([`NewRun::parent`]) with its rows and checkpoints.
//!
//! `--resume` claims the compression's run once (the same checks as a search's resume); then
//! each search goes on from the store as a resumed search does — one that had finished is
//! taken in as it ended, one that had not started starts — and every network that finished
//! its training before the kill (the teacher, a final student, a baseline: its `trained.json`
//! is written last) is read back instead of trained again.

use crate::config::ExperimentFile;
use crate::report::Context;
use crate::resume::{self, Claim};
use crate::runner::{Recording, keep_artefacts};
use anyhow::Result;
use archforge::objective::RewardKind;
use archforge::store::{NewRun, RunId, Store, StoredRun};
use std::path::Path;
use std::sync::Arc;

/// The command a compression is recorded as.
const COMMAND: &str = "compress";

/// A compression recorded in a store: its run and, when it resumes, the searches it had
/// recorded.
pub struct StoredCompression {
    store: Arc<Store>,
    run: RunId,
    /// The stages recorded before, when it resumes.
    stages: Vec<StoredRun>,
    resuming: bool,
}

impl StoredCompression {
    /// Records the compression of `file` into `out` as `recording` says: a new run, or the
    /// run `recording.resume` names, claimed for this process.
    pub fn begin(recording: &Recording, file: &ExperimentFile, out: &Path) -> Result<Self> {
        let store = recording.store.clone();
        let run = match recording.resume {
            Some(run) => {
                let latency = file.experiment.objective.kind == RewardKind::Mnas;
                let refusal = resume::unresumable(&file.experiment, false, latency);
                let expected = Claim {
                    command: COMMAND,
                    file,
                    refusal,
                    parts: &[],
                    out,
                    stage: false,
                };
                resume::claim(&store, run, &expected)?;
                run
            }
            None => {
                let context = Context {
                    title: file.experiment.name.clone(),
                    checkpoints: file.checkpoints(),
                    random: None,
                    maximize: true,
                    target_ms: None,
                };
                store.begin_run(&NewRun {
                    name: &file.experiment.name,
                    command: COMMAND,
                    folder: &out.display().to_string(),
                    experiment: &file.resolved_toml(),
                    context: &serde_json::to_string(&context)?,
                    parts: &[],
                    parent: None,
                })?
            }
        };
        let verb = if recording.resume.is_some() {
            "resuming"
        } else {
            "recording as"
        };
        eprintln!("{verb} run {run} of {}", store.location());
        let stages = store.stages(run)?;
        Ok(StoredCompression {
            store,
            run,
            stages,
            resuming: recording.resume.is_some(),
        })
    }

    /// Whether it goes on from a run killed before its end.
    pub fn resuming(&self) -> bool {
        self.resuming
    }

    /// How the search into `out` is recorded: under the compression's run, going on from
    /// the stage recorded into that folder before, if there is one.
    pub fn stage(&self, out: &Path) -> Recording {
        let folder = out.display().to_string();
        Recording {
            store: self.store.clone(),
            command: COMMAND,
            resume: self
                .stages
                .iter()
                .find(|s| s.folder == folder)
                .map(|s| s.id),
            workers: false,
            parent: Some(self.run),
        }
    }

    /// Records the compression's end: its summary files from `out` kept, and finished or
    /// failed.
    pub fn end(&self, out: &Path, failure: Option<&str>) -> Result<()> {
        if failure.is_none() {
            keep_artefacts(&self.store, self.run, out)?;
        }
        Ok(self.store.end_run(self.run, failure)?)
    }
}
