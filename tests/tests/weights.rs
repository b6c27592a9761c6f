//! Weights addressed by path, end to end: a supernet run keeps its store, `export` cuts a
//! child out of it and `train --init` loads it back scoring exactly what the supernet scored;
//! `keep_weights` keeps candidates' weights; finalists fine-tune from the supernet; a weights
//! file of another network is refused naming the tensor.

use archforge_tests::{archforge, archforge_ok, read_csv, stderr};
use std::path::Path;

/// A small weight-sharing run on the digits: 64 validation images scored whole by the
/// supernet (one batch of 64), so a loaded child is scored on exactly the same images.
const SUPERNET: &str = r#"
name = "ws"
[environment]
kind = "nb201"
channels = 4
cells = 1
[evaluator]
kind = "supernet"
warmup_epochs = 1
train_steps = 2
bn_batches = 2
valid_batches = 1
[data]
subset = { train = 256, valid = 64, test = 64 }
[training]
epochs = 1
batch_size = 64
[budget]
evaluations = 4
[[controller]]
kind = "random"
"#;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn an_exported_child_loads_and_scores_what_the_supernet_scored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ws.toml"), SUPERNET).unwrap();
    archforge_ok(dir.path(), &["run", "ws.toml", "--out", "run"]);
    assert!(
        dir.path()
            .join("run/weights/supernet-random-seed0.safetensors")
            .exists()
    );
    for arch in ["3-3-3-3-3-3", "2-0-1-4-3-2"] {
        let export = format!("e{arch}");
        archforge_ok(
            dir.path(),
            &["export", "run", "--arch", arch, "--out", &export],
        );
        let exported = json(&dir.path().join(&export).join("export.json"));
        let trained_dir = format!("t{arch}");
        let weights = format!("{export}/weights.safetensors");
        // No step: the loaded network is scored as it came.
        let no_steps = SUPERNET.replace(
            "[training]\nepochs = 1",
            "[training]\nepochs = 1\nsteps = 0",
        );
        std::fs::write(dir.path().join("t.toml"), no_steps).unwrap();
        archforge_ok(
            dir.path(),
            &[
                "train",
                "t.toml",
                "--arch",
                arch,
                "--init",
                &weights,
                "--out",
                &trained_dir,
            ],
        );
        let trained = json(&dir.path().join(&trained_dir).join("trained.json"));
        for (theirs, ours) in [
            ("supernet_valid_accuracy", "initial_valid_accuracy"),
            ("supernet_test_accuracy", "initial_test_accuracy"),
        ] {
            let (a, b) = (
                exported[theirs].as_f64().unwrap(),
                trained[ours].as_f64().unwrap(),
            );
            assert!((a - b).abs() < 1e-6, "{arch} {theirs}: {a} against {b}");
        }
    }
    // A child's file is for that child alone.
    let other = archforge(
        dir.path(),
        &[
            "train",
            "t.toml",
            "--arch",
            "1-1-1-1-1-1",
            "--init",
            "e3-3-3-3-3-3/weights.safetensors",
            "--out",
            "x",
        ],
    );
    assert_eq!(other.status.code(), Some(1));
    let err = stderr(&other);
    assert!(
        err.contains("1-1-1-1-1-1 from e3-3-3-3-3-3/weights.safetensors"),
        "{err}"
    );
    assert!(err.contains("is not a tensor of this network"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Only weight-sharing runs have a supernet to export.
    let table = "[environment]\nkind = \"nb201\"\n[budget]\nevaluations = 3\n[[controller]]\nkind = \"random\"\n";
    std::fs::write(dir.path().join("table.toml"), table).unwrap();
    archforge_ok(dir.path(), &["run", "table.toml", "--out", "table"]);
    for (folder, why) in [
        (
            "table",
            "is not a weight-sharing run (its evaluator is `table`)",
        ),
        ("nowhere", "is not a run folder"),
    ] {
        let refused = archforge(dir.path(), &["export", folder, "--arch", "3-3-3-3-3-3"]);
        assert_eq!(refused.status.code(), Some(1));
        assert!(stderr(&refused).contains(why), "{}", stderr(&refused));
    }
}

#[test]
fn runs_keep_the_weights_they_are_asked_to_and_finalists_fine_tune_from_the_supernet() {
    let dir = tempfile::tempdir().unwrap();
    let all = SUPERNET.replace("evaluations = 4", "evaluations = 4\nkeep_weights = \"all\"");
    std::fs::write(dir.path().join("all.toml"), all).unwrap();
    archforge_ok(dir.path(), &["run", "all.toml", "--out", "all"]);
    for proposal in 0..4 {
        let file = dir
            .path()
            .join(format!("all/weights/random-seed0-{proposal}.safetensors"));
        assert!(file.exists(), "{}", file.display());
    }
    let best = SUPERNET.replace(
        "evaluations = 4",
        "evaluations = 4\nkeep_weights = \"best\"",
    ) + "[final]\ntop_k = 2\nepochs = 1\ninit = \"supernet\"\n";
    std::fs::write(dir.path().join("best.toml"), best).unwrap();
    archforge_ok(dir.path(), &["run", "best.toml", "--out", "best"]);
    let kept: Vec<String> = std::fs::read_dir(dir.path().join("best/weights"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        kept.contains(&"random-seed0-best.safetensors".to_string()),
        "{kept:?}"
    );
    assert_eq!(kept.len(), 2, "the best and the supernet: {kept:?}");
    let (header, finalists) = read_csv(&dir.path().join("best/finalists.csv"));
    let init = header.iter().position(|h| h == "init").unwrap();
    let before = header.iter().position(|h| h == "supernet_valid").unwrap();
    assert_eq!(finalists.len(), 2);
    assert!(
        finalists
            .iter()
            .all(|f| f[init] == "supernet" && !f[before].is_empty())
    );
    // Fine-tuning from a supernet needs a supernet.
    let table = "[environment]\nkind = \"nb201\"\n[budget]\nevaluations = 3\n[[controller]]\nkind = \"random\"\n[final]\ninit = \"supernet\"\n";
    std::fs::write(dir.path().join("table.toml"), table).unwrap();
    let refused = archforge(dir.path(), &["run", "table.toml", "--out", "t"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("table.toml:8:1: init = \"supernet\""),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn a_split_chosen_by_gradient_matching_is_recorded_in_the_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let split = SUPERNET.replace(
        "valid_batches = 1",
        "valid_batches = 1\nsplit = { position = \"gradient\", epochs = 1, gradient_batches = 1 }",
    );
    std::fs::write(dir.path().join("split.toml"), split).unwrap();
    archforge_ok(dir.path(), &["run", "split.toml", "--out", "split"]);
    let resolved = json(&dir.path().join("split/random-seed0-evaluator.json"));
    let similarity = resolved["split"]["similarity"].as_array().unwrap();
    assert_eq!(similarity.len(), 6, "one per edge of the cell: {resolved}");
    let position = resolved["split"]["position"].as_u64().unwrap() as usize;
    let lowest = similarity[position].as_f64().unwrap();
    assert!(
        similarity.iter().all(|s| s.as_f64().unwrap() >= lowest),
        "{resolved}"
    );
}
