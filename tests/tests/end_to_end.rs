//! End-to-end runs of the real binary on the shipped experiment files: the run folder holds
//! every promised file, the same file and seed give the same evaluations, and results are
//! never overwritten.

use archforge_tests::{
    archforge, archforge_ok, experiments_dir, read_csv, read_csv_without, stderr, stdout,
};
use std::path::Path;

fn exp(name: &str) -> String {
    experiments_dir().join(name).display().to_string()
}

/// The ledger without its wall-clock columns (evaluation time, measured latency).
fn ledger_without_wall_time(dir: &Path) -> Vec<Vec<String>> {
    let (timed, rows) = read_csv_without(&dir.join("evaluations.csv"), |h| {
        h == "wall_seconds" || h == "latency_ms"
    });
    assert_eq!(timed.len(), 2);
    rows
}

#[test]
fn run_writes_a_complete_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = archforge_ok(
        dir.path(),
        &[
            "run",
            &exp("nb201-evolution.toml"),
            "--seed",
            "4",
            "--budget",
            "40",
            "--out",
            "r",
        ],
    );
    let run = dir.path().join("r");
    for f in [
        "experiment.toml",
        "evaluations.csv",
        "summary.csv",
        "summary.md",
        "best_so_far.svg",
        "best.json",
        "best.dot",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    let (header, rows) = read_csv(&run.join("evaluations.csv"));
    for column in [
        "controller",
        "seed",
        "step",
        "arch",
        "search_metric",
        "reported_metric",
        "reward",
        "status",
    ] {
        assert!(
            header.iter().any(|h| h == column),
            "column {column} missing"
        );
    }
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r[1] == "4"));
    let resolved = std::fs::read_to_string(run.join("experiment.toml")).unwrap();
    assert!(
        resolved.contains("seed = 4") && resolved.contains("evaluations = 40"),
        "{resolved}"
    );
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("best.json")).unwrap()).unwrap();
    assert!(best["reported_metric"].as_f64().is_some());
    assert!(
        best["graph"]["nodes"]
            .as_array()
            .is_some_and(|n| n.len() > 100)
    );
    assert!(stdout(&out).contains("Best architecture"));
    let svg = std::fs::read_to_string(run.join("best_so_far.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("evolution"));
}

#[test]
fn the_same_file_and_seed_give_the_same_evaluations() {
    let dir = tempfile::tempdir().unwrap();
    // One run at a time, then two in parallel: the ledger must not depend on scheduling.
    for (out, jobs) in [("a", "1"), ("b", "2")] {
        let args = [
            "compare",
            &exp("tabular-example.toml"),
            "--seeds",
            "4",
            "--jobs",
            jobs,
            "--out",
            out,
        ];
        archforge_ok(dir.path(), &args);
    }
    let a = ledger_without_wall_time(&dir.path().join("a"));
    assert!(!a.is_empty());
    assert_eq!(a, ledger_without_wall_time(&dir.path().join("b")));
    let summary =
        |d: &str| std::fs::read_to_string(dir.path().join(d).join("summary.csv")).unwrap();
    assert_eq!(summary("a"), summary("b"));
    let o = archforge(
        dir.path(),
        &[
            "compare",
            &exp("tabular-example.toml"),
            "--seeds",
            "4",
            "--seed",
            "9",
            "--out",
            "c",
        ],
    );
    assert!(o.status.success());
    assert_ne!(a, ledger_without_wall_time(&dir.path().join("c")));
}

#[test]
fn compare_reports_every_controller_against_random_search() {
    let dir = tempfile::tempdir().unwrap();
    archforge_ok(
        dir.path(),
        &[
            "compare",
            &exp("nb201-compare.toml"),
            "--seeds",
            "3",
            "--budget",
            "60",
            "--out",
            "r",
        ],
    );
    let (header, rows) = read_csv(&dir.path().join("r/summary.csv"));
    assert_eq!(header[..3], ["controller", "evaluations", "runs"]);
    let ri = header
        .iter()
        .position(|h| h == "relative_improvement")
        .unwrap();
    // Checkpoints above the overridden budget are dropped; the budget itself is reported.
    let keys: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    let controllers = [
        "random",
        "evolution",
        "reinforce",
        "ppo",
        "mcts",
        "mcts-bisection",
        "smbo",
    ];
    let expected: Vec<(String, String)> = controllers
        .iter()
        .flat_map(|c| ["50", "60"].map(|b| (c.to_string(), b.to_string())))
        .collect();
    assert_eq!(keys, expected);
    assert!(rows.iter().all(|r| r[2] == "3"));
    assert!(
        rows.iter()
            .filter(|r| r[0] == "random")
            .all(|r| r[ri].parse::<f64>().unwrap() == 0.0)
    );
    // Each difference from random search lies inside its own 95 % interval.
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (diff, low, high) = (
        column("diff_vs_random"),
        column("diff_low"),
        column("diff_high"),
    );
    for r in &rows {
        let [d, l, h] = [diff, low, high].map(|c| r[c].parse::<f64>().unwrap());
        assert!(l <= d && d <= h, "{r:?}");
        if r[0] == "random" {
            assert_eq!(d, 0.0);
            assert!(l < 0.0 && h > 0.0, "{r:?}");
        }
    }
    let (_, ledger) = read_csv(&dir.path().join("r/evaluations.csv"));
    assert_eq!(ledger.len(), controllers.len() * 3 * 60);
    assert!(dir.path().join("r/reward_curve.svg").exists());
    let (_, front) = read_csv(&dir.path().join("r/pareto_params.csv"));
    assert!(!front.is_empty());
    let md = std::fs::read_to_string(dir.path().join("r/summary.md")).unwrap();
    assert!(md.contains("| evolution | 60 | 3 |"), "{md}");
}

#[test]
fn free_duplicates_and_invalid_rows_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    archforge_ok(
        dir.path(),
        &[
            "compare",
            &exp("tabular-example.toml"),
            "--seeds",
            "3",
            "--out",
            "r",
        ],
    );
    let (header, rows) = read_csv(&dir.path().join("r/evaluations.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // Each run ends at 12 counted evaluations or once 1,500 simulated seconds are spent;
    // repeats served by the cache are recorded but neither counted nor charged.
    for controller in ["random", "evolution"] {
        for seed in ["0", "1", "2"] {
            let run: Vec<_> = rows
                .iter()
                .filter(|r| {
                    r[col("controller")] == controller
                        && r[col("seed")] == seed
                        && r[col("counted")] == "true"
                })
                .collect();
            let seconds: f64 = run
                .iter()
                .map(|r| r[col("simulated_seconds")].parse::<f64>().unwrap())
                .sum();
            assert!(
                run.len() == 12 || seconds >= 1500.0,
                "{controller} {seed}: {} evaluations, {seconds} s",
                run.len()
            );
            assert!(
                run.len() <= 12
                    && seconds
                        - run.last().unwrap()[col("simulated_seconds")]
                            .parse::<f64>()
                            .unwrap()
                        < 1500.0
            );
        }
    }
    let cached: Vec<_> = rows.iter().filter(|r| r[col("cached")] == "true").collect();
    assert!(!cached.is_empty());
    for r in cached {
        assert_eq!(r[col("counted")], "false");
    }
    let invalid: Vec<_> = rows
        .iter()
        .filter(|r| r[col("status")] == "invalid")
        .collect();
    assert!(!invalid.is_empty());
    for r in invalid {
        assert_eq!(r[col("reward")], "0.0");
        assert!(r[col("reason")].contains("not in the table"));
    }
}

#[test]
fn an_existing_run_folder_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("r")).unwrap();
    std::fs::write(dir.path().join("r/keep.txt"), "results").unwrap();
    let o = archforge(
        dir.path(),
        &[
            "run",
            &exp("toy-evolution.toml"),
            "--controller",
            "random",
            "--out",
            "r",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("r/keep.txt")).unwrap(),
        "results"
    );
}

#[test]
fn the_default_run_folder_is_under_runs() {
    let dir = tempfile::tempdir().unwrap();
    archforge_ok(
        dir.path(),
        &["run", &exp("nb201-random.toml"), "--budget", "5"],
    );
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .collect();
    assert_eq!(runs.len(), 1);
    let name = runs[0]
        .as_ref()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("nb201-random-20"), "{name}");
}

#[test]
fn a_killed_run_keeps_every_evaluation_already_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(archforge_tests::binary())
        .args([
            "compare",
            &exp("nb201-compare.toml"),
            "--seeds",
            "100000",
            "--jobs",
            "2",
            "--out",
            "r",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ledger = dir.path().join("r/evaluations.csv");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&ledger).map_or(0, |t| t.lines().count()) < 500 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run wrote nothing in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // What the killed process wrote last may be a torn tail, without its line break; every
    // row before it is whole, and reading the ledger leaves the tail out.
    let text = std::fs::read_to_string(&ledger).unwrap();
    let whole = &text[..text.rfind('\n').unwrap() + 1];
    let fields = whole.lines().next().unwrap().split(',').count();
    assert!(whole.lines().count() >= 500);
    assert!(
        whole.lines().all(|l| l.split(',').count() >= fields),
        "every terminated row is whole"
    );
    let rows = archforge::ledger::Ledger::read(&ledger).unwrap();
    assert_eq!(rows.len(), whole.lines().count() - 1);
    assert!(!dir.path().join("r/summary.csv").exists());
}

#[test]
fn runs_that_end_early_count_with_their_final_best_at_every_checkpoint() {
    // With 1,500 simulated seconds, no run reaches 30 evaluations; the summary still reports
    // every controller at 10, 20 and 30 over all 3 runs.
    let dir = tempfile::tempdir().unwrap();
    archforge_ok(
        dir.path(),
        &[
            "compare",
            &exp("tabular-example.toml"),
            "--seeds",
            "3",
            "--budget",
            "30",
            "--out",
            "r",
        ],
    );
    let (_, ledger) = read_csv(&dir.path().join("r/evaluations.csv"));
    assert!(ledger.len() < 2 * 3 * 30);
    let (_, rows) = read_csv(&dir.path().join("r/summary.csv"));
    let keys: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("random", "10", "3"),
            ("random", "20", "3"),
            ("random", "30", "3"),
            ("evolution", "10", "3"),
            ("evolution", "20", "3"),
            ("evolution", "30", "3"),
        ]
    );
}

#[test]
fn standalone_training_scores_real_networks() {
    let dir = tempfile::tempdir().unwrap();
    archforge_ok(
        dir.path(),
        &[
            "run",
            &exp("digits-nb201-standalone.toml"),
            "--budget",
            "2",
            "--out",
            "r",
        ],
    );
    let (header, rows) = read_csv(&dir.path().join("r/evaluations.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r[col("status")], "ok", "{r:?}");
        // Trained networks tell the ten digits apart far better than chance.
        let valid: f64 = r[col("search_metric")].parse().unwrap();
        let test: f64 = r[col("reported_metric")].parse().unwrap();
        assert!(valid > 60.0 && test > 60.0, "{valid} {test}");
        assert!(r[col("latency_ms")].parse::<f64>().unwrap() > 0.0);
        assert!(r[col("params")].parse::<u64>().unwrap() > 1000);
    }
    let resolved = std::fs::read_to_string(dir.path().join("r/experiment.toml")).unwrap();
    assert!(
        resolved.contains("[training]") && resolved.contains("[data]"),
        "{resolved}"
    );
}

#[test]
fn weight_sharing_runs_repeat_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for out in ["a", "b"] {
        let args = [
            "run",
            &exp("digits-nb201-supernet-evolution.toml"),
            "--budget",
            "12",
            "--out",
            out,
        ];
        archforge_ok(dir.path(), &args);
    }
    let a = ledger_without_wall_time(&dir.path().join("a"));
    assert_eq!(a.len(), 12);
    assert_eq!(a, ledger_without_wall_time(&dir.path().join("b")));
}

#[test]
fn finalists_are_retrained_and_the_best_keeps_its_weights() {
    let dir = tempfile::tempdir().unwrap();
    let o = archforge_ok(
        dir.path(),
        &[
            "run",
            &exp("digits-nb201-supernet-random.toml"),
            "--budget",
            "6",
            "--out",
            "r",
        ],
    );
    assert!(stdout(&o).contains("Finalists retrained stand-alone"));
    let (header, rows) = read_csv(&dir.path().join("r/finalists.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 2);
    assert_ne!(
        rows[0][col("hash")],
        rows[1][col("hash")],
        "finalists are distinct functions"
    );
    for r in &rows {
        assert_eq!(r[col("status")], "ok");
        assert!(
            r[col("reported_metric")].parse::<f64>().unwrap() > 80.0,
            "{r:?}"
        );
    }
    for f in [
        "final_best.safetensors",
        "final_best.json",
        "final_best.dot",
    ] {
        assert!(dir.path().join("r").join(f).exists(), "{f} missing");
    }
}

#[test]
fn enas_derives_its_finalists_from_the_final_policy() {
    let dir = tempfile::tempdir().unwrap();
    let file = exp("digits-nb201-enas.toml");
    let args = [
        "run",
        &file,
        "--controller",
        "reinforce",
        "--budget",
        "20",
        "--out",
        "e",
    ];
    archforge_ok(dir.path(), &args);
    let (header, derived) = read_csv(&dir.path().join("e/derived.csv"));
    assert_eq!(derived.len(), 10, "[final] derive = 10");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let hash = col("hash");
    assert!(
        derived.iter().all(|r| r[col("status")] == "ok"),
        "{derived:?}"
    );
    let (f_header, finalists) = read_csv(&dir.path().join("e/finalists.csv"));
    let f_hash = f_header.iter().position(|h| h == "hash").unwrap();
    assert_eq!(finalists.len(), 2);
    for f in &finalists {
        assert!(
            derived.iter().any(|r| r[hash] == f[f_hash]),
            "finalist {} is not a derived cell",
            f[f_hash]
        );
    }

    // ENAS scores with the weights as they stand: a cache in front is refused at load.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("cache = \"off\"", "");
    std::fs::write(dir.path().join("cached.toml"), text).unwrap();
    let o = archforge(
        dir.path(),
        &["run", "cached.toml", "--controller", "reinforce"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("stale scores"), "{}", stderr(&o));
}

#[test]
fn train_writes_weights_and_its_resolved_file_trains_again() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train",
        &exp("digits-nb201-standalone.toml"),
        "--arch",
        "3-2-1-4-0-3",
        "--out",
        "t",
    ];
    archforge_ok(dir.path(), &args);
    let trained: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("t/trained.json")).unwrap())
            .unwrap();
    assert!(
        trained["test_accuracy"].as_f64().unwrap() > 80.0,
        "{trained}"
    );
    for f in [
        "weights.safetensors",
        "arch.json",
        "arch.dot",
        "experiment.toml",
    ] {
        assert!(dir.path().join("t").join(f).exists(), "{f} missing");
    }
    let resolved = dir.path().join("t/experiment.toml").display().to_string();
    archforge_ok(
        dir.path(),
        &["train", &resolved, "--arch", "3-2-1-4-0-3", "--out", "u"],
    );
    let retrained: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("u/trained.json")).unwrap())
            .unwrap();
    assert_eq!(trained["test_accuracy"], retrained["test_accuracy"]);
    let bad = archforge(
        dir.path(),
        &[
            "train",
            &exp("digits-nb201-standalone.toml"),
            "--arch",
            "3-2",
            "--out",
            "v",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("the sequence is incomplete"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn rank_check_writes_correlations_for_every_scorer() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
name = "rc"
[environment]
kind = "nb201"
channels = 4
cells = 1
[evaluator]
kind = "supernet"
warmup_epochs = 1
train_steps = 2
bn_batches = 2
valid_batches = 2
[data]
subset = { train = 256, valid = 128 }
[training]
epochs = 2
[budget]
evaluations = 1
[[controller]]
kind = "random"
"#;
    std::fs::write(dir.path().join("rc.toml"), text).unwrap();
    archforge_ok(
        dir.path(),
        &["rank-check", "rc.toml", "--archs", "4", "--out", "r"],
    );
    let (header, rows) = read_csv(&dir.path().join("r/rank_summary.csv"));
    assert_eq!(
        header,
        [
            "scorer",
            "architectures",
            "failed",
            "kendall",
            "kendall_low",
            "kendall_high",
            "spearman",
            "spearman_low",
            "spearman_high",
            "seconds_per_arch"
        ]
    );
    assert!(rows.iter().all(|r| r[1] == "4" && r[2] == "0"));
    let scorers: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        scorers,
        [
            "supernet",
            "params",
            "conv_edges",
            "synflow",
            "grad_norm",
            "snip",
            "jacob_cov",
            "naswot",
            "supernet+params",
            "supernet+naswot",
            "seed_to_seed"
        ]
    );
    for r in &rows {
        if let (Ok(t), Ok(l), Ok(h)) = (
            r[3].parse::<f64>(),
            r[4].parse::<f64>(),
            r[5].parse::<f64>(),
        ) {
            assert!(l <= t + 1e-9 && t <= h + 1e-9, "{r:?}");
        }
    }
    let (header, pairs) = read_csv(&dir.path().join("r/rank_differences.csv"));
    assert_eq!(header[..3], ["scorer", "against", "kendall_difference"]);
    assert_eq!(pairs.len(), 11 * 10 / 2, "every two scorers once");
    assert!(dir.path().join("r/supernet.safetensors").exists());
    let (header, scored) = read_csv(&dir.path().join("r/rank_check.csv"));
    assert_eq!(scored.len(), 4);
    let hashes: std::collections::HashSet<&str> = scored.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(hashes.len(), 4, "distinct canonical hashes");
    assert!(dir.path().join("r/rank_scatter.svg").exists());
    let (_, truth) = read_csv(&dir.path().join("r/standalone.csv"));
    assert_eq!(truth.len(), 4, "the ground truth is kept as it is trained");

    // The same ground truth, reused: only the supernet is trained again (with other settings).
    let retuned = text.replace("train_steps = 2", "train_steps = 0");
    std::fs::write(dir.path().join("rc2.toml"), retuned).unwrap();
    archforge_ok(
        dir.path(),
        &[
            "rank-check",
            "rc2.toml",
            "--truth",
            "r/standalone.csv",
            "--out",
            "t",
        ],
    );
    let (_, again) = read_csv(&dir.path().join("t/rank_check.csv"));
    let seeds = header.iter().position(|h| h == "standalone_seed1").unwrap();
    let truth_of = |rows: &[Vec<String>]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|r| (r[1].clone(), r[seeds].clone(), r[seeds + 1].clone()))
            .collect()
    };
    assert_eq!(truth_of(&scored), truth_of(&again));
    assert!(!dir.path().join("t/standalone.csv").exists());

    // Scored by the warmed-up supernet kept on disk, without warming up again: where nothing
    // trains the paths, the scores are those of the supernet just after its warm-up.
    archforge_ok(
        dir.path(),
        &[
            "rank-check",
            "rc2.toml",
            "--truth",
            "r/standalone.csv",
            "--supernet",
            "t/supernet.safetensors",
            "--out",
            "w",
        ],
    );
    let supernet = header.iter().position(|h| h == "supernet").unwrap();
    let (_, kept) = read_csv(&dir.path().join("w/rank_check.csv"));
    let scores =
        |rows: &[Vec<String>]| rows.iter().map(|r| r[supernet].clone()).collect::<Vec<_>>();
    assert_eq!(scores(&again), scores(&kept));
    assert!(!dir.path().join("w/supernet.safetensors").exists());

    // A truth file from another space is refused before anything is trained.
    let other = text.replace("kind = \"nb201\"", "kind = \"toy\"");
    std::fs::write(dir.path().join("rc3.toml"), other).unwrap();
    let refused = archforge(
        dir.path(),
        &[
            "rank-check",
            "rc3.toml",
            "--truth",
            "r/standalone.csv",
            "--out",
            "u",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    let too_few = archforge(
        dir.path(),
        &["rank-check", "rc.toml", "--archs", "2", "--out", "s"],
    );
    assert_eq!(too_few.status.code(), Some(1));

    // Trainings that diverge are recorded as failed and never reach a correlation; the
    // supernet's diverging warm-up ends the check with one clear error.
    let diverging = text.replace("epochs = 2", "epochs = 2\nlearning_rate = 1e30");
    std::fs::write(dir.path().join("rc4.toml"), diverging).unwrap();
    let failed = archforge(
        dir.path(),
        &["rank-check", "rc4.toml", "--archs", "3", "--out", "v"],
    );
    assert_eq!(failed.status.code(), Some(1));
    let err = stderr(&failed);
    assert!(err.contains("the supernet's warm-up failed"), "{err}");
    let (header, truth) = read_csv(&dir.path().join("v/standalone.csv"));
    let status = header.iter().position(|h| h == "status").unwrap();
    assert!(truth.iter().all(|r| r[status] == "failed"), "{truth:?}");
    assert!(
        truth.iter().all(|r| !r.iter().any(|v| v == "NaN")),
        "{truth:?}"
    );
    assert!(!dir.path().join("v/rank_summary.csv").exists());
}

#[test]
fn a_policy_that_diverges_ends_the_run_with_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(experiments_dir().join("nb201-reinforce.toml"))
        .unwrap()
        .replace("learning_rate = 0.0035", "learning_rate = 1e308");
    std::fs::write(dir.path().join("r.toml"), text).unwrap();
    let o = archforge(dir.path(), &["run", "r.toml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("controller `reinforce`") && err.contains("no longer finite"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // What was evaluated before is kept.
    let (_, rows) = read_csv(&dir.path().join("out/evaluations.csv"));
    assert!(!rows.is_empty() && rows.len() < 300);
}

#[test]
fn finalists_leave_a_table_search_with_the_benchmarks_counts_and_need_networks() {
    let dir = tempfile::tempdir().unwrap();
    let text = "seed = 0\n[environment]\nkind = \"nb201\"\n[budget]\nevaluations = 3\n[[controller]]\nkind = \"random\"\n[final]\ntop_k = 1\nepochs = 1\n[data]\nsubset = { train = 64 }\n";
    std::fs::write(dir.path().join("f.toml"), text).unwrap();
    let plain = &text[..text.find("[final]").unwrap()];
    std::fs::write(dir.path().join("g.toml"), plain).unwrap();
    archforge_ok(dir.path(), &["run", "f.toml", "--out", "r"]);
    archforge_ok(dir.path(), &["run", "g.toml", "--out", "g"]);
    // The CIFAR skeleton's counts, as the benchmark reports them, whatever the finalists
    // are retrained on.
    let counts = |folder: &str| {
        let (header, rows) = read_csv(&dir.path().join(folder).join("evaluations.csv"));
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        rows.iter()
            .map(|r| (r[col("params")].clone(), r[col("macs")].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(counts("r"), counts("g"));
    let (_, finalists) = read_csv(&dir.path().join("r/finalists.csv"));
    assert_eq!(finalists.len(), 1);

    let table = std::fs::read_to_string(experiments_dir().join("tabular-example.toml"))
        .unwrap()
        .replace(
            "tabular-example.csv",
            &experiments_dir()
                .join("tabular-example.csv")
                .display()
                .to_string(),
        )
        + "\n[final]\ntop_k = 1\n";
    std::fs::write(dir.path().join("t.toml"), table).unwrap();
    let refused = archforge(dir.path(), &["compare", "t.toml", "--out", "t"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("not networks that can be trained"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn train_sizes_a_table_spaces_network_for_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[environment]\nkind = \"nb201\"\nchannels = 4\ncells = 1\n[budget]\nevaluations = 3\n[[controller]]\nkind = \"random\"\n[training]\nepochs = 1\n";
    std::fs::write(dir.path().join("t.toml"), text).unwrap();
    archforge_ok(
        dir.path(),
        &["train", "t.toml", "--arch", "3-3-3-3-3-3", "--out", "t"],
    );
    let trained: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("t/trained.json")).unwrap())
            .unwrap();
    // The digits are 1x8x8: the stem reads one channel, and MACs are those of 8x8 maps.
    let arch = std::fs::read_to_string(dir.path().join("t/arch.json")).unwrap();
    assert!(
        arch.contains("\"channels\": 1"),
        "the input is the digits' one channel"
    );
    assert!(
        trained["test_accuracy"].as_f64().unwrap() > 20.0,
        "{trained}"
    );
}

#[test]
fn a_relative_latency_target_resolves_on_this_machine_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("latency-table.json");
    let file = dir.path().join("relative.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "relative-target"
seed = 3

[environment]
kind = "nb201"
channels = 4
cells = 1

[evaluator]
kind = "standalone"

[objective]
kind = "mnas"
target = {{ quantile = 0.5, samples = 40 }}
latency = "table"
latency_table = "{}"
preset = "hard"

[data]
source = "digits"

[training]
epochs = 1

[budget]
evaluations = 2

[[controller]]
kind = "random"
"#,
            table.display()
        ),
    )
    .unwrap();
    let resolved = |out: &str| -> serde_json::Value {
        let run = archforge_ok(dir.path(), &["run", "relative.toml", "--out", out]);
        assert!(
            stderr(&run).contains("latency target: T = "),
            "{}",
            stderr(&run)
        );
        let text = std::fs::read_to_string(dir.path().join(out).join("latency_target.json"));
        serde_json::from_str(&text.unwrap()).unwrap()
    };
    let first = resolved("a");
    let number = |v: &serde_json::Value, key: &str| v[key].as_f64().unwrap();
    let t = number(&first, "target_ms");
    assert!(number(&first, "fastest_ms") <= t && t <= number(&first, "slowest_ms"));
    assert!(number(&first, "fastest_ms") < number(&first, "slowest_ms"));
    assert_eq!(first["samples"], 40);
    // Each run's share of its later evaluations under T and its best model there.
    let (header, runs) = read_csv(&dir.path().join("a/under_target.csv"));
    assert_eq!(runs.len(), 1);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let r = &runs[0];
    assert_eq!(
        (r[at("evaluations")].as_str(), r[at("late")].as_str()),
        ("2", "1")
    );
    let target: f64 = r[at("target_ms")].parse().unwrap();
    assert!((target - t).abs() < 1e-9);
    if let Ok(latency) = r[at("best_latency_ms")].parse::<f64>() {
        assert!(latency <= t, "{r:?}");
    }
    // The table is kept: the same file on the same machine resolves to the same T.
    assert!(table.exists());
    assert_eq!(resolved("b"), first);
    // Both ways of giving a target at once are refused in one line.
    let both = std::fs::read_to_string(&file)
        .unwrap()
        .replace("kind = \"mnas\"", "kind = \"mnas\"\ntarget_ms = 1.0");
    std::fs::write(&file, both).unwrap();
    let refused = archforge(dir.path(), &["run", "relative.toml", "--out", "c"]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("target_ms or target, not both"),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "{message}");
}
