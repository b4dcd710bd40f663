-- Composite search parameters (`code-value-quantity`): their components are index rows
-- named `{code}${k}` in the tables of their types; `grp` says which root item of the
-- composite each came from, so a search matches components of the same item together.
ALTER TABLE idx_token ADD COLUMN grp INTEGER;
ALTER TABLE idx_reference ADD COLUMN grp INTEGER;
ALTER TABLE idx_string ADD COLUMN grp INTEGER;
ALTER TABLE idx_date ADD COLUMN grp INTEGER;
ALTER TABLE idx_number ADD COLUMN grp INTEGER;
ALTER TABLE idx_quantity ADD COLUMN grp INTEGER;
ALTER TABLE idx_uri ADD COLUMN grp INTEGER;
-- Quantities in canonical UCUM form (`37 Cel` is `310.15 K`), so a search in any unit of
-- the dimension finds them. Rows written before this migration have none until their
-- resource is re-indexed (`$reindex`, or written again).
ALTER TABLE idx_quantity ADD COLUMN canon_value DOUBLE PRECISION;
ALTER TABLE idx_quantity ADD COLUMN canon_unit TEXT;
CREATE INDEX idx_quantity_canon ON idx_quantity (res_type, param, canon_unit, canon_value);
