//! Experiment files: TOML read with serde (`deny_unknown_fields` everywhere), checked as a
//! whole before anything runs, and written back resolved — every default filled, command-line
//! overrides applied, relative paths made absolute — next to the results.
//!
//! Every problem is one line, `FILE:LINE:COLUMN: what is wrong`; an unknown name lists the
//! valid ones (serde's own wording), an unknown key is an error. Each section checks itself
//! ([`sections`], and the settings types of the core and the registry); this module adds the
//! checks that span sections and locates every refusal ([`location`]).

pub mod location;
pub mod sections;

pub use location::{ConfigError, KeyPath};
pub use sections::{
    BudgetConfig, CompressConfig, DistillConfig, FeaturesConfig, FinalConfig, FinalInit,
    LatencyPreset, LatencySource, ObjectiveConfig, RelativeTarget, ReportConfig,
};

use crate::registry::{ControllerConfig, EnvironmentConfig, EvaluatorConfig};
use crate::run_folder::file_safe;
use archforge::data::DataConfig;
use archforge::evaluator::{CacheMode, SupernetMode};
use archforge::nn::TrainConfig;
use archforge::objective::RewardKind;
use archforge::predictor::PredictorConfig;
use archforge::search::KeepWeights;
use archforge_environments::TeacherConfig;
use location::{line_column, locate, refine};
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
    /// The network to compress (`archforge train` without `--arch` trains it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<TeacherConfig>,
    /// How a compression's students learn from the teacher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distill: Option<DistillConfig>,
    /// What `archforge compress` does beside the first stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<CompressConfig>,
    /// Zero-cost proxies added to the space's features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<FeaturesConfig>,
    /// The performance predictors `archforge predictor-check` compares (`[[predictor]]`
    /// entries; none: its default list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predictor: Vec<PredictorConfig>,
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
            experiment.name = file_safe(&stem).trim_start_matches('.').to_string();
        }
        let base = path.parent().unwrap_or(Path::new("."));
        experiment.environment.resolve_paths(base);
        experiment.environment.attach_source(path, &text);
        if let Some(teacher) = &mut experiment.teacher {
            teacher.resolve_paths(base);
        }
        if let Some(data) = &mut experiment.data {
            data.resolve_paths(base);
        }
        if let Some(table) = &mut experiment.objective.latency_table
            && table.is_relative()
        {
            let joined = base.join(&*table);
            *table = std::path::absolute(&joined).unwrap_or(joined);
        }
        experiment.controller = std::mem::take(&mut experiment.controller)
            .into_iter()
            .map(|c| c.resolved(base))
            .collect();
        let trains = experiment.trains();
        let mut file = ExperimentFile {
            path: path.into(),
            text,
            experiment,
        };
        if trains {
            file.ensure_training();
        }
        if file.experiment.environment.compresses() {
            file.experiment
                .distill
                .get_or_insert_with(DistillConfig::default);
            file.experiment
                .compress
                .get_or_insert_with(CompressConfig::default);
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

    /// The file's `[data]` (the embedded digits when it has none), loaded and split.
    pub fn load_data(&self) -> anyhow::Result<archforge::data::Splits> {
        let base = self.path.parent().unwrap_or(Path::new("."));
        let config = self.experiment.data.clone().unwrap_or_default();
        config
            .load(base)
            .map_err(|e| anyhow::anyhow!("{}: data: {e}", self.path.display()))
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
        if (seed.is_some() || seeds.is_some()) && first.checked_add(count).is_none() {
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
        let refused =
            |section, (key, why): (&'static str, String)| self.error(at(section, key), why);
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
        // Rank checks train a second seed, `seed + 1`.
        if e.seed.checked_add(e.seeds).is_none() {
            return Err(self.error(
                at("", "seed"),
                format!(
                    "seeds {} .. {} + {} overflow a 64-bit seed",
                    e.seed, e.seed, e.seeds
                ),
            ));
        }
        e.budget.check().map_err(|r| refused("budget", r))?;
        if e.budget.keep_weights != KeepWeights::None
            && !matches!(
                e.evaluator,
                EvaluatorConfig::Standalone(_) | EvaluatorConfig::Supernet(_)
            )
        {
            return Err(self.error(
                at("budget", "keep_weights"),
                "keep_weights keeps trained weights: use a `standalone` or `supernet` evaluator",
            ));
        }
        // Latency is measured only on networks the evaluator trains and times.
        e.objective
            .check(matches!(
                e.evaluator,
                EvaluatorConfig::Standalone(_) | EvaluatorConfig::Supernet(_)
            ))
            .map_err(|r| refused("objective", r))?;
        if let Some(f) = &e.finalists {
            f.check().map_err(|r| refused("final", r))?;
            if f.init == FinalInit::Supernet && !matches!(e.evaluator, EvaluatorConfig::Supernet(_))
            {
                return Err(self.error(
                    at("final", "init"),
                    "init = \"supernet\" fine-tunes from a trained supernet: use a `supernet` evaluator",
                ));
            }
        }
        if let EvaluatorConfig::Proxy(settings) = &e.evaluator {
            settings.check().map_err(|r| refused("evaluator", r))?;
        }
        if let EvaluatorConfig::Supernet(settings) = &e.evaluator {
            settings.check().map_err(|r| refused("evaluator", r))?;
            if settings.mode == SupernetMode::Enas && e.budget.cache != CacheMode::Off {
                return Err(self.error(
                    at("budget", "cache"),
                    "mode = \"enas\" scores each candidate with the weights as they stand; a cache would serve stale scores: set cache = \"off\"",
                ));
            }
        }
        if let Some(training) = &e.training {
            training.check().map_err(|r| refused("training", r))?;
        }
        if let Some(data) = &e.data {
            data.check().map_err(|r| refused("data", r))?;
        }
        if let Some(teacher) = &e.teacher {
            teacher.check().map_err(|r| refused("teacher", r))?;
        }
        if let EnvironmentConfig::LayerShrinkage(shrinkage) = &e.environment {
            shrinkage.check().map_err(|r| refused("environment", r))?;
        }
        e.environment.check().map_err(|err| match err {
            archforge::Error::Space { location, reason } => ConfigError {
                location,
                message: reason,
            },
            other => self.error(at("environment", "kind"), other.to_string()),
        })?;
        if e.environment.compresses() {
            if !matches!(e.evaluator, EvaluatorConfig::Standalone(_)) {
                return Err(self.error(
                    at("evaluator", "kind"),
                    "a compression space's students train from their inherited weights: use evaluator `standalone`",
                ));
            }
            if e.teacher.is_none() {
                return Err(self.error(
                    at("environment", "kind"),
                    "a compression space needs a [teacher] section",
                ));
            }
        } else {
            for (section, set) in [
                ("distill", e.distill.is_some()),
                ("compress", e.compress.is_some()),
            ] {
                if set {
                    return Err(self.error(
                        KeyPath { section, index: None, key: None },
                        format!("[{section}] is for a compression space (`layer-removal`, `layer-shrinkage`)"),
                    ));
                }
            }
        }
        if let Some(compress) = &e.compress {
            compress.check().map_err(|r| refused("compress", r))?;
        }
        if e.objective.kind == RewardKind::N2n && !e.environment.compresses() {
            return Err(self.error(
                at("objective", "kind"),
                "the n2n reward compares students with their teacher: use a compression space",
            ));
        }
        if let Some(distill) = &e.distill {
            distill.check().map_err(|r| refused("distill", r))?;
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
            let name = c.name();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
            {
                return Err(self.error(
                    entry(Some("name")),
                    "a controller's name may only hold letters, digits, `-`, `_` and `.` (it names files)",
                ));
            }
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
        if let Some(f) = &e.features {
            f.check(e.evaluator.trains())
                .map_err(|r| refused("features", r))?;
        }
        for (i, p) in e.predictor.iter().enumerate() {
            if let Err((key, why)) = p.check() {
                let entry = KeyPath {
                    section: "predictor",
                    index: Some(i),
                    key: Some(key),
                };
                return Err(self.error(entry, why));
            }
        }
        e.report
            .check(e.budget.evaluations)
            .map_err(|r| refused("report", r))?;
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
    fn a_relative_data_path_resolves_against_the_files_folder() {
        let text = format!("{GOOD}\n[data]\nsource = \"mnist\"\npath = \"images\"\n");
        let f = ExperimentFile::parse(Path::new("/srv/experiments/exp.toml"), text).unwrap();
        let path = f.experiment.data.as_ref().unwrap().path.clone();
        assert_eq!(path, Some("/srv/experiments/images".into()));
        // The resolved file, read anywhere (a worker's), names the same folder.
        let back = ExperimentFile::parse(Path::new("run 1 of runs.db"), f.resolved_toml()).unwrap();
        assert_eq!(back.experiment.data.unwrap().path, path);
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
        // A proxy builds networks on the data but measures no latency.
        let err = parse(&mnas(
            "kind = \"mnas\"\ntarget_ms = 5.0",
            "kind = \"proxy\"",
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
        let target = ok.experiment.objective.latency_target(None).unwrap();
        assert_eq!(
            (target.target_ms, target.alpha, target.beta),
            (5.0, 0.0, -2.0)
        );
    }
}
