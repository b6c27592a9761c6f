//! `archforge compress` end to end on the shipped digits file with a tiny budget: the teacher
//! trained first, both stages searched by N2N's policy and random search, the final students
//! fine-tuned beside the baselines, every promised file written — and the same again with
//! the teacher reused gives the same students; bad compression files are one-line errors.

use archforge_tests::{
    archforge, archforge_ok, experiments_dir, read_csv, read_csv_without, stderr,
};
use std::path::Path;

fn exp(name: &str) -> String {
    experiments_dir().join(name).display().to_string()
}

/// A CSV's rows without the columns that measure time.
fn untimed(path: &Path) -> Vec<Vec<String>> {
    read_csv_without(path, |h| h.contains("seconds") || h.contains("latency")).1
}

#[test]
fn compress_runs_both_stages_and_the_baselines_and_repeats_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let file = exp("digits-n2n-compress.toml");
    archforge_ok(
        dir.path(),
        &["compress", &file, "--budget", "5", "--out", "c"],
    );
    let c = dir.path().join("c");
    for f in [
        "experiment.toml",
        "teacher/weights.safetensors",
        "teacher/trained.json",
        "removal/evaluations.csv",
        "shrinkage/n2n-seed0/evaluations.csv",
        "shrinkage/random-seed0/evaluations.csv",
        "final/n2n-seed0/weights.safetensors",
        "final/n2n-seed0/arch.json",
        "final/random-seed0/arch.dot",
        "baselines/uniform/trained.json",
        "baselines/l1-pruned/trained.json",
        "compress.csv",
        "compress.md",
        "compression_reward.svg",
        "compression_ratio.svg",
        "compression_curve.csv",
        "pareto_params.svg",
    ] {
        assert!(c.join(f).exists(), "{f} missing");
    }
    // Two runs of 5 students in the removal stage, 5 more each in shrinkage.
    assert_eq!(read_csv(&c.join("removal/evaluations.csv")).1.len(), 10);
    assert_eq!(
        read_csv(&c.join("shrinkage/n2n-seed0/evaluations.csv"))
            .1
            .len(),
        5
    );
    let (header, rows) = read_csv(&c.join("compress.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let roles: Vec<&str> = rows.iter().map(|r| r[col("role")].as_str()).collect();
    assert_eq!(
        roles,
        ["teacher", "student", "student", "uniform", "l1-pruned"]
    );
    let params = |r: &Vec<String>| r[col("params")].parse::<u64>().unwrap();
    let teacher = params(&rows[0]);
    for row in &rows[1..] {
        assert!(
            params(row) < teacher,
            "{row:?} is no smaller than the teacher"
        );
        let test: f64 = row[col("test_accuracy")].parse().unwrap();
        assert!(test > 10.0, "{row:?}");
    }
    // The baselines are sized to the best student within a few percent.
    let best = rows[1..3]
        .iter()
        .max_by(|a, b| {
            let r = |x: &Vec<String>| x[col("reward")].parse::<f64>().unwrap();
            r(a).total_cmp(&r(b))
        })
        .unwrap();
    for baseline in &rows[3..] {
        let (a, b) = (params(baseline) as f64, params(best) as f64);
        assert!((a - b).abs() <= 0.1 * b, "{baseline:?} against {best:?}");
    }
    // The same file and seed with the teacher reused: the same students, the same results.
    let teacher_dir = c.join("teacher").display().to_string();
    archforge_ok(
        dir.path(),
        &[
            "compress",
            &file,
            "--budget",
            "5",
            "--teacher",
            &teacher_dir,
            "--out",
            "d",
        ],
    );
    let d = dir.path().join("d");
    for f in [
        "removal/evaluations.csv",
        "shrinkage/n2n-seed0/evaluations.csv",
        "compress.csv",
    ] {
        assert_eq!(untimed(&c.join(f)), untimed(&d.join(f)), "{f} differs");
    }
    // A limit no student can meet is refused before any student trains.
    let shrinkage = std::fs::read_to_string(experiments_dir().join("digits-n2n-shrinkage.toml"))
        .unwrap()
        .replace(
            "invalid_reward = -1.0",
            "invalid_reward = -1.0\nmax_params = 100",
        );
    std::fs::write(dir.path().join("limited.toml"), shrinkage).unwrap();
    let o = archforge(
        dir.path(),
        &[
            "compress",
            "limited.toml",
            "--teacher",
            &teacher_dir,
            "--out",
            "e",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("max_params = 100: no student can meet it"),
        "{err}"
    );
    assert!(
        !dir.path().join("e").exists(),
        "a refused compress leaves no folder"
    );
}

#[test]
fn bad_compression_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(experiments_dir().join("digits-n2n-shrinkage.toml")).unwrap();
    let cases = [
        (
            good.replace("scales = [0.25, 0.5, 0.75, 1.0]", "scales = [0.5, 1.5]"),
            "scale 1.5 is outside (0, 1]",
        ),
        (
            good.replace(
                "[teacher]\nkind = \"vgg\"\nwidth = 0.25\n\n[teacher.training]\nepochs = 30\n",
                "",
            ),
            "a compression space needs a [teacher] section",
        ),
        (
            good.replace("kind = \"standalone\"", "kind = \"supernet\""),
            "use evaluator `standalone`",
        ),
        (
            good.replace("width = 0.25", "width = 0.25\npath = \"nowhere\""),
            "nowhere",
        ),
        (good.clone(), "needs a trained teacher"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let name = format!("bad{i}.toml");
        std::fs::write(dir.path().join(&name), text).unwrap();
        let out = format!("o{i}");
        let o = archforge(
            dir.path(),
            &["run", &name, "--controller", "evolution", "--out", &out],
        );
        assert_eq!(o.status.code(), Some(1), "case {i}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(expected), "case {i}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "case {i}: {err}");
    }
    // A teacher whose weights are not its network's.
    let teacher = dir.path().join("teacher");
    std::fs::create_dir(&teacher).unwrap();
    let trained = archforge_ok(
        dir.path(),
        &[
            "train",
            &exp("digits-nb201-standalone.toml"),
            "--arch",
            "3-3-3-3-3-3",
            "--out",
            "net",
        ],
    );
    assert!(trained.status.success());
    for f in ["arch.json", "trained.json"] {
        std::fs::copy(dir.path().join("net").join(f), teacher.join(f)).unwrap();
    }
    std::fs::write(teacher.join("weights.safetensors"), b"junk").unwrap();
    let o = archforge(
        dir.path(),
        &[
            "compress",
            &exp("digits-n2n-shrinkage.toml"),
            "--teacher",
            "teacher",
            "--out",
            "w",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("not a safetensors file"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
