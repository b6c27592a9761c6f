//! The netmorph space against the environment contract, its steps decision by decision,
//! and a grown child's inherited weights on real digits.

use super::*;
use archforge::Op;
use archforge::ability::growth::GROW;
use archforge::conformance::check_environment;
use archforge::env::complete_uniformly;

fn space() -> Netmorph {
    Netmorph::new(
        NetmorphConfig {
            max_steps: 4,
            ..NetmorphConfig::default()
        },
        None,
    )
    .unwrap()
}

#[test]
fn the_space_keeps_the_environment_contract() {
    check_environment(&space(), 40).unwrap();
}

#[test]
fn the_seed_is_the_official_plain_cnn() {
    let env = space();
    let seed = env.build(&[STOP]).unwrap();
    assert_eq!(seed.label, "seed");
    // 1x8x8 digits: pools after the first three convolutions only.
    let convs = seed
        .arch()
        .node_ids()
        .filter(|&id| matches!(seed.arch().node(id).op, Op::Conv(_)))
        .count();
    let pools = seed
        .arch()
        .node_ids()
        .filter(|&id| matches!(seed.arch().node(id).op, Op::Pool { .. }))
        .count();
    assert_eq!((convs, pools), (4, 3));
}

#[test]
fn a_step_widens_and_inserts_as_decided_and_its_prefix_is_the_parent() {
    let env = space();
    let layout = env.step(&[]).unwrap();
    // Four convolutions and the dense layer may widen; 4 ReLUs + 3 pools are places.
    assert_eq!((layout.widen.len(), layout.places.len()), (5, 7));
    // Grow; widen conv0 and dense0; insert a 5x5 layer after pool1 (place 4); stop.
    let place = 4;
    let decisions = [GROW, 1, 0, 0, 0, 1, place, 2, STOP];
    let c = env.build(&decisions).unwrap();
    assert_eq!(c.label, "conv0>8,dense0>12,+5x5@pool1");
    let Some(archforge::candidate::Init::Grown(lineage)) = &c.init else {
        panic!("a grown candidate");
    };
    assert_eq!(lineage.steps.len(), 1);
    assert_eq!(lineage.steps[0].key, Netmorph::key(&decisions[..8]));
    assert_eq!(env.boundaries(&decisions).unwrap(), [0, 8]);
    // The parent of a second step is the first step's network.
    let mut more = decisions[..8].to_vec();
    more.extend([GROW, 0, 0, 0, 0, 0, 0, NOWHERE, STOP]);
    let child = env.build(&more).unwrap();
    assert_eq!(child.label, "conv0>8,dense0>12,+5x5@pool1 | =");
    assert_eq!(child.hash, c.hash);
    // The widened layers widen to the next width in a later step.
    let layout = env.step(&decisions[..8]).unwrap();
    assert_eq!(layout.widen.len(), 6);
}

#[test]
fn every_random_lineage_builds_a_network_with_shapes() {
    let env = space();
    let mut rng = archforge::rng::seeded(3);
    for _ in 0..30 {
        let mut d = Vec::new();
        complete_uniformly(&env, &mut d, &mut rng).unwrap();
        let c = env.build(&d).unwrap();
        assert!(c.arch().output_shape().is_some(), "{}", c.label);
    }
}

#[test]
fn a_child_grown_from_trained_weights_computes_its_parent_s_function_and_trains() {
    use archforge::Evaluator;
    use archforge::data::{Augment, DataConfig};
    use archforge::evaluator::{StandaloneEvaluator, train_candidate};
    use archforge::nn::TrainConfig;
    use archforge::nn::morph::{grow, largest_change};
    let data = Arc::new(
        DataConfig::default()
            .load(std::path::Path::new("."))
            .unwrap(),
    );
    let env = Netmorph::new(
        NetmorphConfig {
            noise: 0.0,
            ..NetmorphConfig::default()
        },
        None,
    )
    .unwrap();
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let seed = env.build(&[STOP]).unwrap();
    let trained = train_candidate(&seed.clone().from_scratch(), &data, &config, 0).unwrap();
    let weights = Arc::new(trained.store.cut(&trained.plan));
    // Two steps: widen conv0, conv2 and the dense layer, insert a 3x3 layer after
    // conv1's ReLU; then widen the inserted layer and insert a 1x1 after pool0.
    let mut decisions = vec![GROW, 1, 0, 1, 0, 1, 3, 1];
    let layout = env.step(&decisions).unwrap();
    decisions.push(GROW);
    decisions.extend((0..layout.widen.len()).map(|i| usize::from(i == 2)));
    decisions.extend([2, 0, STOP]);
    let child = env.build(&decisions).unwrap();
    assert_eq!(
        child.label,
        "conv0>8,conv2>8,dense0>12,+3x3@conv1.relu | conv1.relu.deep0>8,+1x1@pool0"
    );
    let Some(archforge::candidate::Init::Grown(lineage)) = &child.init else {
        panic!("a grown candidate");
    };
    let grown = grow(
        lineage,
        0,
        seed.arch().clone(),
        weights.clone(),
        &data.train,
    )
    .unwrap();
    assert_eq!(grown.arch.canonical_hash(), child.hash);
    let batch = data
        .valid
        .batches(64, None, Augment::default())
        .next()
        .unwrap();
    let change = largest_change(
        (seed.arch(), &weights),
        (&grown.arch, &Arc::new(grown.weights)),
        &data.valid,
        &batch,
    )
    .unwrap();
    // In evaluation (running statistics); in training, an inserted layer is the identity
    // on the batch its statistics came from only (checked in `archforge::nn::morph`).
    assert!(change[0] < 1e-4, "{change:?}");
    // The evaluator trains the seed, then the child from it, then a grandchild from the
    // child; a candidate whose parent it trained starts near the parent's accuracy.
    let mut evaluator = StandaloneEvaluator::new(data.clone(), config, 0);
    let parent = evaluator
        .evaluate(&env.build(&[GROW, 1, 0, 1, 0, 1, 3, 1, STOP]).unwrap())
        .unwrap();
    let outcome = evaluator.evaluate(&child).unwrap();
    assert!(parent.status == archforge::Status::Ok && outcome.status == archforge::Status::Ok);
    assert!(
        outcome.metrics.search.unwrap() > 0.5,
        "{:?}",
        outcome.metrics
    );
}

#[test]
fn bad_settings_are_one_line_errors() {
    let bad = |c: NetmorphConfig| Netmorph::new(c, None).err().unwrap().to_string();
    assert!(
        bad(NetmorphConfig {
            kernels: vec![2],
            ..NetmorphConfig::default()
        })
        .contains("odd")
    );
    assert!(
        bad(NetmorphConfig {
            convs: vec![6],
            ..NetmorphConfig::default()
        })
        .contains("not one of `widths`")
    );
}
