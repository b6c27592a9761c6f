//! Monte-Carlo tree search (UCT) over any environment's decision tree, as DeepArchitect's
//! searcher: each tree node is a decision prefix; a walk from the root takes, while the node
//! is expanded, the child with the best
//! `mean + c * sqrt(2 ln N_parent / n_child)` (an unvisited child first, ties broken at
//! random); at the first node not yet expanded it creates all its children and takes one
//! uniformly; a uniform rollout completes the sequence. The reward is backed up (sum and
//! count) along the tree path only — rollout decisions leave no node. Rewards are normalised
//! within the run to their rank among the rewards seen so far (in [0, 1]), so `c` (default
//! 0.5, the paper's experiments) means the same whatever the reward's scale, and a few
//! collapsed networks do not squeeze every other reward into the top of the range; a failed
//! evaluation counts as a visit worth 0.
//!
//! With `bisection = true` a k-way choice is split into binary choices over halves of its
//! legal options (the paper's `mcts_bi`), so neighbouring options — similar filter counts,
//! similar learning rates — share statistics before either has been tried.
//!
//! Additions the paper's searcher lacks, for budgets that count repeats: a subtree whose every
//! sequence has been proposed is *exhausted* and no longer selected (the whole tree
//! exhausted, proposals are uniform); a rollout that lands on a sequence proposed before is
//! drawn again (a few times); and proposals of one batch count as pending visits on their
//! path, so a batch spreads instead of taking one path `batch` times.

use archforge::env::{Choice, complete_uniformly};
use archforge::error::{Error, Result};
use archforge::{Checkpoint, Controller, Environment, Evaluated, Proposal, Rng};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The `[[controller]]` entry for `kind = "mcts"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MctsConfig {
    /// The name in reports (default: `mcts`, or `mcts-bisection` with bisection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Proposals evaluated between observations.
    #[serde(default = "crate::defaults::batch")]
    pub batch: usize,
    /// The exploration constant `c` of the UCT score.
    #[serde(default = "default_exploration")]
    pub exploration: f64,
    /// Split every k-way choice into binary choices over halves of its options.
    #[serde(default)]
    pub bisection: bool,
}

fn default_exploration() -> f64 {
    0.5
}

impl Default for MctsConfig {
    fn default() -> Self {
        MctsConfig {
            name: None,
            batch: crate::defaults::batch(),
            exploration: default_exploration(),
            bisection: false,
        }
    }
}

impl MctsConfig {
    /// Checks the settings: `Err((key, why))` names the offending key.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(self.exploration.is_finite() && self.exploration >= 0.0) {
            return Err((
                "exploration",
                format!(
                    "exploration must be a finite number >= 0, not {}",
                    self.exploration
                ),
            ));
        }
        Ok(())
    }
}

/// How a node is reached from its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Step {
    /// The parent's choice decided: this option appended to the prefix.
    Take(usize),
    /// The parent's choice narrowed to the legal options `lo..hi` (by their rank among the
    /// choice's legal options), still undecided.
    Narrow(u32, u32),
}

/// One tree node: its statistics and, once expanded, its children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Node {
    step: Step,
    /// Sum of the normalised rewards of successful evaluations through the node.
    sum: f64,
    /// Successful evaluations through it.
    ok: u64,
    /// Failed evaluations through it (each worth the worst reward).
    failed: u64,
    /// Proposals through it not yet observed.
    pending: u64,
    /// Every sequence below it has been proposed.
    exhausted: bool,
    /// Indices of the children; `None` until expanded.
    children: Option<Vec<u32>>,
}

impl Node {
    fn new(step: Step) -> Self {
        Node {
            step,
            sum: 0.0,
            ok: 0,
            failed: 0,
            pending: 0,
            exhausted: false,
            children: None,
        }
    }

    fn visits(&self) -> u64 {
        self.ok + self.failed + self.pending
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    nodes: Vec<Node>,
    /// Every reward seen, in increasing order.
    seen: Vec<f64>,
    /// Every sequence proposed.
    proposed: BTreeSet<Vec<usize>>,
}

/// Where a walk stands: the decisions so far and, within the choice after them, the range
/// of legal options (by rank) still open.
struct Cursor {
    prefix: Vec<usize>,
    choice: Option<(Choice, Vec<usize>)>,
    open: (usize, usize),
}

impl Cursor {
    fn at(env: &dyn Environment, prefix: Vec<usize>) -> Result<Self> {
        let choice = match env.next_choice(&prefix)? {
            Some(choice) => {
                let legal = archforge::env::legal_options(env, prefix.len(), &choice)?;
                Some((choice, legal))
            }
            None => None,
        };
        let open = (0, choice.as_ref().map_or(0, |(_, l)| l.len()));
        Ok(Cursor {
            prefix,
            choice,
            open,
        })
    }

    fn apply(mut self, env: &dyn Environment, step: Step) -> Result<Self> {
        match step {
            Step::Take(option) => {
                self.prefix.push(option);
                Cursor::at(env, self.prefix)
            }
            Step::Narrow(lo, hi) => {
                self.open = (lo as usize, hi as usize);
                Ok(self)
            }
        }
    }

    /// The steps to this node's children: halves of the open range with bisection (a half
    /// of one option decides it), else one per open option.
    fn steps(&self, bisection: bool) -> Vec<Step> {
        let Some((_, legal)) = &self.choice else {
            return Vec::new();
        };
        let (lo, hi) = self.open;
        let take = |rank: usize| Step::Take(legal[rank]);
        if !bisection || hi - lo <= 2 {
            return (lo..hi).map(take).collect();
        }
        let mid = lo + (hi - lo).div_ceil(2);
        [(lo, mid), (mid, hi)]
            .into_iter()
            .map(|(a, b)| {
                if b - a == 1 {
                    take(a)
                } else {
                    Step::Narrow(a as u32, b as u32)
                }
            })
            .collect()
    }

    /// Whether `step` leads toward `decisions` from here.
    fn leads_to(&self, step: Step, decisions: &[usize]) -> bool {
        let Some(next) = decisions.get(self.prefix.len()) else {
            return false;
        };
        match step {
            Step::Take(option) => option == *next,
            Step::Narrow(lo, hi) => self
                .choice
                .as_ref()
                .is_some_and(|(_, legal)| legal[lo as usize..hi as usize].contains(next)),
        }
    }

    /// Completes the sequence: uniformly within the open range, then uniformly.
    fn roll_out(&self, env: &dyn Environment, rng: &mut Rng) -> Result<Vec<usize>> {
        let mut decisions = self.prefix.clone();
        if let Some((_, legal)) = &self.choice {
            let (lo, hi) = self.open;
            decisions.push(legal[rng.random_range(lo..hi)]);
        }
        complete_uniformly(env, &mut decisions, rng)?;
        Ok(decisions)
    }
}

/// Monte-Carlo tree search (see the module documentation).
#[derive(Debug, Clone)]
pub struct Mcts {
    config: MctsConfig,
    state: State,
}

impl Mcts {
    /// A controller for `config`.
    pub fn new(config: MctsConfig) -> Result<Self> {
        config.check().map_err(|(_, reason)| Error::Controller {
            controller: "mcts".into(),
            reason,
        })?;
        Ok(Mcts {
            config,
            state: State {
                nodes: vec![Node::new(Step::Take(0))],
                seen: Vec::new(),
                proposed: BTreeSet::new(),
            },
        })
    }

    /// A node's mean normalised reward; failures count as the worst reward, 0.
    fn mean(&self, node: &Node) -> f64 {
        match node.ok + node.failed {
            0 => 0.0,
            done => node.sum / done as f64,
        }
    }

    /// `reward` normalised within the run: the share of the rewards seen so far (itself
    /// included) that it beats, ties counting half — in [0, 1] whatever the reward's scale
    /// and however skewed its distribution.
    fn normalise(&mut self, reward: f64) -> f64 {
        let seen = &mut self.state.seen;
        let below = seen.partition_point(|&r| r < reward);
        let not_above = seen.partition_point(|&r| r <= reward);
        seen.insert(below, reward);
        (below as f64 + 0.5 * (not_above - below + 1) as f64) / seen.len() as f64
    }

    /// The child of `parent` to walk into: the best UCT score among those not exhausted,
    /// ties at random.
    fn select(&self, parent: usize, rng: &mut Rng) -> Option<u32> {
        let node = &self.state.nodes[parent];
        let ln_parent = (node.visits().max(1) as f64).ln();
        let mut best = Vec::new();
        let mut best_score = f64::NEG_INFINITY;
        for &child in node.children.as_deref().unwrap_or(&[]) {
            let c = &self.state.nodes[child as usize];
            if c.exhausted {
                continue;
            }
            let score = match c.visits() {
                0 => f64::INFINITY,
                n => self.mean(c) + self.config.exploration * (2.0 * ln_parent / n as f64).sqrt(),
            };
            if score > best_score {
                best_score = score;
                best.clear();
            }
            if score == best_score {
                best.push(child);
            }
        }
        (!best.is_empty()).then(|| best[rng.random_range(0..best.len())])
    }

    /// Marks the nodes of `path` exhausted, from the leaf up, while all their children are.
    fn exhaust(&mut self, path: &[usize]) {
        for &at in path.iter().rev() {
            let all = match &self.state.nodes[at].children {
                Some(children) => children
                    .iter()
                    .all(|&c| self.state.nodes[c as usize].exhausted),
                None => true,
            };
            if !all {
                break;
            }
            self.state.nodes[at].exhausted = true;
        }
    }

    /// One proposal: walk, expand, roll out; its path counts it as pending.
    fn propose_one(&mut self, env: &dyn Environment, rng: &mut Rng) -> Result<Vec<usize>> {
        if self.state.nodes[0].exhausted {
            let mut decisions = Vec::new();
            complete_uniformly(env, &mut decisions, rng)?;
            return Ok(decisions);
        }
        let mut at = 0usize;
        let mut path = vec![0usize];
        let mut cursor = Cursor::at(env, Vec::new())?;
        let decisions = loop {
            if cursor.choice.is_none() {
                // A complete sequence: a leaf, now proposed — unless a rollout proposed it
                // before, and then the walk starts again.
                self.state.nodes[at].children = Some(Vec::new());
                self.exhaust(&path);
                if self.state.proposed.contains(&cursor.prefix) {
                    return self.propose_one(env, rng);
                }
                break cursor.prefix;
            }
            if self.state.nodes[at].children.is_none() {
                let first = self.state.nodes.len() as u32;
                let steps = cursor.steps(self.config.bisection);
                self.state.nodes.extend(steps.iter().map(|&s| Node::new(s)));
                let children: Vec<u32> = (first..first + steps.len() as u32).collect();
                let child = children[rng.random_range(0..children.len())];
                self.state.nodes[at].children = Some(children);
                at = child as usize;
                path.push(at);
                cursor = cursor.apply(env, self.state.nodes[at].step)?;
                if cursor.choice.is_none() {
                    continue;
                }
                // A few rollouts, for one not proposed before.
                let mut decisions = cursor.roll_out(env, rng)?;
                for _ in 0..16 {
                    if !self.state.proposed.contains(&decisions) {
                        break;
                    }
                    decisions = cursor.roll_out(env, rng)?;
                }
                break decisions;
            }
            let Some(child) = self.select(at, rng) else {
                // Every child exhausted, so the node is too: walk again from the root.
                self.exhaust(&path);
                return self.propose_one(env, rng);
            };
            at = child as usize;
            path.push(at);
            cursor = cursor.apply(env, self.state.nodes[at].step)?;
        };
        for &node in &path {
            self.state.nodes[node].pending += 1;
        }
        self.state.proposed.insert(decisions.clone());
        Ok(decisions)
    }

    /// The tree nodes on the way to `decisions`, from the root.
    fn path_to(&self, env: &dyn Environment, decisions: &[usize]) -> Result<Vec<usize>> {
        let mut path = vec![0usize];
        let mut at = 0usize;
        let mut cursor = Cursor::at(env, Vec::new())?;
        while let Some(children) = &self.state.nodes[at].children {
            let step = children
                .iter()
                .map(|&c| (c as usize, self.state.nodes[c as usize].step))
                .find(|&(_, step)| cursor.leads_to(step, decisions));
            let Some((child, step)) = step else { break };
            at = child;
            path.push(at);
            cursor = cursor.apply(env, step)?;
        }
        Ok(path)
    }
}

impl Controller for Mcts {
    fn kind(&self) -> &'static str {
        "mcts"
    }

    fn propose(&mut self, env: &dyn Environment, n: usize, rng: &mut Rng) -> Result<Vec<Proposal>> {
        (0..n)
            .map(|_| {
                Ok(Proposal {
                    decisions: self.propose_one(env, rng)?,
                })
            })
            .collect()
    }

    fn observe(&mut self, env: &dyn Environment, results: &[Evaluated]) -> Result<()> {
        for result in results {
            let value = result
                .reward
                .filter(|r| r.is_finite())
                .map(|r| self.normalise(r));
            for at in self.path_to(env, &result.decisions)? {
                let node = &mut self.state.nodes[at];
                node.pending = node.pending.saturating_sub(1);
                match value {
                    Some(v) => {
                        node.sum += v;
                        node.ok += 1;
                    }
                    None => node.failed += 1,
                }
            }
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        Checkpoint::new(self.kind(), &self.state)
    }

    fn restore(&mut self, checkpoint: Checkpoint) -> Result<()> {
        let state: State = checkpoint.into_state(self.kind())?;
        if state.nodes.is_empty() {
            return Err(Error::Checkpoint("mcts: a tree without a root".into()));
        }
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archforge::evaluator::StatusKind;
    use archforge::toy::Toy;

    /// The toy's score: the share of decisions matching its target.
    fn reward(toy: &Toy, decisions: &[usize]) -> f64 {
        let target = toy.target();
        decisions
            .iter()
            .zip(&target)
            .filter(|(a, b)| a == b)
            .count() as f64
    }

    fn run(config: MctsConfig, evaluations: usize) -> (Mcts, Vec<Vec<usize>>) {
        let toy = Toy::new(6, 5).unwrap();
        let mut mcts = Mcts::new(config).unwrap();
        let mut rng = archforge::rng::seeded(3);
        let mut proposed = Vec::new();
        for _ in 0..evaluations {
            let p = mcts.propose(&toy, 1, &mut rng).unwrap().remove(0);
            archforge::env::validate(&toy, &p.decisions).unwrap();
            let reward = reward(&toy, &p.decisions);
            mcts.observe(
                &toy,
                &[Evaluated {
                    decisions: p.decisions.clone(),
                    reward: Some(reward),
                    status: StatusKind::Ok,
                }],
            )
            .unwrap();
            proposed.push(p.decisions);
        }
        (mcts, proposed)
    }

    #[test]
    fn the_root_counts_every_visit_and_children_split_them() {
        let (mcts, proposed) = run(MctsConfig::default(), 40);
        let root = &mcts.state.nodes[0];
        assert_eq!(root.ok, 40);
        assert_eq!(root.pending, 0);
        let children: u64 = root
            .children
            .as_ref()
            .unwrap()
            .iter()
            .map(|&c| mcts.state.nodes[c as usize].ok)
            .sum();
        assert_eq!(children, 40);
        // No sequence is proposed twice while the tree is not exhausted.
        let mut unique = proposed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), proposed.len());
    }

    #[test]
    fn bisection_makes_every_node_binary() {
        let (mcts, _) = run(
            MctsConfig {
                bisection: true,
                ..MctsConfig::default()
            },
            40,
        );
        for node in &mcts.state.nodes {
            if let Some(children) = &node.children {
                assert!(children.len() <= 2, "{} children", children.len());
            }
        }
    }

    #[test]
    fn search_finds_better_sequences_than_its_first_ones() {
        let (_, proposed) = run(MctsConfig::default(), 300);
        let toy = Toy::new(6, 5).unwrap();
        let mean =
            |s: &[Vec<usize>]| s.iter().map(|d| reward(&toy, d)).sum::<f64>() / s.len() as f64;
        assert!(mean(&proposed[250..]) > mean(&proposed[..50]));
    }

    #[test]
    fn a_small_space_is_exhausted_without_repeats_and_then_sampled() {
        let toy = Toy::new(2, 3).unwrap();
        let mut mcts = Mcts::new(MctsConfig {
            bisection: true,
            ..MctsConfig::default()
        })
        .unwrap();
        let mut rng = archforge::rng::seeded(0);
        let mut seen = std::collections::HashSet::new();
        let all: usize = 3 * 2;
        let batch = mcts.propose(&toy, all, &mut rng).unwrap();
        for p in &batch {
            assert!(seen.insert(p.decisions.clone()), "{:?} twice", p.decisions);
        }
        assert!(mcts.state.nodes[0].exhausted);
        assert_eq!(mcts.propose(&toy, 3, &mut rng).unwrap().len(), 3);
    }
}
