//! The NAS-Bench-201 protocol on the embedded table: random search at 100 evaluations
//! reproduces the benchmark's known mean, and regularized evolution and the REINFORCE and
//! PPO policies beat it at the same budgets. Runs are seeded, so these checks are
//! deterministic.

use archforge::search::RunResult;
use archforge_experiments::config::ExperimentFile;
use archforge_experiments::report::{best_reported_at, describe};
use archforge_experiments::runner::Prepared;
use archforge_tests::experiments_dir;

fn runs(file: &str, budget: u64, seeds: u64) -> Vec<RunResult> {
    let mut file = ExperimentFile::load(&experiments_dir().join(file)).unwrap();
    file.override_with(Some(0), Some(seeds), Some(budget))
        .unwrap();
    let prepared = Prepared::new(&file).unwrap();
    (0..seeds)
        .map(|seed| {
            prepared
                .run(0, seed, &mut archforge::search::Discard)
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
