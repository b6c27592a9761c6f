//! The decision process. An environment is a pure function of the decisions made so far: its
//! state is the decision prefix (`&[usize]`), which makes episodes replayable, hashable,
//! storable and branchable. At each step it offers a [`Choice`] (how many options, which are
//! legal); once it offers none the sequence is complete and [`Environment::build`] turns it into
//! a [`Candidate`]. A space that declares itself [`Positional`] or made of
//! [`NetworkLayers`] gets its features or tokens from the candidates it builds (below).

use crate::ability::{
    Features, GraphEncoding, Growth, LAYER_FIELDS, NetworkLayers, Positional, Table, Tokens,
    layer_tokens,
};
use crate::candidate::Candidate;
use crate::error::{Error, Result};
pub use crate::spec::{DecisionKindSpec, EnvSpec};
use rand::Rng as _;
use std::sync::Arc;

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
        let mut legal = Vec::with_capacity(self.options);
        self.legal_into(&mut legal);
        legal
    }

    /// Fills `legal` with the legal options in increasing order (a reusable buffer).
    pub fn legal_into(&self, legal: &mut Vec<usize>) {
        legal.clear();
        match &self.mask {
            None => legal.extend(0..self.options),
            Some(mask) => legal.extend((0..self.options).filter(|&o| mask[o])),
        }
    }
}

/// A search space as a decision process. Besides its three methods it offers the
/// [abilities](crate::ability) it has; each accessor is `None` where the space lacks one.
pub trait Environment: Send + Sync {
    /// Name, decision vocabulary, maximum length.
    fn spec(&self) -> &EnvSpec;

    /// The choice after `prefix`, or `None` when `prefix` is a complete sequence. An error
    /// means `prefix` itself is not a legal prefix.
    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>>;

    /// Turns a complete sequence into a candidate. An error means the architecture does not
    /// build; the runner records it as an `Invalid` outcome.
    fn build(&self, decisions: &[usize]) -> Result<Candidate>;

    /// The space's own benchmark table, for spaces that are tabular benchmarks; the `table`
    /// evaluator scores candidates by looking their label up in it.
    fn benchmark(&self) -> Option<Arc<Table>> {
        None
    }

    /// The space's graph encoding, for generators that work on graphs.
    fn graph(&self) -> Option<&dyn GraphEncoding> {
        None
    }

    /// The space's fixed-length features, for surrogates and predictors.
    fn features(&self) -> Option<&dyn Features> {
        None
    }

    /// The space's layer tokens, for controllers that read a network layer by layer.
    fn tokens(&self) -> Option<&dyn Tokens> {
        None
    }

    /// The space's growth steps, for controllers that grow networks by morphs.
    fn growth(&self) -> Option<&dyn Growth> {
        None
    }
}

/// A positional space's features: the one-hot decisions and counts of each candidate it
/// builds.
impl<E: Environment + Positional> Features for E {
    fn feature_names(&self) -> &[String] {
        self.positions().names()
    }

    fn vector(&self, decisions: &[usize]) -> Result<Vec<f64>> {
        let candidate = self.build(decisions)?;
        self.positions().encode(decisions, candidate.counts)
    }
}

/// A space of networks' layer tokens: those of each candidate it builds.
impl<E: Environment + NetworkLayers> Tokens for E {
    fn token_fields(&self) -> &[&'static str] {
        &LAYER_FIELDS
    }

    fn sequence(&self, decisions: &[usize]) -> Result<Vec<Vec<f64>>> {
        Ok(layer_tokens(self.build(decisions)?.arch()))
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

/// Checks that `env` keeps its spec's promises on `samples` sequences drawn uniformly (from
/// a fixed seed, so the same check every time): every choice is of a declared kind with no
/// more options than that kind has labels, leaves at least one option legal, and sequences
/// end within `max_length`. Runs before any training, so a space that would trip a
/// controller mid-run is refused when the experiment is loaded. Sampling cannot visit every
/// branch of a large space; a rare bad branch still fails at the proposal that reaches it.
pub fn probe(env: &dyn Environment, samples: usize) -> Result<()> {
    let spec = env.spec();
    let mut rng = crate::rng::seeded(0x9e37_79b9);
    for _ in 0..samples {
        let mut decisions = Vec::new();
        complete_uniformly(env, &mut decisions, &mut rng)?;
        for position in 0..decisions.len() {
            let choice = env
                .next_choice(&decisions[..position])?
                .expect("a completed sequence has a choice at each of its positions");
            let declared = spec.kinds.get(choice.kind).map(|k| k.labels.len());
            if declared.is_none_or(|labels| choice.options > labels) {
                return Err(Error::InvalidDecisions {
                    decisions: decisions[..position].to_vec(),
                    reason: format!(
                        "the environment offers a choice (kind {}, {} options) its spec does not declare",
                        choice.kind, choice.options
                    ),
                });
            }
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
    rng: &mut crate::rng::Rng,
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
    let mut legal = Vec::new();
    while let Some(choice) = env.next_choice(prefix)? {
        choice.legal_into(&mut legal);
        if legal.is_empty() {
            legal_options(env, prefix.len(), &choice)?;
        }
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

/// Every complete sequence of `env`, in lexicographic order of the legal options, or `None`
/// when the space has more than `limit` of them.
pub fn enumerate(env: &dyn Environment, limit: usize) -> Result<Option<Vec<Vec<usize>>>> {
    fn walk(
        env: &dyn Environment,
        prefix: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
        limit: usize,
    ) -> Result<bool> {
        let Some(choice) = env.next_choice(prefix)? else {
            if out.len() == limit {
                return Ok(false);
            }
            out.push(prefix.clone());
            return Ok(true);
        };
        for option in legal_options(env, prefix.len(), &choice)? {
            prefix.push(option);
            let more = walk(env, prefix, out, limit)?;
            prefix.pop();
            if !more {
                return Ok(false);
            }
        }
        Ok(true)
    }
    let mut out = Vec::new();
    Ok(walk(env, &mut Vec::new(), &mut out, limit)?.then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::Toy;

    /// The toy space with one promise broken at position 2.
    struct Broken {
        toy: Toy,
        choice: Choice,
    }

    impl Environment for Broken {
        fn spec(&self) -> &EnvSpec {
            self.toy.spec()
        }
        fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
            match prefix.len() {
                2 => Ok(Some(self.choice.clone())),
                _ => self.toy.next_choice(prefix),
            }
        }
        fn build(&self, decisions: &[usize]) -> Result<Candidate> {
            self.toy.build(decisions)
        }
    }

    #[test]
    fn the_probe_passes_a_sound_space_and_names_a_broken_promise() {
        let toy = || Toy::new(4, 3).unwrap();
        probe(&toy(), 16).unwrap();
        let no_option = Broken {
            toy: toy(),
            choice: Choice {
                kind: 0,
                options: 3,
                mask: Some(vec![false; 3]),
            },
        };
        let err = probe(&no_option, 16).unwrap_err().to_string();
        assert!(err.contains("no legal option for decision 2"), "{err}");
        let undeclared = Broken {
            toy: toy(),
            choice: Choice::new(1, 3),
        };
        let err = probe(&undeclared, 16).unwrap_err().to_string();
        assert!(err.contains("its spec does not declare"), "{err}");
        let too_many = Broken {
            toy: toy(),
            choice: Choice::new(0, 5),
        };
        assert!(probe(&too_many, 16).is_err());
    }

    #[test]
    fn enumeration_lists_every_sequence_once_or_declines_past_the_limit() {
        // The toy's table lists every legal sequence (its masks rule some out).
        let toy = Toy::new(3, 3).unwrap();
        let legal = toy.benchmark().unwrap().rows.len();
        let all = enumerate(&toy, 1000).unwrap().unwrap();
        assert_eq!(all.len(), legal);
        assert!(all.iter().all(|d| validate(&toy, d).is_ok()));
        assert_eq!(
            all.iter().collect::<std::collections::HashSet<_>>().len(),
            legal
        );
        assert!(all.windows(2).all(|w| w[0] < w[1]), "lexicographic order");
        assert_eq!(
            enumerate(&toy, legal).unwrap().map(|a| a.len()),
            Some(legal)
        );
        assert!(enumerate(&toy, legal - 1).unwrap().is_none());
    }
}
