//! Finalists: at the end of `archforge run`, the `top_k` best distinct architectures of the
//! search — or of the derivation, with `[final] derive` — (by reward, one per canonical hash)
//! are retrained stand-alone on `[data]` as
//! `[training]` says (with `[final] epochs` if set) and reported by their test accuracy —
//! from fresh weights, or with `[final] init = "supernet"` fine-tuned from their weights in
//! the run's trained supernet (`supernet_valid`: the supernet's score before). The
//! best of them by validation accuracy keeps its weights (`final_best.safetensors`) and its
//! architecture (`final_best.json`, `final_best.dot`); every finalist is a row of
//! `finalists.csv`.

use super::supernet::TrainedSupernet;
use crate::config::{FinalConfig, FinalInit};
use crate::registry::EvaluatorConfig;
use crate::runner::{Prepared, supernet_file};
use anyhow::{Context, Result};
use archforge::evaluator::train_candidate;
use archforge::ledger::Row;
use archforge::search::parse_decisions;
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

/// One retrained finalist, as written to `finalists.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct Finalist {
    /// 1 for the best reward of the search.
    pub rank: usize,
    /// Its label.
    pub arch: String,
    /// Its decisions.
    pub decisions: String,
    /// Its canonical hash.
    pub hash: String,
    /// The search metric the search saw.
    pub search_metric: Option<f64>,
    /// `scratch` or `supernet`: where the retraining started.
    pub init: String,
    /// Fine-tuned from the supernet: its validation accuracy there, before any step.
    pub supernet_valid: Option<f64>,
    /// Validation accuracy after retraining.
    pub final_valid: Option<f64>,
    /// Test accuracy after retraining (the reported result).
    pub final_test: Option<f64>,
    /// Trainable parameters.
    pub params: Option<u64>,
    /// Multiply-accumulates.
    pub macs: Option<u64>,
    /// Measured batch-1 latency.
    pub latency_ms: Option<f64>,
    /// `ok`, `invalid` or `failed`.
    pub status: String,
    /// Why not ok.
    pub reason: String,
}

/// Retrains the finalists among `rows` (a run's ledger) of `prepared`'s experiment and writes
/// their files into the run folder `out`.
pub fn retrain(
    out: &Path,
    prepared: &Prepared,
    finals: &FinalConfig,
    rows: &[Row],
    seed: u64,
) -> Result<Vec<Finalist>> {
    let env = prepared.env();
    let training = prepared
        .training()
        .context("retraining finalists needs data and training settings")?;
    let mut ranked: Vec<&Row> = rows
        .iter()
        .filter(|r| r.status == "ok" && r.reward.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        b.reward
            .unwrap_or(f64::MIN)
            .total_cmp(&a.reward.unwrap_or(f64::MIN))
    });
    let mut seen = HashSet::new();
    ranked.retain(|r| seen.insert(r.hash.clone()));
    ranked.truncate(finals.top_k);

    let mut config = training.config.clone();
    if let Some(epochs) = finals.epochs {
        config.epochs = epochs;
    }
    let supernet_settings = match (&prepared.experiment().evaluator, finals.init) {
        (EvaluatorConfig::Supernet(settings), FinalInit::Supernet) => Some(settings),
        _ => None,
    };
    let mut finalists = Vec::new();
    let mut best: Option<(f64, archforge::evaluator::Trained, archforge::Candidate)> = None;
    for (i, row) in ranked.iter().enumerate() {
        let decisions =
            parse_decisions(&row.decisions).context("a ledger row with malformed decisions")?;
        let mut candidate = env.build(&decisions)?;
        let mut supernet_valid = None;
        if let Some(settings) = supernet_settings {
            let path = supernet_file(out, &row.controller, row.seed);
            let child =
                TrainedSupernet::open(prepared, settings, &path, row.seed)?.child(&candidate)?;
            supernet_valid = Some(child.valid);
            candidate = candidate.with_init(child.weights);
        }
        let mut finalist = Finalist {
            rank: i + 1,
            arch: row.arch.clone(),
            decisions: row.decisions.clone(),
            hash: row.hash.clone(),
            search_metric: row.search_metric,
            init: if supernet_valid.is_some() {
                "supernet".into()
            } else {
                "scratch".into()
            },
            supernet_valid,
            final_valid: None,
            final_test: None,
            params: None,
            macs: None,
            latency_ms: None,
            status: "ok".into(),
            reason: String::new(),
        };
        match train_candidate(&candidate, &training.data, &config, seed) {
            Ok(trained) => {
                let m = &trained.metrics;
                finalist.final_valid = m.search;
                finalist.final_test = m.reported;
                finalist.params = m.params;
                finalist.macs = m.macs;
                finalist.latency_ms = m.latency_ms;
                let valid = m.search.unwrap_or(f64::MIN);
                if best.as_ref().is_none_or(|(v, _, _)| valid > *v) {
                    best = Some((valid, trained, candidate));
                }
            }
            Err(status) => {
                finalist.status = status.kind().to_string();
                finalist.reason = status.reason().to_string();
            }
        }
        finalists.push(finalist);
    }

    crate::report::write_csv(&out.join("finalists.csv"), &finalists)?;
    if let Some((_, trained, candidate)) = best {
        trained.store.save(&out.join("final_best.safetensors"))?;
        std::fs::write(
            out.join("final_best.json"),
            candidate.arch().to_json() + "\n",
        )?;
        std::fs::write(out.join("final_best.dot"), candidate.arch().to_dot())?;
    }
    Ok(finalists)
}
