-- The reference lookup index leads with the target's id. Every lookup through it names the
-- target (a reference search, a chain's hop, `_has`, `_revinclude`), so it serves them as
-- before, and `_revinclude=*`, which names no source type or parameter, now uses it too.
-- On writes the rows that point to one resource (a patient's `subject` and `patient` of
-- every type, an encounter's `encounter` of every type) sit together, so a transaction of
-- one patient's data dirties a few leaf pages of this index instead of one per source type
-- and parameter; in WAL mode each dirty page is a frame written at commit.
-- (PostgreSQL keeps its order: its WAL logs rows, not pages.)
DROP INDEX idx_reference_lookup;
CREATE INDEX idx_reference_lookup ON idx_reference (target_id, res_type, param, target_type);
