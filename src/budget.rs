//! Search budgets: how many evaluations, simulated seconds (a table's recorded training time)
//! and wall-clock seconds a run may spend. Evaluators charge what they cost; the runner stops
//! once any limit is reached.

use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The limits of one search run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetLimits {
    /// Evaluations (at least one).
    pub evaluations: u64,
    /// Simulated seconds, for evaluators that report a cost.
    pub simulated_seconds: Option<f64>,
    /// Wall-clock seconds (a run limited this way is not reproducible).
    pub wall_seconds: Option<f64>,
}

/// A run's consumption against its limits.
#[derive(Debug, Clone)]
pub struct Budget {
    limits: BudgetLimits,
    evaluations: u64,
    simulated_seconds: f64,
    started: Instant,
}

impl Budget {
    /// A fresh budget; wall time counts from now.
    pub fn new(limits: BudgetLimits) -> Self {
        Budget {
            limits,
            evaluations: 0,
            simulated_seconds: 0.0,
            started: Instant::now(),
        }
    }

    /// A budget of which `evaluations`, `simulated_seconds` and `wall_seconds` (counted as
    /// if they had passed just now) are already spent: a resumed run's.
    pub fn resumed(
        limits: BudgetLimits,
        evaluations: u64,
        simulated_seconds: f64,
        wall_seconds: f64,
    ) -> Self {
        let now = Instant::now();
        Budget {
            limits,
            evaluations,
            simulated_seconds,
            started: now
                .checked_sub(std::time::Duration::from_secs_f64(wall_seconds.max(0.0)))
                .unwrap_or(now),
        }
    }

    /// Charges evaluations and simulated seconds.
    pub fn charge(&mut self, evaluations: u64, simulated_seconds: f64) {
        self.evaluations += evaluations;
        self.simulated_seconds += simulated_seconds;
    }

    /// Evaluations charged so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Simulated seconds charged so far.
    pub fn simulated_seconds(&self) -> f64 {
        self.simulated_seconds
    }

    /// Whether any limit has been reached.
    pub fn exhausted(&self) -> bool {
        self.evaluations >= self.limits.evaluations
            || self
                .limits
                .simulated_seconds
                .is_some_and(|s| self.simulated_seconds >= s)
            || self
                .limits
                .wall_seconds
                .is_some_and(|s| self.started.elapsed().as_secs_f64() >= s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_limit_exhausts() {
        let mut b = Budget::new(BudgetLimits {
            evaluations: 3,
            simulated_seconds: Some(10.0),
            wall_seconds: None,
        });
        b.charge(1, 9.0);
        assert!(!b.exhausted());
        b.charge(1, 1.0);
        assert!(b.exhausted());
        let mut c = Budget::new(BudgetLimits {
            evaluations: 2,
            simulated_seconds: None,
            wall_seconds: None,
        });
        c.charge(2, 0.0);
        assert!(c.exhausted());
        assert_eq!(c.evaluations(), 2);
    }
}
