//! The authorize endpoint (`GET` and `POST /auth/authorize`): the authorization-code
//! flow's pages, rendered on the server with no JavaScript.
//!
//! 1. The app's request (query or form, `authorize-post`) is validated
//!    ([`AuthorizeRequest::parse`]: client, exact redirect URI, `aud` = the FHIR base,
//!    PKCE `S256`, `state`, scopes); an EHR `launch` must name a live launch. Errors that
//!    may not go to the redirect URI become an error page; the others redirect.
//! 2. The login page posts `username` and `password` (`step=login`).
//! 3. A standalone `launch/patient` by a user who is not a Patient shows the patient
//!    picker (`step=pick`).
//! 4. The consent page lists the scopes, one ticked checkbox each (unticking narrows the
//!    grant), with `approve` and `deny` (`step=consent`).
//! 5. Approval stores a single-use code (a minute) bound to the client, the redirect URI
//!    and the PKCE challenge, and redirects with `code` and `state`.
//!
//! Every page carries the app's request as hidden fields (`scope` as `requested_scope`,
//! since the consent checkboxes are named `scope`) and the request is validated again at
//! each step. What the steps learn about the user travels in a ticket: a random value
//! whose hash is stored with that state for ten minutes and which works once, so the
//! hidden fields cannot be edited to become someone else.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use smart_auth::authorize::success_location;
use smart_auth::pages;
use smart_auth::{AuthorizeError, AuthorizeRequest, Client, Scope, ScopeSet};

use super::AuthService;
use super::service::unix_now;
use super::token::{CODE_LIFETIME, StoredGrant, random_secret, registered_client, secret_hash};
use crate::AppState;
use crate::http::body::FormBody;
use crate::http::negotiate::QueryPairs;

/// How long a ticket between two pages lives.
const TICKET_LIFETIME: i64 = 600;
/// How long an EHR launch id stays usable.
pub const LAUNCH_LIFETIME: i64 = 3600;
/// The most patients the picker lists.
const PICKER_LIMIT: usize = 200;

/// The app's request parameters the pages carry along.
const REQUEST_PARAMS: [&str; 9] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "aud",
    "code_challenge",
    "code_challenge_method",
    "launch",
];

/// What an EHR launch (admin endpoint or CLI) fixes: the context the app will get.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchPayload {
    /// The patient id.
    pub patient: Option<String>,
    /// The encounter id.
    pub encounter: Option<String>,
    /// Further context for the app (`fhirContext` items: a `reference` with a `role`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fhir_context: Vec<serde_json::Value>,
}

/// What the login step learned, carried by a ticket to the next step.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ticket {
    username: String,
    fhir_user: String,
    patient: Option<String>,
    encounter: Option<String>,
    need_patient_banner: bool,
    #[serde(default)]
    fhir_context: Vec<serde_json::Value>,
}

/// Stores a new EHR launch and returns its id.
pub async fn create_launch(
    store: &super::store::AuthStore,
    payload: &LaunchPayload,
) -> Result<String, crate::store::StoreError> {
    let id = random_secret();
    let json = serde_json::to_string(payload).unwrap_or_default();
    store
        .put_launch(&id, &json, unix_now() as i64 + LAUNCH_LIFETIME)
        .await?;
    Ok(id)
}

fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    // The pages need no script and are framed by no one. (No `form-action`: browsers
    // apply it to the redirect a form post ends in, and the last one goes to the app.)
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(status, pages::error_page(title, message))
}

/// 500: what failed is logged by the store, not shown.
fn internal_error_page() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Authorization failed",
        "internal error",
    )
}

/// `GET /auth/authorize`
pub async fn authorize_get(
    State(state): State<AppState>,
    QueryPairs(query): QueryPairs,
) -> Response {
    begin(&state, &query).await
}

/// `POST /auth/authorize`: the app's request as a form (`authorize-post`), or one of the
/// pages' steps.
pub async fn authorize_post(
    State(state): State<AppState>,
    _headers: HeaderMap,
    FormBody(form): FormBody,
) -> Response {
    let step = form
        .iter()
        .find(|(k, _)| k == "step")
        .map(|(_, v)| v.as_str());
    match step {
        None => begin(&state, &form).await,
        Some(step) => continue_step(&state, step, &form).await,
    }
}

/// The service, or an error page when authorization is off.
fn auth_of(state: &AppState) -> Result<&AuthService, Response> {
    state.auth.as_deref().ok_or_else(|| {
        error_page(
            StatusCode::NOT_FOUND,
            "No authorization here",
            "This server runs without authorization (--auth off).",
        )
    })
}

/// The app's request, validated, with its client; or the response that refuses it.
async fn validated(
    auth: &AuthService,
    params: &[(String, String)],
) -> Result<(AuthorizeRequest, Client), Response> {
    let client_id = params
        .iter()
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let client = registered_client(auth, client_id).await.map_err(|e| {
        error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Authorization failed",
            &e.description,
        )
    })?;
    match AuthorizeRequest::parse(params, client.as_ref(), &auth.fhir_base) {
        Ok(request) => Ok((request, client.expect("parse refuses an unknown client"))),
        Err(e) => Err(refusal(&e)),
    }
}

fn refusal(e: &AuthorizeError) -> Response {
    match e.location() {
        Some(location) => Redirect::to(&location).into_response(),
        None => error_page(
            StatusCode::BAD_REQUEST,
            "This authorization request cannot be used",
            e.description(),
        ),
    }
}

/// A redirect to the app with an OAuth error.
fn redirect_error(
    request: &AuthorizeRequest,
    code: smart_auth::OAuthErrorCode,
    description: &str,
) -> Response {
    refusal(&AuthorizeError::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        error: code,
        description: description.to_owned(),
        state: Some(request.state.clone()),
    })
}

/// The app's request parameters as hidden fields (`scope` renamed).
fn carried(params: &[(String, String)]) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(k, _)| REQUEST_PARAMS.contains(&k.as_str()))
        .map(|(k, v)| {
            let k = if k == "scope" { "requested_scope" } else { k };
            (k.to_owned(), v.clone())
        })
        .collect()
}

/// The app's request back out of a page's fields.
fn request_params(form: &[(String, String)]) -> Vec<(String, String)> {
    form.iter()
        .filter_map(|(k, v)| match k.as_str() {
            "requested_scope" => Some(("scope".to_owned(), v.clone())),
            "scope" => None,
            k if REQUEST_PARAMS.contains(&k) => Some((k.to_owned(), v.clone())),
            _ => None,
        })
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The launch an EHR-launch request names, if live.
async fn launch_of(
    auth: &AuthService,
    request: &AuthorizeRequest,
) -> Result<Option<LaunchPayload>, Response> {
    let Some(launch) = &request.launch else {
        return Ok(None);
    };
    let payload = auth
        .store
        .launch(launch, unix_now() as i64)
        .await
        .map_err(|_| {
            redirect_error(
                request,
                smart_auth::OAuthErrorCode::ServerError,
                "internal error",
            )
        })?;
    match payload.and_then(|p| serde_json::from_str(&p).ok()) {
        Some(p) => Ok(Some(p)),
        None => Err(redirect_error(
            request,
            smart_auth::OAuthErrorCode::InvalidRequest,
            "the launch is unknown or expired",
        )),
    }
}

async fn begin(state: &AppState, params: &[(String, String)]) -> Response {
    let auth = match auth_of(state) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (request, client) = match validated(auth, params).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = launch_of(auth, &request).await {
        return r;
    }
    let mut hidden = carried(params);
    hidden.push(("step".into(), "login".into()));
    page(
        StatusCode::OK,
        pages::login_page(&action(auth), &hidden, client.display_name(), None),
    )
}

fn action(auth: &AuthService) -> String {
    format!("{}/authorize", auth.auth_base)
}

async fn new_ticket(auth: &AuthService, ticket: &Ticket) -> Result<String, Response> {
    let value = random_secret();
    let json = serde_json::to_string(ticket).unwrap_or_default();
    auth.store
        .put_code(
            &secret_hash(&format!("ticket:{value}")),
            &json,
            unix_now() as i64 + TICKET_LIFETIME,
        )
        .await
        .map_err(|_| internal_error_page())?;
    Ok(value)
}

async fn take_ticket(auth: &AuthService, form: &[(String, String)]) -> Option<Ticket> {
    let value = field(form, "ticket")?;
    let json = auth
        .store
        .take_code(&secret_hash(&format!("ticket:{value}")), unix_now() as i64)
        .await
        .ok()??;
    serde_json::from_str(&json).ok()
}

async fn continue_step(state: &AppState, step: &str, form: &[(String, String)]) -> Response {
    let auth = match auth_of(state) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let params = request_params(form);
    let (request, client) = match validated(auth, &params).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let launch = match launch_of(auth, &request).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let carried = carried(&params);
    let expired = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "Start again from the app.",
        )
    };
    match step {
        "login" => {
            let username = field(form, "username").unwrap_or_default();
            let password = field(form, "password").unwrap_or_default();
            let user = auth.store.user(username).await.ok().flatten();
            let Some(user) = user.filter(|u| {
                !password.is_empty()
                    && smart_auth::passwords::verify_password(password, &u.password_hash)
            }) else {
                let mut hidden = carried.clone();
                hidden.push(("step".into(), "login".into()));
                return page(
                    StatusCode::UNAUTHORIZED,
                    pages::login_page(
                        &action(auth),
                        &hidden,
                        client.display_name(),
                        Some("Unknown user or wrong password."),
                    ),
                );
            };
            let own_patient = match own_patient(state, &user.fhir_user).await {
                Ok(p) => p,
                Err(r) => return r,
            };
            // A related person acts for their patient: user/ scopes reach that
            // patient's compartment, so the patient is always in context.
            let wants_patient = request.scope.contains(&Scope::LaunchPatient)
                || request.scope.needs_patient_context()
                || user.fhir_user.starts_with("RelatedPerson/");
            // An EHR launch names the patient; a patient (or their relative) signing in
            // may only launch for themselves.
            if let (Some(launched), Some(own)) = (
                launch.as_ref().and_then(|l| l.patient.as_deref()),
                own_patient.as_deref(),
            ) && launched != own
            {
                return error_page(
                    StatusCode::FORBIDDEN,
                    "This launch is for another patient",
                    "Sign in as the user the launch was started for.",
                );
            }
            let mut ticket = Ticket {
                username: user.username.clone(),
                fhir_user: user.fhir_user.clone(),
                patient: launch.as_ref().and_then(|l| l.patient.clone()),
                encounter: launch.as_ref().and_then(|l| l.encounter.clone()),
                need_patient_banner: false,
                fhir_context: launch
                    .as_ref()
                    .map(|l| l.fhir_context.clone())
                    .unwrap_or_default(),
            };
            if ticket.patient.is_none() && wants_patient {
                ticket.need_patient_banner = true;
                match own_patient {
                    Some(p) => ticket.patient = Some(p),
                    None => {
                        let patients = match patient_choices(state).await {
                            Ok(p) => p,
                            Err(r) => return r,
                        };
                        let value = match new_ticket(auth, &ticket).await {
                            Ok(v) => v,
                            Err(r) => return r,
                        };
                        return page(
                            StatusCode::OK,
                            pages::patient_picker_page(
                                &action(auth),
                                &with_step(&carried, "pick", &value),
                                &patients,
                            ),
                        );
                    }
                }
            }
            consent(auth, &client, &request, &ticket, &carried).await
        }
        "pick" => {
            let Some(mut ticket) = take_ticket(auth, form).await else {
                return expired();
            };
            let Some(patient) = field(form, "patient").filter(|p| !p.is_empty()) else {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "No patient chosen",
                    "Choose a patient.",
                );
            };
            match state.store.read("Patient", patient).await {
                Ok(Some(p)) if !p.is_deleted() => {}
                _ => {
                    return error_page(
                        StatusCode::BAD_REQUEST,
                        "Unknown patient",
                        "That patient is not on this server.",
                    );
                }
            }
            ticket.patient = Some(patient.to_owned());
            consent(auth, &client, &request, &ticket, &carried).await
        }
        "consent" => {
            let Some(ticket) = take_ticket(auth, form).await else {
                return expired();
            };
            if field(form, "deny").is_some() || field(form, "approve").is_none() {
                return redirect_error(
                    &request,
                    smart_auth::OAuthErrorCode::AccessDenied,
                    "the user denied access",
                );
            }
            let ticked: Vec<&str> = form
                .iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.as_str())
                .collect();
            let granted: ScopeSet = request
                .scope
                .iter()
                .filter(|s| ticked.contains(&s.to_string().as_str()))
                .cloned()
                .collect();
            if granted.is_empty() {
                return redirect_error(
                    &request,
                    smart_auth::OAuthErrorCode::AccessDenied,
                    "no scope was approved",
                );
            }
            if granted.needs_patient_context() && ticket.patient.is_none() {
                return redirect_error(
                    &request,
                    smart_auth::OAuthErrorCode::InvalidScope,
                    "patient/ scopes need a patient in context (ask for launch/patient)",
                );
            }
            let grant = StoredGrant {
                client_id: request.client_id.clone(),
                scope: granted.to_string(),
                username: ticket.username.clone(),
                fhir_user: Some(ticket.fhir_user.clone()),
                patient: ticket.patient.clone(),
                encounter: ticket.encounter.clone(),
                redirect_uri: Some(request.redirect_uri.clone()),
                code_challenge: Some(request.code_challenge.clone()),
                need_patient_banner: ticket.need_patient_banner,
                fhir_context: ticket.fhir_context.clone(),
            };
            let code = random_secret();
            let stored = auth
                .store
                .put_code(
                    &secret_hash(&code),
                    &serde_json::to_string(&grant).unwrap_or_default(),
                    unix_now() as i64 + CODE_LIFETIME,
                )
                .await;
            if stored.is_err() {
                return redirect_error(
                    &request,
                    smart_auth::OAuthErrorCode::ServerError,
                    "internal error",
                );
            }
            Redirect::to(&success_location(
                &request.redirect_uri,
                &code,
                &request.state,
            ))
            .into_response()
        }
        _ => error_page(
            StatusCode::BAD_REQUEST,
            "Unknown step",
            "Start again from the app.",
        ),
    }
}

/// The hidden fields of a page: the app's request, the step it posts and its ticket.
fn with_step(carried: &[(String, String)], step: &str, ticket: &str) -> Vec<(String, String)> {
    let mut hidden = carried.to_vec();
    hidden.push(("step".into(), step.into()));
    hidden.push(("ticket".into(), ticket.into()));
    hidden
}

/// The consent page, with a fresh ticket for the approval.
async fn consent(
    auth: &AuthService,
    client: &Client,
    request: &AuthorizeRequest,
    ticket: &Ticket,
    carried: &[(String, String)],
) -> Response {
    let value = match new_ticket(auth, ticket).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let scopes: Vec<String> = request.scope.iter().map(ToString::to_string).collect();
    page(
        StatusCode::OK,
        pages::consent_page(
            &action(auth),
            &with_step(carried, "consent", &value),
            client.display_name(),
            &ticket.username,
            &scopes,
        ),
    )
}

/// The patient a user stands for: a Patient user itself, a RelatedPerson user the patient
/// of their RelatedPerson resource (`RelatedPerson.patient`); `None` for clinicians, who
/// pick one.
async fn own_patient(state: &AppState, fhir_user: &str) -> Result<Option<String>, Response> {
    if let Some(id) = fhir_user.strip_prefix("Patient/") {
        return Ok(Some(id.to_owned()));
    }
    let Some(id) = fhir_user.strip_prefix("RelatedPerson/") else {
        return Ok(None);
    };
    let related = state
        .store
        .read("RelatedPerson", id)
        .await
        .map_err(|_| internal_error_page())?;
    let patient = related
        .filter(|r| !r.is_deleted())
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r.content.as_deref()?).ok())
        .and_then(|v| {
            v["patient"]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Patient/"))
                .map(str::to_owned)
        });
    match patient {
        Some(p) => Ok(Some(p)),
        None => Err(error_page(
            StatusCode::FORBIDDEN,
            "No patient for this user",
            "This user is a related person, but their RelatedPerson record names no patient on this server.",
        )),
    }
}

/// The patients a user who is not a Patient may pick from: `(id, "Family, Given
/// (birth date)")`, up to [`PICKER_LIMIT`].
async fn patient_choices(state: &AppState) -> Result<Vec<(String, String)>, Response> {
    let query = crate::store::SearchQuery::matching(Vec::new(), PICKER_LIMIT);
    let page_of = state
        .store
        .search_with("Patient", &query)
        .await
        .map_err(|_| internal_error_page())?;
    Ok(page_of
        .resources
        .iter()
        .filter_map(|stored| {
            let value: serde_json::Value = serde_json::from_str(stored.content.as_deref()?).ok()?;
            let name = value["name"].get(0);
            let family = name.and_then(|n| n["family"].as_str()).unwrap_or("");
            let given = name
                .and_then(|n| n["given"].get(0))
                .and_then(|g| g.as_str())
                .unwrap_or("");
            let birth = value["birthDate"].as_str().unwrap_or("");
            let label = format!("{family}, {given} ({birth})");
            Some((stored.id.clone(), label))
        })
        .collect())
}
