//! The generator's own checks: settings named when out of range, and the whole generator —
//! layout, score network, training and sampler — learning a space whose valid graphs are
//! rare among random ones.

use super::*;
use archforge::ability::{ArchGraph, GraphEncoding};
use archforge::toy::Toy;
use archforge::{Candidate, Choice, EnvSpec};

#[test]
fn settings_out_of_range_are_named() {
    let bad = |c: DiffusionConfig| c.check().unwrap_err().0;
    let d = DiffusionConfig::default;
    assert!(d().check().is_ok());
    assert_eq!(bad(DiffusionConfig { pool: 0, ..d() }), "pool");
    assert_eq!(bad(DiffusionConfig { steps: 0, ..d() }), "steps");
    assert_eq!(bad(DiffusionConfig { snr: -1.0, ..d() }), "snr");
    assert_eq!(
        bad(DiffusionConfig {
            guidance: f64::NAN,
            ..d()
        }),
        "guidance"
    );
    let ridge = PredictorConfig::Ridge { lambda: 10.0 };
    assert_eq!(
        bad(DiffusionConfig {
            predictor: ridge,
            ..d()
        }),
        "predictor"
    );
    let mut prior = PriorConfig::default();
    prior.sigma_max = prior.sigma_min;
    assert_eq!(bad(DiffusionConfig { prior, ..d() }), "sigma_max");
}

#[test]
fn the_guidance_unit_is_the_targets_spread() {
    assert!((target_spread(&[1.0, 3.0]) - 1.0).abs() < 1e-12);
    assert_eq!(target_spread(&[2.0, 2.0]), 1.0);
}

/// The toy space (4 decisions of 3 options, the last illegal at odd positions) as a graph
/// of one node per decision and option, "on" for the option taken: a graph is valid when
/// every decision has exactly one legal option on, which 2 % of random graphs are.
struct OneHot {
    toy: Toy,
    operations: Vec<String>,
}

const LENGTH: usize = 4;
const OPTIONS: usize = 3;

impl OneHot {
    fn new() -> Self {
        OneHot {
            toy: Toy::new(LENGTH, OPTIONS).unwrap(),
            operations: vec!["off".into(), "on".into()],
        }
    }
}

impl Environment for OneHot {
    fn spec(&self) -> &EnvSpec {
        self.toy.spec()
    }
    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        self.toy.next_choice(prefix)
    }
    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        self.toy.build(decisions)
    }
    fn graph(&self) -> Option<&dyn GraphEncoding> {
        Some(self)
    }
}

impl GraphEncoding for OneHot {
    fn max_nodes(&self) -> usize {
        LENGTH * OPTIONS
    }
    fn operations(&self) -> &[String] {
        &self.operations
    }
    fn encode(&self, decisions: &[usize]) -> Result<ArchGraph> {
        let mut graph = ArchGraph::empty(self.max_nodes());
        for node in 0..self.max_nodes() {
            let on = decisions[node / OPTIONS] == node % OPTIONS;
            graph.set_node(node, usize::from(on));
        }
        Ok(graph)
    }
    fn decode(&self, graph: &ArchGraph) -> Result<Vec<usize>> {
        (0..LENGTH)
            .map(|p| {
                let on: Vec<usize> = (0..OPTIONS)
                    .filter(|&o| graph.ops[p * OPTIONS + o] == 1)
                    .collect();
                match on[..] {
                    [o] => Ok(o),
                    _ => Err(Error::Arch(format!(
                        "decision {p} has {} options on",
                        on.len()
                    ))),
                }
            })
            .collect()
    }
}

#[test]
fn the_trained_generator_makes_the_rare_valid_graphs() {
    let env = OneHot::new();
    let config = PriorConfig {
        samples: 256,
        steps: 1500,
        network: ScoreConfig {
            width: 32,
            layers: 2,
            heads: 2,
        },
        ..PriorConfig::default()
    };
    let prior = Prior::of(&env, &config, None).unwrap();
    let how = Sampling {
        steps: 30,
        snr: 0.16,
        guidance: 0.0,
    };
    let valid = |prior: &Prior| {
        let states = generate(prior, &how, None, 100, &mut archforge::rng::seeded(1)).unwrap();
        states
            .iter()
            .filter(|s| decode(&env, &prior.layout, s).is_ok())
            .count()
    };
    // Random graphs of this space are valid 2 % of the time; untrained networks' samples
    // are about as rare.
    let untrained = Prior {
        params: vec![0.0; prior.params.len()],
        ..(*prior).clone()
    };
    assert!(valid(&untrained) < 20, "{}", valid(&untrained));
    let trained = valid(&prior);
    assert!(trained >= 80, "{trained} of 100 valid");
    // The network read back from its file is the one that was trained.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("score-net.safetensors");
    prior.snapshot().save(&path).unwrap();
    let read = Prior::of(&env, &config, Some(&path)).unwrap();
    assert_eq!(read.params, prior.params);
    assert_eq!(valid(&read), trained);
}
