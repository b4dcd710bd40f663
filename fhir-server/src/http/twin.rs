//! The digital twin's operations (see `crate::twin`):
//!
//! * `GET [base]/Patient/[id]/$twin`: the current baselines, active Flags and their
//!   DetectedIssues, as a searchset Bundle;
//! * `POST [base]/Patient/[id]/$twin-rebuild`: recompute now (idempotent), then answer as
//!   `$twin`;
//! * `POST [base]/Flag/[id]/$acknowledge`: the person saw the alert; the Flag becomes
//!   inactive and stays so.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use smart_auth::Interaction;

use super::handlers::check_path;
use super::negotiate::Negotiated;
use super::respond::value_response;
use crate::AppState;
use crate::auth::access::Caller;
use crate::clock;
use crate::error::ApiError;
use crate::ingest::IngestTarget;

/// `GET Patient/[id]/$twin`.
pub async fn twin(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    check_path("Patient", Some(&id))?;
    let bundle = crate::twin::twin_bundle(&IngestTarget::of(&state, caller), &id).await?;
    value_response(StatusCode::OK, &bundle, &neg)
}

/// `POST Patient/[id]/$twin-rebuild`: the caller must be allowed to write the patient's
/// Observations and Flags (what the rebuild writes).
pub async fn twin_rebuild(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    check_path("Patient", Some(&id))?;
    let params = state.search_params.current();
    for res_type in ["Observation", "Flag", "DetectedIssue"] {
        caller.reach(res_type, Interaction::Update, &params, &state.base_url)?;
    }
    match state.store.read("Patient", &id).await? {
        Some(p) if !p.is_deleted() => {}
        _ => return Err(ApiError::not_found(format!("Patient/{id} does not exist"))),
    }
    crate::twin::recompute(
        Arc::clone(&state.store),
        Arc::clone(&params),
        &state.base_url,
        &id,
        &clock::now_instant(),
    )
    .await?;
    let bundle = crate::twin::twin_bundle(&IngestTarget::of(&state, caller), &id).await?;
    value_response(StatusCode::OK, &bundle, &neg)
}

/// `POST Flag/[id]/$acknowledge`: writes the acknowledged Flag as an update, with the
/// caller's rights (a transaction of one PUT), and answers with it.
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    check_path("Flag", Some(&id))?;
    let params = state.search_params.current();
    let reach = caller.reach("Flag", Interaction::Read, &params, &state.base_url)?;
    let stored = match state.store.read("Flag", &id).await? {
        Some(s) if !s.is_deleted() => s,
        _ => return Err(ApiError::not_found(format!("Flag/{id} does not exist"))),
    };
    reach.check_readable(&*state.store, "Flag", &id).await?;
    let flag: Value = serde_json::from_str(stored.content.as_deref().unwrap_or("{}"))
        .map_err(ApiError::internal)?;
    let acknowledged = crate::twin::acknowledged_flag(&flag, &clock::now_instant());
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": acknowledged, "request": {"method": "PUT", "url": format!("Flag/{id}")}}
    ]});
    let response = crate::rest::bundle::process(
        &*state.store,
        &caller,
        bundle,
        &state.base_url,
        true,
        &params,
    )
    .await?;
    let written = response["entry"][0]["resource"].clone();
    value_response(StatusCode::OK, &written, &neg)
}
