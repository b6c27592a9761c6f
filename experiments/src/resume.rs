//! `--resume RUN`: a stored run whose process died goes on where the store says it was.
//!
//! The resume is refused, and nothing is changed, unless it is the same command of the same
//! resolved experiment file over the same (controller, seed) parts into the same folder, and
//! the run's owner is a process of this machine that is gone; then this process claims the
//! run ([`Store::claim`]). Parts that ended keep their rows and end. The others go on from
//! their last checkpoint (from the start when they have none): the rows before it are
//! restored ([`archforge::resume`]), and every evaluation after it is made again and must
//! equal the row the store has of it — wall-clock seconds aside, and the measured latency
//! when the evaluator measures it on this machine — before new rows are recorded. So nothing
//! is lost or recorded twice, and the ledger is the one an uninterrupted run writes.
//!
//! Runs whose scores the store cannot bring back are refused: a supernet's shared weights
//! and a growing space's inherited weights are not checkpointed, and an objective on latency
//! measured by this machine's clock would not score a repeat the same.

use crate::config::{Experiment, ExperimentFile};
use crate::registry::EvaluatorConfig;
use crate::report::stored::ended;
use anyhow::{Result, anyhow, bail};
use archforge::Row;
use archforge::resume::{Resume, RunCheckpoint};
use archforge::search::RunResult;
use archforge::store::{PartEnd, RunId, RunStatus, Store};
use std::collections::VecDeque;
use std::path::Path;

/// A run claimed for resuming, part by part in plan order.
pub struct Resumed {
    /// The run.
    pub run: RunId,
    /// Its parts, in plan order.
    pub parts: Vec<PartResume>,
}

/// Where one (controller, seed) part of a resumed run stands.
pub enum PartResume {
    /// It ended: its rows and its result.
    Ended {
        /// Its rows, in proposal order.
        rows: Vec<Row>,
        /// Its result, rebuilt from them.
        result: RunResult,
    },
    /// It goes on.
    Going {
        /// From this checkpoint, with the rows before it; from the start when `None`.
        resume: Option<Resume>,
        /// The rows it had recorded after the checkpoint: the evaluations it makes again
        /// must equal them.
        recorded: Recorded,
    },
}

/// Rows a resumed part made before its process died and is making again, each checked
/// against its stored row as it comes.
#[derive(Debug, Default)]
pub struct Recorded {
    rows: VecDeque<Row>,
    /// Whether the latency column is measured by this machine (and so not compared).
    measured_latency: bool,
}

impl Recorded {
    /// Whether `row` was recorded already: it equals its stored row (`true`), or it is new
    /// (`false`); a row that differs from its stored one is an error.
    pub fn check(&mut self, row: &Row) -> archforge::error::Result<bool> {
        let Some(stored) = self.rows.front() else {
            return Ok(false);
        };
        if stored.proposal != row.proposal {
            return Ok(false);
        }
        let stored = self.rows.pop_front().expect("a front row");
        match difference(&stored, row, self.measured_latency) {
            None => Ok(true),
            Some(column) => Err(archforge::error::Error::Checkpoint(format!(
                "controller `{}`, seed {}: proposal {} made again differs from its stored row in `{column}` (the experiment's data or this build differs from the run's)",
                row.controller, row.seed, row.proposal
            ))),
        }
    }
}

/// The first column in which `stored` and `now` differ, wall-clock seconds aside (and the
/// latency with `measured_latency`); `None` when they are the same evaluation.
fn difference(stored: &Row, now: &Row, measured_latency: bool) -> Option<String> {
    let comparable = |r: &Row| {
        let mut r = r.clone();
        r.wall_seconds = 0.0;
        if measured_latency {
            r.record.latency_ms = None;
        }
        r
    };
    let (a, b) = (comparable(stored), comparable(now));
    if a == b {
        return None;
    }
    let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (
        serde_json::to_value(&a).expect("rows serialise"),
        serde_json::to_value(&b).expect("rows serialise"),
    ) else {
        return Some("the row".into());
    };
    a.iter()
        .find(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .or_else(|| Some("the row".into()))
}

/// Why the runs of `experiment` cannot be resumed from the store, if they cannot; `grows`:
/// its space grows networks, `latency_objective`: its objective has a latency term.
pub fn unresumable(
    experiment: &Experiment,
    grows: bool,
    latency_objective: bool,
) -> Option<&'static str> {
    if matches!(experiment.evaluator, EvaluatorConfig::Supernet(_)) {
        return Some(
            "its evaluator is a supernet, whose shared weights are not checkpointed: run it again",
        );
    }
    if grows {
        return Some(
            "its space grows networks from their parents' trained weights, which are not checkpointed: run it again",
        );
    }
    if experiment.evaluator.trains() && latency_objective {
        return Some(
            "its rewards depend on latency measured on this machine, which a repeat does not reproduce: run it again",
        );
    }
    None
}

/// What a resume expects of the stored run it claims.
pub struct Claim<'a> {
    /// The subcommand resuming it.
    pub command: &'a str,
    /// The experiment file, resolved as it runs now.
    pub file: &'a ExperimentFile,
    /// Why it cannot be resumed, if it cannot ([`unresumable`]).
    pub refusal: Option<&'a str>,
    /// Its (controller, seed) parts, in plan order.
    pub parts: &'a [(String, u64)],
    /// Its run folder.
    pub out: &'a Path,
    /// It is a stage of a run this process has claimed: it is not claimed again, and may have
    /// finished.
    pub stage: bool,
}

/// Claims stored run `run` of `store` for resuming as `expected` says — after checking that
/// it is the same run (see the module documentation) and that nothing makes it
/// [`unresumable`].
pub fn claim(store: &Store, run: RunId, expected: &Claim<'_>) -> Result<Resumed> {
    let Claim {
        command,
        file,
        refusal,
        parts,
        out,
        stage,
    } = *expected;
    let stored = store.run(run)?;
    if stored.command != command {
        bail!(
            "run {run} was an `archforge {}`: resume it with that command",
            stored.command
        );
    }
    let resolved = file.resolved_toml();
    if stored.experiment != resolved {
        let line = stored
            .experiment
            .lines()
            .zip(resolved.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| {
                stored
                    .experiment
                    .lines()
                    .count()
                    .min(resolved.lines().count())
            });
        bail!(
            "{}: run {run} was recorded from another experiment (its resolved file differs at line {}): give the file and flags it ran with",
            file.path.display(),
            line + 1
        );
    }
    let recorded_parts: Vec<(String, u64)> = store
        .parts(run)?
        .iter()
        .map(|p| (p.controller.clone(), p.seed))
        .collect();
    if recorded_parts != parts {
        bail!(
            "run {run} has {} (controller, seed) parts, this command {}: give the seeds and controllers it ran with",
            recorded_parts.len(),
            parts.len()
        );
    }
    if Path::new(&stored.folder) != out {
        bail!(
            "run {run} writes into {}, not {}: leave --out out to resume it",
            stored.folder,
            out.display()
        );
    }
    if let Some(why) = refusal {
        bail!("run {run} cannot be resumed: {why}");
    }
    if !stage {
        store.claim(run)?;
    }

    let measured_latency = file.experiment.evaluator.trains()
        && file.experiment.objective.latency_table_path().is_none();
    let rows = store.rows(run)?;
    let mut resumed = Vec::with_capacity(parts.len());
    for part in store.parts(run)? {
        let mut part_rows: Vec<Row> = rows
            .iter()
            .filter(|r| r.controller == part.controller && r.seed == part.seed)
            .cloned()
            .collect();
        part_rows.sort_by_key(|r| r.proposal);
        if let (RunStatus::Finished, Some(end)) = (part.status, &part.end) {
            resumed.push(ended_part(&part.controller, part.seed, part_rows, end));
            continue;
        }
        let checkpoint = store
            .checkpoint(run, &part.controller, part.seed)?
            .map(|(_, state)| {
                serde_json::from_str::<RunCheckpoint>(&state).map_err(|e| {
                    anyhow!(
                        "run {run}, controller `{}`, seed {}: the stored checkpoint is unreadable: {e}",
                        part.controller,
                        part.seed
                    )
                })
            })
            .transpose()?;
        let before = checkpoint.as_ref().map_or(0, |c| c.proposals as usize);
        if part_rows.len() < before {
            bail!(
                "run {run}, controller `{}`, seed {}: the checkpoint follows {before} proposals but the store has {} rows",
                part.controller,
                part.seed,
                part_rows.len()
            );
        }
        let after = part_rows.split_off(before);
        resumed.push(PartResume::Going {
            resume: checkpoint.map(|checkpoint| Resume {
                checkpoint,
                rows: part_rows,
            }),
            recorded: Recorded {
                rows: after.into(),
                measured_latency,
            },
        });
    }
    Ok(Resumed {
        run,
        parts: resumed,
    })
}

fn ended_part(controller: &str, seed: u64, rows: Vec<Row>, end: &PartEnd) -> PartResume {
    let mut result = RunResult::new(controller, seed);
    for row in &rows {
        result.add(row);
    }
    ended(&mut result, end);
    PartResume::Ended { rows, result }
}

/// The rows the store has of a resumed run's parts, in plan order: the ledger file is
/// written again from them.
pub fn stored_rows(parts: &[Option<PartResume>]) -> Vec<Row> {
    let mut all = Vec::new();
    for part in parts.iter().flatten() {
        match part {
            PartResume::Ended { rows, .. } => all.extend(rows.iter().cloned()),
            PartResume::Going { resume, recorded } => {
                if let Some(r) = resume {
                    all.extend(r.rows.iter().cloned());
                }
                all.extend(recorded.rows.iter().cloned());
            }
        }
    }
    all
}
