//! The authorization server's state: its signing keys, its storage and its URLs.
//!
//! Keys: with `--signing-key-file` the key comes from that PEM file and nothing is
//! stored; otherwise the newest unretired key in `auth_key` signs, and one is generated
//! (ES384) and stored on the first start. Every unretired stored key verifies, so tokens
//! signed before a rotation stay good until they expire, and an instance that meets a
//! `kid` it does not know (another instance generated it) re-reads the keys once.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use smart_auth::keys::jwk_set;
use smart_auth::{
    AccessTokenClaims, Grant, IssuedToken, SigningAlgorithm, SigningKey, TokenConfig, TokenService,
};

use super::store::AuthStore;
use crate::config::Config;
use crate::error::ApiError;
use crate::store::ResourceStore;

/// The SMART authorization server of one FHIR base.
pub struct AuthService {
    /// Clients, users, codes, refresh tokens, launches, keys.
    pub store: AuthStore,
    /// The FHIR base URL: every token's `aud` and `iss`.
    pub fhir_base: String,
    /// Where the authorization endpoints are (`{origin}/auth`).
    pub auth_base: String,
    /// The signing service first, then the other keys that still verify.
    services: RwLock<Vec<Arc<TokenService>>>,
    /// The key came from a file: nothing to re-read from the database.
    key_from_file: bool,
    /// The RS256 key that signs id tokens, once one was needed.
    id_key: tokio::sync::OnceCell<SigningKey>,
}

impl AuthService {
    /// Loads (or creates) the signing keys for the server at `fhir_base`.
    pub async fn open(
        store: &dyn ResourceStore,
        fhir_base: &str,
        config: &Config,
    ) -> anyhow::Result<AuthService> {
        let auth_store = AuthStore::new(store.reader());
        if let Some(path) = &config.clients_file {
            super::admin::load_clients_file(store, path).await?;
        }
        let origin = fhir_base.strip_suffix("/fhir").unwrap_or(fhir_base);
        let mut service = AuthService {
            store: auth_store,
            fhir_base: fhir_base.to_owned(),
            auth_base: format!("{origin}/auth"),
            services: RwLock::new(Vec::new()),
            key_from_file: config.signing_key_file.is_some(),
            id_key: tokio::sync::OnceCell::new(),
        };
        let keys = match &config.signing_key_file {
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("cannot read the signing key {}: {e}", path.display())
                })?;
                vec![SigningKey::from_pem(&pem)?]
            }
            None => {
                let mut keys = service.stored_keys().await?;
                if keys.is_empty() {
                    let key = SigningKey::generate(SigningAlgorithm::Es384)?;
                    service
                        .store
                        .put_key(
                            key.kid(),
                            key.algorithm().as_str(),
                            &key.to_pem()?,
                            unix_now() as i64,
                        )
                        .await?;
                    keys.push(key);
                }
                keys
            }
        };
        service.install(keys);
        Ok(service)
    }

    /// The stored keys that still verify (not retired, or retired only from a time yet
    /// to come), the signing one first: the newest unretired.
    async fn stored_keys(&self) -> anyhow::Result<Vec<SigningKey>> {
        verifying_keys(&self.store).await
    }

    fn install(&mut self, keys: Vec<SigningKey>) {
        let services = keys.into_iter().map(|k| self.service_for(k)).collect();
        *self.services.get_mut().unwrap_or_else(|e| e.into_inner()) = services;
    }

    /// A token service for one key: tokens issued by and for this FHIR base.
    fn service_for(&self, key: SigningKey) -> Arc<TokenService> {
        Arc::new(TokenService::new(
            key,
            TokenConfig::new(self.fhir_base.clone(), self.fhir_base.clone()),
        ))
    }

    fn services(&self) -> Vec<Arc<TokenService>> {
        self.services
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The public keys (JWKS): every key that verifies access tokens, and the id-token
    /// keys, read afresh so keys another instance made are listed too.
    pub async fn jwks(&self) -> Result<serde_json::Value, ApiError> {
        let stored = if self.key_from_file {
            Vec::new()
        } else {
            verifying_keys(&self.store)
                .await
                .map_err(ApiError::internal)?
        };
        let id_keys = id_token_keys(&self.store)
            .await
            .map_err(ApiError::internal)?;
        let services = self.services();
        // The file's key is this instance's own; stored keys are every instance's.
        let file_keys = services
            .iter()
            .filter(|_| self.key_from_file)
            .map(|s| s.key());
        let set = jwk_set(file_keys.chain(stored.iter()).chain(id_keys.iter()));
        serde_json::to_value(set).map_err(ApiError::internal)
    }

    /// Signs OpenID Connect id-token claims with RS256 (SMART App Launch: "SHALL support
    /// … RSA SHA-256"; OIDC Core §15.1), with a key of its own: made and stored the first
    /// time one is needed.
    pub async fn sign_id_token<T: serde::Serialize>(&self, claims: &T) -> Result<String, ApiError> {
        let key = self
            .id_key
            .get_or_try_init(|| async {
                if let Some(key) = id_token_keys(&self.store).await?.into_iter().next() {
                    return Ok::<_, anyhow::Error>(key);
                }
                let key = SigningKey::generate(SigningAlgorithm::Rs256)?;
                self.store
                    .put_key(
                        key.kid(),
                        key.algorithm().as_str(),
                        &key.to_pem()?,
                        unix_now() as i64,
                    )
                    .await?;
                Ok(key)
            })
            .await
            .map_err(ApiError::internal)?;
        key.sign(claims).map_err(ApiError::internal)
    }

    /// Signs an access token for `grant`.
    pub fn issue(&self, grant: &Grant) -> Result<IssuedToken, ApiError> {
        self.issue_for(grant, smart_auth::tokens::DEFAULT_LIFETIME)
    }

    /// Signs an access token for `grant` living at most `lifetime`.
    pub fn issue_for(&self, grant: &Grant, lifetime: Duration) -> Result<IssuedToken, ApiError> {
        let services = self.services();
        let signer = services
            .first()
            .ok_or_else(|| ApiError::internal("no signing key"))?;
        signer
            .issue_for(grant, SystemTime::now(), lifetime)
            .map_err(ApiError::internal)
    }

    /// Checks a bearer token: signed by one of the keys, unexpired, issued by and for this
    /// server, not revoked. 401 `invalid_token` otherwise.
    pub async fn verify_access_token(&self, token: &str) -> Result<AccessTokenClaims, ApiError> {
        let verified = match self.verify_signed(token) {
            Err(smart_auth::Error::UnknownKeyId(_)) if !self.key_from_file => {
                // Another instance may have made a key since this one started.
                if let Ok(keys) = self.stored_keys().await
                    && !keys.is_empty()
                {
                    let services = keys.into_iter().map(|k| self.service_for(k)).collect();
                    *self.services.write().unwrap_or_else(|e| e.into_inner()) = services;
                }
                self.verify_signed(token)
            }
            other => other,
        };
        let claims = verified.map_err(|e| {
            ApiError::unauthorized(Some("invalid_token"), format!("Access token refused: {e}"))
        })?;
        if self.store.is_access_revoked(&claims.jti).await? {
            return Err(ApiError::unauthorized(
                Some("invalid_token"),
                "Access token refused: it was revoked",
            ));
        }
        Ok(claims)
    }

    /// The claims of a token this server signed, if the signature, times, issuer and
    /// audience hold (revocation not checked).
    fn verify_signed(&self, token: &str) -> Result<AccessTokenClaims, smart_auth::Error> {
        let now = SystemTime::now();
        let kid = header_kid(token);
        let services = self.services();
        let service = services
            .iter()
            .find(|s| Some(s.key().kid()) == kid.as_deref())
            .ok_or_else(|| smart_auth::Error::UnknownKeyId(kid.clone().unwrap_or_default()))?;
        service.verify(token, now)
    }
}

/// The stored keys that still verify, the signing one (the newest unretired) first.
async fn verifying_keys(store: &AuthStore) -> anyhow::Result<Vec<SigningKey>> {
    let now = unix_now() as i64;
    let mut rows = store.keys().await?;
    rows.retain(|k| k.retired_at.is_none_or(|at| at > now) && k.alg != ID_TOKEN_ALG);
    // Unretired before retiring, then newest first.
    rows.sort_by(|a, b| {
        (
            a.retired_at.is_some(),
            std::cmp::Reverse(a.created_at),
            &a.kid,
        )
            .cmp(&(
                b.retired_at.is_some(),
                std::cmp::Reverse(b.created_at),
                &b.kid,
            ))
    });
    rows.iter()
        .map(|k| SigningKey::from_pem(&k.private_pem).map_err(Into::into))
        .collect()
}

/// The algorithm of id-token keys (`auth_key.alg`).
const ID_TOKEN_ALG: &str = "RS256";

/// The stored id-token keys (RS256), newest first.
async fn id_token_keys(store: &AuthStore) -> anyhow::Result<Vec<SigningKey>> {
    let mut rows = store.keys().await?;
    rows.retain(|k| k.alg == ID_TOKEN_ALG && k.retired_at.is_none());
    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.kid.cmp(&a.kid)));
    rows.iter()
        .map(|k| {
            SigningKey::from_pem_for(&k.private_pem, SigningAlgorithm::Rs256).map_err(Into::into)
        })
        .collect()
}

/// Key rotation (`fhir-server key rotate`): a new ES384 key signs from now on (each
/// instance takes it up at its next start, or as soon as it meets a token signed with
/// it); the keys it replaces keep verifying until every token they signed has expired
/// (the access-token lifetime plus leeway), then drop out of the JWKS. Returns the new
/// `kid`.
pub async fn rotate_key(store: &AuthStore) -> anyhow::Result<String> {
    let now = unix_now() as i64;
    let key = SigningKey::generate(SigningAlgorithm::Es384)?;
    let old: Vec<String> = store
        .keys()
        .await?
        .into_iter()
        .filter(|k| k.retired_at.is_none() && k.alg != ID_TOKEN_ALG)
        .map(|k| k.kid)
        .collect();
    store
        .put_key(key.kid(), key.algorithm().as_str(), &key.to_pem()?, now)
        .await?;
    let grace = (smart_auth::tokens::DEFAULT_LIFETIME + smart_auth::tokens::DEFAULT_LEEWAY)
        .as_secs() as i64;
    for kid in old {
        store.retire_key(&kid, now + grace).await?;
    }
    Ok(key.kid().to_owned())
}

/// The `kid` of a compact JWS header, if it has one.
fn header_kid(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("kid")?.as_str().map(str::to_owned)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
