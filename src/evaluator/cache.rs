//! The function-equivalence cache: an evaluator wrapper that remembers outcomes by the
//! candidate's canonical hash (or its exact decisions), so re-proposing an isomorphic or
//! identical architecture is not evaluated again. Whether such a repeat still costs budget is
//! the experiment's choice (`count_duplicates`; the NAS-Bench-201 protocol counts them).
//! Failed evaluations are not remembered: they may succeed on another try.

use super::{Evaluator, Outcome, Status};
use crate::budget::Budget;
use crate::candidate::Candidate;
use std::collections::HashMap;

/// What makes two candidates the same for the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKey {
    /// The canonical hash: functionally identical architectures share an entry.
    Canonical,
    /// The exact decision sequence.
    Exact,
}

/// Wraps an evaluator with a cache (see the module documentation).
pub struct CachedEvaluator<E> {
    inner: E,
    key: CacheKey,
    count_duplicates: bool,
    entries: HashMap<Vec<u64>, Outcome>,
}

impl<E: Evaluator> CachedEvaluator<E> {
    /// A cache in front of `inner`.
    pub fn new(inner: E, key: CacheKey, count_duplicates: bool) -> Self {
        CachedEvaluator {
            inner,
            key,
            count_duplicates,
            entries: HashMap::new(),
        }
    }

    fn key_of(&self, candidate: &Candidate) -> Vec<u64> {
        match self.key {
            CacheKey::Canonical => vec![candidate.hash.0],
            CacheKey::Exact => candidate.decisions.iter().map(|&d| d as u64).collect(),
        }
    }
}

impl<E: Evaluator> Evaluator for CachedEvaluator<E> {
    fn evaluate(&mut self, candidate: &Candidate, budget: &mut Budget) -> Outcome {
        let key = self.key_of(candidate);
        if let Some(hit) = self.entries.get(&key) {
            if self.count_duplicates {
                budget.charge(1, hit.metrics.simulated_seconds);
            }
            return Outcome {
                cached: true,
                ..hit.clone()
            };
        }
        let outcome = self.inner.evaluate(candidate, budget);
        if !matches!(outcome.status, Status::Failed(_)) {
            self.entries.insert(key, outcome.clone());
        }
        outcome
    }
}
