//! A standalone launch in a real browser: headless Chromium, driven through
//! chromedriver's [W3C WebDriver](https://www.w3.org/TR/webdriver2/) HTTP API, signs in on
//! the server's login page and approves on its consent page; the redirect it ends on
//! carries the code and the state, which the test exchanges for a token that reads the
//! patient's data. What a browser enforces and a plain HTTP client does not (the pages'
//! Content-Security-Policy, including `form-action` on the redirect after the consent
//! form, cookies, HTML parsing) is thus exercised.
//!
//! It needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian `chromium`,
//! `chromium-driver`); where they are missing it says so and does nothing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fhir_server::auth::admin::{self, NewClientAuth};
use reqwest::Method;
use serde_json::{Value, json};

use crate::smart_support::*;
use crate::support::{Backend, TestServer};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process in its own process group, ended with its browsers on drop
/// (also when the test fails).
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready.
    async fn start() -> Driver {
        use std::os::unix::process::CommandExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = reqwest::get(format!("{}/status", driver.url)).await;
            if let Ok(r) = ready
                && let Ok(status) = r.json::<Value>().await
                && status["value"]["ready"] == true
            {
                return driver;
            }
            assert!(Instant::now() < deadline, "chromedriver is not ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session: one headless Chromium.
struct Browser {
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn open(driver: &Driver) -> Browser {
        let http = reqwest::Client::new();
        // `implicit`: a find waits up to 15 s for its element, so a find right after a
        // click that submits a form waits for the next page instead of racing it.
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "timeouts": {"implicit": 15_000, "pageLoad": 30_000},
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            },
        }}});
        let created = http
            .post(format!("{}/session", driver.url))
            .json(&capabilities)
            .send()
            .await
            .unwrap();
        let status = created.status();
        let body: Value = created.json().await.unwrap();
        assert_eq!(status, 200, "new session: {body}");
        let id = body["value"]["sessionId"].as_str().expect("a session id");
        Browser {
            http,
            session: format!("{}/session/{id}", driver.url),
        }
    }

    /// A WebDriver command; its `value`.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "WebDriver {path}: {body}");
        body["value"].clone()
    }

    async fn navigate(&self, url: &str) {
        self.command(Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn current_url(&self) -> String {
        let url = self.command(Method::GET, "/url", None).await;
        url.as_str().unwrap().to_owned()
    }

    async fn page_source(&self) -> String {
        let html = self.command(Method::GET, "/source", None).await;
        html.as_str().unwrap().to_owned()
    }

    /// The browser's console messages (chromedriver's `se/log`), for failure messages.
    async fn console(&self) -> Value {
        let response = self
            .http
            .post(format!("{}/se/log", self.session))
            .json(&json!({"type": "browser"}))
            .send()
            .await;
        match response {
            Ok(r) => r
                .json::<Value>()
                .await
                .map(|v| v["value"].clone())
                .unwrap_or_default(),
            Err(e) => json!(e.to_string()),
        }
    }

    /// The element a CSS selector finds (the WebDriver command fails when none does).
    async fn find(&self, css: &str) -> String {
        let found = self
            .command(
                Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {found}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(
            Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(
            Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Waits until the current URL starts with `prefix`; the URL.
    async fn wait_for_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.current_url().await;
            if url.starts_with(prefix) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "the browser stayed on {url}; console: {}; page: {}",
                self.console().await,
                self.page_source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn close(self) {
        self.command(Method::DELETE, "", None).await;
    }
}

/// A redirect URI the browser can land on: a local page that says "done" to any GET.
async fn callback_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndone",
                    )
                    .await;
            });
        }
    });
    url
}

/// A patient signs in to a public app in Chromium (standalone launch, `launch/patient`)
/// and approves; the app gets a code with its state, a token for that patient, and the
/// patient's Observation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_launch_in_chromium() {
    for program in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(program).exists() {
            eprintln!(
                "smart_browser: {program} is missing (Debian: apt-get install chromium chromium-driver); the browser test cannot run here"
            );
            return;
        }
    }
    let server = TestServer::start_smart(Backend::Sqlite).await;

    // The data, written with a clinician's unrestricted token.
    add_user(
        &server,
        "clinician",
        "clinician-password",
        "Practitioner/doc",
    )
    .await;
    let loader = standalone_token(
        &server,
        "loader",
        "clinician",
        "clinician-password",
        "user/*.cruds",
    )
    .await;
    let loader = loader["access_token"].as_str().unwrap();
    for resource in [
        json!({"resourceType": "Patient", "id": "pa", "name": [{"family": "Alvarez"}]}),
        json!({"resourceType": "Observation", "id": "a-vs", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
               "subject": {"reference": "Patient/pa"}}),
    ] {
        let path = format!(
            "{}/{}",
            resource["resourceType"].as_str().unwrap(),
            resource["id"].as_str().unwrap()
        );
        let r = send_with(&server, loader, Method::PUT, &path, Some(&resource), &[]).await;
        assert_eq!(r.status, 201, "{path}: {}", r.text);
    }
    add_user(&server, "ana", "ana-password", "Patient/pa").await;
    let redirect = callback_server().await;
    admin::add_client(
        &*server.admin_store().await,
        "browser-app",
        Some("Browser app".into()),
        vec![redirect.clone()],
        NewClientAuth::Public,
        None,
    )
    .await
    .unwrap();

    let mut authorize = reqwest::Url::parse(&auth_url(&server, "authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "browser-app")
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "launch/patient openid fhirUser patient/*.rs")
        .append_pair("state", "browser-state-1")
        .append_pair("aud", &server.base)
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");

    let driver = Driver::start().await;
    let browser = Browser::open(&driver).await;
    browser.navigate(authorize.as_str()).await;
    browser.type_into("input[name=username]", "ana").await;
    browser
        .type_into("input[name=password]", "ana-password")
        .await;
    browser.click("button[type=submit]").await;
    // The consent page: every scope ticked; approve.
    browser.find("input[type=checkbox][name=scope]").await;
    browser.click("button[name=approve]").await;
    let landed = browser.wait_for_url(&redirect).await;
    browser.close().await;
    drop(driver);

    assert_eq!(
        query_param(&landed, "state").as_deref(),
        Some("browser-state-1")
    );
    let code = query_param(&landed, "code").expect("a code in the redirect");
    let response = reqwest::Client::new()
        .post(auth_url(&server, "token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("client_id", "browser-app"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["patient"], "pa");
    assert_eq!(
        token["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .collect::<Vec<_>>()
            .len(),
        4,
        "{token}"
    );
    let access = token["access_token"].as_str().unwrap();
    let found = get_with(&server, access, "Observation").await;
    assert_eq!(found.status, 200, "{}", found.text);
    let ids: Vec<Value> = found.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].clone())
        .collect();
    assert_eq!(ids, [json!("a-vs")]);
    server.stop().await;
}
