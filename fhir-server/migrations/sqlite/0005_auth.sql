-- The SMART authorization server's state (`crate::auth::store`). Times are Unix seconds.
-- Authorization codes and refresh tokens are stored only as hashes: the caller hashes,
-- so a copy of the database holds nothing that can be presented as a credential.
-- (Version 4 is PostgreSQL's extended statistics; SQLite needs no counterpart, and a
-- version number means the same change on both dialects.)

-- Registered clients; `record` is the caller's JSON text, opaque here.
CREATE TABLE auth_client (
    client_id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Users who sign in at the authorization endpoint; `fhir_user` is their FHIR resource
-- (`Practitioner/123`).
CREATE TABLE auth_user (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    fhir_user TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Authorization codes, single use.
CREATE TABLE auth_code (
    code_hash TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);

-- Refresh tokens, single use (rotated); a family is every token rotated from one grant,
-- revoked whole when a used token is presented again.
CREATE TABLE auth_refresh (
    token_hash TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    client_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX auth_refresh_family ON auth_refresh (family);

-- Revoked access tokens (by `jti`), kept until they would have expired anyway.
CREATE TABLE auth_revoked_token (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- EHR launch contexts (`launch` parameter).
CREATE TABLE auth_launch (
    launch_id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Token signing keys (PKCS#8 PEM); a retired key (`retired_at` set) signs no more.
CREATE TABLE auth_key (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- `jti`s of client assertions seen (Backend Services), to refuse replays until expiry.
CREATE TABLE auth_assertion_jti (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
