//! The one database layer under the store: a connection to a SQLite file or a PostgreSQL
//! server, statements written once in the SQL both share with `$N` parameters, and values of a
//! few plain kinds ([`Value`]). Everything the store does is a [`Session`] inside one
//! transaction ([`Connection::transaction`]); the few places the dialects differ are
//! [`Dialect`]'s.

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use std::collections::HashMap;

/// A value passed to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A whole number.
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A truth value (SQLite keeps it as 0 or 1).
    Bool(bool),
}

/// Why a statement failed, as the database said it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError(e.to_string())
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        // The server's own message says more than the driver's summary.
        DbError(
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string()),
        )
    }
}

impl Value {
    /// The whole number, or `None` for `NULL`.
    pub fn opt_int(&self) -> Result<Option<i64>, DbError> {
        match self {
            Value::Null => Ok(None),
            Value::Int(n) => Ok(Some(*n)),
            Value::Bool(b) => Ok(Some(*b as i64)),
            other => Err(DbError(format!("{other:?} is not a whole number"))),
        }
    }

    /// The whole number.
    pub fn int(&self) -> Result<i64, DbError> {
        self.opt_int()?
            .ok_or_else(|| DbError("a whole number is NULL".into()))
    }

    /// The number, or `None` for `NULL`.
    pub fn opt_real(&self) -> Result<Option<f64>, DbError> {
        match self {
            Value::Null => Ok(None),
            Value::Real(x) => Ok(Some(*x)),
            Value::Int(n) => Ok(Some(*n as f64)),
            other => Err(DbError(format!("{other:?} is not a number"))),
        }
    }

    /// The number (`NULL`, which SQLite makes of NaN, reads as NaN).
    pub fn real(&self) -> Result<f64, DbError> {
        Ok(self.opt_real()?.unwrap_or(f64::NAN))
    }

    /// The text, or `None` for `NULL`.
    pub fn opt_text(&self) -> Result<Option<String>, DbError> {
        match self {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            other => Err(DbError(format!("{other:?} is not text"))),
        }
    }

    /// The text.
    pub fn text(&self) -> Result<String, DbError> {
        self.opt_text()?
            .ok_or_else(|| DbError("a text is NULL".into()))
    }

    /// The bytes.
    pub fn bytes(&self) -> Result<Vec<u8>, DbError> {
        match self {
            Value::Bytes(b) => Ok(b.clone()),
            Value::Text(t) => Ok(t.clone().into_bytes()),
            other => Err(DbError(format!("{other:?} is not bytes"))),
        }
    }

    /// The truth value (SQLite's 0 or 1 too).
    pub fn bool(&self) -> Result<bool, DbError> {
        match self {
            Value::Bool(b) => Ok(*b),
            Value::Int(n) => Ok(*n != 0),
            other => Err(DbError(format!("{other:?} is not a truth value"))),
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<u64> for Value {
    /// Whole numbers beyond i64 (none in practice) are kept as the largest i64.
    fn from(n: u64) -> Self {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Real(x)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(t: &str) -> Self {
        Value::Text(t.to_string())
    }
}

impl From<String> for Value {
    fn from(t: String) -> Self {
        Value::Text(t)
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::Bytes(b.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(n) => ValueRef::Integer(*n),
            Value::Real(x) => ValueRef::Real(*x),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
            Value::Bool(b) => ValueRef::Integer(*b as i64),
        }))
    }
}

impl ToSql for Value {
    /// As the parameter's type asks: whole numbers fit to the column's width.
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Real(x) => x.to_sql(ty, out),
            Value::Text(t) => t.to_sql(ty, out),
            Value::Bytes(b) => b.to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Where the two dialects of the store's SQL differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: `?N` parameters, rows in the order of their `rowid`.
    Sqlite,
    /// PostgreSQL: `$N` parameters, rows in the order of their `seq` column.
    Postgres,
}

impl Dialect {
    /// `query`, written with `$N` parameters, in this dialect.
    pub fn sql(self, query: &str) -> String {
        match self {
            Dialect::Sqlite => query.replace('$', "?"),
            Dialect::Postgres => query.to_string(),
        }
    }

    /// What a `SELECT` ends with to lock the rows it returns and pass over rows another
    /// transaction has locked (SQLite's transactions lock the whole database instead).
    pub fn skip_locked_rows(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// An expression for the database's clock, in seconds since the Unix epoch: the one clock
    /// every process of a store shares, whatever their machines' clocks say.
    pub fn clock_seconds(self) -> &'static str {
        match self {
            Dialect::Sqlite => "(julianday('now') - 2440587.5) * 86400.0",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
        }
    }

    /// The column that orders a table's rows as they were inserted.
    pub fn insertion_order(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "seq",
        }
    }
}

/// What a transaction can do: run statements, each written with `$N` parameters.
pub trait Session {
    /// The dialect of its database.
    fn dialect(&self) -> Dialect;

    /// Runs one statement; the rows it changed.
    fn execute(&mut self, query: &str, params: &[Value]) -> Result<u64, DbError>;

    /// Runs one statement; the rows it returned, each a row of values.
    fn query(&mut self, query: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError>;

    /// Runs statements separated by `;`, without parameters (a migration).
    fn batch(&mut self, statements: &str) -> Result<(), DbError>;
}

/// An open connection to the store's database.
pub enum Connection {
    /// A SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL server, with the statements already prepared on it.
    Postgres(Box<postgres::Client>, HashMap<String, postgres::Statement>),
}

impl Connection {
    /// The dialect of its database.
    pub fn dialect(&self) -> Dialect {
        match self {
            Connection::Sqlite(_) => Dialect::Sqlite,
            Connection::Postgres(..) => Dialect::Postgres,
        }
    }

    /// Runs `work` in one transaction — all of it is written, or none — taking `lock` first.
    pub fn transaction<T>(
        &mut self,
        lock: Lock,
        work: impl FnOnce(&mut dyn Session) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        match self {
            Connection::Sqlite(connection) => {
                let behavior = match lock {
                    Lock::Read => rusqlite::TransactionBehavior::Deferred,
                    Lock::Write | Lock::Store => rusqlite::TransactionBehavior::Immediate,
                };
                let tx = connection.transaction_with_behavior(behavior)?;
                let mut session = SqliteSession(&tx);
                let value = work(&mut session)?;
                tx.commit()?;
                Ok(value)
            }
            Connection::Postgres(client, prepared) => {
                let mut tx = client.transaction()?;
                if lock == Lock::Store {
                    tx.execute("SELECT pg_advisory_xact_lock(8020)", &[])?;
                }
                let mut session = PostgresSession {
                    tx: &mut tx,
                    prepared,
                };
                let value = work(&mut session)?;
                tx.commit()?;
                Ok(value)
            }
        }
    }
}

/// What a transaction locks before its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Nothing: it only reads (beside writers, on either database).
    Read,
    /// What it writes. On SQLite, the database's write lock from the start, so that a
    /// transaction that reads and then writes waits its turn (a reader turned writer would be
    /// refused at once); on PostgreSQL, the rows it writes, as it writes them.
    Write,
    /// The whole store against every other process taking this lock (a migration).
    Store,
}

struct SqliteSession<'a>(&'a rusqlite::Transaction<'a>);

impl Session for SqliteSession<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, query: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut statement = self.0.prepare_cached(&Dialect::Sqlite.sql(query))?;
        Ok(statement.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn query(&mut self, query: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        use rusqlite::types::ValueRef;
        let mut statement = self.0.prepare_cached(&Dialect::Sqlite.sql(query))?;
        let width = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn batch(&mut self, statements: &str) -> Result<(), DbError> {
        Ok(self.0.execute_batch(statements)?)
    }
}

struct PostgresSession<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    prepared: &'a mut HashMap<String, postgres::Statement>,
}

impl PostgresSession<'_, '_> {
    /// `query` prepared once per connection.
    fn statement(&mut self, query: &str) -> Result<postgres::Statement, DbError> {
        if let Some(statement) = self.prepared.get(query) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(query)?;
        self.prepared.insert(query.to_string(), statement.clone());
        Ok(statement)
    }
}

/// Parameters as the driver takes them.
fn pg_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Session for PostgresSession<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, query: &str, params: &[Value]) -> Result<u64, DbError> {
        let statement = self.statement(query)?;
        Ok(self.tx.execute(&statement, &pg_params(params))?)
    }

    fn query(&mut self, query: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let statement = self.statement(query)?;
        let rows = self.tx.query(&statement, &pg_params(params))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let ty = column.type_();
                values.push(
                    match *ty {
                        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
                        Type::INT4 => row
                            .try_get::<_, Option<i32>>(i)?
                            .map(|n| Value::Int(n.into())),
                        Type::INT2 => row
                            .try_get::<_, Option<i16>>(i)?
                            .map(|n| Value::Int(n.into())),
                        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Real),
                        Type::FLOAT4 => row
                            .try_get::<_, Option<f32>>(i)?
                            .map(|x| Value::Real(x.into())),
                        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
                        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes),
                        _ => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
                    }
                    .unwrap_or(Value::Null),
                );
            }
            out.push(values);
        }
        Ok(out)
    }

    fn batch(&mut self, statements: &str) -> Result<(), DbError> {
        Ok(self.tx.batch_execute(statements)?)
    }
}
