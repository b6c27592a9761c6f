//! One search run: the loop that ties a controller, an environment, an evaluator and an
//! objective together until the budget is spent.
//!
//! Each step: the controller proposes; the environment builds each proposal (a build error is
//! an `Invalid` outcome); the evaluator scores it; the loop charges the budget — once per
//! evaluation, whatever the outcome, except that a repeat served by the cache is free when
//! `count_duplicates` is off; the objective turns the outcome into a reward (a NaN reward
//! makes the evaluation `Failed`); the row goes to the caller's sink (the ledger) at once; the
//! controller observes the batch. The loop ends when the budget is exhausted, when the
//! evaluator says it can score nothing more (an error), or, when repeats are free, when the
//! controller has proposed nothing new for a long while (the space is exhausted).

use crate::budget::{Budget, BudgetLimits};
use crate::candidate::Candidate;
use crate::controller::{Controller, Evaluated};
use crate::env::Environment;
use crate::error::{Error, Result};
use crate::evaluator::{Evaluator, Outcome, Status, StatusKind};
use crate::ledger::Row;
use crate::objective::Objective;
use crate::record::ArchRecord;
pub use crate::record::{join_decisions, parse_decisions};
use crate::resume::{Resume, RngState, RunCheckpoint};
use crate::rng::Rng;
use crate::weights::Snapshot;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// Which candidates' trained weights a run keeps (`[budget] keep_weights`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepWeights {
    /// None.
    #[default]
    None,
    /// Each run's best candidate so far (by reward).
    Best,
    /// Every candidate's.
    All,
}

/// Where a run's results go as they happen: every ledger row, and the trained weights the
/// run keeps. A closure taking rows is a recorder that keeps no weights.
pub trait Recorder {
    /// Records one evaluation.
    fn record(&mut self, row: &Row) -> Result<()>;

    /// Keeps the trained weights of `row`'s candidate: every candidate's with
    /// `keep_weights = "all"`, each new best's with `"best"`.
    fn keep(&mut self, _row: &Row, _weights: &Snapshot) -> Result<()> {
        Ok(())
    }

    /// Keeps the weights the evaluator shared across the candidates of the run of
    /// `controller` on `seed` (a supernet's store), when the run ends.
    fn keep_shared(&mut self, _controller: &str, _seed: u64, _weights: &Snapshot) -> Result<()> {
        Ok(())
    }

    /// Keeps weights the controller trained that later runs may read
    /// ([`crate::Controller::trained_weights`]), under `name`; they are the same for every
    /// seed of a controller.
    fn keep_trained(&mut self, _controller: &str, _name: &str, _weights: &Snapshot) -> Result<()> {
        Ok(())
    }

    /// Keeps what the evaluator of the run of `controller` on `seed` resolved while it ran
    /// ([`crate::Evaluator::resolved`]), when the run ends.
    fn keep_resolved(
        &mut self,
        _controller: &str,
        _seed: u64,
        _resolved: &serde_json::Value,
    ) -> Result<()> {
        Ok(())
    }

    /// Keeps a checkpoint of the run ([`RunSettings::checkpoint_every`]); every row before
    /// it has been recorded.
    fn checkpoint(&mut self, _checkpoint: &RunCheckpoint) -> Result<()> {
        Ok(())
    }
}

impl<F: FnMut(&Row) -> Result<()>> Recorder for F {
    fn record(&mut self, row: &Row) -> Result<()> {
        self(row)
    }
}

/// A recorder that keeps nothing (benchmarks, checks that look only at the result).
pub struct Discard;

impl Recorder for Discard {
    fn record(&mut self, _row: &Row) -> Result<()> {
        Ok(())
    }
}

/// Proposals in a row that cost no budget after which a run stops as exhausted.
pub const MAX_FREE_PROPOSALS: u64 = 10_000;

/// The settings of one run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The controller's name in the experiment (the ledger's `controller` column).
    pub controller: String,
    /// The run's seed.
    pub seed: u64,
    /// Proposals asked for at a time.
    pub batch: usize,
    /// The budget.
    pub limits: BudgetLimits,
    /// Whether a repeat served by the cache still costs an evaluation.
    pub count_duplicates: bool,
    /// Which candidates' trained weights go to the recorder.
    pub keep_weights: KeepWeights,
    /// The objective.
    pub objective: Objective,
    /// Evaluations between two checkpoints given to the recorder; `None`: none.
    pub checkpoint_every: Option<u64>,
}

/// The best evaluation of a run so far, by reward.
#[derive(Debug, Clone, PartialEq)]
pub struct Best {
    /// Its ledger row.
    pub row: Row,
    /// Its reward.
    pub reward: f64,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A budget limit was reached.
    Budget,
    /// The controller kept proposing architectures already evaluated, at no cost.
    Exhausted,
}

/// What a run leaves besides its ledger rows: its best-so-far curve, kept compactly as the
/// sequence of improvements and, per counted evaluation, which improvement was best then.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The controller's name.
    pub controller: String,
    /// The seed.
    pub seed: u64,
    /// Every evaluation that improved on the best so far, in order.
    pub improvements: Vec<Best>,
    /// After counted evaluation `i` (index `i - 1`), the index of the best improvement so far.
    pub curve: Vec<Option<u32>>,
    /// Why it ended.
    pub stop: StopReason,
    /// The reward of every proposal, in order (NaN where there was none): the learning
    /// curve.
    pub rewards: Vec<f32>,
    /// Seconds spent in the controller's `propose` and `observe`.
    pub controller_seconds: f64,
    /// Seconds the whole run took.
    pub seconds: f64,
}

impl RunResult {
    /// A run that has made no evaluation yet.
    pub fn new(controller: &str, seed: u64) -> Self {
        RunResult {
            controller: controller.into(),
            seed,
            improvements: Vec::new(),
            curve: Vec::new(),
            stop: StopReason::Budget,
            rewards: Vec::new(),
            controller_seconds: 0.0,
            seconds: 0.0,
        }
    }

    /// Takes the run's next ledger row into its curves; whether it improved on the best. The
    /// run builds its result this way as it goes, and a stored run's rows rebuild it.
    pub fn add(&mut self, row: &Row) -> bool {
        self.rewards.push(row.reward.map_or(f32::NAN, |r| r as f32));
        let mut improved = false;
        if let Some(r) = row.reward.filter(|_| row.record.status == StatusKind::Ok)
            && self.best().is_none_or(|b| r > b.reward)
        {
            self.improvements.push(Best {
                row: row.clone(),
                reward: r,
            });
            improved = true;
        }
        if row.counted {
            let current = self.improvements.len().checked_sub(1).map(|i| i as u32);
            self.curve.resize(row.step as usize, current);
        }
        improved
    }

    /// Counted evaluations the run made.
    pub fn evaluations(&self) -> usize {
        self.curve.len()
    }

    /// The best evaluation after `evaluations` counted evaluations; a run that ended earlier
    /// answers with the best it ended with.
    pub fn best_at(&self, evaluations: usize) -> Option<&Best> {
        let reached = evaluations.min(self.curve.len()).checked_sub(1)?;
        self.curve[reached].map(|i| &self.improvements[i as usize])
    }

    /// The best evaluation of the whole run.
    pub fn best(&self) -> Option<&Best> {
        self.improvements.last()
    }
}

/// Runs one search, handing every row to `recorder` as soon as it is evaluated.
pub fn run(
    env: &dyn Environment,
    controller: &mut dyn Controller,
    evaluator: &mut dyn Evaluator,
    settings: &RunSettings,
    rng: &mut Rng,
    recorder: &mut dyn Recorder,
) -> Result<RunResult> {
    run_from(env, controller, evaluator, settings, rng, recorder, None)
}

/// [`run`], from the start or, with `resume`, from a checkpoint: the controller, `rng`, the
/// budget and the loop's counters are restored, the rows before the checkpoint are folded
/// into the result and recalled by the evaluator (they do not go to `recorder` again), and
/// the search goes on with the checkpoint's next proposal. With
/// [`RunSettings::checkpoint_every`] set, the recorder is given a checkpoint at the first
/// boundary between batches after every so many evaluations.
pub fn run_from(
    env: &dyn Environment,
    controller: &mut dyn Controller,
    evaluator: &mut dyn Evaluator,
    settings: &RunSettings,
    rng: &mut Rng,
    recorder: &mut dyn Recorder,
    resume: Option<Resume>,
) -> Result<RunResult> {
    let started = Instant::now();
    let mut budget = Budget::new(settings.limits);
    let mut result = RunResult::new(&settings.controller, settings.seed);
    let mut scorer = Scorer::new(settings);
    let mut free_in_a_row = 0u64;
    let mut earlier_seconds = 0.0;
    if let Some(resume) = resume {
        resume.check()?;
        let c = resume.checkpoint;
        controller.restore(c.controller)?;
        *rng = c.rng.restore();
        budget = Budget::resumed(
            settings.limits,
            c.evaluations,
            c.simulated_seconds,
            c.seconds,
        );
        scorer.proposals = c.proposals;
        scorer.unbuildable = c.unbuildable.into_iter().collect();
        free_in_a_row = c.free_in_a_row;
        earlier_seconds = c.seconds;
        result.controller_seconds = c.controller_seconds;
        for row in &resume.rows {
            result.add(row);
        }
        recall(env, evaluator, &resume.rows)?;
    }
    let mut checkpointed = budget.evaluations();
    while !budget.exhausted() {
        // Never ask for more than the evaluations left.
        let left = settings
            .limits
            .evaluations
            .saturating_sub(budget.evaluations());
        let n = settings
            .batch
            .min(usize::try_from(left).unwrap_or(usize::MAX))
            .max(1);
        let asked = Instant::now();
        let batch = controller.propose(env, n, rng)?;
        result.controller_seconds += asked.elapsed().as_secs_f64();
        if batch.is_empty() {
            return Err(Error::Controller {
                controller: settings.controller.clone(),
                reason: "proposed nothing".into(),
            });
        }
        if evaluator.evaluates_ahead() {
            // The batch's candidates that build, for the evaluator to start.
            let ahead: Vec<Candidate> = batch
                .iter()
                .filter_map(|p| env.build(&p.decisions).ok())
                .collect();
            evaluator.prefetch(&ahead)?;
        }
        let mut evaluated = Vec::with_capacity(batch.len());
        for proposal in batch {
            if budget.exhausted() {
                break;
            }
            let (row, status, weights) =
                scorer.score(env, evaluator, &mut budget, &proposal.decisions, false)?;
            recorder.record(&row)?;
            let improved = result.add(&row);
            let keep = match settings.keep_weights {
                KeepWeights::None => false,
                KeepWeights::Best => improved,
                KeepWeights::All => true,
            };
            if let Some(weights) = weights.filter(|_| keep) {
                recorder.keep(&row, &weights)?;
            }
            if row.counted {
                free_in_a_row = 0;
            } else {
                free_in_a_row += 1;
            }
            evaluated.push(Evaluated {
                decisions: proposal.decisions,
                reward: row.reward,
                status: status.kind(),
            });
        }
        let told = Instant::now();
        controller.observe(env, &evaluated)?;
        result.controller_seconds += told.elapsed().as_secs_f64();
        if free_in_a_row >= MAX_FREE_PROPOSALS {
            result.stop = StopReason::Exhausted;
            break;
        }
        if let Some(every) = settings.checkpoint_every
            && !budget.exhausted()
            && budget.evaluations() / every.max(1) > checkpointed / every.max(1)
        {
            checkpointed = budget.evaluations();
            recorder.checkpoint(&RunCheckpoint {
                proposals: scorer.proposals,
                evaluations: budget.evaluations(),
                simulated_seconds: budget.simulated_seconds(),
                seconds: earlier_seconds + started.elapsed().as_secs_f64(),
                controller_seconds: result.controller_seconds,
                free_in_a_row,
                unbuildable: {
                    let mut seen: Vec<Vec<usize>> = scorer.unbuildable.iter().cloned().collect();
                    seen.sort_unstable();
                    seen
                },
                rng: RngState::of(rng),
                controller: controller.checkpoint()?,
            })?;
        }
    }
    result.seconds = earlier_seconds + started.elapsed().as_secs_f64();
    Ok(result)
}

/// Tells `evaluator` every evaluation of `rows` it made itself (not served from a cache, and
/// whose candidate builds), as the outcome the row recorded.
fn recall(env: &dyn Environment, evaluator: &mut dyn Evaluator, rows: &[Row]) -> Result<()> {
    for row in rows.iter().filter(|r| !r.cached) {
        let decisions = parse_decisions(&row.record.decisions).ok_or_else(|| {
            Error::Checkpoint(format!(
                "proposal {}: decisions `{}` do not parse",
                row.proposal, row.record.decisions
            ))
        })?;
        if let Ok(candidate) = env.build(&decisions) {
            evaluator.recall(&candidate, &crate::resume::outcome_of(row));
        }
    }
    Ok(())
}

/// Scores proposals into ledger rows: builds, evaluates, charges the budget, rewards.
struct Scorer<'a> {
    settings: &'a RunSettings,
    /// Proposals made so far (the next row's `proposal`).
    proposals: u64,
    /// Sequences that did not build, so that a repeat is free like a cached one.
    unbuildable: HashSet<Vec<usize>>,
}

impl<'a> Scorer<'a> {
    fn new(settings: &'a RunSettings) -> Self {
        Scorer {
            settings,
            proposals: 0,
            unbuildable: HashSet::new(),
        }
    }

    /// Builds and scores one proposal — evaluated, or with `rescore` scored by the
    /// evaluator's state as it stands — into its ledger row, status and the trained weights
    /// the outcome carries. A build error is an
    /// `Invalid` outcome; a NaN reward makes the outcome `Failed`. The evaluation is charged
    /// once unless it was served by a cache (or is a repeat of a sequence that does not
    /// build) and repeats are free.
    fn score(
        &mut self,
        env: &dyn Environment,
        evaluator: &mut dyn Evaluator,
        budget: &mut Budget,
        decisions: &[usize],
        rescore: bool,
    ) -> Result<(Row, Status, Option<Arc<Snapshot>>)> {
        let started = Instant::now();
        let (label, hash, mut outcome) = match env.build(decisions) {
            Ok(candidate) => {
                let outcome = if rescore {
                    evaluator.rescore(&candidate)?
                } else {
                    evaluator.evaluate(&candidate)?
                };
                (candidate.label, candidate.hash.to_string(), outcome)
            }
            Err(e) => {
                let mut outcome = Outcome::invalid(e.to_string());
                outcome.cached = !self.unbuildable.insert(decisions.to_vec());
                (String::new(), String::new(), outcome)
            }
        };
        let counted = !outcome.cached || self.settings.count_duplicates;
        let cost = if counted {
            outcome.metrics.simulated_seconds
        } else {
            0.0
        };
        if counted {
            budget.charge(1, cost);
        }
        let wall_seconds = started.elapsed().as_secs_f64();
        let update = self.proposals / self.settings.batch.max(1) as u64;
        let reward = self.settings.objective.reward(&outcome, update);
        if reward.is_none() && outcome.status == Status::Ok {
            outcome.status = Status::Failed("the reward is NaN or missing".into());
        }
        let row = Row {
            controller: self.settings.controller.clone(),
            seed: self.settings.seed,
            step: budget.evaluations(),
            proposal: self.proposals,
            record: ArchRecord {
                arch: label,
                hash,
                decisions: join_decisions(decisions),
                search_metric: outcome.metrics.search,
                reported_metric: outcome.metrics.reported,
                params: outcome.metrics.params,
                macs: outcome.metrics.macs,
                latency_ms: outcome.metrics.latency_ms,
                status: outcome.status.kind(),
                reason: outcome.status.reason().to_string(),
            },
            reward,
            cached: outcome.cached,
            counted,
            simulated_seconds: cost,
            wall_seconds,
        };
        self.proposals += 1;
        Ok((row, outcome.status, outcome.weights))
    }
}

/// ENAS's derivation, after a search: `n` proposals of the controller as it ended, each
/// rescored by the evaluator as it stands (a supernet with its final shared weights frozen,
/// every candidate on the same validation images, nothing from the cache), outside the
/// search's budget and not shown to the controller. Their rows, numbered from 0.
pub fn derive(
    env: &dyn Environment,
    controller: &mut dyn Controller,
    evaluator: &mut dyn Evaluator,
    n: usize,
    settings: &RunSettings,
    rng: &mut Rng,
) -> Result<Vec<Row>> {
    let mut budget = Budget::new(BudgetLimits {
        evaluations: n as u64,
        simulated_seconds: None,
        wall_seconds: None,
    });
    let mut scorer = Scorer::new(settings);
    controller
        .propose(env, n, rng)?
        .iter()
        .map(|p| {
            scorer
                .score(env, evaluator, &mut budget, &p.decisions, true)
                .map(|(row, ..)| row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidate::Candidate;
    use crate::conformance::Script;
    use crate::evaluator::{
        CacheMode, CachedEvaluator, Isolated, Metrics, StatusKind, TableEvaluator,
    };
    use crate::objective::RewardKind;
    use crate::toy::Toy;

    fn settings(evaluations: u64, count_duplicates: bool) -> RunSettings {
        RunSettings {
            controller: "scripted".into(),
            seed: 0,
            batch: 2,
            limits: BudgetLimits {
                evaluations,
                simulated_seconds: None,
                wall_seconds: None,
            },
            count_duplicates,
            keep_weights: KeepWeights::None,
            objective: Objective {
                kind: RewardKind::SearchMetric,
                latency: None,
                teacher: None,
                maximize: true,
                invalid_reward: -5.0,
            },
            checkpoint_every: None,
        }
    }

    fn scripted(script: &[&[usize]]) -> Script {
        Script::new(&script.iter().map(|s| s.to_vec()).collect::<Vec<_>>())
    }

    /// Runs `controller` against `evaluator` on the toy space, collecting the rows.
    fn collect(
        controller: &mut Script,
        evaluator: &mut dyn Evaluator,
        settings: &RunSettings,
    ) -> (Result<RunResult>, Vec<Row>) {
        let toy = Toy::new(4, 3).unwrap();
        let mut rows = Vec::new();
        let result = run(
            &toy,
            controller,
            evaluator,
            settings,
            &mut crate::rng::seeded(0),
            &mut |r: &Row| {
                rows.push(r.clone());
                Ok(())
            },
        );
        (result, rows)
    }

    fn toy_table() -> TableEvaluator {
        TableEvaluator::new(Toy::new(4, 3).unwrap().benchmark().unwrap())
    }

    #[test]
    fn every_proposal_becomes_a_row_and_the_best_is_tracked() {
        let mut controller = scripted(&[&[0, 0, 0, 0], &[2, 0, 2, 0], &[2, 2, 0, 0]]);
        let (result, rows) = collect(&mut controller, &mut toy_table(), &settings(5, true));
        let result = result.unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(
            rows.iter().map(|r| r.step).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        // [2, 2, 0, 0] is masked out at position 1: it does not build and is invalid.
        assert_eq!(rows[2].record.status, StatusKind::Invalid);
        assert_eq!(rows[2].reward, Some(-5.0));
        assert_eq!(controller.seen[2].status, StatusKind::Invalid);
        assert_eq!(result.evaluations(), 5);
        assert_eq!(result.best_at(1).unwrap().reward, 50.0);
        assert_eq!(result.best_at(2).unwrap().reward, 100.0);
        // Past the end of the run, the final best.
        assert_eq!(result.best_at(50).unwrap().reward, 100.0);
        assert!(result.best_at(0).is_none());
        assert_eq!(result.best().unwrap().row.record.decisions, "2-0-2-0");
        assert_eq!(controller.seen.len(), 5);
    }

    #[test]
    fn free_repeats_cost_nothing_and_end_an_exhausted_search() {
        // The third sequence does not build: its repeats are free too.
        let mut controller = scripted(&[&[0, 0, 0, 0], &[1, 0, 1, 0], &[2, 2, 0, 0]]);
        let mut evaluator = CachedEvaluator::new(toy_table(), CacheMode::Exact);
        let (result, rows) = collect(&mut controller, &mut evaluator, &settings(10, false));
        let result = result.unwrap();
        assert_eq!(result.stop, StopReason::Exhausted);
        assert_eq!(result.evaluations(), 3);
        assert!(rows.len() as u64 >= MAX_FREE_PROPOSALS);
        assert!(rows.iter().all(|r| r.counted != r.cached));
        // What is not charged costs no simulated seconds either.
        assert!(
            rows.iter()
                .filter(|r| !r.counted)
                .all(|r| r.simulated_seconds == 0.0)
        );
    }

    /// Counts its evaluations; each costs 2 simulated seconds.
    struct Counting(u32);
    impl Evaluator for Counting {
        fn evaluate(&mut self, _: &Candidate) -> Result<Outcome> {
            self.0 += 1;
            Ok(Outcome::ok(Metrics {
                search: Some(1.0),
                simulated_seconds: 2.0,
                ..Default::default()
            }))
        }
    }

    #[test]
    fn counted_repeats_cost_budget_but_are_not_evaluated_again() {
        let mut controller = scripted(&[&[0, 0, 0, 0]]);
        let mut cached = CachedEvaluator::new(Counting(0), CacheMode::Canonical);
        let (result, rows) = collect(&mut controller, &mut cached, &settings(4, true));
        assert_eq!(result.unwrap().evaluations(), 4);
        assert_eq!(rows.iter().filter(|r| r.cached).count(), 3);
        assert_eq!(rows.iter().map(|r| r.simulated_seconds).sum::<f64>(), 8.0);
    }

    #[test]
    fn a_derivation_rescores_and_never_serves_search_time_scores_from_the_cache() {
        /// Scores each candidate by how many times it was asked.
        struct Aging(u32);
        impl Evaluator for Aging {
            fn evaluate(&mut self, _: &Candidate) -> Result<Outcome> {
                self.0 += 1;
                Ok(Outcome::ok(Metrics {
                    search: Some(f64::from(self.0)),
                    ..Default::default()
                }))
            }
        }
        let toy = Toy::new(4, 3).unwrap();
        let mut controller = scripted(&[&[0, 0, 0, 0], &[1, 0, 1, 0]]);
        let mut cached = CachedEvaluator::new(Aging(0), CacheMode::Exact);
        let (_, rows) = collect(&mut controller, &mut cached, &settings(4, true));
        assert_eq!(rows.iter().filter(|r| r.cached).count(), 2);
        let derived = derive(
            &toy,
            &mut controller,
            &mut cached,
            2,
            &settings(4, true),
            &mut crate::rng::seeded(0),
        )
        .unwrap();
        assert!(derived.iter().all(|r| !r.cached));
        // Scored again, after the search's two evaluations.
        let scores: Vec<f64> = derived
            .iter()
            .filter_map(|r| r.record.search_metric)
            .collect();
        assert_eq!(scores, [3.0, 4.0]);
    }

    #[test]
    fn a_panicking_evaluator_becomes_a_failed_row_and_the_run_goes_on() {
        struct Panics;
        impl Evaluator for Panics {
            fn evaluate(&mut self, c: &Candidate) -> Result<Outcome> {
                panic!("shape mismatch in {}", c.label);
            }
        }
        let mut controller = scripted(&[&[0, 0, 0, 0]]);
        let mut evaluator = Isolated(Panics);
        let (result, rows) = collect(&mut controller, &mut evaluator, &settings(3, true));
        let result = result.unwrap();
        // Charged once each: three rows at steps 1, 2, 3.
        assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(rows.iter().all(|r| r.record.status == StatusKind::Failed
            && r.record.reason.contains("shape mismatch in 0-0-0-0")));
        assert!(rows.iter().all(|r| r.reward.is_none()));
        assert!(result.best().is_none());
        assert!(controller.seen.iter().all(|e| e.reward.is_none()));
    }

    #[test]
    fn an_evaluator_that_can_score_nothing_more_ends_the_run_and_keeps_its_rows() {
        /// Scores two candidates, then breaks.
        struct Breaks(u32);
        impl Evaluator for Breaks {
            fn evaluate(&mut self, _: &Candidate) -> Result<Outcome> {
                self.0 += 1;
                if self.0 > 2 {
                    return Err(Error::Training("the shared weights are NaN".into()));
                }
                Ok(Outcome::ok(Metrics {
                    search: Some(1.0),
                    ..Default::default()
                }))
            }
        }
        let mut controller = scripted(&[&[0, 0, 0, 0]]);
        let (result, rows) = collect(&mut controller, &mut Breaks(0), &settings(10, true));
        let err = result.unwrap_err().to_string();
        assert!(err.contains("the shared weights are NaN"), "{err}");
        assert_eq!(rows.len(), 2);
    }

    /// Rows and checkpoints, as a store keeps them; `first`: the first row's proposal.
    #[derive(Default)]
    struct Kept {
        first: u64,
        rows: Vec<Row>,
        checkpoints: Vec<RunCheckpoint>,
    }

    impl Recorder for Kept {
        fn record(&mut self, row: &Row) -> Result<()> {
            self.rows.push(row.clone());
            Ok(())
        }

        fn checkpoint(&mut self, checkpoint: &RunCheckpoint) -> Result<()> {
            assert_eq!(checkpoint.proposals, self.first + self.rows.len() as u64);
            self.checkpoints.push(checkpoint.clone());
            Ok(())
        }
    }

    #[test]
    fn a_run_resumed_from_any_checkpoint_goes_on_as_the_whole_run_did() {
        let script: &[&[usize]] = &[
            &[0, 0, 0, 0],
            &[1, 0, 1, 0],
            &[0, 0, 0, 0],
            &[2, 2, 0, 0],
            &[1, 0, 1, 0],
            &[2, 0, 2, 0],
            &[2, 2, 0, 0],
            &[1, 1, 1, 1],
        ];
        let toy = Toy::new(4, 3).unwrap();
        let mut settings = settings(6, false);
        settings.checkpoint_every = Some(2);
        let cached = || CachedEvaluator::new(toy_table(), CacheMode::Exact);
        let mut whole = Kept::default();
        let expected = run(
            &toy,
            &mut scripted(script),
            &mut cached(),
            &settings,
            &mut crate::rng::seeded(0),
            &mut whole,
        )
        .unwrap();
        assert!(whole.checkpoints.len() >= 2, "{}", whole.checkpoints.len());
        // Repeats are free: a resumed run must still serve them from its cache.
        assert!(whole.rows.iter().any(|r| r.cached && !r.counted));
        let without_wall = |rows: &[Row]| -> Vec<Row> {
            rows.iter()
                .map(|r| Row {
                    wall_seconds: 0.0,
                    ..r.clone()
                })
                .collect()
        };
        for checkpoint in &whole.checkpoints {
            let at = checkpoint.proposals as usize;
            let mut resumed = Kept {
                first: at as u64,
                ..Kept::default()
            };
            let result = run_from(
                &toy,
                &mut scripted(script),
                &mut cached(),
                &settings,
                &mut crate::rng::seeded(99),
                &mut resumed,
                Some(Resume {
                    checkpoint: checkpoint.clone(),
                    rows: whole.rows[..at].to_vec(),
                }),
            )
            .unwrap();
            assert_eq!(without_wall(&resumed.rows), without_wall(&whole.rows[at..]));
            assert_eq!(result.curve, expected.curve);
            assert_eq!(result.rewards, expected.rewards);
            assert_eq!(result.stop, expected.stop);
        }
        // Rows that do not lead up to the checkpoint are refused.
        let err = run_from(
            &toy,
            &mut scripted(script),
            &mut cached(),
            &settings,
            &mut crate::rng::seeded(0),
            &mut Kept::default(),
            Some(Resume {
                checkpoint: whole.checkpoints[0].clone(),
                rows: Vec::new(),
            }),
        )
        .unwrap_err();
        assert!(err.to_string().contains("rows before it"), "{err}");
    }

    #[test]
    fn decisions_round_trip_through_the_ledger_format() {
        assert_eq!(
            parse_decisions(&join_decisions(&[3, 0, 12])),
            Some(vec![3, 0, 12])
        );
        assert_eq!(parse_decisions(""), Some(vec![]));
        assert_eq!(parse_decisions("1-x"), None);
    }
}
