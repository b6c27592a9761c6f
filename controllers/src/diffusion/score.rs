//! The score network: a small graph transformer that reads a noised state (its node rows,
//! its adjacency) and the noise level σ and predicts the noise that was added, so that the
//! score is `-prediction / σ` (denoising score matching with the weight σ², which is the
//! loss `|| s(x + σz, σ) σ + z ||²` of the paper).
//!
//! Each node enters as its scaled operation row through a dense layer, plus a learned
//! embedding of its slot and an embedding of `ln σ` (its value and four sine/cosine pairs);
//! the input is scaled by `1 / sqrt(1 + σ²)` so that it stays of unit size at every noise
//! level. `layers` blocks follow, each multi-head self-attention over all slots whose logits
//! are biased, per head, by the (noised) edge into and out of each pair and by the pair being
//! the same node, then a ReLU feed-forward layer of twice the width, both with residual
//! connections. A node's noise is read by a dense layer; an edge's by a bilinear form of its
//! two ends' states plus a learned multiple of the edge's own scaled value.
//!
//! Forward and backward are plain loops on [`Dense`] layers over one flat parameter vector;
//! only parameter gradients are needed (the sampler uses the output as it is).

use super::layout::Layout;
use archforge::predictor::dense::{Dense, relu, relu_backward};
use archforge::rng::Rng;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// Width of the noise-level embedding: `ln σ` and four sine/cosine pairs of it.
const SIGMA_FEATURES: usize = 9;
/// Attention-bias channels: the edge into the pair, the edge out of it, the pair's diagonal.
const BIAS_CHANNELS: usize = 3;

/// The score network's size (`score = { width = 32, ... }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreConfig {
    /// Units per node state.
    #[serde(default = "default_width")]
    pub width: usize,
    /// Transformer blocks.
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// Attention heads (they split the width).
    #[serde(default = "default_heads")]
    pub heads: usize,
}

fn default_width() -> usize {
    32
}
fn default_layers() -> usize {
    2
}
fn default_heads() -> usize {
    4
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            width: default_width(),
            layers: default_layers(),
            heads: default_heads(),
        }
    }
}

impl ScoreConfig {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        for (key, value) in [
            ("width", self.width),
            ("layers", self.layers),
            ("heads", self.heads),
        ] {
            if value == 0 {
                return Err((key, format!("{key} must be at least 1")));
            }
        }
        if !self.width.is_multiple_of(self.heads) {
            return Err((
                "heads",
                format!("heads ({}) must divide width ({})", self.heads, self.width),
            ));
        }
        Ok(())
    }
}

/// One transformer block's layers and attention-bias weights.
#[derive(Debug, Clone, PartialEq)]
struct Block {
    query: Dense,
    key: Dense,
    value: Dense,
    out: Dense,
    /// `heads x BIAS_CHANNELS` weights.
    bias_at: usize,
    hidden: Dense,
    back: Dense,
}

/// The network's shape and where its parameters sit (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreNet {
    nodes: usize,
    operations: usize,
    width: usize,
    heads: usize,
    input: Dense,
    /// `nodes x width` slot embeddings.
    slots_at: usize,
    sigma: Dense,
    blocks: Vec<Block>,
    node_out: Dense,
    edge_from: Dense,
    edge_to: Dense,
    /// The edge read-out's skip weight and bias.
    edge_at: usize,
    parameters: usize,
}

/// What one block's forward pass keeps for the backward one.
struct BlockCache {
    input: Vec<f64>,
    q: Vec<f64>,
    k: Vec<f64>,
    v: Vec<f64>,
    /// `heads x nodes x nodes` attention weights.
    p: Vec<f64>,
    mixed: Vec<f64>,
    middle: Vec<f64>,
    hidden: Vec<f64>,
}

/// What a forward pass keeps for the backward one.
pub struct Cache {
    scale: f64,
    sigma_features: [f64; SIGMA_FEATURES],
    node_input: Vec<f64>,
    /// `nodes x nodes x BIAS_CHANNELS` attention-bias features.
    bias: Vec<f64>,
    blocks: Vec<BlockCache>,
    last: Vec<f64>,
    from: Vec<f64>,
    to: Vec<f64>,
}

impl ScoreNet {
    /// The network for states of `layout`.
    pub fn new(layout: &Layout, config: &ScoreConfig) -> Self {
        let (n, o, d) = (layout.nodes, layout.operations, config.width);
        let mut next = 0;
        let input = Dense::place(o, d, true, &mut next);
        let slots_at = next;
        next += n * d;
        let sigma = Dense::place(SIGMA_FEATURES, d, true, &mut next);
        let blocks = (0..config.layers)
            .map(|_| {
                let query = Dense::place(d, d, true, &mut next);
                let key = Dense::place(d, d, true, &mut next);
                let value = Dense::place(d, d, true, &mut next);
                let out = Dense::place(d, d, true, &mut next);
                let bias_at = next;
                next += config.heads * BIAS_CHANNELS;
                let hidden = Dense::place(d, 2 * d, true, &mut next);
                let back = Dense::place(2 * d, d, true, &mut next);
                Block {
                    query,
                    key,
                    value,
                    out,
                    bias_at,
                    hidden,
                    back,
                }
            })
            .collect();
        let node_out = Dense::place(d, o, true, &mut next);
        let edge_from = Dense::place(d, d, false, &mut next);
        let edge_to = Dense::place(d, d, false, &mut next);
        let edge_at = next;
        next += 2;
        ScoreNet {
            nodes: n,
            operations: o,
            width: d,
            heads: config.heads,
            input,
            slots_at,
            sigma,
            blocks,
            node_out,
            edge_from,
            edge_to,
            edge_at,
            parameters: next,
        }
    }

    /// Parameters it reads.
    pub fn parameters(&self) -> usize {
        self.parameters
    }

    /// Every tensor by path, with its offset in the parameter vector and its shape: a dense
    /// layer's `weight` (`inputs x outputs`) and `bias`, the slot embeddings, each block's
    /// attention-bias weights and the edge read-out's skip weight and bias.
    pub fn tensors(&self) -> Vec<(String, usize, Vec<usize>)> {
        let mut out = Vec::new();
        let mut dense = |name: &str, l: &Dense| {
            out.push((format!("{name}/weight"), l.at, vec![l.inputs, l.outputs]));
            if l.bias {
                out.push((
                    format!("{name}/bias"),
                    l.at + l.inputs * l.outputs,
                    vec![l.outputs],
                ));
            }
        };
        dense("input", &self.input);
        dense("sigma", &self.sigma);
        for (i, b) in self.blocks.iter().enumerate() {
            dense(&format!("block{i}/query"), &b.query);
            dense(&format!("block{i}/key"), &b.key);
            dense(&format!("block{i}/value"), &b.value);
            dense(&format!("block{i}/out"), &b.out);
            dense(&format!("block{i}/hidden"), &b.hidden);
            dense(&format!("block{i}/back"), &b.back);
        }
        dense("node_out", &self.node_out);
        dense("edge_from", &self.edge_from);
        dense("edge_to", &self.edge_to);
        out.push(("slots".into(), self.slots_at, vec![self.nodes, self.width]));
        for (i, b) in self.blocks.iter().enumerate() {
            out.push((
                format!("block{i}/attention_bias"),
                b.bias_at,
                vec![self.heads, BIAS_CHANNELS],
            ));
        }
        out.push(("edge_skip_bias".into(), self.edge_at, vec![2]));
        out
    }

    /// Fresh parameters: He-uniform dense layers, small slot embeddings, zero biases, and
    /// residual branches and read-outs scaled down so that the untrained network starts near
    /// the identity.
    pub fn init(&self, params: &mut [f64], rng: &mut Rng) {
        self.input.init(params, rng);
        for p in &mut params[self.slots_at..self.slots_at + self.nodes * self.width] {
            *p = rng.random_range(-0.1..0.1);
        }
        self.sigma.init(params, rng);
        let shrink = |layer: &Dense, params: &mut [f64], rng: &mut Rng, by: f64| {
            layer.init(params, rng);
            for p in &mut params[layer.at..layer.at + layer.len()] {
                *p *= by;
            }
        };
        for b in &self.blocks {
            for layer in [&b.query, &b.key, &b.value, &b.hidden] {
                layer.init(params, rng);
            }
            shrink(&b.out, params, rng, 0.3);
            shrink(&b.back, params, rng, 0.3);
            params[b.bias_at..b.bias_at + self.heads * BIAS_CHANNELS].fill(0.0);
        }
        shrink(&self.node_out, params, rng, 0.3);
        shrink(&self.edge_from, params, rng, 0.3);
        shrink(&self.edge_to, params, rng, 0.3);
        params[self.edge_at..self.edge_at + 2].fill(0.0);
    }

    /// The predicted noise of `state` at noise level `sigma`, every coordinate of the state
    /// (the held ones included; they carry no loss), and what the backward pass needs.
    pub fn forward(&self, params: &[f64], state: &[f64], sigma: f64) -> (Vec<f64>, Cache) {
        let (n, o, d) = (self.nodes, self.operations, self.width);
        let scale = 1.0 / (1.0 + sigma * sigma).sqrt();
        let node_input: Vec<f64> = state[..n * o].iter().map(|v| v * scale).collect();
        let edges = &state[n * o..];
        let mut bias = vec![0.0; n * n * BIAS_CHANNELS];
        for i in 0..n {
            for j in 0..n {
                let at = (i * n + j) * BIAS_CHANNELS;
                if i < j {
                    bias[at] = scale * edges[i * n + j];
                }
                if j < i {
                    bias[at + 1] = scale * edges[j * n + i];
                }
                if i == j {
                    bias[at + 2] = 1.0;
                }
            }
        }
        let sigma_features = sigma_features(sigma);
        let mut sigma_row = vec![0.0; d];
        self.sigma
            .forward_add(params, &sigma_features, &mut sigma_row);
        let mut h = vec![0.0; n * d];
        self.input.forward_add(params, &node_input, &mut h);
        let slots = &params[self.slots_at..self.slots_at + n * d];
        for (row, slot) in h.chunks_exact_mut(d).zip(slots.chunks_exact(d)) {
            for ((v, s), t) in row.iter_mut().zip(slot).zip(&sigma_row) {
                *v += s + t;
            }
        }
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let (next, cache) = self.block_forward(params, block, h, &bias);
            blocks.push(cache);
            h = next;
        }
        let mut out = vec![0.0; state.len()];
        self.node_out.forward_add(params, &h, &mut out[..n * o]);
        let mut from = vec![0.0; n * d];
        let mut to = vec![0.0; n * d];
        self.edge_from.forward_add(params, &h, &mut from);
        self.edge_to.forward_add(params, &h, &mut to);
        let (skip, edge_bias) = (params[self.edge_at], params[self.edge_at + 1]);
        let norm = 1.0 / (d as f64).sqrt();
        for i in 0..n {
            for j in i + 1..n {
                let dot: f64 = from[i * d..(i + 1) * d]
                    .iter()
                    .zip(&to[j * d..(j + 1) * d])
                    .map(|(a, b)| a * b)
                    .sum();
                out[n * o + i * n + j] = norm * dot + skip * scale * edges[i * n + j] + edge_bias;
            }
        }
        let cache = Cache {
            scale,
            sigma_features,
            node_input,
            bias,
            blocks,
            last: h,
            from,
            to,
        };
        (out, cache)
    }

    /// Back from `dout` (the loss gradient of every output coordinate) at `state`, adding the
    /// parameter gradients to `grad`.
    pub fn backward(
        &self,
        params: &[f64],
        state: &[f64],
        cache: &Cache,
        dout: &[f64],
        grad: &mut [f64],
    ) {
        let (n, o, d) = (self.nodes, self.operations, self.width);
        let edges = &state[n * o..];
        let norm = 1.0 / (d as f64).sqrt();
        let mut dfrom = vec![0.0; n * d];
        let mut dto = vec![0.0; n * d];
        for i in 0..n {
            for j in i + 1..n {
                let g = dout[n * o + i * n + j];
                if g == 0.0 {
                    continue;
                }
                grad[self.edge_at] += g * cache.scale * edges[i * n + j];
                grad[self.edge_at + 1] += g;
                for c in 0..d {
                    dfrom[i * d + c] += g * norm * cache.to[j * d + c];
                    dto[j * d + c] += g * norm * cache.from[i * d + c];
                }
            }
        }
        let mut dh = vec![0.0; n * d];
        self.node_out.backward(
            params,
            &cache.last,
            &dout[..n * o],
            Some(grad),
            Some(&mut dh),
        );
        self.edge_from
            .backward(params, &cache.last, &dfrom, Some(grad), Some(&mut dh));
        self.edge_to
            .backward(params, &cache.last, &dto, Some(grad), Some(&mut dh));
        for (block, c) in self.blocks.iter().zip(&cache.blocks).rev() {
            dh = self.block_backward(params, block, c, &cache.bias, &dh, grad);
        }
        self.input
            .backward(params, &cache.node_input, &dh, Some(grad), None);
        let mut dsigma = vec![0.0; d];
        for (row, slot) in dh
            .chunks_exact(d)
            .zip(grad[self.slots_at..self.slots_at + n * d].chunks_exact_mut(d))
        {
            for ((g, s), t) in row.iter().zip(slot).zip(&mut dsigma) {
                *s += g;
                *t += g;
            }
        }
        self.sigma
            .backward(params, &cache.sigma_features, &dsigma, Some(grad), None);
    }

    fn block_forward(
        &self,
        params: &[f64],
        b: &Block,
        input: Vec<f64>,
        bias: &[f64],
    ) -> (Vec<f64>, BlockCache) {
        let (n, d, heads) = (self.nodes, self.width, self.heads);
        let dh = d / heads;
        let project = |layer: &Dense| {
            let mut y = vec![0.0; n * d];
            layer.forward_add(params, &input, &mut y);
            y
        };
        let (q, k, v) = (project(&b.query), project(&b.key), project(&b.value));
        let weights = &params[b.bias_at..b.bias_at + heads * BIAS_CHANNELS];
        let norm = 1.0 / (dh as f64).sqrt();
        let mut p = vec![0.0; heads * n * n];
        let mut mixed = vec![0.0; n * d];
        for h in 0..heads {
            let w = &weights[h * BIAS_CHANNELS..(h + 1) * BIAS_CHANNELS];
            let cols = h * dh..(h + 1) * dh;
            for i in 0..n {
                let row = &mut p[(h * n + i) * n..(h * n + i + 1) * n];
                for (j, logit) in row.iter_mut().enumerate() {
                    let dot: f64 = q[i * d + cols.start..i * d + cols.end]
                        .iter()
                        .zip(&k[j * d + cols.start..j * d + cols.end])
                        .map(|(a, b)| a * b)
                        .sum();
                    let at = (i * n + j) * BIAS_CHANNELS;
                    *logit = norm * dot
                        + w.iter()
                            .zip(&bias[at..at + BIAS_CHANNELS])
                            .map(|(a, b)| a * b)
                            .sum::<f64>();
                }
                softmax(row);
                for (j, &pij) in row.iter().enumerate() {
                    for c in cols.clone() {
                        mixed[i * d + c] += pij * v[j * d + c];
                    }
                }
            }
        }
        let mut middle = input.clone();
        b.out.forward_add(params, &mixed, &mut middle);
        let mut hidden = vec![0.0; n * 2 * d];
        b.hidden.forward_add(params, &middle, &mut hidden);
        relu(&mut hidden);
        let mut output = middle.clone();
        b.back.forward_add(params, &hidden, &mut output);
        let cache = BlockCache {
            input,
            q,
            k,
            v,
            p,
            mixed,
            middle,
            hidden,
        };
        (output, cache)
    }

    fn block_backward(
        &self,
        params: &[f64],
        b: &Block,
        c: &BlockCache,
        bias: &[f64],
        doutput: &[f64],
        grad: &mut [f64],
    ) -> Vec<f64> {
        let (n, d, heads) = (self.nodes, self.width, self.heads);
        let dh = d / heads;
        // The feed-forward branch and its residual.
        let mut dmiddle = doutput.to_vec();
        let mut dhidden = vec![0.0; n * 2 * d];
        b.back
            .backward(params, &c.hidden, doutput, Some(grad), Some(&mut dhidden));
        relu_backward(&c.hidden, &mut dhidden);
        b.hidden
            .backward(params, &c.middle, &dhidden, Some(grad), Some(&mut dmiddle));
        // The attention branch and its residual.
        let mut dinput = dmiddle.clone();
        let mut dmixed = vec![0.0; n * d];
        b.out
            .backward(params, &c.mixed, &dmiddle, Some(grad), Some(&mut dmixed));
        let (mut dq, mut dk, mut dv) = (vec![0.0; n * d], vec![0.0; n * d], vec![0.0; n * d]);
        let norm = 1.0 / (dh as f64).sqrt();
        let mut dp = vec![0.0; n];
        for h in 0..heads {
            let cols = h * dh..(h + 1) * dh;
            for i in 0..n {
                let row = &c.p[(h * n + i) * n..(h * n + i + 1) * n];
                let dm = &dmixed[i * d + cols.start..i * d + cols.end];
                for (j, (g, &pij)) in dp.iter_mut().zip(row).enumerate() {
                    *g = dm
                        .iter()
                        .zip(&c.v[j * d + cols.start..j * d + cols.end])
                        .map(|(a, b)| a * b)
                        .sum();
                    for (x, &m) in dv[j * d + cols.start..j * d + cols.end].iter_mut().zip(dm) {
                        *x += pij * m;
                    }
                }
                let weighted: f64 = dp.iter().zip(row).map(|(g, p)| g * p).sum();
                for (j, (&g, &pij)) in dp.iter().zip(row).enumerate() {
                    let dlogit = pij * (g - weighted);
                    if dlogit == 0.0 {
                        continue;
                    }
                    let at = (i * n + j) * BIAS_CHANNELS;
                    for ch in 0..BIAS_CHANNELS {
                        grad[b.bias_at + h * BIAS_CHANNELS + ch] += dlogit * bias[at + ch];
                    }
                    for col in cols.clone() {
                        dq[i * d + col] += dlogit * norm * c.k[j * d + col];
                        dk[j * d + col] += dlogit * norm * c.q[i * d + col];
                    }
                }
            }
        }
        for (layer, dy) in [(&b.query, &dq), (&b.key, &dk), (&b.value, &dv)] {
            layer.backward(params, &c.input, dy, Some(grad), Some(&mut dinput));
        }
        dinput
    }
}

/// `ln σ` and its sines and cosines at four frequencies.
fn sigma_features(sigma: f64) -> [f64; SIGMA_FEATURES] {
    let u = sigma.ln();
    let mut f = [0.0; SIGMA_FEATURES];
    f[0] = u;
    for k in 0..4 {
        let (s, c) = ((k + 1) as f64 * u).sin_cos();
        f[1 + 2 * k] = s;
        f[2 + 2 * k] = c;
    }
    f
}

/// Softmax in place, shifted by the maximum.
fn softmax(row: &mut [f64]) {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        // Three nodes over three operations, every coordinate free.
        Layout {
            nodes: 3,
            operations: 3,
            free: vec![true; 9 + 9],
            fixed: vec![-1.0; 18],
            mask: vec![Some(true); 3],
        }
    }

    #[test]
    fn parameter_gradients_match_central_differences() {
        let layout = layout();
        let config = ScoreConfig {
            width: 8,
            layers: 2,
            heads: 2,
        };
        let net = ScoreNet::new(&layout, &config);
        let mut params = vec![0.0; net.parameters()];
        let mut rng = archforge::rng::seeded(5);
        net.init(&mut params, &mut rng);
        // Non-zero attention-bias and edge weights, so that their gradients are exercised.
        for p in params.iter_mut() {
            if *p == 0.0 {
                *p = rng.random_range(-0.3..0.3);
            }
        }
        let state: Vec<f64> = (0..layout.len())
            .map(|_| rng.random_range(-2.0..2.0))
            .collect();
        let weights: Vec<f64> = (0..layout.len())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let sigma = 0.7;
        let loss = |p: &[f64]| -> f64 {
            let (out, _) = net.forward(p, &state, sigma);
            out.iter().zip(&weights).map(|(a, b)| a * b).sum()
        };
        let (_, cache) = net.forward(&params, &state, sigma);
        let mut grad = vec![0.0; params.len()];
        net.backward(&params, &state, &cache, &weights, &mut grad);
        let h = 1e-6;
        let mut checked = 0;
        for i in 0..params.len() {
            let mut p = params.clone();
            p[i] += h;
            let up = loss(&p);
            p[i] -= 2.0 * h;
            let down = loss(&p);
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (numeric - grad[i]).abs() < 1e-6 * (1.0 + numeric.abs()),
                "parameter {i}: numeric {numeric} against {}",
                grad[i]
            );
            checked += 1;
        }
        assert_eq!(checked, net.parameters());
    }

    #[test]
    fn the_tensors_cover_every_parameter_once() {
        let net = ScoreNet::new(&layout(), &ScoreConfig::default());
        let mut covered = vec![0; net.parameters()];
        for (_, at, shape) in net.tensors() {
            for c in &mut covered[at..at + shape.iter().product::<usize>()] {
                *c += 1;
            }
        }
        assert!(covered.iter().all(|&c| c == 1));
    }

    #[test]
    fn heads_must_divide_the_width() {
        let bad = ScoreConfig {
            width: 10,
            heads: 4,
            ..ScoreConfig::default()
        };
        assert_eq!(bad.check().unwrap_err().0, "heads");
        assert!(ScoreConfig::default().check().is_ok());
    }
}
