//! Search Bundles ([search.html](https://hl7.org/fhir/R4/search.html)) for
//! `GET [type]?…` and `POST [type]/_search`: criteria (`criteria.rs`), then the
//! result parameters this module reads:
//!
//! - `_count` and the keyset cursors `_cursor` (the `next` link: after this position) and
//!   `_before` (the `previous` link: the page before it): the internal key of the page's
//!   last (first) match, or for a sorted search URL-safe base64 of the JSON array of its
//!   sort key values and that key. Every page links `self` (itself) and `first` (the
//!   search without a cursor); links keep working while resources are written between
//!   pages (no OFFSET);
//! - [`_sort`](https://hl7.org/fhir/R4/search.html#sort): `a,-b,c` over search
//!   parameters of type string, token, date, number, quantity, uri and reference, `_id`
//!   and `_lastUpdated`; `-` is descending. A resource with several values sorts by its
//!   lowest ascending and its highest descending (string: the normalized form; token:
//!   the code; date: the start of the range; reference: `Type/id`); one with none sorts
//!   last either way; the internal key breaks ties. Paging stays keyset (stable while
//!   resources are written between pages);
//! - [`_include` and `_revinclude`](https://hl7.org/fhir/R4/search.html#include):
//!   `Type:param`, `Type:param:Target`, `Type:*` and `*`, with `:iterate`. Included
//!   resources come after the page's matches with `search.mode = include`, each once, for
//!   that page's matches only. At most `max_count` (the configured largest page) are
//!   included per page; beyond that an OperationOutcome entry (`search.mode = outcome`)
//!   says the includes were cut short;
//! - [`_total`](https://hl7.org/fhir/R4/search.html#total): `none` skips counting and
//!   leaves out `Bundle.total`; `estimate` and `accurate` both give the exact count, as
//!   does no `_total` at all;
//! - [`_summary=count`](https://hl7.org/fhir/R4/search.html#summary): only
//!   `Bundle.total`, no entries; the other `_summary` values and `_elements` shape each
//!   entry's resource.
//!
//! [`Prefer: handling`](https://hl7.org/fhir/R4/search.html#errors): `lenient` (the
//! default) ignores unknown parameters, unsupported modifiers, a `_sort` naming an
//! unknown or unsortable parameter and the unsupported result parameters `_contained`,
//! `_containedType`, with one OperationOutcome entry
//! (`search.mode = outcome`, severity warning) for each; `strict` refuses them with a 400.
//!
//! Paging links are GET URLs carrying every parameter the search used (not the ignored
//! ones), also for a POSTed one. A system-level search (`GET [base]?…`,
//! `POST [base]/_search`) links to the base URL.
//!
//! Unshaped compact JSON (no `_summary`, `_elements`, `_pretty`, XML) splices each stored
//! resource text into the Bundle without parsing it: search cost is then the query.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fhir_model::custom_params::CustomSearchParams;
use fhir_model::outcome::{Issue, IssueType};
use fhir_model::search_params::SearchParamKind;
use fhir_model::summary::{select_elements, summarize};
use serde_json::{Value, json};
use smart_auth::Interaction;

use super::bundle::parse_content;
use super::criteria::{
    Handling, Ignored, parse_search_criteria_with, parse_sort, parse_system_criteria, parse_types,
};
use super::history;
use crate::AppState;
use crate::auth::access::{Caller, Reach};
use crate::error::ApiError;
use crate::http::negotiate::{Negotiated, negotiate};
use crate::http::respond::value_response;
use crate::store::{
    Criterion, Include, SearchCursor, SearchQuery, SortKey, SortValue, StoredResource,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Runs a search of `res_type` (`None`: a system-level search, over the types `_type`
/// lists or all) with the given parameters (query string, and for a POST the form body
/// too) and answers with the searchset Bundle.
pub async fn respond(
    state: &AppState,
    caller: &Caller,
    res_type: Option<&str>,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    respond_in(state, caller, res_type, None, pairs, headers).await
}

/// [`Patient/[id]/$everything`](https://hl7.org/fhir/R4/patient-operation-everything.html):
/// the Patient and every resource in its compartment, as a system-level search over the
/// compartment's types (`_type` narrows them; `_since` is `_lastUpdated=ge…`; `_count`
/// and paging as in any search). `start`/`end` (care dates) are not offered: lenient
/// handling reports them ignored.
pub async fn everything(
    state: &AppState,
    caller: &Caller,
    patient: &str,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let params = state.search_params.current();
    let reach = caller.reach("Patient", Interaction::Read, &params, &state.base_url)?;
    match state.store.read("Patient", patient).await? {
        Some(p) if !p.is_deleted() => {}
        _ => {
            return Err(ApiError::not_found(format!(
                "Patient/{patient} is not known"
            )));
        }
    }
    reach
        .check_readable(&*state.store, "Patient", patient)
        .await?;
    let compartment = fhir_model::compartment::patient_compartment_types();
    let mut pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| match k.as_str() {
            "_since" => ("_lastUpdated".to_owned(), format!("ge{v}")),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let types_listed = pairs.iter().any(|(k, _)| k == "_type");
    if let Some((_, types)) = pairs.iter_mut().find(|(k, _)| k == "_type") {
        if let Some(outside) = types
            .split(',')
            .find(|t| !compartment.iter().any(|c| c == t))
        {
            return Err(ApiError::bad_request(
                IssueType::Value,
                format!("_type: {outside} is not in the Patient compartment"),
            ));
        }
    } else {
        pairs.push(("_type".to_owned(), compartment.join(",")));
    }
    let scope = Everything {
        patient: patient.to_owned(),
        path: format!("{}/Patient/{patient}/$everything", state.base_url),
        types_listed,
    };
    respond_in(state, caller, None, Some(&scope), &pairs, headers).await
}

/// A `$everything` search: whose compartment, the URL its links go to, and whether the
/// client named the types (`_type`) or they are the whole compartment's.
struct Everything {
    patient: String,
    path: String,
    types_listed: bool,
}

async fn respond_in(
    state: &AppState,
    caller: &Caller,
    res_type: Option<&str>,
    everything: Option<&Everything>,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    // `_summary=count` shapes the Bundle, not the resources: the negotiation of resource
    // shaping does not see it.
    // `_count=0` is treated as `_summary=count` (search.html#count).
    let summary_count = pairs
        .iter()
        .any(|(k, v)| k == "_summary" && v == "count" || k == "_count" && v == "0");
    let shaping: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, v)| !(k == "_summary" && v == "count" || k == "_count" && v == "0"))
        .cloned()
        .collect();
    let neg = negotiate(&shaping, headers)?;
    let handling = Handling::from_prefer(
        headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let (mut query, ignored) = search_query(res_type, pairs, state, summary_count, handling)?;
    // What the caller may see is ANDed into the criteria: the matches, their count and
    // the paging never reach beyond it.
    let params = state.search_params.current();
    match res_type {
        Some(t) => {
            let reach = caller.reach(t, Interaction::Search, &params, &state.base_url)?;
            query.criteria.extend(reach.criteria().iter().cloned());
        }
        None if matches!(caller, Caller::Token(_)) => {
            // Each type as the caller may search it: a type listed in `_type` that no
            // scope allows is refused, unlisted ones are left out, and the reach of the
            // others applies to their resources only.
            let listed = !query.types.is_empty() && everything.is_none_or(|e| e.types_listed);
            let types: Vec<String> = if listed {
                query.types.clone()
            } else {
                fhir_model::definitions::resource_types()
                    .iter()
                    .map(|t| (*t).to_owned())
                    .collect()
            };
            let mut allowed = Vec::with_capacity(types.len());
            for t in types {
                match caller.reach(&t, Interaction::Search, &params, &state.base_url) {
                    Err(e) if listed => return Err(e),
                    Err(_) => continue,
                    Ok(Reach::All) => {}
                    Ok(Reach::Matching(criteria)) => query.criteria.push(Criterion::ForType {
                        res_type: t.clone(),
                        criteria,
                    }),
                }
                allowed.push(t);
            }
            if allowed.is_empty() {
                return Err(ApiError::insufficient_scope(
                    "The access token's scopes allow searching none of these types",
                ));
            }
            query.types = allowed;
        }
        None => {}
    }
    if let Some(everything) = everything {
        query
            .criteria
            .push(Criterion::InPatientCompartment(everything.patient.clone()));
    }
    let mut page = state
        .store
        .search_with(res_type.unwrap_or(""), &query)
        .await?;
    page.included = caller
        .readable(
            &*state.store,
            std::mem::take(&mut page.included),
            &params,
            &state.base_url,
        )
        .await?;

    let base = &state.base_url;
    let path = match (res_type, everything) {
        (_, Some(everything)) => everything.path.clone(),
        (Some(t), None) => format!("{base}/{t}"),
        (None, None) => base.to_string(),
    };
    // The links carry only the parameters this search used.
    let used: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !ignored.iter().any(|i| &i.name == k))
        .cloned()
        .collect();
    // `self` is this page (with its cursor); `first` the search from the start.
    let this_page: Vec<(&str, String)> = ["_cursor", "_before"]
        .into_iter()
        .filter_map(|k| get(pairs, k).map(|v| (k, v.to_owned())))
        .collect();
    let link = |relation: &str, extra: &[(&str, String)]| {
        let q = history::link_query(&used, extra);
        json!({"relation": relation, "url": format!("{path}{q}")})
    };
    let mut links = vec![link("self", &this_page), link("first", &[])];
    if let Some(previous) = &page.previous {
        links.push(link("previous", &[("_before", encode_cursor(previous))]));
    }
    if let Some(next) = &page.next {
        links.push(link("next", &[("_cursor", encode_cursor(next))]));
    }
    let mut outcomes = Vec::new();
    for i in &ignored {
        outcomes.push(Issue::warning(
            IssueType::NotSupported,
            format!(
                "The search parameter '{}' was ignored: {}",
                i.name, i.diagnostics
            ),
        ));
    }
    if page.includes_truncated {
        outcomes.push(Issue::warning(
            IssueType::TooCostly,
            format!(
                "Only the first {} resources that _include/_revinclude reach from this page are included",
                query.include_limit
            ),
        ));
    }
    searchset_response(
        base,
        Searchset {
            total: page.total,
            links,
            matches: &page.resources,
            included: &page.included,
            outcomes,
        },
        neg,
    )
}

/// The parts of a searchset Bundle.
pub struct Searchset<'a> {
    /// `Bundle.total`, when counted.
    pub total: Option<i64>,
    /// `Bundle.link` (each `{"relation", "url"}`).
    pub links: Vec<Value>,
    /// The matches (`search.mode = match`).
    pub matches: &'a [StoredResource],
    /// Resources included for them (`search.mode = include`).
    pub included: &'a [StoredResource],
    /// Warnings, one OperationOutcome entry each (`search.mode = outcome`).
    pub outcomes: Vec<Issue>,
}

/// Answers with a searchset Bundle. `_summary` and `_elements` (in `neg`) shape each
/// entry's resource, not the Bundle. Unshaped compact JSON, the common case, splices each
/// resource's stored text into the Bundle as it is, never parsing it.
pub fn searchset_response(
    base: &str,
    set: Searchset<'_>,
    neg: Negotiated,
) -> Result<Response, ApiError> {
    let mut bundle = json!({"resourceType": "Bundle", "type": "searchset"});
    if let Some(total) = set.total {
        bundle["total"] = json!(total);
    }
    bundle["link"] = Value::Array(set.links);
    let outcomes: Vec<Value> = set
        .outcomes
        .iter()
        .map(|issue| {
            json!({
                "resource": {"resourceType": "OperationOutcome", "issue": [issue.to_json()]},
                "search": {"mode": "outcome"},
            })
        })
        .collect();
    let stored = set
        .matches
        .iter()
        .map(|s| (s, "match"))
        .chain(set.included.iter().map(|s| (s, "include")));
    if neg.is_plain_json() {
        let head = bundle.to_string();
        let mut out = String::with_capacity(
            head.len()
                + set
                    .matches
                    .iter()
                    .chain(set.included)
                    .map(|s| s.content.as_deref().map_or(2, str::len) + 128)
                    .sum::<usize>(),
        );
        out.push_str(&head[..head.len() - 1]);
        let mut first = true;
        for (s, mode) in stored {
            out.push_str(if first { ",\"entry\":[" } else { "," });
            first = false;
            out.push_str("{\"fullUrl\":");
            out.push_str(&Value::String(format!("{base}/{}/{}", s.res_type, s.id)).to_string());
            out.push_str(",\"resource\":");
            out.push_str(s.content.as_deref().unwrap_or("{}"));
            out.push_str(",\"search\":{\"mode\":\"");
            out.push_str(mode);
            out.push_str("\"}}");
        }
        for o in &outcomes {
            out.push_str(if first { ",\"entry\":[" } else { "," });
            first = false;
            out.push_str(&o.to_string());
        }
        if !first {
            out.push(']');
        }
        out.push('}');
        let mut response = (StatusCode::OK, out).into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(crate::http::FHIR_JSON),
        );
        return Ok(response);
    }
    let elements: Option<Vec<&str>> = neg
        .elements
        .as_ref()
        .map(|e| e.iter().map(String::as_str).collect());
    let mut entries: Vec<Value> = stored
        .map(|(s, mode)| {
            let mut resource = parse_content(s);
            if let Some(summary) = neg.summary {
                resource = summarize(&resource, summary);
            }
            // search.html#elements: "does not apply to included resources".
            if let Some(elements) = elements.as_ref().filter(|_| mode == "match") {
                resource = select_elements(&resource, elements);
            }
            json!({
                "fullUrl": format!("{base}/{}/{}", s.res_type, s.id),
                "resource": resource,
                "search": {"mode": mode},
            })
        })
        .collect();
    entries.extend(outcomes);
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    let neg = Negotiated {
        summary: None,
        elements: None,
        ..neg
    };
    value_response(StatusCode::OK, &bundle, &neg)
}

/// Result parameters this server does not support yet: refused with
/// `Prefer: handling=strict`, otherwise ignored and reported.
const UNSUPPORTED_RESULT_PARAMETERS: &[&str] = &["_contained", "_containedType"];

/// The store query of a search (criteria, page, total and includes) and the parameters
/// it ignored (lenient handling).
fn search_query(
    res_type: Option<&str>,
    pairs: &[(String, String)],
    state: &AppState,
    summary_count: bool,
    handling: Handling,
) -> Result<(SearchQuery, Vec<Ignored>), ApiError> {
    let types = match (res_type, get(pairs, "_type")) {
        (None, Some(v)) => parse_types(v)?,
        _ => Vec::new(),
    };
    // The official and the custom search parameters, as they are now.
    let params = state.search_params.current();
    let (criteria, mut ignored) = match res_type {
        Some(t) => parse_search_criteria_with(&params, t, pairs, &state.base_url, handling)?,
        None => parse_system_criteria(&params, &types, pairs, &state.base_url, handling)?,
    };
    // Sort keys are read by the first type's parameters (a system-level search without
    // `_type`: the common ones).
    let sort_type = res_type
        .or(types.first().map(String::as_str))
        .unwrap_or("Resource");
    handling.not_applicable(
        pairs,
        UNSUPPORTED_RESULT_PARAMETERS,
        "this server does not offer it yet",
        &mut ignored,
    )?;
    let sort = match get(pairs, "_sort") {
        None => Vec::new(),
        Some(v) => handling
            .tolerate("_sort", parse_sort(&params, sort_type, v), &mut ignored)?
            .unwrap_or_default(),
    };
    let count = history::page_size(pairs, &state.config)?;
    let cursor = |name: &str| {
        get(pairs, name)
            .map(|v| {
                decode_cursor(v, &sort).ok_or_else(|| {
                    ApiError::bad_request(IssueType::Value, format!("Invalid {name}"))
                })
            })
            .transpose()
    };
    let (after, before) = (cursor("_cursor")?, cursor("_before")?);
    if after.is_some() && before.is_some() {
        return Err(ApiError::bad_request(
            IssueType::Value,
            "_cursor and _before cannot be used together",
        ));
    }
    let total = wants_total(pairs)?;
    let mut include = Vec::new();
    let mut revinclude = Vec::new();
    for (name, value) in pairs {
        let (list, iterate) = match name.as_str() {
            "_include" => (&mut include, false),
            "_include:iterate" => (&mut include, true),
            "_revinclude" => (&mut revinclude, false),
            "_revinclude:iterate" => (&mut revinclude, true),
            _ => continue,
        };
        list.push(parse_include_with(&params, name, value, iterate)?);
    }
    let query = SearchQuery {
        criteria,
        types,
        count: if summary_count { 0 } else { count },
        sort,
        after,
        before,
        total: total || summary_count,
        include,
        revinclude,
        include_limit: state.config.max_count,
    };
    Ok((query, ignored))
}

/// Whether to count the matches: [`_total`](https://hl7.org/fhir/R4/search.html#total)
/// `none` does not, `estimate`, `accurate` and no `_total` do (exactly).
pub fn wants_total(pairs: &[(String, String)]) -> Result<bool, ApiError> {
    match get(pairs, "_total") {
        None | Some("estimate" | "accurate") => Ok(true),
        Some("none") => Ok(false),
        Some(other) => Err(ApiError::bad_request(
            IssueType::Value,
            format!("_total must be none, estimate or accurate, not '{other}'"),
        )),
    }
}

/// The `_cursor` of a `next` link: the internal key alone for an unsorted search,
/// otherwise URL-safe base64 of the JSON array of the sort key values and the key.
fn encode_cursor(cursor: &SearchCursor) -> String {
    if cursor.values.is_empty() {
        return cursor.pk.to_string();
    }
    let mut items: Vec<Value> = cursor
        .values
        .iter()
        .map(|v| match v {
            SortValue::Null => Value::Null,
            SortValue::Text(t) => json!(t),
            SortValue::Number(f) => json!(f),
        })
        .collect();
    items.push(json!(cursor.pk));
    URL_SAFE_NO_PAD.encode(Value::Array(items).to_string())
}

/// The cursor [`encode_cursor`] wrote for a search sorted by `sort`; `None` if it is not
/// one (wrong form, or another number or type of keys).
fn decode_cursor(text: &str, sort: &[SortKey]) -> Option<SearchCursor> {
    if sort.is_empty() {
        return Some(SearchCursor {
            values: Vec::new(),
            pk: text.parse().ok()?,
        });
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let Value::Array(mut items) = serde_json::from_slice(&bytes).ok()? else {
        return None;
    };
    let pk = items.pop()?.as_i64()?;
    if items.len() != sort.len() {
        return None;
    }
    let values = items
        .iter()
        .zip(sort)
        .map(|(v, key)| match v {
            Value::Null => Some(SortValue::Null),
            Value::String(t) if !key.is_numeric() => Some(SortValue::Text(t.clone())),
            Value::Number(n) if key.is_numeric() => n.as_f64().map(SortValue::Number),
            _ => None,
        })
        .collect::<Option<_>>()?;
    Some(SearchCursor { values, pk })
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `*`, `Type:*`, `Type:param` or `Type:param:Target`, where `param` is a reference
/// search parameter of `Type`.
pub fn parse_include(name: &str, value: &str, iterate: bool) -> Result<Include, ApiError> {
    parse_include_with(CustomSearchParams::none(), name, value, iterate)
}

/// [`parse_include`] where `param` may also be a custom reference parameter of `params`.
pub fn parse_include_with(
    params: &CustomSearchParams,
    name: &str,
    value: &str,
    iterate: bool,
) -> Result<Include, ApiError> {
    let invalid = |why: &str| {
        ApiError::bad_request(
            IssueType::Value,
            format!("Invalid {name} value '{value}': {why}"),
        )
    };
    if value == "*" {
        return Ok(Include {
            source_type: None,
            param: None,
            target_type: None,
            iterate,
        });
    }
    let mut parts = value.split(':');
    let (Some(source), Some(param), target, None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("expected Type:param[:targetType] or *"));
    };
    if !fhir_model::definitions::is_resource_type(source) {
        return Err(invalid("unknown resource type"));
    }
    if let Some(t) = target
        && !fhir_model::definitions::is_resource_type(t)
    {
        return Err(invalid("unknown target resource type"));
    }
    let param = if param == "*" {
        None
    } else {
        match params.search_param(source, param) {
            Some(p) if p.kind == SearchParamKind::Reference => Some(param.to_owned()),
            _ => return Err(invalid("not a reference search parameter of that type")),
        }
    };
    Ok(Include {
        source_type: Some(source.to_owned()),
        param,
        target_type: target.map(str::to_owned),
        iterate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_forms() {
        let i = parse_include("_include", "Observation:subject:Patient", false).unwrap();
        assert_eq!(
            i,
            Include {
                source_type: Some("Observation".into()),
                param: Some("subject".into()),
                target_type: Some("Patient".into()),
                iterate: false
            }
        );
        let i = parse_include("_include", "*", true).unwrap();
        assert_eq!((i.source_type, i.param, i.iterate), (None, None, true));
        let i = parse_include("_revinclude", "Condition:*", false).unwrap();
        assert_eq!(
            (i.source_type.as_deref(), i.param),
            (Some("Condition"), None)
        );
        for bad in [
            "Observation",
            "Observation:code",
            "Observation:nonsense",
            "Nope:subject",
            "Observation:subject:Nope",
            "Observation:subject:Patient:x",
        ] {
            assert!(parse_include("_include", bad, false).is_err(), "{bad}");
        }
    }
}
