//! Datasets as plain tensors: images as `f32` values laid out example by example
//! (channels x height x width), integer labels, and deterministic train / valid / test splits
//! from a seed. Normalisation uses the training split's per-channel mean and deviation for all
//! three splits; mini-batches come shuffled from the run's generator, with optional
//! augmentation (random crop with zero padding, horizontal flip) on training batches.
//!
//! Sources ([`sources`]): the digits set embedded in the binary (the default: runs anywhere),
//! IDX files (MNIST, Fashion-MNIST) and CIFAR-10 binary batches.

pub mod sources;

use crate::arch::Shape;
use crate::error::{Error, Result};
use rand::seq::SliceRandom;
use rand::{Rng as _, SeedableRng};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Labelled images of one shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The shape of one image.
    pub shape: Shape,
    /// Number of classes; labels are below it.
    pub classes: usize,
    /// Pixel values, image after image.
    pub images: Vec<f32>,
    /// One label per image.
    pub labels: Vec<u32>,
}

impl Dataset {
    /// A dataset, checked: as many labels as images, labels below `classes`.
    pub fn new(
        shape: Shape,
        classes: usize,
        images: Vec<f32>,
        labels: Vec<u32>,
    ) -> Result<Self, String> {
        let size = shape.elements() as usize;
        if size == 0 || images.len() != labels.len() * size {
            return Err(format!(
                "{} values for {} images of {shape}",
                images.len(),
                labels.len()
            ));
        }
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(format!("label {bad} is not below {classes}"));
        }
        Ok(Dataset {
            shape,
            classes,
            images,
            labels,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        let size = self.shape.elements() as usize;
        &self.images[i * size..(i + 1) * size]
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * self.shape.elements() as usize);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            shape: self.shape,
            classes: self.classes,
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Per-channel mean and standard deviation.
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let plane = self.shape.height * self.shape.width;
        let c = self.shape.channels;
        let mut sum = vec![0f64; c];
        let mut sq = vec![0f64; c];
        for (k, v) in self.images.iter().enumerate() {
            let ch = (k / plane) % c;
            sum[ch] += *v as f64;
            sq[ch] += (*v as f64) * (*v as f64);
        }
        let n = (self.len() * plane).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| ((q / n - m * m).max(0.0).sqrt() as f32).max(1e-6))
            .collect();
        (mean.into_iter().map(|m| m as f32).collect(), std)
    }

    /// Subtracts `mean` and divides by `std`, channel by channel.
    pub fn normalize(&mut self, mean: &[f32], std: &[f32]) {
        let plane = self.shape.height * self.shape.width;
        let c = self.shape.channels;
        for (k, v) in self.images.iter_mut().enumerate() {
            let ch = (k / plane) % c;
            *v = (*v - mean[ch]) / std[ch];
        }
    }

    /// Mini-batches of `size` images over one pass: in a shuffled order drawn from `rng`
    /// (in order when `None`), augmented as `augment` says.
    pub fn batches(
        &self,
        size: usize,
        rng: Option<&mut crate::rng::Rng>,
        augment: Augment,
    ) -> Batches<'_> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        let rng = rng.map(|r| {
            order.shuffle(r);
            crate::rng::Rng::seed_from_u64(r.random())
        });
        Batches {
            data: self,
            order,
            next: 0,
            size: size.max(1),
            augment,
            rng,
        }
    }
}

/// Augmentation of training images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augment {
    /// Pad by this many zero pixels on each side, then crop back at a random offset (0: off).
    #[serde(default)]
    pub crop_padding: usize,
    /// Mirror each image left-right with probability 1/2.
    #[serde(default)]
    pub flip: bool,
}

/// One mini-batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Pixels, image after image.
    pub images: Vec<f32>,
    /// Labels.
    pub labels: Vec<u32>,
    /// Each image's index in its dataset.
    pub indices: Vec<usize>,
}

impl Batch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether it holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// The mini-batches of one pass over a dataset (see [`Dataset::batches`]).
pub struct Batches<'a> {
    data: &'a Dataset,
    order: Vec<usize>,
    next: usize,
    size: usize,
    augment: Augment,
    rng: Option<crate::rng::Rng>,
}

impl Batches<'_> {
    /// Skips the first `n` batches without building them.
    pub fn skip_batches(mut self, n: usize) -> Self {
        self.next = n.saturating_mul(self.size).min(self.order.len());
        self
    }
}

impl Iterator for Batches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.order.len() {
            return None;
        }
        let end = (self.next + self.size).min(self.order.len());
        let shape = self.data.shape;
        let mut images = Vec::with_capacity((end - self.next) * shape.elements() as usize);
        let mut labels = Vec::with_capacity(end - self.next);
        for &i in &self.order[self.next..end] {
            let image = self.data.image(i);
            match self
                .rng
                .as_mut()
                .filter(|_| self.augment != Augment::default())
            {
                Some(rng) => augment_into(image, shape, self.augment, rng, &mut images),
                None => images.extend_from_slice(image),
            }
            labels.push(self.data.labels[i]);
        }
        let indices = self.order[self.next..end].to_vec();
        self.next = end;
        Some(Batch {
            images,
            labels,
            indices,
        })
    }
}

/// Appends an augmented copy of `image`: shifted by a random offset within the padding
/// (zeros come in at the edges), then mirrored with probability 1/2 when asked.
fn augment_into(
    image: &[f32],
    shape: Shape,
    augment: Augment,
    rng: &mut crate::rng::Rng,
    out: &mut Vec<f32>,
) {
    let p = augment.crop_padding as i64;
    let (dy, dx) = if p > 0 {
        (
            rng.random_range(-p..=p) as isize,
            rng.random_range(-p..=p) as isize,
        )
    } else {
        (0, 0)
    };
    let flip = augment.flip && rng.random_bool(0.5);
    let (h, w) = (shape.height as isize, shape.width as isize);
    for c in 0..shape.channels {
        let plane = &image[c * shape.height * shape.width..(c + 1) * shape.height * shape.width];
        for y in 0..h {
            for x in 0..w {
                let sx = if flip { w - 1 - x } else { x } + dx;
                let sy = y + dy;
                let inside = (0..h).contains(&sy) && (0..w).contains(&sx);
                out.push(if inside {
                    plane[(sy * w + sx) as usize]
                } else {
                    0.0
                });
            }
        }
    }
}

/// Where a dataset comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The embedded 8x8 digits (1,797 images): split into train / valid / test.
    Digits,
    /// MNIST IDX files in `path`.
    Mnist,
    /// Fashion-MNIST IDX files in `path` (default `/usr/share/datasets/fashion-mnist`, where
    /// Debian's `dataset-fashion-mnist` package puts them).
    FashionMnist,
    /// CIFAR-10 binary batches in `path` (`data_batch_1.bin` ... `data_batch_5.bin`,
    /// `test_batch.bin`).
    Cifar10,
}

/// Optional sizes to cut each split down to, for quick runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subset {
    /// Training images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<usize>,
    /// Validation images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<usize>,
    /// Test images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<usize>,
}

/// The `[data]` section of an experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Where the images come from.
    #[serde(default = "default_source")]
    pub source: Source,
    /// The folder holding the files (not used by `digits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Share of the training images held out for validation (for `digits`: of all images).
    #[serde(default = "default_fraction")]
    pub valid_fraction: f64,
    /// Share of the images held out for testing (`digits` only; the others have test files).
    #[serde(default = "default_fraction")]
    pub test_fraction: f64,
    /// Seed of the split (independent of the run's seed, so runs share one split).
    #[serde(default)]
    pub split_seed: u64,
    /// Optional split sizes.
    #[serde(default)]
    pub subset: Subset,
}

fn default_source() -> Source {
    Source::Digits
}
fn default_fraction() -> f64 {
    0.2
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            source: default_source(),
            path: None,
            valid_fraction: default_fraction(),
            test_fraction: default_fraction(),
            split_seed: 0,
            subset: Subset::default(),
        }
    }
}

/// A dataset split three ways and normalised by the training split's statistics.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training images.
    pub train: Dataset,
    /// Validation images (the search metric).
    pub valid: Dataset,
    /// Test images (the reported metric).
    pub test: Dataset,
    /// Per-channel mean used for normalisation.
    pub mean: Vec<f32>,
    /// Per-channel deviation used for normalisation.
    pub std: Vec<f32>,
}

impl DataConfig {
    /// Checks the settings; `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        for (name, f) in [
            ("valid_fraction", self.valid_fraction),
            ("test_fraction", self.test_fraction),
        ] {
            if !(0.0..1.0).contains(&f) {
                return Err((name, format!("{name} must be in [0, 1)")));
            }
        }
        if self.source == Source::Digits && self.valid_fraction + self.test_fraction >= 1.0 {
            return Err((
                "valid_fraction",
                "valid_fraction + test_fraction must be below 1: nothing would be left to train on"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The folder to read, resolving a relative path against `base`.
    fn folder(&self, base: &Path) -> Result<PathBuf> {
        let default = match self.source {
            Source::FashionMnist => Some(PathBuf::from("/usr/share/datasets/fashion-mnist")),
            _ => None,
        };
        self.path
            .as_ref()
            .map(|p| base.join(p))
            .or(default)
            .ok_or_else(|| Error::Data {
                path: base.into(),
                reason: format!(
                    "data source `{:?}` needs a `path` to its files",
                    self.source
                ),
            })
    }

    /// Makes a relative `path` absolute against `base` (the experiment file's folder), so
    /// that the resolved file means the same data wherever it is read (a worker's).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(p) = self.path.as_mut().filter(|p| p.is_relative()) {
            let joined = base.join(&*p);
            *p = std::path::absolute(&joined).unwrap_or(joined);
        }
    }

    /// Loads, splits, cuts down and normalises the data.
    pub fn load(&self, base: &Path) -> Result<Splits> {
        let bad = |reason: String| Error::Data {
            path: self.path.clone().unwrap_or_else(|| "<data>".into()),
            reason,
        };
        self.check().map_err(|(_, why)| bad(why))?;
        let mut rng = crate::rng::Rng::seed_from_u64(self.split_seed);
        let (train_all, test) = match self.source {
            Source::Digits => {
                let all = sources::digits()?;
                let (rest, test) = split(&all, self.test_fraction, &mut rng);
                (rest, test)
            }
            Source::Mnist | Source::FashionMnist => {
                let dir = self.folder(base)?;
                let file = |stem: &str| find_idx(&dir, stem);
                let train = sources::idx(
                    &file("train-images-idx3-ubyte")?,
                    &file("train-labels-idx1-ubyte")?,
                    10,
                )?;
                let test = sources::idx(
                    &file("t10k-images-idx3-ubyte")?,
                    &file("t10k-labels-idx1-ubyte")?,
                    10,
                )?;
                (train, test)
            }
            Source::Cifar10 => {
                let dir = self.folder(base)?;
                let batches: Vec<PathBuf> = (1..=5)
                    .map(|i| dir.join(format!("data_batch_{i}.bin")))
                    .collect();
                (
                    sources::cifar10(&batches)?,
                    sources::cifar10(&[dir.join("test_batch.bin")])?,
                )
            }
        };
        if train_all.shape != test.shape {
            return Err(bad(format!(
                "training images are {} but test images {}",
                train_all.shape, test.shape
            )));
        }
        let valid_share = match self.source {
            // The digits' valid share is of all images; the rest already lost the test share.
            Source::Digits => self.valid_fraction / (1.0 - self.test_fraction),
            _ => self.valid_fraction,
        };
        let (train, valid) = split(&train_all, valid_share, &mut rng);
        let cut = |d: Dataset, n: Option<usize>, what: &str| match n {
            Some(0) => Err(bad(format!("subset.{what} must be at least 1"))),
            Some(n) if n > d.len() => Err(bad(format!(
                "subset.{what} = {n} is larger than the {} {what} images",
                d.len()
            ))),
            Some(n) => Ok(d.select(&(0..n).collect::<Vec<_>>())),
            None => Ok(d),
        };
        let mut train = cut(train, self.subset.train, "train")?;
        let mut valid = cut(valid, self.subset.valid, "valid")?;
        let mut test = cut(test, self.subset.test, "test")?;
        for (what, d) in [("train", &train), ("valid", &valid), ("test", &test)] {
            if d.is_empty() {
                return Err(bad(format!("the {what} split is empty")));
            }
        }
        let (mean, std) = train.channel_stats();
        for d in [&mut train, &mut valid, &mut test] {
            d.normalize(&mean, &std);
        }
        Ok(Splits {
            train,
            valid,
            test,
            mean,
            std,
        })
    }
}

/// `data` shuffled by `rng` and cut into (the rest, a `share` of it).
fn split(data: &Dataset, share: f64, rng: &mut crate::rng::Rng) -> (Dataset, Dataset) {
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.shuffle(rng);
    let held = (data.len() as f64 * share).round() as usize;
    let (held_out, rest) = order.split_at(held);
    (data.select(rest), data.select(held_out))
}

/// `dir/stem` or `dir/stem.gz`, whichever exists.
fn find_idx(dir: &Path, stem: &str) -> Result<PathBuf> {
    let plain = dir.join(stem);
    let gz = dir.join(format!("{stem}.gz"));
    [plain.clone(), gz]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| Error::Data {
            path: plain,
            reason: "missing (expected an IDX file, optionally gzipped as .gz)".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_split_sixty_twenty_twenty_deterministically() {
        let config = DataConfig::default();
        let a = config.load(Path::new(".")).unwrap();
        assert_eq!(
            (a.train.len(), a.valid.len(), a.test.len()),
            (1078, 360, 359)
        );
        let b = config.load(Path::new(".")).unwrap();
        assert_eq!(a.train, b.train);
        let other = DataConfig {
            split_seed: 1,
            ..DataConfig::default()
        };
        assert_ne!(other.load(Path::new(".")).unwrap().train, a.train);
        // Normalised by the training split: mean 0, deviation 1 there.
        let (mean, std) = a.train.channel_stats();
        assert!(
            mean[0].abs() < 1e-4 && (std[0] - 1.0).abs() < 1e-3,
            "{mean:?} {std:?}"
        );
    }

    #[test]
    fn subsets_cut_and_oversized_subsets_are_errors() {
        let mut config = DataConfig::default();
        config.subset.train = Some(100);
        assert_eq!(config.load(Path::new(".")).unwrap().train.len(), 100);
        config.subset.train = Some(5000);
        let err = config.load(Path::new(".")).unwrap_err().to_string();
        assert!(
            err.contains("subset.train = 5000 is larger than the 1078 train images"),
            "{err}"
        );
    }

    #[test]
    fn missing_folders_name_the_file_expected() {
        let config = DataConfig {
            source: Source::Mnist,
            path: Some("nowhere".into()),
            ..DataConfig::default()
        };
        let err = config.load(Path::new("/tmp")).unwrap_err().to_string();
        assert!(
            err.contains("nowhere/train-images-idx3-ubyte") && err.contains("expected an IDX file"),
            "{err}"
        );
        let no_path = DataConfig {
            source: Source::Cifar10,
            ..DataConfig::default()
        };
        assert!(
            no_path
                .load(Path::new("."))
                .unwrap_err()
                .to_string()
                .contains("needs a `path`")
        );
    }

    #[test]
    fn batches_cover_every_image_once_in_a_seeded_order() {
        let data = sources::digits().unwrap();
        let mut rng = crate::rng::seeded(3);
        let batches: Vec<Batch> = data
            .batches(64, Some(&mut rng), Augment::default())
            .collect();
        assert_eq!(batches.len(), 29);
        assert_eq!(batches.last().unwrap().len(), 1797 - 28 * 64);
        let mut labels: Vec<u32> = batches.iter().flat_map(|b| b.labels.clone()).collect();
        assert_ne!(labels, data.labels, "shuffled");
        labels.sort();
        let mut expected = data.labels.clone();
        expected.sort();
        assert_eq!(labels, expected);
        let again: Vec<Batch> = data
            .batches(64, Some(&mut crate::rng::seeded(3)), Augment::default())
            .collect();
        assert_eq!(batches, again);
        let ordered: Vec<Batch> = data.batches(1000, None, Augment::default()).collect();
        assert_eq!(ordered[0].labels, data.labels[..1000]);
    }

    #[test]
    fn augmentation_shifts_and_mirrors_within_the_padding() {
        let shape = Shape::new(1, 2, 3);
        let image = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut rng = crate::rng::seeded(0);
        let mut seen_flip = false;
        for _ in 0..50 {
            let mut out = Vec::new();
            augment_into(
                &image,
                shape,
                Augment {
                    crop_padding: 0,
                    flip: true,
                },
                &mut rng,
                &mut out,
            );
            assert!(
                out == image || out == [3.0, 2.0, 1.0, 6.0, 5.0, 4.0],
                "{out:?}"
            );
            seen_flip |= out != image;
            let mut shifted = Vec::new();
            augment_into(
                &image,
                shape,
                Augment {
                    crop_padding: 1,
                    flip: false,
                },
                &mut rng,
                &mut shifted,
            );
            assert_eq!(shifted.len(), 6);
            // Every value is a pixel of the image or padding.
            assert!(shifted.iter().all(|v| *v == 0.0 || image.contains(v)));
        }
        assert!(seen_flip);
    }
}
