//! A tree space's features, as DeepArchitect's surrogates read a model: the number of modules,
//! counts of the n-grams (lengths 1 to 4) of module type names along the network in walk order
//! (`conv relu max_pool`, residual sums as `add`), and counts of `type.name=value` words for
//! each module's hyper-parameters and `training.key=value` for the training choices — every
//! word hashed (FNV-1a, stable across machines) into a fixed number of buckets, so every
//! network of every tree space has a vector of one length. The network's parameters and MACs
//! (in millions) come last. A surrogate keeps only the buckets enough evaluated networks fill.

use super::walk::{Emit, Walked};
use archforge::arch::hash::hash_words;

/// The number of hash buckets.
pub const BUCKETS: usize = 256;

/// The longest n-gram counted.
const LONGEST: usize = 4;

/// The feature names: the module count, the buckets, params and MACs.
pub fn names() -> Vec<String> {
    std::iter::once("modules".to_string())
        .chain((0..BUCKETS).map(|b| format!("hashed_{b:03}")))
        .chain(["params_millions".into(), "macs_millions".into()])
        .collect()
}

/// The words a walked network is described by (see the module documentation).
pub fn words(walked: &Walked) -> Vec<String> {
    let types: Vec<&str> = walked
        .nodes
        .iter()
        .filter_map(|n| match &n.emit {
            Emit::Input => None,
            Emit::Layer(layer) => Some(layer.type_name()),
            Emit::Add => Some("add"),
            Emit::Concat => Some("concat"),
        })
        .collect();
    let mut words = Vec::new();
    for n in 1..=LONGEST {
        words.extend(types.windows(n).map(|w| w.join(" ")));
    }
    for node in &walked.nodes {
        if let Emit::Layer(layer) = &node.emit {
            words.extend(layer.settings());
        }
    }
    for (key, value) in &walked.training {
        words.push(format!("training.{key}={value}"));
    }
    words
}

/// The feature vector of a complete walk whose network has `counts` (params, MACs).
pub fn vector(walked: &Walked, counts: Option<(u64, u64)>) -> Vec<f64> {
    let mut x = vec![0.0; 1 + BUCKETS + 2];
    x[0] = walked
        .nodes
        .iter()
        .filter(|n| matches!(n.emit, Emit::Layer(_)))
        .count() as f64;
    for word in words(walked) {
        x[1 + (hash_words(&word, &[]) % BUCKETS as u64) as usize] += 1.0;
    }
    if let Some((params, macs)) = counts {
        x[1 + BUCKETS] = params as f64 / 1e6;
        x[2 + BUCKETS] = macs as f64 / 1e6;
    }
    x
}
