//! Policy cost: sampling one 20-decision sequence from the LSTM policy and one REINFORCE
//! update on it (back-propagation through time along the sampling pass, Adam), for the
//! default policy (one layer of 64 units) and NASNet's (one layer of 100 units).

use archforge::error::Result;
use archforge::evaluator::StatusKind;
use archforge::{Candidate, Choice, Controller, DecisionKindSpec, EnvSpec, Environment, Evaluated};
use archforge_controllers::policy::NetworkConfig;
use archforge_controllers::{PolicyGradient, PolicyGradientConfig};
use criterion::{Criterion, criterion_group, criterion_main};

/// Twenty decisions: inputs (3 options) and operations (13 options), alternating.
struct Sequence {
    spec: EnvSpec,
}

impl Sequence {
    fn new() -> Self {
        let kind = |name: &str, n: usize| DecisionKindSpec {
            name: name.into(),
            labels: (0..n).map(|i| i.to_string()).collect(),
        };
        Sequence {
            spec: EnvSpec {
                name: "sequence".into(),
                kinds: vec![kind("input", 3), kind("op", 13)],
                max_length: 20,
            },
        }
    }
}

impl Environment for Sequence {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        Ok((prefix.len() < 20).then(|| {
            let kind = prefix.len() % 2;
            Choice::new(kind, self.spec.kinds[kind].labels.len())
        }))
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        Err(archforge::Error::InvalidDecisions {
            decisions: decisions.to_vec(),
            reason: "the benchmark space builds no networks".into(),
        })
    }
}

fn sample_and_update(c: &mut Criterion) {
    let env = Sequence::new();
    for hidden in [64, 100] {
        let config = PolicyGradientConfig {
            policy: NetworkConfig {
                hidden,
                ..NetworkConfig::default()
            },
            ..PolicyGradientConfig::default()
        };
        let mut controller = PolicyGradient::reinforce(config).expect("valid settings");
        let mut rng = archforge::rng::seeded(0);
        let mut reward = 0.5;
        c.bench_function(
            &format!("reinforce: sample + update, 20 decisions, LSTM {hidden}"),
            |b| {
                b.iter(|| {
                    let p = controller.propose(&env, 1, &mut rng).unwrap();
                    reward = 1.0 - reward;
                    let results = [Evaluated {
                        decisions: p[0].decisions.clone(),
                        reward: Some(100.0 * reward),
                        status: StatusKind::Ok,
                    }];
                    controller.observe(&env, &results).unwrap();
                })
            },
        );
    }
}

criterion_group!(benches, sample_and_update);
criterion_main!(benches);
