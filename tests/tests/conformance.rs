//! Conformance over the registry: every shipped experiment file loads, every registered
//! environment, controller and evaluator kind appears in one, and the core's public check
//! (`archforge::conformance`) passes for every environment, every controller on every
//! environment that it accepts, and every evaluator on its environment. A space defined here,
//! outside the crates, shows that a broken promise is named in one line.

use archforge::conformance::{check_controller, check_environment, check_evaluator};
use archforge::error::Result;
use archforge::{Candidate, Choice, EnvSpec, Environment};
use archforge_experiments::config::ExperimentFile;
use archforge_experiments::registry::{
    CONTROLLERS, ControllerConfig, ENVIRONMENTS, EVALUATORS, EvaluatorConfig,
};
use archforge_experiments::runner::Prepared;
use archforge_tests::{experiment_files, use_stand_in_data, use_trained_teacher};
use std::collections::HashSet;

/// Every shipped file, loaded; one whose IDX data set is not installed here reads stand-in
/// files of the same format instead (see `use_stand_in_data`).
fn loaded() -> Vec<ExperimentFile> {
    experiment_files()
        .iter()
        .map(|p| {
            let mut file = ExperimentFile::load(p).unwrap_or_else(|e| panic!("{e}"));
            if use_stand_in_data(&mut file) {
                eprintln!(
                    "{}: its data set is not installed here; checked on stand-in files",
                    p.display()
                );
            }
            use_trained_teacher(&mut file);
            file
        })
        .collect()
}

#[test]
fn every_registered_kind_has_an_example_experiment() {
    let files = loaded();
    let envs: HashSet<String> = files
        .iter()
        .map(|f| Prepared::new(f).unwrap().env().spec().name.clone())
        .collect();
    let evaluators: HashSet<&str> = files
        .iter()
        .map(|f| f.experiment.evaluator.kind())
        .collect();
    let controllers: HashSet<&str> = files
        .iter()
        .flat_map(|f| f.experiment.controller.iter().map(|c| c.kind()))
        .collect();
    for (name, _) in ENVIRONMENTS {
        assert!(
            envs.contains(*name),
            "no experiment file uses environment `{name}`"
        );
    }
    for (name, _) in EVALUATORS {
        assert!(
            evaluators.contains(name),
            "no experiment file uses evaluator `{name}`"
        );
    }
    for (name, _) in CONTROLLERS {
        assert!(
            controllers.contains(name),
            "no experiment file uses controller `{name}`"
        );
    }
}

#[test]
fn every_environment_keeps_its_contracts() {
    for file in loaded() {
        let prepared = Prepared::new(&file).unwrap();
        check_environment(prepared.env(), 20)
            .unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
    }
}

#[test]
fn every_controller_keeps_its_contracts_on_every_environment_it_accepts() {
    let files = loaded();
    // Every distinct controller configuration of the shipped files but their names.
    let mut controllers: Vec<ControllerConfig> = Vec::new();
    let unnamed = |c: &ControllerConfig| format!("{c:?}").replace(&format!("{:?}", c.name()), "");
    for c in files
        .iter()
        .flat_map(|f| &f.experiment.controller)
        .map(quick)
    {
        if !controllers.iter().any(|k| unnamed(k) == unnamed(&c)) {
            controllers.push(c);
        }
    }
    let mut checked = HashSet::new();
    let mut accepted = vec![false; controllers.len()];
    for file in &files {
        let prepared = Prepared::new(file).unwrap();
        let env = prepared.env();
        if !checked.insert(format!("{:?}", file.experiment.environment)) {
            continue;
        }
        // A controller that refuses the space at its first proposal (a policy that reads
        // layer tokens the space lacks) is not checked on it, as loading a file refuses it.
        for (config, accepted) in controllers.iter().zip(&mut accepted) {
            let refuses = config
                .build()
                .and_then(|mut c| c.propose(env, 1, &mut archforge::rng::seeded(0)))
                .is_err();
            if refuses {
                continue;
            }
            *accepted = true;
            check_controller(env, &|| config.build(), 15)
                .unwrap_or_else(|e| panic!("{} in {}: {e}", config.name(), file.path.display()));
        }
    }
    for (config, accepted) in controllers.iter().zip(accepted) {
        assert!(accepted, "{config:?} works no shipped environment");
    }
}

/// `config` made cheap to check: a diffusion generator's score network trained for a few
/// steps on a few samples, and small pools.
fn quick(config: &ControllerConfig) -> ControllerConfig {
    let mut config = config.clone();
    if let ControllerConfig::Diffusion(d) = &mut config {
        d.pool = 4;
        d.steps = 4;
        d.prior.samples = 32;
        d.prior.steps = 4;
        d.prior.network = archforge_controllers::diffusion::ScoreConfig {
            width: 8,
            layers: 1,
            heads: 2,
        };
    }
    config
}

/// `file` made cheap to train: a few images, one short epoch, a short supernet warm-up.
fn tiny(mut file: ExperimentFile) -> ExperimentFile {
    let e = &mut file.experiment;
    if let Some(data) = e.data.as_mut() {
        // A compression's students train on the first images of its teacher's training
        // split: the split itself stays the teacher's.
        match e.distill.as_mut() {
            Some(distill) => distill.images = Some(64),
            None => data.subset.train = Some(64),
        }
        data.subset.valid = Some(32);
        data.subset.test = Some(32);
    }
    if let Some(training) = e.training.as_mut() {
        training.epochs = 1;
        training.batch_size = 32;
    }
    if let EvaluatorConfig::Supernet(s) = &mut e.evaluator {
        s.warmup_epochs = 1;
        s.train_steps = 1;
        s.bn_batches = 1;
        s.valid_batches = 1;
    }
    file
}

#[test]
fn every_evaluator_keeps_its_contracts_on_its_environment() {
    let mut checked = HashSet::new();
    for file in loaded().into_iter().map(tiny) {
        let e = &file.experiment;
        let key = format!("{:?} {:?}", e.environment, e.evaluator);
        if !checked.insert(key) {
            continue;
        }
        let prepared = Prepared::new(&file).unwrap();
        let env = prepared.shared_env();
        let make = || {
            e.evaluator
                .proper(&env, false, prepared.training(), e.seed)
                .map_err(archforge::Error::Arch)
        };
        check_evaluator(env.as_ref(), &make, 5)
            .unwrap_or_else(|err| panic!("{}: {err}", file.path.display()));
    }
}

#[test]
fn checkpoints_refuse_another_controller_kind() {
    let files = loaded();
    let file = files
        .iter()
        .find(|f| f.experiment.controller.len() > 1)
        .expect("a file with two controllers");
    let a = file.experiment.controller[0].build().unwrap();
    let mut b = file.experiment.controller[1].build().unwrap();
    assert_ne!(a.kind(), b.kind());
    let err = b.restore(a.checkpoint().unwrap()).unwrap_err().to_string();
    assert!(err.contains("cannot restore"), "{err}");
}

/// A space of three decisions among three options, written as a user would, with one promise
/// broken as `broken` says.
struct Handmade {
    spec: EnvSpec,
    broken: Broken,
    calls: std::sync::atomic::AtomicUsize,
}

#[derive(Clone, Copy, PartialEq)]
enum Broken {
    /// Nothing: a sound space.
    Nothing,
    /// The mask leaves option 2 legal at the second decision, but a prefix taking it is
    /// refused.
    LegalButRefused,
    /// The choice depends on how often it was asked.
    Impure,
    /// The mask forbids option 2 at the second decision, but a sequence taking it builds.
    BuildsIllegal,
}

impl Handmade {
    fn new(broken: Broken) -> Self {
        Handmade {
            spec: EnvSpec {
                name: "handmade".into(),
                kinds: vec![archforge::DecisionKindSpec {
                    name: "option".into(),
                    labels: vec!["a".into(), "b".into(), "c".into()],
                }],
                max_length: 3,
            },
            broken,
            calls: Default::default(),
        }
    }
}

impl Environment for Handmade {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        let calls = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let refused = self.broken == Broken::LegalButRefused && prefix.get(1) == Some(&2);
        if refused || prefix.iter().any(|&d| d > 2) || prefix.len() > 3 {
            return Err(archforge::Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: "refused".into(),
            });
        }
        let options = if self.broken == Broken::Impure && calls % 7 == 6 {
            2
        } else {
            3
        };
        let mut choice = Choice::new(0, options);
        if self.broken == Broken::BuildsIllegal && prefix.len() == 1 {
            choice.mask = Some(vec![true, true, false]);
        }
        Ok((prefix.len() < 3).then_some(choice))
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        if self.broken != Broken::BuildsIllegal {
            archforge::env::validate(self, decisions)?;
        } else if decisions.len() != 3 || decisions.iter().any(|&d| d > 2) {
            // It checks the options' range, but not the mask.
            return Err(archforge::Error::InvalidDecisions {
                decisions: decisions.to_vec(),
                reason: "out of range".into(),
            });
        }
        let mut arch = archforge::Arch::new(None);
        let x = arch.add(
            "row",
            archforge::Op::Labelled(format!("{decisions:?}")),
            &[arch.input()],
        )?;
        arch.finish(x)?;
        Ok(Candidate::new(
            decisions.to_vec(),
            format!("{decisions:?}"),
            arch,
        ))
    }
}

#[test]
fn a_space_of_ones_own_is_checked_and_a_broken_promise_named_in_one_line() {
    check_environment(&Handmade::new(Broken::Nothing), 20).unwrap();
    let err = check_environment(&Handmade::new(Broken::LegalButRefused), 20)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("environment `handmade`: the mask leaves option 2 legal"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    let err = check_environment(&Handmade::new(Broken::Impure), 20)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("environment `handmade`: next_choice(")
            && err.contains("not a pure function"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    let err = check_environment(&Handmade::new(Broken::BuildsIllegal), 20)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("environment `handmade`: [")
            && err.contains("builds although option 2 is not legal at position 1"),
        "{err}"
    );
}
