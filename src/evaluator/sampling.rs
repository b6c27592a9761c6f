//! How a supernet picks the paths it trains. `uniform` (single-path one-shot, SPOS): each
//! step trains one architecture drawn uniformly. `fair` (strict fairness, FairNAS): each step
//! trains m architectures on the same batch, m the most options any decision offers, built
//! so that across the m paths every option of every decision is used once (a random
//! permutation per decision), with their gradients summed into one update — so no option is
//! trained more often than another. A decision with fewer than m legal options goes through
//! them in shuffled rounds; where a path reaches a choice whose legal options differ from
//! those the first path saw there, it takes a uniformly drawn legal option instead.

use crate::env::{Environment, complete_uniformly, complete_with};
use crate::error::Result;
use rand::Rng as _;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// The `[evaluator] sampling` setting of the supernet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// One uniformly drawn path per step.
    #[default]
    Uniform,
    /// m paths per step covering every option of every decision once.
    Fair,
}

impl Sampling {
    /// The decision sequences of one training step.
    pub fn paths(
        self,
        env: &dyn Environment,
        rng: &mut crate::rng::Rng,
    ) -> Result<Vec<Vec<usize>>> {
        match self {
            Sampling::Uniform => {
                let mut path = Vec::new();
                complete_uniformly(env, &mut path, rng)?;
                Ok(vec![path])
            }
            Sampling::Fair => fair_paths(env, rng),
        }
    }
}

fn fair_paths(env: &dyn Environment, rng: &mut crate::rng::Rng) -> Result<Vec<Vec<usize>>> {
    let m = env
        .spec()
        .kinds
        .iter()
        .map(|k| k.labels.len())
        .max()
        .unwrap_or(1);
    // Per position, m entries: shuffled rounds of its options (made when first reached);
    // path k takes entry k.
    let mut orders: Vec<Vec<usize>> = Vec::new();
    (0..m)
        .map(|k| {
            let mut path = Vec::new();
            complete_with(env, &mut path, |position, legal| {
                if orders.len() <= position {
                    orders.resize(position + 1, Vec::new());
                }
                if orders[position].is_empty() {
                    let mut order = Vec::with_capacity(m + legal.len());
                    while order.len() < m {
                        let mut round = legal.to_vec();
                        round.shuffle(rng);
                        order.extend(round);
                    }
                    orders[position] = order;
                }
                let wanted = orders[position][k];
                if legal.contains(&wanted) {
                    wanted
                } else {
                    legal[rng.random_range(0..legal.len())]
                }
            })?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::Toy;

    #[test]
    fn fair_paths_use_every_option_of_every_decision_once() {
        // Five options per decision; odd positions forbid the last one.
        let env = Toy::new(6, 5).unwrap();
        let mut rng = crate::rng::seeded(3);
        for _ in 0..5 {
            let paths = Sampling::Fair.paths(&env, &mut rng).unwrap();
            assert_eq!(paths.len(), 5);
            for path in &paths {
                crate::env::validate(&env, path).unwrap();
            }
            for position in 0..6 {
                let mut used: Vec<usize> = paths.iter().map(|p| p[position]).collect();
                used.sort();
                used.dedup();
                let legal = if position % 2 == 1 { 4 } else { 5 };
                assert_eq!(used, (0..legal).collect::<Vec<_>>(), "position {position}");
            }
        }
    }

    #[test]
    fn uniform_sampling_gives_one_complete_path() {
        let env = Toy::new(4, 3).unwrap();
        let mut rng = crate::rng::seeded(1);
        let paths = Sampling::Uniform.paths(&env, &mut rng).unwrap();
        assert_eq!(paths.len(), 1);
        crate::env::validate(&env, &paths[0]).unwrap();
    }
}
