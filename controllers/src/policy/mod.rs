//! The learned policy behind the policy-gradient controllers: an LSTM that writes an
//! architecture decision by decision ([`network`]), or a bidirectional LSTM that reads a
//! network's layers and decides for all of them at once ([`bidirectional`]) — either one a
//! [`Policy`] ([`kind`]) — built from one LSTM cell ([`lstm`]) and one output head
//! ([`head`]), and their settings ([`config`]); the core's [`Adam`] trains it.

pub mod bidirectional;
pub mod config;
pub mod head;
pub mod kind;
pub mod lstm;
pub mod network;

#[cfg(test)]
mod tests;

pub use archforge::adam::Adam;
pub use bidirectional::Bidirectional;
pub use config::{NetworkConfig, PolicyKind};
pub use kind::Policy;
pub use network::{Network, Sampled, SequenceStats};
