//! The evaluations a searching process hands to workers ([`crate::evaluator::remote`]): a
//! queue of tasks, one per candidate of a run's (controller, seed) part — a candidate asked
//! for again (the same canonical hash) is the same task. A worker claims the oldest pending task, or one whose
//! lease ran out (its worker died): on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so workers
//! never wait on each other; on SQLite in a transaction that holds the write lock, as every
//! write there does. It holds a
//! lease it renews (its heartbeat) and may write the outcome only while the lease is its own.
//! A task whose lease ran out [`MAX_LEASES`] times is failed, with the reason, instead of
//! being claimed again. A worker may give a task back ([`Store::give_back`]) while it waits
//! for an earlier task of the same part that no one holds (a growing space's child waits for
//! its ancestors, [`Store::tasks_before`]); then it takes the earlier one itself.

use super::db::{DbError, Session, Value};
use super::{RunId, Store};
use crate::error::Result;

/// Leases a task may run out of before it is failed.
pub const MAX_LEASES: i64 = 3;

/// The (controller, seed) part of a run a task belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskPart {
    /// The run.
    pub run: RunId,
    /// The controller's position in the run's experiment file.
    pub controller: usize,
    /// The seed (what the candidate's training is seeded from).
    pub seed: u64,
}

/// A task claimed by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Its key.
    pub id: i64,
    /// The part it belongs to.
    pub part: TaskPart,
    /// The candidate's decisions, as the ledger writes them.
    pub decisions: String,
    /// Leases it has had, this one included.
    pub attempts: i64,
}

/// Where a task stands, for the process waiting for it.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskState {
    /// Not done yet.
    Waiting,
    /// Done: its outcome (JSON), and the trained weights the worker sent back with it (a
    /// safetensors file's bytes) when the run keeps them.
    Done {
        /// The outcome (JSON).
        outcome: String,
        /// The trained weights, if sent.
        weights: Option<Vec<u8>>,
    },
    /// Failed: why.
    Failed(String),
}

/// How far an earlier task of a part has come ([`Store::tasks_before`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Pending, or its lease ran out: a worker may claim it.
    Claimable,
    /// A worker holds it.
    Held,
    /// Done.
    Done,
    /// Failed.
    Failed,
}

/// A task that came before another of its part.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlierTask {
    /// Its key.
    pub id: i64,
    /// Its candidate's decisions, as the ledger writes them.
    pub decisions: String,
    /// How far it has come.
    pub progress: Progress,
}

/// The store's clock, in seconds since the Unix epoch: leases are given and checked by the
/// database's clock, so workers whose machines' clocks disagree still agree on them.
fn now(s: &mut dyn Session) -> std::result::Result<f64, DbError> {
    let clock = s.dialect().clock_seconds();
    s.query(&format!("SELECT {clock}"), &[])?[0][0].real()
}

impl Store {
    /// The task of the candidate `hash` (with `decisions`) of `part`: the one already queued
    /// or done for it, or a new pending one.
    pub fn enqueue(&self, part: &TaskPart, hash: &str, decisions: &str) -> Result<i64> {
        let (run, controller, seed) = (part.run.0, part.controller as u64, part.seed);
        self.transaction(|s| {
            let found = s.query(
                "SELECT id FROM tasks WHERE run_id = $1 AND controller = $2 AND seed = $3 \
                 AND hash = $4 AND status <> 'failed' ORDER BY id LIMIT 1",
                &[run.into(), controller.into(), seed.into(), hash.into()],
            )?;
            if let Some(row) = found.first() {
                return row[0].int();
            }
            s.query(
                "INSERT INTO tasks (run_id, controller, seed, hash, decisions, status) \
                 VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id",
                &[
                    run.into(),
                    controller.into(),
                    seed.into(),
                    hash.into(),
                    decisions.into(),
                ],
            )?[0][0]
                .int()
        })
    }

    /// The tasks of `part` queued before task `before`, oldest first.
    pub fn tasks_before(&self, part: &TaskPart, before: i64) -> Result<Vec<EarlierTask>> {
        self.read(|s| {
            let at = now(s)?;
            s.query(
                "SELECT id, decisions, status, lease_until FROM tasks WHERE run_id = $1 \
                 AND controller = $2 AND seed = $3 AND id < $4 ORDER BY id",
                &[
                    part.run.0.into(),
                    (part.controller as u64).into(),
                    part.seed.into(),
                    before.into(),
                ],
            )?
            .iter()
            .map(|row| {
                let progress = match row[2].text()?.as_str() {
                    "done" => Progress::Done,
                    "failed" => Progress::Failed,
                    "leased" if row[3].real()? >= at => Progress::Held,
                    _ => Progress::Claimable,
                };
                Ok(EarlierTask {
                    id: row[0].int()?,
                    decisions: row[1].text()?,
                    progress,
                })
            })
            .collect()
        })
    }

    /// Where task `id` stands; a done task's weights read only `with_weights`.
    pub fn task_state(&self, id: i64, with_weights: bool) -> Result<TaskState> {
        let weights = if with_weights { "weights" } else { "NULL" };
        self.read(|s| {
            let rows = s.query(
                &format!("SELECT status, outcome, {weights} FROM tasks WHERE id = $1"),
                &[id.into()],
            )?;
            let Some(row) = rows.first() else {
                return Ok(TaskState::Failed(format!("task {id} is not in the store")));
            };
            Ok(match row[0].text()?.as_str() {
                "done" => TaskState::Done {
                    outcome: row[1].text()?,
                    weights: match &row[2] {
                        Value::Null => None,
                        weights => Some(weights.bytes()?),
                    },
                },
                "failed" => TaskState::Failed(row[1].text()?),
                _ => TaskState::Waiting,
            })
        })
    }

    /// Claims the oldest task that is pending or whose lease ran out, for `worker`, leased for
    /// `lease` seconds; `None` when there is none. Tasks whose lease ran out too often are
    /// failed first.
    pub fn claim_task(&self, worker: &str, lease: f64) -> Result<Option<Task>> {
        self.transaction(|s| {
            let at = now(s)?;
            s.execute(
                "UPDATE tasks SET status = 'failed', outcome = $1 WHERE status = 'leased' \
                     AND lease_until < $2 AND attempts >= $3",
                &[
                    format!("its worker stopped holding its lease {MAX_LEASES} times").into(),
                    at.into(),
                    MAX_LEASES.into(),
                ],
            )?;
            let lock = s.dialect().skip_locked_rows();
            let rows = s.query(
                &format!(
                    "SELECT id, run_id, controller, seed, decisions, attempts FROM tasks \
                         WHERE status = 'pending' OR (status = 'leased' AND lease_until < $1) \
                         ORDER BY id LIMIT 1{lock}"
                ),
                &[at.into()],
            )?;
            let Some(row) = rows.first() else {
                return Ok(None);
            };
            let task = Task {
                id: row[0].int()?,
                part: TaskPart {
                    run: RunId(row[1].int()?),
                    controller: row[2].int()?.max(0) as usize,
                    seed: row[3].int()?.max(0) as u64,
                },
                decisions: row[4].text()?,
                attempts: row[5].int()? + 1,
            };
            s.execute(
                "UPDATE tasks SET status = 'leased', worker = $1, lease_until = $2, \
                     attempts = $3 WHERE id = $4",
                &[
                    worker.into(),
                    (at + lease).into(),
                    task.attempts.into(),
                    task.id.into(),
                ],
            )?;
            Ok(Some(task))
        })
    }

    /// Renews `worker`'s lease of task `id` for `lease` seconds; whether it still held it.
    pub fn renew_lease(&self, id: i64, worker: &str, lease: f64) -> Result<bool> {
        self.transaction(|s| {
            let at = now(s)?;
            Ok(s.execute(
                "UPDATE tasks SET lease_until = $1 WHERE id = $2 AND worker = $3 \
                 AND status = 'leased'",
                &[(at + lease).into(), id.into(), worker.into()],
            )? == 1)
        })
    }

    /// Gives task `id` back to the queue, if `worker` holds it, its lease not counted; whether
    /// it did.
    pub fn give_back(&self, id: i64, worker: &str) -> Result<bool> {
        self.transaction(|s| {
            Ok(s.execute(
                "UPDATE tasks SET status = 'pending', worker = '', lease_until = 0, \
                 attempts = attempts - 1 WHERE id = $1 AND worker = $2 AND status = 'leased'",
                &[id.into(), worker.into()],
            )? == 1)
        })
    }

    /// Records the outcome (JSON) of task `id` and the trained `weights` sent with it, if
    /// `worker` still holds its lease; whether it did.
    pub fn finish_task(
        &self,
        id: i64,
        worker: &str,
        outcome: &str,
        weights: Option<&[u8]>,
    ) -> Result<bool> {
        self.transaction(|s| {
            let at = now(s)?;
            Ok(s.execute(
                "UPDATE tasks SET status = 'done', outcome = $1, weights = $2 WHERE id = $3 \
                 AND worker = $4 AND status = 'leased' AND lease_until >= $5",
                &[
                    outcome.into(),
                    weights.into(),
                    id.into(),
                    worker.into(),
                    at.into(),
                ],
            )? == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_run;

    #[test]
    fn a_task_is_queued_once_leased_to_one_worker_and_requeued_when_its_lease_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        for store in super::super::test_stores(dir.path()) {
            let run = store.begin_run(&test_run("tasks", &[])).unwrap();
            let part = |controller, seed| TaskPart {
                run,
                controller,
                seed,
            };
            let a = store.enqueue(&part(0, 0), "00aa", "1-2").unwrap();
            assert_eq!(
                store.enqueue(&part(0, 0), "00aa", "1-2").unwrap(),
                a,
                "the same task"
            );
            let b = store.enqueue(&part(0, 1), "00aa", "1-2").unwrap();
            assert_ne!(a, b, "another seed trains another network");
            let d = store.enqueue(&part(1, 0), "00aa", "1-2").unwrap();
            assert!(
                ![a, b].contains(&d),
                "another controller's part has its own"
            );
            // Other tests share a PostgreSQL store: claim until this run's tasks come.
            let mine = |store: &Store, worker: &str, lease: f64| loop {
                let task = store.claim_task(worker, lease).unwrap().expect("a task");
                if task.part.run == run {
                    break task;
                }
                store.finish_task(task.id, worker, "{}", None).unwrap();
            };
            let first = mine(&store, "w1", 30.0);
            assert_eq!((first.id, first.attempts), (a, 1));
            assert!(store.renew_lease(a, "w1", 30.0).unwrap());
            assert!(!store.renew_lease(a, "w2", 30.0).unwrap(), "not w2's lease");
            // w2 gets the next task, not the one w1 holds.
            let second = mine(&store, "w2", -1.0);
            assert_eq!((second.id, second.part), (b, part(0, 1)));
            // w2's lease ran out at once: b goes to w3, and w2 may not write it.
            let again = mine(&store, "w3", 30.0);
            assert_eq!((again.id, again.attempts), (b, 2));
            assert!(!store.finish_task(b, "w2", "{}", None).unwrap());
            assert!(
                store
                    .finish_task(b, "w3", "{\"x\":1}", Some(&[0, 255, 7]))
                    .unwrap()
            );
            assert_eq!(
                store.task_state(b, true).unwrap(),
                TaskState::Done {
                    outcome: "{\"x\":1}".into(),
                    weights: Some(vec![0, 255, 7])
                }
            );
            assert!(
                matches!(
                    store.task_state(b, false).unwrap(),
                    TaskState::Done { weights: None, .. }
                ),
                "its weights are read only when asked for"
            );
            assert_eq!(store.task_state(a, true).unwrap(), TaskState::Waiting);
            // A task given back is claimed again, that lease not counted; only its holder
            // may give it back.
            let third = mine(&store, "w6", 30.0);
            assert_eq!(third.id, d);
            assert!(!store.give_back(d, "w1").unwrap());
            assert!(store.give_back(d, "w6").unwrap());
            assert_eq!(mine(&store, "w6", 30.0).attempts, 1);
            // What came before a task of its part, and how far it has come.
            let e = store.enqueue(&part(0, 0), "00ee", "2-2").unwrap();
            let earlier = store.tasks_before(&part(0, 0), e).unwrap();
            assert_eq!(
                earlier,
                [EarlierTask {
                    id: a,
                    decisions: "1-2".into(),
                    progress: Progress::Held
                }]
            );
            assert!(store.tasks_before(&part(0, 0), a).unwrap().is_empty());
            // A lease that runs out MAX_LEASES times fails the task.
            assert_eq!(mine(&store, "w7", 30.0).id, e);
            assert!(store.finish_task(e, "w7", "{}", None).unwrap());
            let c = store.enqueue(&part(0, 2), "00cc", "0-0").unwrap();
            for _ in 0..MAX_LEASES {
                assert_eq!(mine(&store, "w4", -1.0).id, c);
            }
            assert_eq!(
                store.tasks_before(&part(0, 2), c + 1).unwrap()[0].progress,
                Progress::Claimable,
                "its lease ran out"
            );
            while let Some(task) = store.claim_task("w5", 30.0).unwrap() {
                assert_ne!(task.id, c);
                store.finish_task(task.id, "w5", "{}", None).unwrap();
            }
            assert!(matches!(
                store.task_state(c, true).unwrap(),
                TaskState::Failed(_)
            ));
            assert_eq!(
                store.tasks_before(&part(0, 2), c + 1).unwrap()[0].progress,
                Progress::Failed
            );
            // Nothing of this test is left for a worker.
            assert!(store.finish_task(a, "w1", "{}", None).unwrap());
            assert_eq!(
                store.task_state(a, true).unwrap(),
                TaskState::Done {
                    outcome: "{}".into(),
                    weights: None
                }
            );
            assert_eq!(
                store.tasks_before(&part(0, 0), e + 1).unwrap()[0].progress,
                Progress::Done
            );
            // A finished run's tasks keep their outcomes, not their weights.
            store.end_run(run, None).unwrap();
            assert_eq!(
                store.task_state(b, true).unwrap(),
                TaskState::Done {
                    outcome: "{\"x\":1}".into(),
                    weights: None
                }
            );
        }
    }
}
