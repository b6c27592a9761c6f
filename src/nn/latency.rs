//! Measured inference latency: one image at a time on this machine's CPU, the median of
//! repeated runs after a warm-up — of a whole network, or summed from a per-operation lookup
//! table ([`LatencyTable`]) that makes latency-aware rewards repeatable.

use super::store::{Plan, WeightStore};
use crate::arch::{Arch, Op, Shape};
use crate::error::{Error, Result};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Runs before timing starts.
const WARM_UP: usize = 3;
/// Timed runs; the median is reported.
const RUNS: usize = 15;

/// Median milliseconds of one batch-1 forward pass of `plan`'s network in `store`.
pub fn latency_ms(store: &WeightStore, plan: &Plan, input: Shape) -> f64 {
    let weights = store.weights().valid();
    let device = store.device().clone().without_autodiff();
    let x = Tensor::<4>::zeros([1, input.channels, input.height, input.width], &device);
    let mut times: Vec<f64> = (0..WARM_UP + RUNS)
        .map(|_| {
            let started = Instant::now();
            let y = weights.forward(plan, x.clone());
            // Reading the result back waits for the computation to finish.
            let _ = y.into_data();
            started.elapsed().as_secs_f64() * 1e3
        })
        .skip(WARM_UP)
        .collect();
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

/// A per-operation latency lookup table for this machine: each entry is the median batch-1
/// time of one operation on inputs of given shapes (fresh weights), measured the first time
/// it is needed; a network's estimate is the sum over its nodes. Kept in a JSON file with the
/// machine's fingerprint, so it is built once per machine; a file from another machine (or
/// another version of archforge) is set aside and rebuilt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyTable {
    /// What the entries were measured on: CPU model, logical CPUs, archforge version.
    pub fingerprint: String,
    /// Median milliseconds by `op key|input shapes`.
    pub entries: BTreeMap<String, f64>,
}

/// This machine and build, as a latency table records it.
pub fn machine_fingerprint() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cpu}; {threads} threads; archforge {}",
        env!("CARGO_PKG_VERSION")
    )
}

impl LatencyTable {
    /// The table in `path` if it was measured on this machine, else an empty one; the second
    /// value says why an existing file was not used.
    pub fn open(path: &Path) -> (Self, Option<String>) {
        let fingerprint = machine_fingerprint();
        let empty = LatencyTable {
            fingerprint: fingerprint.clone(),
            entries: BTreeMap::new(),
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return (empty, None);
        };
        match serde_json::from_str::<LatencyTable>(&text) {
            Ok(table) if table.fingerprint == fingerprint => (table, None),
            Ok(table) => (
                empty,
                Some(format!(
                    "{} was measured on `{}`, not this machine (`{fingerprint}`): rebuilding it",
                    path.display(),
                    table.fingerprint
                )),
            ),
            Err(e) => (
                empty,
                Some(format!(
                    "{} is not a latency table ({e}): rebuilding it",
                    path.display()
                )),
            ),
        }
    }

    /// Writes the table to `path` (replacing it), creating the folder.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |e: std::io::Error| Error::Data {
            path: path.into(),
            reason: format!("cannot write the latency table: {e}"),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(self).expect("a table serialises");
        std::fs::write(path, text + "\n").map_err(io)
    }

    /// The estimated batch-1 latency of `arch`: the sum of its operations' entries, each
    /// measured now if the table lacks it.
    pub fn estimate_ms(&mut self, arch: &Arch) -> Result<f64> {
        let mut total = 0.0;
        for id in arch.node_ids() {
            let node = arch.node(id);
            if matches!(
                node.op,
                Op::Input
                    | Op::Output
                    | Op::Identity
                    | Op::DropPath { .. }
                    | Op::Zero
                    | Op::Labelled(_)
            ) {
                continue;
            }
            let shapes = arch
                .inputs(id)
                .iter()
                .map(|&i| arch.node(i).shape)
                .collect::<Option<Vec<Shape>>>()
                .ok_or_else(|| Error::Arch(format!("node `{}` has no input shape", node.name)))?;
            let key = format!(
                "{}|{}",
                node.op.key(),
                shapes
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let ms = match self.entries.get(&key) {
                Some(&ms) => ms,
                None => {
                    // Kept to the nanosecond: the file stays readable and reads back alike.
                    let ms = (op_latency_ms(&node.op, &shapes)? * 1e6).round() / 1e6;
                    self.entries.insert(key, ms);
                    ms
                }
            };
            total += ms;
        }
        Ok(total)
    }
}

/// Median milliseconds of one batch-1 application of `op` to inputs of `shapes`: a network of
/// that one operation (a second input that differs from the first, such as a gate, is made
/// from the first by global pooling, whose time is then counted too).
fn op_latency_ms(op: &Op, shapes: &[Shape]) -> Result<f64> {
    let first = *shapes
        .first()
        .ok_or_else(|| Error::Arch(format!("{} has no input", op.key())))?;
    let mut arch = Arch::new(Some(first));
    let inputs = shapes
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            if s == first {
                arch.add(format!("in{k}"), Op::Identity, &[arch.input()])
            } else {
                arch.add(format!("in{k}"), Op::GlobalAvgPool, &[arch.input()])
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let node = arch.add("op", op.clone(), &inputs)?;
    arch.finish(node)?;
    let mut store = WeightStore::new(super::train::training_device(), 0);
    let plan = store.plan(&arch)?;
    Ok(latency_ms(&store, &plan, first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::reference::reference_cnn;

    #[test]
    fn a_table_is_built_once_kept_on_disk_and_refused_from_another_machine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/latency.json");
        let arch = reference_cnn(Shape::new(1, 8, 8), 10).unwrap();
        let (mut table, why) = LatencyTable::open(&path);
        assert!(why.is_none() && table.entries.is_empty());
        let first = table.estimate_ms(&arch).unwrap();
        assert!(first > 0.0);
        let entries = table.entries.len();
        assert!(entries >= 8, "{entries} entries");
        table.save(&path).unwrap();

        // The saved table answers without measuring again: the same estimate.
        let (mut again, why) = LatencyTable::open(&path);
        assert!(why.is_none());
        assert!((again.estimate_ms(&arch).unwrap() - first).abs() < 1e-9);
        assert_eq!(again.entries.len(), entries);

        // A table from another machine, or not a table at all, is set aside with a message.
        again.fingerprint = "another machine".into();
        again.save(&path).unwrap();
        let (fresh, why) = LatencyTable::open(&path);
        assert!(fresh.entries.is_empty());
        assert!(why.unwrap().contains("another machine"));
        std::fs::write(&path, "{ not json").unwrap();
        let (fresh, why) = LatencyTable::open(&path);
        assert!(fresh.entries.is_empty() && why.unwrap().contains("not a latency table"));
    }
}
