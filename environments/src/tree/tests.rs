use super::*;
use archforge::ability::GraphEncoding;
use archforge::arch::Op;

const FILE: &str = "space.toml";

/// The tree space of an experiment's `[environment]` table written as `body`, for 1x8x8
/// images and 10 classes.
fn tree(body: &str) -> Result<Tree> {
    let text = format!("name = \"t\"\n\n[environment]\nkind = \"tree\"\n{body}");
    let mut doc: toml::Table = toml::from_str(&text).map_err(|e| Error::Arch(e.to_string()))?;
    let mut section = doc.remove("environment").expect("an environment table");
    section.as_table_mut().expect("a table").remove("kind");
    let mut config: TreeConfig = section
        .try_into()
        .map_err(|e: toml::de::Error| Error::Arch(e.to_string()))?;
    config.source = Some(Source {
        path: FILE.into(),
        text: text.into(),
    });
    Tree::new(&config, None)
}

fn error(body: &str) -> String {
    tree(body).unwrap_err().to_string()
}

const SMALL: &str = r#"
space = [
  { conv = { filters = { shared = "width" }, kernel = [3, 5] } },
  { activation = { function = ["relu", "tanh"] } },
  { optional = { max_pool = {} } },
  { residual = { conv = { filters = { shared = "wide" } } } },
]
shared = { width = [4, 8], wide = { of = "width", times = 2 } }
training = { learning_rate = [0.1, 0.01] }
"#;

#[test]
fn decisions_come_depth_first_with_training_first_and_shared_names_once() {
    let t = tree(SMALL).unwrap();
    let kinds: Vec<&str> = (0..)
        .scan(Vec::new(), |prefix: &mut Vec<usize>, _| {
            let choice = t.next_choice(prefix).unwrap()?;
            prefix.push(0);
            Some(t.spec().kinds[choice.kind].name.as_str())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "training.learning_rate",
            "shared.width",
            "space[0].conv.kernel",
            "space[1].activation",
            "space[2].optional",
        ]
    );
    // The residual's conv follows the shared width: 2 x 8 filters where width is 8.
    let c = t.build(&[1, 1, 0, 0, 1]).unwrap();
    assert_eq!(
        c.label,
        "learning_rate=0.01 conv(8,3x3,s1) relu max_pool(2,s2) conv(16,3x3,s1) 5:add(4,3)"
    );
    assert_eq!(c.training["learning_rate"], serde_json::json!(0.01));
    // The residual's body widens 8 -> 16 channels: the skip is projected.
    let ops: Vec<String> = c
        .arch()
        .node_ids()
        .map(|id| c.arch().node(id).name.clone())
        .collect();
    assert!(ops.iter().any(|n| n == "n5.projection"), "{ops:?}");
    assert_eq!(t.spec().max_length, 5);
}

#[test]
fn training_choices_are_part_of_the_hash() {
    let t = tree(SMALL).unwrap();
    let a = t.build(&[0, 1, 0, 0, 1]).unwrap();
    let b = t.build(&[1, 1, 0, 0, 1]).unwrap();
    assert_eq!(a.arch().canonical_hash(), b.arch().canonical_hash());
    assert_ne!(a.hash, b.hash);
}

#[test]
fn every_sampled_network_encodes_decodes_and_has_features_of_one_length() {
    let t = tree(SMALL).unwrap();
    let mut rng = archforge::rng::seeded(4);
    for _ in 0..40 {
        let mut d = Vec::new();
        archforge::env::complete_uniformly(&t, &mut d, &mut rng).unwrap();
        let graph = GraphEncoding::encode(&t, &d).unwrap();
        assert_eq!(GraphEncoding::decode(&t, &graph).unwrap(), d);
        let x = Features::vector(&t, &d).unwrap();
        assert_eq!(x.len(), t.feature_names().len());
        assert!(x[0] >= 3.0);
    }
}

#[test]
fn sampled_networks_run_in_the_trainer() {
    let t = tree(SMALL).unwrap();
    crate::forward_check::sampled_networks_run(&t, Shape::new(1, 8, 8), 10, 6);
}

#[test]
fn a_repeat_decides_its_count_before_its_copies() {
    let t = tree(
        r#"space = [{ repeat = { counts = [0, 1, 2], module = [{ dense = { units = [4, 8] } }] } }, { dense = { units = 3 } }]"#,
    )
    .unwrap();
    assert_eq!(t.spec().max_length, 3);
    assert!(t.next_choice(&[0]).unwrap().is_none());
    assert_eq!(t.next_choice(&[2, 1]).unwrap().unwrap().options, 2);
    let c = t.build(&[2, 1, 0]).unwrap();
    assert_eq!(c.label, "dense(8) dense(4) dense(3)");
    assert!(t.build(&[0, 1]).is_err());
}

#[test]
fn concat_joins_branches_along_channels() {
    let t = tree(
        r#"space = [{ concat = [{ conv = { filters = 3 } }, { conv = { filters = 5, kernel = 1 } }] }]"#,
    )
    .unwrap();
    let c = t.build(&[]).unwrap();
    let concat = c
        .arch()
        .node_ids()
        .find(|&id| c.arch().node(id).op == Op::Concat)
        .unwrap();
    assert_eq!(c.arch().node(concat).shape.unwrap().channels, 8);
}

#[test]
fn a_wrong_space_is_one_line_naming_its_file_and_line() {
    let cases = [
        (
            "space = [\n  { convv = { filters = 4 } },\n]",
            "space.toml:6:5",
            "unknown variant `convv`",
        ),
        (
            "space = [\n  { conv = { filter = 4 } },\n]",
            "space.toml:6:",
            "unknown field `filter`",
        ),
        (
            "space = [\n  { conv = { filters = 4, kernel = [3, 4] } },\n]",
            "space.toml:6:",
            "`4` is not an odd whole number",
        ),
        (
            "space = [\n  { conv = { filters = { shared = \"w\" } } },\n]",
            "space.toml:6:",
            "`w` names no shared hyper-parameter",
        ),
        (
            "space = [{ dense = { units = { shared = \"a\" } } }]\nshared = { a = { of = \"b\" }, b = { of = \"a\" } }",
            "space.toml:6:",
            "shared names form a cycle: a -> b -> a",
        ),
        (
            "space = [{ dense = { units = 4 } }]\nshared = { unused = [1, 2] }",
            "space.toml:6:",
            "`unused` is never used",
        ),
        (
            "space = [\n  { residual = { repeat = { counts = [0, 1], module = [{ conv = { filters = 4 } }] } } },\n]",
            "space.toml:6:",
            "a residual around a module that can be empty",
        ),
        (
            "space = [{ optional = { dense = { units = 4 } } }]",
            "space.toml:5:",
            "the whole network can be empty",
        ),
        (
            "space = [{ dense = { units = 4 } }]\ntraining = { learning_rat = [0.1] }",
            "space.toml:6:",
            "training `learning_rat`",
        ),
        (
            "space = [\n  { max_pool = {} },\n  { max_pool = {} },\n  { max_pool = {} },\n  { max_pool = {} },\n]",
            "space.toml:9:",
            "no network of the space builds",
        ),
    ];
    for (body, at, says) in cases {
        let err = error(body);
        assert!(err.starts_with(at), "{body}: {err}");
        assert!(err.contains(says), "{body}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn a_space_in_a_file_of_its_own_names_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.toml");
    std::fs::write(&path, "space = [\n  { conv = { filters = 0 } },\n]\n").unwrap();
    let config = TreeConfig {
        file: Some(path.clone()),
        ..TreeConfig::default()
    };
    let err = Tree::new(&config, None).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:2:", path.display())), "{err}");
    std::fs::write(&path, "space = [{ conv = { filters = 4 } }]\n").unwrap();
    let t = Tree::new(&config, None).unwrap();
    assert_eq!(t.build(&[]).unwrap().label, "conv(4,3x3,s1)");
}

#[test]
fn a_space_built_from_rust_has_the_same_structure() {
    let raw = |v: toml::Value| toml::Spanned::new(0..0, v);
    let conv = language::ConvDef {
        filters: raw(toml::Value::Array(vec![4.into(), 8.into()])),
        kernel: None,
        stride: None,
    };
    let def = SpaceDef {
        space: vec![toml::Spanned::new(0..0, Module::Conv(conv))],
        ..SpaceDef::default()
    };
    let t = Tree::from_def(&def, Source::default(), None).unwrap();
    assert_eq!(t.build(&[1]).unwrap().label, "conv(8,3x3,s1)");
}
