//! `archforge compress`: a trained teacher compressed by policy gradient (N2N learning) and
//! the file's other controllers, then fine-tuned and compared with the baselines.

use crate::config::ExperimentFile;
use crate::run_folder;
use crate::workflows::compress::{CompressPlan, compress, markdown};
use anyhow::{Result, bail};
use std::path::PathBuf;

/// `archforge compress`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file: a `[teacher]`, a compression `[environment]` (the first stage).
    pub file: PathBuf,
    /// Seeds per controller (overrides the file's `seeds`).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// The first seed (overrides the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Students per stage and run (overrides `[budget] evaluations`).
    #[arg(long)]
    pub budget: Option<u64>,
    /// A trained teacher's run folder (overrides `[teacher] path`; what `archforge train`
    /// wrote for the file's `[teacher]`).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Runs at a time within a stage (default: 1; each student's training uses every core).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// The run folder (default: `runs/<name>-compress-<timestamp>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also record the compression in this store (a SQLite file, created on first use, or a
    /// PostgreSQL URL): its own run, and each of its searches as a run under it.
    #[arg(long)]
    pub store: Option<String>,
    /// Go on with this stored compression, killed before its end (its number, or its
    /// experiment's name for the newest): the same file and flags, into its folder.
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,
    /// Hand the searches' students to workers (`archforge worker --store ...`, on any
    /// machine) instead of training them here; needs --store. The teacher, the final
    /// students and the baselines train here.
    #[arg(long)]
    pub workers: bool,
}

/// Runs the compression and prints its summary.
pub fn main(args: Args) -> Result<()> {
    let mut file = ExperimentFile::load(&args.file)?;
    file.override_with(args.seed, args.seeds, args.budget)?;
    if let (Some(folder), Some(teacher)) = (&args.teacher, file.experiment.teacher.as_mut()) {
        teacher.path = Some(std::path::absolute(folder).unwrap_or_else(|_| folder.clone()));
    }
    let e = &file.experiment;
    if !e.environment.compresses() {
        bail!(
            "{}: compress needs a compression space: [environment] kind = \"layer-removal\" (then shrinkage) or \"layer-shrinkage\"",
            file.path.display()
        );
    }
    let (store, resumed_folder) = super::open_store(
        args.store.as_deref(),
        args.resume.as_deref(),
        args.workers,
        "compress",
    )?;
    let plan = CompressPlan {
        seeds: (e.seed..=e.seed + (e.seeds - 1)).collect(),
        out: args
            .out
            .or(resumed_folder)
            .unwrap_or_else(|| run_folder::default_out(&format!("{}-compress", e.name))),
        jobs: args.jobs.max(1),
        store,
    };
    let lines = compress(&file, &plan)?;
    println!("{}", markdown(&lines));
    println!("results in {}", plan.out.display());
    Ok(())
}
