//! The HTTP surface: the router, request ids, and logs that carry no PHI.
//!
//! Each request gets a span with a request id (the client's `X-Request-Id` when it sends
//! one, else a new UUID, returned in the response), the method, the route template (never
//! the concrete path or query, which can hold identifiers), the status and the latency.

pub mod body;
pub mod handlers;
pub mod imports;
pub mod negotiate;
pub mod respond;
pub mod twin;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::AppState;
use crate::error::ApiError;

/// `Content-Type` of FHIR JSON responses.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
/// `Content-Type` of FHIR XML responses.
pub const FHIR_XML: &str = "application/fhir+xml; charset=utf-8";

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The FHIR routes under `/fhir`.
fn fhir_routes() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/", get(h::search_system).post(h::bundle))
        .route("/_search", axum::routing::post(h::search_system_post))
        .route("/metadata", get(h::metadata))
        .route("/$reindex", axum::routing::post(h::reindex_system))
        .route("/_history", get(h::history_system))
        .route(
            "/{res_type}",
            get(h::search)
                .post(h::create)
                .put(h::conditional_update)
                .delete(h::conditional_delete),
        )
        .route("/{res_type}/_history", get(h::history_type))
        .route("/{res_type}/_search", axum::routing::post(h::search_post))
        .route("/{res_type}/$reindex", axum::routing::post(h::reindex_type))
        // A static segment: it takes precedence over `/{res_type}/{id}` (ids have no `$`).
        .route("/Observation/$lastn", get(h::lastn).post(h::lastn_post))
        .route(
            "/{res_type}/{id}",
            get(h::read)
                .put(h::update)
                .delete(h::delete)
                .patch(h::patch),
        )
        .route("/{res_type}/{id}/_history", get(h::history_instance))
        .route("/Patient/{id}/$everything", get(h::everything))
        .route(
            "/Patient/{id}/$import-wearable",
            axum::routing::post(imports::import_wearable),
        )
        .route(
            "/Patient/{id}/$sync-ehr",
            axum::routing::post(imports::sync_ehr),
        )
        .route("/Patient/{id}/$twin", get(twin::twin))
        .route(
            "/Patient/{id}/$twin-rebuild",
            axum::routing::post(twin::twin_rebuild),
        )
        .route(
            "/Flag/{id}/$acknowledge",
            axum::routing::post(twin::acknowledge),
        )
        .route("/{res_type}/{id}/_history/{vid}", get(h::vread))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed("This interaction is not offered on this URL").into_response()
}

/// Errors are built as JSON OperationOutcomes in one place; when the client asked for XML
/// (by `_format` or `Accept`), this turns them into XML on the way out.
async fn errors_in_requested_format(req: Request, next: Next) -> Response {
    let query = crate::rest::criteria::query_pairs(req.uri().query().unwrap_or(""));
    let wants_xml = matches!(negotiate::negotiate(&query, req.headers()), Ok(n) if n.format == fhir_model::format::Format::Xml);
    let response = next.run(req).await;
    let is_json_error = response.status().as_u16() >= 400
        && response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/fhir+json"));
    if !wants_xml || !is_json_error {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::internal("could not read an error body").into_response();
    };
    let xml = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|oo| fhir_model::format::to_xml(&oo, false).ok());
    match xml {
        Some(xml) => {
            parts.headers.insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static(FHIR_XML),
            );
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(xml))
        }
        None => Response::from_parts(parts, axum::body::Body::from(bytes)),
    }
}

/// CORS for browser apps (SMART apps run on other origins): any origin, since access is
/// by bearer token (never a cookie); the FHIR headers a client sends and reads.
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method, header};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            HeaderName::from_static("if-none-exist"),
            HeaderName::from_static("prefer"),
            REQUEST_ID,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::LAST_MODIFIED,
            header::CONTENT_LOCATION,
            header::WWW_AUTHENTICATE,
            REQUEST_ID,
        ])
        .max_age(Duration::from_secs(600))
}

async fn not_found() -> Response {
    ApiError::not_found("No FHIR endpoint at this URL (the FHIR base is /fhir)").into_response()
}

/// The whole application, for `axum::serve` or in-process tests.
pub fn app(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str);
            let request_id = req
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), route, request_id)
        })
        .on_request(())
        .on_response(|res: &Response, latency: Duration, _span: &Span| {
            tracing::info!(
                status = res.status().as_u16(),
                latency_us = latency.as_micros() as u64,
                "response"
            );
        })
        .on_failure(());
    Router::new()
        .nest(
            "/fhir",
            fhir_routes().merge(crate::auth::endpoints::discovery_routes()),
        )
        .nest("/auth", crate::auth::endpoints::auth_routes())
        .route(
            "/fhir/",
            get(handlers::search_system).post(handlers::bundle),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(cors())
        .layer(axum::middleware::from_fn(errors_in_requested_format))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}
