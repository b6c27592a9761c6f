//! The reference CNN used to calibrate the trainer against other engines: three
//! conv3x3-BN-ReLU blocks of 16, 32 and 32 channels, 2x2 max-pools after the first two, global
//! average pooling and a linear classifier.

use crate::arch::{Arch, Conv, Op, PoolKind, Shape};
use crate::error::Result;

/// The reference CNN for images of shape `input` and `classes` classes.
pub fn reference_cnn(input: Shape, classes: usize) -> Result<Arch> {
    let mut arch = Arch::new(Some(input));
    let mut x = arch.input();
    for (i, channels) in [16, 32, 32].into_iter().enumerate() {
        x = arch.add(
            format!("block{i}.conv"),
            Op::Conv(Conv::conv_bn(channels, 3, 1)),
            &[x],
        )?;
        x = arch.add(format!("block{i}.relu"), Op::Relu, &[x])?;
        if i < 2 {
            let pool = Op::Pool {
                kind: PoolKind::Max,
                kernel: 2,
                stride: 2,
            };
            x = arch.add(format!("block{i}.pool"), pool, &[x])?;
        }
    }
    arch.finish_with_classifier(x, classes)?;
    Ok(arch)
}
