//! Trains the reference CNN (three conv3x3-BN-ReLU blocks of 16/32/32 channels, two 2x2
//! max-pools, global average pooling, linear; SGD 0.05, momentum 0.9, weight decay 5e-4,
//! cosine, batch 64) stand-alone and prints each epoch's loss, the seconds per epoch and the
//! final validation and test accuracy — the trainer's calibration against other engines.
//!
//! `cargo run --release --example reference_cnn -- [digits|fashion-mnist|mnist|cifar10] [EPOCHS] [PATH] [SEED]`

use archforge::data::{DataConfig, Source};
use archforge::nn::{
    TrainConfig, WeightStore, accuracy, reference::reference_cnn, train, training_device,
};
use std::path::Path;
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let source = match args.first().map(String::as_str).unwrap_or("digits") {
        "digits" => Source::Digits,
        "fashion-mnist" => Source::FashionMnist,
        "mnist" => Source::Mnist,
        "cifar10" => Source::Cifar10,
        other => return Err(format!("unknown source `{other}`").into()),
    };
    let epochs: usize = args.get(1).map_or(Ok(30), |e| e.parse())?;
    let seed: u64 = args.get(3).map_or(Ok(0), |s| s.parse())?;
    let data = DataConfig {
        source,
        path: args.get(2).map(Into::into),
        // The standard 50,000 / 10,000 split of the 60,000 training images; digits 60/20/20.
        valid_fraction: if source == Source::Digits {
            0.2
        } else {
            1.0 / 6.0
        },
        ..DataConfig::default()
    }
    .load(Path::new("."))?;
    println!(
        "{source:?}: {} train, {} valid, {} test images of {}",
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        data.train.shape
    );
    let arch = reference_cnn(data.train.shape, data.train.classes)?;
    let mut store = WeightStore::new(training_device(), seed);
    let plan = store.plan(&arch)?;
    let mut rng = archforge::rng::seeded(seed);
    let config = TrainConfig {
        epochs,
        ..TrainConfig::default()
    };
    let started = Instant::now();
    let losses = train(&mut store, &plan, &data.train, &config, &mut rng)?;
    let seconds = started.elapsed().as_secs_f64();
    for (epoch, loss) in losses.iter().enumerate() {
        println!("epoch {:>3}: loss {loss:.4}", epoch + 1);
    }
    println!(
        "{:.2} s per epoch ({seconds:.1} s in all)",
        seconds / epochs as f64
    );
    println!(
        "valid accuracy {:.2}%",
        accuracy(&store, &plan, &data.valid, 256)
    );
    println!(
        "test accuracy {:.2}%",
        accuracy(&store, &plan, &data.test, 256)
    );
    Ok(())
}
