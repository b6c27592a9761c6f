//! A workflow's record in the store — a compression's, a rank check's: the workflow is a run
//! of its own (its subcommand, no parts, its summary files kept as artefacts when it ends),
//! which keeps what it has finished as artefacts as it goes (a rank check's ground truth), and
//! whose searches (a compression's removal stage and its shrinkage stages) are ordinary stored
//! runs under it ([`NewRun::parent`]) with their rows and checkpoints.
//!
//! `--resume` claims the workflow's run once, with a search's checks (the same subcommand,
//! resolved file and folder; its process gone); then each search goes on from the store as a
//! resumed search does — one that had finished is taken in as it ended, one that had not
//! started starts — and the workflow reads back what it had kept instead of doing it again.

use crate::config::ExperimentFile;
use crate::report::Context;
use crate::resume::{self, Claim};
use crate::runner::{Recording, keep_artefacts};
use anyhow::{Context as _, Result, bail};
use archforge::store::{NewRun, RunId, Store, StoredRun};
use std::path::Path;
use std::sync::Arc;

/// The artefact that holds the flags a workflow ran with.
const ARGUMENTS: &str = "arguments.txt";

/// A workflow recorded in a store: its run and, when it resumes, the searches it had
/// recorded.
pub struct StoredWorkflow {
    store: Arc<Store>,
    run: RunId,
    command: &'static str,
    /// The stages recorded before, when it resumes.
    stages: Vec<StoredRun>,
    resuming: bool,
    /// Whether workers evaluate its searches' candidates.
    workers: bool,
}

impl StoredWorkflow {
    /// Records the workflow of `file` into `out` as `recording` says: a new run of
    /// `recording.command`, or the run `recording.resume` names, claimed for this process
    /// unless `refusal` says why it cannot be resumed. `arguments` are the flags that the
    /// resolved file does not hold (a rank check's `--archs`): a resume must give the same.
    pub fn begin(
        recording: &Recording,
        file: &ExperimentFile,
        out: &Path,
        refusal: Option<&str>,
        arguments: &str,
    ) -> Result<Self> {
        let store = recording.store.clone();
        let run = match recording.resume {
            Some(run) => {
                let given = store
                    .artefacts(run)?
                    .into_iter()
                    .find(|(name, _)| name == ARGUMENTS)
                    .map(|(_, content)| String::from_utf8_lossy(&content).into_owned())
                    .unwrap_or_default();
                if given != arguments {
                    bail!(
                        "run {run} ran with `{given}`, not `{arguments}`: give the flags it ran with"
                    );
                }
                let expected = Claim {
                    command: recording.command,
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
                let run = store.begin_run(&NewRun {
                    name: &file.experiment.name,
                    command: recording.command,
                    folder: &out.display().to_string(),
                    experiment: &file.resolved_toml(),
                    context: &serde_json::to_string(&context)?,
                    parts: &[],
                    parent: None,
                })?;
                store.put_artefact(run, ARGUMENTS, arguments.as_bytes())?;
                run
            }
        };
        let verb = if recording.resume.is_some() {
            "resuming"
        } else {
            "recording as"
        };
        eprintln!("{verb} run {run} of {}", store.location());
        let stages = store.stages(run)?;
        Ok(StoredWorkflow {
            store,
            run,
            command: recording.command,
            stages,
            resuming: recording.resume.is_some(),
            workers: recording.workers,
        })
    }

    /// Whether workers evaluate its searches' candidates.
    pub fn workers(&self) -> bool {
        self.workers
    }

    /// Whether it goes on from a run killed before its end.
    pub fn resuming(&self) -> bool {
        self.resuming
    }

    /// How the search into `out` is recorded: under the workflow's run, going on from the
    /// stage recorded into that folder before, if there is one. When it resumes and no stage
    /// was recorded there, what the killed process left in the folder is removed: nothing of
    /// it was recorded.
    pub fn stage(&self, out: &Path) -> Result<Recording> {
        let folder = out.display().to_string();
        let resume = self
            .stages
            .iter()
            .find(|s| s.folder == folder)
            .map(|s| s.id);
        if self.resuming && resume.is_none() && out.exists() {
            std::fs::remove_dir_all(out).with_context(|| format!("removing {folder}"))?;
        }
        Ok(Recording {
            store: self.store.clone(),
            command: self.command,
            resume,
            workers: self.workers,
            parent: Some(self.run),
            inputs: Vec::new(),
        })
    }

    /// Keeps `content` as the workflow's file `name`, replacing what it kept under that name.
    pub fn keep(&self, name: &str, content: &[u8]) -> Result<()> {
        Ok(self.store.put_artefact(self.run, name, content)?)
    }

    /// What the workflow kept as `name` before it was killed, when it resumes.
    pub fn kept(&self, name: &str) -> Result<Option<Vec<u8>>> {
        if !self.resuming {
            return Ok(None);
        }
        Ok(self
            .store
            .artefacts(self.run)?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, content)| content))
    }

    /// Records the workflow's end: its summary files from `out` kept, and finished or
    /// failed.
    pub fn end(&self, out: &Path, failure: Option<&str>) -> Result<()> {
        if failure.is_none() {
            keep_artefacts(&self.store, self.run, out)?;
        }
        Ok(self.store.end_run(self.run, failure)?)
    }
}
