//! An ensemble: several members of one kind, each fitted with its own random stream (and,
//! when asked, on its own bootstrap sample of the rows); the prediction is the members' mean,
//! the uncertainty their standard deviation, and the gradient the mean of theirs.

use super::{GraphInput, Input, Prediction, Predictor, Sample, check_fit};
use crate::error::Result;
use crate::rng::Rng;
use rand::Rng as _;

/// The mean and standard deviation of `values` (at least one) as a prediction.
pub fn spread(values: &[f64]) -> Prediction {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Prediction {
        mean,
        std: Some(variance.sqrt()),
    }
}

/// An ensemble of predictors (see the module documentation).
pub struct Ensemble {
    members: Vec<Box<dyn Predictor>>,
    bootstrap: bool,
}

impl Ensemble {
    /// An ensemble of `members` (at least one, all of one input), each refitted on a
    /// bootstrap sample when `bootstrap` is set.
    pub fn new(members: Vec<Box<dyn Predictor>>, bootstrap: bool) -> Self {
        Ensemble { members, bootstrap }
    }
}

impl Predictor for Ensemble {
    fn kind(&self) -> &'static str {
        "ensemble"
    }

    fn input(&self) -> Input {
        self.members.first().map_or(Input::Features, |m| m.input())
    }

    fn fit(&mut self, samples: &[Sample], targets: &[f64], rng: &mut Rng) -> Result<()> {
        check_fit("ensemble", samples.len(), targets)?;
        if self.members.is_empty() {
            return Err(crate::error::Error::Predictor {
                predictor: "ensemble".into(),
                reason: "an ensemble needs at least 1 member".into(),
            });
        }
        for member in &mut self.members {
            let mut own = crate::rng::seeded(rng.random());
            if self.bootstrap {
                let rows: Vec<usize> = (0..samples.len())
                    .map(|_| own.random_range(0..samples.len()))
                    .collect();
                let picked: Vec<Sample> = rows.iter().map(|&r| samples[r].clone()).collect();
                let values: Vec<f64> = rows.iter().map(|&r| targets[r]).collect();
                member.fit(&picked, &values, &mut own)?;
            } else {
                member.fit(samples, targets, &mut own)?;
            }
        }
        Ok(())
    }

    fn predict(&self, sample: &Sample) -> Result<Prediction> {
        if self.members.is_empty() {
            return Err(super::not_fitted("ensemble"));
        }
        let values = self
            .members
            .iter()
            .map(|m| m.predict(sample).map(|p| p.mean))
            .collect::<Result<Vec<_>>>()?;
        Ok(spread(&values))
    }

    fn differentiable(&self) -> bool {
        self.members.iter().all(|m| m.differentiable())
    }

    fn gradient(&self, graph: &GraphInput) -> Result<(f64, Vec<f64>)> {
        let mut value = 0.0;
        let mut gradient = vec![0.0; graph.x.len()];
        for member in &self.members {
            let (v, g) = member.gradient(graph)?;
            value += v;
            for (t, x) in gradient.iter_mut().zip(g) {
                *t += x;
            }
        }
        let n = self.members.len() as f64;
        gradient.iter_mut().for_each(|g| *g /= n);
        Ok((value / n, gradient))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictor::Ridge;
    use crate::predictor::ridge::tests::rows;

    #[test]
    fn a_bootstrapped_ensemble_spreads_where_its_members_disagree() {
        let x: Vec<Vec<f64>> = (0..12).map(|i| vec![i as f64]).collect();
        let y: Vec<f64> = (0..12)
            .map(|i| (i as f64) + if i % 3 == 0 { 4.0 } else { 0.0 })
            .collect();
        let members: Vec<Box<dyn Predictor>> = (0..5)
            .map(|_| Box::new(Ridge::new(1e-3)) as Box<dyn Predictor>)
            .collect();
        let mut e = Ensemble::new(members, true);
        e.fit(&rows(&x), &y, &mut crate::rng::seeded(2)).unwrap();
        let p = e.predict(&rows(&[vec![20.0]])[0]).unwrap();
        assert!(p.std.unwrap() > 0.0, "{p:?}");
        assert!((p.mean - 21.0).abs() < 5.0, "{p:?}");
        assert_eq!(
            spread(&[1.0, 3.0]),
            Prediction {
                mean: 2.0,
                std: Some(1.0)
            }
        );
        assert!(!e.differentiable());
    }
}
