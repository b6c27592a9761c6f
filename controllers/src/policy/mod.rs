//! The learned policy behind the policy-gradient controllers: an LSTM that writes an
//! architecture decision by decision ([`network`]), or a bidirectional LSTM that reads a
//! network's layers and decides for all of them at once ([`bidirectional`]) — either one a
//! [`Policy`] ([`kind`]) — built from one LSTM cell ([`lstm`]) and one output head
//! ([`head`]), their settings ([`config`]), and Adam to train it ([`adam`]).

pub mod adam;
pub mod bidirectional;
pub mod config;
pub mod head;
pub mod kind;
pub mod lstm;
pub mod network;

#[cfg(test)]
mod tests;

pub use adam::Adam;
pub use bidirectional::Bidirectional;
pub use config::{NetworkConfig, PolicyKind};
pub use kind::Policy;
pub use network::{Network, Sampled, SequenceStats};
