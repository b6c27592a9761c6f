-- Version 1: runs, their (controller, seed) parts, every evaluation as a ledger row, and the
-- run folder's files as artefacts.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    command TEXT NOT NULL,
    folder TEXT NOT NULL,
    experiment TEXT NOT NULL,
    context TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    finished_at TEXT
);

CREATE TABLE run_parts (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    position INTEGER NOT NULL,
    controller TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    stop TEXT,
    controller_seconds DOUBLE PRECISION,
    seconds DOUBLE PRECISION,
    PRIMARY KEY (run_id, controller, seed)
);

CREATE TABLE evaluations (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    controller TEXT NOT NULL,
    seed INTEGER NOT NULL,
    proposal INTEGER NOT NULL,
    step INTEGER NOT NULL,
    arch TEXT NOT NULL,
    hash TEXT NOT NULL,
    decisions TEXT NOT NULL,
    search_metric DOUBLE PRECISION,
    reported_metric DOUBLE PRECISION,
    params BIGINT,
    macs BIGINT,
    latency_ms DOUBLE PRECISION,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    reward DOUBLE PRECISION,
    cached BOOLEAN NOT NULL,
    counted BOOLEAN NOT NULL,
    simulated_seconds DOUBLE PRECISION NOT NULL,
    wall_seconds DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, controller, seed, proposal)
);

CREATE INDEX evaluations_by_hash ON evaluations (run_id, hash);

CREATE TABLE artefacts (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    name TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
