//! `smart`: [SMART App Launch 2.0](https://hl7.org/fhir/smart-app-launch/) against the
//! server, which must run with SMART authorization on. The cases that need no
//! credentials run: discovery, the CapabilityStatement's oauth-uris, 401 without a token.
//! The flows that need a registered client and a user (launches, scopes, refresh,
//! Backend Services, introspection) are reported as not run until the CLI can be given
//! credentials; the server's own HTTP tests cover them (`fhir-server/tests/it/smart_*`).

use crate::suites::WAITS_ON_SMART;
use crate::{Case, Client, ConformanceError, Failure, SuiteConfig};

/// The cases that wait on issue 5, with what each will check.
const WAITING: &[(&str, &str)] = &[
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
    let mut cases = vec![
        Case::http("smart/discovery", |c| Box::pin(discovery(c))),
        Case::http("smart/capability-oauth-uris", |c| {
            Box::pin(capability_oauth_uris(c))
        }),
        Case::http("smart/no-token-401", |c| Box::pin(no_token_401(c))),
    ];
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

/// `GET [base]/metadata` (no token needed): `rest[0].security` names the SMART service
/// and carries the `oauth-uris` extension with `authorize` and `token`.
async fn capability_oauth_uris(c: &Client) -> Result<(), Failure> {
    let ex = c.get("metadata").send().await?;
    ex.expect_status(&[200])?;
    let v = ex.json()?;
    let security = &v["rest"][0]["security"];
    ex.ensure(
        security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR",
        "rest.security.service SMART-on-FHIR",
    )?;
    let uris = security["extension"]
        .as_array()
        .and_then(|e| {
            e.iter().find(|x| {
                x["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
            })
        })
        .and_then(|x| x["extension"].as_array());
    for name in ["authorize", "token"] {
        ex.ensure(
            uris.is_some_and(|u| {
                u.iter()
                    .any(|x| x["url"] == name && x["valueUri"].is_string())
            }),
            format!("oauth-uris {name}"),
        )?;
    }
    Ok(())
}

/// `GET [base]/Patient` without a token: 401, a `WWW-Authenticate: Bearer` challenge and
/// an OperationOutcome.
async fn no_token_401(c: &Client) -> Result<(), Failure> {
    let ex = c.get("Patient").send().await?;
    ex.expect_status(&[401])?;
    ex.ensure(
        ex.header("www-authenticate")
            .is_some_and(|h| h.to_ascii_lowercase().starts_with("bearer")),
        "WWW-Authenticate: Bearer",
    )?;
    let v = ex.json()?;
    ex.ensure(
        v["resourceType"] == "OperationOutcome",
        "an OperationOutcome body",
    )
}
