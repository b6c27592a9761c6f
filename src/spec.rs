//! What a space is, before any decision: its name, its decision vocabulary (the kinds of
//! decision, each with its option labels) and its longest sequence. Learned controllers size
//! themselves by it; abilities describe their vectors by it.

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
    /// The decision kinds, indexed by [`Choice::kind`](crate::env::Choice::kind).
    pub kinds: Vec<DecisionKindSpec>,
    /// The longest complete decision sequence.
    pub max_length: usize,
}
