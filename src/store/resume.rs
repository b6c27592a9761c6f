//! What a resume needs of the store: each part's last checkpoint (one row per part, replaced
//! as the part goes on; JSON of [`crate::resume::RunCheckpoint`]) and the run's owner — the
//! process recording it, as `HOST:PID`. A resume claims the run from its owner in one
//! compare-and-set, and only when that owner is a process of this machine that is gone: two
//! processes never record one run at once.

use super::{RunId, Store};
use crate::error::{Error, Result};

/// This process, as a run's owner: `HOST:PID`.
pub fn this_process() -> String {
    format!("{}:{}", host(), std::process::id())
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether `owner` (`HOST:PID`) may still be recording: `Some(alive)` for a process of this
/// machine, `None` for one elsewhere (which this machine cannot tell).
fn owner_alive(owner: &str) -> Option<bool> {
    let (owner_host, pid) = owner.rsplit_once(':')?;
    if owner_host != host() {
        return None;
    }
    let pid: u32 = pid.parse().ok()?;
    if pid == std::process::id() {
        return Some(true);
    }
    // A process killed but not yet reaped (a zombie, `Z`) is gone.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim().chars().next());
    Some(state.is_some_and(|s| s != 'Z' && s != 'X'))
}

impl Store {
    /// Replaces the last checkpoint of part (`controller`, `seed`) of `run`: `state`, taken
    /// after `proposals` proposals.
    pub fn put_checkpoint(
        &self,
        run: RunId,
        controller: &str,
        seed: u64,
        proposals: u64,
        state: &str,
    ) -> Result<()> {
        self.transaction(|s| {
            s.execute(
                "INSERT INTO checkpoints (run_id, controller, seed, proposals, state) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, controller, seed) \
                 DO UPDATE SET proposals = excluded.proposals, state = excluded.state",
                &[
                    run.0.into(),
                    controller.into(),
                    seed.into(),
                    proposals.into(),
                    state.into(),
                ],
            )?;
            Ok(())
        })
    }

    /// The last checkpoint of part (`controller`, `seed`) of `run`: after how many proposals,
    /// and its state.
    pub fn checkpoint(
        &self,
        run: RunId,
        controller: &str,
        seed: u64,
    ) -> Result<Option<(u64, String)>> {
        self.read(|s| {
            s.query(
                "SELECT proposals, state FROM checkpoints \
                 WHERE run_id = $1 AND controller = $2 AND seed = $3",
                &[run.0.into(), controller.into(), seed.into()],
            )?
            .first()
            .map(|r| Ok((r[0].int()?.max(0) as u64, r[1].text()?)))
            .transpose()
        })
    }

    /// Makes this process the owner of `run`, which must be running and whose owner must be
    /// a process of this machine that is gone.
    pub fn claim(&self, run: RunId) -> Result<()> {
        let owner = self.read(|s| {
            s.query(
                "SELECT owner, status FROM runs WHERE id = $1",
                &[run.0.into()],
            )?
            .first()
            .map(|r| Ok((r[0].text()?, r[1].text()?)))
            .transpose()
        })?;
        let Some((owner, status)) = owner else {
            return Err(self.error(format!("no run {run}")));
        };
        if status != "running" {
            return Err(self.error(format!("run {run} is {status}: there is nothing to resume")));
        }
        match owner_alive(&owner) {
            Some(false) => {}
            Some(true) => {
                return Err(self.error(format!(
                    "run {run} is being recorded by process {owner}, which is still running"
                )));
            }
            None if owner.is_empty() => {}
            None => {
                return Err(self.error(format!(
                    "run {run} was recorded by {owner}, on another machine: resume it there, where archforge can tell that it stopped"
                )));
            }
        }
        let me = this_process();
        let claimed = self.transaction(|s| {
            s.execute(
                "UPDATE runs SET owner = $1 WHERE id = $2 AND owner = $3",
                &[me.as_str().into(), run.0.into(), owner.as_str().into()],
            )
        })?;
        if claimed == 1 {
            Ok(())
        } else {
            Err(Error::Store(format!(
                "{}: run {run} is being resumed by another process",
                self.location
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_run;

    #[test]
    fn a_run_is_claimed_from_a_dead_owner_once_and_never_from_a_live_one() {
        let dir = tempfile::tempdir().unwrap();
        for store in super::super::test_stores(dir.path()) {
            claims(&store);
        }
    }

    fn claims(store: &Store) {
        let run = store
            .begin_run(&test_run("e", &[("random".into(), 0)]))
            .unwrap();
        // This process recorded it and still runs.
        let why = store.claim(run).unwrap_err().to_string();
        assert!(why.contains("still running"), "{why}");
        // A process of this machine that is gone (pid 2^22 + 1 is above Linux's pid_max).
        store
            .transaction(|tx| {
                tx.execute(
                    "UPDATE runs SET owner = $1 WHERE id = $2",
                    &[format!("{}:4194305", host()).into(), run.0.into()],
                )
            })
            .unwrap();
        store.claim(run).unwrap();
        // Now this process owns it.
        assert!(store.claim(run).is_err());
        store
            .transaction(|tx| {
                tx.execute(
                    "UPDATE runs SET owner = 'elsewhere:1' WHERE id = $1",
                    &[run.0.into()],
                )
            })
            .unwrap();
        let why = store.claim(run).unwrap_err().to_string();
        assert!(why.contains("another machine"), "{why}");
        store.end_run(run, None).unwrap();
        let why = store.claim(run).unwrap_err().to_string();
        assert!(why.contains("finished"), "{why}");
    }

    #[test]
    fn a_part_keeps_its_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        for store in super::super::test_stores(dir.path()) {
            let run = store
                .begin_run(&test_run("e", &[("random".into(), 3)]))
                .unwrap();
            assert_eq!(store.checkpoint(run, "random", 3).unwrap(), None);
            store.put_checkpoint(run, "random", 3, 10, "a").unwrap();
            store.put_checkpoint(run, "random", 3, 20, "b").unwrap();
            assert_eq!(
                store.checkpoint(run, "random", 3).unwrap(),
                Some((20, "b".into()))
            );
        }
    }
}
