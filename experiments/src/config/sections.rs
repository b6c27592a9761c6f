//! The experiment file's smaller sections — `[objective]`, `[budget]`, `[report]`, `[final]`,
//! `[distill]` and `[compress]` — each with its defaults and its own check, which names the offending key.

use archforge::data::Splits;
use archforge::evaluator::CacheMode;
use archforge::nn::{DistillKind, Distillation, Proxy};
use archforge::objective::{LatencyTarget, Limits, RewardKind};
use archforge::search::KeepWeights;
use archforge_controllers::policy::{NetworkConfig, PolicyKind};
use archforge_environments::ShrinkageConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A failed check: the offending key and why.
pub type Refusal = (&'static str, String);

/// The `[final]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalConfig {
    /// How many of the best distinct architectures (by reward) to retrain.
    #[serde(default = "one_usize")]
    pub top_k: usize,
    /// Epochs of the retraining (default: `[training] epochs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// ENAS's derivation: when above 0, the controller as it ended proposes this many
    /// architectures, the evaluator as it stands scores them (`derived.csv`), and the
    /// finalists are the best of those instead of the best of the search.
    #[serde(default)]
    pub derive: usize,
    /// Where the finalists' training starts: from scratch, or from their weights in the
    /// run's trained supernet (fine-tuned).
    #[serde(default)]
    pub init: FinalInit,
}

/// Where a finalist's training starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalInit {
    /// Fresh weights.
    #[default]
    Scratch,
    /// Its weights cut out of the run's trained supernet.
    Supernet,
}

fn one_usize() -> usize {
    1
}

impl FinalConfig {
    /// Checks the section.
    pub fn check(&self) -> Result<(), Refusal> {
        if !(1..=100).contains(&self.top_k) {
            return Err(("top_k", "top_k must be in 1..=100".into()));
        }
        if self.epochs == Some(0) {
            return Err(("epochs", "epochs must be at least 1".into()));
        }
        if self.derive > 10_000 {
            return Err(("derive", "derive must be at most 10000".into()));
        }
        Ok(())
    }
}

/// The `[objective]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveConfig {
    /// The reward function.
    #[serde(default)]
    pub kind: RewardKind,
    /// The reward of an invalid candidate (one not in the table, or that does not build).
    #[serde(default)]
    pub invalid_reward: f64,
    /// `mnas`: the latency target T in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ms: Option<f64>,
    /// `mnas`: the latency target relative to this machine, instead of `target_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<RelativeTarget>,
    /// `mnas`: `soft` (alpha = beta = -0.07) or `hard` (alpha = 0, beta = -1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<LatencyPreset>,
    /// `mnas`: the exponent when the target is met (overrides the preset's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// `mnas`: the exponent when it is not (overrides the preset's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// Where latencies come from: each candidate measured, or a per-operation table.
    #[serde(default)]
    pub latency: LatencySource,
    /// The latency table's file (default: `~/.cache/archforge/latency-table.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_table: Option<PathBuf>,
    /// `n2n`: the most parameters a student may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_params: Option<u64>,
    /// `n2n`: the most multiply-accumulates a student may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_macs: Option<u64>,
    /// `n2n`: the most batch-1 latency (milliseconds) a student may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<f64>,
    /// `n2n`: the updates over which the penalty of a student over a limit grows to -1.
    #[serde(default = "anneal_updates")]
    pub anneal_updates: u64,
}

fn anneal_updates() -> u64 {
    15
}

/// A latency target that means the same on every machine (`target = { quantile = 0.3 }`):
/// the `quantile` of the latency table's estimates over `samples` uniform random networks of
/// the space (drawn with the experiment's seed), resolved on the machine that runs the file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelativeTarget {
    /// The share of random networks at or under the target, in (0, 1).
    pub quantile: f64,
    /// Random networks whose latencies set the target.
    #[serde(default = "target_samples")]
    pub samples: usize,
}

fn target_samples() -> usize {
    200
}

/// Where the latencies of trained candidates come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LatencySource {
    /// Each candidate's batch-1 latency measured (noisy: runs do not repeat exactly).
    #[default]
    Measured,
    /// Summed from a per-operation lookup table built once per machine (repeatable).
    Table,
}

/// MnasNet's two constraint presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LatencyPreset {
    /// alpha = beta = -0.07.
    Soft,
    /// alpha = 0, beta = -1.
    Hard,
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            kind: RewardKind::default(),
            invalid_reward: 0.0,
            target_ms: None,
            target: None,
            preset: None,
            alpha: None,
            beta: None,
            latency: LatencySource::default(),
            latency_table: None,
            max_params: None,
            max_macs: None,
            max_latency_ms: None,
            anneal_updates: anneal_updates(),
        }
    }
}

impl ObjectiveConfig {
    /// The latency table's file, when latencies come from one.
    pub fn latency_table_path(&self) -> Option<PathBuf> {
        if self.latency != LatencySource::Table {
            return None;
        }
        self.latency_table.clone().or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(|| PathBuf::from("."));
            Some(cache.join("archforge").join("latency-table.json"))
        })
    }

    /// Checks the section; `measures_latency` says whether the experiment's evaluator trains
    /// networks and measures their latencies.
    pub fn check(&self, measures_latency: bool) -> Result<(), Refusal> {
        match self.kind {
            RewardKind::Mnas => {
                match (self.target_ms, self.target) {
                    (Some(_), Some(_)) => {
                        return Err(("target", "give target_ms or target, not both".into()));
                    }
                    (None, Some(relative)) => {
                        if !(relative.quantile > 0.0 && relative.quantile < 1.0) {
                            return Err((
                                "target",
                                format!(
                                    "target's quantile must be in (0, 1), not {}",
                                    relative.quantile
                                ),
                            ));
                        }
                        if relative.samples < 10 {
                            return Err(("target", "target's samples must be at least 10".into()));
                        }
                        if self.latency != LatencySource::Table {
                            return Err((
                                "target",
                                "a relative target is resolved from the latency table: set latency = \"table\"".into(),
                            ));
                        }
                    }
                    (target_ms, None) => {
                        if !target_ms.is_some_and(|t| t > 0.0 && t.is_finite()) {
                            return Err((
                                "target_ms",
                                "the mnas reward needs target_ms, a positive latency in milliseconds, or target = { quantile = Q }"
                                    .into(),
                            ));
                        }
                    }
                }
                if !measures_latency {
                    return Err((
                        "kind",
                        "the mnas reward needs measured latencies: use a `standalone` or `supernet` evaluator"
                            .into(),
                    ));
                }
                for (key, value) in [("alpha", self.alpha), ("beta", self.beta)] {
                    if value.is_some_and(|v| !v.is_finite()) {
                        return Err((key, format!("{key} must be a finite number")));
                    }
                }
            }
            RewardKind::N2n => {
                if self.max_params == Some(0) || self.max_macs == Some(0) {
                    return Err(("max_params", "a limit of 0 leaves no student".into()));
                }
                if self
                    .max_latency_ms
                    .is_some_and(|l| !(l > 0.0 && l.is_finite()))
                {
                    return Err((
                        "max_latency_ms",
                        "max_latency_ms must be a positive number".into(),
                    ));
                }
                if self.anneal_updates == 0 {
                    return Err(("anneal_updates", "anneal_updates must be at least 1".into()));
                }
            }
            RewardKind::SearchMetric | RewardKind::Eas => {}
        }
        if self.kind != RewardKind::Mnas {
            for (key, set) in [
                ("target_ms", self.target_ms.is_some()),
                ("target", self.target.is_some()),
                ("preset", self.preset.is_some()),
                ("alpha", self.alpha.is_some()),
                ("beta", self.beta.is_some()),
            ] {
                if set {
                    return Err((key, format!("{key} is a setting of the `mnas` reward only")));
                }
            }
        }
        if self.kind != RewardKind::N2n {
            for (key, set) in [
                ("max_params", self.max_params.is_some()),
                ("max_macs", self.max_macs.is_some()),
                ("max_latency_ms", self.max_latency_ms.is_some()),
            ] {
                if set {
                    return Err((key, format!("{key} is a setting of the `n2n` reward only")));
                }
            }
        }
        if self.latency == LatencySource::Table && !measures_latency {
            return Err((
                "latency",
                "latency = \"table\" needs an evaluator that trains (`standalone` or `supernet`)"
                    .into(),
            ));
        }
        if !self.invalid_reward.is_finite() {
            return Err((
                "invalid_reward",
                "invalid_reward must be a finite number".into(),
            ));
        }
        Ok(())
    }

    /// The `n2n` reward's limits on a student.
    pub fn limits(&self) -> Limits {
        Limits {
            params: self.max_params,
            macs: self.max_macs,
            latency_ms: self.max_latency_ms,
            anneal_updates: self.anneal_updates,
        }
    }

    /// The `mnas` latency target these settings give (none for other rewards), its T the
    /// file's `target_ms` or, for a relative target, `resolved_ms`.
    pub fn latency_target(&self, resolved_ms: Option<f64>) -> Option<LatencyTarget> {
        if self.kind != RewardKind::Mnas {
            return None;
        }
        let target_ms = self.target_ms.or(resolved_ms)?;
        let preset = match self.preset.unwrap_or(LatencyPreset::Soft) {
            LatencyPreset::Soft => LatencyTarget::soft(target_ms),
            LatencyPreset::Hard => LatencyTarget::hard(target_ms),
        };
        Some(LatencyTarget {
            target_ms,
            alpha: self.alpha.unwrap_or(preset.alpha),
            beta: self.beta.unwrap_or(preset.beta),
        })
    }
}

/// The `[budget]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Evaluations per run.
    pub evaluations: u64,
    /// Simulated seconds per run (tables with a cost column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated_seconds: Option<f64>,
    /// Wall-clock seconds per run (makes runs irreproducible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_seconds: Option<f64>,
    /// Whether a repeated architecture served by the cache still costs an evaluation.
    #[serde(default = "yes")]
    pub count_duplicates: bool,
    /// The cache in front of the evaluator.
    #[serde(default = "exact")]
    pub cache: CacheMode,
    /// Which candidates' trained weights the run folder keeps (`weights/`).
    #[serde(default)]
    pub keep_weights: KeepWeights,
    /// Evaluations between two checkpoints of a run recorded in a store, which
    /// `--resume` goes on from.
    #[serde(default = "checkpoint_every")]
    pub checkpoint_every: u64,
}

fn yes() -> bool {
    true
}
fn exact() -> CacheMode {
    CacheMode::Exact
}
fn checkpoint_every() -> u64 {
    100
}

impl BudgetConfig {
    /// Checks the section.
    pub fn check(&self) -> Result<(), Refusal> {
        if self.evaluations == 0 {
            return Err((
                "evaluations",
                "the budget must allow at least 1 evaluation".into(),
            ));
        }
        for (key, value) in [
            ("simulated_seconds", self.simulated_seconds),
            ("wall_seconds", self.wall_seconds),
        ] {
            if value.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                return Err((key, format!("{key} must be a positive number")));
            }
        }
        if self.checkpoint_every == 0 {
            return Err((
                "checkpoint_every",
                "checkpoint_every must be at least 1 evaluation".into(),
            ));
        }
        if !self.count_duplicates && self.cache == CacheMode::Off {
            return Err((
                "count_duplicates",
                "count_duplicates = false needs a cache (`exact` or `canonical`) to recognise repeats"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The `[features]` section: zero-cost proxies of each candidate's untrained network added
/// to the space's features, for surrogates fitted on what a run trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    /// The proxies appended to the features.
    #[serde(default = "default_feature_proxies")]
    pub proxies: Vec<Proxy>,
    /// Images in the scoring batch.
    #[serde(default = "default_feature_batch")]
    pub batch: usize,
}

fn default_feature_proxies() -> Vec<Proxy> {
    vec![Proxy::Naswot, Proxy::Synflow]
}
fn default_feature_batch() -> usize {
    64
}

impl FeaturesConfig {
    /// Checks the section; `trains` says whether the evaluator builds networks on the data.
    pub fn check(&self, trains: bool) -> Result<(), Refusal> {
        if !trains {
            return Err((
                "proxies",
                "proxy features score the networks on [data]: use a `standalone`, `supernet` or `proxy` evaluator".into(),
            ));
        }
        if self.proxies.is_empty() {
            return Err(("proxies", "name at least one proxy".into()));
        }
        if let Some(p) = self.proxies.iter().find(|p| !p.as_feature()) {
            return Err((
                "proxies",
                format!(
                    "{} scores are negative and can be undefined; use synflow, grad_norm, snip or naswot",
                    p.name()
                ),
            ));
        }
        if self.batch < 2 {
            return Err(("batch", "the scoring batch needs at least 2 images".into()));
        }
        Ok(())
    }
}

/// The `[report]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Budgets (in evaluations) at which `summary.csv` reports each controller; default: 10,
    /// 20, 50, 100, 200, 500, ... up to the budget, and the budget itself.
    #[serde(default)]
    pub checkpoints: Vec<u64>,
}

impl ReportConfig {
    /// Checks the section against the budget of `evaluations`.
    pub fn check(&self, evaluations: u64) -> Result<(), Refusal> {
        match self
            .checkpoints
            .iter()
            .find(|&&c| c == 0 || c > evaluations)
        {
            Some(bad) => Err((
                "checkpoints",
                format!("checkpoint {bad} is outside 1..={evaluations} (the budget)"),
            )),
            None => Ok(()),
        }
    }
}

/// The `[distill]` section: how the students of a compression learn from their teacher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillConfig {
    /// The distillation term: `kl` (softened outputs) or `mse-logits` (N2N's code).
    #[serde(default)]
    pub kind: DistillKind,
    /// `kl`'s softmax temperature.
    #[serde(default = "distill_temperature")]
    pub temperature: f64,
    /// The share of the distillation term beside the labels' cross-entropy, in [0, 1].
    #[serde(default = "distill_weight")]
    pub weight: f64,
    /// Students train on the first `images` images of the training split (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<usize>,
}

fn distill_temperature() -> f64 {
    Distillation::default().temperature
}
fn distill_weight() -> f64 {
    Distillation::default().weight
}

impl Default for DistillConfig {
    fn default() -> Self {
        let loss = Distillation::default();
        DistillConfig {
            kind: loss.kind,
            temperature: loss.temperature,
            weight: loss.weight,
            images: None,
        }
    }
}

impl DistillConfig {
    /// Checks the section.
    pub fn check(&self) -> Result<(), Refusal> {
        self.loss().check()?;
        if self.images == Some(0) {
            return Err(("images", "images must be at least 1".into()));
        }
        Ok(())
    }

    /// The students' loss.
    pub fn loss(&self) -> Distillation {
        Distillation {
            kind: self.kind,
            temperature: self.temperature,
            weight: self.weight,
        }
    }

    /// The students' data: `data` with its training split cut to `images`.
    pub fn students(&self, data: &Splits) -> anyhow::Result<Splits> {
        let mut students = data.clone();
        if let Some(n) = self.images {
            if n > data.train.len() {
                anyhow::bail!(
                    "[distill] images = {n} is more than the {} training images",
                    data.train.len()
                );
            }
            students.train = data.train.select(&(0..n).collect::<Vec<_>>());
        }
        Ok(students)
    }
}

/// The `[compress]` section: what `archforge compress` does beside the file's first stage
/// (the `[environment]`, removal or shrinkage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressConfig {
    /// The width factors of the shrinkage stage that follows a removal stage.
    #[serde(default = "compress_scales")]
    pub scales: Vec<f64>,
    /// Epochs of the final student's fine-tuning on the whole training split, distilled as
    /// `[distill]` says (the baselines train the same way).
    #[serde(default = "compress_final_epochs")]
    pub final_epochs: usize,
    /// Train the baselines at the final student's size: the teacher's widths scaled
    /// uniformly (from fresh weights) and L1-norm filter pruning of the teacher.
    #[serde(default = "yes")]
    pub baselines: bool,
    /// The policy of the `reinforce` / `ppo` controllers in the shrinkage stage that follows
    /// a removal stage (N2N: two stacked LSTM cells of 30 units, reading each layer, the
    /// previous choice fed back).
    #[serde(default = "shrinkage_policy")]
    pub shrinkage_policy: NetworkConfig,
    /// Their Adam learning rate in that stage (default: each controller's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrinkage_learning_rate: Option<f64>,
}

fn shrinkage_policy() -> NetworkConfig {
    NetworkConfig {
        kind: PolicyKind::Autoregressive,
        read_layers: true,
        hidden: 30,
        layers: 2,
        ..NetworkConfig::default()
    }
}

fn compress_scales() -> Vec<f64> {
    ShrinkageConfig::default().scales
}
fn compress_final_epochs() -> usize {
    10
}

impl Default for CompressConfig {
    fn default() -> Self {
        CompressConfig {
            scales: compress_scales(),
            final_epochs: compress_final_epochs(),
            baselines: true,
            shrinkage_policy: shrinkage_policy(),
            shrinkage_learning_rate: None,
        }
    }
}

impl CompressConfig {
    /// Checks the section.
    pub fn check(&self) -> Result<(), Refusal> {
        self.shrinkage().check()?;
        if self.final_epochs == 0 {
            return Err(("final_epochs", "final_epochs must be at least 1".into()));
        }
        self.shrinkage_policy
            .check()
            .map_err(|(key, why)| ("shrinkage_policy", format!("{key}: {why}")))?;
        if self
            .shrinkage_learning_rate
            .is_some_and(|r| !(r > 0.0 && r.is_finite()))
        {
            return Err((
                "shrinkage_learning_rate",
                "shrinkage_learning_rate must be positive".into(),
            ));
        }
        Ok(())
    }

    /// The shrinkage stage's space settings.
    pub fn shrinkage(&self) -> ShrinkageConfig {
        ShrinkageConfig {
            scales: self.scales.clone(),
        }
    }
}
