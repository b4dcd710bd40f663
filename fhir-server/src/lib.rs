//! # fhir-server
//!
//! The HealthOS FHIR R4 server: an axum router of thin handlers ([`http`]) over the FHIR
//! interaction logic ([`rest`]) over a [`store::ResourceStore`] (SQLite or PostgreSQL).
//! Only this crate speaks HTTP and SQL.

pub mod auth;
pub mod clock;
pub mod config;
pub mod custom_params;
pub mod error;
pub mod http;
pub mod ingest;
pub mod rest;
pub mod store;
pub mod twin;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::Config;
pub use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The storage.
    pub store: Arc<dyn store::ResourceStore>,
    /// The public FHIR base URL, without a trailing slash.
    pub base_url: Arc<str>,
    /// The configuration.
    pub config: Arc<Config>,
    /// The custom search parameters (the server's SearchParameter resources) and the
    /// CapabilityStatement that lists them, refreshed when they change.
    pub search_params: Arc<custom_params::SearchParameters>,
    /// The SMART authorization server; `None` with `--auth off`.
    pub auth: Option<Arc<auth::AuthService>>,
    /// Wakes this instance's twin worker when an import queued a patient.
    pub twin_wake: Arc<tokio::sync::Notify>,
}

/// A server started by [`start`].
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// The FHIR base URL (`http://127.0.0.1:PORT/fhir`).
    pub base_url: String,
    /// `sqlite` or `postgresql`.
    pub backend: &'static str,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// Re-reads the SearchParameters now and then (PostgreSQL only).
    refresher: Option<tokio::task::JoinHandle<()>>,
    /// Computes queued twins (unless `--twin-worker false`).
    twin_worker: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting requests and waits for in-flight ones.
    pub async fn shutdown(self) {
        if let Some(r) = &self.refresher {
            r.abort();
        }
        // A computation cut short leaves its job claimed; another worker takes it when
        // the lease runs out.
        if let Some(w) = &self.twin_worker {
            w.abort();
        }
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// Opens the store (running migrations), binds the listener and serves in the background.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    let store = store::open(&config.database_url).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let base_url = config
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/fhir"))
        .trim_end_matches('/')
        .to_owned();
    let backend = store.backend();
    let search_params = Arc::new(
        custom_params::SearchParameters::load(&*store, &base_url, &clock::now_instant()).await?,
    );
    // Other instances may change the SearchParameters of a shared PostgreSQL database;
    // SQLite has one server process (see `custom_params`).
    let refresher = (backend == "postgresql" && config.search_param_refresh_secs > 0).then(|| {
        let (store, search_params) = (Arc::clone(&store), Arc::clone(&search_params));
        let period = std::time::Duration::from_secs(config.search_param_refresh_secs);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(e) = search_params.refresh(&*store).await {
                    tracing::warn!(error = %e, "could not re-read the search parameters");
                }
            }
        })
    });
    let auth = match config.auth {
        config::AuthMode::Smart => Some(Arc::new(
            auth::AuthService::open(&*store, &base_url, &config).await?,
        )),
        config::AuthMode::Off => None,
    };
    let twin_wake = Arc::new(tokio::sync::Notify::new());
    let twin_worker = config.twin_worker.then(|| {
        let (store, search_params, wake) = (
            Arc::clone(&store),
            Arc::clone(&search_params),
            Arc::clone(&twin_wake),
        );
        let base_url = base_url.clone();
        tokio::spawn(async move {
            let compute = |patient: String| {
                let (store, params, base_url) = (
                    Arc::clone(&store),
                    search_params.current(),
                    base_url.clone(),
                );
                async move {
                    twin::recompute(store, params, &base_url, &patient, &clock::now_instant())
                        .await
                        .map(|_| ())
                }
            };
            twin::jobs::work(Arc::clone(&store), wake, compute).await;
        })
    });
    let state = AppState {
        store,
        base_url: base_url.clone().into(),
        config: Arc::new(config),
        search_params,
        auth,
        twin_wake,
    };
    let app = http::app(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(RunningServer {
        addr,
        base_url,
        backend,
        shutdown: tx,
        task,
        refresher,
        twin_worker,
    })
}
