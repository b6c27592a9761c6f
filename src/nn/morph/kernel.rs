//! Kernel enlargement: a convolution's `k x k` kernel becomes `k' x k'` (`k' > k`, both odd),
//! the old kernel at the centre of zeros. Padding is `(k - 1) / 2`, so the output keeps its
//! size and every output pixel its value.

use super::graph::{Morphed, carry, layer_prefix, rebuild, refuse};
use crate::arch::{Arch, NodeId, Op};
use crate::error::Result;
use crate::weights::{Snapshot, Values};

/// `arch` (with `weights`) with convolution `layer`'s kernel zero-padded to `kernel`.
pub fn enlarge_kernel(
    arch: &Arch,
    weights: &Snapshot,
    layer: NodeId,
    kernel: usize,
) -> Result<Morphed> {
    let node = arch.node(layer);
    let Op::Conv(c) = node.op else {
        return Err(refuse(
            "kernel enlargement",
            format!("`{}` is not a convolution", node.name),
        ));
    };
    let [kh, kw] = c.kernel;
    if kh != kw || kernel <= kh || !(kernel - kh).is_multiple_of(2) || c.dilation != 1 {
        return Err(refuse(
            "kernel enlargement",
            format!(
                "`{}`'s {kh}x{kw} kernel cannot be padded to {kernel}x{kernel} (square, odd, undilated kernels grow by even steps)",
                node.name
            ),
        ));
    }
    let (new, ids) = rebuild(
        arch,
        |id, op| match op {
            Op::Conv(c) if id == layer => Op::Conv(crate::arch::Conv {
                kernel: [kernel, kernel],
                ..*c
            }),
            other => other.clone(),
        },
        |_| Vec::new(),
    )?;
    let mut out = carry(arch, weights, &new)?;
    let path = format!(
        "{}/weight",
        layer_prefix(&new, ids[&layer]).expect("a convolution has weights")
    );
    let old = out.get(&path).expect("carried").clone();
    let (o, i) = (old.shape[0], old.shape[1]);
    let pad = (kernel - kh) / 2;
    let mut data = vec![0.0f32; o * i * kernel * kernel];
    for plane in 0..o * i {
        for y in 0..kh {
            for x in 0..kh {
                data[(plane * kernel + y + pad) * kernel + x + pad] =
                    old.data[(plane * kh + y) * kh + x];
            }
        }
    }
    out.insert(
        path,
        Values {
            shape: vec![o, i, kernel, kernel],
            data,
        },
    );
    Ok(Morphed {
        arch: new,
        weights: out,
    })
}
