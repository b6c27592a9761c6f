//! The conformance check: does an environment, a controller or an evaluator keep the
//! contracts the rest of archforge relies on? Public, as Gymnasium's `check_env` is, so that
//! a user can check a part of their own from Rust; the test suite runs it over every
//! registered part. Each check samples from a fixed seed (the same check every time) and
//! stops at the first broken promise, which it names in one line ([`Error::Conformance`]).
//!
//! - [`check_environment`]: the spec declares every choice offered; `next_choice` is a pure
//!   function of the prefix (the same answer twice, and again after other prefixes were
//!   asked); masks leave an option legal and every option they leave legal is accepted;
//!   sequences end within `max_length`; every complete legal sequence builds, twice to the same
//!   label, hash, counts and graph; a sequence with an illegal option is refused; and each
//!   ability round-trips (graph `decode(encode(x)) == x`, features and tokens of a fixed,
//!   finite shape; growth boundaries that start at the empty prefix and rise, each with a
//!   step layout whose layers are among its tokens).
//! - [`check_controller`]: proposals are complete legal sequences, also after the controller
//!   was told of invalid and failed evaluations; checkpoint -> restore on a fresh controller
//!   gives the same next proposals.
//! - [`check_evaluator`]: through the run loop, every evaluation is charged exactly once — a
//!   failing one too — and a cached repeat is free when repeats are; the same candidate on
//!   a fresh evaluator scores the same (replay); outcomes that succeed carry a search metric.

use crate::ability::ArchGraph;
use crate::budget::BudgetLimits;
use crate::candidate::Candidate;
use crate::controller::{Checkpoint, Controller, Evaluated, Proposal};
use crate::env::{Choice, Environment, validate};
use crate::error::{Error, Result};
use crate::evaluator::{CacheMode, CachedEvaluator, Evaluator, Isolated, Outcome, StatusKind};
use crate::objective::{Objective, RewardKind};
use crate::rng::{Rng, seeded};
use crate::search::{self, RunSettings};
use rand::Rng as _;

/// The seed every check draws its samples from.
const SEED: u64 = 0x00c0_ffee;

fn broken(part: &str, what: impl Into<String>) -> Error {
    Error::Conformance {
        part: part.to_string(),
        broken: what.into(),
    }
}

/// Checks `env` on `samples` sequences (see the module documentation).
pub fn check_environment(env: &dyn Environment, samples: usize) -> Result<()> {
    let spec = env.spec();
    let part = format!("environment `{}`", spec.name);
    let fail = |what: String| Err(broken(&part, what));
    if spec.kinds.is_empty() || spec.max_length == 0 {
        return fail("its spec declares no decision kinds or a maximum length of 0".into());
    }
    if let Some(kind) = spec.kinds.iter().find(|k| k.labels.is_empty()) {
        return fail(format!("decision kind `{}` has no labels", kind.name));
    }
    let mut rng = seeded(SEED);
    for _ in 0..samples {
        let mut decisions = Vec::new();
        let mut offered: Vec<Choice> = Vec::new();
        loop {
            let choice = next_choice(env, &part, &decisions)?;
            if next_choice(env, &part, &decisions)? != choice {
                return fail(format!(
                    "next_choice({decisions:?}) gave two different answers: it is not a pure function of the prefix"
                ));
            }
            let Some(choice) = choice else { break };
            check_choice(env, &part, &decisions, &choice)?;
            let legal = choice.legal_options();
            for &o in &legal {
                let mut longer = decisions.clone();
                longer.push(o);
                if let Err(e) = env.next_choice(&longer) {
                    return fail(format!(
                        "the mask leaves option {o} legal after {decisions:?}, but next_choice refuses {longer:?}: {e}"
                    ));
                }
            }
            decisions.push(legal[rng.random_range(0..legal.len())]);
            offered.push(choice);
            if decisions.len() > spec.max_length {
                return fail(format!(
                    "{decisions:?} is longer than the spec's maximum of {}",
                    spec.max_length
                ));
            }
        }
        // Asked again after every longer prefix: still the same answers.
        for (position, choice) in offered.iter().enumerate() {
            if next_choice(env, &part, &decisions[..position])?.as_ref() != Some(choice) {
                return fail(format!(
                    "next_choice({:?}) changed after other prefixes were asked: it is not a pure function of the prefix",
                    &decisions[..position]
                ));
            }
        }
        check_build(env, &part, &decisions)?;
        check_refusals(env, &part, &decisions, &offered)?;
        check_abilities(env, &part, &decisions)?;
    }
    Ok(())
}

fn next_choice(env: &dyn Environment, part: &str, prefix: &[usize]) -> Result<Option<Choice>> {
    env.next_choice(prefix).map_err(|e| {
        broken(
            part,
            format!("next_choice refuses {prefix:?}, a prefix of legal options: {e}"),
        )
    })
}

fn check_choice(
    env: &dyn Environment,
    part: &str,
    prefix: &[usize],
    choice: &Choice,
) -> Result<()> {
    let kinds = &env.spec().kinds;
    let Some(kind) = kinds.get(choice.kind) else {
        return Err(broken(
            part,
            format!(
                "after {prefix:?} it offers a choice of kind {}, which its spec does not declare",
                choice.kind
            ),
        ));
    };
    if choice.options == 0 || choice.options > kind.labels.len() {
        return Err(broken(
            part,
            format!(
                "after {prefix:?} it offers {} options of kind `{}`, which has {} labels",
                choice.options,
                kind.name,
                kind.labels.len()
            ),
        ));
    }
    if choice
        .mask
        .as_ref()
        .is_some_and(|m| m.len() != choice.options)
    {
        return Err(broken(
            part,
            format!("after {prefix:?} its mask does not have one entry per option"),
        ));
    }
    if choice.legal_options().is_empty() {
        return Err(broken(
            part,
            format!("after {prefix:?} its mask leaves no option legal"),
        ));
    }
    Ok(())
}

fn check_build(env: &dyn Environment, part: &str, decisions: &[usize]) -> Result<()> {
    let build = || {
        env.build(decisions).map_err(|e| {
            broken(
                part,
                format!("the legal sequence {decisions:?} does not build: {e}"),
            )
        })
    };
    let (a, b) = (build()?, build()?);
    let same = a.label == b.label
        && a.hash == b.hash
        && a.counts == b.counts
        && a.arch().to_json() == b.arch().to_json();
    if !same {
        return Err(broken(
            part,
            format!("building {decisions:?} twice gave two different candidates"),
        ));
    }
    if a.decisions != decisions {
        return Err(broken(
            part,
            format!(
                "the candidate of {decisions:?} says its decisions are {:?}",
                a.decisions
            ),
        ));
    }
    if a.counts.is_some() && a.counts != a.arch().counts() {
        return Err(broken(
            part,
            format!("the candidate of {decisions:?} counts other params and MACs than its graph"),
        ));
    }
    Ok(())
}

/// A sequence with one option replaced by an illegal one (masked out, or beyond the options)
/// must not validate.
fn check_refusals(
    env: &dyn Environment,
    part: &str,
    decisions: &[usize],
    offered: &[Choice],
) -> Result<()> {
    for (position, choice) in offered.iter().enumerate() {
        let illegal = (0..=choice.options).find(|&o| !choice.is_legal(o));
        if let Some(o) = illegal {
            let mut bad = decisions.to_vec();
            bad[position] = o;
            if env.build(&bad).is_ok() {
                return Err(broken(
                    part,
                    format!(
                        "{bad:?} builds although option {o} is not legal at position {position}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_abilities(env: &dyn Environment, part: &str, decisions: &[usize]) -> Result<()> {
    let fail = |what: String| Err(broken(part, what));
    let refuses = |ability: &str, e: Error| {
        broken(
            part,
            format!("its {ability} refuses the legal sequence {decisions:?}: {e}"),
        )
    };
    if let Some(graph) = env.graph() {
        let encoded: ArchGraph = graph
            .encode(decisions)
            .map_err(|e| refuses("graph encoding", e))?;
        encoded
            .check_form(graph.max_nodes(), graph.operations().len())
            .map_err(|e| refuses("graph encoding", e))?;
        match graph.decode(&encoded) {
            Ok(back) if back == decisions => {}
            Ok(back) => {
                return fail(format!(
                    "its graph encoding decodes {decisions:?} as {back:?}"
                ));
            }
            Err(e) => return fail(format!("its graph of {decisions:?} does not decode: {e}")),
        }
    }
    if let Some(features) = env.features() {
        let x = features
            .vector(decisions)
            .map_err(|e| refuses("features", e))?;
        if x.len() != features.feature_names().len() || x.iter().any(|v| !v.is_finite()) {
            return fail(format!(
                "its features of {decisions:?} are not {} finite numbers",
                features.feature_names().len()
            ));
        }
        if features.vector(decisions).ok().as_ref() != Some(&x) {
            return fail(format!(
                "its features of {decisions:?} differ between two calls"
            ));
        }
    }
    if let Some(growth) = env.growth() {
        let bounds = growth
            .boundaries(decisions)
            .map_err(|e| refuses("growth", e))?;
        if bounds.first() != Some(&0) || bounds.windows(2).any(|w| w[0] >= w[1]) {
            return fail(format!(
                "its growth boundaries of {decisions:?} ({bounds:?}) do not start at 0 and rise"
            ));
        }
        for &b in &bounds {
            let layout = growth
                .step(&decisions[..b])
                .map_err(|e| refuses("growth", e))?;
            let n = layout.tokens.len();
            if n == 0 || layout.widen.iter().chain(&layout.places).any(|&l| l >= n) {
                return fail(format!(
                    "its step layout after {:?} names a layer outside its {n} tokens",
                    &decisions[..b]
                ));
            }
        }
    }
    if let Some(tokens) = env.tokens() {
        let width = tokens.token_fields().len();
        let t = tokens
            .sequence(decisions)
            .map_err(|e| refuses("tokens", e))?;
        if t.is_empty()
            || t.iter()
                .any(|t| t.len() != width || t.iter().any(|v| !v.is_finite()))
        {
            return fail(format!(
                "its tokens of {decisions:?} are not a non-empty list of {width} finite numbers each"
            ));
        }
    }
    Ok(())
}

/// Checks a controller that `make` builds fresh, on `env`, over `rounds` rounds of two
/// proposals (see the module documentation).
pub fn check_controller(
    env: &dyn Environment,
    make: &dyn Fn() -> Result<Box<dyn Controller>>,
    rounds: usize,
) -> Result<()> {
    let mut controller = make()?;
    let part = format!(
        "controller `{}` on environment `{}`",
        controller.kind(),
        env.spec().name
    );
    let mut rng = seeded(SEED);
    for round in 0..rounds {
        step(controller.as_mut(), env, &part, &mut rng, round)?;
    }
    let checkpoint: Checkpoint = controller.checkpoint()?;
    let mut restored = make()?;
    restored.restore(checkpoint)?;
    let mut rng_restored = rng.clone();
    for round in rounds..rounds + 5 {
        let a = step(controller.as_mut(), env, &part, &mut rng, round)?;
        let b = step(restored.as_mut(), env, &part, &mut rng_restored, round)?;
        if a != b {
            return Err(broken(
                &part,
                format!("after checkpoint and restore it proposes {b:?} where it proposed {a:?}"),
            ));
        }
    }
    Ok(())
}

/// One round: two proposals, checked legal, told their synthetic outcomes — every third
/// invalid, every fifth failed, the others rewarded by a function of the decisions.
fn step(
    controller: &mut dyn Controller,
    env: &dyn Environment,
    part: &str,
    rng: &mut Rng,
    round: usize,
) -> Result<Vec<Proposal>> {
    let proposals = controller
        .propose(env, 2, rng)
        .map_err(|e| broken(part, format!("it cannot propose: {e}")))?;
    if proposals.is_empty() {
        return Err(broken(part, "it proposed nothing"));
    }
    let mut results = Vec::with_capacity(proposals.len());
    for (k, p) in proposals.iter().enumerate() {
        validate(env, &p.decisions).map_err(|e| {
            broken(
                part,
                format!("it proposed an illegal sequence {:?}: {e}", p.decisions),
            )
        })?;
        let i = 2 * round + k;
        let (reward, status) = match (i % 3, i % 5) {
            (0, _) => (Some(0.0), StatusKind::Invalid),
            (_, 0) => (None, StatusKind::Failed),
            _ => (
                Some(p.decisions.iter().sum::<usize>() as f64 % 7.0 * 10.0),
                StatusKind::Ok,
            ),
        };
        results.push(Evaluated {
            decisions: p.decisions.clone(),
            reward,
            status,
        });
    }
    controller
        .observe(env, &results)
        .map_err(|e| broken(part, format!("it cannot take in its results: {e}")))?;
    Ok(proposals)
}

/// Checks an evaluator that `make` builds fresh (a run's evaluator proper, without cache or
/// isolation), on `evaluations` evaluations of `env`'s candidates (see the module
/// documentation).
pub fn check_evaluator(
    env: &dyn Environment,
    make: &dyn Fn() -> Result<Box<dyn Evaluator>>,
    evaluations: u64,
) -> Result<()> {
    let part = format!("evaluator on environment `{}`", env.spec().name);
    if evaluations < 3 {
        return Err(broken(
            &part,
            "the check needs at least 3 evaluations (every third one fails)",
        ));
    }
    // Up to three distinct sequences (fewer in a space that has fewer).
    let mut rng = seeded(SEED);
    let mut distinct: Vec<Vec<usize>> = Vec::new();
    for _ in 0..100 {
        if distinct.len() == 3 {
            break;
        }
        let mut d = Vec::new();
        crate::env::complete_uniformly(env, &mut d, &mut rng)?;
        if !distinct.contains(&d) {
            distinct.push(d);
        }
    }
    let settings = |count_duplicates| RunSettings {
        controller: "conformance".into(),
        seed: 0,
        batch: 1,
        limits: BudgetLimits {
            evaluations,
            simulated_seconds: None,
            wall_seconds: None,
        },
        count_duplicates,
        keep_weights: search::KeepWeights::None,
        objective: Objective {
            kind: RewardKind::SearchMetric,
            latency: None,
            teacher: None,
            maximize: env.benchmark().is_none_or(|t| t.maximize),
            invalid_reward: 0.0,
        },
        checkpoint_every: None,
    };
    // Counted repeats, with every third evaluation failing: each charged once.
    let mut faulty = CachedEvaluator::new(Isolated(Faulty::new(make()?)), CacheMode::Off);
    let rows = run_script(env, &mut faulty, &settings(true), &distinct)?;
    let failed = rows
        .iter()
        .filter(|r| r.record.status == StatusKind::Failed)
        .count();
    if rows.len() as u64 != evaluations
        || rows
            .iter()
            .zip(1..)
            .any(|(r, step)| !r.counted || r.step != step)
        || failed == 0
    {
        return Err(broken(
            &part,
            format!(
                "{} evaluations ({failed} failing) were not charged exactly once each",
                rows.len()
            ),
        ));
    }
    for r in rows.iter().filter(|r| r.record.status == StatusKind::Ok) {
        if !r.record.search_metric.is_some_and(f64::is_finite) {
            return Err(broken(
                &part,
                format!(
                    "{} scored ok without a finite search metric",
                    r.record.decisions
                ),
            ));
        }
    }
    // Free repeats through the cache: only the distinct sequences are charged.
    let mut cached = CachedEvaluator::new(Isolated(make()?), CacheMode::Exact);
    let rows = run_script(env, &mut cached, &settings(false), &distinct)?;
    let charged = rows.iter().filter(|r| r.counted).count();
    if charged != distinct.len().min(evaluations as usize)
        || rows.iter().any(|r| r.counted == r.cached)
    {
        return Err(broken(
            &part,
            format!(
                "with free repeats {charged} of {} proposals were charged",
                rows.len()
            ),
        ));
    }
    // Replay: the first candidate on two fresh evaluators scores the same.
    let candidate = env.build(&distinct[0])?;
    let score = |outcome: Outcome| (outcome.status, outcome.metrics.search);
    let a = score(make()?.evaluate(&candidate)?);
    let b = score(make()?.evaluate(&candidate)?);
    if a != b {
        return Err(broken(
            &part,
            format!(
                "{} scored {a:?} and then {b:?} on fresh evaluators",
                candidate.label
            ),
        ));
    }
    Ok(())
}

/// Runs `script` in a cycle through the run loop, collecting the rows.
fn run_script(
    env: &dyn Environment,
    evaluator: &mut dyn Evaluator,
    settings: &RunSettings,
    script: &[Vec<usize>],
) -> Result<Vec<crate::ledger::Row>> {
    let mut controller = Script::new(script);
    let mut rows = Vec::new();
    search::run(
        env,
        &mut controller,
        evaluator,
        settings,
        &mut seeded(SEED),
        &mut |row: &crate::ledger::Row| {
            rows.push(row.clone());
            Ok(())
        },
    )?;
    Ok(rows)
}

/// A controller that proposes a fixed cycle of sequences and remembers what it was told.
pub(crate) struct Script {
    script: Vec<Vec<usize>>,
    next: usize,
    /// Every result it observed, in order.
    pub(crate) seen: Vec<Evaluated>,
}

impl Script {
    /// The cycle `script`.
    pub(crate) fn new(script: &[Vec<usize>]) -> Self {
        Script {
            script: script.to_vec(),
            next: 0,
            seen: Vec::new(),
        }
    }
}

impl Controller for Script {
    fn kind(&self) -> &'static str {
        "script"
    }

    fn propose(&mut self, _: &dyn Environment, n: usize, _: &mut Rng) -> Result<Vec<Proposal>> {
        Ok((0..n)
            .map(|_| {
                self.next += 1;
                Proposal {
                    decisions: self.script[(self.next - 1) % self.script.len()].clone(),
                }
            })
            .collect())
    }

    fn observe(&mut self, _: &dyn Environment, results: &[Evaluated]) -> Result<()> {
        self.seen.extend_from_slice(results);
        Ok(())
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        Checkpoint::new("script", &self.next)
    }

    fn restore(&mut self, checkpoint: Checkpoint) -> Result<()> {
        self.next = checkpoint.into_state("script")?;
        Ok(())
    }
}

/// An evaluator whose every third evaluation fails after the inner one ran.
struct Faulty {
    inner: Box<dyn Evaluator>,
    calls: u64,
}

impl Faulty {
    fn new(inner: Box<dyn Evaluator>) -> Self {
        Faulty { inner, calls: 0 }
    }
}

impl Evaluator for Faulty {
    fn evaluate(&mut self, candidate: &Candidate) -> Result<Outcome> {
        self.calls += 1;
        let outcome = self.inner.evaluate(candidate)?;
        if self.calls.is_multiple_of(3) {
            return Ok(Outcome::failed("the conformance check's injected failure"));
        }
        Ok(outcome)
    }
}
