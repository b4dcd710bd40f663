//! # smart-auth
//!
//! The pure core of HealthOS authorization, for
//! [SMART App Launch 2.x](https://hl7.org/fhir/smart-app-launch/):
//!
//! - [`scopes`]: the scope grammar and its access decisions ([`ScopeSet`]);
//! - [`pkce`]: PKCE `S256` verification;
//! - [`keys`]: the server's signing key (ES384 or RS384), PEM storage and its JWKS;
//! - [`tokens`]: access tokens as signed JWTs ([`TokenService`]: issue and verify);
//! - [`discovery`]: the `.well-known/smart-configuration` and `openid-configuration`
//!   documents;
//! - [`client_assertion`]: Backend Services `private_key_jwt` client authentication;
//! - [`passwords`]: Argon2id hashing of user passwords and client secrets;
//! - [`oauth_error`]: OAuth error codes and responses ([`OAuthError`]);
//! - [`params`]: reading OAuth request parameters (empty = absent, repeated = invalid);
//! - [`clients`]: the registered [`Client`] and token-endpoint client authentication;
//! - [`authorize`]: validating an authorization request ([`AuthorizeRequest`]) and the
//!   redirects back to the app;
//! - [`pages`]: the HTML login, consent, patient-picker and error pages;
//! - [`introspection`]: token introspection response bodies.
//!
//! Why a crate of its own, with no HTTP: the rules that decide who may read what, and the
//! cryptographic checks that decide who is asking, are the part of the server most worth
//! testing exhaustively, and they are functions of strings, keys and a clock. Every
//! function that depends on time takes `now` as an argument. `fhir-server` parses the
//! granted scopes once into a [`ScopeSet`] (in its `SmartContext` extractor) and asks it;
//! the endpoints, the client registry's storage, code and refresh-token storage live in
//! the server, which calls the decisions made here.

pub mod authorize;
pub mod client_assertion;
pub mod clients;
pub mod discovery;
pub mod introspection;
pub mod keys;
pub mod oauth_error;
pub mod pages;
pub mod params;
pub mod passwords;
pub mod pkce;
pub mod scopes;
pub mod tokens;

mod jwt;

pub use authorize::{AuthorizeError, AuthorizeRequest};
pub use client_assertion::{AssertionPolicy, VerifiedAssertion};
pub use clients::{AuthMethod, AuthenticatedClient, Client, ClientAuth, Credentials};
pub use discovery::{Capability, OpenIdConfiguration, SmartConfiguration};
pub use keys::{SigningAlgorithm, SigningKey};
pub use oauth_error::{OAuthError, OAuthErrorCode};
pub use scopes::{Access, Context, Interaction, Scope, ScopeSet};
pub use tokens::{AccessTokenClaims, Grant, IssuedToken, LaunchContext, TokenConfig, TokenService};

/// Everything that can be wrong with a scope string, a PKCE exchange, a key, a JWT or a
/// password hash.
///
/// Scope errors carry the offending scope so an `invalid_scope` response can name it.
/// JWT errors are specific enough for a log line and an `invalid_client` /
/// `invalid_token` response; errors of the `jsonwebtoken` crate are folded into them (as
/// text, so this type stays `Clone + Eq`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An empty scope token.
    #[error("empty scope")]
    EmptyScope,
    /// A character RFC 6749 §3.3 does not allow in a scope token (space, `"`, `\`, control or non-ASCII).
    #[error("scope `{scope}`: character {character:?} is not allowed in a scope")]
    InvalidCharacter {
        /// The scope as received.
        scope: String,
        /// The first offending character.
        character: char,
    },
    /// Neither a resource scope (`patient|user|system/…`) nor one of the named SMART scopes.
    #[error("unknown scope `{scope}`")]
    UnknownScope {
        /// The scope as received.
        scope: String,
    },
    /// `patient/` (or `user/`, `system/`) with no resource type before the `.`.
    #[error("scope `{scope}`: a resource type (or `*`) is required after the `/`")]
    MissingResourceType {
        /// The scope as received.
        scope: String,
    },
    /// A resource type that is not a FHIR type name (`[A-Z][A-Za-z0-9]*`) nor `*`.
    #[error("scope `{scope}`: `{found}` is not a resource type")]
    InvalidResourceType {
        /// The scope as received.
        scope: String,
        /// The text where the type should be.
        found: String,
    },
    /// No permissions after the resource type (`patient/Observation`, `patient/Observation.`).
    #[error(
        "scope `{scope}`: permissions are required after the resource type (`.rs`, `.cruds`, `.read`, …)"
    )]
    MissingPermissions {
        /// The scope as received.
        scope: String,
    },
    /// A permission letter outside `cruds` (or a v1 word other than `read`, `write`, `*`).
    #[error(
        "scope `{scope}`: unknown permission `{letter}` (expected letters from `cruds`, or v1 `read`/`write`/`*`)"
    )]
    UnknownPermission {
        /// The scope as received.
        scope: String,
        /// The first unknown letter.
        letter: char,
    },
    /// v2 permission letters repeated or out of `c r u d s` order (`.sr`, `.rrs`).
    #[error("scope `{scope}`: permissions must be in `cruds` order, each at most once")]
    PermissionOrder {
        /// The scope as received.
        scope: String,
    },
    /// A granular `?…` part that is not `name=value(&name=value)*`, or one on a v1 scope.
    #[error("scope `{scope}`: invalid granular restriction: {reason}")]
    InvalidQuery {
        /// The scope as received.
        scope: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `code_challenge_method=plain` (or none, which RFC 7636 reads as `plain`).
    #[error("PKCE method `plain` is not allowed; use `S256`")]
    PlainMethod,
    /// A `code_challenge_method` other than `S256` and `plain`.
    #[error("unsupported PKCE method `{0}`; use `S256`")]
    UnsupportedMethod(String),
    /// A `code_verifier` shorter than 43 or longer than 128 characters.
    #[error("code_verifier must be 43 to 128 characters, got {0}")]
    VerifierLength(usize),
    /// A `code_verifier` character outside `[A-Za-z0-9-._~]`.
    #[error("code_verifier has {character:?} at byte {position}; only [A-Za-z0-9-._~] are allowed")]
    VerifierCharacter {
        /// Byte offset of the character.
        position: usize,
        /// The character.
        character: char,
    },
    /// A `code_challenge` that is not 43 characters of unpadded base64url encoding 32 bytes.
    #[error("code_challenge is not an S256 challenge (43 base64url characters, no padding)")]
    MalformedChallenge,
    /// The client sent the challenge itself as the verifier.
    #[error("code_verifier equals the code_challenge")]
    VerifierEqualsChallenge,
    /// The verifier's SHA-256 does not match the challenge.
    #[error("code_verifier does not match the code_challenge")]
    VerifierMismatch,
    /// A key could not be generated, read from PEM, encoded, or turned into a JWK.
    #[error("key error: {0}")]
    Key(String),
    /// Signing a token failed.
    #[error("could not sign the token: {0}")]
    Signing(String),
    /// Not a compact JWS (three base64url parts), or its header or claims are not the
    /// expected JSON (a required claim missing, a claim of the wrong type).
    #[error("malformed JWT: {0}")]
    MalformedJwt(String),
    /// A JWT `alg` other than `ES384` and `RS384` (including `none`).
    #[error("JWT algorithm `{0}` is not accepted (ES384 or RS384 only)")]
    UnsupportedAlgorithm(String),
    /// A JWT header without the `kid` that selects the verification key.
    #[error("JWT header has no `kid`")]
    MissingKeyId,
    /// A `kid` that names no key in the JWKS used for verification.
    #[error("no key with kid `{0}`")]
    UnknownKeyId(String),
    /// The key selected by `kid` does not fit the header's `alg` (another key type, or a
    /// JWK whose own `alg` differs).
    #[error("key `{kid}` cannot verify {alg}")]
    KeyAlgorithmMismatch {
        /// The key id.
        kid: String,
        /// The header's algorithm.
        alg: String,
    },
    /// The signature does not verify with the selected key.
    #[error("JWT signature is invalid")]
    InvalidSignature,
    /// `exp` is in the past, beyond the leeway.
    #[error("JWT expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp` (seconds since the Unix epoch).
        exp: u64,
        /// The verifier's clock.
        now: u64,
    },
    /// `nbf` is in the future, beyond the leeway.
    #[error("JWT not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: u64,
        /// The verifier's clock.
        now: u64,
    },
    /// A client assertion whose `exp` is further ahead than allowed (SMART Backend
    /// Services: at most five minutes).
    #[error("JWT exp {exp} is later than the latest allowed, {latest}")]
    ExpiresTooLate {
        /// The token's `exp`.
        exp: u64,
        /// The latest `exp` accepted at this time.
        latest: u64,
    },
    /// `iss` is not the expected issuer.
    #[error("JWT issuer `{found}` is not `{expected}`")]
    WrongIssuer {
        /// The issuer required.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// `aud` does not contain the expected audience.
    #[error("JWT audience does not include `{expected}`")]
    WrongAudience {
        /// The audience required.
        expected: String,
    },
    /// A client assertion whose `sub` differs from its `iss` (both must be the client_id).
    #[error("client assertion `sub` `{sub}` differs from `iss` `{iss}`")]
    IssuerSubjectMismatch {
        /// The assertion's `iss`.
        iss: String,
        /// The assertion's `sub`.
        sub: String,
    },
    /// A `client_assertion_type` other than
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    #[error("unsupported client_assertion_type `{0}`")]
    WrongAssertionType(String),
    /// A password or client secret could not be hashed (out-of-range Argon2 parameters,
    /// or the operating system's random source failed).
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}
