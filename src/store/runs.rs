//! Runs in the store: a run (one `run` or `compare` of an experiment file) with its resolved
//! experiment file and what its reports need to know of it (`context`, JSON), its parts (one
//! per controller and seed, in plan order, each with how it ended) and its artefacts (the run
//! folder's files that are not rebuilt from the rows: the best architecture's graph, a
//! resolved latency target, lineages).

use super::db::DbError;
use super::{RunId, Store};
use crate::error::{Error, Result};

/// Where a run or a part of it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Started and not ended (still going, or its process was killed).
    Running,
    /// Ended with every part done.
    Finished,
    /// Ended with a part (or the run) failed.
    Failed,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> RunStatus {
        match text {
            "finished" => RunStatus::Finished,
            "failed" => RunStatus::Failed,
            _ => RunStatus::Running,
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored run and what the listing says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    /// Its key.
    pub id: RunId,
    /// The experiment's name.
    pub name: String,
    /// The subcommand that ran it (`run`, `compare`).
    pub command: String,
    /// Its run folder, as given.
    pub folder: String,
    /// The resolved experiment file (TOML).
    pub experiment: String,
    /// What its reports need to know (JSON, written by the runner).
    pub context: String,
    /// Where it stands.
    pub status: RunStatus,
    /// Why it failed.
    pub reason: String,
    /// When it started (UTC, RFC 3339).
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Its controllers, in plan order.
    pub controllers: Vec<String>,
    /// The run it is a stage of.
    pub parent: Option<RunId>,
    /// Counted evaluations recorded.
    pub evaluations: u64,
    /// The best reward recorded.
    pub best_reward: Option<f64>,
}

/// One (controller, seed) run of a stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The controller's name.
    pub controller: String,
    /// The seed.
    pub seed: u64,
    /// Where it stands.
    pub status: RunStatus,
    /// How it ended, when it did.
    pub end: Option<PartEnd>,
}

/// How a part ended.
#[derive(Debug, Clone, PartialEq)]
pub struct PartEnd {
    /// Why it stopped (`budget`, `exhausted`).
    pub stop: String,
    /// Seconds in the controller's `propose` and `observe`.
    pub controller_seconds: f64,
    /// Seconds the part took.
    pub seconds: f64,
}

/// A run about to be recorded ([`Store::begin_run`]).
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    /// The experiment's name.
    pub name: &'a str,
    /// The subcommand that runs it.
    pub command: &'a str,
    /// Its run folder.
    pub folder: &'a str,
    /// The resolved experiment file (TOML).
    pub experiment: &'a str,
    /// What its reports need to know (JSON).
    pub context: &'a str,
    /// Its (controller, seed) parts, in plan order.
    pub parts: &'a [(String, u64)],
    /// The run it is a stage of.
    pub parent: Option<RunId>,
}

/// The two tables of a run's named files, alike in their columns.
#[derive(Clone, Copy)]
enum Files {
    /// The run folder's files ([`Store::put_artefact`]).
    Artefacts,
    /// What its workers prepare it from ([`Store::put_inputs`]).
    Inputs,
}

impl Files {
    fn name(self) -> &'static str {
        match self {
            Files::Artefacts => "artefacts",
            Files::Inputs => "inputs",
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Store {
    /// Records the start of a run as `new` describes it, owned by this process; its rows
    /// follow with [`Store::append`].
    pub fn begin_run(&self, new: &NewRun<'_>) -> Result<RunId> {
        self.transaction(|s| {
            let id = s.query(
                "INSERT INTO runs (name, command, folder, experiment, context, status, started_at, owner, parent) \
                 VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8) RETURNING id",
                &[
                    new.name.into(),
                    new.command.into(),
                    new.folder.into(),
                    new.experiment.into(),
                    new.context.into(),
                    now().into(),
                    super::resume::this_process().into(),
                    new.parent.map(|p| p.0).into(),
                ],
            )?[0][0]
                .int()?;
            for (position, (controller, seed)) in new.parts.iter().enumerate() {
                s.execute(
                    "INSERT INTO run_parts (run_id, position, controller, seed, status) \
                     VALUES ($1, $2, $3, $4, 'running')",
                    &[
                        id.into(),
                        (position as u64).into(),
                        controller.as_str().into(),
                        (*seed).into(),
                    ],
                )?;
            }
            Ok(RunId(id))
        })
    }

    /// Keeps `inputs` as the files run `run`'s workers prepare it from, by name, replacing
    /// those kept under the same names: before any of its tasks is queued.
    pub fn put_inputs(&self, run: RunId, inputs: &[(String, Vec<u8>)]) -> Result<()> {
        let files: Vec<(&str, &[u8])> = inputs
            .iter()
            .map(|(name, content)| (name.as_str(), content.as_slice()))
            .collect();
        self.put_files(Files::Inputs, run, &files)
    }

    /// The files run `run`'s workers prepare it from, by name ([`Store::put_inputs`]).
    pub fn inputs(&self, run: RunId) -> Result<Vec<(String, Vec<u8>)>> {
        self.files(Files::Inputs, run)
    }

    /// Keeps `files` in table `table` for run `run`, replacing those of the same names, in
    /// one transaction.
    fn put_files(&self, table: Files, run: RunId, files: &[(&str, &[u8])]) -> Result<()> {
        let table = table.name();
        self.transaction(|s| {
            for (name, content) in files {
                s.execute(
                    &format!(
                        "INSERT INTO {table} (run_id, name, content) VALUES ($1, $2, $3) \
                         ON CONFLICT (run_id, name) DO UPDATE SET content = excluded.content"
                    ),
                    &[run.0.into(), (*name).into(), (*content).into()],
                )?;
            }
            Ok(())
        })
    }

    /// The files of run `run` in table `table`, by name.
    fn files(&self, table: Files, run: RunId) -> Result<Vec<(String, Vec<u8>)>> {
        let table = table.name();
        self.read(|s| {
            s.query(
                &format!("SELECT name, content FROM {table} WHERE run_id = $1 ORDER BY name"),
                &[run.0.into()],
            )?
            .iter()
            .map(|row| Ok((row[0].text()?, row[1].bytes()?)))
            .collect()
        })
    }

    /// The runs that are stages of run `parent`, oldest first.
    pub fn stages(&self, parent: RunId) -> Result<Vec<StoredRun>> {
        let ids = self.read(|s| {
            s.query(
                "SELECT id FROM runs WHERE parent = $1 ORDER BY id",
                &[parent.0.into()],
            )?
            .iter()
            .map(|r| r[0].int())
            .collect::<std::result::Result<Vec<i64>, DbError>>()
        })?;
        ids.into_iter().map(|id| self.run(RunId(id))).collect()
    }

    /// Records how part (`controller`, `seed`) of `run` ended: with `end`, or failed (the
    /// run's end says why).
    pub fn end_part(
        &self,
        run: RunId,
        controller: &str,
        seed: u64,
        end: Option<&PartEnd>,
    ) -> Result<()> {
        let status = match end {
            Some(_) => RunStatus::Finished,
            None => RunStatus::Failed,
        };
        self.transaction(|s| {
            s.execute(
                "UPDATE run_parts SET status = $1, stop = $2, controller_seconds = $3, \
                 seconds = $4 WHERE run_id = $5 AND controller = $6 AND seed = $7",
                &[
                    status.as_str().into(),
                    end.map(|e| e.stop.clone()).into(),
                    end.map(|e| e.controller_seconds).into(),
                    end.map(|e| e.seconds).into(),
                    run.0.into(),
                    controller.into(),
                    seed.into(),
                ],
            )?;
            Ok(())
        })
    }

    /// Keeps a file of the run under `name` (replacing an earlier one of that name).
    pub fn put_artefact(&self, run: RunId, name: &str, content: &[u8]) -> Result<()> {
        self.put_files(Files::Artefacts, run, &[(name, content)])
    }

    /// Records the end of a run: finished (the trained weights of its tasks dropped), or
    /// failed and why.
    pub fn end_run(&self, run: RunId, failed: Option<&str>) -> Result<()> {
        let status = if failed.is_some() {
            RunStatus::Failed
        } else {
            RunStatus::Finished
        };
        self.transaction(|s| {
            s.execute(
                "UPDATE runs SET status = $1, reason = $2, finished_at = $3 WHERE id = $4",
                &[
                    status.as_str().into(),
                    failed.unwrap_or("").into(),
                    now().into(),
                    run.0.into(),
                ],
            )?;
            // A finished run's tasks are not read again: the weights its workers sent back
            // (kept in its folder as it asked, or inherited by its children) go.
            if failed.is_none() {
                s.execute(
                    "UPDATE tasks SET weights = NULL WHERE run_id = $1",
                    &[run.0.into()],
                )?;
            }
            Ok(())
        })
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<StoredRun>> {
        let ids = self.read(|s| {
            s.query("SELECT id FROM runs ORDER BY id", &[])?
                .iter()
                .map(|r| r[0].int())
                .collect::<std::result::Result<Vec<i64>, DbError>>()
        })?;
        ids.into_iter().map(|id| self.run(RunId(id))).collect()
    }

    /// Run `id`.
    pub fn run(&self, id: RunId) -> Result<StoredRun> {
        let found = self.read(|s| {
            let Some(r) = s
                .query(
                    "SELECT name, command, folder, experiment, context, status, reason, \
                     started_at, finished_at, parent FROM runs WHERE id = $1",
                    &[id.0.into()],
                )?
                .into_iter()
                .next()
            else {
                return Ok(None);
            };
            let mut run = StoredRun {
                id,
                name: r[0].text()?,
                command: r[1].text()?,
                folder: r[2].text()?,
                experiment: r[3].text()?,
                context: r[4].text()?,
                status: RunStatus::parse(&r[5].text()?),
                reason: r[6].text()?,
                started_at: r[7].text()?,
                finished_at: r[8].opt_text()?,
                parent: r[9].opt_int()?.map(RunId),
                controllers: Vec::new(),
                evaluations: 0,
                best_reward: None,
            };
            for name in s.query(
                "SELECT controller FROM run_parts WHERE run_id = $1 ORDER BY position",
                &[id.0.into()],
            )? {
                let name = name[0].text()?;
                if !run.controllers.contains(&name) {
                    run.controllers.push(name);
                }
            }
            let counts = s.query(
                "SELECT COUNT(*) FILTER (WHERE counted), MAX(reward) FILTER (WHERE status = 'ok') \
                 FROM evaluations WHERE run_id = $1",
                &[id.0.into()],
            )?;
            run.evaluations = counts[0][0].int()?.max(0) as u64;
            run.best_reward = counts[0][1].opt_real()?;
            Ok(Some(run))
        })?;
        found.ok_or_else(|| self.error(format!("no run {id}")))
    }

    /// The run `reference` names: its number, or the newest run of that experiment name.
    pub fn find(&self, reference: &str) -> Result<StoredRun> {
        if let Ok(id) = reference.parse::<i64>() {
            return self.run(RunId(id));
        }
        let id = self.read(|s| {
            s.query(
                "SELECT MAX(id) FROM runs WHERE name = $1",
                &[reference.into()],
            )?[0][0]
                .opt_int()
        })?;
        match id {
            Some(id) => self.run(RunId(id)),
            None => Err(Error::Store(format!(
                "{}: no run named `{reference}` (`archforge runs --store {}` lists them)",
                self.location, self.location
            ))),
        }
    }

    /// The parts of run `run`, in plan order.
    pub fn parts(&self, run: RunId) -> Result<Vec<Part>> {
        self.read(|s| {
            s.query(
                "SELECT controller, seed, status, stop, controller_seconds, seconds \
                 FROM run_parts WHERE run_id = $1 ORDER BY position",
                &[run.0.into()],
            )?
            .iter()
            .map(|r| {
                Ok(Part {
                    controller: r[0].text()?,
                    seed: r[1].int()?.max(0) as u64,
                    status: RunStatus::parse(&r[2].text()?),
                    end: match r[3].opt_text()? {
                        Some(stop) => Some(PartEnd {
                            stop,
                            controller_seconds: r[4].opt_real()?.unwrap_or(0.0),
                            seconds: r[5].opt_real()?.unwrap_or(0.0),
                        }),
                        None => None,
                    },
                })
            })
            .collect()
        })
    }

    /// The artefacts of run `run`, by name.
    pub fn artefacts(&self, run: RunId) -> Result<Vec<(String, Vec<u8>)>> {
        self.files(Files::Artefacts, run)
    }
}
