//! Stand-alone training: each candidate trained from scratch on the training split, scored by
//! its validation accuracy (the search metric) and reported by its test accuracy, with its
//! parameters, MACs and measured batch-1 latency. A candidate whose graph the trainer cannot
//! run is `Invalid`; a NaN or infinite loss is `Failed`.
//!
//! Initial weights and batch order come from the run's seed and the candidate's canonical hash,
//! so a candidate evaluated twice (or in another order) trains identically.

use super::{Evaluator, Metrics, Outcome};
use crate::budget::Budget;
use crate::candidate::Candidate;
use crate::data::Splits;
use crate::nn::{TrainConfig, WeightStore, accuracy, latency_ms, train, training_device};
use std::sync::Arc;

/// The stand-alone evaluator (see the module documentation).
pub struct StandaloneEvaluator {
    data: Arc<Splits>,
    config: TrainConfig,
    seed: u64,
}

impl StandaloneEvaluator {
    /// An evaluator training on `data` as `config` says, for the run with seed `seed`.
    pub fn new(data: Arc<Splits>, config: TrainConfig, seed: u64) -> Self {
        StandaloneEvaluator { data, config, seed }
    }
}

impl Evaluator for StandaloneEvaluator {
    fn evaluate(&mut self, candidate: &Candidate, budget: &mut Budget) -> Outcome {
        budget.charge(1, 0.0);
        let seed = crate::arch::hash::hash_words("standalone", &[self.seed, candidate.hash.0]);
        let mut store = WeightStore::new(training_device(), seed);
        let plan = match store.plan(&candidate.arch) {
            Ok(plan) => plan,
            Err(e) => return Outcome::invalid(e.to_string()),
        };
        let mut rng = crate::rng::seeded(seed);
        if let Err(e) = train(&mut store, &plan, &self.data.train, &self.config, &mut rng) {
            return Outcome::failed(e.to_string());
        }
        let batch = self.config.batch_size.max(256);
        let counts = candidate.arch.counts();
        Outcome::ok(Metrics {
            search: Some(accuracy(&store, &plan, &self.data.valid, batch)),
            reported: Some(accuracy(&store, &plan, &self.data.test, batch)),
            params: counts.map(|(p, _)| p),
            macs: counts.map(|(_, m)| m),
            latency_ms: Some(latency_ms(&store, &plan, self.data.train.shape)),
            simulated_seconds: 0.0,
        })
    }
}
