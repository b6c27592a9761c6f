//! Experiment files: TOML read with serde (`deny_unknown_fields` everywhere), checked as a
//! whole before anything runs, and written back resolved — every default filled, command-line
//! overrides applied, relative paths made absolute — next to the results.
//!
//! Every problem is one line, `FILE:LINE:COLUMN: what is wrong`; an unknown name lists the
//! valid ones (serde's own wording), an unknown key is an error.

use crate::registry::{ControllerConfig, EnvironmentConfig, EvaluatorConfig};
use archforge::data::DataConfig;
use archforge::evaluator::SupernetMode;
use archforge::nn::TrainConfig;
use archforge::objective::{LatencyTarget, RewardKind};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The most seeds per controller a comparison may run.
pub const MAX_SEEDS: u64 = 1_000_000;

/// A whole experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// The experiment's name (default: the file name without `.toml`); names the run folder.
    #[serde(default)]
    pub name: String,
    /// The first seed.
    #[serde(default)]
    pub seed: u64,
    /// How many seeds `compare` runs per controller: `seed`, `seed + 1`, ...
    #[serde(default = "one")]
    pub seeds: u64,
    /// The search space.
    pub environment: EnvironmentConfig,
    /// How candidates are scored.
    #[serde(default)]
    pub evaluator: EvaluatorConfig,
    /// How outcomes become rewards.
    #[serde(default)]
    pub objective: ObjectiveConfig,
    /// What a run may spend.
    pub budget: BudgetConfig,
    /// The controllers (`[[controller]]` entries).
    pub controller: Vec<ControllerConfig>,
    /// What the reports show.
    #[serde(default)]
    pub report: ReportConfig,
    /// The data trainable evaluators train on (default: the embedded digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataConfig>,
    /// How trainable evaluators train.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainConfig>,
    /// Finalists retrained stand-alone at the end of `archforge run`.
    #[serde(rename = "final", default, skip_serializing_if = "Option::is_none")]
    pub finalists: Option<FinalConfig>,
}

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
}

fn one_usize() -> usize {
    1
}

impl Experiment {
    /// Whether the experiment trains networks: its evaluator does, or it retrains finalists.
    pub fn trains(&self) -> bool {
        self.evaluator.trains() || self.finalists.is_some()
    }
}

fn one() -> u64 {
    1
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
            preset: None,
            alpha: None,
            beta: None,
            latency: LatencySource::default(),
            latency_table: None,
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

    /// The `mnas` latency target these settings give (none for other rewards).
    pub fn latency_target(&self) -> Option<LatencyTarget> {
        let target_ms = self.target_ms?;
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

/// Which cache sits in front of the evaluator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// No cache.
    Off,
    /// Identical decision sequences share one evaluation.
    Exact,
    /// Functionally identical architectures (same canonical hash) share one evaluation.
    Canonical,
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
}

fn yes() -> bool {
    true
}
fn exact() -> CacheMode {
    CacheMode::Exact
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

/// A problem with an experiment file, as one line.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ConfigError {
    /// `FILE`, or `FILE:LINE:COLUMN` where the place is known.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// A place in an experiment file: a section (with its index for `[[controller]]` entries)
/// and optionally a key in it.
#[derive(Debug, Clone, Copy)]
pub struct KeyPath<'a> {
    /// The section, e.g. `budget` (`""` for the top level).
    pub section: &'a str,
    /// Which `[[section]]` entry.
    pub index: Option<usize>,
    /// The key.
    pub key: Option<&'a str>,
}

/// An experiment file as read: its text, path and parsed content.
#[derive(Debug, Clone)]
pub struct ExperimentFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// The parsed experiment, with defaults filled.
    pub experiment: Experiment,
}

impl ExperimentFile {
    /// Reads, parses and checks an experiment file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            location: path.display().to_string(),
            message: format!("cannot read the experiment file: {e}"),
        })?;
        Self::parse(path, text)
    }

    /// Parses and checks experiment text that came from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self, ConfigError> {
        let mut experiment: Experiment = toml::from_str(&text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            let location = match e.span() {
                Some(span) => {
                    let offset = refine(&text, span.start, &message);
                    let (line, column) = line_column(&text, offset);
                    format!("{}:{line}:{column}", path.display())
                }
                None => path.display().to_string(),
            };
            ConfigError { location, message }
        })?;
        if experiment.name.is_empty() {
            let stem = path
                .file_stem()
                .map_or_else(|| "experiment".into(), |s| s.to_string_lossy().into_owned());
            experiment.name = stem
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
                .trim_start_matches('.')
                .to_string();
        }
        let base = path.parent().unwrap_or(Path::new("."));
        experiment.environment.resolve_paths(base);
        if let Some(table) = &mut experiment.objective.latency_table
            && table.is_relative()
        {
            *table = base.join(&*table);
        }
        let trains = experiment.trains();
        let mut file = ExperimentFile {
            path: path.into(),
            text,
            experiment,
        };
        if trains {
            file.ensure_training();
        }
        file.check()?;
        Ok(file)
    }

    /// Fills in `[data]` and `[training]` with their defaults where absent (the data path made
    /// absolute), for evaluators and commands that train.
    pub fn ensure_training(&mut self) {
        let base = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let e = &mut self.experiment;
        let data = e.data.get_or_insert_with(DataConfig::default);
        if let Some(p) = data.path.as_mut().filter(|p| p.is_relative()) {
            let joined = base.join(&*p);
            *p = std::path::absolute(&joined).unwrap_or(joined);
        }
        e.training.get_or_insert_with(TrainConfig::default);
    }

    /// An error at `at`, located as precisely as the text allows.
    pub fn error(&self, at: KeyPath<'_>, message: impl Into<String>) -> ConfigError {
        let location = match locate(&self.text, at) {
            Some((line, column)) => format!("{}:{line}:{column}", self.path.display()),
            None => self.path.display().to_string(),
        };
        ConfigError {
            location,
            message: message.into(),
        }
    }

    /// Applies command-line overrides and re-checks.
    pub fn override_with(
        &mut self,
        seed: Option<u64>,
        seeds: Option<u64>,
        evaluations: Option<u64>,
    ) -> Result<(), ConfigError> {
        let flag = |name: &str, message: String| ConfigError {
            location: name.into(),
            message,
        };
        if seeds == Some(0) {
            return Err(flag("--seeds", "must be at least 1".into()));
        }
        if seeds.is_some_and(|n| n > MAX_SEEDS) {
            return Err(flag(
                "--seeds",
                format!("at most {MAX_SEEDS} seeds per controller"),
            ));
        }
        if evaluations == Some(0) {
            return Err(flag("--budget", "must allow at least 1 evaluation".into()));
        }
        let first = seed.unwrap_or(self.experiment.seed);
        let count = seeds.unwrap_or(self.experiment.seeds);
        if (seed.is_some() || seeds.is_some()) && first.checked_add(count - 1).is_none() {
            return Err(flag(
                if seed.is_some() { "--seed" } else { "--seeds" },
                format!("seeds {first} .. {first} + {count} overflow a 64-bit seed"),
            ));
        }
        let e = &mut self.experiment;
        if let Some(seed) = seed {
            e.seed = seed;
        }
        if let Some(seeds) = seeds {
            e.seeds = seeds;
        }
        if let Some(n) = evaluations {
            e.budget.evaluations = n;
            // Checkpoints beyond a smaller budget no longer apply.
            e.report.checkpoints.retain(|&c| c <= n);
        }
        self.check()
    }

    fn check(&self) -> Result<(), ConfigError> {
        let e = &self.experiment;
        let at = |section, key| KeyPath {
            section,
            index: None,
            key: Some(key),
        };
        if !e
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || e.name.starts_with('.')
        {
            return Err(self.error(
                at("", "name"),
                "name may only hold letters, digits, `-`, `_` and `.` (it names the run folder)",
            ));
        }
        if e.seeds == 0 || e.seeds > MAX_SEEDS {
            return Err(self.error(at("", "seeds"), format!("seeds must be in 1..={MAX_SEEDS}")));
        }
        if e.seed.checked_add(e.seeds - 1).is_none() {
            return Err(self.error(
                at("", "seed"),
                format!(
                    "seeds {} .. {} + {} overflow a 64-bit seed",
                    e.seed, e.seed, e.seeds
                ),
            ));
        }
        let b = &e.budget;
        if b.evaluations == 0 {
            return Err(self.error(
                at("budget", "evaluations"),
                "the budget must allow at least 1 evaluation",
            ));
        }
        for (key, value) in [
            ("simulated_seconds", b.simulated_seconds),
            ("wall_seconds", b.wall_seconds),
        ] {
            if value.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                return Err(self.error(
                    at("budget", key),
                    format!("{key} must be a positive number"),
                ));
            }
        }
        if !b.count_duplicates && b.cache == CacheMode::Off {
            return Err(self.error(
                at("budget", "count_duplicates"),
                "count_duplicates = false needs a cache (`exact` or `canonical`) to recognise repeats",
            ));
        }
        let o = &e.objective;
        match o.kind {
            RewardKind::Mnas => {
                if !o.target_ms.is_some_and(|t| t > 0.0 && t.is_finite()) {
                    return Err(self.error(
                        at("objective", "target_ms"),
                        "the mnas reward needs target_ms, a positive latency in milliseconds",
                    ));
                }
                if !e.evaluator.trains() {
                    return Err(self.error(
                        at("evaluator", "kind"),
                        "the mnas reward needs measured latencies: use a `standalone` or `supernet` evaluator",
                    ));
                }
                for (key, value) in [("alpha", o.alpha), ("beta", o.beta)] {
                    if value.is_some_and(|v| !v.is_finite()) {
                        return Err(self.error(
                            at("objective", key),
                            format!("{key} must be a finite number"),
                        ));
                    }
                }
            }
            RewardKind::SearchMetric => {
                for (key, set) in [
                    ("target_ms", o.target_ms.is_some()),
                    ("preset", o.preset.is_some()),
                    ("alpha", o.alpha.is_some()),
                    ("beta", o.beta.is_some()),
                ] {
                    if set {
                        return Err(self.error(
                            at("objective", key),
                            format!("{key} is a setting of the `mnas` reward only"),
                        ));
                    }
                }
            }
        }
        if o.latency == LatencySource::Table && !e.evaluator.trains() {
            return Err(self.error(
                at("objective", "latency"),
                "latency = \"table\" needs an evaluator that trains (`standalone` or `supernet`)",
            ));
        }
        if !e.objective.invalid_reward.is_finite() {
            return Err(self.error(
                at("objective", "invalid_reward"),
                "invalid_reward must be a finite number",
            ));
        }
        if let Some(f) = &e.finalists {
            if !(1..=100).contains(&f.top_k) {
                return Err(self.error(at("final", "top_k"), "top_k must be in 1..=100"));
            }
            if f.epochs == Some(0) {
                return Err(self.error(at("final", "epochs"), "epochs must be at least 1"));
            }
            if f.derive > 10_000 {
                return Err(self.error(at("final", "derive"), "derive must be at most 10000"));
            }
        }
        if let EvaluatorConfig::Supernet(settings) = &e.evaluator {
            if let Err((key, why)) = settings.check() {
                return Err(self.error(at("evaluator", key), why));
            }
            if settings.mode == SupernetMode::Enas && e.budget.cache != CacheMode::Off {
                return Err(self.error(
                    at("budget", "cache"),
                    "mode = \"enas\" scores each candidate with the weights as they stand; a cache would serve stale scores: set cache = \"off\"",
                ));
            }
        }
        if let Some(Err((key, why))) = e.training.as_ref().map(TrainConfig::check) {
            return Err(self.error(at("training", key), why));
        }
        if e.controller.is_empty() {
            return Err(self.error(
                at("", "controller"),
                "at least one [[controller]] is needed",
            ));
        }
        let mut names = HashSet::new();
        for (i, c) in e.controller.iter().enumerate() {
            let entry = |key| KeyPath {
                section: "controller",
                index: Some(i),
                key,
            };
            if !names.insert(c.name()) {
                return Err(self.error(
                    entry(Some("name")),
                    format!(
                        "two controllers are named `{}`; give each a distinct `name`",
                        c.name()
                    ),
                ));
            }
            if let Err((key, why)) = c.check() {
                return Err(self.error(entry(Some(key)), why));
            }
        }
        if let Some(&bad) = e
            .report
            .checkpoints
            .iter()
            .find(|&&c| c == 0 || c > b.evaluations)
        {
            return Err(self.error(
                at("report", "checkpoints"),
                format!(
                    "checkpoint {bad} is outside 1..={} (the budget)",
                    b.evaluations
                ),
            ));
        }
        Ok(())
    }

    /// The report checkpoints: the file's, or the default series, always ending at the budget.
    pub fn checkpoints(&self) -> Vec<u64> {
        let budget = self.experiment.budget.evaluations;
        let mut points = self.experiment.report.checkpoints.clone();
        if points.is_empty() {
            let mut scale: u64 = 10;
            'series: loop {
                for m in [1, 2, 5] {
                    match scale.checked_mul(m) {
                        Some(p) if p < budget => points.push(p),
                        _ => break 'series,
                    }
                }
                scale = match scale.checked_mul(10) {
                    Some(next) => next,
                    None => break,
                };
            }
        }
        points.push(budget);
        points.sort_unstable();
        points.dedup();
        points
    }

    /// The experiment as TOML, resolved.
    pub fn resolved_toml(&self) -> String {
        let mut resolved = self.experiment.clone();
        resolved.report.checkpoints = self.checkpoints();
        toml::to_string_pretty(&resolved).expect("an experiment is always serialisable")
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

/// Serde reports unknown fields and variants at the enclosing table; point at the offending
/// key (`name =`) or value (`"name"`) itself when it follows in the text.
fn refine(text: &str, start: usize, message: &str) -> usize {
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
    };
    let found = if let Some(key) = quoted("unknown field `") {
        text[start..]
            .lines()
            .scan(start, |offset, line| {
                let at = *offset;
                *offset += line.len() + 1;
                Some((at, line))
            })
            .find(|(_, line)| {
                let t = line.trim_start();
                t.strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with('='))
            })
            .map(|(at, line)| at + line.len() - line.trim_start().len())
    } else if let Some(value) = quoted("unknown variant `") {
        text[start..]
            .find(&format!("\"{value}\""))
            .map(|i| start + i)
    } else {
        None
    };
    found.unwrap_or(start)
}

/// Finds a section (and key) in TOML text by scanning its lines: headers `[section]` and
/// `[[section]]` (the `index`-th), then `key =` below them.
fn locate(text: &str, at: KeyPath<'_>) -> Option<(usize, usize)> {
    let mut in_section = at.section.is_empty();
    let mut seen = 0usize;
    let mut header_line = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            let name = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            in_section = false;
            if name == at.section {
                let wanted = at.index.unwrap_or(0);
                in_section = seen == wanted;
                if in_section {
                    header_line = Some(n + 1);
                }
                seen += 1;
            }
            continue;
        }
        if let (true, Some(key)) = (in_section, at.key) {
            let rest = trimmed.strip_prefix(key).map(str::trim_start);
            if rest.is_some_and(|r| r.starts_with('=')) {
                return Some((n + 1, line.len() - trimmed.len() + 1));
            }
        }
    }
    header_line.map(|l| (l, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[environment]
kind = "toy"
[budget]
evaluations = 30
[[controller]]
kind = "random"
[[controller]]
kind = "evolution"
population = 5
"#;

    fn parse(text: &str) -> Result<ExperimentFile, ConfigError> {
        ExperimentFile::parse(Path::new("exp.toml"), text.to_string())
    }

    #[test]
    fn a_good_file_resolves_with_defaults() {
        let f = parse(GOOD).unwrap();
        assert_eq!(f.experiment.controller.len(), 2);
        assert_eq!(f.checkpoints(), [10, 20, 30]);
        let resolved = f.resolved_toml();
        assert!(resolved.contains("count_duplicates = true"), "{resolved}");
        // The resolved file reads back to the same experiment, its checkpoints spelled out.
        let back = parse(&resolved).unwrap();
        assert_eq!(back.experiment.report.checkpoints, [10, 20, 30]);
        assert_eq!(back.experiment.controller, f.experiment.controller);
        assert_eq!(back.checkpoints(), f.checkpoints());
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = parse(&GOOD.replace("population = 5", "popsize = 5"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("exp.toml:11:1: unknown field `popsize`"),
            "{err}"
        );
        let err = parse(&GOOD.replace("\"toy\"", "\"toys\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("exp.toml:4:8: unknown variant `toys`") && err.contains("`nb201`"),
            "{err}"
        );
        let err = parse(&GOOD.replace("evaluations = 30", "evaluations = 0"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "exp.toml:6:1: the budget must allow at least 1 evaluation"
        );
        let err = parse(&GOOD.replace("population = 5", "population = 0"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("exp.toml:11:1: "), "{err}");
        let err = parse(&format!("seed = 18446744073709551615\nseeds = 2\n{GOOD}"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("exp.toml:1:1: seeds") && err.contains("overflow"),
            "{err}"
        );
        let err = parse(&GOOD.replace("evaluations = 30", "evaluations = \"x\""))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("exp.toml:6:15: invalid type"), "{err}");
    }

    #[test]
    fn free_repeats_need_a_cache() {
        let text = GOOD.replace(
            "evaluations = 30",
            "evaluations = 30\ncount_duplicates = false\ncache = \"off\"",
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("exp.toml:7:1: count_duplicates = false needs a cache"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_controller_names_are_refused() {
        let text = GOOD.replace("population = 5", "name = \"random\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("two controllers are named `random`"), "{err}");
    }

    #[test]
    fn the_mnas_reward_needs_a_target_and_measured_latencies() {
        let mnas = |objective: &str, evaluator: &str| {
            format!("{GOOD}\n[objective]\n{objective}\n[evaluator]\n{evaluator}\n")
        };
        let err = parse(&mnas("kind = \"mnas\"", "kind = \"supernet\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs target_ms"), "{err}");
        let err = parse(&mnas(
            "kind = \"mnas\"\ntarget_ms = -1.0",
            "kind = \"supernet\"",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs target_ms"), "{err}");
        let err = parse(&mnas(
            "kind = \"mnas\"\ntarget_ms = 5.0",
            "kind = \"table\"",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs measured latencies"), "{err}");
        let err = parse(&mnas("target_ms = 5.0", "kind = \"table\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("of the `mnas` reward only"), "{err}");
        let ok = parse(&mnas(
            "kind = \"mnas\"\ntarget_ms = 5.0\npreset = \"hard\"\nbeta = -2.0",
            "kind = \"supernet\"",
        ))
        .unwrap();
        let target = ok.experiment.objective.latency_target().unwrap();
        assert_eq!(
            (target.target_ms, target.alpha, target.beta),
            (5.0, 0.0, -2.0)
        );
    }
}
