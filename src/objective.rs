//! Objectives turn an outcome's metrics into the scalar reward a controller sees. Invalid
//! candidates get the reward the experiment sets; failed ones get none (learners skip them),
//! and so does a reward that comes out NaN.
//!
//! `mnas` (MnasNet) trades accuracy against measured latency: `ACC * (LAT / T)^w` with
//! `w = alpha` when `LAT <= T` and `beta` otherwise; the soft preset is
//! `alpha = beta = -0.07`, the hard one `alpha = 0, beta = -1`.
//!
//! `n2n` (N2N learning) rewards a compressed student against its teacher: `R_c * R_a` with
//! `C = 1 - params / params_teacher`, `R_c = C (2 - C)` and `R_a = ACC / ACC_teacher` on the
//! search metric (validation accuracy). Optional hard limits on a student's parameters, MACs
//! or latency ([`Limits`]) penalise one over a limit as N2N's code does:
//! `R = (eps - 1) + eps R_c R_a` with `eps = clip((1 - u / U)^4, 0, 1)` at update u, so the
//! penalty grows to the invalid reward -1 over the first U updates.
//!
//! `eas` (network transformation) stretches accuracy as EAS does, `tan(ACC * pi / 2)` with
//! `ACC` the search metric as a fraction (capped at 0.999), so that a point gained near the top
//! weighs more than one gained low down.

use crate::evaluator::{Metrics, Outcome, Status};
use serde::{Deserialize, Serialize};

/// How the reward is computed from the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RewardKind {
    /// The search metric itself (negated when smaller is better).
    #[default]
    SearchMetric,
    /// MnasNet's latency-aware reward (see [`LatencyTarget`]).
    Mnas,
    /// N2N learning's compression reward (see [`TeacherScore`]).
    N2n,
    /// EAS's stretched accuracy, `tan(ACC * pi / 2)`.
    Eas,
}

/// EAS's reward of a search metric in percent.
fn eas(metric: f64) -> f64 {
    ((metric / 100.0).clamp(0.0, 0.999) * std::f64::consts::FRAC_PI_2).tan()
}

/// What the `n2n` reward measures a student against: its teacher's parameter count and
/// search metric, and the limits a student must keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TeacherScore {
    /// The teacher's trainable parameters.
    pub params: u64,
    /// The teacher's search metric (validation accuracy), > 0.
    pub search: f64,
    /// Hard limits on a student.
    pub limits: Limits,
}

/// Hard limits on a student of the `n2n` reward (none: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limits {
    /// The most trainable parameters.
    pub params: Option<u64>,
    /// The most multiply-accumulates.
    pub macs: Option<u64>,
    /// The most batch-1 latency, in milliseconds.
    pub latency_ms: Option<f64>,
    /// U, the updates over which the penalty grows to -1 (> 0).
    pub anneal_updates: u64,
}

impl Limits {
    /// Whether `metrics` break a limit (a metric a limit needs but the outcome lacks does).
    pub fn broken(&self, metrics: &Metrics) -> bool {
        let over = |limit: Option<f64>, value: Option<f64>| {
            limit.is_some_and(|l| value.is_none_or(|v| v > l))
        };
        over(
            self.params.map(|p| p as f64),
            metrics.params.map(|p| p as f64),
        ) || over(self.macs.map(|m| m as f64), metrics.macs.map(|m| m as f64))
            || over(self.latency_ms, metrics.latency_ms)
    }

    /// `reward` of a student over a limit, at update `update`.
    pub fn penalised(&self, reward: f64, update: u64) -> f64 {
        let progress = update as f64 / self.anneal_updates.max(1) as f64;
        let eps = (1.0 - progress).powi(4).clamp(0.0, 1.0);
        let eps = if progress >= 1.0 { 0.0 } else { eps };
        (eps - 1.0) + eps * reward
    }
}

impl TeacherScore {
    /// `R_c * R_a` for a student of `params` parameters scoring `search`.
    pub fn reward(&self, params: u64, search: f64) -> f64 {
        let c = 1.0 - params as f64 / self.params.max(1) as f64;
        c * (2.0 - c) * (search / self.search)
    }

    /// The reward of a student with `metrics` scoring `search` at update `update`: penalised
    /// when it breaks a limit.
    fn reward_at(&self, metrics: &Metrics, search: f64, update: u64) -> Option<f64> {
        let reward = self.reward(metrics.params?, search);
        Some(if self.limits.broken(metrics) {
            self.limits.penalised(reward, update)
        } else {
            reward
        })
    }
}

/// The latency target of the `mnas` reward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyTarget {
    /// T, in milliseconds (> 0).
    pub target_ms: f64,
    /// The exponent when the latency meets the target.
    pub alpha: f64,
    /// The exponent when it does not.
    pub beta: f64,
}

impl LatencyTarget {
    /// MnasNet's soft constraint: `alpha = beta = -0.07`.
    pub fn soft(target_ms: f64) -> Self {
        LatencyTarget {
            target_ms,
            alpha: -0.07,
            beta: -0.07,
        }
    }

    /// MnasNet's hard constraint: `alpha = 0, beta = -1`.
    pub fn hard(target_ms: f64) -> Self {
        LatencyTarget {
            target_ms,
            alpha: 0.0,
            beta: -1.0,
        }
    }

    /// `accuracy * (latency / T)^w`.
    pub fn reward(&self, accuracy: f64, latency_ms: f64) -> f64 {
        let ratio = latency_ms / self.target_ms;
        let w = if latency_ms <= self.target_ms {
            self.alpha
        } else {
            self.beta
        };
        accuracy * ratio.powf(w)
    }
}

impl RewardKind {
    /// Every reward kind with a one-line description, for `archforge list`.
    pub const ALL: &'static [(&'static str, &'static str)] = &[
        (
            "search-metric",
            "the search metric itself, negated when smaller is better",
        ),
        (
            "mnas",
            "MnasNet: ACC * (LAT / T)^w, w = alpha if LAT <= T else beta (soft: -0.07/-0.07, hard: 0/-1)",
        ),
        (
            "n2n",
            "N2N: C(2 - C) * ACC / ACC_teacher, C = 1 - params / params_teacher (compression spaces)",
        ),
        (
            "eas",
            "EAS: tan(ACC * pi / 2), ACC the search metric as a fraction (capped at 0.999)",
        ),
    ];
}

/// The objective of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    /// The reward function.
    pub kind: RewardKind,
    /// Whether larger search metrics are better.
    pub maximize: bool,
    /// The reward of an `Invalid` outcome.
    pub invalid_reward: f64,
    /// The latency target, for `mnas`.
    pub latency: Option<LatencyTarget>,
    /// The teacher, for `n2n`.
    pub teacher: Option<TeacherScore>,
}

impl Objective {
    /// The reward of `outcome` at update `update` (how many times the controller has
    /// learned so far), or `None` when there is none to learn from.
    pub fn reward(&self, outcome: &Outcome, update: u64) -> Option<f64> {
        let reward = match &outcome.status {
            Status::Ok => {
                let metric = outcome.metrics.search?;
                match self.kind {
                    RewardKind::SearchMetric if self.maximize => metric,
                    RewardKind::SearchMetric => -metric,
                    RewardKind::Mnas => self.latency?.reward(metric, outcome.metrics.latency_ms?),
                    RewardKind::N2n => self.teacher?.reward_at(&outcome.metrics, metric, update)?,
                    RewardKind::Eas => eas(metric),
                }
            }
            Status::Invalid(_) => self.invalid_reward,
            Status::Failed(_) => return None,
        };
        (!reward.is_nan()).then_some(reward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::Metrics;

    fn objective(maximize: bool) -> Objective {
        Objective {
            kind: RewardKind::SearchMetric,
            maximize,
            invalid_reward: -1.0,
            latency: None,
            teacher: None,
        }
    }

    #[test]
    fn the_eas_reward_stretches_accuracy_toward_the_top() {
        let objective = Objective {
            kind: RewardKind::Eas,
            ..objective(true)
        };
        let reward = |search| {
            objective
                .reward(
                    &Outcome::ok(Metrics {
                        search: Some(search),
                        ..Metrics::default()
                    }),
                    0,
                )
                .unwrap()
        };
        assert!((reward(50.0) - 1.0).abs() < 1e-12);
        assert!(reward(0.0).abs() < 1e-12);
        // From 90 to 91 % gains more than from 50 to 51 %; 100 % stays finite.
        assert!(reward(91.0) - reward(90.0) > 5.0 * (reward(51.0) - reward(50.0)));
        assert!(reward(100.0).is_finite());
    }

    #[test]
    fn the_n2n_reward_is_compression_times_relative_accuracy() {
        let objective = Objective {
            kind: RewardKind::N2n,
            teacher: Some(TeacherScore {
                params: 1000,
                search: 80.0,
                limits: Limits::default(),
            }),
            ..objective(true)
        };
        let student = |params, search| {
            objective.reward(
                &Outcome::ok(Metrics {
                    search: Some(search),
                    params: Some(params),
                    ..Metrics::default()
                }),
                0,
            )
        };
        // The teacher itself compresses nothing: 0.
        assert_eq!(student(1000, 80.0), Some(0.0));
        // 10x smaller at the teacher's accuracy: C = 0.9, R_c = 0.99.
        assert!((student(100, 80.0).unwrap() - 0.99).abs() < 1e-12);
        // Half the teacher at half its accuracy: 0.75 * 0.5.
        assert!((student(500, 40.0).unwrap() - 0.375).abs() < 1e-12);
        assert_eq!(objective.reward(&Outcome::invalid("x"), 0), Some(-1.0));
    }

    #[test]
    fn a_student_over_a_limit_is_penalised_more_as_updates_pass() {
        let limits = Limits {
            params: Some(200),
            anneal_updates: 15,
            ..Limits::default()
        };
        let objective = Objective {
            kind: RewardKind::N2n,
            teacher: Some(TeacherScore {
                params: 1000,
                search: 80.0,
                limits,
            }),
            ..objective(true)
        };
        let student = |params, update| {
            let outcome = Outcome::ok(Metrics {
                search: Some(80.0),
                params: Some(params),
                ..Metrics::default()
            });
            objective.reward(&outcome, update).unwrap()
        };
        // Within the limit: the plain reward, whenever.
        assert!((student(100, 14) - 0.99).abs() < 1e-12);
        // Over it: R = (eps - 1) + eps R, eps = (1 - u / 15)^4.
        let plain = 0.75;
        assert!((student(500, 0) - plain).abs() < 1e-12);
        let eps = (1.0f64 - 5.0 / 15.0).powi(4);
        assert!((student(500, 5) - ((eps - 1.0) + eps * plain)).abs() < 1e-12);
        assert_eq!(student(500, 15), -1.0);
        assert_eq!(student(500, 40), -1.0);
    }

    #[test]
    fn the_mnas_reward_follows_its_presets() {
        let at = |target: LatencyTarget, latency: f64| {
            let objective = Objective {
                kind: RewardKind::Mnas,
                maximize: true,
                invalid_reward: 0.0,
                latency: Some(target),
                teacher: None,
            };
            let outcome = Outcome::ok(Metrics {
                search: Some(80.0),
                latency_ms: Some(latency),
                ..Metrics::default()
            });
            objective.reward(&outcome, 0)
        };
        let soft = LatencyTarget::soft(10.0);
        assert_eq!(at(soft, 10.0), Some(80.0));
        // Twice the latency costs about 5% of the reward, half of it gains about 5%.
        assert!((at(soft, 20.0).unwrap() - 80.0 * 2f64.powf(-0.07)).abs() < 1e-9);
        assert!(at(soft, 5.0).unwrap() > 80.0);
        let hard = LatencyTarget::hard(10.0);
        assert_eq!(at(hard, 5.0), Some(80.0));
        assert_eq!(at(hard, 20.0), Some(40.0));
        // Without a measured latency there is nothing to learn from.
        let objective = Objective {
            kind: RewardKind::Mnas,
            maximize: true,
            invalid_reward: 0.0,
            latency: Some(hard),
            teacher: None,
        };
        let unmeasured = Outcome::ok(Metrics {
            search: Some(80.0),
            ..Metrics::default()
        });
        assert_eq!(objective.reward(&unmeasured, 0), None);
    }

    #[test]
    fn rewards_follow_status_and_direction() {
        let ok = Outcome::ok(Metrics {
            search: Some(80.0),
            ..Metrics::default()
        });
        assert_eq!(objective(true).reward(&ok, 0), Some(80.0));
        assert_eq!(objective(false).reward(&ok, 0), Some(-80.0));
        assert_eq!(
            objective(true).reward(&Outcome::invalid("x"), 0),
            Some(-1.0)
        );
        assert_eq!(objective(true).reward(&Outcome::failed("x"), 0), None);
        let nan = Outcome::ok(Metrics {
            search: Some(f64::NAN),
            ..Metrics::default()
        });
        assert_eq!(objective(true).reward(&nan, 0), None);
    }
}
