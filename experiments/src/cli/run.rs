//! `archforge run`: one controller on one seed, then the finalists.

use super::print;
use crate::config::ExperimentFile;
use crate::run_folder;
use crate::runner::Plan;
use crate::workflows::finalists;
use anyhow::{Result, bail};
use std::path::PathBuf;
use std::time::Instant;

/// `archforge run`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file.
    pub file: PathBuf,
    /// The seed (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluations (overrides `[budget] evaluations`).
    #[arg(long)]
    pub budget: Option<u64>,
    /// Which controller, when the file lists several.
    #[arg(long)]
    pub controller: Option<String>,
    /// The run folder (default: `runs/<name>-<timestamp>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also record the run in this store (a SQLite file, created on first use, or a
    /// PostgreSQL URL).
    #[arg(long)]
    pub store: Option<String>,
    /// Go on with this stored run, killed before its end (its number, or its experiment's
    /// name for the newest): the same file and flags, into its folder.
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,
    /// Hand the evaluations to workers (`archforge worker --store ...`, on any machine)
    /// instead of evaluating here.
    #[arg(long)]
    pub workers: bool,
}

/// Runs one controller of the file on one seed.
pub fn main(args: Args) -> Result<()> {
    let mut file = ExperimentFile::load(&args.file)?;
    file.override_with(args.seed, None, args.budget)?;
    let names: Vec<String> = file
        .experiment
        .controller
        .iter()
        .map(|c| c.name())
        .collect();
    let index = match (&args.controller, names.len()) {
        (None, 1) => 0,
        (None, _) => bail!(
            "{}: the file lists {} controllers; pick one with --controller ({})",
            file.path.display(),
            names.len(),
            names.join(", ")
        ),
        (Some(name), _) => names.iter().position(|n| n == name).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown controller `{name}`; the file has: {}",
                names.join(", ")
            )
        })?,
    };
    let (store, resumed_folder) = super::open_store(
        args.store.as_deref(),
        args.resume.as_deref(),
        args.workers,
        "run",
    )?;
    let plan = Plan {
        controllers: vec![index],
        seeds: vec![file.experiment.seed],
        out: args
            .out
            .or(resumed_folder)
            .unwrap_or_else(|| run_folder::default_out(&file.experiment.name)),
        jobs: 1,
        derive: file.experiment.finalists.as_ref().map_or(0, |f| f.derive),
        keep_rows: file.experiment.finalists.is_some(),
        store,
    };
    let started = Instant::now();
    let finished = super::execute(&file, &plan)?;
    print::best(finished.best.as_ref());
    if let Some(finals) = &file.experiment.finalists {
        // The finalists come from the derivation when there is one.
        let rows = if plan.derive > 0 {
            &finished.derived
        } else {
            &finished.rows
        };
        let retrained = finalists::retrain(
            &finished.out,
            &finished.prepared,
            finals,
            rows,
            file.experiment.seed,
        )?;
        print::finalists(&retrained);
    }
    let evaluations: usize = finished.results.iter().map(|r| r.evaluations()).sum();
    println!(
        "\n{evaluations} evaluations in {:.2} s; results in {}",
        started.elapsed().as_secs_f64(),
        finished.out.display()
    );
    Ok(())
}
