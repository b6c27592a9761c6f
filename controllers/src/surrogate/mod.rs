//! Surrogate models: regressions from an architecture's features to its reward, fitted on
//! what a run has evaluated and asked to rank what it has not. One contract
//! ([`Surrogate`]), two models: [`ridge`] regression (the default, DeepArchitect's SMBO) and a
//! random [`forest`] (non-linear, with a spread across its trees). Both see only numbers, so
//! any space with the features ability can use them.
//!
//! [`Vocabulary`] applies DeepArchitect's pruning generically: a feature is kept only when
//! at least `min_count` of the evaluated architectures have it (an n-gram seen three times, an
//! option chosen three times); the rest are dropped before fitting.

pub mod forest;
pub mod ridge;

pub use forest::{Forest, ForestConfig};
pub use ridge::Ridge;

use archforge::error::Result;
use serde::{Deserialize, Serialize};

/// A regression from feature vectors to a scalar.
pub trait Surrogate: Send {
    /// Fits the model on rows `x` with targets `y` (as many as rows, at least one).
    fn fit(&mut self, x: &[Vec<f64>], y: &[f64], rng: &mut archforge::Rng) -> Result<()>;

    /// The prediction for one row of the fitted width.
    fn predict(&self, x: &[f64]) -> f64;
}

/// The `surrogate` setting: which model, with its own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SurrogateConfig {
    /// Ridge regression with penalty `lambda`.
    Ridge {
        /// The L2 penalty (DeepArchitect's experiments: 1000).
        #[serde(default = "default_lambda")]
        lambda: f64,
    },
    /// A random forest.
    Forest(ForestConfig),
}

fn default_lambda() -> f64 {
    1e3
}

impl Default for SurrogateConfig {
    fn default() -> Self {
        SurrogateConfig::Ridge {
            lambda: default_lambda(),
        }
    }
}

impl SurrogateConfig {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        match self {
            SurrogateConfig::Ridge { lambda } if !(lambda.is_finite() && *lambda > 0.0) => Err((
                "lambda",
                format!("lambda must be a finite number > 0, not {lambda}"),
            )),
            SurrogateConfig::Ridge { .. } => Ok(()),
            SurrogateConfig::Forest(f) => f.check(),
        }
    }

    /// A fresh, unfitted model.
    pub fn build(&self) -> Box<dyn Surrogate> {
        match self {
            SurrogateConfig::Ridge { lambda } => Box::new(Ridge::new(*lambda)),
            SurrogateConfig::Forest(f) => Box::new(Forest::new(f.clone())),
        }
    }
}

/// The features at least `min_count` rows have (non-zero), and those rows cut down to them.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    kept: Vec<usize>,
}

impl Vocabulary {
    /// The features of `rows` that at least `min_count` rows have.
    pub fn of(rows: &[Vec<f64>], min_count: usize) -> Self {
        let width = rows.first().map_or(0, Vec::len);
        let kept = (0..width)
            .filter(|&j| rows.iter().filter(|r| r[j] != 0.0).count() >= min_count)
            .collect();
        Vocabulary { kept }
    }

    /// How many features are kept.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether no feature is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// `row` cut down to the kept features.
    pub fn apply(&self, row: &[f64]) -> Vec<f64> {
        self.kept.iter().map(|&j| row[j]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_keeps_features_seen_often_enough() {
        let rows = vec![
            vec![1.0, 0.0, 2.0],
            vec![1.0, 1.0, 0.0],
            vec![3.0, 0.0, 0.0],
        ];
        let v = Vocabulary::of(&rows, 2);
        assert_eq!(v.len(), 1);
        assert_eq!(v.apply(&[5.0, 6.0, 7.0]), [5.0]);
        assert_eq!(Vocabulary::of(&rows, 1).len(), 3);
    }
}
