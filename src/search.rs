//! One search run: the loop that ties a controller, an environment, an evaluator and an
//! objective together until the budget is spent.
//!
//! Each step: the controller proposes; the environment builds each proposal (a build error is
//! an `Invalid` outcome, charged one evaluation); the evaluator scores it; the objective turns
//! the outcome into a reward (a NaN reward makes the evaluation `Failed`); the row goes to the
//! caller's sink (the ledger) at once; the controller observes the batch. The loop ends when
//! the budget is exhausted or, when repeats are free, when the controller has proposed nothing
//! new for a long while (the space is exhausted).

use crate::budget::{Budget, BudgetLimits};
use crate::controller::{Controller, Evaluated};
use crate::env::Environment;
use crate::error::{Error, Result};
use crate::evaluator::{Evaluator, Outcome, Status};
use crate::ledger::Row;
use crate::objective::Objective;
use std::time::Instant;

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
    /// The objective.
    pub objective: Objective,
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

/// What a run leaves besides its ledger rows.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The controller's name.
    pub controller: String,
    /// The seed.
    pub seed: u64,
    /// After each counted evaluation `i` (index `i - 1`), the best evaluation so far.
    pub best_so_far: Vec<Option<Best>>,
    /// Why it ended.
    pub stop: StopReason,
}

impl RunResult {
    /// The best evaluation of the whole run.
    pub fn best(&self) -> Option<&Best> {
        self.best_so_far.last().and_then(Option::as_ref)
    }
}

/// Runs one search, handing every row to `sink` as soon as it is evaluated.
pub fn run(
    env: &dyn Environment,
    controller: &mut dyn Controller,
    evaluator: &mut dyn Evaluator,
    settings: &RunSettings,
    rng: &mut crate::Rng,
    sink: &mut dyn FnMut(&Row) -> Result<()>,
) -> Result<RunResult> {
    let mut budget = Budget::new(settings.limits);
    let mut result = RunResult {
        controller: settings.controller.clone(),
        seed: settings.seed,
        best_so_far: Vec::new(),
        stop: StopReason::Budget,
    };
    let mut best: Option<Best> = None;
    let mut proposals = 0u64;
    let mut free_in_a_row = 0u64;
    while !budget.exhausted() {
        let batch = controller.propose(env, settings.batch, rng)?;
        if batch.is_empty() {
            return Err(Error::Controller {
                controller: settings.controller.clone(),
                reason: "proposed nothing".into(),
            });
        }
        let mut evaluated = Vec::with_capacity(batch.len());
        for proposal in batch {
            if budget.exhausted() {
                break;
            }
            let spent_before = budget.evaluations();
            let started = Instant::now();
            let (label, hash, mut outcome) = match env.build(&proposal.decisions) {
                Ok(candidate) => {
                    let outcome = evaluator.evaluate(&candidate, &mut budget);
                    (candidate.label, candidate.hash.to_string(), outcome)
                }
                Err(e) => {
                    budget.charge(1, 0.0);
                    (String::new(), String::new(), Outcome::invalid(e.to_string()))
                }
            };
            let wall_seconds = started.elapsed().as_secs_f64();
            let reward = settings.objective.reward(&outcome);
            if reward.is_none() && outcome.status == Status::Ok {
                outcome.status = Status::Failed("the reward is NaN or missing".into());
            }
            let counted = budget.evaluations() > spent_before;
            let row = Row {
                controller: settings.controller.clone(),
                seed: settings.seed,
                step: budget.evaluations(),
                proposal: proposals,
                arch: label,
                hash,
                decisions: join_decisions(&proposal.decisions),
                search_metric: outcome.metrics.search,
                reported_metric: outcome.metrics.reported,
                reward,
                status: outcome.status.kind().to_string(),
                reason: outcome.status.reason().to_string(),
                cached: outcome.cached,
                counted,
                params: outcome.metrics.params,
                macs: outcome.metrics.macs,
                latency_ms: outcome.metrics.latency_ms,
                simulated_seconds: outcome.metrics.simulated_seconds,
                wall_seconds,
            };
            sink(&row)?;
            proposals += 1;
            if let Some(r) = reward.filter(|_| outcome.status == Status::Ok)
                && best.as_ref().is_none_or(|b| r > b.reward)
            {
                best = Some(Best {
                    row: row.clone(),
                    reward: r,
                });
            }
            if counted {
                free_in_a_row = 0;
                let spent = budget.evaluations() as usize;
                result.best_so_far.resize(spent, best.clone());
            } else {
                free_in_a_row += 1;
            }
            evaluated.push(Evaluated {
                decisions: proposal.decisions,
                reward,
                status: outcome.status.kind(),
            });
        }
        controller.observe(env, &evaluated)?;
        if free_in_a_row >= MAX_FREE_PROPOSALS {
            result.stop = StopReason::Exhausted;
            break;
        }
    }
    Ok(result)
}

/// Decisions as the ledger writes them: `3-0-4`.
pub fn join_decisions(decisions: &[usize]) -> String {
    decisions.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("-")
}

/// Parses [`join_decisions`]' format.
pub fn parse_decisions(text: &str) -> Option<Vec<usize>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split('-').map(|d| d.trim().parse().ok()).collect()
}
