//! Test harness: a fresh server per test on a fresh database, and a small client.

use fhir_server::config::AuthMode;
use fhir_server::{Config, RunningServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A server on its own database, stopped and cleaned up on drop of the harness.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub base: String,
    /// The database the server runs on (for a second server on the same database).
    pub database_url: String,
    pub client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    pg_db: Option<(String, String)>,
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    #[cfg_attr(not(feature = "postgres-tests"), allow(dead_code))]
    Postgres,
}

fn pg_admin_url() -> String {
    std::env::var("HEALTHOS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, AuthMode::Off).await
    }

    /// A server with SMART authorization (`--auth smart`) on every FHIR request.
    pub async fn start_smart(backend: Backend) -> TestServer {
        Self::start_with(backend, AuthMode::Smart).await
    }

    /// The backend this server runs on (to start a second server like it).
    pub fn backend(&self) -> Backend {
        if self.pg_db.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub async fn start_with(backend: Backend, auth: AuthMode) -> TestServer {
        Self::start_configured(backend, auth, |_| {}).await
    }

    /// A server whose configuration `tweak` adjusts.
    pub async fn start_configured(
        backend: Backend,
        auth: AuthMode,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/test.db", dir.path().display());
                Self::with_url(url, Some(dir), None, auth, tweak).await
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = pg_admin_url();
                let name = format!("healthos_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("PostgreSQL for tests");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let (prefix, _) = admin.rsplit_once('/').unwrap();
                let url = format!("{prefix}/{name}");
                Self::with_url(url, None, Some((admin, name)), auth, tweak).await
            }
        }
    }

    async fn with_url(
        url: String,
        dir: Option<tempfile::TempDir>,
        pg_db: Option<(String, String)>,
        auth: AuthMode,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config::for_tests(url.clone());
        config.max_body_bytes = 2 * 1024 * 1024;
        config.auth = auth;
        tweak(&mut config);
        let server = fhir_server::start(config).await.expect("server starts");
        let base = server.base_url.clone();
        TestServer {
            server: Some(server),
            base,
            database_url: url,
            client: reqwest::Client::new(),
            _dir: dir,
            pg_db,
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        if let Some((admin, name)) = self.pg_db.take() {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }

    /// A second handle on the server's database, for the administration the command line
    /// does (`fhir_server::auth::admin`: users, clients, launches).
    #[allow(dead_code)]
    pub async fn admin_store(&self) -> std::sync::Arc<dyn fhir_server::store::ResourceStore> {
        fhir_server::store::open(&self.database_url)
            .await
            .expect("the server's database opens")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends JSON with the FHIR media type.
    pub async fn send_json(&self, method: Method, path: &str, body: &Value) -> Reply {
        Reply::from(
            self.request(method, path)
                .header("content-type", "application/fhir+json")
                .body(serde_json::to_vec(body).unwrap())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::from(self.request(Method::GET, path).send().await.unwrap()).await
    }

    pub async fn create(&self, body: &Value) -> Reply {
        let ty = body["resourceType"].as_str().unwrap();
        self.send_json(Method::POST, ty, body).await
    }
}

/// The ids of a searchset Bundle's matches (`search.mode = match`), in the order returned.
pub fn match_ids(bundle: &Value) -> Vec<String> {
    mode_ids(bundle, Some("match"))
}

/// The resource ids of a Bundle's entries of search mode `mode` (all entries for `None`),
/// in the order returned.
pub fn mode_ids(bundle: &Value, mode: Option<&str>) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|e| mode.is_none_or(|m| e["search"]["mode"] == m))
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn from(r: reqwest::Response) -> Reply {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        Reply {
            status,
            headers,
            text,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an OperationOutcome error with this status and issue code.
    pub fn assert_outcome(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert!(
            self.header("content-type")
                .unwrap_or("")
                .starts_with("application/fhir+json"),
            "{:?}",
            self.headers
        );
        let oo = self.json();
        assert_eq!(oo["resourceType"], "OperationOutcome", "{oo}");
        assert_eq!(oo["issue"][0]["code"], code, "{oo}");
        assert_eq!(oo["issue"][0]["severity"], "error", "{oo}");
        oo
    }
}

/// Declares a test case on a server with SMART authorization (`--auth smart`), on SQLite,
/// and on PostgreSQL with `postgres-tests`.
#[macro_export]
macro_rules! smart_test {
    ($name:ident, $body:expr) => {
        $crate::server_test!(start_smart, $name, $body);
    };
}

/// Declares a test case that runs on SQLite, and on PostgreSQL with `postgres-tests`.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, $body:expr) => {
        $crate::server_test!(start, $name, $body);
    };
}

/// A test case on a fresh server started by `TestServer::$start`, once per backend.
#[macro_export]
macro_rules! server_test {
    ($start:ident, $name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server =
                    $crate::support::TestServer::$start($crate::support::Backend::Sqlite).await;
                ($body)(&server).await;
                server.stop().await;
            }

            #[cfg(feature = "postgres-tests")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let server =
                    $crate::support::TestServer::$start($crate::support::Backend::Postgres).await;
                ($body)(&server).await;
                server.stop().await;
            }
        }
    };
}
