//! The learned policy behind the policy-gradient controllers: an LSTM that writes an
//! architecture decision by decision ([`network`]) and Adam to train it ([`adam`]).

pub mod adam;
pub mod network;

#[cfg(test)]
mod tests;

pub use adam::Adam;
pub use network::{Network, NetworkConfig, Sampled, SequenceStats};
