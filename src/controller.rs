//! The passive controller. The runner asks, the controller answers: it proposes decision
//! sequences and is told how they scored. It never owns the loop, so it can be batched,
//! checkpointed, resumed and tested without any evaluator.

use crate::env::Environment;
use crate::error::Result;
use crate::evaluator::StatusKind;
use serde::{Deserialize, Serialize};

/// A complete decision sequence a controller wants evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The decisions.
    pub decisions: Vec<usize>,
}

/// What a controller learns about one of its proposals. The reported metric is deliberately
/// absent: a search may only see its search metric and reward.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// The proposal's decisions.
    pub decisions: Vec<usize>,
    /// The objective's reward; `None` for a failed evaluation, which learners skip.
    pub reward: Option<f64>,
    /// How the evaluation ended.
    pub status: StatusKind,
}

/// A controller's whole learnable state, as JSON tagged with the controller's kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The kind of controller that wrote it.
    pub controller: String,
    /// Its state.
    pub state: serde_json::Value,
}

/// A search strategy over any [`Environment`] whose decisions it can handle.
pub trait Controller: Send {
    /// The controller's kind, as the registry names it.
    fn kind(&self) -> &'static str;

    /// Up to `n` new decision sequences to evaluate.
    fn propose(
        &mut self,
        env: &dyn Environment,
        n: usize,
        rng: &mut crate::rng::Rng,
    ) -> Result<Vec<Proposal>>;

    /// The results of earlier proposals, in the order they were evaluated.
    fn observe(&mut self, env: &dyn Environment, results: &[Evaluated]) -> Result<()>;

    /// The controller's state; [`Controller::restore`] on a fresh controller of the same
    /// configuration makes it propose exactly what this one would.
    fn checkpoint(&self) -> Result<Checkpoint>;

    /// Replaces the state with a checkpoint's.
    fn restore(&mut self, checkpoint: Checkpoint) -> Result<()>;

    /// Weights the controller trained apart from its learnable state that a later run may
    /// read instead of training them again (the diffusion generator's score network), with
    /// a name for their file in the run folder; `None` for most controllers.
    fn trained_weights(&self) -> Option<(&'static str, crate::weights::Snapshot)> {
        None
    }
}

impl Checkpoint {
    /// Wraps a serialisable state for controller kind `controller`.
    pub fn new<T: Serialize>(controller: &str, state: &T) -> Result<Self> {
        let state = serde_json::to_value(state)
            .map_err(|e| crate::error::Error::Checkpoint(format!("{controller}: {e}")))?;
        Ok(Checkpoint {
            controller: controller.into(),
            state,
        })
    }

    /// The state, checked to belong to controller kind `controller`.
    pub fn into_state<T: for<'de> Deserialize<'de>>(self, controller: &str) -> Result<T> {
        if self.controller != controller {
            return Err(crate::error::Error::Checkpoint(format!(
                "a `{}` checkpoint cannot restore a `{controller}` controller",
                self.controller
            )));
        }
        serde_json::from_value(self.state)
            .map_err(|e| crate::error::Error::Checkpoint(format!("{controller}: {e}")))
    }
}
