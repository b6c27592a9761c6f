//! The predictor setting (`predictor = { kind = "gcn", ... }`, SMBO's `surrogate`): which
//! model, with its own settings, checked in one place and built fresh for every fit.

use super::{Ensemble, Forest, ForestConfig, Gcn, Input, Mlp, NeuralConfig, Predictor, Ridge};
use serde::{Deserialize, Serialize};

/// Which predictor, with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PredictorConfig {
    /// Ridge regression on the features, with penalty `lambda`.
    Ridge {
        /// The L2 penalty (DeepArchitect's experiments: 1000).
        #[serde(default = "default_lambda")]
        lambda: f64,
    },
    /// A random forest on the features.
    Forest(ForestConfig),
    /// A perceptron on the graph laid flat.
    Mlp(NeuralConfig),
    /// A graph convolutional network on the graph.
    Gcn(NeuralConfig),
    /// An ensemble of one kind.
    Ensemble(EnsembleConfig),
}

/// An ensemble's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleConfig {
    /// How many members.
    #[serde(default = "default_members")]
    pub members: usize,
    /// Whether each member is fitted on its own bootstrap sample of the rows.
    #[serde(default)]
    pub bootstrap: bool,
    /// The members' kind and settings.
    pub of: Box<PredictorConfig>,
}

fn default_lambda() -> f64 {
    1e3
}
fn default_members() -> usize {
    5
}

impl Default for PredictorConfig {
    fn default() -> Self {
        PredictorConfig::Ridge {
            lambda: default_lambda(),
        }
    }
}

impl PredictorConfig {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        match self {
            PredictorConfig::Ridge { lambda } if !(lambda.is_finite() && *lambda > 0.0) => Err((
                "lambda",
                format!("lambda must be a finite number > 0, not {lambda}"),
            )),
            PredictorConfig::Ridge { .. } => Ok(()),
            PredictorConfig::Forest(f) => f.check(),
            PredictorConfig::Mlp(n) | PredictorConfig::Gcn(n) => n.check(),
            PredictorConfig::Ensemble(e) if e.members == 0 => {
                Err(("members", "an ensemble needs at least 1 member".into()))
            }
            PredictorConfig::Ensemble(e) => e.of.check(),
        }
    }

    /// A fresh, unfitted predictor.
    pub fn build(&self) -> Box<dyn Predictor> {
        match self {
            PredictorConfig::Ridge { lambda } => Box::new(Ridge::new(*lambda)),
            PredictorConfig::Forest(f) => Box::new(Forest::new(f.clone())),
            PredictorConfig::Mlp(n) => Box::new(Mlp::new(n.clone())),
            PredictorConfig::Gcn(n) => Box::new(Gcn::new(n.clone())),
            PredictorConfig::Ensemble(e) => Box::new(Ensemble::new(
                (0..e.members).map(|_| e.of.build()).collect(),
                e.bootstrap,
            )),
        }
    }

    /// What the predictor reads.
    pub fn input(&self) -> Input {
        match self {
            PredictorConfig::Ridge { .. } | PredictorConfig::Forest(_) => Input::Features,
            PredictorConfig::Mlp(_) | PredictorConfig::Gcn(_) => Input::Graph,
            PredictorConfig::Ensemble(e) => e.of.input(),
        }
    }

    /// A short name for reports: the kind, an ensemble as `ensemble-5-gcn`.
    pub fn label(&self) -> String {
        match self {
            PredictorConfig::Ridge { .. } => "ridge".into(),
            PredictorConfig::Forest(_) => "forest".into(),
            PredictorConfig::Mlp(_) => "mlp".into(),
            PredictorConfig::Gcn(_) => "gcn".into(),
            PredictorConfig::Ensemble(e) => format!("ensemble-{}-{}", e.members, e.of.label()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictor_settings_parse_check_and_name_themselves() {
        let c: PredictorConfig =
            toml::from_str("kind = \"ensemble\"\nof = { kind = \"gcn\", hidden = 8 }").unwrap();
        assert_eq!(c.label(), "ensemble-5-gcn");
        assert_eq!(c.input(), Input::Graph);
        assert!(c.check().is_ok());
        assert_eq!(c.build().kind(), "ensemble");
        let bad: PredictorConfig = toml::from_str("kind = \"mlp\"\nepochs = 0").unwrap();
        assert_eq!(bad.check().unwrap_err().0, "epochs");
        assert!(toml::from_str::<PredictorConfig>("kind = \"gcn\"\nwidth = 3").is_err());
        assert_eq!(PredictorConfig::default().input(), Input::Features);
    }
}
