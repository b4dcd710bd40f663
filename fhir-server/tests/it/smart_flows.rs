//! SMART App Launch flows over HTTP: discovery, the authorize pages, the token endpoint,
//! refresh, Backend Services, introspection and revocation, with their refusals.
//!
//! Expected results come from the specifications, cited at each test: SMART App Launch
//! 2.2 (<https://hl7.org/fhir/smart-app-launch/>), RFC 6749 (OAuth 2.0), RFC 6750 (bearer
//! tokens), RFC 7636 (PKCE), RFC 7662 (introspection), RFC 7009 (revocation), RFC 7523
//! (JWT client assertions) and OpenID Connect Core. Client assertions are signed with
//! `jsonwebtoken` directly, id tokens are checked with `rsa` and `sha2`, and one flow runs through
//! the `oauth2` crate, so the server's own JWT and OAuth code is not what checks itself.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fhir_server::auth::admin::NewClientAuth;
use fhir_server::auth::store::AuthStore;
use reqwest::Method;
use serde_json::{Value, json};
use smart_auth::{SigningAlgorithm, SigningKey};

use crate::smart_support::*;
use crate::smart_test;
use crate::support::{Reply, TestServer};

/// Request parameters, in order.
type Params = Vec<(String, String)>;
/// Form fields to set (`Some`) or remove (`None`).
type Changes = Vec<(&'static str, Option<&'static str>)>;

/// RFC 7523 §2.2.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The patient user of most tests, and the practitioner.
const ALICE: (&str, &str) = ("alice", "alice-password");
const DR: (&str, &str) = ("dr", "dr-password");
/// A secret with the characters RFC 6749 §2.3.1 has clients form-encode in Basic.
const SECRET: &str = "conf-secret:with+plus and space";

async fn standalone_launch_public_client(server: &TestServer) {
    let patient = json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Ng"}]});
    // No token: 401 with a Bearer challenge.
    let r = server.get("Patient/p1").await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    add_user(server, "alice", "alice-password", "Patient/p1").await;
    let token = standalone_token(
        server,
        "app1",
        "alice",
        "alice-password",
        "launch/patient patient/*.cruds openid fhirUser offline_access",
    )
    .await;
    assert_eq!(token["patient"], "p1");
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["refresh_token"].is_string());
    assert!(token["id_token"].is_string());
    let access = token["access_token"].as_str().unwrap();
    let put = server
        .request(reqwest::Method::PUT, "Patient/p1")
        .bearer_auth(access)
        .header("content-type", "application/fhir+json")
        .body(patient.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let read = get_with(server, access, "Patient/p1").await;
    assert_eq!(read.status, 200);
}

smart_test!(
    standalone_launch_public_client_case,
    standalone_launch_public_client
);

// ---------------------------------------------------------------------------------------
// Helpers local to these flows.

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Client keys, made once per test binary (RSA generation is the slow part).
fn es_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(SigningAlgorithm::Es384).unwrap())
}

fn rs_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(SigningAlgorithm::Rs384).unwrap())
}

/// A JWKS document with the public keys of `keys`.
fn jwks_of(keys: &[&SigningKey]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| serde_json::to_value(k.public_jwk()).unwrap())
        .collect();
    json!({ "keys": keys })
}

/// Signs `claims` with `key` through `jsonwebtoken` itself (not smart-auth's signer),
/// with `kid` in the header.
fn sign_with(key: &SigningKey, kid: &str, claims: &Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let pem = key.to_pem().unwrap();
    let (alg, encoding) = match key.algorithm() {
        SigningAlgorithm::Es384 => {
            use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey};
            let der = p384::SecretKey::from_pkcs8_pem(&pem)
                .unwrap()
                .to_pkcs8_der()
                .unwrap();
            (Algorithm::ES384, EncodingKey::from_ec_der(der.as_bytes()))
        }
        SigningAlgorithm::Rs384 | SigningAlgorithm::Rs256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            use rsa::pkcs8::DecodePrivateKey;
            let der = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
                .unwrap()
                .to_pkcs1_der()
                .unwrap();
            (Algorithm::RS384, EncodingKey::from_rsa_der(der.as_bytes()))
        }
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

/// Backend Services assertion claims (SMART Backend Services, RFC 7523 §3): `iss` =
/// `sub` = the client, `aud` = the token URL, `exp` `exp_in` seconds ahead, `jti`.
fn assertion_claims(server: &TestServer, client_id: &str, exp_in: i64, jti: &str) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": auth_url(server, "token"),
        "exp": unix_now() as i64 + exp_in,
        "jti": jti,
    })
}

/// A fresh, valid client assertion (four minutes, new `jti`).
fn assertion(server: &TestServer, key: &SigningKey, client_id: &str) -> String {
    let claims = assertion_claims(server, client_id, 240, &uuid::Uuid::new_v4().to_string());
    sign_with(key, key.kid(), &claims)
}

/// `Authorization: Basic` as RFC 6749 §2.3.1 has it: id and secret form-urlencoded.
fn basic(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
    )
}

/// POSTs a form to `url`, with an `Authorization` header if given.
async fn post_form(url: &str, form: &[(&str, &str)], authorization: Option<&str>) -> Reply {
    let mut request = reqwest::Client::new().post(url).form(form);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    Reply::from(request.send().await.unwrap()).await
}

async fn token_post(server: &TestServer, form: &[(&str, &str)], auth: Option<&str>) -> Reply {
    post_form(&auth_url(server, "token"), form, auth).await
}

/// An OAuth error response (RFC 6749 §5.2): one of `statuses`, JSON with `error`.
fn assert_oauth_error(r: &Reply, statuses: &[u16], error: &str) {
    assert!(
        statuses.contains(&r.status.as_u16()),
        "status {} not in {statuses:?}: {}",
        r.status,
        r.text
    );
    assert_eq!(r.json()["error"], error, "{}", r.text);
}

/// The form of an authorization-code exchange, without client authentication.
fn code_form(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

/// Walks the pages approving everything and returns the code.
async fn code_for(server: &TestServer, params: &[(String, String)], user: (&str, &str)) -> String {
    let location = authorize(server, params, user.0, user.1, None, None).await;
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("state-123")
    );
    query_param(&location, "code").expect("a code")
}

/// `params` with `name` set to `value`, or removed for `None`.
fn with(params: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        params.iter().filter(|(k, _)| k != name).cloned().collect();
    if let Some(value) = value {
        out.push((name.to_owned(), value.to_owned()));
    }
    out
}

/// `GET /auth/authorize` with `params`, redirects not followed.
async fn authorize_get(server: &TestServer, params: &[(String, String)]) -> reqwest::Response {
    browser()
        .get(auth_url(server, "authorize"))
        .query(params)
        .send()
        .await
        .unwrap()
}

/// A refusal sent back to the app (RFC 6749 §4.1.2.1): a redirect to the registered
/// redirect URI with `error` (and `state` when the request had one), never a `code`.
fn assert_error_redirect(response: &reqwest::Response, error: Option<&str>, state: Option<&str>) {
    assert!(
        response.status().is_redirection(),
        "status {}",
        response.status()
    );
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(location, "code"), None, "{location}");
    let found = query_param(location, "error").expect("an error parameter");
    if let Some(error) = error {
        assert_eq!(found, error, "{location}");
    }
    assert_eq!(
        query_param(location, "state").as_deref(),
        state,
        "{location}"
    );
}

/// The claims (payload) of a compact JWS, unverified.
fn jwt_payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn jwt_header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The server's current signing key, read from its database: to make tokens that differ
/// from a real one in exactly one claim (an expired one, another audience, …).
async fn server_key(server: &TestServer) -> SigningKey {
    let store = server.admin_store().await;
    let mut keys = AuthStore::new(store.reader()).keys().await.unwrap();
    // The access-token keys (RS256 ones sign id tokens only).
    keys.retain(|k| k.retired_at.is_none() && k.alg != "RS256");
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
    SigningKey::from_pem(&keys[0].private_pem).unwrap()
}

/// PUTs a resource with a bearer token; the status.
async fn put_with(server: &TestServer, token: &str, body: &Value) -> u16 {
    let path = format!(
        "{}/{}",
        body["resourceType"].as_str().unwrap(),
        body["id"].as_str().unwrap()
    );
    let response = server
        .request(Method::PUT, &path)
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// Users `alice` (Patient/p1) and `dr` (Practitioner/pr1), and data written with dr's
/// `user/*.cruds` token: Patients p1 and p2, Encounter e1 and Observation o1 of p1,
/// Observation o2 of p2. Returns dr's token.
async fn seed(server: &TestServer) -> String {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_user(server, DR.0, DR.1, "Practitioner/pr1").await;
    let token =
        standalone_token(server, "seeder", DR.0, DR.1, "openid fhirUser user/*.cruds").await;
    let token = token["access_token"].as_str().unwrap().to_owned();
    for body in [
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Ng", "given": ["Alice"]}]}),
        json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Okafor", "given": ["Bo"]}]}),
        json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
               "subject": {"reference": "Patient/p1"}}),
        json!({"resourceType": "Observation", "id": "o1", "status": "final",
               "code": {"text": "weight"}, "subject": {"reference": "Patient/p1"}}),
        json!({"resourceType": "Observation", "id": "o2", "status": "final",
               "code": {"text": "weight"}, "subject": {"reference": "Patient/p2"}}),
    ] {
        assert_eq!(put_with(server, &token, &body).await, 201, "{body}");
    }
    token
}

/// Whether `scope` (space-separated) has `one`.
fn has_scope(scope: &Value, one: &str) -> bool {
    scope
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .any(|s| s == one)
}

/// A token response (RFC 6749 §5.1; SMART App Launch "access token response"): 200 JSON
/// with `Cache-Control: no-store` and `Pragma: no-cache`, a Bearer `access_token`, a
/// positive `expires_in` and the granted `scope`. Returns the body.
fn assert_token_response(r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("application/json"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    let body = r.json();
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        body["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "{body}"
    );
    assert!(body["expires_in"].as_u64().is_some_and(|e| e > 0), "{body}");
    assert!(body["scope"].is_string(), "{body}");
    body
}

/// A 401 of the FHIR API for a refused token (RFC 6750 §3.1): a Bearer challenge with
/// `error="invalid_token"`.
fn assert_invalid_token(r: &Reply, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{what}: {challenge}");
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{what}: {challenge}"
    );
}

// ---------------------------------------------------------------------------------------
// 1. Discovery.

/// SMART App Launch "Conformance" (`.well-known/smart-configuration`): the endpoints,
/// `code_challenge_methods_supported` with `S256` and never `plain`, the capabilities;
/// `issuer` and `jwks_uri` with `sso-openid-connect`; RS384 and ES384 for asymmetric
/// client authentication (Backend Services); served with CORS open to any origin.
async fn discovery_documents(server: &TestServer) {
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move { Reply::from(http.get(url).send().await.unwrap()).await }
    };
    let smart = get(server.url(".well-known/smart-configuration")).await;
    assert_eq!(smart.status, 200);
    assert_eq!(smart.header("access-control-allow-origin"), Some("*"));
    assert!(
        smart
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let config = smart.json();
    assert_eq!(config["issuer"], server.base.as_str());
    assert_eq!(config["jwks_uri"], auth_url(server, "jwks"));
    assert_eq!(
        config["authorization_endpoint"],
        auth_url(server, "authorize")
    );
    assert_eq!(config["token_endpoint"], auth_url(server, "token"));
    assert_eq!(
        config["introspection_endpoint"],
        auth_url(server, "introspect")
    );
    assert_eq!(config["revocation_endpoint"], auth_url(server, "revoke"));
    let list = |name: &str| -> Vec<String> {
        config[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is an array: {config}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let grants = list("grant_types_supported");
    for grant in ["authorization_code", "client_credentials"] {
        assert!(grants.contains(&grant.to_owned()), "{grants:?}");
    }
    let methods = list("token_endpoint_auth_methods_supported");
    for method in ["client_secret_basic", "private_key_jwt"] {
        assert!(methods.contains(&method.to_owned()), "{methods:?}");
    }
    let algs = list("token_endpoint_auth_signing_alg_values_supported");
    for alg in ["RS384", "ES384"] {
        assert!(algs.contains(&alg.to_owned()), "{algs:?}");
    }
    let scopes = list("scopes_supported");
    for scope in [
        "openid",
        "fhirUser",
        "launch",
        "launch/patient",
        "offline_access",
    ] {
        assert!(scopes.contains(&scope.to_owned()), "{scopes:?}");
    }
    assert!(list("response_types_supported").contains(&"code".to_owned()));
    assert_eq!(config["code_challenge_methods_supported"], json!(["S256"]));
    let capabilities = list("capabilities");
    for capability in [
        "launch-ehr",
        "launch-standalone",
        "authorize-post",
        "client-public",
        "client-confidential-symmetric",
        "client-confidential-asymmetric",
        "sso-openid-connect",
        "context-banner",
        "context-style",
        "context-ehr-patient",
        "context-ehr-encounter",
        "context-standalone-patient",
        "permission-offline",
        "permission-online",
        "permission-patient",
        "permission-user",
        "permission-v1",
        "permission-v2",
    ] {
        assert!(
            capabilities.contains(&capability.to_owned()),
            "{capability} missing from {capabilities:?}"
        );
    }

    // OpenID Connect Discovery 1.0 §3: the required provider metadata, the same issuer
    // and keys as the SMART document.
    let oidc = get(server.url(".well-known/openid-configuration")).await;
    assert_eq!(oidc.status, 200);
    assert_eq!(oidc.header("access-control-allow-origin"), Some("*"));
    let oidc = oidc.json();
    assert_eq!(oidc["issuer"], config["issuer"]);
    assert_eq!(oidc["jwks_uri"], config["jwks_uri"]);
    assert_eq!(
        oidc["authorization_endpoint"],
        config["authorization_endpoint"]
    );
    assert_eq!(oidc["token_endpoint"], config["token_endpoint"]);
    for required in [
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(
            oidc[required].as_array().is_some_and(|a| !a.is_empty()),
            "{required}: {oidc}"
        );
    }

    // The key set: bare JWKs with a kid each (SMART sso-openid-connect), public parts
    // only.
    let jwks = get(config["jwks_uri"].as_str().unwrap().to_owned()).await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.header("access-control-allow-origin"), Some("*"));
    let jwks = jwks.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()), "{key}");
        assert!(key["kty"].is_string(), "{key}");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "private `{private}` in {key}");
        }
    }

    // The CapabilityStatement, readable without a token, names the endpoints in the
    // oauth-uris extension (SMART App Launch "Conformance", FHIR authorization
    // endpoints).
    let metadata = server.get("metadata").await;
    assert_eq!(metadata.status, 200, "{}", metadata.text);
    let security = &metadata.json()["rest"][0]["security"];
    let oauth = security["extension"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
        })
        .expect("the oauth-uris extension");
    let uri = |name: &str| {
        oauth["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == name)
            .map(|e| e["valueUri"].clone())
    };
    assert_eq!(
        uri("authorize"),
        Some(config["authorization_endpoint"].clone())
    );
    assert_eq!(uri("token"), Some(config["token_endpoint"].clone()));
    assert_eq!(
        security["service"][0]["coding"][0]["code"], "SMART-on-FHIR",
        "{security}"
    );
}

smart_test!(discovery_documents_case, discovery_documents);

/// SMART App Launch, "Scopes for requesting identity data": "The EHR SHALL support
/// Signing ID Tokens with RSA SHA-256" (so does OpenID Connect Core §15.1); the
/// openid-configuration lists the id token algorithms.
async fn openid_configuration_offers_rs256_id_tokens(server: &TestServer) {
    let oidc = server.get(".well-known/openid-configuration").await.json();
    let algs = &oidc["id_token_signing_alg_values_supported"];
    assert!(
        algs.as_array().unwrap().contains(&json!("RS256")),
        "RS256 missing from {algs}"
    );
}

smart_test!(
    openid_configuration_offers_rs256_id_tokens_case,
    openid_configuration_offers_rs256_id_tokens
);

// ---------------------------------------------------------------------------------------
// 2. Standalone launch, per client type.

/// The token response of a standalone patient launch by a public client: RFC 6749 §5.1
/// headers and fields, and SMART's launch context (`patient`, `need_patient_banner`,
/// `smart_style_url`), each `fhirContext` item with a `reference`, `canonical` or
/// `identifier`.
async fn standalone_token_response(server: &TestServer) {
    seed(server).await;
    add_client(server, "pub", NewClientAuth::Public).await;
    let params = authorize_params(
        server,
        "pub",
        "launch/patient patient/*.rs openid fhirUser offline_access",
    );
    let code = code_for(server, &params, ALICE).await;
    let mut form = code_form(&code);
    form.push(("client_id", "pub"));
    let body = assert_token_response(&token_post(server, &form, None).await);
    assert_eq!(body["patient"], "p1");
    for scope in [
        "launch/patient",
        "patient/*.rs",
        "openid",
        "fhirUser",
        "offline_access",
    ] {
        assert!(has_scope(&body["scope"], scope), "{scope}: {body}");
    }
    assert!(body["need_patient_banner"].is_boolean(), "{body}");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(body["id_token"].is_string());
    if let Some(context) = body.get("fhirContext") {
        for item in context.as_array().expect("fhirContext is an array") {
            assert!(
                item["reference"].is_string()
                    || item["canonical"].is_string()
                    || item["identifier"].is_object(),
                "{item}"
            );
        }
    }
    // smart_style_url: a URL serving a JSON style object.
    let style_url = body["smart_style_url"].as_str().expect("smart_style_url");
    let style = reqwest::get(style_url).await.unwrap();
    assert_eq!(style.status(), 200);
    let style: Value = style.json().await.unwrap();
    assert!(style.is_object(), "{style}");
    // The token reads the patient's data, and not another patient's.
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(get_with(server, access, "Patient/p1").await.status, 200);
    assert_eq!(get_with(server, access, "Observation/o1").await.status, 200);
    let other = get_with(server, access, "Observation/o2")
        .await
        .status
        .as_u16();
    assert!(matches!(other, 403 | 404), "{other}");
}

smart_test!(standalone_token_response_case, standalone_token_response);

/// A confidential client with a secret (SMART client-confidential-symmetric): the code
/// exchange with `client_secret_basic` (RFC 6749 §2.3.1: id and secret form-urlencoded,
/// then base64) and with `client_secret_post`.
async fn standalone_confidential_symmetric(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_client(server, "conf", NewClientAuth::Secret(SECRET.into())).await;
    let params = authorize_params(server, "conf", "launch/patient patient/*.rs");

    let code = code_for(server, &params, ALICE).await;
    let body = assert_token_response(
        &token_post(server, &code_form(&code), Some(&basic("conf", SECRET))).await,
    );
    assert_eq!(body["patient"], "p1");

    let code = code_for(server, &params, ALICE).await;
    let mut form = code_form(&code);
    form.extend([("client_id", "conf"), ("client_secret", SECRET)]);
    let body = assert_token_response(&token_post(server, &form, None).await);
    assert_eq!(body["patient"], "p1");
    assert!(has_scope(&body["scope"], "patient/*.rs"), "{body}");
}

smart_test!(
    standalone_confidential_symmetric_case,
    standalone_confidential_symmetric
);

/// A confidential client with keys (SMART client-confidential-asymmetric,
/// `private_key_jwt`, RFC 7523 §2.2): assertions signed with ES384 and with RS384 against
/// a JWKS registered by value, and with ES384 against a JWKS the server fetches from the
/// client's `jwks_url`.
async fn standalone_confidential_asymmetric(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_client(
        server,
        "asym",
        NewClientAuth::Jwks(jwks_of(&[es_key(), rs_key()])),
    )
    .await;
    let params = authorize_params(server, "asym", "launch/patient patient/*.rs");
    for key in [es_key(), rs_key()] {
        let code = code_for(server, &params, ALICE).await;
        let signed = assertion(server, key, "asym");
        let mut form = code_form(&code);
        form.extend([
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", signed.as_str()),
        ]);
        let body = assert_token_response(&token_post(server, &form, None).await);
        assert_eq!(body["patient"], "p1", "{:?}", key.algorithm());
    }

    // Keys by URL: a tiny JWKS server on the loopback.
    let (jwks_url, jwks_server) = serve_jwks(jwks_of(&[es_key()])).await;
    add_client(server, "asym-url", NewClientAuth::JwksUrl(jwks_url)).await;
    let params = authorize_params(server, "asym-url", "launch/patient patient/*.rs");
    let code = code_for(server, &params, ALICE).await;
    let signed = assertion(server, es_key(), "asym-url");
    let mut form = code_form(&code);
    form.extend([
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", signed.as_str()),
    ]);
    let body = assert_token_response(&token_post(server, &form, None).await);
    assert_eq!(body["patient"], "p1");
    // A key the JWKS does not have is refused.
    let other = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
    let code = code_for(server, &params, ALICE).await;
    let signed = assertion(server, &other, "asym-url");
    let mut form = code_form(&code);
    form.extend([
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", signed.as_str()),
    ]);
    assert_oauth_error(
        &token_post(server, &form, None).await,
        &[400, 401],
        "invalid_client",
    );
    jwks_server.abort();
}

smart_test!(
    standalone_confidential_asymmetric_case,
    standalone_confidential_asymmetric
);

/// Serves `jwks` at `http://127.0.0.1:PORT/jwks.json` until the task is aborted.
async fn serve_jwks(jwks: Value) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let body = jwks.to_string();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

// ---------------------------------------------------------------------------------------
// 3. EHR launch.

/// The authorize parameters of an EHR launch: `launch` scope and parameter.
fn ehr_params(server: &TestServer, client_id: &str, launch: &str) -> Vec<(String, String)> {
    let params = authorize_params(server, client_id, "launch openid fhirUser patient/*.rs");
    with(&params, "launch", Some(launch))
}

/// SMART App Launch "EHR launch": the app passes the EHR's opaque `launch` value back to
/// the authorize endpoint; the token response carries the launch's `patient` and
/// `encounter`. The launch comes from the command line's code and from `POST
/// /auth/launch` with a clinician's token; a `launch` the server never issued is refused
/// with a redirect carrying `error` and `state`.
async fn ehr_launch_context(server: &TestServer) {
    let dr_token = seed(server).await;
    add_client(server, "ehr-app", NewClientAuth::Public).await;

    let launch = ehr_launch(server, "Patient/p1", Some("Encounter/e1")).await;
    let code = code_for(server, &ehr_params(server, "ehr-app", &launch), DR).await;
    let mut form = code_form(&code);
    form.push(("client_id", "ehr-app"));
    let body = assert_token_response(&token_post(server, &form, None).await);
    assert_eq!(body["patient"], "p1", "{body}");
    assert_eq!(body["encounter"], "e1", "{body}");
    assert!(body["id_token"].is_string(), "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(get_with(server, access, "Patient/p1").await.status, 200);
    assert_eq!(get_with(server, access, "Encounter/e1").await.status, 200);

    // POST /auth/launch with the practitioner's user/ token.
    let created = server
        .client
        .post(auth_url(server, "launch"))
        .bearer_auth(&dr_token)
        .json(&json!({"patient": "Patient/p2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let launch: Value = created.json().await.unwrap();
    let launch = launch["launch"].as_str().expect("launch").to_owned();
    let code = code_for(server, &ehr_params(server, "ehr-app", &launch), DR).await;
    let mut form = code_form(&code);
    form.push(("client_id", "ehr-app"));
    let body = assert_token_response(&token_post(server, &form, None).await);
    assert_eq!(body["patient"], "p2", "{body}");
    assert!(body.get("encounter").is_none(), "{body}");

    // Without a token, or with a patient's token, no launch is made.
    let anonymous = server
        .client
        .post(auth_url(server, "launch"))
        .json(&json!({"patient": "Patient/p1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let patient_token = body["access_token"].as_str().unwrap();
    let refused = server
        .client
        .post(auth_url(server, "launch"))
        .bearer_auth(patient_token)
        .json(&json!({"patient": "Patient/p1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // A launch value the server never issued.
    let response = authorize_get(server, &ehr_params(server, "ehr-app", "no-such-launch")).await;
    assert_error_redirect(&response, None, Some("state-123"));
}

smart_test!(ehr_launch_context_case, ehr_launch_context);

/// SMART App Launch, "fhirContext": Patient and Encounter "will not be permitted within
/// the fhirContext array unless they include a role other than \"launch\"" (an absent
/// role means "launch"); they travel in `patient` and `encounter`.
async fn fhir_context_leaves_out_launch_patient_and_encounter(server: &TestServer) {
    add_user(server, DR.0, DR.1, "Practitioner/pr1").await;
    add_client(server, "ehr-app", NewClientAuth::Public).await;
    let launch = ehr_launch(server, "Patient/p1", Some("Encounter/e1")).await;
    let code = code_for(server, &ehr_params(server, "ehr-app", &launch), DR).await;
    let mut form = code_form(&code);
    form.push(("client_id", "ehr-app"));
    let body = assert_token_response(&token_post(server, &form, None).await);
    assert_eq!(body["patient"], "p1");
    let items = body["fhirContext"].as_array().cloned().unwrap_or_default();
    for item in items {
        let reference = item["reference"].as_str().unwrap_or_default();
        let role = item["role"].as_str().unwrap_or("launch");
        assert!(
            !(reference.starts_with("Patient/") || reference.starts_with("Encounter/"))
                || role != "launch",
            "fhirContext item {item} repeats the launch patient or encounter"
        );
    }
}

smart_test!(
    fhir_context_leaves_out_launch_patient_and_encounter_case,
    fhir_context_leaves_out_launch_patient_and_encounter
);

// ---------------------------------------------------------------------------------------
// 4. Patient picker.

/// SMART App Launch "standalone launch" with `launch/patient` by a user who is not a
/// patient: the server asks which patient (a radio input `patient` per choice), and the
/// token carries the one picked, whose data alone its patient/ scopes reach.
async fn patient_picker(server: &TestServer) {
    seed(server).await;
    add_client(server, "picker-app", NewClientAuth::Public).await;
    let params = authorize_params(server, "picker-app", "launch/patient patient/*.rs");

    // The picker page, reached by signing in.
    let http = browser();
    let url = auth_url(server, "authorize");
    let login = http.get(&url).query(&params).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let mut form = hidden_fields(&login.text().await.unwrap());
    form.extend([
        ("username".to_owned(), DR.0.to_owned()),
        ("password".to_owned(), DR.1.to_owned()),
    ]);
    let picker = http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(picker.status(), 200);
    let html = picker.text().await.unwrap();
    let choices = input_values(&html, "patient");
    assert!(choices.contains(&"p1".to_owned()), "{html}");
    assert!(choices.contains(&"p2".to_owned()), "{html}");
    assert!(html.contains("type=\"radio\""), "{html}");

    // Picking p2 (the helper walks the same pages).
    let location = authorize(server, &params, DR.0, DR.1, Some("p2"), None).await;
    let code = query_param(&location, "code").expect("a code");
    let mut form = code_form(&code);
    form.push(("client_id", "picker-app"));
    let body = assert_token_response(&token_post(server, &form, None).await);
    assert_eq!(body["patient"], "p2", "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(get_with(server, access, "Observation/o2").await.status, 200);
    let other = get_with(server, access, "Observation/o1")
        .await
        .status
        .as_u16();
    assert!(matches!(other, 403 | 404), "{other}");
}

smart_test!(patient_picker_case, patient_picker);

// ---------------------------------------------------------------------------------------
// 5. Consent.

/// Signs in and returns the browser and the consent page.
async fn consent_page(
    server: &TestServer,
    params: &[(String, String)],
    user: (&str, &str),
) -> (reqwest::Client, String) {
    let http = browser();
    let url = auth_url(server, "authorize");
    let login = http.get(&url).query(params).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let mut form = hidden_fields(&login.text().await.unwrap());
    form.extend([
        ("username".to_owned(), user.0.to_owned()),
        ("password".to_owned(), user.1.to_owned()),
    ]);
    let page = http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"approve\""), "{html}");
    (http, html)
}

/// RFC 6749 §3.3: the server may grant less than asked, and says so in `scope`; the user
/// unticking a scope on the consent page is that. RFC 6749 §4.1.2.1: a user who denies
/// sends the app back with `error=access_denied` and its `state`.
async fn consent_narrows_or_denies(server: &TestServer) {
    seed(server).await;
    add_client(server, "consent-app", NewClientAuth::Public).await;
    let params = authorize_params(
        server,
        "consent-app",
        "launch/patient patient/Patient.rs patient/Observation.rs openid fhirUser",
    );
    let location = authorize(
        server,
        &params,
        ALICE.0,
        ALICE.1,
        None,
        Some(&["launch/patient", "patient/Patient.rs", "openid", "fhirUser"]),
    )
    .await;
    let code = query_param(&location, "code").expect("a code");
    let mut form = code_form(&code);
    form.push(("client_id", "consent-app"));
    let body = assert_token_response(&token_post(server, &form, None).await);
    assert!(has_scope(&body["scope"], "patient/Patient.rs"), "{body}");
    assert!(
        !has_scope(&body["scope"], "patient/Observation.rs"),
        "{body}"
    );
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(get_with(server, access, "Patient/p1").await.status, 200);
    get_with(server, access, "Observation?subject=Patient/p1")
        .await
        .assert_outcome(403, "forbidden");

    // Deny.
    let (http, html) = consent_page(server, &params, ALICE).await;
    let mut form = hidden_fields(&html);
    for scope in input_values(&html, "scope") {
        form.push(("scope".into(), scope));
    }
    form.push(("deny".into(), "1".into()));
    let denied = http
        .post(auth_url(server, "authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_error_redirect(&denied, Some("access_denied"), Some("state-123"));
}

smart_test!(consent_narrows_or_denies_case, consent_narrows_or_denies);

// ---------------------------------------------------------------------------------------
// 6. Authorize refusals.

/// What the authorize endpoint refuses before anyone signs in. RFC 6749 §4.1.2.1: with an
/// unknown client or an unregistered redirect URI the user is told and NOT redirected;
/// every other error is a redirect with `error` (and `state`). SMART App Launch 2.x: PKCE
/// `S256` is required (`plain` refused), `state` is required, `aud` must be this FHIR
/// server. Also the `authorize-post` capability: the same request as a form.
async fn authorize_refusals(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_client(server, "app", NewClientAuth::Public).await;
    let params = authorize_params(server, "app", "launch/patient patient/*.rs");

    // The request itself is good: GET and POST both show the login page.
    assert_eq!(authorize_get(server, &params).await.status(), 200);
    let posted = browser()
        .post(auth_url(server, "authorize"))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    assert!(posted.text().await.unwrap().contains("name=\"password\""));

    let state = Some("state-123");
    let plain = with(
        &with(&params, "code_challenge_method", Some("plain")),
        "code_challenge",
        Some(VERIFIER),
    );
    let cases: Vec<(&str, Params, Option<&str>, Option<&str>)> = vec![
        ("plain PKCE", plain, Some("invalid_request"), state),
        (
            "no code_challenge",
            with(
                &with(&params, "code_challenge", None),
                "code_challenge_method",
                None,
            ),
            Some("invalid_request"),
            state,
        ),
        (
            "no code_challenge_method",
            with(&params, "code_challenge_method", None),
            Some("invalid_request"),
            state,
        ),
        (
            "wrong aud",
            with(&params, "aud", Some("https://other.example/fhir")),
            Some("invalid_request"),
            state,
        ),
        (
            "no state",
            with(&params, "state", None),
            Some("invalid_request"),
            None,
        ),
        (
            "malformed scope",
            with(&params, "scope", Some("launch/patient patient/*.xyz")),
            Some("invalid_scope"),
            state,
        ),
        (
            "implicit grant",
            with(&params, "response_type", Some("token")),
            Some("unsupported_response_type"),
            state,
        ),
    ];
    for (what, case, error, state) in cases {
        let response = authorize_get(server, &case).await;
        assert!(
            response.status().is_redirection(),
            "{what}: {}",
            response.status()
        );
        assert_error_redirect(&response, error, state);
    }

    // Never redirected: an unregistered redirect URI, an unknown client.
    for (what, case) in [
        (
            "unregistered redirect_uri",
            with(
                &params,
                "redirect_uri",
                Some("http://127.0.0.1:9/elsewhere"),
            ),
        ),
        ("unknown client", with(&params, "client_id", Some("nobody"))),
        ("no client", with(&params, "client_id", None)),
    ] {
        let response = authorize_get(server, &case).await;
        assert_eq!(response.status(), 400, "{what}");
        assert!(response.headers().get("location").is_none(), "{what}");
    }
}

smart_test!(authorize_refusals_case, authorize_refusals);

/// Signing in: a wrong password shows the login page again (no redirect, no code), and a
/// page's one-time ticket cannot be replayed: posting the same consent twice yields one
/// code only.
async fn authorize_login_refusals(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_client(server, "app", NewClientAuth::Public).await;
    let params = authorize_params(server, "app", "launch/patient patient/*.rs");
    let http = browser();
    let url = auth_url(server, "authorize");
    let login = http.get(&url).query(&params).send().await.unwrap();
    let hidden = hidden_fields(&login.text().await.unwrap());
    let mut form = hidden.clone();
    form.extend([
        ("username".to_owned(), ALICE.0.to_owned()),
        ("password".to_owned(), "not-her-password".to_owned()),
    ]);
    let again = http.post(&url).form(&form).send().await.unwrap();
    assert!(again.headers().get("location").is_none());
    assert!(
        matches!(again.status().as_u16(), 200 | 400 | 401),
        "{}",
        again.status()
    );
    let html = again.text().await.unwrap();
    assert!(html.contains("name=\"password\""), "{html}");
    assert!(!html.contains("name=\"approve\""), "{html}");
    // An unknown user too.
    let mut form = hidden.clone();
    form.extend([
        ("username".to_owned(), "mallory".to_owned()),
        ("password".to_owned(), "whatever-password".to_owned()),
    ]);
    let unknown = http.post(&url).form(&form).send().await.unwrap();
    assert!(unknown.headers().get("location").is_none());
    assert!(unknown.text().await.unwrap().contains("name=\"password\""));

    // A consent posted twice.
    let (http, html) = consent_page(server, &params, ALICE).await;
    let mut form = hidden_fields(&html);
    for scope in input_values(&html, "scope") {
        form.push(("scope".into(), scope));
    }
    form.push(("approve".into(), "1".into()));
    let first = http.post(&url).form(&form).send().await.unwrap();
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert!(query_param(&location, "code").is_some(), "{location}");
    let second = http.post(&url).form(&form).send().await.unwrap();
    let replayed = second
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    assert!(
        replayed
            .as_deref()
            .and_then(|l| query_param(l, "code"))
            .is_none(),
        "a second code from a replayed consent: {replayed:?}"
    );
    // Nor can the consent step be reached without the ticket from signing in.
    let forged: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| k != "ticket")
        .cloned()
        .collect();
    let forged = http.post(&url).form(&forged).send().await.unwrap();
    let location = forged
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    assert!(
        location
            .as_deref()
            .and_then(|l| query_param(l, "code"))
            .is_none(),
        "a code without signing in: {location:?}"
    );
}

smart_test!(authorize_login_refusals_case, authorize_login_refusals);

// ---------------------------------------------------------------------------------------
// 7. Token endpoint refusals.

/// The code exchange (RFC 6749 §4.1.3, §5.2; RFC 7636 §4.6): the code works once, for the
/// client and redirect URI it was issued to, with the verifier whose S256 hash is the
/// challenge; anything else is `invalid_grant` (a missing parameter may be
/// `invalid_request`).
async fn token_code_refusals(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_client(server, "app", NewClientAuth::Public).await;
    add_client(server, "other-app", NewClientAuth::Public).await;
    let params = authorize_params(server, "app", "launch/patient patient/*.rs");
    let exchange = |code: String, changes: Vec<(&'static str, Option<&'static str>)>| async move {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", REDIRECT.into()),
            ("code_verifier", VERIFIER.into()),
            ("client_id", "app".into()),
        ];
        for (name, value) in changes {
            form.retain(|(k, _)| *k != name);
            if let Some(value) = value {
                form.push((name, value.to_owned()));
            }
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        token_post(server, &form, None).await
    };

    let cases: Vec<(&str, Changes, &[&str])> = vec![
        (
            "wrong verifier",
            vec![(
                "code_verifier",
                Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXZ"),
            )],
            &["invalid_grant"],
        ),
        (
            "verifier = challenge",
            vec![("code_verifier", Some(CHALLENGE))],
            &["invalid_grant"],
        ),
        (
            "no verifier",
            vec![("code_verifier", None)],
            &["invalid_request", "invalid_grant"],
        ),
        (
            "another client",
            vec![("client_id", Some("other-app"))],
            &["invalid_grant"],
        ),
        (
            "another redirect_uri",
            vec![("redirect_uri", Some("http://127.0.0.1:9/elsewhere"))],
            &["invalid_grant"],
        ),
    ];
    for (what, changes, errors) in cases {
        let code = code_for(server, &params, ALICE).await;
        let r = exchange(code, changes).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text);
        let error = r.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(errors.contains(&error.as_str()), "{what}: {}", r.text);
    }

    // Used twice.
    let code = code_for(server, &params, ALICE).await;
    assert_token_response(&exchange(code.clone(), vec![]).await);
    assert_oauth_error(&exchange(code, vec![]).await, &[400], "invalid_grant");
    // Never issued.
    assert_oauth_error(
        &exchange("bm90LWEtY29kZQ".into(), vec![]).await,
        &[400],
        "invalid_grant",
    );
    // Unsupported grant type (RFC 6749 §5.2).
    let r = token_post(
        server,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", ALICE.1),
            ("client_id", "app"),
        ],
        None,
    )
    .await;
    assert_oauth_error(&r, &[400], "unsupported_grant_type");
}

smart_test!(token_code_refusals_case, token_code_refusals);

/// An expired code is `invalid_grant` (RFC 6749 §4.1.2: codes are short-lived). Codes live
/// a minute, too long to wait for in a test, so this code is written to the server's
/// database with an expiry in the past, as the authorize endpoint would have stored it
/// a minute ago.
async fn token_expired_code(server: &TestServer) {
    use fhir_server::auth::token::{StoredGrant, secret_hash};
    add_client(server, "app", NewClientAuth::Public).await;
    let grant = StoredGrant {
        client_id: "app".into(),
        scope: "launch/patient patient/*.rs".into(),
        username: ALICE.0.into(),
        fhir_user: Some("Patient/p1".into()),
        patient: Some("p1".into()),
        encounter: None,
        redirect_uri: Some(REDIRECT.into()),
        code_challenge: Some(CHALLENGE.into()),
        need_patient_banner: true,
        fhir_context: Vec::new(),
    };
    let store = server.admin_store().await;
    let auth = AuthStore::new(store.reader());
    let now = unix_now() as i64;
    for (code, expires) in [
        ("live-code-0123456789", now + 60),
        ("dead-code-0123456789", now - 1),
    ] {
        auth.put_code(
            &secret_hash(code),
            &serde_json::to_string(&grant).unwrap(),
            expires,
        )
        .await
        .unwrap();
    }
    let mut form = code_form("live-code-0123456789");
    form.push(("client_id", "app"));
    assert_token_response(&token_post(server, &form, None).await);
    let mut form = code_form("dead-code-0123456789");
    form.push(("client_id", "app"));
    assert_oauth_error(
        &token_post(server, &form, None).await,
        &[400],
        "invalid_grant",
    );
}

smart_test!(token_expired_code_case, token_expired_code);

/// Client authentication at the token endpoint (RFC 6749 §2.3, §5.2; RFC 7523 §3; SMART
/// Backend Services): a wrong secret is `invalid_client`, 401 with a `WWW-Authenticate`
/// challenge when it came in `Authorization`; a confidential client that does not
/// authenticate is `invalid_client`; an assertion is refused when its `jti` was seen
/// before, its `exp` is more than five minutes ahead, its `aud` is not the token URL, or
/// it is signed with `alg: none`.
async fn token_client_auth_refusals(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_client(server, "conf", NewClientAuth::Secret(SECRET.into())).await;
    add_client(server, "asym", NewClientAuth::Jwks(jwks_of(&[es_key()]))).await;
    let conf = authorize_params(server, "conf", "launch/patient patient/*.rs");
    let asym = authorize_params(server, "asym", "launch/patient patient/*.rs");

    // Secrets.
    let code = code_for(server, &conf, ALICE).await;
    let r = token_post(
        server,
        &code_form(&code),
        Some(&basic("conf", "wrong-secret-0123456789")),
    )
    .await;
    assert_oauth_error(&r, &[401], "invalid_client");
    assert!(r.header("www-authenticate").is_some(), "{:?}", r.headers);
    let code = code_for(server, &conf, ALICE).await;
    let mut form = code_form(&code);
    form.extend([
        ("client_id", "conf"),
        ("client_secret", "wrong-secret-0123456789"),
    ]);
    assert_oauth_error(
        &token_post(server, &form, None).await,
        &[400, 401],
        "invalid_client",
    );
    let code = code_for(server, &conf, ALICE).await;
    let mut form = code_form(&code);
    form.push(("client_id", "conf"));
    assert_oauth_error(
        &token_post(server, &form, None).await,
        &[400, 401],
        "invalid_client",
    );
    let r = token_post(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        Some(&basic("nobody", "some-secret-0123456789")),
    )
    .await;
    assert_oauth_error(&r, &[401], "invalid_client");

    // Assertions.
    let asym = &asym;
    let exchange = |assertion: String| async move {
        let code = code_for(server, asym, ALICE).await;
        let mut form = code_form(&code);
        form.extend([
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ]);
        token_post(server, &form, None).await
    };
    let key = es_key();
    let replayed = assertion(server, key, "asym");
    assert_token_response(&exchange(replayed.clone()).await);
    assert_oauth_error(&exchange(replayed).await, &[400, 401], "invalid_client");

    let late = sign_with(
        key,
        key.kid(),
        &assertion_claims(server, "asym", 3600, "late-1"),
    );
    assert_oauth_error(&exchange(late).await, &[400, 401], "invalid_client");

    let mut claims = assertion_claims(server, "asym", 240, "aud-1");
    claims["aud"] = json!(server.url("token"));
    let wrong_aud = sign_with(key, key.kid(), &claims);
    assert_oauth_error(&exchange(wrong_aud).await, &[400, 401], "invalid_client");

    let expired = sign_with(
        key,
        key.kid(),
        &assertion_claims(server, "asym", -600, "old-1"),
    );
    assert_oauth_error(&exchange(expired).await, &[400, 401], "invalid_client");

    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": key.kid()}).to_string()),
        URL_SAFE_NO_PAD.encode(assertion_claims(server, "asym", 240, "none-1").to_string())
    );
    assert_oauth_error(&exchange(unsigned).await, &[400, 401], "invalid_client");
}

smart_test!(token_client_auth_refusals_case, token_client_auth_refusals);

// ---------------------------------------------------------------------------------------
// 8. Refresh.

async fn refresh(server: &TestServer, client_id: &str, token: &str, scope: Option<&str>) -> Reply {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", client_id),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token_post(server, &form, None).await
}

const OFFLINE: &str = "launch/patient patient/*.rs openid fhirUser offline_access";

/// Refresh (RFC 6749 §6, SMART App Launch "refresh access token"; rotation and reuse
/// detection as RFC 9700 §4.14.2 describes): `offline_access` yields a refresh token; a
/// refresh returns a new one and the old one stops working; presenting a rotated one
/// again revokes the family, so the newest stops working too; `scope` may narrow, never
/// widen; the token is bound to its client.
async fn refresh_rotation(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_client(server, "app2", NewClientAuth::Public).await;
    let first = standalone_token(server, "app", ALICE.0, ALICE.1, OFFLINE).await;
    let r1 = first["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();

    let second = assert_token_response(&refresh(server, "app", &r1, None).await);
    let r2 = second["refresh_token"]
        .as_str()
        .expect("a new refresh token")
        .to_owned();
    assert_ne!(r1, r2);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["patient"], "p1", "{second}");
    assert!(has_scope(&second["scope"], "patient/*.rs"), "{second}");

    // The rotated token is refused; that reuse revokes the family.
    assert_oauth_error(
        &refresh(server, "app", &r1, None).await,
        &[400],
        "invalid_grant",
    );
    assert_oauth_error(
        &refresh(server, "app", &r2, None).await,
        &[400],
        "invalid_grant",
    );

    // Narrowing.
    let fresh = standalone_token(server, "app", ALICE.0, ALICE.1, OFFLINE).await;
    let r = fresh["refresh_token"].as_str().unwrap();
    let narrowed = assert_token_response(
        &refresh(server, "app", r, Some("patient/*.rs offline_access")).await,
    );
    assert!(has_scope(&narrowed["scope"], "patient/*.rs"), "{narrowed}");
    assert!(!has_scope(&narrowed["scope"], "openid"), "{narrowed}");
    assert!(!has_scope(&narrowed["scope"], "fhirUser"), "{narrowed}");

    // Widening: nothing that was not granted.
    let fresh = standalone_token(server, "app", ALICE.0, ALICE.1, OFFLINE).await;
    let r = fresh["refresh_token"].as_str().unwrap();
    assert_oauth_error(
        &refresh(server, "app", r, Some("user/*.cruds")).await,
        &[400],
        "invalid_scope",
    );
    let fresh = standalone_token(server, "app", ALICE.0, ALICE.1, OFFLINE).await;
    let r = fresh["refresh_token"].as_str().unwrap();
    let mixed = refresh(server, "app", r, Some("patient/*.rs patient/*.cruds")).await;
    if mixed.status == 200 {
        // RFC 6749 §3.3 lets the server grant less than asked, if it says so.
        let body = mixed.json();
        assert!(!has_scope(&body["scope"], "patient/*.cruds"), "{body}");
    } else {
        assert_oauth_error(&mixed, &[400], "invalid_scope");
    }

    // Another client.
    let fresh = standalone_token(server, "app", ALICE.0, ALICE.1, OFFLINE).await;
    let r = fresh["refresh_token"].as_str().unwrap();
    assert_oauth_error(
        &refresh(server, "app2", r, None).await,
        &[400],
        "invalid_grant",
    );

    // No offline_access or online_access: no refresh token.
    let online_less = standalone_token(
        server,
        "app",
        ALICE.0,
        ALICE.1,
        "launch/patient patient/*.rs",
    )
    .await;
    assert!(online_less.get("refresh_token").is_none(), "{online_less}");
    let online = standalone_token(
        server,
        "app",
        ALICE.0,
        ALICE.1,
        "launch/patient patient/*.rs online_access",
    )
    .await;
    assert!(online["refresh_token"].is_string(), "{online}");
}

smart_test!(refresh_rotation_case, refresh_rotation);

/// RFC 6749 §6: "If a new refresh token is issued, the refresh token scope MUST be
/// identical to that of the refresh token included by the client in the request", and a
/// refresh without `scope` is "treated as equal to the scope originally granted by the
/// resource owner". So narrowing one access token does not narrow the next.
async fn refresh_after_narrowing_keeps_the_grant(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    let first = standalone_token(server, "app", ALICE.0, ALICE.1, OFFLINE).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let narrowed = assert_token_response(
        &refresh(server, "app", r1, Some("patient/*.rs offline_access")).await,
    );
    assert!(!has_scope(&narrowed["scope"], "openid"), "{narrowed}");
    let r2 = narrowed["refresh_token"].as_str().unwrap();
    let again = assert_token_response(&refresh(server, "app", r2, None).await);
    for scope in OFFLINE.split(' ') {
        assert!(has_scope(&again["scope"], scope), "{scope} lost: {again}");
    }
}

smart_test!(
    refresh_after_narrowing_keeps_the_grant_case,
    refresh_after_narrowing_keeps_the_grant
);

// ---------------------------------------------------------------------------------------
// 9. Backend Services.

async fn client_credentials(
    server: &TestServer,
    client_id: &str,
    key: &SigningKey,
    scope: &str,
) -> Reply {
    let signed = assertion(server, key, client_id);
    token_post(
        server,
        &[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", signed.as_str()),
        ],
        None,
    )
    .await
}

/// SMART Backend Services: `client_credentials` with a `private_key_jwt` assertion,
/// `system/` scopes; "The access token response SHALL NOT include a refresh token" and
/// `expires_in` "SHOULD NOT exceed 300"; the token reads data. RFC 6749 §4.4: only
/// confidential clients use this grant (public ones are refused); this server keeps it to
/// asymmetric clients as Backend Services does.
async fn backend_services(server: &TestServer) {
    add_client(
        server,
        "backend",
        NewClientAuth::Jwks(jwks_of(&[es_key(), rs_key()])),
    )
    .await;
    let body = assert_token_response(
        &client_credentials(
            server,
            "backend",
            es_key(),
            "system/Patient.cruds system/Observation.rs",
        )
        .await,
    );
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
    assert!(body["expires_in"].as_u64().unwrap() <= 300, "{body}");
    assert!(has_scope(&body["scope"], "system/Patient.cruds"), "{body}");
    let access = body["access_token"].as_str().unwrap();
    let patient = json!({"resourceType": "Patient", "id": "bp1", "name": [{"family": "Sato"}]});
    assert_eq!(put_with(server, access, &patient).await, 201);
    assert_eq!(get_with(server, access, "Patient/bp1").await.status, 200);
    assert_eq!(
        get_with(server, access, "Observation?_count=1")
            .await
            .status,
        200
    );
    // RS384 too.
    assert_token_response(
        &client_credentials(server, "backend", rs_key(), "system/Patient.rs").await,
    );

    // Not system/ scopes.
    for scope in [
        "patient/*.rs",
        "system/Patient.rs user/Patient.rs",
        "launch/patient",
    ] {
        assert_oauth_error(
            &client_credentials(server, "backend", es_key(), scope).await,
            &[400],
            "invalid_scope",
        );
    }

    // A secret client and a public client.
    add_client(server, "conf", NewClientAuth::Secret(SECRET.into())).await;
    let r = token_post(
        server,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "system/Patient.rs"),
        ],
        Some(&basic("conf", SECRET)),
    )
    .await;
    assert!(matches!(r.status.as_u16(), 400 | 401), "{}", r.text);
    let error = r.json()["error"].as_str().unwrap().to_owned();
    assert!(
        matches!(error.as_str(), "unauthorized_client" | "invalid_client"),
        "{}",
        r.text
    );
    assert!(r.json().get("access_token").is_none());
    add_client(server, "pub", NewClientAuth::Public).await;
    let r = token_post(
        server,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "system/Patient.rs"),
            ("client_id", "pub"),
        ],
        None,
    )
    .await;
    assert!(matches!(r.status.as_u16(), 400 | 401), "{}", r.text);
    let error = r.json()["error"].as_str().unwrap().to_owned();
    assert!(
        matches!(error.as_str(), "unauthorized_client" | "invalid_client"),
        "{}",
        r.text
    );
}

smart_test!(backend_services_case, backend_services);

// ---------------------------------------------------------------------------------------
// 10. Introspection.

async fn introspect(server: &TestServer, token: &str, auth: Option<&str>) -> Reply {
    post_form(&auth_url(server, "introspect"), &[("token", token)], auth).await
}

/// RFC 7662 and SMART "Token Introspection": the caller authenticates (§2.1); an active
/// token's answer has `active: true`, `scope`, `client_id`, `exp`, and with `openid
/// fhirUser` the `iss`, `sub` and `fhirUser`, with launch context the `patient`; any
/// token that is not active now (expired, garbage, revoked) is exactly
/// `{"active": false}` (§2.2).
async fn introspection(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_client(server, "rs", NewClientAuth::Secret(SECRET.into())).await;
    let token = standalone_token(server, "app", ALICE.0, ALICE.1, OFFLINE).await;
    let access = token["access_token"].as_str().unwrap();
    let rs = basic("rs", SECRET);

    let r = introspect(server, access, Some(&rs)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = r.json();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], "app");
    assert_eq!(body["iss"], server.base.as_str());
    assert_eq!(body["sub"], ALICE.0);
    assert_eq!(body["patient"], "p1");
    assert!(
        body["fhirUser"].as_str().unwrap().ends_with("Patient/p1"),
        "{body}"
    );
    assert!(body["exp"].as_u64().unwrap() > unix_now(), "{body}");
    for scope in OFFLINE.split(' ') {
        assert!(has_scope(&body["scope"], scope), "{scope}: {body}");
    }
    // The same with the secret in the form, and with a bearer token as the credential.
    let r = post_form(
        &auth_url(server, "introspect"),
        &[
            ("token", access),
            ("client_id", "rs"),
            ("client_secret", SECRET),
        ],
        None,
    )
    .await;
    assert_eq!(r.json()["active"], true, "{}", r.text);
    let r = introspect(server, access, Some(&format!("Bearer {access}"))).await;
    assert_eq!(r.json()["active"], true, "{}", r.text);

    // Not active.
    let key = server_key(server).await;
    let mut claims = jwt_payload(access);
    claims["exp"] = json!(unix_now() - 3600);
    claims["iat"] = json!(unix_now() - 7200);
    let expired = sign_with(&key, key.kid(), &claims);
    let mut claims = jwt_payload(access);
    claims["aud"] = json!("https://other.example/fhir");
    let elsewhere = sign_with(&key, key.kid(), &claims);
    for (what, token) in [
        ("expired", expired.as_str()),
        ("another audience", elsewhere.as_str()),
        ("garbage", "not-a-token"),
    ] {
        let r = introspect(server, token, Some(&rs)).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text);
        assert_eq!(r.json(), json!({"active": false}), "{what}");
    }
    let revoked = standalone_token(server, "app", ALICE.0, ALICE.1, OFFLINE).await;
    let revoked = revoked["access_token"].as_str().unwrap();
    let r = post_form(
        &auth_url(server, "revoke"),
        &[("token", revoked), ("client_id", "app")],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        introspect(server, revoked, Some(&rs)).await.json(),
        json!({"active": false})
    );

    // The caller must authenticate.
    let r = introspect(server, access, None).await;
    assert!(matches!(r.status.as_u16(), 400 | 401), "{}", r.text);
    assert!(r.json().get("active").is_none(), "{}", r.text);
    let r = introspect(
        server,
        access,
        Some(&basic("rs", "wrong-secret-0123456789")),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.json().get("active").is_none(), "{}", r.text);
    let r = introspect(server, access, Some("Bearer not-a-token")).await;
    assert!(matches!(r.status.as_u16(), 400 | 401), "{}", r.text);
    assert!(r.json().get("active").is_none(), "{}", r.text);
}

smart_test!(introspection_case, introspection);

// ---------------------------------------------------------------------------------------
// 11. Revocation.

async fn revoke(server: &TestServer, token: &str, client_id: &str) -> Reply {
    post_form(
        &auth_url(server, "revoke"),
        &[("token", token), ("client_id", client_id)],
        None,
    )
    .await
}

/// RFC 7009: a client revokes its access token (FHIR requests with it are refused at
/// once) or its refresh token (refresh fails); an unknown token is answered 200 (§2.2); a
/// token issued to another client is not revoked (§2.1).
async fn revocation(server: &TestServer) {
    seed(server).await;
    add_client(server, "app2", NewClientAuth::Public).await;
    let token = standalone_token(server, "app", ALICE.0, ALICE.1, OFFLINE).await;
    let access = token["access_token"].as_str().unwrap();
    let refresh_token = token["refresh_token"].as_str().unwrap();
    assert_eq!(get_with(server, access, "Patient/p1").await.status, 200);

    // Another client cannot revoke it.
    let r = revoke(server, access, "app2").await;
    assert!(r.status.is_client_error(), "{}", r.text);
    assert_eq!(get_with(server, access, "Patient/p1").await.status, 200);

    let r = revoke(server, access, "app").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_invalid_token(&get_with(server, access, "Patient/p1").await, "revoked");

    let r = revoke(server, refresh_token, "app").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_oauth_error(
        &refresh(server, "app", refresh_token, None).await,
        &[400],
        "invalid_grant",
    );

    assert_eq!(
        revoke(server, "never-issued-token", "app").await.status,
        200
    );
    // Revocation authenticates its caller too (§2.1).
    let r = post_form(&auth_url(server, "revoke"), &[("token", "x")], None).await;
    assert!(matches!(r.status.as_u16(), 400 | 401), "{}", r.text);
}

smart_test!(revocation_case, revocation);

// ---------------------------------------------------------------------------------------
// 12. Tokens the FHIR API refuses.

/// RFC 6750 §3.1 and SMART App Launch "access token": a token that is expired, not signed
/// by the server (another key, a changed payload, `alg: none`, HMAC), for another
/// audience or from another issuer is refused with 401 and `error="invalid_token"`; a good
/// token without the scope for an interaction gets 403 with an OperationOutcome.
async fn fhir_token_refusals(server: &TestServer) {
    seed(server).await;
    add_client(server, "app", NewClientAuth::Public).await;
    let token = standalone_token(
        server,
        "app",
        ALICE.0,
        ALICE.1,
        "launch/patient patient/Patient.rs",
    )
    .await;
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(get_with(server, access, "Patient/p1").await.status, 200);
    let claims = jwt_payload(access);
    let kid = jwt_header(access)["kid"]
        .as_str()
        .expect("a kid")
        .to_owned();
    let key = server_key(server).await;
    assert_eq!(key.kid(), kid);
    // The control: re-signing the same claims with the server's key is accepted, so each
    // refusal below is for the one thing changed.
    let resigned = sign_with(&key, &kid, &claims);
    assert_eq!(get_with(server, &resigned, "Patient/p1").await.status, 200);

    let changed = |name: &str, value: Value| {
        let mut claims = claims.clone();
        claims[name] = value;
        sign_with(&key, &kid, &claims)
    };
    let now = unix_now();
    let mut expired = claims.clone();
    expired["exp"] = json!(now - 3600);
    expired["iat"] = json!(now - 7200);
    let expired = sign_with(&key, &kid, &expired);
    let stranger = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
    let parts: Vec<&str> = access.split('.').collect();
    let mut widened = claims.clone();
    widened["scope"] = json!("launch/patient patient/*.cruds");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(widened.to_string()),
        parts[2]
    );
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 0x01;
    let bad_signature = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string()),
        parts[1]
    );
    let hmac = {
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let mut header = Header::new(Algorithm::HS384);
        header.kid = Some(kid.clone());
        let jwks = reqwest::get(auth_url(server, "jwks"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(jwks.as_bytes())).unwrap()
    };
    let cases = [
        ("expired", expired),
        (
            "another audience",
            changed("aud", json!("https://other.example/fhir")),
        ),
        (
            "another issuer",
            changed("iss", json!("https://other.example/fhir")),
        ),
        ("another key", sign_with(&stranger, stranger.kid(), &claims)),
        (
            "another key under the server's kid",
            sign_with(&stranger, &kid, &claims),
        ),
        ("changed payload", tampered),
        ("changed signature", bad_signature),
        ("alg none", none),
        ("HS384 keyed with the public JWKS", hmac),
        ("not a JWT", "not-a-jwt".to_owned()),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
    ];
    for (what, token) in cases {
        assert_invalid_token(&get_with(server, &token, "Patient/p1").await, what);
    }
    // Not a Bearer credential at all: 401 with a Bearer challenge.
    let basic = server
        .request(Method::GET, "Patient/p1")
        .header("authorization", "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=")
        .send()
        .await
        .unwrap();
    let basic = Reply::from(basic).await;
    assert_eq!(basic.status, 401);
    assert!(
        basic
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );

    // A good token, but no scope for Observation.
    get_with(server, access, "Observation?subject=Patient/p1")
        .await
        .assert_outcome(403, "forbidden");
    get_with(server, access, "Observation/o1")
        .await
        .assert_outcome(403, "forbidden");
}

smart_test!(fhir_token_refusals_case, fhir_token_refusals);

// ---------------------------------------------------------------------------------------
// 13. OpenID Connect.

/// Verifies an RS256 JWT against the JWKS key its `kid` names, with the `rsa` and `sha2`
/// crates directly (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3), and returns its
/// claims: not the server's JWT code (smart-auth over `jsonwebtoken`) checking its own
/// output. Why not a JWT library: `jwt-simple` 0.15, the usual pure-Rust choice, brings a
/// second RustCrypto stack (p256/k256/p384 0.14, superboring, rand 0.10), a long build on
/// two cores for one test; RS256 verification is a few lines with `rsa`, already in the
/// tree.
fn verify_rs256(token: &str, jwks: &Value) -> Value {
    use sha2::Digest;
    let header = jwt_header(token);
    assert_eq!(header["alg"], "RS256", "{header}");
    let kid = header["kid"].as_str().expect("a kid");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("no key {kid} in {jwks}"));
    assert_eq!(jwk["kty"], "RSA");
    let number = |name: &str| {
        rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap())
    };
    let key = rsa::RsaPublicKey::new(number("n"), number("e")).expect("an RSA public key");
    let (signed, signature) = token.rsplit_once('.').unwrap();
    key.verify(
        rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
        &sha2::Sha256::digest(signed.as_bytes()),
        &URL_SAFE_NO_PAD.decode(signature).unwrap(),
    )
    .expect("the id token's signature verifies");
    jwt_payload(token)
}

/// SMART App Launch "Scopes for requesting identity data" and OpenID Connect Core §3.1.3.7:
/// with `openid fhirUser` the token response has an `id_token` signed by a key of the
/// issuer's `jwks_uri` (found through `{issuer}/.well-known/openid-configuration`), whose
/// `iss` is the issuer (the FHIR base), `aud` the client id, `exp` ahead, and `fhirUser`
/// the URL of the user's FHIR resource.
async fn openid_id_token(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    add_user(server, DR.0, DR.1, "Practitioner/pr1").await;
    for ((user, password), client, resource) in [
        (ALICE, "oidc-app", "Patient/p1"),
        (DR, "oidc-app-2", "Practitioner/pr1"),
    ] {
        let token =
            standalone_token(server, client, user, password, "openid fhirUser user/*.rs").await;
        let id_token = token["id_token"].as_str().expect("an id_token");
        let unverified = jwt_payload(id_token);
        let issuer = unverified["iss"].as_str().unwrap();
        assert_eq!(issuer, server.base);
        let config: Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwks: Value = reqwest::get(config["jwks_uri"].as_str().unwrap())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let claims = verify_rs256(id_token, &jwks);
        assert_eq!(claims["iss"], config["issuer"]);
        let aud = &claims["aud"];
        assert!(
            *aud == client || aud.as_array().is_some_and(|a| a.contains(&json!(client))),
            "{claims}"
        );
        let now = unix_now();
        assert!(claims["exp"].as_u64().unwrap() > now, "{claims}");
        assert!(claims["iat"].as_u64().unwrap() <= now + 60, "{claims}");
        assert!(
            claims["sub"].as_str().is_some_and(|s| !s.is_empty()),
            "{claims}"
        );
        let fhir_user = claims["fhirUser"].as_str().unwrap();
        assert!(
            fhir_user == format!("{}/{resource}", server.base) || fhir_user == resource,
            "{claims}"
        );
    }
    // No id_token without openid.
    let token = standalone_token(server, "oidc-app", ALICE.0, ALICE.1, "user/*.rs").await;
    assert!(token.get("id_token").is_none(), "{token}");
}

smart_test!(openid_id_token_case, openid_id_token);

// ---------------------------------------------------------------------------------------
// 14. The `oauth2` crate as the client.

/// The SMART launch context fields the token response adds to RFC 6749's.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SmartFields {
    patient: Option<String>,
    need_patient_banner: Option<bool>,
    id_token: Option<String>,
}

impl oauth2::ExtraTokenFields for SmartFields {}

type SmartTokenResponse = oauth2::StandardTokenResponse<SmartFields, oauth2::basic::BasicTokenType>;

type SmartClient = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    SmartTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// `oauth2`'s HTTP client trait over reqwest 0.13 (its own `reqwest` feature is for 0.12).
async fn oauth2_http(request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let client = browser();
    let response = client.execute(reqwest::Request::try_from(request)?).await?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder.body(body).expect("a response"))
}

/// A whole standalone launch driven by the `oauth2` crate, from the discovery document:
/// its authorize URL (PKCE S256, `state`, plus SMART's `aud`), its code exchange with the
/// verifier (as a public client, and as a confidential one with HTTP Basic), and its
/// refresh.
async fn oauth2_crate_client(server: &TestServer) {
    use oauth2::{
        AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
        RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
    };
    seed(server).await;
    add_client(server, "oauth2-app", NewClientAuth::Public).await;
    add_client(server, "oauth2-conf", NewClientAuth::Secret(SECRET.into())).await;
    let config = server.get(".well-known/smart-configuration").await.json();
    let endpoint = |name: &str| config[name].as_str().unwrap().to_owned();

    for confidential in [false, true] {
        let id = if confidential {
            "oauth2-conf"
        } else {
            "oauth2-app"
        };
        let mut client: SmartClient = oauth2::Client::new(ClientId::new(id.into()))
            .set_auth_uri(AuthUrl::new(endpoint("authorization_endpoint")).unwrap())
            .set_token_uri(TokenUrl::new(endpoint("token_endpoint")).unwrap())
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
        if confidential {
            client = client.set_client_secret(ClientSecret::new(SECRET.into()));
        }
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(
                [
                    "launch/patient",
                    "patient/*.rs",
                    "openid",
                    "fhirUser",
                    "offline_access",
                ]
                .map(|s| Scope::new(s.into())),
            )
            .add_extra_param("aud", &server.base)
            .set_pkce_challenge(challenge)
            .url();
        assert!(
            url.as_str()
                .starts_with(&endpoint("authorization_endpoint"))
        );
        let params: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let location = authorize(server, &params, ALICE.0, ALICE.1, None, None).await;
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some(csrf.secret().as_str())
        );
        let code = query_param(&location, "code").expect("a code");

        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .request_async(&oauth2_http)
            .await
            .unwrap_or_else(|e| panic!("code exchange ({id}): {e:?}"));
        assert_eq!(token.extra_fields().patient.as_deref(), Some("p1"));
        assert!(token.extra_fields().id_token.is_some());
        let scopes: Vec<String> = token
            .scopes()
            .expect("scope in the response")
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(scopes.contains(&"patient/*.rs".to_owned()), "{scopes:?}");
        let access = token.access_token().secret();
        assert_eq!(get_with(server, access, "Patient/p1").await.status, 200);

        let refresh_token = token.refresh_token().expect("a refresh token").clone();
        let refreshed = client
            .exchange_refresh_token(&refresh_token)
            .request_async(&oauth2_http)
            .await
            .unwrap_or_else(|e| panic!("refresh ({id}): {e:?}"));
        let rotated = refreshed.refresh_token().expect("a new refresh token");
        assert_ne!(rotated.secret(), refresh_token.secret());
        assert_eq!(
            get_with(server, refreshed.access_token().secret(), "Patient/p1")
                .await
                .status,
            200
        );
        // The old refresh token, through the same client: invalid_grant.
        match client
            .exchange_refresh_token(&refresh_token)
            .request_async(&oauth2_http)
            .await
        {
            Err(RequestTokenError::ServerResponse(e)) => assert_eq!(
                *e.error(),
                oauth2::basic::BasicErrorResponseType::InvalidGrant
            ),
            other => panic!("a reused refresh token: {other:?}"),
        }
    }
}

smart_test!(oauth2_crate_client_case, oauth2_crate_client);

/// OpenID Connect Core §5.3: the `userinfo_endpoint` of the openid-configuration answers
/// a token granted `openid` with the user's `sub` (the id token's) and `fhirUser`; no
/// token is 401, a token without `openid` is 403 `insufficient_scope`.
async fn openid_userinfo(server: &TestServer) {
    add_user(server, ALICE.0, ALICE.1, "Patient/p1").await;
    let token = standalone_token(
        server,
        "info-app",
        ALICE.0,
        ALICE.1,
        "openid fhirUser user/*.rs",
    )
    .await;
    let config: Value = reqwest::get(server.url(".well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint = config["userinfo_endpoint"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let info = http
        .get(&endpoint)
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let info: Value = info.json().await.unwrap();
    let id_claims = jwt_payload(token["id_token"].as_str().unwrap());
    assert_eq!(info["sub"], id_claims["sub"]);
    assert_eq!(info["fhirUser"], format!("{}/Patient/p1", server.base));
    let none = http.get(&endpoint).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    let plain = standalone_token(server, "info-app", ALICE.0, ALICE.1, "user/*.rs").await;
    let refused = http
        .get(&endpoint)
        .bearer_auth(plain["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

smart_test!(openid_userinfo_case, openid_userinfo);
