//! Tokens: a network read layer by layer, one numeric vector per layer, for controllers that
//! read a network as a sequence (the bidirectional LSTMs of network compression and network
//! transformation). [`layer_tokens`] reads any [`Arch`] with shapes: every convolution,
//! pooling, batch-norm and linear node in topological order, described by the fields of
//! [`LAYER_FIELDS`]; a space whose candidates are such networks has these tokens by saying it
//! is one ([`NetworkLayers`]).

use crate::arch::{Arch, NodeId, Op, PoolKind};
use crate::error::Result;

/// A space's layer tokens (see the module documentation).
pub trait Tokens {
    /// The name of each entry of a token; every token has this length.
    fn token_fields(&self) -> &[&'static str];

    /// One token per layer of the network a complete, legal sequence builds.
    fn sequence(&self, decisions: &[usize]) -> Result<Vec<Vec<f64>>>;

    /// For a space whose every decision is about one layer of a given network (what network
    /// compression decides: remove this layer, shrink that one), the token of each decision's
    /// layer, decision by decision; `None` for other spaces.
    fn subjects(&self) -> Option<&[Vec<f64>]> {
        None
    }
}

/// A space whose tokens are its networks' layers: [`layer_tokens`] of each candidate's graph
/// (an environment that is one has [`Tokens`], from the candidates it builds).
pub trait NetworkLayers {}

/// What a [`layer_tokens`] token holds: the layer type as one-hot flags, then its kernel,
/// stride, dilation, input and output channels, groups, trainable parameters and the height
/// of its output.
pub const LAYER_FIELDS: [&str; 14] = [
    "conv",
    "depthwise",
    "max_pool",
    "avg_pool",
    "norm",
    "linear",
    "kernel",
    "stride",
    "dilation",
    "in_channels",
    "out_channels",
    "groups",
    "params",
    "output_size",
];

/// The layer tokens of `arch` (see the module documentation); nodes without shapes give
/// none.
pub fn layer_tokens(arch: &Arch) -> Vec<Vec<f64>> {
    arch.node_ids()
        .filter_map(|id| layer_token(arch, id))
        .collect()
}

/// The token of node `id` of `arch`, when it is a layer with shapes (a convolution, pooling,
/// batch norm or linear layer).
pub fn layer_token(arch: &Arch, id: NodeId) -> Option<Vec<f64>> {
    let node = arch.node(id);
    let inputs: Option<Vec<_>> = arch
        .inputs(id)
        .iter()
        .map(|&i| arch.node(i).shape)
        .collect();
    let (out, inputs) = (node.shape?, inputs?);
    let c_in = inputs.first().map_or(0, |s| s.channels);
    let mut t = vec![0.0; LAYER_FIELDS.len()];
    let (flag, kernel, stride, dilation, groups) = match &node.op {
        Op::Conv(c) => (
            usize::from(c.groups > 1 && c.groups == c_in),
            c.kernel[0].max(c.kernel[1]),
            c.stride,
            c.dilation,
            c.groups,
        ),
        Op::Pool {
            kind,
            kernel,
            stride,
        } => {
            let flag = if *kind == PoolKind::Max { 2 } else { 3 };
            (flag, *kernel, *stride, 1, 1)
        }
        Op::BnRelu | Op::BatchNorm => (4, 1, 1, 1, 1),
        Op::Linear { .. } => (5, 1, 1, 1, 1),
        _ => return None,
    };
    t[flag] = 1.0;
    t[6] = kernel as f64;
    t[7] = stride as f64;
    t[8] = dilation as f64;
    t[9] = c_in as f64;
    t[10] = out.channels as f64;
    t[11] = groups as f64;
    t[12] = node.op.params(&inputs) as f64;
    t[13] = out.height as f64;
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{Conv, Shape};

    #[test]
    fn every_layer_is_one_token_in_order() {
        let arch = crate::nn::reference::reference_cnn(Shape::new(1, 28, 28), 10).unwrap();
        let tokens = layer_tokens(&arch);
        // Three convolutions, two max-pools and the classifier.
        let kinds: Vec<usize> = tokens
            .iter()
            .map(|t| t[..6].iter().position(|&f| f == 1.0).unwrap())
            .collect();
        assert_eq!(kinds, [0, 2, 0, 2, 0, 5]);
        let first = &tokens[0];
        assert_eq!((first[6], first[9], first[10]), (3.0, 1.0, 16.0));
        assert_eq!(
            first[12],
            Op::Conv(Conv::conv_bn(16, 3, 1)).params(&[Shape::new(1, 28, 28)]) as f64
        );
        assert_eq!(tokens[1][13], 14.0);
        assert!(tokens.iter().all(|t| t.len() == LAYER_FIELDS.len()));
    }
}
