//! Readers for the dataset formats: the embedded digits CSV, IDX files (MNIST,
//! Fashion-MNIST; gzip-compressed or not) and CIFAR-10 binary batches. Each returns images as
//! `f32` pixel values in their file's range, and reports a missing or corrupt file as an error
//! naming the path and what was expected.

use super::Dataset;
use crate::arch::Shape;
use crate::error::{Error, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The digits set, embedded.
const DIGITS: &[u8] = include_bytes!("digits.csv.gz");

fn data_error(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
    Error::Data {
        path: path.into(),
        reason: reason.into(),
    }
}

/// Bytes of a file, gunzipped when it starts with the gzip magic number.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| data_error(path, format!("cannot read: {e}")))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| data_error(path, format!("corrupt gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// The 1,797 8x8 handwritten digits (pixels 0..16), one channel, 10 classes.
pub fn digits() -> Result<Dataset> {
    let path = "<embedded digits.csv.gz>";
    let mut text = String::new();
    GzDecoder::new(DIGITS)
        .read_to_string(&mut text)
        .map_err(|e| data_error(path, format!("corrupt: {e}")))?;
    parse_digits(&text, Path::new(path))
}

fn parse_digits(text: &str, path: &Path) -> Result<Dataset> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let values: Vec<&str> = line.split(',').collect();
        if values.len() != 65 {
            return Err(data_error(
                path,
                format!("line {}: expected 64 pixels and a label", n + 1),
            ));
        }
        for v in &values[..64] {
            let pixel: f32 = v.trim().parse().map_err(|_| {
                data_error(path, format!("line {}: pixel `{v}` is not a number", n + 1))
            })?;
            images.push(pixel);
        }
        let label: u32 = values[64]
            .trim()
            .parse()
            .ok()
            .filter(|l| *l < 10)
            .ok_or_else(|| data_error(path, format!("line {}: label is not 0..9", n + 1)))?;
        labels.push(label);
    }
    Dataset::new(Shape::new(1, 8, 8), 10, images, labels).map_err(|why| data_error(path, why))
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// An IDX image file and its label file (MNIST layout: magic 0x803 with N x rows x cols
/// unsigned bytes, magic 0x801 with N unsigned-byte labels), `classes` classes.
pub fn idx(images: &Path, labels: &Path, classes: usize) -> Result<Dataset> {
    let img = read_maybe_gz(images)?;
    if img.len() < 16 || be_u32(&img, 0) != 0x0803 {
        return Err(data_error(
            images,
            "not an IDX image file (expected magic 0x00000803 and 3 dimensions)",
        ));
    }
    let (n, rows, cols) = (
        be_u32(&img, 4) as usize,
        be_u32(&img, 8) as usize,
        be_u32(&img, 12) as usize,
    );
    let expected = n.checked_mul(rows).and_then(|v| v.checked_mul(cols));
    if expected.is_none_or(|e| img.len() != 16 + e) {
        return Err(data_error(
            images,
            format!(
                "{} bytes of pixels, expected {n} x {rows} x {cols}",
                img.len().saturating_sub(16)
            ),
        ));
    }
    let lab = read_maybe_gz(labels)?;
    if lab.len() < 8 || be_u32(&lab, 0) != 0x0801 {
        return Err(data_error(
            labels,
            "not an IDX label file (expected magic 0x00000801)",
        ));
    }
    let m = be_u32(&lab, 4) as usize;
    if m != n || lab.len() != 8 + m {
        return Err(data_error(
            labels,
            format!("{m} labels in {} bytes, expected {n}", lab.len() - 8),
        ));
    }
    let labels_out: Vec<u32> = lab[8..].iter().map(|&l| l as u32).collect();
    if let Some(bad) = labels_out.iter().find(|&&l| l as usize >= classes) {
        return Err(data_error(
            labels,
            format!("label {bad} is not below {classes}"),
        ));
    }
    let pixels = img[16..].iter().map(|&p| p as f32).collect();
    Dataset::new(Shape::new(1, rows, cols), classes, pixels, labels_out)
        .map_err(|why| data_error(images, why))
}

/// CIFAR-10 binary batches: records of one label byte and 3,072 pixel bytes (3 x 32 x 32,
/// channel-major), from each of `files`.
pub fn cifar10(files: &[PathBuf]) -> Result<Dataset> {
    const RECORD: usize = 1 + 3 * 32 * 32;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for path in files {
        let bytes = read_maybe_gz(path)?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(data_error(
                path,
                format!(
                    "{} bytes is not a whole number of 3,073-byte CIFAR-10 records",
                    bytes.len()
                ),
            ));
        }
        for record in bytes.chunks_exact(RECORD) {
            if record[0] >= 10 {
                return Err(data_error(path, format!("label {} is not 0..9", record[0])));
            }
            labels.push(record[0] as u32);
            images.extend(record[1..].iter().map(|&p| p as f32));
        }
    }
    let first = files.first().cloned().unwrap_or_default();
    Dataset::new(Shape::new(3, 32, 32), 10, images, labels).map_err(|why| data_error(first, why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx_files(dir: &Path, n: u32, gz: bool) -> (PathBuf, PathBuf) {
        let mut img = vec![0, 0, 8, 3];
        img.extend(n.to_be_bytes());
        img.extend(2u32.to_be_bytes());
        img.extend(3u32.to_be_bytes());
        img.extend((0..n * 6).map(|i| (i % 256) as u8));
        let mut lab = vec![0, 0, 8, 1];
        lab.extend(n.to_be_bytes());
        lab.extend((0..n).map(|i| (i % 10) as u8));
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            if gz {
                let mut enc = flate2::write::GzEncoder::new(
                    std::fs::File::create(&path).unwrap(),
                    flate2::Compression::fast(),
                );
                enc.write_all(bytes).unwrap();
                enc.finish().unwrap();
            } else {
                std::fs::write(&path, bytes).unwrap();
            }
            path
        };
        (write("img", &img), write("lab", &lab))
    }

    #[test]
    fn the_embedded_digits_load() {
        let d = digits().unwrap();
        assert_eq!(d.len(), 1797);
        assert_eq!(d.shape, Shape::new(1, 8, 8));
        assert!(d.images.iter().all(|&p| (0.0..=16.0).contains(&p)));
        assert_eq!(d.labels.iter().filter(|&&l| l == 0).count(), 178);
    }

    #[test]
    fn idx_files_load_plain_and_gzipped() {
        let dir = tempfile::tempdir().unwrap();
        for gz in [false, true] {
            let (img, lab) = idx_files(dir.path(), 5, gz);
            let d = idx(&img, &lab, 10).unwrap();
            assert_eq!(d.len(), 5);
            assert_eq!(d.shape, Shape::new(1, 2, 3));
            assert_eq!(d.image(1), &[6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
            assert_eq!(d.labels, [0, 1, 2, 3, 4]);
        }
    }

    #[test]
    fn corrupt_idx_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (img, lab) = idx_files(dir.path(), 5, false);
        let bytes = std::fs::read(&img).unwrap();
        std::fs::write(&img, &bytes[..bytes.len() - 1]).unwrap();
        let err = idx(&img, &lab, 10).unwrap_err().to_string();
        assert!(
            err.contains("29 bytes of pixels, expected 5 x 2 x 3"),
            "{err}"
        );
        std::fs::write(&img, b"hello").unwrap();
        assert!(
            idx(&img, &lab, 10)
                .unwrap_err()
                .to_string()
                .contains("not an IDX image file")
        );
        let err = idx(&dir.path().join("missing"), &lab, 10)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing") && err.contains("cannot read"),
            "{err}"
        );
        let (img, lab) = idx_files(dir.path(), 5, false);
        assert!(
            idx(&img, &lab, 3)
                .unwrap_err()
                .to_string()
                .contains("label 3 is not below 3")
        );
    }

    #[test]
    fn cifar_batches_load_and_truncation_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for label in [3u8, 7] {
            bytes.push(label);
            bytes.extend((0..3072).map(|i| (i % 251) as u8));
        }
        let path = dir.path().join("data_batch_1.bin");
        std::fs::write(&path, &bytes).unwrap();
        let d = cifar10(std::slice::from_ref(&path)).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.labels, [3, 7]);
        assert_eq!(d.shape, Shape::new(3, 32, 32));
        assert_eq!(d.image(1)[250..252], [250.0, 0.0]);
        std::fs::write(&path, &bytes[..3000]).unwrap();
        assert!(
            cifar10(&[path])
                .unwrap_err()
                .to_string()
                .contains("not a whole number")
        );
    }

    #[test]
    fn malformed_digit_lines_are_errors() {
        let path = Path::new("d.csv");
        assert!(
            parse_digits("1,2,3\n", path)
                .unwrap_err()
                .to_string()
                .contains("expected 64 pixels")
        );
        let line = format!("{}12", "0,".repeat(64));
        assert!(
            parse_digits(&line, path)
                .unwrap_err()
                .to_string()
                .contains("label is not 0..9")
        );
    }
}
