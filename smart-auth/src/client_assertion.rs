//! Backend Services client authentication: verifying a `client_assertion`
//! (`private_key_jwt`,
//! [SMART Backend Services](https://hl7.org/fhir/smart-app-launch/backend-services.html#authenticating-to-the-token-endpoint),
//! [RFC 7523 §3](https://www.rfc-editor.org/rfc/rfc7523#section-3)).
//!
//! A backend client proves who it is by signing a short-lived JWT with a key whose public
//! half it registered (a JWKS). The token endpoint:
//!
//! 1. checks `client_assertion_type` ([`check_assertion_type`]);
//! 2. reads the claimed client id from the unverified assertion ([`claimed_client_id`])
//!    to look the client and its JWKS up;
//! 3. calls [`AssertionPolicy::verify`], which checks the header (`alg` RS384/ES384, a
//!    `kid` naming a key of that JWKS that fits the `alg`), the signature, then `iss` =
//!    `sub` = client id, `aud` = the token endpoint, `exp` not past and at most five
//!    minutes ahead;
//! 4. refuses the assertion if the returned [`VerifiedAssertion::jti`] was seen before
//!    (until its `exp`): replay protection needs storage, so it is the caller's.
//!
//! A `jku` header is ignored: the signature is always checked against the registered
//! JWKS, never against keys fetched from a URL named by the assertion itself.

use std::time::{Duration, SystemTime};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use crate::keys::{JwkSet, SigningAlgorithm};
use crate::{Error, jwt};

/// The only `client_assertion_type` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may live: its `exp` is at most this far ahead of now (SMART
/// Backend Services: "no more than five minutes in the future").
pub const MAX_LIFETIME: Duration = Duration::from_secs(300);
/// Default clock-skew allowance, applied to `exp` both ways and to `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// Signs a client assertion: the client side of Backend Services, for a sync that pulls
/// from another server. `iss` = `sub` = `client_id`, `aud` = the token endpoint, `exp`
/// four minutes after `now` (inside [`MAX_LIFETIME`] with room for clock skew), `jti` the
/// caller's unique id.
pub fn sign_assertion(
    key: &crate::keys::SigningKey,
    client_id: &str,
    token_url: &str,
    now: SystemTime,
    jti: &str,
) -> Result<String, Error> {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|e| Error::Signing(e.to_string()))?
        .as_secs();
    key.sign(&serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "exp": secs + 240,
        "jti": jti,
    }))
}

/// Checks the `client_assertion_type` form parameter.
pub fn check_assertion_type(assertion_type: &str) -> Result<(), Error> {
    if assertion_type == JWT_BEARER {
        Ok(())
    } else {
        Err(Error::WrongAssertionType(assertion_type.to_owned()))
    }
}

#[derive(Debug, Deserialize)]
struct Claimed {
    iss: String,
}

/// The `iss` of an assertion, **not verified**: only to find the client whose JWKS
/// [`AssertionPolicy::verify`] then checks it against.
pub fn claimed_client_id(assertion: &str) -> Result<String, Error> {
    jwt::read_claims_unverified::<Claimed>(assertion).map(|claims| claims.iss)
}

/// The claims RFC 7523 and SMART require; a missing one makes the JWT malformed.
#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: jwt::Audience,
    exp: u64,
    jti: String,
    #[serde(default)]
    nbf: Option<u64>,
}

/// A client assertion that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The authenticated client (`iss` = `sub`).
    pub client_id: String,
    /// The assertion's unique id: the caller refuses one seen before, and may forget it
    /// after [`VerifiedAssertion::exp`].
    pub jti: String,
    /// The assertion's expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// The key that signed it.
    pub kid: String,
    /// The algorithm it was signed with.
    pub algorithm: SigningAlgorithm,
}

/// How client assertions are checked at one token endpoint.
///
/// ```
/// use std::time::SystemTime;
/// use smart_auth::client_assertion::{claimed_client_id, AssertionPolicy};
/// use smart_auth::keys::{SigningAlgorithm, SigningKey};
///
/// // The client's key pair; the server has the public JWKS from registration.
/// let client_key = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
/// let registered_jwks = client_key.jwks();
///
/// let now = SystemTime::now();
/// let secs = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
/// let assertion = client_key.sign(&serde_json::json!({
///     "iss": "bulk-exporter", "sub": "bulk-exporter",
///     "aud": "https://h/auth/token", "exp": secs + 240, "jti": "a1",
/// })).unwrap();
///
/// let policy = AssertionPolicy::new("https://h/auth/token");
/// let client_id = claimed_client_id(&assertion).unwrap(); // look the client up by it
/// let verified = policy.verify(&assertion, &client_id, &registered_jwks, now).unwrap();
/// assert_eq!(verified.client_id, "bulk-exporter");
/// assert_eq!(verified.jti, "a1"); // the caller refuses a jti it has seen
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionPolicy {
    /// The token endpoint URL, which must be (one of) the assertion's `aud`.
    pub token_endpoint: String,
    /// How far ahead `exp` may be ([`MAX_LIFETIME`]).
    pub max_lifetime: Duration,
    /// Clock skew tolerated ([`DEFAULT_LEEWAY`]).
    pub leeway: Duration,
}

impl AssertionPolicy {
    /// The policy for `token_endpoint` with [`MAX_LIFETIME`] and [`DEFAULT_LEEWAY`].
    pub fn new(token_endpoint: impl Into<String>) -> AssertionPolicy {
        AssertionPolicy {
            token_endpoint: token_endpoint.into(),
            max_lifetime: MAX_LIFETIME,
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// Verifies `assertion` from `client_id`, whose registered keys are `client_jwks`,
    /// at time `now`. See the [module documentation](self) for the checks.
    pub fn verify(
        &self,
        assertion: &str,
        client_id: &str,
        client_jwks: &JwkSet,
        now: SystemTime,
    ) -> Result<VerifiedAssertion, Error> {
        let (algorithm, header) = jwt::read_header(assertion)?;
        let kid = header.kid.ok_or(Error::MissingKeyId)?;
        let jwk = client_jwks
            .find(&kid)
            .ok_or_else(|| Error::UnknownKeyId(kid.clone()))?;
        jwt::check_key_fits(jwk, &kid, algorithm)?;
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| Error::Key(format!("registered JWK `{kid}`: {e}")))?;
        let claims: AssertionClaims = jwt::verify_signature(assertion, &key, algorithm)?;

        if claims.iss != client_id {
            return Err(Error::WrongIssuer {
                expected: client_id.to_owned(),
                found: claims.iss,
            });
        }
        if claims.sub != claims.iss {
            return Err(Error::IssuerSubjectMismatch {
                iss: claims.iss,
                sub: claims.sub,
            });
        }
        if !claims.aud.contains(&self.token_endpoint) {
            return Err(Error::WrongAudience {
                expected: self.token_endpoint.clone(),
            });
        }
        let now = jwt::unix_seconds(now);
        let leeway = self.leeway.as_secs();
        jwt::check_times(claims.exp, claims.nbf, now, leeway)?;
        let latest = now
            .saturating_add(self.max_lifetime.as_secs())
            .saturating_add(leeway);
        if claims.exp > latest {
            return Err(Error::ExpiresTooLate {
                exp: claims.exp,
                latest,
            });
        }
        if claims.jti.is_empty() {
            return Err(Error::MalformedJwt("empty `jti`".to_owned()));
        }
        Ok(VerifiedAssertion {
            client_id: claims.iss,
            jti: claims.jti,
            exp: claims.exp,
            kid,
            algorithm,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::UNIX_EPOCH;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    use super::*;
    use crate::keys::{SigningKey, jwk_set};

    const TOKEN_URL: &str = "https://h/auth/token";
    const CLIENT: &str = "bulk-exporter";
    const T0: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// Client keys, generated once (RSA generation is the slow part).
    fn es_key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate(SigningAlgorithm::Es384).unwrap())
    }

    fn rs_key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate(SigningAlgorithm::Rs384).unwrap())
    }

    /// The client's registered JWKS: both keys.
    fn registered() -> JwkSet {
        jwk_set([es_key(), rs_key()])
    }

    #[test]
    fn a_signed_assertion_passes_the_policy() {
        let assertion = sign_assertion(es_key(), CLIENT, TOKEN_URL, at(T0), "j-1").unwrap();
        let verified = AssertionPolicy::new(TOKEN_URL)
            .verify(&assertion, CLIENT, &registered(), at(T0 + 10))
            .unwrap();
        assert_eq!(verified.client_id, CLIENT);
        assert_eq!(verified.jti, "j-1");
        assert_eq!(verified.exp, T0 + 240);
    }

    fn claims() -> Value {
        json!({
            "iss": CLIENT,
            "sub": CLIENT,
            "aud": TOKEN_URL,
            "exp": T0 + 240,
            "jti": "6f1c9d2e",
        })
    }

    fn with(changes: Value) -> Value {
        let mut claims = claims();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    }

    fn check(assertion: &str) -> Result<VerifiedAssertion, Error> {
        AssertionPolicy::new(TOKEN_URL).verify(assertion, CLIENT, &registered(), at(T0))
    }

    fn sign(claims: &Value) -> String {
        es_key().sign(claims).unwrap()
    }

    /// A JWS with a hand-made header and the given signature bytes.
    fn forge(header: Value, claims: &Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[test]
    fn es384_and_rs384_assertions_are_accepted() {
        for key in [es_key(), rs_key()] {
            let verified = check(&key.sign(&claims()).unwrap()).unwrap();
            assert_eq!(
                verified,
                VerifiedAssertion {
                    client_id: CLIENT.to_owned(),
                    jti: "6f1c9d2e".to_owned(),
                    exp: T0 + 240,
                    kid: key.kid().to_owned(),
                    algorithm: key.algorithm(),
                }
            );
        }
    }

    #[test]
    fn audience_array_containing_the_token_endpoint_is_accepted() {
        let assertion = sign(&with(json!({"aud": ["https://elsewhere", TOKEN_URL]})));
        assert!(check(&assertion).is_ok());
    }

    #[test]
    fn wrong_audience_is_refused() {
        for aud in [
            json!("https://h/auth/token/"),
            json!("https://h/fhir"),
            json!([]),
        ] {
            assert_eq!(
                check(&sign(&with(json!({ "aud": aud })))).unwrap_err(),
                Error::WrongAudience {
                    expected: TOKEN_URL.to_owned()
                },
                "{aud}"
            );
        }
    }

    #[test]
    fn expired_is_refused_beyond_the_leeway() {
        assert!(check(&sign(&with(json!({"exp": T0 - 30})))).is_ok());
        assert_eq!(
            check(&sign(&with(json!({"exp": T0 - 31})))).unwrap_err(),
            Error::Expired {
                exp: T0 - 31,
                now: T0
            }
        );
    }

    #[test]
    fn exp_more_than_five_minutes_ahead_is_refused() {
        assert!(check(&sign(&with(json!({"exp": T0 + 300})))).is_ok());
        // 30 s of clock skew are tolerated on top of the five minutes.
        assert!(check(&sign(&with(json!({"exp": T0 + 330})))).is_ok());
        assert_eq!(
            check(&sign(&with(json!({"exp": T0 + 331})))).unwrap_err(),
            Error::ExpiresTooLate {
                exp: T0 + 331,
                latest: T0 + 330
            }
        );
        assert!(matches!(
            check(&sign(&with(json!({"exp": T0 + 86_400})))),
            Err(Error::ExpiresTooLate { .. })
        ));
    }

    #[test]
    fn not_before_in_the_future_is_refused() {
        assert!(check(&sign(&with(json!({"nbf": T0 + 30})))).is_ok());
        assert_eq!(
            check(&sign(&with(json!({"nbf": T0 + 60})))).unwrap_err(),
            Error::NotYetValid {
                nbf: T0 + 60,
                now: T0
            }
        );
    }

    #[test]
    fn iss_must_be_the_client_and_equal_sub() {
        assert_eq!(
            check(&sign(&with(json!({"sub": "someone-else"})))).unwrap_err(),
            Error::IssuerSubjectMismatch {
                iss: CLIENT.to_owned(),
                sub: "someone-else".to_owned()
            }
        );
        let other = sign(&with(json!({"iss": "other", "sub": "other"})));
        assert_eq!(
            check(&other).unwrap_err(),
            Error::WrongIssuer {
                expected: CLIENT.to_owned(),
                found: "other".to_owned()
            }
        );
        assert_eq!(claimed_client_id(&other).unwrap(), "other");
    }

    #[test]
    fn missing_claims_make_it_malformed() {
        for claim in ["iss", "sub", "aud", "exp", "jti"] {
            let assertion = sign(&with(json!({ claim: null })));
            assert!(
                matches!(check(&assertion), Err(Error::MalformedJwt(ref m)) if m.contains(claim)),
                "{claim}: {:?}",
                check(&assertion)
            );
        }
        assert_eq!(
            check(&sign(&with(json!({"jti": ""})))).unwrap_err(),
            Error::MalformedJwt("empty `jti`".to_owned())
        );
    }

    #[test]
    fn unknown_or_missing_kid_is_refused() {
        let stranger = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
        assert_eq!(
            check(&stranger.sign(&claims()).unwrap()).unwrap_err(),
            Error::UnknownKeyId(stranger.kid().to_owned())
        );
        let no_kid = forge(json!({"alg": "ES384", "typ": "JWT"}), &claims(), &[0; 96]);
        assert_eq!(check(&no_kid).unwrap_err(), Error::MissingKeyId);
    }

    #[test]
    fn signature_by_another_key_under_a_registered_kid_is_refused() {
        let stranger = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
        let genuine = sign(&claims());
        let forged = stranger.sign(&claims()).unwrap();
        // The registered kid's header, the stranger's signature.
        let header = genuine.split('.').next().unwrap();
        let rest = forged.split_once('.').unwrap().1;
        assert_eq!(
            check(&format!("{header}.{rest}")).unwrap_err(),
            Error::InvalidSignature
        );
        // A tampered payload under the genuine signature.
        let parts: Vec<&str> = genuine.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(with(json!({"jti": "other"})).to_string()),
            parts[2]
        );
        assert_eq!(check(&tampered).unwrap_err(), Error::InvalidSignature);
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let kid = es_key().kid();
        let none = forge(json!({"alg": "none", "kid": kid}), &claims(), b"");
        assert_eq!(
            check(&none).unwrap_err(),
            Error::UnsupportedAlgorithm("none".to_owned())
        );
        // HS384 keyed with public material (algorithm confusion) and ES256.
        for alg in ["HS384", "ES256", "RS256", "PS384"] {
            let jwt = forge(json!({"alg": alg, "kid": kid}), &claims(), &[1; 48]);
            assert_eq!(
                check(&jwt).unwrap_err(),
                Error::UnsupportedAlgorithm(alg.to_owned())
            );
        }
    }

    #[test]
    fn alg_must_fit_the_selected_key() {
        // RS384 in the header, but the kid names the EC key.
        let jwt = forge(
            json!({"alg": "RS384", "kid": es_key().kid()}),
            &claims(),
            &[1; 256],
        );
        assert_eq!(
            check(&jwt).unwrap_err(),
            Error::KeyAlgorithmMismatch {
                kid: es_key().kid().to_owned(),
                alg: "RS384".to_owned()
            }
        );
        // A registered key marked for encryption is not used to verify.
        let mut jwks = registered();
        jwks.keys[0].common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Encryption);
        assert!(matches!(
            AssertionPolicy::new(TOKEN_URL).verify(&sign(&claims()), CLIENT, &jwks, at(T0)),
            Err(Error::KeyAlgorithmMismatch { .. })
        ));
    }

    #[test]
    fn registered_jwks_from_json() {
        // What the server stores at registration: the client's JWKS document.
        let text = serde_json::to_string(&es_key().jwks()).unwrap();
        let jwks: JwkSet = serde_json::from_str(&text).unwrap();
        let verified = AssertionPolicy::new(TOKEN_URL)
            .verify(&sign(&claims()), CLIENT, &jwks, at(T0))
            .unwrap();
        assert_eq!(verified.kid, es_key().kid());
    }

    #[test]
    fn assertion_type() {
        assert_eq!(check_assertion_type(JWT_BEARER), Ok(()));
        assert_eq!(
            check_assertion_type("urn:ietf:params:oauth:client-assertion-type:saml2-bearer"),
            Err(Error::WrongAssertionType(
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer".to_owned()
            ))
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in ["", "a.b", "a.b.c", "e30.e30.", "e30.e30.e30.e30"] {
            assert!(matches!(check(bad), Err(Error::MalformedJwt(_))), "{bad:?}");
        }
        assert!(matches!(
            claimed_client_id("x"),
            Err(Error::MalformedJwt(_))
        ));
    }
}
