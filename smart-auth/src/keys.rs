//! The server's signing key and its public JWKS.
//!
//! SMART App Launch lets clients verify what the server signs (`id_token`s, and access
//! tokens if they wish) from the `jwks_uri` of the discovery document, and Backend
//! Services clients sign their assertions with `RS384` or `ES384`, so those are the two
//! algorithms this crate knows ([`SigningAlgorithm`]). The server generates one key at
//! first start ([`SigningKey::generate`]), stores [`SigningKey::to_pem`] (PKCS#8), and
//! loads it back with [`SigningKey::from_pem`] on later starts. The key id is the
//! [RFC 7638](https://www.rfc-editor.org/rfc/rfc7638) SHA-256 thumbprint of the public
//! key, so it is stable across restarts and a rotated key gets a new one.
//!
//! Signing and verification go through `jsonwebtoken` (RustCrypto backend); key
//! generation and PEM through `p384` and `rsa`, the crates that backend already uses.
//! `jsonwebtoken` picks its backend from its features: if any crate of the workspace
//! also enabled `aws_lc_rs`, it could no longer choose and would panic on first use, so
//! the workspace enables `rust_crypto` only.

use std::fmt;

use jsonwebtoken::jwk::{PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey, Header};
use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::OsRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde::Serialize;

pub use jsonwebtoken::jwk::{Jwk, JwkSet};

use crate::Error;
use crate::jwt;

/// Smallest RSA modulus accepted, in bits (NIST SP 800-131A).
pub const RSA_MIN_BITS: usize = 2048;
/// Size of a generated RSA key, in bits.
pub const RSA_GENERATED_BITS: usize = 2048;

/// The JWS algorithms SMART App Launch names for asymmetric signatures
/// ([Backend Services](https://hl7.org/fhir/smart-app-launch/backend-services.html#authenticating-to-the-token-endpoint)):
/// `ES384` (ECDSA P-384 with SHA-384) and `RS384` (RSASSA-PKCS1-v1_5 with SHA-384).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// ECDSA on P-384 with SHA-384. Small keys and signatures, fast to generate: the
    /// server's default.
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-256: only for the server's OpenID Connect id tokens,
    /// which SMART App Launch and OpenID Connect Core (§15.1) require to be signable with
    /// RS256. Never accepted in a JWT the server receives ([`SigningAlgorithm::from_jwt_alg`]).
    Rs256,
}

impl SigningAlgorithm {
    /// Both, in the order the discovery document lists them.
    pub const ALL: [SigningAlgorithm; 2] = [SigningAlgorithm::Rs384, SigningAlgorithm::Es384];

    /// The JWS `alg` value (`"ES384"`, `"RS384"`).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Es384 => "ES384",
            SigningAlgorithm::Rs384 => "RS384",
            SigningAlgorithm::Rs256 => "RS256",
        }
    }

    /// Reads a JWS `alg`; anything but `ES384` and `RS384` (case-sensitive, as in
    /// RFC 7515) is [`Error::UnsupportedAlgorithm`].
    pub fn from_jwt_alg(alg: &str) -> Result<SigningAlgorithm, Error> {
        match alg {
            "ES384" => Ok(SigningAlgorithm::Es384),
            "RS384" => Ok(SigningAlgorithm::Rs384),
            other => Err(Error::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    pub(crate) fn jwt_algorithm(self) -> jsonwebtoken::Algorithm {
        match self {
            SigningAlgorithm::Es384 => jsonwebtoken::Algorithm::ES384,
            SigningAlgorithm::Rs384 => jsonwebtoken::Algorithm::RS384,
            SigningAlgorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum Private {
    Ec(p384::SecretKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

/// A private signing key with its public JWK (`kid`, `alg`, `use: sig`).
///
/// `Debug` shows the algorithm and key id only, never the private key.
///
/// ```
/// use smart_auth::keys::{SigningAlgorithm, SigningKey};
///
/// let key = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
/// let pem = key.to_pem().unwrap(); // what the server stores
/// let again = SigningKey::from_pem(&pem).unwrap();
/// assert_eq!(again.kid(), key.kid());
///
/// let jwks = serde_json::to_value(key.jwks()).unwrap();
/// assert_eq!(jwks["keys"][0]["kid"], key.kid());
/// assert_eq!(jwks["keys"][0]["alg"], "ES384");
/// assert_eq!(jwks["keys"][0]["use"], "sig");
/// ```
pub struct SigningKey {
    algorithm: SigningAlgorithm,
    private: Private,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_jwk: Jwk,
}

impl SigningKey {
    /// Generates a new key from the operating system's random source: a P-384 key for
    /// `ES384`, a 2048-bit RSA key for `RS384` (slower: a fraction of a second optimised).
    pub fn generate(algorithm: SigningAlgorithm) -> Result<SigningKey, Error> {
        let private = match algorithm {
            SigningAlgorithm::Es384 => Private::Ec(p384::SecretKey::random(&mut OsRng)),
            SigningAlgorithm::Rs384 | SigningAlgorithm::Rs256 => Private::Rsa(Box::new(
                rsa::RsaPrivateKey::new(&mut OsRng, RSA_GENERATED_BITS)
                    .map_err(|e| Error::Key(format!("RSA key generation: {e}")))?,
            )),
        };
        SigningKey::from_private(private, algorithm)
    }

    /// [`SigningKey::from_pem`] for a key that signs with `algorithm`: an RSA key for
    /// `RS256` (id tokens) or `RS384`, a P-384 key for `ES384`.
    pub fn from_pem_for(pem: &str, algorithm: SigningAlgorithm) -> Result<SigningKey, Error> {
        let key = SigningKey::from_pem(pem)?;
        match (key.algorithm, algorithm) {
            (SigningAlgorithm::Rs384, SigningAlgorithm::Rs256) => {
                SigningKey::from_private(key.private, SigningAlgorithm::Rs256)
            }
            (found, wanted) if found == wanted => Ok(key),
            (found, wanted) => Err(Error::Key(format!(
                "a key for {found} cannot sign with {wanted}"
            ))),
        }
    }

    /// Loads a private key from PEM: PKCS#8 (`PRIVATE KEY`, what [`SigningKey::to_pem`]
    /// writes), SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`). A P-384 key signs
    /// with `ES384`, an RSA key of at least 2048 bits with `RS384`; other curves and
    /// encrypted keys are refused.
    pub fn from_pem(pem: &str) -> Result<SigningKey, Error> {
        let pem = pem.trim();
        let private = if let Ok(key) = p384::SecretKey::from_pkcs8_pem(pem) {
            Private::Ec(key)
        } else if let Ok(key) = p384::SecretKey::from_sec1_pem(pem) {
            Private::Ec(key)
        } else if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
            Private::Rsa(Box::new(key))
        } else if let Ok(key) = rsa::RsaPrivateKey::from_pkcs1_pem(pem) {
            Private::Rsa(Box::new(key))
        } else {
            return Err(Error::Key(
                "not an unencrypted P-384 or RSA private key in PEM (PKCS#8, SEC1 or PKCS#1)"
                    .to_owned(),
            ));
        };
        SigningKey::from_private(private, SigningAlgorithm::Rs384)
    }

    /// The key for `private`; an RSA key signs with `rsa_algorithm` (`RS384` unless an
    /// id-token key asks for `RS256`).
    fn from_private(
        private: Private,
        rsa_algorithm: SigningAlgorithm,
    ) -> Result<SigningKey, Error> {
        let der_error = |e: &dyn fmt::Display| Error::Key(format!("DER encoding: {e}"));
        let (algorithm, encoding) = match &private {
            Private::Ec(key) => {
                let der = key.to_pkcs8_der().map_err(|e| der_error(&e))?;
                (
                    SigningAlgorithm::Es384,
                    EncodingKey::from_ec_der(der.as_bytes()),
                )
            }
            Private::Rsa(key) => {
                let bits = key.size() * 8;
                if bits < RSA_MIN_BITS {
                    return Err(Error::Key(format!(
                        "RSA key of {bits} bits; at least {RSA_MIN_BITS} are required"
                    )));
                }
                let der = key.to_pkcs1_der().map_err(|e| der_error(&e))?;
                let algorithm = match rsa_algorithm {
                    SigningAlgorithm::Rs256 => SigningAlgorithm::Rs256,
                    _ => SigningAlgorithm::Rs384,
                };
                (algorithm, EncodingKey::from_rsa_der(der.as_bytes()))
            }
        };
        let mut public_jwk = Jwk::from_encoding_key(&encoding, algorithm.jwt_algorithm())
            .map_err(|e| Error::Key(format!("public JWK: {e}")))?;
        let kid = public_jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| Error::Key(format!("JWK thumbprint: {e}")))?;
        public_jwk.common.key_id = Some(kid);
        public_jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&public_jwk)
            .map_err(|e| Error::Key(format!("public key from JWK: {e}")))?;
        Ok(SigningKey {
            algorithm,
            private,
            encoding,
            decoding,
            public_jwk,
        })
    }

    /// The private key as unencrypted PKCS#8 PEM, for the server to store (readable by its
    /// own user only: this is the secret that signs every token).
    pub fn to_pem(&self) -> Result<String, Error> {
        let pem = match &self.private {
            Private::Ec(key) => key.to_pkcs8_pem(LineEnding::LF),
            Private::Rsa(key) => key.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| Error::Key(format!("PEM encoding: {e}")))?;
        Ok(pem.as_str().to_owned())
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key, base64url.
    pub fn kid(&self) -> &str {
        self.public_jwk.common.key_id.as_deref().unwrap_or_default()
    }

    /// The public key as a JWK with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }

    /// The JWKS document (`{"keys":[…]}`) with this key alone, for the `jwks_uri`.
    /// See [`jwk_set`] to publish several (during a key rotation).
    pub fn jwks(&self) -> JwkSet {
        jwk_set([self])
    }

    /// Signs `claims` as a compact JWS with header `{"typ":"JWT","alg":…,"kid":…}`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, Error> {
        let mut header = Header::new(self.algorithm.jwt_algorithm());
        header.kid = Some(self.kid().to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| Error::Signing(e.to_string()))
    }

    /// Checks the signature of a JWS made by [`SigningKey::sign`] (its `alg` and `kid`
    /// must be this key's) and returns the claims. No claim is checked.
    pub(crate) fn verify_signature<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<T, Error> {
        let (alg, header) = jwt::read_header(token)?;
        match header.kid.as_deref() {
            None => return Err(Error::MissingKeyId),
            Some(kid) if kid != self.kid() => return Err(Error::UnknownKeyId(kid.to_owned())),
            Some(_) => {}
        }
        jwt::check_key_fits(&self.public_jwk, self.kid(), alg)?;
        jwt::verify_signature(token, &self.decoding, alg)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

/// A JWKS document with the public keys of `keys`, in order.
pub fn jwk_set<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> JwkSet {
    JwkSet {
        keys: keys.into_iter().map(|k| k.public_jwk.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn es384_pem_round_trip_keeps_kid_and_signs_the_same_key() {
        let key = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
        let pem = key.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        let loaded = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(loaded.algorithm(), SigningAlgorithm::Es384);
        assert_eq!(loaded.kid(), key.kid());
        assert_eq!(loaded.public_jwk(), key.public_jwk());
        // A token signed by the loaded key verifies with the original one.
        let token = loaded.sign(&json!({"a": 1})).unwrap();
        let claims: serde_json::Value = key.verify_signature(&token).unwrap();
        assert_eq!(claims, json!({"a": 1}));
    }

    #[test]
    fn two_generated_keys_differ() {
        let a = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
        let b = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
        assert_ne!(a.kid(), b.kid());
        let token = a.sign(&json!({})).unwrap();
        assert_eq!(
            b.verify_signature::<serde_json::Value>(&token).unwrap_err(),
            Error::UnknownKeyId(a.kid().to_owned())
        );
    }

    #[test]
    fn sec1_pem_loads() {
        let key = p384::SecretKey::random(&mut OsRng);
        let sec1 = key.to_sec1_pem(LineEnding::LF).unwrap();
        let loaded = SigningKey::from_pem(&sec1).unwrap();
        let pkcs8 = SigningKey::from_pem(&key.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap();
        assert_eq!(loaded.kid(), pkcs8.kid());
    }

    #[test]
    fn rs384_key_generates_round_trips_and_signs() {
        let key = SigningKey::generate(SigningAlgorithm::Rs384).unwrap();
        let loaded = SigningKey::from_pem(&key.to_pem().unwrap()).unwrap();
        assert_eq!(loaded.algorithm(), SigningAlgorithm::Rs384);
        assert_eq!(loaded.kid(), key.kid());
        let token = key.sign(&json!({"x": "y"})).unwrap();
        let header: serde_json::Value = jwt_header(&token);
        assert_eq!(header["alg"], "RS384");
        let claims: serde_json::Value = loaded.verify_signature(&token).unwrap();
        assert_eq!(claims["x"], "y");
        let jwks = serde_json::to_value(key.jwks()).unwrap();
        assert_eq!(jwks["keys"][0]["kty"], "RSA");
        assert_eq!(jwks["keys"][0]["e"], "AQAB");
    }

    #[test]
    fn garbage_and_other_curves_are_refused() {
        for bad in [
            "",
            "not a pem",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(
                matches!(SigningKey::from_pem(bad), Err(Error::Key(_))),
                "{bad:?}"
            );
        }
        // A P-256 key (PKCS#8, made with `openssl genpkey -algorithm EC -pkeyopt
        // ec_paramgen_curve:P-256` for this test only): ES256 is not a SMART algorithm.
        let p256 = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkRCZ/pDutcsz/mfJ
5GrellmW/Sz6Ybvq3ZgVzyuZd4OhRANCAAQq0sgZCTobJcGj7HPk6zZvBBgJcLl8
H7BnD9SLh3PdZ+92BSTrFDDfYcKb9WstHjq4u3iAiks+6SQvVARQPIGl
-----END PRIVATE KEY-----";
        assert!(matches!(SigningKey::from_pem(p256), Err(Error::Key(_))));
    }

    #[test]
    fn jwks_document_shape() {
        let key = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
        let jwks = serde_json::to_value(key.jwks()).unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let jwk = &keys[0];
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-384");
        assert_eq!(jwk["alg"], "ES384");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], key.kid());
        // 48-byte coordinates, base64url without padding; no private part.
        assert_eq!(jwk["x"].as_str().unwrap().len(), 64);
        assert_eq!(jwk["y"].as_str().unwrap().len(), 64);
        assert!(jwk.get("d").is_none());
        // The kid is the RFC 7638 thumbprint: 32 bytes of SHA-256, base64url.
        assert_eq!(key.kid().len(), 43);
        // Serialised twice, the same text (field order is fixed).
        assert_eq!(
            serde_json::to_string(&key.jwks()).unwrap(),
            serde_json::to_string(&key.jwks()).unwrap()
        );
        let other = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
        let both = jwk_set([&key, &other]);
        assert_eq!(both.find(other.kid()), Some(other.public_jwk()));
    }

    #[test]
    fn debug_does_not_show_the_private_key() {
        let key = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains(key.kid()), "{debug}");
        let pem = key.to_pem().unwrap();
        let body: String = pem.lines().nth(1).unwrap().chars().take(20).collect();
        assert!(!debug.contains(&body), "{debug}");
    }

    fn jwt_header(token: &str) -> serde_json::Value {
        use base64::Engine as _;
        let header = token.split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .unwrap(),
        )
        .unwrap()
    }
}
