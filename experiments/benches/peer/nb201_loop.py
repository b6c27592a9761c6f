"""The NAS-Bench-201 search protocol as a plain Python + numpy loop, for comparing the search
loop's speed with archforge's (`archforge compare experiments/nb201-random.toml --seeds 500
--jobs 1`, and the same for nb201-evolution.toml): random search and regularized evolution
(population 10, tournament 3, one-decision mutation), 100 evaluations per seed on the
CIFAR-10 12-epoch validation accuracy, the best's 200-epoch test accuracy reported. No
ledger is written. Prints evaluations per second of each loop and the mean reported accuracy.

    python3 experiments/benches/peer/nb201_loop.py [SEEDS]
"""

import collections
import csv
import pathlib
import sys
import time

import numpy as np

TABLE = pathlib.Path(__file__).resolve().parents[3] / "environments" / "data" / "nb201.csv"
EDGES = ["op_e01", "op_e02", "op_e12", "op_e03", "op_e13", "op_e23"]
BUDGET = 100


def load():
    valid = np.zeros(5**6)
    test = np.zeros(5**6)
    with open(TABLE, newline="") as f:
        for row in csv.DictReader(f):
            index = 0
            for edge in EDGES:
                index = index * 5 + int(row[edge])
            valid[index] = float(row["c10_valid_12ep"])
            test[index] = float(row["c10_test_200ep"])
    return valid, test


def index_of(ops):
    index = 0
    for op in ops:
        index = index * 5 + int(op)
    return index


def random_search(valid, test, seed):
    rng = np.random.default_rng(seed)
    best, reported = -1.0, 0.0
    for _ in range(BUDGET):
        i = index_of(rng.integers(0, 5, size=6))
        if valid[i] > best:
            best, reported = valid[i], test[i]
    return reported


def evolution(valid, test, seed, population=10, sample=3):
    rng = np.random.default_rng(seed)
    members = collections.deque(maxlen=population)
    best, reported = -1.0, 0.0
    for step in range(BUDGET):
        if step < population:
            ops = list(rng.integers(0, 5, size=6))
        else:
            picks = rng.integers(0, len(members), size=sample)
            parent = max((members[p] for p in picks), key=lambda m: m[1])[0]
            ops = list(parent)
            position = int(rng.integers(0, 6))
            others = [o for o in range(5) if o != ops[position]]
            ops[position] = others[int(rng.integers(0, 4))]
        i = index_of(ops)
        members.append((ops, valid[i]))
        if valid[i] > best:
            best, reported = valid[i], test[i]
    return reported


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    valid, test = load()
    for name, search in [("random", random_search), ("evolution", evolution)]:
        started = time.perf_counter()
        results = [search(valid, test, seed) for seed in range(seeds)]
        seconds = time.perf_counter() - started
        print(
            f"{name}: {seeds * BUDGET} evaluations in {seconds:.3f} s "
            f"({seeds * BUDGET / seconds:.0f} evaluations/s); "
            f"mean reported {np.mean(results):.3f}"
        )


if __name__ == "__main__":
    main()
