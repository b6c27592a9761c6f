//! Trainer speed: one SGD step of the reference CNN (batch 64, 1x28x28, the size of
//! Fashion-MNIST) and one shared-weight step of a NAS-Bench-201 path in a supernet
//! (C = 8, N = 1, batch 64 on 1x28x28 inputs); `peer/trainer_step.py` runs the same two
//! steps in PyTorch.

use archforge::arch::Shape;
use archforge::data::{Batch, Dataset};
use archforge::nn::reference::reference_cnn;
use archforge::nn::{Stepper, TrainConfig, WeightStore, training_device};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::Rng as _;

/// A random batch of 64 images of `shape` with labels 0..10.
fn random_batch(shape: Shape) -> (Batch, Dataset) {
    let mut rng = archforge::rng::seeded(0);
    let n = 64;
    let images: Vec<f32> = (0..n * shape.elements() as usize)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let labels: Vec<u32> = (0..n).map(|i| (i % 10) as u32).collect();
    let data =
        Dataset::new(shape, 10, images.clone(), labels.clone()).expect("a well-formed batch");
    let indices = (0..labels.len()).collect();
    (
        Batch {
            images,
            labels,
            indices,
        },
        data,
    )
}

fn reference_step(c: &mut Criterion) {
    let shape = Shape::new(1, 28, 28);
    let (batch, data) = random_batch(shape);
    let arch = reference_cnn(shape, 10).expect("the reference CNN builds");
    let mut store = WeightStore::new(training_device(), 0);
    let plan = store.plan(&arch).expect("the trainer runs it");
    let mut stepper = Stepper::new(&TrainConfig::default(), store.device());
    c.bench_function("reference CNN SGD step (batch 64, 1x28x28)", |b| {
        b.iter(|| {
            stepper
                .step(&mut store, &plan, &batch, &data, 0.05)
                .unwrap()
        })
    });
}

fn supernet_step(c: &mut Criterion) {
    use archforge::Environment;
    use archforge_environments::{Images, Nb201, Nb201Config};
    let shape = Shape::new(1, 28, 28);
    let (batch, data) = random_batch(shape);
    let env = Nb201::for_images(
        Nb201Config {
            channels: 8,
            cells: 1,
            ..Nb201Config::default()
        },
        Images { shape, classes: 10 },
    )
    .expect("the space builds");
    let mut store = WeightStore::new(training_device(), 0);
    let candidates: Vec<_> = [[3, 2, 1, 4, 0, 3], [3, 3, 3, 3, 3, 3], [1, 4, 2, 0, 3, 2]]
        .iter()
        .map(|d| {
            store
                .plan(env.build(d).expect("a legal cell").arch())
                .expect("trainable")
        })
        .collect();
    let mut stepper = Stepper::new(&TrainConfig::default(), store.device());
    let mut i = 0;
    c.bench_function("supernet step (NB201 C=8 N=1, batch 64, 1x28x28)", |b| {
        b.iter(|| {
            i = (i + 1) % candidates.len();
            stepper
                .step(&mut store, &candidates[i], &batch, &data, 0.05)
                .unwrap()
        })
    });
}

criterion_group!(trainer, reference_step, supernet_step);
criterion_main!(trainer);
