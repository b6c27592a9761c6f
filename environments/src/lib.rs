//! # archforge-environments — search spaces
//!
//! Each module is one search space behind the core [`archforge::Environment`] contract, with
//! its own experiment-file configuration type:
//! - [`nb201`]: the NAS-Bench-201 cell space (6 edges x 5 operations), with the benchmark's
//!   table embedded in the binary and the CIFAR skeleton built as a graph for parameter and
//!   MAC counts;
//! - [`mnasnet`]: MnasNet's factorized hierarchical space (per block: conv type, kernel,
//!   squeeze-excite, skip, width and depth relative to a MobileNetV2-like baseline);
//! - [`nasnet`]: the NASNet cell space (B blocks of two inputs, two of 13 operations and a
//!   combiner, for a normal and a reduction cell), trained by the shared trainer;
//! - [`tabular`]: any CSV of a user's own benchmark, one categorical decision per column;
//! - [`tree`]: tree-structured spaces users compose from modules and hyper-parameters
//!   (DeepArchitect's language), trained by the shared trainer;
//! - [`netmorph`]: network transformation (EAS) — a sequence grows a seed network step by
//!   step by function-preserving morphs, each child starting from its parent's weights;
//! - [`compress`]: spaces derived from a trained teacher network (N2N learning): which layers
//!   to remove, then how far to shrink the kept ones.
//!
//! [`images`] holds what a trainable space sizes its networks by.
//!
//! Environments know nothing of controllers; only the experiments registry names both.

pub mod compress;
#[cfg(test)]
mod forward_check;
pub mod images;
pub mod mnasnet;
pub mod nasnet;
pub mod nb201;
pub mod netmorph;
pub mod tabular;
pub mod tree;

pub use compress::{
    Compression, Network, RemovalConfig, ShrinkageConfig, TeacherConfig, TeacherKind,
    TrainedTeacher,
};
pub use images::Images;
pub use mnasnet::{Mnasnet, MnasnetConfig};
pub use nasnet::{Nasnet, NasnetConfig};
pub use nb201::{Nb201, Nb201Config, Nb201Dataset};
pub use netmorph::{Netmorph, NetmorphConfig};
pub use tabular::{Tabular, TabularConfig, TabularDecision};
pub use tree::{Tree, TreeConfig};
