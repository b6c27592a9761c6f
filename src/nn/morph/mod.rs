//! Function-preserving network morphs (Net2Net, as EAS grows networks): each takes a network
//! — its [`Arch`](crate::arch::Arch) and its weights by path ([`Snapshot`](crate::weights::Snapshot)) — and gives a larger network whose
//! weights compute the same function, so that training it continues where its parent stood.
//!
//! - [`wider`]: Net2Wider — a layer's units replicated by a random mapping, the outgoing
//!   weights of each replicated unit divided by its number of copies;
//! - [`deeper`]: Net2Deeper — an identity convolution with batch norm and ReLU inserted after a
//!   layer whose output is not negative, its batch norm set from the batch statistics there;
//! - [`kernel`]: a convolution's kernel enlarged by zero padding.
//!
//! A morph rebuilds the graph node by node ([`rebuild`]) under the same node names, and
//! carries every tensor to the new network's paths ([`carry`]); the morph then rewrites the
//! tensors it changes. They apply to plain networks — convolutions, batch norm, activations,
//! pooling, dropout, flattening and dense layers in a chain — and to MnasNet's blocks
//! (depthwise convolutions, squeeze-excite gates); they refuse, in one line, a layer whose
//! channels reach an addition or a concatenation. [`largest_change`] measures how far a morph
//! moved a network's outputs, so that a caller can check it kept the function. [`grow`] redoes a
//! [`Lineage`](crate::lineage::Lineage) — morphs named by layer, step after step — on a
//! graph or on trained weights.

pub mod check;
pub mod deeper;
pub mod graph;
pub mod kernel;
pub mod lineage;
pub mod wider;

#[cfg(test)]
mod tests;

pub use check::largest_change;
pub use deeper::{channel_moments, deepen, deepen_graph, non_negative};
pub use graph::{Morphed, carry, layer_prefix, node_named, rebuild};
pub use kernel::enlarge_kernel;
pub use lineage::{grow, morph_graph};
pub use wider::{widen, widen_graph};
