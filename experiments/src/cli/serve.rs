//! `archforge serve`: every run of a store as its report page on localhost
//! ([`crate::serve`]).

use crate::serve;
use anyhow::{Context as _, Result};
use std::net::TcpListener;
use std::sync::Arc;

/// `archforge serve`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store (a SQLite file, or a PostgreSQL URL).
    #[arg(long, default_value = "runs.db")]
    pub store: String,
    /// The port on 127.0.0.1 (0: any free one, printed).
    #[arg(long, default_value_t = 8020)]
    pub port: u16,
}

/// Serves the store's pages until interrupted.
pub fn main(args: Args) -> Result<()> {
    let store = Arc::new(super::open_existing(&args.store)?);
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("listening on 127.0.0.1:{}", args.port))?;
    let address = listener.local_addr()?;
    eprintln!(
        "serving the runs of {} on http://{address}/",
        store.location()
    );
    serve::serve(store, listener)
}
