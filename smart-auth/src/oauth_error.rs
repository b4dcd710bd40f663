//! OAuth 2.0 error responses ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2),
//! [§4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)).
//!
//! The authorization endpoints do not answer with OperationOutcomes: OAuth clients expect
//! `{"error": "invalid_grant", "error_description": "…"}` bodies from the token,
//! introspection and revocation endpoints, and `error=…&error_description=…` query
//! parameters on a redirect from the authorize endpoint. [`OAuthError`] is that answer,
//! decided here and rendered by the server; its [`OAuthErrorCode`] is one of the codes the
//! RFC registers, so a client can act on it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The `error` codes of RFC 6749 §4.1.2.1 and §5.2 that this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// A required parameter is missing, a parameter is repeated or malformed, or more
    /// than one client authentication method is used.
    InvalidRequest,
    /// Client authentication failed: unknown client, no or wrong credentials, or an
    /// authentication method the client is not registered for.
    InvalidClient,
    /// The authorization code or refresh token is invalid, expired, revoked, issued to
    /// another client or for another redirect URI, or the PKCE verifier does not match.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The `grant_type` is not supported by this server.
    UnsupportedGrantType,
    /// A requested scope is invalid, unknown, or beyond what the client may be granted.
    InvalidScope,
    /// The user (or the server) refused the request.
    AccessDenied,
    /// The authorize endpoint only supports `response_type=code`.
    UnsupportedResponseType,
    /// An unexpected condition on the server (as a redirect, where no 500 can be sent).
    ServerError,
}

impl OAuthErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [OAuthErrorCode; 9] = [
        OAuthErrorCode::InvalidRequest,
        OAuthErrorCode::InvalidClient,
        OAuthErrorCode::InvalidGrant,
        OAuthErrorCode::UnauthorizedClient,
        OAuthErrorCode::UnsupportedGrantType,
        OAuthErrorCode::InvalidScope,
        OAuthErrorCode::AccessDenied,
        OAuthErrorCode::UnsupportedResponseType,
        OAuthErrorCode::ServerError,
    ];

    /// The code as sent in `error` (`"invalid_request"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::ServerError => "server_error",
        }
    }

    /// The HTTP status of a JSON error response with this code: 400 (RFC 6749 §5.2),
    /// except `invalid_client`, 401 (the response then carries a `WWW-Authenticate`
    /// header, e.g. `Basic realm="token"`), and `server_error`, 500.
    ///
    /// `server_error` is 500 rather than 400 because RFC 6749 only defines it for the
    /// authorize redirect, which cannot carry a status of its own; at the token endpoint
    /// a server fault is not the client's bad request.
    pub fn http_status(self) -> u16 {
        match self {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error: a registered code and a human-readable description.
///
/// ```
/// use smart_auth::{OAuthError, OAuthErrorCode};
///
/// let error = OAuthError::new(OAuthErrorCode::InvalidGrant, "authorization code expired");
/// assert_eq!(error.http_status(), 400);
/// assert_eq!(
///     error.to_json(),
///     serde_json::json!({"error": "invalid_grant", "error_description": "authorization code expired"})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    /// The `error` code.
    pub error: OAuthErrorCode,
    /// The `error_description`: ASCII without `"` and `\` (RFC 6749 §5.2), which
    /// [`OAuthError::new`] ensures.
    pub description: String,
}

impl OAuthError {
    /// An error with `code` and `description`. Characters RFC 6749 §5.2 does not allow
    /// in an `error_description` (non-ASCII, control characters, `"` and `\`) are
    /// replaced by `?`, so a description quoting client input stays valid.
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error: code,
            description: sanitize_description(&description.into()),
        }
    }

    /// `invalid_request` with `description`.
    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` with `description`.
    pub fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidClient, description)
    }

    /// `invalid_grant` with `description`.
    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidGrant, description)
    }

    /// `invalid_scope` with `description`.
    pub fn invalid_scope(description: impl Into<String>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidScope, description)
    }

    /// The HTTP status of the JSON response ([`OAuthErrorCode::http_status`]).
    pub fn http_status(&self) -> u16 {
        self.error.http_status()
    }

    /// The JSON body: `{"error": …, "error_description": …}` (the description is left
    /// out when empty). Sent with `Cache-Control: no-store`.
    pub fn to_json(&self) -> Value {
        if self.description.is_empty() {
            json!({ "error": self.error.as_str() })
        } else {
            json!({ "error": self.error.as_str(), "error_description": self.description })
        }
    }
}

/// RFC 6749 §5.2: `error_description` characters are `%x20-21 / %x23-5B / %x5D-7E`.
fn sanitize_description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_spelled_as_registered() {
        let names: Vec<&str> = OAuthErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
                "access_denied",
                "unsupported_response_type",
                "server_error",
            ]
        );
        for code in OAuthErrorCode::ALL {
            assert_eq!(code.to_string(), code.as_str());
            // serde agrees with as_str, both ways.
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
            assert_eq!(
                serde_json::from_value::<OAuthErrorCode>(json!(code.as_str())).unwrap(),
                code
            );
        }
        assert!(serde_json::from_value::<OAuthErrorCode>(json!("invalid_token")).is_err());
    }

    #[test]
    fn statuses() {
        for code in OAuthErrorCode::ALL {
            let expected = match code {
                OAuthErrorCode::InvalidClient => 401,
                OAuthErrorCode::ServerError => 500,
                _ => 400,
            };
            assert_eq!(code.http_status(), expected, "{code}");
            assert_eq!(OAuthError::new(code, "x").http_status(), expected);
        }
    }

    #[test]
    fn json_body() {
        assert_eq!(
            OAuthError::invalid_client("unknown client").to_json(),
            json!({"error": "invalid_client", "error_description": "unknown client"})
        );
        assert_eq!(
            OAuthError::new(OAuthErrorCode::AccessDenied, "").to_json(),
            json!({"error": "access_denied"})
        );
    }

    #[test]
    fn constructors_set_their_codes() {
        assert_eq!(
            OAuthError::invalid_request("a").error,
            OAuthErrorCode::InvalidRequest
        );
        assert_eq!(
            OAuthError::invalid_client("a").error,
            OAuthErrorCode::InvalidClient
        );
        assert_eq!(
            OAuthError::invalid_grant("a").error,
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            OAuthError::invalid_scope("a").error,
            OAuthErrorCode::InvalidScope
        );
    }

    #[test]
    fn descriptions_keep_to_the_allowed_characters() {
        let error = OAuthError::invalid_scope("scope `a\"b\\c`: caf\u{e9}\n\tok ~!");
        assert_eq!(error.description, "scope `a?b?c`: caf???ok ~!");
        assert_eq!(
            error.to_string(),
            "invalid_scope: scope `a?b?c`: caf???ok ~!"
        );
    }
}
