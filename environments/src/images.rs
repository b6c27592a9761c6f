//! What a trainable space's networks take and tell apart, set from the run's data.

use archforge::Shape;

/// The shape of one input image and the number of classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Images {
    /// One image's shape.
    pub shape: Shape,
    /// Number of classes.
    pub classes: usize,
}
