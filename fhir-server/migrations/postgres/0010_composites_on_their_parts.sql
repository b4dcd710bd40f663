-- Observation `code-value-quantity` and `code-value-concept` are matched on the rows of
-- the parameters their components are (`code`, `value-quantity`, `value-concept`: see
-- `fhir_model::search_params::composite_parts`), so their own rows, which repeated those,
-- are no longer written or read.
DELETE FROM idx_token WHERE res_type = 'Observation'
    AND param IN ('code-value-quantity$0', 'code-value-concept$0', 'code-value-concept$1');
DELETE FROM idx_quantity WHERE res_type = 'Observation' AND param = 'code-value-quantity$1';
DELETE FROM idx_token_patient WHERE res_type = 'Observation'
    AND param IN ('code-value-quantity$0', 'code-value-concept$0', 'code-value-concept$1');
