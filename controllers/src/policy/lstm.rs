//! One LSTM cell on flat `f64` parameters, forward and backward, shared by the policies: the
//! gates (input, forget, candidate, output) of `[x; h_prev]` through one weight matrix
//! (`4 hidden x (input + hidden)`, row-major) and a bias.

/// Where a cell's parameters sit in a flat vector, and its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellParams {
    /// Offset of the weight matrix.
    pub weights: usize,
    /// Offset of the bias.
    pub bias: usize,
    /// Input size.
    pub input: usize,
    /// Hidden size.
    pub hidden: usize,
}

impl CellParams {
    /// How many parameters a cell of these sizes has.
    pub fn count(input: usize, hidden: usize) -> usize {
        4 * hidden * (input + hidden) + 4 * hidden
    }
}

/// What one cell computed at one step (kept for back-propagation).
#[derive(Debug, Clone)]
pub struct CellTrace {
    /// `[input; previous h]`.
    pub joined: Vec<f64>,
    /// Gates after their non-linearities: input, forget, candidate, output.
    pub gates: Vec<f64>,
    /// The previous memory.
    pub c_prev: Vec<f64>,
    /// The new memory.
    pub c: Vec<f64>,
    /// `tanh` of the new memory.
    pub tanh_c: Vec<f64>,
}

impl CellTrace {
    /// The new hidden state.
    pub fn hidden(&self) -> Vec<f64> {
        let h = self.c.len();
        (0..h)
            .map(|j| self.gates[3 * h + j] * self.tanh_c[j])
            .collect()
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `y1 += a * x1` and `y2 += a * x2` in one pass (slices of equal length).
pub fn axpy2(a: f64, (y1, x1): (&mut [f64], &[f64]), (y2, x2): (&mut [f64], &[f64])) {
    for ((y1, x1), (y2, x2)) in y1.iter_mut().zip(x1).zip(y2.iter_mut().zip(x2)) {
        *y1 += a * x1;
        *y2 += a * x2;
    }
}

/// `a . b`, kept in eight running sums so that the compiler can vectorise it.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    const LANES: usize = 8;
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = (a_chunks.remainder().iter())
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut sums = [0.0; LANES];
    for (x, y) in a_chunks.zip(b_chunks) {
        for k in 0..LANES {
            sums[k] += x[k] * y[k];
        }
    }
    sums.iter().sum::<f64>() + tail
}

/// One step of the cell at `at` in `params` on input `x`.
pub fn forward(
    params: &[f64],
    at: CellParams,
    x: &[f64],
    h_prev: &[f64],
    c_prev: &[f64],
) -> CellTrace {
    let h = at.hidden;
    let width = at.input + h;
    let mut joined = Vec::with_capacity(width);
    joined.extend_from_slice(x);
    joined.extend_from_slice(h_prev);
    let mut gates = vec![0.0; 4 * h];
    for (r, gate) in gates.iter_mut().enumerate() {
        let row = &params[at.weights + r * width..at.weights + (r + 1) * width];
        let z = params[at.bias + r] + dot(row, &joined);
        *gate = if (2 * h..3 * h).contains(&r) {
            z.tanh()
        } else {
            sigmoid(z)
        };
    }
    let c: Vec<f64> = (0..h)
        .map(|j| gates[h + j] * c_prev[j] + gates[j] * gates[2 * h + j])
        .collect();
    CellTrace {
        joined,
        gates,
        c_prev: c_prev.to_vec(),
        tanh_c: c.iter().map(|v| v.tanh()).collect(),
        c,
    }
}

/// One direction of an LSTM layer over `inputs`, from zero state: forward in position order,
/// or backward (`reverse`). Returns each position's trace and hidden state, by position.
pub fn sweep(
    params: &[f64],
    at: CellParams,
    inputs: &[Vec<f64>],
    reverse: bool,
) -> (Vec<CellTrace>, Vec<Vec<f64>>) {
    let n = inputs.len();
    let (mut hs, mut cs) = (vec![0.0; at.hidden], vec![0.0; at.hidden]);
    let mut traces: Vec<Option<CellTrace>> = vec![None; n];
    let mut states = vec![Vec::new(); n];
    let order: Box<dyn Iterator<Item = usize>> = if reverse {
        Box::new((0..n).rev())
    } else {
        Box::new(0..n)
    };
    for t in order {
        let cell = forward(params, at, &inputs[t], &hs, &cs);
        hs = cell.hidden();
        cs = cell.c.clone();
        states[t] = hs.clone();
        traces[t] = Some(cell);
    }
    let traces = traces
        .into_iter()
        .map(|c| c.expect("every position"))
        .collect();
    (traces, states)
}

/// Back-propagates through a [`sweep`]: `dh(t)` is the gradient arriving at position `t`'s
/// hidden state from above; the parameters' gradient is added into `grad`, and each
/// position's input gradient is added into `dx[t]`.
pub fn sweep_backward(
    params: &[f64],
    at: CellParams,
    traces: &[CellTrace],
    reverse: bool,
    dh: impl Fn(usize) -> Vec<f64>,
    grad: &mut [f64],
    dx: &mut [Vec<f64>],
) {
    let n = traces.len();
    let (mut dh_next, mut dc_next) = (vec![0.0; at.hidden], vec![0.0; at.hidden]);
    // Against the sweep's order.
    let order: Box<dyn Iterator<Item = usize>> = if reverse {
        Box::new(0..n)
    } else {
        Box::new((0..n).rev())
    };
    for t in order {
        let mut d = dh(t);
        for (a, b) in d.iter_mut().zip(&dh_next) {
            *a += b;
        }
        let (dinput, dh_prev, dc_prev) = backward(params, at, &traces[t], &d, &dc_next, grad);
        for (a, b) in dx[t].iter_mut().zip(&dinput) {
            *a += b;
        }
        dh_next = dh_prev;
        dc_next = dc_prev;
    }
}

/// Back-propagates `dh` (into the step's hidden state) and `dc_next` (into its memory, from
/// the next step) through `cell`, adding the parameters' gradient into `grad`; returns the
/// gradients of the input, the previous hidden state and the previous memory.
pub fn backward(
    params: &[f64],
    at: CellParams,
    cell: &CellTrace,
    dh: &[f64],
    dc_next: &[f64],
    grad: &mut [f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let h = at.hidden;
    let width = at.input + h;
    let g = &cell.gates;
    let mut dgate = vec![0.0; 4 * h];
    let mut dc_prev = vec![0.0; h];
    for j in 0..h {
        let (i_g, f_g, c_g, o_g) = (g[j], g[h + j], g[2 * h + j], g[3 * h + j]);
        let dc = dc_next[j] + dh[j] * o_g * (1.0 - cell.tanh_c[j].powi(2));
        dgate[3 * h + j] = dh[j] * cell.tanh_c[j] * o_g * (1.0 - o_g);
        dgate[j] = dc * c_g * i_g * (1.0 - i_g);
        dgate[h + j] = dc * cell.c_prev[j] * f_g * (1.0 - f_g);
        dgate[2 * h + j] = dc * i_g * (1.0 - c_g * c_g);
        dc_prev[j] = dc * f_g;
    }
    let mut djoined = vec![0.0; width];
    for (r, &dg) in dgate.iter().enumerate() {
        if dg == 0.0 {
            continue;
        }
        grad[at.bias + r] += dg;
        let row = at.weights + r * width..at.weights + (r + 1) * width;
        axpy2(
            dg,
            (&mut grad[row.clone()], &cell.joined),
            (&mut djoined, &params[row]),
        );
    }
    let dh_prev = djoined.split_off(at.input);
    (djoined, dh_prev, dc_prev)
}
