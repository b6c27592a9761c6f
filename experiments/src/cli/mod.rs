//! The command line, one module per subcommand: [`run`], [`compare`], [`train`],
//! [`compress`], [`export`], [`rank_check`], [`predictor_check`], [`proxy_check`], [`generate`], [`runs`], [`report`], [`serve`], [`worker`] and [`list`]; [`print`](mod@print) holds what several of them print.

pub mod compare;
pub mod compress;
pub mod export;
pub mod generate;
pub mod list;
pub mod predictor_check;
pub mod print;
pub mod proxy_check;
pub mod rank_check;
pub mod report;
pub mod run;
pub mod runs;
pub mod serve;
pub mod train;
pub mod worker;

use crate::config::ExperimentFile;
use crate::runner::{self, Finished, Plan, Prepared, Recording};
use anyhow::Result;
use archforge::store::{Store, is_postgres};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

/// Where a `command` is recorded: the store `--store` names, opened (created on first use;
/// `runs.db` when only `--resume` is given), with the stored run `--resume` names (its
/// number, or its experiment's name for that name's newest run) and that run's folder;
/// with `workers`, the store through which workers evaluate.
fn open_store(
    location: Option<&str>,
    resume: Option<&str>,
    workers: bool,
    command: &'static str,
) -> Result<(Option<Recording>, Option<PathBuf>)> {
    if workers && location.is_none() {
        anyhow::bail!("--workers hands the evaluations to workers through a store: give --store");
    }
    let Some(location) = location.or(resume.map(|_| "runs.db")) else {
        return Ok((None, None));
    };
    let store = Arc::new(match resume {
        Some(_) => open_existing(location)?,
        None => Store::open(location)?,
    });
    let resumed = resume.map(|r| store.find(r)).transpose()?;
    let folder = resumed.as_ref().map(|r| PathBuf::from(&r.folder));
    Ok((
        Some(Recording {
            store,
            command,
            resume: resumed.map(|r| r.id),
            workers,
            parent: None,
            inputs: Vec::new(),
        }),
        folder,
    ))
}

/// Runs `plan` for `file` — refusing first, in one line, runs whose evaluations `--workers`
/// cannot hand out.
fn execute<'a>(file: &'a ExperimentFile, plan: &Plan) -> Result<Finished<'a>> {
    if plan.store.as_ref().is_some_and(|r| r.workers)
        && let Some(why) = file.experiment.evaluator.workers_refusal()
    {
        anyhow::bail!("{}: --workers: {why}", file.path.display());
    }
    runner::execute_prepared(Prepared::new(file)?, plan)
}

/// The store at `location`, which must exist (a SQLite file is not created).
fn open_existing(location: &str) -> Result<Store> {
    if !is_postgres(location) && !std::path::Path::new(location).exists() {
        anyhow::bail!("{location}: no such store");
    }
    Ok(Store::open(location)?)
}

/// Neural architecture search: controllers x environments x evaluators, from experiment files.
#[derive(Debug, Parser)]
#[command(name = "archforge", version, about)]
pub struct Cli {
    /// Log progress details to stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one controller on one seed.
    Run(run::Args),
    /// Run every controller of the file on several seeds, in parallel, and compare them.
    Compare(compare::Args),
    /// Train one architecture of the file's environment stand-alone on `[data]` as
    /// `[training]` says (the embedded digits and default settings where absent).
    Train(train::Args),
    /// Compress a trained teacher (N2N learning): layer removal, then layer shrinkage, each
    /// searched by every controller of the file; the final students fine-tuned beside the
    /// uniform-width and L1-pruned baselines.
    Compress(compress::Args),
    /// Cut a child's weights out of a weight-sharing run's trained supernet, as a stand-alone
    /// network (`train --init` loads it).
    Export(export::Args),
    /// Rank check: N random architectures trained stand-alone (2 seeds) and scored by a
    /// supernet; Kendall tau and Spearman rho for the supernet and training-free baselines.
    RankCheck(rank_check::Args),
    /// Predictor check: every performance predictor of the file trained on N architectures
    /// of its benchmark table; Kendall tau and Spearman rho on the rest.
    PredictorCheck(predictor_check::Args),
    /// Proxy check: every zero-cost proxy (synflow, grad_norm, snip, jacob_cov, NASWOT) of
    /// the architectures of a rank check's ground truth; Kendall tau and Spearman rho with
    /// bootstrap intervals, beside params and conv edges.
    ProxyCheck(proxy_check::Args),
    /// Generate: a diffusion generator's validity, uniqueness and novelty, the seconds to
    /// train its score network and to generate a pool, and (on a benchmark table) the effect
    /// of its guidance on the generated architectures' metric.
    Generate(generate::Args),
    /// List the runs recorded in a store.
    Runs(runs::Args),
    /// Rebuild a stored run's tables and plots (and with --html its page) from the store.
    Report(report::Args),
    /// Serve every run of a store as its report page on localhost, live while it runs.
    Serve(serve::Args),
    /// Evaluate the candidates that `--workers` runs queue in a store, on any machine.
    Worker(worker::Args),
    /// List the registered environments, controllers, evaluators and objectives.
    List,
}

/// Runs a parsed command line.
pub fn main(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run::main(args),
        Command::Compare(args) => compare::main(args),
        Command::Train(args) => train::main(args),
        Command::Compress(args) => compress::main(args),
        Command::Export(args) => export::main(args),
        Command::RankCheck(args) => rank_check::main(args),
        Command::PredictorCheck(args) => predictor_check::main(args),
        Command::ProxyCheck(args) => proxy_check::main(args),
        Command::Generate(args) => generate::main(args),
        Command::Runs(args) => runs::main(args),
        Command::Report(args) => report::main(args),
        Command::Serve(args) => serve::main(args),
        Command::Worker(args) => worker::main(args),
        Command::List => list::main(),
    }
}
