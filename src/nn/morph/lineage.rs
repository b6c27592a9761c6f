//! A [`Lineage`] redone: a network's morphs applied step after step, on its graph alone (what
//! an environment needs to know the network) or on trained weights (what a trainer starts a
//! grown child from). Net2Wider's unit mapping and noise are drawn from a stream seeded by the
//! step's key and the morph's place in it, and Net2Deeper's batch statistics come from a batch
//! of the training images drawn the same way, so the same lineage on the same weights grows
//! the same network.

use super::deeper::{channel_moments, deepen, deepen_graph};
use super::graph::{Morphed, node_named};
use super::wider::{widen, widen_graph};
use crate::arch::Arch;
use crate::arch::hash::hash_words;
use crate::data::{Augment, Dataset};
use crate::error::{Error, Result};
use crate::lineage::{Lineage, Morph};
use crate::weights::Snapshot;
use std::sync::Arc;

/// Images in the batch Net2Deeper's statistics come from.
const MOMENT_IMAGES: usize = 256;

/// `arch` after `morph`: the graph alone.
pub fn morph_graph(arch: &Arch, morph: &Morph) -> Result<Arch> {
    match morph {
        Morph::Widen { layer, width } => widen_graph(arch, node_named(arch, layer)?, *width),
        Morph::Deepen { after, kernel } => {
            Ok(deepen_graph(arch, node_named(arch, after)?, *kernel)?.0)
        }
    }
}

/// The network `lineage` grows into, with weights: `arch` with `weights` is the network after
/// its first `from` steps, and the remaining steps are applied to it; `data` gives Net2Deeper
/// its batch statistics.
pub fn grow(
    lineage: &Lineage,
    from: usize,
    arch: Arch,
    weights: Arc<Snapshot>,
    data: &Dataset,
) -> Result<Morphed> {
    let mut at = Morphed {
        arch,
        weights: (*weights).clone(),
    };
    let steps = lineage.steps.get(from..).ok_or_else(|| {
        Error::Arch(format!(
            "the lineage has {} steps, not {from}",
            lineage.steps.len()
        ))
    })?;
    for step in steps {
        for (i, morph) in step.morphs.iter().enumerate() {
            let mut rng = crate::rng::seeded(hash_words("morph", &[step.key, i as u64]));
            at = match morph {
                Morph::Widen { layer, width } => {
                    let id = node_named(&at.arch, layer)?;
                    widen(&at.arch, &at.weights, id, *width, lineage.noise, &mut rng)?
                }
                Morph::Deepen { after, kernel } => {
                    let id = node_named(&at.arch, after)?;
                    let weights = Arc::new(at.weights);
                    let batch = data
                        .batches(MOMENT_IMAGES, Some(&mut rng), Augment::default())
                        .next()
                        .ok_or_else(|| Error::Training("Net2Deeper: no training images".into()))?;
                    let moments = channel_moments(&at.arch, &weights, id, data, &batch)?;
                    deepen(&at.arch, &weights, id, *kernel, &moments)?
                }
            };
        }
    }
    Ok(at)
}
