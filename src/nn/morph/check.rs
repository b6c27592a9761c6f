//! Whether a morph kept the function: the largest change of a network's outputs.

use crate::arch::Arch;
use crate::data::{Batch, Dataset};
use crate::error::{Error, Result};
use crate::nn::store::WeightStore;
use crate::nn::train::{batch_tensors, logits, training_device};
use crate::weights::Snapshot;
use std::sync::Arc;

/// The logits of `arch` with `weights`: over `data` in evaluation (running statistics), and
/// on `batch` of it in training (batch statistics).
fn outputs(
    arch: &Arch,
    weights: &Arc<Snapshot>,
    data: &Dataset,
    batch: &Batch,
) -> Result<[Vec<f32>; 2]> {
    let mut store = WeightStore::new(training_device(), 0).from(weights.clone());
    let plan = store.plan(arch)?;
    let eval = logits(&store, &plan, data, 64);
    Ok([eval, in_training(arch, weights, data, batch)?])
}

/// The flattened output of `arch` with `weights` on `batch` of `data`, in training mode
/// (batch statistics in its batch norms).
pub(super) fn in_training(
    arch: &Arch,
    weights: &Arc<Snapshot>,
    data: &Dataset,
    batch: &Batch,
) -> Result<Vec<f32>> {
    let mut store = WeightStore::new(training_device(), 0).from(weights.clone());
    let plan = store.plan(arch)?;
    let (x, _) = batch_tensors(batch, data, store.device());
    store
        .weights()
        .forward(&plan, x)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Training(format!("{e:?}")))
}

/// How far `after` moved the outputs of `before` (each a network and its weights): the
/// largest difference of a logit over `data` in evaluation and over `batch` in training,
/// each relative to the largest logit `before` gives there (at least 1). A morph keeps the
/// function when both are within rounding (1e-4).
pub fn largest_change(
    before: (&Arch, &Arc<Snapshot>),
    after: (&Arch, &Arc<Snapshot>),
    data: &Dataset,
    batch: &Batch,
) -> Result<[f32; 2]> {
    let b = outputs(before.0, before.1, data, batch)?;
    let a = outputs(after.0, after.1, data, batch)?;
    let change = |b: &[f32], a: &[f32]| {
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let worst = b
            .iter()
            .zip(a)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        worst / scale
    };
    Ok([change(&b[0], &a[0]), change(&b[1], &a[1])])
}
