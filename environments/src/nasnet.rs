//! The NASNet cell space (Zoph et al. 2018). A cell reads the outputs of the two cells before
//! it and builds B blocks (default 5); each block picks two inputs (either cell input or an
//! earlier block of this cell), an operation for each, and a combiner (add, or concatenation
//! followed by a ReLU-conv1x1-BN back to the cell's width). The cell's output is the
//! concatenation of the blocks no later block read. A sequence is 5B decisions for the normal
//! cell, then 5B for the reduction cell; in a reduction cell, operations on a cell input use
//! stride 2.
//!
//! The thirteen operations: identity, 1x3-then-3x1 conv, 1x7-then-7x1 conv, 3x3 conv with
//! dilation 2, 3x3 average pool, 3x3 / 5x5 / 7x7 max pool, 1x1 conv, 3x3 conv, and 3x3 /
//! 5x5 / 7x7 depthwise-separable convs (applied twice). Convolutions are ReLU-conv-BN; an
//! identity with stride 2 is a factorized reduction (ReLU-conv1x1 stride 2-BN).
//!
//! The skeleton (CIFAR style, CPU-sized by default): a 3x3 conv-BN stem of `stem_multiplier *
//! channels`, then three stages of `cells` normal cells with a reduction cell before the
//! second and third, widths F, 2F, 4F; each cell first maps its two inputs to its width with
//! ReLU-conv1x1-BN (stride 2 when the older input is twice the size); ReLU, global average
//! pooling and a linear classifier end it. Every operation's output but an identity passes a
//! drop-path node for ScheduledDropPath in stand-alone training (`[training]
//! drop_path_keep_prob`). There is no benchmark table: candidates are
//! trained (`standalone` or `supernet`).
//!
//! Abilities: a graph encoding in which the wiring is decided — per cell its two inputs, two
//! operation nodes and a combiner node per block, and an output node reading the loose
//! blocks; an operation node's one incoming edge is the input it chose — the normal cell's
//! nodes first, then the reduction cell's; features (one-hot decisions, operation, input and
//! combiner counts, params and MACs); layer tokens of the whole network.

use crate::images::Images;
use archforge::ability::{
    ArchGraph, Features, GraphEncoding, NetworkLayers, Positional, PositionalFeatures, Tokens,
    features::Position,
};
use archforge::arch::{Conv, NodeId, PoolKind};
use archforge::error::{Error, Result};
use archforge::{Arch, Candidate, Choice, DecisionKindSpec, EnvSpec, Environment, Op, Shape};
use serde::{Deserialize, Serialize};

/// The operations, by decision index.
pub const OPS: [&str; 13] = [
    "identity",
    "conv_1x3_3x1",
    "conv_1x7_7x1",
    "dil_conv_3x3",
    "avg_pool_3x3",
    "max_pool_3x3",
    "max_pool_5x5",
    "max_pool_7x7",
    "conv_1x1",
    "conv_3x3",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
];

/// The combiners, by decision index.
pub const COMBINERS: [&str; 2] = ["add", "concat"];

/// Decisions per block: two inputs, two operations, one combiner.
const PER_BLOCK: usize = 5;

/// The `[environment]` section for `kind = "nasnet"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NasnetConfig {
    /// Blocks per cell (B).
    #[serde(default = "defaults::blocks")]
    pub blocks: usize,
    /// Normal cells per stage (N).
    #[serde(default = "defaults::cells")]
    pub cells: usize,
    /// Width F of the first stage's cells.
    #[serde(default = "defaults::channels")]
    pub channels: usize,
    /// The stem has `stem_multiplier * channels` channels.
    #[serde(default = "defaults::stem_multiplier")]
    pub stem_multiplier: usize,
}

mod defaults {
    pub fn blocks() -> usize {
        5
    }
    pub fn cells() -> usize {
        1
    }
    pub fn channels() -> usize {
        8
    }
    pub fn stem_multiplier() -> usize {
        3
    }
}

impl Default for NasnetConfig {
    fn default() -> Self {
        NasnetConfig {
            blocks: defaults::blocks(),
            cells: defaults::cells(),
            channels: defaults::channels(),
            stem_multiplier: defaults::stem_multiplier(),
        }
    }
}

/// The NASNet environment (see the module documentation).
pub struct Nasnet {
    spec: EnvSpec,
    config: NasnetConfig,
    images: Images,
    features: PositionalFeatures,
    operations: Vec<String>,
}

/// The graph encoding's node operations before the thirteen operations: a cell's two inputs.
const INPUT_NODES: [&str; 2] = ["prev", "cur"];
/// ... and after them: the combiners, then a cell's output.
const OUTPUT_NODE: &str = "output";

/// Which decision a position holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// An input of block `block` (it may read the 2 cell inputs and the blocks before it).
    Input {
        block: usize,
    },
    Op,
    Combiner,
}

/// One block's decisions.
#[derive(Debug, Clone, Copy)]
struct Block {
    inputs: [usize; 2],
    ops: [usize; 2],
    combiner: usize,
}

impl Nasnet {
    /// The space for `config`, its networks sized for `images` (CIFAR-10's 3x32x32 and 10
    /// classes when no data is given).
    pub fn new(config: NasnetConfig, images: Option<Images>) -> Result<Self> {
        if !(1..=10).contains(&config.blocks)
            || !(1..=16).contains(&config.cells)
            || !(1..=512).contains(&config.channels)
            || !(1..=8).contains(&config.stem_multiplier)
        {
            return Err(Error::Arch(
                "nasnet: blocks in 1..=10, cells in 1..=16, channels in 1..=512, stem_multiplier in 1..=8"
                    .into(),
            ));
        }
        let images = images.unwrap_or(Images {
            shape: Shape::new(3, 32, 32),
            classes: 10,
        });
        let labels = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        let mut inputs = vec!["prev".to_string(), "cur".to_string()];
        inputs.extend((0..config.blocks - 1).map(|b| format!("block{b}")));
        let spec = EnvSpec {
            name: "nasnet".into(),
            kinds: vec![
                DecisionKindSpec {
                    name: "input".into(),
                    labels: inputs,
                },
                DecisionKindSpec {
                    name: "op".into(),
                    labels: labels(&OPS),
                },
                DecisionKindSpec {
                    name: "combiner".into(),
                    labels: labels(&COMBINERS),
                },
            ],
            max_length: 2 * PER_BLOCK * config.blocks,
        };
        let mut positions = Vec::new();
        for cell in ["normal", "reduce"] {
            for b in 0..config.blocks {
                for (slot, kind, options) in [
                    ("input_a", 0, 2 + b),
                    ("input_b", 0, 2 + b),
                    ("op_a", 1, OPS.len()),
                    ("op_b", 1, OPS.len()),
                    ("combiner", 2, COMBINERS.len()),
                ] {
                    positions.push(Position {
                        name: format!("{cell}.block{b}.{slot}"),
                        kind,
                        options,
                    });
                }
            }
        }
        let features = PositionalFeatures::new(&spec, positions, true);
        let operations = INPUT_NODES
            .iter()
            .chain(&OPS)
            .chain(&COMBINERS)
            .chain(&[OUTPUT_NODE])
            .map(|s| s.to_string())
            .collect();
        Ok(Nasnet {
            spec,
            config,
            images,
            features,
            operations,
        })
    }

    /// Graph nodes per cell: two inputs, three per block, the output.
    fn cell_nodes(&self) -> usize {
        3 + 3 * self.config.blocks
    }

    /// Writes one cell's nodes into `graph` from node `at` on.
    fn encode_cell(&self, graph: &mut ArchGraph, at: usize, blocks: &[Block]) {
        let ops_at = INPUT_NODES.len();
        let combiners_at = ops_at + OPS.len();
        graph.set_node(at, 0);
        graph.set_node(at + 1, 1);
        // The node holding state `i`: a cell input, or block `i - 2`'s combiner.
        let state = |i: usize| if i < 2 { at + i } else { at + 3 * (i - 2) + 4 };
        let mut used = vec![false; 2 + blocks.len()];
        for (b, block) in blocks.iter().enumerate() {
            let first = at + 2 + 3 * b;
            for side in 0..2 {
                graph.set_node(first + side, ops_at + block.ops[side]);
                graph.adjacency[state(block.inputs[side])][first + side] = true;
                graph.adjacency[first + side][first + 2] = true;
                used[block.inputs[side]] = true;
            }
            graph.set_node(first + 2, combiners_at + block.combiner);
        }
        let output = at + self.cell_nodes() - 1;
        graph.set_node(output, self.operations.len() - 1);
        for (i, _) in used.iter().enumerate().skip(2).filter(|(_, u)| !**u) {
            graph.adjacency[state(i)][output] = true;
        }
    }

    /// Reads one cell's decisions back from the nodes from `at` on.
    fn decode_cell(&self, graph: &ArchGraph, at: usize) -> Result<Vec<usize>> {
        let bad = |why: String| Error::Arch(format!("nasnet graph: {why}"));
        let ops_at = INPUT_NODES.len();
        let combiners_at = ops_at + OPS.len();
        let op_of = |node: usize, from: usize, count: usize, what: &str| {
            graph.ops[node]
                .checked_sub(from)
                .filter(|&o| o < count && graph.mask[node])
                .ok_or_else(|| bad(format!("node {node} must be {what}")))
        };
        if (graph.ops[at], graph.ops[at + 1]) != (0, 1) || !graph.mask[at] || !graph.mask[at + 1] {
            return Err(bad(format!(
                "nodes {at} and {} must be the cell's inputs",
                at + 1
            )));
        }
        let mut decisions = Vec::with_capacity(PER_BLOCK * self.config.blocks);
        for b in 0..self.config.blocks {
            let first = at + 2 + 3 * b;
            let mut inputs = [0; 2];
            let mut ops = [0; 2];
            for side in 0..2 {
                let node = first + side;
                ops[side] = op_of(node, ops_at, OPS.len(), "an operation")?;
                let sources = graph.inputs(node);
                let input = match sources.as_slice() {
                    [s] if *s == at || *s == at + 1 => s - at,
                    [s] if *s >= at + 4
                        && (s - at - 4).is_multiple_of(3)
                        && (s - at - 4) / 3 < b =>
                    {
                        2 + (s - at - 4) / 3
                    }
                    _ => {
                        return Err(bad(format!(
                            "operation node {node} must read one cell input or earlier block"
                        )));
                    }
                };
                inputs[side] = input;
            }
            if graph.inputs(first + 2) != [first, first + 1] {
                return Err(bad(format!(
                    "combiner node {} must read its block's two operations",
                    first + 2
                )));
            }
            let combiner = op_of(first + 2, combiners_at, COMBINERS.len(), "a combiner")?;
            decisions.extend([inputs[0], inputs[1], ops[0], ops[1], combiner]);
        }
        // The output and every edge must be exactly what these decisions give.
        let mut expected = ArchGraph::empty(graph.len());
        self.encode_cell(&mut expected, at, &self.cell_blocks(&decisions));
        let span = at..at + self.cell_nodes();
        let same = span.clone().all(|i| {
            graph.ops[i] == expected.ops[i]
                && graph.mask[i]
                && (0..graph.len()).all(|j| {
                    graph.adjacency[i][j] == expected.adjacency[i][j]
                        && graph.adjacency[j][i] == expected.adjacency[j][i]
                })
        });
        if !same {
            return Err(bad(format!(
                "the cell at node {at} has edges or an output its decisions do not give"
            )));
        }
        Ok(decisions)
    }

    fn slot(&self, position: usize) -> Slot {
        let within = position % (PER_BLOCK * self.config.blocks);
        match within % PER_BLOCK {
            0 | 1 => Slot::Input {
                block: within / PER_BLOCK,
            },
            2 | 3 => Slot::Op,
            _ => Slot::Combiner,
        }
    }

    fn choice(&self, position: usize) -> Choice {
        match self.slot(position) {
            Slot::Input { block } => Choice::new(0, 2 + block),
            Slot::Op => Choice::new(1, OPS.len()),
            Slot::Combiner => Choice::new(2, COMBINERS.len()),
        }
    }

    fn cell_blocks(&self, decisions: &[usize]) -> Vec<Block> {
        decisions
            .chunks(PER_BLOCK)
            .map(|d| Block {
                inputs: [d[0], d[1]],
                ops: [d[2], d[3]],
                combiner: d[4],
            })
            .collect()
    }

    /// The label: each cell's blocks as `input:op+input:op` with `+` or `|` for the combiner.
    fn label(&self, decisions: &[usize]) -> String {
        let per_cell = PER_BLOCK * self.config.blocks;
        let cell = |d: &[usize]| {
            self.cell_blocks(d)
                .iter()
                .map(|b| {
                    let join = if b.combiner == 0 { "+" } else { "|" };
                    format!(
                        "{}:{}{join}{}:{}",
                        self.spec.kinds[0].labels[b.inputs[0]],
                        OPS[b.ops[0]],
                        self.spec.kinds[0].labels[b.inputs[1]],
                        OPS[b.ops[1]]
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "normal[{}] reduce[{}]",
            cell(&decisions[..per_cell]),
            cell(&decisions[per_cell..])
        )
    }

    /// A ReLU-conv(1x1)-BN to `channels`, with `stride`.
    fn project(
        arch: &mut Arch,
        name: String,
        x: NodeId,
        channels: usize,
        stride: usize,
    ) -> Result<NodeId> {
        arch.add(
            name,
            Op::Conv(Conv::relu_conv_bn(channels, 1, stride)),
            &[x],
        )
    }

    /// Operation `op` on `x` at width `c` with `stride`, as nodes named under `place`.
    fn add_op(
        arch: &mut Arch,
        place: &str,
        op: usize,
        x: NodeId,
        c: usize,
        stride: usize,
    ) -> Result<NodeId> {
        let pool = |kind, kernel| Op::Pool {
            kind,
            kernel,
            stride,
        };
        let conv = |kernel: [usize; 2], stride, relu_before, batch_norm, groups, dilation| {
            Op::Conv(Conv {
                out_channels: c,
                kernel,
                stride,
                dilation,
                groups,
                relu_before,
                batch_norm,
                bias: false,
            })
        };
        match op {
            0 if stride == 1 => arch.add(format!("{place}.identity"), Op::Identity, &[x]),
            0 => Self::project(arch, format!("{place}.reduce"), x, c, stride),
            1 | 2 => {
                let k = if op == 1 { 3 } else { 7 };
                let a = arch.add(
                    format!("{place}.conv_1x{k}"),
                    conv([1, k], stride, true, false, 1, 1),
                    &[x],
                )?;
                arch.add(
                    format!("{place}.conv_{k}x1"),
                    conv([k, 1], 1, false, true, 1, 1),
                    &[a],
                )
            }
            3 => arch.add(
                format!("{place}.dil_conv_3x3"),
                conv([3, 3], stride, true, true, 1, 2),
                &[x],
            ),
            4 => arch.add(
                format!("{place}.avg_pool_3x3"),
                pool(PoolKind::Avg, 3),
                &[x],
            ),
            5..=7 => {
                let k = 3 + 2 * (op - 5);
                arch.add(
                    format!("{place}.max_pool_{k}x{k}"),
                    pool(PoolKind::Max, k),
                    &[x],
                )
            }
            8 | 9 => {
                let k = if op == 8 { 1 } else { 3 };
                arch.add(
                    format!("{place}.conv_{k}x{k}"),
                    conv([k, k], stride, true, true, 1, 1),
                    &[x],
                )
            }
            _ => {
                let k = 3 + 2 * (op - 10);
                let mut y = x;
                for (rep, s) in [(0, stride), (1, 1)] {
                    let d = arch.add(
                        format!("{place}.sep{rep}_dw_{k}x{k}"),
                        conv([k, k], s, true, false, c, 1),
                        &[y],
                    )?;
                    y = arch.add(
                        format!("{place}.sep{rep}_pw"),
                        conv([1, 1], 1, false, true, 1, 1),
                        &[d],
                    )?;
                }
                Ok(y)
            }
        }
    }

    /// One cell reading `prev` and `cur`, at width `c`; `depth` is the cell's position and
    /// the network's cell count, for ScheduledDropPath on every path but an identity.
    #[allow(clippy::too_many_arguments)]
    fn add_cell(
        &self,
        arch: &mut Arch,
        blocks: &[Block],
        (prev, cur): (NodeId, NodeId),
        c: usize,
        reduction: bool,
        place: &str,
        depth: (usize, usize),
    ) -> Result<NodeId> {
        let size = |id: NodeId| arch.node(id).shape.map(|s| s.height);
        let prev_stride = if size(prev) > size(cur) { 2 } else { 1 };
        let p = Self::project(arch, format!("{place}.pre_prev"), prev, c, prev_stride)?;
        let q = Self::project(arch, format!("{place}.pre_cur"), cur, c, 1)?;
        let mut states = vec![p, q];
        let mut used = vec![false; 2 + blocks.len()];
        for (b, block) in blocks.iter().enumerate() {
            let mut ys = [p; 2];
            for side in 0..2 {
                let input = block.inputs[side];
                used[input] = true;
                let stride = if reduction && input < 2 { 2 } else { 1 };
                let name = format!("{place}.block{b}.{}", ["a", "b"][side]);
                let y = Self::add_op(arch, &name, block.ops[side], states[input], c, stride)?;
                ys[side] = if block.ops[side] == 0 && stride == 1 {
                    y
                } else {
                    let (cell, cells) = depth;
                    let drop = Op::DropPath { cell, cells };
                    arch.add(format!("{name}.drop_path"), drop, &[y])?
                };
            }
            let out = if block.combiner == 0 {
                arch.add(format!("{place}.block{b}.add"), Op::Add, &ys)?
            } else {
                let joined = arch.add(format!("{place}.block{b}.concat"), Op::Concat, &ys)?;
                Self::project(arch, format!("{place}.block{b}.fuse"), joined, c, 1)?
            };
            states.push(out);
        }
        let loose: Vec<NodeId> = (2..states.len())
            .filter(|&i| !used[i])
            .map(|i| states[i])
            .collect();
        match loose.as_slice() {
            [one] => Ok(*one),
            _ => arch.add(format!("{place}.out"), Op::Concat, &loose),
        }
    }

    /// The whole network for a complete, legal sequence.
    pub fn network(&self, decisions: &[usize]) -> Result<Arch> {
        let per_cell = PER_BLOCK * self.config.blocks;
        let normal = self.cell_blocks(&decisions[..per_cell]);
        let reduce = self.cell_blocks(&decisions[per_cell..]);
        let f = self.config.channels;
        let mut arch = Arch::new(Some(self.images.shape));
        let stem = Op::Conv(Conv::conv_bn(self.config.stem_multiplier * f, 3, 1));
        let stem = arch.add("stem", stem, &[arch.input()])?;
        let (mut prev, mut cur) = (stem, stem);
        let cells = 3 * self.config.cells + 2;
        let mut depth = 0;
        for stage in 0..3 {
            let c = f << stage;
            let reduction = (stage > 0).then(|| (format!("reduce{stage}"), &reduce, true));
            let normal = (0..self.config.cells)
                .map(|cell| (format!("stage{stage}.cell{cell}"), &normal, false));
            for (place, blocks, reduces) in reduction.into_iter().chain(normal) {
                let inputs = (prev, cur);
                let next = self.add_cell(
                    &mut arch,
                    blocks,
                    inputs,
                    c,
                    reduces,
                    &place,
                    (depth, cells),
                )?;
                (prev, cur) = (cur, next);
                depth += 1;
            }
        }
        let x = arch.add("lastact", Op::Relu, &[cur])?;
        arch.finish_with_classifier(x, self.images.classes)?;
        Ok(arch)
    }
}

impl Environment for Nasnet {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        if prefix.len() > self.spec.max_length {
            return Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: format!("longer than {} decisions", self.spec.max_length),
            });
        }
        if let Some(bad) = (0..prefix.len()).find(|&i| !self.choice(i).is_legal(prefix[i])) {
            return Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: format!("option {} at position {bad} is out of range", prefix[bad]),
            });
        }
        Ok((prefix.len() < self.spec.max_length).then(|| self.choice(prefix.len())))
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        archforge::env::validate(self, decisions)?;
        let arch = self.network(decisions)?;
        Ok(Candidate::new(
            decisions.to_vec(),
            self.label(decisions),
            arch,
        ))
    }

    fn graph(&self) -> Option<&dyn GraphEncoding> {
        Some(self)
    }

    fn features(&self) -> Option<&dyn Features> {
        Some(self)
    }

    fn tokens(&self) -> Option<&dyn Tokens> {
        Some(self)
    }
}

impl GraphEncoding for Nasnet {
    fn max_nodes(&self) -> usize {
        2 * self.cell_nodes()
    }

    fn operations(&self) -> &[String] {
        &self.operations
    }

    fn encode(&self, decisions: &[usize]) -> Result<ArchGraph> {
        archforge::env::validate(self, decisions)?;
        let per_cell = PER_BLOCK * self.config.blocks;
        let mut graph = ArchGraph::empty(self.max_nodes());
        self.encode_cell(&mut graph, 0, &self.cell_blocks(&decisions[..per_cell]));
        let reduce = self.cell_blocks(&decisions[per_cell..]);
        self.encode_cell(&mut graph, self.cell_nodes(), &reduce);
        Ok(graph)
    }

    fn decode(&self, graph: &ArchGraph) -> Result<Vec<usize>> {
        graph.check_form(self.max_nodes(), self.operations.len())?;
        let mut decisions = self.decode_cell(graph, 0)?;
        decisions.extend(self.decode_cell(graph, self.cell_nodes())?);
        Ok(decisions)
    }
}

impl Positional for Nasnet {
    fn positions(&self) -> &PositionalFeatures {
        &self.features
    }
}

impl NetworkLayers for Nasnet {}

#[cfg(test)]
mod tests {
    use super::*;
    use archforge::env::complete_uniformly;

    fn env() -> Nasnet {
        let images = Images {
            shape: Shape::new(1, 28, 28),
            classes: 10,
        };
        Nasnet::new(NasnetConfig::default(), Some(images)).unwrap()
    }

    #[test]
    fn every_sampled_cell_builds_with_shapes() {
        let env = env();
        let mut rng = archforge::rng::seeded(0);
        for _ in 0..200 {
            let mut d = Vec::new();
            complete_uniformly(&env, &mut d, &mut rng).unwrap();
            assert_eq!(d.len(), 50);
            let c = env.build(&d).unwrap();
            assert_eq!(
                c.arch().output_shape(),
                Some(Shape::new(10, 1, 1)),
                "{}",
                c.label
            );
            assert!(c.params().unwrap() > 0);
            let graph = env.encode(&d).unwrap();
            assert_eq!(env.decode(&graph).unwrap(), d);
        }
    }

    #[test]
    fn every_sampled_network_runs_a_forward_pass() {
        let shape = Shape::new(1, 12, 12);
        let images = Images { shape, classes: 3 };
        let env = Nasnet::new(NasnetConfig::default(), Some(images)).unwrap();
        crate::forward_check::sampled_networks_run(&env, shape, 3, 20);
    }

    #[test]
    fn the_graph_encodes_the_chosen_wiring_and_refuses_other_wiring() {
        let env = env();
        let mut d = vec![0; 50];
        // Normal cell, block 1: reads block 0 (state 2) and `cur`, sep_conv_3x3 and max_pool.
        d[5..10].copy_from_slice(&[2, 1, 10, 5, 1]);
        let graph = env.encode(&d).unwrap();
        // Block 1's first operation node (node 5) reads block 0's combiner (node 4).
        assert_eq!(graph.inputs(5), [4]);
        assert_eq!(graph.inputs(6), [1]);
        assert_eq!(env.operations()[graph.ops[5]], "sep_conv_3x3");
        assert_eq!(env.operations()[graph.ops[7]], "concat");
        // Blocks 1..4 are loose (nothing reads them); block 0 is read by block 1.
        assert_eq!(graph.inputs(17), [7, 10, 13, 16]);
        assert_eq!(env.decode(&graph).unwrap(), d);
        let mut forward = graph.clone();
        forward.adjacency[4][5] = false;
        forward.adjacency[7][8] = true;
        assert!(
            env.decode(&forward).is_err(),
            "a block may not read a later one"
        );
        let mut no_output = graph;
        no_output.adjacency[16][17] = false;
        assert!(env.decode(&no_output).is_err());
    }

    #[test]
    fn inputs_are_limited_to_earlier_states() {
        let env = env();
        assert_eq!(env.next_choice(&[]).unwrap().unwrap().options, 2);
        // Block 3 of the normal cell may read the two inputs and blocks 0..3.
        let prefix = vec![0; 15];
        assert_eq!(env.next_choice(&prefix).unwrap().unwrap().options, 5);
        let mut bad = vec![0; 5];
        bad[0] = 2;
        assert!(env.next_choice(&bad).is_err());
        assert!(env.build(&[0; 49]).is_err());
    }

    #[test]
    fn reduction_halves_and_loose_blocks_are_concatenated() {
        let env = env();
        // Every block: cur:identity + cur:identity, added; blocks 1..4 read nothing, so the
        // normal cell concatenates all five blocks.
        let mut d = Vec::new();
        for _ in 0..2 {
            for _ in 0..5 {
                d.extend([1, 1, 0, 0, 0]);
            }
        }
        let c = env.build(&d).unwrap();
        let arch = c.arch();
        let shape_of = |name: &str| {
            arch.node_ids()
                .map(|id| arch.node(id))
                .find(|n| n.name == name)
                .and_then(|n| n.shape)
        };
        assert_eq!(shape_of("stage0.cell0.out"), Some(Shape::new(40, 28, 28)));
        assert_eq!(shape_of("reduce1.out"), Some(Shape::new(80, 14, 14)));
        assert_eq!(shape_of("stage2.cell0.out"), Some(Shape::new(160, 7, 7)));
    }
}
