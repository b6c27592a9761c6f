//! The decision process. An environment is a pure function of the decisions made so far: its
//! state is the decision prefix (`&[usize]`), which makes episodes replayable, hashable,
//! storable and branchable. At each step it offers a [`Choice`] (how many options, which are
//! legal); once it offers none the sequence is complete and [`Environment::build`] turns it into
//! a [`Candidate`].

use crate::candidate::Candidate;
use crate::error::{Error, Result};
use crate::evaluator::Table;
use rand::Rng as _;
use std::sync::Arc;

/// One kind of decision (an operation, an input, a width...). Learned controllers keep one
/// output head per kind, sized to `labels.len()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionKindSpec {
    /// Short name, e.g. `op`.
    pub name: String,
    /// One label per option; the number of labels is the most options a choice of this kind
    /// can offer.
    pub labels: Vec<String>,
}

/// What an environment is: its name, its decision vocabulary and its longest sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSpec {
    /// The environment's name as the registry knows it.
    pub name: String,
    /// The decision kinds, indexed by [`Choice::kind`].
    pub kinds: Vec<DecisionKindSpec>,
    /// The longest complete decision sequence.
    pub max_length: usize,
}

/// The decision offered at one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Index into [`EnvSpec::kinds`].
    pub kind: usize,
    /// Number of options (at most the kind's label count).
    pub options: usize,
    /// Which options are legal; `None` means all of them.
    pub mask: Option<Vec<bool>>,
}

impl Choice {
    /// A choice among `options` options of kind `kind`, all legal.
    pub fn new(kind: usize, options: usize) -> Self {
        Choice {
            kind,
            options,
            mask: None,
        }
    }

    /// Whether option `option` may be taken.
    pub fn is_legal(&self, option: usize) -> bool {
        option < self.options && self.mask.as_ref().is_none_or(|m| m[option])
    }

    /// The legal options in increasing order.
    pub fn legal_options(&self) -> Vec<usize> {
        (0..self.options).filter(|&o| self.is_legal(o)).collect()
    }
}

/// A search space as a decision process.
pub trait Environment: Send + Sync {
    /// Name, decision vocabulary, maximum length.
    fn spec(&self) -> &EnvSpec;

    /// The choice after `prefix`, or `None` when `prefix` is a complete sequence. An error
    /// means `prefix` itself is not a legal prefix.
    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>>;

    /// Turns a complete sequence into a candidate. An error means the architecture does not
    /// build; the runner records it as an `Invalid` outcome.
    fn build(&self, decisions: &[usize]) -> Result<Candidate>;

    /// The environment's own benchmark table, for environments that are tabular benchmarks;
    /// the `table` evaluator scores candidates by looking their label up in it.
    fn table(&self) -> Option<Arc<Table>> {
        None
    }
}

/// Checks that `decisions` is a complete, legal sequence: every decision legal for the choice
/// offered at its position, and no choice left after the last.
pub fn validate(env: &dyn Environment, decisions: &[usize]) -> Result<()> {
    for position in 0..=decisions.len() {
        match env.next_choice(&decisions[..position])? {
            Some(choice) if position < decisions.len() && !choice.is_legal(decisions[position]) => {
                return Err(Error::InvalidDecisions {
                    decisions: decisions.to_vec(),
                    reason: format!(
                        "option {} is not legal at position {position}",
                        decisions[position]
                    ),
                });
            }
            Some(_) if position < decisions.len() => {}
            Some(_) => {
                return Err(Error::InvalidDecisions {
                    decisions: decisions.to_vec(),
                    reason: "the sequence is incomplete".into(),
                });
            }
            None if position < decisions.len() => {
                return Err(Error::InvalidDecisions {
                    decisions: decisions.to_vec(),
                    reason: format!("the sequence is complete after {position} decisions"),
                });
            }
            None => {}
        }
    }
    Ok(())
}

/// The legal options of `choice` at `position`, or an error when the mask leaves none.
pub fn legal_options(
    env: &dyn Environment,
    position: usize,
    choice: &Choice,
) -> Result<Vec<usize>> {
    let legal = choice.legal_options();
    if legal.is_empty() {
        let kind = env
            .spec()
            .kinds
            .get(choice.kind)
            .map_or_else(|| format!("#{}", choice.kind), |k| k.name.clone());
        return Err(Error::NoLegalOption {
            position,
            kind,
            options: choice.options,
        });
    }
    Ok(legal)
}

/// Extends `prefix` to a complete sequence, each further decision drawn uniformly from the
/// legal options of its choice.
pub fn complete_uniformly(
    env: &dyn Environment,
    prefix: &mut Vec<usize>,
    rng: &mut crate::Rng,
) -> Result<()> {
    complete_with(env, prefix, |_, legal| {
        legal[rng.random_range(0..legal.len())]
    })
}

/// Extends `prefix` to a complete sequence, each further decision the option
/// `pick(position, legal options)` returns; an option that is not legal is an error.
pub fn complete_with(
    env: &dyn Environment,
    prefix: &mut Vec<usize>,
    mut pick: impl FnMut(usize, &[usize]) -> usize,
) -> Result<()> {
    while let Some(choice) = env.next_choice(prefix)? {
        let legal = legal_options(env, prefix.len(), &choice)?;
        let option = pick(prefix.len(), &legal);
        if !legal.contains(&option) {
            return Err(Error::InvalidDecisions {
                decisions: prefix.clone(),
                reason: format!("option {option} is not legal at this step"),
            });
        }
        prefix.push(option);
        if prefix.len() > env.spec().max_length {
            return Err(Error::InvalidDecisions {
                decisions: prefix.clone(),
                reason: format!(
                    "the environment offers more than its maximum of {} decisions",
                    env.spec().max_length
                ),
            });
        }
    }
    Ok(())
}
