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
}

impl RunResult {
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
        improvements: Vec::new(),
        curve: Vec::new(),
        stop: StopReason::Budget,
        rewards: Vec::new(),
    };
    let mut proposals = 0u64;
    let mut free_in_a_row = 0u64;
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
        let batch = controller.propose(env, n, rng)?;
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
            let (row, outcome) = score(
                env,
                evaluator,
                &mut budget,
                settings,
                &proposal.decisions,
                proposals,
            );
            let (reward, counted) = (row.reward, row.counted);
            sink(&row)?;
            proposals += 1;
            result.rewards.push(reward.map_or(f32::NAN, |r| r as f32));
            if let Some(r) = reward.filter(|_| outcome.status == Status::Ok)
                && result.best().is_none_or(|b| r > b.reward)
            {
                result.improvements.push(Best {
                    row: row.clone(),
                    reward: r,
                });
            }
            if counted {
                free_in_a_row = 0;
                let current = result.improvements.len().checked_sub(1).map(|i| i as u32);
                result.curve.resize(budget.evaluations() as usize, current);
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

/// Builds and scores one proposal (a build error is an `Invalid` outcome, charged one
/// evaluation), turning the outcome into a reward (a NaN reward makes it `Failed`): its
/// ledger row, numbered `proposal`, and the outcome.
fn score(
    env: &dyn Environment,
    evaluator: &mut dyn Evaluator,
    budget: &mut Budget,
    settings: &RunSettings,
    decisions: &[usize],
    proposal: u64,
) -> (Row, Outcome) {
    let spent_before = budget.evaluations();
    let started = Instant::now();
    let (label, hash, mut outcome) = match env.build(decisions) {
        Ok(candidate) => {
            let outcome = evaluator.evaluate(&candidate, budget);
            (candidate.label, candidate.hash.to_string(), outcome)
        }
        Err(e) => {
            budget.charge(1, 0.0);
            (
                String::new(),
                String::new(),
                Outcome::invalid(e.to_string()),
            )
        }
    };
    let wall_seconds = started.elapsed().as_secs_f64();
    let reward = settings.objective.reward(&outcome);
    if reward.is_none() && outcome.status == Status::Ok {
        outcome.status = Status::Failed("the reward is NaN or missing".into());
    }
    let row = Row {
        controller: settings.controller.clone(),
        seed: settings.seed,
        step: budget.evaluations(),
        proposal,
        arch: label,
        hash,
        decisions: join_decisions(decisions),
        search_metric: outcome.metrics.search,
        reported_metric: outcome.metrics.reported,
        reward,
        status: outcome.status.kind().to_string(),
        reason: outcome.status.reason().to_string(),
        cached: outcome.cached,
        counted: budget.evaluations() > spent_before,
        params: outcome.metrics.params,
        macs: outcome.metrics.macs,
        latency_ms: outcome.metrics.latency_ms,
        simulated_seconds: outcome.metrics.simulated_seconds,
        wall_seconds,
    };
    (row, outcome)
}

/// ENAS's derivation, after a search: `n` proposals of the controller as it ended, each
/// scored by the evaluator as it stands (a supernet with its final shared weights), outside
/// the search's budget and not shown to the controller. Their rows, numbered from 0.
pub fn derive(
    env: &dyn Environment,
    controller: &mut dyn Controller,
    evaluator: &mut dyn Evaluator,
    n: usize,
    settings: &RunSettings,
    rng: &mut crate::Rng,
) -> Result<Vec<Row>> {
    let mut budget = Budget::new(BudgetLimits {
        evaluations: n as u64,
        simulated_seconds: None,
        wall_seconds: None,
    });
    let proposals = controller.propose(env, n, rng)?;
    Ok(proposals
        .iter()
        .zip(0..)
        .map(|(p, i)| score(env, evaluator, &mut budget, settings, &p.decisions, i).0)
        .collect())
}

/// Decisions as the ledger writes them: `3-0-4`.
pub fn join_decisions(decisions: &[usize]) -> String {
    decisions
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// Parses [`join_decisions`]' format.
pub fn parse_decisions(text: &str) -> Option<Vec<usize>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split('-').map(|d| d.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::{CacheKey, CachedEvaluator, Isolated, StatusKind, TableEvaluator};
    use crate::objective::RewardKind;
    use crate::toy::Toy;
    use crate::{Candidate, Checkpoint, Proposal};

    /// Proposes a fixed cycle of sequences and remembers what it observed.
    struct Scripted {
        script: Vec<Vec<usize>>,
        next: usize,
        seen: Vec<Evaluated>,
    }

    impl Controller for Scripted {
        fn kind(&self) -> &'static str {
            "scripted"
        }
        fn propose(
            &mut self,
            _: &dyn Environment,
            n: usize,
            _: &mut crate::Rng,
        ) -> Result<Vec<Proposal>> {
            Ok((0..n)
                .map(|_| {
                    self.next += 1;
                    Proposal {
                        decisions: self.script[(self.next - 1) % self.script.len()].clone(),
                    }
                })
                .collect())
        }
        fn observe(&mut self, _: &dyn Environment, results: &[Evaluated]) -> Result<()> {
            self.seen.extend_from_slice(results);
            Ok(())
        }
        fn checkpoint(&self) -> Result<Checkpoint> {
            Checkpoint::new("scripted", &self.next)
        }
        fn restore(&mut self, c: Checkpoint) -> Result<()> {
            self.next = c.into_state("scripted")?;
            Ok(())
        }
    }

    fn settings(evaluations: u64) -> RunSettings {
        RunSettings {
            controller: "scripted".into(),
            seed: 0,
            batch: 2,
            limits: BudgetLimits {
                evaluations,
                simulated_seconds: None,
                wall_seconds: None,
            },
            objective: Objective {
                kind: RewardKind::SearchMetric,
                latency: None,
                maximize: true,
                invalid_reward: -5.0,
            },
        }
    }

    fn scripted(script: &[&[usize]]) -> Scripted {
        Scripted {
            script: script.iter().map(|s| s.to_vec()).collect(),
            next: 0,
            seen: Vec::new(),
        }
    }

    #[test]
    fn every_proposal_becomes_a_row_and_the_best_is_tracked() {
        let toy = Toy::new(4, 3).unwrap();
        let mut controller = scripted(&[&[0, 0, 0, 0], &[2, 0, 2, 0], &[2, 2, 0, 0]]);
        let mut evaluator = TableEvaluator::new(toy.table().unwrap());
        let mut rows = Vec::new();
        let result = run(
            &toy,
            &mut controller,
            &mut evaluator,
            &settings(5),
            &mut crate::rng::seeded(0),
            &mut |r| {
                rows.push(r.clone());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(
            rows.iter().map(|r| r.step).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        // [2, 2, 0, 0] is masked out at position 1: it does not build and is invalid.
        assert_eq!(rows[2].status, "invalid");
        assert_eq!(rows[2].reward, Some(-5.0));
        assert_eq!(controller.seen[2].status, StatusKind::Invalid);
        assert_eq!(result.evaluations(), 5);
        assert_eq!(result.best_at(1).unwrap().reward, 50.0);
        assert_eq!(result.best_at(2).unwrap().reward, 100.0);
        // Past the end of the run, the final best.
        assert_eq!(result.best_at(50).unwrap().reward, 100.0);
        assert!(result.best_at(0).is_none());
        assert_eq!(result.best().unwrap().row.decisions, "2-0-2-0");
        assert_eq!(controller.seen.len(), 5);
    }

    #[test]
    fn free_repeats_cost_nothing_and_end_an_exhausted_search() {
        let toy = Toy::new(4, 3).unwrap();
        let mut controller = scripted(&[&[0, 0, 0, 0], &[1, 0, 1, 0]]);
        let inner = TableEvaluator::new(toy.table().unwrap());
        let mut evaluator = CachedEvaluator::new(inner, CacheKey::Exact, false);
        let mut rows = 0u64;
        let result = run(
            &toy,
            &mut controller,
            &mut evaluator,
            &settings(10),
            &mut crate::rng::seeded(0),
            &mut |r| {
                rows += 1;
                assert_eq!(r.counted, !r.cached);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(result.stop, StopReason::Exhausted);
        assert_eq!(result.evaluations(), 2);
        assert!(rows >= MAX_FREE_PROPOSALS);
    }

    #[test]
    fn counted_repeats_cost_budget_but_are_not_evaluated_again() {
        struct Counting(u32);
        impl Evaluator for Counting {
            fn evaluate(&mut self, _: &Candidate, budget: &mut crate::Budget) -> Outcome {
                self.0 += 1;
                budget.charge(1, 2.0);
                Outcome::ok(crate::Metrics {
                    search: Some(1.0),
                    simulated_seconds: 2.0,
                    ..Default::default()
                })
            }
        }
        let toy = Toy::new(4, 3).unwrap();
        let mut cached = CachedEvaluator::new(Counting(0), CacheKey::Canonical, true);
        let c = toy.build(&[0, 0, 0, 0]).unwrap();
        let mut budget = crate::Budget::new(settings(10).limits);
        assert!(!cached.evaluate(&c, &mut budget).cached);
        assert!(cached.evaluate(&c, &mut budget).cached);
        assert_eq!(budget.evaluations(), 2);
        assert_eq!(budget.simulated_seconds(), 4.0);
    }

    #[test]
    fn a_panicking_evaluator_becomes_a_failed_row_and_the_run_goes_on() {
        /// Charges its evaluation, then panics.
        struct Panics;
        impl Evaluator for Panics {
            fn evaluate(&mut self, c: &Candidate, budget: &mut crate::Budget) -> Outcome {
                budget.charge(1, 0.0);
                panic!("shape mismatch in {}", c.label);
            }
        }
        let toy = Toy::new(4, 3).unwrap();
        let mut controller = scripted(&[&[0, 0, 0, 0]]);
        let mut evaluator = Isolated(Panics);
        let mut rows = Vec::new();
        let result = run(
            &toy,
            &mut controller,
            &mut evaluator,
            &settings(3),
            &mut crate::rng::seeded(0),
            &mut |r| {
                rows.push(r.clone());
                Ok(())
            },
        )
        .unwrap();
        // Charged once each: three rows at steps 1, 2, 3.
        assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(
            rows.iter()
                .all(|r| r.status == "failed" && r.reason.contains("shape mismatch in 0-0-0-0"))
        );
        assert!(rows.iter().all(|r| r.reward.is_none()));
        assert!(result.best().is_none());
        assert!(controller.seen.iter().all(|e| e.reward.is_none()));
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
