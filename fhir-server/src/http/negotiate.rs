//! Content negotiation and response shaping (http.html#mime-type, search.html#summary):
//! `_format` over `Accept` for the response format, `Content-Type` for the request body,
//! `_pretty`, `_summary`, `_elements`, and `Prefer: return=…`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use fhir_model::format::Format;
use fhir_model::outcome::IssueType;
use fhir_model::summary::Summary;

use crate::error::ApiError;

/// How the client wants the response.
#[derive(Debug, Clone)]
pub struct Negotiated {
    /// The response format.
    pub format: Format,
    /// `_pretty=true`.
    pub pretty: bool,
    /// `_summary`.
    pub summary: Option<Summary>,
    /// `_elements`, split at commas.
    pub elements: Option<Vec<String>>,
    /// `Prefer: return=…`.
    pub prefer: Return,
}

/// `Prefer: return=minimal|representation|OperationOutcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// No body.
    Minimal,
    /// The resource (the default).
    Representation,
    /// An OperationOutcome about the interaction.
    OperationOutcome,
}

impl Negotiated {
    /// Whether the stored JSON text can be sent as it is.
    pub fn is_plain_json(&self) -> bool {
        self.format == Format::Json
            && !self.pretty
            && self.summary.is_none()
            && self.elements.is_none()
    }
}

/// Maps a MIME type or `_format` value to a format.
pub fn format_of(mime: &str) -> Option<Format> {
    // In a query string an unencoded `+` arrives as a space (`_format=application/fhir+xml`).
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .replace(' ', "+")
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/fhir+json" | "application/json" | "json" | "text/json" => Some(Format::Json),
        "application/fhir+xml" | "application/xml" | "text/xml" | "xml" => Some(Format::Xml),
        _ => None,
    }
}

/// The format of a request body from its `Content-Type` (415 when absent or unsupported).
pub fn body_format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unsupported_media_type(
            "A request body needs a Content-Type (application/fhir+json or application/fhir+xml)",
        ));
    };
    format_of(ct).ok_or_else(|| unsupported_media_type(&format!("Unsupported Content-Type '{ct}'")))
}

fn unsupported_media_type(msg: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        IssueType::NotSupported,
        msg,
    )
}

fn accept_format(headers: &HeaderMap) -> Format {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Format::Json;
    };
    // The first acceptable type in the client's order (q-values are rare for FHIR clients).
    accept
        .split(',')
        .find_map(format_of)
        .unwrap_or(Format::Json)
}

/// Reads the shaping parameters from a query string and headers.
pub fn negotiate(query: &[(String, String)], headers: &HeaderMap) -> Result<Negotiated, ApiError> {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let format = match get("_format") {
        Some(f) => format_of(f).ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_ACCEPTABLE,
                IssueType::NotSupported,
                format!("Unsupported _format '{f}'"),
            )
        })?,
        None => accept_format(headers),
    };
    let pretty = match get("_pretty") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                IssueType::Value,
                format!("_pretty must be true or false, not '{other}'"),
            ));
        }
    };
    let summary = match get("_summary") {
        None => None,
        Some(s) => match s.parse::<Summary>() {
            Ok(Summary::False) => None,
            Ok(s) => Some(s),
            Err(_) => {
                return Err(ApiError::bad_request(
                    IssueType::Value,
                    format!("Unsupported _summary value '{s}'"),
                ));
            }
        },
    };
    let elements = get("_elements").map(|e| {
        e.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    let prefer = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .find_map(|p| match p.trim() {
            "return=minimal" => Some(Return::Minimal),
            "return=representation" => Some(Return::Representation),
            "return=OperationOutcome" => Some(Return::OperationOutcome),
            _ => None,
        })
        .unwrap_or(Return::Representation);
    Ok(Negotiated {
        format,
        pretty,
        summary,
        elements,
        prefer,
    })
}

/// The decoded query string of a request.
#[derive(Debug, Clone, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryPairs(crate::rest::criteria::query_pairs(
            parts.uri.query().unwrap_or(""),
        )))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Negotiated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = crate::rest::criteria::query_pairs(parts.uri.query().unwrap_or(""));
        negotiate(&query, &parts.headers)
    }
}
