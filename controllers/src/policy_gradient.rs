//! Policy-gradient controllers: an LSTM policy ([`crate::policy`]) writes each architecture
//! decision by decision and learns from the rewards, generic over every environment.
//!
//! - `reinforce` (Zoph & Le; ENAS): after each batch of M = `batch` architectures, one Adam
//!   step on `-(1/M) sum_k log pi(a_k) (R_k - b) - entropy_weight * (1/M) sum_k H_k`, with b
//!   an exponential moving average of earlier rewards (`b <- d b + (1 - d) R`, d =
//!   `baseline_decay`, taken architecture by architecture in evaluation order; the first
//!   reward seeds it).
//! - `ppo` (NASNet, MnasNet): the same batch, kept with the log-probabilities of the policy
//!   that sampled it, then `epochs` passes of Adam steps on minibatches of `minibatch`
//!   architectures of the clipped surrogate `min(r A, clip(r, 1 - e, 1 + e) A)`, r the
//!   probability ratio of the new policy to the sampling one, e = `clip`.
//!
//! The reward a policy sees is `transform(reward * reward_scale)`: `reward_scale` (default
//! 0.01) turns the percent accuracies of archforge's evaluators into fractions, and
//! `reward_transform` is `none`, `cube` (NAS 2017: accuracy cubed) or `tan` (EAS:
//! tan(accuracy * pi / 2)). Failed evaluations and non-finite rewards are left out of the
//! update. Policy weights, Adam's moments, the baseline and the update count are the
//! checkpoint, so a resumed run continues identically.

use crate::policy::{Adam, NetworkConfig, Policy, Sampled};
use archforge::error::{Error, Result};
use archforge::{Checkpoint, Controller, Environment, Evaluated, Proposal, Rng};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// How rewards are shaped before the policy sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RewardTransform {
    /// As they are.
    #[default]
    None,
    /// Cubed (NAS 2017).
    Cube,
    /// `tan(r * pi / 2)` (EAS), r clamped below 1.
    Tan,
}

impl RewardTransform {
    fn apply(self, r: f64) -> f64 {
        match self {
            RewardTransform::None => r,
            RewardTransform::Cube => r * r * r,
            RewardTransform::Tan => (r.min(0.999_999) * std::f64::consts::FRAC_PI_2).tan(),
        }
    }
}

/// Which update rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Update {
    /// REINFORCE with a moving-average baseline.
    Reinforce,
    /// PPO's clipped surrogate.
    Ppo {
        /// Passes over each batch.
        epochs: usize,
        /// Architectures per Adam step.
        minibatch: usize,
        /// The clip epsilon.
        clip: f64,
    },
}

/// The settings both rules share (the `[[controller]]` entry for `reinforce` and `ppo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyGradientConfig {
    /// The name in reports (default: the kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Architectures per update (M).
    #[serde(default = "defaults::batch")]
    pub batch: usize,
    /// The policy network.
    #[serde(default)]
    pub policy: NetworkConfig,
    /// Adam's learning rate.
    #[serde(default = "defaults::learning_rate")]
    pub learning_rate: f64,
    /// Decay d of the moving-average baseline.
    #[serde(default = "defaults::baseline_decay")]
    pub baseline_decay: f64,
    /// Weight of the entropy bonus.
    #[serde(default = "defaults::entropy_weight")]
    pub entropy_weight: f64,
    /// Rewards are multiplied by it before the transform (0.01: percent to fraction).
    #[serde(default = "defaults::reward_scale")]
    pub reward_scale: f64,
    /// The reward transform.
    #[serde(default)]
    pub reward_transform: RewardTransform,
    /// `ppo` only: passes over each batch (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// `ppo` only: architectures per Adam step (default: the whole batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minibatch: Option<usize>,
    /// `ppo` only: the clip epsilon (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<f64>,
}

mod defaults {
    pub fn batch() -> usize {
        1
    }
    pub fn learning_rate() -> f64 {
        0.0035
    }
    pub fn baseline_decay() -> f64 {
        0.95
    }
    pub fn entropy_weight() -> f64 {
        1e-4
    }
    pub fn reward_scale() -> f64 {
        0.01
    }
    pub fn epochs() -> usize {
        4
    }
    pub fn clip() -> f64 {
        0.2
    }
}

impl Default for PolicyGradientConfig {
    fn default() -> Self {
        PolicyGradientConfig {
            name: None,
            batch: defaults::batch(),
            policy: NetworkConfig::default(),
            learning_rate: defaults::learning_rate(),
            baseline_decay: defaults::baseline_decay(),
            entropy_weight: defaults::entropy_weight(),
            reward_scale: defaults::reward_scale(),
            reward_transform: RewardTransform::None,
            epochs: None,
            minibatch: None,
            clip: None,
        }
    }
}

impl PolicyGradientConfig {
    /// Checks the settings; `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        self.policy.check()?;
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(("learning_rate", "learning_rate must be positive".into()));
        }
        if !(0.0..1.0).contains(&self.baseline_decay) {
            return Err(("baseline_decay", "baseline_decay must be in [0, 1)".into()));
        }
        if !(self.entropy_weight >= 0.0 && self.entropy_weight.is_finite()) {
            return Err((
                "entropy_weight",
                "entropy_weight must be a non-negative number".into(),
            ));
        }
        if !(self.reward_scale > 0.0 && self.reward_scale.is_finite()) {
            return Err(("reward_scale", "reward_scale must be positive".into()));
        }
        if self.epochs == Some(0) {
            return Err(("epochs", "epochs must be at least 1".into()));
        }
        if self.minibatch == Some(0) {
            return Err(("minibatch", "minibatch must be at least 1".into()));
        }
        if self.clip.is_some_and(|c| !(c > 0.0 && c < 1.0)) {
            return Err(("clip", "clip must be in (0, 1)".into()));
        }
        Ok(())
    }

    /// Checks that no `ppo`-only setting is given (for `reinforce`).
    pub fn check_not_ppo(&self) -> std::result::Result<(), (&'static str, String)> {
        for (key, given) in [
            ("epochs", self.epochs.is_some()),
            ("minibatch", self.minibatch.is_some()),
            ("clip", self.clip.is_some()),
        ] {
            if given {
                return Err((key, format!("{key} is a setting of `ppo` only")));
            }
        }
        Ok(())
    }

    /// The same settings with PPO's defaults filled in where absent.
    pub fn with_ppo_defaults(mut self) -> Self {
        self.epochs.get_or_insert(defaults::epochs());
        self.minibatch.get_or_insert(self.batch);
        self.clip.get_or_insert(defaults::clip());
        self
    }
}

/// What a checkpoint holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Saved {
    params: Vec<f64>,
    adam: Adam,
    baseline: Option<f64>,
    updates: u64,
}

/// A policy-gradient controller (see the module documentation).
#[derive(Debug, Clone)]
pub struct PolicyGradient {
    kind: &'static str,
    config: PolicyGradientConfig,
    update: Update,
    network: Option<Policy>,
    adam: Option<Adam>,
    baseline: Option<f64>,
    updates: u64,
    /// A checkpoint's parameters, waiting for the environment that sizes the network.
    restored: Option<Saved>,
    /// The sequences proposed since the last update, with the policy's computation along
    /// them: the update reuses it instead of replaying them.
    sampled: Vec<Sampled>,
}

impl PolicyGradient {
    /// A `reinforce` controller.
    pub fn reinforce(config: PolicyGradientConfig) -> Result<Self> {
        Self::new("reinforce", config, Update::Reinforce)
    }

    /// A `ppo` controller.
    pub fn ppo(config: PolicyGradientConfig) -> Result<Self> {
        let config = config.with_ppo_defaults();
        let update = Update::Ppo {
            epochs: config.epochs.unwrap_or_default(),
            minibatch: config.minibatch.unwrap_or_default(),
            clip: config.clip.unwrap_or_default(),
        };
        Self::new("ppo", config, update)
    }

    fn new(kind: &'static str, config: PolicyGradientConfig, update: Update) -> Result<Self> {
        config.check().map_err(|(key, why)| Error::Controller {
            controller: kind.into(),
            reason: format!("{key}: {why}"),
        })?;
        Ok(PolicyGradient {
            kind,
            config,
            update,
            network: None,
            adam: None,
            baseline: None,
            updates: 0,
            restored: None,
            sampled: Vec::new(),
        })
    }

    /// The policy, made on first use: from a checkpoint if one is waiting, else drawn from
    /// `rng` (so a fresh run's initial weights come from its seed).
    fn network(&mut self, env: &dyn Environment, rng: Option<&mut Rng>) -> Result<&Policy> {
        if self.network.is_none() {
            let mut scratch = archforge::rng::seeded(0);
            let draw = match (&self.restored, rng) {
                (None, Some(rng)) => rng,
                _ => &mut scratch,
            };
            let mut network =
                Policy::new(env, self.config.policy.clone(), draw).map_err(|e| match e {
                    Error::Controller { reason, .. } => Error::Controller {
                        controller: self.kind.into(),
                        reason,
                    },
                    other => other,
                })?;
            let mut adam = Adam::new(network.params().len());
            if let Some(saved) = self.restored.take() {
                network = network
                    .with_params(saved.params)
                    .map_err(|reason| Error::Checkpoint(format!("{}: {reason}", self.kind)))?;
                adam = saved.adam;
                self.baseline = saved.baseline;
                self.updates = saved.updates;
            }
            self.network = Some(network);
            self.adam = Some(adam);
        }
        Ok(self.network.as_ref().expect("made above"))
    }

    /// The rewards the policy learns from, with their sequences (failures left out).
    fn shaped<'a>(&self, results: &'a [Evaluated]) -> Vec<(&'a [usize], f64)> {
        results
            .iter()
            .filter_map(|r| {
                let shaped = self
                    .config
                    .reward_transform
                    .apply(r.reward? * self.config.reward_scale);
                shaped
                    .is_finite()
                    .then_some((r.decisions.as_slice(), shaped))
            })
            .collect()
    }

    /// Advantages against the moving-average baseline, which moves past each reward in turn.
    fn advantages(&mut self, rewards: &[f64]) -> Vec<f64> {
        let d = self.config.baseline_decay;
        rewards
            .iter()
            .map(|&r| {
                let b = *self.baseline.get_or_insert(r);
                self.baseline = Some(d * b + (1.0 - d) * r);
                r - b
            })
            .collect()
    }

    /// One Adam step; an error once a parameter is no longer a finite number (the run
    /// cannot learn anything from there).
    fn step(&mut self, grad: &[f64]) -> Result<()> {
        let network = self.network.as_mut().expect("made before any update");
        let adam = self.adam.as_mut().expect("made with the network");
        adam.step(network.params_mut(), grad, self.config.learning_rate);
        if network.params().iter().all(|p| p.is_finite()) {
            return Ok(());
        }
        Err(Error::Controller {
            controller: self.kind.into(),
            reason: format!(
                "the policy's parameters are no longer finite numbers after update {} (learning_rate {} is too high?)",
                self.updates + 1,
                self.config.learning_rate
            ),
        })
    }
}

impl Controller for PolicyGradient {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn propose(&mut self, env: &dyn Environment, n: usize, rng: &mut Rng) -> Result<Vec<Proposal>> {
        self.network(env, Some(rng))?;
        let network = self.network.as_ref().expect("made above");
        let mut proposals = Vec::with_capacity(n);
        for _ in 0..n {
            let sampled = network.sample(env, rng).map_err(|e| match e {
                Error::Controller { reason, .. } => Error::Controller {
                    controller: self.kind.into(),
                    reason,
                },
                other => other,
            })?;
            proposals.push(Proposal {
                decisions: sampled.decisions.clone(),
            });
            self.sampled.push(sampled);
        }
        Ok(proposals)
    }

    fn observe(&mut self, env: &dyn Environment, results: &[Evaluated]) -> Result<()> {
        self.network(env, None)?;
        // Valid until this update changes the parameters.
        let sampled = std::mem::take(&mut self.sampled);
        let shaped = self.shaped(results);
        if shaped.is_empty() {
            return Ok(());
        }
        let rewards: Vec<f64> = shaped.iter().map(|s| s.1).collect();
        let advantages = self.advantages(&rewards);
        let entropy_weight = self.config.entropy_weight;
        match self.update.clone() {
            Update::Reinforce => {
                let m = shaped.len() as f64;
                let sequences: Vec<(&[usize], f64)> = shaped
                    .iter()
                    .zip(&advantages)
                    .map(|(&(d, _), &a)| (d, a / m))
                    .collect();
                let network = self.network.as_ref().expect("made above");
                let (grad, _) = network.backward(env, &sequences, entropy_weight / m, &sampled)?;
                self.step(&grad)?;
            }
            Update::Ppo {
                epochs,
                minibatch,
                clip,
            } => {
                let network = self.network.as_ref().expect("made above");
                let old: Vec<f64> = shaped
                    .iter()
                    .map(|&(d, _)| network.stats(env, d, &sampled).map(|s| s.log_prob))
                    .collect::<Result<_>>()?;
                // The shuffles come from the update count: observe has no generator, and a
                // resumed run must shuffle alike.
                let mut order_rng = archforge::rng::seeded(self.updates);
                let mut order: Vec<usize> = (0..shaped.len()).collect();
                for _ in 0..epochs {
                    order.shuffle(&mut order_rng);
                    for chunk in order.chunks(minibatch) {
                        let network = self.network.as_ref().expect("made above");
                        let m = chunk.len() as f64;
                        let mut sequences = Vec::with_capacity(chunk.len());
                        for &k in chunk {
                            // The parameters move with every minibatch: replay.
                            let new = network.stats(env, shaped[k].0, &[])?.log_prob;
                            let ratio = (new - old[k]).exp();
                            let a = advantages[k];
                            let clipped =
                                (a >= 0.0 && ratio > 1.0 + clip) || (a < 0.0 && ratio < 1.0 - clip);
                            let coef = if clipped { 0.0 } else { ratio * a / m };
                            sequences.push((shaped[k].0, coef));
                        }
                        let (grad, _) =
                            network.backward(env, &sequences, entropy_weight / m, &[])?;
                        self.step(&grad)?;
                    }
                }
            }
        }
        self.updates += 1;
        Ok(())
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        let saved = match (&self.network, &self.adam, &self.restored) {
            (Some(network), Some(adam), _) => Some(Saved {
                params: network.params().to_vec(),
                adam: adam.clone(),
                baseline: self.baseline,
                updates: self.updates,
            }),
            (_, _, Some(waiting)) => Some(waiting.clone()),
            _ => None,
        };
        Checkpoint::new(self.kind, &saved)
    }

    fn restore(&mut self, checkpoint: Checkpoint) -> Result<()> {
        let saved: Option<Saved> = checkpoint.into_state(self.kind)?;
        self.network = None;
        self.adam = None;
        self.baseline = None;
        self.updates = 0;
        self.restored = saved;
        self.sampled.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archforge::evaluator::StatusKind;
    use archforge::toy::Toy;

    /// Runs `controller` on the toy space for `rounds` batches, the reward the toy table's.
    fn learn(controller: &mut PolicyGradient, env: &Toy, rounds: usize, seed: u64) -> Vec<f64> {
        let table = env.benchmark().expect("the toy has a table");
        let mut rng = archforge::rng::seeded(seed);
        let batch = controller.config.batch;
        let mut rewards = Vec::new();
        for _ in 0..rounds {
            let proposals = controller.propose(env, batch, &mut rng).unwrap();
            let results: Vec<Evaluated> = proposals
                .into_iter()
                .map(|p| {
                    let label = archforge::search::join_decisions(&p.decisions);
                    let r = table.rows[&label].search;
                    rewards.push(r);
                    Evaluated {
                        decisions: p.decisions,
                        reward: Some(r),
                        status: StatusKind::Ok,
                    }
                })
                .collect();
            controller.observe(env, &results).unwrap();
        }
        rewards
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    #[test]
    fn both_rules_learn_the_toy_space() {
        let env = Toy::new(4, 3).unwrap();
        let best = env.target();
        for make in [PolicyGradient::reinforce, PolicyGradient::ppo] {
            let config = PolicyGradientConfig {
                batch: 5,
                learning_rate: 0.02,
                policy: NetworkConfig {
                    hidden: 16,
                    ..NetworkConfig::default()
                },
                ..PolicyGradientConfig::default()
            };
            let mut controller = make(config).unwrap();
            let rewards = learn(&mut controller, &env, 200, 1);
            let early = mean(&rewards[..50]);
            let late = mean(&rewards[rewards.len() - 50..]);
            let network = controller.network.as_ref().unwrap();
            let p_best = network.stats(&env, &best, &[]).unwrap().log_prob.exp();
            eprintln!(
                "{}: mean reward {early:.3} -> {late:.3}, P(best) {p_best:.3}",
                controller.kind
            );
            assert!(late > early, "{}: {early} -> {late}", controller.kind);
            assert!(p_best > 0.5, "{}: P(best) = {p_best}", controller.kind);
        }
    }

    #[test]
    fn failed_and_non_finite_rewards_are_left_out() {
        let env = Toy::new(4, 3).unwrap();
        let mut controller = PolicyGradient::reinforce(PolicyGradientConfig::default()).unwrap();
        let mut rng = archforge::rng::seeded(0);
        let p = controller.propose(&env, 1, &mut rng).unwrap();
        let before = controller.network.as_ref().unwrap().params().to_vec();
        let results = [
            Evaluated {
                decisions: p[0].decisions.clone(),
                reward: None,
                status: StatusKind::Failed,
            },
            Evaluated {
                decisions: p[0].decisions.clone(),
                reward: Some(f64::NAN),
                status: StatusKind::Ok,
            },
        ];
        controller.observe(&env, &results).unwrap();
        assert_eq!(controller.network.as_ref().unwrap().params(), before);
        assert_eq!(controller.updates, 0);
    }

    #[test]
    fn reward_transforms() {
        assert_eq!(RewardTransform::Cube.apply(0.5), 0.125);
        assert!((RewardTransform::Tan.apply(0.5) - 1.0).abs() < 1e-12);
        assert!(RewardTransform::Tan.apply(1.0).is_finite());
    }

    #[test]
    fn bad_settings_are_refused() {
        for config in [
            PolicyGradientConfig {
                clip: Some(0.0),
                ..PolicyGradientConfig::default()
            },
            PolicyGradientConfig {
                baseline_decay: 1.0,
                ..PolicyGradientConfig::default()
            },
            PolicyGradientConfig {
                policy: NetworkConfig {
                    hidden: 0,
                    ..NetworkConfig::default()
                },
                ..PolicyGradientConfig::default()
            },
        ] {
            assert!(PolicyGradient::ppo(config).is_err());
        }
    }
}
