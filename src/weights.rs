//! Weights addressed by path, apart from the engine: a [`Snapshot`] maps each tensor's path
//! (`stage0/cell1/edge_0_2/relu_conv3x3_bn(c16)/16x32x32/weight`: where the layer sits, what
//! it computes, what it reads, which of its tensors) to its [`Values`]. It is what a trained
//! network, a supernet's store or a candidate cut out of one is on disk (safetensors, f32,
//! with the tensor paths as names) and what a candidate's weights start from: the trainer
//! builds layers from a snapshot by path, so an exported child, a saved network, a
//! teacher's layers or a parent's morphed weights all initialise a network the same way.

use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

/// One tensor's shape and values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    /// The shape.
    pub shape: Vec<usize>,
    /// The values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

impl Values {
    /// The part of the tensor within `ranges`, one per axis.
    pub fn window(&self, ranges: &[Range<usize>]) -> Values {
        debug_assert_eq!(ranges.len(), self.shape.len());
        let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        let mut strides = vec![1; self.shape.len()];
        for axis in (0..self.shape.len().saturating_sub(1)).rev() {
            strides[axis] = strides[axis + 1] * self.shape[axis + 1];
        }
        let mut data = Vec::with_capacity(shape.iter().product());
        let mut index = vec![0; shape.len()];
        if shape.contains(&0) {
            return Values { shape, data };
        }
        loop {
            let at: usize = (0..shape.len())
                .map(|a| (ranges[a].start + index[a]) * strides[a])
                .sum();
            data.push(self.data[at]);
            // Next index, last axis fastest.
            let Some(axis) = (0..shape.len()).rev().find(|&a| index[a] + 1 < shape[a]) else {
                break;
            };
            index[axis] += 1;
            index[axis + 1..].fill(0);
        }
        Values { shape, data }
    }
}

/// Tensors by path (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    tensors: BTreeMap<String, Values>,
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Self {
        Snapshot::default()
    }

    /// Adds (or replaces) the tensor at `path`.
    pub fn insert(&mut self, path: String, values: Values) {
        self.tensors.insert(path, values);
    }

    /// The tensor at `path`.
    pub fn get(&self, path: &str) -> Option<&Values> {
        self.tensors.get(path)
    }

    /// Every tensor, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Values)> {
        self.tensors.iter()
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether it holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Writes a safetensors file at `path` (f32 tensors named by their paths), refusing to
    /// replace an existing file: the file appears whole, or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = self.write_aside(path)?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        linked.map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                io_error(path, "the file exists; weights are never overwritten")
            }
            _ => Error::Io {
                path: path.into(),
                source: e,
            },
        })
    }

    /// Writes a safetensors file at `path`, replacing an existing one atomically (a run's
    /// best weights so far).
    pub fn replace(&self, path: &Path) -> Result<()> {
        let tmp = self.write_aside(path)?;
        std::fs::rename(&tmp, path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }

    /// Writes the file beside `path` under a temporary name, which it returns.
    fn write_aside(&self, path: &Path) -> Result<std::path::PathBuf> {
        let buffer = self.to_bytes().map_err(|why| io_error(path, &why))?;
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&tmp, buffer).map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
        Ok(tmp)
    }

    /// The snapshot as a safetensors file's bytes (what [`Snapshot::save`] writes); `Err` says
    /// why it cannot be (a tensor whose values do not fill its shape).
    pub fn to_bytes(&self) -> std::result::Result<Vec<u8>, String> {
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = self
            .tensors
            .iter()
            .map(|(name, v)| {
                let raw = v.data.iter().flat_map(|x| x.to_le_bytes()).collect();
                (name.clone(), raw, v.shape.clone())
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, raw, shape)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), raw)
                    .map(|view| (name.as_str(), view))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let metadata = HashMap::from([("format".to_string(), "archforge".to_string())]);
        safetensors::serialize(views, Some(metadata)).map_err(|e| e.to_string())
    }

    /// Reads a safetensors file of f32 tensors.
    pub fn load(path: &Path) -> Result<Snapshot> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
        Snapshot::from_bytes(&bytes).map_err(|why| io_error(path, &why))
    }

    /// The snapshot a safetensors file's `bytes` hold; `Err` says why they are not one of f32
    /// tensors.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Snapshot, String> {
        let file = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| format!("not a safetensors file: {e}"))?;
        let mut snapshot = Snapshot::new();
        for (name, view) in file.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(format!("tensor `{name}` is {:?}, not f32", view.dtype()));
            }
            let data = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            snapshot.insert(
                name,
                Values {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(snapshot)
    }
}

fn io_error(path: &Path, why: &str) -> Error {
    Error::Io {
        path: path.into(),
        source: std::io::Error::other(why.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_takes_leading_channels_and_a_central_kernel() {
        // 2 x 1 x 3 x 3, values 0..18.
        let v = Values {
            shape: vec![2, 1, 3, 3],
            data: (0..18).map(|x| x as f32).collect(),
        };
        let w = v.window(&[1..2, 0..1, 1..2, 1..2]);
        assert_eq!((w.shape, w.data), (vec![1, 1, 1, 1], vec![13.0]));
        let w = v.window(&[0..2, 0..1, 0..2, 1..3]);
        assert_eq!(w.data, [1.0, 2.0, 4.0, 5.0, 10.0, 11.0, 13.0, 14.0]);
        assert_eq!(v.window(&[0..2, 0..1, 0..3, 0..3]), v);
    }

    #[test]
    fn snapshots_round_trip_through_safetensors_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let mut s = Snapshot::new();
        s.insert(
            "stem/conv3x3_bn(c4)/1x8x8/weight".into(),
            Values {
                shape: vec![4, 1, 3, 3],
                data: (0..36).map(|x| x as f32 * 0.5).collect(),
            },
        );
        s.insert(
            "fc/bias".into(),
            Values {
                shape: vec![3],
                data: vec![1.0, -2.0, 3.5],
            },
        );
        s.save(&path).unwrap();
        assert_eq!(Snapshot::load(&path).unwrap(), s);
        let bytes = s.to_bytes().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "the file is its bytes"
        );
        assert_eq!(Snapshot::from_bytes(&bytes).unwrap(), s);
        assert!(Snapshot::from_bytes(&bytes[..bytes.len() - 4]).is_err());
        let err = s.save(&path).unwrap_err().to_string();
        assert!(err.contains("never overwritten"), "{err}");
        s.replace(&path).unwrap();
        std::fs::write(&path, b"junk").unwrap();
        let err = Snapshot::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a safetensors file"), "{err}");
    }
}
