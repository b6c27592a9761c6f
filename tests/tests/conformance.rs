//! Conformance: every shipped experiment file loads, every registered environment and
//! controller kind appears in one, and each environment and controller keeps the core
//! contracts — replaying a decision sequence rebuilds the same candidate, every complete
//! sequence builds, proposals respect masks, and checkpoint -> restore gives the same next
//! proposals.

use archforge::env::{complete_uniformly, validate};
use archforge::evaluator::StatusKind;
use archforge::{Controller, Environment, Evaluated, rng};
use archforge_experiments::config::ExperimentFile;
use archforge_experiments::registry::{CONTROLLERS, ENVIRONMENTS, EVALUATORS};
use archforge_experiments::runner::Prepared;
use archforge_tests::{experiment_files, use_stand_in_data};
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

fn check_environment(env: &dyn Environment) {
    let mut rng = rng::seeded(7);
    for _ in 0..50 {
        let mut decisions = Vec::new();
        complete_uniformly(env, &mut decisions, &mut rng).unwrap();
        assert!(decisions.len() <= env.spec().max_length);
        validate(env, &decisions).unwrap();
        assert_eq!(env.next_choice(&decisions).unwrap(), None);
        let a = env.build(&decisions).unwrap();
        let b = env.build(&decisions).unwrap();
        assert_eq!(a.label, b.label);
        assert_eq!(a.hash, b.hash);
        assert_eq!(a.arch().to_json(), b.arch().to_json());
        assert_eq!(a.decisions, decisions);
        for (position, &d) in decisions.iter().enumerate() {
            let choice = env.next_choice(&decisions[..position]).unwrap().unwrap();
            assert!(choice.kind < env.spec().kinds.len());
            assert!(choice.options <= env.spec().kinds[choice.kind].labels.len());
            assert!(choice.is_legal(d));
        }
    }
}

/// Proposes, "evaluates" with a reward that depends only on the decisions, and observes.
fn step(
    controller: &mut dyn Controller,
    env: &dyn Environment,
    rng: &mut archforge::Rng,
) -> Vec<Vec<usize>> {
    let proposals = controller.propose(env, 2, rng).unwrap();
    let evaluated: Vec<Evaluated> = proposals
        .iter()
        .map(|p| {
            validate(env, &p.decisions).unwrap();
            Evaluated {
                decisions: p.decisions.clone(),
                reward: Some(p.decisions.iter().sum::<usize>() as f64),
                status: StatusKind::Ok,
            }
        })
        .collect();
    controller.observe(env, &evaluated).unwrap();
    proposals.into_iter().map(|p| p.decisions).collect()
}

#[test]
fn environments_and_controllers_keep_the_contracts() {
    for file in loaded() {
        let prepared = Prepared::new(&file).unwrap();
        let env = prepared.env();
        check_environment(env);
        for config in &file.experiment.controller {
            let mut original = config.build().unwrap();
            let mut rng = rng::seeded(3);
            for _ in 0..15 {
                step(original.as_mut(), env, &mut rng);
            }
            let checkpoint = original.checkpoint().unwrap();
            let mut restored = config.build().unwrap();
            restored.restore(checkpoint).unwrap();
            let mut rng_restored = rng.clone();
            for _ in 0..5 {
                assert_eq!(
                    step(original.as_mut(), env, &mut rng),
                    step(restored.as_mut(), env, &mut rng_restored),
                    "{} in {}",
                    config.name(),
                    file.path.display()
                );
            }
        }
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
