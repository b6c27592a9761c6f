//! Regularized (aging) evolution (Real et al.): a population of the P most recent evaluated
//! architectures; each new proposal mutates one decision of the best of S members sampled
//! uniformly with replacement; each evaluated child joins the population and the oldest member
//! leaves. The first P proposals are uniform random. Defaults P = 10, S = 3 (the NAS-Bench-201
//! paper's settings). Failed evaluations (no reward) never join the population.

use crate::mutation::mutate_one;
use archforge::error::{Error, Result};
use archforge::{Checkpoint, Controller, Environment, Evaluated, Proposal, Rng};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The `[[controller]]` entry for `kind = "evolution"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvolutionConfig {
    /// The name in reports (default: `evolution`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Proposals evaluated between observations.
    #[serde(default = "crate::defaults::batch")]
    pub batch: usize,
    /// Population size P.
    #[serde(default = "default_population")]
    pub population: usize,
    /// Tournament sample size S.
    #[serde(default = "default_sample")]
    pub sample: usize,
}

fn default_population() -> usize {
    10
}
fn default_sample() -> usize {
    3
}

impl Default for EvolutionConfig {
    fn default() -> Self {
        EvolutionConfig {
            name: None,
            batch: crate::defaults::batch(),
            population: default_population(),
            sample: default_sample(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member {
    decisions: Vec<usize>,
    reward: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    population: VecDeque<Member>,
    proposed: u64,
}

/// Regularized evolution (see the module documentation).
#[derive(Debug, Clone)]
pub struct Evolution {
    config: EvolutionConfig,
    state: State,
}

impl Evolution {
    /// A controller for `config`; P and S must be at least 1, and S at most P.
    pub fn new(config: EvolutionConfig) -> Result<Self> {
        if config.population == 0 || config.sample == 0 || config.sample > config.population {
            return Err(Error::Controller {
                controller: "evolution".into(),
                reason: "population and sample must be at least 1, sample at most population"
                    .into(),
            });
        }
        Ok(Evolution {
            config,
            state: State::default(),
        })
    }

    fn tournament_winner(&self, rng: &mut Rng) -> &Member {
        let population = &self.state.population;
        let mut best = &population[rng.random_range(0..population.len())];
        for _ in 1..self.config.sample {
            let m = &population[rng.random_range(0..population.len())];
            if m.reward > best.reward {
                best = m;
            }
        }
        best
    }
}

impl Controller for Evolution {
    fn kind(&self) -> &'static str {
        "evolution"
    }

    fn propose(&mut self, env: &dyn Environment, n: usize, rng: &mut Rng) -> Result<Vec<Proposal>> {
        let mut proposals = Vec::with_capacity(n);
        for _ in 0..n {
            let initial = self.state.proposed < self.config.population as u64;
            let decisions = if initial || self.state.population.is_empty() {
                let mut d = Vec::new();
                archforge::env::complete_uniformly(env, &mut d, rng)?;
                d
            } else {
                let parent = self.tournament_winner(rng).decisions.clone();
                mutate_one(env, &parent, rng)?
            };
            self.state.proposed += 1;
            proposals.push(Proposal { decisions });
        }
        Ok(proposals)
    }

    fn observe(&mut self, _env: &dyn Environment, results: &[Evaluated]) -> Result<()> {
        for r in results {
            if let Some(reward) = r.reward {
                self.state.population.push_back(Member {
                    decisions: r.decisions.clone(),
                    reward,
                });
                if self.state.population.len() > self.config.population {
                    self.state.population.pop_front();
                }
            }
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        Checkpoint::new(self.kind(), &self.state)
    }

    fn restore(&mut self, checkpoint: Checkpoint) -> Result<()> {
        self.state = checkpoint.into_state(self.kind())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archforge::evaluator::StatusKind;
    use archforge::toy::Toy;

    fn evaluated(decisions: Vec<usize>, reward: Option<f64>) -> Evaluated {
        Evaluated {
            decisions,
            reward,
            status: if reward.is_some() {
                StatusKind::Ok
            } else {
                StatusKind::Failed
            },
        }
    }

    #[test]
    fn the_oldest_member_leaves_and_failures_never_join() {
        let toy = Toy::new(4, 3).unwrap();
        let mut evo = Evolution::new(EvolutionConfig {
            population: 2,
            sample: 2,
            ..EvolutionConfig::default()
        })
        .unwrap();
        let results = [
            evaluated(vec![0, 0, 0, 0], Some(1.0)),
            evaluated(vec![1, 0, 0, 0], None),
            evaluated(vec![2, 0, 0, 0], Some(2.0)),
            evaluated(vec![0, 1, 0, 0], Some(3.0)),
        ];
        evo.observe(&toy, &results).unwrap();
        let members: Vec<_> = evo
            .state
            .population
            .iter()
            .map(|m| m.decisions.clone())
            .collect();
        assert_eq!(members, [vec![2, 0, 0, 0], vec![0, 1, 0, 0]]);
    }

    #[test]
    fn after_the_initial_population_children_are_one_mutation_from_a_member() {
        let toy = Toy::new(4, 3).unwrap();
        let mut evo = Evolution::new(EvolutionConfig::default()).unwrap();
        let mut rng = archforge::rng::seeded(5);
        let initial = evo.propose(&toy, 10, &mut rng).unwrap();
        let results: Vec<_> = initial
            .iter()
            .map(|p| {
                evaluated(
                    p.decisions.clone(),
                    Some(p.decisions.iter().sum::<usize>() as f64),
                )
            })
            .collect();
        evo.observe(&toy, &results).unwrap();
        for child in evo.propose(&toy, 20, &mut rng).unwrap() {
            let distance = |m: &Member| {
                m.decisions
                    .iter()
                    .zip(&child.decisions)
                    .filter(|(a, b)| a != b)
                    .count()
            };
            assert!(evo.state.population.iter().any(|m| distance(m) == 1));
        }
    }

    #[test]
    fn impossible_population_or_sample_is_refused() {
        for (population, sample) in [(0, 3), (10, 0), (3, 4)] {
            let config = EvolutionConfig {
                population,
                sample,
                ..EvolutionConfig::default()
            };
            assert!(Evolution::new(config).is_err());
        }
    }
}
