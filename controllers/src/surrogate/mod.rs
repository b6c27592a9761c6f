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
pub mod model;
pub mod ridge;
pub mod vocabulary;

pub use forest::{Forest, ForestConfig};
pub use model::Surrogate;
pub use ridge::Ridge;
pub use vocabulary::Vocabulary;

use serde::{Deserialize, Serialize};

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
