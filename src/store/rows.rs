//! Evaluations in the store: one [`Row`] per evaluation, its fields as typed columns (so a
//! store can be queried with any SQL client), keyed by (run, controller, seed, proposal) —
//! a row recorded twice is an error, never a silent overwrite.

use super::db::{DbError, Value};
use super::{RunId, Store};
use crate::error::Result;
use crate::record::ArchRecord;
use crate::record::Row;
use crate::record::StatusKind;

/// The columns, in the order of [`bind`] and [`from_columns`].
const COLUMNS: &str = "controller, seed, proposal, step, arch, hash, decisions, search_metric, \
    reported_metric, params, macs, latency_ms, status, reason, reward, cached, counted, \
    simulated_seconds, wall_seconds";

impl Store {
    /// Records `rows` of run `run` in one transaction, [`ROWS_PER_INSERT`] to a statement.
    pub fn append(&self, run: RunId, rows: &[Row]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.transaction(|s| {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let params: Vec<Value> = chunk.iter().flat_map(|row| bind(run, row)).collect();
                s.execute(&insert(chunk.len()), &params)?;
            }
            Ok(())
        })
    }

    /// Every row of run `run`, in the order of its parts, then by proposal.
    pub fn rows(&self, run: RunId) -> Result<Vec<Row>> {
        let select = format!(
            "SELECT {} FROM evaluations e JOIN run_parts p ON p.run_id = e.run_id AND \
             p.controller = e.controller AND p.seed = e.seed WHERE e.run_id = $1 \
             ORDER BY p.position, e.proposal",
            COLUMNS
                .split(", ")
                .map(|c| format!("e.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.read(|s| {
            s.query(&select, &[run.0.into()])?
                .iter()
                .map(|r| from_columns(r))
                .collect()
        })
    }

    /// The rows of run `run` in the order they were recorded, from the `after`-th on: what a
    /// page that has the first `after` follows a running run with.
    pub fn rows_recorded(&self, run: RunId, after: usize) -> Result<Vec<Row>> {
        self.read(|s| {
            let select = format!(
                "SELECT {COLUMNS} FROM evaluations WHERE run_id = $1 ORDER BY {} \
                 LIMIT $2 OFFSET $3",
                s.dialect().insertion_order()
            );
            s.query(
                &select,
                &[run.0.into(), i64::MAX.into(), (after as u64).into()],
            )?
            .iter()
            .map(|r| from_columns(r))
            .collect()
        })
    }
}

/// Rows one insert statement carries (a server round trip each, for PostgreSQL).
const ROWS_PER_INSERT: usize = 100;

/// The statement inserting `n` rows, each row's parameters ([`bind`]) after the last's.
fn insert(n: usize) -> String {
    let width = 1 + COLUMNS.split(", ").count();
    let mut text = format!("INSERT INTO evaluations (run_id, {COLUMNS}) VALUES ");
    for i in 0..n {
        text.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..width {
            if j > 0 {
                text.push_str(", ");
            }
            text.push_str(&format!("${}", i * width + j + 1));
        }
        text.push(')');
    }
    text
}

/// A row's parameters for the insert: the run's, then its fields in [`COLUMNS`]' order.
fn bind(run: RunId, row: &Row) -> Vec<Value> {
    let r = &row.record;
    vec![
        run.0.into(),
        row.controller.as_str().into(),
        row.seed.into(),
        row.proposal.into(),
        row.step.into(),
        r.arch.as_str().into(),
        r.hash.as_str().into(),
        r.decisions.as_str().into(),
        r.search_metric.into(),
        r.reported_metric.into(),
        r.params.into(),
        r.macs.into(),
        r.latency_ms.into(),
        r.status.to_string().into(),
        r.reason.as_str().into(),
        row.reward.into(),
        row.cached.into(),
        row.counted.into(),
        row.simulated_seconds.into(),
        row.wall_seconds.into(),
    ]
}

/// A row read back from the columns of [`COLUMNS`].
fn from_columns(c: &[Value]) -> std::result::Result<Row, DbError> {
    let count = |i: usize| -> std::result::Result<Option<u64>, DbError> {
        Ok(c[i].opt_int()?.map(|n| n.max(0) as u64))
    };
    let status = match c[12].text()?.as_str() {
        "ok" => StatusKind::Ok,
        "invalid" => StatusKind::Invalid,
        "failed" => StatusKind::Failed,
        other => return Err(DbError(format!("unknown status `{other}`"))),
    };
    Ok(Row {
        controller: c[0].text()?,
        seed: count(1)?.unwrap_or(0),
        proposal: count(2)?.unwrap_or(0),
        step: count(3)?.unwrap_or(0),
        record: ArchRecord {
            arch: c[4].text()?,
            hash: c[5].text()?,
            decisions: c[6].text()?,
            search_metric: c[7].opt_real()?,
            reported_metric: c[8].opt_real()?,
            params: count(9)?,
            macs: count(10)?,
            latency_ms: c[11].opt_real()?,
            status,
            reason: c[13].text()?,
        },
        reward: c[14].opt_real()?,
        cached: c[15].bool()?,
        counted: c[16].bool()?,
        simulated_seconds: c[17].real()?,
        wall_seconds: c[18].real()?,
    })
}
