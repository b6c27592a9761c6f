//! Resuming a search run after its process died. Every `checkpoint_every` evaluations, at a
//! boundary between two batches, the run loop hands its recorder a [`RunCheckpoint`]: the
//! controller's own checkpoint (its learnable state with the optimiser's moments), the random
//! stream's position, the budget spent and the loop's counters — all a run needs to go on
//! exactly as it would have. A [`Resume`] is such a checkpoint with the run's rows before it:
//! [`crate::search::run_from`] folds those rows back into the run's result and tells them to
//! the evaluator ([`crate::Evaluator::recall`], so that a cache serves later repeats as it
//! would have), then proposes again from the checkpoint. Evaluations after the checkpoint are
//! made again; the caller compares them with the rows it had stored.
//!
//! This restores evaluators whose scores depend only on the candidate (tables, stand-alone
//! training, proxies). An evaluator that carries state from one candidate to the next (a
//! supernet's weights) is not restored here.

use crate::controller::Checkpoint;
use crate::error::{Error, Result};
use crate::evaluator::{Metrics, Outcome, Status, StatusKind};
use crate::ledger::Row;
use crate::rng::Rng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Where a run stands between two batches (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCheckpoint {
    /// Proposals made: the rows before the checkpoint.
    pub proposals: u64,
    /// Budget evaluations spent.
    pub evaluations: u64,
    /// Simulated seconds spent.
    pub simulated_seconds: f64,
    /// Wall-clock seconds the run had taken.
    pub seconds: f64,
    /// Of those, seconds in the controller.
    pub controller_seconds: f64,
    /// Proposals in a row that cost nothing, up to the checkpoint.
    pub free_in_a_row: u64,
    /// Sequences that did not build, in order.
    pub unbuildable: Vec<Vec<usize>>,
    /// The run's random stream.
    pub rng: RngState,
    /// The controller's checkpoint.
    pub controller: Checkpoint,
}

/// A ChaCha stream's position: its key, stream and word position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 256-bit key.
    pub seed: [u8; 32],
    /// The stream number.
    pub stream: u64,
    /// The word position, as its high and low 64 bits.
    pub word_pos: [u64; 2],
}

impl RngState {
    /// The state of `rng`.
    pub fn of(rng: &Rng) -> Self {
        let pos = rng.get_word_pos();
        RngState {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: [(pos >> 64) as u64, pos as u64],
        }
    }

    /// A generator at this state.
    pub fn restore(&self) -> Rng {
        let mut rng = Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(((self.word_pos[0] as u128) << 64) | self.word_pos[1] as u128);
        rng
    }
}

/// A run to go on with: its last checkpoint and its rows before it, in proposal order.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The checkpoint.
    pub checkpoint: RunCheckpoint,
    /// Rows `0..checkpoint.proposals`.
    pub rows: Vec<Row>,
}

impl Resume {
    /// Checks that the rows are the ones before the checkpoint.
    pub fn check(&self) -> Result<()> {
        let whole = self.rows.len() as u64 == self.checkpoint.proposals
            && self
                .rows
                .iter()
                .enumerate()
                .all(|(i, r)| r.proposal == i as u64);
        if whole {
            Ok(())
        } else {
            Err(Error::Checkpoint(format!(
                "the checkpoint follows {} proposals but {} rows before it are recorded",
                self.checkpoint.proposals,
                self.rows.len()
            )))
        }
    }
}

/// The outcome a row recorded (without weights).
pub fn outcome_of(row: &Row) -> Outcome {
    let r = &row.record;
    let status = match r.status {
        StatusKind::Ok => Status::Ok,
        StatusKind::Invalid => Status::Invalid(r.reason.clone()),
        StatusKind::Failed => Status::Failed(r.reason.clone()),
    };
    Outcome {
        status,
        metrics: Metrics {
            search: r.search_metric,
            reported: r.reported_metric,
            params: r.params,
            macs: r.macs,
            latency_ms: r.latency_ms,
            simulated_seconds: row.simulated_seconds,
        },
        cached: false,
        weights: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    #[test]
    fn a_restored_stream_goes_on_where_it_was() {
        let mut rng = crate::rng::seeded(7);
        for _ in 0..13 {
            rng.random::<u32>();
        }
        let state = RngState::of(&rng);
        let text = serde_json::to_string(&state).unwrap();
        let mut restored = serde_json::from_str::<RngState>(&text).unwrap().restore();
        let a: Vec<u64> = (0..5).map(|_| rng.random()).collect();
        let b: Vec<u64> = (0..5).map(|_| restored.random()).collect();
        assert_eq!(a, b);
    }
}
