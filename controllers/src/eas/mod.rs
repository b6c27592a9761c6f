//! EAS, efficient architecture search by network transformation: a meta-controller
//! ([`agent`]) grows the best network found so far by function-preserving morphs, on any
//! space with the [`Growth`] ability (`netmorph`).
//!
//! Its first proposal is the seed network itself. After that, each batch is an episode:
//! `batch` children, each the best network so far grown by `steps` sampled steps (each step
//! decides which layers widen and inserts a layer; a lineage at its most steps stops early).
//! Children start from their parent's trained weights — the evaluator resolves their lineage —
//! so each is briefly trained, not trained from scratch. The agent learns by REINFORCE: the
//! reward (`[objective] kind = "eas"`: `tan(acc * pi / 2)`) minus a moving-average baseline
//! (decay `baseline_decay`), with an entropy bonus, by Adam. The best child becomes the next
//! episode's parent when it beats the best so far.

pub mod agent;

use crate::policy::Adam;
use agent::{Agent, AgentConfig};
use archforge::ability::growth::{GROW, STOP};
use archforge::ability::{Growth, LAYER_FIELDS};
use archforge::error::{Error, Result};
use archforge::{Checkpoint, Controller, Environment, Evaluated, Proposal, Rng};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The `[[controller]]` entry for `kind = "eas"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EasConfig {
    /// The name in reports (default: `eas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Children per episode.
    #[serde(default = "defaults::batch")]
    pub batch: usize,
    /// Growth steps from the parent to each child.
    #[serde(default = "defaults::steps")]
    pub steps: usize,
    /// Adam's learning rate; 0 keeps the agent as it was drawn, so that it makes random
    /// morphs from the best network so far (the ablation of its learning).
    #[serde(default = "defaults::learning_rate")]
    pub learning_rate: f64,
    /// Weight of the entropy bonus.
    #[serde(default = "defaults::entropy_weight")]
    pub entropy_weight: f64,
    /// Decay of the reward's moving-average baseline.
    #[serde(default = "defaults::baseline_decay")]
    pub baseline_decay: f64,
    /// The meta-controller network's sizes.
    #[serde(default)]
    pub agent: AgentConfig,
}

mod defaults {
    pub fn batch() -> usize {
        10
    }
    pub fn steps() -> usize {
        4
    }
    pub fn learning_rate() -> f64 {
        2e-3
    }
    pub fn entropy_weight() -> f64 {
        1e-5
    }
    pub fn baseline_decay() -> f64 {
        0.95
    }
}

impl Default for EasConfig {
    fn default() -> Self {
        EasConfig {
            name: None,
            batch: defaults::batch(),
            steps: defaults::steps(),
            learning_rate: defaults::learning_rate(),
            entropy_weight: defaults::entropy_weight(),
            baseline_decay: defaults::baseline_decay(),
            agent: AgentConfig::default(),
        }
    }
}

impl EasConfig {
    /// Whether the settings can run: the key and reason in one line when not.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.steps == 0 {
            return Err(("steps", "a child grows by at least one step".into()));
        }
        if !(self.learning_rate >= 0.0 && self.learning_rate.is_finite()) {
            return Err(("learning_rate", "must be a number >= 0".into()));
        }
        if !(0.0..1.0).contains(&self.baseline_decay) {
            return Err(("baseline_decay", "must be in [0, 1)".into()));
        }
        if !(self.entropy_weight >= 0.0 && self.entropy_weight.is_finite()) {
            return Err(("entropy_weight", "must be a number >= 0".into()));
        }
        if self.agent.embedding == 0 || self.agent.hidden == 0 {
            return Err((
                "agent",
                "the embedding and hidden sizes must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// A child proposed and not yet observed: its decisions and where its parent's prefix ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Child {
    decisions: Vec<usize>,
    parent: usize,
}

/// What a checkpoint holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Saved {
    params: Vec<f64>,
    adam: Adam,
    baseline: Option<f64>,
    best: Option<(Vec<usize>, f64)>,
    seed_proposed: bool,
    pending: Vec<Child>,
}

/// The EAS controller (see the module documentation).
pub struct Eas {
    config: EasConfig,
    agent: Option<Agent>,
    adam: Option<Adam>,
    baseline: Option<f64>,
    /// The best network so far: its boundary prefix and reward.
    best: Option<(Vec<usize>, f64)>,
    seed_proposed: bool,
    pending: Vec<Child>,
    restored: Option<Saved>,
}

impl Eas {
    /// A controller with `config`.
    pub fn new(config: EasConfig) -> Self {
        Eas {
            config,
            agent: None,
            adam: None,
            baseline: None,
            best: None,
            seed_proposed: false,
            pending: Vec::new(),
            restored: None,
        }
    }

    fn growth(env: &dyn Environment) -> Result<&dyn Growth> {
        env.growth().ok_or_else(|| Error::Controller {
            controller: "eas".into(),
            reason: format!(
                "eas grows networks by morphs and needs a growing space (netmorph); `{}` is not one",
                env.spec().name
            ),
        })
    }

    /// The agent, made at the first proposal (from a checkpoint's parameters when one was
    /// restored).
    fn agent(&mut self, env: &dyn Environment, rng: &mut Rng) -> Result<&Agent> {
        if self.agent.is_none() {
            let layout = Self::growth(env)?.step(&[])?;
            // A restored agent takes the checkpoint's parameters and draws nothing, so that
            // the run's stream goes on as it would have.
            let init = if self.restored.is_some() {
                0
            } else {
                rng.random()
            };
            let mut agent = Agent::new(
                self.config.agent,
                LAYER_FIELDS.len(),
                layout.kernels.len(),
                &mut archforge::rng::seeded(init),
            );
            let mut adam = Adam::new(agent.len());
            if let Some(saved) = self.restored.take() {
                if saved.params.len() != agent.len() {
                    return Err(Error::Checkpoint(format!(
                        "eas: the checkpoint holds {} parameters; this agent has {}",
                        saved.params.len(),
                        agent.len()
                    )));
                }
                agent.params = saved.params;
                adam = saved.adam;
            }
            self.agent = Some(agent);
            self.adam = Some(adam);
        }
        Ok(self.agent.as_ref().expect("made above"))
    }

    /// Whether the network at boundary `prefix` may grow.
    fn may_grow(env: &dyn Environment, prefix: &[usize]) -> Result<bool> {
        Ok(env.next_choice(prefix)?.is_some_and(|c| c.is_legal(GROW)))
    }

    /// Replays (`decisions: Some`) or draws the steps from `prefix` on, as the agent takes
    /// them; returns the traces.
    fn walk(
        agent: &Agent,
        env: &dyn Environment,
        prefix: &mut Vec<usize>,
        steps: usize,
        decisions: Option<&[usize]>,
        rng: &mut Rng,
    ) -> Result<Vec<agent::StepTrace>> {
        let growth = Self::growth(env)?;
        let mut traces = Vec::new();
        for _ in 0..steps {
            let grows = match decisions {
                Some(d) => d.get(prefix.len()) == Some(&GROW),
                None => Self::may_grow(env, prefix)?,
            };
            if !grows {
                break;
            }
            let layout = growth.step(prefix)?;
            let trace = agent.step(env, prefix, &layout, |t, probs, legal| match decisions {
                Some(d) => d.get(t).copied().ok_or_else(|| Error::InvalidDecisions {
                    decisions: d.to_vec(),
                    reason: "the child ends inside a step".into(),
                }),
                None => {
                    let mut u: f64 = rng.random();
                    for (p, &option) in probs.iter().zip(legal) {
                        if u < *p {
                            return Ok(option);
                        }
                        u -= p;
                    }
                    Ok(*legal.last().expect("a choice has a legal option"))
                }
            })?;
            traces.push(trace);
        }
        Ok(traces)
    }
}

impl Controller for Eas {
    fn kind(&self) -> &'static str {
        "eas"
    }

    fn propose(&mut self, env: &dyn Environment, n: usize, rng: &mut Rng) -> Result<Vec<Proposal>> {
        self.agent(env, rng)?;
        if !self.seed_proposed {
            self.seed_proposed = true;
            self.pending.push(Child {
                decisions: vec![STOP],
                parent: 0,
            });
            return Ok(vec![Proposal {
                decisions: vec![STOP],
            }]);
        }
        let parent = self.best.as_ref().map(|b| b.0.clone()).unwrap_or_default();
        let agent = self.agent.as_ref().expect("made above");
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let mut prefix = parent.clone();
            Self::walk(agent, env, &mut prefix, self.config.steps, None, rng)?;
            prefix.push(STOP);
            self.pending.push(Child {
                decisions: prefix.clone(),
                parent: parent.len(),
            });
            out.push(Proposal { decisions: prefix });
        }
        Ok(out)
    }

    fn observe(&mut self, env: &dyn Environment, results: &[Evaluated]) -> Result<()> {
        let mut learned: Vec<(Child, f64)> = Vec::new();
        for result in results {
            let Some(at) = self
                .pending
                .iter()
                .position(|c| c.decisions == result.decisions)
            else {
                continue;
            };
            let child = self.pending.remove(at);
            let Some(reward) = result.reward else {
                continue;
            };
            let boundary = child.decisions[..child.decisions.len() - 1].to_vec();
            if self.best.as_ref().is_none_or(|b| reward > b.1) {
                self.best = Some((boundary, reward));
            }
            if child.decisions.len() > 1 {
                learned.push((child, reward));
            }
        }
        if learned.is_empty() {
            if self.baseline.is_none() {
                self.baseline = self.best.as_ref().map(|b| b.1);
            }
            return Ok(());
        }
        let agent = self.agent.as_ref().ok_or_else(|| Error::Controller {
            controller: "eas".into(),
            reason: "told of results before it proposed".into(),
        })?;
        let mut grad = vec![0.0; agent.len()];
        let count = learned.len() as f64;
        let decay = self.config.baseline_decay;
        for (child, reward) in &learned {
            let baseline = *self.baseline.get_or_insert(*reward);
            let coef = (reward - baseline) / count;
            self.baseline = Some(decay * baseline + (1.0 - decay) * reward);
            let mut prefix = child.decisions[..child.parent].to_vec();
            let traces = Self::walk(
                agent,
                env,
                &mut prefix,
                usize::MAX,
                Some(&child.decisions),
                &mut archforge::rng::seeded(0),
            )?;
            for trace in &traces {
                agent.backward(trace, coef, self.config.entropy_weight / count, &mut grad);
            }
        }
        let agent = self.agent.as_mut().expect("checked above");
        self.adam.as_mut().expect("made with the agent").step(
            &mut agent.params,
            &grad,
            self.config.learning_rate,
        );
        if agent.params.iter().any(|p| !p.is_finite()) {
            return Err(Error::Controller {
                controller: "eas".into(),
                reason:
                    "its parameters are no longer finite numbers (is the learning rate too high?)"
                        .into(),
            });
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        let saved = match (&self.agent, &self.adam, &self.restored) {
            (Some(agent), Some(adam), _) => Some(Saved {
                params: agent.params.clone(),
                adam: adam.clone(),
                baseline: self.baseline,
                best: self.best.clone(),
                seed_proposed: self.seed_proposed,
                pending: self.pending.clone(),
            }),
            (_, _, restored) => restored.clone(),
        };
        Checkpoint::new(self.kind(), &saved)
    }

    fn restore(&mut self, checkpoint: Checkpoint) -> Result<()> {
        let saved: Option<Saved> = checkpoint.into_state(self.kind())?;
        self.agent = None;
        self.adam = None;
        self.baseline = saved.as_ref().and_then(|s| s.baseline);
        self.best = saved.as_ref().and_then(|s| s.best.clone());
        self.seed_proposed = saved.as_ref().is_some_and(|s| s.seed_proposed);
        self.pending = saved
            .as_ref()
            .map(|s| s.pending.clone())
            .unwrap_or_default();
        self.restored = saved;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
