//! Administration of the authorization server: users, clients and EHR launches. The
//! command line (`fhir-server user add`, `client add`, `launch`) and the admin endpoint
//! (`POST /auth/launch`) call these; so do tests, through the same code.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use smart_auth::{Client, ClientAuth, Interaction, ScopeSet};

use super::access::Caller;
use super::authorize::{LaunchPayload, create_launch};
use super::service::unix_now;
use super::store::AuthStore;
use crate::AppState;
use crate::error::ApiError;
use crate::store::ResourceStore;

/// How a new client authenticates.
#[derive(Debug, Clone)]
pub enum NewClientAuth {
    /// A public client (`none`).
    Public,
    /// A shared secret (stored as an Argon2id hash).
    Secret(String),
    /// `private_key_jwt` with these public keys (a JWKS document).
    Jwks(Value),
    /// `private_key_jwt` with keys fetched from this URL.
    JwksUrl(String),
}

/// Registers (or replaces) a client.
pub async fn add_client(
    store: &dyn ResourceStore,
    client_id: &str,
    name: Option<String>,
    redirect_uris: Vec<String>,
    auth: NewClientAuth,
    scope: Option<&str>,
) -> anyhow::Result<()> {
    anyhow::ensure!(!client_id.trim().is_empty(), "the client id is empty");
    let auth = match auth {
        NewClientAuth::Public => ClientAuth::Public,
        NewClientAuth::Secret(secret) => {
            anyhow::ensure!(
                secret.len() >= 16,
                "a client secret needs at least 16 characters"
            );
            ClientAuth::Secret {
                secret_hash: smart_auth::passwords::hash_password(&secret)?,
            }
        }
        NewClientAuth::Jwks(jwks) => {
            smart_auth::clients::parse_jwks(&jwks)
                .map_err(|e| anyhow::anyhow!("the JWKS cannot be used: {}", e.description))?;
            ClientAuth::PrivateKeyJwt {
                jwks: Some(jwks),
                jwks_url: None,
            }
        }
        NewClientAuth::JwksUrl(url) => ClientAuth::PrivateKeyJwt {
            jwks: None,
            jwks_url: Some(url),
        },
    };
    let scope = scope
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("invalid scope: {e}"))?;
    let client = Client {
        client_id: client_id.to_owned(),
        name,
        auth,
        redirect_uris,
        scope,
    };
    AuthStore::new(store.reader())
        .put_client(
            client_id,
            &serde_json::to_string(&client)?,
            &crate::clock::now_instant(),
        )
        .await?;
    Ok(())
}

/// One entry of a clients file (`--clients-file`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    client_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    jwks: Option<Value>,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// Registers every client of a clients file (JSON array), each as [`add_client`] does.
pub async fn load_clients_file(
    store: &dyn ResourceStore,
    path: &std::path::Path,
) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let entries: Vec<ClientEntry> = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a list of clients: {e}", path.display()))?;
    for entry in &entries {
        let auth = match (entry.public, &entry.secret, &entry.jwks, &entry.jwks_url) {
            (true, None, None, None) => NewClientAuth::Public,
            (false, Some(s), None, None) => NewClientAuth::Secret(s.clone()),
            (false, None, Some(j), None) => NewClientAuth::Jwks(j.clone()),
            (false, None, None, Some(u)) => NewClientAuth::JwksUrl(u.clone()),
            _ => anyhow::bail!(
                "client {}: give exactly one of public, secret, jwks, jwks_url",
                entry.client_id
            ),
        };
        add_client(
            store,
            &entry.client_id,
            entry.name.clone(),
            entry.redirect_uris.clone(),
            auth,
            entry.scope.as_deref(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("client {}: {e}", entry.client_id))?;
    }
    Ok(entries.len())
}

/// Creates (or replaces) a user linked to a FHIR resource (`Patient/ID`,
/// `Practitioner/ID`, `RelatedPerson/ID`).
pub async fn add_user(
    store: &dyn ResourceStore,
    username: &str,
    password: &str,
    fhir_user: &str,
) -> anyhow::Result<()> {
    anyhow::ensure!(!username.trim().is_empty(), "the username is empty");
    anyhow::ensure!(
        password.len() >= 8,
        "a password needs at least 8 characters"
    );
    let (res_type, id) = fhir_user
        .split_once('/')
        .ok_or_else(|| anyhow::anyhow!("--fhir-user must be Type/id, e.g. Patient/123"))?;
    anyhow::ensure!(
        matches!(
            res_type,
            "Patient" | "Practitioner" | "RelatedPerson" | "PractitionerRole"
        ) && crate::rest::interactions::is_valid_id(id),
        "--fhir-user must be Patient/ID, Practitioner/ID, PractitionerRole/ID or RelatedPerson/ID"
    );
    let hash = smart_auth::passwords::hash_password(password)?;
    AuthStore::new(store.reader())
        .put_user(username, &hash, fhir_user, &crate::clock::now_instant())
        .await?;
    Ok(())
}

/// Creates an EHR launch for a patient (and encounter) and returns the `launch` value
/// an app passes to the authorize endpoint.
pub async fn launch(
    store: &dyn ResourceStore,
    patient: &str,
    encounter: Option<&str>,
) -> anyhow::Result<String> {
    launch_with_context(store, patient, encounter, Vec::new()).await
}

/// [`launch`] with further context for the app (`fhirContext` items, checked by
/// [`check_fhir_context`]).
pub async fn launch_with_context(
    store: &dyn ResourceStore,
    patient: &str,
    encounter: Option<&str>,
    fhir_context: Vec<Value>,
) -> anyhow::Result<String> {
    let strip = |value: &str, prefix: &str| value.strip_prefix(prefix).unwrap_or(value).to_owned();
    let payload = LaunchPayload {
        patient: Some(strip(patient, "Patient/")),
        encounter: encounter.map(|e| strip(e, "Encounter/")),
        fhir_context,
    };
    Ok(create_launch(&AuthStore::new(store.reader()), &payload).await?)
}

/// Checks `fhirContext` items (SMART App Launch 2.2): each an object with a relative
/// `reference` (`Type/id`) and an optional `role` (a URI); a Patient or Encounter only
/// with a role other than `launch` (those travel as `patient` and `encounter`).
pub fn check_fhir_context(items: &[Value]) -> Result<(), String> {
    for (i, item) in items.iter().enumerate() {
        let reference = item
            .get("reference")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("fhirContext[{i}] needs a reference (Type/id)"))?;
        let (res_type, id) = reference
            .split_once('/')
            .ok_or_else(|| format!("fhirContext[{i}].reference must be Type/id"))?;
        if !fhir_model::definitions::is_resource_type(res_type)
            || !crate::rest::interactions::is_valid_id(id)
        {
            return Err(format!("fhirContext[{i}].reference must be Type/id"));
        }
        let role = item.get("role").and_then(Value::as_str);
        if item.get("role").is_some() && role.is_none_or(str::is_empty) {
            return Err(format!("fhirContext[{i}].role must be a URI"));
        }
        if matches!(res_type, "Patient" | "Encounter")
            && role.is_none_or(|r| r == "launch" || r.ends_with("/launch"))
        {
            return Err(format!(
                "fhirContext[{i}]: a {res_type} goes in the launch's {} unless it has another role",
                res_type.to_lowercase()
            ));
        }
        if let Some(extra) = item.as_object().and_then(|o| {
            o.keys()
                .find(|k| !matches!(k.as_str(), "reference" | "role" | "type"))
        }) {
            return Err(format!("fhirContext[{i}] has an unknown member '{extra}'"));
        }
    }
    Ok(())
}

/// `POST /auth/launch` with `{"patient": "Patient/ID", "encounter": "Encounter/ID"}`:
/// an EHR starts a launch. The caller needs a token that may read that Patient without a
/// compartment limit (a clinician's `user/` scopes or a `system/` client).
pub async fn launch_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            fhir_model::outcome::IssueType::Structure,
            format!("The body must be JSON: {e}"),
        )
    })?;
    if state.auth.is_none() {
        return Err(ApiError::not_found(
            "This server runs without authorization",
        ));
    }
    let params = state.search_params.current();
    caller.require_all("Patient", Interaction::Read, &params, &state.base_url)?;
    let patient = body.get("patient").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request(
            fhir_model::outcome::IssueType::Required,
            "patient (Patient/ID) is required",
        )
        .at("patient")
    })?;
    let encounter = body.get("encounter").and_then(Value::as_str);
    let fhir_context = match body.get("fhirContext") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(
                fhir_model::outcome::IssueType::Structure,
                "fhirContext must be an array",
            )
            .at("fhirContext"));
        }
    };
    check_fhir_context(&fhir_context).map_err(|why| {
        ApiError::bad_request(fhir_model::outcome::IssueType::Value, why).at("fhirContext")
    })?;
    let id = patient.strip_prefix("Patient/").unwrap_or(patient);
    match state.store.read("Patient", id).await? {
        Some(p) if !p.is_deleted() => {}
        _ => return Err(ApiError::not_found(format!("Patient/{id} is not known"))),
    }
    let launch = launch_with_context(&*state.store, patient, encounter, fhir_context)
        .await
        .map_err(ApiError::internal)?;
    let expires_at = unix_now() + super::authorize::LAUNCH_LIFETIME as u64;
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json!({"launch": launch, "expires_at": expires_at}).to_string(),
    )
        .into_response())
}
