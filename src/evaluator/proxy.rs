//! The `proxy` evaluator: a candidate scored by a zero-cost proxy of its untrained network
//! ([`crate::nn::proxy`]) on one batch of training images, drawn once per run from its seed,
//! the weights drawn from the same seed. The proxy is the search metric; there is no
//! reported metric (nothing is trained), so a proxy search reports through its finalists
//! retrained stand-alone (`[final]`). A network the trainer cannot build is `Invalid`, a
//! score that is not finite `Failed`.

use super::{Evaluator, Metrics, Outcome};
use crate::candidate::Candidate;
use crate::data::{Augment, Batch, Dataset, Splits};
use crate::error::Result;
use crate::nn::proxy::{self, Proxy};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[evaluator]` settings for `kind = "proxy"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySettings {
    /// Which proxy is the search metric.
    #[serde(default = "default_proxy")]
    pub proxy: Proxy,
    /// Images in the scoring batch.
    #[serde(default = "default_batch")]
    pub batch: usize,
}

fn default_proxy() -> Proxy {
    Proxy::Naswot
}
fn default_batch() -> usize {
    64
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            proxy: default_proxy(),
            batch: default_batch(),
        }
    }
}

impl ProxySettings {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.batch < 2 {
            return Err((
                "batch",
                format!(
                    "a proxy needs a batch of at least 2 images, not {}",
                    self.batch
                ),
            ));
        }
        Ok(())
    }
}

/// The batch proxies score on: the first `size` images of `data` in the order `seed`
/// shuffles it (`None` for a dataset without images).
pub fn scoring_batch(data: &Dataset, size: usize, seed: u64) -> Option<Batch> {
    let mut rng = crate::rng::seeded(seed);
    data.batches(size, Some(&mut rng), Augment::default())
        .next()
}

/// Scores candidates by a zero-cost proxy (see the module documentation).
#[derive(Debug, Clone)]
pub struct ProxyEvaluator {
    data: Arc<Splits>,
    settings: ProxySettings,
    batch: Batch,
    seed: u64,
}

impl ProxyEvaluator {
    /// An evaluator scoring on a batch of `data`'s training images drawn from `seed`.
    pub fn new(data: Arc<Splits>, settings: ProxySettings, seed: u64) -> Self {
        let batch = scoring_batch(&data.train, settings.batch, seed).unwrap_or(Batch {
            images: Vec::new(),
            labels: Vec::new(),
            indices: Vec::new(),
        });
        ProxyEvaluator {
            data,
            settings,
            batch,
            seed,
        }
    }
}

impl Evaluator for ProxyEvaluator {
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        if self.batch.len() < 2 {
            return Ok(Outcome::failed(
                "the training data holds fewer than 2 images",
            ));
        }
        let arch = candidate.arch();
        if arch.output_shape().is_none() {
            return Ok(Outcome::invalid(
                "the candidate is not a network with shapes",
            ));
        }
        let shape = self.data.train.shape;
        match proxy::score(arch, &self.batch, shape, self.settings.proxy, self.seed) {
            Ok(value) => Ok(Outcome::ok(Metrics {
                search: Some(value),
                reported: None,
                params: candidate.params(),
                macs: candidate.macs(),
                latency_ms: None,
                simulated_seconds: 0.0,
            })),
            Err(crate::error::Error::Arch(why)) => Ok(Outcome::invalid(why)),
            Err(e) => Ok(Outcome::failed(e.to_string())),
        }
    }
}
