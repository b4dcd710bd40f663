//! The import operations. Both answer with an OperationOutcome carrying the counts
//! (created, updated, unchanged, skipped, rejected) and the reasons for skipped and
//! rejected records.
//!
//! * `POST [base]/Patient/[id]/$import-wearable?source=…`: a wearable export uploaded as
//!   the request body (any media type: the file is recognised by its content), streamed
//!   to a temporary file (up to `--max-import-bytes`), never held in memory, then
//!   imported by `ingest::wearable`.
//! * `POST [base]/Patient/[id]/$sync-ehr` with a Parameters body: `source` (the EHR's
//!   FHIR base URL), `sourcePatient` (the patient's id there), `vendor` (`epic` or
//!   `cerner`), optionally `since` (an instant; default: the last sync), `token` (a bearer
//!   token for the source), `type` (repeated; default `ingest::ehr::DEFAULT_TYPES`) and
//!   `pageSize`. Backend Services credentials are the command line's (`fhir-server
//!   sync`): a client's private key does not travel in requests.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use fhir_model::outcome::IssueType;
use futures::StreamExt;
use mappers::wearable::Source;
use tokio::io::AsyncWriteExt;

use super::body::FhirBody;
use super::handlers::check_path;
use super::negotiate::{Negotiated, QueryPairs};
use super::respond::value_response;
use crate::AppState;
use crate::auth::access::Caller;
use crate::clock;
use crate::error::ApiError;
use crate::ingest::ehr::{self, SourceAuth, SyncRequest};
use crate::ingest::{IngestTarget, wearable};

/// The operation's handler.
pub async fn import_wearable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryPairs(query): QueryPairs,
    neg: Negotiated,
    body: Body,
) -> Result<Response, ApiError> {
    check_path("Patient", Some(&id))?;
    let source = source_param(&query)?;
    let file = spool(body, state.config.max_import_bytes).await?;
    let target = IngestTarget::of(&state, caller);
    let summary = wearable::import(
        &target,
        &id,
        source,
        file.path(),
        &clock::now_instant(),
        Arc::new(AtomicU64::new(0)),
    )
    .await?;
    queue_twin(&state, &id).await?;
    let outcome = summary.to_outcome(&format!("{} import for Patient/{id}", source.display()));
    value_response(StatusCode::OK, &outcome, &neg)
}

/// The `$sync-ehr` handler.
pub async fn sync_ehr(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    neg: Negotiated,
    FhirBody(parameters): FhirBody,
) -> Result<Response, ApiError> {
    check_path("Patient", Some(&id))?;
    let request = sync_request(&id, &parameters)?;
    let target = IngestTarget::of(&state, caller);
    let summary = ehr::sync(&target, &request, &clock::now_instant(), Arc::default()).await?;
    queue_twin(&state, &id).await?;
    let outcome = summary.to_outcome(&format!(
        "EHR sync from {} for Patient/{id}",
        request.base_url
    ));
    value_response(StatusCode::OK, &outcome, &neg)
}

/// Queues the patient's twin for recomputation (the import committed) and wakes the
/// worker.
async fn queue_twin(state: &AppState, patient_id: &str) -> Result<(), ApiError> {
    crate::twin::jobs::enqueue(&*state.store, patient_id).await?;
    state.twin_wake.notify_one();
    Ok(())
}

/// Reads the `$sync-ehr` Parameters.
fn sync_request(patient_id: &str, parameters: &serde_json::Value) -> Result<SyncRequest, ApiError> {
    if parameters["resourceType"] != "Parameters" {
        return Err(ApiError::bad_request(
            IssueType::Invalid,
            "$sync-ehr takes a Parameters resource",
        ));
    }
    let values = |name: &str| -> Vec<String> {
        parameters["parameter"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == name)
            .filter_map(|p| {
                p.as_object()?
                    .iter()
                    .find(|(k, _)| k.starts_with("value"))
                    .map(|(_, v)| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
            })
            .collect()
    };
    let one = |name: &str| values(name).into_iter().next();
    let required = |name: &str| {
        one(name).ok_or_else(|| {
            ApiError::bad_request(
                IssueType::Required,
                format!("$sync-ehr needs the parameter '{name}'"),
            )
            .at(format!("Parameters.parameter.where(name = '{name}')"))
        })
    };
    let vendor = match required("vendor")?.as_str() {
        "epic" => mappers::ehr::Vendor::Epic,
        "cerner" => mappers::ehr::Vendor::Cerner,
        other => {
            return Err(ApiError::bad_request(
                IssueType::Value,
                format!("Unknown vendor '{other}': expected epic or cerner"),
            ));
        }
    };
    let types = values("type");
    let page_size = match one("pageSize") {
        Some(text) => text.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::bad_request(IssueType::Value, "pageSize must be a positive integer")
        })?,
        None => ehr::PAGE_SIZE,
    };
    Ok(SyncRequest {
        base_url: required("source")?,
        vendor,
        source_patient: required("sourcePatient")?,
        patient_id: patient_id.to_owned(),
        since: one("since"),
        auth: one("token").map_or(SourceAuth::None, SourceAuth::Bearer),
        types: if types.is_empty() {
            ehr::DEFAULT_TYPES.iter().map(|t| (*t).to_owned()).collect()
        } else {
            types
        },
        page_size,
    })
}

/// The `source` parameter: one of the codes of [`Source`].
fn source_param(query: &[(String, String)]) -> Result<Source, ApiError> {
    let codes = || {
        Source::ALL
            .iter()
            .map(|s| s.code())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let value = query
        .iter()
        .find(|(k, _)| k == "source")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| {
            ApiError::bad_request(
                IssueType::Required,
                format!(
                    "$import-wearable needs a source parameter: one of {}",
                    codes()
                ),
            )
        })?;
    Source::from_code(value).ok_or_else(|| {
        ApiError::bad_request(
            IssueType::Value,
            format!("Unknown source '{value}': expected one of {}", codes()),
        )
    })
}

/// Streams the body into a temporary file, refusing (413) more than `limit` bytes.
async fn spool(body: Body, limit: u64) -> Result<tempfile::NamedTempFile, ApiError> {
    let file = tempfile::NamedTempFile::new().map_err(ApiError::internal)?;
    let mut out = tokio::fs::File::from_std(file.reopen().map_err(ApiError::internal)?);
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(IssueType::Structure, format!("reading the upload: {e}"))
        })?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                IssueType::TooLong,
                format!("The upload exceeds the import limit of {limit} bytes"),
            ));
        }
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    out.flush().await.map_err(ApiError::internal)?;
    if written == 0 {
        return Err(ApiError::bad_request(
            IssueType::Required,
            "$import-wearable needs the export file as the request body",
        ));
    }
    Ok(file)
}
