//! `archforge report RUN`: a stored run's reports rebuilt from the store into a folder
//! ([`crate::report::stored`]), and with `--html` its page, `report.html`
//! ([`crate::report::html`]).

use crate::report::{html, markdown, stored};
use crate::run_folder::create_run_folder;
use anyhow::Result;
use std::path::PathBuf;

/// `archforge report`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its number, or an experiment name (its newest run).
    pub run: String,
    /// The store (a SQLite file, or a PostgreSQL URL).
    #[arg(long, default_value = "runs.db")]
    pub store: String,
    /// The folder to write into (created; refused if it holds files) [default: report-RUN].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the reports as one self-contained page, `report.html`.
    #[arg(long)]
    pub html: bool,
}

/// Rebuilds the run's reports and prints its summary.
pub fn main(args: Args) -> Result<()> {
    let store = super::open_existing(&args.store)?;
    let run = store.find(&args.run)?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("report-{}", run.id)));
    create_run_folder(&out)?;
    let rebuilt = stored::rebuild(&store, &run, &out)?;
    println!(
        "# {} (run {}, {}, {})\n\n{}",
        rebuilt.context.title,
        run.id,
        run.command,
        run.status,
        markdown(&rebuilt.summary)
    );
    if args.html {
        let page = html::Page {
            title: rebuilt.context.title.clone(),
            facts: stored::facts(&store, &run, rebuilt.rows),
            live: None,
        };
        let path = html::write(&out, &page)?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!("wrote the reports of run {} into {}", run.id, out.display());
    Ok(())
}
