//! Stand-alone training: each candidate trained from scratch on the training split (with the
//! training settings it chose, [`Candidate::training`], over the run's), scored by
//! its validation accuracy (the search metric) and reported by its test accuracy, with its
//! parameters, MACs and measured batch-1 latency. A candidate whose graph the trainer cannot
//! run is `Invalid`; a NaN or infinite loss is `Failed`.
//!
//! Initial weights and batch order come from the run's seed and the candidate's canonical hash,
//! so a candidate evaluated twice (or in another order) trains identically — or, for a
//! candidate that names its initial weights ([`Candidate::init`]), from those: every tensor of
//! its network must be there, and nothing else.
//!
//! A grown candidate ([`Init::Grown`]) starts from its nearest ancestor this evaluator trained,
//! morphed along the rest of its lineage; the evaluator keeps every grown network it trains
//! for the children that follow (and every grown network it is told of, [`Evaluator::recall`]:
//! a worker's evaluator, told what the part's earlier tasks trained). When it trained none of
//! the ancestors, it first trains the seed network from scratch for the lineage's
//! `seed_epochs` (once per run). So in a run,
//! which ancestor a child inherits from depends on what was evaluated before it — in the
//! run's order, the same for the same seed.

use super::{Evaluator, Metrics, Outcome, Status};
use crate::arch::Arch;
use crate::candidate::{Candidate, Init};
use crate::data::Splits;
use crate::error::Result;
use crate::lineage::Lineage;
use crate::nn::morph::grow;
use crate::nn::{
    Stepper, Teacher, TrainConfig, WeightStore, accuracy, latency_ms, train_with, training_device,
};
use crate::weights::Snapshot;
use std::collections::HashMap;
use std::sync::Arc;

/// The stand-alone evaluator (see the module documentation).
pub struct StandaloneEvaluator {
    data: Arc<Splits>,
    config: TrainConfig,
    seed: u64,
    keep_weights: bool,
    teacher: Option<Teacher>,
    /// The grown networks trained so far, by lineage key.
    grown: HashMap<u64, (Arch, Arc<Snapshot>)>,
}

impl StandaloneEvaluator {
    /// An evaluator training on `data` as `config` says, for the run with seed `seed`.
    pub fn new(data: Arc<Splits>, config: TrainConfig, seed: u64) -> Self {
        StandaloneEvaluator {
            data,
            config,
            seed,
            keep_weights: false,
            teacher: None,
            grown: HashMap::new(),
        }
    }

    /// The same evaluator, every candidate's loss distilled from `teacher`.
    pub fn distilling(mut self, teacher: Teacher) -> Self {
        self.teacher = Some(teacher);
        self
    }

    /// The same evaluator, its outcomes carrying each candidate's trained weights.
    pub fn keeping_weights(mut self) -> Self {
        self.keep_weights = true;
        self
    }
}

/// A candidate trained stand-alone: its weights, its plan and what it scored.
pub struct Trained {
    /// The trained weights.
    pub store: WeightStore,
    /// The candidate's plan through them.
    pub plan: crate::nn::Plan,
    /// Validation accuracy (search), test accuracy (reported), params, MACs, latency.
    pub metrics: Metrics,
    /// For a candidate with initial weights, when asked for, its validation and test accuracy
    /// before the first step, on the whole splits in batches of `[training] batch_size` — as a supernet
    /// scores when its `valid_batches` cover the validation split.
    pub initial: Option<(f64, f64)>,
}

/// Trains `candidate` from scratch (or from the weights it names) on `data` as `config`
/// says, with weights and batch order seeded from `seed` and the candidate's canonical hash
/// — a grown candidate from scratch, as its ancestors' weights are not at hand. `Err` is the status to record
/// instead: `Invalid` when the trainer cannot run the graph, `Failed` when the loss diverges.
pub fn train_candidate(
    candidate: &Candidate,
    data: &Splits,
    config: &TrainConfig,
    seed: u64,
) -> Result<Trained, Status> {
    let config = &config
        .with_choices(&candidate.training)
        .map_err(Status::Invalid)?;
    let stepper = Stepper::new(config, &training_device());
    train_candidate_with(stepper, candidate, data, config, seed, false)
}

/// [`train_candidate`] with a given stepper (one distilling from a teacher, or reporting each
/// epoch); with `score_start`, a candidate that names its initial weights is also scored
/// before its first step ([`Trained::initial`]).
pub fn train_candidate_with(
    stepper: Stepper,
    candidate: &Candidate,
    data: &Splits,
    config: &TrainConfig,
    seed: u64,
    score_start: bool,
) -> Result<Trained, Status> {
    let seed = crate::arch::hash::hash_words("standalone", &[seed, candidate.hash.0]);
    // A grown candidate's inherited weights live in the evaluator that trained its
    // ancestors ([`StandaloneEvaluator`] resolves them first); alone, it trains from scratch.
    let init = candidate.init_weights();
    let mut store = WeightStore::new(training_device(), seed);
    if let Some(init) = init {
        store = store.from(init.clone());
    }
    let plan = store
        .plan(candidate.arch())
        .map_err(|e| Status::Invalid(e.to_string()))?;
    if let Some(init) = init
        && let Some(foreign) = store.foreign(init).first()
    {
        return Err(Status::Invalid(format!(
            "the initial weights hold `{foreign}`, which is not a tensor of this network"
        )));
    }
    let initial = (score_start && init.is_some()).then(|| {
        let score = |d| accuracy(&store, &plan, d, config.batch_size);
        (score(&data.valid), score(&data.test))
    });
    let mut rng = crate::rng::seeded(seed);
    train_with(stepper, &mut store, &plan, &data.train, config, &mut rng)
        .map_err(|e| Status::Failed(e.to_string()))?;
    let batch = config.batch_size.max(256);
    let metrics = Metrics {
        search: Some(accuracy(&store, &plan, &data.valid, batch)),
        reported: Some(accuracy(&store, &plan, &data.test, batch)),
        params: candidate.params(),
        macs: candidate.macs(),
        latency_ms: Some(latency_ms(&store, &plan, data.train.shape)),
        simulated_seconds: 0.0,
    };
    Ok(Trained {
        store,
        plan,
        metrics,
        initial,
    })
}

impl StandaloneEvaluator {
    fn stepper(&self, config: &TrainConfig) -> Stepper {
        let stepper = Stepper::new(config, &training_device());
        match &self.teacher {
            Some(teacher) => stepper.with_teacher(teacher.clone()),
            None => stepper,
        }
    }

    /// The initial weights of a candidate grown along `lineage`, which builds `arch`: its
    /// nearest trained ancestor's (the seed's, trained first, when there is none), morphed.
    fn inherit(&mut self, lineage: &Lineage, arch: &Arch) -> Result<Arc<Snapshot>, Status> {
        let keys = lineage.keys();
        let nearest = (0..keys.len())
            .rev()
            .find(|&i| self.grown.contains_key(&keys[i]));
        let from = match nearest {
            Some(i) => i,
            None => {
                let seed = Candidate::new(Vec::new(), "seed".into(), lineage.seed.clone());
                let config = TrainConfig {
                    epochs: lineage.seed_epochs,
                    ..self.config.clone()
                };
                let trained = train_candidate_with(
                    self.stepper(&config),
                    &seed,
                    &self.data,
                    &config,
                    self.seed,
                    false,
                )?;
                let weights = Arc::new(trained.store.cut(&trained.plan));
                self.grown
                    .insert(lineage.seed_key, (lineage.seed.clone(), weights));
                0
            }
        };
        let (start, weights) = self.grown[&keys[from]].clone();
        let grown = grow(lineage, from, start, weights, &self.data.train)
            .map_err(|e| Status::Invalid(e.to_string()))?;
        if grown.arch.canonical_hash() != arch.canonical_hash() {
            return Err(Status::Invalid(
                "its lineage's morphs do not grow into its network".into(),
            ));
        }
        Ok(Arc::new(grown.weights))
    }
}

impl Evaluator for StandaloneEvaluator {
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        let config = match self.config.with_choices(&candidate.training) {
            Ok(config) => config,
            Err(why) => return Ok(Outcome::from(Status::Invalid(why))),
        };
        let lineage = match &candidate.init {
            Some(Init::Grown(lineage)) => Some(lineage.clone()),
            _ => None,
        };
        let inherited;
        let candidate = match &lineage {
            Some(lineage) => match self.inherit(lineage, candidate.arch()) {
                Ok(weights) => {
                    inherited = candidate.clone().with_init(weights);
                    &inherited
                }
                Err(status) => return Ok(Outcome::from(status)),
            },
            None => candidate,
        };
        Ok(
            match train_candidate_with(
                self.stepper(&config),
                candidate,
                &self.data,
                &config,
                self.seed,
                false,
            ) {
                Ok(trained) => {
                    let weights = (self.keep_weights || lineage.is_some())
                        .then(|| Arc::new(trained.store.cut(&trained.plan)));
                    if let (Some(lineage), Some(weights)) = (&lineage, &weights) {
                        self.grown
                            .insert(lineage.key(), (candidate.arch().clone(), weights.clone()));
                    }
                    Outcome {
                        weights: weights.filter(|_| self.keep_weights),
                        ..Outcome::ok(trained.metrics)
                    }
                }
                Err(status) => Outcome::from(status),
            },
        )
    }

    /// A grown candidate trained elsewhere (by a worker) joins the grown networks its
    /// descendants inherit from, as if this evaluator had trained it.
    fn recall(&mut self, candidate: &Candidate, outcome: &Outcome) {
        if let (Some(Init::Grown(lineage)), Status::Ok, Some(weights)) =
            (&candidate.init, &outcome.status, &outcome.weights)
        {
            self.grown
                .insert(lineage.key(), (candidate.arch().clone(), weights.clone()));
        }
    }
}
