//! A run's trained supernet, read back from its run folder (`weights/supernet-*.safetensors`)
//! with the run's settings, to score children with the final shared weights and cut their
//! own weights out of it — what `archforge export` writes and what `[final] init =
//! "supernet"` fine-tunes from. A child is scored exactly as the supernet scores a candidate
//! when nothing trains it: batch norm recalibrated for it, the first validation batches.

use crate::runner::Prepared;
use anyhow::{Context, Result, bail};
use archforge::Candidate;
use archforge::evaluator::{Evaluator, Status, SupernetEvaluator, SupernetSettings};
use archforge::weights::Snapshot;
use std::path::Path;
use std::sync::Arc;

/// A trained supernet (see the module documentation).
pub struct TrainedSupernet {
    supernet: SupernetEvaluator,
}

/// A child of a trained supernet: its scores there and its own weights.
#[derive(Debug, Clone)]
pub struct Child {
    /// The supernet's validation accuracy of it (the search metric).
    pub valid: f64,
    /// The supernet's test accuracy of it.
    pub test: f64,
    /// Its weights, under the paths of its stand-alone network.
    pub weights: Arc<Snapshot>,
    /// Its layers the run's supernet never made (drawn fresh, as the supernet would have
    /// drawn them), by path.
    pub untrained: Vec<String>,
}

impl TrainedSupernet {
    /// The supernet saved at `path` by a run of `prepared`'s experiment with these
    /// `settings` and `seed`.
    pub fn open(
        prepared: &Prepared,
        settings: &SupernetSettings,
        path: &Path,
        seed: u64,
    ) -> Result<Self> {
        let training = prepared
            .training()
            .context("a supernet experiment has data and training settings")?;
        let weights = Snapshot::load(path)?;
        let supernet = SupernetEvaluator::trained(
            prepared.networks().clone(),
            training.data.clone(),
            training.config.clone(),
            settings.clone(),
            seed,
            Arc::new(weights),
        )
        .keeping_weights();
        Ok(TrainedSupernet { supernet })
    }

    /// Scores `candidate` with the final shared weights and cuts its weights out.
    pub fn child(&mut self, candidate: &Candidate) -> Result<Child> {
        let before = self.supernet.drawn_layers().len();
        let outcome = self.supernet.rescore(candidate)?;
        let untrained = self.supernet.drawn_layers()[before..].to_vec();
        if !untrained.is_empty() {
            eprintln!(
                "{}: {} of its layers were never trained by the supernet (drawn fresh): {}",
                candidate.label,
                untrained.len(),
                untrained.join(", ")
            );
        }
        match (&outcome.status, outcome.metrics.search, outcome.weights) {
            (Status::Ok, Some(valid), Some(weights)) => Ok(Child {
                valid,
                test: outcome.metrics.reported.unwrap_or(f64::NAN),
                weights,
                untrained,
            }),
            (status, ..) => bail!(
                "{}: the supernet cannot give this child its weights: {}",
                candidate.label,
                status.reason()
            ),
        }
    }
}
