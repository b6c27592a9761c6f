//! `archforge serve`: the report pages of every run of a store, on this machine's loopback
//! address, kept up to date while a run goes on.
//!
//! - `/` lists the runs, as `archforge runs` does, each linked to its page;
//! - `/runs/N` is run N's report page, the one `archforge report N --html` writes, rebuilt
//!   from the store at each request ([`crate::report::stored`]). The page of a running run
//!   holds its rows in the order they were recorded and asks for the ones after them;
//! - `/runs/N/rows?after=K` answers the rows recorded after the first K, with the run's
//!   status (`{"rows": [[cells...]], "status": "running"}`), the cells as `evaluations.csv`
//!   writes them. While the run is going and has no new row, the answer waits for one (up to
//!   [`LONG_POLL`]), so a new row reaches the page at once.
//!
//! One thread per connection ([`http`]): a waiting answer holds no other one up.

pub mod http;

use crate::report::{html, stored};
use anyhow::{Context as _, Result};
use archforge::ledger::Ledger;
use archforge::store::{RunId, RunStatus, Store};
use http::{Request, Response};
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest a request for new rows waits for one.
pub const LONG_POLL: Duration = Duration::from_secs(20);

/// How often a waiting request looks for new rows.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// Serves `store`'s pages on `listener` until the process ends.
pub fn serve(store: Arc<Store>, listener: TcpListener) -> Result<()> {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else {
            continue;
        };
        let store = store.clone();
        std::thread::spawn(move || {
            let response = match Request::read(&mut stream) {
                Ok(request) => answer(&store, &request),
                Err(refused) => refused,
            };
            response.send(&mut stream);
        });
    }
    Ok(())
}

/// The response to `request`.
pub fn answer(store: &Store, request: &Request) -> Response {
    let parts: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let run = |text: &str| text.parse::<i64>().ok().map(RunId);
    let answered = match parts.as_slice() {
        [""] => index(store),
        ["runs", n] => match run(n) {
            Some(id) => page(store, id),
            None => return Response::text(404, format!("no page {}", request.path)),
        },
        ["runs", n, "rows"] => match (run(n), request.param("after").map(str::parse)) {
            (Some(id), Some(Ok(after))) => rows(store, id, after),
            (Some(id), None) => rows(store, id, 0),
            _ => return Response::text(400, "rows?after=K takes a number of rows"),
        },
        _ => return Response::text(404, format!("no page {}", request.path)),
    };
    answered.unwrap_or_else(|e| {
        let status = if e.to_string().contains("no run") {
            404
        } else {
            500
        };
        Response::text(status, format!("{e:#}"))
    })
}

/// The list of runs.
fn index(store: &Store) -> Result<Response> {
    let mut body = String::from(
        "<table><thead><tr><th>run</th><th>name</th><th>command</th><th>status</th><th>controllers</th><th>evaluations</th><th>best reward</th><th>started</th></tr></thead><tbody>\n",
    );
    for run in store.runs()?.iter().rev() {
        let _ = writeln!(
            body,
            "<tr><td><a href=\"/runs/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html::escape(&run.name),
            html::escape(&run.command),
            run.status,
            html::escape(&run.controllers.join(", ")),
            run.evaluations,
            run.best_reward.map_or(String::new(), |b| format!("{b:.4}")),
            html::escape(&run.started_at),
            id = run.id,
        );
    }
    body += "</tbody></table>\n";
    let title = format!("Runs of {}", store.location());
    Ok(Response::html(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>\n{}</style>\n</head>\n<body>\n<h1>{t}</h1>\n{body}</body>\n</html>\n",
        html::STYLE,
        t = html::escape(&title),
    )))
}

/// A folder of its own under the system's temporary folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "archforge-serve-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `id`'s report page.
fn page(store: &Store, id: RunId) -> Result<Response> {
    let run = store.run(id)?;
    let scratch = Scratch::new()?;
    let rebuilt = stored::rebuild(store, &run, &scratch.0)?;
    let live = run.status == RunStatus::Running;
    let shown = if live {
        // The rows in the order they were recorded, which the live ones follow.
        let rows = store.rows_recorded(id, 0)?;
        Ledger::rewrite(&scratch.0.join("evaluations.csv"), &rows)?;
        rows.len()
    } else {
        rebuilt.rows
    };
    let page = html::Page {
        title: rebuilt.context.title.clone(),
        facts: stored::facts(store, &run, shown),
        live: live.then(|| format!("/runs/{id}/rows")),
    };
    Ok(Response::html(html::render(&scratch.0, &page)?))
}

/// The rows of run `id` recorded after the first `after`, waiting for one while it runs.
fn rows(store: &Store, id: RunId, after: usize) -> Result<Response> {
    let started = Instant::now();
    loop {
        let status = store.run(id)?.status;
        let rows = store.rows_recorded(id, after)?;
        if !rows.is_empty() || status != RunStatus::Running || started.elapsed() >= LONG_POLL {
            let (_, cells) = html::ledger_cells(&rows)?;
            return Ok(Response::json(&serde_json::json!({
                "rows": cells,
                "status": status.to_string(),
            })));
        }
        std::thread::sleep(LOOK_EVERY);
    }
}
