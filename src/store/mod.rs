//! The run store: every run's experiment file, its (controller, seed) parts, every evaluation
//! (one ledger [`Row`] each, in typed columns) and the run folder's files, in one database — a
//! SQLite file created on first use (`--store runs.db`), or a PostgreSQL server
//! (`--store postgres://user:password@host/database`) that many machines share. The run
//! folder stays; its tables and plots can be rebuilt from the store alone
//! (`archforge report RUN`).
//!
//! The schema lives in the repository as numbered migrations ([`schema`]), applied in order
//! when a store is opened; a store written by a newer archforge is refused, never changed.
//! Every write is one transaction. Several processes may share one store: SQLite's write-ahead
//! log lets readers go on beside a writer, and a writer waits up to 30 s for another;
//! PostgreSQL serves any number. [`runs`] records runs, their parts and artefacts; [`rows`]
//! the evaluations; [`resume`] each part's last checkpoint and which process owns a run;
//! [`tasks`] the evaluations handed to workers.
//!
//! Queries are written once, in the SQL that SQLite and PostgreSQL share, with `$N`
//! parameters, and run through one database layer ([`db`]).

pub mod db;
pub mod resume;
pub mod rows;
pub mod runs;
pub mod schema;
pub mod tasks;

pub use runs::{NewRun, Part, PartEnd, RunStatus, StoredRun};

use crate::error::{Error, Result};
use db::{Connection, DbError, Lock, Session};
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

/// How long a write waits for another process's write to finish (SQLite).
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// How long connecting to a PostgreSQL server may take, unless its URL says.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// A run's key in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An open run store (see the module documentation). Shared between threads: one
/// connection, one transaction at a time.
pub struct Store {
    location: String,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.location)
    }
}

/// Whether `location` names a PostgreSQL server.
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// `location` as messages show it: a URL without its password.
fn shown(location: &str) -> String {
    match (location.find("://"), location.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &location[scheme + 3..at];
            match user.split_once(':') {
                Some((name, _)) => {
                    format!("{}{name}@{}", &location[..scheme + 3], &location[at + 1..])
                }
                None => location.to_string(),
            }
        }
        _ => location.to_string(),
    }
}

impl Store {
    /// Opens the store at `location` — a PostgreSQL URL, or a SQLite file, created when it
    /// does not exist — with the current schema, migrating an older one.
    pub fn open(location: &str) -> Result<Store> {
        let shown = shown(location);
        let fail = |e: &dyn std::fmt::Display| Error::Store(format!("{shown}: {e}"));
        let mut connection = if is_postgres(location) {
            let mut config = postgres::Config::from_str(location)
                .map_err(|e| fail(&format!("not a PostgreSQL URL: {e}")))?;
            if config.get_connect_timeout().is_none() {
                config.connect_timeout(CONNECT_WAIT);
            }
            let client = config
                .connect(postgres::NoTls)
                .map_err(|e| fail(&format!("cannot connect: {}", DbError::from(e))))?;
            Connection::Postgres(Box::new(client), Default::default())
        } else {
            let path = Path::new(location);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
                && !parent.is_dir()
            {
                return Err(fail(&format!(
                    "the folder {} does not exist",
                    parent.display()
                )));
            }
            let connection = rusqlite::Connection::open(path).map_err(|e| fail(&e))?;
            connection.busy_timeout(BUSY_WAIT).map_err(|e| fail(&e))?;
            // Not a database at all shows here, on the first read. Processes opening a new
            // file at once may find it locked while another switches its journal, which
            // SQLite answers at once rather than after the busy wait: it is tried again.
            let started = std::time::Instant::now();
            while let Err(e) = connection.pragma_update(None, "journal_mode", "WAL") {
                let locked = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy);
                if !locked || started.elapsed() >= BUSY_WAIT {
                    return Err(fail(&e));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            connection
                .pragma_update(None, "foreign_keys", true)
                .map_err(|e| fail(&e))?;
            Connection::Sqlite(connection)
        };
        schema::migrate(&mut connection).map_err(|e| fail(&e))?;
        Ok(Store {
            location: shown,
            connection: Mutex::new(connection),
        })
    }

    /// Where the store is, as given to [`Store::open`] (a URL without its password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `work`, which writes, in one transaction: all of it is written, or none.
    fn transaction<T>(
        &self,
        work: impl FnOnce(&mut dyn Session) -> std::result::Result<T, DbError>,
    ) -> Result<T> {
        self.locked(Lock::Write, work)
    }

    /// Runs `work`, which only reads, in one transaction.
    fn read<T>(
        &self,
        work: impl FnOnce(&mut dyn Session) -> std::result::Result<T, DbError>,
    ) -> Result<T> {
        self.locked(Lock::Read, work)
    }

    fn locked<T>(
        &self,
        lock: Lock,
        work: impl FnOnce(&mut dyn Session) -> std::result::Result<T, DbError>,
    ) -> Result<T> {
        let mut connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        connection
            .transaction(lock, work)
            .map_err(|e| self.error(e))
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Store(format!("{}: {e}", self.location))
    }
}

/// The stores a test runs against: a new SQLite file in `dir`, and the PostgreSQL server
/// that `ARCHFORGE_TEST_POSTGRES` names (a URL), when it names one (`.ci/run` starts one).
/// The server is shared by every test: tests tell their runs apart by number.
#[cfg(test)]
pub(crate) fn test_stores(dir: &Path) -> Vec<Store> {
    let mut stores = vec![Store::open(&dir.join("runs.db").to_string_lossy()).unwrap()];
    match std::env::var("ARCHFORGE_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => stores.push(Store::open(&url).unwrap()),
        _ => eprintln!("ARCHFORGE_TEST_POSTGRES is not set: the PostgreSQL store is not tested"),
    }
    stores
}

/// A run for a test to record: experiment `name` with `parts`, into `out`.
#[cfg(test)]
pub(crate) fn test_run<'a>(name: &'a str, parts: &'a [(String, u64)]) -> NewRun<'a> {
    NewRun {
        name,
        command: "run",
        folder: "out",
        experiment: "",
        context: "{}",
        parts,
        parent: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ArchRecord;

    fn row(proposal: u64) -> crate::record::Row {
        crate::record::Row {
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
        for store in test_stores(dir.path()) {
            // A name of this test's own: a PostgreSQL store is shared.
            let name = format!("round-trip-{}", std::process::id());
            let inputs = [
                ("start.arch.json".to_string(), b"{}".to_vec()),
                ("start.safetensors".to_string(), vec![0, 159, 255]),
            ];
            let run = store
                .begin_run(&NewRun {
                    name: &name,
                    command: "run",
                    folder: "out",
                    experiment: "name = \"e\"",
                    context: "{}",
                    parts: &[("random".into(), 3)],
                    parent: None,
                })
                .unwrap();
            store.put_inputs(run, &inputs).unwrap();
            assert_eq!(store.inputs(run).unwrap(), inputs);
            let replaced = [("start.safetensors".to_string(), vec![1])];
            store.put_inputs(run, &replaced).unwrap();
            assert_eq!(
                store.inputs(run).unwrap(),
                [inputs[0].clone(), replaced[0].clone()]
            );
            let mut odd = row(2);
            odd.record.reason = "a NaN-free 'quoted' reason".into();
            odd.reward = None;
            odd.cached = true;
            odd.counted = false;
            store.append(run, &[row(0), row(1), odd.clone()]).unwrap();
            assert!(store.append(run, &[row(3), row(1)]).is_err(), "row 1 twice");
            assert_eq!(
                store.rows(run).unwrap(),
                [row(0), row(1), odd.clone()],
                "{}: the refused transaction left nothing",
                store.location()
            );
            assert_eq!(store.rows_recorded(run, 1).unwrap(), [row(1), odd]);
            let listed = store.find(&name).unwrap();
            assert_eq!((listed.id, listed.evaluations), (run, 2));
            assert_eq!(listed.best_reward, Some(0.9125));
            assert!(store.find("no-such-name").is_err());
            store.put_artefact(run, "a.csv", b"x,y\n").unwrap();
            store.put_artefact(run, "a.csv", b"x,y\n1,2\n").unwrap();
            assert_eq!(
                store.artefacts(run).unwrap(),
                [("a.csv".to_string(), b"x,y\n1,2\n".to_vec())]
            );
        }
    }

    #[test]
    fn a_url_that_does_not_connect_is_one_line_without_its_password() {
        let why = Store::open("postgres://someone:secret@127.0.0.1:1/nothing")
            .unwrap_err()
            .to_string();
        assert!(why.contains("cannot connect"), "{why}");
        assert!(!why.contains("secret"), "{why}");
        assert_eq!(why.lines().count(), 1, "{why}");
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
        store.begin_run(&test_run("e", &[])).unwrap();
        drop(store);
        assert_eq!(open_in(&dir).runs().unwrap().len(), 1);
    }

    #[test]
    fn a_run_lists_the_runs_that_are_its_stages() {
        let dir = tempfile::tempdir().unwrap();
        for store in test_stores(dir.path()) {
            fn new(name: &str, parent: Option<RunId>) -> NewRun<'_> {
                NewRun {
                    parent,
                    ..test_run(name, &[])
                }
            }
            let workflow = store.begin_run(&new("c", None)).unwrap();
            assert!(store.stages(workflow).unwrap().is_empty());
            let removal = store.begin_run(&new("c.removal", Some(workflow))).unwrap();
            let shrinkage = store
                .begin_run(&new("c.shrinkage", Some(workflow)))
                .unwrap();
            let stages = store.stages(workflow).unwrap();
            let ids: Vec<RunId> = stages.iter().map(|s| s.id).collect();
            assert_eq!(ids, [removal, shrinkage], "{}", store.location());
            assert!(stages.iter().all(|s| s.parent == Some(workflow)));
            assert_eq!(store.run(workflow).unwrap().parent, None);
        }
    }
}
