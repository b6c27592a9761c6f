//! Teacher networks for compression: a VGG-11-style plain network (conv-BN-ReLU layers with
//! max-pools between its stages) or a ResNet of basic blocks in three stages, both ending in
//! global average pooling and a linear classifier, sized for the run's images. A teacher is
//! trained once (`archforge train` on a file with a `[teacher]` section) into a run folder
//! holding its graph (`arch.json`) and weights by path (`weights.safetensors`);
//! [`TrainedTeacher::load`] reads such a folder back — any network `archforge train` wrote can
//! be a teacher.

use crate::images::Images;
use archforge::arch::{Arch, Conv, NodeId, Op, PoolKind};
use archforge::error::{Error, Result};
use archforge::nn::TrainConfig;
use archforge::weights::Snapshot;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// VGG-11's convolution widths, a `0` marking a max-pool between stages.
const VGG11: [usize; 13] = [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0];

/// ResNet stage widths before scaling.
const RESNET_STAGES: [usize; 3] = [16, 32, 64];

/// Which teacher network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TeacherKind {
    /// VGG-11-style: eight conv-BN-ReLU layers, max-pools between stages.
    Vgg,
    /// A ResNet of basic blocks, three stages.
    Resnet,
}

/// The `[teacher]` section: the network to compress, and how it is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherConfig {
    /// The network (ignored when `path` names a trained one).
    #[serde(default = "defaults::kind")]
    pub kind: TeacherKind,
    /// Channel widths relative to VGG-11's 64..512 or the ResNet's 16 / 32 / 64.
    #[serde(default = "defaults::width")]
    pub width: f64,
    /// ResNet: basic blocks per stage.
    #[serde(default = "defaults::blocks")]
    pub blocks: usize,
    /// A trained teacher's run folder (what `archforge train` wrote); without it the teacher
    /// is trained first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// How the teacher is trained (on the training split only).
    #[serde(default = "defaults::training")]
    pub training: TrainConfig,
}

mod defaults {
    use super::*;
    pub fn kind() -> TeacherKind {
        TeacherKind::Vgg
    }
    pub fn width() -> f64 {
        0.5
    }
    pub fn blocks() -> usize {
        2
    }
    pub fn training() -> TrainConfig {
        TrainConfig {
            epochs: 15,
            ..TrainConfig::default()
        }
    }
}

impl Default for TeacherConfig {
    fn default() -> Self {
        TeacherConfig {
            kind: defaults::kind(),
            width: defaults::width(),
            blocks: defaults::blocks(),
            path: None,
            training: defaults::training(),
        }
    }
}

impl TeacherConfig {
    /// Checks the settings; `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(self.width > 0.0 && self.width <= 16.0) {
            return Err(("width", "width must be in (0, 16]".into()));
        }
        if !(1..=32).contains(&self.blocks) {
            return Err(("blocks", "blocks must be in 1..=32".into()));
        }
        self.training.check().map_err(|(key, why)| match key {
            "epochs" => ("training", why),
            _ => ("training", format!("{key}: {why}")),
        })
    }

    /// Makes a relative `path` absolute against the experiment file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(p) = self.path.as_mut().filter(|p| p.is_relative()) {
            let joined = base.join(&*p);
            *p = std::path::absolute(&joined).unwrap_or(joined);
        }
    }

    /// The teacher's graph for `images`.
    pub fn arch(&self, images: Images) -> Result<Arch> {
        match self.kind {
            TeacherKind::Vgg => vgg(images, self.width),
            TeacherKind::Resnet => resnet(images, self.width, self.blocks),
        }
    }
}

fn scaled(channels: usize, width: f64) -> usize {
    ((channels as f64 * width).round() as usize).max(1)
}

/// VGG-11 scaled by `width`: a max-pool closes each stage while the feature map is at least
/// 2x2 (four pools on 28x28 images, five on 32x32).
pub fn vgg(images: Images, width: f64) -> Result<Arch> {
    let mut arch = Arch::new(Some(images.shape));
    let mut x = arch.input();
    let (mut convs, mut pools) = (0, 0);
    for channels in VGG11 {
        if channels == 0 {
            let size = arch.node(x).shape.map_or(0, |s| s.height.min(s.width));
            if size >= 2 {
                let pool = Op::Pool {
                    kind: PoolKind::Max,
                    kernel: 2,
                    stride: 2,
                };
                x = arch.add(format!("pool{pools}"), pool, &[x])?;
                pools += 1;
            }
            continue;
        }
        let conv = Op::Conv(Conv::conv_bn(scaled(channels, width), 3, 1));
        x = arch.add(format!("conv{convs}"), conv, &[x])?;
        x = arch.add(format!("conv{convs}.relu"), Op::Relu, &[x])?;
        convs += 1;
    }
    arch.finish_with_classifier(x, images.classes)?;
    Ok(arch)
}

/// A ResNet of `blocks` basic blocks per stage (16, 32 and 64 channels scaled by `width`,
/// stride 2 and a 1x1 projection shortcut at the start of the second and third stages) after
/// a conv-BN-ReLU stem.
pub fn resnet(images: Images, width: f64, blocks: usize) -> Result<Arch> {
    let mut arch = Arch::new(Some(images.shape));
    let stem = scaled(RESNET_STAGES[0], width);
    let x = arch.add("stem", Op::Conv(Conv::conv_bn(stem, 3, 1)), &[arch.input()])?;
    let mut x = arch.add("stem.relu", Op::Relu, &[x])?;
    for (s, channels) in RESNET_STAGES.into_iter().enumerate() {
        let channels = scaled(channels, width);
        for b in 0..blocks {
            let stride = if s > 0 && b == 0 { 2 } else { 1 };
            x = basic_block(
                &mut arch,
                &format!("stage{s}.block{b}"),
                x,
                channels,
                stride,
            )?;
        }
    }
    arch.finish_with_classifier(x, images.classes)?;
    Ok(arch)
}

/// `relu(conv_bn(relu(conv_bn(x))) + shortcut(x))`, the shortcut a 1x1 conv-BN projection
/// where the shape changes.
fn basic_block(
    arch: &mut Arch,
    name: &str,
    x: NodeId,
    channels: usize,
    stride: usize,
) -> Result<NodeId> {
    let conv = |c| Op::Conv(c);
    let y = arch.add(
        format!("{name}.conv1"),
        conv(Conv::conv_bn(channels, 3, stride)),
        &[x],
    )?;
    let y = arch.add(format!("{name}.relu1"), Op::Relu, &[y])?;
    let y = arch.add(
        format!("{name}.conv2"),
        conv(Conv::conv_bn(channels, 3, 1)),
        &[y],
    )?;
    let same = arch.node(x).shape.map(|s| s.channels) == Some(channels) && stride == 1;
    let shortcut = if same {
        x
    } else {
        arch.add(
            format!("{name}.shortcut"),
            conv(Conv::conv_bn(channels, 1, stride)),
            &[x],
        )?
    };
    let sum = arch.add(format!("{name}.add"), Op::Add, &[y, shortcut])?;
    arch.add(format!("{name}.relu"), Op::Relu, &[sum])
}

/// A trained teacher read back from its run folder.
#[derive(Debug, Clone)]
pub struct TrainedTeacher {
    /// The folder it was read from.
    pub folder: PathBuf,
    /// Its graph.
    pub arch: Arch,
    /// Its weights by path.
    pub weights: Arc<Snapshot>,
    /// What `archforge train` recorded of it (`trained.json`).
    pub record: serde_json::Value,
}

impl TrainedTeacher {
    /// Reads `folder/arch.json`, `folder/weights.safetensors` and `folder/trained.json`; a
    /// missing or unreadable file is an error naming it.
    pub fn load(folder: &Path) -> Result<Self> {
        let read = |name: &str| {
            let path = folder.join(name);
            std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
        };
        let at =
            |name: &str, e: Error| Error::Arch(format!("{}: {e}", folder.join(name).display()));
        let arch = Arch::from_json(&read("arch.json")?).map_err(|e| at("arch.json", e))?;
        let record: serde_json::Value = serde_json::from_str(&read("trained.json")?)
            .map_err(|e| Error::Arch(format!("{}: {e}", folder.join("trained.json").display())))?;
        let weights = Snapshot::load(&folder.join("weights.safetensors"))?;
        Ok(TrainedTeacher {
            folder: folder.into(),
            arch,
            weights: Arc::new(weights),
            record,
        })
    }

    /// A number `archforge train` recorded (`valid_accuracy`, `test_accuracy`, `params`).
    pub fn recorded(&self, key: &str) -> Option<f64> {
        self.record.get(key).and_then(|v| v.as_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archforge::Shape;

    fn fmnist() -> Images {
        Images {
            shape: Shape::new(1, 28, 28),
            classes: 10,
        }
    }

    #[test]
    fn vgg_pools_while_the_map_is_at_least_two_wide() {
        let arch = vgg(fmnist(), 0.5).unwrap();
        let pools = arch
            .node_ids()
            .filter(|&id| matches!(arch.node(id).op, Op::Pool { .. }))
            .count();
        assert_eq!(pools, 4);
        // Eight convolutions of 32 .. 256 channels: about 2.3M parameters.
        let params = arch.params().unwrap();
        assert!((2_200_000..2_400_000).contains(&params), "{params}");
        let cifar = Images {
            shape: Shape::new(3, 32, 32),
            classes: 10,
        };
        let arch = vgg(cifar, 1.0).unwrap();
        assert_eq!(arch.output_shape(), Some(Shape::new(10, 1, 1)));
    }

    #[test]
    fn resnet_projects_only_where_the_shape_changes() {
        let arch = resnet(fmnist(), 1.0, 2).unwrap();
        let shortcuts: Vec<&str> = arch
            .node_ids()
            .map(|id| arch.node(id).name.as_str())
            .filter(|n| n.ends_with("shortcut"))
            .collect();
        assert_eq!(
            shortcuts,
            ["stage1.block0.shortcut", "stage2.block0.shortcut"]
        );
        let last = arch
            .node_ids()
            .find(|&id| arch.node(id).name == "stage2.block1.relu")
            .unwrap();
        assert_eq!(arch.node(last).shape, Some(Shape::new(64, 7, 7)));
    }
}
