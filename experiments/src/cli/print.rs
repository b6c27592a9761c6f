//! What several subcommands print: the best architecture of a run, the finalists, and the
//! correlations of a rank or proxy check.

use crate::report::BestArch;
use crate::workflows::finalists::Finalist;
use crate::workflows::rank::Correlation;

/// Prints the best architecture (or that none scored).
pub fn best(best: Option<&BestArch>) {
    let Some(b) = best else {
        println!("No architecture was scored successfully.");
        return;
    };
    let num = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.4}"));
    let count = |v: Option<u64>| v.map_or_else(|| "–".into(), |v| v.to_string());
    println!(
        "\nBest architecture (controller `{}`, seed {}, evaluation {}):",
        b.controller, b.seed, b.step
    );
    let r = &b.record;
    println!("  arch             {}", r.arch);
    println!("  decisions        {}", r.decisions);
    println!("  canonical hash   {}", r.hash);
    println!("  search metric    {}", num(r.search_metric));
    println!("  reported metric  {}", num(r.reported_metric));
    println!("  params           {}", count(r.params));
    println!("  MACs             {}", count(r.macs));
}

/// Prints the finalists as a Markdown table (nothing when there are none).
pub fn finalists(finalists: &[Finalist]) {
    if finalists.is_empty() {
        return;
    }
    let num = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.2}"));
    println!("\nFinalists retrained stand-alone:");
    println!("| rank | search metric | init | final valid | final test | params | status | arch |");
    println!("|---:|---:|---|---:|---:|---:|---|---|");
    for f in finalists {
        let r = &f.record;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            f.rank,
            num(f.search_score),
            f.init,
            num(r.search_metric),
            num(r.reported_metric),
            r.params.map_or_else(|| "–".into(), |p| p.to_string()),
            r.status,
            r.arch
        );
    }
}

/// The correlations as a Markdown table with their intervals.
pub fn correlations(correlations: &[Correlation]) {
    println!("| scorer | archs | Kendall tau [95 % CI] | Spearman rho [95 % CI] | s / arch |");
    println!("|---|---:|---:|---:|---:|");
    for c in correlations {
        let seconds = c
            .seconds_per_arch
            .map_or_else(|| "–".into(), |s| format!("{s:.3}"));
        println!(
            "| {} | {} | {} | {} | {seconds} |",
            c.scorer,
            c.architectures,
            interval(c.kendall, c.kendall_low, c.kendall_high),
            interval(c.spearman, c.spearman_low, c.spearman_high),
        );
    }
}

/// An estimate and its interval, `0.123 [0.045, 0.201]`; `– (constant)` when there is none.
pub fn interval(estimate: Option<f64>, low: Option<f64>, high: Option<f64>) -> String {
    match (estimate, low, high) {
        (Some(e), Some(l), Some(h)) => format!("{e:.3} [{l:.3}, {h:.3}]"),
        (Some(e), ..) => format!("{e:.3}"),
        _ => "– (constant)".into(),
    }
}
