//! The run store end to end: a compare recorded with `--store` holds every row of its
//! ledger, field for field; `archforge runs` lists it; a store that is not a database, or of
//! a newer schema, is refused in one line.

use archforge::ledger::{Ledger, Row};
use archforge::store::{RunId, RunStatus, Store};
use archforge_tests::{Started, archforge, archforge_ok, read_csv, stderr, stdout};
use std::path::Path;
use std::process::Command;

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
    let mut stores = vec![dir.path().join("runs.db").to_string_lossy().into_owned()];
    match std::env::var("ARCHFORGE_TEST_POSTGRES") {
        Ok(url) => stores.push(url),
        Err(_) => eprintln!("ARCHFORGE_TEST_POSTGRES is not set: PostgreSQL is not tested"),
    }
    let file = experiment();
    for (k, location) in stores.iter().enumerate() {
        let mut ids = Vec::new();
        for out in ["a", "b"] {
            let out = dir.path().join(format!("{k}-{out}"));
            let out = out.to_string_lossy().into_owned();
            let started = Started::new(
                dir.path(),
                &[
                    "compare", &file, "--seeds", "2", "--budget", "30", "--out", &out, "--store",
                    location,
                ],
            );
            let id = started.run_id().expect("the run says which run it records");
            let mut child = started.child;
            assert!(child.wait().unwrap().success());
            ids.push((RunId(id), out));
        }
        let store = Store::open(location).unwrap();
        for (id, out) in &ids {
            let run = store.run(*id).unwrap();
            assert_eq!(run.status, RunStatus::Finished);
            assert_eq!(run.command, "compare");
            let ledger: Vec<Row> = Ledger::read(&Path::new(out).join("evaluations.csv")).unwrap();
            let stored = store.rows(run.id).unwrap();
            assert_eq!(
                stored, ledger,
                "{location}: the store's rows are the ledger's, in its order"
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
        let listing = archforge_ok(dir.path(), &["runs", "--store", location]);
        let text = String::from_utf8_lossy(&listing.stdout);
        for (id, _) in &ids {
            assert!(
                text.contains(&format!("| {id} | nb201-compare | compare | finished |")),
                "{text}"
            );
        }
    }
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

#[test]
fn a_stored_run_is_rebuilt_from_the_store_file_for_file_and_as_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment();
    archforge_ok(
        dir.path(),
        &[
            "compare", &file, "--seeds", "2", "--budget", "40", "--out", "a", "--store", "runs.db",
        ],
    );
    // The run folder is gone; the store alone rebuilds it.
    let original = dir.path().join("a");
    let kept: Vec<(String, Vec<u8>)> = std::fs::read_dir(&original)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    std::fs::remove_dir_all(&original).unwrap();
    let report = archforge_ok(
        dir.path(),
        &["report", "nb201-compare", "--out", "b", "--html"],
    );
    assert!(stdout(&report).contains("| smbo |"), "{}", stdout(&report));
    for (name, content) in &kept {
        let rebuilt = std::fs::read(dir.path().join("b").join(name))
            .unwrap_or_else(|e| panic!("{name} rebuilt: {e}"));
        assert!(rebuilt == *content, "{name} rebuilt as it was written");
    }
    let page = std::fs::read_to_string(dir.path().join("b/report.html")).unwrap();
    let (_, summary) = read_csv(&dir.path().join("b/summary.csv"));
    for cell in summary.iter().flatten().filter(|c| !c.is_empty()) {
        assert!(
            page.contains(&format!("<td>{cell}</td>")),
            "{cell} on the page"
        );
    }
    assert_eq!(
        page.matches("http://").count(),
        page.matches("xmlns=\"http://www.w3.org/").count(),
        "nothing is fetched: the only URLs are SVG namespaces"
    );
    // A folder that holds files is refused, and left as it was.
    let again = archforge(dir.path(), &["report", "1", "--out", "b"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let unknown = archforge(dir.path(), &["report", "no-such-run", "--out", "c"]);
    assert!(
        stderr(&unknown).contains("no run named `no-such-run`"),
        "{}",
        stderr(&unknown)
    );

    // In a browser: no console errors, and the address's sort orders the rows.
    let Some(dom) = open_in_chromium(&format!(
        "file://{}#sort=reward:desc",
        dir.path().join("b/report.html").display()
    )) else {
        return;
    };
    let (columns, ledger) = read_csv(&dir.path().join("b/evaluations.csv"));
    assert!(
        dom.contains(&format!("of {} (page 1 of", ledger.len())),
        "the pager counts every row"
    );
    let reward = columns.iter().position(|c| c == "reward").unwrap();
    let shown: Vec<f64> = dom
        .split("<tbody>")
        .last()
        .unwrap()
        .split("<tr>")
        .skip(1)
        .map(|tr| {
            let cells: Vec<&str> = tr
                .split("<td>")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap())
                .collect();
            cells[reward].parse().unwrap_or(f64::NAN)
        })
        .collect();
    assert_eq!(shown.len(), 50, "one page of rows");
    let mut best: Vec<f64> = ledger
        .iter()
        .filter_map(|r| r[reward].parse().ok())
        .collect();
    best.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(shown, best[..50], "sorted by reward, largest first");
}

/// Opens `url` in headless Chromium (Debian's package), checks that the page logged no
/// console error, and returns its document as dumped after five seconds of the page's time;
/// `None`, said on standard error, when the machine has no Chromium.
fn open_in_chromium(url: &str) -> Option<String> {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!(
            "no chromium on this machine: the page is not opened in a browser (.ci/run installs it)"
        );
        return None;
    };
    let opened = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ])
        .output()
        .unwrap();
    assert!(opened.status.success(), "{}", stderr(&opened));
    let log = stderr(&opened);
    assert!(
        !log.contains("CONSOLE") && !log.contains("Uncaught"),
        "console errors: {log}"
    );
    Some(stdout(&opened))
}

#[test]
fn a_served_page_of_a_running_run_shows_its_new_rows_without_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    // Stand-alone training on digits: a few rows a second, for several seconds.
    let text = std::fs::read_to_string(
        archforge_tests::experiments_dir().join("digits-nb201-standalone.toml"),
    )
    .unwrap()
    .replace("epochs = 8", "epochs = 1")
    .replace("evaluations = 10", "evaluations = 40");
    std::fs::write(dir.path().join("live.toml"), text).unwrap();
    let mut search = Started::new(
        dir.path(),
        &[
            "compare",
            "live.toml",
            "--seeds",
            "1",
            "--store",
            "runs.db",
            "--out",
            "live",
        ],
    );
    let run = search
        .run_id()
        .expect("the search says which run it records");
    let store = Store::open(&dir.path().join("runs.db").to_string_lossy()).unwrap();
    let started = std::time::Instant::now();
    while store.rows(RunId(run)).unwrap().is_empty() {
        assert!(started.elapsed().as_secs() < 120, "no row recorded");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut server = Started::new(dir.path(), &["serve", "--store", "runs.db", "--port", "0"]);
    let address = server
        .line_after(&["serving the runs of runs.db on "])
        .expect("the server says where it listens");
    let index = http_get(&address, "/");
    assert!(
        index.contains(&format!("<a href=\"/runs/{run}\">")),
        "{index}"
    );
    let opened = open_in_chromium(&format!("{address}runs/{run}"));
    let recorded = store.rows(RunId(run)).unwrap().len();
    search.kill();
    server.kill();
    let Some(dom) = opened else {
        return;
    };
    // The rows the page was served with, and the ones its pager counts after the live ones.
    let embedded = dom
        .split("id=\"ledger\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the page embeds its ledger");
    let served = serde_json::from_str::<serde_json::Value>(embedded).unwrap()["rows"]
        .as_array()
        .unwrap()
        .len();
    let counted: usize = dom
        .split("rows 1–")
        .nth(1)
        .and_then(|rest| rest.split(" of ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pager in {dom}"));
    eprintln!("the page was served {served} rows and shows {counted} ({recorded} recorded)");
    assert!(served >= 1);
    assert!(
        counted > served && counted <= recorded,
        "the page was served {served} rows and shows {counted} ({recorded} recorded)"
    );
    assert!(dom.contains(&format!("live: {counted} rows, ")), "{dom}");
}

/// The body of `GET path` from the server at `address` (`http://127.0.0.1:PORT/`).
fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}
