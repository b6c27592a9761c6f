//! The ledger: every evaluation appended to `evaluations.csv` as one [`Row`] and flushed as it
//! happens, so a killed run loses nothing already evaluated. Several runs may append to one
//! ledger from several threads.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One evaluation as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The controller's name in the experiment.
    pub controller: String,
    /// The run's seed.
    pub seed: u64,
    /// Budget evaluations spent after this evaluation.
    pub step: u64,
    /// Index of the proposal within the run (counts uncounted duplicates too).
    pub proposal: u64,
    /// The candidate's label.
    pub arch: String,
    /// The canonical hash, hex.
    pub hash: String,
    /// The decisions, `-`-separated.
    pub decisions: String,
    /// The search metric.
    pub search_metric: Option<f64>,
    /// The reported metric.
    pub reported_metric: Option<f64>,
    /// The reward the controller saw.
    pub reward: Option<f64>,
    /// `ok`, `invalid` or `failed`.
    pub status: String,
    /// Why it is invalid or failed.
    pub reason: String,
    /// Served from the cache.
    pub cached: bool,
    /// Whether it counted against the budget.
    pub counted: bool,
    /// Trainable parameters.
    pub params: Option<u64>,
    /// Multiply-accumulates.
    pub macs: Option<u64>,
    /// Measured latency in milliseconds.
    pub latency_ms: Option<f64>,
    /// Simulated cost in seconds.
    pub simulated_seconds: f64,
    /// Wall-clock seconds of the evaluation (the only column that differs between repeats).
    pub wall_seconds: f64,
}

/// An append-only, flushed CSV of [`Row`]s.
pub struct Ledger {
    path: PathBuf,
    writer: Mutex<csv::Writer<File>>,
}

impl Ledger {
    /// Creates `path`, which must not exist yet; the header is written with the first row.
    pub fn create(path: &Path) -> Result<Ledger> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| Error::Io {
                path: path.into(),
                source,
            })?;
        Ok(Ledger {
            path: path.into(),
            writer: Mutex::new(csv::Writer::from_writer(file)),
        })
    }

    /// Appends one row and flushes it to disk.
    pub fn append(&self, row: &Row) -> Result<()> {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let csv_error = |source| Error::Csv {
            path: self.path.clone(),
            source,
        };
        writer.serialize(row).map_err(csv_error)?;
        writer.flush().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// The file it writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every row of a ledger file.
    pub fn read(path: &Path) -> Result<Vec<Row>> {
        let csv_error = |source| Error::Csv {
            path: path.into(),
            source,
        };
        let mut reader = csv::Reader::from_path(path).map_err(csv_error)?;
        reader.deserialize().map(|r| r.map_err(csv_error)).collect()
    }

    /// Rewrites a ledger file with its rows in the given order, atomically (a temporary file
    /// renamed over it), so a parallel run's file ends up in a reproducible order.
    pub fn rewrite(path: &Path, rows: &[Row]) -> Result<()> {
        let tmp = path.with_extension("csv.tmp");
        let csv_error = |source| Error::Csv {
            path: tmp.clone(),
            source,
        };
        let mut writer = csv::Writer::from_path(&tmp).map_err(csv_error)?;
        for row in rows {
            writer.serialize(row).map_err(csv_error)?;
        }
        writer.flush().map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
