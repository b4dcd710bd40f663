//! PKCE with the `S256` method ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)).
//!
//! SMART App Launch 2.x requires PKCE with `S256` for every authorization-code flow and
//! forbids `plain`. The authorize endpoint stores the `code_challenge` (after
//! [`parse_method`] and [`validate_challenge`]); the token endpoint calls [`verify`] with
//! the `code_verifier`. Done by hand (sha2 + base64url) because it is twenty lines and the
//! comparison must be constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::Error;

/// Shortest allowed `code_verifier` (RFC 7636 §4.1).
pub const VERIFIER_MIN_LEN: usize = 43;
/// Longest allowed `code_verifier` (RFC 7636 §4.1).
pub const VERIFIER_MAX_LEN: usize = 128;
/// Length of an `S256` challenge: 32 bytes of SHA-256 in unpadded base64url.
pub const CHALLENGE_LEN: usize = 43;

/// The `code_challenge_method`s this server accepts: only `S256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `S256`: `BASE64URL(SHA256(ASCII(code_verifier)))`.
    S256,
}

/// Parses `code_challenge_method`. `plain` is refused (SMART 2.x forbids it) with its own
/// error, anything else as unsupported. RFC 7636 §4.3 makes a missing method mean
/// `plain`, so callers pass `None` through as well and get the same refusal.
pub fn parse_method(method: Option<&str>) -> Result<Method, Error> {
    match method {
        Some("S256") => Ok(Method::S256),
        Some("plain") | None => Err(Error::PlainMethod),
        Some(other) => Err(Error::UnsupportedMethod(other.to_owned())),
    }
}

/// Checks a `code_verifier` on its own: 43 to 128 characters of `[A-Za-z0-9-._~]`
/// (RFC 7636 §4.1).
pub fn validate_verifier(verifier: &str) -> Result<(), Error> {
    let len = verifier.len();
    if !(VERIFIER_MIN_LEN..=VERIFIER_MAX_LEN).contains(&len) {
        return Err(Error::VerifierLength(len));
    }
    if let Some((position, character)) = verifier.char_indices().find(|&(_, c)| !is_unreserved(c)) {
        return Err(Error::VerifierCharacter {
            position,
            character,
        });
    }
    Ok(())
}

/// Checks a `code_challenge` for `S256`: 43 base64url characters without padding that
/// decode to 32 bytes.
pub fn validate_challenge(challenge: &str) -> Result<(), Error> {
    decode_challenge(challenge).map(|_| ())
}

/// The `S256` challenge of a verifier (what a client sends to the authorize endpoint).
///
/// ```
/// // RFC 7636 Appendix B
/// assert_eq!(
///     smart_auth::pkce::challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap(),
///     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
/// );
/// ```
pub fn challenge_s256(verifier: &str) -> Result<String, Error> {
    validate_verifier(verifier)?;
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
}

/// Verifies a `code_verifier` against the stored `S256` `code_challenge`.
///
/// Rejects a malformed verifier or challenge, a verifier equal to the challenge (a client
/// replaying the challenge as if the method were `plain`), and a mismatch. The digests are
/// compared in constant time.
///
/// ```
/// use smart_auth::pkce::{verify, Method};
///
/// let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// assert!(verify(Method::S256, challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").is_ok());
/// assert!(verify(Method::S256, challenge, challenge).is_err());
/// ```
pub fn verify(method: Method, challenge: &str, verifier: &str) -> Result<(), Error> {
    let Method::S256 = method;
    let expected = decode_challenge(challenge)?;
    validate_verifier(verifier)?;
    if verifier == challenge {
        return Err(Error::VerifierEqualsChallenge);
    }
    let actual: [u8; 32] = Sha256::digest(verifier.as_bytes()).into();
    if constant_time_eq(&actual, &expected) {
        Ok(())
    } else {
        Err(Error::VerifierMismatch)
    }
}

fn decode_challenge(challenge: &str) -> Result<[u8; 32], Error> {
    if challenge.len() != CHALLENGE_LEN {
        return Err(Error::MalformedChallenge);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(challenge)
        .map_err(|_| Error::MalformedChallenge)?;
    // 43 base64 characters carry 258 bits; the decoder rejects non-zero trailing bits,
    // so exactly 32 bytes come out of any valid challenge.
    bytes.try_into().map_err(|_| Error::MalformedChallenge)
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// Compares two equal-length digests without an early exit, so timing does not reveal
/// how many leading bytes matched.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_pair_verifies() {
        assert_eq!(challenge_s256(RFC_VERIFIER).unwrap(), RFC_CHALLENGE);
        assert_eq!(verify(Method::S256, RFC_CHALLENGE, RFC_VERIFIER), Ok(()));
    }

    #[test]
    fn another_verifier_does_not_verify() {
        // Same length and alphabet, last character changed.
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
        assert_eq!(
            verify(Method::S256, RFC_CHALLENGE, other),
            Err(Error::VerifierMismatch)
        );
        // The challenge of a different verifier does not match either.
        let challenge = challenge_s256(other).unwrap();
        assert_ne!(challenge, RFC_CHALLENGE);
        assert_eq!(verify(Method::S256, &challenge, other), Ok(()));
        assert_eq!(
            verify(Method::S256, &challenge, RFC_VERIFIER),
            Err(Error::VerifierMismatch)
        );
    }

    #[test]
    fn plain_and_unknown_methods_are_refused() {
        assert_eq!(parse_method(Some("S256")), Ok(Method::S256));
        assert_eq!(parse_method(Some("plain")), Err(Error::PlainMethod));
        assert_eq!(parse_method(None), Err(Error::PlainMethod));
        assert_eq!(
            parse_method(Some("s256")),
            Err(Error::UnsupportedMethod("s256".to_owned()))
        );
    }

    #[test]
    fn verifier_length_bounds() {
        let at = |n: usize| "a".repeat(n);
        assert_eq!(validate_verifier(&at(42)), Err(Error::VerifierLength(42)));
        assert_eq!(validate_verifier(&at(43)), Ok(()));
        assert_eq!(validate_verifier(&at(128)), Ok(()));
        assert_eq!(validate_verifier(&at(129)), Err(Error::VerifierLength(129)));
        assert_eq!(validate_verifier(""), Err(Error::VerifierLength(0)));
        assert_eq!(
            verify(Method::S256, RFC_CHALLENGE, &at(42)),
            Err(Error::VerifierLength(42))
        );
    }

    #[test]
    fn verifier_charset() {
        let ok = "AZaz09-._~".repeat(5);
        assert_eq!(validate_verifier(&ok), Ok(()));
        for (bad, position, character) in [
            (format!("{}+", "a".repeat(43)), 43, '+'),
            (format!("/{}", "a".repeat(43)), 0, '/'),
            (format!("{} {}", "a".repeat(21), "a".repeat(21)), 21, ' '),
            (format!("{}=", "a".repeat(43)), 43, '='),
        ] {
            assert_eq!(
                validate_verifier(&bad),
                Err(Error::VerifierCharacter {
                    position,
                    character
                })
            );
        }
        // Non-ASCII: 43 bytes long but not unreserved.
        let accented = format!("{}é", "a".repeat(42));
        assert!(matches!(
            validate_verifier(&accented),
            Err(Error::VerifierCharacter {
                position: 42,
                character: 'é'
            })
        ));
    }

    #[test]
    fn verifier_equal_to_challenge_is_refused() {
        assert_eq!(
            verify(Method::S256, RFC_CHALLENGE, RFC_CHALLENGE),
            Err(Error::VerifierEqualsChallenge)
        );
    }

    #[test]
    fn malformed_challenges_are_refused() {
        for bad in [
            "",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c", // 42 chars
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=", // padded
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", // standard alphabet
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", // non-zero trailing bits
        ] {
            assert_eq!(
                validate_challenge(bad),
                Err(Error::MalformedChallenge),
                "{bad:?}"
            );
            assert_eq!(
                verify(Method::S256, bad, RFC_VERIFIER),
                Err(Error::MalformedChallenge),
                "{bad:?}"
            );
        }
        assert_eq!(validate_challenge(RFC_CHALLENGE), Ok(()));
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!constant_time_eq(&a, &b));
    }
}
