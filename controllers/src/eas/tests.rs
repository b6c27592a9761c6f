//! The EAS agent's gradient against finite differences, and the controller on a small growing
//! space of its own: the conformance check, and learning to prefer the morphs that pay.

use super::agent::{Agent, AgentConfig};
use super::*;
use archforge::ability::StepLayout;
use archforge::arch::{Arch, Op};
use archforge::conformance::check_controller;
use archforge::controller::Evaluated;
use archforge::evaluator::StatusKind;
use archforge::{Candidate, Choice, DecisionKindSpec, EnvSpec};

/// A growing space without networks: after `s` steps the "network" has `3 + s` layers, all
/// but the first of which may widen (the first is at its widest), and `2 + s` places; kernels
/// are 3; at most 3 steps.
struct Grower {
    spec: EnvSpec,
}

const MAX_STEPS: usize = 3;

impl Grower {
    fn new() -> Self {
        let kind = |name: &str, n: usize| DecisionKindSpec {
            name: name.into(),
            labels: (0..n).map(|i| format!("{name}{i}")).collect(),
        };
        Grower {
            spec: EnvSpec {
                name: "grower".into(),
                kinds: vec![
                    kind("step", 2),
                    kind("widen", 2),
                    kind("insert", 3 + MAX_STEPS),
                    kind("kernel", 3),
                ],
                max_length: 1 + MAX_STEPS * (4 + 3 + MAX_STEPS),
            },
        }
    }

    /// The choice after `prefix` (`None`: complete), each decision checked.
    fn walk(&self, prefix: &[usize]) -> archforge::error::Result<Option<Choice>> {
        #[derive(Clone, Copy)]
        enum Phase {
            Boundary,
            Widen(usize),
            Place,
            Kernel,
            Done,
        }
        let choice = |phase: Phase, steps: usize| -> Option<Choice> {
            Some(match phase {
                Phase::Boundary => {
                    let mut c = Choice::new(0, 2);
                    if steps == MAX_STEPS {
                        c.mask = Some(vec![true, false]);
                    }
                    c
                }
                Phase::Widen(i) => {
                    let mut c = Choice::new(1, 2);
                    if i == 0 {
                        c.mask = Some(vec![true, false]);
                    }
                    c
                }
                Phase::Place => Choice::new(2, 3 + steps),
                Phase::Kernel => Choice::new(3, 3),
                Phase::Done => return None,
            })
        };
        let (mut phase, mut steps) = (Phase::Boundary, 0);
        for (t, &d) in prefix.iter().enumerate() {
            if !choice(phase, steps).is_some_and(|c| c.is_legal(d)) {
                return Err(archforge::Error::InvalidDecisions {
                    decisions: prefix.to_vec(),
                    reason: format!("decision {t} is not legal"),
                });
            }
            phase = match phase {
                Phase::Boundary if d == STOP => Phase::Done,
                Phase::Boundary => Phase::Widen(0),
                Phase::Widen(i) if i + 1 < 3 + steps => Phase::Widen(i + 1),
                Phase::Widen(_) => Phase::Place,
                Phase::Place if d == 0 => {
                    steps += 1;
                    Phase::Boundary
                }
                Phase::Place => Phase::Kernel,
                Phase::Kernel => {
                    steps += 1;
                    Phase::Boundary
                }
                Phase::Done => unreachable!("checked above"),
            };
        }
        Ok(choice(phase, steps))
    }
}

impl Environment for Grower {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> archforge::error::Result<Option<Choice>> {
        self.walk(prefix)
    }

    fn build(&self, decisions: &[usize]) -> archforge::error::Result<Candidate> {
        archforge::env::validate(self, decisions)?;
        let mut arch = Arch::new(None);
        let x = arch.add("x", Op::Labelled(format!("{decisions:?}")), &[arch.input()])?;
        arch.finish(x)?;
        Ok(Candidate::new(
            decisions.to_vec(),
            format!("{decisions:?}"),
            arch,
        ))
    }

    fn growth(&self) -> Option<&dyn Growth> {
        Some(self)
    }
}

impl Growth for Grower {
    fn step(&self, prefix: &[usize]) -> archforge::error::Result<StepLayout> {
        let steps = self.boundaries(prefix)?.len() - 1;
        let n = 3 + steps;
        Ok(StepLayout {
            tokens: (0..n)
                .map(|i| {
                    let mut t = vec![0.0; LAYER_FIELDS.len()];
                    t[i % 6] = 1.0;
                    t[10] = (4 * (i + 1)) as f64;
                    t
                })
                .collect(),
            widen: (0..n).collect(),
            places: (0..n - 1).collect(),
            kernels: vec![1, 3, 5],
        })
    }

    fn boundaries(&self, decisions: &[usize]) -> archforge::error::Result<Vec<usize>> {
        let mut bounds = vec![0];
        for end in 1..=decisions.len() {
            if self.walk(&decisions[..end])?.is_some_and(|c| c.kind == 0) {
                bounds.push(end);
            }
        }
        Ok(bounds)
    }
}

fn tiny_agent(env: &Grower) -> Agent {
    let config = AgentConfig {
        embedding: 3,
        hidden: 4,
        init_range: 0.5,
    };
    let layout = env.step(&[]).unwrap();
    Agent::new(
        config,
        LAYER_FIELDS.len(),
        layout.kernels.len(),
        &mut archforge::rng::seeded(2),
    )
}

/// `-coef log pi - beta H` of the step from `prefix` that `decisions` took, by forward passes.
fn loss(
    agent: &Agent,
    env: &Grower,
    prefix: &[usize],
    decisions: &[usize],
    coef: f64,
    beta: f64,
) -> f64 {
    let mut p = prefix.to_vec();
    let layout = env.step(&p).unwrap();
    let trace = agent
        .step(env, &mut p, &layout, |t, _, _| Ok(decisions[t]))
        .unwrap();
    -coef * trace.log_prob() - beta * trace.entropy()
}

#[test]
fn the_agent_s_gradient_matches_finite_differences() {
    let env = Grower::new();
    let agent = tiny_agent(&env);
    let mut rng = archforge::rng::seeded(9);
    // A first step drawn, then the second step (on a network of 4 layers) checked.
    let mut prefix = Vec::new();
    let layout = env.step(&prefix).unwrap();
    let draw = |probs: &[f64], legal: &[usize], rng: &mut Rng| {
        let mut u: f64 = rng.random();
        for (p, &o) in probs.iter().zip(legal) {
            if u < *p {
                return o;
            }
            u -= p;
        }
        *legal.last().unwrap()
    };
    agent
        .step(&env, &mut prefix, &layout, |_, p, l| {
            Ok(draw(p, l, &mut rng))
        })
        .unwrap();
    let start = prefix.clone();
    let layout = env.step(&start).unwrap();
    let mut decisions = start.clone();
    let trace = agent
        .step(&env, &mut decisions, &layout, |_, p, l| {
            Ok(draw(p, l, &mut rng))
        })
        .unwrap();
    assert!(decisions[start.len()..].len() >= 6, "{decisions:?}");
    let (coef, beta) = (0.7, 0.3);
    let mut grad = vec![0.0; agent.len()];
    agent.backward(&trace, coef, beta, &mut grad);
    let eps = 1e-6;
    for (i, &analytic) in grad.iter().enumerate() {
        let mut plus = agent.clone();
        plus.params[i] += eps;
        let mut minus = agent.clone();
        minus.params[i] -= eps;
        let numeric = (loss(&plus, &env, &start, &decisions, coef, beta)
            - loss(&minus, &env, &start, &decisions, coef, beta))
            / (2.0 * eps);
        assert!(
            (numeric - analytic).abs() < 1e-6 + 1e-5 * numeric.abs(),
            "parameter {i}: analytic {analytic} numeric {numeric}"
        );
    }
    assert!(grad.iter().filter(|g| g.abs() > 1e-4).count() > agent.len() / 4);
}

#[test]
fn eas_keeps_the_controller_contract() {
    let env = Grower::new();
    let config = EasConfig {
        batch: 3,
        steps: 2,
        agent: AgentConfig {
            embedding: 4,
            hidden: 6,
            init_range: 0.1,
        },
        ..EasConfig::default()
    };
    check_controller(&env, &|| Ok(Box::new(Eas::new(config.clone()))), 6).unwrap();
}

/// The reward of a child in the grower: 1 per widened layer, 3 for each 5x5 kernel.
fn pays(decisions: &[usize], env: &Grower) -> f64 {
    let bounds = env.boundaries(decisions).unwrap();
    let mut reward = 0.0;
    for w in bounds.windows(2) {
        let layers = 3 + env.boundaries(&decisions[..w[0]]).unwrap().len() - 1;
        let step = &decisions[w[0]..w[1]];
        reward += step[1..=layers].iter().sum::<usize>() as f64;
        if step.len() == layers + 3 && step[layers + 2] == 2 {
            reward += 3.0;
        }
    }
    reward
}

#[test]
fn eas_learns_the_morphs_that_pay() {
    let env = Grower::new();
    let mean_reward = |learning_rate: f64| {
        let mut eas = Eas::new(EasConfig {
            batch: 8,
            steps: 1,
            learning_rate,
            agent: AgentConfig {
                embedding: 4,
                hidden: 8,
                init_range: 0.1,
            },
            ..EasConfig::default()
        });
        let mut rng = archforge::rng::seeded(1);
        let mut late = Vec::new();
        for round in 0..60 {
            let proposals = eas.propose(&env, 8, &mut rng).unwrap();
            let results: Vec<Evaluated> = proposals
                .iter()
                .map(|p| Evaluated {
                    decisions: p.decisions.clone(),
                    // Every child compared with the seed's growth: the parent stays the seed.
                    reward: Some(
                        pays(&p.decisions, &env) - if p.decisions.len() > 1 { 100.0 } else { 0.0 },
                    ),
                    status: StatusKind::Ok,
                })
                .collect();
            if round >= 50 {
                late.extend(results.iter().map(|r| r.reward.unwrap() + 100.0));
            }
            eas.observe(&env, &results).unwrap();
        }
        late.iter().sum::<f64>() / late.len() as f64
    };
    let (learned, untrained) = (mean_reward(0.05), mean_reward(0.0));
    assert!(
        learned > untrained + 1.5,
        "learned {learned}, untrained {untrained}"
    );
}
