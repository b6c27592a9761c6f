//! Evaluations in the store: one [`Row`] per evaluation, its fields as typed columns (so a
//! store can be queried with any SQL client), keyed by (run, controller, seed, proposal) —
//! a row recorded twice is an error, never a silent overwrite.

use super::{RunId, Store, sql};
use crate::error::Result;
use crate::evaluator::StatusKind;
use crate::ledger::Row;
use crate::record::ArchRecord;

/// The columns, in the order of [`bind`] and [`from_columns`].
const COLUMNS: &str = "controller, seed, proposal, step, arch, hash, decisions, search_metric, \
    reported_metric, params, macs, latency_ms, status, reason, reward, cached, counted, \
    simulated_seconds, wall_seconds";

impl Store {
    /// Records `rows` of run `run` in one transaction.
    pub fn append(&self, run: RunId, rows: &[Row]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.transaction(|tx| {
            let mut insert = tx.prepare_cached(&sql(&format!(
                "INSERT INTO evaluations (run_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, \
                 $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
            )))?;
            for row in rows {
                insert.execute(rusqlite::params_from_iter(bind(run, row)))?;
            }
            Ok(())
        })
    }

    /// Every row of run `run`, in the order of its parts, then by proposal.
    pub fn rows(&self, run: RunId) -> Result<Vec<Row>> {
        self.read(|c| {
            let mut select = c.prepare(&sql(&format!(
                "SELECT {} FROM evaluations e JOIN run_parts p ON p.run_id = e.run_id AND \
                 p.controller = e.controller AND p.seed = e.seed WHERE e.run_id = $1 \
                 ORDER BY p.position, e.proposal",
                COLUMNS
                    .split(", ")
                    .map(|c| format!("e.{}", c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))?;
            select
                .query_map([run.0], from_columns)?
                .collect::<rusqlite::Result<Vec<Row>>>()
        })
    }

    /// The rows of run `run` in the order they were recorded, from the `after`-th on: what a
    /// page that has the first `after` follows a running run with.
    pub fn rows_recorded(&self, run: RunId, after: usize) -> Result<Vec<Row>> {
        self.read(|c| {
            let mut select = c.prepare(&sql(&format!(
                "SELECT {COLUMNS} FROM evaluations WHERE run_id = $1 ORDER BY rowid LIMIT -1 OFFSET $2"
            )))?;
            select
                .query_map((run.0, after as i64), from_columns)?
                .collect::<rusqlite::Result<Vec<Row>>>()
        })
    }
}

/// A row's parameters for the insert, after the run's.
fn bind(run: RunId, row: &Row) -> Vec<Box<dyn rusqlite::ToSql + '_>> {
    let r = &row.record;
    // Whole numbers beyond i64 (none in practice) are kept as the largest i64.
    let whole = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    vec![
        Box::new(run.0),
        Box::new(&row.controller),
        Box::new(whole(row.seed)),
        Box::new(whole(row.proposal)),
        Box::new(whole(row.step)),
        Box::new(&r.arch),
        Box::new(&r.hash),
        Box::new(&r.decisions),
        Box::new(r.search_metric),
        Box::new(r.reported_metric),
        Box::new(r.params.map(whole)),
        Box::new(r.macs.map(whole)),
        Box::new(r.latency_ms),
        Box::new(r.status.to_string()),
        Box::new(&r.reason),
        Box::new(row.reward),
        Box::new(row.cached),
        Box::new(row.counted),
        Box::new(row.simulated_seconds),
        Box::new(row.wall_seconds),
    ]
}

/// A row read back from the columns of [`COLUMNS`].
fn from_columns(c: &rusqlite::Row) -> rusqlite::Result<Row> {
    let count = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(c.get::<_, Option<i64>>(i)?.map(|n| n.max(0) as u64))
    };
    let status: String = c.get(12)?;
    let status = match status.as_str() {
        "ok" => StatusKind::Ok,
        "invalid" => StatusKind::Invalid,
        "failed" => StatusKind::Failed,
        other => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                12,
                rusqlite::types::Type::Text,
                format!("unknown status `{other}`").into(),
            ));
        }
    };
    Ok(Row {
        controller: c.get(0)?,
        seed: count(1)?.unwrap_or(0),
        proposal: count(2)?.unwrap_or(0),
        step: count(3)?.unwrap_or(0),
        record: ArchRecord {
            arch: c.get(4)?,
            hash: c.get(5)?,
            decisions: c.get(6)?,
            search_metric: c.get(7)?,
            reported_metric: c.get(8)?,
            params: count(9)?,
            macs: count(10)?,
            latency_ms: c.get(11)?,
            status,
            reason: c.get(13)?,
        },
        reward: c.get(14)?,
        cached: c.get(15)?,
        counted: c.get(16)?,
        simulated_seconds: c.get(17)?,
        wall_seconds: c.get(18)?,
    })
}
