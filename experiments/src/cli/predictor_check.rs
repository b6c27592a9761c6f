//! `archforge predictor-check`: each performance predictor's ranking of a table's unseen
//! architectures.

use crate::config::ExperimentFile;
use crate::run_folder;
use crate::workflows::predictor_check;
use anyhow::Result;
use std::path::PathBuf;
use std::time::Instant;

/// `archforge predictor-check`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file: its environment (a benchmark table) and `[[predictor]]` entries.
    pub file: PathBuf,
    /// Training architectures, one size or several (`--train 100,500`); the rest of the
    /// table is the test set.
    #[arg(long, value_delimiter = ',', required = true)]
    pub train: Vec<usize>,
    /// Random draws of the training set, seeds `seed`, `seed + 1`, ...
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// The first seed (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The run folder (default: `runs/<name>-predictor-check-<timestamp>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the check and prints the summary.
pub fn main(args: Args) -> Result<()> {
    let mut file = ExperimentFile::load(&args.file)?;
    file.override_with(args.seed, None, None)?;
    if args.seeds == 0 {
        anyhow::bail!("--seeds must be at least 1");
    }
    let out = args.out.unwrap_or_else(|| {
        run_folder::default_out(&format!("{}-predictor-check", file.experiment.name))
    });
    let started = Instant::now();
    let (_, summary) = predictor_check::run(&file, &args.train, args.seeds, &out)?;
    println!(
        "| train | predictor | Kendall tau | Spearman rho | top-1 search | top-1 reported | fit s |\n|---:|---|---:|---:|---:|---:|---:|"
    );
    for s in &summary {
        println!(
            "| {} | {} | {:.3} ± {:.3} | {:.3} ± {:.3} | {:.2} | {:.2} | {:.2} |",
            s.train,
            s.predictor,
            s.kendall_mean,
            s.kendall_sd,
            s.spearman_mean,
            s.spearman_sd,
            s.top_metric_mean,
            s.top_reported_mean,
            s.fit_seconds_mean
        );
    }
    println!(
        "\npredictor check in {:.1} s ({} seeds); results in {}",
        started.elapsed().as_secs_f64(),
        args.seeds,
        out.display()
    );
    Ok(())
}
