//! Token introspection responses ([RFC 7662 §2.2](https://www.rfc-editor.org/rfc/rfc7662#section-2.2),
//! [SMART token introspection](https://hl7.org/fhir/smart-app-launch/token-introspection.html)).
//!
//! Resource servers and apps that cannot read the access-token JWT themselves ask the
//! introspection endpoint whether a token is active and what it grants. The answer for
//! any token that is not active (unknown, malformed, expired, revoked, issued for another
//! audience) is the same bare `{"active": false}`: RFC 7662 §2.2 forbids saying why,
//! which would help an attacker probing tokens. The server decides "active" (by
//! [`crate::TokenService::verify`] and its revocation list) and passes the claims here.

use serde_json::{Map, Value, json};

use crate::tokens::AccessTokenClaims;

/// The introspection response body for a token whose verified, unrevoked claims are
/// `claims`, or for an inactive token (`None`).
///
/// An active token's response has `active: true`, `scope` (space-separated),
/// `client_id`, `sub`, `iss`, `aud`, `exp`, `iat`, `jti`, `token_type: "Bearer"`, and the
/// launch context the token carries (`patient`, `encounter`, `fhirUser`) when present.
///
/// ```
/// assert_eq!(
///     smart_auth::introspection::introspection_response(None),
///     serde_json::json!({"active": false})
/// );
/// ```
pub fn introspection_response(claims: Option<&AccessTokenClaims>) -> Value {
    let Some(claims) = claims else {
        return json!({ "active": false });
    };
    let mut body = Map::new();
    body.insert("active".to_owned(), Value::Bool(true));
    body.insert("scope".to_owned(), Value::String(claims.scope.to_string()));
    body.insert(
        "client_id".to_owned(),
        Value::String(claims.client_id.clone()),
    );
    body.insert("sub".to_owned(), Value::String(claims.sub.clone()));
    body.insert("iss".to_owned(), Value::String(claims.iss.clone()));
    body.insert("aud".to_owned(), Value::String(claims.aud.clone()));
    body.insert("exp".to_owned(), Value::from(claims.exp));
    body.insert("iat".to_owned(), Value::from(claims.iat));
    body.insert("jti".to_owned(), Value::String(claims.jti.clone()));
    body.insert("token_type".to_owned(), Value::String("Bearer".to_owned()));
    for (name, value) in [
        ("patient", &claims.patient),
        ("encounter", &claims.encounter),
        ("fhirUser", &claims.fhir_user),
    ] {
        if let Some(value) = value {
            body.insert(name.to_owned(), Value::String(value.clone()));
        }
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://ehr.example/auth".to_owned(),
            sub: "user-7".to_owned(),
            aud: "https://ehr.example/fhir".to_owned(),
            exp: 1_800_003_600,
            iat: 1_800_000_000,
            jti: "tok-1".to_owned(),
            scope: "launch/patient patient/Observation.rs openid"
                .parse()
                .unwrap(),
            client_id: "app".to_owned(),
            patient: None,
            encounter: None,
            fhir_user: None,
        }
    }

    #[test]
    fn inactive_is_exactly_active_false() {
        let body = introspection_response(None);
        assert_eq!(body, json!({"active": false}));
        assert_eq!(body.to_string(), r#"{"active":false}"#);
    }

    #[test]
    fn active_token_without_launch_context() {
        assert_eq!(
            introspection_response(Some(&claims())).to_string(),
            json!({
                "active": true,
                "scope": "launch/patient patient/Observation.rs openid",
                "client_id": "app",
                "sub": "user-7",
                "iss": "https://ehr.example/auth",
                "aud": "https://ehr.example/fhir",
                "exp": 1_800_003_600u64,
                "iat": 1_800_000_000u64,
                "jti": "tok-1",
                "token_type": "Bearer",
            })
            .to_string()
        );
    }

    #[test]
    fn launch_context_is_included_when_present() {
        let with_context = AccessTokenClaims {
            patient: Some("pat-1".to_owned()),
            encounter: Some("enc-1".to_owned()),
            fhir_user: Some("https://ehr.example/fhir/Practitioner/pr-1".to_owned()),
            ..claims()
        };
        let body = introspection_response(Some(&with_context));
        assert_eq!(body["active"], true);
        assert_eq!(body["patient"], "pat-1");
        assert_eq!(body["encounter"], "enc-1");
        assert_eq!(
            body["fhirUser"],
            "https://ehr.example/fhir/Practitioner/pr-1"
        );
        assert!(body.get("fhir_user").is_none());

        let patient_only = AccessTokenClaims {
            patient: Some("pat-1".to_owned()),
            ..claims()
        };
        let body = introspection_response(Some(&patient_only));
        assert_eq!(body["patient"], "pat-1");
        assert!(body.get("encounter").is_none());
        assert!(body.get("fhirUser").is_none());
    }
}
