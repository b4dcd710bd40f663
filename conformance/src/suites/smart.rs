//! `smart`: [SMART App Launch 2.0](https://hl7.org/fhir/smart-app-launch/) against the
//! server. SMART is issue 5: the suite is registered now so its cases are counted and
//! reported. Discovery runs today (and is a known failure until issue 5 lands); every
//! other case is reported as not run with the issue it waits on.

use crate::suites::WAITS_ON_SMART;
use crate::{Case, Client, ConformanceError, Failure, SuiteConfig};

/// The cases that wait on issue 5, with what each will check.
const WAITING: &[(&str, &str)] = &[
    (
        "capability-oauth-uris",
        "CapabilityStatement rest.security carries the oauth-uris extension",
    ),
    (
        "no-token-401",
        "a request without a token gets 401 with an OperationOutcome",
    ),
    (
        "standalone-launch",
        "authorization-code flow with PKCE issues a token with patient context",
    ),
    (
        "ehr-launch",
        "EHR launch with a launch parameter resolves the launch context",
    ),
    (
        "scope-patient-read",
        "patient/*.read allows reading the context patient's data only",
    ),
    ("scope-denies-write", "a read-only scope gets 403 on create"),
    (
        "scope-v2-cruds",
        "SMART v2 scopes (patient/Observation.rs) are honoured",
    ),
    (
        "refresh-token",
        "offline_access issues a refresh token that can be exchanged",
    ),
    (
        "backend-services",
        "client-credentials with a private-key JWT (--client-id/--private-key)",
    ),
    (
        "token-introspection",
        "the introspection endpoint reports active tokens",
    ),
];

/// Discovery, then the waiting cases.
pub fn load(_config: &SuiteConfig) -> Result<Vec<Case>, ConformanceError> {
    let mut cases = vec![Case::http("smart/discovery", |c| Box::pin(discovery(c)))];
    cases.extend(WAITING.iter().map(|(name, what)| {
        Case::not_run(format!("smart/{name}"), format!("{WAITS_ON_SMART}: {what}"))
    }));
    Ok(cases)
}

/// `GET [base]/.well-known/smart-configuration`: 200 JSON with the endpoints and
/// capabilities the SMART spec requires.
async fn discovery(c: &Client) -> Result<(), Failure> {
    let ex = c
        .get(".well-known/smart-configuration")
        .header("Accept", "application/json")
        .send()
        .await?;
    ex.expect_status(&[200])?;
    ex.ensure(
        ex.media_type().as_deref() == Some("application/json"),
        "Content-Type application/json",
    )?;
    let v = ex.json()?;
    for field in ["authorization_endpoint", "token_endpoint"] {
        ex.ensure(v[field].is_string(), field.to_string())?;
    }
    ex.ensure(v["capabilities"].is_array(), "capabilities")?;
    ex.ensure(
        v["grant_types_supported"].is_array(),
        "grant_types_supported",
    )?;
    ex.ensure(
        v["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x == "S256")),
        "code_challenge_methods_supported with S256",
    )
}
