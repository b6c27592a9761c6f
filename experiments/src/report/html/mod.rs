//! One self-contained HTML page of a run's reports (`report.html`), drawn from the files of
//! its folder: the summary table (the cells of `summary.csv` as written), the best-so-far
//! curves and their later half, the learning curves, the Pareto fronts, the lineage, the
//! best architecture with its graph ([`arch_svg`]), and every evaluation in a table that is
//! sorted, filtered and paged in the page itself (`page.js`; the ledger is embedded as JSON
//! and only one page of rows is in the document at a time, so a ledger of a hundred thousand
//! rows stays responsive). Plots are inlined SVG, styles and script are inlined: nothing is
//! fetched when the page is viewed, but for a served page's new rows.

pub mod arch_svg;

use anyhow::{Context as _, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const SCRIPT: &str = include_str!("page.js");
/// The pages' style sheet.
pub const STYLE: &str = include_str!("page.css");

/// What a page says of its run besides its folder's files.
pub struct Page {
    /// The heading: the experiment's name.
    pub title: String,
    /// One line of facts under it (run number, command, status, times).
    pub facts: String,
    /// For a page that `archforge serve` keeps up to date: where its new rows are fetched.
    pub live: Option<String>,
}

/// Writes `report.html` into `out` from the report files there; its path.
pub fn write(out: &Path, page: &Page) -> Result<PathBuf> {
    let path = out.join("report.html");
    std::fs::write(&path, render(out, page)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The page of the report files in `out`.
pub fn render(out: &Path, page: &Page) -> Result<String> {
    let read = |name: &str| -> Result<Option<String>> {
        let path = out.join(name);
        if !path.exists() {
            return Ok(None);
        }
        std::fs::read_to_string(&path)
            .map(Some)
            .with_context(|| format!("reading {}", path.display()))
    };
    let mut sections: Vec<(&str, &str, String)> = Vec::new();

    let mut summary = String::new();
    if let Some(csv) = read("summary.csv")? {
        summary += &table("summary", &csv)?;
    }
    if let Some(csv) = read("under_target.csv")? {
        summary += "<h3>Under the latency target</h3>\n";
        summary += &table("under-target", &csv)?;
    }
    sections.push(("summary", "Summary", summary));

    let plots = |names: &[String]| -> Result<String> {
        let mut html = String::from("<div class=\"plots\">\n");
        for name in names {
            if let Some(svg) = read(name)? {
                html += &svg;
            }
        }
        Ok(html + "</div>\n")
    };
    sections.push((
        "best-so-far",
        "Best so far",
        plots(&["best_so_far.svg".into(), "best_so_far_tail.svg".into()])?,
    ));
    sections.push((
        "learning",
        "Learning curves",
        plots(&["reward_curve.svg".into()])?,
    ));
    let mut fronts: Vec<String> = std::fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pareto_") && n.ends_with(".svg"))
        .collect();
    fronts.sort();
    if !fronts.is_empty() {
        sections.push(("pareto", "Pareto fronts", plots(&fronts)?));
    }
    if out.join("lineage.svg").exists() {
        sections.push(("lineage", "Lineage", plots(&["lineage.svg".into()])?));
    }
    if let Some(best) = read("best.json")? {
        sections.push(("best", "Best architecture", best_section(&best)?));
    }
    let ledger = read("evaluations.csv")?.unwrap_or_default();
    sections.push(("evaluations", "Evaluations", evaluations(&ledger)?));

    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body{}>\n<h1>{}</h1>\n<p class=\"facts\">{} <span id=\"live\"></span></p>\n<nav>",
        escape(&page.title),
        page.live
            .as_ref()
            .map_or(String::new(), |l| format!(" data-live=\"{}\"", escape(l))),
        escape(&page.title),
        escape(&page.facts),
    );
    for (id, heading, _) in &sections {
        let _ = write!(html, "<a href=\"#{id}-section\">{heading}</a>");
    }
    html += "</nav>\n";
    for (id, heading, body) in &sections {
        let _ = write!(
            html,
            "<section id=\"{id}-section\">\n<h2>{heading}</h2>\n{body}</section>\n"
        );
    }
    let _ = write!(html, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    Ok(html)
}

/// `text` with the characters HTML gives a meaning escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Ledger rows as the page's evaluation table holds them: the columns, and each row's cells
/// as `evaluations.csv` writes them (what a served page's new rows come as).
pub fn ledger_cells(rows: &[archforge::Row]) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut writer = archforge::record::FlatWriter::new(Vec::new());
    for row in rows {
        writer.write(row)?;
    }
    let text = String::from_utf8(std::mem::take(writer.buffer()))?;
    if text.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    records(&text)
}

/// The records of a CSV text: its header and rows, cells as written.
fn records(csv_text: &str) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let header = reader.headers()?.iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.map(|r| r.iter().map(String::from).collect()))
        .collect::<Result<_, _>>()?;
    Ok((header, rows))
}

/// A CSV text as an HTML table with the id `id`, every cell as written.
fn table(id: &str, csv_text: &str) -> Result<String> {
    let (header, rows) = records(csv_text)?;
    let mut html = format!("<div class=\"scroll\"><table id=\"{id}\">\n<thead><tr>");
    for h in &header {
        let _ = write!(html, "<th>{}</th>", escape(h));
    }
    html += "</tr></thead>\n<tbody>\n";
    for row in &rows {
        html += "<tr>";
        for cell in row {
            let _ = write!(html, "<td>{}</td>", escape(cell));
        }
        html += "</tr>\n";
    }
    Ok(html + "</tbody></table></div>\n")
}

/// The best architecture: what it scored, and its graph.
fn best_section(best_json: &str) -> Result<String> {
    let best: Value = serde_json::from_str(best_json).context("reading best.json")?;
    let mut html = String::from("<table id=\"best\"><tbody>\n");
    if let Value::Object(fields) = &best {
        for (key, value) in fields.iter().filter(|(k, _)| *k != "graph") {
            let shown = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let _ = writeln!(
                html,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(key),
                escape(&shown)
            );
        }
    }
    html += "</tbody></table>\n";
    if let Some(svg) = best.get("graph").and_then(arch_svg::draw) {
        html += "<div class=\"scroll graph\">\n";
        html += &svg;
        html += "</div>\n";
    }
    Ok(html)
}

/// The evaluation table's frame and its rows as embedded JSON (`page.js` fills the body).
fn evaluations(ledger_csv: &str) -> Result<String> {
    let (columns, rows) = if ledger_csv.trim().is_empty() {
        (Vec::new(), Vec::new())
    } else {
        records(ledger_csv)?
    };
    let mut html = String::from(
        "<div class=\"controls\"><input id=\"filter\" type=\"search\" placeholder=\"filter rows\"><button id=\"previous\">previous</button><button id=\"next\">next</button><span id=\"page-info\"></span></div>\n<div class=\"scroll\"><table id=\"evaluations\">\n<thead><tr>",
    );
    for c in &columns {
        let _ = write!(html, "<th>{}</th>", escape(c));
    }
    html += "</tr></thead>\n<tbody></tbody></table></div>\n";
    let json = serde_json::json!({ "columns": columns, "rows": rows }).to_string();
    let _ = writeln!(
        html,
        "<script type=\"application/json\" id=\"ledger\">{}</script>",
        embedded(&json)
    );
    Ok(html)
}

/// JSON that can sit in a `<script>` element: no `</` or `<!--` in it.
pub fn embedded(json: &str) -> String {
    json.replace("</", "<\\/").replace("<!--", "<\\u0021--")
}
