//! Zero-cost proxies as features: a space whose features ability also carries the proxies
//! of each candidate's untrained network, so that a surrogate or predictor fitted on a few
//! trained architectures learns from the proxies as well ("predictors fed zero-cost
//! proxies"). [`WithProxies`] wraps any space of networks: its decision process, candidates
//! and other abilities are the inner space's; its feature vector is the inner one's (when the
//! space has features) followed by one value per proxy, each scored on one fixed batch with
//! weights drawn from one fixed seed, so the features stay a function of the sequence alone.
//! Scores are kept per sequence, as a surrogate asks about the same architectures again.

use super::{Proxy, score};
use crate::ability::{Features, GraphEncoding, Growth, Table, Tokens};
use crate::arch::Shape;
use crate::candidate::Candidate;
use crate::data::Batch;
use crate::env::{Choice, EnvSpec, Environment};
use crate::error::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A space with zero-cost proxies among its features (see the module documentation).
pub struct WithProxies {
    inner: Arc<dyn Environment>,
    proxies: Vec<Proxy>,
    batch: Batch,
    shape: Shape,
    seed: u64,
    names: Vec<String>,
    scored: Mutex<HashMap<Vec<usize>, Vec<f64>>>,
}

impl WithProxies {
    /// `inner` with `proxies` appended to its features, scored on `batch` (images of
    /// `shape`) with weights drawn from `seed`.
    pub fn new(
        inner: Arc<dyn Environment>,
        proxies: Vec<Proxy>,
        batch: Batch,
        shape: Shape,
        seed: u64,
    ) -> Self {
        let mut names: Vec<String> = inner
            .features()
            .map(|f| f.feature_names().to_vec())
            .unwrap_or_default();
        names.extend(proxies.iter().map(|p| format!("proxy:{}", p.name())));
        WithProxies {
            inner,
            proxies,
            batch,
            shape,
            seed,
            names,
            scored: Mutex::new(HashMap::new()),
        }
    }

    /// The proxies of `decisions`' network, scored once; a proxy that fails on it counts as
    /// 0, below every score of the proxies offered as features (see [`Proxy::as_feature`]).
    fn proxies_of(&self, decisions: &[usize]) -> Result<Vec<f64>> {
        if let Some(v) = self.lock().get(decisions) {
            return Ok(v.clone());
        }
        let candidate = self.inner.build(decisions)?;
        let values: Vec<f64> = self
            .proxies
            .iter()
            .map(|&p| score(candidate.arch(), &self.batch, self.shape, p, self.seed).unwrap_or(0.0))
            .collect();
        self.lock().insert(decisions.to_vec(), values.clone());
        Ok(values)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<usize>, Vec<f64>>> {
        // The map only caches pure values: one left by a panicking thread is still right.
        self.scored.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Environment for WithProxies {
    fn spec(&self) -> &EnvSpec {
        self.inner.spec()
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        self.inner.next_choice(prefix)
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        self.inner.build(decisions)
    }

    fn benchmark(&self) -> Option<Arc<Table>> {
        self.inner.benchmark()
    }

    fn graph(&self) -> Option<&dyn GraphEncoding> {
        self.inner.graph()
    }

    fn features(&self) -> Option<&dyn Features> {
        Some(self)
    }

    fn tokens(&self) -> Option<&dyn Tokens> {
        self.inner.tokens()
    }

    fn growth(&self) -> Option<&dyn Growth> {
        self.inner.growth()
    }
}

impl Features for WithProxies {
    fn feature_names(&self) -> &[String] {
        &self.names
    }

    fn vector(&self, decisions: &[usize]) -> Result<Vec<f64>> {
        let mut x = match self.inner.features() {
            Some(f) => f.vector(decisions)?,
            None => Vec::new(),
        };
        x.extend(self.proxies_of(decisions)?);
        Ok(x)
    }
}
