//! Workers end to end: a stand-alone training search hands its evaluations to three
//! `archforge worker` processes through the store (the PostgreSQL server that
//! `ARCHFORGE_TEST_POSTGRES` names, else a SQLite file), one of them killed with SIGKILL in
//! the middle of an evaluation (its 4 s lease then runs out and another worker takes the
//! task); the search's ledger must be the one the same search writes
//! without workers, row for row (wall-clock seconds and measured latency aside), with no
//! evaluation lost. A compression does the same with its students: the workers send each
//! one's trained weights back, the compression's stages write the ledgers and its final
//! students the summary of a compression without workers. An EAS search too: its children
//! inherit, on whichever worker trains them, the ancestors their own run trained before them.
//! And the runs that cannot hand out their evaluations are refused in one line.

use archforge::ledger::Ledger;
use archforge::store::{RunId, RunStatus, Store};
use archforge_tests::{
    Started, archforge, archforge_ok, comparable, experiments_dir, ledgers, read_csv_without,
    shipped_with, stderr,
};
use std::path::Path;

/// The shipped stand-alone training on digits, cut to 1 epoch, 8 evaluations for random
/// search in batches of 4 and 6 for REINFORCE in batches of 2.
fn trained_experiment(dir: &Path) -> String {
    shipped_with(
        dir,
        "digits-nb201-standalone.toml",
        &[
            ("epochs = 8", "epochs = 1"),
            ("evaluations = 10", "evaluations = 8"),
            ("kind = \"random\"", "kind = \"random\"\nbatch = 4"),
        ],
        "\n[[controller]]\nkind = \"reinforce\"\nbatch = 2\n",
        "trained.toml",
    )
}

#[test]
fn workers_write_the_ledger_of_a_search_without_them_even_when_one_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let file = trained_experiment(dir.path());
    let store = shared_store(dir.path());
    archforge_ok(
        dir.path(),
        &["compare", &file, "--seeds", "1", "--out", "alone"],
    );
    let alone = Ledger::read(&dir.path().join("alone/evaluations.csv")).unwrap();

    let search = Started::new(
        dir.path(),
        &[
            "compare",
            &file,
            "--seeds",
            "1",
            "--store",
            &store,
            "--workers",
            "--out",
            "shared",
        ],
    );
    let run = search
        .run_id()
        .expect("the search says which run it records");
    let workers = workers_one_killed(dir.path(), &store);
    let mut search = search;
    all_end(&mut search, workers);

    let shared = Ledger::read(&dir.path().join("shared/evaluations.csv")).unwrap();
    assert_eq!(
        comparable(&shared, true),
        comparable(&alone, true),
        "the ledger with workers is the one without"
    );
    assert!(
        shared
            .iter()
            .all(|r| r.record.status == archforge::evaluator::StatusKind::Ok),
        "no evaluation failed"
    );
    let store = Store::open(&if archforge::store::is_postgres(&store) {
        store.clone()
    } else {
        dir.path().join("runs.db").to_string_lossy().into_owned()
    })
    .unwrap();
    assert_eq!(store.run(RunId(run)).unwrap().status, RunStatus::Finished);
    assert_eq!(
        comparable(&store.rows(RunId(run)).unwrap(), true),
        comparable(&alone, true)
    );
}

/// The store the workers share: the PostgreSQL server `ARCHFORGE_TEST_POSTGRES` names, else a
/// SQLite file in `dir`.
fn shared_store(dir: &Path) -> String {
    std::env::var("ARCHFORGE_TEST_POSTGRES").unwrap_or_else(|_| {
        eprintln!("ARCHFORGE_TEST_POSTGRES is not set: the workers share a SQLite store");
        dir.join("runs.db").to_string_lossy().into_owned()
    })
}

/// An `archforge worker` on `store`, started in `dir`, with leases of 4 s, that stops after
/// 10 s without a task.
fn worker(dir: &Path, store: &str) -> Started {
    Started::new(
        dir,
        &[
            "worker",
            "--store",
            store,
            "--lease",
            "4",
            "--idle-exit",
            "10",
        ],
    )
}

/// Three workers, the first killed while it evaluates its first task; the other two.
fn workers_one_killed(dir: &Path, store: &str) -> Vec<Started> {
    let mut killed = worker(dir, store);
    let others = vec![worker(dir, store), worker(dir, store)];
    let first = killed
        .line_after(&["task "])
        .expect("a worker takes a task");
    assert!(killed.kill(), "killed mid-evaluation of task {first}");
    others
}

/// Waits for `main`, then for `workers` (five minutes at most each): each must end well.
fn all_end(main: &mut Started, workers: Vec<Started>) {
    let limit = std::time::Duration::from_secs(300);
    let ended = main.succeeds_within(limit);
    for mut worker in workers {
        assert!(worker.succeeds_within(limit), "a worker stops when idle");
    }
    assert!(ended, "it ends: {}", main.unread());
}

/// The shipped N2N compression on digits, cut to students of 1 epoch (4 per stage and run, 2
/// per update), 1 seed, final students of 1 epoch and no baselines.
fn compress_experiment(dir: &Path) -> String {
    shipped_with(
        dir,
        "digits-n2n-compress.toml",
        &[
            ("epochs = 30", "epochs = 1"),
            ("epochs = 3\n", "epochs = 1\n"),
            ("final_epochs = 15", "final_epochs = 1\nbaselines = false"),
            ("evaluations = 25", "evaluations = 4"),
            ("batch = 5", "batch = 2"),
        ],
        "",
        "compress.toml",
    )
}

#[test]
fn workers_train_a_compressions_students_and_send_their_weights_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = compress_experiment(dir.path());
    let store = shared_store(dir.path());
    archforge_ok(dir.path(), &["train", &file, "--out", "teacher"]);
    let compress = |out: &str, more: &[&str]| {
        let mut args = vec!["compress", &file, "--teacher", "teacher", "--out", out];
        args.extend_from_slice(more);
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let alone = compress("alone", &[]);
    let alone: Vec<&str> = alone.iter().map(String::as_str).collect();
    archforge_ok(dir.path(), &alone);

    let shared = compress("shared", &["--store", &store, "--workers"]);
    let shared: Vec<&str> = shared.iter().map(String::as_str).collect();
    let mut compression = Started::new(dir.path(), &shared);
    let workers = workers_one_killed(dir.path(), &store);
    all_end(&mut compression, workers);

    let ledgers_of = |out: &str| ledgers(&dir.path().join(out), true);
    let (with, without) = (ledgers_of("shared"), ledgers_of("alone"));
    assert_eq!(
        with.iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
        [
            "removal/evaluations.csv",
            "shrinkage/n2n-seed0/evaluations.csv",
            "shrinkage/random-seed0/evaluations.csv"
        ]
    );
    assert_eq!(
        with, without,
        "each stage's ledger with workers is the one without"
    );
    // The final students start from the best students' weights, which came back from the
    // workers: the same weights train to the same accuracies.
    let summary = |out: &str| {
        read_csv_without(&dir.path().join(out).join("compress.csv"), |h| {
            h.contains("seconds") || h.contains("latency")
        })
    };
    assert_eq!(summary("shared"), summary("alone"));

    // Killed without workers once its shrinkage began, it resumes with them: the searches
    // it had recorded get what workers prepare them from, and the result is the same.
    let killed_args = compress("resumed", &["--store", &store]);
    let killed_args: Vec<&str> = killed_args.iter().map(String::as_str).collect();
    let mut killed = Started::new(dir.path(), &killed_args);
    let run = killed.run_id().expect("the compression says its run");
    killed
        .line_after(&["shrinkage: "])
        .expect("the shrinkage stage begins");
    killed
        .run_id()
        .expect("its first shrinkage search is recorded");
    assert!(killed.kill(), "killed in its shrinkage stage");
    let run = run.to_string();
    let resume = [
        "compress",
        &file,
        "--teacher",
        "teacher",
        "--store",
        &store,
        "--resume",
        &run,
        "--workers",
    ];
    let mut resumed = Started::new(dir.path(), &resume);
    let workers = vec![worker(dir.path(), &store), worker(dir.path(), &store)];
    all_end(&mut resumed, workers);
    assert_eq!(ledgers_of("resumed"), without);
    assert_eq!(summary("resumed"), summary("alone"));
}

/// The shipped EAS search on digits, cut to 1 seed, a seed network of 1 epoch, children of 1
/// epoch, 10 evaluations in batches of 3, beside random growth.
fn eas_experiment(dir: &Path) -> String {
    shipped_with(
        dir,
        "digits-netmorph-eas.toml",
        &[
            ("seeds = 2", "seeds = 1"),
            ("seed_epochs = 6", "seed_epochs = 1"),
            ("epochs = 2", "epochs = 1"),
            ("evaluations = 26", "evaluations = 10"),
            ("batch = 5", "batch = 3"),
        ],
        "",
        "eas.toml",
    )
}

#[test]
fn workers_grow_eas_children_from_what_their_own_run_trained() {
    let dir = tempfile::tempdir().unwrap();
    let file = eas_experiment(dir.path());
    let store = shared_store(dir.path());
    archforge_ok(dir.path(), &["compare", &file, "--out", "alone"]);
    let search = Started::new(
        dir.path(),
        &[
            "compare",
            &file,
            "--store",
            &store,
            "--workers",
            "--out",
            "shared",
        ],
    );
    let workers = workers_one_killed(dir.path(), &store);
    let mut search = search;
    all_end(&mut search, workers);
    let ledger = |out: &str| ledgers(&dir.path().join(out), true);
    let shared = ledger("shared");
    assert_eq!(
        shared,
        ledger("alone"),
        "the ledger with workers is the one without"
    );
    let rows = &shared[0].1;
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter()
            .all(|r| r.record.status == archforge::evaluator::StatusKind::Ok),
        "every child trained"
    );
}

#[test]
fn runs_that_cannot_hand_out_their_evaluations_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let table = experiments_dir().join("nb201-compare.toml");
    let table = table.to_string_lossy();
    let refused = archforge(
        dir.path(),
        &[
            "compare",
            &table,
            "--store",
            "runs.db",
            "--workers",
            "--out",
            "a",
        ],
    );
    assert!(!refused.status.success());
    let why = stderr(&refused);
    assert!(why.contains("a table's lookups"), "{why}");
    assert_eq!(why.trim().lines().count(), 1, "{why}");
    assert!(!dir.path().join("a").exists(), "nothing written");
    let why = stderr(&archforge(dir.path(), &["compare", &table, "--workers"]));
    assert!(why.contains("give --store"), "{why}");
}
