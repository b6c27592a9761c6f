//! `archforge predictor-check` and `proxy-check` end to end: every predictor of the file
//! trained on random architectures of the NAS-Bench-201 table and scored on the rest, every
//! zero-cost proxy scored on a rank check's trained architectures, the same seed giving the
//! same results, and bad input refused in one line.

use archforge_tests::{archforge, archforge_ok, read_csv, read_csv_without, stderr};

const FILE: &str = r#"
name = "pc"
[environment]
kind = "nb201"
dataset = "cifar10"
[evaluator]
kind = "table"
[budget]
evaluations = 10
[[controller]]
kind = "random"
[[predictor]]
kind = "ridge"
lambda = 10.0
[[predictor]]
kind = "gcn"
hidden = 16
epochs = 60
[[predictor]]
kind = "ensemble"
members = 2
of = { kind = "mlp", hidden = 8, epochs = 20 }
"#;

#[test]
fn predictor_check_scores_every_predictor_on_the_rest_of_the_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pc.toml"), FILE).unwrap();
    let args = |out: &'static str| {
        [
            "predictor-check",
            "pc.toml",
            "--train",
            "40,80",
            "--seeds",
            "2",
            "--out",
            out,
        ]
    };
    archforge_ok(dir.path(), &args("a"));
    let timeless = |h: &str| h.ends_with("_seconds") || h.ends_with("_seconds_mean");
    let (_, rows) = read_csv_without(&dir.path().join("a/predictor_check.csv"), timeless);
    // 2 seeds x 2 sizes x 3 predictors: seed, train, test, predictor, settings, tau, rho, ...
    assert_eq!(rows.len(), 12);
    for r in &rows {
        let train: usize = r[1].parse().unwrap();
        assert_eq!(r[2].parse::<usize>().unwrap(), 15_625 - train);
        let tau: f64 = r[5].parse().unwrap();
        assert!(tau > -1.0 && tau < 1.0, "{r:?}");
    }
    let gcn_tau: Vec<f64> = rows
        .iter()
        .filter(|r| r[3] == "gcn" && r[1] == "80")
        .map(|r| r[5].parse().unwrap())
        .collect();
    assert!(
        gcn_tau.iter().all(|&t| t > 0.3),
        "the graph network learns: {gcn_tau:?}"
    );
    let (_, summary) = read_csv_without(&dir.path().join("a/predictor_summary.csv"), timeless);
    let names: Vec<&str> = summary.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        [
            "ridge",
            "gcn",
            "ensemble-2-mlp",
            "ridge",
            "gcn",
            "ensemble-2-mlp"
        ]
    );

    // The same file and seeds give the same correlations.
    archforge_ok(dir.path(), &args("b"));
    let (_, again) = read_csv_without(&dir.path().join("b/predictor_check.csv"), timeless);
    assert_eq!(rows, again);

    // Bad settings and sizes are refused in one line.
    let bad = FILE.replace("epochs = 60", "epochs = 0");
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let refused = archforge(
        dir.path(),
        &["predictor-check", "bad.toml", "--train", "40", "--out", "c"],
    );
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(err.contains("bad.toml:") && err.contains("epochs"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let too_few = archforge(
        dir.path(),
        &["predictor-check", "pc.toml", "--train", "1", "--out", "d"],
    );
    assert_eq!(too_few.status.code(), Some(1));
    assert!(
        stderr(&too_few).contains("--train 1"),
        "{}",
        stderr(&too_few)
    );
}

const TRAINED: &str = r#"
name = "zc"
[environment]
kind = "nb201"
channels = 4
cells = 1
[evaluator]
kind = "supernet"
warmup_epochs = 1
train_steps = 0
bn_batches = 1
valid_batches = 1
[data]
subset = { train = 256, valid = 128 }
[training]
epochs = 1
[budget]
evaluations = 1
[[controller]]
kind = "random"
"#;

#[test]
fn proxy_check_scores_every_proxy_against_a_rank_check_s_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("zc.toml"), TRAINED).unwrap();
    archforge_ok(
        dir.path(),
        &["rank-check", "zc.toml", "--archs", "5", "--out", "r"],
    );
    let check = |out: &'static str| {
        archforge_ok(
            dir.path(),
            &[
                "proxy-check",
                "zc.toml",
                "--truth",
                "r/standalone.csv",
                "--out",
                out,
            ],
        )
    };
    check("p");
    let (header, rows) = read_csv(&dir.path().join("p/proxy_check.csv"));
    assert_eq!(rows.len(), 5);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    for name in ["synflow", "grad_norm", "snip", "jacob_cov", "naswot"] {
        for r in &rows {
            let v: f64 = r[at(name)]
                .parse()
                .unwrap_or_else(|_| panic!("{name}: {r:?}"));
            assert!(v.is_finite(), "{name}: {r:?}");
        }
        assert!(dir.path().join(format!("p/proxy_{name}.svg")).exists());
    }
    let (header, summary) = read_csv(&dir.path().join("p/proxy_summary.csv"));
    let scorers: Vec<&str> = summary.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        scorers,
        [
            "synflow",
            "grad_norm",
            "snip",
            "jacob_cov",
            "naswot",
            "params",
            "conv_edges"
        ]
    );
    let (tau, low, high) = (
        at_of(&header, "kendall"),
        at_of(&header, "kendall_low"),
        at_of(&header, "kendall_high"),
    );
    for r in &summary {
        assert_eq!(r[1], "5", "{r:?}");
        if let (Ok(t), Ok(l), Ok(h)) = (
            r[tau].parse::<f64>(),
            r[low].parse::<f64>(),
            r[high].parse::<f64>(),
        ) {
            assert!(l <= t + 1e-9 && t <= h + 1e-9, "{r:?}");
        }
    }

    // The same batch and weights again: the same scores.
    check("q");
    let (_, again) = read_csv(&dir.path().join("q/proxy_check.csv"));
    assert_eq!(rows, again);

    let missing = archforge(
        dir.path(),
        &[
            "proxy-check",
            "zc.toml",
            "--truth",
            "nowhere.csv",
            "--out",
            "s",
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing).trim().lines().count(),
        1,
        "{}",
        stderr(&missing)
    );
}

fn at_of(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

#[test]
fn a_surrogate_fed_proxies_repeats_exactly_and_jacob_cov_is_refused_as_a_feature() {
    let dir = tempfile::tempdir().unwrap();
    let file = archforge_tests::experiments_dir().join("digits-nb201-smbo-proxies.toml");
    let file = file.display().to_string();
    let args = |out: &'static str| {
        [
            "compare",
            file.as_str(),
            "--seeds",
            "1",
            "--budget",
            "9",
            "--out",
            out,
        ]
    };
    let timeless = |h: &str| h == "wall_seconds" || h == "latency_ms";
    archforge_ok(dir.path(), &args("a"));
    let (_, rows) = read_csv_without(&dir.path().join("a/evaluations.csv"), timeless);
    assert_eq!(rows.len(), 18, "9 trained models for each controller");
    archforge_ok(dir.path(), &args("b"));
    let (_, again) = read_csv_without(&dir.path().join("b/evaluations.csv"), timeless);
    assert_eq!(
        rows, again,
        "the same proxies, the same surrogate, the same ledger"
    );

    let text = std::fs::read_to_string(&file).unwrap();
    let bad = text.replace(
        "proxies = [\"naswot\", \"synflow\"]",
        "proxies = [\"jacob_cov\"]",
    );
    assert_ne!(bad, text);
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let refused = archforge(dir.path(), &["run", "bad.toml", "--out", "c"]);
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(
        err.contains("bad.toml:") && err.contains("jacob_cov"),
        "{err}"
    );
}
