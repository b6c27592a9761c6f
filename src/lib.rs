//! # archforge — the core contracts of neural architecture search
//!
//! An architecture is an *environment*: a controller makes a sequence of discrete design
//! decisions, the environment turns a finished sequence into a [`Candidate`] (a typed graph of
//! operations, [`Arch`]), an [`Evaluator`] scores it into an [`Outcome`], an [`Objective`] turns
//! the outcome into the scalar reward the controller learns from, and the [`Ledger`] records
//! every evaluation as it happens.
//!
//! The crate holds only the contracts and the machinery every part shares:
//! - [`env`](mod@env): the decision process ([`Environment`], [`Choice`], [`EnvSpec`]), and
//!   [`ability`]: what a space may offer beside it (graph encoding, features, layer tokens,
//!   a benchmark table);
//! - [`arch`]: the architecture graph with shapes, parameter and MAC counts, a canonical hash
//!   under which isomorphic cells agree, and JSON / Graphviz DOT export;
//! - [`controller`]: the passive [`Controller`] (propose / observe / checkpoint / restore);
//! - [`evaluator`]: [`Evaluator`], [`Outcome`], the table, stand-alone and supernet evaluators
//!   and the wrappers that are evaluators themselves (cache, failure isolation, table latency);
//! - [`data`] and [`nn`]: datasets and the trainer, the only code that calls the
//!   deep-learning engine;
//! - [`budget`], [`objective`], [`ledger`], and [`record`]: one record of an architecture and
//!   its metrics, flattened into every table of results;
//! - [`predictor`]: performance predictors fitted on evaluated architectures (ridge, forest,
//!   perceptron, graph network, ensembles), for model-based controllers, generators and
//!   `predictor-check`; [`adam`]: the optimiser of the hand-written networks;
//! - [`weights`]: tensors addressed by path (snapshots, safetensors files), what candidates'
//!   initial weights, saved networks and supernets are;
//! - [`search`]: one search run, the loop that ties the parts together; [`resume`]: its
//!   checkpoints and how a run goes on from one; and
//!   [`conformance`]: the public check that an environment, controller or evaluator keeps
//!   the contracts.
//!
//! Concrete controllers live in `archforge-controllers`, concrete environments in
//! `archforge-environments`; neither knows the other.

pub mod ability;
pub mod adam;
pub mod arch;
pub mod budget;
pub mod candidate;
pub mod conformance;
pub mod controller;
pub mod data;
pub mod env;
pub mod error;
pub mod evaluator;
pub mod ledger;
pub mod lineage;
pub mod nn;
pub mod objective;
pub mod predictor;
pub mod record;
pub mod resume;
pub mod rng;
pub mod search;
pub mod spec;
pub mod store;
pub mod toy;
pub mod weights;

pub use ability::{Table, TableRow};
pub use arch::{Arch, ArchHash, Op, Shape};
pub use budget::{Budget, BudgetLimits};
pub use candidate::Candidate;
pub use controller::{Checkpoint, Controller, Evaluated, Proposal};
pub use env::{Choice, DecisionKindSpec, EnvSpec, Environment};
pub use error::Error;
pub use evaluator::{Evaluator, Metrics, Outcome, Status};
pub use ledger::{Ledger, Row};
pub use objective::Objective;
pub use rng::Rng;
