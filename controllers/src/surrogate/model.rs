//! The surrogate contract: fitted on what a run evaluated, asked to rank what it has not.

use archforge::error::Result;

/// A regression from feature vectors to a scalar.
pub trait Surrogate: Send {
    /// Fits the model on rows `x` with targets `y` (as many as rows, at least one).
    fn fit(&mut self, x: &[Vec<f64>], y: &[f64], rng: &mut archforge::Rng) -> Result<()>;

    /// The prediction for one row of the fitted width.
    fn predict(&self, x: &[f64]) -> f64;
}
