//! `archforge rank-check`: supernet scores against stand-alone accuracies.

use crate::config::ExperimentFile;
use crate::run_folder;
use crate::workflows::rank_check::{self, Source};
use anyhow::Result;
use std::path::PathBuf;
use std::time::Instant;

/// `archforge rank-check`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file (its environment, `[data]`, `[training]`, supernet settings).
    pub file: PathBuf,
    /// How many distinct random architectures to train and score.
    #[arg(long, required_unless_present = "truth", conflicts_with = "truth")]
    pub archs: Option<usize>,
    /// Reuse the architectures and stand-alone accuracies of an earlier rank check
    /// (its `standalone.csv` or `rank_check.csv`): only the supernet is trained.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// The seed (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The run folder (default: `runs/<name>-rank-check-<timestamp>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the rank check and prints its correlations.
pub fn main(args: Args) -> Result<()> {
    let mut file = ExperimentFile::load(&args.file)?;
    file.override_with(args.seed, None, None)?;
    let out = args.out.unwrap_or_else(|| {
        run_folder::default_out(&format!("{}-rank-check", file.experiment.name))
    });
    let started = Instant::now();
    let source = match (&args.truth, args.archs) {
        (Some(path), _) => Source::Truth(path),
        (None, n) => Source::Random(n.unwrap_or(0)),
    };
    let summary = rank_check::run(&mut file, source, &out)?;
    println!("| scorer | Kendall tau | Spearman rho |\n|---|---:|---:|");
    let shown = |v: Option<f64>| v.map_or_else(|| "– (constant)".into(), |v| format!("{v:.3}"));
    for c in &summary {
        println!(
            "| {} | {} | {} |",
            c.scorer,
            shown(c.kendall),
            shown(c.spearman)
        );
    }
    println!(
        "\nrank check in {:.1} s; results in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
