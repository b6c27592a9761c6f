//! Every zero-cost proxy ([`Proxy::ALL`]) of one architecture at initialisation, as the
//! columns of a check's CSV: `proxy-check` reports them alone, `rank-check` beside the
//! supernet. A proxy that fails on an architecture (a score that is not finite, a network
//! the trainer cannot build) is left empty, with the reason on standard error.

use archforge::Candidate;
use archforge::arch::Shape;
use archforge::data::Batch;
use archforge::nn::proxy::{self, Proxy};
use serde::Serialize;
use std::time::Instant;

/// One architecture's proxy scores.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxyScores {
    /// synflow.
    pub synflow: Option<f64>,
    /// grad_norm.
    pub grad_norm: Option<f64>,
    /// snip.
    pub snip: Option<f64>,
    /// jacob_cov.
    pub jacob_cov: Option<f64>,
    /// naswot.
    pub naswot: Option<f64>,
}

impl ProxyScores {
    /// Every proxy of `c` on `batch` (images of `shape`), its weights drawn from `seed`; the
    /// seconds each took are added to `seconds` (in [`Proxy::ALL`]'s order).
    pub fn score(
        c: &Candidate,
        batch: &Batch,
        shape: Shape,
        seed: u64,
        seconds: &mut [f64; 5],
    ) -> Self {
        let mut scores = ProxyScores::default();
        for (i, &p) in Proxy::ALL.iter().enumerate() {
            let started = Instant::now();
            let value = match proxy::score(c.arch(), batch, shape, p, seed) {
                Ok(v) => Some(v),
                Err(e) => {
                    eprintln!("{} {}: {e}", c.label, p.name());
                    None
                }
            };
            seconds[i] += started.elapsed().as_secs_f64();
            *scores.slot(p) = value;
        }
        scores
    }

    /// The score of proxy `p`.
    pub fn get(&self, p: Proxy) -> Option<f64> {
        match p {
            Proxy::Synflow => self.synflow,
            Proxy::GradNorm => self.grad_norm,
            Proxy::Snip => self.snip,
            Proxy::JacobCov => self.jacob_cov,
            Proxy::Naswot => self.naswot,
        }
    }

    fn slot(&mut self, p: Proxy) -> &mut Option<f64> {
        match p {
            Proxy::Synflow => &mut self.synflow,
            Proxy::GradNorm => &mut self.grad_norm,
            Proxy::Snip => &mut self.snip,
            Proxy::JacobCov => &mut self.jacob_cov,
            Proxy::Naswot => &mut self.naswot,
        }
    }
}
