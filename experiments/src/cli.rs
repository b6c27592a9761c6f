//! The command line: `archforge run`, `archforge compare`, `archforge list`.

use crate::config::ExperimentFile;
use crate::registry;
use crate::report;
use crate::runner::{self, Plan};
use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Instant;

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
    Run {
        /// The experiment file.
        file: PathBuf,
        /// The seed (default: the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Evaluations (overrides `[budget] evaluations`).
        #[arg(long)]
        budget: Option<u64>,
        /// Which controller, when the file lists several.
        #[arg(long)]
        controller: Option<String>,
        /// The run folder (default: runs/<name>-<timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run every controller of the file on several seeds, in parallel, and compare them.
    Compare {
        /// The experiment file.
        file: PathBuf,
        /// Seeds per controller (overrides the file's `seeds`).
        #[arg(long)]
        seeds: Option<u64>,
        /// The first seed (overrides the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Evaluations per run (overrides `[budget] evaluations`).
        #[arg(long)]
        budget: Option<u64>,
        /// Runs at a time (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// The run folder (default: runs/<name>-<timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Train one architecture of the file's environment stand-alone on `[data]` as
    /// `[training]` says (the embedded digits and default settings where absent).
    Train {
        /// The experiment file.
        file: PathBuf,
        /// The architecture as its decisions, `-`-separated (the ledger's `decisions` column).
        #[arg(long)]
        arch: String,
        /// The seed (default: the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// The run folder (default: runs/<name>-train-<timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Rank check: N random architectures trained stand-alone (2 seeds) and scored by a
    /// supernet; Kendall tau and Spearman rho for the supernet and training-free baselines.
    RankCheck {
        /// The experiment file (its environment, [data], [training], supernet settings).
        file: PathBuf,
        /// How many distinct random architectures to train and score.
        #[arg(long, required_unless_present = "truth", conflicts_with = "truth")]
        archs: Option<usize>,
        /// Reuse the architectures and stand-alone accuracies of an earlier rank check
        /// (its `standalone.csv` or `rank_check.csv`): only the supernet is trained.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// The seed (default: the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// The run folder (default: runs/<name>-rank-check-<timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the registered environments, controllers, evaluators and objectives.
    List,
}

/// Runs a parsed command line.
pub fn main(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            file,
            seed,
            budget,
            controller,
            out,
        } => {
            let mut file = ExperimentFile::load(&file)?;
            file.override_with(seed, None, budget)?;
            let names: Vec<String> = file
                .experiment
                .controller
                .iter()
                .map(|c| c.name())
                .collect();
            let index = match (&controller, names.len()) {
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
            let plan = Plan {
                controllers: vec![index],
                seeds: vec![file.experiment.seed],
                out: out.unwrap_or_else(|| runner::default_out(&file.experiment.name)),
                jobs: 1,
                finalists: true,
            };
            let started = Instant::now();
            let finished = runner::execute(&file, &plan)?;
            print_best(finished.best.as_ref());
            print_finalists(&finished.finalists);
            let evaluations: usize = finished.results.iter().map(|r| r.evaluations()).sum();
            println!(
                "\n{evaluations} evaluations in {:.2} s; results in {}",
                started.elapsed().as_secs_f64(),
                finished.out.display()
            );
            Ok(())
        }
        Command::Compare {
            file,
            seeds,
            seed,
            budget,
            jobs,
            out,
        } => {
            let mut file = ExperimentFile::load(&file)?;
            file.override_with(seed, seeds, budget)?;
            let e = &file.experiment;
            let plan = Plan {
                controllers: (0..e.controller.len()).collect(),
                seeds: (e.seed..=e.seed + (e.seeds - 1)).collect(),
                out: out.unwrap_or_else(|| runner::default_out(&e.name)),
                jobs: jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                finalists: false,
            };
            let started = Instant::now();
            let finished = runner::execute(&file, &plan)?;
            let wall = started.elapsed().as_secs_f64();
            println!("{}", report::markdown(&finished.summary));
            print_best(finished.best.as_ref());
            let evaluations: usize = finished.results.iter().map(|r| r.evaluations()).sum();
            println!(
                "\n{} runs, {evaluations} evaluations in {wall:.2} s ({:.0} evaluations/s); results in {}",
                finished.results.len(),
                evaluations as f64 / wall.max(1e-9),
                finished.out.display()
            );
            Ok(())
        }
        Command::Train {
            file,
            arch,
            seed,
            out,
        } => train_one(&file, &arch, seed, out),
        Command::RankCheck {
            file,
            archs,
            truth,
            seed,
            out,
        } => {
            let mut file = ExperimentFile::load(&file)?;
            file.override_with(seed, None, None)?;
            let out = out.unwrap_or_else(|| {
                runner::default_out(&format!("{}-rank-check", file.experiment.name))
            });
            let started = Instant::now();
            let source = match (&truth, archs) {
                (Some(path), _) => crate::rank_check::Source::Truth(path),
                (None, n) => crate::rank_check::Source::Random(n.unwrap_or(0)),
            };
            let summary = crate::rank_check::run(&mut file, source, &out)?;
            println!("| scorer | Kendall tau | Spearman rho |\n|---|---:|---:|");
            for c in &summary {
                println!("| {} | {:.3} | {:.3} |", c.scorer, c.kendall, c.spearman);
            }
            println!(
                "\nrank check in {:.1} s; results in {}",
                started.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(())
        }
        Command::List => {
            let section = |title: &str, entries: &[(&str, &str)]| {
                println!("{title}:");
                for (name, about) in entries {
                    println!("  {name:<16} {about}");
                }
            };
            section("environments", registry::ENVIRONMENTS);
            section("controllers", registry::CONTROLLERS);
            section("evaluators", registry::EVALUATORS);
            section("objectives", archforge::objective::RewardKind::ALL);
            Ok(())
        }
    }
}

fn print_best(best: Option<&report::BestArch>) {
    let Some(b) = best else {
        println!("No architecture was scored successfully.");
        return;
    };
    let num = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.4}"));
    let count = |v: Option<u64>| v.map_or_else(|| "–".into(), |v| v.to_string());
    println!(
        "\nBest architecture (controller `{}`, seed {}, evaluation {}):",
        b.controller, b.seed, b.step
    );
    println!("  arch             {}", b.arch);
    println!("  decisions        {:?}", b.decisions);
    println!("  canonical hash   {}", b.hash);
    println!("  search metric    {}", num(b.search_metric));
    println!("  reported metric  {}", num(b.reported_metric));
    println!("  params           {}", count(b.params));
    println!("  MACs             {}", count(b.macs));
}

fn print_finalists(finalists: &[crate::finalists::Finalist]) {
    if finalists.is_empty() {
        return;
    }
    let num = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.2}"));
    println!("\nFinalists retrained stand-alone:");
    println!("| rank | search metric | final valid | final test | params | status | arch |");
    println!("|---:|---:|---:|---:|---:|---|---|");
    for f in finalists {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            f.rank,
            num(f.search_metric),
            num(f.final_valid),
            num(f.final_test),
            f.params.map_or_else(|| "–".into(), |p| p.to_string()),
            f.status,
            f.arch
        );
    }
}

/// `archforge train`: one architecture, trained stand-alone, written to a run folder.
fn train_one(
    path: &std::path::Path,
    arch: &str,
    seed: Option<u64>,
    out: Option<PathBuf>,
) -> Result<()> {
    let mut file = ExperimentFile::load(path)?;
    file.override_with(seed, None, None)?;
    file.ensure_training();
    let prepared = runner::Prepared::new(&file)?;
    let training = prepared
        .training()
        .expect("ensure_training provides data and settings");
    let decisions = archforge::search::parse_decisions(arch).ok_or_else(|| {
        anyhow::anyhow!("--arch `{arch}`: expected decisions separated by `-`, e.g. 3-0-1-2-4-3")
    })?;
    let candidate = prepared
        .env()
        .build(&decisions)
        .map_err(|e| anyhow::anyhow!("--arch `{arch}`: {e}"))?;
    let out =
        out.unwrap_or_else(|| runner::default_out(&format!("{}-train", file.experiment.name)));
    runner::create_run_folder(&out)?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
    let started = Instant::now();
    let trained = archforge::evaluator::train_candidate(
        &candidate,
        &training.data,
        &training.config,
        file.experiment.seed,
    )
    .map_err(|status| anyhow::anyhow!("{arch}: {} ({})", status.kind(), status.reason()))?;
    let seconds = started.elapsed().as_secs_f64();
    let m = &trained.metrics;
    let summary = serde_json::json!({
        "arch": candidate.label,
        "decisions": candidate.decisions,
        "hash": candidate.hash.to_string(),
        "valid_accuracy": m.search,
        "test_accuracy": m.reported,
        "params": m.params,
        "macs": m.macs,
        "latency_ms": m.latency_ms,
        "train_seconds": seconds,
    });
    std::fs::write(
        out.join("trained.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    trained.store.save(&out.join("weights.safetensors"))?;
    std::fs::write(out.join("arch.json"), candidate.arch.to_json() + "\n")?;
    std::fs::write(out.join("arch.dot"), candidate.arch.to_dot())?;
    let num = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.2}"));
    println!("Trained {} in {seconds:.1} s:", candidate.label);
    println!("  valid accuracy   {}", num(m.search));
    println!("  test accuracy    {}", num(m.reported));
    println!(
        "  params           {}",
        m.params.map_or_else(|| "–".into(), |p| p.to_string())
    );
    println!("  latency (ms)     {}", num(m.latency_ms));
    println!("results in {}", out.display());
    Ok(())
}
