//! What a grown child's part trained before it. The searching process's evaluator of a
//! (controller, seed) part keeps every grown network it trains, and a child starts from its
//! nearest trained ancestor among them; with workers, those networks are the part's earlier
//! tasks, done, with the weights their workers sent back. So a worker training a child waits
//! until each earlier task of the part that builds an ancestor is done or failed — giving the
//! child back when such a task is claimable, so that no worker waits on a task no one holds —
//! and then tells a fresh evaluator of the ones done: it inherits exactly what the part's own
//! evaluator would have, whatever order the workers took the tasks in.

use anyhow::Result;
use archforge::candidate::{Candidate, Init};
use archforge::env::Environment;
use archforge::evaluator::Outcome;
use archforge::evaluator::remote::outcome_from_record;
use archforge::lineage::Lineage;
use archforge::search::parse_decisions;
use archforge::store::Store;
use archforge::store::tasks::{Progress, Task, TaskState};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How often a child's worker looks whether its ancestors' tasks are done.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// The lineage keys of a run's candidates, by their decisions as tasks write them (`None`:
/// a candidate that does not build, or does not grow), found once.
#[derive(Default)]
pub struct Lineages {
    keys: HashMap<String, Option<(u64, Candidate)>>,
}

impl Lineages {
    /// The key and candidate of the task decisions `decisions`, in `env`.
    fn of(&mut self, decisions: &str, env: &dyn Environment) -> Option<&(u64, Candidate)> {
        self.keys
            .entry(decisions.to_string())
            .or_insert_with(|| {
                let candidate = env.build(&parse_decisions(decisions)?).ok()?;
                match &candidate.init {
                    Some(Init::Grown(lineage)) => Some((lineage.key(), candidate.clone())),
                    _ => None,
                }
            })
            .as_ref()
    }

    /// The ancestors along `lineage` (of `task`'s candidate) that the task's part trained
    /// before it, each with its outcome and weights, oldest first; `None` when one of the
    /// part's earlier tasks building an ancestor is claimable and `task` should be given
    /// back.
    pub fn ancestors(
        &mut self,
        store: &Store,
        task: &Task,
        lineage: &Lineage,
        env: &dyn Environment,
    ) -> Result<Option<Vec<(Candidate, Outcome)>>> {
        let keys: HashSet<u64> = lineage.keys().into_iter().collect();
        loop {
            let mut earlier = Vec::new();
            for before in store.tasks_before(&task.part, task.id)? {
                if let Some((key, candidate)) = self.of(&before.decisions, env)
                    && keys.contains(key)
                {
                    earlier.push((before, candidate.clone()));
                }
            }
            if earlier
                .iter()
                .any(|(t, _)| t.progress == Progress::Claimable)
            {
                return Ok(None);
            }
            if earlier.iter().any(|(t, _)| t.progress == Progress::Held) {
                std::thread::sleep(LOOK_EVERY);
                continue;
            }
            let mut trained = Vec::new();
            for (before, candidate) in earlier {
                if let TaskState::Done { outcome, weights } = store.task_state(before.id, true)? {
                    trained.push((
                        candidate,
                        outcome_from_record(&outcome, weights.as_deref())?,
                    ));
                }
            }
            return Ok(Some(trained));
        }
    }
}
