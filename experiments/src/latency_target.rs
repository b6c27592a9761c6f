//! A latency target relative to the machine: `target = { quantile = Q }` becomes, on the
//! machine that runs the file, the `Q`-quantile of the latency table's estimates over uniform
//! random networks of the space, so that a constraint binds the same share of the space on
//! a fast machine as on a slow one. The networks are drawn with the experiment's seed, so on
//! one machine the same file always resolves to the same T; the run folder keeps what it
//! resolved to (`latency_target.json`).

use crate::config::RelativeTarget;
use anyhow::{Result, anyhow};
use archforge::evaluator::SharedLatencyTable;
use archforge::{Environment, env, rng};
use serde::Serialize;
use std::path::Path;

/// What a relative target resolved to on this machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedTarget {
    /// The quantile asked for.
    pub quantile: f64,
    /// Random networks estimated.
    pub samples: usize,
    /// The target T, milliseconds.
    pub target_ms: f64,
    /// The fastest and slowest of the random networks, milliseconds.
    pub fastest_ms: f64,
    /// See `fastest_ms`.
    pub slowest_ms: f64,
    /// The machine the latency table was measured on.
    pub machine: String,
}

impl ResolvedTarget {
    /// Resolves `relative` over the networks of `space` (sized for the experiment's data),
    /// estimating each with `shared`'s table (which measures operations it lacks).
    pub fn resolve(
        relative: &RelativeTarget,
        space: &dyn Environment,
        shared: &SharedLatencyTable,
        seed: u64,
    ) -> Result<Self> {
        let mut stream = rng::seeded(seed ^ 0x1a7e_5c7a_26e7_0001);
        let mut table = shared.table.lock().unwrap_or_else(|p| p.into_inner());
        let mut latencies = Vec::with_capacity(relative.samples);
        for _ in 0..relative.samples {
            let mut decisions = Vec::new();
            env::complete_uniformly(space, &mut decisions, &mut stream)?;
            // A network that does not build is not part of the space's distribution.
            if let Ok(candidate) = space.build(&decisions) {
                latencies.push(table.estimate_ms(candidate.arch())?);
            }
        }
        if latencies.len() < relative.samples / 2 {
            return Err(anyhow!(
                "[objective] target: only {} of {} random networks of `{}` build; cannot set a latency quantile",
                latencies.len(),
                relative.samples,
                space.spec().name
            ));
        }
        latencies.sort_by(f64::total_cmp);
        Ok(ResolvedTarget {
            quantile: relative.quantile,
            samples: latencies.len(),
            target_ms: quantile(&latencies, relative.quantile),
            fastest_ms: latencies[0],
            slowest_ms: latencies[latencies.len() - 1],
            machine: table.fingerprint.clone(),
        })
    }

    /// Writes `latency_target.json` into the run folder `out`.
    pub fn write(&self, out: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(out.join("latency_target.json"), text + "\n")?;
        Ok(())
    }

    /// One line for the user.
    pub fn describe(&self) -> String {
        format!(
            "latency target: T = {:.4} ms, the {} quantile of {} random networks' table latencies on this machine ({:.4} to {:.4} ms)",
            self.target_ms, self.quantile, self.samples, self.fastest_ms, self.slowest_ms
        )
    }
}

/// The `q`-quantile of ascending `sorted` values, linearly interpolated between ranks.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let at = q * (sorted.len() - 1) as f64;
    let (low, high) = (at.floor() as usize, at.ceil() as usize);
    sorted[low] + (at - low as f64) * (sorted[high] - sorted[low])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let v = [1.0, 2.0, 4.0, 8.0, 16.0];
        assert_eq!(quantile(&v, 0.5), 4.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 16.0);
        assert_eq!(quantile(&v, 0.125), 1.5);
        assert_eq!(quantile(&[3.0], 0.3), 3.0);
    }
}
