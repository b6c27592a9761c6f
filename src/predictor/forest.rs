//! A random forest of regression trees: each tree grown on a bootstrap sample of the rows,
//! each split the best variance reduction among a random third of the features (at least
//! one), down to `min_leaf` rows per leaf or `max_depth`. The prediction is the trees' mean,
//! its uncertainty their standard deviation. Non-linear where ridge is linear; it needs more
//! evaluations before it ranks well.

use super::{
    Input, Prediction, Predictor, Sample, check_fit, feature_rows, not_fitted, wrong_width,
};
use crate::error::{Error, Result};
use crate::rng::Rng;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The forest's settings (`{ kind = "forest", ... }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForestConfig {
    /// Number of trees.
    #[serde(default = "default_trees")]
    pub trees: usize,
    /// Deepest split.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// Fewest rows in a leaf.
    #[serde(default = "default_min_leaf")]
    pub min_leaf: usize,
}

fn default_trees() -> usize {
    32
}
fn default_max_depth() -> usize {
    8
}
fn default_min_leaf() -> usize {
    2
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            trees: default_trees(),
            max_depth: default_max_depth(),
            min_leaf: default_min_leaf(),
        }
    }
}

impl ForestConfig {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.trees == 0 {
            return Err(("trees", "a forest needs at least 1 tree".into()));
        }
        if self.min_leaf == 0 {
            return Err(("min_leaf", "min_leaf must be at least 1".into()));
        }
        Ok(())
    }
}

/// A tree node: a split on `feature <= threshold`, or a leaf's value.
#[derive(Debug, Clone, PartialEq)]
enum TreeNode {
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    Leaf(f64),
}

/// A random forest (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    config: ForestConfig,
    width: usize,
    trees: Vec<Vec<TreeNode>>,
}

impl Forest {
    /// An unfitted forest.
    pub fn new(config: ForestConfig) -> Self {
        Forest {
            config,
            width: 0,
            trees: Vec::new(),
        }
    }

    fn grow(
        &self,
        x: &[&[f64]],
        y: &[f64],
        rows: &mut [usize],
        depth: usize,
        nodes: &mut Vec<TreeNode>,
        rng: &mut Rng,
    ) -> usize {
        let at = nodes.len();
        let mean = rows.iter().map(|&r| y[r]).sum::<f64>() / rows.len() as f64;
        nodes.push(TreeNode::Leaf(mean));
        if depth >= self.config.max_depth || rows.len() < 2 * self.config.min_leaf {
            return at;
        }
        let d = x[0].len();
        let tried = (d / 3).max(1).min(d);
        let mut best: Option<(f64, usize, f64)> = None;
        let mut order: Vec<usize> = (0..d).collect();
        for k in 0..tried {
            let pick = rng.random_range(k..d);
            order.swap(k, pick);
            let feature = order[k];
            rows.sort_by(|&a, &b| x[a][feature].total_cmp(&x[b][feature]));
            let total: f64 = rows.iter().map(|&r| y[r]).sum();
            let mut left = 0.0;
            for split in 1..rows.len() {
                left += y[rows[split - 1]];
                let (lo, hi) = (x[rows[split - 1]][feature], x[rows[split]][feature]);
                if lo == hi
                    || split < self.config.min_leaf
                    || rows.len() - split < self.config.min_leaf
                {
                    continue;
                }
                // Maximising the between-group sum of squares minimises the within-group one.
                let (nl, nr) = (split as f64, (rows.len() - split) as f64);
                let gain = left * left / nl + (total - left) * (total - left) / nr;
                if best.is_none_or(|(g, _, _)| gain > g) {
                    best = Some((gain, feature, (lo + hi) / 2.0));
                }
            }
        }
        let Some((_, feature, threshold)) = best else {
            return at;
        };
        rows.sort_by(|&a, &b| x[a][feature].total_cmp(&x[b][feature]));
        let split = rows.partition_point(|&r| x[r][feature] <= threshold);
        let (l, r) = rows.split_at_mut(split);
        let left = self.grow(x, y, l, depth + 1, nodes, rng);
        let right = self.grow(x, y, r, depth + 1, nodes, rng);
        nodes[at] = TreeNode::Split {
            feature,
            threshold,
            left,
            right,
        };
        at
    }
}

impl Forest {
    /// One tree's value at `x`.
    fn tree_value(tree: &[TreeNode], x: &[f64]) -> f64 {
        let mut at = 0;
        loop {
            match tree[at] {
                TreeNode::Leaf(v) => return v,
                TreeNode::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => at = if x[feature] <= threshold { left } else { right },
            }
        }
    }
}

impl Predictor for Forest {
    fn kind(&self) -> &'static str {
        "forest"
    }

    fn input(&self) -> Input {
        Input::Features
    }

    fn fit(&mut self, samples: &[Sample], targets: &[f64], rng: &mut Rng) -> Result<()> {
        check_fit("forest", samples.len(), targets)?;
        let x = feature_rows("forest", samples)?;
        if x[0].is_empty() {
            return Err(Error::Predictor {
                predictor: "forest".into(),
                reason: "the samples have no features to split on".into(),
            });
        }
        self.width = x[0].len();
        self.trees = (0..self.config.trees)
            .map(|_| {
                let mut rows: Vec<usize> =
                    (0..x.len()).map(|_| rng.random_range(0..x.len())).collect();
                let mut nodes = Vec::new();
                self.grow(&x, targets, &mut rows, 0, &mut nodes, rng);
                nodes
            })
            .collect();
        Ok(())
    }

    fn predict(&self, sample: &Sample) -> Result<Prediction> {
        let x = sample.features_for("forest")?;
        if self.trees.is_empty() {
            return Err(not_fitted("forest"));
        }
        if x.len() != self.width {
            return Err(wrong_width("forest", self.width, x.len()));
        }
        let values: Vec<f64> = self.trees.iter().map(|t| Self::tree_value(t, x)).collect();
        Ok(super::ensemble::spread(&values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictor::ridge::tests::rows;

    #[test]
    fn a_forest_learns_a_step_function_ridge_cannot() {
        let x: Vec<Vec<f64>> = (0..60)
            .map(|i| vec![(i % 10) as f64, (i / 10) as f64])
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| if (3.0..7.0).contains(&r[0]) { 1.0 } else { 0.0 })
            .collect();
        let mut f = Forest::new(ForestConfig::default());
        f.fit(&rows(&x), &y, &mut crate::rng::seeded(1)).unwrap();
        let at = |x: &[f64]| f.predict(&rows(&[x.to_vec()])[0]).unwrap();
        assert!(at(&[5.0, 2.0]).mean > 0.8, "{:?}", at(&[5.0, 2.0]));
        assert!(at(&[0.0, 2.0]).mean < 0.2);
        assert!(at(&[9.0, 1.0]).mean < 0.2);
        assert!(at(&[0.0, 2.0]).std.is_some());
    }
}
