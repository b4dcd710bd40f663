-- Every version of every resource is kept (history); `resource` holds one row per logical
-- resource with its current version, and is the key the index tables hang off.
-- Index tables are clustered by (res_pk, seq): a resource's rows sit together (cheap to
-- replace on update), new resources append, and only the lookup index is extra.
CREATE TABLE resource (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    res_type TEXT NOT NULL,
    res_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    UNIQUE (res_type, res_id)
);

CREATE TABLE resource_version (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    res_pk INTEGER NOT NULL REFERENCES resource (pk),
    res_type TEXT NOT NULL,
    res_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    method TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    content TEXT,
    UNIQUE (res_pk, version)
);
CREATE INDEX resource_version_updated ON resource_version (last_updated, row_id);
CREATE INDEX resource_version_type_updated ON resource_version (res_type, last_updated, row_id);

CREATE TABLE idx_token (res_pk INTEGER NOT NULL, seq INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, system TEXT, code TEXT, PRIMARY KEY (res_pk, seq)) WITHOUT ROWID;
CREATE INDEX idx_token_lookup ON idx_token (res_type, param, code, system);

CREATE TABLE idx_reference (res_pk INTEGER NOT NULL, seq INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, target_type TEXT, target_id TEXT, url TEXT NOT NULL, PRIMARY KEY (res_pk, seq)) WITHOUT ROWID;
CREATE INDEX idx_reference_lookup ON idx_reference (res_type, param, target_id, target_type);

CREATE TABLE idx_string (res_pk INTEGER NOT NULL, seq INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, normalized TEXT NOT NULL, exact TEXT NOT NULL, PRIMARY KEY (res_pk, seq)) WITHOUT ROWID;
CREATE INDEX idx_string_lookup ON idx_string (res_type, param, normalized);

CREATE TABLE idx_date (res_pk INTEGER NOT NULL, seq INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, start_at TEXT NOT NULL, end_at TEXT NOT NULL, PRIMARY KEY (res_pk, seq)) WITHOUT ROWID;
CREATE INDEX idx_date_lookup ON idx_date (res_type, param, start_at, end_at);

CREATE TABLE idx_number (res_pk INTEGER NOT NULL, seq INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, PRIMARY KEY (res_pk, seq)) WITHOUT ROWID;
CREATE INDEX idx_number_lookup ON idx_number (res_type, param, value);

CREATE TABLE idx_quantity (res_pk INTEGER NOT NULL, seq INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, system TEXT, code TEXT, unit TEXT, PRIMARY KEY (res_pk, seq)) WITHOUT ROWID;
CREATE INDEX idx_quantity_lookup ON idx_quantity (res_type, param, code, value);

CREATE TABLE idx_uri (res_pk INTEGER NOT NULL, seq INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, uri TEXT NOT NULL, PRIMARY KEY (res_pk, seq)) WITHOUT ROWID;
CREATE INDEX idx_uri_lookup ON idx_uri (res_type, param, uri);
