//! Where to split a supernet, by gradient matching (Hu et al., "Generalizing Few-Shot NAS
//! with Gradient Matching", ICLR 2022): split on the decision whose options pull the shared
//! weights in the most different directions.
//!
//! For each decision, on each of `batches` training batches, one path is drawn uniformly and
//! taken once per option of that decision (every other decision as drawn, where it stays
//! legal). The gradients of the paths' losses with respect to the weights all of them use —
//! the weights of the decision's own options are left out — are summed per option over the
//! batches. The decision's score is the mean cosine similarity of its options' summed
//! gradients over every pair of options; the split goes to the lowest score (the first such
//! decision on a tie). The paper partitions each decision's options in two by a minimum cut
//! of these similarities; here every option gets its own sub-supernet, as in few-shot NAS,
//! and the similarities only choose the decision.

use crate::data::{Batch, Dataset};
use crate::env::{Environment, complete_with};
use crate::error::{Error, Result};
use crate::nn::{WeightStore, path_gradients};
use crate::rng::Rng;
use rand::Rng as _;
use std::collections::BTreeMap;

/// The gradient similarity of every decision's options, and the decision it chooses.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SplitChoice {
    /// The decision split on (the lowest similarity).
    pub position: usize,
    /// By decision, the mean pairwise cosine similarity of its options' gradients (`None`
    /// for a decision with fewer than two options, or whose options' paths share no weight).
    pub similarity: Vec<Option<f64>>,
}

/// Gradient sums of one option, by layer index.
type Sums = BTreeMap<usize, Vec<f64>>;

/// Chooses the split decision of `env`'s supernet held in `store` (trained on `data`), from
/// `batches` batches per decision that `next_batch` hands out; `rng` draws the paths.
pub fn choose(
    env: &dyn Environment,
    store: &mut WeightStore,
    data: &Dataset,
    batches: usize,
    mut next_batch: impl FnMut() -> Batch,
    rng: &mut Rng,
) -> Result<SplitChoice> {
    let mut drawn = Vec::new();
    complete_with(env, &mut drawn, |_, legal| {
        legal[rng.random_range(0..legal.len())]
    })?;
    let mut similarity = Vec::with_capacity(drawn.len());
    for position in 0..drawn.len() {
        let mut sums: BTreeMap<usize, Sums> = BTreeMap::new();
        for _ in 0..batches {
            let batch = next_batch();
            let gradients = option_gradients(env, store, data, position, &batch, rng)?;
            accumulate(&mut sums, gradients);
        }
        similarity.push(mean_cosine(&sums));
    }
    let position = similarity
        .iter()
        .enumerate()
        .filter_map(|(p, s)| s.map(|s| (p, s)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, _)| p)
        .ok_or_else(|| {
            Error::Training(
                "no decision has two options whose paths share a weight, so gradient matching \
                 cannot choose one"
                    .into(),
            )
        })?;
    Ok(SplitChoice {
        position,
        similarity,
    })
}

/// On `batch`, one uniformly drawn path taken once per legal option at `position`: each
/// option's gradients by layer (`None` for a layer its path does not use).
fn option_gradients(
    env: &dyn Environment,
    store: &mut WeightStore,
    data: &Dataset,
    position: usize,
    batch: &Batch,
    rng: &mut Rng,
) -> Result<BTreeMap<usize, Vec<Option<Vec<f32>>>>> {
    let mut base = Vec::new();
    complete_with(env, &mut base, |_, legal| {
        legal[rng.random_range(0..legal.len())]
    })?;
    let mut prefix = base[..position.min(base.len())].to_vec();
    let Some(choice) = env.next_choice(&prefix)? else {
        return Ok(BTreeMap::new());
    };
    let mut legal = Vec::new();
    choice.legal_into(&mut legal);
    let mut out = BTreeMap::new();
    for &option in &legal {
        prefix.truncate(position);
        prefix.push(option);
        let mut path = prefix.clone();
        complete_with(env, &mut path, |at, legal| match base.get(at) {
            Some(d) if legal.contains(d) => *d,
            _ => legal[rng.random_range(0..legal.len())],
        })?;
        // A path that does not build contributes nothing.
        let Ok(plan) = env.build(&path).and_then(|c| store.plan(c.arch())) else {
            continue;
        };
        out.insert(option, path_gradients(store, &plan, batch, data)?);
    }
    Ok(out)
}

/// Adds to each option's sums its gradients of the layers that every option's path used.
fn accumulate(sums: &mut BTreeMap<usize, Sums>, gradients: BTreeMap<usize, Vec<Option<Vec<f32>>>>) {
    let layers = gradients.values().map(Vec::len).min().unwrap_or(0);
    let shared: Vec<usize> = (0..layers)
        .filter(|&l| {
            let mut lengths = gradients.values().map(|g| g[l].as_ref().map(Vec::len));
            let first = lengths.next().flatten();
            first.is_some() && lengths.all(|n| n == first)
        })
        .collect();
    for (option, by_layer) in gradients {
        let option_sums = sums.entry(option).or_default();
        for &l in &shared {
            let g = by_layer[l].as_ref().expect("shared layers have gradients");
            let sum = option_sums.entry(l).or_insert_with(|| vec![0.0; g.len()]);
            for (s, v) in sum.iter_mut().zip(g) {
                *s += f64::from(*v);
            }
        }
    }
}

/// The mean cosine similarity over every pair of options, on the layers both summed.
fn mean_cosine(sums: &BTreeMap<usize, Sums>) -> Option<f64> {
    let options: Vec<&Sums> = sums.values().collect();
    let mut total = 0.0;
    let mut pairs = 0usize;
    for (i, a) in options.iter().enumerate() {
        for b in &options[i + 1..] {
            let (mut dot, mut aa, mut bb) = (0.0, 0.0, 0.0);
            for (layer, x) in a.iter() {
                let Some(y) = b.get(layer).filter(|y| y.len() == x.len()) else {
                    continue;
                };
                for (u, v) in x.iter().zip(y) {
                    dot += u * v;
                    aa += u * u;
                    bb += v * v;
                }
            }
            if aa > 0.0 && bb > 0.0 {
                total += dot / (aa.sqrt() * bb.sqrt());
                pairs += 1;
            }
        }
    }
    (pairs > 0).then(|| total / pairs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One option's gradient sums, layer by layer, as written in a test.
    type OptionRows<'a> = (usize, &'a [(usize, &'a [f64])]);

    fn sums(rows: &[OptionRows]) -> BTreeMap<usize, Sums> {
        rows.iter()
            .map(|(o, layers)| {
                let by_layer = layers.iter().map(|(l, g)| (*l, g.to_vec())).collect();
                (*o, by_layer)
            })
            .collect()
    }

    #[test]
    fn the_similarity_is_the_mean_cosine_over_pairs_of_options() {
        // Options 0 and 1 agree, 2 points the other way: (1 + 0 + 0) / 3 over the pairs
        // (0,1), (0,2), (1,2), where 2 is orthogonal to both.
        let s = sums(&[
            (0, &[(0, &[1.0, 0.0])]),
            (1, &[(0, &[2.0, 0.0])]),
            (2, &[(0, &[0.0, 3.0])]),
        ]);
        assert!((mean_cosine(&s).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // A single option, or options with no layer in common, have no similarity.
        assert_eq!(mean_cosine(&sums(&[(0, &[(0, &[1.0])])])), None);
        let apart = sums(&[(0, &[(0, &[1.0])]), (1, &[(1, &[1.0])])]);
        assert_eq!(mean_cosine(&apart), None);
    }

    #[test]
    fn only_the_layers_every_option_used_are_summed() {
        let mut s = BTreeMap::new();
        let gradients = BTreeMap::from([
            (0, vec![Some(vec![1.0f32, 2.0]), Some(vec![5.0])]),
            (1, vec![Some(vec![3.0f32, 4.0]), None]),
        ]);
        accumulate(&mut s, gradients.clone());
        accumulate(&mut s, gradients);
        assert_eq!(s[&0], BTreeMap::from([(0, vec![2.0, 4.0])]));
        assert_eq!(s[&1], BTreeMap::from([(0, vec![6.0, 8.0])]));
    }
}
