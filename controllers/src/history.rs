//! What the model-based controllers (SMBO, the diffusion generator) remember: every evaluated
//! architecture with its predictor input and reward, and every sequence proposed, so that
//! nothing is proposed twice while fresh ones exist. It is their whole checkpoint; their
//! models are refitted from it.

use archforge::env::complete_uniformly;
use archforge::error::Result;
use archforge::predictor::Sample;
use archforge::{Checkpoint, Environment, Evaluated, Rng};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// One evaluated architecture: its decisions, a predictor's input of it and its reward
/// (`None`: failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    /// The decisions.
    pub decisions: Vec<usize>,
    /// The predictor's input.
    pub sample: Sample,
    /// The reward, `None` for a failed evaluation.
    pub reward: Option<f64>,
}

/// The evaluated and the proposed (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every evaluation, in the order observed.
    pub seen: Vec<Seen>,
    /// Every sequence proposed or observed.
    pub proposed: HashSet<Vec<usize>>,
}

impl History {
    /// Evaluations observed so far.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing was observed.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Records `results`, each with its input as `sample` builds it.
    pub fn observe(
        &mut self,
        results: &[Evaluated],
        sample: impl Fn(&[usize]) -> Result<Sample>,
    ) -> Result<()> {
        for result in results {
            self.proposed.insert(result.decisions.clone());
            self.seen.push(Seen {
                sample: sample(&result.decisions)?,
                decisions: result.decisions.clone(),
                reward: result.reward.filter(|r| r.is_finite()),
            });
        }
        Ok(())
    }

    /// The inputs and rewards of the successful evaluations.
    pub fn rewarded(&self) -> (Vec<Sample>, Vec<f64>) {
        self.seen
            .iter()
            .filter_map(|s| s.reward.map(|r| (s.sample.clone(), r)))
            .unzip()
    }

    /// A uniform sample not proposed before (or, after a few tries, any uniform sample).
    pub fn fresh_sample(&self, env: &dyn Environment, rng: &mut Rng) -> Result<Vec<usize>> {
        let mut decisions = Vec::new();
        for _ in 0..32 {
            decisions.clear();
            complete_uniformly(env, &mut decisions, rng)?;
            if !self.proposed.contains(&decisions) {
                break;
            }
        }
        Ok(decisions)
    }

    /// The history as controller `kind`'s checkpoint (the proposed sequences sorted).
    pub fn checkpoint(&self, kind: &str) -> Result<Checkpoint> {
        let mut proposed: Vec<&Vec<usize>> = self.proposed.iter().collect();
        proposed.sort();
        Checkpoint::new(kind, &(&self.seen, proposed))
    }

    /// The history in controller `kind`'s checkpoint.
    pub fn restore(kind: &str, checkpoint: Checkpoint) -> Result<Self> {
        let (seen, proposed): (Vec<Seen>, Vec<Vec<usize>>) = checkpoint.into_state(kind)?;
        Ok(History {
            seen,
            proposed: proposed.into_iter().collect(),
        })
    }
}
