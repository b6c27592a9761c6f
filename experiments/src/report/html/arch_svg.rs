//! The best architecture's graph as SVG, drawn from the graph `best.json` holds: each node in
//! the layer one below its deepest input (so data flows down), nodes of a layer side by side
//! in graph order, each a box with its name, operation and output shape, and an edge from
//! every input's box to the node's.

use serde_json::Value;
use std::fmt::Write as _;

const BOX_W: f64 = 190.0;
const BOX_H: f64 = 46.0;
const GAP_X: f64 = 20.0;
const GAP_Y: f64 = 34.0;

/// One node as drawn.
struct Drawn {
    lines: [String; 3],
    inputs: Vec<usize>,
    layer: usize,
    slot: usize,
}

/// The SVG of `graph` (the `graph` object of `best.json`), or `None` when it holds no nodes.
pub fn draw(graph: &Value) -> Option<String> {
    let nodes = graph.get("nodes")?.as_array()?;
    if nodes.is_empty() {
        return None;
    }
    let inputs: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            n.get("inputs")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_u64)
                        .map(|i| i as usize)
                        .filter(|&i| i < nodes.len())
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    // Longest path from the inputs; relaxed as often as there are nodes, so any order of the
    // node list (and a cycle, which a valid graph has not) ends.
    let mut layer = vec![0usize; nodes.len()];
    for _ in 0..nodes.len() {
        let mut changed = false;
        for (i, ins) in inputs.iter().enumerate() {
            let want = ins.iter().map(|&j| layer[j] + 1).max().unwrap_or(0);
            if want > layer[i] && want <= nodes.len() {
                layer[i] = want;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut filled = vec![0usize; nodes.len() + 1];
    let drawn: Vec<Drawn> = nodes
        .iter()
        .zip(inputs)
        .zip(&layer)
        .map(|((node, inputs), &layer)| {
            let slot = filled[layer];
            filled[layer] += 1;
            Drawn {
                lines: [
                    text(node.get("name")),
                    operation(node.get("op")),
                    shape(node.get("shape")),
                ],
                inputs,
                layer,
                slot,
            }
        })
        .collect();
    let widest = filled.iter().copied().max().unwrap_or(1).max(1);
    let layers = layer.iter().copied().max().unwrap_or(0) + 1;
    let width = widest as f64 * (BOX_W + GAP_X) + GAP_X;
    let height = layers as f64 * (BOX_H + GAP_Y) + GAP_Y;
    // Each layer centred.
    let x_of = |d: &Drawn| {
        let row = filled[d.layer] as f64 * (BOX_W + GAP_X) - GAP_X;
        (width - row) / 2.0 + d.slot as f64 * (BOX_W + GAP_X)
    };
    let y_of = |d: &Drawn| GAP_Y + d.layer as f64 * (BOX_H + GAP_Y);

    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#666\"/></marker></defs>\n"
    );
    for d in &drawn {
        for &i in &d.inputs {
            let from = &drawn[i];
            let _ = writeln!(
                svg,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\" marker-end=\"url(#arrow)\"/>",
                x_of(from) + BOX_W / 2.0,
                y_of(from) + BOX_H,
                x_of(d) + BOX_W / 2.0,
                y_of(d)
            );
        }
    }
    for d in &drawn {
        let (x, y) = (x_of(d), y_of(d));
        let _ = writeln!(
            svg,
            "<g><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"4\" fill=\"#eef3fb\" stroke=\"#4a6fa5\"/>"
        );
        for (k, line) in d.lines.iter().enumerate() {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\"{}>{}</text>",
                x + BOX_W / 2.0,
                y + 13.0 + 13.0 * k as f64,
                if k == 1 { " font-weight=\"bold\"" } else { "" },
                super::escape(line)
            );
        }
        svg.push_str("</g>\n");
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

/// A string field, or nothing.
fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or_default().into()
}

/// An operation in a few words: its kind, with a convolution's kernel, channels, stride and
/// groups.
fn operation(op: Option<&Value>) -> String {
    match op {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Object(map)) => {
            let Some((kind, fields)) = map.iter().next() else {
                return String::new();
            };
            let mut words = vec![kind.clone()];
            if let Some(k) = fields.get("kernel").and_then(Value::as_array) {
                let sides: Vec<String> = k.iter().map(|v| v.to_string()).collect();
                words.push(sides.join("x"));
            }
            for (field, label) in [("out_channels", "→"), ("stride", "/"), ("groups", "g")] {
                if let Some(v) = fields.get(field).and_then(Value::as_u64)
                    && !(v == 1 && field != "out_channels")
                {
                    words.push(format!("{label}{v}"));
                }
            }
            words.join(" ")
        }
        _ => String::new(),
    }
}

/// A shape as `C×H×W` (or its fields as given).
fn shape(value: Option<&Value>) -> String {
    match value {
        Some(Value::Object(map)) => {
            let field = |k: &str| map.get(k).and_then(Value::as_u64);
            match (field("channels"), field("height"), field("width")) {
                (Some(c), Some(h), Some(w)) => format!("{c}×{h}×{w}"),
                _ => Value::Object(map.clone()).to_string(),
            }
        }
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_with_a_skip_is_drawn_in_layers_with_every_edge() {
        let graph: Value = serde_json::json!({"nodes": [
            {"name": "input", "op": "input", "inputs": [], "shape": {"channels": 3, "height": 8, "width": 8}},
            {"name": "stem", "op": {"conv": {"kernel": [3, 3], "out_channels": 16, "stride": 1, "groups": 1}}, "inputs": [0]},
            {"name": "sum", "op": "add", "inputs": [0, 1]}
        ]});
        let svg = draw(&graph).unwrap();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert_eq!(svg.matches("<line").count(), 3);
        assert!(svg.contains(">conv 3x3 →16<"), "{svg}");
        assert!(svg.contains(">3×8×8<"));
        // The sum sits two layers below the input: three layers tall.
        assert!(svg.contains(&format!("height=\"{:.0}\"", 3.0 * (BOX_H + GAP_Y) + GAP_Y)));
        assert!(draw(&serde_json::json!({"nodes": []})).is_none());
    }
}
