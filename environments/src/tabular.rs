//! A user's own benchmark table: any CSV in which each row is one architecture (or
//! configuration), some columns are its categorical decisions, one column is the metric a
//! search optimises, one the metric results are reported by, and optionally one the cost in
//! seconds of training it. Each decision column is a decision of its own kind, or of a kind
//! it shares with other columns (`kind = "NAME"`): decisions of one kind share one option list
//! — and a learned controller's embedding and output head, as NAS-Bench-201's six edges share
//! one operation kind. A kind's options are listed in the experiment file (by one of its
//! columns, or by several with the same list) or, if not, the distinct values of its columns
//! (sorted numerically when they are all numbers, else as text).
//!
//! Listed numeric options match cells by value (`1` matches `1.0`), text options exactly.
//!
//! A combination of options with no row is still a candidate; the `table` evaluator scores it
//! `Invalid`. A bad table or decision list — a missing column, a metric that is not a number, a
//! negative cost, two rows with the same decisions, an option that matches no row, an option
//! or a column listed twice, one kind given two different option lists — is an error naming
//! the file (and the row).
//!
//! Abilities: the benchmark table; a graph encoding as a chain (one node per decision, its
//! operation the chosen `kind=option`); features (one-hot decisions and option counts per
//! kind).

use archforge::ability::{
    ArchGraph, Features, GraphEncoding, Positional, PositionalFeatures, Rows, Table, TableRow,
    features::Position,
};
use archforge::arch::hash::hash_words;
use archforge::candidate::ArchBuilder;
use archforge::error::{Error, Result};
use archforge::{Arch, ArchHash, Candidate, Choice, DecisionKindSpec, EnvSpec, Environment, Op};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One decision column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TabularDecision {
    /// The CSV column.
    pub column: String,
    /// The options in decision order; the column's distinct values when absent (for a
    /// shared kind, those of all its columns). Rows with a value outside the list are outside
    /// the space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<OptionValue>>,
    /// The decision kind, shared by every column that names it (default: a kind of its own,
    /// named after the column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// An option as written in the experiment file: text or a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptionValue {
    /// Whole number.
    Integer(i64),
    /// Number with a fraction.
    Float(f64),
    /// Text.
    Text(String),
}

impl OptionValue {
    /// Whether a table cell holds this option: numbers compare by value (`1` matches `1.0`),
    /// text exactly.
    fn matches(&self, cell: &str) -> bool {
        match self {
            OptionValue::Integer(i) => cell.parse::<f64>().is_ok_and(|v| v == *i as f64),
            OptionValue::Float(f) => cell.parse::<f64>().is_ok_and(|v| v == *f),
            OptionValue::Text(t) => cell == t,
        }
    }

    fn as_cell(&self) -> String {
        match self {
            OptionValue::Integer(i) => i.to_string(),
            OptionValue::Float(f) => f.to_string(),
            OptionValue::Text(s) => s.clone(),
        }
    }
}

/// The `[environment]` section for `kind = "tabular"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TabularConfig {
    /// The CSV file (relative paths are relative to the experiment file).
    pub csv: PathBuf,
    /// The decision columns, in decision order.
    pub decisions: Vec<TabularDecision>,
    /// The column a search optimises.
    pub search_metric: String,
    /// The column results are reported by.
    pub reported_metric: String,
    /// A column with each row's cost in seconds (simulated budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    /// Whether larger metrics are better.
    #[serde(default = "default_maximize")]
    pub maximize: bool,
}

fn default_maximize() -> bool {
    true
}

/// The tabular environment (see the module documentation).
pub struct Tabular {
    spec: EnvSpec,
    columns: Vec<String>,
    /// Each decision's kind.
    kinds: Vec<usize>,
    table: Arc<Table>,
    features: PositionalFeatures,
    /// The graph encoding's vocabulary (`kind=option`, kind after kind) and where each kind's
    /// options start in it.
    operations: Vec<String>,
    first_operation: Vec<usize>,
    /// Draws a candidate's graph: a chain of one labelled node per decision.
    chain: ArchBuilder,
}

impl Tabular {
    /// Reads the table named by `config`, resolving a relative path against `base`.
    pub fn load(config: &TabularConfig, base: &Path) -> Result<Self> {
        let path = base.join(&config.csv);
        let error = |reason: String| Error::Table {
            path: path.clone(),
            reason,
        };
        if config.decisions.is_empty() {
            return Err(error("no decision columns are named".into()));
        }
        let mut reader = csv::Reader::from_path(&path).map_err(|e| match e.kind() {
            csv::ErrorKind::Io(io) => error(format!("cannot read: {io}")),
            _ => error(e.to_string()),
        })?;
        let headers = reader.headers().map_err(|e| error(e.to_string()))?.clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| {
                    let have: Vec<&str> = headers.iter().collect();
                    error(format!("no column `{name}` (columns: {})", have.join(", ")))
                })
        };
        let mut seen_columns = std::collections::HashSet::new();
        if let Some(d) = config
            .decisions
            .iter()
            .find(|d| !seen_columns.insert(d.column.as_str()))
        {
            return Err(error(format!(
                "decision column `{}` is listed twice",
                d.column
            )));
        }
        let decision_cols: Vec<usize> = config
            .decisions
            .iter()
            .map(|d| column(&d.column))
            .collect::<Result<_>>()?;
        let search_col = column(&config.search_metric)?;
        let reported_col = column(&config.reported_metric)?;
        let cost_col = config.cost.as_deref().map(column).transpose()?;

        let mut raw: Vec<(u64, Vec<String>, TableRow)> = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let record = record.map_err(|e| error(format!("row {line}: {e}")))?;
            let cell = |c: usize| record.get(c).unwrap_or("").trim().to_string();
            let number = |c: usize, what: &str| {
                let text = cell(c);
                text.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| error(format!("row {line}: {what} `{text}` is not a number")))
            };
            let cost = cost_col.map(|c| number(c, "cost")).transpose()?;
            if let Some(negative) = cost.filter(|c| *c < 0.0) {
                return Err(error(format!("row {line}: cost {negative} is negative")));
            }
            let row = TableRow {
                search: number(search_col, &config.search_metric)?,
                reported: number(reported_col, &config.reported_metric)?,
                cost,
            };
            raw.push((line, decision_cols.iter().map(|&c| cell(c)).collect(), row));
        }
        if raw.is_empty() {
            return Err(error("the table has no rows".into()));
        }

        // The kinds, in order of first appearance, each with its columns.
        let mut kind_names: Vec<String> = Vec::new();
        let kinds: Vec<usize> = config
            .decisions
            .iter()
            .map(|d| {
                let name = d.kind.as_deref().unwrap_or(&d.column);
                kind_names
                    .iter()
                    .position(|k| k == name)
                    .unwrap_or_else(|| {
                        kind_names.push(name.to_string());
                        kind_names.len() - 1
                    })
            })
            .collect();
        // Each kind's options: the listed ones, or its columns' distinct values.
        let options: Vec<Vec<OptionValue>> = (0..kind_names.len())
            .map(|k| {
                let members: Vec<usize> = (0..kinds.len()).filter(|&i| kinds[i] == k).collect();
                let mut listed = members
                    .iter()
                    .filter_map(|&i| config.decisions[i].options.as_ref().map(|o| (i, o)));
                match listed.next() {
                    Some((i, list)) if list.is_empty() => Err(error(format!(
                        "decision `{}` lists no options",
                        config.decisions[i].column
                    ))),
                    Some((i, list)) => match listed.find(|(_, other)| other != &list) {
                        Some((j, _)) => Err(error(format!(
                            "decisions `{}` and `{}` share kind `{}` but list different options",
                            config.decisions[i].column, config.decisions[j].column, kind_names[k]
                        ))),
                        None => Ok(list.clone()),
                    },
                    None => {
                        Ok(distinct_sorted(raw.iter().flat_map(|(_, values, _)| {
                            members.iter().map(|&i| values[i].as_str())
                        }))
                        .into_iter()
                        .map(OptionValue::Text)
                        .collect())
                    }
                }
            })
            .collect::<Result<_>>()?;
        let labels: Vec<Vec<String>> = options
            .iter()
            .map(|opts| opts.iter().map(OptionValue::as_cell).collect())
            .collect();
        for (name, opts) in kind_names.iter().zip(&labels) {
            if let Some(dup) = opts
                .iter()
                .enumerate()
                .find(|(i, o)| opts[..*i].contains(o))
            {
                return Err(error(format!(
                    "decision `{name}` lists option `{}` twice",
                    dup.1
                )));
            }
        }
        let columns: Vec<String> = config.decisions.iter().map(|d| d.column.clone()).collect();

        let mut rows = Rows::default();
        let mut first_line: HashMap<String, u64> = HashMap::new();
        let mut used: Vec<Vec<bool>> = options.iter().map(|o| vec![false; o.len()]).collect();
        for (line, values, row) in raw {
            // The option each cell holds; a row with a value outside the options is outside
            // the space.
            let Some(chosen) = values
                .iter()
                .zip(&kinds)
                .map(|(v, &k)| options[k].iter().position(|o| o.matches(v)))
                .collect::<Option<Vec<usize>>>()
            else {
                continue;
            };
            for (&k, &j) in kinds.iter().zip(&chosen) {
                used[k][j] = true;
            }
            let values: Vec<&str> = chosen
                .iter()
                .zip(&kinds)
                .map(|(&j, &k)| labels[k][j].as_str())
                .collect();
            let label = label(&columns, &values);
            if let Some(first) = first_line.insert(label.clone(), line) {
                return Err(error(format!(
                    "rows {first} and {line} both describe {label}"
                )));
            }
            rows.insert(label, row);
        }
        for (k, name) in kind_names.iter().enumerate() {
            if let Some(j) = used[k].iter().position(|u| !u) {
                return Err(error(format!(
                    "decision `{name}`: option `{}` matches no row of the table",
                    labels[k][j]
                )));
            }
        }
        let spec = EnvSpec {
            name: "tabular".into(),
            kinds: kind_names
                .iter()
                .zip(&labels)
                .map(|(name, o)| DecisionKindSpec {
                    name: name.clone(),
                    labels: o.clone(),
                })
                .collect(),
            max_length: columns.len(),
        };
        let positions = columns
            .iter()
            .zip(&kinds)
            .map(|(c, &k)| Position {
                name: c.clone(),
                kind: k,
                options: labels[k].len(),
            })
            .collect();
        let features = PositionalFeatures::new(&spec, positions, false);
        let mut operations = Vec::new();
        let mut first_operation = Vec::new();
        for kind in &spec.kinds {
            first_operation.push(operations.len());
            operations.extend(kind.labels.iter().map(|l| format!("{}={l}", kind.name)));
        }
        let chain = chain_builder(&columns, &kinds, &spec);
        Ok(Tabular {
            spec,
            columns,
            kinds,
            table: Arc::new(Table {
                rows,
                maximize: config.maximize,
            }),
            features,
            operations,
            first_operation,
            chain,
        })
    }
}

/// The graph of a candidate: a chain of one `column=option` node per decision.
fn chain_builder(columns: &[String], kinds: &[usize], spec: &EnvSpec) -> ArchBuilder {
    let names: Vec<Vec<String>> = columns
        .iter()
        .zip(kinds)
        .map(|(column, &kind)| {
            spec.kinds[kind]
                .labels
                .iter()
                .map(|l| format!("{column}={l}"))
                .collect()
        })
        .collect();
    let columns = columns.to_vec();
    Arc::new(move |decisions| {
        let mut arch = Arch::new(None);
        let mut x = arch.input();
        for ((column, names), &d) in columns.iter().zip(&names).zip(decisions) {
            x = arch
                .add(column.clone(), Op::Labelled(names[d].clone()), &[x])
                .expect("a labelled node takes one input");
        }
        arch.finish(x).expect("a chain ends in its last node");
        arch
    })
}

fn distinct_sorted<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut distinct: Vec<String> = Vec::new();
    for v in values {
        if !distinct.iter().any(|d| d == v) {
            distinct.push(v.to_string());
        }
    }
    let numbers: Option<Vec<f64>> = distinct.iter().map(|v| v.parse().ok()).collect();
    match numbers {
        Some(nums) => {
            let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(distinct).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            pairs.into_iter().map(|(_, v)| v).collect()
        }
        None => {
            distinct.sort();
            distinct
        }
    }
}

fn label(columns: &[String], values: &[&str]) -> String {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| format!("{c}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Environment for Tabular {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn next_choice(&self, prefix: &[usize]) -> Result<Option<Choice>> {
        for (position, (&d, &kind)) in prefix.iter().zip(&self.kinds).enumerate() {
            if d >= self.spec.kinds[kind].labels.len() {
                return Err(Error::InvalidDecisions {
                    decisions: prefix.to_vec(),
                    reason: format!("option {d} at position {position} is out of range"),
                });
            }
        }
        match prefix.len() {
            n if n < self.columns.len() => {
                let kind = self.kinds[n];
                Ok(Some(Choice::new(kind, self.spec.kinds[kind].labels.len())))
            }
            n if n == self.columns.len() => Ok(None),
            _ => Err(Error::InvalidDecisions {
                decisions: prefix.to_vec(),
                reason: format!("longer than {} decisions", self.columns.len()),
            }),
        }
    }

    fn build(&self, decisions: &[usize]) -> Result<Candidate> {
        archforge::env::validate(self, decisions)?;
        let values: Vec<&str> = decisions
            .iter()
            .zip(&self.kinds)
            .map(|(&d, &kind)| self.spec.kinds[kind].labels[d].as_str())
            .collect();
        // A row is its decisions: they are its hash, and the chain is drawn only when asked.
        let words: Vec<u64> = decisions.iter().map(|&d| d as u64).collect();
        let hash = ArchHash(hash_words("tabular", &words));
        Ok(Candidate::lazy(
            decisions.to_vec(),
            label(&self.columns, &values),
            hash,
            None,
            self.chain.clone(),
        ))
    }

    fn benchmark(&self) -> Option<Arc<Table>> {
        Some(self.table.clone())
    }

    fn graph(&self) -> Option<&dyn GraphEncoding> {
        Some(self)
    }

    fn features(&self) -> Option<&dyn Features> {
        Some(self)
    }
}

impl GraphEncoding for Tabular {
    fn max_nodes(&self) -> usize {
        self.columns.len()
    }

    fn operations(&self) -> &[String] {
        &self.operations
    }

    fn encode(&self, decisions: &[usize]) -> Result<ArchGraph> {
        archforge::env::validate(self, decisions)?;
        let mut graph = ArchGraph::empty(self.columns.len());
        for (i, (&d, &kind)) in decisions.iter().zip(&self.kinds).enumerate() {
            graph.set_node(i, self.first_operation[kind] + d);
            if i > 0 {
                graph.adjacency[i - 1][i] = true;
            }
        }
        Ok(graph)
    }

    fn decode(&self, graph: &ArchGraph) -> Result<Vec<usize>> {
        let n = self.columns.len();
        graph.check_form(n, self.operations.len())?;
        let chain = (0..n).all(|i| (0..n).all(|j| graph.adjacency[i][j] == (j == i + 1)));
        if !chain || graph.mask.iter().any(|m| !m) {
            return Err(Error::Arch(
                "tabular graph: not a chain of every decision".into(),
            ));
        }
        graph
            .ops
            .iter()
            .zip(&self.kinds)
            .zip(&self.columns)
            .map(|((&op, &kind), column)| {
                let d = op.wrapping_sub(self.first_operation[kind]);
                if d < self.spec.kinds[kind].labels.len() {
                    Ok(d)
                } else {
                    Err(Error::Arch(format!(
                        "tabular graph: `{}` is not an option of `{column}`",
                        self.operations[op]
                    )))
                }
            })
            .collect()
    }
}

impl Positional for Tabular {
    fn positions(&self) -> &PositionalFeatures {
        &self.features
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn config(csv: &str, decisions: &[&str]) -> TabularConfig {
        TabularConfig {
            csv: csv.into(),
            decisions: decisions
                .iter()
                .map(|c| TabularDecision {
                    column: c.to_string(),
                    options: None,
                    kind: None,
                })
                .collect(),
            search_metric: "val".into(),
            reported_metric: "test".into(),
            cost: None,
            maximize: true,
        }
    }

    fn write(dir: &Path, text: &str) {
        fs::write(dir.join("t.csv"), text).unwrap();
    }

    #[test]
    fn options_come_from_the_columns_and_rows_are_looked_up() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "depth,act,val,test\n10,relu,1,2\n2,tanh,3,4\n10,tanh,5,6\n",
        );
        let env = Tabular::load(&config("t.csv", &["depth", "act"]), dir.path()).unwrap();
        assert_eq!(env.spec().kinds[0].labels, ["2", "10"]);
        assert_eq!(env.spec().kinds[1].labels, ["relu", "tanh"]);
        let c = env.build(&[1, 1]).unwrap();
        assert_eq!(c.label, "depth=10,act=tanh");
        assert_eq!(env.benchmark().unwrap().rows[&c.label].search, 5.0);
        assert!(
            !env.benchmark()
                .unwrap()
                .rows
                .contains_key("depth=2,act=relu")
        );
    }

    #[test]
    fn explicit_options_restrict_the_space() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "depth,val,test\n1,1,2\n2,3,4\n3,5,6\n");
        let mut cfg = config("t.csv", &["depth"]);
        cfg.decisions[0].options = Some(vec![OptionValue::Integer(3), OptionValue::Integer(1)]);
        let env = Tabular::load(&cfg, dir.path()).unwrap();
        assert_eq!(env.spec().kinds[0].labels, ["3", "1"]);
        assert_eq!(env.benchmark().unwrap().rows.len(), 2);
    }

    #[test]
    fn numeric_options_match_cells_by_value() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "lr,val,test\n1.0,1,2\n2.50,3,4\n");
        let mut cfg = config("t.csv", &["lr"]);
        cfg.decisions[0].options = Some(vec![OptionValue::Integer(1), OptionValue::Float(2.5)]);
        let env = Tabular::load(&cfg, dir.path()).unwrap();
        assert_eq!(env.benchmark().unwrap().rows.len(), 2);
        assert_eq!(env.build(&[1]).unwrap().label, "lr=2.5");
    }

    #[test]
    fn bad_decision_lists_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a,b,val,test,cost\n1,x,1,2,3\n2,y,3,4,5\n");
        let err = |cfg: &TabularConfig| Tabular::load(cfg, dir.path()).err().unwrap().to_string();
        let mut cfg = config("t.csv", &["a"]);
        cfg.decisions[0].options = Some(vec![OptionValue::Integer(1), OptionValue::Integer(7)]);
        assert!(err(&cfg).contains("decision `a`: option `7` matches no row"));
        cfg.decisions[0].options = Some(vec![OptionValue::Integer(1), OptionValue::Float(1.0)]);
        assert!(err(&cfg).contains("lists option `1` twice"));
        assert!(err(&config("t.csv", &["a", "a"])).contains("`a` is listed twice"));
        write(dir.path(), "a,val,test,cost\n1,1,2,-3\n");
        let mut cfg = config("t.csv", &["a"]);
        cfg.cost = Some("cost".into());
        assert!(err(&cfg).contains("row 2: cost -3 is negative"));
    }

    #[test]
    fn columns_of_one_kind_share_its_options() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "e1,e2,width,val,test\nconv,pool,8,1,2\npool,skip,16,3,4\nskip,conv,8,5,6\n",
        );
        let mut cfg = config("t.csv", &["e1", "e2", "width"]);
        cfg.decisions[0].kind = Some("op".into());
        cfg.decisions[1].kind = Some("op".into());
        let env = Tabular::load(&cfg, dir.path()).unwrap();
        let names: Vec<&str> = env.spec().kinds.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["op", "width"]);
        assert_eq!(env.spec().kinds[0].labels, ["conv", "pool", "skip"]);
        assert_eq!(env.next_choice(&[0]).unwrap().unwrap().kind, 0);
        assert_eq!(env.next_choice(&[0, 1]).unwrap().unwrap().kind, 1);
        let c = env.build(&[2, 0, 0]).unwrap();
        assert_eq!(c.label, "e1=skip,e2=conv,width=8");
        assert_eq!(env.benchmark().unwrap().rows[&c.label].search, 5.0);
        // Operation counts are per kind: two decisions of `op`.
        let x = env.vector(&[2, 2, 0]).unwrap();
        let count = env
            .feature_names()
            .iter()
            .position(|n| n == "count:op=skip")
            .unwrap();
        assert_eq!(x[count], 2.0);
        let graph = env.encode(&[1, 0, 1]).unwrap();
        assert_eq!(env.decode(&graph).unwrap(), [1, 0, 1]);
        assert_eq!(env.operations()[graph.ops[2]], "width=16");
        // One kind, two different lists.
        cfg.decisions[0].options = Some(vec![OptionValue::Text("conv".into())]);
        cfg.decisions[1].options = Some(vec![OptionValue::Text("pool".into())]);
        let err = Tabular::load(&cfg, dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("share kind `op` but list different options"),
            "{err}"
        );
    }

    #[test]
    fn bad_tables_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = |text: &str, decisions: &[&str]| {
            write(dir.path(), text);
            Tabular::load(&config("t.csv", decisions), dir.path())
                .err()
                .unwrap()
                .to_string()
        };
        assert!(err("a,val,test\n1,2,3\n", &["b"]).contains("no column `b`"));
        assert!(err("a,val,test\n1,x,3\n", &["a"]).contains("row 2: val `x` is not a number"));
        assert!(
            err("a,val,test\n1,2,3\n1,4,5\n", &["a"]).contains("rows 2 and 3 both describe a=1")
        );
        assert!(err("a,val,test\n", &["a"]).contains("no rows"));
        let missing = Tabular::load(&config("nope.csv", &["a"]), dir.path())
            .err()
            .unwrap()
            .to_string();
        assert!(
            missing.contains("nope.csv") && missing.contains("cannot read"),
            "{missing}"
        );
    }
}
