//! The run store: every run's experiment file, its (controller, seed) parts, every evaluation
//! (one ledger [`Row`] each, in typed columns) and the run folder's files, in one SQLite
//! database — a file created on first use (`--store runs.db`). The run folder stays; its
//! tables and plots can be rebuilt from the store alone (`archforge report RUN`).
//!
//! The schema lives in the repository as numbered migrations ([`schema`]), applied in order
//! when a store is opened; a store written by a newer archforge is refused, never changed.
//! Every write is one transaction. Several processes may share one file: SQLite's
//! write-ahead log lets readers go on beside a writer, and a writer waits up to 30 s for
//! another. [`runs`] records runs, their parts and artefacts; [`rows`] the evaluations;
//! [`resume`] each part's last checkpoint and which process owns a run.
//!
//! Queries are written in the SQL that SQLite and PostgreSQL share, with `$N` parameters.

pub mod resume;
pub mod rows;
pub mod runs;
pub mod schema;

pub use runs::{Part, PartEnd, RunStatus, StoredRun};

use crate::error::{Error, Result};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// How long a write waits for another process's write to finish.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// A run's key in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An open run store (see the module documentation). Shared between threads: one
/// connection, one statement at a time.
pub struct Store {
    location: String,
    connection: Mutex<rusqlite::Connection>,
}

impl Store {
    /// Opens the store at `location` — a SQLite file, created with the current schema when
    /// it does not exist, migrated to it when older.
    pub fn open(location: &str) -> Result<Store> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            return Err(Error::Store(format!(
                "{location}: PostgreSQL stores are not supported by this build; give a SQLite file (runs.db)"
            )));
        }
        let path = Path::new(location);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(Error::Store(format!(
                "{location}: the folder {} does not exist",
                parent.display()
            )));
        }
        let fail = |e: rusqlite::Error| Error::Store(format!("{location}: {e}"));
        let mut connection = rusqlite::Connection::open(path).map_err(fail)?;
        connection.busy_timeout(BUSY_WAIT).map_err(fail)?;
        // Not a database at all shows here, on the first read.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        connection
            .pragma_update(None, "foreign_keys", true)
            .map_err(fail)?;
        schema::migrate(&mut connection).map_err(|e| Error::Store(format!("{location}: {e}")))?;
        Ok(Store {
            location: location.into(),
            connection: Mutex::new(connection),
        })
    }

    /// Where the store is, as given to [`Store::open`].
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `work` in one transaction: all of it is written, or none.
    fn transaction<T>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        let done = (|| {
            let tx = connection.transaction()?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        done.map_err(|e: rusqlite::Error| self.error(e))
    }

    /// Runs `read` on the connection.
    fn read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        read(&connection).map_err(|e| self.error(e))
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Store(format!("{}: {e}", self.location))
    }
}

/// `$N` parameters as SQLite numbers them (`?N`): the one place the dialects differ here.
fn sql(query: &str) -> String {
    query.replace('$', "?")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ArchRecord;

    fn row(proposal: u64) -> crate::ledger::Row {
        crate::ledger::Row {
            controller: "random".into(),
            seed: 3,
            step: proposal + 1,
            proposal,
            record: ArchRecord {
                arch: format!("a{proposal}"),
                hash: "00ff".into(),
                decisions: "1-2".into(),
                search_metric: Some(91.25),
                params: Some(1234),
                ..ArchRecord::default()
            },
            reward: Some(0.9125),
            cached: false,
            counted: true,
            simulated_seconds: 1.5,
            wall_seconds: 0.001,
        }
    }

    fn open_in(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("runs.db").to_string_lossy()).unwrap()
    }

    #[test]
    fn rows_round_trip_and_a_row_recorded_twice_is_refused_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(&dir);
        let run = store
            .begin_run(
                "e",
                "run",
                "out",
                "name = \"e\"",
                "{}",
                &[("random".into(), 3)],
            )
            .unwrap();
        store.append(run, &[row(0), row(1)]).unwrap();
        assert!(store.append(run, &[row(2), row(1)]).is_err(), "row 1 twice");
        assert_eq!(
            store.rows(run).unwrap(),
            [row(0), row(1)],
            "the refused transaction left nothing"
        );
        let listed = store.find("e").unwrap();
        assert_eq!((listed.id, listed.evaluations), (run, 2));
        assert_eq!(listed.best_reward, Some(0.9125));
        assert!(store.find("f").is_err());
    }

    #[test]
    fn a_store_of_a_newer_schema_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_in(&dir));
        let path = dir.path().join("runs.db");
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute("INSERT INTO schema_version (version) VALUES (99)", [])
            .unwrap();
        drop(raw);
        let why = Store::open(&path.to_string_lossy())
            .err()
            .unwrap()
            .to_string();
        assert!(why.contains("version 99, newer"), "{why}");
        // Opened again: still refused, nothing migrated.
        assert!(Store::open(&path.to_string_lossy()).is_err());
        // Reopening a current store migrates nothing and keeps its runs.
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(&dir);
        store.begin_run("e", "run", "out", "", "{}", &[]).unwrap();
        drop(store);
        assert_eq!(open_in(&dir).runs().unwrap().len(), 1);
    }
}
