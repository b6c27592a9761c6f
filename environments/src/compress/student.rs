//! Students: a network with some units removed and some channel spaces narrowed, built as a
//! graph under the network's own node names, with initial weights inherited from the
//! network's by path.
//!
//! Inheritance: a kept layer keeps its tensors. A narrowed space keeps the channels whose
//! filters have the largest L1 norms (summed over the convolutions writing it), in their
//! order, and every layer reading it keeps the matching input channels and batch-norm entries
//! — the selection of L1-norm filter pruning. A layer that reads another layer than before
//! (the one between was removed) keeps the input channels of its own weight with the largest
//! L1 norms, as many as it now reads, and starts the ones it lacks at zero.

use super::anatomy::{Anatomy, Network};
use archforge::arch::{Arch, NodeId, Op};
use archforge::error::{Error, Result};
use archforge::nn::store::layer_path;
use archforge::weights::{Snapshot, Values};

/// What a student changes in its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Per unit of the anatomy: whether it is removed.
    pub removed: Vec<bool>,
    /// Per channel space of the anatomy: its new width (at most its width; shrinkable spaces
    /// only).
    pub widths: Vec<usize>,
}

impl Edit {
    /// The edit that changes nothing.
    pub fn none(anatomy: &Anatomy) -> Self {
        Edit {
            removed: vec![false; anatomy.units.len()],
            widths: anatomy.spaces.iter().map(|s| s.width).collect(),
        }
    }

    /// Every width that may shrink scaled by `factor` (`max(1, round(width * factor))`).
    pub fn uniform(anatomy: &Anatomy, factor: f64) -> Self {
        let mut edit = Edit::none(anatomy);
        for (s, space) in anatomy.spaces.iter().enumerate() {
            if space.shrinkable {
                let width = (space.width as f64 * factor).round() as usize;
                edit.widths[s] = width.clamp(1, space.width);
            }
        }
        edit
    }

    /// The uniform edit ([`Edit::uniform`]) whose student of `net` has the parameter count
    /// closest to `params`, with its factor (found by bisection; parameters grow with it).
    pub fn sized(net: &Network, anatomy: &Anatomy, params: u64) -> Result<(Edit, f64)> {
        let count = |factor: f64| -> Result<u64> {
            let arch = student_arch(net, anatomy, &Edit::uniform(anatomy, factor))?;
            Ok(arch.params().unwrap_or(0))
        };
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if count(mid)? < params {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let gap = |f: f64| count(f).map(|p| p.abs_diff(params));
        let factor = if gap(lo)? <= gap(hi)? { lo } else { hi };
        Ok((Edit::uniform(anatomy, factor), factor))
    }
}

/// A student's graph and initial weights.
#[derive(Debug, Clone)]
pub struct Student {
    /// The graph.
    pub arch: Arch,
    /// Its inherited weights, one tensor for each of its layers.
    pub weights: Snapshot,
}

/// Builds the student `edit` makes of `net` (whose anatomy is `anatomy`); an edit whose
/// shapes do not fit is an error.
pub fn student(net: &Network, anatomy: &Anatomy, edit: &Edit) -> Result<Student> {
    let graph = Graph::of(net, anatomy, edit)?;
    let weights = inherit(net, anatomy, edit, &graph)?;
    Ok(Student {
        arch: graph.arch,
        weights,
    })
}

/// The graph of the student `edit` makes of `net`, without its weights.
pub fn student_arch(net: &Network, anatomy: &Anatomy, edit: &Edit) -> Result<Arch> {
    Graph::of(net, anatomy, edit).map(|g| g.arch)
}

/// A student's graph with how its nodes map to the network's.
struct Graph {
    arch: Arch,
    /// Per node of the network, what a reader of it reads in the network instead (removed
    /// nodes point at their unit's source).
    redirect: Vec<Option<NodeId>>,
    /// Per node of the network, its node in the student (none when removed or unread).
    map: Vec<Option<NodeId>>,
}

/// Where a reader of `x` reads once removed nodes are followed to their sources.
fn follow(redirect: &[Option<NodeId>], mut x: NodeId) -> NodeId {
    while let Some(to) = redirect[x.index()] {
        x = to;
    }
    x
}

impl Graph {
    fn of(net: &Network, anatomy: &Anatomy, edit: &Edit) -> Result<Graph> {
        let teacher = &net.arch;
        let n = teacher.len();
        let mut redirect: Vec<Option<NodeId>> = vec![None; n];
        for (unit, _) in anatomy
            .units
            .iter()
            .zip(&edit.removed)
            .filter(|(_, removed)| **removed)
        {
            for node in &unit.nodes {
                redirect[node.index()] = Some(unit.source);
            }
        }
        let resolve = |x| follow(&redirect, x);
        let output = teacher
            .output()
            .ok_or_else(|| Error::Arch("the network has no output".into()))?;
        // Nodes the output still reads.
        let mut live = vec![false; n];
        live[output.index()] = true;
        for v in (0..n).rev() {
            if live[v] {
                for i in teacher.inputs(NodeId::new(v)) {
                    live[resolve(i).index()] = true;
                }
            }
        }
        let mut arch = Arch::new(teacher.node(teacher.input()).shape);
        let mut map: Vec<Option<NodeId>> = vec![None; n];
        map[teacher.input().index()] = Some(arch.input());
        for v in 1..n {
            let id = NodeId::new(v);
            if !live[v] || redirect[v].is_some() {
                continue;
            }
            let node = teacher.node(id);
            let ins: Vec<NodeId> = teacher
                .inputs(id)
                .into_iter()
                .map(|i| map[resolve(i).index()].expect("inputs come first"))
                .collect();
            let new = if id == output {
                arch.finish(ins[0])?
            } else {
                let c_in = ins
                    .first()
                    .and_then(|&i| arch.node(i).shape)
                    .map(|s| s.channels);
                let op = match &node.op {
                    Op::Conv(c) if c.groups > 1 => {
                        // Depthwise: one filter per channel it reads.
                        let c_in = c_in.unwrap_or(c.groups);
                        let mut c = *c;
                        c.groups = c_in;
                        c.out_channels = c_in;
                        Op::Conv(c)
                    }
                    Op::Conv(c) => {
                        let mut c = *c;
                        c.out_channels = edit.widths[anatomy.space_of[v]];
                        Op::Conv(c)
                    }
                    op => op.clone(),
                };
                arch.add(node.name.clone(), op, &ins)?
            };
            map[v] = Some(new);
        }
        Ok(Graph {
            arch,
            redirect,
            map,
        })
    }
}

/// The student's weights: the network's, by the rules of the module documentation.
fn inherit(net: &Network, anatomy: &Anatomy, edit: &Edit, graph: &Graph) -> Result<Snapshot> {
    let teacher = &net.arch;
    let (arch, map) = (&graph.arch, &graph.map);
    let resolve = |x| follow(&graph.redirect, x);
    let n = teacher.len();
    let kept = kept_channels(net, anatomy, edit)?;
    // The channel space each student node's output carries, in the network's terms: a node
    // that passes channels on carries what its (possibly new) input carries.
    let mut carried = anatomy.space_of.clone();
    for v in 1..n {
        let id = NodeId::new(v);
        if map[v].is_none() {
            continue;
        }
        let passes = match &teacher.node(id).op {
            Op::Conv(c) => {
                c.groups > 1
                    && anatomy.space_of[v] == anatomy.space_of[teacher.inputs(id)[0].index()]
            }
            Op::Input | Op::Linear { .. } | Op::Concat | Op::Labelled(_) => false,
            _ => true,
        };
        if passes {
            carried[v] = carried[resolve(teacher.inputs(id)[0]).index()];
        }
    }
    let mut weights = Snapshot::new();
    for v in 1..n {
        let (id, Some(new)) = (NodeId::new(v), map[v]) else {
            continue;
        };
        let node = teacher.node(id);
        if !matches!(node.op, Op::Conv(_) | Op::Linear { .. } | Op::BnRelu) {
            continue;
        }
        let input = teacher.inputs(id)[0];
        let (Some(t_in), Some(s_in)) = (
            teacher.node(input).shape,
            arch.node(arch.inputs(new)[0]).shape,
        ) else {
            return Err(Error::Arch(format!("`{}` has no input shape", node.name)));
        };
        let from = layer_path(&node.name, &node.op, t_in);
        let to = layer_path(&node.name, &arch.node(new).op, s_in);
        // Whether the layer reads the channels it read in the network (of them, those kept).
        let same_space = carried[resolve(input).index()] == anatomy.space_of[input.index()];
        let out = kept[anatomy.space_of[v]].clone();
        let depthwise = matches!(&node.op, Op::Conv(c) if c.groups > 1);
        let tensors: Vec<(&String, &Values)> = net
            .weights
            .iter()
            .filter(|(path, _)| path.strip_prefix(&from).is_some_and(|r| r.starts_with('/')))
            .collect();
        if tensors.is_empty() {
            return Err(Error::Arch(format!(
                "the network's weights have no tensors for `{from}`"
            )));
        }
        for (path, values) in tensors {
            let name = &path[from.len() + 1..];
            let reading = |axis: usize| -> Vec<Option<usize>> {
                if same_space {
                    kept[anatomy.space_of[input.index()]]
                        .iter()
                        .map(|&c| Some(c))
                        .collect()
                } else {
                    strongest_inputs(values, axis, s_in.channels)
                }
            };
            let taken = match (&node.op, name) {
                (Op::Conv(_), _) if depthwise => gather(values, 0, &reading(0)),
                (Op::Conv(_), "weight") => gather(&gather(values, 0, &some(&out)), 1, &reading(1)),
                (Op::Conv(_), _) => gather(values, 0, &some(&out)),
                (Op::Linear { .. }, "weight") => gather(values, 0, &reading(0)),
                (Op::Linear { .. }, _) => values.clone(),
                _ => gather(values, 0, &reading(0)),
            };
            weights.insert(format!("{to}/{name}"), taken);
        }
    }
    Ok(weights)
}

fn some(channels: &[usize]) -> Vec<Option<usize>> {
    channels.iter().map(|&c| Some(c)).collect()
}

/// Per channel space, the channels a student keeps: all of them at full width, else those
/// whose filters have the largest L1 norms summed over the space's convolutions, in order.
fn kept_channels(net: &Network, anatomy: &Anatomy, edit: &Edit) -> Result<Vec<Vec<usize>>> {
    let teacher = &net.arch;
    anatomy
        .spaces
        .iter()
        .zip(&edit.widths)
        .map(|(space, &width)| {
            if width >= space.width {
                return Ok((0..space.width).collect());
            }
            let mut score = vec![0.0f64; space.width];
            for &member in &space.members {
                let node = teacher.node(member);
                let input = teacher.node(teacher.inputs(member)[0]).shape;
                let path = format!(
                    "{}/weight",
                    layer_path(&node.name, &node.op, input.expect("a network with shapes"))
                );
                let w = net.weights.get(&path).ok_or_else(|| {
                    Error::Arch(format!("the network's weights have no tensor `{path}`"))
                })?;
                let per = w.data.len() / space.width.max(1);
                for (c, filter) in w.data.chunks(per.max(1)).enumerate().take(space.width) {
                    score[c] += filter.iter().map(|x| x.abs() as f64).sum::<f64>();
                }
            }
            Ok(strongest(&score, width))
        })
        .collect()
}

/// The `count` indices of the largest scores (ties to the lower index), in increasing order.
fn strongest(score: &[f64], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    order.truncate(count);
    order.sort_unstable();
    order
}

/// For a layer now reading `count` channels of another layer: its own input channels (axis
/// `axis` of `w`) with the largest L1 norms, and `None` (zeros) for any beyond its own.
fn strongest_inputs(w: &Values, axis: usize, count: usize) -> Vec<Option<usize>> {
    let size = w.shape[axis];
    let inner: usize = w.shape[axis + 1..].iter().product();
    let mut score = vec![0.0f64; size];
    for (i, x) in w.data.iter().enumerate() {
        score[(i / inner) % size] += x.abs() as f64;
    }
    let mut picked: Vec<Option<usize>> = strongest(&score, count.min(size))
        .into_iter()
        .map(Some)
        .collect();
    picked.resize(count, None);
    picked
}

/// `v` with axis `axis` re-indexed: entry `k` of the result is entry `pick[k]` of `v`, or
/// zeros for `None`.
fn gather(v: &Values, axis: usize, pick: &[Option<usize>]) -> Values {
    let outer: usize = v.shape[..axis].iter().product();
    let inner: usize = v.shape[axis + 1..].iter().product();
    let size = v.shape[axis];
    let mut data = Vec::with_capacity(outer * pick.len() * inner);
    for o in 0..outer {
        for p in pick {
            match p {
                Some(k) => {
                    let at = (o * size + k) * inner;
                    data.extend_from_slice(&v.data[at..at + inner]);
                }
                None => data.extend(std::iter::repeat_n(0.0, inner)),
            }
        }
    }
    let mut shape = v.shape.clone();
    shape[axis] = pick.len();
    Values { shape, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_picks_and_zero_fills_along_an_axis() {
        let v = Values {
            shape: vec![2, 3],
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let g = gather(&v, 1, &[Some(2), None]);
        assert_eq!((g.shape, g.data), (vec![2, 2], vec![3.0, 0.0, 6.0, 0.0]));
        let g = gather(&v, 0, &[Some(1)]);
        assert_eq!(g.data, [4.0, 5.0, 6.0]);
    }

    #[test]
    fn the_strongest_are_kept_in_order() {
        assert_eq!(strongest(&[0.5, 3.0, 1.0, 3.0], 2), [1, 3]);
        let w = Values {
            shape: vec![1, 3, 1, 1],
            data: vec![-5.0, 1.0, 2.0],
        };
        assert_eq!(strongest_inputs(&w, 1, 2), [Some(0), Some(2)]);
        assert_eq!(
            strongest_inputs(&w, 1, 4),
            [Some(0), Some(1), Some(2), None]
        );
    }
}
