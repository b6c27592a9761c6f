//! `archforge rank-check`: supernet scores against stand-alone accuracies.

use super::print::{self, interval};
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
    /// Score with this warmed-up supernet (an earlier check's `supernet.safetensors`, same
    /// file and seed) instead of warming one up.
    #[arg(long)]
    pub supernet: Option<PathBuf>,
    /// An earlier rank check's `rank_check.csv` on the same architectures: its supernet
    /// scores become the scorer `supernet@FOLDER`, compared with every other (repeatable).
    #[arg(long)]
    pub beside: Vec<PathBuf>,
    /// The seed (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The run folder (default: `runs/<name>-rank-check-<timestamp>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also record the check in this store (a SQLite file, created on first use, or a
    /// PostgreSQL URL), its ground truth kept as each architecture is trained.
    #[arg(long)]
    pub store: Option<String>,
    /// Go on with this stored check, killed before its end (its number, or its experiment's
    /// name for the newest): the same file and flags, into its folder.
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,
}

impl Args {
    /// The flags that choose the check's architectures and scorers, which the resolved file
    /// does not hold.
    fn choices(&self) -> String {
        let mut flags = Vec::new();
        if let Some(n) = self.archs {
            flags.push(format!("--archs {n}"));
        }
        let paths = [("--truth", &self.truth), ("--supernet", &self.supernet)];
        for (flag, path) in paths {
            if let Some(path) = path {
                flags.push(format!("{flag} {}", path.display()));
            }
        }
        for path in &self.beside {
            flags.push(format!("--beside {}", path.display()));
        }
        flags.join(" ")
    }
}

/// Runs the rank check and prints its correlations.
pub fn main(args: Args) -> Result<()> {
    let mut file = ExperimentFile::load(&args.file)?;
    file.override_with(args.seed, None, None)?;
    let (store, resumed_folder) = super::open_store(
        args.store.as_deref(),
        args.resume.as_deref(),
        false,
        "rank-check",
    )?;
    let choices = args.choices();
    let out = args.out.or(resumed_folder).unwrap_or_else(|| {
        run_folder::default_out(&format!("{}-rank-check", file.experiment.name))
    });
    let started = Instant::now();
    let source = match (&args.truth, args.archs) {
        (Some(path), _) => Source::Truth(path),
        (None, n) => Source::Random(n.unwrap_or(0)),
    };
    let beside = args
        .beside
        .iter()
        .map(|path| rank_check::Beside::read(path))
        .collect::<Result<Vec<_>>>()?;
    let summary = rank_check::run(
        &mut file,
        source,
        args.supernet.as_deref(),
        &beside,
        &out,
        store.as_ref().map(|s| (s, choices.as_str())),
    )?;
    print::correlations(&summary.correlations);
    println!("\ndifferences of tau from params' (paired 95 % intervals):");
    for d in &summary.differences {
        let (name, sign) = match (d.scorer.as_str(), d.against.as_str()) {
            (_, "params") => (&d.scorer, 1.0),
            ("params", _) => (&d.against, -1.0),
            _ => continue,
        };
        let (low, high) = match sign > 0.0 {
            true => (d.kendall_low, d.kendall_high),
            false => (d.kendall_high.map(|h| -h), d.kendall_low.map(|l| -l)),
        };
        let estimate = d.kendall_difference.map(|v| sign * v);
        println!("  {name} - params: {}", interval(estimate, low, high));
    }
    println!(
        "\nrank check in {:.1} s; results in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
