//! `archforge generate`: a diffusion generator's validity, uniqueness and novelty, its
//! timings, and the effect of its guidance on a table's metric.

use crate::config::ExperimentFile;
use crate::run_folder;
use crate::workflows::generate::{self, Plan};
use anyhow::Result;
use std::path::PathBuf;

/// `archforge generate`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file, with a `[[controller]]` of kind `diffusion`.
    pub file: PathBuf,
    /// The diffusion entry's name (default: the first one).
    #[arg(long)]
    pub controller: Option<String>,
    /// Unguided graphs generated for validity, uniqueness and novelty.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Guidance scales to compare with none (`--guidance 1,3,10`), on a benchmark table.
    #[arg(long, value_delimiter = ',')]
    pub guidance: Vec<f64>,
    /// Architectures the guiding predictor is fitted on, per seed.
    #[arg(long, default_value_t = 100)]
    pub train: usize,
    /// Seeds of the guidance check, from the file's seed.
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    /// The run folder (default: `runs/<name>-generate-<timestamp>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the measurements and prints them.
pub fn main(args: Args) -> Result<()> {
    let file = ExperimentFile::load(&args.file)?;
    if args.count == 0 || args.seeds == 0 {
        anyhow::bail!("--count and --seeds must be at least 1");
    }
    if let Some(k) = args.guidance.iter().find(|k| !k.is_finite()) {
        anyhow::bail!("--guidance {k}: scales must be finite");
    }
    let out = args
        .out
        .unwrap_or_else(|| run_folder::default_out(&format!("{}-generate", file.experiment.name)));
    let plan = Plan {
        controller: args.controller,
        count: args.count,
        guidance: args.guidance,
        train: args.train,
        seeds: args.seeds,
    };
    let (q, guidance) = generate::run(&file, &plan, &out)?;
    println!(
        "{} graphs: validity {:.4}, uniqueness {:.4}, novelty {:.4} (the training samples' \
         uniqueness {:.4})",
        q.generated, q.validity, q.uniqueness, q.novelty, q.training_uniqueness
    );
    if !q.top_refusal.is_empty() {
        println!("most frequent refusal: {}", q.top_refusal);
    }
    println!(
        "score network: {:.1} s to train (final loss {}); {:.3} s to generate a pool of {} at \
         {} noise levels",
        q.train_seconds,
        q.final_loss.map_or("-".into(), |l| format!("{l:.4}")),
        q.pool_seconds,
        q.pool,
        q.steps
    );
    if !guidance.is_empty() {
        println!(
            "\n| guidance | seeds | pool mean | unguided | difference (95 % CI) | validity |\n|---:|---:|---:|---:|---:|---:|"
        );
        for g in &guidance {
            println!(
                "| {} | {} | {:.3} | {:.3} | {:+.3} [{:+.3}, {:+.3}] | {:.3} |",
                g.guidance,
                g.seeds,
                g.mean_metric,
                g.unguided_metric,
                g.difference,
                g.low,
                g.high,
                g.validity
            );
        }
    }
    println!("\nresults in {}", out.display());
    Ok(())
}
