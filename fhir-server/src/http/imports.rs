//! `POST [base]/Patient/[id]/$import-wearable?source=…`: a wearable export uploaded as
//! the request body (any media type: the file is recognised by its content).
//!
//! The body is streamed to a temporary file (up to `--max-import-bytes`), never held in
//! memory, then imported by `ingest::wearable`. The answer is an OperationOutcome with
//! the counts (created, updated, unchanged, skipped, rejected) and the reasons for
//! skipped records.

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

use super::negotiate::{Negotiated, QueryPairs};
use super::respond::value_response;
use crate::AppState;
use crate::auth::access::Caller;
use crate::clock;
use crate::error::ApiError;
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
    if !crate::rest::interactions::is_valid_id(&id) {
        return Err(ApiError::not_found(format!("'{id}' is not a valid id")));
    }
    let source = source_param(&query)?;
    let file = spool(body, state.config.max_import_bytes).await?;
    let target = IngestTarget {
        store: Arc::clone(&state.store),
        params: state.search_params.current(),
        base_url: state.base_url.to_string(),
        caller,
    };
    let summary = wearable::import(
        &target,
        &id,
        source,
        file.path(),
        &clock::now_instant(),
        Arc::new(AtomicU64::new(0)),
    )
    .await?;
    let outcome = summary.to_outcome(&format!("{} import for Patient/{id}", source.display()));
    value_response(StatusCode::OK, &outcome, &neg)
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
