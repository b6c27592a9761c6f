//! The policies' gradients against finite differences, and their samples against the masks:
//! the autoregressive network (with and without layer tokens) and the bidirectional one.

use super::*;
use archforge::ability::Tokens;
use archforge::error::Result;
use archforge::toy::Toy;
use archforge::{Candidate, Choice, EnvSpec, Environment};

/// The toy space with a layer token for every decision, as a compression space has.
struct Layered {
    toy: Toy,
    subjects: Vec<Vec<f64>>,
}

fn layered(length: usize, options: usize) -> Layered {
    let subjects = (0..length)
        .map(|i| vec![1.0, (i * 16) as f64, -(i as f64) / 2.0])
        .collect();
    Layered {
        toy: Toy::new(length, options).unwrap(),
        subjects,
    }
}

impl Environment for Layered {
    fn spec(&self) -> &EnvSpec {
        self.toy.spec()
    }
    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        self.toy.next_choice(prefix)
    }
    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        self.toy.build(decisions)
    }
    fn tokens(&self) -> Option<&dyn Tokens> {
        Some(self)
    }
}

impl Tokens for Layered {
    fn token_fields(&self) -> &[&'static str] {
        &["a", "b", "c"]
    }
    fn sequence(&self, _: &[usize]) -> Result<Vec<Vec<f64>>> {
        Ok(self.subjects.clone())
    }
    fn subjects(&self) -> Option<&[Vec<f64>]> {
        Some(&self.subjects)
    }
}

fn policy(
    env: &dyn Environment,
    kind: PolicyKind,
    read_layers: bool,
    layers: usize,
    tanh_constant: Option<f64>,
) -> Policy {
    let config = NetworkConfig {
        kind,
        read_layers,
        hidden: 3,
        layers,
        temperature: 1.7,
        tanh_constant,
        init_range: 0.8,
    };
    Policy::new(env, config, &mut archforge::rng::seeded(5)).unwrap()
}

fn tiny(env: &dyn Environment, layers: usize, tanh_constant: Option<f64>) -> Policy {
    policy(
        env,
        PolicyKind::Autoregressive,
        false,
        layers,
        tanh_constant,
    )
}

/// The loss `backward` differentiates, computed from forward passes only.
fn loss(net: &Policy, env: &dyn Environment, sequences: &[(&[usize], f64)], beta: f64) -> f64 {
    sequences
        .iter()
        .map(|&(d, coef)| {
            let s = net.stats(env, d, &[]).unwrap();
            -coef * s.log_prob - beta * s.entropy
        })
        .sum()
}

/// Checks `net`'s gradient on `sequences` against central finite differences.
fn check_gradient(net: &Policy, env: &dyn Environment, sequences: &[(&[usize], f64)], what: &str) {
    let beta = 0.2;
    let (grad, _) = net.backward(env, sequences, beta, &[]).unwrap();
    let eps = 1e-6;
    let mut worst: f64 = 0.0;
    for (i, &analytic) in grad.iter().enumerate() {
        let mut plus = net.clone();
        plus.params_mut()[i] += eps;
        let mut minus = net.clone();
        minus.params_mut()[i] -= eps;
        let numeric =
            (loss(&plus, env, sequences, beta) - loss(&minus, env, sequences, beta)) / (2.0 * eps);
        worst = worst.max((numeric - analytic).abs() / (1e-6 + numeric.abs().max(analytic.abs())));
        assert!(
            (numeric - analytic).abs() < 1e-6 + 1e-5 * numeric.abs(),
            "{what}, parameter {i}: analytic {analytic} numeric {numeric}"
        );
    }
    assert!(
        grad.iter().any(|g| g.abs() > 1e-4),
        "{what}: a gradient that is all but zero"
    );
    eprintln!("{what}: worst relative error {worst:.2e}");
}

#[test]
fn gradients_match_finite_differences() {
    // Five options per decision, the last one forbidden at odd positions.
    let env = layered(4, 5);
    let a = [0, 3, 4, 1];
    let b = [2, 2, 1, 0];
    let sequences: [(&[usize], f64); 2] = [(&a, 0.7), (&b, -1.3)];
    for (layers, clip) in [(1, None), (2, Some(1.5))] {
        for (kind, read_layers) in [
            (PolicyKind::Autoregressive, false),
            (PolicyKind::Autoregressive, true),
            (PolicyKind::Bidirectional, false),
        ] {
            let net = policy(&env, kind, read_layers, layers, clip);
            let what = format!("{kind:?}, read_layers {read_layers}, {layers} layers");
            check_gradient(&net, &env, &sequences, &what);
        }
    }
}

#[test]
fn policies_that_read_layers_need_a_space_with_layer_tokens() {
    let env = Toy::new(3, 3).unwrap();
    for (kind, read_layers) in [
        (PolicyKind::Autoregressive, true),
        (PolicyKind::Bidirectional, false),
    ] {
        let config = NetworkConfig {
            kind,
            read_layers,
            ..NetworkConfig::default()
        };
        let err = Policy::new(&env, config, &mut archforge::rng::seeded(0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("layer token"), "{err}");
    }
}

#[test]
fn the_bidirectional_policy_is_a_distribution_over_legal_sequences() {
    let env = layered(3, 3);
    let net = policy(&env, PolicyKind::Bidirectional, false, 2, Some(2.0));
    let mut rng = archforge::rng::seeded(1);
    for _ in 0..100 {
        let d = net.sample(&env, &mut rng).unwrap().decisions;
        archforge::env::validate(&env, &d).unwrap();
    }
    let mut total = 0.0;
    for x in 0..3 {
        for y in 0..2 {
            for z in 0..3 {
                total += net.stats(&env, &[x, y, z], &[]).unwrap().log_prob.exp();
            }
        }
    }
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    assert!(
        net.stats(&env, &[0, 1], &[]).is_err(),
        "a sequence cut short"
    );
}

#[test]
fn samples_respect_masks_and_log_probabilities_sum_to_one() {
    let env = Toy::new(3, 3).unwrap();
    let net = tiny(&env, 1, Some(2.0));
    let mut rng = archforge::rng::seeded(1);
    for _ in 0..200 {
        let d = net.sample(&env, &mut rng).unwrap().decisions;
        archforge::env::validate(&env, &d).unwrap();
    }
    // Odd positions forbid the last option: 3 * 2 * 3 legal sequences.
    let mut total = 0.0;
    for x in 0..3 {
        for y in 0..2 {
            for z in 0..3 {
                total += net.stats(&env, &[x, y, z], &[]).unwrap().log_prob.exp();
            }
        }
    }
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    assert!(
        net.stats(&env, &[0, 2, 0], &[]).is_err(),
        "an illegal decision"
    );
    assert!(
        net.stats(&env, &[0, 1], &[]).is_err(),
        "a sequence cut short"
    );
}

#[test]
fn a_sampled_trace_gives_exactly_what_a_replay_does() {
    let env = Toy::new(4, 5).unwrap();
    let net = tiny(&env, 2, Some(1.5));
    let mut rng = archforge::rng::seeded(4);
    let sampled: Vec<Sampled> = (0..3)
        .map(|_| net.sample(&env, &mut rng).unwrap())
        .collect();
    let sequences: Vec<(&[usize], f64)> = sampled
        .iter()
        .zip([0.5, -1.0, 2.0])
        .map(|(s, coef)| (s.decisions.as_slice(), coef))
        .collect();
    let replayed = net.backward(&env, &sequences, 0.1, &[]).unwrap();
    let reused = net.backward(&env, &sequences, 0.1, &sampled).unwrap();
    assert_eq!(replayed, reused, "bit for bit");
    let d = &sampled[1].decisions;
    assert_eq!(
        net.stats(&env, d, &[]).unwrap(),
        net.stats(&env, d, &sampled).unwrap()
    );
}
