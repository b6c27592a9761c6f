//! Random search: each decision drawn uniformly from the legal options of its choice, masks
//! respected. The honest baseline every comparison needs.

use archforge::error::Result;
use archforge::{Checkpoint, Controller, Environment, Evaluated, Proposal, Rng};
use serde::{Deserialize, Serialize};

/// The `[[controller]]` entry for `kind = "random"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomConfig {
    /// The name in reports (default: `random`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Proposals evaluated between observations.
    #[serde(default = "crate::defaults::batch")]
    pub batch: usize,
}

/// Random search. It has no state: everything it draws comes from the run's generator.
#[derive(Debug, Default, Clone)]
pub struct RandomSearch;

impl Controller for RandomSearch {
    fn kind(&self) -> &'static str {
        "random"
    }

    fn propose(&mut self, env: &dyn Environment, n: usize, rng: &mut Rng) -> Result<Vec<Proposal>> {
        (0..n)
            .map(|_| {
                let mut decisions = Vec::with_capacity(env.spec().max_length);
                archforge::env::complete_uniformly(env, &mut decisions, rng)?;
                Ok(Proposal { decisions })
            })
            .collect()
    }

    fn observe(&mut self, _env: &dyn Environment, _results: &[Evaluated]) -> Result<()> {
        Ok(())
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        Checkpoint::new(self.kind(), &())
    }

    fn restore(&mut self, checkpoint: Checkpoint) -> Result<()> {
        checkpoint.into_state::<()>(self.kind())
    }
}
