//! The ledger: every evaluation appended to `evaluations.csv` as one [`Row`] — the run's
//! columns around the architecture's [`ArchRecord`](crate::record::ArchRecord) — as it happens. Rows are written in
//! batches of whole rows, every 100 ms (by a thread of the ledger's own, so a row never waits
//! for the next evaluation) and when the ledger is flushed or dropped, so a killed run loses
//! at most its last 100 ms of evaluations. A row is recorded once its line
//! break is written: a process killed in the middle of a write leaves a torn tail without
//! one, which [`Ledger::read`] leaves out — every row read back is whole. Several runs may
//! append to one ledger from several threads. A ledger may also record into a run
//! [`Store`]: each batch of rows goes to the file and, in one transaction, to the store.

use crate::error::{Error, Result};
pub use crate::record::Row;
use crate::record::{FlatWriter, read_rows, write_rows};
use crate::store::{RunId, Store};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The longest a recorded row waits in memory before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// An append-only CSV of [`Row`]s (see the module documentation). A thread of its own writes
/// the recorded rows every 100 ms, however long the next evaluation takes.
pub struct Ledger {
    path: PathBuf,
    pending: Arc<Mutex<Pending>>,
    /// Dropped to stop the writing thread, which writes what is left first.
    stop: Option<mpsc::Sender<()>>,
    writer: Option<JoinHandle<()>>,
}

/// Rows recorded but not yet written.
struct Pending {
    path: PathBuf,
    file: File,
    rows: FlatWriter<Vec<u8>>,
    /// The store the rows also go to, with the rows not yet in it.
    store: Option<(Arc<Store>, RunId, Vec<Row>)>,
    /// Why the last write failed, reported by the next append or flush.
    failed: Option<String>,
}

impl Pending {
    /// Writes the recorded rows: one write of whole rows, and one transaction of the store.
    fn write_out(&mut self) -> Result<()> {
        if let Some(why) = self.failed.take() {
            return Err(Error::Record(why));
        }
        let bytes = self.rows.buffer();
        if !bytes.is_empty() {
            self.file.write_all(bytes).map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
            bytes.clear();
        }
        if let Some((store, run, rows)) = &mut self.store {
            store.append(*run, rows)?;
            rows.clear();
        }
        Ok(())
    }
}

impl Ledger {
    /// Creates `path`, which must not exist yet; the header is written with the first row.
    pub fn create(path: &Path) -> Result<Ledger> {
        Self::open(path, None, None)
    }

    /// [`Ledger::create`] for a ledger whose rows are also recorded as run `run` of `store`.
    pub fn create_in_store(path: &Path, store: Arc<Store>, run: RunId) -> Result<Ledger> {
        Self::open(path, Some((store, run, Vec::new())), None)
    }

    /// The ledger of run `run` of `store`, resumed: `path` is written again with `rows`,
    /// the rows the store has of the run, before the ledger goes on as
    /// [`Ledger::create_in_store`]'s.
    pub fn resume_in_store(
        path: &Path,
        store: Arc<Store>,
        run: RunId,
        rows: &[Row],
    ) -> Result<Ledger> {
        Self::open(path, Some((store, run, Vec::new())), Some(rows))
    }

    /// A ledger writing `path`: a new file, or with `earlier` the file rewritten with those
    /// rows first.
    fn open(
        path: &Path,
        store: Option<(Arc<Store>, RunId, Vec<Row>)>,
        earlier: Option<&[Row]>,
    ) -> Result<Ledger> {
        let mut options = File::options();
        match earlier {
            Some(_) => options.write(true).create(true).truncate(true),
            None => options.write(true).create_new(true),
        };
        let file = options.open(path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
        let mut pending = Pending {
            path: path.into(),
            file,
            rows: FlatWriter::new(Vec::new()),
            store,
            failed: None,
        };
        if let Some(rows) = earlier {
            for row in rows {
                pending.rows.write(row)?;
            }
            pending.write_out()?;
        }
        let pending = Arc::new(Mutex::new(pending));
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = pending.clone();
        let writer = std::thread::spawn(move || {
            loop {
                let last = !matches!(
                    stopped.recv_timeout(FLUSH_EVERY),
                    Err(RecvTimeoutError::Timeout)
                );
                let mut pending = shared.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = pending.write_out() {
                    pending.failed = Some(e.to_string());
                }
                if last {
                    break;
                }
            }
        });
        Ok(Ledger {
            path: path.into(),
            pending,
            stop: Some(stop),
            writer: Some(writer),
        })
    }

    /// Appends one row; it reaches the file within 100 ms.
    pub fn append(&self, row: &Row) -> Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(why) = pending.failed.take() {
            return Err(Error::Record(why));
        }
        pending.rows.write(row).map_err(|e| self.located(e))?;
        if let Some((_, _, rows)) = &mut pending.store {
            rows.push(row.clone());
        }
        Ok(())
    }

    /// Writes every recorded row to the file now.
    pub fn flush(&self) -> Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.write_out()
    }

    fn located(&self, e: Error) -> Error {
        Error::Record(format!("{}: {e}", self.path.display()))
    }

    /// The file it writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every whole row of a ledger file (a torn tail is left out).
    pub fn read(path: &Path) -> Result<Vec<Row>> {
        read_rows(path)
    }

    /// Rewrites a ledger file with `rows` in the given order, atomically (a temporary file
    /// renamed over it), so a parallel run's file ends up in a reproducible order.
    pub fn rewrite(path: &Path, rows: &[Row]) -> Result<()> {
        let tmp = path.with_extension("csv.tmp");
        write_rows(&tmp, rows)?;
        std::fs::rename(&tmp, path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        // The writing thread writes what is left and ends; errors surface at the last
        // `flush`, and a ledger dropped by a failing run writes what it can.
        drop(self.stop.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ArchRecord, StatusKind};

    fn row(proposal: u64) -> Row {
        Row {
            controller: "random".into(),
            seed: 0,
            step: proposal + 1,
            proposal,
            record: ArchRecord {
                arch: format!("a{proposal}"),
                search_metric: Some(90.0 + proposal as f64),
                status: StatusKind::Ok,
                ..ArchRecord::default()
            },
            reward: Some(90.0),
            cached: false,
            counted: true,
            simulated_seconds: 0.0,
            wall_seconds: 0.001,
        }
    }

    #[test]
    fn rows_reach_the_file_and_a_torn_tail_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evaluations.csv");
        let ledger = Ledger::create(&path).unwrap();
        ledger.append(&row(0)).unwrap();
        ledger.append(&row(1)).unwrap();
        // Written with nothing else appended or flushed (within 100 ms; waited for up to 10 s
        // on a busy machine).
        let written = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            Ledger::read(&path).unwrap().len() == 2
        });
        assert!(written, "the recorded rows were not written");
        ledger.flush().unwrap();
        assert!(
            Ledger::create(&path).is_err(),
            "a ledger is never overwritten"
        );
        // A process killed in the middle of its next write.
        let mut file = File::options().append(true).open(&path).unwrap();
        file.write_all(b"random,0,3,2,a2,,,92.").unwrap();
        let rows = Ledger::read(&path).unwrap();
        assert_eq!(rows, [row(0), row(1)]);
    }
}
