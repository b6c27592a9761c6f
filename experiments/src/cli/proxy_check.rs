//! `archforge proxy-check`: each zero-cost proxy's ranking against a rank check's
//! stand-alone ground truth.

use crate::config::ExperimentFile;
use crate::run_folder;
use crate::workflows::proxy_check;
use anyhow::Result;
use std::path::PathBuf;
use std::time::Instant;

/// `archforge proxy-check`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file (its environment and `[data]`).
    pub file: PathBuf,
    /// The architectures and stand-alone accuracies of an earlier rank check (its
    /// `standalone.csv` or `rank_check.csv`).
    #[arg(long)]
    pub truth: PathBuf,
    /// The seed of the batch and of the initial weights (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The run folder (default: `runs/<name>-proxy-check-<timestamp>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the check and prints its correlations.
pub fn main(args: Args) -> Result<()> {
    let mut file = ExperimentFile::load(&args.file)?;
    file.override_with(args.seed, None, None)?;
    let out = args.out.unwrap_or_else(|| {
        run_folder::default_out(&format!("{}-proxy-check", file.experiment.name))
    });
    let started = Instant::now();
    let summary = proxy_check::run(&mut file, &args.truth, &out)?;
    super::print::correlations(&summary);
    println!(
        "\nproxy check in {:.1} s; results in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
