//! Weight sharing: one store of weights for the whole run (a supernet), trained on the
//! candidates it is asked to score. First a warm-up of uniform single-path sampling (SPOS):
//! `warmup_epochs` epochs in which every step trains one architecture drawn uniformly from
//! the environment. Then, for each candidate: `train_steps` steps on its own path, batch norm
//! recalibrated on `bn_batches` training batches, and its accuracy on the first
//! `valid_batches` validation batches is the search metric (the same number of test batches
//! gives the reported metric). The store persists across the run — that is the point.
//!
//! The learning rate stays at `[training] learning_rate` (the run's length is not known in
//! advance); batches come in shuffled epochs seeded by the run's seed.

use super::{Evaluator, Metrics, Outcome};
use crate::budget::Budget;
use crate::candidate::Candidate;
use crate::data::{Dataset, Splits};
use crate::env::Environment;
use crate::error::Result;
use crate::nn::{
    Plan, Stepper, TrainConfig, WeightStore, accuracy, latency_ms, recalibrate_batch_norm,
    training_device,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[evaluator]` settings for `kind = "supernet"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupernetSettings {
    /// Epochs of uniform single-path training before the first candidate is scored.
    #[serde(default = "defaults::warmup_epochs")]
    pub warmup_epochs: usize,
    /// Training steps on each candidate's own path before it is scored.
    #[serde(default = "defaults::train_steps")]
    pub train_steps: usize,
    /// Training batches used to recalibrate batch norm before scoring (0: no recalibration).
    #[serde(default = "defaults::bn_batches")]
    pub bn_batches: usize,
    /// Validation (and test) batches a candidate is scored on.
    #[serde(default = "defaults::valid_batches")]
    pub valid_batches: usize,
}

mod defaults {
    pub fn warmup_epochs() -> usize {
        2
    }
    pub fn train_steps() -> usize {
        20
    }
    pub fn bn_batches() -> usize {
        4
    }
    pub fn valid_batches() -> usize {
        8
    }
}

impl Default for SupernetSettings {
    fn default() -> Self {
        SupernetSettings {
            warmup_epochs: defaults::warmup_epochs(),
            train_steps: defaults::train_steps(),
            bn_batches: defaults::bn_batches(),
            valid_batches: defaults::valid_batches(),
        }
    }
}

/// The supernet evaluator (see the module documentation).
pub struct SupernetEvaluator {
    env: Arc<dyn Environment>,
    data: Arc<Splits>,
    config: TrainConfig,
    settings: SupernetSettings,
    store: WeightStore,
    stepper: Stepper,
    seed: u64,
    epoch: u64,
    position: usize,
    warmed_up: bool,
}

impl SupernetEvaluator {
    /// A supernet over `env`'s candidates, trained on `data`, for the run with seed `seed`.
    pub fn new(
        env: Arc<dyn Environment>,
        data: Arc<Splits>,
        config: TrainConfig,
        settings: SupernetSettings,
        seed: u64,
    ) -> Self {
        let store = WeightStore::new(training_device(), seed);
        let stepper = Stepper::new(&config, store.device());
        SupernetEvaluator {
            env,
            data,
            config,
            settings,
            store,
            stepper,
            seed,
            epoch: 0,
            position: 0,
            warmed_up: false,
        }
    }

    /// The weight store (for saving, or inspecting what was shared).
    pub fn store(&self) -> &WeightStore {
        &self.store
    }

    fn steps_per_epoch(&self) -> usize {
        self.data.train.len().div_ceil(self.config.batch_size)
    }

    /// One training step of `plan` on the next batch of the endless, seeded batch stream.
    fn step(&mut self, plan: &Plan) -> Result<f64> {
        if self.position >= self.steps_per_epoch() {
            self.epoch += 1;
            self.position = 0;
        }
        let mut order = crate::rng::seeded(crate::arch::hash::hash_words(
            "epoch",
            &[self.seed, self.epoch],
        ));
        let batch = self
            .data
            .train
            .batches(
                self.config.batch_size,
                Some(&mut order),
                self.config.augment,
            )
            .skip_batches(self.position)
            .next()
            .expect("the position is within the epoch");
        self.position += 1;
        self.stepper.step(
            &mut self.store,
            plan,
            &batch,
            &self.data.train,
            self.config.learning_rate,
        )
    }

    /// Uniform single-path training: each step trains an architecture drawn uniformly.
    fn warm_up(&mut self) -> Result<()> {
        let mut rng = crate::rng::seeded(crate::arch::hash::hash_words("warm-up", &[self.seed]));
        let env = self.env.clone();
        for _ in 0..self.settings.warmup_epochs * self.steps_per_epoch() {
            let mut decisions = Vec::new();
            crate::env::complete_uniformly(env.as_ref(), &mut decisions, &mut rng)?;
            let Ok(candidate) = env.build(&decisions) else {
                continue;
            };
            let Ok(plan) = self.store.plan(&candidate.arch) else {
                continue;
            };
            self.step(&plan)?;
        }
        Ok(())
    }

    /// Accuracy on the first `valid_batches` batches of `data`.
    fn score(&self, plan: &Plan, data: &Dataset) -> f64 {
        let n = (self.settings.valid_batches * self.config.batch_size).min(data.len());
        let part = data.select(&(0..n).collect::<Vec<_>>());
        accuracy(&self.store, plan, &part, self.config.batch_size)
    }
}

impl Evaluator for SupernetEvaluator {
    fn evaluate(&mut self, candidate: &Candidate, budget: &mut Budget) -> Outcome {
        budget.charge(1, 0.0);
        if !self.warmed_up {
            self.warmed_up = true;
            if let Err(e) = self.warm_up() {
                return Outcome::failed(format!("supernet warm-up: {e}"));
            }
        }
        let plan = match self.store.plan(&candidate.arch) {
            Ok(plan) => plan,
            Err(e) => return Outcome::invalid(e.to_string()),
        };
        for _ in 0..self.settings.train_steps {
            if let Err(e) = self.step(&plan) {
                return Outcome::failed(e.to_string());
            }
        }
        if self.settings.bn_batches > 0 {
            recalibrate_batch_norm(
                &mut self.store,
                &plan,
                &self.data.train,
                self.config.batch_size,
                self.settings.bn_batches,
            );
        }
        let counts = candidate.arch.counts();
        Outcome::ok(Metrics {
            search: Some(self.score(&plan, &self.data.valid)),
            reported: Some(self.score(&plan, &self.data.test)),
            params: counts.map(|(p, _)| p),
            macs: counts.map(|(_, m)| m),
            latency_ms: Some(latency_ms(&self.store, &plan, self.data.train.shape)),
            simulated_seconds: 0.0,
        })
    }
}
