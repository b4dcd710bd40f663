//! The authorization server's HTTP endpoints: discovery
//! (`[base]/.well-known/smart-configuration`, `[base]/.well-known/openid-configuration`)
//! and the key set (`/auth/jwks`). Discovery is public and CORS-open (as every route:
//! `http::cors`), as SMART App Launch requires, so a browser app on any origin can find
//! the endpoints.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use smart_auth::{OpenIdConfiguration, SmartConfiguration};

use crate::AppState;
use crate::error::ApiError;

/// The discovery routes, to nest under the FHIR base (`/fhir`).
pub fn discovery_routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/smart-configuration", get(smart_configuration))
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
}

/// The authorization routes, to nest under `/auth`.
pub fn auth_routes() -> Router<AppState> {
    use axum::routing::post;
    Router::new()
        .route("/jwks", get(jwks))
        .route(
            "/authorize",
            get(super::authorize::authorize_get).post(super::authorize::authorize_post),
        )
        .route("/token", post(super::token::token))
        .route("/introspect", post(super::token::introspect))
        .route("/revoke", post(super::token::revoke))
        .route(
            "/userinfo",
            get(super::token::userinfo).post(super::token::userinfo),
        )
        .route("/smart-style.json", get(smart_style))
        .route("/launch", post(super::admin::launch_endpoint))
}

/// JSON (CORS is open on every route: `http::cors`).
fn public_json<T: Serialize>(value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn service(state: &AppState) -> Result<&crate::auth::AuthService, ApiError> {
    state
        .auth
        .as_deref()
        .ok_or_else(|| ApiError::not_found("This server runs without authorization (--auth off)"))
}

/// `GET [base]/.well-known/smart-configuration`
async fn smart_configuration(State(state): State<AppState>) -> Result<Response, ApiError> {
    let auth = service(&state)?;
    Ok(public_json(&SmartConfiguration::for_base(
        &auth.fhir_base,
        &auth.auth_base,
    )))
}

/// `GET [base]/.well-known/openid-configuration`
async fn openid_configuration(State(state): State<AppState>) -> Result<Response, ApiError> {
    let auth = service(&state)?;
    Ok(public_json(&OpenIdConfiguration::for_base(
        &auth.fhir_base,
        &auth.auth_base,
    )))
}

/// `GET /auth/jwks`: the public keys tokens are signed with.
async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(public_json(&service(&state)?.jwks().await?))
}

/// Adds the SMART security section to a CapabilityStatement's `rest[0]`: the
/// `SMART-on-FHIR` service and the `oauth-uris` extension naming the endpoints
/// ([SMART App Launch: conformance](https://hl7.org/fhir/smart-app-launch/conformance.html)).
pub fn add_security(capability: &mut serde_json::Value, auth: &crate::auth::AuthService) {
    let at = |path: &str| format!("{}/{path}", auth.auth_base);
    let uri = |name: &str, path: &str| serde_json::json!({"url": name, "valueUri": at(path)});
    let security = serde_json::json!({
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [
                uri("token", "token"),
                uri("authorize", "authorize"),
                uri("introspect", "introspect"),
                uri("revoke", "revoke"),
            ],
        }],
        "service": [{
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "SMART-on-FHIR",
            }],
            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
        }],
        "description": "SMART App Launch 2.x: see .well-known/smart-configuration",
    });
    if let Some(rest) = capability
        .get_mut("rest")
        .and_then(|r| r.get_mut(0))
        .and_then(serde_json::Value::as_object_mut)
    {
        rest.insert("security".into(), security);
    }
}

/// `GET /auth/smart-style.json`: the styling hints the token response points apps to
/// (`smart_style_url`, SMART capability `context-style`).
async fn smart_style() -> Response {
    public_json(&serde_json::json!({
        "color_background": "#f6f7f9",
        "color_error": "#b00020",
        "color_highlight": "#2357a5",
        "color_modal_backdrop": "",
        "color_success": "#2e7d32",
        "color_text": "#1b1f24",
        "dim_border_radius": "6px",
        "dim_font_size": "16px",
        "dim_spacing_size": "16px",
        "font_family_body": "system-ui, sans-serif",
        "font_family_heading": "system-ui, sans-serif",
    }))
}
