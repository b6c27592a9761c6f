//! A tree space's graph encoding: one node per emitted module (the input first, residual sums
//! as `add`, concats as `concat`), its operation the module's label (type and
//! hyper-parameters, from the vocabulary of every label the space can produce), edges from the
//! walk's data flow. The training choices travel as extra nodes after the network, one per
//! chosen setting (`training.learning_rate=0.01`), unconnected. Decoding walks the space and
//! keeps only the decisions whose emitted nodes agree with the graph so far (a depth-first
//! search that backtracks where a decision's effect shows only later, as a repeat's count).

use super::space::{Node, Shared, Space, possible};
use super::walk::{End, Walked, each_instance, walk};
use archforge::ability::ArchGraph;
use archforge::error::{Error, Result};

/// The most walk steps a decode may take before it gives up.
const DECODE_STEPS: usize = 200_000;

/// The labels of a walk's nodes: the network's, then one per training choice.
fn labels(walked: &Walked) -> Vec<String> {
    walked
        .nodes
        .iter()
        .map(|n| n.emit.label())
        .chain(
            walked
                .training
                .iter()
                .map(|(k, v)| format!("training.{k}={v}")),
        )
        .collect()
}

/// Every operation label: each label the space's modules can take (in the order they are
/// written), `input`, `add` and `concat`, then each training setting's values.
pub fn vocabulary(space: &Space) -> Vec<String> {
    let mut ops = Vec::new();
    layer_labels(&space.root, &space.shared, &mut ops);
    ops.extend(["input", "add", "concat"].map(String::from));
    for t in &space.training {
        ops.extend(
            possible(&t.param, &space.shared)
                .iter()
                .map(|v| format!("training.{}={}", t.key, v.json())),
        );
    }
    ops
}

/// Adds every label the basic modules under `node` can take to `labels`, without repeats.
fn layer_labels(node: &Node, shared: &[Shared], labels: &mut Vec<String>) {
    match node {
        Node::Layer(def, _) => each_instance(def, &|p| possible(p, shared), &mut |layer| {
            let label = layer.label();
            if !labels.contains(&label) {
                labels.push(label);
            }
        }),
        Node::Sequence(nodes)
        | Node::Concat(nodes, _)
        | Node::Or {
            branches: nodes, ..
        } => {
            for n in nodes {
                layer_labels(n, shared, labels);
            }
        }
        Node::Optional { inner, .. } | Node::Repeat { inner, .. } | Node::Residual(inner, _) => {
            layer_labels(inner, shared, labels)
        }
    }
}

/// The graph of a complete walk over `slots` node slots.
pub fn encode(walked: &Walked, vocabulary: &[String], slots: usize) -> Result<ArchGraph> {
    let labels = labels(walked);
    if labels.len() > slots {
        return Err(Error::Arch(format!(
            "{} nodes exceed the encoding's {slots}",
            labels.len()
        )));
    }
    let mut graph = ArchGraph::empty(slots);
    for (i, label) in labels.iter().enumerate() {
        let op = vocabulary
            .iter()
            .position(|v| v == label)
            .ok_or_else(|| Error::Arch(format!("`{label}` is not in the space's vocabulary")))?;
        graph.set_node(i, op);
    }
    for (j, node) in walked.nodes.iter().enumerate() {
        for &i in &node.inputs {
            graph.adjacency[i][j] = true;
        }
    }
    Ok(graph)
}

/// The decisions whose walk encodes as `graph` (see the module documentation).
pub fn decode(space: &Space, graph: &ArchGraph, vocabulary: &[String]) -> Result<Vec<usize>> {
    let real = graph.mask.iter().take_while(|&&m| m).count();
    if graph.mask[real..].iter().any(|&m| m) {
        return Err(Error::Arch(
            "graph encoding: real nodes must come before padding".into(),
        ));
    }
    let target: Vec<(String, Vec<usize>)> = (0..real)
        .map(|j| (vocabulary[graph.ops[j]].clone(), graph.inputs(j)))
        .collect();
    let mut steps = 0usize;
    let mut decisions = Vec::new();
    if search(space, &target, &mut decisions, &mut steps)? {
        Ok(decisions)
    } else {
        Err(Error::Arch(
            "graph encoding: the graph is no network of this space".into(),
        ))
    }
}

/// Whether `walked`'s network nodes so far agree with the start of `target`.
fn agrees(walked: &Walked, target: &[(String, Vec<usize>)]) -> bool {
    walked.nodes.len() <= target.len()
        && walked.nodes.iter().zip(target).all(|(n, (label, inputs))| {
            // The adjacency lists inputs in increasing order.
            let mut sorted = n.inputs.clone();
            sorted.sort_unstable();
            n.emit.label() == *label && sorted == *inputs
        })
}

fn search(
    space: &Space,
    target: &[(String, Vec<usize>)],
    decisions: &mut Vec<usize>,
    steps: &mut usize,
) -> Result<bool> {
    *steps += 1;
    if *steps > DECODE_STEPS {
        return Err(Error::Arch(
            "graph encoding: too many ways to read the graph; decoding gave up".into(),
        ));
    }
    let walked = walk(space, decisions)?;
    if !agrees(&walked, target) {
        return Ok(false);
    }
    match &walked.end {
        End::Complete(_) => {
            let labels = labels(&walked);
            Ok(labels.len() == target.len()
                && labels.iter().zip(target).all(|(l, (t, _))| l == t)
                && target[walked.nodes.len()..]
                    .iter()
                    .all(|(_, i)| i.is_empty()))
        }
        End::Next(choice) => {
            for option in 0..choice.options {
                decisions.push(option);
                if search(space, target, decisions, steps)? {
                    return Ok(true);
                }
                decisions.pop();
            }
            Ok(false)
        }
    }
}
