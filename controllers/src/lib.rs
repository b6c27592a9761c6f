//! # archforge-controllers — search strategies
//!
//! Each module is one controller family behind the core [`archforge::Controller`] contract,
//! generic over every [`archforge::Environment`], with its own experiment-file configuration:
//! - [`random`]: random search, uniform over the legal options of each choice;
//! - [`evolution`]: regularized (aging) evolution with tournament selection and one-decision
//!   mutations;
//! - [`policy_gradient`]: an LSTM policy ([`policy`]) trained by REINFORCE or PPO;
//! - [`mcts`]: Monte-Carlo tree search (UCT) over the decision tree, optionally bisected;
//! - [`eas`]: EAS's meta-controller, growing the best network so far by function-preserving
//!   morphs on a space that grows networks;
//! - [`smbo`]: sequential model-based optimisation with a surrogate (one of the core's
//!   performance predictors) over the space's features or graph;
//! - [`diffusion`]: DiffusionNAG's generator, a score-based diffusion model of the space's
//!   graphs sampled under the guidance of a performance predictor.
//!
//! [`history`] is what the model-based ones (SMBO, the generator) remember.
//!
//! Controllers are passive and own no loop; they draw randomness only from the generator the
//! runner hands them, so a run is reproducible from its seed and a checkpoint.

pub mod defaults;
pub mod diffusion;
pub mod eas;
pub mod evolution;
pub mod history;
pub mod mcts;
pub mod mutation;
pub mod policy;
pub mod policy_gradient;
pub mod random;
pub mod smbo;

pub use diffusion::{Diffusion, DiffusionConfig};
pub use eas::{Eas, EasConfig};
pub use evolution::{Evolution, EvolutionConfig};
pub use mcts::{Mcts, MctsConfig};
pub use policy_gradient::{PolicyGradient, PolicyGradientConfig, RewardTransform};
pub use random::{RandomConfig, RandomSearch};
pub use smbo::{Smbo, SmboConfig};
