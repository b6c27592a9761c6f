-- Version 2: the process recording a run (HOST:PID, so that two cannot resume one run) and
-- each part's last checkpoint, for a resume after a crash.
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';

CREATE TABLE checkpoints (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    controller TEXT NOT NULL,
    seed INTEGER NOT NULL,
    proposals INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (run_id, controller, seed)
);
