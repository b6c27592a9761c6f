//! The networks of the netmorph space: the seed network built from the settings, and what a
//! network offers a growth step — the layers that may widen and the places a layer may follow
//! — with each layer's index among its tokens.

use super::NetmorphConfig;
use crate::images::Images;
use archforge::ability::layer_token;
use archforge::arch::{Conv, NodeId, PoolKind};
use archforge::error::Result;
use archforge::nn::morph::non_negative;
use archforge::{Arch, Op};
use std::collections::HashMap;

/// What a network offers a step: the layers it may widen (with their next width) and the
/// places a layer may be inserted after.
pub(super) struct Offer {
    pub widen: Vec<(NodeId, Option<usize>)>,
    pub places: Vec<NodeId>,
}

/// The seed network (see the module documentation).
pub(super) fn seed_network(config: &NetmorphConfig, images: Images) -> Result<Arch> {
    let mut a = Arch::new(Some(images.shape));
    let mut x = a.input();
    let mut size = images.shape.height.min(images.shape.width);
    for (i, &width) in config.convs.iter().enumerate() {
        x = a.add(
            format!("conv{i}"),
            Op::Conv(Conv::conv_bn(width, 3, 1)),
            &[x],
        )?;
        x = a.add(format!("conv{i}.relu"), Op::Relu, &[x])?;
        if size >= 2 {
            let pool = Op::Pool {
                kind: PoolKind::Max,
                kernel: 2,
                stride: 2,
            };
            x = a.add(format!("pool{i}"), pool, &[x])?;
            size /= 2;
        }
    }
    x = a.add("flatten", Op::Flatten, &[x])?;
    for (i, &width) in config.dense.iter().enumerate() {
        let dense = Op::Linear {
            out_features: width,
            bias: true,
        };
        x = a.add(format!("dense{i}"), dense, &[x])?;
        x = a.add(format!("dense{i}.relu"), Op::Relu, &[x])?;
    }
    let classifier = Op::Linear {
        out_features: images.classes,
        bias: true,
    };
    x = a.add("classifier", classifier, &[x])?;
    a.finish(x)?;
    Ok(a)
}

/// What `arch` offers a step: its convolutions and hidden dense layers (not the classifier)
/// with the next of `widths` above theirs, and the places before the flatten whose output is
/// never negative.
pub(super) fn offer(arch: &Arch, widths: &[usize]) -> Offer {
    let output = arch.output();
    let classifier = output.and_then(|o| arch.inputs(o).first().copied());
    let mut widen = Vec::new();
    let mut places = Vec::new();
    let mut flattened = false;
    for id in arch.node_ids() {
        let node = arch.node(id);
        let units = match &node.op {
            Op::Conv(c) if c.groups == 1 => Some(c.out_channels),
            Op::Linear { out_features, .. } if Some(id) != classifier => Some(*out_features),
            Op::Flatten => {
                flattened = true;
                None
            }
            _ => None,
        };
        if let Some(units) = units {
            widen.push((id, widths.iter().copied().find(|&w| w > units)));
        } else if !flattened
            && matches!(node.op, Op::Relu | Op::Pool { .. })
            && non_negative(arch, id)
        {
            places.push(id);
        }
    }
    Offer { widen, places }
}

/// Each node's token index: the layer token it is, or the last one before it.
pub(super) fn token_of(arch: &Arch) -> HashMap<NodeId, usize> {
    let mut at = 0usize;
    let mut seen = false;
    arch.node_ids()
        .map(|id| {
            if layer_token(arch, id).is_some() {
                if seen {
                    at += 1;
                }
                seen = true;
            }
            (id, at)
        })
        .collect()
}
