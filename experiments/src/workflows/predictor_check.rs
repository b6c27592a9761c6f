//! `archforge predictor-check`: how well does each performance predictor rank architectures
//! it has not seen? Every architecture of the file's benchmark table is listed (the space is
//! enumerated and each sequence looked up by its label); per seed, `N` of them drawn at random
//! train each predictor of the file's `[[predictor]]` entries (or [`default_predictors`]) on
//! their search metric, and the rest are the test set. Kendall's tau and Spearman's rho of the
//! predictions against the true metric, the true search and reported metrics of the test
//! architecture each predictor ranks first, and the seconds to fit and to predict are recorded per seed and
//! training size in `predictor_check.csv`, and summarised (mean and standard deviation over
//! seeds) in `predictor_summary.csv`.

use super::rank::{kendall, spearman};
use crate::config::ExperimentFile;
use crate::report::summary::describe;
use crate::run_folder::create_run_folder;
use crate::runner::Prepared;
use anyhow::{Context, Result, bail};
use archforge::predictor::{EnsembleConfig, Input, NeuralConfig, PredictorConfig, Sample};
use archforge::record::write_rows;
use archforge::{Environment, Table};
use rand::seq::SliceRandom as _;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The most architectures a space may have to be listed whole.
pub const MAX_ARCHITECTURES: usize = 200_000;

/// The predictors checked when the file names none: the SMBO default (ridge on the
/// features), a random forest, the perceptron, the graph network and an ensemble of five
/// graph networks.
pub fn default_predictors() -> Vec<PredictorConfig> {
    vec![
        PredictorConfig::default(),
        PredictorConfig::Forest(Default::default()),
        PredictorConfig::Mlp(NeuralConfig::default()),
        PredictorConfig::Gcn(NeuralConfig::default()),
        PredictorConfig::Ensemble(EnsembleConfig {
            members: 5,
            bootstrap: false,
            of: Box::new(PredictorConfig::Gcn(NeuralConfig::default())),
        }),
    ]
}

/// One predictor fitted on one draw, as written to `predictor_check.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// The draw's seed.
    pub seed: u64,
    /// Training architectures.
    pub train: usize,
    /// Test architectures (the rest of the table).
    pub test: usize,
    /// The predictor's label (`gcn`, `ensemble-5-gcn`, ...; `gcn#3` for the third entry
    /// when two entries share a label).
    pub predictor: String,
    /// Its settings, as JSON.
    pub settings: String,
    /// Kendall's tau-b of its predictions on the test set (none when constant).
    pub kendall: Option<f64>,
    /// Spearman's rho on the test set (none when constant).
    pub spearman: Option<f64>,
    /// The true search metric of the test architecture it predicts best.
    pub top_metric: f64,
    /// That architecture's reported metric.
    pub top_reported: f64,
    /// Seconds to fit.
    pub fit_seconds: f64,
    /// Seconds to predict the whole test set.
    pub predict_seconds: f64,
}

/// One line of `predictor_summary.csv`: a predictor at one training size over all seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Training architectures.
    pub train: usize,
    /// The predictor's label.
    pub predictor: String,
    /// Seeds its correlations are over (those whose predictions were not constant).
    pub seeds: usize,
    /// Mean Kendall tau.
    pub kendall_mean: f64,
    /// Its standard deviation over seeds.
    pub kendall_sd: f64,
    /// Mean Spearman rho.
    pub spearman_mean: f64,
    /// Its standard deviation over seeds.
    pub spearman_sd: f64,
    /// Mean true metric of the predicted-best test architecture.
    pub top_metric_mean: f64,
    /// Mean reported metric of the predicted-best test architecture.
    pub top_reported_mean: f64,
    /// Mean seconds to fit.
    pub fit_seconds_mean: f64,
}

/// Every architecture of the table: its sequence, its search metric (negated where smaller
/// is better, so larger is better here) and its reported metric.
struct Listed {
    decisions: Vec<Vec<usize>>,
    metric: Vec<f64>,
    reported: Vec<f64>,
}

fn list_table(env: &dyn Environment, table: &Table) -> Result<Listed> {
    let all = archforge::env::enumerate(env, MAX_ARCHITECTURES)?.with_context(|| {
        format!(
            "`{}` has more than {MAX_ARCHITECTURES} architectures: predictor-check lists a \
             space whole",
            env.spec().name
        )
    })?;
    let (mut decisions, mut metric, mut reported) = (Vec::new(), Vec::new(), Vec::new());
    for d in all {
        if let Ok(c) = env.build(&d)
            && let Some(row) = table.rows.get(&c.label)
        {
            decisions.push(d);
            metric.push(if table.maximize {
                row.search
            } else {
                -row.search
            });
            reported.push(row.reported);
        }
    }
    Ok(Listed {
        decisions,
        metric,
        reported,
    })
}

/// Each predictor's label, with its entry's number (`gcn#3`) where two share one.
fn labels(predictors: &[PredictorConfig]) -> Vec<String> {
    let plain: Vec<String> = predictors.iter().map(|p| p.label()).collect();
    plain
        .iter()
        .enumerate()
        .map(|(i, l)| match plain.iter().filter(|m| *m == l).count() {
            1 => l.clone(),
            _ => format!("{l}#{}", i + 1),
        })
        .collect()
}

/// The mean and standard deviation (n - 1) of the finite `values`, and how many they are;
/// NaN for none.
fn mean_sd(values: &[f64]) -> (f64, f64, usize) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return (f64::NAN, f64::NAN, 0);
    }
    let (mean, sd, ..) = describe(&finite);
    (mean, sd, finite.len())
}

/// Runs the check into `out`: every predictor at every size in `train`, on `seeds` draws
/// starting at the file's seed.
pub fn run(
    file: &ExperimentFile,
    train: &[usize],
    seeds: u64,
    out: &Path,
) -> Result<(Vec<Checked>, Vec<Summary>)> {
    let mut sizes = Vec::new();
    for &n in train {
        if !sizes.contains(&n) {
            sizes.push(n);
        }
    }
    let train = &sizes[..];
    let prepared = Prepared::new(file)?;
    let env = prepared.env();
    let Some(table) = env.benchmark() else {
        bail!(
            "predictor-check needs a space with a benchmark table; `{}` has none",
            env.spec().name
        );
    };
    let predictors = match &file.experiment.predictor {
        p if p.is_empty() => default_predictors(),
        p => p.clone(),
    };
    let labels = labels(&predictors);
    let listed = list_table(env, &table)?;
    let total = listed.decisions.len();
    if let Some(&n) = train.iter().find(|&&n| n < 2 || n + 2 > total) {
        bail!(
            "--train {n}: the table has {total} architectures; train on 2 to {} of them",
            total.saturating_sub(2)
        );
    }
    // Every architecture's input for each kind of predictor, built once.
    let inputs = |input: Input| -> Result<Vec<Sample>> {
        listed
            .decisions
            .iter()
            .map(|d| Ok(Sample::of(env, d, input)?))
            .collect()
    };
    let needs: Vec<Input> = predictors.iter().map(|p| p.input()).collect();
    let features = match needs.contains(&Input::Features) {
        true => inputs(Input::Features)?,
        false => Vec::new(),
    };
    let graphs = match needs.contains(&Input::Graph) {
        true => inputs(Input::Graph)?,
        false => Vec::new(),
    };

    create_run_folder(out)?;
    std::fs::write(out.join("experiment.toml"), file.resolved_toml())?;
    let mut checked = Vec::new();
    for seed in file.experiment.seed..file.experiment.seed + seeds {
        let mut order: Vec<usize> = (0..total).collect();
        order.shuffle(&mut archforge::rng::seeded(seed));
        for &n in train {
            let (fit_on, test) = order.split_at(n);
            let targets: Vec<f64> = fit_on.iter().map(|&i| listed.metric[i]).collect();
            let truth: Vec<f64> = test.iter().map(|&i| listed.metric[i]).collect();
            for (config, label) in predictors.iter().zip(&labels) {
                let samples = match config.input() {
                    Input::Features => &features,
                    Input::Graph => &graphs,
                };
                let rows: Vec<Sample> = fit_on.iter().map(|&i| samples[i].clone()).collect();
                let mut predictor = config.build();
                let started = Instant::now();
                predictor.fit(&rows, &targets, &mut archforge::rng::seeded(seed ^ 0x9e37))?;
                let fit_seconds = started.elapsed().as_secs_f64();
                let started = Instant::now();
                let predicted = test
                    .iter()
                    .map(|&i| predictor.predict(&samples[i]).map(|p| p.mean))
                    .collect::<archforge::error::Result<Vec<f64>>>()?;
                let predict_seconds = started.elapsed().as_secs_f64();
                let top = (0..test.len())
                    .max_by(|&a, &b| predicted[a].total_cmp(&predicted[b]))
                    .expect("a test set");
                let finite = |v: f64| v.is_finite().then_some(v);
                let row = Checked {
                    seed,
                    train: n,
                    test: test.len(),
                    predictor: label.clone(),
                    settings: serde_json::to_string(config)?,
                    kendall: finite(kendall(&predicted, &truth)),
                    spearman: finite(spearman(&predicted, &truth)),
                    top_metric: if table.maximize {
                        truth[top]
                    } else {
                        -truth[top]
                    },
                    top_reported: listed.reported[test[top]],
                    fit_seconds,
                    predict_seconds,
                };
                eprintln!(
                    "seed {seed}, train {n}: {} tau {:.3} rho {:.3} ({:.1} s to fit)",
                    row.predictor,
                    row.kendall.unwrap_or(f64::NAN),
                    row.spearman.unwrap_or(f64::NAN),
                    fit_seconds
                );
                checked.push(row);
            }
        }
    }
    let mut summary = Vec::new();
    for &n in train {
        for label in &labels {
            let rows: Vec<&Checked> = checked
                .iter()
                .filter(|c| c.train == n && &c.predictor == label)
                .collect();
            let of = |f: fn(&Checked) -> f64| rows.iter().map(|c| f(c)).collect::<Vec<f64>>();
            let (kendall_mean, kendall_sd, seeds) = mean_sd(&of(|c| c.kendall.unwrap_or(f64::NAN)));
            let (spearman_mean, spearman_sd, _) = mean_sd(&of(|c| c.spearman.unwrap_or(f64::NAN)));
            summary.push(Summary {
                train: n,
                predictor: label.clone(),
                seeds,
                kendall_mean,
                kendall_sd,
                spearman_mean,
                spearman_sd,
                top_metric_mean: mean_sd(&of(|c| c.top_metric)).0,
                top_reported_mean: mean_sd(&of(|c| c.top_reported)).0,
                fit_seconds_mean: mean_sd(&of(|c| c.fit_seconds)).0,
            });
        }
    }
    write_rows(&out.join("predictor_check.csv"), &checked)?;
    write_rows(&out.join("predictor_summary.csv"), &summary)?;
    Ok((checked, summary))
}
