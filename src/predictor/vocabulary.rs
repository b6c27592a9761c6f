//! DeepArchitect's feature pruning, for any features: a feature is used once enough
//! evaluated architectures have it.

/// The features at least `min_count` rows have (non-zero), and those rows cut down to them.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    kept: Vec<usize>,
}

impl Vocabulary {
    /// The features of `rows` that at least `min_count` rows have.
    pub fn of(rows: &[Vec<f64>], min_count: usize) -> Self {
        let width = rows.first().map_or(0, Vec::len);
        let kept = (0..width)
            .filter(|&j| rows.iter().filter(|r| r[j] != 0.0).count() >= min_count)
            .collect();
        Vocabulary { kept }
    }

    /// How many features are kept.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether no feature is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// `row` cut down to the kept features.
    pub fn apply(&self, row: &[f64]) -> Vec<f64> {
        self.kept.iter().map(|&j| row[j]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_keeps_features_seen_often_enough() {
        let rows = vec![
            vec![1.0, 0.0, 2.0],
            vec![1.0, 1.0, 0.0],
            vec![3.0, 0.0, 0.0],
        ];
        let v = Vocabulary::of(&rows, 2);
        assert_eq!(v.len(), 1);
        assert_eq!(v.apply(&[5.0, 6.0, 7.0]), [5.0]);
        assert_eq!(Vocabulary::of(&rows, 1).len(), 3);
    }
}
