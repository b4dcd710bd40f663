//! The `fhir-server` binary.

use clap::{Parser, Subcommand};
use fhir_server::Config;
use fhir_server::auth::admin;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// HealthOS: a FHIR R4 health data server.
#[derive(Debug, Parser)]
#[command(name = "fhir-server", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the FHIR REST API.
    Serve(Config),
    /// Manage the users who sign in to authorize apps.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the apps (OAuth clients) that may ask for access.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the keys that sign tokens.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Start an EHR launch for a patient and print the `launch` value for the app.
    Launch {
        /// The patient in context (`Patient/ID`).
        #[arg(long)]
        patient: String,
        /// The encounter in context (`Encounter/ID`).
        #[arg(long)]
        encounter: Option<String>,
        #[command(flatten)]
        database: Database,
    },
    /// Import a wearable export for a patient (the patient needs an active Consent for
    /// the source, as for `$import-wearable`).
    Import {
        /// The source: apple-health, fitbit, oura, garmin, google-fit, health-connect,
        /// withings, ihealth.
        #[arg(long)]
        source: String,
        /// The patient's id (`123` or `Patient/123`).
        #[arg(long)]
        patient: String,
        /// The export file (Apple Health `export.zip` or `export.xml`, or the vendor's JSON).
        file: std::path::PathBuf,
        #[command(flatten)]
        database: Database,
    },
    /// Pull a patient's data from an EHR's FHIR R4 server (the patient needs an active
    /// Consent naming the server's base URL).
    Sync {
        /// The EHR's FHIR base URL.
        #[arg(long)]
        base_url: String,
        /// Our patient's id (`123` or `Patient/123`).
        #[arg(long)]
        patient: String,
        /// The patient's id at the EHR.
        #[arg(long)]
        source_patient: String,
        /// The EHR: epic or cerner.
        #[arg(long, default_value = "epic")]
        vendor: String,
        /// Only what changed after this instant (default: since the last sync).
        #[arg(long)]
        since: Option<String>,
        /// A bearer token for the EHR.
        #[arg(long, env = "HEALTHOS_SYNC_TOKEN", conflicts_with = "client_id")]
        token: Option<String>,
        /// Backend Services: the client id registered at the EHR.
        #[arg(long, requires = "private_key_file")]
        client_id: Option<String>,
        /// Backend Services: the client's private key (PEM; RS384 or ES384).
        #[arg(long)]
        private_key_file: Option<std::path::PathBuf>,
        /// Backend Services: the token endpoint (default: from the EHR's
        /// smart-configuration).
        #[arg(long)]
        token_url: Option<String>,
        /// Backend Services: the scopes to ask for.
        #[arg(long, default_value = "system/*.rs")]
        scope: String,
        /// A type to pull (repeat; default: the patient data types EHRs serve).
        #[arg(long = "type")]
        types: Vec<String>,
        #[command(flatten)]
        database: Database,
    },
}

/// The database an administrative command works on.
#[derive(Debug, clap::Args)]
struct Database {
    /// Database: `sqlite://PATH` or `postgres://USER@HOST/DB` (as for `serve`).
    #[arg(
        long,
        env = "HEALTHOS_DATABASE_URL",
        default_value = "sqlite://data/healthos.db"
    )]
    database_url: String,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Make a new signing key; the old ones keep verifying until their tokens expire.
    Rotate {
        #[command(flatten)]
        database: Database,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create (or replace) a user.
    Add {
        /// The login name.
        #[arg(long)]
        username: String,
        /// The password (at least 8 characters; stored as an Argon2id hash).
        #[arg(long, env = "HEALTHOS_USER_PASSWORD")]
        password: String,
        /// The user's FHIR resource: `Patient/ID`, `Practitioner/ID`, `RelatedPerson/ID`.
        #[arg(long)]
        fhir_user: String,
        #[command(flatten)]
        database: Database,
    },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register (or replace) a client.
    Add {
        /// The client id.
        #[arg(long)]
        client_id: String,
        /// A name to show users on the consent page.
        #[arg(long)]
        name: Option<String>,
        /// A redirect URI (repeat for several); matched exactly.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (a browser or mobile app: PKCE, no secret).
        #[arg(long, group = "authentication")]
        public: bool,
        /// A confidential client with this shared secret (client_secret_basic/post).
        #[arg(long, group = "authentication", env = "HEALTHOS_CLIENT_SECRET")]
        secret: Option<String>,
        /// A private_key_jwt client with the public keys in this JWKS file.
        #[arg(long, group = "authentication")]
        jwks_file: Option<std::path::PathBuf>,
        /// A private_key_jwt client whose public keys are at this URL.
        #[arg(long, group = "authentication")]
        jwks_url: Option<String>,
        /// The scopes it may be granted (repeat or space-separate); none: any.
        #[arg(long)]
        scope: Vec<String>,
        #[command(flatten)]
        database: Database,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("HEALTHOS_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(config) => {
            if config.auth == fhir_server::config::AuthMode::Off {
                tracing::warn!(
                    "authorization is OFF (--auth off): anyone who can reach this server can read and change every record; use it for local development only"
                );
            }
            let server = fhir_server::start(config).await?;
            tracing::info!(base_url = %server.base_url, backend = server.backend, "serving FHIR R4");
            tokio::signal::ctrl_c().await?;
            server.shutdown().await;
            Ok(())
        }
        Command::User(UserCommand::Add {
            username,
            password,
            fhir_user,
            database,
        }) => {
            let store = fhir_server::store::open(&database.database_url).await?;
            admin::add_user(&*store, &username, &password, &fhir_user).await?;
            println!("user {username} ({fhir_user}) saved");
            Ok(())
        }
        Command::Client(ClientCommand::Add {
            client_id,
            name,
            redirect_uris,
            public,
            secret,
            jwks_file,
            jwks_url,
            scope,
            database,
        }) => {
            let auth = match (public, secret, jwks_file, jwks_url) {
                (true, None, None, None) => admin::NewClientAuth::Public,
                (false, Some(s), None, None) => admin::NewClientAuth::Secret(s),
                (false, None, Some(f), None) => {
                    admin::NewClientAuth::Jwks(serde_json::from_str(&std::fs::read_to_string(&f)?)?)
                }
                (false, None, None, Some(u)) => admin::NewClientAuth::JwksUrl(u),
                _ => {
                    anyhow::bail!("give exactly one of --public, --secret, --jwks-file, --jwks-url")
                }
            };
            let scope = (!scope.is_empty()).then(|| scope.join(" "));
            let store = fhir_server::store::open(&database.database_url).await?;
            admin::add_client(
                &*store,
                &client_id,
                name,
                redirect_uris,
                auth,
                scope.as_deref(),
            )
            .await?;
            println!("client {client_id} saved");
            Ok(())
        }
        Command::Key(KeyCommand::Rotate { database }) => {
            let store = fhir_server::store::open(&database.database_url).await?;
            let auth_store = fhir_server::auth::store::AuthStore::new(store.reader());
            let kid = fhir_server::auth::service::rotate_key(&auth_store).await?;
            println!("new signing key {kid}");
            Ok(())
        }
        Command::Launch {
            patient,
            encounter,
            database,
        } => {
            let store = fhir_server::store::open(&database.database_url).await?;
            println!(
                "{}",
                admin::launch(&*store, &patient, encounter.as_deref()).await?
            );
            Ok(())
        }
        Command::Import {
            source,
            patient,
            file,
            database,
        } => import(&source, &patient, &file, &database.database_url).await,
        Command::Sync {
            base_url,
            patient,
            source_patient,
            vendor,
            since,
            token,
            client_id,
            private_key_file,
            token_url,
            scope,
            types,
            database,
        } => {
            use fhir_server::ingest::ehr::{self, SourceAuth, SyncRequest};
            let vendor = match vendor.as_str() {
                "epic" => mappers::ehr::Vendor::Epic,
                "cerner" => mappers::ehr::Vendor::Cerner,
                other => anyhow::bail!("unknown vendor '{other}': epic or cerner"),
            };
            let auth = match (token, client_id, private_key_file) {
                (Some(token), _, _) => SourceAuth::Bearer(token),
                (None, Some(client_id), Some(file)) => SourceAuth::Backend {
                    client_id,
                    key: std::sync::Arc::new(smart_auth::SigningKey::from_pem(
                        &std::fs::read_to_string(&file)?,
                    )?),
                    token_url,
                    scope,
                },
                _ => SourceAuth::None,
            };
            let request = SyncRequest {
                base_url,
                vendor,
                source_patient,
                patient_id: patient
                    .strip_prefix("Patient/")
                    .unwrap_or(&patient)
                    .to_owned(),
                since,
                auth,
                types: if types.is_empty() {
                    ehr::DEFAULT_TYPES.iter().map(|t| (*t).to_owned()).collect()
                } else {
                    types
                },
                page_size: ehr::PAGE_SIZE,
            };
            sync(request, &database.database_url).await
        }
    }
}

/// `fhir-server import`: the same import as `$import-wearable`, straight into the
/// database, with a progress bar and a closing summary.
async fn import(
    source: &str,
    patient: &str,
    file: &std::path::Path,
    database_url: &str,
) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let Some(source) = mappers::wearable::Source::from_code(source) else {
        anyhow::bail!("unknown source '{source}'");
    };
    let patient = patient.strip_prefix("Patient/").unwrap_or(patient);
    let size = std::fs::metadata(file)?.len();
    let (target, now) = admin_target(database_url).await?;
    let progress = Arc::new(AtomicU64::new(0));
    let bar = indicatif::ProgressBar::new(2 * size).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )?
        .progress_chars("=> "),
    );
    bar.set_message(format!("{} → Patient/{patient}", source.display()));
    let ticker = {
        let (bar, progress) = (bar.clone(), Arc::clone(&progress));
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.load(Ordering::Relaxed));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    let result =
        fhir_server::ingest::wearable::import(&target, patient, source, file, &now, progress).await;
    ticker.abort();
    bar.finish_and_clear();
    if result.is_ok() {
        fhir_server::twin::jobs::enqueue(&*target.store, patient).await?;
    }
    report(&file.display().to_string(), result)
}

/// `fhir-server sync`: `$sync-ehr` from the command line, with Backend Services
/// credentials, a spinner counting pages and a closing summary.
async fn sync(
    request: fhir_server::ingest::ehr::SyncRequest,
    database_url: &str,
) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let (target, now) = admin_target(database_url).await?;
    let pages = Arc::new(AtomicU64::new(0));
    let spinner = indicatif::ProgressBar::new_spinner().with_message(format!(
        "{} → Patient/{}",
        request.base_url, request.patient_id
    ));
    let ticker = {
        let (spinner, pages) = (spinner.clone(), Arc::clone(&pages));
        tokio::spawn(async move {
            loop {
                spinner.set_prefix(format!("{} pages", pages.load(Ordering::Relaxed)));
                spinner.tick();
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    let result = fhir_server::ingest::ehr::sync(&target, &request, &now, pages).await;
    ticker.abort();
    spinner.finish_and_clear();
    if result.is_ok() {
        fhir_server::twin::jobs::enqueue(&*target.store, &request.patient_id).await?;
    }
    report(&request.base_url, result)
}

/// Where the command-line imports write: the database, as an unrestricted caller; and
/// the import's instant.
async fn admin_target(
    database_url: &str,
) -> anyhow::Result<(fhir_server::ingest::IngestTarget, String)> {
    let target =
        fhir_server::ingest::IngestTarget::open_admin(database_url, "http://localhost/fhir")
            .await?;
    Ok((target, fhir_server::clock::now_instant()))
}

/// The closing summary of an import or sync, or its error.
fn report(
    what: &str,
    result: Result<fhir_server::ingest::IngestSummary, fhir_server::error::ApiError>,
) -> anyhow::Result<()> {
    match result {
        Ok(summary) => {
            println!("{what}: {}", summary.line());
            for (position, reason) in &summary.reasons {
                println!("  {position}: {reason}");
            }
            Ok(())
        }
        Err(e) => {
            let outcome = e.outcome();
            let text = outcome["issue"][0]["diagnostics"]
                .as_str()
                .unwrap_or("failed");
            anyhow::bail!("{what}: {text}")
        }
    }
}
