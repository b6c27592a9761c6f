//! Growth: a space whose sequences grow a network by morph steps, as network transformation
//! does — for controllers that read the network a step starts from and decide its morphs.
//!
//! A sequence is a run of steps. Each step starts at a *boundary*, with one decision: stop
//! (the sequence ends; the candidate is the network so far) or grow. A growing step then
//! decides, for each layer that can widen, whether to widen it (to the next width); then
//! where to insert a layer (or nowhere); then, when it inserts one, its kernel. A prefix that
//! ends at a boundary is a parent network; its children share it.

use crate::error::Result;

/// What the step at a boundary decides, and about which layers (see the module
/// documentation). Layers are indices into `tokens`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLayout {
    /// The network the step starts from, layer by layer ([`crate::ability::layer_tokens`]).
    pub tokens: Vec<Vec<f64>>,
    /// Per widening decision, in order: the layer it may widen.
    pub widen: Vec<usize>,
    /// Per insertion place (the place decision's options after option 0, "nowhere"): the
    /// layer the new one would follow.
    pub places: Vec<usize>,
    /// The kernel sizes the kernel decision's options stand for.
    pub kernels: Vec<usize>,
}

/// The boundary option that ends a sequence.
pub const STOP: usize = 0;
/// The boundary option that starts a step.
pub const GROW: usize = 1;
/// A widening decision's option that widens (option 0 keeps the layer).
pub const WIDEN: usize = 1;
/// The place decision's option that inserts nothing.
pub const NOWHERE: usize = 0;

/// A growing space's steps (see the module documentation).
pub trait Growth {
    /// The step that starts at `prefix`, which must end at a boundary.
    fn step(&self, prefix: &[usize]) -> Result<StepLayout>;

    /// The lengths of the boundary prefixes of a legal sequence (complete or not), the empty
    /// prefix first: `decisions[..b]` for each `b` is a parent network of the sequence's.
    fn boundaries(&self, decisions: &[usize]) -> Result<Vec<usize>>;
}
