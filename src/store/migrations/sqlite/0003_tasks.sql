-- Version 3: the evaluations a searching process hands to workers. A task is pending, leased
-- by a worker until `lease_until` (seconds since the Unix epoch, renewed by its heartbeat),
-- done with its outcome (JSON), or failed after too many leases ran out.
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    seed INTEGER NOT NULL,
    hash TEXT NOT NULL,
    decisions TEXT NOT NULL,
    status TEXT NOT NULL,
    worker TEXT NOT NULL DEFAULT '',
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL DEFAULT ''
);

CREATE INDEX tasks_by_status ON tasks (status, id);
CREATE INDEX tasks_by_candidate ON tasks (run_id, seed, hash);
