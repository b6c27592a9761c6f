//! A toy environment with a known best sequence, for tests and quick demonstrations of a
//! controller: `length` decisions among `options` options, where the last option is illegal at
//! odd positions (so masks matter). Its table scores a sequence by the share of positions that
//! match the target — the last option at even positions, option 0 at odd ones — in percent.

use crate::ability::{Rows, Table, TableRow};
use crate::arch::{Arch, Op};
use crate::candidate::Candidate;
use crate::env::{Choice, DecisionKindSpec, EnvSpec, Environment};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[environment]` section for `kind = "toy"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToyConfig {
    /// Decisions per sequence.
    #[serde(default = "default_length")]
    pub length: usize,
    /// Options per decision.
    #[serde(default = "default_options")]
    pub options: usize,
}

fn default_length() -> usize {
    4
}
fn default_options() -> usize {
    3
}

/// The toy environment (see the module documentation).
pub struct Toy {
    spec: EnvSpec,
    options: usize,
    table: Arc<Table>,
}

impl Toy {
    /// A toy space of `length` decisions with `options` options each (at least 2; the table
    /// lists every sequence, so keep `options ^ length` small).
    pub fn new(length: usize, options: usize) -> Result<Self> {
        if length == 0 || options < 2 || (options as f64).powf(length as f64) > 1e6 {
            return Err(Error::InvalidDecisions {
                decisions: vec![],
                reason: "toy: length >= 1, options >= 2 and at most 1e6 sequences".into(),
            });
        }
        let spec = EnvSpec {
            name: "toy".into(),
            kinds: vec![DecisionKindSpec {
                name: "option".into(),
                labels: (0..options).map(|o| o.to_string()).collect(),
            }],
            max_length: length,
        };
        let mut toy = Toy {
            spec,
            options,
            table: Arc::new(Table {
                rows: Rows::default(),
                maximize: true,
            }),
        };
        let target = toy.target();
        let mut rows = Rows::default();
        let mut seq = vec![0usize; length];
        loop {
            if crate::env::validate(&toy, &seq).is_ok() {
                let hits = seq.iter().zip(&target).filter(|(a, b)| a == b).count();
                let score = 100.0 * hits as f64 / length as f64;
                rows.insert(
                    label(&seq),
                    TableRow {
                        search: score,
                        reported: score,
                        cost: Some(1.0),
                    },
                );
            }
            // Next sequence in mixed-radix order.
            let Some(i) = seq.iter().rposition(|&d| d + 1 < options) else {
                break;
            };
            seq[i] += 1;
            seq[i + 1..].fill(0);
        }
        toy.table = Arc::new(Table {
            rows,
            maximize: true,
        });
        Ok(toy)
    }

    /// The best sequence.
    pub fn target(&self) -> Vec<usize> {
        (0..self.spec.max_length)
            .map(|i| if i % 2 == 0 { self.options - 1 } else { 0 })
            .collect()
    }
}

fn label(decisions: &[usize]) -> String {
    crate::search::join_decisions(decisions)
}

impl Environment for Toy {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        if prefix.len() > self.spec.max_length {
            return Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: "too long".into(),
            });
        }
        if prefix.len() == self.spec.max_length {
            return Ok(None);
        }
        let mut mask = vec![true; self.options];
        if prefix.len() % 2 == 1 {
            mask[self.options - 1] = false;
        }
        Ok(Some(Choice {
            kind: 0,
            options: self.options,
            mask: Some(mask),
        }))
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        crate::env::validate(self, decisions)?;
        let mut arch = Arch::new(None);
        let mut x = arch.input();
        for (i, d) in decisions.iter().enumerate() {
            x = arch.add(format!("d{i}"), Op::Labelled(format!("d{i}={d}")), &[x])?;
        }
        arch.finish(x)?;
        Ok(Candidate::new(decisions.to_vec(), label(decisions), arch))
    }

    fn benchmark(&self) -> Option<Arc<Table>> {
        Some(self.table.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_legal_and_best() {
        let toy = Toy::new(4, 3).unwrap();
        let target = toy.target();
        assert_eq!(target, [2, 0, 2, 0]);
        let table = toy.benchmark().unwrap();
        assert_eq!(table.rows[&label(&target)].search, 100.0);
        // 3 * 2 * 3 * 2 legal sequences.
        assert_eq!(table.rows.len(), 36);
        assert!(toy.build(&[2, 2, 2, 2]).is_err());
    }
}
