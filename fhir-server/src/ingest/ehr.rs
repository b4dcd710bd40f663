//! EHR sync: a patient's data pulled from a FHIR R4 server (Epic, Oracle Health, or any
//! R4 base), normalised by [`mappers::ehr`] and stored for one of our patients.
//!
//! * **Authorization.** Nothing, a bearer token, or SMART Backend Services: a
//!   `client_credentials` grant authenticated with a `private_key_jwt` client assertion
//!   (RS384 or ES384), requested through the `oauth2` crate; the token endpoint comes from
//!   the source's `.well-known/smart-configuration` unless given.
//! * **What is pulled.** For each type of [`DEFAULT_TYPES`], `GET [base]/[type]?patient=…`
//!   with `_count`, following `Bundle.link[next]` (only to the same server). The vendor's
//!   Patient resource is not imported: our patient *is* the person, and every reference
//!   to the vendor patient becomes a reference to ours.
//! * **Incremental.** `_lastUpdated=gt<since>` on every search, `since` being the start
//!   time of the last sync of this source for this patient that stored something (the
//!   `recorded` time of its newest Provenance), or the caller's. R4 search has no
//!   `_since` (that parameter belongs to history and `$everything`, which Epic and Oracle
//!   Health do not offer for patient data); `_lastUpdated` is the search form of it.
//! * **Consent.** The patient must have allowed the source: a Consent naming the base
//!   URL (see [`super::consent`]).
//! * **Storing.** As every import: conditional updates by source identity in transaction
//!   chunks, unchanged resources untouched, a Provenance per chunk that changed
//!   something (agents: the importer, and the patient as informant; entity: the source).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use fhir_model::outcome::IssueType;
use mappers::ehr::{self, EhrContext, EhrNoteKind, Vendor};
use serde_json::{Value, json};
use smart_auth::SigningKey;

use super::consent::DATA_SOURCE_SYSTEM;
use super::{ChunkWriter, IngestSummary, IngestTarget, consent};
use crate::error::ApiError;
use crate::rest::criteria::{parse_criteria_with, parse_sort};
use crate::store::SearchQuery;

/// The types pulled by default: the patient data Epic and Oracle Health serve by patient.
pub const DEFAULT_TYPES: &[&str] = &[
    "Observation",
    "Condition",
    "AllergyIntolerance",
    "MedicationRequest",
    "MedicationAdministration",
    "Immunization",
    "Procedure",
    "Encounter",
    "DiagnosticReport",
    "DocumentReference",
    "CarePlan",
    "Goal",
    "Appointment",
];

/// Search page size asked of the source unless the request says otherwise.
pub const PAGE_SIZE: u32 = 100;
/// Pages followed per type at most (a loop guard; 100,000 resources per type).
const MAX_PAGES: usize = 1000;

/// How the sync authenticates to the source.
#[derive(Debug, Clone)]
pub enum SourceAuth {
    /// No authorization (an open endpoint, as Cerner's `fhir-open`).
    None,
    /// A bearer token obtained elsewhere.
    Bearer(String),
    /// SMART Backend Services: `client_credentials` with a `private_key_jwt` assertion.
    Backend {
        /// The client id registered at the source.
        client_id: String,
        /// The client's private key (its public half is in the JWKS the source has).
        key: Arc<SigningKey>,
        /// The token endpoint; `None`: from the source's smart-configuration.
        token_url: Option<String>,
        /// Scopes asked for (`system/*.rs` when empty).
        scope: String,
    },
}

/// One sync.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The source FHIR base URL.
    pub base_url: String,
    /// The source's kind (its quirks).
    pub vendor: Vendor,
    /// The patient's id at the source.
    pub source_patient: String,
    /// Our patient's id.
    pub patient_id: String,
    /// Only what changed after this instant; `None`: since the last sync.
    pub since: Option<String>,
    /// How to authenticate.
    pub auth: SourceAuth,
    /// Types to pull.
    pub types: Vec<String>,
    /// Search page size asked of the source (`_count`).
    pub page_size: u32,
}

/// Pulls, normalises and stores; `now` is the sync's start (the next sync's `since`).
/// `pages` counts the pages fetched, for progress.
pub async fn sync(
    target: &IngestTarget,
    request: &SyncRequest,
    now: &str,
    pages: Arc<AtomicU64>,
) -> Result<IngestSummary, ApiError> {
    let base = request.base_url.trim_end_matches('/').to_owned();
    let patient_ref = format!("Patient/{}", request.patient_id);
    super::wearable::require_patient(target, &request.patient_id).await?;
    consent::require(target, &request.patient_id, &base, now).await?;
    let since = match &request.since {
        Some(s) => Some(s.clone()),
        None => last_sync(target, &patient_ref, &base).await?,
    };
    let client = reqwest::Client::new();
    let token = access_token(&client, &base, &request.auth).await?;
    let ctx = EhrContext::new(request.vendor, base.clone())
        .with_patient(request.source_patient.clone(), patient_ref.clone());

    let (provenance_base, recorded, vendor) = (base.clone(), now.to_owned(), request.vendor.name());
    let patient_for_provenance = patient_ref.clone();
    let mut writer = ChunkWriter::new(target.clone(), &patient_ref, move |targets| {
        let source = json!({
            "identifier": {"system": DATA_SOURCE_SYSTEM, "value": provenance_base},
            "display": format!("{vendor} FHIR server {provenance_base}")
        });
        super::chunk_provenance(
            &recorded,
            targets,
            "HealthOS EHR sync",
            Some(&patient_for_provenance),
            Some(source),
        )
    })
    .await;
    for res_type in &request.types {
        let mut url = first_page(
            &base,
            res_type,
            &request.source_patient,
            since.as_deref(),
            request.page_size,
        );
        for _ in 0..MAX_PAGES {
            let page = fetch(&client, &url, token.as_deref()).await?;
            pages.fetch_add(1, Ordering::Relaxed);
            let batch = ehr::normalize_payload(&page, &ctx)
                .map_err(|e| source_error(format!("{url}: {e}")))?;
            for note in &batch.report {
                let position = format!("{url}#{}", note.position);
                match note.kind {
                    EhrNoteKind::Rejected | EhrNoteKind::UnknownType => {
                        writer.summary_mut().reject(position, note.message.clone())
                    }
                    EhrNoteKind::Outcome
                    | EhrNoteKind::VendorProvenance
                    | EhrNoteKind::NotImported
                    | EhrNoteKind::Duplicate => {
                        writer.summary_mut().skip(position, note.message.clone())
                    }
                    EhrNoteKind::Implausible
                    | EhrNoteKind::DanglingReference
                    | EhrNoteKind::FullUrlMismatch => {}
                }
            }
            for resource in batch.resources {
                writer.summary_mut().read += 1;
                if resource["resourceType"] == "Patient" {
                    writer.summary_mut().skip(
                        url.clone(),
                        format!("the source's Patient is not imported: it is {patient_ref}"),
                    );
                    continue;
                }
                let Some(update) = ehr::update_url(&resource) else {
                    writer
                        .summary_mut()
                        .reject(url.clone(), "a resource without a source identity");
                    continue;
                };
                writer.push(resource, update).await?;
            }
            match next_link(&page, &base) {
                Some(next) => url = next,
                None => break,
            }
        }
    }
    writer.finish().await
}

/// The first search page of one type.
fn first_page(
    base: &str,
    res_type: &str,
    patient: &str,
    since: Option<&str>,
    page_size: u32,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("patient", patient);
    query.append_pair("_count", &page_size.to_string());
    if let Some(since) = since {
        query.append_pair("_lastUpdated", &format!("gt{since}"));
    }
    format!("{base}/{res_type}?{}", query.finish())
}

/// `Bundle.link[next]`, when it stays on the source server.
fn next_link(page: &[u8], base: &str) -> Option<String> {
    let bundle: Value = serde_json::from_slice(page).ok()?;
    let links = bundle.get("link")?.as_array()?;
    let next = links
        .iter()
        .find(|l| l["relation"] == "next")?
        .get("url")?
        .as_str()?;
    next.starts_with(base).then(|| next.to_owned())
}

/// A GET asking for FHIR JSON (Epic answers XML without `Accept`).
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<Vec<u8>, ApiError> {
    let mut request = client.get(url).header("accept", "application/fhir+json");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| source_error(format!("{url}: {e}")))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| source_error(format!("{url}: {e}")))?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|o| o["issue"][0]["diagnostics"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(source_error(format!("{url} answered {status} {detail}")));
    }
    Ok(body.to_vec())
}

/// A failure at the source: 502, naming what was asked.
fn source_error(text: String) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_GATEWAY,
        IssueType::Exception,
        format!("EHR source: {text}"),
    )
}

/// The access token to send, if any.
async fn access_token(
    client: &reqwest::Client,
    base: &str,
    auth: &SourceAuth,
) -> Result<Option<String>, ApiError> {
    match auth {
        SourceAuth::None => Ok(None),
        SourceAuth::Bearer(token) => Ok(Some(token.clone())),
        SourceAuth::Backend {
            client_id,
            key,
            token_url,
            scope,
        } => {
            let token_url = match token_url {
                Some(url) => url.clone(),
                None => {
                    let config = fetch(
                        client,
                        &format!("{base}/.well-known/smart-configuration"),
                        None,
                    )
                    .await?;
                    let config: Value = serde_json::from_slice(&config).unwrap_or_default();
                    config["token_endpoint"]
                        .as_str()
                        .ok_or_else(|| {
                            source_error("its smart-configuration names no token_endpoint".into())
                        })?
                        .to_owned()
                }
            };
            backend_token(client_id, key, &token_url, scope)
                .await
                .map(Some)
        }
    }
}

/// A Backend Services token through the `oauth2` crate. The crate's request future is
/// not `Send` (it holds borrows across awaits in a way the compiler cannot prove
/// thread-safe), so the request runs on a blocking thread that drives the async reqwest
/// call to completion on the runtime.
async fn backend_token(
    client_id: &str,
    key: &SigningKey,
    token_url: &str,
    scope: &str,
) -> Result<String, ApiError> {
    let assertion = smart_auth::client_assertion::sign_assertion(
        key,
        client_id,
        token_url,
        SystemTime::now(),
        &uuid::Uuid::new_v4().to_string(),
    )
    .map_err(ApiError::internal)?;
    let token_uri = oauth2::TokenUrl::new(token_url.to_owned())
        .map_err(|e| source_error(format!("token endpoint {token_url}: {e}")))?;
    let client_id = oauth2::ClientId::new(client_id.to_owned());
    let scope = if scope.is_empty() {
        "system/*.rs"
    } else {
        scope
    }
    .to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(ApiError::internal)?;
    let runtime = tokio::runtime::Handle::current();
    let token_url = token_url.to_owned();
    tokio::task::spawn_blocking(move || {
        use oauth2::TokenResponse;
        let oauth = oauth2::basic::BasicClient::new(client_id)
            .set_auth_type(oauth2::AuthType::RequestBody)
            .set_token_uri(token_uri);
        let mut request = oauth
            .exchange_client_credentials()
            .add_extra_param(
                "client_assertion_type",
                smart_auth::client_assertion::JWT_BEARER,
            )
            .add_extra_param("client_assertion", assertion);
        for s in scope.split_whitespace() {
            request = request.add_scope(oauth2::Scope::new(s.to_owned()));
        }
        let send = |r: oauth2::HttpRequest| runtime.block_on(oauth2_http(&http, r));
        request
            .request(&send)
            .map(|response| response.access_token().secret().clone())
            .map_err(|e| source_error(format!("token request to {token_url}: {}", describe(&e))))
    })
    .await
    .map_err(ApiError::internal)?
}

/// The token endpoint's refusal, as it said it.
fn describe<E: std::error::Error>(
    error: &oauth2::RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> String {
    match error {
        oauth2::RequestTokenError::ServerResponse(r) => format!(
            "{} {}",
            r.error(),
            r.error_description()
                .map(String::as_str)
                .unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

/// `oauth2`'s HTTP client trait over reqwest 0.13 (the crate's own `reqwest` feature is
/// for 0.12; one reqwest in the build).
async fn oauth2_http(
    client: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let response = client.execute(reqwest::Request::try_from(request)?).await?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder
        .body(body)
        .expect("status and headers come from a valid response"))
}

/// When the last sync of `base` for the patient that stored something started: the
/// newest `recorded` of the Provenance it wrote.
async fn last_sync(
    target: &IngestTarget,
    patient_ref: &str,
    base: &str,
) -> Result<Option<String>, ApiError> {
    let pairs = [
        ("agent".to_owned(), patient_ref.to_owned()),
        (
            "entity:identifier".to_owned(),
            format!("{DATA_SOURCE_SYSTEM}|{}", base.replace(',', "\\,")),
        ),
    ];
    let (params, base_url) = (&target.params, &target.base_url);
    let criteria = target.within_reach(
        "Provenance",
        parse_criteria_with(params, "Provenance", &pairs, base_url)?,
    )?;
    let mut query = SearchQuery::matching(criteria, 1);
    query.sort = parse_sort(params, "Provenance", "-recorded")?;
    let page = target.store.search_with("Provenance", &query).await?;
    Ok(page
        .resources
        .first()
        .and_then(|s| s.content.as_deref())
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|p| p["recorded"].as_str().map(str::to_owned)))
}
