//! A check every trainable space's tests share: sampled networks build with shapes and the
//! trainer runs a forward pass through each.

use archforge::data::Dataset;
use archforge::env::complete_uniformly;
use archforge::nn::{WeightStore, accuracy, training_device};
use archforge::{Environment, Shape};

/// Samples `n` architectures of `env` (seeded) and runs each on two constant images of
/// `shape` with `classes` classes, through one shared store and through one slicing store.
pub fn sampled_networks_run(env: &dyn Environment, shape: Shape, classes: usize, n: usize) {
    let pixels = shape.elements() as usize;
    let data = Dataset::new(shape, classes, vec![0.1; 2 * pixels], vec![0, 1]).unwrap();
    let mut rng = archforge::rng::seeded(2);
    let mut shared = WeightStore::new(training_device(), 0);
    let mut slicing = WeightStore::new(training_device(), 0).slicing();
    for _ in 0..n {
        let mut d = Vec::new();
        complete_uniformly(env, &mut d, &mut rng).unwrap();
        let c = env.build(&d).unwrap();
        for store in [&mut shared, &mut slicing] {
            let plan = store.plan(c.arch()).unwrap();
            let a = accuracy(store, &plan, &data, 2);
            assert!((0.0..=100.0).contains(&a), "{}: {a}", c.label);
        }
    }
}
