//! Defaults that every controller's configuration shares, declared once.

/// Proposals evaluated between observations, unless a controller's entry says otherwise.
pub fn batch() -> usize {
    1
}
