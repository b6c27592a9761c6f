//! The canonical hash: one 64-bit value per function an architecture computes, so that
//! isomorphic cells (and cells that differ only by dead or zero paths) hash alike.
//!
//! Each node's value is derived from its inputs' values, output first, as a Merkle hash of the
//! expression the node computes:
//! - the input is a fixed term; `Identity` and `Output` pass their input's value through;
//! - `Zero` is zero, and so is any other operation whose inputs are all zero (NAS-Bench-201's
//!   isomorphism convention: a path that starts at a zero carries nothing);
//! - `Add` is a multiset of terms — zero inputs drop out, nested sums flatten, and the terms
//!   are sorted, so the order of the summands and the node numbering do not matter;
//! - every other operation is a new term hashed from its key and its ordered input values.
//!
//! Nodes that do not reach the output never enter the hash. The hash function is specified
//! here (FNV-1a with a SplitMix64 finaliser), so values are stable across platforms and
//! releases and can be stored in ledgers.

use super::Arch;
use super::op::HashRole;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The canonical hash of an architecture (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ArchHash(pub u64);

impl fmt::Display for ArchHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[derive(Debug, Clone)]
enum Value {
    Zero,
    Sum(Vec<u64>),
}

impl Value {
    fn digest(&self) -> u64 {
        match self {
            Value::Zero => hash_words("zero", &[]),
            Value::Sum(terms) if terms.len() == 1 => terms[0],
            Value::Sum(terms) => hash_words("sum", terms),
        }
    }
}

impl Arch {
    /// The canonical hash of the function this architecture computes. A graph without an
    /// output hashes as the value of its last node.
    pub fn canonical_hash(&self) -> ArchHash {
        // Node `n`'s value is `values[representative[n]]`: a transparent node shares its
        // input's value instead of copying it.
        let mut values: Vec<Value> = Vec::with_capacity(self.len());
        let mut representative: Vec<usize> = Vec::with_capacity(self.len());
        let mut op_digests: Vec<(&super::Op, u64)> = Vec::new();
        let mut inputs = Vec::new();
        for id in self.node_ids() {
            let node = self.node(id);
            self.inputs_into(id, &mut inputs);
            let input = |k: usize| &values[representative[inputs[k].index()]];
            let value = if id == self.input() {
                Value::Sum(vec![hash_words("input", &[])])
            } else {
                match node.op.hash_role() {
                    HashRole::Transparent => {
                        representative.push(representative[inputs[0].index()]);
                        continue;
                    }
                    HashRole::Zero => Value::Zero,
                    HashRole::Sum => {
                        let mut terms: Vec<u64> = Vec::new();
                        for k in 0..inputs.len() {
                            if let Value::Sum(t) = input(k) {
                                terms.extend_from_slice(t);
                            }
                        }
                        terms.sort_unstable();
                        if terms.is_empty() {
                            Value::Zero
                        } else {
                            Value::Sum(terms)
                        }
                    }
                    HashRole::Opaque => {
                        if !inputs.is_empty()
                            && (0..inputs.len()).all(|k| matches!(input(k), Value::Zero))
                        {
                            Value::Zero
                        } else {
                            let op_digest = match op_digests.iter().find(|(op, _)| *op == &node.op)
                            {
                                Some(&(_, d)) => d,
                                None => {
                                    let d = hash_words(&node.op.key(), &[]);
                                    op_digests.push((&node.op, d));
                                    d
                                }
                            };
                            let mut words = Vec::with_capacity(inputs.len() + 1);
                            words.push(op_digest);
                            words.extend((0..inputs.len()).map(|k| input(k).digest()));
                            Value::Sum(vec![hash_words("op", &words)])
                        }
                    }
                }
            };
            representative.push(values.len());
            values.push(value);
        }
        let result = self
            .output()
            .map_or(representative.len() - 1, |o| o.index());
        ArchHash(values[representative[result]].digest())
    }
}

/// The stable 64-bit hash of `tag` and `words` (FNV-1a, SplitMix64 finaliser): the hash the
/// canonical hash is made of, for seeds and for keys composed from other hashes.
pub fn hash_words(tag: &str, words: &[u64]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut feed = |byte: u8| {
        h ^= byte as u64;
        h = h.wrapping_mul(PRIME);
    };
    for b in tag.bytes() {
        feed(b);
    }
    feed(0xff);
    for w in words {
        for b in w.to_le_bytes() {
            feed(b);
        }
    }
    splitmix(h)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use crate::arch::{Arch, Conv, Op, Shape};

    fn conv() -> Op {
        Op::Conv(Conv::relu_conv_bn(4, 3, 1))
    }

    #[test]
    fn summand_order_and_node_numbering_do_not_matter() {
        let shape = Some(Shape::new(4, 8, 8));
        let mut a = Arch::new(shape);
        let c = a.add("c", conv(), &[a.input()]).unwrap();
        let p = a.add("p", Op::Identity, &[a.input()]).unwrap();
        let s = a.add("s", Op::Add, &[c, p]).unwrap();
        a.finish(s).unwrap();

        let mut b = Arch::new(shape);
        let p = b.add("p", Op::Identity, &[b.input()]).unwrap();
        let c = b.add("c", conv(), &[b.input()]).unwrap();
        let s = b.add("s", Op::Add, &[p, c]).unwrap();
        b.finish(s).unwrap();
        assert_eq!(a.canonical_hash(), b.canonical_hash());
    }

    #[test]
    fn zero_paths_and_dead_nodes_do_not_matter_but_ops_do() {
        let shape = Some(Shape::new(4, 8, 8));
        let plain = |extra: bool, op: Op| {
            let mut a = Arch::new(shape);
            let c = a.add("c", op, &[a.input()]).unwrap();
            let mut terms = vec![c];
            if extra {
                let z = a.add("z", Op::Zero, &[a.input()]).unwrap();
                let zc = a.add("zc", conv(), &[z]).unwrap();
                a.add("dead", conv(), &[c]).unwrap();
                terms.push(zc);
            }
            let s = a.add("s", Op::Add, &terms).unwrap();
            a.finish(s).unwrap();
            a.canonical_hash()
        };
        assert_eq!(plain(false, conv()), plain(true, conv()));
        assert_ne!(
            plain(false, conv()),
            plain(false, Op::Conv(Conv::relu_conv_bn(4, 1, 1)))
        );
    }

    #[test]
    fn concat_order_matters() {
        let shape = Some(Shape::new(4, 8, 8));
        let build = |swap: bool| {
            let mut a = Arch::new(shape);
            let c = a.add("c", conv(), &[a.input()]).unwrap();
            let inputs = if swap { [a.input(), c] } else { [c, a.input()] };
            let s = a.add("s", Op::Concat, &inputs).unwrap();
            a.finish(s).unwrap();
            a.canonical_hash()
        };
        assert_ne!(build(false), build(true));
    }
}
