//! The NAS-Bench-201 protocol on the embedded table: random search at 100 evaluations
//! reproduces the benchmark's known mean, and regularized evolution, the REINFORCE and PPO
//! policies, MCTS and SMBO beat it at the same budgets. Runs are seeded, so these checks are
//! deterministic.

use archforge::search::RunResult;
use archforge_experiments::config::ExperimentFile;
use archforge_experiments::report::{best_reported_at, describe};
use archforge_experiments::runner::Prepared;
use archforge_tests::experiments_dir;

fn runs(file: &str, budget: u64, seeds: u64) -> Vec<RunResult> {
    runs_of(file, 0, budget, seeds)
}

/// The runs of the file's controller `controller`.
fn runs_of(file: &str, controller: usize, budget: u64, seeds: u64) -> Vec<RunResult> {
    let mut file = ExperimentFile::load(&experiments_dir().join(file)).unwrap();
    file.override_with(Some(0), Some(seeds), Some(budget))
        .unwrap();
    let prepared = Prepared::new(&file).unwrap();
    (0..seeds)
        .map(|seed| {
            prepared
                .run(controller, seed, &mut archforge::search::Discard)
                .unwrap()
        })
        .collect()
}

#[test]
fn random_search_reproduces_the_known_mean_at_100_evaluations() {
    let results = runs("nb201-random.toml", 100, 500);
    let (mean, std, ..) = describe(&best_reported_at(results.iter(), 100));
    let standard_error = std / (500f64).sqrt();
    eprintln!(
        "random search, 100 evaluations, 500 seeds: {mean:.3} +- {std:.3} (se {standard_error:.3})"
    );
    assert!((mean - 93.73).abs() <= 0.05, "mean {mean}");
}

#[test]
fn evolution_beats_random_search_at_100_and_300_evaluations() {
    let random = runs("nb201-random.toml", 300, 100);
    let evolution = runs("nb201-evolution.toml", 300, 100);
    for budget in [100, 300] {
        let r = describe(&best_reported_at(random.iter(), budget)).0;
        let e = describe(&best_reported_at(evolution.iter(), budget)).0;
        eprintln!("{budget} evaluations: random {r:.3}, evolution {e:.3}");
        assert!(e > r, "at {budget}: evolution {e} vs random {r}");
    }
}

#[test]
fn policy_gradient_beats_random_search_at_300_evaluations() {
    let random = runs("nb201-random.toml", 300, 50);
    let r = describe(&best_reported_at(random.iter(), 300)).0;
    for file in ["nb201-reinforce.toml", "nb201-ppo.toml"] {
        let learned = runs(file, 300, 50);
        let l = describe(&best_reported_at(learned.iter(), 300)).0;
        eprintln!("300 evaluations, 50 seeds: random {r:.3}, {file} {l:.3}");
        assert!(l > r, "{file}: {l} vs random {r}");
    }
}

/// The difference of means of `a` over `b` at `budget` and the half-width of its 95 %
/// interval.
fn difference(a: &[RunResult], b: &[RunResult], budget: u64) -> (f64, f64) {
    let (ma, sa, ..) = describe(&best_reported_at(a.iter(), budget));
    let (mb, sb, ..) = describe(&best_reported_at(b.iter(), budget));
    let se = (sa * sa / a.len() as f64 + sb * sb / b.len() as f64).sqrt();
    (ma - mb, 1.96 * se)
}

#[test]
fn mcts_and_smbo_beat_random_search_at_100_and_300_evaluations() {
    let random = runs("nb201-random.toml", 300, 100);
    let searches = [
        ("mcts", runs_of("nb201-mcts.toml", 0, 300, 100)),
        ("mcts-bisection", runs_of("nb201-mcts.toml", 1, 300, 100)),
        ("smbo", runs("nb201-smbo.toml", 300, 100)),
    ];
    for budget in [100, 300] {
        for (name, runs) in &searches {
            let (diff, half) = difference(runs, &random, budget);
            eprintln!("{budget} evaluations, 100 seeds: {name} - random = {diff:+.3} +- {half:.3}");
            assert!(diff > 0.0, "{name} at {budget}: {diff:+.3}");
        }
        // SMBO's margin is far beyond the seeds' noise.
        let (diff, half) = difference(&searches[2].1, &random, budget);
        assert!(
            diff - half > 0.0,
            "smbo at {budget}: {diff:+.3} +- {half:.3}"
        );
    }
    let evolution = runs("nb201-evolution.toml", 100, 100);
    let (diff, half) = difference(&searches[2].1, &evolution, 100);
    eprintln!("100 evaluations: smbo - evolution = {diff:+.3} +- {half:.3}");
    assert!(
        diff - half > 0.0,
        "smbo vs evolution at 100: {diff:+.3} +- {half:.3}"
    );
}

/// The embedded table written as a user's CSV: operations renamed, rows shuffled.
fn renamed_table(dir: &std::path::Path) -> std::path::PathBuf {
    let names = ["zero", "identity", "c1", "c3", "pool"];
    let source = experiments_dir().join("../environments/data/nb201.csv");
    let mut reader = csv::Reader::from_path(source).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let edges: Vec<usize> = ["op_e01", "op_e02", "op_e12", "op_e03", "op_e13", "op_e23"]
        .iter()
        .map(|e| col(e))
        .collect();
    let (valid, test) = (col("c10_valid_12ep"), col("c10_test_200ep"));
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let mut row: Vec<String> = edges
                .iter()
                .map(|&e| names[r[e].parse::<usize>().unwrap()].to_string())
                .collect();
            row.extend([r[valid].to_string(), r[test].to_string()]);
            row
        })
        .collect();
    // A fixed shuffle: rows in reverse order of a multiplicative hash of their index.
    let mut keyed: Vec<(u64, Vec<String>)> = rows
        .drain(..)
        .enumerate()
        .map(|(i, r)| ((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15), r))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    let path = dir.join("renamed.csv");
    let mut writer = csv::Writer::from_path(&path).unwrap();
    writer
        .write_record(["a", "b", "c", "d", "e", "f", "valid12", "test200"])
        .unwrap();
    for (_, row) in keyed {
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    path
}

#[test]
fn the_table_as_a_users_csv_with_one_shared_kind_searches_exactly_as_nb201() {
    let dir = tempfile::tempdir().unwrap();
    let csv = renamed_table(dir.path());
    let decisions: Vec<String> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|c| {
            format!(
                "{{ column = \"{c}\", kind = \"op\", options = [\"zero\", \"identity\", \"c1\", \"c3\", \"pool\"] }}"
            )
        })
        .collect();
    let nb201 = std::fs::read_to_string(experiments_dir().join("nb201-reinforce.toml")).unwrap();
    let tabular = nb201.replace(
        "kind = \"nb201\"\ndataset = \"cifar10\"",
        &format!(
            "kind = \"tabular\"\ncsv = \"{}\"\nsearch_metric = \"valid12\"\nreported_metric = \"test200\"\ndecisions = [{}]",
            csv.display(),
            decisions.join(", ")
        ),
    );
    let path = dir.path().join("tab.toml");
    std::fs::write(&path, tabular).unwrap();
    let metrics = |file: ExperimentFile| -> Vec<Vec<(Option<f64>, Option<f64>)>> {
        let prepared = Prepared::new(&file).unwrap();
        (0..3)
            .map(|seed| {
                let mut seen = Vec::new();
                let mut record = |row: &archforge::Row| {
                    seen.push((row.record.search_metric, row.record.reported_metric));
                    Ok(())
                };
                prepared.run(0, seed, &mut record).unwrap();
                seen
            })
            .collect()
    };
    let mut ours = ExperimentFile::load(&path).unwrap();
    ours.override_with(None, None, Some(100)).unwrap();
    let mut theirs = ExperimentFile::load(&experiments_dir().join("nb201-reinforce.toml")).unwrap();
    theirs.override_with(None, None, Some(100)).unwrap();
    // One kind for the six edges: the same policy, the same samples, the same scores.
    assert_eq!(metrics(ours), metrics(theirs));
}
