//! CSV files of serialisable rows, with a header.

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// Writes `rows` as a CSV file with a header row.
pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let context = || format!("writing {}", path.display());
    let mut writer = csv::Writer::from_path(path).with_context(context)?;
    for row in rows {
        writer.serialize(row).with_context(context)?;
    }
    writer.flush().with_context(context)
}
