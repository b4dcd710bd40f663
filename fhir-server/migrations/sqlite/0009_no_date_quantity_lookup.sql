-- Date and quantity criteria never drive a search: the compiler drives from a reference,
-- token, string or uri criterion (or scans the type) and tests dates and quantities as
-- probes on each candidate's own rows (the clustered key `res_pk`), as it sorts by them.
-- Their lookup indexes therefore had no reader, and on writes they were the costliest:
-- a date or a measured value lands on a random leaf page, and in WAL mode each dirty page
-- is a frame written at commit. In the Synthea import these three indexes were half of
-- the frames written. (PostgreSQL keeps them: its planner may choose them, and its WAL
-- logs rows, not pages.)
DROP INDEX idx_date_lookup;
DROP INDEX idx_quantity_lookup;
DROP INDEX idx_quantity_canon;
