//! Network transformation end to end: the shipped digits file grows networks with the eas
//! agent and with random morphs on real training, repeats exactly, and writes its lineage —
//! each child's parent an earlier evaluation of its run, whose network its decisions extend.

use archforge_tests::{archforge_ok, experiments_dir, read_csv, read_csv_without};
use std::path::Path;

/// The shipped digits file, shortened to the seed and 2 episodes of 5 children per run.
fn short_file(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(experiments_dir().join("digits-netmorph-eas.toml"))
        .unwrap()
        .replace("seed_epochs = 6", "seed_epochs = 2")
        .replace("evaluations = 26", "evaluations = 11");
    let path = dir.join("netmorph.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn eas_and_random_morphs_grow_networks_on_real_training_and_repeat_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let file = short_file(dir.path());
    let file = file.to_str().unwrap();
    for out in ["a", "b"] {
        archforge_ok(dir.path(), &["compare", file, "--seeds", "1", "--out", out]);
    }
    let timed = |h: &str| h.contains("seconds") || h.contains("latency");
    let untimed =
        |out: &str| read_csv_without(&dir.path().join(out).join("evaluations.csv"), timed).1;
    assert_eq!(
        untimed("a"),
        untimed("b"),
        "the same file and seed give the same rows"
    );

    let (header, rows) = read_csv(&dir.path().join("a/lineage.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (controller, step, parent, status) =
        (col("controller"), col("step"), col("parent"), col("status"));
    let (ledger_header, ledger) = read_csv(&dir.path().join("a/evaluations.csv"));
    let decisions = ledger_header.iter().position(|h| h == "decisions").unwrap();
    let ledger_step = ledger_header.iter().position(|h| h == "step").unwrap();
    let ledger_controller = ledger_header
        .iter()
        .position(|h| h == "controller")
        .unwrap();
    let decisions_of = |c: &str, s: &str| -> Vec<usize> {
        let row = ledger
            .iter()
            .find(|r| r[ledger_controller] == c && r[ledger_step] == s)
            .unwrap();
        row[decisions]
            .split('-')
            .map(|d| d.parse().unwrap())
            .collect()
    };
    for name in ["eas", "random"] {
        let run: Vec<_> = rows.iter().filter(|r| r[controller] == name).collect();
        assert_eq!(run.len(), 11, "{name}");
        assert!(
            run.iter().filter(|r| r[status] == "ok").count() >= 10,
            "{name}: {run:?}"
        );
        for r in &run {
            if r[parent].is_empty() {
                continue;
            }
            // The parent came first, and the child's decisions extend the parent's network.
            let (p, s): (u64, u64) = (r[parent].parse().unwrap(), r[step].parse().unwrap());
            assert!(p < s, "{name}: {r:?}");
            let parent = decisions_of(name, &r[parent]);
            let child = decisions_of(name, &r[step]);
            assert!(
                child.starts_with(&parent[..parent.len() - 1]),
                "{name}: {r:?}"
            );
        }
    }
    // The agent's first proposal is the seed; its children grow from it.
    let eas: Vec<_> = rows.iter().filter(|r| r[controller] == "eas").collect();
    assert_eq!(eas[0][col("arch")], "seed");
    assert!(eas[1..6].iter().all(|r| r[parent] == "1"), "{eas:?}");
    for picture in ["lineage.dot", "lineage.svg"] {
        let text = std::fs::read_to_string(dir.path().join("a").join(picture)).unwrap();
        assert!(text.contains("eas, seed 0"), "{picture}");
    }
}

#[test]
fn a_grown_network_trains_from_scratch_outside_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = short_file(dir.path());
    let file = file.to_str().unwrap();
    // Grow: widen conv0, insert a 3x3 layer after pool0 (place 2); stop.
    let out = archforge_ok(
        dir.path(),
        &["train", file, "--arch", "1-1-0-0-0-0-2-1-0", "--out", "t"],
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("t/trained.json")).unwrap())
            .unwrap();
    assert_eq!(summary["arch"], "conv0>8,+3x3@pool0", "{out:?}");
    assert!(summary["valid_accuracy"].as_f64().unwrap() > 0.0);
}
