//! A candidate: a complete decision sequence with the architecture it builds.

use crate::arch::{Arch, ArchHash};

/// What an environment builds from a complete decision sequence.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The decisions that made it.
    pub decisions: Vec<usize>,
    /// A readable, unique name (NAS-Bench-201's `arch_str`, a tabular row key); table
    /// evaluators look it up.
    pub label: String,
    /// The architecture graph.
    pub arch: Arch,
    /// `arch.canonical_hash()`, computed once.
    pub hash: ArchHash,
}

impl Candidate {
    /// A candidate from its decisions, label and graph.
    pub fn new(decisions: Vec<usize>, label: String, arch: Arch) -> Self {
        let hash = arch.canonical_hash();
        Candidate {
            decisions,
            label,
            arch,
            hash,
        }
    }
}
