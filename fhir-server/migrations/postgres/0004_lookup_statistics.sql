-- Extended statistics for the index lookups searches drive from. Without them PostgreSQL
-- multiplies the selectivities of (res_type, param, system, code) as if independent and
-- estimates one row for, say, every vital-sign Observation, then drives the search from
-- the wrong side. (SQLite plans from its indexes' shapes and needs nothing here.)
CREATE STATISTICS idx_token_lookup_stats (dependencies, mcv) ON res_type, param, system, code FROM idx_token;
CREATE STATISTICS idx_reference_lookup_stats (dependencies, mcv) ON res_type, param, target_type, target_id FROM idx_reference;
