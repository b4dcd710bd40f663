//! Registered clients and client authentication at the token endpoint
//! ([RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3),
//! [SMART: client authentication](https://hl7.org/fhir/smart-app-launch/client-confidential-symmetric.html)).
//!
//! A [`Client`] is what registration stored: its id, where it may be redirected, the most
//! it may be granted, and how it proves its identity ([`ClientAuth`]): not at all (a
//! public app: browser or native, protected by PKCE only), with a shared secret (kept as
//! an Argon2id hash), or with a JWT signed by a key it registered (`private_key_jwt`,
//! SMART's asymmetric confidential clients and Backend Services).
//!
//! The token, introspection and revocation endpoints all authenticate the caller the
//! same way, in two pure steps around one lookup:
//!
//! 1. [`credentials_from`] reads what the request presents (the `Authorization` header
//!    and the form) into [`Credentials`], refusing a request that uses two methods at
//!    once, and names the client it claims to be ([`Credentials::client_id`]);
//! 2. the server looks that client up (and, for `private_key_jwt`, its JWKS: the one
//!    registered, or fetched from its `jwks_url`), then [`authenticate`] decides.
//!
//! The client is authenticated by the method it registered, and by that method only: a
//! confidential client cannot fall back to sending its id alone, and a client holding a
//! secret cannot present an assertion. Replay of an assertion's `jti` needs storage, so
//! [`AuthenticatedClient::assertion`] hands the `jti` and its `exp` to the server.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client_assertion::{self, AssertionPolicy, VerifiedAssertion};
use crate::keys::{Jwk, JwkSet};
use crate::oauth_error::OAuthError;
use crate::params::Params;
use crate::passwords::verify_password;
use crate::scopes::ScopeSet;

/// A registered client, stored by the server as JSON.
///
/// ```
/// use smart_auth::clients::{Client, ClientAuth};
///
/// let client: Client = serde_json::from_value(serde_json::json!({
///     "client_id": "growth-chart",
///     "name": "Growth Chart",
///     "auth": {"method": "public"},
///     "redirect_uris": ["https://app.example/callback"],
///     "scope": "launch/patient openid fhirUser patient/*.rs"
/// })).unwrap();
/// assert_eq!(client.auth, ClientAuth::Public);
/// assert!(client.allows_redirect("https://app.example/callback"));
/// assert!(!client.allows_redirect("https://app.example/callback/"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The `client_id` (RFC 6749 §2.2).
    pub client_id: String,
    /// The name shown to the user on the login and consent pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How the client authenticates at the token endpoint.
    pub auth: ClientAuth,
    /// The redirect URIs it registered, each matched exactly ([`Client::allows_redirect`]).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The most it may be granted ([`Client::grantable_scope`]); `None` puts no limit
    /// beyond what the user approves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeSet>,
}

/// How a client authenticates (its registered `token_endpoint_auth_method`).
///
/// Serialised with a `method` tag: `{"method": "public"}`,
/// `{"method": "secret", "secret_hash": "$argon2id$…"}`,
/// `{"method": "private_key_jwt", "jwks": {…}, "jwks_url": null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum ClientAuth {
    /// A public client: identified by its `client_id` alone (`none`).
    Public,
    /// A confidential client with a shared secret (`client_secret_basic` or
    /// `client_secret_post`, either accepted).
    Secret {
        /// The Argon2id PHC string of the secret ([`crate::passwords::hash_password`]);
        /// never the secret itself.
        secret_hash: String,
    },
    /// A confidential client signing JWT assertions (`private_key_jwt`, RFC 7523).
    PrivateKeyJwt {
        /// Its public keys, when registered by value (a JWKS: `{"keys": […]}`).
        #[serde(default)]
        jwks: Option<Value>,
        /// Where the server fetches its public keys, when registered by URL.
        #[serde(default)]
        jwks_url: Option<String>,
    },
}

impl Client {
    /// Whether `uri` is one of the registered redirect URIs, compared as exact strings
    /// (RFC 6749 §3.1.2.3, SMART: no prefix, case or trailing-slash leniency).
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Whether the client must authenticate (anything but [`ClientAuth::Public`]).
    pub fn is_confidential(&self) -> bool {
        !matches!(self.auth, ClientAuth::Public)
    }

    /// The name to show the user: [`Client::name`], or the `client_id` without one.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.client_id)
    }

    /// `requested` cut down to the client's registered [`Client::scope`] (unchanged when
    /// there is none), with [`ScopeSet::narrow`]: OAuth lets a server grant less than
    /// asked (RFC 6749 §3.3).
    pub fn grantable_scope(&self, requested: &ScopeSet) -> ScopeSet {
        match &self.scope {
            Some(limit) => limit.narrow(requested),
            None => requested.clone(),
        }
    }

    /// The JWKS registered by value for a [`ClientAuth::PrivateKeyJwt`] client, parsed
    /// with [`parse_jwks`]; `Ok(None)` for other clients and for keys registered by URL.
    pub fn registered_jwks(&self) -> Result<Option<JwkSet>, OAuthError> {
        match &self.auth {
            ClientAuth::PrivateKeyJwt {
                jwks: Some(jwks), ..
            } => parse_jwks(jwks).map(Some),
            _ => Ok(None),
        }
    }
}

/// Parses a JWKS document (`{"keys": [...]}`): a registered one, or one the server
/// fetched from a client's `jwks_url`.
///
/// Entries that are not JWKs at all are skipped rather than failing the whole set; keys
/// of a type the server does not verify with (an unknown `kty`, a symmetric key) are
/// kept, and [`AssertionPolicy::verify`] refuses an assertion whose `kid` selects one.
/// A document that is not an object with a `keys` array is `invalid_client`.
pub fn parse_jwks(value: &Value) -> Result<JwkSet, OAuthError> {
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| OAuthError::invalid_client("the client's JWKS has no `keys` array"))?;
    Ok(JwkSet {
        keys: keys
            .iter()
            .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
            .collect(),
    })
}

/// A client authentication method, by its registered name
/// ([OAuth token endpoint authentication methods](https://www.iana.org/assignments/oauth-parameters/oauth-parameters.xhtml#token-endpoint-auth-method)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// `none`: a public client sending its `client_id` only.
    None,
    /// `client_secret_basic`: HTTP Basic with the form-urlencoded id and secret.
    ClientSecretBasic,
    /// `client_secret_post`: `client_id` and `client_secret` form fields.
    ClientSecretPost,
    /// `private_key_jwt`: `client_assertion_type` and `client_assertion` form fields.
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The registered name (`"client_secret_basic"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a token-endpoint request presents as client authentication, read by
/// [`credentials_from`]. Its `Debug` output hides the secret and the assertion.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Only a `client_id` form field (a public client).
    ClientId {
        /// The client it names.
        client_id: String,
    },
    /// A client secret, from HTTP Basic or from the form.
    Secret {
        /// The client it names.
        client_id: String,
        /// The secret as sent (decoded).
        secret: String,
        /// [`AuthMethod::ClientSecretBasic`] or [`AuthMethod::ClientSecretPost`].
        method: AuthMethod,
    },
    /// A `private_key_jwt` client assertion (its type already checked).
    Assertion {
        /// The client it names: the assertion's `iss`, **not yet verified**.
        client_id: String,
        /// The compact JWS.
        assertion: String,
    },
}

impl Credentials {
    /// The client these credentials claim to be: the one to look up.
    pub fn client_id(&self) -> &str {
        match self {
            Credentials::ClientId { client_id }
            | Credentials::Secret { client_id, .. }
            | Credentials::Assertion { client_id, .. } => client_id,
        }
    }

    /// The authentication method used.
    pub fn method(&self) -> AuthMethod {
        match self {
            Credentials::ClientId { .. } => AuthMethod::None,
            Credentials::Secret { method, .. } => *method,
            Credentials::Assertion { .. } => AuthMethod::PrivateKeyJwt,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::ClientId { client_id } => f
                .debug_struct("ClientId")
                .field("client_id", client_id)
                .finish(),
            Credentials::Secret {
                client_id, method, ..
            } => f
                .debug_struct("Secret")
                .field("client_id", client_id)
                .field("method", method)
                .finish_non_exhaustive(),
            Credentials::Assertion { client_id, .. } => f
                .debug_struct("Assertion")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

/// Reads the client authentication of a token, introspection or revocation request:
/// `authorization` is the `Authorization` header's value, `form` the decoded form body.
///
/// - `Authorization: Basic base64(urlencode(client_id) ":" urlencode(secret))`
///   (RFC 6749 §2.3.1); a `client_id` form field may accompany it if it is the same;
/// - `client_id` + `client_secret` form fields;
/// - `client_assertion_type` + `client_assertion` (RFC 7523 §2.2; a `client_id` field,
///   if sent, must be the assertion's `iss`);
/// - `client_id` alone (a public client).
///
/// An endpoint that accepts something else in `Authorization` (an introspection
/// endpoint protected by a bearer token, RFC 7662 §2.1) passes `None` here.
///
/// Errors: `invalid_request` for more than one method at once, a repeated parameter, a
/// malformed Basic header, or half of a pair; `invalid_client` for no client
/// identification at all, another HTTP authentication scheme, an unsupported
/// `client_assertion_type`, an unreadable assertion, or a `client_id` that differs from
/// the assertion's issuer.
///
/// ```
/// use smart_auth::clients::{credentials_from, AuthMethod};
///
/// // "my app" : "p+ss" form-urlencoded, then base64.
/// let header = format!("Basic {}", "bXkrYXBwOnArJTJCc3M="); // my+app:p+%2Bss
/// let credentials = credentials_from(Some(&header), &[]).unwrap();
/// assert_eq!(credentials.client_id(), "my app");
/// assert_eq!(credentials.method(), AuthMethod::ClientSecretBasic);
/// ```
pub fn credentials_from(
    authorization: Option<&str>,
    form: &[(String, String)],
) -> Result<Credentials, OAuthError> {
    let params = Params::new(form);
    let form_client_id = params.get("client_id")?;
    let form_secret = params.get("client_secret")?;
    let assertion_type = params.get("client_assertion_type")?;
    let assertion = params.get("client_assertion")?;
    let basic = authorization.map(parse_basic).transpose()?;
    let uses_assertion = assertion_type.is_some() || assertion.is_some();

    let methods = [basic.is_some(), form_secret.is_some(), uses_assertion];
    if methods.iter().filter(|&&used| used).count() > 1 {
        return Err(OAuthError::invalid_request(
            "more than one client authentication method is used",
        ));
    }

    if let Some((client_id, secret)) = basic {
        if form_client_id.is_some_and(|id| id != client_id) {
            return Err(OAuthError::invalid_request(
                "the client_id parameter differs from the Authorization header's",
            ));
        }
        return Ok(Credentials::Secret {
            client_id,
            secret,
            method: AuthMethod::ClientSecretBasic,
        });
    }

    if let Some(secret) = form_secret {
        let client_id = form_client_id.ok_or_else(|| {
            OAuthError::invalid_request("client_secret is sent without client_id")
        })?;
        return Ok(Credentials::Secret {
            client_id: client_id.to_owned(),
            secret: secret.to_owned(),
            method: AuthMethod::ClientSecretPost,
        });
    }

    if uses_assertion {
        let assertion_type = assertion_type.ok_or_else(|| {
            OAuthError::invalid_request("client_assertion is sent without client_assertion_type")
        })?;
        let assertion = assertion.ok_or_else(|| {
            OAuthError::invalid_request("client_assertion_type is sent without client_assertion")
        })?;
        client_assertion::check_assertion_type(assertion_type)
            .map_err(|e| OAuthError::invalid_client(e.to_string()))?;
        let issuer = client_assertion::claimed_client_id(assertion)
            .map_err(|e| OAuthError::invalid_client(format!("client_assertion: {e}")))?;
        if form_client_id.is_some_and(|id| id != issuer) {
            return Err(OAuthError::invalid_client(
                "the client_id parameter differs from the client_assertion's issuer",
            ));
        }
        return Ok(Credentials::Assertion {
            client_id: issuer,
            assertion: assertion.to_owned(),
        });
    }

    match form_client_id {
        Some(client_id) => Ok(Credentials::ClientId {
            client_id: client_id.to_owned(),
        }),
        None => Err(OAuthError::invalid_client(
            "no client authentication (client_id, HTTP Basic or client_assertion) is included",
        )),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` → `(id, secret)`.
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let header = header.trim();
    let (scheme, encoded) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Err(OAuthError::invalid_client(
            "unsupported HTTP authentication scheme (only Basic is accepted here)",
        ));
    }
    let malformed = || OAuthError::invalid_request("malformed HTTP Basic credentials");
    let decoded = STANDARD
        .decode(encoded.trim_start())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_urldecode(id).ok_or_else(malformed)?;
    let secret = form_urldecode(secret).ok_or_else(malformed)?;
    if id.is_empty() {
        return Err(OAuthError::invalid_request(
            "HTTP Basic credentials have an empty client_id",
        ));
    }
    if secret.is_empty() {
        return Err(OAuthError::invalid_request(
            "HTTP Basic credentials have an empty client_secret",
        ));
    }
    Ok((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a
/// byte. A `%` not followed by two hex digits is kept as is (as browsers and the
/// `form_urlencoded` crate do); `None` when the result is not UTF-8.
fn form_urldecode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) if bytes[i + 1].is_ascii_hexdigit() => {
                        out.push(byte);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A client that [`authenticate`] accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient {
    /// The client's id.
    pub client_id: String,
    /// How it authenticated.
    pub method: AuthMethod,
    /// For `private_key_jwt`, the verified assertion: the server refuses the request if
    /// it has seen [`VerifiedAssertion::jti`] before, and remembers it until
    /// [`VerifiedAssertion::exp`].
    pub assertion: Option<VerifiedAssertion>,
}

/// Authenticates `credentials` as `client` (the registered client that
/// [`Credentials::client_id`] named) at the token endpoint `token_url`, at time `now`.
///
/// `jwks` is the client's public keys for `private_key_jwt` (its registered JWKS, or the
/// one fetched from its `jwks_url`; see [`Client::registered_jwks`] and [`parse_jwks`]);
/// other methods ignore it.
///
/// Every refusal is `invalid_client`:
/// - the credentials name another client;
/// - a public client presenting a secret or an assertion (it has neither);
/// - a confidential client presenting no credentials, or a method it did not register
///   (a secret client sending an assertion and vice versa);
/// - a wrong secret;
/// - an assertion that fails [`AssertionPolicy::verify`] (signature, `kid`, `alg`
///   RS384/ES384, `iss` = `sub` = client, `aud` = `token_url`, `exp` not past and at
///   most five minutes ahead), or no keys to check it with.
pub fn authenticate(
    client: &Client,
    credentials: &Credentials,
    token_url: &str,
    jwks: Option<&JwkSet>,
    now: SystemTime,
) -> Result<AuthenticatedClient, OAuthError> {
    if credentials.client_id() != client.client_id {
        return Err(OAuthError::invalid_client(
            "the credentials are for another client",
        ));
    }
    let method = credentials.method();
    let accepted = |assertion| AuthenticatedClient {
        client_id: client.client_id.clone(),
        method,
        assertion,
    };
    match (&client.auth, credentials) {
        (ClientAuth::Public, Credentials::ClientId { .. }) => Ok(accepted(None)),
        (ClientAuth::Public, _) => Err(OAuthError::invalid_client(format!(
            "a public client has no credentials to send ({method} was used)"
        ))),
        (ClientAuth::Secret { secret_hash }, Credentials::Secret { secret, .. }) => {
            if verify_password(secret, secret_hash) {
                Ok(accepted(None))
            } else {
                Err(OAuthError::invalid_client("client authentication failed"))
            }
        }
        (ClientAuth::PrivateKeyJwt { .. }, Credentials::Assertion { assertion, .. }) => {
            let jwks = jwks.ok_or_else(|| {
                OAuthError::invalid_client("no public keys are available for this client")
            })?;
            let verified = AssertionPolicy::new(token_url)
                .verify(assertion, &client.client_id, jwks, now)
                .map_err(|e| OAuthError::invalid_client(format!("client_assertion: {e}")))?;
            Ok(accepted(Some(verified)))
        }
        (_, Credentials::ClientId { .. }) => Err(OAuthError::invalid_client(
            "client authentication is required for this client",
        )),
        (ClientAuth::Secret { .. }, _) => Err(OAuthError::invalid_client(format!(
            "this client authenticates with its client secret, not {method}"
        ))),
        (ClientAuth::PrivateKeyJwt { .. }, _) => Err(OAuthError::invalid_client(format!(
            "this client authenticates with private_key_jwt, not {method}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;
    use crate::keys::{SigningAlgorithm, SigningKey};
    use crate::oauth_error::OAuthErrorCode;
    use crate::passwords::{HashCost, hash_password_with};

    const TOKEN_URL: &str = "https://ehr.example/auth/token";
    const T0: u64 = 1_800_000_000;
    const SECRET: &str = "tr0ub4dor&3";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(T0)
    }

    fn form(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate(SigningAlgorithm::Es384).unwrap())
    }

    fn secret_hash() -> &'static str {
        static HASH: OnceLock<String> = OnceLock::new();
        HASH.get_or_init(|| hash_password_with(SECRET, HashCost::MINIMAL).unwrap())
    }

    fn public_client() -> Client {
        Client {
            client_id: "growth-chart".to_owned(),
            name: Some("Growth Chart".to_owned()),
            auth: ClientAuth::Public,
            redirect_uris: vec!["https://app.example/cb".to_owned()],
            scope: None,
        }
    }

    fn secret_client() -> Client {
        Client {
            client_id: "portal".to_owned(),
            name: None,
            auth: ClientAuth::Secret {
                secret_hash: secret_hash().to_owned(),
            },
            redirect_uris: vec!["https://portal.example/cb".to_owned()],
            scope: None,
        }
    }

    fn jwt_client() -> Client {
        Client {
            client_id: "bulk".to_owned(),
            name: Some("Bulk exporter".to_owned()),
            auth: ClientAuth::PrivateKeyJwt {
                jwks: Some(serde_json::to_value(key().jwks()).unwrap()),
                jwks_url: None,
            },
            redirect_uris: vec![],
            scope: Some("system/*.rs".parse().unwrap()),
        }
    }

    fn assertion_for(client_id: &str, jti: &str) -> String {
        key()
            .sign(&json!({
                "iss": client_id, "sub": client_id, "aud": TOKEN_URL,
                "exp": T0 + 240, "jti": jti,
            }))
            .unwrap()
    }

    fn assertion_form(assertion: &str) -> Vec<(String, String)> {
        form(&[
            ("client_assertion_type", client_assertion::JWT_BEARER),
            ("client_assertion", assertion),
        ])
    }

    fn expect_err(result: Result<impl fmt::Debug, OAuthError>, code: OAuthErrorCode, text: &str) {
        let error = result.unwrap_err();
        assert_eq!(error.error, code, "{error}");
        assert!(
            error.description.contains(text),
            "`{}` does not contain `{text}`",
            error.description
        );
    }

    // ---- Client model ----

    #[test]
    fn client_round_trips_through_json() {
        for client in [public_client(), secret_client(), jwt_client()] {
            let text = serde_json::to_string(&client).unwrap();
            assert_eq!(serde_json::from_str::<Client>(&text).unwrap(), client);
        }
        let json = serde_json::to_value(secret_client()).unwrap();
        assert_eq!(json["auth"]["method"], "secret");
        assert!(
            json["auth"]["secret_hash"]
                .as_str()
                .unwrap()
                .starts_with("$argon2id$")
        );
        assert!(json.get("name").is_none());
        assert_eq!(
            serde_json::to_value(jwt_client()).unwrap()["scope"],
            "system/*.rs"
        );
    }

    #[test]
    fn client_json_defaults_and_refusals() {
        let minimal: Client = serde_json::from_value(json!({
            "client_id": "x", "auth": {"method": "private_key_jwt", "jwks_url": "https://x/jwks"}
        }))
        .unwrap();
        assert_eq!(minimal.redirect_uris, Vec::<String>::new());
        assert_eq!(minimal.scope, None);
        assert_eq!(
            minimal.auth,
            ClientAuth::PrivateKeyJwt {
                jwks: None,
                jwks_url: Some("https://x/jwks".to_owned())
            }
        );
        for bad in [
            json!({"client_id": "x", "auth": {"method": "magic"}}),
            json!({"client_id": "x", "auth": {"method": "secret"}}),
            json!({"client_id": "x"}),
            json!({"client_id": "x", "auth": {"method": "public"}, "scope": "patient/observation.rs"}),
        ] {
            assert!(
                serde_json::from_value::<Client>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let client = public_client();
        assert!(client.allows_redirect("https://app.example/cb"));
        for other in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://app.example/c",
            "https://APP.example/cb",
            "http://app.example/cb",
            "https://app.example/cb#f",
            "",
        ] {
            assert!(!client.allows_redirect(other), "{other}");
        }
        let none = Client {
            redirect_uris: vec![],
            ..public_client()
        };
        assert!(!none.allows_redirect("https://app.example/cb"));
    }

    #[test]
    fn confidentiality_and_display_name() {
        assert!(!public_client().is_confidential());
        assert!(secret_client().is_confidential());
        assert!(jwt_client().is_confidential());
        assert_eq!(public_client().display_name(), "Growth Chart");
        assert_eq!(secret_client().display_name(), "portal");
    }

    #[test]
    fn grantable_scope_is_cut_to_the_registration() {
        let requested: ScopeSet = "system/Observation.rs system/Patient.cruds openid"
            .parse()
            .unwrap();
        assert_eq!(
            jwt_client().grantable_scope(&requested).to_string(),
            "system/Observation.rs system/Patient.rs"
        );
        assert_eq!(public_client().grantable_scope(&requested), requested);
    }

    #[test]
    fn jwks_parsing() {
        let jwks = jwt_client().registered_jwks().unwrap().unwrap();
        assert_eq!(jwks.keys.len(), 1);
        assert!(jwks.find(key().kid()).is_some());
        assert_eq!(public_client().registered_jwks().unwrap(), None);
        assert_eq!(secret_client().registered_jwks().unwrap(), None);
        // Entries that are not JWKs are skipped; keys of other types are kept.
        let mut value = serde_json::to_value(key().jwks()).unwrap();
        let keys = value["keys"].as_array_mut().unwrap();
        keys.insert(0, json!("not a key"));
        keys.insert(0, json!(42));
        keys.push(json!({"kty": "unknown", "kid": "odd"}));
        let parsed = parse_jwks(&value).unwrap();
        assert_eq!(parsed.keys.len(), 2);
        assert!(parsed.find(key().kid()).is_some());
        assert!(parsed.find("odd").is_some());
        for bad in [json!({}), json!({"keys": {}}), json!([]), json!("keys")] {
            expect_err(parse_jwks(&bad), OAuthErrorCode::InvalidClient, "keys");
        }
        let broken = Client {
            auth: ClientAuth::PrivateKeyJwt {
                jwks: Some(json!({"nokeys": []})),
                jwks_url: None,
            },
            ..jwt_client()
        };
        expect_err(
            broken.registered_jwks(),
            OAuthErrorCode::InvalidClient,
            "keys",
        );
    }

    // ---- credentials_from ----

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        let credentials = credentials_from(Some(&basic("my+app%3A1", "a%2Bb+c%25")), &[]).unwrap();
        assert_eq!(
            credentials,
            Credentials::Secret {
                client_id: "my app:1".to_owned(),
                secret: "a+b c%".to_owned(),
                method: AuthMethod::ClientSecretBasic,
            }
        );
        // Scheme is case-insensitive; the secret may contain ':'.
        let credentials =
            credentials_from(Some(&basic("portal", "a:b").replace("Basic", "basic")), &[]).unwrap();
        assert_eq!(credentials.client_id(), "portal");
        assert!(matches!(credentials, Credentials::Secret { ref secret, .. } if secret == "a:b"));
        // A lone or malformed % is kept literally.
        let credentials = credentials_from(Some(&basic("p", "100%%zz%4")), &[]).unwrap();
        assert!(
            matches!(credentials, Credentials::Secret { ref secret, .. } if secret == "100%%zz%4")
        );
        // Non-ASCII percent-encoded UTF-8.
        let credentials = credentials_from(Some(&basic("caf%C3%A9", "x")), &[]).unwrap();
        assert_eq!(credentials.client_id(), "café");
    }

    #[test]
    fn basic_with_a_matching_client_id_field_is_accepted() {
        let credentials = credentials_from(
            Some(&basic("portal", SECRET)),
            &form(&[
                ("client_id", "portal"),
                ("grant_type", "authorization_code"),
            ]),
        )
        .unwrap();
        assert_eq!(credentials.method(), AuthMethod::ClientSecretBasic);
        expect_err(
            credentials_from(
                Some(&basic("portal", SECRET)),
                &form(&[("client_id", "other")]),
            ),
            OAuthErrorCode::InvalidRequest,
            "differs",
        );
    }

    #[test]
    fn malformed_basic_headers_are_refused() {
        let cases = [
            ("Basic", OAuthErrorCode::InvalidRequest, "malformed"),
            ("Basic ", OAuthErrorCode::InvalidRequest, "malformed"),
            ("Basic !!!", OAuthErrorCode::InvalidRequest, "malformed"),
            ("", OAuthErrorCode::InvalidClient, "scheme"),
            ("Bearer abc", OAuthErrorCode::InvalidClient, "scheme"),
            ("Digest username=x", OAuthErrorCode::InvalidClient, "scheme"),
        ];
        for (header, code, text) in cases {
            expect_err(credentials_from(Some(header), &[]), code, text);
        }
        let no_colon = format!("Basic {}", STANDARD.encode("portal"));
        let not_utf8 = format!("Basic {}", STANDARD.encode(b"\xff:\xfe"));
        let bad_escape = basic("%FF", "x");
        let unpadded = format!("Basic {}", STANDARD.encode("ab:c").trim_end_matches('='));
        for header in [&no_colon, &not_utf8, &bad_escape, &unpadded] {
            expect_err(
                credentials_from(Some(header), &[]),
                OAuthErrorCode::InvalidRequest,
                "malformed",
            );
        }
        expect_err(
            credentials_from(Some(&basic("", "x")), &[]),
            OAuthErrorCode::InvalidRequest,
            "empty client_id",
        );
        expect_err(
            credentials_from(Some(&basic("portal", "")), &[]),
            OAuthErrorCode::InvalidRequest,
            "empty client_secret",
        );
    }

    #[test]
    fn client_secret_post() {
        let credentials = credentials_from(
            None,
            &form(&[("client_id", "portal"), ("client_secret", SECRET)]),
        )
        .unwrap();
        assert_eq!(
            credentials,
            Credentials::Secret {
                client_id: "portal".to_owned(),
                secret: SECRET.to_owned(),
                method: AuthMethod::ClientSecretPost,
            }
        );
        expect_err(
            credentials_from(None, &form(&[("client_secret", SECRET)])),
            OAuthErrorCode::InvalidRequest,
            "without client_id",
        );
    }

    #[test]
    fn private_key_jwt_credentials() {
        let assertion = assertion_for("bulk", "j1");
        let credentials = credentials_from(None, &assertion_form(&assertion)).unwrap();
        assert_eq!(
            credentials,
            Credentials::Assertion {
                client_id: "bulk".to_owned(),
                assertion: assertion.clone(),
            }
        );
        assert_eq!(credentials.method(), AuthMethod::PrivateKeyJwt);

        let mut with_id = assertion_form(&assertion);
        with_id.push(("client_id".to_owned(), "bulk".to_owned()));
        assert_eq!(credentials_from(None, &with_id).unwrap(), credentials);

        let mut other_id = assertion_form(&assertion);
        other_id.push(("client_id".to_owned(), "someone".to_owned()));
        expect_err(
            credentials_from(None, &other_id),
            OAuthErrorCode::InvalidClient,
            "issuer",
        );
    }

    #[test]
    fn incomplete_or_bad_assertions_are_refused() {
        let assertion = assertion_for("bulk", "j1");
        expect_err(
            credentials_from(None, &form(&[("client_assertion", &assertion)])),
            OAuthErrorCode::InvalidRequest,
            "without client_assertion_type",
        );
        expect_err(
            credentials_from(
                None,
                &form(&[("client_assertion_type", client_assertion::JWT_BEARER)]),
            ),
            OAuthErrorCode::InvalidRequest,
            "without client_assertion",
        );
        expect_err(
            credentials_from(
                None,
                &form(&[
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                    ),
                    ("client_assertion", &assertion),
                ]),
            ),
            OAuthErrorCode::InvalidClient,
            "client_assertion_type",
        );
        expect_err(
            credentials_from(None, &assertion_form("not.a.jwt")),
            OAuthErrorCode::InvalidClient,
            "client_assertion",
        );
    }

    #[test]
    fn public_client_id_only() {
        let credentials = credentials_from(None, &form(&[("client_id", "growth-chart")])).unwrap();
        assert_eq!(
            credentials,
            Credentials::ClientId {
                client_id: "growth-chart".to_owned()
            }
        );
        assert_eq!(credentials.method(), AuthMethod::None);
    }

    #[test]
    fn no_client_identification_is_invalid_client() {
        for list in [
            form(&[]),
            form(&[("grant_type", "authorization_code")]),
            form(&[("client_id", "")]),
        ] {
            expect_err(
                credentials_from(None, &list),
                OAuthErrorCode::InvalidClient,
                "no client authentication",
            );
        }
    }

    #[test]
    fn two_methods_at_once_are_invalid_request() {
        let assertion = assertion_for("portal", "j1");
        let header = basic("portal", SECRET);
        let post = form(&[("client_id", "portal"), ("client_secret", SECRET)]);
        let mut post_and_assertion = post.clone();
        post_and_assertion.extend(assertion_form(&assertion));
        let mut id_and_assertion_type = form(&[("client_id", "portal"), ("client_secret", SECRET)]);
        id_and_assertion_type.push((
            "client_assertion_type".to_owned(),
            client_assertion::JWT_BEARER.to_owned(),
        ));
        for (authorization, list) in [
            (Some(header.as_str()), post.clone()),
            (Some(header.as_str()), assertion_form(&assertion)),
            (None, post_and_assertion),
            (None, id_and_assertion_type),
        ] {
            expect_err(
                credentials_from(authorization, &list),
                OAuthErrorCode::InvalidRequest,
                "more than one",
            );
        }
    }

    #[test]
    fn repeated_credential_parameters_are_refused() {
        for name in [
            "client_id",
            "client_secret",
            "client_assertion",
            "client_assertion_type",
        ] {
            let list = form(&[(name, "a"), (name, "b")]);
            expect_err(
                credentials_from(None, &list),
                OAuthErrorCode::InvalidRequest,
                &format!("`{name}` is repeated"),
            );
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let secret = Credentials::Secret {
            client_id: "portal".to_owned(),
            secret: "very-secret-value".to_owned(),
            method: AuthMethod::ClientSecretPost,
        };
        let assertion = Credentials::Assertion {
            client_id: "bulk".to_owned(),
            assertion: "eyJhbGciOi.payload.signature".to_owned(),
        };
        let text = format!("{secret:?} {assertion:?}");
        assert!(!text.contains("very-secret-value"), "{text}");
        assert!(!text.contains("eyJhbGciOi"), "{text}");
        assert!(text.contains("portal") && text.contains("bulk"), "{text}");
        assert_eq!(
            format!(
                "{:?}",
                Credentials::ClientId {
                    client_id: "a".to_owned()
                }
            ),
            "ClientId { client_id: \"a\" }"
        );
    }

    #[test]
    fn auth_method_names() {
        let names: Vec<String> = [
            AuthMethod::None,
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
            AuthMethod::PrivateKeyJwt,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            names,
            [
                "none",
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ]
        );
    }

    // ---- authenticate ----

    fn auth(client: &Client, credentials: &Credentials) -> Result<AuthenticatedClient, OAuthError> {
        let jwks = client.registered_jwks().unwrap();
        authenticate(client, credentials, TOKEN_URL, jwks.as_ref(), now())
    }

    fn secret(client_id: &str, secret: &str, method: AuthMethod) -> Credentials {
        Credentials::Secret {
            client_id: client_id.to_owned(),
            secret: secret.to_owned(),
            method,
        }
    }

    fn id_only(client_id: &str) -> Credentials {
        Credentials::ClientId {
            client_id: client_id.to_owned(),
        }
    }

    fn assertion(client_id: &str, jti: &str) -> Credentials {
        Credentials::Assertion {
            client_id: client_id.to_owned(),
            assertion: assertion_for(client_id, jti),
        }
    }

    #[test]
    fn public_client_authenticates_by_id() {
        assert_eq!(
            auth(&public_client(), &id_only("growth-chart")).unwrap(),
            AuthenticatedClient {
                client_id: "growth-chart".to_owned(),
                method: AuthMethod::None,
                assertion: None,
            }
        );
    }

    #[test]
    fn public_client_sending_credentials_is_refused() {
        let client = public_client();
        expect_err(
            auth(
                &client,
                &secret("growth-chart", "x", AuthMethod::ClientSecretBasic),
            ),
            OAuthErrorCode::InvalidClient,
            "public client",
        );
        expect_err(
            auth(&client, &assertion("growth-chart", "j")),
            OAuthErrorCode::InvalidClient,
            "public client",
        );
    }

    #[test]
    fn secret_client_with_the_right_secret_by_either_method() {
        for method in [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost] {
            assert_eq!(
                auth(&secret_client(), &secret("portal", SECRET, method)).unwrap(),
                AuthenticatedClient {
                    client_id: "portal".to_owned(),
                    method,
                    assertion: None,
                }
            );
        }
    }

    #[test]
    fn secret_client_refusals() {
        let client = secret_client();
        for wrong in ["", "tr0ub4dor&", "Tr0ub4dor&3", "tr0ub4dor&3 "] {
            expect_err(
                auth(
                    &client,
                    &secret("portal", wrong, AuthMethod::ClientSecretPost),
                ),
                OAuthErrorCode::InvalidClient,
                "failed",
            );
        }
        expect_err(
            auth(&client, &id_only("portal")),
            OAuthErrorCode::InvalidClient,
            "required",
        );
        expect_err(
            auth(&client, &assertion("portal", "j")),
            OAuthErrorCode::InvalidClient,
            "client secret, not private_key_jwt",
        );
        // A stored hash that is not a PHC string never matches.
        let broken = Client {
            auth: ClientAuth::Secret {
                secret_hash: SECRET.to_owned(),
            },
            ..secret_client()
        };
        expect_err(
            auth(
                &broken,
                &secret("portal", SECRET, AuthMethod::ClientSecretPost),
            ),
            OAuthErrorCode::InvalidClient,
            "failed",
        );
    }

    #[test]
    fn jwt_client_with_a_valid_assertion_returns_jti_and_exp() {
        let authenticated = auth(&jwt_client(), &assertion("bulk", "jti-1")).unwrap();
        assert_eq!(authenticated.client_id, "bulk");
        assert_eq!(authenticated.method, AuthMethod::PrivateKeyJwt);
        let verified = authenticated.assertion.unwrap();
        assert_eq!(verified.jti, "jti-1");
        assert_eq!(verified.exp, T0 + 240);
        assert_eq!(verified.kid, key().kid());
    }

    #[test]
    fn jwt_client_refusals() {
        let client = jwt_client();
        expect_err(
            auth(&client, &id_only("bulk")),
            OAuthErrorCode::InvalidClient,
            "required",
        );
        expect_err(
            auth(&client, &secret("bulk", "x", AuthMethod::ClientSecretBasic)),
            OAuthErrorCode::InvalidClient,
            "private_key_jwt, not client_secret_basic",
        );
        // No keys supplied (e.g. a jwks_url the caller did not fetch).
        expect_err(
            authenticate(&client, &assertion("bulk", "j"), TOKEN_URL, None, now()),
            OAuthErrorCode::InvalidClient,
            "no public keys",
        );
        // Another token URL: aud does not match.
        let jwks = client.registered_jwks().unwrap();
        expect_err(
            authenticate(
                &client,
                &assertion("bulk", "j"),
                "https://other.example/token",
                jwks.as_ref(),
                now(),
            ),
            OAuthErrorCode::InvalidClient,
            "audience",
        );
        // Too late: the assertion has expired.
        expect_err(
            authenticate(
                &client,
                &assertion("bulk", "j"),
                TOKEN_URL,
                jwks.as_ref(),
                now() + Duration::from_secs(600),
            ),
            OAuthErrorCode::InvalidClient,
            "expired",
        );
        // Signed by a key the client did not register.
        let stranger = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
        let forged = Credentials::Assertion {
            client_id: "bulk".to_owned(),
            assertion: stranger
                .sign(&json!({
                    "iss": "bulk", "sub": "bulk", "aud": TOKEN_URL, "exp": T0 + 60, "jti": "x",
                }))
                .unwrap(),
        };
        expect_err(auth(&client, &forged), OAuthErrorCode::InvalidClient, "kid");
        // A kid that selects a key of a type the server does not verify with.
        let odd_jwks = parse_jwks(&json!({"keys": [{"kty": "unknown", "kid": "odd"}]})).unwrap();
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let odd = Credentials::Assertion {
            client_id: "bulk".to_owned(),
            assertion: format!(
                "{}.{}.{}",
                b64(json!({"alg": "ES384", "kid": "odd"})),
                b64(
                    json!({"iss": "bulk", "sub": "bulk", "aud": TOKEN_URL, "exp": T0 + 60, "jti": "o"})
                ),
                b64(json!("sig"))
            ),
        };
        expect_err(
            authenticate(&client, &odd, TOKEN_URL, Some(&odd_jwks), now()),
            OAuthErrorCode::InvalidClient,
            "cannot verify ES384",
        );
        // An assertion issued by another client, presented under this client's id.
        let other = Credentials::Assertion {
            client_id: "bulk".to_owned(),
            assertion: assertion_for("other", "j"),
        };
        expect_err(
            auth(&client, &other),
            OAuthErrorCode::InvalidClient,
            "issuer",
        );
    }

    #[test]
    fn credentials_for_another_client_are_refused() {
        for (client, credentials) in [
            (public_client(), id_only("someone")),
            (
                secret_client(),
                secret("someone", SECRET, AuthMethod::ClientSecretPost),
            ),
            (jwt_client(), assertion("someone", "j")),
        ] {
            expect_err(
                auth(&client, &credentials),
                OAuthErrorCode::InvalidClient,
                "another client",
            );
        }
    }

    #[test]
    fn end_to_end_from_request_to_authenticated_client() {
        let credentials = credentials_from(Some(&basic("portal", "tr0ub4dor%263")), &[]).unwrap();
        assert_eq!(
            auth(&secret_client(), &credentials).unwrap().method,
            AuthMethod::ClientSecretBasic
        );
        let credentials =
            credentials_from(None, &assertion_form(&assertion_for("bulk", "e2e"))).unwrap();
        let authenticated = auth(&jwt_client(), &credentials).unwrap();
        assert_eq!(authenticated.assertion.unwrap().jti, "e2e");
    }

    #[test]
    fn form_urldecode_cases() {
        assert_eq!(form_urldecode("a+b%20c").as_deref(), Some("a b c"));
        assert_eq!(form_urldecode("%41%6a").as_deref(), Some("Aj"));
        assert_eq!(form_urldecode("%").as_deref(), Some("%"));
        assert_eq!(form_urldecode("%4").as_deref(), Some("%4"));
        assert_eq!(form_urldecode("%+1").as_deref(), Some("% 1"));
        assert_eq!(form_urldecode("%-1").as_deref(), Some("%-1"));
        assert_eq!(form_urldecode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_urldecode("%C3"), None);
    }
}
