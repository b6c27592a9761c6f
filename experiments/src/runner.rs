//! The runner: executes an experiment's runs (controllers x seeds) in parallel into one run
//! folder. Everything is checked and built before the first evaluation; every evaluation is
//! flushed to `evaluations.csv` as it happens; when all runs are done the ledger is put in a
//! reproducible order (controller, seed, proposal) and the reports are written.
//!
//! Each run owns its controller, its evaluator chain and a generator seeded by its seed alone,
//! so a run's evaluations do not depend on which thread ran it or what ran beside it.

use crate::config::ExperimentFile;
use crate::latency_target::ResolvedTarget;
use crate::registry::{EvaluatorConfig, Training};
use crate::report;
use crate::report::lineage::Lineages;
use crate::report::pareto::Fronts;
use crate::report::stored::part_end;
use crate::resume::{self, PartResume, Recorded};
use crate::run_folder::{create_run_folder, run_file_stem, supernet_file, trained_weights_file};
use crate::teacher::ScoredTeacher;
use anyhow::{Context, Result, anyhow, bail};
use archforge::ability::Growth;
use archforge::budget::BudgetLimits;
use archforge::evaluator::{CachedEvaluator, Isolated, RemoteEvaluator};
use archforge::evaluator::{SharedLatencyTable, scoring_batch};
use archforge::ledger::{Ledger, Row};
use archforge::nn::LatencyTable;
use archforge::nn::proxy::WithProxies;
use archforge::objective::Objective;
use archforge::resume::{Resume, RunCheckpoint};
use archforge::search::{self, KeepWeights, Recorder, RunResult, RunSettings, StopReason};
use archforge::store::tasks::TaskPart;
use archforge::store::{NewRun, RunId, Store};
use archforge::weights::Snapshot;
use archforge::{Environment, Evaluator, rng};
use archforge_environments::{Images, Network};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a run's recorder kept beside the ledger: its Pareto fronts, its lineage (a space
/// that grows networks) and its rows (when the plan keeps them).
type Kept = (Fronts, Option<Lineages>, Vec<Row>);

/// A finished run with what its recorder kept, or why it failed.
type RunOutcome = Result<(Run, Kept)>;

/// What one run leaves beside its recorded rows.
pub struct Run {
    /// The run's best-so-far curve and stop reason.
    pub result: RunResult,
    /// The rows of its derivation (`[final] derive`).
    pub derived: Vec<Row>,
}

/// Sequences drawn to check an environment against its spec when an experiment is loaded.
const PROBE_SAMPLES: usize = 64;

/// What to run: which controllers (indices into the file's list) and seeds.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Controller indices.
    pub controllers: Vec<usize>,
    /// Seeds, each run once per controller.
    pub seeds: Vec<u64>,
    /// The run folder (must not exist, or be empty).
    pub out: PathBuf,
    /// Runs at a time.
    pub jobs: usize,
    /// ENAS's derivation after each run: proposals of the controller as it ended, rescored
    /// (`derived.csv`; 0: none).
    pub derive: usize,
    /// Keep every ledger row in memory for what follows the runs (the finalists).
    pub keep_rows: bool,
    /// The run store the experiment is also recorded in.
    pub store: Option<Recording>,
}

/// Where and as what a run is recorded in a store.
#[derive(Clone)]
pub struct Recording {
    /// The store.
    pub store: Arc<Store>,
    /// The subcommand that runs it (`run`, `compare`), listed by `archforge runs`.
    pub command: &'static str,
    /// The stored run it resumes (`--resume`), instead of a new one.
    pub resume: Option<RunId>,
    /// Whether workers (`archforge worker`) evaluate its candidates, through the store.
    pub workers: bool,
    /// The run it is a stage of (a compression's search), which this process holds: a
    /// resume of the stage claims nothing more, and takes a stage that finished as it ended.
    pub parent: Option<RunId>,
    /// The files its workers prepare it from beyond its experiment file (a compression
    /// search's teacher and network), kept with the run before its first task is queued.
    pub inputs: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recording({}, {})", self.store.location(), self.command)
    }
}

/// A finished experiment.
pub struct Finished<'a> {
    /// The experiment, prepared (for what follows the runs: finalists).
    pub prepared: Prepared<'a>,
    /// The run folder.
    pub out: PathBuf,
    /// One result per run, in plan order (controller, then seed).
    pub results: Vec<RunResult>,
    /// Every ledger row, in plan order, when the plan kept them.
    pub rows: Vec<Row>,
    /// The rows of the runs' derivations.
    pub derived: Vec<Row>,
    /// The summary rows written to `summary.csv`.
    pub summary: Vec<report::SummaryRow>,
    /// The best evaluation over all runs, if any succeeded.
    pub best: Option<report::BestArch>,
    /// Wall-clock seconds the runs took (from the first evaluation to the last, the ledger
    /// written; reports not included).
    pub search_seconds: f64,
}

/// An experiment checked and built, ready to run any of its (controller, seed) runs.
pub struct Prepared<'a> {
    file: &'a ExperimentFile,
    env: Arc<dyn Environment>,
    networks: Arc<dyn Environment>,
    training: Option<Training>,
    objective: Objective,
    /// What a relative latency target resolved to on this machine.
    target: Option<ResolvedTarget>,
    limits: BudgetLimits,
}

impl<'a> Prepared<'a> {
    /// Loads the data (for evaluators that train) and, for a compression space, the teacher
    /// its `[teacher] path` names; builds the environment and checks that the evaluator and
    /// every controller can work with it, before anything runs.
    pub fn new(file: &'a ExperimentFile) -> Result<Self> {
        Self::build(file, None)
    }

    /// [`Prepared::new`] for a compression space over `network` whose students learn from
    /// `teacher` (already loaded and scored).
    pub fn compressing(
        file: &'a ExperimentFile,
        teacher: &ScoredTeacher,
        network: Arc<Network>,
    ) -> Result<Self> {
        Self::build(file, Some((teacher.clone(), network)))
    }

    fn build(
        file: &'a ExperimentFile,
        compressing: Option<(ScoredTeacher, Arc<Network>)>,
    ) -> Result<Self> {
        let experiment = &file.experiment;
        let located =
            |what: &str, e: &dyn std::fmt::Display| anyhow!("{}: {what}{e}", file.path.display());
        let mut training = match (&experiment.data, &experiment.training) {
            (Some(_), Some(config)) => {
                let data = file.load_data()?;
                let latency = experiment.objective.latency_table_path().map(|path| {
                    let (table, why) = LatencyTable::open(&path);
                    if let Some(why) = why {
                        eprintln!("{why}");
                    }
                    SharedLatencyTable::new(table)
                });
                Some(Training {
                    data: Arc::new(data),
                    config: config.clone(),
                    latency,
                    teacher: None,
                })
            }
            _ => None,
        };
        let compressing = match (compressing, &mut training) {
            (Some(given), _) => Some(given),
            (None, Some(t)) if experiment.environment.compresses() => {
                let folder = experiment
                    .teacher
                    .as_ref()
                    .and_then(|teacher| teacher.path.clone())
                    .ok_or_else(|| located("environment: ", &"a compression space needs a trained teacher: set [teacher] path to its run folder (`archforge train FILE` trains one), or run `archforge compress`"))?;
                let distill = experiment.distill.clone().unwrap_or_default();
                let teacher = ScoredTeacher::load(&folder, file, &t.data, &distill)?;
                let network = teacher.network.clone();
                Some((teacher, network))
            }
            (None, _) => None,
        };
        if let (Some((teacher, _)), Some(t)) = (&compressing, &mut training) {
            t.data = teacher.data.clone();
            t.teacher = Some(teacher.teacher.clone());
        }
        let images = training.as_ref().map(|t| Images {
            shape: t.data.train.shape,
            classes: t.data.train.classes,
        });
        let build = |images| {
            experiment
                .environment
                .build(images, compressing.as_ref().map(|(_, network)| network))
                .map_err(|e| located("environment: ", &e))
        };
        // The search's networks are sized for the data only when its evaluator trains them
        // (a table search keeps the benchmark's counts); trained networks always are.
        let env: Arc<dyn Environment> = build(images.filter(|_| experiment.evaluator.trains()))?;
        let networks = match images {
            Some(images) if !experiment.evaluator.trains() => build(Some(images))?,
            _ => env.clone(),
        };
        if training.is_some() && !experiment.evaluator.trains() {
            EvaluatorConfig::Standalone(Default::default())
                .check(networks.as_ref())
                .map_err(|_| {
                    located(
                        "",
                        &format!(
                            "the `{}` space's candidates are not networks that can be trained (no shapes); [final], [data] and [training] do not apply",
                            networks.spec().name
                        ),
                    )
                })?;
        }
        // Proxy features are scored on the data with the file's seed: the same for every run.
        let env: Arc<dyn Environment> = match (&experiment.features, &training) {
            (Some(f), Some(t)) => {
                let batch = scoring_batch(&t.data.train, f.batch, experiment.seed)
                    .ok_or_else(|| located("[features]: ", &"the training data holds no image"))?;
                Arc::new(WithProxies::new(
                    env,
                    f.proxies.clone(),
                    batch,
                    t.data.train.shape,
                    experiment.seed,
                ))
            }
            _ => env,
        };
        archforge::env::probe(env.as_ref(), PROBE_SAMPLES)
            .map_err(|e| located("environment: ", &e))?;
        let limits = experiment.objective.limits();
        if let Some(smallest) = experiment
            .environment
            .smallest(env.as_ref())
            .and_then(|d| env.build(&d).ok())
        {
            let (params, macs) = smallest.counts.unwrap_or_default();
            for (key, limit, least) in [
                ("max_params", limits.params, params),
                ("max_macs", limits.macs, macs),
            ] {
                if let Some(limit) = limit.filter(|&l| least > l) {
                    bail!(
                        "{}: [objective] {key} = {limit}: no student can meet it; the smallest ({}) has {least}",
                        file.path.display(),
                        smallest.label
                    );
                }
            }
        }
        experiment
            .evaluator
            .check(env.as_ref())
            .map_err(|e| located("", &e))?;
        for config in &experiment.controller {
            // A throwaway instance proposes once: a controller that cannot work this
            // environment says so now, not after a supernet's warm-up.
            config
                .build()
                .and_then(|mut c| c.propose(env.as_ref(), 1, &mut rng::seeded(0)))
                .map_err(|e| {
                    let context = format!("controller `{}`: ", config.name());
                    match &e {
                        // Its own error already says which controller it is.
                        archforge::Error::Controller { reason, .. } => located(&context, reason),
                        _ => located(&context, &e),
                    }
                })?;
        }
        let target = match &experiment.objective.target {
            Some(relative) => {
                let shared = training
                    .as_ref()
                    .and_then(|t| t.latency.as_ref())
                    .ok_or_else(|| located("[objective] target: ", &"a relative target needs the latency table of an evaluator that trains"))?;
                let resolved =
                    ResolvedTarget::resolve(relative, networks.as_ref(), shared, experiment.seed)
                        .map_err(|e| located("", &e))?;
                eprintln!("{}", resolved.describe());
                Some(resolved)
            }
            None => None,
        };
        let objective = Objective {
            kind: experiment.objective.kind,
            maximize: env.benchmark().is_none_or(|t| t.maximize),
            invalid_reward: experiment.objective.invalid_reward,
            latency: experiment
                .objective
                .latency_target(target.as_ref().map(|t| t.target_ms)),
            teacher: compressing
                .as_ref()
                .map(|(teacher, _)| teacher.score(experiment.objective.limits())),
        };
        let limits = BudgetLimits {
            evaluations: experiment.budget.evaluations,
            simulated_seconds: experiment.budget.simulated_seconds,
            wall_seconds: experiment.budget.wall_seconds,
        };
        Ok(Prepared {
            file,
            env,
            networks,
            training,
            objective,
            target,
            limits,
        })
    }

    /// The experiment.
    pub fn experiment(&self) -> &crate::config::Experiment {
        &self.file.experiment
    }

    /// The objective the runs' rewards come from.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// What trainable evaluators train on, when the experiment trains.
    pub fn training(&self) -> Option<&Training> {
        self.training.as_ref()
    }

    /// The environment, shared.
    pub fn shared_env(&self) -> Arc<dyn Environment> {
        self.env.clone()
    }

    /// The environment.
    pub fn env(&self) -> &dyn Environment {
        self.env.as_ref()
    }

    /// The environment whose networks are sized for the experiment's data — the search's own
    /// when its evaluator trains — for what trains networks outside the search: `train`,
    /// finalists, rank checks, exports.
    pub fn networks(&self) -> &Arc<dyn Environment> {
        &self.networks
    }

    /// Runs controller `c` (index into the file's list) on `seed`, handing each row to
    /// `recorder`.
    pub fn run(&self, c: usize, seed: u64, recorder: &mut dyn Recorder) -> Result<RunResult> {
        self.run_deriving(c, seed, recorder, 0, PartOptions::default())
            .map(|run| run.result)
    }

    /// [`Prepared::run`], then ENAS's derivation: `derive` proposals of the controller as it
    /// ended, rescored by the evaluator as it stands; their rows come back beside the result.
    /// The evaluator's shared weights (a supernet's store) go to the recorder at the end,
    /// also when the run failed. `options` say whether the run takes checkpoints, whether it
    /// goes on from one, and whether workers evaluate.
    pub fn run_deriving(
        &self,
        c: usize,
        seed: u64,
        recorder: &mut dyn Recorder,
        derive: usize,
        options: PartOptions,
    ) -> Result<Run> {
        let experiment = &self.file.experiment;
        let config = &experiment.controller[c];
        let settings = RunSettings {
            controller: config.name(),
            seed,
            batch: config.batch(),
            limits: self.limits,
            count_duplicates: experiment.budget.count_duplicates,
            keep_weights: experiment.budget.keep_weights,
            objective: self.objective,
            checkpoint_every: options
                .checkpoints
                .then_some(experiment.budget.checkpoint_every),
        };
        let mut controller = config.build()?;
        let mut evaluator: Box<dyn Evaluator> = match options.workers {
            Some((store, run)) => {
                let part = TaskPart {
                    run,
                    controller: c,
                    seed,
                };
                let remote = RemoteEvaluator::new(store, part);
                let remote = match experiment.budget.keep_weights {
                    KeepWeights::None => remote,
                    _ => remote.keeping_weights(),
                };
                Box::new(CachedEvaluator::new(
                    Isolated(remote),
                    experiment.budget.cache,
                ))
            }
            None => experiment
                .evaluator
                .build(
                    &self.env,
                    experiment.budget.cache,
                    experiment.budget.keep_weights != KeepWeights::None,
                    self.training.as_ref(),
                    seed,
                )
                .map_err(|e| anyhow!(e))?,
        };
        let mut generator = rng::seeded(seed);
        let searched = search::run_from(
            self.env.as_ref(),
            controller.as_mut(),
            evaluator.as_mut(),
            &settings,
            &mut generator,
            recorder,
            options.from,
        )
        .with_context(|| format!("controller `{}`, seed {seed}", settings.controller));
        let derived = match (&searched, derive) {
            (Ok(_), n) if n > 0 => search::derive(
                self.env.as_ref(),
                controller.as_mut(),
                evaluator.as_mut(),
                n,
                &settings,
                &mut generator,
            )
            .with_context(|| {
                format!(
                    "controller `{}`, seed {seed}: derivation",
                    settings.controller
                )
            }),
            _ => Ok(Vec::new()),
        };
        // The shared weights are kept however the run ended.
        if let Some(shared) = evaluator.shared_weights() {
            recorder.keep_shared(&settings.controller, seed, &shared)?;
        }
        if let Some(resolved) = evaluator.resolved() {
            recorder.keep_resolved(&settings.controller, seed, &resolved)?;
        }
        if let Some((name, weights)) = controller.trained_weights() {
            recorder.keep_trained(&settings.controller, name, &weights)?;
        }
        let result = searched?;
        if result.stop == StopReason::Exhausted {
            tracing::warn!(
                "controller `{}`, seed {seed}: stopped after {} evaluations, proposing only repeats",
                settings.controller,
                result.evaluations()
            );
        }
        Ok(Run {
            result,
            derived: derived?,
        })
    }
}

/// How one (controller, seed) run is run: whether it takes checkpoints, goes on from one, and
/// has workers evaluate.
#[derive(Default)]
pub struct PartOptions {
    /// Give the recorder a checkpoint every `[budget] checkpoint_every` evaluations.
    pub checkpoints: bool,
    /// The checkpoint to go on from, with the rows before it.
    pub from: Option<Resume>,
    /// Queue the evaluations in this store, as tasks of this run, for workers.
    pub workers: Option<(Arc<Store>, RunId)>,
}

/// A run's recorder in a run folder: rows to the shared ledger (and the progress bar, the
/// run's Pareto fronts and, when the plan keeps them, the run's rows), kept weights to
/// `weights/` — `CONTROLLER-seedN-PROPOSAL.safetensors` for every candidate,
/// `CONTROLLER-seedN-best.safetensors` (replaced as the best improves) for the best.
struct FolderRecorder<'a> {
    out: &'a Path,
    ledger: &'a Ledger,
    progress: &'a ProgressBar,
    weights: &'a Path,
    keep: KeepWeights,
    fronts: Fronts,
    /// The run's lineage, for a space that grows networks.
    lineage: Option<(&'a dyn Growth, Lineages)>,
    rows: Option<Vec<Row>>,
    /// The run's (controller, seed).
    part: (String, u64),
    /// The store the run is recorded in, for its checkpoints.
    store: Option<(&'a Store, RunId)>,
    /// A resumed run's rows that it is making again.
    recorded: Recorded,
}

impl FolderRecorder<'_> {
    /// Takes in a row recorded before, as if the run had just made it.
    fn restore(&mut self, row: &Row) {
        if row.counted {
            self.progress.inc(1);
        }
        self.fronts.add(row);
        if let Some((growth, lineage)) = &mut self.lineage {
            lineage.add(*growth, row);
        }
        if let Some(rows) = &mut self.rows {
            rows.push(row.clone());
        }
    }
}

impl Recorder for FolderRecorder<'_> {
    fn record(&mut self, row: &Row) -> archforge::error::Result<()> {
        if row.counted {
            self.progress.inc(1);
        }
        // A row made again is in the ledger already.
        if !self.recorded.check(row)? {
            self.ledger.append(row)?;
        }
        self.fronts.add(row);
        if let Some((growth, lineage)) = &mut self.lineage {
            lineage.add(*growth, row);
        }
        if let Some(rows) = &mut self.rows {
            rows.push(row.clone());
        }
        Ok(())
    }

    fn keep_shared(
        &mut self,
        controller: &str,
        seed: u64,
        weights: &Snapshot,
    ) -> archforge::error::Result<()> {
        weights.save(&supernet_file(self.out, controller, seed))
    }

    /// `CONTROLLER-seedN-evaluator.json` in the run folder.
    fn keep_resolved(
        &mut self,
        controller: &str,
        seed: u64,
        resolved: &serde_json::Value,
    ) -> archforge::error::Result<()> {
        let path = self.out.join(format!(
            "{}-evaluator.json",
            run_file_stem(controller, seed)
        ));
        let text = serde_json::to_string_pretty(resolved).expect("JSON values serialise");
        std::fs::write(&path, text + "\n")
            .map_err(|source| archforge::error::Error::Io { path, source })
    }

    /// The first seed to finish writes the file; the others' weights are the same.
    fn keep_trained(
        &mut self,
        controller: &str,
        name: &str,
        weights: &Snapshot,
    ) -> archforge::error::Result<()> {
        let path = trained_weights_file(self.out, controller, name);
        match weights.save(&path) {
            Err(_) if path.exists() => Ok(()),
            done => done,
        }
    }

    /// Into the store, once every row before it is there.
    fn checkpoint(&mut self, checkpoint: &RunCheckpoint) -> archforge::error::Result<()> {
        let Some((store, run)) = self.store else {
            return Ok(());
        };
        self.ledger.flush()?;
        let state = serde_json::to_string(checkpoint)
            .map_err(|e| archforge::error::Error::Checkpoint(e.to_string()))?;
        let (controller, seed) = &self.part;
        store.put_checkpoint(run, controller, *seed, checkpoint.proposals, &state)
    }

    fn keep(&mut self, row: &Row, weights: &Snapshot) -> archforge::error::Result<()> {
        let run = run_file_stem(&row.controller, row.seed);
        match self.keep {
            KeepWeights::All => weights.save(
                &self
                    .weights
                    .join(format!("{run}-{}.safetensors", row.proposal)),
            ),
            _ => weights.replace(&self.weights.join(format!("{run}-best.safetensors"))),
        }
    }
}

/// Runs `plan` for `file`.
pub fn execute<'a>(file: &'a ExperimentFile, plan: &Plan) -> Result<Finished<'a>> {
    execute_prepared(Prepared::new(file)?, plan)
}

/// [`execute`] of an experiment already prepared.
pub fn execute_prepared<'a>(prepared: Prepared<'a>, plan: &Plan) -> Result<Finished<'a>> {
    let file = prepared.file;
    let experiment = &file.experiment;
    let resuming = plan.store.as_ref().and_then(|r| r.resume);
    match resuming {
        None => create_run_folder(&plan.out)?,
        Some(_) => std::fs::create_dir_all(&plan.out)
            .with_context(|| format!("creating {}", plan.out.display()))?,
    }
    std::fs::write(plan.out.join("experiment.toml"), file.resolved_toml())
        .with_context(|| format!("writing {}", plan.out.join("experiment.toml").display()))?;
    if let Some(target) = &prepared.target {
        target.write(&plan.out)?;
    }
    let ledger_path = plan.out.join("evaluations.csv");
    let tasks: Vec<(usize, u64)> = plan
        .controllers
        .iter()
        .flat_map(|&c| plan.seeds.iter().map(move |&s| (c, s)))
        .collect();
    let checkpoints = file.checkpoints();
    let random = experiment
        .controller
        .iter()
        .find(|c| c.kind() == "random")
        .map(|c| c.name());
    let context = report::Context {
        title: experiment.name.clone(),
        checkpoints,
        random,
        maximize: prepared.objective.maximize,
        target_ms: prepared.objective.latency.map(|t| t.target_ms),
    };
    let parts: Vec<(String, u64)> = tasks
        .iter()
        .map(|&(c, s)| (experiment.controller[c].name(), s))
        .collect();
    let mut resumed: Vec<Option<PartResume>> = Vec::new();
    let stored: Option<(Arc<Store>, RunId)> = match &plan.store {
        Some(recording) => {
            let run = match recording.resume {
                None => recording.store.begin_run(&NewRun {
                    name: &experiment.name,
                    command: recording.command,
                    folder: &plan.out.display().to_string(),
                    experiment: &file.resolved_toml(),
                    context: &serde_json::to_string(&context)?,
                    parts: &parts,
                    parent: recording.parent,
                })?,
                Some(run) => {
                    let refusal = resume::unresumable(
                        experiment,
                        prepared.env().growth().is_some(),
                        prepared.objective().latency.is_some(),
                    );
                    let claimed = resume::claim(
                        &recording.store,
                        run,
                        &resume::Claim {
                            command: recording.command,
                            file,
                            refusal,
                            parts: &parts,
                            out: &plan.out,
                            stage: recording.parent.is_some(),
                        },
                    )?;
                    resumed = claimed.parts.into_iter().map(Some).collect();
                    run
                }
            };
            let verb = if resuming.is_some() {
                "resuming"
            } else {
                "recording as"
            };
            eprintln!("{verb} run {run} of {}", recording.store.location());
            // What its workers prepare it from, before the first task is queued (a resume
            // with --workers of a run recorded without them gets them too).
            recording.store.put_inputs(run, &recording.inputs)?;
            Some((recording.store.clone(), run))
        }
        None => None,
    };
    let ledger = match &stored {
        Some((store, run)) if resuming.is_some() => {
            let rows = resume::stored_rows(&resumed);
            Ledger::resume_in_store(&ledger_path, store.clone(), *run, &rows)?
        }
        Some((store, run)) => Ledger::create_in_store(&ledger_path, store.clone(), *run)?,
        None => Ledger::create(&ledger_path)?,
    };
    let resumed: Vec<Mutex<Option<PartResume>>> = match resuming {
        Some(_) => resumed.into_iter().map(Mutex::new).collect(),
        None => tasks.iter().map(|_| Mutex::new(None)).collect(),
    };
    let weights = plan.out.join("weights");
    if experiment.budget.keep_weights != KeepWeights::None
        || matches!(experiment.evaluator, EvaluatorConfig::Supernet(_))
    {
        std::fs::create_dir_all(&weights)
            .with_context(|| format!("creating {}", weights.display()))?;
    }

    let progress =
        ProgressBar::new((tasks.len() as u64).saturating_mul(experiment.budget.evaluations));
    progress.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} evaluations ({per_sec}) {msg}",
        )
        .expect("the progress template is valid")
        .progress_chars("=> "),
    );
    let derive = plan.derive;
    let maximize = prepared.objective.maximize;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<RunOutcome>>> =
        Mutex::new((0..tasks.len()).map(|_| None).collect());
    let jobs = plan.jobs.clamp(1, tasks.len().max(1));
    let searching = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(c, seed)) = tasks.get(i) else {
                        break;
                    };
                    let mut recorder = FolderRecorder {
                        out: &plan.out,
                        ledger: &ledger,
                        progress: &progress,
                        weights: &weights,
                        keep: experiment.budget.keep_weights,
                        fronts: Fronts::new(maximize),
                        lineage: prepared.env().growth().map(|g| (g, Lineages::default())),
                        rows: plan.keep_rows.then(Vec::new),
                        part: parts[i].clone(),
                        store: stored.as_ref().map(|(store, run)| (store.as_ref(), *run)),
                        recorded: Recorded::default(),
                    };
                    let part = resumed[i].lock().unwrap_or_else(|p| p.into_inner()).take();
                    let mut from = None;
                    match part {
                        Some(PartResume::Ended { rows, result }) => {
                            // It ended before: only its rows are taken in again.
                            for row in &rows {
                                recorder.restore(row);
                            }
                            let kept = (
                                recorder.fronts,
                                recorder.lineage.map(|(_, l)| l),
                                recorder.rows.unwrap_or_default(),
                            );
                            let run = Run {
                                result,
                                derived: Vec::new(),
                            };
                            results.lock().unwrap_or_else(|p| p.into_inner())[i] =
                                Some(Ok((run, kept)));
                            continue;
                        }
                        Some(PartResume::Going { resume, recorded }) => {
                            for row in resume.iter().flat_map(|r| &r.rows) {
                                recorder.restore(row);
                            }
                            recorder.recorded = recorded;
                            from = resume;
                        }
                        None => {}
                    }
                    let options = PartOptions {
                        checkpoints: stored.is_some(),
                        from,
                        workers: stored
                            .as_ref()
                            .filter(|_| plan.store.as_ref().is_some_and(|r| r.workers))
                            .map(|(store, run)| (store.clone(), *run)),
                    };
                    // A panic in one run (a controller's bug, say) fails that run alone;
                    // the others go on and every row already written stays.
                    let mut outcome =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            let run =
                                prepared.run_deriving(c, seed, &mut recorder, derive, options)?;
                            Ok((
                                run,
                                (
                                    recorder.fronts,
                                    recorder.lineage.map(|(_, l)| l),
                                    recorder.rows.unwrap_or_default(),
                                ),
                            ))
                        }))
                        .unwrap_or_else(|payload| {
                            let name = experiment.controller[c].name();
                            let message = archforge::evaluator::panic_message(payload.as_ref());
                            Err(anyhow!(
                                "controller `{name}`, seed {seed}: panicked: {message}"
                            ))
                        });
                    if let Some((store, run)) = &stored {
                        let name = experiment.controller[c].name();
                        let end = outcome.as_ref().ok().map(|(run, _)| part_end(&run.result));
                        // Its rows reach the store before its end is recorded.
                        let recorded = ledger
                            .flush()
                            .and_then(|()| store.end_part(*run, &name, seed, end.as_ref()));
                        if let Err(e) = recorded {
                            outcome = outcome.and(Err(e.into()));
                        }
                    }
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
                }
            });
        }
    });
    progress.finish_and_clear();
    let search_seconds = searching.elapsed().as_secs_f64();

    let mut finished = Vec::with_capacity(tasks.len());
    let mut derived = Vec::new();
    let mut fronts = Fronts::new(maximize);
    let mut lineages: Option<Lineages> = None;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for r in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match r.expect("every task ran") {
            Ok((run, (run_fronts, run_lineage, run_rows))) => {
                finished.push(run.result);
                derived.extend(run.derived);
                fronts.merge(run_fronts);
                if let Some(l) = run_lineage {
                    lineages.get_or_insert_with(Lineages::default).merge(l);
                }
                rows.extend(run_rows);
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    if derive > 0 {
        Ledger::rewrite(&plan.out.join("derived.csv"), &derived)?;
    }
    ledger.flush()?;
    drop(ledger);
    // In plan order (controller, seed, proposal): as recorded with one job at a time, else
    // sorted and rewritten.
    if jobs > 1 {
        order_ledger(&ledger_path, &tasks, experiment)?;
    }
    let report = report::write(&plan.out, &context, prepared.env(), &finished, &fronts)?;
    if let Some(lineages) = &lineages {
        let runs: Vec<(String, u64)> = tasks
            .iter()
            .map(|&(c, s)| (experiment.controller[c].name(), s))
            .collect();
        lineages.write(&plan.out, &experiment.name, &runs)?;
    }
    if let (Some(path), Some(shared)) = (
        experiment.objective.latency_table_path(),
        prepared.training.as_ref().and_then(|t| t.latency.as_ref()),
    ) {
        save_latency_table(&plan.out, &path, shared)?;
    }
    if let Some((store, run)) = &stored {
        keep_artefacts(store, *run, &plan.out)?;
        store.end_run(*run, failures.first().map(String::as_str))?;
    }
    if let Some(first) = failures.first() {
        bail!(
            "{} of {} runs failed (the others' results are in {}); first: {first}",
            failures.len(),
            tasks.len(),
            plan.out.display()
        );
    }
    Ok(Finished {
        prepared,
        out: plan.out.clone(),
        results: finished,
        rows,
        derived,
        summary: report.summary,
        best: report.best,
        search_seconds,
    })
}

/// Keeps the run folder's files in the store, but for the ledger (its rows are there
/// already) and weights (which stay in the folder).
pub fn keep_artefacts(store: &Store, run: RunId, out: &Path) -> Result<()> {
    for entry in std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_file()
            || name == "evaluations.csv"
            || name.ends_with(".safetensors")
        {
            continue;
        }
        let content = std::fs::read(entry.path()).with_context(|| format!("reading {}", name))?;
        store.put_artefact(run, &name, &content)?;
    }
    Ok(())
}

/// Keeps the latency table for the next run on this machine, and writes how far its sums were
/// from the measured latencies (`latency_check.csv`, and one line on standard error).
fn save_latency_table(out: &Path, path: &Path, shared: &SharedLatencyTable) -> Result<()> {
    let table = shared.table.lock().unwrap_or_else(|p| p.into_inner());
    table.save(path)?;
    let checks = shared.checks.lock().unwrap_or_else(|p| p.into_inner());
    archforge::record::write_rows(&out.join("latency_check.csv"), &checks)?;
    if !checks.is_empty() {
        let errors: Vec<f64> = checks
            .iter()
            .map(|c| 100.0 * (c.table_ms - c.measured_ms) / c.measured_ms)
            .collect();
        let mean_abs = errors.iter().map(|e| e.abs()).sum::<f64>() / errors.len() as f64;
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        eprintln!(
            "latency table ({} entries, {}): its sums differ from the measured latencies by {mean_abs:.1}% on average (mean signed {mean:+.1}%, {} candidates)",
            table.entries.len(),
            path.display(),
            checks.len()
        );
    }
    Ok(())
}

/// Rewrites the ledger sorted by (controller order in the plan, seed, proposal).
fn order_ledger(
    path: &Path,
    tasks: &[(usize, u64)],
    experiment: &crate::config::Experiment,
) -> Result<()> {
    let mut rows = Ledger::read(path)?;
    let order: std::collections::HashMap<(String, u64), usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, &(c, s))| ((experiment.controller[c].name(), s), i))
        .collect();
    let position = |row: &Row| {
        order
            .get(&(row.controller.clone(), row.seed))
            .copied()
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_cached_key(|r| (position(r), r.proposal));
    Ledger::rewrite(path, &rows)?;
    Ok(())
}
