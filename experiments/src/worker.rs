//! Evaluations by workers: which runs may hand theirs out (`--workers`), and the worker
//! process (`archforge worker --store ...`), on this machine or any other that reaches the
//! store.
//!
//! A worker claims the oldest task of the store's queue ([`archforge::store::tasks`]), builds
//! the task's candidate in its run's experiment (read from the store, prepared once per run:
//! the same space, data and training settings as the searching process's), evaluates it with
//! the evaluator proper of the run's seed — the same outcome the searching process would have
//! had — and records the outcome while it still holds the task's lease, which a thread of its
//! own renews every third of the lease. A worker killed mid-evaluation loses nothing: its
//! lease runs out and another worker takes the task.
//!
//! When the run keeps trained weights (`[budget] keep_weights`, a compression's best
//! students), the worker sends each candidate's back with its outcome. A compression's search
//! is prepared from the teacher and network recorded with it
//! ([`crate::workflows::compress_inputs`]).
//!
//! Weight-sharing evaluators keep their supernet with the searching process: such runs, and
//! runs whose candidates inherit their parents' trained weights, do not hand out evaluations.

use crate::config::ExperimentFile;
use crate::registry::EvaluatorConfig;
use crate::runner::Prepared;
use crate::workflows::compress_inputs;
use anyhow::{Result, anyhow};
use archforge::Evaluator;
use archforge::evaluator::remote::outcome_record;
use archforge::evaluator::{Isolated, Outcome};
use archforge::search::{KeepWeights, parse_decisions};
use archforge::store::resume::this_process;
use archforge::store::tasks::{MAX_LEASES, Task};
use archforge::store::{RunId, Store};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often an idle worker looks for a task.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// Why the runs of `prepared` cannot hand their evaluations to workers, if they cannot.
pub fn refusal(prepared: &Prepared) -> Option<&'static str> {
    let experiment = prepared.experiment();
    match experiment.evaluator {
        EvaluatorConfig::Supernet(_) => Some(
            "a weight-sharing evaluator keeps its supernet with the searching process: run it without --workers",
        ),
        EvaluatorConfig::Table(_) => Some(
            "a table's lookups take less than a round trip to a worker: run it without --workers",
        ),
        _ if prepared.env().growth().is_some() => Some(
            "its candidates inherit their parents' trained weights, which stay with the evaluator that trained them: run it without --workers",
        ),
        _ => None,
    }
}

/// A run a worker has prepared: its experiment, and an evaluator per seed.
struct RunContext {
    prepared: Prepared<'static>,
    evaluators: HashMap<u64, Box<dyn Evaluator>>,
}

/// How a worker works.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Seconds a task's lease lasts unless renewed.
    pub lease_seconds: f64,
    /// Stop after this long without a task (`None`: never).
    pub idle_exit: Option<Duration>,
}

/// Works on `store`'s tasks until there are none for `settings.idle_exit`; the tasks done.
pub fn work(store: &Store, settings: WorkerSettings) -> Result<u64> {
    let me = this_process();
    let mut runs: HashMap<RunId, Result<RunContext, String>> = HashMap::new();
    let mut done = 0u64;
    let mut idle_since = Instant::now();
    loop {
        let Some(task) = store.claim_task(&me, settings.lease_seconds)? else {
            if settings
                .idle_exit
                .is_some_and(|d| idle_since.elapsed() >= d)
            {
                return Ok(done);
            }
            std::thread::sleep(LOOK_EVERY);
            continue;
        };
        eprintln!(
            "task {}: run {}, seed {}, decisions {} (lease {} of {MAX_LEASES})",
            task.id, task.run, task.seed, task.decisions, task.attempts
        );
        // A run this worker cannot prepare fails its tasks, and the worker goes on.
        let prepared = runs
            .entry(task.run)
            .or_insert_with(|| prepare(store, task.run).map_err(|e| format!("{e:#}")));
        let outcome = match prepared {
            Ok(context) => evaluate_holding_lease(store, &me, settings, &task, context),
            Err(why) => Outcome::failed(format!("the worker {me} cannot prepare it: {why}")),
        };
        // Weights that do not serialise fail the evaluation.
        let (json, weights) = outcome_record(&outcome).unwrap_or_else(|e| {
            outcome_record(&Outcome::failed(e.to_string()))
                .expect("an outcome without weights serialises")
        });
        if store.finish_task(task.id, &me, &json, weights.as_deref())? {
            done += 1;
        } else {
            eprintln!(
                "task {}: the lease ran out before it was done; another worker has it",
                task.id
            );
        }
        idle_since = Instant::now();
    }
}

/// Prepares run `run` of `store` from its stored experiment.
fn prepare(store: &Store, run: RunId) -> Result<RunContext> {
    let stored = store.run(run)?;
    let origin = format!("run {run} of {}", store.location());
    let file = ExperimentFile::parse(Path::new(&origin), stored.experiment)
        .map_err(|e| anyhow!("{origin}: its experiment does not load here: {e}"))?;
    // A worker keeps every run it served prepared until it stops: the file lives as long.
    let file: &'static ExperimentFile = Box::leak(Box::new(file));
    let prepared = if file.experiment.environment.compresses() {
        compress_inputs::prepare(store, run, file)?
    } else {
        Prepared::new(file)?
    };
    if let Some(why) = refusal(&prepared) {
        anyhow::bail!("{origin}: {why}");
    }
    Ok(RunContext {
        prepared,
        evaluators: HashMap::new(),
    })
}

/// Evaluates `task`'s candidate while a thread renews its lease.
fn evaluate_holding_lease(
    store: &Store,
    me: &str,
    settings: WorkerSettings,
    task: &Task,
    context: &mut RunContext,
) -> Outcome {
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let every = Duration::from_secs_f64(settings.lease_seconds / 3.0);
            let mut renewed = Instant::now();
            while !finished.load(Ordering::Relaxed) {
                if renewed.elapsed() >= every {
                    // A lost lease shows when the outcome is written.
                    if !store
                        .renew_lease(task.id, me, settings.lease_seconds)
                        .unwrap_or(false)
                    {
                        break;
                    }
                    renewed = Instant::now();
                }
                std::thread::sleep(LOOK_EVERY.min(every));
            }
        });
        let outcome = evaluate(task, context);
        finished.store(true, Ordering::Relaxed);
        outcome
    })
}

/// The outcome of `task`'s candidate (a candidate that does not build, or an evaluator that
/// cannot be built or breaks, is a recorded outcome too).
fn evaluate(task: &Task, context: &mut RunContext) -> Outcome {
    let env = context.prepared.shared_env();
    let Some(decisions) = parse_decisions(&task.decisions) else {
        return Outcome::invalid(format!("decisions `{}` do not parse", task.decisions));
    };
    let candidate = match env.build(&decisions) {
        Ok(candidate) => candidate,
        Err(e) => return Outcome::invalid(e.to_string()),
    };
    if !context.evaluators.contains_key(&task.seed) {
        let experiment = context.prepared.experiment();
        match experiment.evaluator.proper(
            &env,
            experiment.budget.keep_weights != KeepWeights::None,
            context.prepared.training(),
            task.seed,
        ) {
            Ok(proper) => {
                context
                    .evaluators
                    .insert(task.seed, Box::new(Isolated(proper)));
            }
            Err(why) => return Outcome::failed(why),
        }
    }
    let evaluator = context.evaluators.get_mut(&task.seed).expect("built above");
    evaluator
        .evaluate(&candidate)
        .unwrap_or_else(|e| Outcome::failed(e.to_string()))
}
