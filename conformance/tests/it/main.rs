//! The conformance suites against the embedded HealthOS server: one `#[test]` per suite,
//! each on a fresh SQLite database in a temporary folder.
//!
//! Known failures come from `conformance/known-failures.toml`; a listed case that passes,
//! an unlisted failure or a stale entry fails the test. Each test prints its suite's
//! counts and every failure (request, expected, actual), and updates its row of
//! `conformance/REPORT.md`.

use std::io::{Read as _, Seek as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use conformance::known::suggest_entries;
use conformance::report::update_report_md;
use conformance::{Client, ClientConfig, KnownFailures, SUITES, SuiteConfig, SuiteReport};

/// The suites with a test below; `every_registered_suite_has_a_test` keeps it complete.
const TESTED: &[&str] = &[
    "examples",
    "fhirpath",
    "rest",
    "search",
    "transaction",
    "smart",
];

async fn check_suite(name: &str) -> anyhow::Result<()> {
    let def = conformance::suite(name).context("no such suite")?;
    let dir = tempfile::tempdir()?;
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("conformance.db").display()
    );
    let mut server_config = fhir_server::Config::for_tests(db);
    if name == "smart" {
        // The SMART suite checks the authorization server: it runs with it on.
        server_config.auth = fhir_server::config::AuthMode::Smart;
    }
    let config = SuiteConfig {
        fixtures: SuiteConfig::default_fixtures(),
        body_limit: Some(server_config.max_body_bytes),
        run_pending: false,
    };
    let server = fhir_server::start(server_config).await?;
    let client = Client::new(&ClientConfig::new(&server.base_url))?;
    let known = KnownFailures::load(&KnownFailures::default_path())?;
    let report = conformance::run_suite(def, &config, &client, &known).await;
    server.shutdown().await;
    let report = report?;
    println!("{}", report.to_text());
    // The one-line summary goes straight to stderr, past the test harness's capture, so
    // every run's log shows each suite's counts (the details print on failure).
    let c = report.counts;
    let _ = writeln!(
        std::io::stderr(),
        "conformance suite {name}: {} cases, {} passed, {} failed, {} known failures, {} not run",
        c.cases,
        c.passed,
        c.failed,
        c.known_failures,
        c.not_run
    );
    write_report_row(&report)?;
    if !report.is_ok() {
        let suggestions = suggest_entries(report.failures());
        if !suggestions.is_empty() {
            println!(
                "\nIf these failures are understood, list them in known-failures.toml:\n\n{suggestions}"
            );
        }
        anyhow::bail!(
            "suite {name}: {} failing cases, {} stale known-failure entries",
            report.counts.failed,
            report.stale_entries.len()
        );
    }
    Ok(())
}

/// Updates this suite's row of REPORT.md and of the README's summary table, under file
/// locks (the suite tests run in parallel).
fn write_report_row(report: &SuiteReport) -> anyhow::Result<()> {
    let readme = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&readme)?;
    file.lock()?;
    let mut existing = String::new();
    file.read_to_string(&mut existing)?;
    let Some(updated) = conformance::report::update_table_row(&existing, report) else {
        anyhow::bail!(
            "README.md has no conformance table row for suite {}",
            report.suite
        );
    };
    if updated != existing {
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(updated.as_bytes())?;
        println!("updated {}", readme.display());
    }
    drop(file);

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("REPORT.md");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    file.lock()?;
    let mut existing = String::new();
    file.read_to_string(&mut existing)?;
    let updated = update_report_md(&existing, report);
    if updated != existing {
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(updated.as_bytes())?;
        println!("updated {}", path.display());
    }
    Ok(())
}

#[test]
fn every_registered_suite_has_a_test() {
    let registered: Vec<&str> = SUITES.iter().map(|s| s.name).collect();
    assert_eq!(registered, TESTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples() -> anyhow::Result<()> {
    check_suite("examples").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhirpath() -> anyhow::Result<()> {
    check_suite("fhirpath").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest() -> anyhow::Result<()> {
    check_suite("rest").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search() -> anyhow::Result<()> {
    check_suite("search").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction() -> anyhow::Result<()> {
    check_suite("transaction").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart() -> anyhow::Result<()> {
    check_suite("smart").await
}
