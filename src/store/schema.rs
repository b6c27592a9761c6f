//! The store's schema as numbered migrations, kept as SQL files beside this module and
//! applied in order, each in a transaction that also records its version in
//! `schema_version`. A store whose version is newer than the last migration known here was
//! written by a newer archforge: it is refused, and nothing in it is changed.

/// The migrations, in order: version `i + 1` is `MIGRATIONS[i]`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_runs.sql"),
    include_str!("migrations/0002_resume.sql"),
];

/// The schema version this build writes.
pub fn current() -> i64 {
    MIGRATIONS.len() as i64
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
    Database(#[from] rusqlite::Error),
}

/// Brings the store's schema up to [`current`], or refuses a newer one. One transaction that
/// takes the write lock first, so two processes opening a new store do not both migrate it.
pub fn migrate(connection: &mut rusqlite::Connection) -> Result<(), SchemaError> {
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let found: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    if found > current() {
        return Err(SchemaError::Newer {
            found,
            known: current(),
        });
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(migration)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [i as i64 + 1],
        )?;
    }
    tx.commit()?;
    Ok(())
}
