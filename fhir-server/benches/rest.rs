//! The server benchmark: `cargo bench -p fhir-server --bench rest`.
//!
//! Starts the server in-process on each backend (a temp SQLite file; PostgreSQL at
//! `HEALTHOS_BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`, in a
//! fresh database) and drives it over HTTP on loopback. Prints one line per figure:
//!
//! - transaction-bundle import of the Synthea patients (resources/s) from
//!   `HEALTHOS_BENCH_IMPORT_CLIENTS` (default 4) clients, the fixture patients
//!   cloned with fresh ids, identifiers and `urn:uuid`s to `HEALTHOS_BENCH_PATIENTS`
//!   (default 200) patients;
//! - concurrent single creates (creates/s) from 64 clients;
//! - read by id over keep-alive HTTP (req/s, p50, p99) from 32 clients;
//! - a typical search, `Observation?patient=…&code=…&date=ge…&_count=50`, over the imported
//!   patients (req/s, p50, p99) from 32 clients (`HEALTHOS_BENCH_SEARCHES`, default 5,000).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fhir_server::{Config, RunningServer};
use serde_json::{Value, json};

/// The allocator the `fhir-server` binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/synthea/iris-fhir-template-synthea-2020"
);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing to parse.
    let patients = env_usize("HEALTHOS_BENCH_PATIENTS", 200);
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
    run_backend("sqlite", &sqlite, patients).await?;

    let pg_admin = std::env::var("HEALTHOS_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match create_pg_database(&pg_admin).await {
        Ok((url, name)) => {
            let result = run_backend("postgresql", &url, patients).await;
            drop_pg_database(&pg_admin, &name).await;
            result?;
        }
        Err(e) => println!("postgresql: not measured: cannot reach {pg_admin}: {e}"),
    }
    Ok(())
}

async fn create_pg_database(admin: &str) -> anyhow::Result<(String, String)> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    let name = format!("healthos_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let (prefix, _) = admin.rsplit_once('/').unwrap_or((admin, ""));
    Ok((format!("{prefix}/{name}"), name))
}

async fn drop_pg_database(admin: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

async fn run_backend(backend: &str, url: &str, patients: usize) -> anyhow::Result<()> {
    let mut config = Config::for_tests(url);
    config.max_body_bytes = 64 * 1024 * 1024;
    let started = Instant::now();
    let server = fhir_server::start(config).await?;
    println!(
        "{backend}: start-up to listening: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .build()?;

    import(backend, &server, &client, patients).await?;
    if backend == "postgresql" {
        // PostgreSQL plans from table statistics, which autovacuum refreshes within about a
        // minute of a bulk load; refresh them now rather than wait.
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query("ANALYZE").execute(&mut conn).await?;
        println!(
            "{backend}: ANALYZE after the import (what autovacuum does shortly after a bulk load)"
        );
    }
    let ids = creates(backend, &server, &client).await?;
    reads(backend, &server, &client, &ids).await?;
    searches(backend, &server, &client, patients).await?;
    server.shutdown().await;
    Ok(())
}

/// The fixture bundles: shared organizations/practitioners first, then the patients.
fn load_fixtures() -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut shared = vec![];
    let mut patients = vec![];
    let mut paths: Vec<_> = std::fs::read_dir(FIXTURES)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    for p in paths {
        if p.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&p)?;
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if name.starts_with("hospital") || name.starts_with("practitioner") {
            shared.push(text);
        } else {
            patients.push(text);
        }
    }
    Ok((shared, patients))
}

/// A copy of a patient bundle with every entry's `urn:uuid` (and so the references and
/// identifiers that repeat it) replaced by a fresh one.
fn clone_bundle(text: &str) -> (String, usize) {
    let bundle: Value = serde_json::from_str(text).expect("fixture bundles are JSON");
    let entries = bundle["entry"].as_array().map_or(0, Vec::len);
    let mut map: HashMap<String, String> = HashMap::new();
    for e in bundle["entry"].as_array().into_iter().flatten() {
        if let Some(u) = e["fullUrl"]
            .as_str()
            .and_then(|u| u.strip_prefix("urn:uuid:"))
        {
            map.insert(u.to_owned(), uuid::Uuid::new_v4().to_string());
        }
    }
    (replace_uuids(text, &map), entries)
}

/// Replaces every UUID in `text` that `map` names, in one pass.
fn replace_uuids(text: &str, map: &HashMap<String, String>) -> String {
    let bytes = text.as_bytes();
    let is_uuid = |w: &[u8]| {
        w.len() == 36
            && w.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    while i + 36 <= bytes.len() {
        if bytes[i + 8] == b'-'
            && is_uuid(&bytes[i..i + 36])
            && let Some(new) = map.get(&text[i..i + 36])
        {
            out.push_str(&text[copied..i]);
            out.push_str(new);
            i += 36;
            copied = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

async fn post_bundle(client: &reqwest::Client, base: &str, body: String) -> anyhow::Result<()> {
    let r = client
        .post(base)
        .header("content-type", "application/fhir+json")
        .header("prefer", "return=minimal")
        .body(body)
        .send()
        .await?;
    let status = r.status();
    if !status.is_success() {
        anyhow::bail!("bundle import failed: {status}: {}", r.text().await?);
    }
    r.bytes().await?;
    Ok(())
}

async fn import(
    backend: &str,
    server: &RunningServer,
    client: &reqwest::Client,
    patients: usize,
) -> anyhow::Result<()> {
    let (shared, fixtures) = load_fixtures()?;
    for b in &shared {
        post_bundle(client, &server.base_url, b.clone()).await?;
    }
    // Prepare the clones before the clock starts.
    let bundles: Vec<(String, usize)> = (0..patients)
        .map(|i| clone_bundle(&fixtures[i % fixtures.len()]))
        .collect();
    let total: usize = bundles.iter().map(|(_, n)| n).sum();
    let queue = Arc::new(tokio::sync::Mutex::new(bundles));
    let started = Instant::now();
    let mut tasks = vec![];
    let clients = env_usize("HEALTHOS_BENCH_IMPORT_CLIENTS", 4);
    for _ in 0..clients {
        let (queue, client, base) = (queue.clone(), client.clone(), server.base_url.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().await.pop();
                let Some((body, _)) = next else {
                    return Ok::<(), anyhow::Error>(());
                };
                post_bundle(&client, &base, body).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{backend}: transaction-bundle import: {patients} Synthea patients, {total} resources by {clients} clients in {secs:.2} s = {:.0} resources/s",
        total as f64 / secs
    );
    Ok(())
}

async fn creates(
    backend: &str,
    server: &RunningServer,
    client: &reqwest::Client,
) -> anyhow::Result<Vec<String>> {
    let clients = 64;
    let per_client = env_usize("HEALTHOS_BENCH_CREATES", 10_000) / clients;
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..clients {
        let (client, url) = (client.clone(), format!("{}/Observation", server.base_url));
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let obs = json!({
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
                    "subject": {"reference": format!("Patient/bench-{c}")},
                    "effectiveDateTime": "2026-01-01T10:00:00Z",
                    "valueQuantity": {"value": 60 + (i % 40), "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
                });
                let r = client
                    .post(&url)
                    .header("content-type", "application/fhir+json")
                    .header("prefer", "return=minimal")
                    .body(serde_json::to_vec(&obs)?)
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 201, "create failed: {}", r.status());
                let location = r.headers()["location"].to_str()?.to_owned();
                ids.push(location.split('/').rev().nth(2).unwrap_or_default().to_owned());
            }
            Ok::<_, anyhow::Error>(ids)
        }));
    }
    let mut ids = vec![];
    for t in tasks {
        ids.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{backend}: concurrent single creates: {} creates by {clients} clients in {secs:.2} s = {:.0} creates/s",
        ids.len(),
        ids.len() as f64 / secs
    );
    Ok(ids)
}

async fn reads(
    backend: &str,
    server: &RunningServer,
    client: &reqwest::Client,
    ids: &[String],
) -> anyhow::Result<()> {
    let clients = 32;
    let total = env_usize("HEALTHOS_BENCH_READS", 50_000);
    let per_client = total / clients;
    let ids = Arc::new(ids.to_vec());
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..clients {
        let (client, base, ids) = (client.clone(), server.base_url.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let id = &ids[(c * per_client + i) % ids.len()];
                let t = Instant::now();
                let r = client
                    .get(format!("{base}/Observation/{id}"))
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "read failed: {}", r.status());
                r.bytes().await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies: Vec<Duration> = vec![];
    for t in tasks {
        latencies.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e3
    };
    println!(
        "{backend}: read by id: {} reads by {clients} keep-alive clients in {secs:.2} s = {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / secs,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

/// LOINC codes every Synthea patient has Observations of.
const SEARCH_CODES: &[&str] = &[
    "8302-2", "29463-7", "39156-5", "8867-4", "8480-6", "72514-3",
];

async fn searches(
    backend: &str,
    server: &RunningServer,
    client: &reqwest::Client,
    patients: usize,
) -> anyhow::Result<()> {
    // The imported patients' ids, through search itself.
    let mut patient_ids = Vec::new();
    let mut url = Some(format!(
        "{}/Patient?_count=1000&_total=none",
        server.base_url
    ));
    while let Some(u) = url.take() {
        let page: Value = client.get(&u).send().await?.json().await?;
        for e in page["entry"].as_array().into_iter().flatten() {
            if let Some(id) = e["resource"]["id"].as_str() {
                patient_ids.push(id.to_owned());
            }
        }
        url = page["link"]
            .as_array()
            .and_then(|links| links.iter().find(|l| l["relation"] == "next"))
            .and_then(|l| l["url"].as_str())
            .map(str::to_owned);
    }
    anyhow::ensure!(!patient_ids.is_empty(), "no patients to search");
    let clients = 32;
    let per_client = env_usize("HEALTHOS_BENCH_SEARCHES", 5_000) / clients;
    let patient_ids = Arc::new(patient_ids);
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..clients {
        let (client, base, ids) = (client.clone(), server.base_url.clone(), patient_ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            let mut matches = 0usize;
            for i in 0..per_client {
                let n = c * per_client + i;
                let url = format!(
                    "{base}/Observation?patient=Patient/{}&code=http://loinc.org|{}&date=ge2010-01-01&_count=50",
                    ids[n % ids.len()],
                    SEARCH_CODES[n % SEARCH_CODES.len()]
                );
                let t = Instant::now();
                let r = client.get(url).send().await?;
                anyhow::ensure!(r.status() == 200, "search failed: {}", r.status());
                let body: Value = r.json().await?;
                latencies.push(t.elapsed());
                matches += body["entry"].as_array().map_or(0, Vec::len);
            }
            Ok::<_, anyhow::Error>((latencies, matches))
        }));
    }
    let mut latencies: Vec<Duration> = vec![];
    let mut matches = 0;
    for t in tasks {
        let (l, m) = t.await??;
        latencies.extend(l);
        matches += m;
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e3
    };
    println!(
        "{backend}: search Observation?patient&code&date&_count=50 over {patients} patients: {} searches ({:.1} matches each) by {clients} clients in {secs:.2} s = {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        matches as f64 / latencies.len() as f64,
        latencies.len() as f64 / secs,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}
