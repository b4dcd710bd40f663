//! # smart-auth
//!
//! The pure core of HealthOS authorization: the
//! [SMART App Launch 2.x](https://hl7.org/fhir/smart-app-launch/) scope grammar and its
//! access decisions ([`scopes`]), and PKCE `S256` verification ([`pkce`]).
//!
//! Why a crate of its own, with no HTTP: the rules that decide who may read what are the
//! part of the server most worth testing exhaustively, and they are functions of strings.
//! `fhir-server` parses the granted scopes once into a [`ScopeSet`] (in its `SmartContext`
//! extractor) and asks it; token signing, client authentication and the endpoints live in
//! the server.

pub mod pkce;
pub mod scopes;

pub use scopes::{Access, Context, Interaction, Scope, ScopeSet};

/// Everything that can be wrong with a scope string or a PKCE exchange.
///
/// Scope errors carry the offending scope so an `invalid_scope` response can name it.
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
}
