//! Validating an authorization request
//! ([RFC 6749 §4.1.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1),
//! [SMART App Launch: obtain authorization code](https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code)).
//!
//! Everything the authorize endpoint must refuse is decided here, before the user sees a
//! login page, so that no code is ever issued for a request that would have failed:
//!
//! - The client and its `redirect_uri` are checked first. If either is wrong the error
//!   must not be sent to the redirect URI (RFC 6749 §4.1.2.1: that would make the server
//!   an open redirector); the server shows [`AuthorizeError::NoRedirect`] as a page.
//! - Every other error goes back to the app as a redirect with `error`,
//!   `error_description` and `state` ([`AuthorizeError::Redirect`],
//!   [`AuthorizeError::location`]).
//!
//! SMART 2.x rules beyond OAuth: `aud` must name this FHIR server (so a token cannot be
//! phished for another one), `state` is required, and PKCE with `S256` is mandatory.

use std::fmt;

use crate::clients::Client;
use crate::oauth_error::{OAuthError, OAuthErrorCode};
use crate::params::Params;
use crate::pkce;
use crate::scopes::{Scope, ScopeSet};

/// A valid authorization request: what the server keeps while the user signs in and
/// approves, and binds to the code it then issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The client, as registered.
    pub client_id: String,
    /// The registered redirect URI the request named.
    pub redirect_uri: String,
    /// The scopes requested, cut down to what the client may be granted
    /// ([`Client::grantable_scope`]); never empty.
    pub scope: ScopeSet,
    /// The app's `state`, returned unchanged with the code.
    pub state: String,
    /// The PKCE `S256` challenge, checked against the `code_verifier` at the token
    /// endpoint ([`pkce::verify`]).
    pub code_challenge: String,
    /// The EHR launch id (`launch` parameter), present whenever the `launch` scope is.
    pub launch: Option<String>,
    /// The `aud` parameter: the FHIR base URL, as the app wrote it.
    pub aud: String,
}

/// Why an authorization request was refused, and how to tell the user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client is unknown, or the `redirect_uri` is missing, repeated or not
    /// registered: show an error page; never redirect (RFC 6749 §4.1.2.1).
    NoRedirect {
        /// What is wrong, for the page.
        description: String,
    },
    /// Anything else: redirect to [`AuthorizeError::location`].
    Redirect {
        /// The client's registered redirect URI.
        redirect_uri: String,
        /// The `error` code.
        error: OAuthErrorCode,
        /// The `error_description`.
        description: String,
        /// The request's `state`, when it had one.
        state: Option<String>,
    },
}

impl AuthorizeError {
    /// For [`AuthorizeError::Redirect`], the URL to redirect to (`302 Found`): the
    /// redirect URI with `error`, `error_description` and `state` added to its query
    /// ([`append_query`]). `None` for [`AuthorizeError::NoRedirect`].
    pub fn location(&self) -> Option<String> {
        match self {
            AuthorizeError::NoRedirect { .. } => None,
            AuthorizeError::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => {
                let mut params = vec![("error", error.as_str())];
                if !description.is_empty() {
                    params.push(("error_description", description));
                }
                if let Some(state) = state {
                    params.push(("state", state));
                }
                Some(append_query(redirect_uri, &params))
            }
        }
    }

    /// The error description, whichever the variant.
    pub fn description(&self) -> &str {
        match self {
            AuthorizeError::NoRedirect { description }
            | AuthorizeError::Redirect { description, .. } => description,
        }
    }
}

impl fmt::Display for AuthorizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorizeError::NoRedirect { description } => f.write_str(description),
            AuthorizeError::Redirect {
                error, description, ..
            } => write!(f, "{error}: {description}"),
        }
    }
}

impl std::error::Error for AuthorizeError {}

impl AuthorizeRequest {
    /// Validates the authorize endpoint's parameters (`params`, decoded from the GET
    /// query or the POST form) for `client` (the registered client named by `client_id`,
    /// `None` when there is none) at the FHIR server `fhir_base`.
    ///
    /// Checked in this order:
    ///
    /// 1. `client_id` present and once, `client` known and the same →
    ///    else [`AuthorizeError::NoRedirect`];
    /// 2. `redirect_uri` present, once, and registered exactly → else `NoRedirect`;
    /// 3. no parameter repeated → `invalid_request` (RFC 6749 §3.1);
    /// 4. `response_type` is `code` → `invalid_request` when missing,
    ///    `unsupported_response_type` otherwise;
    /// 5. `state` present → `invalid_request`;
    /// 6. `aud` equals `fhir_base`, ignoring one trailing `/` on either → `invalid_request`;
    /// 7. `code_challenge_method` is `S256` (`plain` or missing refused) and
    ///    `code_challenge` is a well-formed S256 challenge → `invalid_request`;
    /// 8. `scope` present and every scope valid → `invalid_scope` naming the scope;
    /// 9. a `launch` parameter whenever the `launch` scope is requested → `invalid_request`;
    /// 10. something left of the scope after cutting it to the client's registration →
    ///     `invalid_scope`.
    ///
    /// Parameters sent empty count as absent (RFC 6749 §3.1); unknown parameters are
    /// ignored.
    pub fn parse(
        params: &[(String, String)],
        client: Option<&Client>,
        fhir_base: &str,
    ) -> Result<AuthorizeRequest, AuthorizeError> {
        let params = Params::new(params);
        let no_redirect = |e: OAuthError| AuthorizeError::NoRedirect {
            description: e.description,
        };

        let client_id = params.require("client_id").map_err(no_redirect)?;
        let client = match client {
            Some(client) if client.client_id == client_id => client,
            _ => {
                return Err(AuthorizeError::NoRedirect {
                    description: format!("unknown client `{client_id}`"),
                });
            }
        };
        let redirect_uri = params.require("redirect_uri").map_err(no_redirect)?;
        if !client.allows_redirect(redirect_uri) {
            return Err(AuthorizeError::NoRedirect {
                description: format!(
                    "redirect_uri `{redirect_uri}` is not registered for client `{client_id}`"
                ),
            });
        }

        // From here on, errors go back to the app. A repeated state cannot be echoed.
        let state = params.get("state").ok().flatten();
        let redirect = |e: OAuthError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            error: e.error,
            description: e.description,
            state: state.map(str::to_owned),
        };

        params.check_no_repeats().map_err(redirect)?;
        let response_type = params.require("response_type").map_err(redirect)?;
        if response_type != "code" {
            return Err(redirect(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                format!("response_type `{response_type}` is not supported; use `code`"),
            )));
        }
        let state = params.require("state").map_err(redirect)?;

        let aud = params.require("aud").map_err(redirect)?;
        if !same_base_url(aud, fhir_base) {
            return Err(redirect(OAuthError::invalid_request(format!(
                "aud `{aud}` is not this FHIR server (`{fhir_base}`)"
            ))));
        }

        pkce::parse_method(params.get("code_challenge_method").map_err(redirect)?)
            .map_err(|e| redirect(OAuthError::invalid_request(e.to_string())))?;
        let code_challenge = params.require("code_challenge").map_err(redirect)?;
        pkce::validate_challenge(code_challenge)
            .map_err(|e| redirect(OAuthError::invalid_request(e.to_string())))?;

        let scope_text = params
            .get("scope")
            .map_err(redirect)?
            .ok_or_else(|| redirect(OAuthError::invalid_scope("scope is required")))?;
        let requested = ScopeSet::parse(scope_text)
            .map_err(|e| redirect(OAuthError::invalid_scope(e.to_string())))?;
        if requested.is_empty() {
            return Err(redirect(OAuthError::invalid_scope("scope is required")));
        }

        let launch = params.get("launch").map_err(redirect)?;
        if requested.contains(&Scope::Launch) && launch.is_none() {
            return Err(redirect(OAuthError::invalid_request(
                "scope `launch` requires the `launch` parameter of the EHR launch",
            )));
        }

        let scope = client.grantable_scope(&requested);
        if scope.is_empty() {
            return Err(redirect(OAuthError::invalid_scope(format!(
                "none of the requested scopes may be granted to client `{client_id}`"
            ))));
        }

        Ok(AuthorizeRequest {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope,
            state: state.to_owned(),
            code_challenge: code_challenge.to_owned(),
            launch: launch.map(str::to_owned),
            aud: aud.to_owned(),
        })
    }
}

/// The redirect after approval (RFC 6749 §4.1.2): `redirect_uri` with `code` and `state`
/// added to its query.
///
/// ```
/// assert_eq!(
///     smart_auth::authorize::success_location("https://app.example/cb?x=1", "c0de", "s t"),
///     "https://app.example/cb?x=1&code=c0de&state=s+t"
/// );
/// ```
pub fn success_location(redirect_uri: &str, code: &str, state: &str) -> String {
    append_query(redirect_uri, &[("code", code), ("state", state)])
}

/// `uri` with `params` form-urlencoded into its query: after `?` when it has no query
/// yet, after `&` when it has one (nothing is added after a trailing `?` or `&`), and
/// before a `#fragment` if there is one.
pub fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let (base, fragment) = match uri.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (uri, None),
    };
    let mut out = base.to_owned();
    if !base.contains('?') {
        out.push('?');
    } else if !(base.ends_with('?') || base.ends_with('&')) {
        out.push('&');
    }
    out.push_str(
        &form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish(),
    );
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Whether two base URLs are the same, ignoring one trailing `/` on each.
fn same_base_url(a: &str, b: &str) -> bool {
    let trim = |s: &'_ str| -> String { s.strip_suffix('/').unwrap_or(s).to_owned() };
    !a.is_empty() && trim(a) == trim(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::ClientAuth;

    const BASE: &str = "https://ehr.example/fhir";
    const CB: &str = "https://app.example/cb";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> Client {
        Client {
            client_id: "app".to_owned(),
            name: Some("App".to_owned()),
            auth: ClientAuth::Public,
            redirect_uris: vec![CB.to_owned(), "https://app.example/other?x=1".to_owned()],
            scope: None,
        }
    }

    fn valid() -> Vec<(String, String)> {
        [
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", CB),
            (
                "scope",
                "launch/patient openid fhirUser patient/Observation.rs",
            ),
            ("state", "st4te"),
            ("aud", BASE),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// `valid()` with `name` set to `value` (`None` removes it).
    fn with(name: &str, value: Option<&str>) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> =
            valid().into_iter().filter(|(n, _)| n != name).collect();
        if let Some(value) = value {
            params.push((name.to_owned(), value.to_owned()));
        }
        params
    }

    fn parse(params: &[(String, String)]) -> Result<AuthorizeRequest, AuthorizeError> {
        AuthorizeRequest::parse(params, Some(&client()), BASE)
    }

    fn expect_no_redirect(result: Result<AuthorizeRequest, AuthorizeError>, text: &str) {
        match result {
            Err(error @ AuthorizeError::NoRedirect { .. }) => {
                assert!(error.description().contains(text), "{error}");
                assert_eq!(error.location(), None);
            }
            other => panic!("expected NoRedirect, got {other:?}"),
        }
    }

    fn expect_redirect(
        result: Result<AuthorizeRequest, AuthorizeError>,
        code: OAuthErrorCode,
        text: &str,
    ) -> AuthorizeError {
        match result {
            Err(
                ref error @ AuthorizeError::Redirect {
                    ref redirect_uri,
                    error: found,
                    ref description,
                    ..
                },
            ) => {
                assert_eq!(redirect_uri, CB);
                assert_eq!(found, code, "{description}");
                assert!(description.contains(text), "`{description}` lacks `{text}`");
                error.clone()
            }
            other => panic!("expected a Redirect, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_is_accepted() {
        assert_eq!(
            parse(&valid()).unwrap(),
            AuthorizeRequest {
                client_id: "app".to_owned(),
                redirect_uri: CB.to_owned(),
                scope: "launch/patient openid fhirUser patient/Observation.rs"
                    .parse()
                    .unwrap(),
                state: "st4te".to_owned(),
                code_challenge: CHALLENGE.to_owned(),
                launch: None,
                aud: BASE.to_owned(),
            }
        );
    }

    #[test]
    fn aud_ignores_one_trailing_slash() {
        let request = parse(&with("aud", Some("https://ehr.example/fhir/"))).unwrap();
        assert_eq!(request.aud, "https://ehr.example/fhir/");
        let slashed_base =
            AuthorizeRequest::parse(&valid(), Some(&client()), "https://ehr.example/fhir/");
        assert!(slashed_base.is_ok());
    }

    #[test]
    fn wrong_or_missing_aud_is_refused() {
        for aud in [
            Some("https://ehr.example/fhir//"),
            Some("https://ehr.example/fhir/Patient"),
            Some("https://ehr.example"),
            Some("https://EHR.example/fhir"),
            Some("http://ehr.example/fhir"),
            Some("https://evil.example/fhir"),
        ] {
            expect_redirect(
                parse(&with("aud", aud)),
                OAuthErrorCode::InvalidRequest,
                "is not this FHIR server",
            );
        }
        expect_redirect(
            parse(&with("aud", None)),
            OAuthErrorCode::InvalidRequest,
            "`aud` is required",
        );
        expect_redirect(
            parse(&with("aud", Some(""))),
            OAuthErrorCode::InvalidRequest,
            "`aud` is required",
        );
    }

    #[test]
    fn unknown_client_never_redirects() {
        expect_no_redirect(
            AuthorizeRequest::parse(&valid(), None, BASE),
            "unknown client `app`",
        );
        // The caller passed a client other than the one named.
        let other = Client {
            client_id: "other".to_owned(),
            ..client()
        };
        expect_no_redirect(
            AuthorizeRequest::parse(&valid(), Some(&other), BASE),
            "unknown client",
        );
        expect_no_redirect(parse(&with("client_id", None)), "`client_id` is required");
        let mut twice = valid();
        twice.push(("client_id".to_owned(), "app".to_owned()));
        expect_no_redirect(parse(&twice), "`client_id` is repeated");
    }

    #[test]
    fn bad_redirect_uri_never_redirects() {
        expect_no_redirect(
            parse(&with("redirect_uri", None)),
            "`redirect_uri` is required",
        );
        for uri in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://evil.example/cb",
            "https://app.example/other",
        ] {
            expect_no_redirect(parse(&with("redirect_uri", Some(uri))), "is not registered");
        }
        let mut twice = valid();
        twice.push(("redirect_uri".to_owned(), CB.to_owned()));
        expect_no_redirect(parse(&twice), "`redirect_uri` is repeated");
        // Even with other errors present, the redirect URI is judged first.
        let mut both = with("redirect_uri", Some("https://evil.example/cb"));
        both.retain(|(n, _)| n != "response_type");
        expect_no_redirect(parse(&both), "is not registered");
    }

    #[test]
    fn response_type_must_be_code() {
        for rt in ["token", "code id_token", "CODE", "id_token"] {
            expect_redirect(
                parse(&with("response_type", Some(rt))),
                OAuthErrorCode::UnsupportedResponseType,
                rt,
            );
        }
        expect_redirect(
            parse(&with("response_type", None)),
            OAuthErrorCode::InvalidRequest,
            "`response_type` is required",
        );
    }

    #[test]
    fn state_is_required() {
        let error = expect_redirect(
            parse(&with("state", None)),
            OAuthErrorCode::InvalidRequest,
            "`state` is required",
        );
        let AuthorizeError::Redirect { state, .. } = &error else {
            unreachable!()
        };
        assert_eq!(state, &None);
        assert_eq!(
            error.location().unwrap(),
            "https://app.example/cb?error=invalid_request&error_description=parameter+%60state%60+is+required"
        );
    }

    #[test]
    fn pkce_is_required_with_s256() {
        for method in [Some("plain"), None, Some("")] {
            expect_redirect(
                parse(&with("code_challenge_method", method)),
                OAuthErrorCode::InvalidRequest,
                "PKCE method `plain` is not allowed",
            );
        }
        expect_redirect(
            parse(&with("code_challenge_method", Some("s256"))),
            OAuthErrorCode::InvalidRequest,
            "unsupported PKCE method `s256`",
        );
        expect_redirect(
            parse(&with("code_challenge", None)),
            OAuthErrorCode::InvalidRequest,
            "`code_challenge` is required",
        );
        for bad in [
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        ] {
            expect_redirect(
                parse(&with("code_challenge", Some(bad))),
                OAuthErrorCode::InvalidRequest,
                "code_challenge is not an S256 challenge",
            );
        }
    }

    #[test]
    fn scope_is_required_and_must_parse() {
        for missing in [None, Some(""), Some("   ")] {
            expect_redirect(
                parse(&with("scope", missing)),
                OAuthErrorCode::InvalidScope,
                "scope is required",
            );
        }
        expect_redirect(
            parse(&with("scope", Some("openid patient/Observation.sr"))),
            OAuthErrorCode::InvalidScope,
            "patient/Observation.sr",
        );
        expect_redirect(
            parse(&with("scope", Some("openid email"))),
            OAuthErrorCode::InvalidScope,
            "unknown scope `email`",
        );
        expect_redirect(
            parse(&with("scope", Some("patient/observation.rs"))),
            OAuthErrorCode::InvalidScope,
            "`observation` is not a resource type",
        );
    }

    #[test]
    fn launch_scope_requires_the_launch_parameter() {
        let ehr_launch = with("scope", Some("launch openid patient/*.rs"));
        expect_redirect(
            parse(&ehr_launch),
            OAuthErrorCode::InvalidRequest,
            "requires the `launch` parameter",
        );
        let mut with_launch = ehr_launch.clone();
        with_launch.push(("launch".to_owned(), "xyz123".to_owned()));
        assert_eq!(
            parse(&with_launch).unwrap().launch.as_deref(),
            Some("xyz123")
        );
        // A launch parameter without the scope is kept, not required.
        let request = parse(&with("launch", Some("abc"))).unwrap();
        assert_eq!(request.launch.as_deref(), Some("abc"));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        for name in [
            "scope",
            "state",
            "aud",
            "response_type",
            "code_challenge",
            "launch",
        ] {
            let mut params = valid();
            params.push((name.to_owned(), "x".to_owned()));
            params.push((name.to_owned(), "y".to_owned()));
            let error = expect_redirect(
                parse(&params),
                OAuthErrorCode::InvalidRequest,
                &format!("`{name}` is repeated"),
            );
            let AuthorizeError::Redirect { state, .. } = error else {
                unreachable!()
            };
            // A repeated state is not echoed; a single one is.
            let expected = (name != "state").then(|| "st4te".to_owned());
            assert_eq!(state, expected, "{name}");
        }
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let mut params = valid();
        params.push(("prompt".to_owned(), "login".to_owned()));
        params.push(("nonce".to_owned(), "n".to_owned()));
        assert!(parse(&params).is_ok());
    }

    #[test]
    fn scope_is_cut_to_the_client_registration() {
        let limited = Client {
            scope: Some("openid launch/patient patient/*.rs".parse().unwrap()),
            ..client()
        };
        let params = with("scope", Some("openid fhirUser patient/Observation.cruds"));
        let request = AuthorizeRequest::parse(&params, Some(&limited), BASE).unwrap();
        assert_eq!(request.scope.to_string(), "openid patient/Observation.rs");

        let nothing = with("scope", Some("user/*.cruds fhirUser"));
        expect_redirect(
            AuthorizeRequest::parse(&nothing, Some(&limited), BASE),
            OAuthErrorCode::InvalidScope,
            "none of the requested scopes",
        );
    }

    #[test]
    fn error_location_carries_error_description_and_state() {
        let error = expect_redirect(
            parse(&with("response_type", Some("token"))),
            OAuthErrorCode::UnsupportedResponseType,
            "token",
        );
        assert_eq!(
            error.location().unwrap(),
            "https://app.example/cb?error=unsupported_response_type&error_description=response_type+%60token%60+is+not+supported%3B+use+%60code%60&state=st4te"
        );
        assert_eq!(
            error.to_string(),
            "unsupported_response_type: response_type `token` is not supported; use `code`"
        );
    }

    #[test]
    fn error_location_respects_an_existing_query() {
        let mut params = with("redirect_uri", Some("https://app.example/other?x=1"));
        params.retain(|(n, _)| n != "aud");
        let Err(error) = parse(&params) else {
            panic!("accepted")
        };
        assert_eq!(
            error.location().unwrap(),
            "https://app.example/other?x=1&error=invalid_request&error_description=parameter+%60aud%60+is+required&state=st4te"
        );
    }

    #[test]
    fn state_is_encoded_in_locations() {
        let error = AuthorizeError::Redirect {
            redirect_uri: CB.to_owned(),
            error: OAuthErrorCode::AccessDenied,
            description: String::new(),
            state: Some("a&b=c d#e".to_owned()),
        };
        assert_eq!(
            error.location().unwrap(),
            "https://app.example/cb?error=access_denied&state=a%26b%3Dc+d%23e"
        );
        assert_eq!(
            success_location(CB, "c/o+de", "a&b"),
            "https://app.example/cb?code=c%2Fo%2Bde&state=a%26b"
        );
    }

    #[test]
    fn append_query_cases() {
        let p = [("a", "1")];
        assert_eq!(append_query("https://x/cb", &p), "https://x/cb?a=1");
        assert_eq!(append_query("https://x/cb?", &p), "https://x/cb?a=1");
        assert_eq!(append_query("https://x/cb?y=2", &p), "https://x/cb?y=2&a=1");
        assert_eq!(
            append_query("https://x/cb?y=2&", &p),
            "https://x/cb?y=2&a=1"
        );
        assert_eq!(
            append_query("https://x/cb#frag", &p),
            "https://x/cb?a=1#frag"
        );
        assert_eq!(
            append_query("https://x/cb?y#f?g", &p),
            "https://x/cb?y&a=1#f?g"
        );
        assert_eq!(
            append_query("app://cb", &[("a", "é ü"), ("b", "")]),
            "app://cb?a=%C3%A9+%C3%BC&b="
        );
    }

    #[test]
    fn no_redirect_display() {
        let error = AuthorizeError::NoRedirect {
            description: "unknown client `x`".to_owned(),
        };
        assert_eq!(error.to_string(), "unknown client `x`");
        assert_eq!(error.description(), "unknown client `x`");
    }
}
