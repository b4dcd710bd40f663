-- Token display text (CodeableConcept.text, Coding.display, Identifier.type.text),
-- normalized (lower case, accents removed), for the `:text` modifier. Rows written before
-- this migration have no text until their resource is written again (re-indexed).
ALTER TABLE idx_token ADD COLUMN text TEXT;
