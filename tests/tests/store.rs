//! The run store end to end: a compare recorded with `--store` holds every row of its
//! ledger, field for field; `archforge runs` lists it; a store that is not a database, or of
//! a newer schema, is refused in one line.

use archforge::ledger::{Ledger, Row};
use archforge::store::{RunStatus, Store};
use archforge_tests::{archforge, archforge_ok, stderr};
use std::path::Path;

const TABLE_COMPARE: &str = "../experiments/nb201-compare.toml";

/// The shipped table compare, by absolute path.
fn experiment() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(TABLE_COMPARE)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_stored_compare_holds_its_ledger_row_for_row_and_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment();
    for out in ["a", "b"] {
        archforge_ok(
            dir.path(),
            &[
                "compare", &file, "--seeds", "2", "--budget", "30", "--out", out, "--store",
                "runs.db",
            ],
        );
    }
    let store = Store::open(&dir.path().join("runs.db").to_string_lossy()).unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 2, "one run per compare");
    for (run, out) in runs.iter().zip(["a", "b"]) {
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!(run.command, "compare");
        let ledger: Vec<Row> = Ledger::read(&dir.path().join(out).join("evaluations.csv")).unwrap();
        let stored = store.rows(run.id).unwrap();
        assert_eq!(
            stored, ledger,
            "the store's rows are the ledger's, in its order"
        );
        let counted = ledger.iter().filter(|r| r.counted).count() as u64;
        assert_eq!(run.evaluations, counted);
        let parts = store.parts(run.id).unwrap();
        assert_eq!(parts.len(), 2 * run.controllers.len());
        assert!(
            parts
                .iter()
                .all(|p| p.status == RunStatus::Finished && p.end.is_some())
        );
        let names: Vec<String> = store
            .artefacts(run.id)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for kept in ["summary.csv", "experiment.toml", "best.json"] {
            assert!(names.iter().any(|n| n == kept), "{kept} kept: {names:?}");
        }
    }
    let listing = archforge_ok(dir.path(), &["runs", "--store", "runs.db"]);
    let text = String::from_utf8_lossy(&listing.stdout);
    assert_eq!(
        text.matches("| nb201-compare | compare | finished |")
            .count(),
        2,
        "{text}"
    );
}

#[test]
fn a_store_that_cannot_be_used_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.db"),
        "not a database at all, just text\n",
    )
    .unwrap();
    let refused = archforge(dir.path(), &["runs", "--store", "bad.db"]);
    assert!(!refused.status.success());
    let why = stderr(&refused);
    assert!(
        why.contains("bad.db") && why.trim().lines().count() == 1,
        "{why}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("bad.db")).unwrap(),
        "not a database at all, just text\n",
        "nothing overwritten"
    );
    let file = experiment();
    let missing = archforge(
        dir.path(),
        &[
            "compare",
            &file,
            "--seeds",
            "1",
            "--out",
            "x",
            "--store",
            "no/such/runs.db",
        ],
    );
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no/such"), "{}", stderr(&missing));
}
