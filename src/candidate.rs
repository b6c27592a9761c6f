//! A candidate: a complete decision sequence with what it builds — a readable label, the
//! canonical hash of the function it computes, its parameter and MAC counts, and the
//! architecture graph. The graph may be built lazily, on first use: a table evaluation needs
//! only the label, hash and counts, so spaces that can give those cheaply
//! ([`Candidate::lazy`]) do not build a whole network per evaluation.
//!
//! A candidate may also say where its initial weights come from ([`Candidate::init`]): a
//! snapshot holding a tensor for each of its layers under the paths its network has — a child
//! cut out of a trained supernet, a saved network, a teacher's kept layers — or its
//! [`Lineage`], for a network grown by morphs: its nearest trained ancestor's weights, morphed
//! step by step. The trainer builds its layers from them instead of drawing them.
//!
//! And a candidate may choose its own training settings ([`Candidate::training`]): a tree
//! space whose decisions include a learning rate or an optimiser. A stand-alone trainer
//! applies them over the run's `[training]`; they are part of the candidate's hash, so two
//! candidates that differ only in their learning rate are two candidates.

use crate::arch::{Arch, ArchHash};
use crate::lineage::Lineage;
use crate::weights::Snapshot;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Training settings a candidate chose: `[training]` keys with their values.
pub type TrainingChoices = BTreeMap<String, serde_json::Value>;

/// Builds a candidate's graph from its decisions.
pub type ArchBuilder = Arc<dyn Fn(&[usize]) -> Arch + Send + Sync>;

/// Where a candidate's initial weights come from.
#[derive(Debug, Clone)]
pub enum Init {
    /// A tensor for each of its layers, under its network's paths.
    Weights(Arc<Snapshot>),
    /// Its nearest trained ancestor's weights, morphed along its lineage; the trainer that
    /// trained the ancestors resolves them.
    Grown(Arc<Lineage>),
}

/// What an environment builds from a complete decision sequence.
#[derive(Clone)]
pub struct Candidate {
    /// The decisions that made it.
    pub decisions: Vec<usize>,
    /// A readable, unique name (NAS-Bench-201's `arch_str`, a tabular row key); table
    /// evaluators look it up.
    pub label: String,
    /// The canonical hash: candidates with equal hashes compute the same function.
    pub hash: ArchHash,
    /// Trainable parameters and multiply-accumulates, when the graph has shapes.
    pub counts: Option<(u64, u64)>,
    /// The weights its training starts from (none: freshly drawn).
    pub init: Option<Init>,
    /// The training settings its decisions chose (empty: the run's).
    pub training: TrainingChoices,
    arch: OnceLock<Arch>,
    builder: Option<ArchBuilder>,
}

impl Candidate {
    /// A candidate from its decisions, label and graph; hash and counts come from the graph.
    pub fn new(decisions: Vec<usize>, label: String, arch: Arch) -> Self {
        let hash = arch.canonical_hash();
        let counts = arch.counts();
        Candidate {
            decisions,
            label,
            hash,
            counts,
            init: None,
            training: TrainingChoices::new(),
            arch: OnceLock::from(arch),
            builder: None,
        }
    }

    /// The same candidate, its training starting from `init`.
    pub fn with_init(mut self, init: Arc<Snapshot>) -> Self {
        self.init = Some(Init::Weights(init));
        self
    }

    /// The same candidate, grown along `lineage`: its training starts from its nearest
    /// trained ancestor's weights, morphed.
    pub fn grown(mut self, lineage: Arc<Lineage>) -> Self {
        self.init = Some(Init::Grown(lineage));
        self
    }

    /// The same candidate trained from freshly drawn weights.
    pub fn from_scratch(mut self) -> Self {
        self.init = None;
        self
    }

    /// The initial weights it names as a snapshot (none for a grown candidate, whose weights
    /// its trainer resolves).
    pub fn init_weights(&self) -> Option<&Arc<Snapshot>> {
        match &self.init {
            Some(Init::Weights(w)) => Some(w),
            _ => None,
        }
    }

    /// The same candidate trained with `training` over the run's settings; the choices are
    /// mixed into its hash.
    pub fn with_training(mut self, training: TrainingChoices) -> Self {
        if !training.is_empty() {
            let text = serde_json::to_string(&training).expect("JSON values serialise");
            self.hash = ArchHash(crate::arch::hash::hash_words(
                &format!("training:{text}"),
                &[self.hash.0],
            ));
        }
        self.training = training;
        self
    }

    /// A candidate whose graph `builder` makes on first use. `hash` and `counts` must be what
    /// the graph would give ([`Arch::canonical_hash`] and [`Arch::counts`], or a hash under
    /// which exactly the same candidates agree), and `builder` must not fail on `decisions`.
    pub fn lazy(
        decisions: Vec<usize>,
        label: String,
        hash: ArchHash,
        counts: Option<(u64, u64)>,
        builder: ArchBuilder,
    ) -> Self {
        Candidate {
            decisions,
            label,
            hash,
            counts,
            init: None,
            training: TrainingChoices::new(),
            arch: OnceLock::new(),
            builder: Some(builder),
        }
    }

    /// The architecture graph, built now if it was not yet.
    pub fn arch(&self) -> &Arch {
        self.arch.get_or_init(|| {
            let build = self
                .builder
                .as_ref()
                .expect("a candidate without a graph has a builder");
            build(&self.decisions)
        })
    }

    /// Trainable parameters, when the graph has shapes.
    pub fn params(&self) -> Option<u64> {
        self.counts.map(|(params, _)| params)
    }

    /// Multiply-accumulates of one forward pass on one example, when the graph has shapes.
    pub fn macs(&self) -> Option<u64> {
        self.counts.map(|(_, macs)| macs)
    }
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidate")
            .field("decisions", &self.decisions)
            .field("label", &self.label)
            .field("hash", &self.hash)
            .field("counts", &self.counts)
            .field(
                "init",
                &self.init.as_ref().map(|i| match i {
                    Init::Weights(s) => format!("{} tensors", s.len()),
                    Init::Grown(l) => format!("grown in {} steps", l.steps.len()),
                }),
            )
            .field("training", &self.training)
            .field("built", &self.arch.get().is_some())
            .finish()
    }
}
