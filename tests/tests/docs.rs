//! The documentation says what the code does: the README's experiment-file example lists the
//! registered kinds, its layout names every source file and folder, and the crates'
//! descriptions name their parts.

use archforge_experiments::registry::{CONTROLLERS, ENVIRONMENTS, EVALUATORS};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

/// The kinds the README's example lists in the comment after `marker`.
fn listed(readme: &str, marker: &str) -> Vec<String> {
    let line = readme
        .lines()
        .find(|l| l.starts_with(marker))
        .unwrap_or_else(|| panic!("no `{marker}` line in the README's example"));
    let comment = line.split('#').nth(1).unwrap();
    let kinds = comment.rsplit(':').next().unwrap();
    kinds.split('|').map(|k| k.trim().to_string()).collect()
}

#[test]
fn the_readme_example_lists_every_registered_kind() {
    let readme = read("README.md");
    let names = |entries: &[(&str, &str)]| -> Vec<String> {
        let mut v: Vec<String> = entries.iter().map(|(n, _)| n.to_string()).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(listed(&readme, "[environment]")),
        names(ENVIRONMENTS)
    );
    assert_eq!(sorted(listed(&readme, "[evaluator]")), names(EVALUATORS));
    assert_eq!(
        sorted(listed(&readme, "[objective]")),
        names(archforge::objective::RewardKind::ALL)
    );
    assert_eq!(listed(&readme, "cache = "), ["off", "exact", "canonical"]);
}

#[test]
fn the_readme_layout_names_every_source_file_and_folder() {
    let readme = read("README.md");
    let layout = &readme[readme.find("## Layout").unwrap()..];
    let layout = &layout[..layout.find("\n## ").unwrap()];
    for folder in [
        "src",
        "controllers/src",
        "environments/src",
        "experiments/src",
    ] {
        for entry in std::fs::read_dir(root().join(folder)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if matches!(name.as_str(), "lib.rs" | "main.rs" | "mod.rs")
                || name.ends_with(".gz")
                || name.ends_with(".md")
                || name == "tests.rs"
            {
                continue;
            }
            let shown = if entry.path().is_dir() {
                format!("{name}/")
            } else {
                name.trim_end_matches(".rs").to_string()
            };
            assert!(
                layout.contains(&shown),
                "the README's layout does not name {folder}/{name}"
            );
        }
    }
}

#[test]
fn the_controllers_crate_describes_every_controller() {
    let manifest = read("controllers/Cargo.toml").to_lowercase();
    let description = manifest
        .lines()
        .find(|l| l.starts_with("description"))
        .unwrap()
        .to_string();
    for (kind, _) in CONTROLLERS {
        assert!(
            description.contains(kind),
            "controllers/Cargo.toml does not describe `{kind}`"
        );
    }
}
