//! The policy's gradients against finite differences, and its samples against the masks.

use super::*;
use archforge::Environment;
use archforge::toy::Toy;

fn tiny(env: &dyn Environment, layers: usize, tanh_constant: Option<f64>) -> Network {
    let config = NetworkConfig {
        hidden: 3,
        layers,
        temperature: 1.7,
        tanh_constant,
        init_range: 0.8,
    };
    Network::new(env.spec(), config, &mut archforge::rng::seeded(5))
}

/// The loss `backward` differentiates, computed from forward passes only.
fn loss(net: &Network, env: &dyn Environment, sequences: &[(&[usize], f64)], beta: f64) -> f64 {
    sequences
        .iter()
        .map(|&(d, coef)| {
            let s = net.stats(env, d, &[]).unwrap();
            -coef * s.log_prob - beta * s.entropy
        })
        .sum()
}

#[test]
fn gradients_match_finite_differences() {
    // Five options per decision, the last one forbidden at odd positions.
    let env = Toy::new(4, 5).unwrap();
    let a = [0, 3, 4, 1];
    let b = [2, 2, 1, 0];
    let sequences: [(&[usize], f64); 2] = [(&a, 0.7), (&b, -1.3)];
    for (layers, clip) in [(1, None), (2, Some(1.5))] {
        let net = tiny(&env, layers, clip);
        let beta = 0.2;
        let (grad, _) = net.backward(&env, &sequences, beta, &[]).unwrap();
        let eps = 1e-6;
        let mut worst: f64 = 0.0;
        for (i, &analytic) in grad.iter().enumerate() {
            let mut plus = net.clone();
            plus.params[i] += eps;
            let mut minus = net.clone();
            minus.params[i] -= eps;
            let numeric = (loss(&plus, &env, &sequences, beta)
                - loss(&minus, &env, &sequences, beta))
                / (2.0 * eps);
            worst =
                worst.max((numeric - analytic).abs() / (1e-6 + numeric.abs().max(analytic.abs())));
            assert!(
                (numeric - analytic).abs() < 1e-6 + 1e-5 * numeric.abs(),
                "layers {layers}, parameter {i}: analytic {analytic} numeric {numeric}"
            );
        }
        assert!(
            grad.iter().any(|g| g.abs() > 1e-4),
            "a gradient that is all but zero"
        );
        eprintln!("layers {layers}: worst relative error {worst:.2e}");
    }
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
