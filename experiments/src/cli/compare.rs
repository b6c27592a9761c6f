//! `archforge compare`: every controller of the file on several seeds, in parallel.

use super::print;
use crate::config::ExperimentFile;
use crate::report;
use crate::run_folder;
use crate::runner::Plan;
use anyhow::Result;
use std::path::PathBuf;
use std::time::Instant;

/// `archforge compare`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file.
    pub file: PathBuf,
    /// Seeds per controller (overrides the file's `seeds`).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// The first seed (overrides the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluations per run (overrides `[budget] evaluations`).
    #[arg(long)]
    pub budget: Option<u64>,
    /// Runs at a time (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
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

/// Runs the comparison and prints its summary.
pub fn main(args: Args) -> Result<()> {
    let mut file = ExperimentFile::load(&args.file)?;
    file.override_with(args.seed, args.seeds, args.budget)?;
    let e = &file.experiment;
    let (store, resumed_folder) = super::open_store(
        args.store.as_deref(),
        args.resume.as_deref(),
        args.workers,
        "compare",
    )?;
    let plan = Plan {
        controllers: (0..e.controller.len()).collect(),
        seeds: (e.seed..=e.seed + (e.seeds - 1)).collect(),
        out: args
            .out
            .or(resumed_folder)
            .unwrap_or_else(|| run_folder::default_out(&e.name)),
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        derive: 0,
        keep_rows: false,
        store,
    };
    let started = Instant::now();
    let finished = super::execute(&file, &plan)?;
    let wall = started.elapsed().as_secs_f64();
    println!("{}", report::markdown(&finished.summary));
    print::best(finished.best.as_ref());
    let evaluations: usize = finished.results.iter().map(|r| r.evaluations()).sum();
    let search = finished.search_seconds;
    let in_controllers: f64 = finished.results.iter().map(|r| r.controller_seconds).sum();
    let in_runs: f64 = finished.results.iter().map(|r| r.seconds).sum();
    println!(
        "\n{} runs, {evaluations} evaluations in {search:.3} s of search ({:.0} evaluations/s, {:.0} % of the runs' time in the controllers); {wall:.2} s with loading and reports; results in {}",
        finished.results.len(),
        evaluations as f64 / search.max(1e-9),
        100.0 * in_controllers / in_runs.max(1e-12),
        finished.out.display()
    );
    println!("\n{}", speed_table(&finished.results));
    Ok(())
}

/// Per controller (in order of first appearance): its runs' evaluations per second of their
/// own time (one thread each) and the share of that time spent in the controller.
fn speed_table(results: &[archforge::search::RunResult]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for r in results {
        if !names.contains(&r.controller.as_str()) {
            names.push(&r.controller);
        }
    }
    let mut table = String::from(
        "| controller | runs | evaluations | evaluations/s (per run) | time in the controller |\n|---|---:|---:|---:|---:|\n",
    );
    for name in names {
        let runs: Vec<_> = results.iter().filter(|r| r.controller == name).collect();
        let evaluations: usize = runs.iter().map(|r| r.evaluations()).sum();
        let seconds: f64 = runs.iter().map(|r| r.seconds).sum();
        let in_controller: f64 = runs.iter().map(|r| r.controller_seconds).sum();
        table.push_str(&format!(
            "| {name} | {} | {evaluations} | {:.0} | {:.0} % |\n",
            runs.len(),
            evaluations as f64 / seconds.max(1e-9),
            100.0 * in_controller / seconds.max(1e-12)
        ));
    }
    table
}
