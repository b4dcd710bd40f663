//! The server's one error type, and the one place errors become HTTP responses.
//!
//! Every 4xx/5xx body is an OperationOutcome with the IssueType that fits and, where
//! known, the element path. 5xx details are logged (with the request id, by the span
//! they happen in) and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fhir_model::ModelError;
use fhir_model::outcome::{Issue, IssueType, operation_outcome};

use crate::store::StoreError;

/// An error answered with an OperationOutcome.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The issues (at least one).
    pub issues: Vec<Issue>,
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3).
    pub challenge: Option<String>,
}

impl ApiError {
    /// An error with one issue.
    pub fn new(status: StatusCode, code: IssueType, diagnostics: impl Into<String>) -> Self {
        ApiError {
            status,
            issues: vec![Issue::error(code, diagnostics)],
            challenge: None,
        }
    }

    /// 400 with the given issue type.
    pub fn bad_request(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, diagnostics)
    }

    /// 404 not-found.
    pub fn not_found(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, IssueType::NotFound, diagnostics)
    }

    /// 410 deleted.
    pub fn gone(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, IssueType::Deleted, diagnostics)
    }

    /// 409 conflict.
    pub fn conflict(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, IssueType::Conflict, diagnostics)
    }

    /// 412 precondition failed (version mismatch, several matches of a condition).
    pub fn precondition_failed(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, code, diagnostics)
    }

    /// 405 for an interaction this endpoint does not offer.
    pub fn method_not_allowed(diagnostics: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            IssueType::NotSupported,
            diagnostics,
        )
    }

    /// 401 with a Bearer challenge (RFC 6750 §3): `error` is `None` when the request
    /// carried no token at all, `invalid_token` when the token is not good.
    pub fn unauthorized(error: Option<&str>, diagnostics: impl Into<String>) -> Self {
        let diagnostics = diagnostics.into();
        let challenge = match error {
            None => "Bearer realm=\"HealthOS\"".to_owned(),
            Some(error) => format!(
                "Bearer realm=\"HealthOS\", error=\"{error}\", error_description=\"{}\"",
                diagnostics.replace(['"', '\\'], "'")
            ),
        };
        let mut e = Self::new(StatusCode::UNAUTHORIZED, IssueType::Login, diagnostics);
        e.challenge = Some(challenge);
        e
    }

    /// 403: the token is good but does not allow this.
    pub fn forbidden(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, IssueType::Forbidden, diagnostics)
    }

    /// 403 because no scope of the token covers the request, with the
    /// `error="insufficient_scope"` challenge of RFC 6750 §3.1.
    pub fn insufficient_scope(diagnostics: impl Into<String>) -> Self {
        let mut e = Self::forbidden(diagnostics);
        e.challenge = Some("Bearer realm=\"HealthOS\", error=\"insufficient_scope\"".to_owned());
        e
    }

    /// 500; the detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            IssueType::Exception,
            "Internal server error",
        )
    }

    /// The same error with its first issue located at an element path.
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        if let Some(first) = self.issues.first_mut() {
            first.expression = Some(expression.into());
        }
        self
    }

    /// This error's OperationOutcome.
    pub fn outcome(&self) -> serde_json::Value {
        operation_outcome(&self.issues)
    }
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            issues: e.issues(),
            challenge: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Job(e) => *e,
            StoreError::Conflict(what) => ApiError::conflict(format!(
                "A concurrent request changed the same resource ({what}); retry"
            )),
            StoreError::Database(e) => ApiError::internal(e),
            StoreError::Criteria(why) => ApiError::bad_request(IssueType::Value, why),
            StoreError::WriterGone => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                IssueType::Exception,
                "The server is shutting down",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = fhir_model::format::to_json(&self.outcome(), false);
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::http::FHIR_JSON),
        );
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}
