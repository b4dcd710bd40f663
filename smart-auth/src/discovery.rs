//! The discovery documents: `.well-known/smart-configuration` and
//! `.well-known/openid-configuration`.
//!
//! Apps find every endpoint and what the server supports here
//! ([SMART Configuration](https://hl7.org/fhir/smart-app-launch/conformance.html#using-well-known),
//! [OpenID Connect Discovery 1.0 §3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata)).
//! They are plain serde structs: fields serialise in declaration order, so the documents
//! are byte-stable, and [`SmartConfiguration::for_base`] fills in what this server
//! implements so the server only chooses its URLs.
//!
//! The issuer is the FHIR base URL: SMART apps that sign users in with `openid fhirUser`
//! check the `id_token`'s `iss` against it, and both `.well-known` documents live under it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::keys::SigningAlgorithm;

/// A SMART capability
/// ([Capability Sets](https://hl7.org/fhir/smart-app-launch/conformance.html#capability-sets)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `launch-ehr`: EHR launch (the EHR passes a `launch` parameter).
    LaunchEhr,
    /// `launch-standalone`: the app launches on its own.
    LaunchStandalone,
    /// `authorize-post`: the authorize endpoint accepts POST.
    AuthorizePost,
    /// `client-public`: public clients (PKCE, no secret).
    ClientPublic,
    /// `client-confidential-symmetric`: confidential clients with a client secret.
    ClientConfidentialSymmetric,
    /// `client-confidential-asymmetric`: confidential clients with `private_key_jwt`.
    ClientConfidentialAsymmetric,
    /// `sso-openid-connect`: `openid fhirUser` yields an `id_token`.
    SsoOpenidConnect,
    /// `context-banner`: `need_patient_banner` in the token response.
    ContextBanner,
    /// `context-style`: `smart_style_url` in the token response.
    ContextStyle,
    /// `context-ehr-patient`: patient context in an EHR launch.
    ContextEhrPatient,
    /// `context-ehr-encounter`: encounter context in an EHR launch.
    ContextEhrEncounter,
    /// `context-standalone-patient`: a patient picker in a standalone launch.
    ContextStandalonePatient,
    /// `permission-offline`: `offline_access` refresh tokens.
    PermissionOffline,
    /// `permission-online`: `online_access` refresh tokens.
    PermissionOnline,
    /// `permission-patient`: `patient/` scopes.
    PermissionPatient,
    /// `permission-user`: `user/` scopes.
    PermissionUser,
    /// `permission-v1`: SMART v1 scope syntax (`.read`, `.write`, `.*`).
    PermissionV1,
    /// `permission-v2`: SMART v2 scope syntax (`.cruds`, granular `?…`).
    PermissionV2,
}

impl Capability {
    /// Every capability this server has, in the order the discovery document lists them.
    pub const ALL: [Capability; 18] = [
        Capability::LaunchEhr,
        Capability::LaunchStandalone,
        Capability::AuthorizePost,
        Capability::ClientPublic,
        Capability::ClientConfidentialSymmetric,
        Capability::ClientConfidentialAsymmetric,
        Capability::SsoOpenidConnect,
        Capability::ContextBanner,
        Capability::ContextStyle,
        Capability::ContextEhrPatient,
        Capability::ContextEhrEncounter,
        Capability::ContextStandalonePatient,
        Capability::PermissionOffline,
        Capability::PermissionOnline,
        Capability::PermissionPatient,
        Capability::PermissionUser,
        Capability::PermissionV1,
        Capability::PermissionV2,
    ];

    /// The name as written in the document (`"launch-ehr"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::LaunchEhr => "launch-ehr",
            Capability::LaunchStandalone => "launch-standalone",
            Capability::AuthorizePost => "authorize-post",
            Capability::ClientPublic => "client-public",
            Capability::ClientConfidentialSymmetric => "client-confidential-symmetric",
            Capability::ClientConfidentialAsymmetric => "client-confidential-asymmetric",
            Capability::SsoOpenidConnect => "sso-openid-connect",
            Capability::ContextBanner => "context-banner",
            Capability::ContextStyle => "context-style",
            Capability::ContextEhrPatient => "context-ehr-patient",
            Capability::ContextEhrEncounter => "context-ehr-encounter",
            Capability::ContextStandalonePatient => "context-standalone-patient",
            Capability::PermissionOffline => "permission-offline",
            Capability::PermissionOnline => "permission-online",
            Capability::PermissionPatient => "permission-patient",
            Capability::PermissionUser => "permission-user",
            Capability::PermissionV1 => "permission-v1",
            Capability::PermissionV2 => "permission-v2",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The grant types this server supports.
pub const GRANT_TYPES: [&str; 3] = ["authorization_code", "client_credentials", "refresh_token"];
/// The client authentication methods at the token endpoint.
pub const TOKEN_ENDPOINT_AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];
/// The scopes advertised in `scopes_supported` (the scope grammar accepts more: any
/// resource type, granular `?…` restrictions).
pub const SCOPES_SUPPORTED: [&str; 20] = [
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "patient/*.rs",
    "user/*.cruds",
    "user/*.rs",
    "system/*.cruds",
    "system/*.rs",
    "patient/*.read",
    "patient/*.write",
    "user/*.read",
    "user/*.write",
    "system/*.read",
    "system/*.write",
];

/// `.well-known/smart-configuration`
/// ([Metadata](https://hl7.org/fhir/smart-app-launch/conformance.html#response)).
///
/// ```
/// use smart_auth::SmartConfiguration;
///
/// let config = SmartConfiguration::for_base("https://h/fhir", "https://h/auth");
/// let json = serde_json::to_value(&config).unwrap();
/// assert_eq!(json["token_endpoint"], "https://h/auth/token");
/// assert_eq!(json["code_challenge_methods_supported"], serde_json::json!(["S256"]));
/// assert!(json["capabilities"].as_array().unwrap().contains(&"permission-v2".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmartConfiguration {
    /// The OpenID Connect issuer (required with `sso-openid-connect`).
    pub issuer: String,
    /// Where the server's public keys are (required with `sso-openid-connect`).
    pub jwks_uri: String,
    /// The authorize endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// Token introspection (RFC 7662).
    pub introspection_endpoint: String,
    /// Token revocation (RFC 7009).
    pub revocation_endpoint: String,
    /// `authorization_code`, `client_credentials`, `refresh_token`.
    pub grant_types_supported: Vec<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt`, `none`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `RS384`, `ES384`: what client assertions may be signed with.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// Scopes a client may ask for.
    pub scopes_supported: Vec<String>,
    /// `code`.
    pub response_types_supported: Vec<String>,
    /// `S256` only (SMART 2.x forbids `plain`).
    pub code_challenge_methods_supported: Vec<String>,
    /// What the server can do.
    pub capabilities: Vec<Capability>,
}

/// The endpoints under the authorization base URL, shared by both documents.
struct Endpoints {
    jwks_uri: String,
    authorization_endpoint: String,
    token_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    userinfo_endpoint: String,
}

impl Endpoints {
    fn under(auth_base: &str) -> Endpoints {
        let at = |path: &str| format!("{}/{path}", auth_base.trim_end_matches('/'));
        Endpoints {
            jwks_uri: at("jwks"),
            authorization_endpoint: at("authorize"),
            token_endpoint: at("token"),
            introspection_endpoint: at("introspect"),
            revocation_endpoint: at("revoke"),
            userinfo_endpoint: at("userinfo"),
        }
    }
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items.into_iter().map(str::to_owned).collect()
}

fn signing_algs() -> Vec<String> {
    SigningAlgorithm::ALL
        .iter()
        .map(|alg| alg.as_str().to_owned())
        .collect()
}

impl SmartConfiguration {
    /// The document for a server whose FHIR base is `fhir_base` (the issuer) and whose
    /// authorization endpoints sit under `auth_base`: `{auth_base}/authorize`, `/token`,
    /// `/introspect`, `/revoke` and `/jwks`. A trailing `/` on either is ignored.
    pub fn for_base(fhir_base: &str, auth_base: &str) -> SmartConfiguration {
        let endpoints = Endpoints::under(auth_base);
        SmartConfiguration {
            issuer: fhir_base.trim_end_matches('/').to_owned(),
            jwks_uri: endpoints.jwks_uri,
            authorization_endpoint: endpoints.authorization_endpoint,
            token_endpoint: endpoints.token_endpoint,
            introspection_endpoint: endpoints.introspection_endpoint,
            revocation_endpoint: endpoints.revocation_endpoint,
            grant_types_supported: strings(GRANT_TYPES),
            token_endpoint_auth_methods_supported: strings(TOKEN_ENDPOINT_AUTH_METHODS),
            token_endpoint_auth_signing_alg_values_supported: signing_algs(),
            scopes_supported: strings(SCOPES_SUPPORTED),
            response_types_supported: strings(["code"]),
            code_challenge_methods_supported: strings(["S256"]),
            capabilities: Capability::ALL.to_vec(),
        }
    }
}

/// `.well-known/openid-configuration`
/// ([OpenID Connect Discovery 1.0 §3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata)),
/// for apps that sign users in with `openid fhirUser`.
///
/// ```
/// use smart_auth::OpenIdConfiguration;
///
/// let config = OpenIdConfiguration::for_base("https://h/fhir", "https://h/auth");
/// assert_eq!(config.issuer, "https://h/fhir");
/// assert_eq!(config.id_token_signing_alg_values_supported, ["RS256"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIdConfiguration {
    /// The issuer: the `iss` of every `id_token`.
    pub issuer: String,
    /// The authorize endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The UserInfo endpoint.
    pub userinfo_endpoint: String,
    /// The server's public keys.
    pub jwks_uri: String,
    /// Scopes a client may ask for.
    pub scopes_supported: Vec<String>,
    /// `code`.
    pub response_types_supported: Vec<String>,
    /// `authorization_code`, `client_credentials`, `refresh_token`.
    pub grant_types_supported: Vec<String>,
    /// `public`: every client sees the same `sub` for a user.
    pub subject_types_supported: Vec<String>,
    /// What `id_token`s are signed with.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt`, `none`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `RS384`, `ES384`.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// Claims an `id_token` may carry (`fhirUser` among them).
    pub claims_supported: Vec<String>,
    /// `S256` only.
    pub code_challenge_methods_supported: Vec<String>,
}

impl OpenIdConfiguration {
    /// The document for the same URLs as [`SmartConfiguration::for_base`], plus
    /// `{auth_base}/userinfo`.
    pub fn for_base(fhir_base: &str, auth_base: &str) -> OpenIdConfiguration {
        let endpoints = Endpoints::under(auth_base);
        OpenIdConfiguration {
            issuer: fhir_base.trim_end_matches('/').to_owned(),
            authorization_endpoint: endpoints.authorization_endpoint,
            token_endpoint: endpoints.token_endpoint,
            userinfo_endpoint: endpoints.userinfo_endpoint,
            jwks_uri: endpoints.jwks_uri,
            scopes_supported: strings(SCOPES_SUPPORTED),
            response_types_supported: strings(["code"]),
            grant_types_supported: strings(GRANT_TYPES),
            subject_types_supported: strings(["public"]),
            // The server signs id tokens with RS256, as SMART and OIDC Core §15.1 require.
            id_token_signing_alg_values_supported: strings(["RS256"]),
            token_endpoint_auth_methods_supported: strings(TOKEN_ENDPOINT_AUTH_METHODS),
            token_endpoint_auth_signing_alg_values_supported: signing_algs(),
            claims_supported: strings([
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "fhirUser",
                "name",
            ]),
            code_challenge_methods_supported: strings(["S256"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn smart_configuration_document() {
        let config = SmartConfiguration::for_base("https://h/fhir/", "https://h/auth/");
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["issuer"], "https://h/fhir");
        assert_eq!(json["jwks_uri"], "https://h/auth/jwks");
        assert_eq!(json["authorization_endpoint"], "https://h/auth/authorize");
        assert_eq!(json["token_endpoint"], "https://h/auth/token");
        assert_eq!(json["introspection_endpoint"], "https://h/auth/introspect");
        assert_eq!(json["revocation_endpoint"], "https://h/auth/revoke");
        assert_eq!(
            json["grant_types_supported"],
            json!(["authorization_code", "client_credentials", "refresh_token"])
        );
        assert_eq!(
            json["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none"
            ])
        );
        assert_eq!(
            json["token_endpoint_auth_signing_alg_values_supported"],
            json!(["RS384", "ES384"])
        );
        assert_eq!(json["response_types_supported"], json!(["code"]));
        assert_eq!(json["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            json["capabilities"],
            json!([
                "launch-ehr",
                "launch-standalone",
                "authorize-post",
                "client-public",
                "client-confidential-symmetric",
                "client-confidential-asymmetric",
                "sso-openid-connect",
                "context-banner",
                "context-style",
                "context-ehr-patient",
                "context-ehr-encounter",
                "context-standalone-patient",
                "permission-offline",
                "permission-online",
                "permission-patient",
                "permission-user",
                "permission-v1",
                "permission-v2"
            ])
        );
        let scopes = json["scopes_supported"].as_array().unwrap();
        for scope in [
            "openid",
            "fhirUser",
            "launch/patient",
            "offline_access",
            "system/*.rs",
        ] {
            assert!(scopes.contains(&scope.into()), "{scope}");
        }
    }

    #[test]
    fn advertised_scopes_parse() {
        for scope in SCOPES_SUPPORTED {
            assert!(scope.parse::<crate::Scope>().is_ok(), "{scope}");
        }
    }

    #[test]
    fn capability_names_match_serde() {
        for capability in Capability::ALL {
            assert_eq!(
                serde_json::to_value(capability).unwrap(),
                capability.as_str(),
            );
            assert_eq!(capability.to_string(), capability.as_str());
        }
    }

    #[test]
    fn field_order_is_deterministic_and_round_trips() {
        let config = SmartConfiguration::for_base("https://h/fhir", "https://h/auth");
        let text = serde_json::to_string(&config).unwrap();
        let order = [
            "\"issuer\"",
            "\"jwks_uri\"",
            "\"authorization_endpoint\"",
            "\"token_endpoint\"",
            "\"introspection_endpoint\"",
            "\"revocation_endpoint\"",
            "\"grant_types_supported\"",
            "\"token_endpoint_auth_methods_supported\"",
            "\"token_endpoint_auth_signing_alg_values_supported\"",
            "\"scopes_supported\"",
            "\"response_types_supported\"",
            "\"code_challenge_methods_supported\"",
            "\"capabilities\"",
        ];
        let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.is_sorted(), "{text}");
        let back: SmartConfiguration = serde_json::from_str(&text).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn openid_configuration_document() {
        let config = OpenIdConfiguration::for_base("https://h/fhir", "https://h/auth");
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["issuer"], "https://h/fhir");
        assert_eq!(json["userinfo_endpoint"], "https://h/auth/userinfo");
        assert_eq!(json["jwks_uri"], "https://h/auth/jwks");
        assert_eq!(json["subject_types_supported"], json!(["public"]));
        assert_eq!(json["response_types_supported"], json!(["code"]));
        assert!(
            json["claims_supported"]
                .as_array()
                .unwrap()
                .contains(&"fhirUser".into())
        );
        // Same endpoints as the SMART document.
        let smart = SmartConfiguration::for_base("https://h/fhir", "https://h/auth");
        assert_eq!(config.token_endpoint, smart.token_endpoint);
        assert_eq!(config.authorization_endpoint, smart.authorization_endpoint);
        assert_eq!(config.jwks_uri, smart.jwks_uri);
        assert_eq!(config.issuer, smart.issuer);
    }
}
