//! `--resume` after kill -9: runs of the table compare (one job and two), of a stand-alone
//! training compare, of a compression (its teacher, both stages, the final students and the
//! baselines) and of a rank check (its ground truth, its supernet) are killed at pseudo-random points (some of them killed again while
//! resuming) and resumed from the store; every resumed ledger must equal the uninterrupted
//! run's row for row — wall-clock seconds aside, and the measured latency for the trained
//! networks — with no row lost or recorded twice, in the store and in `evaluations.csv`, and
//! the summary must be the uninterrupted one.
//! And the resumes that must be refused are, in one line, changing nothing: a finished run,
//! another experiment file, a run whose process still records it, a second resume beside a
//! first.

use archforge::Row;
use archforge::store::RunId;
use archforge::store::{RunStatus, Store};
use archforge_tests::{
    Started, archforge, archforge_ok, comparable, ledgers, read_csv_without, shipped_with, stderr,
};
use std::path::Path;
use std::time::Instant;

/// The shipped table compare with checkpoints every 30 evaluations.
fn table_experiment(dir: &Path) -> String {
    shipped_with(
        dir,
        "nb201-compare.toml",
        &[("[budget]\n", "[budget]\ncheckpoint_every = 30\n")],
        "",
        "table.toml",
    )
}

/// The shipped stand-alone training of NAS-Bench-201 cells on digits, cut to 2 epochs and 6
/// evaluations, for random search, regularized evolution and REINFORCE (an LSTM policy with
/// Adam's moments), with checkpoints every 2 evaluations.
fn trained_experiment(dir: &Path) -> String {
    shipped_with(
        dir,
        "digits-nb201-standalone.toml",
        &[
            ("epochs = 8", "epochs = 2"),
            ("evaluations = 10", "evaluations = 6\ncheckpoint_every = 2"),
        ],
        "\n[[controller]]\nkind = \"evolution\"\npopulation = 3\nsample = 2\n\n\
         [[controller]]\nkind = \"reinforce\"\nbatch = 2\n",
        "trained.toml",
    )
}

/// The shipped N2N compression of a VGG teacher on digits, cut to a teacher of 1 epoch,
/// students of 1 epoch (6 per stage and run, 2 per update, checkpoints every 2) and final
/// students and baselines of 1 epoch.
fn compress_experiment(dir: &Path) -> String {
    shipped_with(
        dir,
        "digits-n2n-compress.toml",
        &[
            ("epochs = 30", "epochs = 1"),
            ("epochs = 3\n", "epochs = 1\n"),
            ("final_epochs = 15", "final_epochs = 1"),
            ("evaluations = 25", "evaluations = 6\ncheckpoint_every = 2"),
            ("batch = 5", "batch = 2"),
        ],
        "",
        "compress.toml",
    )
}

/// A rank check of NAS-Bench-201 cells of 4 channels on 256 digits: 4 epochs of stand-alone
/// training each (two seeds), a supernet warmed up for 3 epochs.
fn rank_check_experiment(dir: &Path) -> String {
    let text = "name = \"rc\"\n[environment]\nkind = \"nb201\"\nchannels = 4\ncells = 1\n\
                [evaluator]\nkind = \"supernet\"\nwarmup_epochs = 3\ntrain_steps = 2\n\
                bn_batches = 2\nvalid_batches = 2\n\
                [data]\nsubset = { train = 256, valid = 128 }\n[training]\nepochs = 4\n\
                [budget]\nevaluations = 1\n[[controller]]\nkind = \"random\"\n";
    let path = dir.join("rank-check.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// The files whose rows a resumed run must share with the uninterrupted one, where it has
/// them (the timed columns aside when the case measures time).
const SUMMARIES: [&str; 5] = [
    "summary.csv",
    "compress.csv",
    "standalone.csv",
    "rank_check.csv",
    "rank_summary.csv",
];

/// A pseudo-random stream for the kill points (the test is the same on every run).
struct Points(u64);

impl Points {
    /// The next point in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One experiment's share of the kill -9 runs.
struct Case<'a> {
    /// The store: a SQLite file in the test's folder, or a PostgreSQL URL.
    store: &'a str,
    /// `compare` or `compress`.
    command: &'a str,
    file: &'a str,
    args: &'a [&'a str],
    runs: usize,
    measured_latency: bool,
}

/// Runs `case` once whole, then `case.runs` times killed and resumed; how many runs were
/// killed mid-way.
fn killed_and_resumed(dir: &Path, case: &Case, points: &mut Points, label: &str) -> usize {
    let args = |out: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![case.command.into(), case.file.into()];
        v.extend(case.args.iter().map(|s| s.to_string()));
        v.extend([
            "--store".into(),
            case.store.into(),
            "--out".into(),
            out.into(),
        ]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let whole_out = format!("{label}-whole");
    let started = Instant::now();
    let whole_args = args(&whole_out, &[]);
    let whole_args: Vec<&str> = whole_args.iter().map(String::as_str).collect();
    let mut process = Started::new(dir, &whole_args);
    let whole_run = RunId(process.run_id().expect("the run says which run it records"));
    assert!(
        process.child.wait().unwrap().success(),
        "{label}: the whole run"
    );
    let length = started.elapsed();
    let whole = |out: &str| ledgers(&dir.join(out), case.measured_latency);
    let expected = whole(&whole_out);
    let summaries = SUMMARIES
        .iter()
        .filter(|f| dir.join(&whole_out).join(f).exists())
        .count();
    assert!(
        expected.len() + summaries > 0,
        "{label}: nothing to compare"
    );
    let expected_rows = stored_rows(&open(dir, case.store), whole_run, case.measured_latency);

    let mut killed = 0;
    for i in 0..case.runs {
        let out = format!("{label}-{i}");
        let first = args(&out, &[]);
        let first: Vec<&str> = first.iter().map(String::as_str).collect();
        let mut process = Started::new(dir, &first);
        let run = process.run_id().expect("the run says which run it records");
        let at = length.mul_f64(0.05 + 0.85 * points.next());
        std::thread::sleep(at);
        if process.kill() {
            killed += 1;
        }
        let store = open(dir, case.store);
        let stored: usize = stored_rows(&store, RunId(run), false)
            .iter()
            .map(Vec::len)
            .sum();
        let last = process.unread();
        eprintln!(
            "{label} run {i}: killed after {:.1} of {:.1} s, with {stored} rows and {} stages stored, at `{}`",
            at.as_secs_f64(),
            length.as_secs_f64(),
            store.stages(RunId(run)).unwrap().len(),
            last.lines().last().unwrap_or_default()
        );
        // Every third run is killed again while it resumes.
        let resume_args = args(&out, &["--resume", &run.to_string()]);
        let resume_args: Vec<&str> = resume_args
            .iter()
            .map(String::as_str)
            .filter(|a| *a != "--out" && *a != out)
            .collect();
        if i % 3 == 2
            && store.run(archforge::store::RunId(run)).unwrap().status == RunStatus::Running
        {
            let mut again = Started::new(dir, &resume_args);
            assert_eq!(again.run_id(), Some(run));
            std::thread::sleep(length.mul_f64(0.3 * points.next()));
            again.kill();
        }
        let stored = store.run(archforge::store::RunId(run)).unwrap();
        if stored.status == RunStatus::Running {
            archforge_ok(dir, &resume_args);
        }
        let stored = store.run(archforge::store::RunId(run)).unwrap();
        assert_eq!(stored.status, RunStatus::Finished, "{label} run {i}");
        assert_eq!(
            stored_rows(&store, stored.id, case.measured_latency),
            expected_rows,
            "{label} run {i}: the store's rows are the uninterrupted run's"
        );
        assert_eq!(
            whole(&out),
            expected,
            "{label} run {i}: the resumed ledgers are the uninterrupted ones"
        );
        for summary in SUMMARIES {
            let untimed = |folder: &str| {
                let path = dir.join(folder).join(summary);
                path.exists().then(|| {
                    read_csv_without(&path, |h| {
                        case.measured_latency && (h.contains("seconds") || h.contains("latency"))
                    })
                })
            };
            assert_eq!(
                untimed(&out),
                untimed(&whole_out),
                "{label} run {i}: {summary}"
            );
        }
    }
    killed
}

#[test]
fn runs_killed_at_random_points_resume_to_the_uninterrupted_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let table = table_experiment(dir.path());
    let trained = trained_experiment(dir.path());
    let compressing = compress_experiment(dir.path());
    let ranking = rank_check_experiment(dir.path());
    let cases = [
        Case {
            store: "runs.db",
            command: "compare",
            file: &table,
            args: &["--seeds", "2", "--budget", "150", "--jobs", "1"],
            runs: 5,
            measured_latency: false,
        },
        Case {
            store: "runs.db",
            command: "compare",
            file: &table,
            args: &["--seeds", "2", "--budget", "150", "--jobs", "2"],
            runs: 5,
            measured_latency: false,
        },
        Case {
            store: "runs.db",
            command: "compare",
            file: &trained,
            args: &["--seeds", "1", "--jobs", "1"],
            runs: 5,
            measured_latency: true,
        },
        Case {
            store: "runs.db",
            command: "compress",
            file: &compressing,
            args: &[],
            runs: 3,
            measured_latency: true,
        },
        Case {
            store: "runs.db",
            command: "rank-check",
            file: &ranking,
            args: &["--archs", "10"],
            runs: 2,
            measured_latency: true,
        },
    ];
    let mut points = Points(2026);
    let mut killed = 0;
    let mut runs = 0;
    for (i, case) in cases.iter().enumerate() {
        killed += killed_and_resumed(dir.path(), case, &mut points, &format!("case{i}"));
        runs += case.runs;
    }
    eprintln!("{killed} of {runs} runs killed mid-way, every one resumed to the whole ledger");
    assert_eq!(runs, 20);
    assert!(killed >= 16, "only {killed} of {runs} runs were cut short");
}

/// The rows a stored run holds, and then its stages', comparable across runs.
fn stored_rows(store: &Store, run: RunId, measured_latency: bool) -> Vec<Vec<Row>> {
    std::iter::once(run)
        .chain(store.stages(run).unwrap().into_iter().map(|s| s.id))
        .map(|id| comparable(&store.rows(id).unwrap(), measured_latency))
        .collect()
}

/// The store `location` names: a file in `dir`, or a PostgreSQL server.
fn open(dir: &Path, location: &str) -> Store {
    if archforge::store::is_postgres(location) {
        Store::open(location).unwrap()
    } else {
        Store::open(&dir.join(location).to_string_lossy()).unwrap()
    }
}

#[test]
fn runs_killed_with_a_postgresql_store_resume_to_the_uninterrupted_ledger() {
    let Ok(url) = std::env::var("ARCHFORGE_TEST_POSTGRES") else {
        eprintln!("ARCHFORGE_TEST_POSTGRES is not set: resume is not tested on PostgreSQL");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let table = table_experiment(dir.path());
    let case = Case {
        store: &url,
        command: "compare",
        file: &table,
        args: &["--seeds", "2", "--budget", "150", "--jobs", "2"],
        runs: 3,
        measured_latency: false,
    };
    let killed = killed_and_resumed(dir.path(), &case, &mut Points(16), "postgres");
    eprintln!("{killed} of 3 runs on PostgreSQL killed mid-way, every one resumed");
    assert!(killed >= 2, "only {killed} of 3 runs were cut short");
}

#[test]
fn resumes_that_cannot_be_right_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let table = table_experiment(dir.path());
    let base = [
        "compare", &table, "--seeds", "2", "--budget", "2000", "--jobs", "1",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .copied()
            .chain(["--store", "runs.db"])
            .chain(extra.iter().copied())
            .map(String::from)
            .collect()
    };

    // A resume while the run's own process still records it.
    let first = with(&["--out", "cut"]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let mut process = Started::new(dir.path(), &first);
    let run = process.run_id().unwrap().to_string();
    let resume = with(&["--resume", &run]);
    let resume: Vec<&str> = resume.iter().map(String::as_str).collect();
    let refused = archforge(dir.path(), &resume);
    assert!(!refused.status.success());
    let why = stderr(&refused);
    assert!(why.contains("still running"), "{why}");
    assert_eq!(why.trim().lines().count(), 1, "{why}");
    process.kill();

    // Another experiment (here, another budget) is refused before anything is claimed.
    let mut other: Vec<&str> = resume.clone();
    let budget = other.iter().position(|a| *a == "2000").unwrap();
    other[budget] = "1000";
    let why = stderr(&archforge(dir.path(), &other));
    assert!(why.contains("recorded from another experiment"), "{why}");

    // Two resumes at once: the second is refused while the first records.
    let store = Store::open(&dir.path().join("runs.db").to_string_lossy()).unwrap();
    let before = store
        .rows(archforge::store::RunId(run.parse().unwrap()))
        .unwrap()
        .len();
    let first_resume = Started::new(dir.path(), &resume);
    assert_eq!(first_resume.run_id(), Some(run.parse().unwrap()));
    let why = stderr(&archforge(dir.path(), &resume));
    assert!(why.contains("is being recorded by process"), "{why}");
    let mut first_resume = first_resume;
    assert!(first_resume.child.wait().unwrap().success());
    let after = store
        .rows(archforge::store::RunId(run.parse().unwrap()))
        .unwrap();
    assert!(after.len() >= before);
    let mut keys: Vec<(String, u64, u64)> = after
        .iter()
        .map(|r| (r.controller.clone(), r.seed, r.proposal))
        .collect();
    keys.dedup();
    assert_eq!(keys.len(), after.len(), "no row recorded twice");

    // A finished run has nothing to resume.
    let why = stderr(&archforge(dir.path(), &resume));
    assert!(
        why.contains("is finished: there is nothing to resume"),
        "{why}"
    );
    // A rank check resumed with other flags than it ran with.
    let ranking = rank_check_experiment(dir.path());
    let check = |extra: &[&str]| {
        let mut args = vec!["rank-check", &ranking, "--store", "rc.db"];
        args.extend(extra);
        archforge(dir.path(), &args)
    };
    assert!(check(&["--archs", "3", "--out", "rc"]).status.success());
    let why = stderr(&check(&["--archs", "4", "--resume", "rc"]));
    assert!(
        why.contains("ran with `--archs 3`, not `--archs 4`"),
        "{why}"
    );
    // Nor has a store that is not there.
    let why = stderr(&archforge(
        dir.path(),
        &["compare", &table, "--resume", "1", "--store", "missing.db"],
    ));
    assert!(why.contains("no such store"), "{why}");
    assert!(!dir.path().join("missing.db").exists());
}
