//! `batch` and `transaction` Bundles (POST to the base), per R4 http.html#transaction.
//!
//! A transaction is one write job: all of it commits or none of it does. Its entries are
//! processed in the spec's order (DELETE, POST, PUT/PATCH, GET) after every id has been
//! settled: `urn:uuid:`/`urn:oid:`/absolute `fullUrl`s of created resources get server ids,
//! conditional creates and updates are resolved, and every reference to one of those
//! `fullUrl`s, or a conditional reference (`Patient?identifier=…`), is rewritten before
//! anything is written. A batch runs each entry as its own job; entries succeed or fail
//! alone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::http::StatusCode;
use fhir_model::custom_params::CustomSearchParams;
use fhir_model::outcome::IssueType;
use serde_json::{Value, json};
use smart_auth::Interaction;

use super::criteria::{parse_criteria_with, query_pairs};
use super::interactions::{self, Patch, WriteOutcome, is_valid_id};
use crate::auth::access::Caller;
use crate::error::ApiError;
use crate::store::{self, ResourceStore, StoredResource, WriteTx};

/// An entry's request, parsed.
#[derive(Debug, Clone)]
enum Action {
    Read {
        res_type: String,
        id: String,
        version: Option<i64>,
    },
    Search {
        res_type: String,
        query: String,
    },
    Create {
        res_type: String,
        resource: Value,
        if_none_exist: Option<String>,
    },
    Update {
        res_type: String,
        id: String,
        resource: Value,
        if_match: Option<i64>,
    },
    ConditionalUpdate {
        res_type: String,
        query: String,
        resource: Value,
        if_match: Option<i64>,
    },
    Delete {
        res_type: String,
        id: String,
        if_match: Option<i64>,
    },
    ConditionalDelete {
        res_type: String,
        query: String,
    },
    Patch {
        res_type: String,
        id: String,
        patch: Patch,
        if_match: Option<i64>,
    },
}

impl Action {
    /// Processing order of http.html: DELETE, POST, PUT/PATCH, GET.
    fn rank(&self) -> u8 {
        match self {
            Action::Delete { .. } | Action::ConditionalDelete { .. } => 0,
            Action::Create { .. } => 1,
            Action::Update { .. } | Action::ConditionalUpdate { .. } | Action::Patch { .. } => 2,
            Action::Read { .. } | Action::Search { .. } => 3,
        }
    }
}

/// One parsed entry.
#[derive(Debug, Clone)]
struct Entry {
    full_url: Option<String>,
    action: Action,
}

/// What one entry produced.
#[derive(Debug, Clone)]
enum EntryResult {
    Written(WriteOutcome),
    NothingToDelete,
    Read(StoredResource),
    Searched(Vec<StoredResource>),
}

/// Whether an entry of a Bundle reads or writes a resource of type `res_type` (by its
/// `request.url` or its resource), so the caller knows to refresh what depends on it.
pub fn touches_type(bundle: &Value, res_type: &str, base_url: &str) -> bool {
    let entries = bundle.get("entry").and_then(Value::as_array);
    entries.into_iter().flatten().any(|e| {
        let url = e
            .get("request")
            .and_then(|r| r.get("url"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let url = url
            .strip_prefix(base_url)
            .map(|u| u.trim_start_matches('/'))
            .unwrap_or(url);
        let first = url.split(['/', '?']).next().unwrap_or_default();
        first == res_type
            || e.get("resource")
                .and_then(|r| r.get("resourceType"))
                .and_then(Value::as_str)
                == Some(res_type)
    })
}

/// Processes a `batch` or `transaction` Bundle and returns the response Bundle. `params`
/// are the custom search parameters its criteria and index values use.
pub async fn process(
    store: &dyn ResourceStore,
    caller: &Caller,
    mut bundle: Value,
    base_url: &str,
    return_representation: bool,
    params: &Arc<CustomSearchParams>,
) -> Result<Value, ApiError> {
    let bundle_type = bundle
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let entries = match bundle.get_mut("entry").map(Value::take) {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    };
    match bundle_type.as_str() {
        "transaction" => {
            let prepared = prepare_entries(store, caller, entries, base_url, params).await?;
            commit(
                store,
                caller,
                prepared,
                base_url,
                return_representation,
                params,
            )
            .await
        }
        "batch" => {
            let mut out = Vec::with_capacity(entries.len());
            for (i, e) in entries.into_iter().enumerate() {
                let result = match parse_entry(e, base_url) {
                    Ok(entry) => {
                        let base = base_url.to_owned();
                        let params = Arc::clone(params);
                        let caller = caller.clone();
                        store::write(store, move |tx| {
                            Box::pin(async move {
                                let now = crate::clock::now_instant();
                                run_action(tx, &caller, entry.action, None, &base, &now, &params)
                                    .await
                            })
                        })
                        .await
                    }
                    Err(err) => Err(err),
                };
                out.push(match result {
                    Ok(r) => response_entry(&r, base_url, return_representation),
                    Err(err) => error_entry(&err.at(format!("Bundle.entry[{i}]"))),
                });
            }
            Ok(json!({"resourceType": "Bundle", "type": "batch-response", "entry": out}))
        }
        other => Err(ApiError::bad_request(
            IssueType::Invalid,
            format!("POST to the base takes a Bundle of type batch or transaction, not '{other}'"),
        )
        .at("Bundle.type")),
    }
}

/// A transaction Bundle made ready for its write job: parsed, and when it holds only
/// plain creates and reads, also given ids, its conditional references resolved, and its
/// resources indexed and serialized (see [`prepare_plain`]).
pub struct PreparedBundle(Prepared);

enum Prepared {
    Plain(PreparedTransaction),
    General(Vec<Entry>),
}

/// Prepares a `transaction` Bundle without writing anything: the work of [`process`]
/// before its write job, so a caller can prepare the next transaction while the last
/// one is being written (the importers do). Conditional references resolve against what
/// is committed now.
pub async fn prepare_transaction(
    store: &dyn ResourceStore,
    caller: &Caller,
    mut bundle: Value,
    base_url: &str,
    params: &CustomSearchParams,
) -> Result<PreparedBundle, ApiError> {
    let entries = match bundle.get_mut("entry").map(Value::take) {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    };
    prepare_entries(store, caller, entries, base_url, params).await
}

async fn prepare_entries(
    store: &dyn ResourceStore,
    caller: &Caller,
    entries: Vec<Value>,
    base_url: &str,
    params: &CustomSearchParams,
) -> Result<PreparedBundle, ApiError> {
    let parsed = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| parse_entry(e, base_url).map_err(|err| err.at(format!("Bundle.entry[{i}]"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PreparedBundle(if is_plain(&parsed) {
        Prepared::Plain(prepare_plain(store, caller, parsed, base_url, params).await?)
    } else {
        Prepared::General(parsed)
    }))
}

/// Writes a prepared transaction in one write job and returns its `transaction-response`
/// Bundle.
pub async fn commit(
    store: &dyn ResourceStore,
    caller: &Caller,
    prepared: PreparedBundle,
    base_url: &str,
    return_representation: bool,
    params: &Arc<CustomSearchParams>,
) -> Result<Value, ApiError> {
    let base = base_url.to_owned();
    let params = Arc::clone(params);
    let caller = caller.clone();
    let results = match prepared.0 {
        Prepared::Plain(prepared) => {
            store::write(store, move |tx| {
                Box::pin(async move { run_prepared(tx, &caller, prepared, base, &params).await })
            })
            .await?
        }
        Prepared::General(parsed) => {
            store::write(store, move |tx| {
                Box::pin(async move { run_transaction(tx, &caller, parsed, base, &params).await })
            })
            .await?
        }
    };
    let entries: Vec<Value> = results
        .iter()
        .map(|r| response_entry(r, base_url, return_representation))
        .collect();
    Ok(json!({"resourceType": "Bundle", "type": "transaction-response", "entry": entries}))
}

/// One Bundle entry as an action; its resource is moved out, not copied.
fn parse_entry(mut entry: Value, base_url: &str) -> Result<Entry, ApiError> {
    let resource = entry.get_mut("resource").map(Value::take);
    let request = entry
        .get("request")
        .ok_or_else(|| ApiError::bad_request(IssueType::Required, "Each entry needs a request"))?;
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let url = url
        .strip_prefix(base_url)
        .map(|u| u.trim_start_matches('/'))
        .unwrap_or(url);
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (url, None),
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let if_match = request
        .get("ifMatch")
        .and_then(Value::as_str)
        .map(parse_etag)
        .transpose()?;
    let full_url = entry
        .get("fullUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let res_type = segments.first().copied().unwrap_or_default().to_owned();
    if !fhir_model::definitions::is_resource_type(&res_type) {
        return Err(ApiError::not_found(format!(
            "Unknown resource type in request.url: '{res_type}'"
        )));
    }
    let need_resource = || {
        resource.clone().ok_or_else(|| {
            ApiError::bad_request(IssueType::Required, "This entry needs a resource")
        })
    };
    let id_at = |i: usize| -> Result<String, ApiError> {
        let id = segments[i];
        if is_valid_id(id) {
            Ok(id.to_owned())
        } else {
            Err(ApiError::bad_request(
                IssueType::Value,
                format!("Invalid resource id '{id}'"),
            ))
        }
    };
    let action = match (method, segments.len(), query) {
        ("GET", 1, query) => Action::Search {
            res_type,
            query: query.unwrap_or_default(),
        },
        ("GET", 2, None) => Action::Read {
            id: id_at(1)?,
            res_type,
            version: None,
        },
        ("GET", 4, None) if segments[2] == "_history" => {
            let version = segments[3]
                .parse()
                .map_err(|_| ApiError::bad_request(IssueType::Value, "Invalid version id"))?;
            Action::Read {
                id: id_at(1)?,
                res_type,
                version: Some(version),
            }
        }
        ("POST", 1, None) => Action::Create {
            res_type,
            resource: need_resource()?,
            if_none_exist: request
                .get("ifNoneExist")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        ("PUT", 2, None) => Action::Update {
            id: id_at(1)?,
            res_type,
            resource: need_resource()?,
            if_match,
        },
        ("PUT", 1, Some(query)) => Action::ConditionalUpdate {
            res_type,
            query,
            resource: need_resource()?,
            if_match,
        },
        ("DELETE", 2, None) => Action::Delete {
            id: id_at(1)?,
            res_type,
            if_match,
        },
        ("DELETE", 1, Some(query)) => Action::ConditionalDelete { res_type, query },
        ("PATCH", 2, None) => {
            let resource = need_resource()?;
            let patch = if resource.get("resourceType").and_then(Value::as_str) == Some("Binary") {
                // A JSON Patch travels in a Binary (http.html#transaction).
                let data = resource
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let bytes = base64_decode(data).ok_or_else(|| {
                    ApiError::bad_request(IssueType::Invalid, "Binary.data is not base64")
                })?;
                Patch::Json(serde_json::from_slice(&bytes).map_err(|e| {
                    ApiError::bad_request(
                        IssueType::Structure,
                        format!("The JSON Patch is malformed: {e}"),
                    )
                })?)
            } else {
                Patch::FhirPath(resource)
            };
            Action::Patch {
                id: id_at(1)?,
                res_type,
                patch,
                if_match,
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                IssueType::NotSupported,
                format!("Unsupported request in a Bundle entry: {method} {url}"),
            ));
        }
    };
    Ok(Entry { full_url, action })
}

/// `W/"3"` or `3` → 3.
pub fn parse_etag(text: &str) -> Result<i64, ApiError> {
    let t = text.trim();
    let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
    t.parse()
        .map_err(|_| ApiError::bad_request(IssueType::Value, format!("Invalid ETag '{text}'")))
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

/// The transaction job: deletes first, then settle ids, rewrite references, and run the
/// rest in the spec's order.
async fn run_transaction(
    tx: &mut dyn WriteTx,
    caller: &Caller,
    mut entries: Vec<Entry>,
    base_url: String,
    params: &CustomSearchParams,
) -> Result<Vec<EntryResult>, ApiError> {
    let now = crate::clock::now_instant();
    let mut results: Vec<Option<EntryResult>> = vec![None; entries.len()];
    // 0. DELETEs run first, so conditions of later entries see their effect.
    for (i, entry) in entries.iter().enumerate() {
        if entry.action.rank() == 0 {
            let result = run_action(
                tx,
                caller,
                entry.action.clone(),
                None,
                &base_url,
                &now,
                params,
            )
            .await
            .map_err(|e| e.at(format!("Bundle.entry[{i}]")))?;
            results[i] = Some(result);
        }
    }
    // 1. Settle the id behind every fullUrl, and check no resource is written twice. The
    //    condition of a conditional create or update also names its target: a
    //    conditional reference written exactly like it (`Device?identifier=s|v`) means the
    //    resource this transaction writes, found or not (as HAPI FHIR resolves them).
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut assigned: Vec<Option<String>> = vec![None; entries.len()];
    let mut written: HashSet<String> = HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = |e: ApiError| e.at(format!("Bundle.entry[{i}]"));
        let condition = match &entry.action {
            Action::Create {
                res_type,
                if_none_exist: Some(q),
                ..
            }
            | Action::ConditionalUpdate {
                res_type, query: q, ..
            } => Some(format!("{res_type}?{q}")),
            _ => None,
        };
        let target = match &entry.action {
            Action::Create {
                res_type,
                if_none_exist,
                ..
            } => {
                let existing = match if_none_exist {
                    Some(q) => {
                        let criteria =
                            parse_criteria_with(params, res_type, &query_pairs(q), &base_url)
                                .map_err(at)?;
                        let criteria = searchable(caller, res_type, criteria, params, &base_url)
                            .map_err(at)?;
                        let found = tx.find(res_type, &criteria).await?;
                        if found.len() > 1 {
                            return Err(at(ApiError::precondition_failed(
                                IssueType::MultipleMatches,
                                format!("ifNoneExist matched {} resources", found.len()),
                            )));
                        }
                        found.into_iter().next()
                    }
                    None => None,
                };
                let id = existing.unwrap_or_else(interactions::new_id);
                assigned[i] = Some(id.clone());
                Some(format!("{res_type}/{id}"))
            }
            Action::Update { res_type, id, .. }
            | Action::Patch { res_type, id, .. }
            | Action::Delete { res_type, id, .. } => Some(format!("{res_type}/{id}")),
            Action::ConditionalUpdate {
                res_type,
                query,
                resource,
                ..
            } => {
                let criteria =
                    parse_criteria_with(params, res_type, &query_pairs(query), &base_url)
                        .map_err(at)?;
                let criteria =
                    searchable(caller, res_type, criteria, params, &base_url).map_err(at)?;
                let found = tx.find(res_type, &criteria).await?;
                let id = match found.len() {
                    0 => resource
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(interactions::new_id),
                    1 => found[0].clone(),
                    n => {
                        return Err(at(ApiError::precondition_failed(
                            IssueType::MultipleMatches,
                            format!("The conditional update matched {n} resources"),
                        )));
                    }
                };
                assigned[i] = Some(id.clone());
                Some(format!("{res_type}/{id}"))
            }
            _ => None,
        };
        if let Some(target) = target {
            if !matches!(entry.action, Action::Read { .. } | Action::Search { .. })
                && !written.insert(target.clone())
            {
                return Err(at(ApiError::bad_request(
                    IssueType::Duplicate,
                    format!("{target} appears more than once in the transaction"),
                )));
            }
            if let Some(condition) = condition {
                ids.entry(condition).or_insert_with(|| target.clone());
            }
            if let Some(full_url) = &entry.full_url {
                ids.insert(full_url.clone(), target);
            }
        }
    }
    // 2. Rewrite references to fullUrls and conditional references.
    for (i, entry) in entries.iter_mut().enumerate() {
        let resource = match &mut entry.action {
            Action::Create { resource, .. }
            | Action::Update { resource, .. }
            | Action::ConditionalUpdate { resource, .. } => resource,
            _ => continue,
        };
        rewrite_references(tx, caller, resource, &mut ids, &base_url, params)
            .await
            .map_err(|e| e.at(format!("Bundle.entry[{i}].resource")))?;
    }
    // 3. Run the rest in the spec's order (POST, PUT/PATCH, GET); answer in the request's order.
    let mut order: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].action.rank() > 0)
        .collect();
    order.sort_by_key(|&i| entries[i].action.rank());
    for i in order {
        let action = entries[i].action.clone();
        let result = run_action(
            tx,
            caller,
            action,
            assigned[i].as_deref(),
            &base_url,
            &now,
            params,
        )
        .await
        .map_err(|e| e.at(format!("Bundle.entry[{i}]")))?;
        results[i] = Some(result);
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every entry ran"))
        .collect())
}

async fn run_action(
    tx: &mut dyn WriteTx,
    caller: &Caller,
    action: Action,
    assigned_id: Option<&str>,
    base_url: &str,
    now: &str,
    params: &CustomSearchParams,
) -> Result<EntryResult, ApiError> {
    Ok(match action {
        Action::Read {
            res_type,
            id,
            version,
        } => {
            let reach = caller.reach(&res_type, Interaction::Read, params, base_url)?;
            let stored = tx.read(&res_type, &id).await?;
            if stored.as_ref().is_some_and(|s| !s.is_deleted())
                && !reach.admits_in(tx, &res_type, &id).await?
            {
                return Err(ApiError::not_found(format!(
                    "{res_type}/{id} is not known within this access token's launch context and scopes"
                )));
            }
            match (stored, version) {
                (Some(s), None) if !s.is_deleted() => EntryResult::Read(s),
                (Some(s), Some(v)) if s.version == v && !s.is_deleted() => EntryResult::Read(s),
                (Some(_), None) => {
                    return Err(ApiError::gone(format!("{res_type}/{id} was deleted")));
                }
                _ => return Err(ApiError::not_found(format!("{res_type}/{id} is not known"))),
            }
        }
        Action::Search { res_type, query } => {
            let criteria = parse_criteria_with(params, &res_type, &query_pairs(&query), base_url)?;
            let criteria = searchable(caller, &res_type, criteria, params, base_url)?;
            let ids = tx.find(&res_type, &criteria).await?;
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(s) = tx.read(&res_type, &id).await? {
                    found.push(s);
                }
            }
            EntryResult::Searched(found)
        }
        Action::Create {
            res_type,
            resource,
            if_none_exist,
        } => {
            // In a transaction the condition was resolved already: an assigned id that
            // exists means the condition matched.
            if let (Some(id), Some(_)) = (assigned_id, &if_none_exist)
                && let Some(existing) = tx.read(&res_type, id).await?
            {
                return Ok(EntryResult::Written(WriteOutcome {
                    status: StatusCode::OK,
                    unchanged: false,
                    stored: existing,
                }));
            }
            let reach = caller.reach(&res_type, Interaction::Create, params, base_url)?;
            let criteria = match (&if_none_exist, assigned_id) {
                (Some(q), None) => Some(searchable(
                    caller,
                    &res_type,
                    parse_criteria_with(params, &res_type, &query_pairs(q), base_url)?,
                    params,
                    base_url,
                )?),
                _ => None,
            };
            let out = interactions::create(
                tx,
                &res_type,
                resource,
                criteria.as_deref(),
                assigned_id,
                now,
                params,
            )
            .await?;
            reach.require_in(tx, &res_type, &out.stored.id).await?;
            EntryResult::Written(out)
        }
        Action::Update {
            res_type,
            id,
            resource,
            if_match,
        } => {
            let reach = caller.reach(&res_type, Interaction::Update, params, base_url)?;
            reach.require_existing_in(tx, &res_type, &id).await?;
            let out =
                interactions::update(tx, &res_type, &id, resource, if_match, now, params).await?;
            reach.require_in(tx, &res_type, &id).await?;
            EntryResult::Written(out)
        }
        Action::ConditionalUpdate {
            res_type,
            query,
            mut resource,
            if_match,
        } => {
            let reach = caller.reach(&res_type, Interaction::Update, params, base_url)?;
            let out = match assigned_id {
                Some(id) => {
                    reach.require_existing_in(tx, &res_type, id).await?;
                    resource["id"] = Value::String(id.to_owned());
                    interactions::update(tx, &res_type, id, resource, if_match, now, params).await?
                }
                None => {
                    let mut criteria =
                        parse_criteria_with(params, &res_type, &query_pairs(&query), base_url)?;
                    criteria.extend(reach.criteria().iter().cloned());
                    interactions::conditional_update(
                        tx, &res_type, &criteria, resource, if_match, now, params,
                    )
                    .await?
                }
            };
            reach.require_in(tx, &res_type, &out.stored.id).await?;
            EntryResult::Written(out)
        }
        Action::Delete {
            res_type,
            id,
            if_match,
        } => {
            let reach = caller.reach(&res_type, Interaction::Delete, params, base_url)?;
            reach.require_existing_in(tx, &res_type, &id).await?;
            match interactions::delete(tx, &res_type, &id, if_match, now).await? {
                Some(w) => EntryResult::Written(w),
                None => EntryResult::NothingToDelete,
            }
        }
        Action::ConditionalDelete { res_type, query } => {
            let reach = caller.reach(&res_type, Interaction::Delete, params, base_url)?;
            let mut criteria =
                parse_criteria_with(params, &res_type, &query_pairs(&query), base_url)?;
            criteria.extend(reach.criteria().iter().cloned());
            match interactions::conditional_delete(tx, &res_type, &criteria, now).await? {
                Some(w) => EntryResult::Written(w),
                None => EntryResult::NothingToDelete,
            }
        }
        Action::Patch {
            res_type,
            id,
            patch,
            if_match,
        } => {
            let reach = caller.reach(&res_type, Interaction::Update, params, base_url)?;
            reach.require_existing_in(tx, &res_type, &id).await?;
            let out =
                interactions::patch(tx, &res_type, &id, &patch, if_match, now, params).await?;
            reach.require_in(tx, &res_type, &id).await?;
            EntryResult::Written(out)
        }
    })
}

/// The conditional references (`Patient?identifier=…`) in a resource that `ids` does
/// not name (no `fullUrl` of the Bundle; for the importers, no resource already found),
/// each once.
pub(crate) fn conditional_references(
    resource: &Value,
    ids: &HashMap<String, String>,
    out: &mut Vec<String>,
) {
    let mut refs = Vec::new();
    collect_reference_slots(resource, &mut Vec::new(), &mut refs);
    for (_, reference) in refs {
        if !ids.contains_key(&reference)
            && let Some((res_type, _)) = reference.split_once('?')
            && fhir_model::definitions::is_resource_type(res_type)
            && !out.contains(&reference)
        {
            out.push(reference);
        }
    }
}

/// The resource type and criteria of a conditional reference.
fn condition_criteria(
    reference: &str,
    base_url: &str,
    params: &CustomSearchParams,
) -> Result<(String, Vec<crate::store::Criterion>), ApiError> {
    let (res_type, query) = reference.split_once('?').unwrap_or((reference, ""));
    Ok((
        res_type.to_owned(),
        parse_criteria_with(params, res_type, &query_pairs(query), base_url)?,
    ))
}

/// A conditional reference must match exactly one resource; it becomes `Type/id`.
fn single_match(res_type: &str, found: &[String]) -> Result<String, ApiError> {
    match found {
        [id] => Ok(format!("{res_type}/{id}")),
        [] => Err(ApiError::precondition_failed(
            IssueType::NotFound,
            format!(
                "The conditional reference {res_type}?… matched no resource; it must match exactly one"
            ),
        )),
        _ => Err(ApiError::precondition_failed(
            IssueType::MultipleMatches,
            format!(
                "The conditional reference {res_type}?… matched {} resources; it must match exactly one",
                found.len()
            ),
        )),
    }
}

/// `criteria` narrowed to what the caller may search of `res_type` (403 if it may not
/// search it): every condition of a Bundle only sees what its caller may see.
fn searchable(
    caller: &Caller,
    res_type: &str,
    mut criteria: Vec<crate::store::Criterion>,
    params: &CustomSearchParams,
    base_url: &str,
) -> Result<Vec<crate::store::Criterion>, ApiError> {
    let reach = caller.reach(res_type, Interaction::Search, params, base_url)?;
    criteria.extend(reach.criteria().iter().cloned());
    Ok(criteria)
}

/// Resolves a conditional reference inside a write job.
async fn resolve_in(
    tx: &mut dyn WriteTx,
    caller: &Caller,
    reference: &str,
    base_url: &str,
    params: &CustomSearchParams,
) -> Result<String, ApiError> {
    let (res_type, criteria) = condition_criteria(reference, base_url, params)?;
    let criteria = searchable(caller, &res_type, criteria, params, base_url)?;
    let found = tx.find(&res_type, &criteria).await?;
    single_match(&res_type, &found)
}

/// Rewrites every `reference` that names a Bundle `fullUrl` or an already resolved
/// conditional reference (both are keys of `ids`).
fn apply_references(resource: &mut Value, ids: &HashMap<String, String>) -> Result<(), ApiError> {
    let mut refs = Vec::new();
    collect_reference_slots(resource, &mut Vec::new(), &mut refs);
    for (path, reference) in refs {
        if let Some(target) = ids.get(&reference) {
            if let Some(slot) = pointer_mut(resource, &path) {
                *slot = Value::String(target.clone());
            }
        } else if reference.starts_with("urn:uuid:") || reference.starts_with("urn:oid:") {
            return Err(ApiError::bad_request(
                IssueType::NotFound,
                "A urn: reference names no fullUrl in this transaction",
            ));
        }
    }
    Ok(())
}

/// Rewrites references inside a write job: conditional references are resolved in the
/// transaction (and added to `ids`, so each condition is looked up once: nothing is
/// written while references are rewritten).
async fn rewrite_references(
    tx: &mut dyn WriteTx,
    caller: &Caller,
    resource: &mut Value,
    ids: &mut HashMap<String, String>,
    base_url: &str,
    params: &CustomSearchParams,
) -> Result<(), ApiError> {
    let mut conditions = Vec::new();
    conditional_references(resource, ids, &mut conditions);
    for reference in conditions {
        let target = resolve_in(tx, caller, &reference, base_url, params).await?;
        ids.insert(reference, target);
    }
    apply_references(resource, ids)
}

/// Whether a transaction holds only unconditional creates and reads: then everything but
/// the conditional references can be settled before its write job.
fn is_plain(entries: &[Entry]) -> bool {
    entries.iter().all(|e| {
        matches!(
            e.action,
            Action::Create {
                if_none_exist: None,
                ..
            } | Action::Read { .. }
                | Action::Search { .. }
        )
    })
}

/// A plain transaction, prepared outside its write job.
struct PreparedTransaction {
    /// Per entry: the prepared write of a create, or the read to run.
    entries: Vec<PreparedEntry>,
    /// The conditional references as resolved before the job, to check inside it.
    conditions: Vec<(String, String)>,
}

enum PreparedEntry {
    Write(crate::store::NewVersion, StoredResource),
    Read(Action),
}

/// Assigns ids, resolves conditional references (outside any transaction: checked again
/// inside it), rewrites references, stamps, indexes and serializes every create.
async fn prepare_plain(
    store: &dyn ResourceStore,
    caller: &Caller,
    entries: Vec<Entry>,
    base_url: &str,
    params: &CustomSearchParams,
) -> Result<PreparedTransaction, ApiError> {
    let now = crate::clock::now_instant();
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut assigned = Vec::with_capacity(entries.len());
    for entry in &entries {
        let id = match &entry.action {
            Action::Create { res_type, .. } => {
                let id = interactions::new_id();
                if let Some(full_url) = &entry.full_url {
                    ids.insert(full_url.clone(), format!("{res_type}/{id}"));
                }
                Some(id)
            }
            _ => None,
        };
        assigned.push(id);
    }
    let mut references = Vec::new();
    for entry in &entries {
        if let Action::Create { resource, .. } = &entry.action {
            conditional_references(resource, &ids, &mut references);
        }
    }
    let mut conditions = Vec::with_capacity(references.len());
    for reference in references {
        let (res_type, criteria) = condition_criteria(&reference, base_url, params)?;
        let criteria = searchable(caller, &res_type, criteria, params, base_url)?;
        // Two are enough to tell "exactly one" from "several"; no count is needed.
        let query = crate::store::SearchQuery {
            criteria,
            count: 2,
            ..Default::default()
        };
        let found: Vec<String> = store
            .search_with(&res_type, &query)
            .await?
            .resources
            .into_iter()
            .map(|r| r.id)
            .collect();
        let target = single_match(&res_type, &found)?;
        ids.insert(reference.clone(), target.clone());
        conditions.push((reference, target));
    }
    let mut prepared = Vec::with_capacity(entries.len());
    for (i, (entry, id)) in entries.into_iter().zip(assigned).enumerate() {
        let at = |e: ApiError| e.at(format!("Bundle.entry[{i}]"));
        prepared.push(match (entry.action, id) {
            (
                Action::Create {
                    res_type,
                    mut resource,
                    ..
                },
                Some(id),
            ) => {
                interactions::check_type(&resource, &res_type).map_err(at)?;
                apply_references(&mut resource, &ids).map_err(at)?;
                let (new, stored) = interactions::prepare_version(
                    &res_type, &id, resource, None, "POST", &now, params,
                )?;
                PreparedEntry::Write(new, stored)
            }
            (action, _) => PreparedEntry::Read(action),
        });
    }
    Ok(PreparedTransaction {
        entries: prepared,
        conditions,
    })
}

/// The write job of a prepared transaction: check the conditions still resolve the same
/// way, write, then run the reads. A condition that a concurrent write changed between
/// preparation and the job is a conflict (409): the client retries, as after any
/// concurrent-modification conflict; nothing was written.
async fn run_prepared(
    tx: &mut dyn WriteTx,
    caller: &Caller,
    prepared: PreparedTransaction,
    base_url: String,
    params: &CustomSearchParams,
) -> Result<Vec<EntryResult>, ApiError> {
    for (reference, target) in &prepared.conditions {
        let still = resolve_in(tx, caller, reference, &base_url, params)
            .await
            .ok();
        if still.as_ref() != Some(target) {
            return Err(ApiError::conflict(
                "A conditional reference of this transaction resolved differently while it was being processed; retry",
            ));
        }
    }
    let now = crate::clock::now_instant();
    let mut results = Vec::with_capacity(prepared.entries.len());
    let mut reads = Vec::new();
    for (i, entry) in prepared.entries.into_iter().enumerate() {
        match entry {
            PreparedEntry::Write(new, stored) => {
                tx.write_version(new).await?;
                if !matches!(caller, Caller::Open) {
                    caller
                        .reach(&stored.res_type, Interaction::Create, params, &base_url)
                        .map_err(|e| e.at(format!("Bundle.entry[{i}]")))?
                        .require_in(tx, &stored.res_type, &stored.id)
                        .await
                        .map_err(|e| e.at(format!("Bundle.entry[{i}]")))?;
                }
                results.push(Some(EntryResult::Written(WriteOutcome {
                    status: StatusCode::CREATED,
                    unchanged: false,
                    stored,
                })));
            }
            PreparedEntry::Read(action) => {
                reads.push((i, action));
                results.push(None);
            }
        }
    }
    for (i, action) in reads {
        let result = run_action(tx, caller, action, None, &base_url, &now, params)
            .await
            .map_err(|e| e.at(format!("Bundle.entry[{i}]")))?;
        results[i] = Some(result);
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every entry ran"))
        .collect())
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every `reference` string in `v` outside narratives (`text`), with its path. The path
/// walked is borrowed from `v`; only the paths of references found are copied out (a large
/// bundle has tens of thousands of keys and few references).
fn collect_reference_slots<'a>(
    v: &'a Value,
    path: &mut Vec<(Option<&'a str>, usize)>,
    out: &mut Vec<(Vec<Step>, String)>,
) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "reference" {
                    if let Value::String(s) = child {
                        let mut p: Vec<Step> = path
                            .iter()
                            .map(|&(key, i)| match key {
                                Some(key) => Step::Key(key.to_owned()),
                                None => Step::Index(i),
                            })
                            .collect();
                        p.push(Step::Key(k.clone()));
                        out.push((p, s.clone()));
                    }
                    continue;
                }
                // Contained resources and the narrative are left as they are.
                if k == "text" {
                    continue;
                }
                path.push((Some(k.as_str()), 0));
                collect_reference_slots(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push((None, i));
                collect_reference_slots(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn pointer_mut<'v>(v: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut cur = v;
    for step in path {
        cur = match step {
            Step::Key(k) => cur.get_mut(k.as_str())?,
            Step::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

fn response_entry(result: &EntryResult, base_url: &str, return_representation: bool) -> Value {
    match result {
        EntryResult::Written(w) => {
            let s = &w.stored;
            let mut response = json!({ "status": status_line(w.status) });
            if w.status != StatusCode::NO_CONTENT {
                response["location"] =
                    json!(format!("{}/{}/_history/{}", s.res_type, s.id, s.version));
            }
            response["etag"] = json!(format!("W/\"{}\"", s.version));
            response["lastModified"] = json!(s.last_updated);
            if w.unchanged {
                response["outcome"] = unchanged_outcome();
            }
            let mut entry = json!({});
            if !s.is_deleted() {
                entry["fullUrl"] = json!(format!("{base_url}/{}/{}", s.res_type, s.id));
                if return_representation {
                    entry["resource"] = parse_content(s);
                }
            }
            entry["response"] = response;
            entry
        }
        EntryResult::NothingToDelete => {
            json!({ "response": { "status": status_line(StatusCode::NO_CONTENT) } })
        }
        EntryResult::Read(s) => json!({
            "fullUrl": format!("{base_url}/{}/{}", s.res_type, s.id),
            "resource": parse_content(s),
            "response": {
                "status": status_line(StatusCode::OK),
                "etag": format!("W/\"{}\"", s.version),
                "lastModified": s.last_updated,
            }
        }),
        EntryResult::Searched(found) => {
            let entries: Vec<Value> = found
                .iter()
                .map(|s| {
                    json!({
                        "fullUrl": format!("{base_url}/{}/{}", s.res_type, s.id),
                        "resource": parse_content(s),
                        "search": {"mode": "match"},
                    })
                })
                .collect();
            json!({
                "resource": {"resourceType": "Bundle", "type": "searchset", "total": found.len(), "entry": entries},
                "response": {"status": status_line(StatusCode::OK)}
            })
        }
    }
}

/// The `response.outcome` of an update that changed nothing (as HAPI FHIR reports it).
pub fn unchanged_outcome() -> Value {
    fhir_model::outcome::operation_outcome(&[fhir_model::outcome::Issue::information(
        IssueType::Informational,
        "No change: the content equals the current version, so no new version was written",
    )])
}

fn error_entry(err: &ApiError) -> Value {
    json!({ "response": { "status": status_line(err.status), "outcome": err.outcome() } })
}

/// A stored version's content as JSON (it was written by this server, so it parses).
pub fn parse_content(s: &StoredResource) -> Value {
    s.content
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null)
}
