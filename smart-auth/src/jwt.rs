//! JWT plumbing shared by [`crate::tokens`] and [`crate::client_assertion`]: reading the
//! header before any key is chosen, verifying a signature with `jsonwebtoken`, and the
//! time and audience checks.
//!
//! `jsonwebtoken` is used for signatures only; the claim checks are ours, because they take
//! `now` as an argument (testable without a clock) and give the crate's own errors.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::keys::SigningAlgorithm;

/// The header fields we look at, read before the signature is checked (to pick the key).
#[derive(Debug, Deserialize)]
pub(crate) struct RawHeader {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
}

/// The header of a compact JWS, with its `alg` checked against ES384/RS384. Anything else
/// (`none`, `HS384`, `RS256`, …) is refused here, before any key is looked at.
pub(crate) fn read_header(token: &str) -> Result<(SigningAlgorithm, RawHeader), Error> {
    let [header, _, _] = split(token)?;
    let header: RawHeader = decode_part(header, "header")?;
    let alg = SigningAlgorithm::from_jwt_alg(&header.alg)?;
    Ok((alg, header))
}

/// The claims of a compact JWS, **without** checking its signature.
pub(crate) fn read_claims_unverified<T: DeserializeOwned>(token: &str) -> Result<T, Error> {
    let [_, claims, _] = split(token)?;
    decode_part(claims, "claims")
}

fn split(token: &str) -> Result<[&str; 3], Error> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(c), Some(s), None) => Ok([h, c, s]),
        _ => Err(Error::MalformedJwt(
            "expected three dot-separated parts".to_owned(),
        )),
    }
}

fn decode_part<T: DeserializeOwned>(part: &str, what: &str) -> Result<T, Error> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| Error::MalformedJwt(format!("{what} is not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::MalformedJwt(format!("{what}: {e}")))
}

/// Checks that `jwk` may verify `alg`: the right key type (P-384 for ES384, RSA for
/// RS384), its own `alg` (if any) equal to `alg`, and its `use` (if any) `sig`.
pub(crate) fn check_key_fits(jwk: &Jwk, kid: &str, alg: SigningAlgorithm) -> Result<(), Error> {
    let type_fits = match (&jwk.algorithm, alg) {
        (AlgorithmParameters::EllipticCurve(ec), SigningAlgorithm::Es384) => {
            ec.curve == EllipticCurve::P384
        }
        (AlgorithmParameters::RSA(_), SigningAlgorithm::Rs384 | SigningAlgorithm::Rs256) => true,
        _ => false,
    };
    let alg_fits = jwk
        .common
        .key_algorithm
        .is_none_or(|key_alg| key_alg.to_string() == alg.as_str());
    let use_fits = matches!(
        jwk.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    );
    if type_fits && alg_fits && use_fits {
        Ok(())
    } else {
        Err(Error::KeyAlgorithmMismatch {
            kid: kid.to_owned(),
            alg: alg.as_str().to_owned(),
        })
    }
}

/// Verifies the signature of `token` with `key` for `alg` and returns its claims. No claim
/// is checked here (not even `exp`): callers do that with their own clock.
pub(crate) fn verify_signature<T: DeserializeOwned>(
    token: &str,
    key: &DecodingKey,
    alg: SigningAlgorithm,
) -> Result<T, Error> {
    let mut validation = Validation::new(alg.jwt_algorithm());
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<T>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(from_jsonwebtoken)
}

/// Folds a `jsonwebtoken` error into ours.
pub(crate) fn from_jsonwebtoken(error: jsonwebtoken::errors::Error) -> Error {
    match error.kind() {
        ErrorKind::InvalidSignature => Error::InvalidSignature,
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            Error::Key(error.to_string())
        }
        _ => Error::MalformedJwt(error.to_string()),
    }
}

/// `exp` (and `nbf`, when present) against `now`, with `leeway` seconds either way.
pub(crate) fn check_times(exp: u64, nbf: Option<u64>, now: u64, leeway: u64) -> Result<(), Error> {
    if exp.saturating_add(leeway) < now {
        return Err(Error::Expired { exp, now });
    }
    if let Some(nbf) = nbf
        && nbf > now.saturating_add(leeway)
    {
        return Err(Error::NotYetValid { nbf, now });
    }
    Ok(())
}

/// An `aud` claim: one string or an array of them (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, expected: &str) -> bool {
        match self {
            Audience::One(aud) => aud == expected,
            Audience::Many(auds) => auds.iter().any(|aud| aud == expected),
        }
    }
}

/// Seconds since the Unix epoch (0 for a clock before it).
pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_needs_exactly_three_parts() {
        assert!(split("a.b.c").is_ok());
        for bad in ["", "a.b", "a.b.c.d", "abc"] {
            assert!(matches!(split(bad), Err(Error::MalformedJwt(_))), "{bad:?}");
        }
    }

    #[test]
    fn header_alg_is_checked_before_anything_else() {
        let header = |json: &str| format!("{}.e30.", URL_SAFE_NO_PAD.encode(json));
        let (alg, raw) = read_header(&header(r#"{"alg":"ES384","kid":"k"}"#)).unwrap();
        assert_eq!(alg, SigningAlgorithm::Es384);
        assert_eq!(raw.kid.as_deref(), Some("k"));
        for bad in ["none", "HS384", "RS256", "ES256", "es384"] {
            assert_eq!(
                read_header(&header(&format!(r#"{{"alg":"{bad}"}}"#))).unwrap_err(),
                Error::UnsupportedAlgorithm(bad.to_owned())
            );
        }
        assert!(matches!(
            read_header(&header(r#"{"kid":"k"}"#)),
            Err(Error::MalformedJwt(_))
        ));
        assert!(matches!(
            read_header("!!.e30."),
            Err(Error::MalformedJwt(_))
        ));
    }

    #[test]
    fn times_with_leeway() {
        assert_eq!(check_times(100, None, 100, 0), Ok(()));
        assert_eq!(check_times(100, None, 130, 30), Ok(()));
        assert_eq!(
            check_times(100, None, 131, 30),
            Err(Error::Expired { exp: 100, now: 131 })
        );
        assert_eq!(check_times(200, Some(130), 100, 30), Ok(()));
        assert_eq!(
            check_times(200, Some(131), 100, 30),
            Err(Error::NotYetValid { nbf: 131, now: 100 })
        );
    }

    #[test]
    fn audience_string_or_array() {
        let one: Audience = serde_json::from_str(r#""https://h/token""#).unwrap();
        let many: Audience = serde_json::from_str(r#"["x","https://h/token"]"#).unwrap();
        assert!(one.contains("https://h/token"));
        assert!(many.contains("https://h/token"));
        assert!(!one.contains("https://h/token/"));
        assert!(!many.contains("y"));
    }
}
