//! `archforge worker`: evaluates the tasks that `--workers` runs queue in a store
//! ([`crate::worker`]).

use crate::worker::{self, WorkerSettings};
use anyhow::{Result, bail};
use std::time::Duration;

/// `archforge worker`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store the searching processes queue their evaluations in (a PostgreSQL URL, or a
    /// SQLite file that every process reaches).
    #[arg(long)]
    pub store: String,
    /// Seconds a task's lease lasts; the worker renews it every third of that while it
    /// evaluates, and a dead worker's task goes to another after it.
    #[arg(long, default_value_t = 30.0)]
    pub lease: f64,
    /// Stop after this many seconds without a task (default: never).
    #[arg(long, value_name = "SECONDS")]
    pub idle_exit: Option<f64>,
}

/// Works until stopped (or idle for `--idle-exit`).
pub fn main(args: Args) -> Result<()> {
    if !(args.lease > 0.0 && args.lease.is_finite()) {
        bail!("--lease must be a positive number of seconds");
    }
    let store = super::open_existing(&args.store)?;
    eprintln!(
        "worker {} taking the tasks of {}",
        archforge::store::resume::this_process(),
        store.location()
    );
    let done = worker::work(
        &store,
        WorkerSettings {
            lease_seconds: args.lease,
            idle_exit: args.idle_exit.map(|s| Duration::from_secs_f64(s.max(0.0))),
        },
    )?;
    eprintln!("worker stopped, idle, after {done} tasks");
    Ok(())
}
