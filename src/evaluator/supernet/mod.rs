//! Weight sharing: one store of weights for the whole run (a supernet), trained on the
//! candidates it is asked to score. First a warm-up of `warmup_epochs` epochs in which every
//! step trains paths drawn by the `sampling` rule ([`Sampling`]: uniform single-path, SPOS,
//! or FairNAS's strict fairness), the learning rate following `warmup_schedule` over the
//! warm-up (from `[training] learning_rate`). Then, for each candidate: `train_steps` steps on
//! its own path at `finetune_learning_rate`, batch norm recalibrated on `bn_batches` training
//! batches, and its accuracy on the first `valid_batches` validation batches is the search
//! metric (the same number of test batches gives the reported metric). The store persists
//! across the run — that is the point. Batches come in shuffled epochs seeded by the run's
//! seed. Convolutions that come in several widths and kernels at one place (a space that gives
//! them an [`Envelope`](crate::arch::Envelope)) share one weight of the largest size, each
//! variant training its leading channels and central kernel window (`weight_slicing`, on by
//! default; off, every variant has weights of its own).
//!
//! `split = { position = P, epochs = E }` makes it few-shot (Zhao et al., "Few-shot Neural
//! Architecture Search", ICML 2021): after the warm-up, the supernet is copied once per option
//! of decision P, each copy (a sub-supernet) trained E more epochs on uniform paths through
//! its option with fresh optimiser state, and each candidate is trained and scored by the
//! sub-supernet of its option (by the supernet itself when no path took that option). The
//! supernet's own weights stay as the warm-up left them; a supernet read back from them
//! (`trained`) splits again on first use. `position = "gradient"` chooses the decision after
//! the warm-up: the one whose options' gradients on the shared weights agree least
//! ([`gradient_matching`], on `gradient_batches` batches per decision). The decision split on
//! (with the similarities that chose it) is what the evaluator
//! [resolved](Evaluator::resolved): a search run keeps it as `CONTROLLER-seedN-evaluator.json`.
//!
//! `mode = "enas"` follows ENAS instead: each candidate is scored first, by the shared
//! weights as they stand (batch norm recalibrated), on the *next* `valid_batches`
//! validation batches (the validation set taken in turn, so rewards do not fit one batch);
//! then its path takes `train_steps` training steps. The shared weights are thus trained on
//! exactly the paths the controller samples, and the controller learns from rewards of the
//! weights it has trained — one run trains both (usually with `warmup_epochs = 0`).
//!
//! A rescore (ENAS's derivation, after the search) freezes the shared weights: batch norm
//! recalibrated, the candidate scored on the first `valid_batches` validation batches — the
//! same images for every candidate — and nothing trained.
//!
//! A warm-up that breaks leaves no half-trained supernet to score on: a NaN loss makes the
//! evaluation that ran it an error that ends the run; a panic makes it a failed evaluation
//! (through failure isolation) and the next one that error.
//!
//! The store is the run's shared weights ([`Evaluator::shared_weights`]); a supernet
//! [`trained`](SupernetEvaluator::trained) from such a snapshot scores (and cuts out) children
//! without training again — `archforge export`, finalists fine-tuned from the supernet.
//! Asked to keep weights, an outcome carries the candidate's own weights cut out of the store
//! as it scored them (batch norm recalibrated for it).

pub mod gradient_matching;

pub use gradient_matching::SplitChoice;

use super::{Evaluator, Metrics, Outcome, Sampling};
use crate::candidate::Candidate;
use crate::data::{Dataset, Splits};
use crate::env::Environment;
use crate::env::complete_with;
use crate::error::{Error, Result};
use crate::nn::{
    Plan, Stepper, TrainConfig, WeightStore, accuracy, latency_ms, recalibrate_batch_norm,
    train::Schedule, training_device,
};
use crate::weights::Snapshot;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[evaluator]` settings for `kind = "supernet"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Which paths each warm-up step trains.
    #[serde(default)]
    pub sampling: Sampling,
    /// Train then score each candidate (`finetune`), or score then train (`enas`).
    #[serde(default)]
    pub mode: SupernetMode,
    /// The learning rate over the warm-up, from `[training] learning_rate` (`cosine` ends
    /// the warm-up at 0).
    #[serde(default = "defaults::warmup_schedule")]
    pub warmup_schedule: Schedule,
    /// The learning rate of the steps on each candidate (default: `[training]
    /// learning_rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune_learning_rate: Option<f64>,
    /// Variants of a convolution at one place share the largest one's weight (for spaces
    /// that give their convolutions envelopes; others are unaffected).
    #[serde(default = "defaults::weight_slicing")]
    pub weight_slicing: bool,
    /// Few-shot NAS: after the warm-up, one sub-supernet per option of one decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

/// The `[evaluator] split` setting of the supernet: few-shot NAS (see the module
/// documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// The decision split on: its position in the decision sequence, or chosen by gradient
    /// matching.
    pub position: SplitAt,
    /// Epochs each sub-supernet trains, from the warmed-up supernet's weights, on the paths
    /// through its option.
    pub epochs: usize,
    /// Gradient matching: the training batches per decision whose gradients are compared.
    #[serde(default = "defaults::gradient_batches")]
    pub gradient_batches: usize,
}

/// Where a few-shot supernet splits: a decision given by its position, or `"gradient"`,
/// the decision whose options' gradients agree least ([`gradient_matching`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitAt {
    /// The decision at this position of the sequence.
    Decision(usize),
    /// Chosen by gradient matching after the warm-up.
    Gradient,
}

impl std::fmt::Display for SplitAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitAt::Decision(p) => write!(f, "decision {p}"),
            SplitAt::Gradient => f.write_str("the decision gradient matching chooses"),
        }
    }
}

impl Serialize for SplitAt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            SplitAt::Decision(p) => s.serialize_u64(*p as u64),
            SplitAt::Gradient => s.serialize_str("gradient"),
        }
    }
}

impl<'de> Deserialize<'de> for SplitAt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SplitAt;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a decision's position (0, 1, ...) or \"gradient\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<SplitAt, E> {
                usize::try_from(v)
                    .map(SplitAt::Decision)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<SplitAt, E> {
                Ok(SplitAt::Decision(v as usize))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<SplitAt, E> {
                match v {
                    "gradient" => Ok(SplitAt::Gradient),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl SupernetSettings {
    /// Checks the settings; `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.valid_batches == 0 {
            return Err(("valid_batches", "valid_batches must be at least 1".into()));
        }
        if self
            .finetune_learning_rate
            .is_some_and(|lr| !(lr > 0.0 && lr.is_finite()))
        {
            return Err((
                "finetune_learning_rate",
                "finetune_learning_rate must be a positive number".into(),
            ));
        }
        if self.split.is_some() && self.mode == SupernetMode::Enas {
            return Err((
                "split",
                "split (few-shot sub-supernets) needs mode = \"finetune\"".into(),
            ));
        }
        if self.split.as_ref().is_some_and(|s| s.epochs == 0) {
            return Err(("split", "split.epochs must be at least 1".into()));
        }
        if self
            .split
            .as_ref()
            .is_some_and(|s| s.position == SplitAt::Gradient && s.gradient_batches == 0)
        {
            return Err(("split", "split.gradient_batches must be at least 1".into()));
        }
        Ok(())
    }
}

/// The order of training and scoring for each candidate (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SupernetMode {
    /// `train_steps` on the candidate's path, then a score on fixed validation batches.
    #[default]
    Finetune,
    /// A score on the next validation batches, then `train_steps` on the path (ENAS).
    Enas,
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
    pub fn warmup_schedule() -> super::Schedule {
        super::Schedule::Constant
    }
    pub fn gradient_batches() -> usize {
        16
    }
    pub fn weight_slicing() -> bool {
        true
    }
}

impl Default for SupernetSettings {
    fn default() -> Self {
        SupernetSettings {
            warmup_epochs: defaults::warmup_epochs(),
            train_steps: defaults::train_steps(),
            bn_batches: defaults::bn_batches(),
            valid_batches: defaults::valid_batches(),
            sampling: Sampling::default(),
            mode: SupernetMode::default(),
            warmup_schedule: defaults::warmup_schedule(),
            finetune_learning_rate: None,
            weight_slicing: defaults::weight_slicing(),
            split: None,
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
    warm_up: WarmUp,
    /// ENAS mode: the first validation batch of the next score.
    valid_cursor: usize,
    keep_weights: bool,
    /// Few-shot NAS: the sub-supernet of each option of the split decision, once trained
    /// (`None` for an option no path took).
    subs: Vec<Option<WeightStore>>,
    /// Few-shot NAS: the decision split on, once split (with gradient matching's
    /// similarities when it chose the decision).
    split_choice: Option<SplitChoice>,
    /// The weights a [`trained`](SupernetEvaluator::trained) supernet was read from: its store
    /// takes layers back from them only as candidates use them.
    resumed: Option<Arc<Snapshot>>,
}

/// Where the warm-up stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum WarmUp {
    /// Not run yet.
    Pending,
    /// Finished.
    Done,
    /// Failed or interrupted, with why: the supernet cannot score.
    Broken(String),
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
        let store = if settings.weight_slicing {
            store.slicing()
        } else {
            store
        };
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
            warm_up: WarmUp::Pending,
            valid_cursor: 0,
            keep_weights: false,
            subs: Vec::new(),
            split_choice: None,
            resumed: None,
        }
    }

    /// A supernet whose shared weights are `weights` (the
    /// [`shared_weights`](Evaluator::shared_weights) of a supernet with this `seed`): warmed
    /// up, every layer it held taken back, a layer it never made drawn as it would have drawn
    /// it.
    pub fn trained(
        env: Arc<dyn Environment>,
        data: Arc<Splits>,
        config: TrainConfig,
        settings: SupernetSettings,
        seed: u64,
        weights: Arc<Snapshot>,
    ) -> Self {
        let mut supernet = Self::new(env, data, config, settings, seed);
        supernet.store =
            WeightStore::new(supernet.store.device().clone(), seed).resuming(weights.clone());
        supernet.resumed = Some(weights);
        if supernet.settings.weight_slicing {
            supernet.store = supernet.store.slicing();
        }
        supernet.warm_up = WarmUp::Done;
        supernet
    }

    /// Runs the warm-up now rather than on the first evaluation (nothing when it has run),
    /// so its weights can be kept before anything is scored; an error when it broke.
    pub fn warm_up(&mut self) -> Result<()> {
        self.ready()
    }

    /// The same supernet, its outcomes carrying each candidate's weights as it scored them.
    pub fn keeping_weights(mut self) -> Self {
        self.keep_weights = true;
        self
    }

    /// The layers a [`trained`](SupernetEvaluator::trained) supernet has drawn fresh because
    /// its weights did not hold them (the run's supernet never made them), by path.
    pub fn drawn_layers(&self) -> &[String] {
        self.store.drawn()
    }

    /// Where the few-shot supernet split (`None` before the split, and without one): the
    /// decision, with gradient matching's similarities when it chose it.
    pub fn split_choice(&self) -> Option<&SplitChoice> {
        self.split_choice.as_ref()
    }

    fn steps_per_epoch(&self) -> usize {
        self.data.train.len().div_ceil(self.config.batch_size)
    }

    /// One training step of `plans` on the next batch of the endless, seeded batch stream.
    fn step(&mut self, plans: &[Plan], lr: f64) -> Result<f64> {
        let batch = self.next_batch();
        self.stepper
            .step_paths(&mut self.store, plans, &batch, &self.data.train, lr)
    }

    /// The next batch of the endless, seeded batch stream of training epochs.
    fn next_batch(&mut self) -> crate::data::Batch {
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
        batch
    }

    /// Warms the supernet up on first use; an error once the warm-up has broken.
    fn ready(&mut self) -> Result<()> {
        if self.warm_up == WarmUp::Pending {
            // Marked broken until it finishes: a panic inside leaves it so.
            self.warm_up = WarmUp::Broken("the warm-up was interrupted".into());
            self.warm_up = match self.run_warm_up() {
                Ok(()) => WarmUp::Done,
                Err(e) => WarmUp::Broken(e.to_string()),
            };
        }
        if let Some(split) = self.settings.split.clone()
            && self.warm_up == WarmUp::Done
            && self.subs.is_empty()
        {
            self.warm_up = WarmUp::Broken("the split was interrupted".into());
            self.warm_up = match self.run_split(&split) {
                Ok(()) => WarmUp::Done,
                Err(e) => WarmUp::Broken(format!("split on {}: {e}", split.position)),
            };
        }
        match &self.warm_up {
            WarmUp::Broken(why) => Err(Error::Training(format!(
                "the supernet's warm-up failed, so no candidate can be scored: {why}"
            ))),
            _ => Ok(()),
        }
    }

    /// The warm-up: each step trains the paths the sampling rule draws.
    fn run_warm_up(&mut self) -> Result<()> {
        let mut rng = crate::rng::seeded(crate::arch::hash::hash_words("warm-up", &[self.seed]));
        let (env, sampling) = (self.env.clone(), self.settings.sampling);
        self.train_epochs(
            self.settings.warmup_epochs,
            |rng| sampling.paths(env.as_ref(), rng),
            &mut rng,
        )
    }

    /// Few-shot NAS: a copy of the warmed-up weights per option of the split decision, each
    /// trained `split.epochs` epochs on uniform paths through its option (fresh optimiser
    /// state, the same batch stream).
    fn run_split(&mut self, split: &Split) -> Result<()> {
        let env = self.env.clone();
        let mut rng = crate::rng::seeded(crate::arch::hash::hash_words("split", &[self.seed]));
        let parent = Arc::new(self.held_weights());
        let choice = match split.position {
            SplitAt::Decision(position) => SplitChoice {
                position,
                similarity: Vec::new(),
            },
            SplitAt::Gradient => {
                // Gradients come from a copy, so the supernet's batch-norm statistics stay as
                // the warm-up left them.
                let mut probe = self.store_from(parent.clone());
                let data = self.data.clone();
                gradient_matching::choose(
                    env.as_ref(),
                    &mut probe,
                    &data.train,
                    split.gradient_batches,
                    || self.next_batch(),
                    &mut rng,
                )?
            }
        };
        let position = choice.position;
        let options = options_at(env.as_ref(), position, &mut rng)?;
        let mut subs = Vec::with_capacity(options);
        for option in 0..options {
            let store = self.store_from(parent.clone());
            let parent_store = std::mem::replace(&mut self.store, store);
            let parent_stepper = std::mem::replace(
                &mut self.stepper,
                Stepper::new(&self.config, parent_store.device()),
            );
            let mut took = false;
            let trained = self.train_epochs(
                split.epochs,
                |rng| {
                    let mut path = Vec::new();
                    complete_with(env.as_ref(), &mut path, |at, legal| {
                        if at == position && legal.contains(&option) {
                            took = true;
                            option
                        } else {
                            legal[rng.random_range(0..legal.len())]
                        }
                    })?;
                    Ok(vec![path])
                },
                &mut rng,
            );
            let sub = std::mem::replace(&mut self.store, parent_store);
            self.stepper = parent_stepper;
            trained?;
            subs.push(took.then_some(sub));
        }
        self.subs = subs;
        self.split_choice = Some(choice);
        Ok(())
    }

    /// Every weight the supernet holds: those it was read from, as its store has them now
    /// (a read-back store takes a layer back only when a candidate uses it).
    fn held_weights(&self) -> Snapshot {
        let mut held = self.resumed.as_deref().cloned().unwrap_or_default();
        for (path, values) in self.store.snapshot().iter() {
            held.insert(path.clone(), values.clone());
        }
        held
    }

    /// A store that takes its layers from `weights`, drawing new ones as this supernet does.
    fn store_from(&self, weights: Arc<Snapshot>) -> WeightStore {
        let store = WeightStore::new(self.store.device().clone(), self.seed).resuming(weights);
        if self.settings.weight_slicing {
            store.slicing()
        } else {
            store
        }
    }

    /// `epochs` epochs of steps, each training the paths `paths` draws.
    fn train_epochs(
        &mut self,
        epochs: usize,
        mut paths: impl FnMut(&mut crate::rng::Rng) -> Result<Vec<Vec<usize>>>,
        rng: &mut crate::rng::Rng,
    ) -> Result<()> {
        let env = self.env.clone();
        let per_epoch = self.steps_per_epoch();
        let total = epochs * per_epoch;
        let schedule = TrainConfig {
            schedule: self.settings.warmup_schedule,
            ..self.config.clone()
        };
        for step in 0..total {
            let mut plans = Vec::new();
            for decisions in paths(rng)? {
                if let Ok(plan) = env
                    .build(&decisions)
                    .and_then(|c| self.store.plan(c.arch()))
                {
                    plans.push(plan);
                }
            }
            if !plans.is_empty() {
                self.step(&plans, schedule.learning_rate_at(step, total, per_epoch))?;
            }
        }
        Ok(())
    }

    /// Runs `f` with the weights that score `candidate`: its option's sub-supernet after a
    /// split, else the supernet.
    fn with_weights_of<T>(&mut self, candidate: &Candidate, f: impl FnOnce(&mut Self) -> T) -> T {
        let position = self.split_choice.as_ref().map(|s| s.position);
        let option = position.and_then(|p| candidate.decisions.get(p).copied());
        let Some(sub) = option
            .and_then(|o| self.subs.get_mut(o))
            .and_then(Option::take)
        else {
            return f(self);
        };
        let parent = std::mem::replace(&mut self.store, sub);
        let out = f(self);
        let sub = std::mem::replace(&mut self.store, parent);
        self.subs[option.expect("a sub was taken")] = Some(sub);
        out
    }

    /// Accuracy on `valid_batches` batches of `data`, from batch `first` on (wrapping).
    fn score(&self, plan: &Plan, data: &Dataset, first: usize) -> f64 {
        let size = self.config.batch_size;
        let n = (self.settings.valid_batches * size).min(data.len());
        let start = first * size;
        let part = data.select(&(0..n).map(|i| (start + i) % data.len()).collect::<Vec<_>>());
        accuracy(&self.store, plan, &part, size)
    }

    /// `train_steps` steps on `plan` at the fine-tune learning rate.
    fn train_path(&mut self, plan: &Plan) -> Result<()> {
        let lr = self
            .settings
            .finetune_learning_rate
            .unwrap_or(self.config.learning_rate);
        for _ in 0..self.settings.train_steps {
            self.step(std::slice::from_ref(plan), lr)?;
        }
        Ok(())
    }

    fn recalibrate(&self, plan: &Plan) {
        if self.settings.bn_batches > 0 {
            recalibrate_batch_norm(
                &self.store,
                plan,
                &self.data.train,
                self.config.batch_size,
                self.settings.bn_batches,
            );
        }
    }
}

/// How many options the decision at `position` offers, read from a uniformly drawn prefix
/// that reaches it; an error when none does.
fn options_at(env: &dyn Environment, position: usize, rng: &mut crate::rng::Rng) -> Result<usize> {
    let mut prefix = Vec::new();
    let mut legal = Vec::new();
    while let Some(choice) = env.next_choice(&prefix)? {
        if prefix.len() == position {
            return Ok(choice.options);
        }
        choice.legal_into(&mut legal);
        prefix.push(legal[rng.random_range(0..legal.len())]);
    }
    Err(Error::Training(format!(
        "the space's sequences end before decision {position}"
    )))
}

impl SupernetEvaluator {
    /// The outcome of a candidate whose search metric is `search`, scored with the weights as
    /// they stand (the reported metric on the first test batches).
    fn outcome(&self, candidate: &Candidate, plan: &Plan, search: f64) -> Outcome {
        let metrics = Metrics {
            search: Some(search),
            reported: Some(self.score(plan, &self.data.test, 0)),
            params: candidate.params(),
            macs: candidate.macs(),
            latency_ms: Some(latency_ms(&self.store, plan, self.data.train.shape)),
            simulated_seconds: 0.0,
        };
        Outcome {
            weights: self.keep_weights.then(|| Arc::new(self.store.cut(plan))),
            ..Outcome::ok(metrics)
        }
    }
}

impl Evaluator for SupernetEvaluator {
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        self.ready()?;
        self.with_weights_of(candidate, |supernet| supernet.train_and_score(candidate))
    }

    fn rescore(&mut self, candidate: &Candidate) -> Result<Outcome> {
        self.ready()?;
        self.with_weights_of(candidate, |supernet| supernet.score_frozen(candidate))
    }

    fn shared_weights(&self) -> Option<Snapshot> {
        (self.warm_up == WarmUp::Done).then(|| self.store.snapshot())
    }

    fn resolved(&self) -> Option<serde_json::Value> {
        let choice = self.split_choice.as_ref()?;
        Some(serde_json::json!({ "split": choice }))
    }
}

impl SupernetEvaluator {
    /// An evaluation with the weights in place: trained and scored as `mode` says.
    fn train_and_score(&mut self, candidate: &Candidate) -> Result<Outcome> {
        let plan = match self.store.plan(candidate.arch()) {
            Ok(plan) => plan,
            Err(e) => return Ok(Outcome::invalid(e.to_string())),
        };
        Ok(match self.settings.mode {
            SupernetMode::Finetune => {
                if let Err(e) = self.train_path(&plan) {
                    return Ok(Outcome::failed(e.to_string()));
                }
                self.recalibrate(&plan);
                let search = self.score(&plan, &self.data.valid, 0);
                self.outcome(candidate, &plan, search)
            }
            SupernetMode::Enas => {
                self.recalibrate(&plan);
                let first = self.valid_cursor;
                let batches = self.data.valid.len().div_ceil(self.config.batch_size);
                self.valid_cursor = (first + self.settings.valid_batches) % batches.max(1);
                let search = self.score(&plan, &self.data.valid, first);
                let outcome = self.outcome(candidate, &plan, search);
                match self.train_path(&plan) {
                    Ok(()) => outcome,
                    Err(e) => Outcome::failed(e.to_string()),
                }
            }
        })
    }

    /// A rescore with the weights in place: nothing trained.
    fn score_frozen(&mut self, candidate: &Candidate) -> Result<Outcome> {
        let plan = match self.store.plan(candidate.arch()) {
            Ok(plan) => plan,
            Err(e) => return Ok(Outcome::invalid(e.to_string())),
        };
        self.recalibrate(&plan);
        let search = self.score(&plan, &self.data.valid, 0);
        Ok(self.outcome(candidate, &plan, search))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{Arch, Conv, Op, Shape};
    use crate::data::DataConfig;
    use crate::env::{Choice, DecisionKindSpec, EnvSpec};
    use crate::nn::train::Schedule;

    /// Two decisions: the kernels (1 or 3) of two convolutions of a small network.
    struct Kernels {
        spec: EnvSpec,
        input: Shape,
    }

    impl Environment for Kernels {
        fn spec(&self) -> &EnvSpec {
            &self.spec
        }
        fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
            Ok((prefix.len() < 2).then(|| Choice::new(0, 2)))
        }
        fn build(&self, decisions: &[usize]) -> Result<Candidate> {
            crate::env::validate(self, decisions)?;
            let mut a = Arch::new(Some(self.input));
            let mut x = a.input();
            for (i, &d) in decisions.iter().enumerate() {
                let conv = Op::Conv(Conv::conv_bn(8, [1, 3][d], 1));
                x = a.add(format!("conv{i}"), conv, &[x])?;
            }
            a.finish_with_classifier(x, 10)?;
            Ok(Candidate::new(
                decisions.to_vec(),
                format!("{decisions:?}"),
                a,
            ))
        }
    }

    fn supernet(mode: SupernetMode, learning_rate: f64) -> (SupernetEvaluator, Arc<Kernels>) {
        let mut data = DataConfig::default();
        data.subset.train = Some(256);
        let data = Arc::new(data.load(std::path::Path::new(".")).unwrap());
        let env = Arc::new(Kernels {
            spec: EnvSpec {
                name: "kernels".into(),
                kinds: vec![DecisionKindSpec {
                    name: "kernel".into(),
                    labels: vec!["1".into(), "3".into()],
                }],
                max_length: 2,
            },
            input: data.train.shape,
        });
        let config = TrainConfig {
            learning_rate,
            schedule: Schedule::Constant,
            ..TrainConfig::default()
        };
        let settings = SupernetSettings {
            warmup_epochs: 1,
            train_steps: 3,
            bn_batches: 2,
            valid_batches: 2,
            mode,
            ..SupernetSettings::default()
        };
        let evaluator = SupernetEvaluator::new(env.clone(), data, config, settings, 0);
        (evaluator, env)
    }

    #[test]
    fn a_rescore_freezes_the_weights_and_scores_every_candidate_on_the_same_images() {
        let (mut supernet, env) = supernet(SupernetMode::Enas, 0.05);
        let a = env.build(&[1, 0]).unwrap();
        let b = env.build(&[0, 1]).unwrap();
        let search = |s: &mut SupernetEvaluator, c: &Candidate| {
            s.evaluate(c).unwrap().metrics.search.unwrap()
        };
        let rescore = |s: &mut SupernetEvaluator, c: &Candidate| {
            s.rescore(c).unwrap().metrics.search.unwrap()
        };
        search(&mut supernet, &a);
        search(&mut supernet, &b);
        let first = rescore(&mut supernet, &a);
        let (position, cursor) = (supernet.position, supernet.valid_cursor);
        rescore(&mut supernet, &b);
        assert_eq!(rescore(&mut supernet, &a), first);
        assert_eq!(
            (supernet.position, supernet.valid_cursor),
            (position, cursor)
        );
        // Scoring as the search does trains the path and moves on to other images.
        search(&mut supernet, &a);
        assert_ne!(supernet.position, position);
    }

    #[test]
    fn a_diverging_warm_up_leaves_no_candidate_scored() {
        let (mut supernet, env) = supernet(SupernetMode::Finetune, 1e30);
        let c = env.build(&[1, 1]).unwrap();
        for _ in 0..2 {
            let err = supernet.evaluate(&c).unwrap_err().to_string();
            assert!(err.contains("the supernet's warm-up failed"), "{err}");
        }
        assert!(supernet.rescore(&c).is_err());
    }

    #[test]
    fn a_split_scores_each_candidate_with_its_option_s_sub_supernet() {
        let split = Split {
            position: SplitAt::Decision(0),
            epochs: 1,
            gradient_batches: defaults::gradient_batches(),
        };
        let few_shot = || {
            let (mut s, env) = supernet(SupernetMode::Finetune, 0.05);
            s.settings.split = Some(split.clone());
            (s, env)
        };
        let (mut plain, env) = supernet(SupernetMode::Finetune, 0.05);
        let (mut split_a, _) = few_shot();
        let (mut split_b, _) = few_shot();
        plain.warm_up().unwrap();
        split_a.warm_up().unwrap();
        split_b.warm_up().unwrap();
        let sorted = |snapshot: Snapshot| {
            let mut all: Vec<(String, Vec<f32>)> = snapshot
                .iter()
                .map(|(path, v)| (path.clone(), v.data.clone()))
                .collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        };
        // The supernet itself is what the warm-up left: the split trains copies of it.
        let parent = sorted(plain.shared_weights().unwrap());
        assert_eq!(parent, sorted(split_a.shared_weights().unwrap()));
        assert_eq!(split_a.subs.len(), 2, "one sub-supernet per kernel");
        let sub = |s: &SupernetEvaluator, o: usize| sorted(s.subs[o].as_ref().unwrap().snapshot());
        for option in 0..2 {
            assert_ne!(
                sub(&split_a, option),
                parent,
                "sub-supernet {option} trained on"
            );
            assert_eq!(
                sub(&split_a, option),
                sub(&split_b, option),
                "the same seed, the same split"
            );
        }
        // A supernet read back from its weights splits from all of them, not only from the
        // layers it has used since.
        let weights = plain.shared_weights().unwrap();
        let read_back = SupernetEvaluator::trained(
            plain.env.clone(),
            plain.data.clone(),
            plain.config.clone(),
            split_a.settings.clone(),
            0,
            Arc::new(weights.clone()),
        );
        assert!(read_back.store.snapshot().len() < weights.len());
        assert_eq!(read_back.held_weights(), weights);
        // A candidate is scored with its option's weights.
        let c = env.build(&[1, 0]).unwrap();
        let mut plain = plain.keeping_weights();
        let mut split_a = split_a.keeping_weights();
        let cut = |s: &mut SupernetEvaluator| {
            let outcome = s.rescore(&c).unwrap();
            Snapshot::clone(&outcome.weights.unwrap())
        };
        assert_ne!(sorted(cut(&mut plain)), sorted(cut(&mut split_a)));
        let enas = SupernetSettings {
            split: Some(split),
            mode: SupernetMode::Enas,
            ..SupernetSettings::default()
        };
        assert_eq!(enas.check().unwrap_err().0, "split");
    }

    #[test]
    fn gradient_matching_chooses_the_split_decision_from_every_decision_s_similarity() {
        let few_shot = || {
            let (mut s, env) = supernet(SupernetMode::Finetune, 0.05);
            s.settings.split = Some(Split {
                position: SplitAt::Gradient,
                epochs: 1,
                gradient_batches: 2,
            });
            s.warm_up().unwrap();
            (s, env)
        };
        let (a, _) = few_shot();
        let (b, _) = few_shot();
        let choice = a.split_choice().unwrap();
        assert_eq!(
            Some(choice),
            b.split_choice(),
            "the same seed, the same choice"
        );
        assert_eq!(choice.similarity.len(), 2, "one similarity per decision");
        for s in &choice.similarity {
            let s = s.expect("both kernels' paths share the other convolution");
            assert!((-1.0..=1.0).contains(&s), "{s}");
        }
        let lowest = choice.similarity[choice.position].unwrap();
        assert!(choice.similarity.iter().all(|s| s.unwrap() >= lowest));
        assert_eq!(
            a.subs.len(),
            2,
            "one sub-supernet per kernel of that decision"
        );
    }

    #[test]
    fn a_split_position_is_a_decision_or_gradient() {
        let parse = |text: &str| toml::from_str::<Split>(text);
        let at = |text: &str| parse(text).unwrap().position;
        assert_eq!(at("position = 3\nepochs = 1"), SplitAt::Decision(3));
        assert_eq!(at("position = \"gradient\"\nepochs = 1"), SplitAt::Gradient);
        for bad in [
            "position = \"best\"\nepochs = 1",
            "position = -1\nepochs = 1",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("a decision's position (0, 1, ...) or \"gradient\""),
                "{err}"
            );
        }
        let zero = SupernetSettings {
            split: Some(Split {
                position: SplitAt::Gradient,
                epochs: 1,
                gradient_batches: 0,
            }),
            ..SupernetSettings::default()
        };
        assert_eq!(zero.check().unwrap_err().0, "split");
    }
}
