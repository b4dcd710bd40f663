//! `fhir-conformance`: runs the HealthOS conformance suites against any FHIR R4 server
//! and prints a table per suite; exits non-zero when a case fails.
//!
//! ```text
//! fhir-conformance --base-url http://localhost:8080/fhir --suite rest --junit junit.xml
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use clap::builder::PossibleValuesParser;
use conformance::{Client, ClientConfig, KnownFailures, Report, SUITES, SuiteConfig};

/// Runs pinned official FHIR R4 conformance suites against a FHIR server over HTTP.
#[derive(Debug, Parser)]
#[command(name = "fhir-conformance", version)]
struct Args {
    /// FHIR base URL of the server under test, e.g. http://localhost:8080/fhir.
    #[arg(long, env = "HEALTHOS_CONFORMANCE_BASE_URL")]
    base_url: String,

    /// A suite to run (repeatable); all suites when none is given.
    #[arg(long = "suite", value_name = "NAME", value_parser = PossibleValuesParser::new(SUITES.iter().map(|s| s.name)))]
    suites: Vec<String>,

    /// Bearer token sent with every request.
    #[arg(long, env = "HEALTHOS_CONFORMANCE_TOKEN")]
    token: Option<String>,

    /// SMART backend-services client id (accepted; unsupported until issue 5).
    #[arg(long)]
    client_id: Option<String>,

    /// SMART backend-services private key file (accepted; unsupported until issue 5).
    #[arg(long)]
    private_key: Option<PathBuf>,

    /// Write the full report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Known failures to apply (e.g. conformance/known-failures.toml for HealthOS);
    /// by default every failure counts.
    #[arg(long, value_name = "FILE")]
    known_failures: Option<PathBuf>,

    /// The repository's fixtures folder (the pinned suites).
    #[arg(long, env = "HEALTHOS_FIXTURES", default_value_os_t = SuiteConfig::default_fixtures())]
    fixtures: PathBuf,

    /// The server's request-body limit in bytes, for the 413 case (not run when unknown).
    #[arg(long, value_name = "BYTES")]
    body_limit: Option<usize>,

    /// Also run the cases that wait on a later issue (search beyond the cheap parameters).
    #[arg(long)]
    run_pending: bool,

    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("fhir-conformance: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<bool> {
    let mut unsupported = Vec::new();
    if args.client_id.is_some() || args.private_key.is_some() {
        unsupported.push(
            "--client-id/--private-key: SMART backend services are not supported yet \
             (waits on issue 5 (SMART)); use --token"
                .to_owned(),
        );
    }
    for u in &unsupported {
        eprintln!("unsupported: {u}");
    }
    let known = match &args.known_failures {
        Some(path) => KnownFailures::load(path)?,
        None => KnownFailures::none(),
    };
    let client = Client::new(&ClientConfig {
        base_url: args.base_url.clone(),
        token: args.token.clone(),
        timeout: Duration::from_secs(args.timeout),
    })?;
    let config = SuiteConfig {
        fixtures: args.fixtures.clone(),
        body_limit: args.body_limit,
        run_pending: args.run_pending,
    };
    let selected: Vec<_> = if args.suites.is_empty() {
        SUITES.iter().collect()
    } else {
        SUITES
            .iter()
            .filter(|s| args.suites.iter().any(|n| n == s.name))
            .collect()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut report = Report {
        base_url: client.base().to_owned(),
        suites: Vec::new(),
        unsupported_options: unsupported,
    };
    for def in selected {
        eprintln!("running {} ({})…", def.name, def.about);
        let suite = runtime
            .block_on(conformance::run_suite(def, &config, &client, &known))
            .with_context(|| format!("suite {}", def.name))?;
        println!("{}", suite.to_text());
        report.suites.push(suite);
    }
    println!("{}", report.table());
    if let Some(path) = &args.report {
        std::fs::write(path, report.to_json()?).with_context(|| path.display().to_string())?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report.to_junit()).with_context(|| path.display().to_string())?;
    }
    Ok(report.is_ok())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::Args;

    #[test]
    fn arguments_are_consistent_and_suites_are_checked() {
        Args::command().debug_assert();
        let ok = Args::try_parse_from([
            "fhir-conformance",
            "--base-url",
            "http://x/fhir",
            "--suite",
            "rest",
            "--suite",
            "smart",
        ])
        .unwrap();
        assert_eq!(ok.suites, ["rest", "smart"]);
        assert!(
            Args::try_parse_from([
                "fhir-conformance",
                "--base-url",
                "http://x",
                "--suite",
                "nope"
            ])
            .is_err()
        );
    }
}
