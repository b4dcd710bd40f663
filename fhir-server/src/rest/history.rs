//! History Bundles (http.html#history): `_since`, `_at`, `_count`, and keyset paging links
//! that keep working while new versions arrive (a page is "older than this version").

use axum::http::StatusCode;
use axum::response::Response;
use fhir_model::outcome::IssueType;
use serde_json::{Value, json};

use super::bundle::parse_content;
use crate::AppState;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::negotiate::Negotiated;
use crate::http::respond::value_response;
use crate::store::{HistoryQuery, HistoryScope};

/// `_count`, bounded by the configured maximum (at least 1).
pub fn page_size(query: &[(String, String)], config: &Config) -> Result<usize, ApiError> {
    match query.iter().find(|(k, _)| k == "_count") {
        None => Ok(config.default_count),
        Some((_, v)) => v
            .parse::<usize>()
            .map(|n| n.clamp(1, config.max_count))
            .map_err(|_| ApiError::bad_request(IssueType::Value, format!("Invalid _count '{v}'"))),
    }
}

/// Rebuilds a query string from the request's parameters, minus paging ones, plus `extra`.
pub fn link_query(query: &[(String, String)], extra: &[(&str, String)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        if k != "_cursor" && k != "_before" {
            ser.append_pair(k, v);
        }
    }
    for (k, v) in extra {
        ser.append_pair(k, v);
    }
    let s = ser.finish();
    if s.is_empty() { s } else { format!("?{s}") }
}

fn instant_param(query: &[(String, String)], name: &str) -> Result<Option<String>, ApiError> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| {
            crate::clock::parse_instant(v).ok_or_else(|| {
                ApiError::bad_request(
                    IssueType::Value,
                    format!("Invalid {name} '{v}': expected an instant"),
                )
            })
        })
        .transpose()
}

fn parse_cursor(text: &str) -> Option<(String, i64)> {
    let (lu, row) = text.rsplit_once('~')?;
    Some((lu.to_owned(), row.parse().ok()?))
}

/// Answers a history request.
pub async fn respond(
    state: &AppState,
    scope: HistoryScope,
    query: &[(String, String)],
    neg: &Negotiated,
) -> Result<Response, ApiError> {
    let before = match query.iter().find(|(k, _)| k == "_cursor") {
        Some((_, c)) => Some(
            parse_cursor(c)
                .ok_or_else(|| ApiError::bad_request(IssueType::Value, "Invalid _cursor"))?,
        ),
        None => None,
    };
    let hq = HistoryQuery {
        since: instant_param(query, "_since")?,
        at: instant_param(query, "_at")?,
        count: page_size(query, &state.config)?,
        before,
    };
    let page = state.store.history(&scope, &hq).await?;
    let path = match &scope {
        HistoryScope::System => format!("{}/_history", state.base_url),
        HistoryScope::Type(t) => format!("{}/{t}/_history", state.base_url),
        HistoryScope::Instance(t, id) => format!("{}/{t}/{id}/_history", state.base_url),
    };
    let mut links = vec![
        json!({"relation": "self", "url": format!("{path}{}", link_query(query, &[]))}),
        json!({"relation": "first", "url": format!("{path}{}", link_query(query, &[]))}),
    ];
    if let Some((lu, row)) = &page.next {
        let q = link_query(query, &[("_cursor", format!("{lu}~{row}"))]);
        links.push(json!({"relation": "next", "url": format!("{path}{q}")}));
    }
    let entries: Vec<Value> = page
        .versions
        .iter()
        .map(|s| {
            let full_url = format!("{}/{}/{}", state.base_url, s.res_type, s.id);
            let (method, url, status) = match s.method.as_str() {
                "POST" => ("POST", s.res_type.clone(), "201 Created"),
                "DELETE" => (
                    "DELETE",
                    format!("{}/{}", s.res_type, s.id),
                    "204 No Content",
                ),
                // A PATCH is recorded in history as the update it amounts to.
                _ => (
                    "PUT",
                    format!("{}/{}", s.res_type, s.id),
                    if s.version == 1 {
                        "201 Created"
                    } else {
                        "200 OK"
                    },
                ),
            };
            let mut entry = json!({"fullUrl": full_url});
            if !s.is_deleted() {
                entry["resource"] = parse_content(s);
            }
            entry["request"] = json!({"method": method, "url": url});
            entry["response"] = json!({
                "status": status,
                "etag": format!("W/\"{}\"", s.version),
                "lastModified": s.last_updated,
            });
            entry
        })
        .collect();
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "history",
        "total": page.total,
        "link": links,
        "entry": entries,
    });
    value_response(StatusCode::OK, &bundle, neg)
}
