//! The run folder's layout: where a run's folder goes (`runs/<name>-<UTC time>`, never an
//! existing one that is not empty) and how the files in it are named — weights by run
//! (`CONTROLLER-seedN`), a supernet's store, names made safe for files.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// The part of a weights file's name that says which run it is from: the controller's name
/// ([`file_safe`]) and the seed.
pub fn run_file_stem(controller: &str, seed: u64) -> String {
    format!("{}-seed{seed}", file_safe(controller))
}

/// `name` with every character but letters, digits, `-`, `_` and `.` as `-`, for file names.
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Where a run's trained supernet is kept in its run folder.
pub fn supernet_file(out: &Path, controller: &str, seed: u64) -> PathBuf {
    out.join("weights").join(format!(
        "supernet-{}.safetensors",
        run_file_stem(controller, seed)
    ))
}

/// Where a controller's trained weights of `name` are kept: `CONTROLLER-NAME.safetensors`
/// in the run folder, shared by its seeds.
pub fn trained_weights_file(out: &Path, controller: &str, name: &str) -> PathBuf {
    out.join(format!("{}-{name}.safetensors", file_safe(controller)))
}

/// Creates the run folder, refusing one that exists and is not empty.
pub fn create_run_folder(out: &Path) -> Result<()> {
    if out.exists() {
        let empty = out.is_dir()
            && std::fs::read_dir(out)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !empty {
            bail!(
                "{} already exists; choose another --out (results are never overwritten)",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
}

/// The default run folder: `runs/<name>-<UTC timestamp>`, with a suffix if that exists.
pub fn default_out(name: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{name}-{}", utc_stamp(secs));
    let mut candidate = PathBuf::from("runs").join(&base);
    let mut n = 2;
    while candidate.exists() {
        candidate = PathBuf::from("runs").join(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

/// `YYYYMMDD-HHMMSS` in UTC for seconds since the Unix epoch.
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc_stamp;

    #[test]
    fn timestamps_are_civil_utc() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(1_795_804_442), "20261127-183402");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
    }
}
