//! SMART App Launch 2.x authorization, wired into the server: the authorization
//! server's state and keys ([`service`]), its storage ([`store`]), and the access
//! decisions every FHIR request goes through ([`access`]). The rules themselves (scope
//! grammar, PKCE, token signing, client assertions) are the `smart-auth` crate's.

pub mod access;
pub mod admin;
pub mod authorize;
pub mod endpoints;
pub mod service;
pub mod store;
pub mod token;

pub use service::AuthService;
