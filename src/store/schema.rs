//! The store's schema as numbered migrations, kept as SQL files beside this module — one set
//! per dialect, numbered alike — and applied in order, each in the transaction that also
//! records its version in `schema_version`. A store whose version is newer than the last
//! migration known here was written by a newer archforge: it is refused, and nothing in it is
//! changed.

use super::db::{Connection, DbError, Dialect, Lock, Session};

/// SQLite's migrations, in order: version `i + 1` is `SQLITE[i]`.
const SQLITE: &[&str] = &[
    include_str!("migrations/sqlite/0001_runs.sql"),
    include_str!("migrations/sqlite/0002_resume.sql"),
    include_str!("migrations/sqlite/0003_tasks.sql"),
    include_str!("migrations/sqlite/0004_stages.sql"),
    include_str!("migrations/sqlite/0005_worker_inputs.sql"),
];

/// PostgreSQL's, numbered as SQLite's.
const POSTGRES: &[&str] = &[
    include_str!("migrations/postgres/0001_runs.sql"),
    include_str!("migrations/postgres/0002_resume.sql"),
    include_str!("migrations/postgres/0003_tasks.sql"),
    include_str!("migrations/postgres/0004_stages.sql"),
    include_str!("migrations/postgres/0005_worker_inputs.sql"),
];

/// The migrations of `dialect`.
fn migrations(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    }
}

/// The schema version this build writes.
pub fn current() -> i64 {
    SQLITE.len() as i64
}

/// Why a store's schema cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Written by a newer archforge.
    #[error(
        "the store's schema is version {found}, newer than this archforge's {known}: open it with a newer archforge"
    )]
    Newer {
        /// The store's version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The database could not be read or migrated.
    #[error("{0}")]
    Database(#[from] DbError),
}

/// Brings the store's schema up to [`current`], or refuses a newer one. One transaction that
/// takes the store's lock first, so two processes opening a new store do not both migrate it.
pub fn migrate(connection: &mut Connection) -> Result<(), SchemaError> {
    let dialect = connection.dialect();
    let mut newer = None;
    connection.transaction(Lock::Store, |s: &mut dyn Session| {
        s.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let found =
            s.query("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?[0][0].int()?;
        if found > current() {
            newer = Some(found);
            return Ok(());
        }
        for (i, migration) in migrations(dialect).iter().enumerate().skip(found as usize) {
            s.batch(migration)?;
            s.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[(i as i64 + 1).into()],
            )?;
        }
        Ok(())
    })?;
    match newer {
        Some(found) => Err(SchemaError::Newer {
            found,
            known: current(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_every_migration() {
        assert_eq!(SQLITE.len(), POSTGRES.len());
    }
}
