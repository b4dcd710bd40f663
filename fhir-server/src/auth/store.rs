//! The authorization server's storage: registered clients, users, authorization codes,
//! refresh tokens, revoked access tokens, launch contexts, signing keys and seen
//! client-assertion `jti`s (tables `auth_*`, migration 0005).
//!
//! Every call is one small statement (two for a refresh token presented a second time or a
//! `jti` check) sent straight to the store's pool in autocommit, outside the write jobs of
//! [`crate::store::ResourceStore`]. On SQLite such a write waits for the resource writer's
//! group commit through the connections' `busy_timeout` (5 s) rather than queueing behind
//! it; on PostgreSQL it is an ordinary pooled statement.
//!
//! Codes and tokens arrive here already hashed: the tables never see a value that could
//! be presented as a credential. Times are Unix seconds; `now` is always an argument.
//! Single use is atomic in the database (`UPDATE … WHERE used = 0 … RETURNING`), so of
//! two concurrent redemptions of one code or refresh token exactly one succeeds, across
//! server instances sharing a PostgreSQL database too.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyPool, Row};

use crate::store::StoreError;
use crate::store::sql::{Dialect, SqlReader};

/// A user who can sign in at the authorization endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The login name.
    pub username: String,
    /// The password hash (PHC string), as given to [`AuthStore::put_user`].
    pub password_hash: String,
    /// The user's FHIR resource (`Practitioner/123`), for the `fhirUser` claim.
    pub fhir_user: String,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("fhir_user", &self.fhir_user)
            .finish()
    }
}

/// A refresh token redeemed by [`AuthStore::take_refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    /// The family: every token rotated from one grant shares it.
    pub family: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// The caller's payload (the grant: scopes, launch context…).
    pub payload: String,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was live; it is now used (the caller issues its successor in `family`).
    Valid(RefreshRow),
    /// The token had already been used: a rotated token presented again, so it may have
    /// been stolen. Its whole family is now revoked ([RFC 6819 §5.2.2.3], [OAuth 2.1
    /// §4.3.1]); the legitimate client has to authorize again.
    ///
    /// [RFC 6819 §5.2.2.3]: https://www.rfc-editor.org/rfc/rfc6819#section-5.2.2.3
    /// [OAuth 2.1 §4.3.1]: https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.3.1
    Reused,
    /// No such token, or it is expired or revoked.
    Unknown,
}

/// A token signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// The key id (JWK thumbprint).
    pub kid: String,
    /// The JWS algorithm (`ES384`, `RS384`).
    pub alg: String,
    /// The private key, PKCS#8 PEM.
    pub private_pem: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it stopped signing (Unix seconds), if it has.
    pub retired_at: Option<i64>,
}

impl std::fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_pem", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// The `auth_*` tables, over the resource store's pool.
#[derive(Clone)]
pub struct AuthStore {
    pool: AnyPool,
    dialect: Dialect,
}

type Statement = sqlx::query::Query<'static, Any, AnyArguments>;

impl AuthStore {
    /// The tables of the store whose read side is `reader` (`store.reader()`); the pool is
    /// shared, not copied.
    pub fn new(reader: &SqlReader) -> Self {
        AuthStore {
            pool: reader.pool.clone(),
            dialect: reader.dialect,
        }
    }

    /// A fixed statement in the dialect's placeholders ([`Dialect::statement`]).
    fn statement(&self, sql: &'static str) -> Statement {
        self.dialect.statement(sql)
    }

    async fn execute(&self, statement: Statement) -> Result<u64, StoreError> {
        Ok(statement.execute(&self.pool).await?.rows_affected())
    }

    async fn optional(&self, statement: Statement) -> Result<Option<AnyRow>, StoreError> {
        Ok(statement.fetch_optional(&self.pool).await?)
    }

    // Clients.

    /// Registers a client or replaces its record (an existing client keeps its
    /// `created_at`). `record` is JSON text, opaque here.
    pub async fn put_client(
        &self,
        client_id: &str,
        record: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let q = self
            .statement(
                "INSERT INTO auth_client (client_id, record, created_at) VALUES (?, ?, ?) \
                 ON CONFLICT (client_id) DO UPDATE SET record = excluded.record",
            )
            .bind(client_id.to_owned())
            .bind(record.to_owned())
            .bind(now.to_owned());
        self.execute(q).await.map(drop)
    }

    /// A client's record.
    pub async fn client(&self, client_id: &str) -> Result<Option<String>, StoreError> {
        let q = self
            .statement("SELECT record FROM auth_client WHERE client_id = ?")
            .bind(client_id.to_owned());
        Ok(self.optional(q).await?.map(|r| r.try_get(0)).transpose()?)
    }

    /// Removes a client; whether it existed. (Its refresh tokens stay until revoked or
    /// expired; the token endpoint refuses tokens of unknown clients.)
    pub async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let q = self
            .statement("DELETE FROM auth_client WHERE client_id = ?")
            .bind(client_id.to_owned());
        Ok(self.execute(q).await? > 0)
    }

    // Users.

    /// Adds a user or replaces their password hash and FHIR user (an existing user keeps
    /// their `created_at`).
    pub async fn put_user(
        &self,
        username: &str,
        password_hash: &str,
        fhir_user: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let q = self
            .statement(
                "INSERT INTO auth_user (username, password_hash, fhir_user, created_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (username) DO UPDATE \
                 SET password_hash = excluded.password_hash, fhir_user = excluded.fhir_user",
            )
            .bind(username.to_owned())
            .bind(password_hash.to_owned())
            .bind(fhir_user.to_owned())
            .bind(now.to_owned());
        self.execute(q).await.map(drop)
    }

    /// A user by login name.
    pub async fn user(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let q = self
            .statement(
                "SELECT username, password_hash, fhir_user FROM auth_user WHERE username = ?",
            )
            .bind(username.to_owned());
        let Some(row) = self.optional(q).await? else {
            return Ok(None);
        };
        Ok(Some(UserRow {
            username: row.try_get(0)?,
            password_hash: row.try_get(1)?,
            fhir_user: row.try_get(2)?,
        }))
    }

    // Authorization codes.

    /// Stores an authorization code (by hash) with the caller's payload.
    pub async fn put_code(
        &self,
        code_hash: &str,
        payload: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let q = self
            .statement("INSERT INTO auth_code (code_hash, payload, expires_at) VALUES (?, ?, ?)")
            .bind(code_hash.to_owned())
            .bind(payload.to_owned())
            .bind(expires_at);
        self.execute(q).await.map(drop)
    }

    /// Redeems a code: its payload if it is known, unused and not expired at `now`, and
    /// marks it used in the same statement, so a code is redeemed at most once even by
    /// concurrent requests. `None` otherwise.
    pub async fn take_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let q = self
            .statement(
                "UPDATE auth_code SET used = 1 \
                 WHERE code_hash = ? AND used = 0 AND expires_at > ? RETURNING payload",
            )
            .bind(code_hash.to_owned())
            .bind(now);
        Ok(self.optional(q).await?.map(|r| r.try_get(0)).transpose()?)
    }

    // Refresh tokens.

    /// Stores a refresh token (by hash) of a family.
    pub async fn put_refresh(
        &self,
        token_hash: &str,
        family: &str,
        client_id: &str,
        payload: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let q = self
            .statement(
                "INSERT INTO auth_refresh (token_hash, family, client_id, payload, expires_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(token_hash.to_owned())
            .bind(family.to_owned())
            .bind(client_id.to_owned())
            .bind(payload.to_owned())
            .bind(expires_at);
        self.execute(q).await.map(drop)
    }

    /// Redeems a refresh token (rotation: each is used once). A token already used is a
    /// reuse: its family is revoked, including the successor issued for it. Of two
    /// concurrent redemptions one is [`RefreshOutcome::Valid`] and the other
    /// [`RefreshOutcome::Reused`], which revokes the family: a client that races itself
    /// loses its grant, as reuse detection requires.
    pub async fn take_refresh(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<RefreshOutcome, StoreError> {
        let q = self
            .statement(
                "UPDATE auth_refresh SET used = 1 \
                 WHERE token_hash = ? AND used = 0 AND revoked = 0 AND expires_at > ? \
                 RETURNING family, client_id, payload",
            )
            .bind(token_hash.to_owned())
            .bind(now);
        if let Some(row) = self.optional(q).await? {
            return Ok(RefreshOutcome::Valid(RefreshRow {
                family: row.try_get(0)?,
                client_id: row.try_get(1)?,
                payload: row.try_get(2)?,
            }));
        }
        // Not redeemable: revoke the family if that is because it was used before.
        let q = self
            .statement(
                "UPDATE auth_refresh SET revoked = 1 WHERE family IN \
                 (SELECT family FROM auth_refresh WHERE token_hash = ? AND used = 1)",
            )
            .bind(token_hash.to_owned());
        Ok(if self.execute(q).await? > 0 {
            RefreshOutcome::Reused
        } else {
            RefreshOutcome::Unknown
        })
    }

    /// Revokes a refresh token and its whole family ([RFC 7009] revocation); whether the
    /// token was known.
    ///
    /// [RFC 7009]: https://www.rfc-editor.org/rfc/rfc7009
    pub async fn revoke_refresh(&self, token_hash: &str) -> Result<bool, StoreError> {
        let q = self
            .statement(
                "UPDATE auth_refresh SET revoked = 1 WHERE family IN \
                 (SELECT family FROM auth_refresh WHERE token_hash = ?)",
            )
            .bind(token_hash.to_owned());
        Ok(self.execute(q).await? > 0)
    }

    /// Revokes every refresh token of a family; how many tokens it had.
    pub async fn revoke_refresh_family(&self, family: &str) -> Result<u64, StoreError> {
        let q = self
            .statement("UPDATE auth_refresh SET revoked = 1 WHERE family = ?")
            .bind(family.to_owned());
        self.execute(q).await
    }

    // Access tokens.

    /// Revokes an access token by its `jti` until `expires_at` (its `exp`; after that it is
    /// refused anyway). Revoking twice is harmless.
    pub async fn revoke_access(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        let q = self
            .statement(
                "INSERT INTO auth_revoked_token (jti, expires_at) VALUES (?, ?) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti.to_owned())
            .bind(expires_at);
        self.execute(q).await.map(drop)
    }

    /// Whether the access token with this `jti` was revoked.
    pub async fn is_access_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let q = self
            .statement("SELECT jti FROM auth_revoked_token WHERE jti = ?")
            .bind(jti.to_owned());
        Ok(self.optional(q).await?.is_some())
    }

    // Launch contexts.

    /// Stores an EHR launch context under its `launch` id.
    pub async fn put_launch(
        &self,
        launch_id: &str,
        payload: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let q = self
            .statement("INSERT INTO auth_launch (launch_id, payload, expires_at) VALUES (?, ?, ?)")
            .bind(launch_id.to_owned())
            .bind(payload.to_owned())
            .bind(expires_at);
        self.execute(q).await.map(drop)
    }

    /// A launch context, if known and not expired at `now` (not consumed: the app may
    /// retry its authorization request until it expires).
    pub async fn launch(&self, launch_id: &str, now: i64) -> Result<Option<String>, StoreError> {
        let q = self
            .statement("SELECT payload FROM auth_launch WHERE launch_id = ? AND expires_at > ?")
            .bind(launch_id.to_owned())
            .bind(now);
        Ok(self.optional(q).await?.map(|r| r.try_get(0)).transpose()?)
    }

    // Signing keys.

    /// Stores a signing key.
    pub async fn put_key(
        &self,
        kid: &str,
        alg: &str,
        private_pem: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        let q = self
            .statement(
                "INSERT INTO auth_key (kid, alg, private_pem, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(kid.to_owned())
            .bind(alg.to_owned())
            .bind(private_pem.to_owned())
            .bind(created_at);
        self.execute(q).await.map(drop)
    }

    /// Every signing key, retired ones included, oldest first.
    pub async fn keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let rows = self
            .statement(
                "SELECT kid, alg, private_pem, created_at, retired_at FROM auth_key \
                 ORDER BY created_at, kid",
            )
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(KeyRow {
                    kid: row.try_get(0)?,
                    alg: row.try_get(1)?,
                    private_pem: row.try_get(2)?,
                    created_at: row.try_get(3)?,
                    retired_at: row.try_get(4)?,
                })
            })
            .collect()
    }

    /// Retires a key at `at` (it signs no more; verifiers may still accept its tokens);
    /// whether a key not yet retired had that id.
    pub async fn retire_key(&self, kid: &str, at: i64) -> Result<bool, StoreError> {
        let q = self
            .statement("UPDATE auth_key SET retired_at = ? WHERE kid = ? AND retired_at IS NULL")
            .bind(at)
            .bind(kid.to_owned());
        Ok(self.execute(q).await? > 0)
    }

    // Client assertions.

    /// Records the `jti` of a client assertion valid until `expires_at`: `true` the first
    /// time, `false` for a replay of one still remembered at `now` ([RFC 7523 §3] item 7).
    /// A remembered `jti` that expired is forgotten first.
    ///
    /// [RFC 7523 §3]: https://www.rfc-editor.org/rfc/rfc7523#section-3
    pub async fn remember_assertion_jti(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let q = self
            .statement("DELETE FROM auth_assertion_jti WHERE jti = ? AND expires_at <= ?")
            .bind(jti.to_owned())
            .bind(now);
        self.execute(q).await?;
        let q = self
            .statement(
                "INSERT INTO auth_assertion_jti (jti, expires_at) VALUES (?, ?) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti.to_owned())
            .bind(expires_at);
        Ok(self.execute(q).await? == 1)
    }

    // Housekeeping.

    /// Deletes codes, refresh tokens, revoked-token entries, launch contexts and assertion
    /// `jti`s expired at `now`; how many rows. (Expired refresh tokens can no longer
    /// reveal a reuse, but they could not be redeemed either.) Keys are kept.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let mut purged = 0;
        for sql in [
            "DELETE FROM auth_code WHERE expires_at <= ?",
            "DELETE FROM auth_refresh WHERE expires_at <= ?",
            "DELETE FROM auth_revoked_token WHERE expires_at <= ?",
            "DELETE FROM auth_launch WHERE expires_at <= ?",
            "DELETE FROM auth_assertion_jti WHERE expires_at <= ?",
        ] {
            purged += self.execute(self.statement(sql).bind(now)).await?;
        }
        Ok(purged)
    }
}
