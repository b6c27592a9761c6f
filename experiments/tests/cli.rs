//! The binary's handling of bad command lines and bad experiment files: one line on stderr
//! naming the file and place, exit code 1, no panic, nothing written.

use std::path::Path;
use std::process::{Command, Output};

fn archforge(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_archforge"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary starts")
}

const GOOD: &str = r#"name = "t"
[environment]
kind = "toy"
[budget]
evaluations = 10
[[controller]]
kind = "random"
"#;

/// Runs `args` on an experiment file with `text`, expecting failure; returns stderr.
fn fails(text: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exp.toml"), text).unwrap();
    let mut all = args.to_vec();
    all.push("exp.toml");
    all.extend(["--out", "out"]);
    let out = archforge(dir.path(), &all);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !dir.path().join("out").exists(),
        "nothing is written on a bad file"
    );
    err
}

#[test]
fn unknown_keys_and_names_point_into_the_file() {
    let err = fails(
        &GOOD.replace("evaluations = 10", "evaluations = 10\nevals = 3"),
        &["run"],
    );
    assert!(err.contains("exp.toml:6:1: unknown field `evals`"), "{err}");
    let err = fails(&GOOD.replace("\"random\"", "\"randm\""), &["compare"]);
    assert!(
        err.contains("exp.toml:7:8: unknown variant `randm`") && err.contains("`evolution`"),
        "{err}"
    );
    let err = fails(&GOOD.replace("\"toy\"", "\"nb202\""), &["run"]);
    assert!(
        err.contains("exp.toml:3:8: unknown variant `nb202`") && err.contains("`nb201`, `mnasnet`"),
        "{err}"
    );
}

#[test]
fn impossible_settings_are_refused_before_running() {
    let err = fails(
        &GOOD.replace("evaluations = 10", "evaluations = 0"),
        &["run"],
    );
    assert!(
        err.contains("exp.toml:5:1: the budget must allow at least 1 evaluation"),
        "{err}"
    );
    let err = fails(
        &format!("seed = 18446744073709551615\n{GOOD}"),
        &["compare", "--seeds", "3"],
    );
    assert!(err.contains("overflow"), "{err}");
    let missing = GOOD.replace(
        "kind = \"toy\"",
        "kind = \"tabular\"\ncsv = \"nope.csv\"\nsearch_metric = \"a\"\nreported_metric = \"b\"\ndecisions = [{ column = \"x\" }]",
    );
    let err = fails(&missing, &["run"]);
    assert!(
        err.contains("nope.csv") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn a_table_without_the_named_columns_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "x,acc\n1,2\n").unwrap();
    let text = GOOD.replace(
        "kind = \"toy\"",
        "kind = \"tabular\"\ncsv = \"t.csv\"\nsearch_metric = \"acc\"\nreported_metric = \"test\"\ndecisions = [{ column = \"x\" }]",
    );
    std::fs::write(dir.path().join("exp.toml"), text).unwrap();
    let out = archforge(dir.path(), &["run", "exp.toml", "--out", "out"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("no column `test` (columns: x, acc)"), "{err}");
}

#[test]
fn run_needs_one_controller_and_a_known_name() {
    let two = format!("{GOOD}[[controller]]\nkind = \"evolution\"\n");
    let err = fails(&two, &["run"]);
    assert!(
        err.contains("pick one with --controller (random, evolution)"),
        "{err}"
    );
    let err = fails(&two, &["run", "--controller", "mcts"]);
    assert!(err.contains("unknown controller `mcts`"), "{err}");
}

#[test]
fn a_missing_file_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = archforge(dir.path(), &["run", "missing.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.starts_with("error: missing.toml: cannot read the experiment file"),
        "{err}"
    );
}

#[test]
fn list_names_every_registered_part() {
    let out = archforge(Path::new("."), &["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for name in [
        "nb201",
        "tabular",
        "toy",
        "random",
        "evolution",
        "table",
        "search-metric",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[test]
fn bad_flags_are_blamed_on_the_flag() {
    let err = fails(GOOD, &["run", "--budget", "0"]);
    assert!(
        err.contains("error: --budget: must allow at least 1 evaluation"),
        "{err}"
    );
    let err = fails(GOOD, &["compare", "--seeds", "0"]);
    assert!(err.contains("error: --seeds: must be at least 1"), "{err}");
    let err = fails(
        GOOD,
        &["compare", "--seeds", "3", "--seed", "18446744073709551614"],
    );
    assert!(
        err.contains("error: --seed: seeds") && err.contains("overflow"),
        "{err}"
    );
    let err = fails(GOOD, &["compare", "--seeds", "4000000000"]);
    assert!(err.contains("error: --seeds: at most"), "{err}");
}

#[test]
fn unknown_evaluator_keys_and_unsafe_names_are_refused() {
    let err = fails(
        &GOOD.replace("[budget]", "[evaluator]\nkind = \"table\"\nx = 1\n[budget]"),
        &["run"],
    );
    assert!(err.contains("exp.toml:6:1: unknown field `x`"), "{err}");
    let err = fails(&GOOD.replace("name = \"t\"", "name = \"../t\""), &["run"]);
    assert!(err.contains("exp.toml:1:1: name may only hold"), "{err}");
}

#[test]
fn training_settings_are_checked() {
    let standalone = GOOD
        .replace(
            "kind = \"toy\"",
            "kind = \"nb201\"\nchannels = 4\ncells = 1",
        )
        .replace(
            "[budget]",
            "[evaluator]\nkind = \"standalone\"\n[training]\nepochs = 0\n[budget]",
        );
    let err = fails(&standalone, &["run"]);
    assert!(
        err.contains("exp.toml:9:1: epochs must be at least 1"),
        "{err}"
    );
    let tabular_trained = GOOD.replace("[budget]", "[evaluator]\nkind = \"standalone\"\n[budget]");
    let err = fails(&tabular_trained, &["run"]);
    assert!(
        err.contains(
            "needs an environment whose candidates are networks with shapes; `toy` has none"
        ),
        "{err}"
    );
}

#[test]
fn numbers_that_are_not_numbers_are_refused_in_training_settings() {
    for (key, value) in [
        ("weight_decay", "nan"),
        ("step_gamma", "-1.0"),
        ("grad_clip", "nan"),
    ] {
        let text = GOOD
            .replace(
                "kind = \"toy\"",
                "kind = \"nb201\"\nchannels = 4\ncells = 1",
            )
            .replace(
                "[budget]",
                &format!(
                    "[evaluator]\nkind = \"standalone\"\n[training]\n{key} = {value}\n[budget]"
                ),
            );
        let err = fails(&text, &["run"]);
        assert!(
            err.contains(&format!("exp.toml:9:1: {key} must be")),
            "{key}: {err}"
        );
    }
}

#[test]
fn ppo_settings_are_refused_on_reinforce_and_filled_in_for_ppo() {
    let reinforce = GOOD.replace("kind = \"random\"", "kind = \"reinforce\"\nclip = 0.3");
    let err = fails(&reinforce, &["run"]);
    assert!(
        err.contains("exp.toml:8:1: clip is a setting of `ppo` only"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let ppo = GOOD.replace("kind = \"random\"", "kind = \"ppo\"\nbatch = 4");
    std::fs::write(dir.path().join("exp.toml"), ppo).unwrap();
    let file =
        archforge_experiments::config::ExperimentFile::load(&dir.path().join("exp.toml")).unwrap();
    let resolved = file.resolved_toml();
    assert!(
        resolved.contains("epochs = 4")
            && resolved.contains("minibatch = 4")
            && resolved.contains("clip = 0.2"),
        "{resolved}"
    );
}

#[test]
fn keeping_weights_needs_an_evaluator_that_trains() {
    let text = GOOD.replace(
        "evaluations = 10",
        "evaluations = 10\nkeep_weights = \"best\"",
    );
    let err = fails(&text, &["run"]);
    assert!(
        err.contains("exp.toml:6:1: keep_weights keeps trained weights"),
        "{err}"
    );
}
