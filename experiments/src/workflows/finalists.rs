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
use crate::run_folder::supernet_file;
use crate::runner::Prepared;
use anyhow::{Context, Result};
use archforge::evaluator::StatusKind;
use archforge::evaluator::train_candidate;
use archforge::ledger::Row;
use archforge::record::ArchRecord;
use archforge::search::parse_decisions;
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

/// One retrained finalist, as written to `finalists.csv`: its record is the retrained
/// network's (validation accuracy as the search metric, test accuracy as the reported one).
#[derive(Debug, Clone, Serialize)]
pub struct Finalist {
    /// 1 for the best reward of the search.
    pub rank: usize,
    /// The search metric the search saw.
    pub search_score: Option<f64>,
    /// `scratch` or `supernet`: where the retraining started.
    pub init: String,
    /// Fine-tuned from the supernet: its validation accuracy there, before any step.
    pub supernet_valid: Option<f64>,
    /// The retrained architecture and what it scored.
    #[serde(flatten)]
    pub record: ArchRecord,
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
    let env = prepared.networks().as_ref();
    let training = prepared
        .training()
        .context("retraining finalists needs data and training settings")?;
    let mut ranked: Vec<&Row> = rows
        .iter()
        .filter(|r| r.record.status == StatusKind::Ok && r.reward.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        b.reward
            .unwrap_or(f64::MIN)
            .total_cmp(&a.reward.unwrap_or(f64::MIN))
    });
    let mut seen = HashSet::new();
    ranked.retain(|r| seen.insert(r.record.hash.clone()));
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
    // Each run's trained supernet, read once.
    let mut supernets = std::collections::HashMap::new();
    for (i, row) in ranked.iter().enumerate() {
        let decisions = parse_decisions(&row.record.decisions)
            .context("a ledger row with malformed decisions")?;
        let mut candidate = env.build(&decisions)?;
        let mut supernet_valid = None;
        if let Some(settings) = supernet_settings {
            let path = supernet_file(out, &row.controller, row.seed);
            if !supernets.contains_key(&path) {
                let opened = TrainedSupernet::open(prepared, settings, &path, row.seed)?;
                supernets.insert(path.clone(), opened);
            }
            let supernet = supernets.get_mut(&path).expect("opened above");
            let child = supernet.child(&candidate)?;
            supernet_valid = Some(child.valid);
            candidate = candidate.with_init(child.weights);
        }
        let mut finalist = Finalist {
            rank: i + 1,
            search_score: row.record.search_metric,
            init: if supernet_valid.is_some() {
                "supernet".into()
            } else {
                "scratch".into()
            },
            supernet_valid,
            record: ArchRecord {
                arch: row.record.arch.clone(),
                hash: row.record.hash.clone(),
                decisions: row.record.decisions.clone(),
                status: StatusKind::Ok,
                ..ArchRecord::default()
            },
        };
        match train_candidate(&candidate, &training.data, &config, seed) {
            Ok(trained) => {
                let m = &trained.metrics;
                let r = &mut finalist.record;
                r.search_metric = m.search;
                r.reported_metric = m.reported;
                r.params = m.params;
                r.macs = m.macs;
                r.latency_ms = m.latency_ms;
                let valid = m.search.unwrap_or(f64::MIN);
                if best.as_ref().is_none_or(|(v, _, _)| valid > *v) {
                    best = Some((valid, trained, candidate));
                }
            }
            Err(status) => {
                finalist.record.status = status.kind();
                finalist.record.reason = status.reason().to_string();
            }
        }
        finalists.push(finalist);
    }

    archforge::record::write_rows(&out.join("finalists.csv"), &finalists)?;
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
