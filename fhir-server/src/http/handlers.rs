//! Thin handlers: extract typed inputs, call one `rest`/`store` function, shape the response.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fhir_model::outcome::IssueType;
use serde_json::Value;
use smart_auth::Interaction;

use super::body::{FhirBody, FormBody, PatchBody};
use super::negotiate::{Negotiated, QueryPairs};
use super::respond::{stored_response, value_response, version_headers, write_response};
use crate::AppState;
use crate::auth::access::{Caller, Reach};
use crate::clock;
use crate::error::ApiError;
use crate::rest::bundle::parse_etag;
use crate::rest::criteria::parse_criteria_with;
use crate::rest::history;
use crate::rest::interactions::{self, is_valid_id};
use crate::store::{self, HistoryScope};

/// Checks the type and id path segments (404 for an unknown type, 400 for a bad id).
pub(crate) fn check_path(res_type: &str, id: Option<&str>) -> Result<(), ApiError> {
    if !fhir_model::definitions::is_resource_type(res_type) {
        return Err(ApiError::not_found(format!(
            "Unknown resource type '{res_type}'"
        )));
    }
    if let Some(id) = id
        && !is_valid_id(id)
    {
        return Err(ApiError::bad_request(
            IssueType::Value,
            format!("Invalid resource id '{id}'"),
        ));
    }
    Ok(())
}

/// After a committed write to `res_type`: a SearchParameter changes the custom search
/// parameters, which the next request must see.
async fn after_write(state: &AppState, res_type: &str) {
    if res_type == "SearchParameter" {
        state.search_params.refresh_after_write(&*state.store).await;
    }
}

/// For the versions of one resource (vread, instance history): the caller must be
/// allowed to read the type, and, when its reach is limited, the resource as it is now
/// (deleted ones only with an unlimited reach) must be within it; 404 otherwise.
async fn check_instance_readable(
    state: &AppState,
    caller: &Caller,
    res_type: &str,
    id: &str,
) -> Result<(), ApiError> {
    let params = state.search_params.current();
    caller
        .reach(res_type, Interaction::Read, &params, &state.base_url)?
        .check_readable(&*state.store, res_type, id)
        .await
}

fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(parse_etag)
        .transpose()
}

/// `GET [base]/metadata`
pub async fn metadata(
    State(state): State<AppState>,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    let capability = state.search_params.capability();
    match &state.auth {
        Some(auth) => {
            let mut capability = (*capability).clone();
            crate::auth::endpoints::add_security(&mut capability, auth);
            value_response(StatusCode::OK, &capability, &neg)
        }
        None => value_response(StatusCode::OK, &capability, &neg),
    }
}

/// `GET [base]/[type]/[id]`
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path((res_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    check_path(&res_type, Some(&id))?;
    let params = state.search_params.current();
    // Refused before the store is asked: no answer tells whether it exists.
    let reach = caller.reach(&res_type, Interaction::Read, &params, &state.base_url)?;
    let stored = state.store.read(&res_type, &id).await?;
    if reach != Reach::All && stored.is_some() {
        // Within a limited reach a deleted resource is not known (whose it was is not
        // told either).
        if stored.as_ref().is_some_and(|s| s.is_deleted()) {
            return Err(ApiError::not_found(format!("{res_type}/{id} is not known")));
        }
        reach.check_readable(&*state.store, &res_type, &id).await?;
    }
    let stored = match stored {
        Some(s) if s.is_deleted() => {
            let mut r = ApiError::gone(format!("{res_type}/{id} was deleted")).into_response();
            version_headers(r.headers_mut(), &s);
            return Ok(r);
        }
        Some(s) => s,
        None => return Err(ApiError::not_found(format!("{res_type}/{id} is not known"))),
    };
    if let Some(tag) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && parse_etag(tag).ok() == Some(stored.version)
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        version_headers(r.headers_mut(), &stored);
        return Ok(r);
    }
    if let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        && let Some(since) = clock::parse_http_date(since)
    {
        // HTTP dates have second precision: compare at that precision.
        if stored.last_updated[..19] <= since[..19] {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            version_headers(r.headers_mut(), &stored);
            return Ok(r);
        }
    }
    stored_response(StatusCode::OK, &stored, &neg)
}

/// `GET [base]/[type]/[id]/_history/[vid]`
pub async fn vread(
    State(state): State<AppState>,
    caller: Caller,
    Path((res_type, id, vid)): Path<(String, String, String)>,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    check_path(&res_type, Some(&id))?;
    check_instance_readable(&state, &caller, &res_type, &id).await?;
    let version: i64 = vid.parse().map_err(|_| {
        ApiError::bad_request(IssueType::Value, format!("Invalid version id '{vid}'"))
    })?;
    match state.store.vread(&res_type, &id, version).await? {
        Some(s) if s.is_deleted() => {
            let mut r = ApiError::gone(format!("Version {version} of {res_type}/{id} is a delete"))
                .into_response();
            version_headers(r.headers_mut(), &s);
            Ok(r)
        }
        Some(s) => stored_response(StatusCode::OK, &s, &neg),
        None => Err(ApiError::not_found(format!(
            "{res_type}/{id} has no version {version}"
        ))),
    }
}

/// `POST [base]/[type]` (with optional `If-None-Exist`)
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(res_type): Path<String>,
    headers: HeaderMap,
    neg: Negotiated,
    FhirBody(resource): FhirBody,
) -> Result<Response, ApiError> {
    check_path(&res_type, None)?;
    interactions::check_type(&resource, &res_type)?;
    let params = state.search_params.current();
    let reach = caller.reach(&res_type, Interaction::Create, &params, &state.base_url)?;
    let criteria = match headers.get("if-none-exist").and_then(|v| v.to_str().ok()) {
        Some(q) => {
            let q = q.split_once('?').map_or(q, |(_, q)| q);
            // The condition only sees what the caller may search.
            let search = caller.reach(&res_type, Interaction::Search, &params, &state.base_url)?;
            let mut criteria = parse_criteria_with(
                &params,
                &res_type,
                &crate::rest::criteria::query_pairs(q),
                &state.base_url,
            )?;
            criteria.extend(search.criteria().iter().cloned());
            Some(criteria)
        }
        None => None,
    };
    let outcome = match criteria {
        // Unconditional: prepared here, so the write job only writes.
        None => {
            let id = interactions::new_id();
            let (new, stored) = interactions::prepare_version(
                &res_type,
                &id,
                resource,
                None,
                "POST",
                &clock::now_instant(),
                &params,
            )?;
            store::write(&*state.store, move |tx| {
                Box::pin(async move {
                    tx.write_version(new).await?;
                    reach.require_in(tx, &stored.res_type, &stored.id).await?;
                    Ok(interactions::WriteOutcome {
                        status: StatusCode::CREATED,
                        unchanged: false,
                        stored,
                    })
                })
            })
            .await?
        }
        Some(criteria) => {
            let ty = res_type.clone();
            store::write(&*state.store, move |tx| {
                Box::pin(async move {
                    let now = clock::now_instant();
                    let out = interactions::create(
                        tx,
                        &ty,
                        resource,
                        Some(&criteria),
                        None,
                        &now,
                        &params,
                    )
                    .await?;
                    reach.require_in(tx, &ty, &out.stored.id).await?;
                    Ok(out)
                })
            })
            .await?
        }
    };
    after_write(&state, &res_type).await;
    write_response(outcome.status, &outcome.stored, &neg, &state.base_url)
}

/// `PUT [base]/[type]/[id]`
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((res_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    neg: Negotiated,
    FhirBody(resource): FhirBody,
) -> Result<Response, ApiError> {
    check_path(&res_type, Some(&id))?;
    let if_match = if_match(&headers)?;
    let ty = res_type.clone();
    let params = state.search_params.current();
    let reach = caller.reach(&res_type, Interaction::Update, &params, &state.base_url)?;
    let outcome = store::write(&*state.store, move |tx| {
        Box::pin(async move {
            let now = clock::now_instant();
            reach.require_existing_in(tx, &ty, &id).await?;
            let out = interactions::update(tx, &ty, &id, resource, if_match, &now, &params).await?;
            reach.require_in(tx, &ty, &id).await?;
            Ok(out)
        })
    })
    .await?;
    after_write(&state, &res_type).await;
    write_response(outcome.status, &outcome.stored, &neg, &state.base_url)
}

/// `PUT [base]/[type]?criteria`
pub async fn conditional_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(res_type): Path<String>,
    QueryPairs(query): QueryPairs,
    headers: HeaderMap,
    neg: Negotiated,
    FhirBody(resource): FhirBody,
) -> Result<Response, ApiError> {
    check_path(&res_type, None)?;
    let params = state.search_params.current();
    let reach = caller.reach(&res_type, Interaction::Update, &params, &state.base_url)?;
    let mut criteria = conditional_criteria(&params, &res_type, &query, &state.base_url)?;
    // The condition only matches what the caller may change.
    criteria.extend(reach.criteria().iter().cloned());
    let if_match = if_match(&headers)?;
    let ty = res_type.clone();
    let outcome = store::write(&*state.store, move |tx| {
        Box::pin(async move {
            let now = clock::now_instant();
            let out = interactions::conditional_update(
                tx, &ty, &criteria, resource, if_match, &now, &params,
            )
            .await?;
            reach.require_in(tx, &ty, &out.stored.id).await?;
            Ok(out)
        })
    })
    .await?;
    after_write(&state, &res_type).await;
    write_response(outcome.status, &outcome.stored, &neg, &state.base_url)
}

fn conditional_criteria(
    params: &fhir_model::custom_params::CustomSearchParams,
    res_type: &str,
    query: &[(String, String)],
    base_url: &str,
) -> Result<Vec<store::Criterion>, ApiError> {
    let criteria = parse_criteria_with(params, res_type, query, base_url)?;
    if criteria.is_empty() {
        return Err(ApiError::bad_request(
            IssueType::Required,
            "A conditional interaction needs search criteria in the URL",
        ));
    }
    Ok(criteria)
}

/// `DELETE [base]/[type]/[id]`
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((res_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_path(&res_type, Some(&id))?;
    let if_match = if_match(&headers)?;
    let ty = res_type.clone();
    let params = state.search_params.current();
    let reach = caller.reach(&res_type, Interaction::Delete, &params, &state.base_url)?;
    let outcome = store::write(&*state.store, move |tx| {
        Box::pin(async move {
            let now = clock::now_instant();
            reach.require_existing_in(tx, &ty, &id).await?;
            interactions::delete(tx, &ty, &id, if_match, &now).await
        })
    })
    .await?;
    after_write(&state, &res_type).await;
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Some(w) = outcome {
        version_headers(r.headers_mut(), &w.stored);
    }
    Ok(r)
}

/// `DELETE [base]/[type]?criteria`
pub async fn conditional_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(res_type): Path<String>,
    QueryPairs(query): QueryPairs,
) -> Result<Response, ApiError> {
    check_path(&res_type, None)?;
    let params = state.search_params.current();
    let reach = caller.reach(&res_type, Interaction::Delete, &params, &state.base_url)?;
    let mut criteria = conditional_criteria(&params, &res_type, &query, &state.base_url)?;
    // The condition only matches what the caller may delete.
    criteria.extend(reach.criteria().iter().cloned());
    let ty = res_type.clone();
    let outcome = store::write(&*state.store, move |tx| {
        Box::pin(async move {
            let now = clock::now_instant();
            interactions::conditional_delete(tx, &ty, &criteria, &now).await
        })
    })
    .await?;
    after_write(&state, &res_type).await;
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Some(w) = outcome {
        version_headers(r.headers_mut(), &w.stored);
    }
    Ok(r)
}

/// `PATCH [base]/[type]/[id]`
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((res_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    neg: Negotiated,
    PatchBody(patch): PatchBody,
) -> Result<Response, ApiError> {
    check_path(&res_type, Some(&id))?;
    let if_match = if_match(&headers)?;
    let ty = res_type.clone();
    let params = state.search_params.current();
    let reach = caller.reach(&res_type, Interaction::Update, &params, &state.base_url)?;
    let outcome = store::write(&*state.store, move |tx| {
        Box::pin(async move {
            let now = clock::now_instant();
            reach.require_existing_in(tx, &ty, &id).await?;
            let out = interactions::patch(tx, &ty, &id, &patch, if_match, &now, &params).await?;
            reach.require_in(tx, &ty, &id).await?;
            Ok(out)
        })
    })
    .await?;
    after_write(&state, &res_type).await;
    write_response(outcome.status, &outcome.stored, &neg, &state.base_url)
}

/// `POST [base]`: a batch or transaction Bundle.
pub async fn bundle(
    State(state): State<AppState>,
    caller: Caller,
    neg: Negotiated,
    FhirBody(bundle): FhirBody,
) -> Result<Response, ApiError> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(ApiError::bad_request(
            IssueType::Invalid,
            "POST to the base takes a Bundle",
        ));
    }
    let representation = neg.prefer == super::negotiate::Return::Representation
        && neg.elements.is_none()
        && neg.summary.is_none();
    let touches_search_parameters =
        crate::rest::bundle::touches_type(&bundle, "SearchParameter", &state.base_url);
    let params = state.search_params.current();
    let response = crate::rest::bundle::process(
        &*state.store,
        &caller,
        bundle,
        &state.base_url,
        representation,
        &params,
    )
    .await;
    if touches_search_parameters {
        // A batch may have written some entries even when others failed.
        after_write(&state, "SearchParameter").await;
    }
    value_response(StatusCode::OK, &response?, &neg)
}

/// `POST [base]/$reindex`: re-indexes every current resource (`rest::reindex`).
pub async fn reindex_system(
    State(state): State<AppState>,
    caller: Caller,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    let params = state.search_params.current();
    for t in fhir_model::definitions::resource_types() {
        caller.require_all(t, Interaction::Update, &params, &state.base_url)?;
    }
    let result = crate::rest::reindex::reindex(&state, None).await?;
    value_response(StatusCode::OK, &result, &neg)
}

/// `POST [base]/[type]/$reindex`: re-indexes every current resource of the type.
pub async fn reindex_type(
    State(state): State<AppState>,
    caller: Caller,
    Path(res_type): Path<String>,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    check_path(&res_type, None)?;
    let params = state.search_params.current();
    caller.require_all(&res_type, Interaction::Update, &params, &state.base_url)?;
    let result = crate::rest::reindex::reindex(&state, Some(&res_type)).await?;
    value_response(StatusCode::OK, &result, &neg)
}

/// `GET [base]/[type]?…`: search (`rest::search`).
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Path(res_type): Path<String>,
    QueryPairs(query): QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_path(&res_type, None)?;
    crate::rest::search::respond(&state, &caller, Some(&res_type), &query, &headers).await
}

/// `POST [base]/[type]/_search`: search with the parameters of the form body
/// (`application/x-www-form-urlencoded`) and of the URL together.
pub async fn search_post(
    State(state): State<AppState>,
    caller: Caller,
    Path(res_type): Path<String>,
    QueryPairs(mut query): QueryPairs,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Result<Response, ApiError> {
    check_path(&res_type, None)?;
    query.extend(form);
    crate::rest::search::respond(&state, &caller, Some(&res_type), &query, &headers).await
}

/// `GET [base]/Observation/$lastn?…` (`rest::lastn`).
pub async fn lastn(
    State(state): State<AppState>,
    caller: Caller,
    QueryPairs(query): QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::rest::lastn::respond(&state, &caller, &query, &headers).await
}

/// `POST [base]/Observation/$lastn`: with the parameters of the form body
/// (`application/x-www-form-urlencoded`) and of the URL together, as `_search`.
pub async fn lastn_post(
    State(state): State<AppState>,
    caller: Caller,
    QueryPairs(mut query): QueryPairs,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Result<Response, ApiError> {
    query.extend(form);
    crate::rest::lastn::respond(&state, &caller, &query, &headers).await
}

/// `GET [base]/Patient/[id]/$everything` (`rest::search::everything`).
pub async fn everything(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryPairs(query): QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_path("Patient", Some(&id))?;
    crate::rest::search::everything(&state, &caller, &id, &query, &headers).await
}

/// `GET [base]?…`: a system-level search, over the types `_type` lists or all.
pub async fn search_system(
    State(state): State<AppState>,
    caller: Caller,
    QueryPairs(query): QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::rest::search::respond(&state, &caller, None, &query, &headers).await
}

/// `POST [base]/_search`: a system-level search with the parameters of the form body
/// and of the URL together.
pub async fn search_system_post(
    State(state): State<AppState>,
    caller: Caller,
    QueryPairs(mut query): QueryPairs,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Result<Response, ApiError> {
    query.extend(form);
    crate::rest::search::respond(&state, &caller, None, &query, &headers).await
}

/// `GET [base]/_history`
pub async fn history_system(
    State(state): State<AppState>,
    caller: Caller,
    QueryPairs(query): QueryPairs,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    let params = state.search_params.current();
    for t in fhir_model::definitions::resource_types() {
        caller.require_all(t, Interaction::Read, &params, &state.base_url)?;
    }
    history::respond(&state, HistoryScope::System, &query, &neg).await
}

/// `GET [base]/[type]/_history`
pub async fn history_type(
    State(state): State<AppState>,
    caller: Caller,
    Path(res_type): Path<String>,
    QueryPairs(query): QueryPairs,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    check_path(&res_type, None)?;
    let params = state.search_params.current();
    caller.require_all(&res_type, Interaction::Read, &params, &state.base_url)?;
    history::respond(&state, HistoryScope::Type(res_type), &query, &neg).await
}

/// `GET [base]/[type]/[id]/_history`
pub async fn history_instance(
    State(state): State<AppState>,
    caller: Caller,
    Path((res_type, id)): Path<(String, String)>,
    QueryPairs(query): QueryPairs,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    check_path(&res_type, Some(&id))?;
    check_instance_readable(&state, &caller, &res_type, &id).await?;
    if state.store.read(&res_type, &id).await?.is_none() {
        return Err(ApiError::not_found(format!("{res_type}/{id} is not known")));
    }
    history::respond(&state, HistoryScope::Instance(res_type, id), &query, &neg).await
}
