-- Version 4 (PostgreSQL): the run a run is a stage of (a compression's removal and shrinkage
-- searches are runs of their own under the compression's run), so a resume finds its stages.
ALTER TABLE runs ADD COLUMN parent BIGINT REFERENCES runs (id);
