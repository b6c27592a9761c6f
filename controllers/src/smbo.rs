//! Sequential model-based optimisation, as DeepArchitect's SMBO: a surrogate (any of the
//! core's performance predictors, [`archforge::predictor`]) fitted on every architecture
//! evaluated so far predicts the reward of
//! `candidates` fresh ones — uniform samples, and (a share `mutated` of them) one-decision
//! mutations of the best architecture so far — and the best-predicted is proposed; with
//! probability `explore` a uniform sample is proposed instead. A feature-reading surrogate
//! reads the space's features ability (one-hot decisions for fixed-layout spaces, module
//! n-grams for tree spaces), pruned to those at least `min_count` evaluated architectures
//! have; a graph-reading one (the perceptron, the graph network) reads the graph-encoding
//! ability. The surrogate is refitted on the whole history when a proposal would use it and
//! observations arrived since the last fit. The first `initial` proposals are uniform.
//! Nothing already proposed is proposed again while fresh candidates exist.
//!
//! Defaults are the paper's experiments (50 candidates, explore 0.25, ridge with λ = 1000,
//! features kept at 3 occurrences), except that half the candidates are mutations: the paper
//! scores only uniform samples.

use crate::history::History;
use crate::mutation::mutate_one;
use archforge::env::complete_uniformly;
use archforge::error::{Error, Result};
use archforge::predictor::{Input, Predictor, PredictorConfig, Sample, Vocabulary};
use archforge::{Checkpoint, Controller, Environment, Evaluated, Proposal, Rng};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The `[[controller]]` entry for `kind = "smbo"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmboConfig {
    /// The name in reports (default: `smbo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Proposals evaluated between observations.
    #[serde(default = "crate::defaults::batch")]
    pub batch: usize,
    /// Candidates the surrogate scores per proposal.
    #[serde(default = "default_candidates")]
    pub candidates: usize,
    /// The share of candidates that are mutations of the best so far (the rest are uniform).
    #[serde(default = "default_mutated")]
    pub mutated: f64,
    /// The probability of proposing a uniform sample instead of the best-predicted.
    #[serde(default = "default_explore")]
    pub explore: f64,
    /// Uniform proposals before the surrogate is used.
    #[serde(default = "default_initial")]
    pub initial: usize,
    /// A feature is used once at least this many evaluated architectures have it.
    #[serde(default = "default_min_count")]
    pub min_count: usize,
    /// The surrogate model.
    #[serde(default)]
    pub surrogate: PredictorConfig,
}

fn default_candidates() -> usize {
    50
}
fn default_mutated() -> f64 {
    0.5
}
fn default_explore() -> f64 {
    0.25
}
fn default_initial() -> usize {
    10
}
fn default_min_count() -> usize {
    3
}

impl Default for SmboConfig {
    fn default() -> Self {
        SmboConfig {
            name: None,
            batch: crate::defaults::batch(),
            candidates: default_candidates(),
            mutated: default_mutated(),
            explore: default_explore(),
            initial: default_initial(),
            min_count: default_min_count(),
            surrogate: PredictorConfig::default(),
        }
    }
}

impl SmboConfig {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.candidates == 0 {
            return Err(("candidates", "candidates must be at least 1".into()));
        }
        for (key, value) in [("mutated", self.mutated), ("explore", self.explore)] {
            if !(0.0..=1.0).contains(&value) {
                return Err((key, format!("{key} must be in [0, 1], not {value}")));
            }
        }
        self.surrogate.check()
    }
}

/// `input` of `decisions`, or the space's missing ability in one line.
fn sample(env: &dyn Environment, decisions: &[usize], input: Input) -> Result<Sample> {
    Sample::of(env, decisions, input).map_err(|e| Error::Controller {
        controller: "smbo".into(),
        reason: e.to_string(),
    })
}

/// The surrogate as fitted on the history, and the feature vocabulary it was fitted on
/// (none for a graph-reading surrogate).
struct Fitted {
    vocabulary: Option<Vocabulary>,
    model: Box<dyn Predictor>,
}

/// Sequential model-based optimisation (see the module documentation).
pub struct Smbo {
    config: SmboConfig,
    history: History,
    fitted: Option<Fitted>,
    /// Whether observations arrived since the last fit.
    stale: bool,
}

impl std::fmt::Debug for Smbo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smbo")
            .field("config", &self.config)
            .field("history", &self.history.len())
            .finish()
    }
}

impl Smbo {
    /// A controller for `config`.
    pub fn new(config: SmboConfig) -> Result<Self> {
        config.check().map_err(|(_, reason)| Error::Controller {
            controller: "smbo".into(),
            reason,
        })?;
        Ok(Smbo {
            config,
            history: History::default(),
            fitted: None,
            stale: false,
        })
    }

    /// The surrogate's input of `decisions`, or the space's missing ability in one line.
    fn sample(&self, env: &dyn Environment, decisions: &[usize]) -> Result<Sample> {
        sample(env, decisions, self.config.surrogate.input())
    }

    /// `sample` as a surrogate fitted on `vocabulary` reads it (its features cut down).
    fn pruned(vocabulary: Option<&Vocabulary>, mut sample: Sample) -> Sample {
        if let (Some(v), Some(f)) = (vocabulary, &sample.features) {
            sample.features = Some(v.apply(f));
        }
        sample
    }

    /// Refits the surrogate on every successful evaluation (none fitted while too few).
    fn refit(&mut self) -> Result<()> {
        let (mut samples, targets): (Vec<Sample>, Vec<f64>) = self.history.rewarded();
        self.fitted = None;
        self.stale = false;
        if samples.len() < 2 {
            return Ok(());
        }
        let vocabulary = match self.config.surrogate.input() {
            Input::Features => {
                let rows: Vec<Vec<f64>> =
                    samples.iter().filter_map(|s| s.features.clone()).collect();
                let vocabulary = Vocabulary::of(&rows, self.config.min_count);
                if vocabulary.is_empty() {
                    return Ok(());
                }
                Some(vocabulary)
            }
            Input::Graph => None,
        };
        samples = samples
            .into_iter()
            .map(|s| Self::pruned(vocabulary.as_ref(), s))
            .collect();
        let mut model = self.config.surrogate.build();
        // The model's draws come from the history's length, so a restored controller refits
        // to the same model.
        let mut rng = archforge::rng::seeded(0x5eed ^ self.history.len() as u64);
        model.fit(&samples, &targets, &mut rng)?;
        self.fitted = Some(Fitted { vocabulary, model });
        Ok(())
    }

    /// The best-predicted of the candidates drawn for one proposal, if any is fresh.
    fn best_candidate(
        &self,
        env: &dyn Environment,
        fitted: &Fitted,
        rng: &mut Rng,
    ) -> Result<Option<Vec<usize>>> {
        let best = self
            .history
            .seen
            .iter()
            .filter_map(|s| s.reward.map(|r| (r, &s.decisions)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, d)| d);
        let mutations = match best {
            Some(_) => (self.config.candidates as f64 * self.config.mutated).round() as usize,
            None => 0,
        };
        let mut chosen: Option<(f64, Vec<usize>)> = None;
        for i in 0..self.config.candidates {
            let candidate = match best {
                Some(parent) if i < mutations => mutate_one(env, parent, rng)?,
                _ => {
                    let mut d = Vec::new();
                    complete_uniformly(env, &mut d, rng)?;
                    d
                }
            };
            if self.history.proposed.contains(&candidate) {
                continue;
            }
            let sample = Self::pruned(fitted.vocabulary.as_ref(), self.sample(env, &candidate)?);
            let score = fitted.model.predict(&sample)?.mean;
            if chosen.as_ref().is_none_or(|(s, _)| score > *s) {
                chosen = Some((score, candidate));
            }
        }
        Ok(chosen.map(|(_, d)| d))
    }
}

impl Controller for Smbo {
    fn kind(&self) -> &'static str {
        "smbo"
    }

    fn propose(&mut self, env: &dyn Environment, n: usize, rng: &mut Rng) -> Result<Vec<Proposal>> {
        let mut proposals = Vec::with_capacity(n);
        if self.stale && self.history.len() + n > self.config.initial {
            self.refit()?;
        }
        for _ in 0..n {
            let modelled = self.history.len() + proposals.len() >= self.config.initial;
            let explore = rng.random_bool(self.config.explore);
            let chosen = match &self.fitted {
                Some(fitted) if modelled && !explore => self.best_candidate(env, fitted, rng)?,
                _ => None,
            };
            let decisions = match chosen {
                Some(d) => d,
                None => self.history.fresh_sample(env, rng)?,
            };
            // Checked now, so a space without the surrogate's input is refused at the first
            // proposal.
            self.sample(env, &decisions)?;
            self.history.proposed.insert(decisions.clone());
            proposals.push(Proposal { decisions });
        }
        Ok(proposals)
    }

    fn observe(&mut self, env: &dyn Environment, results: &[Evaluated]) -> Result<()> {
        let input = self.config.surrogate.input();
        self.history.observe(results, |d| sample(env, d, input))?;
        self.stale = true;
        Ok(())
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        self.history.checkpoint(self.kind())
    }

    fn restore(&mut self, checkpoint: Checkpoint) -> Result<()> {
        self.history = History::restore(self.kind(), checkpoint)?;
        self.fitted = None;
        self.stale = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archforge::predictor::ForestConfig;

    #[test]
    fn settings_out_of_range_are_named() {
        let bad = |c: SmboConfig| c.check().unwrap_err().0;
        let d = SmboConfig::default;
        assert_eq!(
            bad(SmboConfig {
                candidates: 0,
                ..d()
            }),
            "candidates"
        );
        assert_eq!(
            bad(SmboConfig {
                explore: 1.5,
                ..d()
            }),
            "explore"
        );
        assert_eq!(
            bad(SmboConfig {
                mutated: -0.1,
                ..d()
            }),
            "mutated"
        );
        let ridge = PredictorConfig::Ridge { lambda: 0.0 };
        assert_eq!(
            bad(SmboConfig {
                surrogate: ridge,
                ..d()
            }),
            "lambda"
        );
        let forest = PredictorConfig::Forest(ForestConfig {
            trees: 0,
            ..ForestConfig::default()
        });
        assert_eq!(
            bad(SmboConfig {
                surrogate: forest,
                ..d()
            }),
            "trees"
        );
    }
}
