//! Tree-structured search spaces in DeepArchitect's manner: users compose a space from basic
//! modules (conv, separable conv, pooling, dense, batch norm, activation, dropout, global
//! pooling) whose hyper-parameters are lists of values, and substitution modules (`or`,
//! `optional`, `repeat`, `concat`, `residual`) over other modules; hyper-parameters can be
//! shared by name, and training settings (a learning rate, an optimiser) can be decisions too.
//! Decisions come in a fixed depth-first order, so every space is a tree of decisions — what
//! MCTS walks and what any other controller sees as an ordinary decision process.
//!
//! - [`language`]: the space as written (nested TOML tables, or the same types from Rust);
//! - [`compile`]: checks and lowers it into [`space`], errors at `FILE:LINE:COLUMN`;
//! - [`walk`]: a decision prefix through the space, emitting the network's nodes;
//! - [`build`]: a walked network as an architecture the shared trainer trains;
//! - [`features`] and [`graph`]: the features and graph-encoding abilities.
//!
//! When the space is loaded it is also probed: networks are drawn and built for the run's
//! images, and a space none of whose draws builds (shapes that never fit) is refused with the
//! place where they stop fitting. A network that does not build in a space where others do is
//! an `Invalid` evaluation.

pub mod build;
pub mod compile;
pub mod features;
pub mod graph;
pub mod language;
pub mod space;
#[cfg(test)]
mod tests;
pub mod walk;

pub use language::{Module, Source, SpaceDef};
pub use space::Space;

use crate::images::Images;
use archforge::ability::{ArchGraph, Features, GraphEncoding, NetworkLayers};
use archforge::arch::{Arch, Shape};
use archforge::candidate::Candidate;
use archforge::env::{Choice, EnvSpec, Environment};
use archforge::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use walk::{End, Walked};

/// How many networks the load-time probe draws.
const PROBES: usize = 32;

/// The `[environment]` section for `kind = "tree"`: the space inline (`space`, `shared`,
/// `training`) or in a file of its own (`file`, holding those three keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeConfig {
    /// A file holding the space, relative to the experiment file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The network's modules, in series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<toml::Value>,
    /// Shared hyper-parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<toml::Value>,
    /// Training settings chosen per candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<toml::Value>,
    /// The experiment file the section was read from (for error locations).
    #[serde(skip)]
    pub source: Option<Source>,
}

/// The `[environment]` table as read again from the file's text, with spans.
#[derive(Deserialize)]
struct Section {
    environment: SectionBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionBody {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(default, rename = "file")]
    _file: Option<PathBuf>,
    #[serde(default)]
    space: language::Modules,
    #[serde(default)]
    shared: std::collections::BTreeMap<String, language::Raw>,
    #[serde(default)]
    training: std::collections::BTreeMap<String, language::Raw>,
}

fn parse_error(source: &Source, e: toml::de::Error) -> Error {
    let reason = e.message().trim().replace('\n', " ");
    let location = match e.span() {
        Some(span) => source.locate(span.start),
        None => source.path.display().to_string(),
    };
    Error::Space { location, reason }
}

impl TreeConfig {
    /// Makes a relative `file` absolute against the experiment file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(file) = &mut self.file
            && file.is_relative()
        {
            let joined = base.join(&*file);
            *file = std::path::absolute(&joined).unwrap_or(joined);
        }
    }

    /// The space as written, with the file its spans point into.
    pub fn definition(&self) -> Result<(SpaceDef, Source)> {
        if let Some(path) = &self.file {
            if self.space.is_some() || self.shared.is_some() || self.training.is_some() {
                return Err(Error::Space {
                    location: self
                        .source
                        .as_ref()
                        .map_or_else(|| path.display().to_string(), |s| s.path.display().to_string()),
                    reason: "give the space either inline (`space`, `shared`, `training`) or in `file`, not both".into(),
                });
            }
            let text = std::fs::read_to_string(path).map_err(|e| Error::Space {
                location: path.display().to_string(),
                reason: format!("cannot read the space file: {e}"),
            })?;
            let source = Source {
                path: path.clone(),
                text: text.into(),
            };
            let def: SpaceDef =
                toml::from_str(&source.text).map_err(|e| parse_error(&source, e))?;
            return Ok((def, source));
        }
        let source = match &self.source {
            Some(source) => source.clone(),
            None => {
                // Built from Rust or a resolved file: read the section's own TOML.
                let mut table = toml::Table::new();
                table.insert("kind".into(), "tree".into());
                for (key, value) in [
                    ("space", &self.space),
                    ("shared", &self.shared),
                    ("training", &self.training),
                ] {
                    if let Some(v) = value {
                        table.insert(key.into(), v.clone());
                    }
                }
                let mut doc = toml::Table::new();
                doc.insert("environment".into(), toml::Value::Table(table));
                Source {
                    path: PathBuf::from("<tree space>"),
                    text: toml::to_string(&doc)
                        .map_err(|e| Error::Arch(format!("the tree space: {e}")))?
                        .into(),
                }
            }
        };
        let section: Section = toml::from_str(&source.text).map_err(|e| parse_error(&source, e))?;
        let body = section.environment;
        Ok((
            SpaceDef {
                space: body.space,
                shared: body.shared,
                training: body.training,
            },
            source,
        ))
    }
}

/// A tree search space (see the module documentation).
#[derive(Debug, Clone)]
pub struct Tree {
    space: Space,
    source: Source,
    spec: EnvSpec,
    images: Images,
    operations: Vec<String>,
    feature_names: Vec<String>,
}

impl Tree {
    /// The space `config` describes, its networks sized for `images` (the embedded digits'
    /// 1x8x8 and 10 classes when there are none); refused when its definition is wrong or
    /// none of its probed networks builds.
    pub fn new(config: &TreeConfig, images: Option<Images>) -> Result<Self> {
        let (def, source) = config.definition()?;
        Tree::from_def(&def, source, images)
    }

    /// The space `def` (written in `source`), as [`Tree::new`].
    pub fn from_def(def: &SpaceDef, source: Source, images: Option<Images>) -> Result<Self> {
        let space = compile::compile(def, &source)?;
        let images = images.unwrap_or(Images {
            shape: Shape::new(1, 8, 8),
            classes: 10,
        });
        let spec = EnvSpec {
            name: "tree".into(),
            kinds: space.kinds.clone(),
            max_length: space.max_length,
        };
        let tree = Tree {
            operations: graph::vocabulary(&space),
            feature_names: features::names(),
            space,
            source,
            spec,
            images,
        };
        tree.probe()?;
        Ok(tree)
    }

    /// Draws networks from a fixed seed and builds them: `Ok` when one builds, else the
    /// first draw's reason.
    fn probe(&self) -> Result<()> {
        let mut rng = archforge::rng::seeded(0x7ee);
        let mut first = None;
        for _ in 0..PROBES {
            let mut decisions = Vec::new();
            archforge::env::complete_uniformly(self, &mut decisions, &mut rng)?;
            match self.network(&decisions) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Err(match first.expect("at least one probe") {
            Error::Space { location, reason } => Error::Space {
                location,
                reason: format!("no network of the space builds: {reason}"),
            },
            other => other,
        })
    }

    /// The complete walk of `decisions`.
    fn complete(&self, decisions: &[usize]) -> Result<(Walked, usize)> {
        let walked = walk::walk(&self.space, decisions)?;
        match walked.end {
            End::Complete(output) => Ok((walked, output)),
            End::Next(_) => Err(Error::InvalidDecisions {
                decisions: decisions.to_vec(),
                reason: "the sequence is incomplete".into(),
            }),
        }
    }

    fn network(&self, decisions: &[usize]) -> Result<(Walked, Arch)> {
        let (walked, output) = self.complete(decisions)?;
        let arch = build::network(&walked.nodes, output, self.images, &self.source)?;
        Ok((walked, arch))
    }
}

/// A readable label: the training choices, then each node's label (with its inputs where
/// they are not just the node before).
fn label(walked: &Walked) -> String {
    let mut parts: Vec<String> = walked
        .training
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for (i, node) in walked.nodes.iter().enumerate().skip(1) {
        let label = node.emit.label();
        parts.push(if node.inputs == [i - 1] {
            label
        } else {
            let inputs: Vec<String> = node.inputs.iter().map(|k| k.to_string()).collect();
            format!("{i}:{label}({})", inputs.join(","))
        });
    }
    parts.join(" ")
}

impl Environment for Tree {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        Ok(match walk::walk(&self.space, prefix)?.end {
            End::Complete(_) => None,
            End::Next(choice) => Some(choice),
        })
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        let (walked, arch) = self.network(decisions)?;
        Ok(Candidate::new(decisions.to_vec(), label(&walked), arch).with_training(walked.training))
    }

    fn graph(&self) -> Option<&dyn GraphEncoding> {
        Some(self)
    }

    fn features(&self) -> Option<&dyn Features> {
        Some(self)
    }

    fn tokens(&self) -> Option<&dyn archforge::ability::Tokens> {
        Some(self)
    }
}

impl NetworkLayers for Tree {}

impl Features for Tree {
    fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    fn vector(&self, decisions: &[usize]) -> Result<Vec<f64>> {
        let (walked, output) = self.complete(decisions)?;
        // A network that does not build still has its words; its costs are then 0.
        let counts = build::network(&walked.nodes, output, self.images, &self.source)
            .ok()
            .and_then(|arch| arch.counts());
        Ok(features::vector(&walked, counts))
    }
}

impl GraphEncoding for Tree {
    fn max_nodes(&self) -> usize {
        self.space.max_nodes + self.space.training.len()
    }

    fn operations(&self) -> &[String] {
        &self.operations
    }

    fn encode(&self, decisions: &[usize]) -> Result<ArchGraph> {
        let (walked, _) = self.complete(decisions)?;
        graph::encode(&walked, &self.operations, self.max_nodes())
    }

    fn decode(&self, graph: &ArchGraph) -> Result<Vec<usize>> {
        graph.check_form(self.max_nodes(), self.operations.len())?;
        graph::decode(&self.space, graph, &self.operations)
    }
}
