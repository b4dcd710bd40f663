//! Building FHIR responses: the body in the negotiated format and shape, and the headers
//! http.html asks for (`ETag`, `Last-Modified`, `Location`, `Content-Type`).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fhir_model::format::{Format, to_json, to_xml};
use fhir_model::outcome::{Issue, IssueType, operation_outcome};
use fhir_model::summary::{select_elements, summarize};
use serde_json::Value;

use super::negotiate::{Negotiated, Return};
use super::{FHIR_JSON, FHIR_XML};
use crate::error::ApiError;
use crate::store::StoredResource;

/// Serializes a resource in the negotiated format (applying `_summary`/`_elements`).
pub fn body(resource: &Value, neg: &Negotiated) -> Result<(Vec<u8>, &'static str), ApiError> {
    let shaped;
    let mut value = resource;
    if let Some(summary) = neg.summary {
        shaped = summarize(value, summary);
        value = &shaped;
    }
    let selected;
    if let Some(elements) = &neg.elements {
        let names: Vec<&str> = elements.iter().map(String::as_str).collect();
        selected = select_elements(value, &names);
        value = &selected;
    }
    Ok(match neg.format {
        Format::Json => (to_json(value, neg.pretty), FHIR_JSON),
        Format::Xml => (to_xml(value, neg.pretty)?, FHIR_XML),
    })
}

/// A response carrying a resource (or Bundle) value.
pub fn value_response(
    status: StatusCode,
    value: &Value,
    neg: &Negotiated,
) -> Result<Response, ApiError> {
    let (bytes, ct) = body(value, neg)?;
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(response)
}

/// The version headers of a stored version: `ETag` and `Last-Modified`.
pub fn version_headers(headers: &mut HeaderMap, stored: &StoredResource) {
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", stored.version)) {
        headers.insert(header::ETAG, v);
    }
    if let Some(v) =
        crate::clock::http_date(&stored.last_updated).and_then(|d| HeaderValue::from_str(&d).ok())
    {
        headers.insert(header::LAST_MODIFIED, v);
    }
}

/// A read/vread response: the stored text is sent as it is when no shaping is asked for.
pub fn stored_response(
    status: StatusCode,
    stored: &StoredResource,
    neg: &Negotiated,
) -> Result<Response, ApiError> {
    let content = stored.content.as_deref().unwrap_or("{}");
    let mut response = if neg.is_plain_json() {
        let mut r = (status, content.to_owned()).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        r
    } else {
        let value: Value = serde_json::from_str(content).map_err(ApiError::internal)?;
        value_response(status, &value, neg)?
    };
    version_headers(response.headers_mut(), stored);
    Ok(response)
}

/// The response to a write: status, `Location` (for creates) or `Content-Location`,
/// version headers, and the body `Prefer: return=…` asks for.
pub fn write_response(
    status: StatusCode,
    stored: &StoredResource,
    neg: &Negotiated,
    base_url: &str,
) -> Result<Response, ApiError> {
    let location = format!(
        "{base_url}/{}/{}/_history/{}",
        stored.res_type, stored.id, stored.version
    );
    let mut response = match (neg.prefer, &stored.content) {
        (Return::Representation, Some(_)) => stored_response(status, stored, neg)?,
        (Return::OperationOutcome, _) => {
            let oo = operation_outcome(&[Issue::information(
                IssueType::Informational,
                format!(
                    "{} {}/{} version {}",
                    stored.method, stored.res_type, stored.id, stored.version
                ),
            )]);
            value_response(status, &oo, neg)?
        }
        _ => status.into_response(),
    };
    let headers = response.headers_mut();
    version_headers(headers, stored);
    if let Ok(v) = HeaderValue::from_str(&location) {
        let name = if status == StatusCode::CREATED {
            header::LOCATION
        } else {
            header::CONTENT_LOCATION
        };
        headers.insert(name, v);
    }
    Ok(response)
}
