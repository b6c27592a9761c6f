//! `archforge compress` (N2N learning): a trained teacher compressed in two stages, each a
//! search by every controller of the file on every seed — layer removal over the teacher,
//! then layer shrinkage over each run's best removal student — after which each run's best
//! student is fine-tuned longer on the whole training split and reported on the test split,
//! beside the baselines a user would pick instead at the size of the best one: the teacher's
//! widths scaled uniformly (fresh weights) and L1-norm filter pruning of the teacher (its
//! weights), trained exactly as the final students.
//!
//! The run folder holds `experiment.toml`; `teacher/` when the teacher is trained here;
//! `removal/` and `shrinkage/RUN/` (the stages' run folders: ledgers flushed per student,
//! curves, fronts, best weights); `final/RUN/` and `baselines/{uniform,l1-pruned}/` (trained
//! networks: `trained.json`, weights, graph); `compress.csv` and `compress.md` (teacher,
//! students, baselines: params, MACs, latency, validation and test accuracy, seconds);
//! `compression_{reward,ratio,accuracy}.svg` (over updates, a line per controller) and
//! `pareto_*` (validation accuracy against size over every student of both stages).
//!
//! With a store, the compression and each of its searches are stored runs, and `--resume`
//! goes on from where a killed one was ([`StoredWorkflow`]). With `--workers`, workers train
//! the searches' students, each search recorded with what they prepare it from
//! ([`compress_inputs`]); their best students' weights come back through the store.

use crate::config::ExperimentFile;
use crate::registry::{ControllerConfig, EnvironmentConfig};
use crate::report::pareto::Fronts;
use crate::report::plot::{self, Axes, Curve};
use crate::resume;
use crate::run_folder::{create_run_folder, run_file_stem};
use crate::runner::{self, Prepared};
use crate::teacher::ScoredTeacher;
use crate::workflows::compress_inputs;
use crate::workflows::stored_workflow::StoredWorkflow;
use crate::workflows::train::{Lesson, TrainedNetwork, finished, train_into, train_teacher};
use anyhow::{Context, Result, anyhow, bail};
use archforge::Candidate;
use archforge::data::Splits;
use archforge::ledger::Row;
use archforge::nn::TrainConfig;
use archforge::objective::{Limits, RewardKind};
use archforge::search::{KeepWeights, RunResult, parse_decisions};
use archforge::weights::Snapshot;
use archforge_environments::Network;
use archforge_environments::compress::{Anatomy, Edit, student, student_arch};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What to compress with: the seeds, the run folder, runs at a time within a stage.
#[derive(Debug, Clone)]
pub struct CompressPlan {
    /// Seeds, each run once per controller.
    pub seeds: Vec<u64>,
    /// The run folder (must not exist, or be empty).
    pub out: PathBuf,
    /// Runs at a time.
    pub jobs: usize,
    /// The store it is recorded in (its run, and each search's under it).
    pub store: Option<runner::Recording>,
}

/// One line of the summary: the teacher, a final student or a baseline.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryLine {
    /// `teacher`, `student`, `uniform` or `l1-pruned`.
    pub role: String,
    /// The controller that found it (students).
    pub controller: String,
    /// Its run's seed (students).
    pub seed: Option<u64>,
    /// What it is (the edits that made it).
    pub arch: String,
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates of one forward pass.
    pub macs: u64,
    /// Batch-1 latency, milliseconds.
    pub latency_ms: Option<f64>,
    /// The teacher's parameters over its own.
    pub compression: f64,
    /// Validation accuracy (percent).
    pub valid_accuracy: Option<f64>,
    /// Test accuracy (percent): what nothing in the search saw.
    pub test_accuracy: Option<f64>,
    /// The `n2n` reward of its validation accuracy.
    pub reward: Option<f64>,
    /// Seconds spent on it: the teacher's or the final training's, or a run's whole search.
    pub seconds: f64,
}

/// A run's best student of a stage.
struct Pick {
    controller: usize,
    seed: u64,
    candidate: Candidate,
    weights: Arc<Snapshot>,
    reward: f64,
}

/// One student's point on the compression curves.
struct CurvePoint {
    controller: String,
    seed: u64,
    update: usize,
    reward: Option<f64>,
    ratio: Option<f64>,
    accuracy: Option<f64>,
}

/// Compresses the file's teacher as the module documentation says; returns the summary.
pub fn compress(file: &ExperimentFile, plan: &CompressPlan) -> Result<Vec<SummaryLine>> {
    if plan.store.as_ref().is_some_and(|r| r.workers)
        && let Some(why) = file.experiment.evaluator.workers_refusal()
    {
        bail!("{}: --workers: {why}", file.path.display());
    }
    let started = Instant::now();
    let out = &plan.out;
    let resuming = plan.store.as_ref().is_some_and(|r| r.resume.is_some());
    // The record begins (or is claimed) when the folder opens: after every check that needs
    // no folder.
    let open_folder = || -> Result<Option<StoredWorkflow>> {
        let record = plan
            .store
            .as_ref()
            .map(|recording| {
                let latency = file.experiment.objective.kind == RewardKind::Mnas;
                let refusal = resume::unresumable(&file.experiment, false, latency);
                StoredWorkflow::begin(recording, file, out, refusal, "")
            })
            .transpose()?;
        if resuming {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        } else {
            create_run_folder(out)?;
        }
        std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
        Ok(record)
    };
    let mut staged = file.clone();
    let e = &mut staged.experiment;
    e.budget.keep_weights = KeepWeights::Best;
    let teacher_config = e
        .teacher
        .as_mut()
        .ok_or_else(|| anyhow!("{}: compress needs a [teacher]", file.path.display()))?;
    let mut record = None;
    let mut teacher_seconds = 0.0;
    let named = teacher_config.path.is_some();
    let folder = match teacher_config.path.clone() {
        Some(folder) => folder,
        None => {
            record = open_folder()?;
            let folder = out.join("teacher");
            match finished(&folder).filter(|_| resuming) {
                Some(trained) => {
                    eprintln!("teacher: trained before, in {}", folder.display());
                    teacher_seconds = trained["train_seconds"].as_f64().unwrap_or(0.0);
                }
                None => {
                    if resuming && folder.exists() {
                        std::fs::remove_dir_all(&folder)
                            .with_context(|| format!("removing {}", folder.display()))?;
                    }
                    eprintln!("teacher: training it into {}", folder.display());
                    teacher_seconds = train_teacher(file, &folder)?.seconds;
                }
            }
            folder
        }
    };
    teacher_config.path = Some(std::path::absolute(&folder).unwrap_or(folder.clone()));
    let data = file.load_data()?;
    let distill = file.experiment.distill.clone().unwrap_or_default();
    let teacher = ScoredTeacher::load(&folder, file, &data, &distill)?;
    eprintln!(
        "teacher: {} parameters, {:.2}% valid, {:.2}% test ({})",
        teacher.params,
        teacher.valid_accuracy,
        teacher.test_accuracy,
        folder.display()
    );
    let removal_first = matches!(
        file.experiment.environment,
        EnvironmentConfig::LayerRemoval(_)
    );
    let first = if removal_first {
        "removal"
    } else {
        "shrinkage"
    };
    staged.experiment.name = format!("{}.{first}", file.experiment.name);
    // With a trained teacher, everything the first stage checks is checked before the run
    // folder exists.
    let first_stage = Prepared::compressing(&staged, &teacher, teacher.network.clone())?;
    if named {
        record = open_folder()?;
    }
    let compressed = Compression {
        file,
        plan,
        staged: &staged,
        teacher: &teacher,
        teacher_seconds,
        data: &data,
        record: record.as_ref(),
        removal_first,
    }
    .run(first_stage);
    if let Some(record) = &record {
        let failure = compressed.as_ref().err().map(|e| format!("{e:#}"));
        record.end(out, failure.as_deref())?;
    }
    eprintln!(
        "compress: {:.1} s in all; results in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    compressed
}

/// A compression whose teacher is trained and scored and whose run folder is open: its
/// stages, final students and baselines still to come.
struct Compression<'a> {
    file: &'a ExperimentFile,
    plan: &'a CompressPlan,
    /// The file as its searches run (the best students' weights kept, the teacher's path).
    staged: &'a ExperimentFile,
    teacher: &'a ScoredTeacher,
    teacher_seconds: f64,
    data: &'a Splits,
    record: Option<&'a StoredWorkflow>,
    removal_first: bool,
}

impl Compression<'_> {
    /// The stages from `first_stage` on, the final students and the baselines; the summary.
    fn run(&self, first_stage: Prepared<'_>) -> Result<Vec<SummaryLine>> {
        let (file, plan, teacher, data) = (self.file, self.plan, self.teacher, self.data);
        let out = &plan.out;
        let compress = file.experiment.compress.clone().unwrap_or_default();
        let shrinkage_file = |stage: &ExperimentFile, run: &str| {
            let mut f = stage.clone();
            f.experiment.name = format!("{}.shrinkage.{run}", file.experiment.name);
            f.experiment.environment = EnvironmentConfig::LayerShrinkage(compress.shrinkage());
            for controller in &mut f.experiment.controller {
                if let ControllerConfig::Reinforce(c) | ControllerConfig::Ppo(c) = controller {
                    c.policy = compress.shrinkage_policy.clone();
                    if let Some(rate) = compress.shrinkage_learning_rate {
                        c.learning_rate = rate;
                    }
                }
            }
            f
        };
        // A search over `network`: with workers, recorded with what they prepare it from.
        let stage_plan =
            |controllers: Vec<usize>, seeds: Vec<u64>, out: PathBuf, jobs, network: &Network| {
                let store = match self.record {
                    Some(record) => {
                        let mut recording = record.stage(&out)?;
                        if record.workers() {
                            recording.inputs = compress_inputs::inputs(teacher, network)?;
                        }
                        Some(recording)
                    }
                    None => None,
                };
                Ok::<_, anyhow::Error>(runner::Plan {
                    store,
                    controllers,
                    seeds,
                    out,
                    jobs,
                    derive: 0,
                    keep_rows: true,
                })
            };
        let controllers: Vec<usize> = (0..file.experiment.controller.len()).collect();
        let mut points = Vec::new();
        let mut fronts = Fronts::new(true);
        let first = if self.removal_first {
            "removal"
        } else {
            "shrinkage"
        };
        eprintln!(
            "{first}: {} runs x {} students",
            controllers.len() * plan.seeds.len(),
            file.experiment.budget.evaluations
        );
        let (mut picks, mut seconds) = stage(
            first_stage,
            teacher.params,
            stage_plan(
                controllers,
                plan.seeds.clone(),
                out.join(first),
                plan.jobs,
                &teacher.network,
            )?,
            0,
            &mut points,
            &mut fronts,
        )?;
        if self.removal_first {
            let mut better = Vec::with_capacity(picks.len());
            for pick in picks {
                let run = run_file_stem(
                    &file.experiment.controller[pick.controller].name(),
                    pick.seed,
                );
                eprintln!("shrinkage: {run}, over `{}`", pick.candidate.label);
                let network = Arc::new(Network {
                    arch: pick.candidate.arch().clone(),
                    weights: pick.weights.clone(),
                });
                let shrinking = shrinkage_file(self.staged, &run);
                let (found, spent) = stage(
                    Prepared::compressing(&shrinking, teacher, network.clone())?,
                    teacher.params,
                    stage_plan(
                        vec![pick.controller],
                        vec![pick.seed],
                        out.join("shrinkage").join(&run),
                        1,
                        &network,
                    )?,
                    file.experiment.budget.evaluations as usize,
                    &mut points,
                    &mut fronts,
                )?;
                *seconds.entry((pick.controller, pick.seed)).or_default() +=
                    spent[&(pick.controller, pick.seed)];
                better.push(match found.into_iter().next() {
                    Some(mut shrunk) if shrunk.reward >= pick.reward => {
                        // Name the student by both stages' edits.
                        let both: Vec<&str> =
                            [pick.candidate.label.as_str(), &shrunk.candidate.label]
                                .into_iter()
                                .filter(|l| *l != "unchanged")
                                .collect();
                        if !both.is_empty() {
                            shrunk.candidate.label = both.join(" ");
                        }
                        shrunk
                    }
                    _ => pick,
                });
            }
            picks = better;
        }
        let final_config = TrainConfig {
            epochs: compress.final_epochs,
            steps: None,
            ..file.experiment.training.clone().unwrap_or_default()
        };
        let lesson = |seed| Lesson {
            data,
            config: &final_config,
            seed,
            teacher: Some(teacher.teacher.clone()),
        };
        let mut lines = vec![line(
            "teacher",
            "",
            None,
            &teacher_summary(teacher, self.teacher_seconds),
            teacher,
        )];
        for pick in &picks {
            let name = file.experiment.controller[pick.controller].name();
            let run = run_file_stem(&name, pick.seed);
            eprintln!(
                "final: {run}, `{}`, {} epochs",
                pick.candidate.label, compress.final_epochs
            );
            let dir = out.join("final").join(&run);
            let trained = self.trained(&dir, || {
                let candidate = pick.candidate.clone().with_init(pick.weights.clone());
                let extra = serde_json::json!({
                    "controller": name,
                    "seed": pick.seed,
                    "search_reward": pick.reward,
                    "teacher": teacher.folder,
                });
                train_into(&dir, &candidate, lesson(pick.seed), extra)
            })?;
            let mut l = line("student", &name, Some(pick.seed), &trained, teacher);
            l.seconds = seconds[&(pick.controller, pick.seed)] + trained.seconds;
            lines.push(l);
        }
        if compress.baselines
            && let Some(best) = lines
                .iter()
                .filter(|l| l.role == "student")
                .max_by(|a, b| {
                    a.reward
                        .unwrap_or(f64::MIN)
                        .total_cmp(&b.reward.unwrap_or(f64::MIN))
                })
                .cloned()
        {
            lines.extend(self.baselines(best.params, &lesson(file.experiment.seed))?);
        }
        archforge::record::write_rows(&out.join("compress.csv"), &lines)?;
        std::fs::write(out.join("compress.md"), markdown(&lines))?;
        fronts.write(
            out,
            &format!("{}: every student", file.experiment.name),
            None,
        )?;
        write_curves(out, &file.experiment.name, &points, self.removal_first)?;
        Ok(lines)
    }

    /// The network trained into `dir` (created) by `train` — or, when the compression
    /// resumes and its training had finished, as its `trained.json` says.
    fn trained(
        &self,
        dir: &Path,
        train: impl FnOnce() -> Result<TrainedNetwork>,
    ) -> Result<TrainedNetworkView> {
        if self.record.is_some_and(StoredWorkflow::resuming)
            && let Some(summary) = finished(dir)
        {
            eprintln!("{}: trained before", dir.display());
            return Ok(TrainedNetworkView::of(&summary));
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TrainedNetworkView::of(&train()?.summary))
    }

    /// The uniform-width and L1-pruned teachers at `params` parameters, each trained as
    /// `lesson` says into `baselines/`.
    fn baselines(&self, params: u64, lesson: &Lesson<'_>) -> Result<Vec<SummaryLine>> {
        let teacher = self.teacher;
        let net = &teacher.network;
        let anatomy = Anatomy::of(&net.arch);
        let (edit, factor): (Edit, f64) = Edit::sized(net, &anatomy, params)?;
        let uniform = Candidate::new(
            Vec::new(),
            format!("uniform x{factor:.3}"),
            student_arch(net, &anatomy, &edit)?,
        );
        let pruned = student(net, &anatomy, &edit)?;
        let pruned = Candidate::new(Vec::new(), format!("l1-pruned x{factor:.3}"), pruned.arch)
            .with_init(Arc::new(pruned.weights));
        let mut lines = Vec::new();
        for (role, candidate) in [("uniform", uniform), ("l1-pruned", pruned)] {
            eprintln!(
                "baseline: {} ({} parameters)",
                candidate.label,
                candidate.params().unwrap_or(0)
            );
            let dir = self.plan.out.join("baselines").join(role);
            let trained = self.trained(&dir, || {
                let again = Lesson {
                    data: lesson.data,
                    config: lesson.config,
                    seed: lesson.seed,
                    teacher: lesson.teacher.clone(),
                };
                let extra = serde_json::json!({ "baseline": role, "width_factor": factor });
                train_into(&dir, &candidate, again, extra)
            })?;
            lines.push(line(role, "", None, &trained, teacher));
        }
        Ok(lines)
    }
}

/// A stage's picks (each run's best student with its weights) and each run's search seconds.
type StageResult = (Vec<Pick>, BTreeMap<(usize, u64), f64>);

/// Runs one stage (every run of `plan`, prepared over its network) into its run folder;
/// returns each run's best student with its trained weights, and each run's search seconds.
/// `offset` is the number of students before this stage, for the curves.
fn stage(
    prepared: Prepared<'_>,
    teacher_params: u64,
    plan: runner::Plan,
    offset: usize,
    points: &mut Vec<CurvePoint>,
    fronts: &mut Fronts,
) -> Result<StageResult> {
    let experiment = prepared.experiment();
    let names: Vec<String> = experiment.controller.iter().map(|c| c.name()).collect();
    let batch: BTreeMap<String, usize> = experiment
        .controller
        .iter()
        .map(|c| (c.name(), c.batch().max(1)))
        .collect();
    let finished = runner::execute_prepared(prepared, &plan)?;
    for row in &finished.rows {
        fronts.add(row);
        points.push(curve_point(
            row,
            offset,
            batch[&row.controller],
            teacher_params,
        ));
    }
    let mut picks = Vec::new();
    let mut seconds = BTreeMap::new();
    let pairs = plan
        .controllers
        .iter()
        .flat_map(|&c| plan.seeds.iter().map(move |&s| (c, s)));
    for ((c, seed), result) in pairs.zip(&finished.results) {
        seconds.insert((c, seed), result.seconds);
        match best_of(&finished.prepared, &plan.out, c, seed, result)? {
            Some(pick) => picks.push(pick),
            None => eprintln!(
                "{}: {} seed {seed}: no student trained; the run has no final student",
                plan.out.display(),
                names[c]
            ),
        }
    }
    Ok((picks, seconds))
}

/// The run's best student, rebuilt from its decisions, with the weights its training left.
fn best_of(
    prepared: &Prepared<'_>,
    out: &Path,
    c: usize,
    seed: u64,
    result: &RunResult,
) -> Result<Option<Pick>> {
    let Some(best) = result.improvements.last() else {
        return Ok(None);
    };
    let decisions = parse_decisions(&best.row.record.decisions).ok_or_else(|| {
        anyhow!(
            "the ledger's decisions `{}` do not parse",
            best.row.record.decisions
        )
    })?;
    let candidate = prepared.env().build(&decisions)?;
    let name = prepared.experiment().controller[c].name();
    let path = out
        .join("weights")
        .join(format!("{}-best.safetensors", run_file_stem(&name, seed)));
    let weights = Snapshot::load(&path)?;
    Ok(Some(Pick {
        controller: c,
        seed,
        candidate,
        weights: Arc::new(weights),
        reward: best.reward,
    }))
}

fn curve_point(row: &Row, offset: usize, batch: usize, teacher_params: u64) -> CurvePoint {
    let ok = row.record.status == archforge::evaluator::StatusKind::Ok;
    CurvePoint {
        controller: row.controller.clone(),
        seed: row.seed,
        update: (offset + row.proposal as usize) / batch,
        reward: row.reward,
        ratio: row
            .record
            .params
            .filter(|&p| ok && p > 0)
            .map(|p| teacher_params as f64 / p as f64),
        accuracy: row.record.search_metric.filter(|_| ok),
    }
}

fn teacher_summary(teacher: &ScoredTeacher, seconds: f64) -> TrainedNetworkView {
    TrainedNetworkView {
        arch: "teacher".into(),
        params: teacher.params,
        macs: teacher.macs,
        latency_ms: Some(teacher.latency_ms),
        valid: Some(teacher.valid_accuracy),
        test: Some(teacher.test_accuracy),
        seconds,
    }
}

/// What a summary line reads from a trained network.
#[derive(Clone)]
struct TrainedNetworkView {
    arch: String,
    params: u64,
    macs: u64,
    latency_ms: Option<f64>,
    valid: Option<f64>,
    test: Option<f64>,
    seconds: f64,
}

impl TrainedNetworkView {
    /// What a trained network's `trained.json` says of it.
    fn of(summary: &serde_json::Value) -> Self {
        let count = |key: &str| summary[key].as_u64().unwrap_or(0);
        TrainedNetworkView {
            arch: summary["arch"].as_str().unwrap_or_default().to_string(),
            params: count("params"),
            macs: count("macs"),
            latency_ms: summary["latency_ms"].as_f64(),
            valid: summary["valid_accuracy"].as_f64(),
            test: summary["test_accuracy"].as_f64(),
            seconds: summary["train_seconds"].as_f64().unwrap_or(0.0),
        }
    }
}

fn line(
    role: &str,
    controller: &str,
    seed: Option<u64>,
    view: &TrainedNetworkView,
    teacher: &ScoredTeacher,
) -> SummaryLine {
    SummaryLine {
        role: role.into(),
        controller: controller.into(),
        seed,
        arch: view.arch.clone(),
        params: view.params,
        macs: view.macs,
        latency_ms: view.latency_ms,
        compression: teacher.params as f64 / view.params.max(1) as f64,
        valid_accuracy: view.valid,
        test_accuracy: view.test,
        reward: view
            .valid
            .map(|v| teacher.score(Limits::default()).reward(view.params, v)),
        seconds: view.seconds,
    }
}

/// The summary as a Markdown table.
pub fn markdown(lines: &[SummaryLine]) -> String {
    let num =
        |v: Option<f64>, digits: usize| v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"));
    let mut md = String::from(
        "| | run | network | params | compression | MACs | latency (ms) | valid % | test % | reward | seconds |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for l in lines {
        let run = match l.seed {
            Some(seed) => format!("{} seed {seed}", l.controller),
            None => String::new(),
        };
        md.push_str(&format!(
            "| {} | {run} | {} | {} | {:.1}x | {} | {} | {} | {} | {} | {:.0} |\n",
            l.role,
            l.arch,
            l.params,
            l.compression,
            l.macs,
            num(l.latency_ms, 3),
            num(l.valid_accuracy, 2),
            num(l.test_accuracy, 2),
            num(l.reward, 4),
            l.seconds
        ));
    }
    md
}

/// The compression curves: per controller and update, the mean over its runs of each
/// update's mean reward, compression ratio and validation accuracy (± the spread over runs).
fn write_curves(out: &Path, title: &str, points: &[CurvePoint], two_stages: bool) -> Result<()> {
    type Metric = fn(&CurvePoint) -> Option<f64>;
    let metrics: [(&str, &str, Metric); 3] = [
        ("reward", "n2n reward (mean ± std over seeds)", |p| {
            p.reward
        }),
        (
            "ratio",
            "compression: teacher params / student params",
            |p| p.ratio,
        ),
        (
            "accuracy",
            "validation accuracy % (successful students)",
            |p| p.accuracy,
        ),
    ];
    let x = if two_stages {
        "update (removal, then shrinkage)"
    } else {
        "update"
    };
    let mut csv = String::from("controller,update,metric,mean,std,runs\n");
    for (name, y, metric) in metrics {
        // controller -> update -> seed -> values
        let mut by: BTreeMap<&str, BTreeMap<usize, BTreeMap<u64, Vec<f64>>>> = BTreeMap::new();
        for p in points {
            if let Some(v) = metric(p).filter(|v| v.is_finite()) {
                by.entry(&p.controller)
                    .or_default()
                    .entry(p.update)
                    .or_default()
                    .entry(p.seed)
                    .or_default()
                    .push(v);
            }
        }
        let mut curves = Vec::new();
        for (controller, updates) in &by {
            let mut curve = Vec::new();
            for (&update, seeds) in updates {
                let means: Vec<f64> = seeds
                    .values()
                    .map(|v| v.iter().sum::<f64>() / v.len() as f64)
                    .collect();
                let (mean, std) = mean_std(&means);
                csv.push_str(&format!(
                    "{controller},{update},{name},{mean},{std},{}\n",
                    means.len()
                ));
                curve.push((update as f64, mean, std));
            }
            curves.push(Curve {
                name: controller.to_string(),
                points: curve,
            });
        }
        if curves.iter().any(|c| !c.points.is_empty()) {
            let axes = Axes { x, y, log_x: false };
            plot::lines(
                &out.join(format!("compression_{name}.svg")),
                &format!("{title}: {name}"),
                &axes,
                &curves,
            )?;
        }
    }
    std::fs::write(out.join("compression_curve.csv"), csv)?;
    Ok(())
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}
