//! The token endpoint (`POST /auth/token`, RFC 6749 §3.2) and its companions,
//! introspection (`POST /auth/introspect`, RFC 7662), revocation (`POST /auth/revoke`,
//! RFC 7009) and OpenID Connect's userinfo (`/auth/userinfo`).
//!
//! Grants:
//! - `authorization_code`: the code (single use, a minute) is bound to the client, the
//!   redirect URI and the PKCE challenge it was issued for;
//! - `refresh_token`: rotation (each refresh token works once and is replaced; using one
//!   twice revokes its whole family, RFC 9700 §4.14.2), bound to its client, scopes only
//!   narrowed;
//! - `client_credentials`: SMART Backend Services, a `private_key_jwt` client asking for
//!   `system/` scopes only; no refresh token, five-minute tokens.
//!
//! Codes and refresh tokens are random 256-bit values stored only as SHA-256 hashes.
//! Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`; errors are the
//! OAuth JSON `{"error", "error_description"}`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use smart_auth::clients::{Credentials, authenticate, credentials_from};
use smart_auth::oauth_error::OAuthError;
use smart_auth::params::Params;
use smart_auth::{Client, Grant, LaunchContext, Scope, ScopeSet};

use super::AuthService;
use super::service::unix_now;
use crate::AppState;
use crate::http::body::FormBody;

/// How long an authorization code is good for.
pub const CODE_LIFETIME: i64 = 60;
/// How long a Backend Services access token lives.
const BACKEND_LIFETIME: Duration = Duration::from_secs(300);
/// How long an `offline_access` refresh token lives.
const OFFLINE_LIFETIME: i64 = 90 * 24 * 3600;
/// How long an `online_access` refresh token lives.
const ONLINE_LIFETIME: i64 = 12 * 3600;
/// How long an id token lives.
const ID_TOKEN_LIFETIME: u64 = 3600;

/// What a code or a refresh token stands for: the grant it turns into tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The scopes granted.
    pub scope: String,
    /// The signed-in user's name (the token's `sub`).
    pub username: String,
    /// The user's FHIR resource (`Patient/1`, `Practitioner/2`).
    pub fhir_user: Option<String>,
    /// The patient in context.
    pub patient: Option<String>,
    /// The encounter in context.
    pub encounter: Option<String>,
    /// For a code: the redirect URI it was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// For a code: the PKCE `S256` challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    /// Whether the launch was standalone with a patient picked (the app should show a
    /// patient banner).
    #[serde(default)]
    pub need_patient_banner: bool,
    /// Further launch context (`fhirContext`: references with a role), from an EHR launch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fhir_context: Vec<Value>,
}

/// SHA-256 of a secret value, base64url: what the tables keep of codes and tokens.
pub fn secret_hash(value: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(value))
}

/// 256 random bits, base64url: codes, refresh tokens, launch ids, tickets.
pub fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn getrandom(bytes: &mut [u8]) {
    use rand_core::RngCore;
    rand_core::OsRng.fill_bytes(bytes);
}

/// An OAuth error response, with the no-store headers.
pub fn oauth_error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = no_store((status, e.to_json().to_string()).into_response());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"HealthOS\""),
        );
    }
    response
}

/// `Cache-Control: no-store`, `Pragma: no-cache` and JSON.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn json_ok(value: &Value) -> Response {
    no_store((StatusCode::OK, value.to_string()).into_response())
}

fn server_error(e: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %e, "authorization server error");
    OAuthError::new(
        smart_auth::OAuthErrorCode::ServerError,
        "internal error; retry later",
    )
}

fn auth_of(state: &AppState) -> Result<&AuthService, OAuthError> {
    state.auth.as_deref().ok_or_else(|| {
        OAuthError::invalid_request("this server runs without authorization (--auth off)")
    })
}

/// The registered client the credentials name, authenticated (secret, or assertion
/// signature with its `jti` not seen before). Unknown clients are `invalid_client`.
pub async fn authenticated_client(
    auth: &AuthService,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Client, OAuthError> {
    let credentials = credentials_from(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        form,
    )?;
    let client = registered_client(auth, credentials.client_id())
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    let jwks = match &credentials {
        Credentials::Assertion { .. } => client_jwks(&client).await?,
        _ => None,
    };
    let token_url = format!("{}/token", auth.auth_base);
    let accepted = authenticate(
        &client,
        &credentials,
        &token_url,
        jwks.as_ref(),
        std::time::SystemTime::now(),
    )?;
    if let Some(assertion) = &accepted.assertion {
        let first = auth
            .store
            .remember_assertion_jti(&assertion.jti, assertion.exp as i64, unix_now() as i64)
            .await
            .map_err(server_error)?;
        if !first {
            return Err(OAuthError::invalid_client(
                "this client assertion (jti) was used before",
            ));
        }
    }
    Ok(client)
}

/// A registered client by id.
pub async fn registered_client(
    auth: &AuthService,
    client_id: &str,
) -> Result<Option<Client>, OAuthError> {
    let Some(record) = auth.store.client(client_id).await.map_err(server_error)? else {
        return Ok(None);
    };
    serde_json::from_str(&record)
        .map(Some)
        .map_err(server_error)
}

/// The public keys of a `private_key_jwt` client: registered by value, or fetched from
/// its JWKS URL.
async fn client_jwks(client: &Client) -> Result<Option<smart_auth::keys::JwkSet>, OAuthError> {
    if let Some(jwks) = client.registered_jwks()? {
        return Ok(Some(jwks));
    }
    let smart_auth::ClientAuth::PrivateKeyJwt {
        jwks_url: Some(url),
        ..
    } = &client.auth
    else {
        return Ok(None);
    };
    let fetched: Value = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| OAuthError::invalid_client(format!("cannot fetch the client's JWKS: {e}")))?
        .json()
        .await
        .map_err(|e| OAuthError::invalid_client(format!("the client's JWKS is not JSON: {e}")))?;
    smart_auth::clients::parse_jwks(&fetched).map(Some)
}

/// `POST /auth/token`
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Response {
    answer(token_response(&state, &headers, &form).await)
}

/// A JSON answer or the OAuth error, with the no-store headers either way.
fn answer(result: Result<Value, OAuthError>) -> Response {
    match result {
        Ok(body) => json_ok(&body),
        Err(e) => oauth_error(&e),
    }
}

async fn token_response(
    state: &AppState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Value, OAuthError> {
    let auth = auth_of(state)?;
    let params = Params::new(form);
    params.check_no_repeats()?;
    let grant_type = params.require("grant_type")?;
    match grant_type {
        "authorization_code" => {
            let client = authenticated_client(auth, headers, form).await?;
            let code = params.require("code")?;
            let redirect_uri = params.require("redirect_uri")?;
            let verifier = params.require("code_verifier")?;
            let payload = auth
                .store
                .take_code(&secret_hash(code), unix_now() as i64)
                .await
                .map_err(server_error)?
                .ok_or_else(|| {
                    OAuthError::invalid_grant("the code is unknown, expired or already used")
                })?;
            let grant: StoredGrant = serde_json::from_str(&payload).map_err(server_error)?;
            if grant.client_id != client.client_id {
                return Err(OAuthError::invalid_grant(
                    "the code was issued to another client",
                ));
            }
            if grant.redirect_uri.as_deref() != Some(redirect_uri) {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri differs from the one the code was issued for",
                ));
            }
            let challenge = grant.code_challenge.as_deref().unwrap_or_default();
            smart_auth::pkce::verify(smart_auth::pkce::Method::S256, challenge, verifier)
                .map_err(|e| OAuthError::invalid_grant(format!("PKCE: {e}")))?;
            let scope = ScopeSet::parse(&grant.scope).map_err(server_error)?;
            issue_tokens(auth, &grant, &scope, None).await
        }
        "refresh_token" => {
            let client = authenticated_client(auth, headers, form).await?;
            let refresh = params.require("refresh_token")?;
            let outcome = auth
                .store
                .take_refresh(&secret_hash(refresh), unix_now() as i64)
                .await
                .map_err(server_error)?;
            let row = match outcome {
                super::store::RefreshOutcome::Valid(row) => row,
                super::store::RefreshOutcome::Reused => {
                    return Err(OAuthError::invalid_grant(
                        "this refresh token was already used; its whole family is now revoked",
                    ));
                }
                super::store::RefreshOutcome::Unknown => {
                    return Err(OAuthError::invalid_grant(
                        "the refresh token is unknown, expired or revoked",
                    ));
                }
            };
            if row.client_id != client.client_id {
                auth.store
                    .revoke_refresh_family(&row.family)
                    .await
                    .map_err(server_error)?;
                return Err(OAuthError::invalid_grant(
                    "the refresh token was issued to another client",
                ));
            }
            let grant: StoredGrant = serde_json::from_str(&row.payload).map_err(server_error)?;
            // The access token may be narrowed (RFC 6749 §6); the new refresh token keeps
            // the scope of the one it replaces.
            let granted = ScopeSet::parse(&grant.scope).map_err(server_error)?;
            let scope = match params.get("scope")? {
                None => granted,
                Some(requested) => {
                    let requested = ScopeSet::parse(requested)
                        .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
                    let narrowed = granted.narrow(&requested);
                    if narrowed.is_empty() {
                        return Err(OAuthError::invalid_scope(
                            "the requested scopes are not within the ones granted",
                        ));
                    }
                    narrowed
                }
            };
            issue_tokens(auth, &grant, &scope, Some(row.family)).await
        }
        "client_credentials" => {
            let client = authenticated_client(auth, headers, form).await?;
            if !matches!(client.auth, smart_auth::ClientAuth::PrivateKeyJwt { .. }) {
                return Err(OAuthError::new(
                    smart_auth::OAuthErrorCode::UnauthorizedClient,
                    "client_credentials is for Backend Services clients (private_key_jwt)",
                ));
            }
            let requested = ScopeSet::parse(params.require("scope")?)
                .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
            if let Some(bad) = requested.iter().find(
                |s| !matches!(s, Scope::Resource(r) if r.context == smart_auth::Context::System),
            ) {
                return Err(OAuthError::invalid_scope(format!(
                    "Backend Services grant system/ scopes only, not `{bad}`"
                )));
            }
            let scope = client.grantable_scope(&requested);
            if scope.is_empty() {
                return Err(OAuthError::invalid_scope(
                    "none of the requested scopes is registered for this client",
                ));
            }
            let grant = Grant {
                subject: client.client_id.clone(),
                client_id: client.client_id.clone(),
                scope,
                launch: LaunchContext::default(),
            };
            let issued = auth.issue_for(&grant, BACKEND_LIFETIME).map_err(|_| {
                OAuthError::new(smart_auth::OAuthErrorCode::ServerError, "cannot sign")
            })?;
            Ok(json!({
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": issued.claims.scope.to_string(),
            }))
        }
        other => Err(OAuthError::new(
            smart_auth::OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type `{other}` is not supported"),
        )),
    }
}

/// The token response for a user grant: an access token for `scope` (the grant's, or
/// narrower) with the launch context, a refresh token for the whole grant (in `family`,
/// or a new one) when it has `offline_access`/`online_access`, an id token with `openid`
/// and `fhirUser`.
async fn issue_tokens(
    auth: &AuthService,
    grant: &StoredGrant,
    scope: &ScopeSet,
    family: Option<String>,
) -> Result<Value, OAuthError> {
    let granted = ScopeSet::parse(&grant.scope).map_err(server_error)?;
    let token_grant = Grant {
        subject: grant.username.clone(),
        client_id: grant.client_id.clone(),
        scope: scope.clone(),
        launch: LaunchContext {
            patient: grant.patient.clone(),
            encounter: grant.encounter.clone(),
            fhir_user: grant.fhir_user.clone(),
        },
    };
    let issued = auth
        .issue(&token_grant)
        .map_err(|_| OAuthError::new(smart_auth::OAuthErrorCode::ServerError, "cannot sign"))?;
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": scope.to_string(),
    });
    let lifetime = if granted.contains(&Scope::OfflineAccess) {
        Some(OFFLINE_LIFETIME)
    } else if granted.contains(&Scope::OnlineAccess) {
        Some(ONLINE_LIFETIME)
    } else {
        None
    };
    if let Some(lifetime) = lifetime {
        let refresh = random_secret();
        let family = family.unwrap_or_else(random_secret);
        let mut stored = grant.clone();
        stored.redirect_uri = None;
        stored.code_challenge = None;
        auth.store
            .put_refresh(
                &secret_hash(&refresh),
                &family,
                &grant.client_id,
                &serde_json::to_string(&stored).map_err(server_error)?,
                unix_now() as i64 + lifetime,
            )
            .await
            .map_err(server_error)?;
        body["refresh_token"] = json!(refresh);
    }
    if scope.contains(&Scope::OpenId)
        && (scope.contains(&Scope::FhirUser) || scope.contains(&Scope::Profile))
        && let Some(fhir_user) = &grant.fhir_user
    {
        let now = unix_now();
        let claims = json!({
            "iss": auth.fhir_base,
            "sub": grant.username,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
            "fhirUser": format!("{}/{fhir_user}", auth.fhir_base),
        });
        body["id_token"] = json!(auth.sign_id_token(&claims).await.map_err(|_| {
            OAuthError::new(smart_auth::OAuthErrorCode::ServerError, "cannot sign")
        })?);
    }
    if let Some(patient) = &grant.patient {
        body["patient"] = json!(patient);
        body["need_patient_banner"] = json!(grant.need_patient_banner);
    }
    if let Some(encounter) = &grant.encounter {
        body["encounter"] = json!(encounter);
    }
    // The patient and encounter travel as `patient` and `encounter`; SMART 2.2 keeps
    // them out of `fhirContext` unless they have another role than `launch`.
    if !grant.fhir_context.is_empty() {
        body["fhirContext"] = Value::Array(grant.fhir_context.clone());
    }
    body["smart_style_url"] = json!(format!("{}/smart-style.json", auth.auth_base));
    Ok(body)
}

/// `POST /auth/introspect` (RFC 7662): for a caller presenting a valid access token or
/// a confidential client's credentials; `{"active": false}` for any token that is not
/// good now.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Response {
    let result = async {
        let auth = auth_of(&state)?;
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(super::access::bearer_token);
        match bearer {
            Some(token) => {
                auth.verify_access_token(token).await.map_err(|_| {
                    OAuthError::invalid_client("the caller's access token is not valid")
                })?;
            }
            None => {
                let client = authenticated_client(auth, &headers, &form).await?;
                if !client.is_confidential() {
                    return Err(OAuthError::invalid_client(
                        "introspection needs a confidential client or a bearer token",
                    ));
                }
            }
        }
        let params = Params::new(&form);
        let token = params.require("token")?;
        let claims = auth.verify_access_token(token).await.ok();
        Ok(smart_auth::introspection::introspection_response(
            claims.as_ref(),
        ))
    }
    .await;
    answer(result)
}

/// `POST /auth/revoke` (RFC 7009): the client revokes one of its access or refresh
/// tokens; it stops working at once. Unknown tokens are answered 200 too.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Response {
    let result = async {
        let auth = auth_of(&state)?;
        let client = authenticated_client(auth, &headers, &form).await?;
        let token = Params::new(&form).require("token")?.to_owned();
        if let Ok(claims) = auth.verify_access_token(&token).await {
            if claims.client_id != client.client_id {
                return Err(OAuthError::new(
                    smart_auth::OAuthErrorCode::UnauthorizedClient,
                    "the token was issued to another client",
                ));
            }
            auth.store
                .revoke_access(&claims.jti, claims.exp as i64)
                .await
                .map_err(server_error)?;
        } else {
            auth.store
                .revoke_refresh(&secret_hash(&token))
                .await
                .map_err(server_error)?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => oauth_error(&e),
    }
}

/// `GET`/`POST /auth/userinfo` (OpenID Connect Core §5.3): the signed-in user of an
/// access token granted `openid`: `sub` (as in the id token) and `fhirUser`.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let challenge = |error: &str, description: &str| {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            json!({"error": error, "error_description": description}).to_string(),
        )
            .into_response();
        if let Ok(value) =
            HeaderValue::from_str(&format!("Bearer realm=\"HealthOS\", error=\"{error}\""))
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        no_store(response)
    };
    let Some(auth) = state.auth.as_deref() else {
        return oauth_error(&OAuthError::invalid_request(
            "this server runs without authorization (--auth off)",
        ));
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(super::access::bearer_token)
    else {
        return challenge("invalid_request", "a bearer access token is required");
    };
    let Ok(claims) = auth.verify_access_token(token).await else {
        return challenge("invalid_token", "the access token is not valid");
    };
    if !claims.scope.contains(&Scope::OpenId) {
        let mut response = no_store(
            (
                StatusCode::FORBIDDEN,
                json!({"error": "insufficient_scope",
                       "error_description": "the access token was not granted openid"})
                .to_string(),
            )
                .into_response(),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"HealthOS\", error=\"insufficient_scope\""),
        );
        return response;
    }
    let mut body = json!({"sub": claims.sub});
    if let Some(fhir_user) = &claims.fhir_user {
        body["fhirUser"] = json!(format!("{}/{fhir_user}", auth.fhir_base));
    }
    json_ok(&body)
}
