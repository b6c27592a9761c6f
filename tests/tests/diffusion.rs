//! The diffusion generator end to end on NAS-Bench-201, with a score network trained briefly:
//! a search keeps its score network in the run folder and a later run that reads it gives
//! the same ledger as the run that trained it; `generate` measures validity, novelty and the
//! effect of guidance; bad settings and a network of another space are refused in one line.

use archforge_tests::{archforge, archforge_ok, read_csv, read_csv_without, stderr};

/// A search of 40 evaluations, its score network trained for 150 steps on 512 samples.
fn file(extra: &str) -> String {
    format!(
        r#"
name = "diff"
[environment]
kind = "nb201"
dataset = "cifar10"
[evaluator]
kind = "table"
[budget]
evaluations = 40
count_duplicates = true
[[controller]]
kind = "diffusion"
pool = 20
steps = 20
predictor = {{ kind = "gcn", hidden = 16, layers = 2, epochs = 40 }}
prior = {{ samples = 512, steps = 150, network = {{ width = 16, layers = 1, heads = 2 }} }}
{extra}
"#
    )
}

#[test]
fn a_kept_score_network_read_back_gives_the_same_search() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.toml"), file("")).unwrap();
    let run = |file: &str, out: &str| {
        archforge_ok(dir.path(), &["compare", file, "--seeds", "2", "--out", out]);
        read_csv_without(&dir.path().join(out).join("evaluations.csv"), |h| {
            h.ends_with("seconds")
        })
        .1
    };
    let first = run("d.toml", "a");
    let kept = dir.path().join("a/diffusion-score-net.safetensors");
    assert!(kept.exists(), "the score network is kept in the run folder");
    assert_eq!(first.len(), 80);
    // The same file again gives the same ledger, and so does one that reads the kept network.
    assert_eq!(run("d.toml", "b"), first);
    std::fs::write(
        dir.path().join("reuse.toml"),
        file("score_net = \"a/diffusion-score-net.safetensors\""),
    )
    .unwrap();
    assert_eq!(run("reuse.toml", "c"), first);
    // The generated rounds are not uniform samples: after the first 10 proposals the
    // searches improve on their first round's best.
    let (header, rows) = read_csv(&dir.path().join("a/evaluations.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (seed, metric) = (col("seed"), col("search_metric"));
    for s in ["0", "1"] {
        let values: Vec<f64> = rows
            .iter()
            .filter(|r| r[seed] == s)
            .map(|r| r[metric].parse().unwrap())
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            mean(&values[10..]) > mean(&values[..10]),
            "seed {s}: generated rounds {} against uniform {}",
            mean(&values[10..]),
            mean(&values[..10])
        );
    }
}

#[test]
fn generate_measures_validity_novelty_and_guidance() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.toml"), file("")).unwrap();
    let out = archforge_ok(
        dir.path(),
        &[
            "generate",
            "d.toml",
            "--count",
            "200",
            "--guidance",
            "1",
            "--train",
            "40",
            "--seeds",
            "4",
            "--out",
            "g",
        ],
    );
    let text = archforge_tests::stdout(&out);
    assert!(text.contains("200 graphs: validity"), "{text}");
    let (header, rows) = read_csv(&dir.path().join("g/generation.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let value = |name: &str| rows[0][col(name)].parse::<f64>().unwrap();
    // Every NAS-Bench-201 graph with the cell's wiring is a legal cell.
    assert_eq!(value("validity"), 1.0);
    assert!(value("uniqueness") > 0.8, "{rows:?}");
    // 512 samples of 15,625 cells: most generated cells are new.
    assert!(value("novelty") > 0.8, "{rows:?}");
    assert!(value("train_seconds") > 0.0);
    let (header, rows) = read_csv(&dir.path().join("g/guidance_summary.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][col("seeds")], "4");
    let difference: f64 = rows[0][col("difference")].parse().unwrap();
    assert!(
        difference > 0.0,
        "guidance raises the pools' mean: {rows:?}"
    );
    let (_, pools) = read_csv(&dir.path().join("g/guidance.csv"));
    assert_eq!(pools.len(), 8);
}

#[test]
fn bad_settings_and_a_network_of_another_space_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |name: &str, text: String, args: &[&str]| {
        std::fs::write(dir.path().join(name), text).unwrap();
        let out = archforge(dir.path(), args);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        err
    };
    let err = refused(
        "ridge.toml",
        file("").replace(
            "predictor = { kind = \"gcn\", hidden = 16, layers = 2, epochs = 40 }",
            "predictor = { kind = \"ridge\" }",
        ),
        &["compare", "ridge.toml", "--out", "r"],
    );
    assert!(
        err.contains("ridge.toml:") && err.contains("differentiable"),
        "{err}"
    );
    let err = refused(
        "heads.toml",
        file("").replace("heads = 2", "heads = 3"),
        &["compare", "heads.toml", "--out", "h"],
    );
    assert!(err.contains("heads"), "{err}");
    // A network kept by a search of the tabular example does not fit NAS-Bench-201.
    let tabular = archforge_tests::experiments_dir().join("tabular-example.toml");
    let text = std::fs::read_to_string(&tabular)
        .unwrap()
        .replacen(
            "[[controller]]",
            "[[controller]]\nkind = \"diffusion\"\nprior = { samples = 64, steps = 5 }\n\n[[controller]]",
            1,
        );
    std::fs::write(dir.path().join("tabular.toml"), text).unwrap();
    std::fs::copy(
        archforge_tests::experiments_dir().join("tabular-example.csv"),
        dir.path().join("tabular-example.csv"),
    )
    .unwrap();
    archforge_ok(
        dir.path(),
        &["compare", "tabular.toml", "--seeds", "1", "--out", "t"],
    );
    let kept = dir.path().join("t/diffusion-score-net.safetensors");
    assert!(kept.exists());
    let err = refused(
        "other.toml",
        file(&format!("score_net = \"{}\"", kept.display())),
        &["compare", "other.toml", "--seeds", "1", "--out", "o"],
    );
    assert!(err.contains("another space"), "{err}");
}
