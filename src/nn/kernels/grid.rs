//! The padded grid of a stride-1 convolution's planes. With the input plane padded to
//! `hp x wp` and the output laid out on rows of the same width `wp` ("wide" layout), every
//! kernel tap is one constant shift of the whole plane: output `q` reads padded input
//! `q + shift`. The wide output's extra columns are dropped when it is gathered back.

use super::geometry::ConvGeometry;

/// The padded grid of one plane: its width and height, and each tap's shift.
pub struct Grid {
    /// Padded width, the row length of every wide plane.
    pub wp: usize,
    /// Padded height.
    pub hp: usize,
    /// Output height and width.
    pub out: [usize; 2],
    in_size: [usize; 2],
    padding: [usize; 2],
    /// Each kernel tap's shift, row by row of the kernel.
    pub shifts: Vec<usize>,
}

impl Grid {
    /// The grid of `g`'s input planes (a stride-1 geometry).
    pub fn new(g: &ConvGeometry) -> Grid {
        let ([h, w], [ph, pw], [dh, dw]) = (g.in_size, g.padding, g.dilation);
        let (hp, wp) = (h + 2 * ph, w + 2 * pw);
        let shifts = (0..g.kernel[0])
            .flat_map(|ki| (0..g.kernel[1]).map(move |kj| ki * dh * wp + kj * dw))
            .collect();
        Grid {
            wp,
            hp,
            out: g.out_size(),
            in_size: g.in_size,
            padding: g.padding,
            shifts,
        }
    }

    /// Elements of one padded plane.
    pub fn plane(&self) -> usize {
        self.hp * self.wp
    }

    /// Length of the run every tap covers: up to the last output of the last row.
    pub fn run(&self) -> usize {
        (self.out[0] - 1) * self.wp + self.out[1]
    }

    /// Copies `planes` input planes, one after another in `x`, into the interiors of as many
    /// padded planes, followed by `slack` zeros.
    pub fn pad(&self, x: &[f32], planes: usize, slack: usize, padded: &mut Vec<f32>) {
        let ([h, w], [ph, pw], plane) = (self.in_size, self.padding, self.plane());
        padded.clear();
        padded.resize(planes * plane + slack, 0.0);
        for c in 0..planes {
            let (src, dst) = (&x[c * h * w..][..h * w], &mut padded[c * plane..][..plane]);
            for r in 0..h {
                dst[(r + ph) * self.wp + pw..][..w].copy_from_slice(&src[r * w..][..w]);
            }
        }
    }

    /// Lays `planes` output planes out wide, each on `len` elements (at least [`Grid::run`]),
    /// zeros in the extra columns and after the run.
    pub fn spread(&self, y: &[f32], planes: usize, len: usize, wide: &mut Vec<f32>) {
        let [oh, ow] = self.out;
        wide.clear();
        wide.resize(planes * len, 0.0);
        for o in 0..planes {
            let (src, dst) = (&y[o * oh * ow..][..oh * ow], &mut wide[o * len..][..len]);
            for r in 0..oh {
                dst[r * self.wp..][..ow].copy_from_slice(&src[r * ow..][..ow]);
            }
        }
    }

    /// Copies one wide output plane's outputs into the compact plane `y`.
    pub fn gather(&self, wide: &[f32], y: &mut [f32]) {
        let [oh, ow] = self.out;
        for r in 0..oh {
            y[r * ow..][..ow].copy_from_slice(&wide[r * self.wp..][..ow]);
        }
    }
}
