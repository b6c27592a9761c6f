//! Training and scoring: SGD with momentum (dampening 0, as in PyTorch) or Adam (epsilon
//! 1e-8), weight decay, a cosine, step or constant learning-rate schedule per step,
//! cross-entropy with optional label smoothing, optional gradient clipping (by norm, per
//! tensor), and knowledge distillation from a teacher network's logits. One step may train
//! several paths of a shared store on the same batch, their losses summed (fair sampling).
//! A NaN or infinite loss ends the training with an error, which evaluators record as a
//! failed evaluation. Accuracy is measured with batch norm's running statistics.

use super::drop_path::PathDropper;
use super::store::{Plan, WeightStore, Weights};
use crate::data::{Augment, Batch, Dataset};
use crate::error::{Error, Result};
use burn::grad_clipping::GradientClippingConfig;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// SGD with momentum.
    Sgd,
    /// Adam.
    Adam,
}

/// How the learning rate changes over the training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Constant.
    Constant,
    /// Cosine from the learning rate down to 0 over all steps.
    Cosine,
    /// Multiplied by `step_gamma` every `step_epochs` epochs.
    Step,
}

/// The `[training]` section: how a network is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training split.
    #[serde(default = "defaults::epochs")]
    pub epochs: usize,
    /// Training steps instead of `epochs` passes (the schedule spans them; 0: no training).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Images per step.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: usize,
    /// The optimiser.
    #[serde(default = "defaults::optimizer")]
    pub optimizer: OptimizerKind,
    /// The (initial) learning rate.
    #[serde(default = "defaults::learning_rate")]
    pub learning_rate: f64,
    /// SGD momentum.
    #[serde(default = "defaults::momentum")]
    pub momentum: f64,
    /// L2 weight decay.
    #[serde(default = "defaults::weight_decay")]
    pub weight_decay: f64,
    /// The learning-rate schedule.
    #[serde(default = "defaults::schedule")]
    pub schedule: Schedule,
    /// `step` schedule: epochs between decays.
    #[serde(default = "defaults::step_epochs")]
    pub step_epochs: usize,
    /// `step` schedule: the factor at each decay.
    #[serde(default = "defaults::step_gamma")]
    pub step_gamma: f64,
    /// Label smoothing of the cross-entropy (0: off).
    #[serde(default)]
    pub label_smoothing: f64,
    /// Clip each gradient tensor to this norm (none: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_clip: Option<f64>,
    /// Augmentation of training batches.
    #[serde(default)]
    pub augment: Augment,
    /// ScheduledDropPath's keep probability for the last cell at the end of training (1: off;
    /// NASNet on CIFAR used 0.6). Only spaces that mark their paths use it, and only in
    /// stand-alone training.
    #[serde(default = "defaults::drop_path_keep_prob")]
    pub drop_path_keep_prob: f64,
}

mod defaults {
    use super::*;
    pub fn epochs() -> usize {
        10
    }
    pub fn batch_size() -> usize {
        64
    }
    pub fn optimizer() -> OptimizerKind {
        OptimizerKind::Sgd
    }
    pub fn learning_rate() -> f64 {
        0.05
    }
    pub fn momentum() -> f64 {
        0.9
    }
    pub fn weight_decay() -> f64 {
        5e-4
    }
    pub fn schedule() -> Schedule {
        Schedule::Cosine
    }
    pub fn step_epochs() -> usize {
        30
    }
    pub fn step_gamma() -> f64 {
        0.1
    }
    pub fn drop_path_keep_prob() -> f64 {
        1.0
    }
    pub fn temperature() -> f64 {
        4.0
    }
    pub fn distill_weight() -> f64 {
        0.9
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: defaults::epochs(),
            steps: None,
            batch_size: defaults::batch_size(),
            optimizer: defaults::optimizer(),
            learning_rate: defaults::learning_rate(),
            momentum: defaults::momentum(),
            weight_decay: defaults::weight_decay(),
            schedule: defaults::schedule(),
            step_epochs: defaults::step_epochs(),
            step_gamma: defaults::step_gamma(),
            label_smoothing: 0.0,
            grad_clip: None,
            augment: Augment::default(),
            drop_path_keep_prob: defaults::drop_path_keep_prob(),
        }
    }
}

impl TrainConfig {
    /// These settings with `choices` (`[training]` keys and values) put over them, checked;
    /// `Err` says which choice does not fit.
    pub fn with_choices(
        &self,
        choices: &crate::candidate::TrainingChoices,
    ) -> std::result::Result<TrainConfig, String> {
        if choices.is_empty() {
            return Ok(self.clone());
        }
        let mut value = serde_json::to_value(self).expect("training settings serialise");
        let table = value
            .as_object_mut()
            .expect("training settings are a table");
        for (key, choice) in choices {
            table.insert(key.clone(), choice.clone());
        }
        let config: TrainConfig = serde_json::from_value(value)
            .map_err(|e| format!("the candidate's training choices do not fit: {e}"))?;
        config
            .check()
            .map_err(|(key, why)| format!("the candidate's `{key}`: {why}"))?;
        Ok(config)
    }

    /// Checks the settings; `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.epochs == 0 {
            return Err(("epochs", "epochs must be at least 1".into()));
        }
        if self.batch_size == 0 {
            return Err(("batch_size", "batch_size must be at least 1".into()));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err((
                "learning_rate",
                "learning_rate must be a positive number".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(("momentum", "momentum must be in [0, 1)".into()));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err((
                "label_smoothing",
                "label_smoothing must be in [0, 1)".into(),
            ));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err((
                "weight_decay",
                "weight_decay must be a number, not negative".into(),
            ));
        }
        if !(self.step_gamma > 0.0 && self.step_gamma.is_finite()) {
            return Err(("step_gamma", "step_gamma must be a positive number".into()));
        }
        if !(self.drop_path_keep_prob > 0.0 && self.drop_path_keep_prob <= 1.0) {
            return Err((
                "drop_path_keep_prob",
                "drop_path_keep_prob must be in (0, 1]".into(),
            ));
        }
        if self.grad_clip.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
            return Err(("grad_clip", "grad_clip must be a positive number".into()));
        }
        if self.schedule == Schedule::Step && self.step_epochs == 0 {
            return Err(("step_epochs", "step_epochs must be at least 1".into()));
        }
        Ok(())
    }

    /// The optimiser these settings describe.
    pub fn optimizer(&self) -> ModuleOptimizer {
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        let clip = self
            .grad_clip
            .map(|c| GradientClippingConfig::Norm(c as f32));
        match self.optimizer {
            OptimizerKind::Sgd => {
                let momentum = (self.momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(0.0)
                        .with_nesterov(false)
                });
                SgdConfig::new()
                    .with_momentum(momentum)
                    .with_weight_decay(decay)
                    .with_gradient_clipping(clip)
                    .init()
            }
            OptimizerKind::Adam => AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(decay)
                .with_grad_clipping(clip)
                .init(),
        }
    }

    /// The learning rate at `step` of `total` steps, `steps_per_epoch` to an epoch.
    pub fn learning_rate_at(&self, step: usize, total: usize, steps_per_epoch: usize) -> f64 {
        match self.schedule {
            Schedule::Constant => self.learning_rate,
            Schedule::Cosine => {
                let t = step as f64 / total.max(1) as f64;
                0.5 * self.learning_rate * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Schedule::Step => {
                let epoch = step / steps_per_epoch.max(1);
                self.learning_rate * self.step_gamma.powi((epoch / self.step_epochs) as i32)
            }
        }
    }
}

/// Images and labels of a batch as tensors on `device`.
pub fn batch_tensors(
    batch: &Batch,
    data: &Dataset,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let s = data.shape;
    let x = Tensor::<4>::from_data(
        TensorData::new(
            batch.images.clone(),
            [batch.len(), s.channels, s.height, s.width],
        ),
        device,
    );
    let labels: Vec<i64> = batch.labels.iter().map(|&l| l as i64).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch.len()]), device);
    (x, y)
}

/// Knowledge distillation: the loss becomes `(1 - weight) * CE(student, labels) + weight * D`
/// with `D` the distillation term of [`DistillKind`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distillation {
    /// The distillation term.
    #[serde(default)]
    pub kind: DistillKind,
    /// The softmax temperature `T` of `kl` (> 0).
    #[serde(default = "defaults::temperature")]
    pub temperature: f64,
    /// The share of the distillation term, in [0, 1].
    #[serde(default = "defaults::distill_weight")]
    pub weight: f64,
}

impl Default for Distillation {
    fn default() -> Self {
        Distillation {
            kind: DistillKind::default(),
            temperature: defaults::temperature(),
            weight: defaults::distill_weight(),
        }
    }
}

/// What a student's outputs are held to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DistillKind {
    /// Hinton et al. (2015): `T^2 * KL(softmax(teacher / T) || softmax(student / T))`.
    #[default]
    Kl,
    /// The mean squared difference of the logits themselves (N2N learning).
    MseLogits,
}

impl Distillation {
    /// Checks the settings; `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(("temperature", "temperature must be positive".into()));
        }
        if !(0.0..=1.0).contains(&self.weight) {
            return Err(("weight", "weight must be in [0, 1]".into()));
        }
        Ok(())
    }

    /// The distillation loss of `student` logits against `teacher` logits (no gradient flows
    /// into the teacher) and the labels' cross-entropy `hard`.
    pub fn loss(&self, student: Tensor<2>, teacher: Tensor<2>, hard: Tensor<1>) -> Tensor<1> {
        use burn::tensor::activation::{log_softmax, softmax};
        let soft = match self.kind {
            DistillKind::Kl => {
                let t = self.temperature;
                let rows = student.dims()[0].max(1) as f64;
                let target = softmax(teacher.detach() / t, 1);
                let log_target = target.clone().clamp_min(1e-12).log();
                (target * (log_target - log_softmax(student / t, 1))).sum() * (t * t / rows)
            }
            DistillKind::MseLogits => (student - teacher.detach()).powi_scalar(2).mean(),
        };
        hard * (1.0 - self.weight) + soft * self.weight
    }
}

/// A trained network whose logits a student learns from: its weights frozen, batch norm on
/// running statistics — run on each batch, or its logits for every training image computed
/// once ([`Teacher::cached`]).
#[derive(Clone)]
pub struct Teacher {
    logits: TeacherLogits,
    distillation: Distillation,
}

/// Where a teacher's logits come from.
#[derive(Clone)]
enum TeacherLogits {
    /// The network, run on each batch.
    Network {
        weights: Weights,
        plan: Plan,
        device: Device,
    },
    /// The logits of every image of the training set, `classes` per image, by image index.
    Cached {
        logits: Arc<Vec<f32>>,
        classes: usize,
    },
}

impl Teacher {
    /// `plan`'s network in `store` as a teacher, distilled as `distillation` says.
    pub fn new(store: &WeightStore, plan: Plan, distillation: Distillation) -> Self {
        Teacher {
            logits: TeacherLogits::Network {
                weights: store.weights().valid(),
                plan,
                device: store.device().clone().without_autodiff(),
            },
            distillation,
        }
    }

    /// A teacher known by its logits for every image of the training set the student trains
    /// on (`classes` per image, in image order: what [`logits`] gives), distilled as
    /// `distillation` says. They are the logits of the images as stored, so an augmented
    /// batch learns the teacher's view of its unaugmented images.
    pub fn cached(logits: Arc<Vec<f32>>, classes: usize, distillation: Distillation) -> Self {
        Teacher {
            logits: TeacherLogits::Cached { logits, classes },
            distillation,
        }
    }

    /// The teacher's logits for `batch`, as a constant on `device`.
    fn logits(&self, batch: &Batch, data: &Dataset, device: &Device) -> Tensor<2> {
        match &self.logits {
            TeacherLogits::Network {
                weights,
                plan,
                device: own,
            } => {
                let (x, _) = batch_tensors(batch, data, own);
                let logits = weights.forward(plan, x);
                Tensor::from_data(logits.into_data(), device)
            }
            TeacherLogits::Cached { logits, classes } => {
                let rows: Vec<f32> = batch
                    .indices
                    .iter()
                    .flat_map(|&i| logits[i * classes..(i + 1) * classes].iter().copied())
                    .collect();
                Tensor::from_data(TensorData::new(rows, [batch.len(), *classes]), device)
            }
        }
    }
}

/// One optimiser with its loss: takes training steps on any plan of one store.
pub struct Stepper {
    optimizer: ModuleOptimizer,
    loss: CrossEntropyLoss,
    teacher: Option<Teacher>,
    paths: Option<PathDropper>,
    on_epoch: Option<EpochReport>,
}

/// What [`train_with`] calls at the end of each epoch: the epoch (from 1), the number of
/// epochs and the epoch's mean loss.
pub type EpochReport = Box<dyn FnMut(usize, usize, f64) + Send>;

impl Stepper {
    /// An optimiser and loss as `config` says, for weights on `device`.
    pub fn new(config: &TrainConfig, device: &Device) -> Self {
        let loss = CrossEntropyLossConfig::new()
            .with_smoothing((config.label_smoothing > 0.0).then_some(config.label_smoothing as f32))
            .init(device);
        Stepper {
            optimizer: config.optimizer(),
            loss,
            teacher: None,
            paths: None,
            on_epoch: None,
        }
    }

    /// The same stepper, `report` told of every finished epoch of a [`train_with`].
    pub fn with_progress(mut self, report: EpochReport) -> Self {
        self.on_epoch = Some(report);
        self
    }

    /// The same stepper, its loss distilled from `teacher`.
    pub fn with_teacher(mut self, teacher: Teacher) -> Self {
        self.teacher = Some(teacher);
        self
    }

    /// One step on `batch` at learning rate `lr`: returns the batch's loss, or an error when
    /// it is NaN or infinite (the weights are then left as they were).
    pub fn step(
        &mut self,
        store: &mut WeightStore,
        plan: &Plan,
        batch: &Batch,
        data: &Dataset,
        lr: f64,
    ) -> Result<f64> {
        self.step_paths(store, std::slice::from_ref(plan), batch, data, lr)
    }

    /// One step of several paths of `store` on the same `batch`: their losses are summed, so
    /// each layer gets the sum of its gradients over the paths that use it, and the weights
    /// are updated once. Returns the summed loss (or an error, as [`Stepper::step`]).
    pub fn step_paths(
        &mut self,
        store: &mut WeightStore,
        plans: &[Plan],
        batch: &Batch,
        data: &Dataset,
        lr: f64,
    ) -> Result<f64> {
        let (x, y) = batch_tensors(batch, data, store.device());
        let teacher = self
            .teacher
            .as_ref()
            .map(|t| (t.logits(batch, data, store.device()), t.distillation));
        let mut total: Option<Tensor<1>> = None;
        for plan in plans {
            let logits = store
                .weights()
                .forward_dropping(plan, x.clone(), self.paths.as_mut());
            let hard = self.loss.forward(logits.clone(), y.clone());
            let loss = match &teacher {
                Some((target, distillation)) => distillation.loss(logits, target.clone(), hard),
                None => hard,
            };
            total = Some(match total {
                Some(sum) => sum + loss,
                None => loss,
            });
        }
        let Some(loss) = total else {
            return Ok(0.0);
        };
        let value = loss.clone().into_scalar::<f32>() as f64;
        if !value.is_finite() {
            return Err(Error::Training(format!("the loss is {value}")));
        }
        let grads = GradientsParams::from_grads(loss.backward(), store.weights());
        store.update(|w| self.optimizer.step(lr, w, grads));
        Ok(value)
    }
}

/// Trains `plan`'s network in `store` on `data` for `config.epochs` epochs (or `config.steps`
/// steps), batches shuffled (and augmented) from `rng`. Returns the mean loss of each epoch
/// (of each begun epoch, when training by steps).
pub fn train(
    store: &mut WeightStore,
    plan: &Plan,
    data: &Dataset,
    config: &TrainConfig,
    rng: &mut crate::rng::Rng,
) -> Result<Vec<f64>> {
    train_with(
        Stepper::new(config, store.device()),
        store,
        plan,
        data,
        config,
        rng,
    )
}

/// [`train`] with a given stepper (one distilling from a teacher, say).
pub fn train_with(
    mut stepper: Stepper,
    store: &mut WeightStore,
    plan: &Plan,
    data: &Dataset,
    config: &TrainConfig,
    rng: &mut crate::rng::Rng,
) -> Result<Vec<f64>> {
    let steps_per_epoch = data.len().div_ceil(config.batch_size);
    let total = config.steps.unwrap_or(steps_per_epoch * config.epochs);
    if config.drop_path_keep_prob < 1.0 || plan.has_dropout() {
        stepper.paths = Some(PathDropper::new(config.drop_path_keep_prob, rng.random()));
    }
    let mut step = 0;
    let mut epoch_losses = Vec::with_capacity(total.div_ceil(steps_per_epoch.max(1)));
    for epoch in 0.. {
        if step >= total {
            break;
        }
        let (mut sum, mut seen) = (0.0, 0usize);
        for batch in data.batches(config.batch_size, Some(rng), config.augment) {
            if step >= total {
                break;
            }
            let lr = config.learning_rate_at(step, total, steps_per_epoch);
            if let Some(paths) = &mut stepper.paths {
                paths.set_progress(step as f64 / total as f64);
            }
            let loss = stepper
                .step(store, plan, &batch, data, lr)
                .map_err(|e| match e {
                    Error::Training(m) => {
                        Error::Training(format!("{m} at epoch {} step {step}", epoch + 1))
                    }
                    other => other,
                })?;
            sum += loss * batch.len() as f64;
            seen += batch.len();
            step += 1;
        }
        let mean = sum / seen.max(1) as f64;
        if let Some(report) = &mut stepper.on_epoch {
            report(epoch + 1, total.div_ceil(steps_per_epoch.max(1)), mean);
        }
        epoch_losses.push(mean);
    }
    Ok(epoch_losses)
}

/// The gradient of the cross-entropy of `plan`'s network on `batch` (batch norm on the
/// batch's statistics) with respect to each convolution and linear weight of `store`, by
/// layer index (`None` where the plan does not use the layer). No weight changes, but batch
/// norm's running statistics move as in a training step; an error when the loss is not
/// finite.
pub fn path_gradients(
    store: &WeightStore,
    plan: &Plan,
    batch: &Batch,
    data: &Dataset,
) -> Result<Vec<Option<Vec<f32>>>> {
    let (x, y) = batch_tensors(batch, data, store.device());
    let logits = store.weights().forward(plan, x);
    let loss = CrossEntropyLossConfig::new()
        .init(store.device())
        .forward(logits, y);
    let value = loss.clone().into_scalar::<f32>();
    if !value.is_finite() {
        return Err(Error::Training(format!("the loss is {value}")));
    }
    Ok(store.weights().gradients_by_layer(&loss.backward()))
}

/// Top-1 accuracy (in percent) of `plan`'s network on `data`, batch norm on its running
/// statistics.
pub fn accuracy(store: &WeightStore, plan: &Plan, data: &Dataset, batch_size: usize) -> f64 {
    let weights = store.weights().valid();
    let device = store.device().clone().without_autodiff();
    let mut correct = 0i64;
    for batch in data.batches(batch_size, None, Augment::default()) {
        let (x, y) = batch_tensors(&batch, data, &device);
        let predicted = weights.forward(plan, x).argmax(1).reshape([batch.len()]);
        correct += predicted.equal(y).int().sum().into_scalar::<i64>();
    }
    100.0 * correct as f64 / data.len().max(1) as f64
}

/// The logits of `plan`'s network for every image of `data`, in order (`classes` numbers per
/// image), batch norm on its running statistics.
pub fn logits(store: &WeightStore, plan: &Plan, data: &Dataset, batch_size: usize) -> Vec<f32> {
    let weights = store.weights().valid();
    let device = store.device().clone().without_autodiff();
    let mut out = Vec::with_capacity(data.len() * data.classes);
    for batch in data.batches(batch_size, None, Augment::default()) {
        let (x, _) = batch_tensors(&batch, data, &device);
        let values = weights.forward(plan, x).into_data().convert::<f32>();
        out.extend(values.iter::<f32>());
    }
    out
}

/// Re-estimates batch norm's running statistics for `plan` from the first `batches` training
/// batches of `data` (in order): each norm's statistics become the plain average over those
/// batches, as if only this network had ever been trained. No weight changes.
pub fn recalibrate_batch_norm(
    store: &WeightStore,
    plan: &Plan,
    data: &Dataset,
    batch_size: usize,
    batches: usize,
) {
    // A copy that needs no gradients shares the running statistics but records no graph: a
    // forward pass on the autodiff device would otherwise keep every activation alive.
    let mut weights = store.weights().clone().no_grad();
    for (k, batch) in data
        .batches(batch_size, None, Augment::default())
        .take(batches)
        .enumerate()
    {
        // Momentum 1/(k+1): the running value becomes the mean of the k+1 batches seen.
        weights = weights.with_batch_norm_momentum(1.0 / (k as f64 + 1.0));
        let (x, _) = batch_tensors(&batch, data, store.device());
        let _ = weights.forward(plan, x);
    }
}

/// The engine device for training: the CPU (Flex) backend with automatic differentiation.
///
/// The library leaves the process's allocator alone: measured on the trainer bench and a
/// digits weight-sharing run, glibc's defaults, glibc with a raised mmap threshold and
/// mimalloc took the same time within noise, and mimalloc doubled peak memory.
pub fn training_device() -> burn::prelude::Device {
    burn::prelude::Device::flex().autodiff()
}
