//! `archforge export`: a child's weights cut out of a run's trained supernet.

use crate::run_folder;
use crate::workflows::export::{self, Which};
use anyhow::Result;
use std::path::PathBuf;

/// `archforge export`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run folder of a weight-sharing run.
    pub run: PathBuf,
    /// The child as its decisions, `-`-separated (the ledger's `decisions` column).
    #[arg(long)]
    pub arch: String,
    /// The run's controller, when the folder holds several supernets.
    #[arg(long)]
    pub controller: Option<String>,
    /// The run's seed, when the folder holds several supernets.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The folder to write (default: `runs/<run folder>-export-<timestamp>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Exports the child and prints its supernet scores.
pub fn main(args: Args) -> Result<()> {
    let decisions = super::train::decisions(&args.arch)?;
    let name = args
        .run
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    let out = args.out.unwrap_or_else(|| {
        run_folder::default_out(&format!("{}-export", run_folder::file_safe(&name)))
    });
    let which = Which {
        controller: args.controller.as_deref(),
        seed: args.seed,
    };
    let exported = export::export(&args.run, &decisions, which, &out)?;
    println!(
        "Exported {} from {}:",
        exported.arch,
        exported.supernet.display()
    );
    println!(
        "  supernet valid accuracy  {:.4}",
        exported.supernet_valid_accuracy
    );
    println!(
        "  supernet test accuracy   {:.4}",
        exported.supernet_test_accuracy
    );
    println!("results in {}", out.display());
    Ok(())
}
