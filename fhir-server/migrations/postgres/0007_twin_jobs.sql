-- The digital twin's work queue: one row per patient whose twin must be recomputed (an
-- import committed new data, or a rebuild was asked for). Durable, so a restart loses
-- nothing; shared, so several server instances on one PostgreSQL database split the work
-- (a worker claims a row with a lease, `FOR UPDATE SKIP LOCKED` on PostgreSQL; a worker
-- that dies frees its row when the lease runs out). Times are Unix milliseconds.
CREATE TABLE twin_job (
    patient_id TEXT PRIMARY KEY,
    queued_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX twin_job_ready ON twin_job (claimed_until, queued_at);
