//! The NAS-Bench-201 skeleton as a graph: a 3x3 conv-BN stem, three stages of N cells at C,
//! 2C and 4C channels with a residual reduction block between stages, BN-ReLU, global
//! average pooling and a linear classifier — and the cell alone, whose canonical hash stands
//! for the whole network's (the skeleton around it is fixed, so two networks compute the same
//! function exactly when their cells do).

use super::{EDGES, Nb201Config};
use crate::images::Images;
use archforge::arch::{Conv, NodeId, PoolKind, hash::hash_words};
use archforge::error::Result;
use archforge::{Arch, ArchHash, Op, Shape};

/// The skeleton's sizes: channels and cells per stage, and the images it takes.
#[derive(Debug, Clone)]
pub struct Skeleton {
    /// Channels and cells.
    pub config: Nb201Config,
    /// The input images.
    pub images: Images,
    /// The node names of the cell on its own.
    cell_names: CellNames,
}

/// The names of one cell's nodes: its edges in decision order, then its three sum nodes.
#[derive(Debug, Clone)]
struct CellNames {
    edges: [String; 6],
    nodes: [String; 3],
}

impl CellNames {
    /// The names of the cell placed at `place`.
    fn at(place: &str) -> Self {
        CellNames {
            edges: EDGES.map(|(from, to)| format!("{place}.edge_{from}_{to}")),
            nodes: [1, 2, 3].map(|to| format!("{place}.node{to}")),
        }
    }
}

impl Skeleton {
    /// The skeleton of `config`'s sizes for `images`.
    pub fn new(config: Nb201Config, images: Images) -> Self {
        Skeleton {
            config,
            images,
            cell_names: CellNames::at("cell"),
        }
    }

    fn edge_op(&self, op: usize, channels: usize) -> Op {
        match op {
            0 => Op::Zero,
            1 => Op::Identity,
            2 => Op::Conv(Conv::relu_conv_bn(channels, 1, 1)),
            3 => Op::Conv(Conv::relu_conv_bn(channels, 3, 1)),
            _ => Op::Pool {
                kind: PoolKind::Avg,
                kernel: 3,
                stride: 1,
            },
        }
    }

    fn add_cell(
        &self,
        arch: &mut Arch,
        ops: &[usize; 6],
        x: NodeId,
        channels: usize,
        names: &CellNames,
    ) -> Result<NodeId> {
        let mut nodes = vec![x];
        for to in 1..4 {
            let mut terms = Vec::new();
            for (e, &(from, _)) in EDGES.iter().enumerate().filter(|(_, (_, j))| *j == to) {
                let name = names.edges[e].as_str();
                terms.push(arch.add(name, self.edge_op(ops[e], channels), &[nodes[from]])?);
            }
            nodes.push(arch.add(names.nodes[to - 1].as_str(), Op::Add, &terms)?);
        }
        Ok(nodes[3])
    }

    fn add_reduction(
        &self,
        arch: &mut Arch,
        x: NodeId,
        channels: usize,
        place: &str,
    ) -> Result<NodeId> {
        let a = arch.add(
            format!("{place}.conv_a"),
            Op::Conv(Conv::relu_conv_bn(channels, 3, 2)),
            &[x],
        )?;
        let b = arch.add(
            format!("{place}.conv_b"),
            Op::Conv(Conv::relu_conv_bn(channels, 3, 1)),
            &[a],
        )?;
        let pool = Op::Pool {
            kind: PoolKind::Avg,
            kernel: 2,
            stride: 2,
        };
        let p = arch.add(format!("{place}.shortcut_pool"), pool, &[x])?;
        let s = arch.add(
            format!("{place}.shortcut_conv"),
            Op::Conv(Conv::plain(channels, 1, 1)),
            &[p],
        )?;
        arch.add(format!("{place}.sum"), Op::Add, &[b, s])
    }

    /// The whole skeleton with `ops` in every cell.
    pub fn network(&self, ops: &[usize; 6]) -> Result<Arch> {
        let c = self.config.channels;
        let mut arch = Arch::new(Some(self.images.shape));
        let mut x = arch.add("stem", Op::Conv(Conv::conv_bn(c, 3, 1)), &[arch.input()])?;
        for stage in 0..3 {
            let channels = c << stage;
            if stage > 0 {
                x = self.add_reduction(&mut arch, x, channels, &format!("reduce{stage}"))?;
            }
            for cell in 0..self.config.cells {
                let names = CellNames::at(&format!("stage{stage}.cell{cell}"));
                x = self.add_cell(&mut arch, ops, x, channels, &names)?;
            }
        }
        let x = arch.add("lastact", Op::BnRelu, &[x])?;
        arch.finish_with_classifier(x, self.images.classes)?;
        Ok(arch)
    }

    /// The canonical hash of the network with `ops` in every cell: the cell's own canonical
    /// hash (on the first stage's inputs) and the skeleton's sizes.
    pub fn hash(&self, ops: &[usize; 6]) -> Result<ArchHash> {
        let c = self.config.channels;
        let input = Shape::new(c, self.images.shape.height, self.images.shape.width);
        let mut cell = Arch::new(Some(input));
        let x = cell.input();
        let out = self.add_cell(&mut cell, ops, x, c, &self.cell_names)?;
        cell.finish(out)?;
        let s = self.images.shape;
        Ok(ArchHash(hash_words(
            "nb201-network",
            &[
                cell.canonical_hash().0,
                c as u64,
                self.config.cells as u64,
                s.channels as u64,
                s.height as u64,
                s.width as u64,
                self.images.classes as u64,
            ],
        )))
    }
}
