//! Random streams. Every search run owns one [`Rng`] seeded from its seed, so the same
//! experiment file and seed give the same decisions on every platform (ChaCha8 is specified
//! bit for bit, unlike `StdRng`).

use rand::SeedableRng;

/// The random number generator every controller and environment draws from.
pub type Rng = rand_chacha::ChaCha8Rng;

/// A generator for one run, determined by its seed alone.
pub fn seeded(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}
