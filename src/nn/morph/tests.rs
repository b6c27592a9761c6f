//! Every morph keeps the function: a trained plain CNN and its morph give the same logits on
//! real digits, in evaluation (running statistics) and in training (batch statistics). The
//! MnasNet blocks' morphs are checked beside that space (`environments/src/mnasnet.rs`).

use super::*;
use crate::arch::{Arch, Op};
use crate::arch::{Conv, PoolKind, Shape};
use crate::data::{Augment, Batch, DataConfig, Dataset, Splits};
use crate::nn::{TrainConfig, WeightStore, train, training_device};
use crate::weights::Snapshot;
use std::path::Path;
use std::sync::Arc;

fn digits() -> Splits {
    DataConfig::default().load(Path::new(".")).unwrap()
}

/// conv(4)+bn, relu, max-pool, conv(4)+bn, relu, max-pool, flatten, dense 8, relu, classifier —
/// EAS's seed network at the digits' size.
fn plain_cnn(input: Shape) -> Arch {
    let mut a = Arch::new(Some(input));
    let mut x = a.input();
    for i in 0..2 {
        let conv = Op::Conv(Conv {
            bias: true,
            ..Conv::conv_bn(4, 3, 1)
        });
        x = a.add(format!("conv{i}"), conv, &[x]).unwrap();
        x = a.add(format!("conv{i}.relu"), Op::Relu, &[x]).unwrap();
        let pool = Op::Pool {
            kind: PoolKind::Max,
            kernel: 2,
            stride: 2,
        };
        x = a.add(format!("pool{i}"), pool, &[x]).unwrap();
    }
    x = a.add("flatten", Op::Flatten, &[x]).unwrap();
    let dense = Op::Linear {
        out_features: 8,
        bias: true,
    };
    x = a.add("dense", dense, &[x]).unwrap();
    x = a.add("dense.relu", Op::Relu, &[x]).unwrap();
    let classifier = Op::Linear {
        out_features: 10,
        bias: true,
    };
    x = a.add("classifier", classifier, &[x]).unwrap();
    a.finish(x).unwrap();
    a
}

/// The plain CNN trained for an epoch, its weights cut out.
fn trained(data: &Splits) -> (Arch, Arc<Snapshot>) {
    let arch = plain_cnn(data.train.shape);
    let mut store = WeightStore::new(training_device(), 3);
    let plan = store.plan(&arch).unwrap();
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    train(
        &mut store,
        &plan,
        &data.train,
        &config,
        &mut crate::rng::seeded(1),
    )
    .unwrap();
    let weights = Arc::new(store.cut(&plan));
    (arch, weights)
}

/// The first 64 validation images.
fn batch(data: &Dataset) -> Batch {
    data.batches(64, None, Augment::default()).next().unwrap()
}

/// Checks that `after` computes what `before` did on the validation images, in evaluation
/// and in training, within 1e-4 of the largest logit.
fn assert_same(
    before: (&Arch, &Arc<Snapshot>),
    after: (&Arch, &Arc<Snapshot>),
    data: &Dataset,
    what: &str,
) {
    let b = batch(data);
    let change = largest_change(before, after, data, &b).unwrap();
    assert!(
        change.iter().all(|&c| c <= 1e-4),
        "{what}: outputs moved by {change:?}"
    );
}

#[test]
fn net2wider_keeps_the_function_of_convolutions_and_dense_layers() {
    let data = digits();
    let (arch, weights) = trained(&data);
    let mut rng = crate::rng::seeded(5);
    for (layer, width) in [("conv0", 7), ("conv1", 12), ("dense", 20)] {
        let id = node_named(&arch, layer).unwrap();
        let m = widen(&arch, &weights, id, width, 0.0, &mut rng).unwrap();
        let wide = m.arch.node(node_named(&m.arch, layer).unwrap()).shape;
        assert_eq!(wide.unwrap().channels, width);
        assert!(m.arch.params() > arch.params());
        let what = format!("{layer} widened to {width}");
        let after = (&m.arch, &Arc::new(m.weights));
        assert_same((&arch, &weights), after, &data.valid, &what);
    }
    // Noise breaks the copies' symmetry: close, not equal.
    let id = node_named(&arch, "conv1").unwrap();
    let noisy = widen(&arch, &weights, id, 8, 1e-2, &mut rng).unwrap();
    let after = (&noisy.arch, &Arc::new(noisy.weights));
    let b = batch(&data.valid);
    let change = largest_change((&arch, &weights), after, &data.valid, &b).unwrap();
    assert!(change[0] > 0.0 && change[0] < 0.5, "{change:?}");
}

#[test]
fn net2deeper_inserts_an_identity_layer_after_a_relu() {
    let data = digits();
    let (arch, weights) = trained(&data);
    let b = batch(&data.valid);
    for (place, kernel) in [("conv0.relu", 3), ("pool1", 1), ("pool0", 5)] {
        let at = node_named(&arch, place).unwrap();
        let moments = channel_moments(&arch, &weights, at, &data.valid, &b).unwrap();
        let m = deepen(&arch, &weights, at, kernel, &moments).unwrap();
        assert_eq!(m.arch.len(), arch.len() + 2);
        let what = format!("{kernel}x{kernel} after {place}");
        assert_same(
            (&arch, &weights),
            (&m.arch, &Arc::new(m.weights)),
            &data.valid,
            &what,
        );
    }
    let conv = node_named(&arch, "conv0").unwrap();
    let err = deepen(&arch, &weights, conv, 3, &[(0.0, 1.0); 4]).unwrap_err();
    assert!(err.to_string().contains("can be negative"), "{err}");
}

#[test]
fn a_kernel_enlarged_by_zeros_keeps_the_function() {
    let data = digits();
    let (arch, weights) = trained(&data);
    let id = node_named(&arch, "conv1").unwrap();
    let m = enlarge_kernel(&arch, &weights, id, 5).unwrap();
    assert_same(
        (&arch, &weights),
        (&m.arch, &Arc::new(m.weights)),
        &data.valid,
        "3x3 to 5x5",
    );
    assert!(enlarge_kernel(&arch, &weights, id, 4).is_err());
}

#[test]
fn morphs_refuse_what_they_cannot_keep_in_one_line() {
    let data = digits();
    let (arch, weights) = trained(&data);
    let mut rng = crate::rng::seeded(0);
    let classifier = node_named(&arch, "classifier").unwrap();
    let err = widen(&arch, &weights, classifier, 12, 0.0, &mut rng).unwrap_err();
    assert!(err.to_string().contains("number of classes"), "{err}");
    let conv = node_named(&arch, "conv0").unwrap();
    assert!(widen(&arch, &weights, conv, 2, 0.0, &mut rng).is_err());
    // A residual sum: widening one side would change what is added.
    let mut a = Arch::new(Some(data.train.shape));
    let c = a
        .add("c", Op::Conv(Conv::conv_bn(4, 3, 1)), &[a.input()])
        .unwrap();
    let d = a.add("d", Op::Conv(Conv::conv_bn(4, 3, 1)), &[c]).unwrap();
    let s = a.add("sum", Op::Add, &[c, d]).unwrap();
    a.finish_with_classifier(s, 10).unwrap();
    let mut store = WeightStore::new(training_device(), 0);
    let plan = store.plan(&a).unwrap();
    let w = store.cut(&plan);
    let err = widen(&a, &w, node_named(&a, "d").unwrap(), 8, 0.0, &mut rng).unwrap_err();
    assert!(err.to_string().contains("only plain chains widen"), "{err}");
    assert!(!err.to_string().contains('\n'));
}
