//! # archforge-tests — end-to-end and conformance checks
//!
//! Helpers for the tests in `tests/tests/`: where the experiment files are, how to run the
//! real `archforge` binary, and how to read a run folder back.
//!
//! The binary is the one `cargo test --workspace` builds beside the test executables
//! (`target/<profile>/archforge`); the experiments crate's own integration tests make Cargo
//! build it in the same invocation.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The folder holding the shipped experiment files.
pub fn experiments_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments")
}

/// Every shipped experiment file, sorted.
pub fn experiment_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(experiments_dir())
        .expect("the experiments folder is readable")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "toml")
                && p.file_name().is_some_and(|n| n != "Cargo.toml")
        })
        .collect();
    files.sort();
    files
}

/// The `archforge` binary built by this `cargo test` run.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps");
    let bin = profile_dir.join(format!("archforge{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` so Cargo builds the binary",
        bin.display()
    );
    bin
}

/// Runs `archforge` with `args` in `dir`.
pub fn archforge(dir: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary starts")
}

/// Runs `archforge` with `args` in `dir`, failing the test with its error output unless it
/// succeeds.
pub fn archforge_ok(dir: &Path, args: &[&str]) -> Output {
    let output = archforge(dir, args);
    assert!(
        output.status.success(),
        "archforge {args:?}: {}",
        stderr(&output)
    );
    output
}

/// Standard error of a finished command, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard output of a finished command, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A CSV file's header and rows, as text.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = reader
        .headers()
        .expect("a header")
        .iter()
        .map(String::from)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("a row").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// A CSV file's rows without the columns `drop` picks by name, and the names it dropped
/// (what differs between repeats of a run: wall-clock seconds, measured latencies).
pub fn read_csv_without(
    path: &Path,
    drop: impl Fn(&str) -> bool,
) -> (Vec<String>, Vec<Vec<String>>) {
    let (header, rows) = read_csv(path);
    let dropped: Vec<String> = header.iter().filter(|h| drop(h)).cloned().collect();
    let keep: Vec<bool> = header.iter().map(|h| !drop(h)).collect();
    let rows = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v)
                .collect()
        })
        .collect();
    (dropped, rows)
}

/// Points an experiment file whose IDX data set (MNIST, Fashion-MNIST) is not installed on
/// this machine at small stand-in files of the same format and image size (written once per
/// test process), its `subset` cleared. Returns whether it did: the file is then checked in
/// every way but with its real images. Files whose data is present or embedded are left alone.
pub fn use_stand_in_data(file: &mut archforge_experiments::config::ExperimentFile) -> bool {
    use archforge::data::Source;
    let Some(data) = file.experiment.data.as_mut() else {
        return false;
    };
    let folder = match (data.source, &data.path) {
        (Source::Mnist | Source::FashionMnist, Some(p)) => {
            file.path.parent().unwrap_or(Path::new(".")).join(p)
        }
        (Source::FashionMnist, None) => PathBuf::from("/usr/share/datasets/fashion-mnist"),
        _ => return false,
    };
    if folder.exists() {
        return false;
    }
    data.path = Some(stand_in_idx_folder().to_path_buf());
    data.subset = Default::default();
    if let Some(distill) = file.experiment.distill.as_mut() {
        distill.images = None;
    }
    true
}

/// Gives a compression file without a trained teacher (`[teacher] path`) one: its teacher
/// trained for a single step on the file's data, once per file and test process, as
/// `archforge train` would write it. Returns whether it did.
pub fn use_trained_teacher(file: &mut archforge_experiments::config::ExperimentFile) -> bool {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static TEACHERS: Mutex<Option<HashMap<String, tempfile::TempDir>>> = Mutex::new(None);
    let Some(teacher) = file.experiment.teacher.as_ref() else {
        return false;
    };
    if teacher.path.is_some() || !file.experiment.environment.compresses() {
        return false;
    }
    let key = format!("{} {:?}", file.path.display(), file.experiment.data);
    let mut teachers = TEACHERS.lock().unwrap_or_else(|p| p.into_inner());
    let folder = teachers
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert_with(|| {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let mut quick = file.clone();
            if let Some(t) = quick.experiment.teacher.as_mut() {
                t.training.steps = Some(1);
            }
            archforge_experiments::workflows::train::train_teacher(
                &quick,
                &dir.path().join("teacher"),
            )
            .unwrap_or_else(|e| panic!("{}: training its teacher: {e:#}", file.path.display()));
            dir
        })
        .path()
        .join("teacher");
    if let Some(teacher) = file.experiment.teacher.as_mut() {
        teacher.path = Some(folder);
    }
    true
}

/// A folder of IDX files in MNIST's layout: 300 training and 100 test images of 28x28, each
/// a faint bar whose position is its label.
fn stand_in_idx_folder() -> &'static Path {
    static FOLDER: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    FOLDER
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary folder");
            for (stem, n) in [("train", 300u32), ("t10k", 100)] {
                let mut images = vec![0, 0, 8, 3];
                for v in [n, 28, 28] {
                    images.extend(v.to_be_bytes());
                }
                let mut labels = vec![0, 0, 8, 1];
                labels.extend(n.to_be_bytes());
                for i in 0..n {
                    let label = (i % 10) as usize;
                    labels.push(label as u8);
                    images.extend((0..28 * 28).map(|p| {
                        let row = p / 28;
                        if row / 2 == label + 4 {
                            200u8
                        } else {
                            (p * 7 % 31) as u8
                        }
                    }));
                }
                std::fs::write(dir.path().join(format!("{stem}-images-idx3-ubyte")), images)
                    .expect("stand-in images written");
                std::fs::write(dir.path().join(format!("{stem}-labels-idx1-ubyte")), labels)
                    .expect("stand-in labels written");
            }
            dir
        })
        .path()
}

/// A started `archforge` that goes on beside the test, and its standard error line by line.
pub struct Started {
    /// The process.
    pub child: Child,
    lines: Receiver<String>,
}

impl Started {
    /// Starts `archforge` with `args` in `dir`.
    pub fn new(dir: &Path, args: &[&str]) -> Started {
        let mut child = Command::new(binary())
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let err = child.stderr.take().expect("standard error is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Started { child, lines }
    }

    /// Waits (up to two minutes) for a line of standard error that starts with one of
    /// `prefixes`; the rest of it, or `None` when the process ended first.
    pub fn line_after(&self, prefixes: &[&str]) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(rest) = prefixes.iter().find_map(|p| line.strip_prefix(p)) {
                return Some(rest.to_string());
            }
        }
        None
    }

    /// Waits for the line that says which stored run it records (`recording as run N`,
    /// `resuming run N`).
    pub fn run_id(&self) -> Option<i64> {
        self.line_after(&["recording as run ", "resuming run "])
            .and_then(|rest| rest.split(' ').next().and_then(|n| n.parse().ok()))
    }

    /// Waits for it to end, for `limit` at most (then kills it); whether it ended by itself
    /// and succeeded.
    pub fn succeeds_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    /// The lines of standard error it wrote that were not read yet (after it ended: the rest).
    pub fn unread(&self) -> String {
        let mut text = String::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            text += &line;
            text.push('\n');
        }
        text
    }

    /// Kills it with SIGKILL and reaps it; whether it was still running. What it wrote before
    /// stays readable ([`Started::unread`]).
    pub fn kill(&mut self) -> bool {
        let running = self.child.try_wait().ok().flatten().is_none();
        let _ = self.child.kill();
        let _ = self.child.wait();
        running
    }
}

/// Ledger rows as two runs of one search must agree on them: wall-clock seconds aside, and
/// with `measured_latency` the latency too (measured by the machine's clock).
pub fn comparable(rows: &[archforge::Row], measured_latency: bool) -> Vec<archforge::Row> {
    rows.iter()
        .map(|r| {
            let mut r = r.clone();
            r.wall_seconds = 0.0;
            if measured_latency {
                r.record.latency_ms = None;
            }
            r
        })
        .collect()
}

/// Every `evaluations.csv` under `folder` (a run's, or a compression's stages'), by path
/// within it, each [`comparable`].
pub fn ledgers(folder: &Path, measured_latency: bool) -> Vec<(String, Vec<archforge::Row>)> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|n| n == "evaluations.csv") {
                let name = path.strip_prefix(folder).unwrap().display().to_string();
                let rows = archforge::ledger::Ledger::read(&path).unwrap();
                found.push((name, comparable(&rows, measured_latency)));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The shipped experiment file `shipped` with each `(from, to)` of `edits` replaced in turn and
/// `extra` appended, written into `dir` as `name`; its path.
pub fn shipped_with(
    dir: &Path,
    shipped: &str,
    edits: &[(&str, &str)],
    extra: &str,
    name: &str,
) -> String {
    let mut text = std::fs::read_to_string(experiments_dir().join(shipped)).unwrap();
    for (from, to) in edits {
        text = text.replace(from, to);
    }
    text.push_str(extra);
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}
