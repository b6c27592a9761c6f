//! Abilities: what an environment may offer beyond the decision process, each a small trait
//! of its own, offered through the environment's accessors
//! (`env.graph()`, `env.features()`, `env.tokens()`, `env.growth()`, `env.benchmark()`), `None` where the
//! space lacks it. A controller or evaluator that needs one asks for it when the experiment
//! is loaded and refuses the space in one line if it is missing; the conformance check
//! ([`crate::conformance`]) tests every ability a space offers.
//!
//! - [`graph`]: a complete sequence as a graph of operations (padded to a fixed size) and
//!   back — for generators that work on graphs;
//! - [`features`]: a fixed-length numeric vector per complete sequence — for surrogates and
//!   performance predictors;
//! - [`tokens`]: a network as a sequence of layer tokens — for controllers that read a
//!   network layer by layer;
//! - [`growth`]: a sequence as steps that grow a network by morphs — for controllers that
//!   transform networks;
//! - [`benchmark`]: the space's own table of precomputed metrics — for the `table`
//!   evaluator.

pub mod benchmark;
pub mod features;
pub mod graph;
pub mod growth;
pub mod tokens;

pub use benchmark::{Rows, Table, TableRow};
pub use features::{Features, Positional, PositionalFeatures};
pub use graph::{ArchGraph, GraphEncoding};
pub use growth::{Growth, StepLayout};
pub use tokens::{LAYER_FIELDS, NetworkLayers, Tokens, layer_token, layer_tokens};
