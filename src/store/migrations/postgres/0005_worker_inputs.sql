-- Version 5 (PostgreSQL): what workers need beyond a run's experiment file. A task's trained
-- weights (a safetensors file's bytes), sent back with the outcome when the run keeps trained
-- weights or its space grows children from them; and a run's inputs, the files its workers
-- prepare it from (a compression search's teacher and the network it compresses), recorded
-- with the run before any task is queued.
ALTER TABLE tasks ADD COLUMN weights BYTEA;

-- A task belongs to one (controller, seed) part of its run: a growing space's child inherits
-- from what its own part trained before it.
ALTER TABLE tasks ADD COLUMN controller BIGINT NOT NULL DEFAULT 0;

CREATE TABLE inputs (
    run_id BIGINT NOT NULL REFERENCES runs (id),
    name TEXT NOT NULL,
    content BYTEA NOT NULL,
    PRIMARY KEY (run_id, name)
);
