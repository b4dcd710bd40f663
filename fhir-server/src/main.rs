//! The `fhir-server` binary.

use clap::{Parser, Subcommand};
use fhir_server::Config;
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
            let server = fhir_server::start(config).await?;
            tracing::info!(base_url = %server.base_url, backend = server.backend, "serving FHIR R4");
            tokio::signal::ctrl_c().await?;
            server.shutdown().await;
            Ok(())
        }
    }
}
