//! Students against their networks, with real weights: what is kept is the network's, what is
//! narrowed keeps its strongest filters, every student's weights load into its network, and a
//! removed block that added nothing leaves the function unchanged.

use super::anatomy::Network;
use super::space::{Compression, RemovalConfig, ShrinkageConfig};
use super::teacher::{resnet, vgg};
use crate::images::Images;
use archforge::arch::Arch;
use archforge::data::{DataConfig, Splits};
use archforge::nn::store::layer_path;
use archforge::nn::{WeightStore, logits, training_device};
use archforge::weights::{Snapshot, Values};
use archforge::{Candidate, Environment};
use std::sync::{Arc, OnceLock};

fn with_pools() -> RemovalConfig {
    RemovalConfig { pools: true }
}

fn digits() -> &'static Splits {
    static DATA: OnceLock<Splits> = OnceLock::new();
    DATA.get_or_init(|| {
        DataConfig::default()
            .load(std::path::Path::new("."))
            .unwrap()
    })
}

fn images() -> Images {
    let d = digits();
    Images {
        shape: d.train.shape,
        classes: d.train.classes,
    }
}

/// `arch` with freshly drawn weights, batch-norm statistics made non-trivial.
fn network(arch: Arch, seed: u64) -> Network {
    let mut store = WeightStore::new(training_device(), seed);
    store.plan(&arch).unwrap();
    let mut weights = Snapshot::new();
    for (path, v) in store.snapshot().iter() {
        let mut v = v.clone();
        if path.ends_with("running_var") {
            v.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = 0.5 + (i % 3) as f32);
        }
        weights.insert(path.clone(), v);
    }
    Network {
        arch,
        weights: Arc::new(weights),
    }
}

/// The candidate's weights load into its own network: every tensor there, nothing else.
fn loads(candidate: &Candidate) -> WeightStore {
    let init = candidate.init_weights().cloned().unwrap();
    let mut store = WeightStore::new(training_device(), 0).from(init.clone());
    store.plan(candidate.arch()).unwrap();
    assert!(
        store.foreign(&init).is_empty(),
        "{:?}",
        store.foreign(&init)
    );
    store
}

fn outputs(arch: &Arch, weights: Arc<Snapshot>) -> Vec<f32> {
    let mut store = WeightStore::new(training_device(), 0).from(weights);
    let plan = store.plan(arch).unwrap();
    logits(&store, &plan, &digits().valid, 64)
}

#[test]
fn an_unchanged_student_is_its_network() {
    let net = Arc::new(network(vgg(images(), 0.125).unwrap(), 1));
    let removal = Compression::removal(net.clone(), &with_pools()).unwrap();
    let keep = vec![0; removal.spec().max_length];
    let student = removal.build(&keep).unwrap();
    assert_eq!(student.label, "unchanged");
    assert_eq!(
        student.init_weights().map(|w| w.as_ref()),
        Some(net.weights.as_ref())
    );
    let shrinkage = Compression::shrinkage(net.clone(), &ShrinkageConfig::default()).unwrap();
    let full = vec![6; shrinkage.spec().max_length];
    let same = shrinkage.build(&full).unwrap();
    assert_eq!(
        same.init_weights().map(|w| w.as_ref()),
        Some(net.weights.as_ref())
    );
    assert_eq!(same.params(), net.arch.params());
}

#[test]
fn a_narrowed_layer_keeps_its_strongest_filters_and_the_next_reads_them() {
    let net = Arc::new(network(vgg(images(), 0.125).unwrap(), 2));
    let env = Compression::shrinkage(net.clone(), &ShrinkageConfig::default()).unwrap();
    // conv0 (8 channels) at x0.5, everything else whole.
    let mut decisions = vec![6; env.spec().max_length];
    decisions[0] = 1;
    let student = env.build(&decisions).unwrap();
    assert_eq!(student.label, "conv0:4");
    loads(&student);
    let shape = images().shape;
    let w0 = |arch: &Arch, weights: &Snapshot, c: usize| -> Values {
        let op = archforge::Op::Conv(archforge::arch::Conv::conv_bn(c, 3, 1));
        weights
            .get(&format!("{}/weight", layer_path("conv0", &op, shape)))
            .cloned()
            .unwrap_or_else(|| panic!("{}", arch.to_json()))
    };
    let teacher = w0(&net.arch, &net.weights, 8);
    let narrow = w0(student.arch(), student.init_weights().unwrap(), 4);
    let norms: Vec<f32> = teacher
        .data
        .chunks(9)
        .map(|f| f.iter().map(|x| x.abs()).sum())
        .collect();
    let mut order: Vec<usize> = (0..8).collect();
    order.sort_by(|&a, &b| norms[b].total_cmp(&norms[a]));
    let mut kept = order[..4].to_vec();
    kept.sort_unstable();
    let expected: Vec<f32> = kept
        .iter()
        .flat_map(|&k| teacher.data[k * 9..k * 9 + 9].to_vec())
        .collect();
    assert_eq!(narrow.data, expected);
    // The batch norm after conv0 keeps the same entries.
    let bn = |weights: &Snapshot, c: usize| {
        let op = archforge::Op::Conv(archforge::arch::Conv::conv_bn(c, 3, 1));
        weights
            .get(&format!(
                "{}/bn/running_var",
                layer_path("conv0", &op, shape)
            ))
            .unwrap()
            .data
            .clone()
    };
    let var = bn(&net.weights, 8);
    let kept_var: Vec<f32> = kept.iter().map(|&k| var[k]).collect();
    assert_eq!(bn(student.init_weights().unwrap(), 4), kept_var);
}

#[test]
fn every_student_of_either_stage_loads_into_its_network() {
    for (arch, seed) in [
        (vgg(images(), 0.125).unwrap(), 3),
        (resnet(images(), 0.5, 2).unwrap(), 4),
    ] {
        let net = Arc::new(network(arch, seed));
        let removal = Compression::removal(net.clone(), &with_pools()).unwrap();
        let shrinkage = Compression::shrinkage(net.clone(), &ShrinkageConfig::default()).unwrap();
        for env in [&removal, &shrinkage] {
            let options = env.spec().kinds[0].labels.len();
            for k in 0..6 {
                let decisions: Vec<usize> = (0..env.spec().max_length)
                    .map(|i| (i * 7 + k * 3) % options)
                    .collect();
                let student = env.build(&decisions).unwrap();
                loads(&student);
                assert!(student.params() <= net.arch.params(), "{}", student.label);
                let again = env.build(&decisions).unwrap();
                assert_eq!(
                    (again.hash, again.init_weights()),
                    (student.hash, student.init_weights())
                );
            }
        }
    }
}

#[test]
fn every_removal_of_a_vgg_builds_and_loads() {
    let net = Arc::new(network(vgg(images(), 0.125).unwrap(), 9));
    for config in [RemovalConfig::default(), with_pools()] {
        let env = Compression::removal(net.clone(), &config).unwrap();
        let n = env.spec().max_length;
        for mask in 0..1u32 << n {
            let decisions: Vec<usize> = (0..n).map(|i| (mask >> i & 1) as usize).collect();
            loads(&env.build(&decisions).unwrap());
        }
    }
}

#[test]
fn pools_are_offered_only_when_asked_for() {
    let net = Arc::new(network(vgg(images(), 0.125).unwrap(), 8));
    let all = Compression::removal(net.clone(), &with_pools()).unwrap();
    let convs = Compression::removal(net, &RemovalConfig::default()).unwrap();
    // Eight convolutions and three pools on 8x8 digits.
    assert_eq!((all.spec().max_length, convs.spec().max_length), (11, 8));
    let student = convs.build(&[0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(student.label, "-conv1");
}

#[test]
fn the_resnet_stem_is_not_offered_but_identity_blocks_are() {
    let net = Arc::new(network(resnet(images(), 0.5, 2).unwrap(), 5));
    let removal = Compression::removal(net, &with_pools()).unwrap();
    // Units: stem, stage0.block0, stage0.block1, stage1.block1, stage2.block1; the stem's
    // removal cannot build (the first block would add 8 channels to the 1-channel image).
    assert_eq!(removal.spec().max_length, 4);
    let student = removal.build(&[0, 1, 1, 0]).unwrap();
    assert_eq!(student.label, "-stage0.block1 -stage1.block1");
}

#[test]
fn removing_a_block_that_adds_nothing_keeps_the_function() {
    let mut net = network(resnet(images(), 0.5, 2).unwrap(), 6);
    // stage1.block1's branch ends in a batch norm of zero scale and shift: it adds nothing,
    // and its input is a ReLU's output, so the ReLU after the add changes nothing either.
    let mut weights = (*net.weights).clone();
    let zeroed: Vec<String> = weights
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| {
            p.starts_with("stage1/block1/conv2/")
                && (p.ends_with("bn/gamma") || p.ends_with("bn/beta"))
        })
        .collect();
    assert_eq!(zeroed.len(), 2);
    for path in zeroed {
        let mut v = weights.get(&path).unwrap().clone();
        v.data.fill(0.0);
        weights.insert(path, v);
    }
    net.weights = Arc::new(weights);
    let before = outputs(&net.arch, net.weights.clone());
    let net = Arc::new(net);
    let removal = Compression::removal(net, &with_pools()).unwrap();
    let student = removal.build(&[0, 0, 1, 0]).unwrap();
    assert_eq!(student.label, "-stage1.block1");
    let after = outputs(student.arch(), student.init_weights().cloned().unwrap());
    assert_eq!(before.len(), after.len());
    let worst = before
        .iter()
        .zip(&after)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "{worst}");
}

#[test]
fn a_network_with_nothing_to_compress_is_refused() {
    let mut arch = Arch::new(Some(images().shape));
    let input = arch.input();
    arch.finish_with_classifier(input, 10).unwrap();
    let net = Arc::new(network(arch, 7));
    let err = Compression::removal(net.clone(), &with_pools())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("nothing removable"), "{err}");
    let err = Compression::shrinkage(net, &ShrinkageConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no width that can shrink"), "{err}");
    let bad = ShrinkageConfig {
        scales: vec![0.5, 1.5],
    };
    assert!(bad.check().unwrap_err().1.contains("outside (0, 1]"));
}
