//! Features: a fixed-length numeric vector per complete sequence, for surrogate models and
//! performance predictors. [`PositionalFeatures`] serves every space whose sequences have the
//! same decision kinds at the same positions: a one-hot block per position, how often each
//! option of each kind was chosen (operation counts), and the network's parameters and MACs
//! (in millions) where the space's candidates have shapes; a space has these features by
//! giving its positions ([`Positional`]).

use crate::error::{Error, Result};
use crate::spec::EnvSpec;

/// A space's features (see the module documentation).
pub trait Features {
    /// One name per feature; every vector has this length.
    fn feature_names(&self) -> &[String];

    /// The features of a complete, legal sequence.
    fn vector(&self, decisions: &[usize]) -> Result<Vec<f64>>;
}

/// A space whose features are [`PositionalFeatures`] of its candidates (an environment that
/// is one has [`Features`], from the candidates it builds).
pub trait Positional {
    /// The space's positional features.
    fn positions(&self) -> &PositionalFeatures;
}

/// One position of a fixed-layout space: its name, decision kind and number of options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// A readable name, e.g. `edge_0_1`.
    pub name: String,
    /// The decision kind (index into the spec's kinds).
    pub kind: usize,
    /// The options it offers.
    pub options: usize,
}

/// One-hot decisions, option counts per kind, and optionally params and MACs (see the
/// module documentation).
#[derive(Debug, Clone)]
pub struct PositionalFeatures {
    positions: Vec<Position>,
    /// Per kind, its first count feature.
    counts_at: Vec<usize>,
    costs: bool,
    names: Vec<String>,
}

impl PositionalFeatures {
    /// The features of a space with these `positions`, whose kinds `spec` names; `costs`
    /// appends params and MACs.
    pub fn new(spec: &EnvSpec, positions: Vec<Position>, costs: bool) -> Self {
        let mut names = Vec::new();
        for p in &positions {
            let labels = &spec.kinds[p.kind].labels;
            names.extend((0..p.options).map(|o| format!("{}={}", p.name, labels[o])));
        }
        let mut counts_at = Vec::with_capacity(spec.kinds.len());
        for kind in &spec.kinds {
            counts_at.push(names.len());
            names.extend(
                kind.labels
                    .iter()
                    .map(|l| format!("count:{}={l}", kind.name)),
            );
        }
        if costs {
            names.push("params_millions".into());
            names.push("macs_millions".into());
        }
        PositionalFeatures {
            positions,
            counts_at,
            costs,
            names,
        }
    }

    /// The feature names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The features of `decisions`; `counts` (params, MACs) when the space has costs.
    pub fn encode(&self, decisions: &[usize], counts: Option<(u64, u64)>) -> Result<Vec<f64>> {
        if decisions.len() != self.positions.len() {
            return Err(Error::InvalidDecisions {
                decisions: decisions.to_vec(),
                reason: format!("features need {} decisions", self.positions.len()),
            });
        }
        let mut x = vec![0.0; self.names.len()];
        let mut at = 0;
        for (p, &d) in self.positions.iter().zip(decisions) {
            if d >= p.options {
                return Err(Error::InvalidDecisions {
                    decisions: decisions.to_vec(),
                    reason: format!("option {d} at `{}` is out of range", p.name),
                });
            }
            x[at + d] = 1.0;
            x[self.counts_at[p.kind] + d] += 1.0;
            at += p.options;
        }
        if self.costs {
            let (params, macs) = counts.ok_or_else(|| {
                Error::Arch("features with costs need a candidate with shapes".into())
            })?;
            let n = x.len();
            x[n - 2] = params as f64 / 1e6;
            x[n - 1] = macs as f64 / 1e6;
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DecisionKindSpec;

    #[test]
    fn one_hot_blocks_then_counts_then_costs() {
        let spec = EnvSpec {
            name: "t".into(),
            kinds: vec![DecisionKindSpec {
                name: "op".into(),
                labels: vec!["a".into(), "b".into(), "c".into()],
            }],
            max_length: 2,
        };
        let positions = (0..2)
            .map(|i| Position {
                name: format!("e{i}"),
                kind: 0,
                options: 3,
            })
            .collect();
        let f = PositionalFeatures::new(&spec, positions, true);
        assert_eq!(f.names().len(), 3 + 3 + 3 + 2);
        assert_eq!(f.names()[4], "e1=b");
        assert_eq!(f.names()[7], "count:op=b");
        let x = f.encode(&[1, 1], Some((2_000_000, 5_000_000))).unwrap();
        assert_eq!(x, [0., 1., 0., 0., 1., 0., 0., 2., 0., 2., 5.]);
        assert!(f.encode(&[1], Some((0, 0))).is_err());
        assert!(f.encode(&[1, 3], Some((0, 0))).is_err());
        assert!(f.encode(&[1, 1], None).is_err());
    }
}
