//! `archforge runs`: the runs of a store, oldest first — number, name, subcommand, status,
//! controllers, counted evaluations, best reward and start time.

use anyhow::Result;

/// `archforge runs`' arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store (a SQLite file, or a PostgreSQL URL).
    #[arg(long, default_value = "runs.db")]
    pub store: String,
}

/// Prints the store's runs as a Markdown table.
pub fn main(args: Args) -> Result<()> {
    let store = super::open_existing(&args.store)?;
    println!(
        "| run | name | command | status | controllers | evaluations | best reward | started |\n|---:|---|---|---|---|---:|---:|---|"
    );
    for run in store.runs()? {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            run.id,
            run.name,
            run.command,
            run.status,
            run.controllers.join(", "),
            run.evaluations,
            run.best_reward.map_or("–".into(), |b| format!("{b:.4}")),
            run.started_at
        );
    }
    Ok(())
}
