//! Objectives turn an outcome's metrics into the scalar reward a controller sees. Invalid
//! candidates get the reward the experiment sets; failed ones get none (learners skip them),
//! and so does a reward that comes out NaN.

use crate::evaluator::{Outcome, Status};
use serde::{Deserialize, Serialize};

/// How the reward is computed from the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RewardKind {
    /// The search metric itself (negated when smaller is better).
    #[default]
    SearchMetric,
}

impl RewardKind {
    /// Every reward kind with a one-line description, for `archforge list`.
    pub const ALL: &'static [(&'static str, &'static str)] = &[(
        "search-metric",
        "the search metric itself, negated when smaller is better",
    )];
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
}

impl Objective {
    /// The reward of `outcome`, or `None` when there is none to learn from.
    pub fn reward(&self, outcome: &Outcome) -> Option<f64> {
        let reward = match &outcome.status {
            Status::Ok => {
                let metric = outcome.metrics.search?;
                match self.kind {
                    RewardKind::SearchMetric if self.maximize => metric,
                    RewardKind::SearchMetric => -metric,
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
        }
    }

    #[test]
    fn rewards_follow_status_and_direction() {
        let ok = Outcome::ok(Metrics {
            search: Some(80.0),
            ..Metrics::default()
        });
        assert_eq!(objective(true).reward(&ok), Some(80.0));
        assert_eq!(objective(false).reward(&ok), Some(-80.0));
        assert_eq!(objective(true).reward(&Outcome::invalid("x")), Some(-1.0));
        assert_eq!(objective(true).reward(&Outcome::failed("x")), None);
        let nan = Outcome::ok(Metrics {
            search: Some(f64::NAN),
            ..Metrics::default()
        });
        assert_eq!(objective(true).reward(&nan), None);
    }
}
