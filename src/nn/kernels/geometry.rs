//! The geometry of a 2-d convolution on NCHW tensors, and what the kernels derive from it:
//! output size, channels per group, the im2col matrix's size, and which output positions a
//! kernel tap reads inside the input.

use std::ops::Range;

/// What a 2-d convolution computes: the input's batch, channels and size, the weight's output
/// channels and kernel, and how the kernel moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Samples.
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height and width.
    pub in_size: [usize; 2],
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Step between two outputs, per axis.
    pub stride: [usize; 2],
    /// Zeros added before and after the input, per axis.
    pub padding: [usize; 2],
    /// Spacing of the kernel's taps, per axis.
    pub dilation: [usize; 2],
    /// Channel groups (input and output channels divide by it).
    pub groups: usize,
}

impl ConvGeometry {
    /// Output height and width.
    pub fn out_size(&self) -> [usize; 2] {
        let axis = |a: usize| {
            let reach = self.dilation[a] * (self.kernel[a] - 1) + 1;
            (self.in_size[a] + 2 * self.padding[a]).saturating_sub(reach) / self.stride[a] + 1
        };
        [axis(0), axis(1)]
    }

    /// Input channels per group.
    pub(super) fn group_in(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group.
    pub(super) fn group_out(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Rows of a group's im2col matrix (`K`).
    pub(super) fn patch(&self) -> usize {
        self.group_in() * self.kernel[0] * self.kernel[1]
    }

    /// Output pixels (`P`).
    pub(super) fn pixels(&self) -> usize {
        let [h, w] = self.out_size();
        h * w
    }

    /// Input elements per sample.
    pub(super) fn sample_in(&self) -> usize {
        self.in_channels * self.in_size[0] * self.in_size[1]
    }

    /// Whether the input is its own im2col matrix.
    pub(super) fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }

    /// Output positions `o` along `axis` whose tap at `offset` reads inside the input:
    /// `0 <= o * stride + offset < input size`.
    pub(super) fn valid(&self, axis: usize, offset: isize) -> Range<usize> {
        let (stride, len) = (self.stride[axis] as isize, self.in_size[axis] as isize);
        let out = self.out_size()[axis] as isize;
        let lo = if offset >= 0 {
            0
        } else {
            (-offset + stride - 1) / stride
        };
        let hi = if len > offset {
            ((len - offset + stride - 1) / stride).min(out)
        } else {
            0
        };
        lo.min(hi) as usize..hi as usize
    }

    /// The input offset of kernel tap `tap` along `axis`.
    pub(super) fn offset(&self, axis: usize, tap: usize) -> isize {
        (tap * self.dilation[axis]) as isize - self.padding[axis] as isize
    }
}
