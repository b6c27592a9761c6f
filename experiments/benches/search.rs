//! Search throughput on the embedded NAS-Bench-201 table: building one candidate (the whole
//! CIFAR skeleton graph with shapes, parameter and MAC counts, canonical hash), and one
//! 100-evaluation run of each baseline controller through the real runner (ledger aside).

use archforge_experiments::config::ExperimentFile;
use archforge_experiments::runner::Prepared;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn load(name: &str) -> ExperimentFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let mut file = ExperimentFile::load(&path).expect("the shipped experiment loads");
    file.override_with(None, None, Some(100))
        .expect("a valid override");
    file
}

fn benches(c: &mut Criterion) {
    let random = load("nb201-random.toml");
    let prepared = Prepared::new(&random).expect("the experiment builds");
    c.bench_function(
        "nb201 build candidate (skeleton graph + counts + hash)",
        |b| {
            b.iter(|| {
                let candidate = prepared
                    .env()
                    .build(black_box(&[3, 2, 1, 4, 0, 3]))
                    .unwrap();
                black_box((candidate.params(), candidate.macs(), candidate.hash))
            })
        },
    );
    c.bench_function("nb201 random search, 100 evaluations", |b| {
        b.iter(|| {
            prepared
                .run(0, black_box(1), &mut archforge::search::Discard)
                .unwrap()
        })
    });
    let evolution = load("nb201-evolution.toml");
    let prepared = Prepared::new(&evolution).expect("the experiment builds");
    c.bench_function("nb201 regularized evolution, 100 evaluations", |b| {
        b.iter(|| {
            prepared
                .run(0, black_box(1), &mut archforge::search::Discard)
                .unwrap()
        })
    });
}

criterion_group!(search, benches);
criterion_main!(search);
