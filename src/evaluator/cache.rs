//! The function-equivalence cache: an evaluator wrapper that remembers outcomes by the
//! candidate's canonical hash (or its exact decisions), so re-proposing an isomorphic or
//! identical architecture is not evaluated again; a served outcome is marked `cached`, and
//! the run loop decides whether it still costs budget (`count_duplicates`; the NAS-Bench-201
//! protocol counts repeats). Failed evaluations are not remembered: they may succeed on
//! another try. A rescore (ENAS's derivation) is never served from the cache.

use super::{Evaluator, Outcome, Status};
use crate::arch::ArchHash;
use crate::candidate::Candidate;
use crate::error::Result;
use foldhash::fast::FixedState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What makes two candidates the same for the cache (`[budget] cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// No cache: every proposal is evaluated.
    Off,
    /// Identical decision sequences share one evaluation.
    Exact,
    /// Functionally identical architectures (same canonical hash) share one evaluation.
    Canonical,
}

/// Wraps an evaluator with a cache (see the module documentation).
pub struct CachedEvaluator<E> {
    inner: E,
    mode: CacheMode,
    exact: HashMap<Vec<usize>, Outcome, FixedState>,
    canonical: HashMap<ArchHash, Outcome, FixedState>,
}

impl<E: Evaluator> CachedEvaluator<E> {
    /// A cache of kind `mode` in front of `inner` (`Off`: none).
    pub fn new(inner: E, mode: CacheMode) -> Self {
        CachedEvaluator {
            inner,
            mode,
            exact: HashMap::default(),
            canonical: HashMap::default(),
        }
    }

    /// Remembers what `candidate` scored, unless the evaluation failed.
    fn remember(&mut self, candidate: &Candidate, outcome: &Outcome) {
        if self.mode == CacheMode::Off || matches!(outcome.status, Status::Failed(_)) {
            return;
        }
        // The cache remembers scores, not weights.
        let remembered = Outcome {
            weights: None,
            cached: false,
            ..outcome.clone()
        };
        match self.mode {
            CacheMode::Exact => {
                self.exact.insert(candidate.decisions.clone(), remembered);
            }
            _ => {
                self.canonical.insert(candidate.hash, remembered);
            }
        }
    }

    fn hit(&self, candidate: &Candidate) -> Option<&Outcome> {
        match self.mode {
            CacheMode::Off => None,
            CacheMode::Exact => self.exact.get(candidate.decisions.as_slice()),
            CacheMode::Canonical => self.canonical.get(&candidate.hash),
        }
    }
}

impl<E: Evaluator> Evaluator for CachedEvaluator<E> {
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        if let Some(hit) = self.hit(candidate) {
            return Ok(Outcome {
                cached: true,
                ..hit.clone()
            });
        }
        let outcome = self.inner.evaluate(candidate)?;
        self.remember(candidate, &outcome);
        Ok(outcome)
    }

    fn rescore(&mut self, candidate: &Candidate) -> Result<Outcome> {
        self.inner.rescore(candidate)
    }

    fn shared_weights(&self) -> Option<crate::weights::Snapshot> {
        self.inner.shared_weights()
    }

    fn resolved(&self) -> Option<serde_json::Value> {
        self.inner.resolved()
    }

    /// Remembers the outcome as if it had been evaluated here (and tells the evaluator
    /// behind).
    fn recall(&mut self, candidate: &Candidate, outcome: &Outcome) {
        self.remember(candidate, outcome);
        self.inner.recall(candidate, outcome);
    }

    fn evaluates_ahead(&self) -> bool {
        self.inner.evaluates_ahead()
    }

    /// The candidates it will not serve, each once, go on to the evaluator behind.
    fn prefetch(&mut self, candidates: &[Candidate]) -> Result<()> {
        let mut ahead: Vec<Candidate> = Vec::new();
        for candidate in candidates {
            let repeat = ahead.iter().any(|a| match self.mode {
                CacheMode::Off => false,
                CacheMode::Exact => a.decisions == candidate.decisions,
                CacheMode::Canonical => a.hash == candidate.hash,
            });
            if self.hit(candidate).is_none() && !repeat {
                ahead.push(candidate.clone());
            }
        }
        self.inner.prefetch(&ahead)
    }
}
