//! Tree search spaces end to end: the shipped digits comparison runs every tree controller on
//! real training and repeats exactly; a candidate's learning-rate decision reaches its
//! training; a wrong space is one line naming its file and line; a space with training
//! decisions refuses a supernet.

use archforge_tests::{
    archforge, archforge_ok, experiments_dir, read_csv, read_csv_without, stderr,
};
use std::path::Path;

/// The shipped digits tree comparison, shortened to 1 epoch per candidate.
fn short_file(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(experiments_dir().join("digits-tree-compare.toml"))
        .unwrap()
        .replace("epochs = 4", "epochs = 1");
    let path = dir.join("tree.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_tree_controller_searches_real_training_and_repeats_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let file = short_file(dir.path());
    let file = file.to_str().unwrap();
    for out in ["a", "b"] {
        archforge_ok(
            dir.path(),
            &[
                "compare", file, "--seeds", "1", "--budget", "4", "--out", out,
            ],
        );
    }
    let timed = |h: &str| h.contains("seconds") || h.contains("latency");
    let untimed =
        |out: &str| read_csv_without(&dir.path().join(out).join("evaluations.csv"), timed).1;
    let a = untimed("a");
    assert_eq!(a, untimed("b"), "the same file and seed give the same rows");
    let (header, _) = read_csv(&dir.path().join("a/evaluations.csv"));
    let header: Vec<String> = header.into_iter().filter(|h| !timed(h)).collect();
    let controller = header.iter().position(|h| h == "controller").unwrap();
    let status = header.iter().position(|h| h == "status").unwrap();
    for name in ["random", "mcts", "mcts-bisection", "smbo"] {
        let rows: Vec<_> = a.iter().filter(|r| r[controller] == name).collect();
        assert_eq!(rows.len(), 4, "{name}");
        assert!(rows.iter().any(|r| r[status] == "ok"), "{name}: {rows:?}");
    }
    let (_, summary) = read_csv(&dir.path().join("a/summary.csv"));
    assert!(!summary.is_empty());
}

#[test]
fn a_learning_rate_decision_reaches_the_candidates_training() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
name = "lr"
[environment]
kind = "tree"
space = [{ dense = { units = 8 } }, { activation = {} }]
training = { learning_rate = [0.2, 0.0001] }
[evaluator]
kind = "standalone"
[data]
source = "digits"
[training]
epochs = 2
[budget]
evaluations = 2
[[controller]]
kind = "random"
"#;
    std::fs::write(dir.path().join("lr.toml"), text).unwrap();
    let mut accuracy = Vec::new();
    for arch in ["0", "1"] {
        let out = format!("t{arch}");
        archforge_ok(
            dir.path(),
            &["train", "lr.toml", "--arch", arch, "--out", &out],
        );
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(out).join("trained.json")).unwrap(),
        )
        .unwrap();
        accuracy.push(summary["valid_accuracy"].as_f64().unwrap());
    }
    // Two epochs at 0.2 learn the digits; at 0.0001 the network stays near chance.
    assert!(accuracy[0] > 80.0 && accuracy[1] < 50.0, "{accuracy:?}");
}

#[test]
fn a_wrong_space_or_a_supernet_over_training_decisions_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let body = |space: &str, evaluator: &str| {
        format!(
            "name = \"bad\"\n[environment]\nkind = \"tree\"\nspace = [\n{space}\n]\ntraining = {{ learning_rate = [0.1, 0.01] }}\n[evaluator]\nkind = \"{evaluator}\"\n[data]\nsource = \"digits\"\n[budget]\nevaluations = 2\n[[controller]]\nkind = \"random\"\n"
        )
    };
    let cases = [
        (
            body(
                "  { conv = { filters = [8, 16], kernel = 2 } },",
                "standalone",
            ),
            "bad.toml:5:",
            "`2` is not an odd whole number",
        ),
        (
            body("  { conv = { filters = 8 } },", "supernet"),
            "evaluator `supernet`",
            "use evaluator `standalone`",
        ),
    ];
    for (text, at, says) in cases {
        std::fs::write(dir.path().join("bad.toml"), &text).unwrap();
        let output = archforge(dir.path(), &["run", "bad.toml", "--out", "r"]);
        let err = stderr(&output);
        assert!(!output.status.success());
        assert!(err.contains(at) && err.contains(says), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!dir.path().join("r/evaluations.csv").exists());
    }
}
