//! Plots, drawn as SVG with plotters: curves with a mean +- std band per controller (best so
//! far against evaluations on a log scale, so that the early search is as visible as the late
//! one; learning curves of the reward on a linear one); scatter plots for rank checks; Pareto
//! fronts over all evaluations.

use anyhow::{Result, anyhow};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

/// One controller's curve: `(evaluations, mean, std)` points.
pub struct Curve {
    /// Legend name.
    pub name: String,
    /// The points, in increasing x.
    pub points: Vec<(f64, f64, f64)>,
}

const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The axes of a curve plot.
pub struct Axes<'a> {
    /// The x axis' label.
    pub x: &'a str,
    /// The y axis' label.
    pub y: &'a str,
    /// Whether x is on a log scale.
    pub log_x: bool,
}

/// Draws mean +- std of the best-so-far reported metric against evaluations.
pub fn best_so_far(path: &Path, title: &str, curves: &[Curve]) -> Result<()> {
    let axes = Axes {
        x: "evaluations (log scale)",
        y: "reported metric of best-so-far (mean ± std)",
        log_x: true,
    };
    lines(path, title, &axes, curves)
}

/// Draws the later half of the best-so-far curves (linear evaluations) with the y axis fitted
/// to the means there, so that controllers a tenth of a point apart look apart; bands are cut
/// at the axes.
pub fn best_so_far_tail(path: &Path, title: &str, curves: &[Curve]) -> Result<()> {
    let x_max = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let from = (x_max / 2.0).floor().max(1.0);
    fn tail(c: &Curve, from: f64) -> impl Iterator<Item = &(f64, f64, f64)> {
        c.points.iter().filter(move |p| p.0 >= from)
    }
    let (lo, hi) = curves
        .iter()
        .flat_map(|c| tail(c, from).map(|p| p.1))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), m| {
            (lo.min(m), hi.max(m))
        });
    let pad = ((hi - lo) * 0.25).max(0.05);
    let clipped: Vec<Curve> = curves
        .iter()
        .map(|c| Curve {
            name: c.name.clone(),
            points: tail(c, from)
                .map(|&(x, m, s)| (x, m, s.min(m - (lo - pad)).min(hi + pad - m).max(0.0)))
                .collect(),
        })
        .collect();
    let axes = Axes {
        x: "evaluations (later half)",
        y: "reported metric of best-so-far (mean ± std, cut)",
        log_x: false,
    };
    lines(path, &format!("{title}: the later half"), &axes, &clipped)
}

/// Draws each curve's mean as a line and its mean +- std as a band.
pub fn lines(path: &Path, title: &str, axes: &Axes, curves: &[Curve]) -> Result<()> {
    let all = curves.iter().flat_map(|c| c.points.iter());
    let (mut x_min, mut x_max) = (f64::INFINITY, 1.0f64);
    let (mut y_min, mut y_max) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, m, s) in all {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(m - s);
        y_max = y_max.max(m + s);
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    let pad = ((y_max - y_min) * 0.05).max(1e-3);
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        // A log axis starts at the first evaluation; a linear one where its curves start.
        let x_start = if axes.log_x || !x_min.is_finite() {
            1.0
        } else {
            x_min.min(x_max - 1.0)
        };
        let x_range = x_start..x_max.max(x_start + 1.0);
        let y_range = (y_min - pad)..(y_max + pad);
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60);
        if axes.log_x {
            let mut chart = builder.build_cartesian_2d(x_range.log_scale(), y_range)?;
            draw_curves(&mut chart, axes, curves)?;
        } else {
            let mut chart = builder.build_cartesian_2d(x_range, y_range)?;
            draw_curves(&mut chart, axes, curves)?;
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow!("drawing {}: {e}", path.display()))
}

/// The mesh, bands, lines and legend of `curves` on `chart`.
fn draw_curves<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    axes: &Axes,
    curves: &[Curve],
) -> Result<(), Box<dyn std::error::Error + 'a>>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(axes.x)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .y_desc(axes.y)
        .draw()?;
    for (i, curve) in curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut band: Vec<(f64, f64)> = curve.points.iter().map(|&(x, m, s)| (x, m + s)).collect();
        band.extend(curve.points.iter().rev().map(|&(x, m, s)| (x, m - s)));
        chart.draw_series(std::iter::once(Polygon::new(
            band,
            colour.mix(0.15).filled(),
        )))?;
        chart
            .draw_series(LineSeries::new(
                curve.points.iter().map(|&(x, m, _)| (x, m)),
                colour.stroke_width(2),
            ))?
            .label(curve.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    legend(chart)
}

/// The legend of `chart`'s labelled series, framed, in the lower right corner.
fn legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
) -> Result<(), Box<dyn std::error::Error>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The range of `values` padded by 5 % each side (`0..1` when there are none).
fn padded(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-3 * hi.abs().max(1.0));
    (lo - pad)..(hi + pad)
}

/// The chart both point plots draw on: linear axes over `xs` x `ys` with a labelled mesh.
type XyChart<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A `width` x 560 SVG at `path`: a titled [`XyChart`] whose series `draw` adds.
fn xy_plot(
    path: &Path,
    width: u32,
    title: &str,
    (xs, ys): (std::ops::Range<f64>, std::ops::Range<f64>),
    (x_desc, y_desc): (&str, &str),
    draw: impl FnOnce(&mut XyChart) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<()> {
    let plot = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (width, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(xs, ys)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()?;
        draw(&mut chart)?;
        root.present()?;
        Ok(())
    };
    plot().map_err(|e| anyhow!("drawing {}: {e}", path.display()))
}

/// Draws `points` as a scatter plot with axis labels.
pub fn scatter(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[(f64, f64)],
) -> Result<()> {
    let ranges = (
        padded(points.iter().map(|p| p.0)),
        padded(points.iter().map(|p| p.1)),
    );
    xy_plot(path, 700, title, ranges, (x_desc, y_desc), |chart| {
        chart.draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, 4, COLOURS[0].filled())),
        )?;
        Ok(())
    })
}

/// One controller's Pareto front: its points in increasing cost.
pub struct Front {
    /// Legend name.
    pub name: String,
    /// `(cost, metric)` points.
    pub points: Vec<(f64, f64)>,
}

/// Draws every evaluation `(cost, metric)` faint and each front bold, as a staircase, and
/// `marker` (a cost and its label: a latency target, say) as a dashed vertical line.
pub fn pareto(
    path: &Path,
    title: &str,
    x_desc: &str,
    all: &[(f64, f64)],
    fronts: &[Front],
    marker: Option<(f64, String)>,
) -> Result<()> {
    let xs = padded(all.iter().map(|p| p.0).chain(marker.as_ref().map(|m| m.0)));
    let ys = padded(all.iter().map(|p| p.1));
    let (y_lo, y_hi) = (ys.start, ys.end);
    xy_plot(
        path,
        800,
        title,
        (xs, ys),
        (x_desc, "search metric"),
        |chart| {
            chart.draw_series(
                all.iter()
                    .map(|&p| Circle::new(p, 2, BLACK.mix(0.15).filled())),
            )?;
            if let Some((x, label)) = &marker {
                let style = BLACK.mix(0.6).stroke_width(1);
                chart
                    .draw_series(DashedLineSeries::new([(*x, y_lo), (*x, y_hi)], 6, 4, style))?
                    .label(label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
            for (i, front) in fronts.iter().enumerate() {
                let colour = COLOURS[i % COLOURS.len()];
                let mut stairs = Vec::new();
                for (k, &(x, y)) in front.points.iter().enumerate() {
                    if k > 0 {
                        stairs.push((x, front.points[k - 1].1));
                    }
                    stairs.push((x, y));
                }
                chart
                    .draw_series(LineSeries::new(stairs, colour.stroke_width(2)))?
                    .label(front.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
                chart.draw_series(
                    front
                        .points
                        .iter()
                        .map(|&p| Circle::new(p, 4, colour.filled())),
                )?;
            }
            legend(chart)
        },
    )
}

/// One run's lineage: each network `(evaluation, metric)` and a line from each parent's point
/// to its child's.
pub struct Lineage {
    /// The panel's title.
    pub name: String,
    /// The networks' points.
    pub points: Vec<(f64, f64)>,
    /// `(parent, child)` point pairs.
    pub edges: Vec<((f64, f64), (f64, f64))>,
}

/// Draws `panels` side by side (as many columns as make a square), one chart per run on
/// shared axes.
pub fn lineages(path: &Path, title: &str, panels: &[Lineage]) -> Result<()> {
    let plot = || -> Result<(), Box<dyn std::error::Error>> {
        let columns = (panels.len() as f64).sqrt().ceil().max(1.0) as usize;
        let rows = panels.len().div_ceil(columns).max(1);
        let root = SVGBackend::new(path, (360 * columns as u32, 300 * rows as u32 + 40))
            .into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 18))?;
        let all = || panels.iter().flat_map(|p| p.points.iter());
        let xs = padded(all().map(|p| p.0));
        let ys = padded(all().map(|p| p.1));
        for (panel, area) in panels.iter().zip(root.split_evenly((rows, columns))) {
            let mut chart = ChartBuilder::on(&area)
                .caption(&panel.name, ("sans-serif", 14))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(45)
                .build_cartesian_2d(xs.clone(), ys.clone())?;
            chart
                .configure_mesh()
                .x_desc("evaluation")
                .y_desc("search metric")
                .draw()?;
            chart.draw_series(
                panel
                    .edges
                    .iter()
                    .map(|&(a, b)| PathElement::new(vec![a, b], BLACK.mix(0.3).stroke_width(1))),
            )?;
            chart.draw_series(
                panel
                    .points
                    .iter()
                    .map(|&p| Circle::new(p, 3, COLOURS[0].filled())),
            )?;
        }
        root.present()?;
        Ok(())
    };
    plot().map_err(|e| anyhow!("drawing {}: {e}", path.display()))
}
