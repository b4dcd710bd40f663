//! Server configuration: one struct, filled from flags and `HEALTHOS_*` environment
//! variables in `main`, passed down; nothing else reads the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Whether FHIR requests need an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// SMART App Launch 2.x: every FHIR request needs a bearer token from this server's
    /// authorization endpoints, and its scopes decide what it may do.
    Smart,
    /// No authorization at all: for local development only.
    Off,
}

/// How to run the server.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HEALTHOS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Database: `sqlite://PATH` (embedded, the default) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "HEALTHOS_DATABASE_URL",
        default_value = "sqlite://data/healthos.db"
    )]
    pub database_url: String,

    /// The public base URL of the FHIR endpoint (used in Location headers and Bundle links);
    /// defaults to `http://<listen>/fhir`.
    #[arg(long, env = "HEALTHOS_BASE_URL")]
    pub base_url: Option<String>,

    /// Largest request body accepted, in bytes (larger gets 413).
    #[arg(long, env = "HEALTHOS_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest file accepted by `$import-wearable`, in bytes (streamed to a temporary
    /// file, never held in memory; larger gets 413).
    #[arg(long, env = "HEALTHOS_MAX_IMPORT_BYTES", default_value_t = 4 * 1024 * 1024 * 1024)]
    pub max_import_bytes: u64,

    /// Largest page size a client may ask for with `_count`.
    #[arg(long, env = "HEALTHOS_MAX_COUNT", default_value_t = 1000)]
    pub max_count: usize,

    /// Page size when the client gives no `_count`.
    #[arg(long, env = "HEALTHOS_DEFAULT_COUNT", default_value_t = 50)]
    pub default_count: usize,

    /// On PostgreSQL, re-read the SearchParameter resources (custom search parameters)
    /// every this many seconds, for those other server instances on the same database
    /// wrote; 0: never. Each instance re-reads them after its own writes and at
    /// `$reindex` anyway.
    #[arg(long, env = "HEALTHOS_SEARCH_PARAM_REFRESH_SECS", default_value_t = 30)]
    pub search_param_refresh_secs: u64,

    /// Run the digital twin's worker in this instance (`false`: this instance only
    /// queues work; others sharing the database compute it).
    #[arg(long, env = "HEALTHOS_TWIN_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub twin_worker: bool,

    /// `smart`: SMART App Launch authorization on every FHIR request; `off`: an open
    /// server, for local development only.
    #[arg(long, env = "HEALTHOS_AUTH", value_enum, default_value = "smart")]
    pub auth: AuthMode,

    /// A PEM file with the key that signs access and id tokens (P-384 for ES384 or RSA
    /// for RS384). Without it, a key is generated on first start and kept in the database.
    #[arg(long, env = "HEALTHOS_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// A JSON file of client registrations applied at start (each added or replaced, as
    /// `fhir-server client add` does): `[{"client_id", "name", "redirect_uris",
    /// "public": true | "secret" | "jwks" | "jwks_url", "scope"}]`.
    #[arg(long, env = "HEALTHOS_CLIENTS_FILE")]
    pub clients_file: Option<PathBuf>,
}

impl Config {
    /// A configuration for tests and embedding: the given database, an ephemeral port on
    /// 127.0.0.1, no authorization (`AuthMode::Off`), defaults for the rest.
    pub fn for_tests(database_url: impl Into<String>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            base_url: None,
            max_body_bytes: 16 * 1024 * 1024,
            max_import_bytes: 4 * 1024 * 1024 * 1024,
            max_count: 1000,
            default_count: 50,
            search_param_refresh_secs: 30,
            twin_worker: true,
            auth: AuthMode::Off,
            signing_key_file: None,
            clients_file: None,
        }
    }
}
