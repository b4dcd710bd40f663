//! Request bodies: size limit (413), media type (415), then parsing and structural
//! validation in `fhir-model` (400 with the element path). Nothing reaches the store
//! before all of that has passed.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::{StatusCode, header};
use fhir_model::format::parse_resource;
use fhir_model::outcome::IssueType;
use fhir_model::validate::ParseMode;
use serde_json::Value;

use super::negotiate::body_format;
use crate::AppState;
use crate::error::ApiError;
use crate::rest::interactions::Patch;

/// Reads the whole body, refusing more than `limit` bytes.
async fn read_limited(
    body: Body,
    declared: Option<usize>,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let too_long = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            IssueType::TooLong,
            format!("The request body exceeds the limit of {limit} bytes"),
        )
    };
    if declared.is_some_and(|n| n > limit) {
        return Err(too_long());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_long())
}

fn content_length(req: &Request) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// An unknown resource type in the URL is a 404 before the body is even read.
async fn check_path_type(req: Request, state: &AppState) -> Result<Request, ApiError> {
    let (mut parts, body) = req.into_parts();
    if let Ok(params) = RawPathParams::from_request_parts(&mut parts, state).await
        && let Some((_, t)) = params.iter().find(|(k, _)| *k == "res_type")
        && !fhir_model::definitions::is_resource_type(t)
    {
        return Err(ApiError::not_found(format!("Unknown resource type '{t}'")));
    }
    Ok(Request::from_parts(parts, body))
}

/// A FHIR resource from the request body, parsed and validated (strict mode).
#[derive(Debug)]
pub struct FhirBody(pub Value);

impl FromRequest<AppState> for FhirBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let req = check_path_type(req, state).await?;
        let format = body_format(req.headers())?;
        let declared = content_length(&req);
        let bytes = read_limited(req.into_body(), declared, state.config.max_body_bytes).await?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                IssueType::Required,
                "The request body is empty",
            ));
        }
        let parsed = parse_resource(&bytes, format, ParseMode::Strict)?;
        Ok(FhirBody(parsed.resource))
    }
}

/// A PATCH body: JSON Patch (`application/json-patch+json`) or FHIRPath Patch (a
/// Parameters resource in FHIR JSON or XML).
#[derive(Debug)]
pub struct PatchBody(pub Patch);

impl FromRequest<AppState> for PatchBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let req = check_path_type(req, state).await?;
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let declared = content_length(&req);
        if ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json-patch+json")
        {
            let bytes =
                read_limited(req.into_body(), declared, state.config.max_body_bytes).await?;
            let ops: Value = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::bad_request(
                    IssueType::Structure,
                    format!(
                        "Malformed JSON Patch: line {}, column {}",
                        e.line(),
                        e.column()
                    ),
                )
            })?;
            if !ops.is_array() {
                return Err(ApiError::bad_request(
                    IssueType::Structure,
                    "A JSON Patch document is an array of operations",
                ));
            }
            return Ok(PatchBody(Patch::Json(ops)));
        }
        let format = body_format(req.headers())?;
        let bytes = read_limited(req.into_body(), declared, state.config.max_body_bytes).await?;
        let parsed = parse_resource(&bytes, format, ParseMode::Strict)?;
        if parsed.resource.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
            return Err(ApiError::bad_request(
                IssueType::Invalid,
                "A FHIRPath Patch body is a Parameters resource; JSON Patch needs Content-Type application/json-patch+json",
            ));
        }
        Ok(PatchBody(Patch::FhirPath(parsed.resource)))
    }
}

/// The parameters of a form body (`application/x-www-form-urlencoded`), as `POST
/// [type]/_search` takes them.
#[derive(Debug)]
pub struct FormBody(pub Vec<(String, String)>);

impl FromRequest<AppState> for FormBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let req = check_path_type(req, state).await?;
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                IssueType::NotSupported,
                "POST _search takes an application/x-www-form-urlencoded body",
            ));
        }
        let declared = content_length(&req);
        let bytes = read_limited(req.into_body(), declared, state.config.max_body_bytes).await?;
        Ok(FormBody(
            form_urlencoded::parse(&bytes).into_owned().collect(),
        ))
    }
}
