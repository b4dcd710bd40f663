//! Access tokens as signed JWTs: issue and verify.
//!
//! SMART leaves the access-token format to the server. A self-contained signed JWT lets
//! the FHIR endpoints authorize a request from the token alone (signature, expiry,
//! issuer, audience, then the scopes and launch context in its claims) with no database
//! read per request; revocation before `exp` is the job of the (later) introspection and
//! revocation store. The audience is the FHIR base URL, so a token minted for this
//! server is refused by any other that shares the key, and vice versa.
//!
//! Time is an argument (`now`) everywhere, so expiry is tested without a clock.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::keys::{JwkSet, SigningKey};
use crate::scopes::ScopeSet;
use crate::{Error, jwt};

/// Default access-token lifetime: one hour (SMART recommends short-lived access tokens,
/// renewed with a refresh token).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Default clock-skew allowance on `exp`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// What the token service needs to know about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// The `iss` of every token (the authorization server's issuer URL).
    pub issuer: String,
    /// The `aud` of every token: the FHIR base URL the token is good for.
    pub audience: String,
    /// How long an access token lives.
    pub lifetime: Duration,
    /// Clock skew tolerated when checking `exp`.
    pub leeway: Duration,
}

impl TokenConfig {
    /// A configuration with [`DEFAULT_LIFETIME`] and [`DEFAULT_LEEWAY`].
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> TokenConfig {
        TokenConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            lifetime: DEFAULT_LIFETIME,
            leeway: DEFAULT_LEEWAY,
        }
    }
}

/// The launch context that travels with a token
/// ([Launch context](https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#launch-context-arrives-with-your-access_token)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchContext {
    /// `patient`: the id of the Patient in context (required by `patient/` scopes).
    pub patient: Option<String>,
    /// `encounter`: the id of the Encounter in context.
    pub encounter: Option<String>,
    /// `fhirUser`: the signed-in user's resource, e.g. `Practitioner/123` (with
    /// `openid fhirUser`).
    pub fhir_user: Option<String>,
}

/// What an authorization grants, as decided by the authorize or token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `sub`: the end user, or the client itself for Backend Services.
    pub subject: String,
    /// `client_id` of the app the token is issued to.
    pub client_id: String,
    /// The granted scopes.
    pub scope: ScopeSet,
    /// Patient, encounter and user in context.
    pub launch: LaunchContext,
}

/// The claims of an access token, in the order they are serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer ([`TokenConfig::issuer`]).
    pub iss: String,
    /// Subject: the user, or the client for Backend Services.
    pub sub: String,
    /// Audience: the FHIR base URL.
    pub aud: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: u64,
    /// Unique token id (128 random bits, base64url), for revocation and logs.
    pub jti: String,
    /// Granted scopes (space-separated in the JWT).
    pub scope: ScopeSet,
    /// The client the token was issued to.
    pub client_id: String,
    /// Patient in context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Encounter in context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// The user's FHIR resource (`fhirUser`).
    #[serde(rename = "fhirUser", default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
}

impl AccessTokenClaims {
    /// The launch context carried by the token.
    pub fn launch(&self) -> LaunchContext {
        LaunchContext {
            patient: self.patient.clone(),
            encounter: self.encounter.clone(),
            fhir_user: self.fhir_user.clone(),
        }
    }
}

/// A freshly signed access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWS, the `access_token` of the token response.
    pub access_token: String,
    /// Seconds until expiry, the `expires_in` of the token response.
    pub expires_in: u64,
    /// What was signed.
    pub claims: AccessTokenClaims,
}

/// Signs and verifies this server's access tokens with its [`SigningKey`].
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use smart_auth::{Grant, LaunchContext, SigningAlgorithm, SigningKey, TokenConfig, TokenService};
///
/// let key = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
/// let service = TokenService::new(key, TokenConfig::new("https://h/fhir", "https://h/fhir"));
/// let grant = Grant {
///     subject: "Practitioner/7".into(),
///     client_id: "growth-chart".into(),
///     scope: "launch/patient patient/Observation.rs".parse().unwrap(),
///     launch: LaunchContext { patient: Some("123".into()), ..Default::default() },
/// };
/// let now = SystemTime::now();
/// let issued = service.issue(&grant, now).unwrap();
/// assert_eq!(issued.expires_in, 3600);
///
/// let claims = service.verify(&issued.access_token, now + Duration::from_secs(60)).unwrap();
/// assert_eq!(claims.patient.as_deref(), Some("123"));
/// assert!(claims.scope.permits(
///     smart_auth::Context::Patient, "Observation", smart_auth::Interaction::Search));
/// // An hour and a minute later (past the 30 s leeway), it has expired.
/// assert!(service.verify(&issued.access_token, now + Duration::from_secs(3660)).is_err());
/// ```
#[derive(Debug)]
pub struct TokenService {
    key: SigningKey,
    config: TokenConfig,
}

impl TokenService {
    /// A service signing with `key` under `config`.
    pub fn new(key: SigningKey, config: TokenConfig) -> TokenService {
        TokenService { key, config }
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The configuration.
    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    /// The JWKS to publish at the `jwks_uri`.
    pub fn jwks(&self) -> JwkSet {
        self.key.jwks()
    }

    /// Signs an access token for `grant`, issued at `now`, expiring
    /// [`TokenConfig::lifetime`] later, with a fresh random `jti`.
    pub fn issue(&self, grant: &Grant, now: SystemTime) -> Result<IssuedToken, Error> {
        self.issue_for(grant, now, self.config.lifetime)
    }

    /// Like [`TokenService::issue`], for a token living `lifetime` (at most the
    /// configured one): Backend Services tokens live five minutes at most.
    pub fn issue_for(
        &self,
        grant: &Grant,
        now: SystemTime,
        lifetime: Duration,
    ) -> Result<IssuedToken, Error> {
        let iat = jwt::unix_seconds(now);
        let expires_in = lifetime.min(self.config.lifetime).as_secs();
        let claims = AccessTokenClaims {
            iss: self.config.issuer.clone(),
            sub: grant.subject.clone(),
            aud: self.config.audience.clone(),
            exp: iat.saturating_add(expires_in),
            iat,
            jti: random_id(),
            scope: grant.scope.clone(),
            client_id: grant.client_id.clone(),
            patient: grant.launch.patient.clone(),
            encounter: grant.launch.encounter.clone(),
            fhir_user: grant.launch.fhir_user.clone(),
        };
        let access_token = self.key.sign(&claims)?;
        Ok(IssuedToken {
            access_token,
            expires_in,
            claims,
        })
    }

    /// Verifies an access token at time `now`: header `alg` and `kid` are this key's,
    /// the signature holds, `exp` is not past (beyond [`TokenConfig::leeway`]), `iss` is
    /// [`TokenConfig::issuer`] and `aud` is [`TokenConfig::audience`]. Returns the claims.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<AccessTokenClaims, Error> {
        let claims: AccessTokenClaims = self.key.verify_signature(token)?;
        jwt::check_times(
            claims.exp,
            None,
            jwt::unix_seconds(now),
            self.config.leeway.as_secs(),
        )?;
        if claims.iss != self.config.issuer {
            return Err(Error::WrongIssuer {
                expected: self.config.issuer.clone(),
                found: claims.iss,
            });
        }
        if claims.aud != self.config.audience {
            return Err(Error::WrongAudience {
                expected: self.config.audience.clone(),
            });
        }
        Ok(claims)
    }
}

/// 128 random bits, base64url: token ids.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::keys::SigningAlgorithm;

    const BASE: &str = "https://h/fhir";
    const T0: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn pem() -> &'static str {
        static PEM: OnceLock<String> = OnceLock::new();
        PEM.get_or_init(|| {
            SigningKey::generate(SigningAlgorithm::Es384)
                .unwrap()
                .to_pem()
                .unwrap()
        })
    }

    fn service() -> TokenService {
        service_with(TokenConfig::new(BASE, BASE))
    }

    fn service_with(config: TokenConfig) -> TokenService {
        TokenService::new(SigningKey::from_pem(pem()).unwrap(), config)
    }

    fn grant() -> Grant {
        Grant {
            subject: "Practitioner/7".to_owned(),
            client_id: "app".to_owned(),
            scope: "openid fhirUser launch patient/Observation.rs user/Patient.r"
                .parse()
                .unwrap(),
            launch: LaunchContext {
                patient: Some("123".to_owned()),
                encounter: Some("enc-1".to_owned()),
                fhir_user: Some("Practitioner/7".to_owned()),
            },
        }
    }

    #[test]
    fn issued_token_round_trips_with_every_claim() {
        let service = service();
        let issued = service.issue(&grant(), at(T0)).unwrap();
        assert_eq!(issued.expires_in, 3600);
        let claims = service.verify(&issued.access_token, at(T0 + 10)).unwrap();
        assert_eq!(claims, issued.claims);
        assert_eq!(claims.iss, BASE);
        assert_eq!(claims.aud, BASE);
        assert_eq!(claims.sub, "Practitioner/7");
        assert_eq!(claims.iat, T0);
        assert_eq!(claims.exp, T0 + 3600);
        assert_eq!(claims.client_id, "app");
        assert_eq!(claims.launch(), grant().launch);
        assert_eq!(claims.jti.len(), 22);
        assert_eq!(claims.scope, grant().scope);
    }

    #[test]
    fn claims_are_serialised_in_a_fixed_order_with_smart_names() {
        let issued = service().issue(&grant(), at(T0)).unwrap();
        let json = serde_json::to_string(&issued.claims).unwrap();
        let keys = [
            "\"iss\"",
            "\"sub\"",
            "\"aud\"",
            "\"exp\"",
            "\"iat\"",
            "\"jti\"",
            "\"scope\"",
            "\"client_id\"",
            "\"patient\"",
            "\"encounter\"",
            "\"fhirUser\"",
        ];
        let positions: Vec<usize> = keys.iter().map(|k| json.find(k).unwrap()).collect();
        assert!(positions.is_sorted(), "{json}");
        assert!(
            json.contains(
                r#""scope":"openid fhirUser launch patient/Observation.rs user/Patient.r""#
            )
        );
        // Absent context is left out, not null.
        let mut bare = grant();
        bare.launch = LaunchContext::default();
        let issued = service().issue(&bare, at(T0)).unwrap();
        let json = serde_json::to_string(&issued.claims).unwrap();
        assert!(!json.contains("patient\""), "{json}");
        assert!(!json.contains("null"), "{json}");
    }

    #[test]
    fn every_token_gets_its_own_jti() {
        let service = service();
        let a = service.issue(&grant(), at(T0)).unwrap();
        let b = service.issue(&grant(), at(T0)).unwrap();
        assert_ne!(a.claims.jti, b.claims.jti);
    }

    #[test]
    fn expiry_with_leeway() {
        let service = service();
        let token = service.issue(&grant(), at(T0)).unwrap().access_token;
        assert!(service.verify(&token, at(T0 + 3600 + 30)).is_ok());
        assert_eq!(
            service.verify(&token, at(T0 + 3600 + 31)).unwrap_err(),
            Error::Expired {
                exp: T0 + 3600,
                now: T0 + 3631
            }
        );
    }

    #[test]
    fn wrong_issuer_and_audience_are_refused() {
        let token = service().issue(&grant(), at(T0)).unwrap().access_token;
        let other_iss = service_with(TokenConfig::new("https://other/auth", BASE));
        assert_eq!(
            other_iss.verify(&token, at(T0)).unwrap_err(),
            Error::WrongIssuer {
                expected: "https://other/auth".to_owned(),
                found: BASE.to_owned()
            }
        );
        let other_aud = service_with(TokenConfig::new(BASE, "https://other/fhir"));
        assert_eq!(
            other_aud.verify(&token, at(T0)).unwrap_err(),
            Error::WrongAudience {
                expected: "https://other/fhir".to_owned()
            }
        );
    }

    #[test]
    fn another_key_or_a_tampered_token_is_refused() {
        let token = service().issue(&grant(), at(T0)).unwrap().access_token;
        let stranger = TokenService::new(
            SigningKey::generate(SigningAlgorithm::Es384).unwrap(),
            TokenConfig::new(BASE, BASE),
        );
        assert!(matches!(
            stranger.verify(&token, at(T0)),
            Err(Error::UnknownKeyId(_))
        ));

        // Widen the scope in the payload and keep the signature.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["scope"] = "system/*.cruds".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        assert_eq!(
            service().verify(&forged, at(T0)).unwrap_err(),
            Error::InvalidSignature
        );
        assert!(matches!(
            service().verify("not.a.jwt", at(T0)),
            Err(Error::MalformedJwt(_))
        ));
    }

    #[test]
    fn rs384_tokens_verify_too() {
        let key = SigningKey::generate(SigningAlgorithm::Rs384).unwrap();
        let service = TokenService::new(key, TokenConfig::new(BASE, BASE));
        let issued = service.issue(&grant(), at(T0)).unwrap();
        assert_eq!(
            service.verify(&issued.access_token, at(T0)).unwrap(),
            issued.claims
        );
        assert_eq!(
            serde_json::to_value(service.jwks()).unwrap()["keys"][0]["alg"],
            "RS384"
        );
    }
}
