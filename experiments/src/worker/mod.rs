//! Evaluations by workers: the worker process (`archforge worker --store ...`), on this
//! machine or any other that reaches the store, doing what `--workers` runs queue (which
//! runs may: [`crate::registry::EvaluatorConfig::workers_refusal`]).
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
//! students), or its space grows children from their parents' (EAS), the worker sends each
//! candidate's back with its outcome. A compression's search is prepared from the teacher and
//! network recorded with it ([`crate::workflows::compress_inputs`]). A grown child is trained
//! from the ancestors its own part trained before it ([`ancestors`]), as the searching
//! process's evaluator would have: a fresh evaluator is told of them, then trains the child.
//!
//! Weight-sharing evaluators keep their supernet with the searching process: such runs do not
//! hand out evaluations.

mod ancestors;

use crate::config::ExperimentFile;
use crate::runner::Prepared;
use crate::workflows::compress_inputs;
use ancestors::Lineages;
use anyhow::{Result, anyhow};
use archforge::Evaluator;
use archforge::candidate::Init;
use archforge::evaluator::remote::outcome_record;
use archforge::evaluator::{Isolated, Outcome};
use archforge::search::{KeepWeights, parse_decisions};
use archforge::store::resume::this_process;
use archforge::store::tasks::{MAX_LEASES, Task};
use archforge::store::{RunId, Store};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often an idle worker looks for a task.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// A run a worker has prepared: its experiment, and an evaluator per seed.
struct RunContext {
    prepared: Prepared<'static>,
    /// The evaluators of candidates that do not grow, by seed.
    evaluators: HashMap<u64, Box<dyn Evaluator>>,
    /// The lineage keys of the run's grown candidates.
    lineages: Lineages,
}

/// How a worker works.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Seconds a task's lease lasts unless renewed.
    pub lease_seconds: f64,
    /// Stop after this long without a task (`None`: never).
    pub idle_exit: Option<Duration>,
}

/// What a worker did with a task.
enum Evaluation {
    /// Evaluated it.
    Done(Outcome),
    /// Gave it back: an earlier task it waits for is claimable, and the worker takes that one
    /// first.
    GivenBack,
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
        let part = task.part;
        eprintln!(
            "task {}: run {}, controller {}, seed {}, decisions {} (lease {} of {MAX_LEASES})",
            task.id, part.run, part.controller, part.seed, task.decisions, task.attempts
        );
        // A run this worker cannot prepare fails its tasks, and the worker goes on.
        let prepared = runs
            .entry(part.run)
            .or_insert_with(|| prepare(store, part.run).map_err(|e| format!("{e:#}")));
        let evaluation = match prepared {
            Ok(context) => evaluate_holding_lease(store, &me, settings, &task, context),
            Err(why) => Evaluation::Done(Outcome::failed(format!(
                "the worker {me} cannot prepare it: {why}"
            ))),
        };
        let outcome = match evaluation {
            Evaluation::Done(outcome) => outcome,
            Evaluation::GivenBack => {
                store.give_back(task.id, &me)?;
                eprintln!(
                    "task {}: given back, to take the earlier task it waits for first",
                    task.id
                );
                continue;
            }
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
    if let Some(why) = prepared.experiment().evaluator.workers_refusal() {
        anyhow::bail!("{origin}: {why}");
    }
    Ok(RunContext {
        prepared,
        evaluators: HashMap::new(),
        lineages: Lineages::default(),
    })
}

/// Evaluates `task`'s candidate while a thread renews its lease.
fn evaluate_holding_lease(
    store: &Store,
    me: &str,
    settings: WorkerSettings,
    task: &Task,
    context: &mut RunContext,
) -> Evaluation {
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
        let evaluation = evaluate(store, task, context);
        finished.store(true, Ordering::Relaxed);
        evaluation
    })
}

/// The outcome of `task`'s candidate (a candidate that does not build, or an evaluator that
/// cannot be built or breaks, is a recorded outcome too) — or, for a grown child whose
/// ancestors are still to be trained, the task given back.
fn evaluate(store: &Store, task: &Task, context: &mut RunContext) -> Evaluation {
    let env = context.prepared.shared_env();
    let Some(decisions) = parse_decisions(&task.decisions) else {
        return Evaluation::Done(Outcome::invalid(format!(
            "decisions `{}` do not parse",
            task.decisions
        )));
    };
    let candidate = match env.build(&decisions) {
        Ok(candidate) => candidate,
        Err(e) => return Evaluation::Done(Outcome::invalid(e.to_string())),
    };
    let seed = task.part.seed;
    let experiment = context.prepared.experiment();
    // Grown children send their weights back for their descendants.
    let keep = experiment.budget.keep_weights != KeepWeights::None || env.growth().is_some();
    let build = || {
        experiment
            .evaluator
            .proper(&env, keep, context.prepared.training(), seed)
            .map(|proper| Box::new(Isolated(proper)) as Box<dyn Evaluator>)
    };
    let grown = match &candidate.init {
        Some(Init::Grown(lineage)) => Some(lineage.clone()),
        _ => None,
    };
    let outcome = match grown {
        // A child's evaluator knows what its part trained before it, and nothing else.
        Some(lineage) => {
            let mut evaluator = match build() {
                Ok(evaluator) => evaluator,
                Err(why) => return Evaluation::Done(Outcome::failed(why)),
            };
            match context
                .lineages
                .ancestors(store, task, &lineage, env.as_ref())
            {
                Ok(Some(ancestors)) => {
                    for (ancestor, outcome) in &ancestors {
                        evaluator.recall(ancestor, outcome);
                    }
                }
                Ok(None) => return Evaluation::GivenBack,
                Err(e) => return Evaluation::Done(Outcome::failed(e.to_string())),
            }
            evaluator.evaluate(&candidate)
        }
        None => {
            let evaluator = match context.evaluators.entry(seed) {
                Entry::Occupied(built) => built.into_mut(),
                Entry::Vacant(place) => match build() {
                    Ok(evaluator) => place.insert(evaluator),
                    Err(why) => return Evaluation::Done(Outcome::failed(why)),
                },
            };
            evaluator.evaluate(&candidate)
        }
    };
    Evaluation::Done(outcome.unwrap_or_else(|e| Outcome::failed(e.to_string())))
}
