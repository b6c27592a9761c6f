//! What workers prepare a compression's search from beyond its experiment file: the teacher
//! (its `arch.json`, `trained.json` and weights, as `archforge train` wrote them) and the
//! network the search compresses (the teacher for the removal stage, a run's best removal
//! student for its shrinkage stage). The compression records them with the search's run
//! ([`inputs`]) before any student is queued; a worker prepares the search from them
//! ([`prepare`]): the same teacher scored on the same data, over the same network, so the
//! students it trains are the ones the compressing process would have trained.

use crate::config::ExperimentFile;
use crate::runner::Prepared;
use crate::teacher::ScoredTeacher;
use anyhow::{Context, Result, anyhow};
use archforge::arch::Arch;
use archforge::store::{RunId, Store};
use archforge::weights::Snapshot;
use archforge_environments::Network;
use std::sync::Arc;

/// The teacher's files, kept under `teacher/` in the inputs.
const TEACHER_FILES: [&str; 3] = ["arch.json", "trained.json", "weights.safetensors"];

/// The compressed network's graph and weights, in the inputs.
const NETWORK_ARCH: &str = "network/arch.json";
const NETWORK_WEIGHTS: &str = "network/weights.safetensors";

/// The inputs of a search over `network` whose students learn from `teacher`.
pub fn inputs(teacher: &ScoredTeacher, network: &Network) -> Result<Vec<(String, Vec<u8>)>> {
    let mut inputs = Vec::new();
    for name in TEACHER_FILES {
        let path = teacher.folder.join(name);
        let content =
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        inputs.push((format!("teacher/{name}"), content));
    }
    inputs.push((NETWORK_ARCH.into(), network.arch.to_json().into_bytes()));
    let weights = network
        .weights
        .to_bytes()
        .map_err(|e| anyhow!("the compressed network's weights: {e}"))?;
    inputs.push((NETWORK_WEIGHTS.into(), weights));
    Ok(inputs)
}

/// Search `run` of `store` (whose experiment is `file`) prepared from its inputs.
pub fn prepare(
    store: &Store,
    run: RunId,
    file: &'static ExperimentFile,
) -> Result<Prepared<'static>> {
    let inputs = store.inputs(run)?;
    let input = |name: &str| {
        inputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, content)| content.as_slice())
            .ok_or_else(|| {
                anyhow!("a compression's search, recorded without `{name}` for its workers")
            })
    };
    // The teacher is read back from a folder of its files, as `compress` reads it.
    let folder = std::env::temp_dir().join(format!(
        "archforge-worker-{}-teacher-{run}",
        std::process::id()
    ));
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let teacher = (|| {
        for name in TEACHER_FILES {
            let path = folder.join(name);
            std::fs::write(&path, input(&format!("teacher/{name}"))?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let data = file.load_data()?;
        let distill = file.experiment.distill.clone().unwrap_or_default();
        ScoredTeacher::load(&folder, file, &data, &distill)
    })();
    let _ = std::fs::remove_dir_all(&folder);
    let teacher = teacher?;
    let arch = std::str::from_utf8(input(NETWORK_ARCH)?)
        .map_err(|e| anyhow!("{NETWORK_ARCH}: {e}"))
        .and_then(|text| Arch::from_json(text).map_err(|e| anyhow!("{NETWORK_ARCH}: {e}")))?;
    let weights = Snapshot::from_bytes(input(NETWORK_WEIGHTS)?)
        .map_err(|e| anyhow!("{NETWORK_WEIGHTS}: {e}"))?;
    let network = Network {
        arch,
        weights: Arc::new(weights),
    };
    Prepared::compressing(file, &teacher, Arc::new(network))
}
