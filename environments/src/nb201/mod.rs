//! NAS-Bench-201: a cell of 4 nodes where each of the 6 edges `i -> j` (`i < j`) carries one of
//! five operations (zero, skip, ReLU-Conv-BN 1x1, ReLU-Conv-BN 3x3, 3x3 average pooling) and
//! each node sums its incoming edges. A sequence is 6 decisions, one per edge, in the
//! benchmark's order e(0,1), e(0,2), e(1,2), e(0,3), e(1,3), e(2,3).
//!
//! The candidate's graph is the benchmark's whole CIFAR skeleton ([`skeleton`]), so its
//! parameter and MAC counts match the benchmark's own (C=16, N=5: 0.073306 to 1.531546 M
//! parameters). The benchmark's table (embedded) scores it: the search metric is the chosen
//! dataset's 12-epoch validation accuracy, the reported metric its 200-epoch test accuracy.
//!
//! A table search never needs the graph itself, so a candidate is built lazily: its label
//! comes from the table, its counts from each edge operation's share of them (the skeleton
//! is fixed, so counts add up edge by edge), its canonical hash from the cell alone
//! (remembered per cell), and the whole graph only when something asks for it.
//!
//! Abilities: the benchmark table; a graph encoding with operations as nodes (8 nodes — the
//! input, the six edges' operations, the output — wired as the cell is, as DiffusionNAG and
//! most NAS-Bench-201 predictors encode it); features (one-hot edges, operation counts,
//! params and MACs); layer tokens of the whole network.

pub mod skeleton;

use crate::images::Images;
use archforge::ability::{
    ArchGraph, Features, GraphEncoding, NetworkLayers, Positional, PositionalFeatures, Rows, Table,
    TableRow, Tokens, features::Position,
};
use archforge::candidate::ArchBuilder;
use archforge::error::{Error, Result};
use archforge::{ArchHash, Candidate, Choice, DecisionKindSpec, EnvSpec, Environment, Shape};
use serde::{Deserialize, Serialize};
use skeleton::Skeleton;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The benchmark table, embedded.
const TABLE_CSV: &str = include_str!("../../data/nb201.csv");

/// The five operations, by decision index (the table's op codes).
pub const OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];

/// The widest first stage accepted (the benchmark uses 16).
pub const MAX_CHANNELS: usize = 1024;

/// The most cells per stage accepted (the benchmark uses 5).
pub const MAX_CELLS: usize = 64;

/// The cell's edges `(from, to)` in decision order.
pub const EDGES: [(usize, usize); 6] = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)];

/// The dataset whose table columns score the cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Nb201Dataset {
    /// CIFAR-10 (32x32, 10 classes).
    #[serde(rename = "cifar10")]
    Cifar10,
    /// CIFAR-100 (32x32, 100 classes).
    #[serde(rename = "cifar100")]
    Cifar100,
    /// ImageNet16-120 (16x16, 120 classes).
    #[serde(rename = "imagenet16-120")]
    ImageNet16,
}

impl Nb201Dataset {
    fn input_shape(self) -> Shape {
        match self {
            Nb201Dataset::Cifar10 | Nb201Dataset::Cifar100 => Shape::new(3, 32, 32),
            Nb201Dataset::ImageNet16 => Shape::new(3, 16, 16),
        }
    }

    fn classes(self) -> usize {
        match self {
            Nb201Dataset::Cifar10 => 10,
            Nb201Dataset::Cifar100 => 100,
            Nb201Dataset::ImageNet16 => 120,
        }
    }

    /// The table columns: (search metric, reported metric).
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Nb201Dataset::Cifar10 => ("c10_valid_12ep", "c10_test_200ep"),
            Nb201Dataset::Cifar100 => ("c100_valid_12ep", "c100_test_200ep"),
            Nb201Dataset::ImageNet16 => ("in16_valid_12ep", "in16_test_200ep"),
        }
    }
}

/// The `[environment]` section for `kind = "nb201"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nb201Config {
    /// Which dataset's columns score the cells.
    #[serde(default = "default_dataset")]
    pub dataset: Nb201Dataset,
    /// Channels of the first stage (the benchmark's C).
    #[serde(default = "default_channels")]
    pub channels: usize,
    /// Cells per stage (the benchmark's N).
    #[serde(default = "default_cells")]
    pub cells: usize,
}

fn default_dataset() -> Nb201Dataset {
    Nb201Dataset::Cifar10
}
fn default_channels() -> usize {
    16
}
fn default_cells() -> usize {
    5
}

impl Default for Nb201Config {
    fn default() -> Self {
        Nb201Config {
            dataset: default_dataset(),
            channels: default_channels(),
            cells: default_cells(),
        }
    }
}

/// The NAS-Bench-201 environment (see the module documentation).
pub struct Nb201 {
    spec: EnvSpec,
    skeleton: Arc<Skeleton>,
    table: Arc<Table>,
    features: PositionalFeatures,
    operations: Vec<String>,
    /// Per cell (its op codes read as a base-5 number): its label, and its hash, made on
    /// first use.
    labels: Vec<String>,
    hashes: Vec<OnceLock<ArchHash>>,
    counts: EdgeCounts,
    builder: ArchBuilder,
}

/// The graph encoding's node operations: the input, the output, then the five edge
/// operations (so edge operation `o` is node operation `o + 2`).
const NODE_OPS: [&str; 2] = ["input", "output"];

/// The graph's nodes: the input, one per edge in decision order, the output.
const GRAPH_NODES: usize = EDGES.len() + 2;

/// Cells in the space: five operations on each of six edges.
const CELLS: usize = 15_625;

/// A cell's position in per-cell lists: its op codes read as a base-5 number.
fn cell_index(ops: &[usize; 6]) -> usize {
    ops.iter().fold(0, |i, &op| i * OPS.len() + op)
}

/// The metric columns of the embedded table, in order.
const METRICS: [&str; 9] = [
    "c10_valid_12ep",
    "c10_test_12ep",
    "c100_valid_12ep",
    "c100_test_12ep",
    "in16_valid_12ep",
    "in16_test_12ep",
    "c10_test_200ep",
    "c100_test_200ep",
    "in16_test_200ep",
];

/// Where a metric column is among [`METRICS`].
fn metric_column(name: &str) -> Result<usize> {
    METRICS
        .iter()
        .position(|m| *m == name)
        .ok_or_else(|| Error::Table {
            path: PathBuf::from("<embedded nb201.csv>"),
            reason: format!("no metric column `{name}`"),
        })
}

/// One parsed row of the embedded table.
struct Record {
    ops: [usize; 6],
    arch_str: String,
    /// Its value in each of [`METRICS`].
    metrics: [f64; METRICS.len()],
}

fn records() -> Result<&'static [Record]> {
    static RECORDS: OnceLock<std::result::Result<Vec<Record>, String>> = OnceLock::new();
    RECORDS
        .get_or_init(|| parse_table(TABLE_CSV).map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|reason| Error::Table {
            path: PathBuf::from("<embedded nb201.csv>"),
            reason: reason.clone(),
        })
}

fn parse_table(text: &str) -> Result<Vec<Record>> {
    let table_error = |reason: String| Error::Table {
        path: PathBuf::from("<embedded nb201.csv>"),
        reason,
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| table_error(e.to_string()))?
        .clone();
    let mut records = Vec::with_capacity(15_625);
    for (line, row) in reader.records().enumerate() {
        let row = row.map_err(|e| table_error(e.to_string()))?;
        let mut ops = [0usize; 6];
        let mut metrics = [f64::NAN; METRICS.len()];
        let mut arch_str = String::new();
        for (name, value) in headers.iter().zip(row.iter()) {
            if name == "arch_str" {
                arch_str = value.to_string();
            } else if let Some(edge) = name.strip_prefix("op_e") {
                let e = EDGES
                    .iter()
                    .position(|(i, j)| format!("{i}{j}") == edge)
                    .ok_or_else(|| table_error(format!("unknown edge column `{name}`")))?;
                ops[e] = value
                    .parse()
                    .ok()
                    .filter(|o| *o < OPS.len())
                    .ok_or_else(|| {
                        table_error(format!("row {}: bad op code `{value}`", line + 2))
                    })?;
            } else if let Some(m) = METRICS.iter().position(|m| *m == name) {
                metrics[m] = value.parse().map_err(|_| {
                    table_error(format!("row {}: `{name}` is not a number", line + 2))
                })?;
            }
        }
        if arch_str != arch_string(&ops) {
            return Err(table_error(format!(
                "row {}: arch_str does not match the op codes",
                line + 2
            )));
        }
        records.push(Record {
            ops,
            arch_str,
            metrics,
        });
    }
    Ok(records)
}

/// The benchmark's string for six op codes: `|OP~0|+|OP~0|OP~1|+|OP~0|OP~1|OP~2|`.
pub fn arch_string(ops: &[usize; 6]) -> String {
    let edge = |e: usize| format!("{}~{}", OPS[ops[e]], EDGES[e].0);
    format!(
        "|{}|+|{}|{}|+|{}|{}|{}|",
        edge(0),
        edge(1),
        edge(2),
        edge(3),
        edge(4),
        edge(5)
    )
}

impl Nb201 {
    /// The environment for `config`, scored by the embedded table, its networks sized for the
    /// benchmark dataset's images.
    pub fn new(config: Nb201Config) -> Result<Self> {
        let images = Images {
            shape: config.dataset.input_shape(),
            classes: config.dataset.classes(),
        };
        Self::for_images(config, images)
    }

    /// The environment for `config` with networks sized for other images (a trainable run's
    /// dataset); the table still scores by `config.dataset`.
    pub fn for_images(config: Nb201Config, images: Images) -> Result<Self> {
        if !(1..=MAX_CHANNELS).contains(&config.channels)
            || !(1..=MAX_CELLS).contains(&config.cells)
        {
            return Err(Error::Arch(format!(
                "nb201: channels must be in 1..={MAX_CHANNELS} and cells in 1..={MAX_CELLS}"
            )));
        }
        let (search, reported) = config.dataset.columns();
        let (search, reported) = (metric_column(search)?, metric_column(reported)?);
        let mut rows = Rows::with_capacity_and_hasher(CELLS, Default::default());
        let mut labels = vec![String::new(); CELLS];
        for r in records()? {
            let row = TableRow {
                search: r.metrics[search],
                reported: r.metrics[reported],
                cost: None,
            };
            rows.insert(r.arch_str.clone(), row);
            labels[cell_index(&r.ops)] = r.arch_str.clone();
        }
        let spec = EnvSpec {
            name: "nb201".into(),
            kinds: vec![DecisionKindSpec {
                name: "op".into(),
                labels: OPS.iter().map(|s| s.to_string()).collect(),
            }],
            max_length: EDGES.len(),
        };
        let positions = EDGES
            .iter()
            .map(|(i, j)| Position {
                name: format!("edge_{i}_{j}"),
                kind: 0,
                options: OPS.len(),
            })
            .collect();
        let features = PositionalFeatures::new(&spec, positions, true);
        let operations = NODE_OPS.iter().chain(&OPS).map(|s| s.to_string()).collect();
        let skeleton = Arc::new(Skeleton::new(config, images));
        let counts = edge_counts(&skeleton)?;
        let networks = skeleton.clone();
        let builder: ArchBuilder = Arc::new(move |decisions| {
            let ops: [usize; 6] = decisions.try_into().expect("a candidate's six decisions");
            networks
                .network(&ops)
                .expect("every cell builds in a skeleton that built with each operation")
        });
        Ok(Nb201 {
            spec,
            skeleton,
            table: Arc::new(Table {
                rows,
                maximize: true,
            }),
            features,
            operations,
            labels,
            hashes: (0..CELLS).map(|_| OnceLock::new()).collect(),
            counts,
            builder,
        })
    }

    /// The op codes of every cell in the table, in table order.
    pub fn all_cells() -> Result<Vec<[usize; 6]>> {
        Ok(records()?.iter().map(|r| r.ops).collect())
    }

    /// The whole network with `ops` in every cell.
    pub fn network(&self, ops: &[usize; 6]) -> Result<archforge::Arch> {
        self.skeleton.network(ops)
    }
}

/// The network's params and MACs without any edge operation, and what each operation adds on
/// one edge.
type EdgeCounts = ((u64, u64), [(u64, u64); OPS.len()]);

/// The params and MACs of the network without edge operations (every edge `none`), and the
/// share each operation adds on one edge: every edge of a cell sees the same input, so an
/// operation costs the same on each, and the counts of a cell are the sum of its edges'.
fn edge_counts(skeleton: &Skeleton) -> Result<EdgeCounts> {
    let counts = |op: usize| -> Result<(u64, u64)> {
        let arch = skeleton.network(&[op; 6])?;
        arch.counts()
            .ok_or_else(|| Error::Arch("nb201: the skeleton has no shapes".into()))
    };
    let base = counts(0)?;
    let mut per_edge = [(0, 0); OPS.len()];
    for (op, share) in per_edge.iter_mut().enumerate() {
        let (params, macs) = counts(op)?;
        let edges = EDGES.len() as u64;
        *share = ((params - base.0) / edges, (macs - base.1) / edges);
    }
    Ok((base, per_edge))
}

impl Environment for Nb201 {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        if let Some(bad) = prefix.iter().position(|&d| d >= OPS.len()) {
            return Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: format!("option {} at position {bad} is out of range", prefix[bad]),
            });
        }
        match prefix.len() {
            n if n < EDGES.len() => Ok(Some(Choice::new(0, OPS.len()))),
            n if n == EDGES.len() => Ok(None),
            _ => Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: "longer than 6 decisions".into(),
            }),
        }
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        archforge::env::validate(self, decisions)?;
        let ops: [usize; 6] = decisions.try_into().expect("validated to 6 decisions");
        let index = cell_index(&ops);
        let hash = match self.hashes[index].get() {
            Some(&known) => known,
            None => {
                let made = self.skeleton.hash(&ops)?;
                *self.hashes[index].get_or_init(|| made)
            }
        };
        let label = self.labels[index].clone();
        let ((params, macs), per_edge) = self.counts;
        let counts = ops.iter().fold((params, macs), |(p, m), &op| {
            (p + per_edge[op].0, m + per_edge[op].1)
        });
        Ok(Candidate::lazy(
            decisions.to_vec(),
            label,
            hash,
            Some(counts),
            self.builder.clone(),
        ))
    }

    fn benchmark(&self) -> Option<Arc<Table>> {
        Some(self.table.clone())
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

/// The cell's wiring with operations as nodes: node 0 the input, node `1 + e` edge `e`'s
/// operation, the last node the output. An edge `i -> j` reads cell node `i` (the input, or
/// the sum of the edges into `i`) and feeds cell node `j`.
fn cell_wiring() -> ArchGraph {
    let mut graph = ArchGraph::empty(GRAPH_NODES);
    let output = GRAPH_NODES - 1;
    for (e, &(from, to)) in EDGES.iter().enumerate() {
        if from == 0 {
            graph.adjacency[0][1 + e] = true;
        }
        for (f, &(from2, _)) in EDGES.iter().enumerate() {
            if from2 == to {
                graph.adjacency[1 + e][1 + f] = true;
            }
        }
        if to == 3 {
            graph.adjacency[1 + e][output] = true;
        }
    }
    graph
}

impl GraphEncoding for Nb201 {
    fn max_nodes(&self) -> usize {
        GRAPH_NODES
    }

    fn operations(&self) -> &[String] {
        &self.operations
    }

    fn encode(&self, decisions: &[usize]) -> Result<ArchGraph> {
        archforge::env::validate(self, decisions)?;
        let mut graph = cell_wiring();
        graph.set_node(0, 0);
        for (e, &op) in decisions.iter().enumerate() {
            graph.set_node(1 + e, NODE_OPS.len() + op);
        }
        graph.set_node(GRAPH_NODES - 1, 1);
        Ok(graph)
    }

    fn decode(&self, graph: &ArchGraph) -> Result<Vec<usize>> {
        graph.check_form(GRAPH_NODES, self.operations.len())?;
        let bad = |why: &str| Error::Arch(format!("nb201 graph: {why}"));
        if graph.adjacency != cell_wiring().adjacency || graph.mask.iter().any(|m| !m) {
            return Err(bad("the wiring is not the cell's"));
        }
        if graph.ops[0] != 0 || graph.ops[GRAPH_NODES - 1] != 1 {
            return Err(bad(
                "the first node must be the input and the last the output",
            ));
        }
        (1..=EDGES.len())
            .map(|node| {
                graph.ops[node]
                    .checked_sub(NODE_OPS.len())
                    .ok_or_else(|| bad(&format!("node {node} must be an edge operation")))
            })
            .collect()
    }
}

impl Positional for Nb201 {
    fn positions(&self) -> &PositionalFeatures {
        &self.features
    }
}

impl NetworkLayers for Nb201 {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn env() -> Nb201 {
        Nb201::new(Nb201Config::default()).unwrap()
    }

    #[test]
    fn the_embedded_table_has_every_cell_once() {
        let cells = Nb201::all_cells().unwrap();
        assert_eq!(cells.len(), 15_625);
        assert_eq!(cells.iter().collect::<HashSet<_>>().len(), 15_625);
        assert_eq!(env().table.rows.len(), 15_625);
    }

    #[test]
    fn params_and_macs_match_the_benchmark_extremes() {
        let e = env();
        let all_conv3 = e.build(&[3; 6]).unwrap();
        assert_eq!(all_conv3.params(), Some(1_531_546));
        assert_eq!(all_conv3.macs(), Some(220_119_680));
        let no_conv = e.build(&[1, 0, 4, 1, 0, 4]).unwrap();
        assert_eq!(no_conv.params(), Some(73_306));
        assert_eq!(no_conv.macs(), Some(7_783_040));
    }

    #[test]
    fn labels_are_the_benchmark_strings() {
        let c = env().build(&[4, 2, 1, 2, 1, 1]).unwrap();
        assert_eq!(
            c.label,
            "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
        );
    }

    #[test]
    fn isomorphic_cells_hash_alike() {
        let e = env();
        let h = |d: &[usize]| e.build(d).unwrap().hash;
        // Node 1 unused (its edges to 2 and 3 are zero): what feeds it does not matter.
        assert_eq!(h(&[3, 2, 0, 3, 0, 1]), h(&[4, 2, 0, 3, 0, 1]));
        // A skip from node 1 = conv(x) into node 3 equals a conv edge straight from the input.
        assert_eq!(h(&[3, 0, 0, 0, 1, 0]), h(&[0, 0, 0, 3, 0, 0]));
        // The two sides of a sum swap.
        assert_eq!(h(&[2, 3, 1, 0, 0, 1]), h(&[3, 2, 0, 0, 1, 1]));
        assert_ne!(h(&[3; 6]), h(&[2; 6]));
    }

    /// NAS-Bench-201's own `to_unique_str(consider_zero=True)` finds 6,466 classes because it
    /// keeps zero summands as terms (`#+conv` differs from `conv`); dropping them, as adding
    /// zero changes nothing, leaves 4,930 functions (checked by an independent enumeration).
    #[test]
    fn the_space_has_the_known_number_of_distinct_functions() {
        let e = env();
        let pairs: HashSet<_> = Nb201::all_cells()
            .unwrap()
            .iter()
            .map(|ops| {
                let c = e.build(ops).unwrap();
                (c.hash, c.arch().canonical_hash())
            })
            .collect();
        let cells: HashSet<_> = pairs.iter().map(|p| p.0).collect();
        let networks: HashSet<_> = pairs.iter().map(|p| p.1).collect();
        assert_eq!(cells.len(), 4930);
        // The cell's hash and the whole network's tell exactly the same networks apart.
        assert_eq!(networks.len(), 4930);
        assert_eq!(pairs.len(), 4930);
    }

    #[test]
    fn a_lazy_candidate_counts_what_its_network_counts() {
        let e = Nb201::new(Nb201Config {
            channels: 8,
            cells: 2,
            ..Nb201Config::default()
        })
        .unwrap();
        let mut rng = archforge::rng::seeded(4);
        for _ in 0..100 {
            let mut d = Vec::new();
            archforge::env::complete_uniformly(&e, &mut d, &mut rng).unwrap();
            let c = e.build(&d).unwrap();
            assert_eq!(c.counts, c.arch().counts(), "{}", c.label);
        }
    }

    #[test]
    fn the_graph_encoding_has_the_cells_wiring_and_decodes_back() {
        let e = env();
        let decisions = [4, 2, 1, 0, 3, 1];
        let graph = e.encode(&decisions).unwrap();
        assert_eq!(e.decode(&graph).unwrap(), decisions);
        // Edge (1,2) reads cell node 1, the sum of edge (0,1) alone; edge (2,3) reads node 2,
        // the sum of edges (0,2) and (1,2).
        assert_eq!(graph.inputs(3), [1]);
        assert_eq!(graph.inputs(6), [2, 3]);
        assert_eq!(graph.inputs(7), [4, 5, 6]);
        assert_eq!(e.operations()[graph.ops[1]], "avg_pool_3x3");
        let mut rewired = graph.clone();
        rewired.adjacency[0][7] = true;
        assert!(e.decode(&rewired).is_err());
        let mut swapped = graph;
        swapped.ops[1] = 1;
        assert!(e.decode(&swapped).is_err());
    }

    #[test]
    fn bad_sequences_are_errors() {
        let e = env();
        assert!(e.build(&[0; 5]).is_err());
        assert!(e.build(&[5, 0, 0, 0, 0, 0]).is_err());
        assert!(e.next_choice(&[0; 7]).is_err());
        for (channels, cells) in [(0, 5), (16, 0), (1 << 40, 5), (16, 100_000_000)] {
            let config = Nb201Config {
                channels,
                cells,
                ..Nb201Config::default()
            };
            assert!(Nb201::new(config).is_err());
        }
    }
}
