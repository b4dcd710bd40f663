//! SMART helpers for the HTTP tests: registering clients and users the way the command
//! line does, and walking the authorize pages as a browser would (following the forms'
//! hidden fields), to get codes and tokens over HTTP.

#![allow(dead_code)]

use fhir_server::auth::admin::{self, NewClientAuth};
use serde_json::Value;

use crate::support::TestServer;

/// A PKCE verifier and its `S256` challenge (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// The redirect URI the test clients register.
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// The server's origin (`http://127.0.0.1:PORT`), where `/auth/…` lives.
pub fn origin(server: &TestServer) -> String {
    server.base.trim_end_matches("/fhir").to_owned()
}

/// `{origin}/auth/{path}`.
pub fn auth_url(server: &TestServer, path: &str) -> String {
    format!("{}/auth/{path}", origin(server))
}

/// Registers a client as `fhir-server client add` does.
pub async fn add_client(server: &TestServer, client_id: &str, auth: NewClientAuth) {
    let store = server.admin_store().await;
    admin::add_client(
        &*store,
        client_id,
        Some(format!("Test app {client_id}")),
        vec![REDIRECT.to_owned()],
        auth,
        None,
    )
    .await
    .expect("client registered");
}

/// Creates a user as `fhir-server user add` does.
pub async fn add_user(server: &TestServer, username: &str, password: &str, fhir_user: &str) {
    let store = server.admin_store().await;
    admin::add_user(&*store, username, password, fhir_user)
        .await
        .expect("user created");
}

/// Starts an EHR launch as `fhir-server launch` does; returns the `launch` value.
pub async fn ehr_launch(server: &TestServer, patient: &str, encounter: Option<&str>) -> String {
    let store = server.admin_store().await;
    admin::launch(&*store, patient, encounter)
        .await
        .expect("launch created")
}

/// The authorize request parameters of a standard request.
pub fn authorize_params(
    server: &TestServer,
    client_id: &str,
    scope: &str,
) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", scope),
        ("state", "state-123"),
        ("aud", server.base.as_str()),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A client that does not follow redirects (the code arrives in a `Location`).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The attribute text of every `<input …>` tag of a page.
fn input_tags(html: &str) -> impl Iterator<Item = &str> {
    html.split("<input")
        .skip(1)
        .filter_map(|tag| tag.find('>').map(|end| &tag[..end]))
}

/// The `(name, value)` of every `<input type="hidden">` of a page.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    input_tags(html)
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
        .collect()
}

/// The `value`s of the inputs named `name` (checkboxes, radios).
pub fn input_values(html: &str, name: &str) -> Vec<String> {
    input_tags(html)
        .filter(|tag| attribute(tag, "name").as_deref() == Some(name))
        .filter_map(|tag| attribute(tag, "value"))
        .collect()
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Walks the authorize pages: the request, the login, the patient picker if shown
/// (choosing `pick`, or the first patient), the consent approving the scopes in
/// `approve` (all when `None`). Returns the final redirect `Location`.
pub async fn authorize(
    server: &TestServer,
    params: &[(String, String)],
    username: &str,
    password: &str,
    pick: Option<&str>,
    approve: Option<&[&str]>,
) -> String {
    let url = auth_url(server, "authorize");
    authorize_at(&url, params, username, password, pick, approve).await
}

/// [`authorize`] at the authorize endpoint `url` (another server instance's, say).
pub async fn authorize_at(
    url: &str,
    params: &[(String, String)],
    username: &str,
    password: &str,
    pick: Option<&str>,
    approve: Option<&[&str]>,
) -> String {
    let http = browser();
    let url = url.to_owned();
    let login = http.get(&url).query(params).send().await.unwrap();
    assert_eq!(login.status(), 200, "login page");
    let html = login.text().await.unwrap();
    let mut form = hidden_fields(&html);
    form.push(("username".into(), username.into()));
    form.push(("password".into(), password.into()));
    let mut page = http.post(&url).form(&form).send().await.unwrap();
    let mut html = page.text().await.unwrap();
    if html.contains("name=\"patient\"") {
        let mut form = hidden_fields(&html);
        let choice = pick
            .map(str::to_owned)
            .unwrap_or_else(|| input_values(&html, "patient")[0].clone());
        form.push(("patient".into(), choice));
        form.push(("approve".into(), "1".into()));
        page = http.post(&url).form(&form).send().await.unwrap();
        html = page.text().await.unwrap();
    }
    assert!(html.contains("name=\"approve\""), "consent page: {html}");
    let mut form = hidden_fields(&html);
    for scope in input_values(&html, "scope") {
        if approve.is_none_or(|a| a.contains(&scope.as_str())) {
            form.push(("scope".into(), scope));
        }
    }
    form.push(("approve".into(), "1".into()));
    let done = http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(done.status(), 303, "redirect after consent");
    done.headers()["location"].to_str().unwrap().to_owned()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Exchanges a code at the token endpoint as a public client.
pub async fn exchange_code(server: &TestServer, client_id: &str, code: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(auth_url(server, "token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
}

/// A standalone launch by a public client `client_id` (registered if new) for
/// `username`, approving every scope asked for: the token response.
pub async fn standalone_token(
    server: &TestServer,
    client_id: &str,
    username: &str,
    password: &str,
    scope: &str,
) -> Value {
    let store = server.admin_store().await;
    if fhir_server::auth::store::AuthStore::new(store.reader())
        .client(client_id)
        .await
        .unwrap()
        .is_none()
    {
        add_client(server, client_id, NewClientAuth::Public).await;
    }
    let params = authorize_params(server, client_id, scope);
    let location = authorize(server, &params, username, password, None, None).await;
    let code = query_param(&location, "code").expect("a code");
    let response = exchange_code(server, client_id, &code).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `GET [base]/{path}` with a bearer token.
pub async fn get_with(server: &TestServer, token: &str, path: &str) -> crate::support::Reply {
    crate::support::Reply::from(
        server
            .request(reqwest::Method::GET, path)
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Registers `client_id` as a public client unless it is known already.
pub async fn ensure_public_client(server: &TestServer, client_id: &str) {
    let store = server.admin_store().await;
    let known = fhir_server::auth::store::AuthStore::new(store.reader())
        .client(client_id)
        .await
        .unwrap()
        .is_some();
    if !known {
        add_client(server, client_id, NewClientAuth::Public).await;
    }
}

/// An EHR launch for `patient` (and `encounter`) opened by `username`, whose app (a
/// public client `client_id`, registered if new) asks for `launch` and `scope` and gets
/// every scope approved: the token response.
pub async fn ehr_token(
    server: &TestServer,
    client_id: &str,
    (username, password): (&str, &str),
    (patient, encounter): (&str, Option<&str>),
    scope: &str,
) -> Value {
    ensure_public_client(server, client_id).await;
    let launch = ehr_launch(server, patient, encounter).await;
    let mut params = authorize_params(server, client_id, &format!("launch {scope}"));
    params.push(("launch".into(), launch));
    let location = authorize(server, &params, username, password, None, None).await;
    let code = query_param(&location, "code").expect("a code");
    let response = exchange_code(server, client_id, &code).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `method [base]/{path}` with a bearer token and, if given, a JSON body
/// (`application/fhir+json`) and extra headers.
pub async fn send_with(
    server: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> crate::support::Reply {
    let mut request = server.request(method, path).bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/fhir+json")
            .body(serde_json::to_vec(body).unwrap());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    crate::support::Reply::from(request.send().await.unwrap()).await
}
