//! The FHIR write interactions (create, update, delete, patch and their conditional forms),
//! each a function over a [`WriteTx`], so a single request and a transaction Bundle entry
//! run exactly the same logic.
//!
//! Each takes the server's custom search parameters as the request found them: index
//! values are extracted with them (new data is searchable by a custom parameter at once),
//! and a SearchParameter that could not be used as one is refused here, on every write
//! path, with a 400 that gives the reason and the element path.

use axum::http::StatusCode;
use fhir_model::custom_params::CustomSearchParams;
use fhir_model::index::IndexEntry;
use fhir_model::outcome::IssueType;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::store::{Criterion, NewVersion, StoredResource, WriteTx};

/// What a write did.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    /// 201 for a new resource, 200 for a new version or a conditional create that
    /// matched, 204 for a delete.
    pub status: StatusCode,
    /// The version written (or found, for a matched conditional create).
    pub stored: StoredResource,
    /// An update whose content equals the current version's: nothing was written and
    /// `stored` is the current version (see [`update`]).
    pub unchanged: bool,
}

/// A patch document.
#[derive(Debug, Clone)]
pub enum Patch {
    /// RFC 6902 JSON Patch (`application/json-patch+json`).
    Json(Value),
    /// FHIRPath Patch (a Parameters resource).
    FhirPath(Value),
}

/// A new server-assigned logical id: a UUID v7, whose leading bits are the time, so new
/// ids land at the end of the `(res_type, res_id)` index instead of on random pages (at
/// import rates that halves the pages each commit writes). The time it reveals is the
/// resource's `meta.lastUpdated`, which is public anyway.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// 412 for an `If-Match` that names another version than the current one.
fn version_mismatch(expected: i64, current: i64) -> ApiError {
    ApiError::precondition_failed(
        IssueType::Conflict,
        format!("If-Match names version {expected} but the current version is {current}"),
    )
}

/// Checks that a body is a resource of the type the URL names.
pub fn check_type(resource: &Value, res_type: &str) -> Result<(), ApiError> {
    match resource.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == res_type => Ok(()),
        Some(t) => Err(ApiError::bad_request(
            IssueType::Invalid,
            format!("Resource type '{t}' in the body does not match '{res_type}' in the URL"),
        )
        .at(format!("{t}.resourceType"))),
        None => Err(ApiError::bad_request(
            IssueType::Required,
            "The body has no resourceType",
        )),
    }
}

/// Whether `id` is a valid FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Sets `id`, `meta.versionId` and `meta.lastUpdated`, placing `resourceType`, `id` and
/// `meta` first and keeping every other element (and the rest of `meta`) in order.
pub fn stamp(resource: &mut Value, id: &str, version: i64, last_updated: &str) {
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    let mut meta = match obj.shift_remove("meta") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.shift_remove("versionId");
    meta.shift_remove("lastUpdated");
    let mut new_meta = Map::with_capacity(meta.len() + 2);
    new_meta.insert("versionId".into(), Value::String(version.to_string()));
    new_meta.insert("lastUpdated".into(), Value::String(last_updated.to_owned()));
    new_meta.extend(meta);
    let res_type = obj.shift_remove("resourceType").unwrap_or(Value::Null);
    obj.shift_remove("id");
    let rest = std::mem::take(obj);
    obj.insert("resourceType".into(), res_type);
    obj.insert("id".into(), Value::String(id.to_owned()));
    obj.insert("meta".into(), Value::Object(new_meta));
    obj.extend(rest);
}

/// The index rows of a resource: the values of its official and custom search
/// parameters, without `_id` and `_lastUpdated` (columns of `resource` already).
pub fn index_values(resource: &Value, params: &CustomSearchParams) -> Vec<IndexEntry> {
    let mut index = fhir_model::index::extract_index_values_with(resource, params);
    index.retain(|e| e.param != "_id" && e.param != "_lastUpdated");
    index
}

/// Refuses a SearchParameter this server could not use as a search parameter (400 with
/// the reason and the element path); other resources pass.
pub fn check_search_parameter(
    res_type: &str,
    id: &str,
    resource: &Value,
    params: &CustomSearchParams,
) -> Result<(), ApiError> {
    if res_type != "SearchParameter" {
        return Ok(());
    }
    params.check(id, resource).map_err(|r| {
        ApiError::bad_request(
            r.code,
            format!("This SearchParameter cannot be used: {}", r.reason),
        )
        .at(r.path)
    })
}

/// Whether stored JSON `text` has the same content as `resource`, ignoring the
/// server-managed `meta.versionId` and `meta.lastUpdated` (and `id`, which the caller
/// checked already). Object member order does not matter; decimals compare as written.
pub fn same_content(text: &str, resource: &Value) -> bool {
    let Ok(mut stored) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let mut incoming = resource.clone();
    for v in [&mut stored, &mut incoming] {
        if let Some(obj) = v.as_object_mut() {
            obj.shift_remove("id");
            if let Some(Value::Object(meta)) = obj.get_mut("meta") {
                meta.shift_remove("versionId");
                meta.shift_remove("lastUpdated");
                if meta.is_empty() {
                    obj.shift_remove("meta");
                }
            }
        }
    }
    stored == incoming
}

/// Stamps `resource` as version `existing + 1` of `res_type/id`, extracts its index values
/// (official and custom parameters of `params`) and serializes it: everything a write
/// needs, computed without the database (so it can run before a write job, off the
/// single SQLite writer). A SearchParameter that cannot be used is refused.
pub fn prepare_version(
    res_type: &str,
    id: &str,
    mut resource: Value,
    existing: Option<(i64, i64)>,
    method: &'static str,
    now: &str,
    params: &CustomSearchParams,
) -> Result<(NewVersion, StoredResource), ApiError> {
    check_search_parameter(res_type, id, &resource, params)?;
    let version = existing.map_or(1, |(_, v)| v + 1);
    stamp(&mut resource, id, version, now);
    let index = index_values(&resource, params);
    let content = String::from_utf8(fhir_model::format::to_json(&resource, false))
        .map_err(ApiError::internal)?;
    let stored = StoredResource {
        res_type: res_type.to_owned(),
        id: id.to_owned(),
        version,
        last_updated: now.to_owned(),
        method: method.to_owned(),
        content: Some(content.clone()),
    };
    let new = NewVersion {
        res_type: res_type.to_owned(),
        id: id.to_owned(),
        version,
        existing_pk: existing.map(|(pk, _)| pk),
        last_updated: now.to_owned(),
        method,
        content: Some(content),
        index,
    };
    Ok((new, stored))
}

/// Writes `resource` as the next version of `res_type/id`.
async fn put_version(
    tx: &mut dyn WriteTx,
    res_type: &str,
    id: &str,
    resource: Value,
    existing: Option<(i64, i64)>,
    method: &'static str,
    now: &str,
    params: &CustomSearchParams,
) -> Result<StoredResource, ApiError> {
    let (new, stored) = prepare_version(res_type, id, resource, existing, method, now, params)?;
    tx.write_version(new).await?;
    Ok(stored)
}

/// `POST [type]`, with an optional `If-None-Exist` condition. The server assigns the id
/// (any id in the body is ignored, as http.html says), unless `assigned_id` is given
/// (a transaction resolves ids before it writes).
pub async fn create(
    tx: &mut dyn WriteTx,
    res_type: &str,
    resource: Value,
    if_none_exist: Option<&[Criterion]>,
    assigned_id: Option<&str>,
    now: &str,
    params: &CustomSearchParams,
) -> Result<WriteOutcome, ApiError> {
    check_type(&resource, res_type)?;
    if let Some(criteria) = if_none_exist {
        let found = tx.find(res_type, criteria).await?;
        match found.len() {
            0 => {}
            1 => {
                let stored = tx.read(res_type, &found[0]).await?.ok_or_else(|| {
                    ApiError::internal("a matched resource disappeared inside its transaction")
                })?;
                return Ok(WriteOutcome {
                    status: StatusCode::OK,
                    unchanged: false,
                    stored,
                });
            }
            n => {
                return Err(ApiError::precondition_failed(
                    IssueType::MultipleMatches,
                    format!("If-None-Exist matched {n} resources; it must match at most one"),
                ));
            }
        }
    }
    let id = assigned_id.map_or_else(new_id, str::to_owned);
    let stored = put_version(tx, res_type, &id, resource, None, "POST", now, params).await?;
    Ok(WriteOutcome {
        status: StatusCode::CREATED,
        unchanged: false,
        stored,
    })
}

/// `PUT [type]/[id]`: a new version, or create-on-update with the client's id.
/// `if_match` is the version the client last saw (`If-Match: W/"n"`).
///
/// An update whose content equals the current version (everything but
/// `meta.versionId` and `meta.lastUpdated`) writes nothing and answers with the current
/// version, as HAPI FHIR does: re-sending the same data (a re-import, a retried sync)
/// must not grow the history.
pub async fn update(
    tx: &mut dyn WriteTx,
    res_type: &str,
    id: &str,
    resource: Value,
    if_match: Option<i64>,
    now: &str,
    params: &CustomSearchParams,
) -> Result<WriteOutcome, ApiError> {
    check_type(&resource, res_type)?;
    match resource.get("id").and_then(Value::as_str) {
        Some(body_id) if body_id == id => {}
        Some(body_id) => {
            return Err(ApiError::bad_request(
                IssueType::Invalid,
                format!("The id '{body_id}' in the body does not match the id '{id}' in the URL"),
            )
            .at(format!("{res_type}.id")));
        }
        None => {
            return Err(ApiError::bad_request(
                IssueType::Required,
                "An update must carry the resource id in the body",
            )
            .at(format!("{res_type}.id")));
        }
    }
    let current = tx.current(res_type, id).await?;
    if let Some(expected) = if_match {
        match &current {
            Some(c) if c.version == expected && !c.deleted => {}
            Some(c) => {
                return Err(version_mismatch(expected, c.version));
            }
            None => {
                return Err(ApiError::precondition_failed(
                    IssueType::Conflict,
                    format!("If-Match names version {expected} but {res_type}/{id} does not exist"),
                ));
            }
        }
    }
    if let Some(c) = current.as_ref().filter(|c| !c.deleted)
        && let Some(stored) = tx.read(res_type, id).await?
        && stored
            .content
            .as_deref()
            .is_some_and(|text| same_content(text, &resource))
    {
        debug_assert_eq!(stored.version, c.version);
        return Ok(WriteOutcome {
            status: StatusCode::OK,
            stored,
            unchanged: true,
        });
    }
    let existing = current.as_ref().map(|c| (c.pk, c.version));
    let status = match &current {
        Some(c) if !c.deleted => StatusCode::OK,
        _ => StatusCode::CREATED,
    };
    let stored = put_version(tx, res_type, id, resource, existing, "PUT", now, params).await?;
    Ok(WriteOutcome {
        status,
        stored,
        unchanged: false,
    })
}

/// `PUT [type]?criteria`: update the one match, or create when there is none.
pub async fn conditional_update(
    tx: &mut dyn WriteTx,
    res_type: &str,
    criteria: &[Criterion],
    resource: Value,
    if_match: Option<i64>,
    now: &str,
    params: &CustomSearchParams,
) -> Result<WriteOutcome, ApiError> {
    check_type(&resource, res_type)?;
    let found = tx.find(res_type, criteria).await?;
    let body_id = resource
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match found.len() {
        0 => match body_id {
            Some(id) => update(tx, res_type, &id, resource, if_match, now, params).await,
            None => create(tx, res_type, resource, None, None, now, params).await,
        },
        1 => {
            let id = &found[0];
            if body_id.as_deref().is_some_and(|b| b != id) {
                return Err(ApiError::bad_request(
                    IssueType::Invalid,
                    "The id in the body does not match the resource the condition found",
                )
                .at(format!("{res_type}.id")));
            }
            let mut resource = resource;
            resource["id"] = Value::String(id.clone());
            update(tx, res_type, id, resource, if_match, now, params).await
        }
        n => Err(ApiError::precondition_failed(
            IssueType::MultipleMatches,
            format!("The condition matched {n} resources; a conditional update needs at most one"),
        )),
    }
}

/// `DELETE [type]/[id]`. Deleting a deleted resource, or one that never existed,
/// succeeds without a new version (`None`): http.html says so for both.
pub async fn delete(
    tx: &mut dyn WriteTx,
    res_type: &str,
    id: &str,
    if_match: Option<i64>,
    now: &str,
) -> Result<Option<WriteOutcome>, ApiError> {
    let Some(current) = tx.current(res_type, id).await? else {
        if let Some(expected) = if_match {
            return Err(ApiError::precondition_failed(
                IssueType::Conflict,
                format!("If-Match names version {expected} but {res_type}/{id} does not exist"),
            ));
        }
        return Ok(None);
    };
    if let Some(expected) = if_match
        && current.version != expected
    {
        return Err(version_mismatch(expected, current.version));
    }
    if current.deleted {
        return Ok(None);
    }
    let version = current.version + 1;
    tx.write_version(NewVersion {
        res_type: res_type.to_owned(),
        id: id.to_owned(),
        version,
        existing_pk: Some(current.pk),
        last_updated: now.to_owned(),
        method: "DELETE",
        content: None,
        index: Vec::new(),
    })
    .await?;
    Ok(Some(WriteOutcome {
        status: StatusCode::NO_CONTENT,
        unchanged: false,
        stored: StoredResource {
            res_type: res_type.to_owned(),
            id: id.to_owned(),
            version,
            last_updated: now.to_owned(),
            method: "DELETE".into(),
            content: None,
        },
    }))
}

/// `DELETE [type]?criteria`: deletes the one match; no match is a success with nothing to
/// do (`None`); several matches are refused (412), as the spec allows.
pub async fn conditional_delete(
    tx: &mut dyn WriteTx,
    res_type: &str,
    criteria: &[Criterion],
    now: &str,
) -> Result<Option<WriteOutcome>, ApiError> {
    let found = tx.find(res_type, criteria).await?;
    match found.len() {
        0 => Ok(None),
        1 => delete(tx, res_type, &found[0], None, now).await,
        n => Err(ApiError::precondition_failed(
            IssueType::MultipleMatches,
            format!(
                "The condition matched {n} resources; a conditional delete deletes at most one"
            ),
        )),
    }
}

/// `PATCH [type]/[id]` with JSON Patch or FHIRPath Patch. The patched resource is
/// validated like any update and must keep its type and id.
pub async fn patch(
    tx: &mut dyn WriteTx,
    res_type: &str,
    id: &str,
    patch: &Patch,
    if_match: Option<i64>,
    now: &str,
    params: &CustomSearchParams,
) -> Result<WriteOutcome, ApiError> {
    // Lock first (PostgreSQL), then read, so no write can slip in between.
    let state = tx.current(res_type, id).await?;
    let current = match tx.read(res_type, id).await? {
        Some(c) if !c.is_deleted() => c,
        Some(_) => return Err(ApiError::gone(format!("{res_type}/{id} was deleted"))),
        None => return Err(ApiError::not_found(format!("{res_type}/{id} is not known"))),
    };
    if let Some(expected) = if_match
        && current.version != expected
    {
        return Err(version_mismatch(expected, current.version));
    }
    let mut resource: Value = serde_json::from_str(current.content.as_deref().unwrap_or("{}"))
        .map_err(ApiError::internal)?;
    match patch {
        Patch::Json(ops) => fhir_model::patch::apply_json_patch(&mut resource, ops)?,
        Patch::FhirPath(params) => fhir_model::patch::apply_fhirpath_patch(&mut resource, params)?,
    }
    fhir_model::validate::validate(&mut resource, fhir_model::validate::ParseMode::Strict)?;
    check_type(&resource, res_type)?;
    if resource.get("id").and_then(Value::as_str) != Some(id) {
        return Err(ApiError::bad_request(
            IssueType::Invalid,
            "A patch may not change the resource id",
        )
        .at(format!("{res_type}.id")));
    }
    let cur = state.ok_or_else(|| ApiError::internal("missing current state"))?;
    let stored = put_version(
        tx,
        res_type,
        id,
        resource,
        Some((cur.pk, cur.version)),
        "PATCH",
        now,
        params,
    )
    .await?;
    Ok(WriteOutcome {
        status: StatusCode::OK,
        unchanged: false,
        stored,
    })
}
