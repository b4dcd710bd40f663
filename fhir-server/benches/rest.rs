//! The server benchmark: `cargo bench -p fhir-server --bench rest`.
//!
//! Starts the server in-process on each backend (a temp SQLite file; PostgreSQL at
//! `HEALTHOS_BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`, in a
//! fresh database) and drives it over HTTP on loopback. Prints one line per figure:
//!
//! - transaction-bundle import of the Synthea patients (resources/s) from
//!   `HEALTHOS_BENCH_IMPORT_CLIENTS` (default 4) clients, the fixture patients cloned with
//!   fresh ids, identifiers and `urn:uuid`s to `HEALTHOS_BENCH_PATIENTS` (default 1,000)
//!   patients; each clone's family names get the clone's number (`Jast432` becomes
//!   `Jast432000017`), so a name finds one patient as in a real population, not a sixth of
//!   them;
//! - concurrent single creates (creates/s) from 64 clients (`HEALTHOS_BENCH_CREATES`,
//!   default 10,000);
//! - read by id over keep-alive HTTP (req/s, p50, p99) from 32 clients
//!   (`HEALTHOS_BENCH_READS`, default 50,000);
//! - a typical search, `Observation?patient=…&code=…&date=ge…&_count=50`, over the imported
//!   patients (req/s, p50, p99) from 32 clients (`HEALTHOS_BENCH_SEARCHES`, default 5,000
//!   searches per search phase);
//! - the search mix: each other shape alone (req/s, p50, p99, mean matches) —
//!   `Patient?name=<family>` (names of imported patients),
//!   `Encounter?patient=…&date=ge…&_include=Encounter:practitioner` (the Synthea
//!   Encounters' `participant.individual` are Practitioners of the same bundle) and
//!   `Observation/$lastn?patient=…&category=vital-signs&max=3` — then the four shapes in
//!   turn from the same 32 clients (req/s, p50, p99 overall, p50 per shape);
//! - before each set of search phases, an unmeasured warm-up: half as many requests of
//!   the mix, about other patients;
//! - growth: when `HEALTHOS_BENCH_GROWTH` (default 10; 1 disables) is above 1, imports
//!   (growth − 1) × patients more clones (prepared during that import, so its rate is
//!   indicative only), runs `VACUUM (ANALYZE)` on PostgreSQL, runs the typical search and the mix
//!   again over all the patients and prints each shape's p50 ratio
//!   (`p50 growth 1k→10k: 1.12x`).
//!
//! - Apple Health import end to end, first and in a database of its own: a synthetic
//!   `export.xml` of `HEALTHOS_BENCH_APPLE_MB` (default 200; 0 skips) megabytes, and one a
//!   quarter of that size before it, each imported for its own patient through
//!   `ingest::wearable::import` (what `$import-wearable` runs once the upload is spooled
//!   to disk: both parses, assembling and storing) — MB/s of XML, resources stored per
//!   second, and the process's peak RSS after each (a high-water mark: about equal after
//!   the quarter and the full file means memory does not grow with the file).
//!
//! `HEALTHOS_BENCH_BACKENDS` (default `sqlite,postgresql`) picks the backends;
//! `HEALTHOS_BENCH_KEEP_DATABASE` keeps the databases afterwards (to `EXPLAIN` their
//! searches) and prints their URLs. A quick run:
//! `HEALTHOS_BENCH_PATIENTS=20 HEALTHOS_BENCH_GROWTH=2 HEALTHOS_BENCH_CREATES=640
//! HEALTHOS_BENCH_READS=3200 HEALTHOS_BENCH_SEARCHES=500 cargo bench -p fhir-server --bench rest`.

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

/// Concurrent clients of the read and search phases.
const SEARCH_CLIENTS: usize = 32;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing to parse.
    let patients = env_usize("HEALTHOS_BENCH_PATIENTS", 1000).max(1);
    let growth = env_usize("HEALTHOS_BENCH_GROWTH", 10).max(1);
    let backends =
        std::env::var("HEALTHOS_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgresql".into());
    let wanted = |b: &str| backends.split(',').any(|w| w.trim() == b);
    if wanted("sqlite") {
        // The SQLite file goes when its run ends, before PostgreSQL's data arrives.
        let dir = tempfile::tempdir()?;
        let apple = format!("sqlite://{}/apple.db", dir.path().display());
        apple_health_import("sqlite", &apple).await?;
        let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
        run_backend("sqlite", &sqlite, patients, growth).await?;
        if std::env::var_os("HEALTHOS_BENCH_KEEP_DATABASE").is_some() {
            println!("sqlite: database kept for inspection: {sqlite}");
            let _ = dir.keep();
        }
    }
    if wanted("postgresql") {
        let pg_admin = std::env::var("HEALTHOS_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        if let Ok((url, name)) = create_pg_database(&pg_admin).await {
            let result = apple_health_import("postgresql", &url).await;
            drop_pg_database(&pg_admin, &name).await;
            result?;
        }
        match create_pg_database(&pg_admin).await {
            Ok((url, name)) => {
                let result = run_backend("postgresql", &url, patients, growth).await;
                if std::env::var_os("HEALTHOS_BENCH_KEEP_DATABASE").is_some() {
                    println!("postgresql: database kept for inspection: {url}");
                } else {
                    drop_pg_database(&pg_admin, &name).await;
                }
                result?;
            }
            Err(e) => println!("postgresql: not measured: cannot reach {pg_admin}: {e}"),
        }
    }
    Ok(())
}

/// The Apple Health import phase (see the module docs).
async fn apple_health_import(backend: &str, url: &str) -> anyhow::Result<()> {
    use std::sync::atomic::AtomicU64;
    let megabytes = env_usize("HEALTHOS_BENCH_APPLE_MB", 200);
    if megabytes == 0 {
        return Ok(());
    }
    let base_url = "http://localhost/fhir";
    let target = fhir_server::ingest::IngestTarget::open_admin(url, base_url).await?;
    let store = Arc::clone(&target.store);
    let dir = tempfile::tempdir()?;
    for (label, size) in [
        ("quarter", megabytes * 250_000),
        ("full", megabytes * 1_000_000),
    ] {
        let path = dir.path().join(format!("{label}.xml"));
        let bytes = mappers::wearable::synthetic::apple_health_export(
            std::fs::File::create(&path)?,
            size as u64,
        )?;
        let patient = format!("apple-{label}");
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Patient", "id": patient},
             "request": {"method": "PUT", "url": format!("Patient/{patient}")}},
            {"resource": {"resourceType": "Consent", "status": "active",
                "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
                "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                "patient": {"reference": format!("Patient/{patient}")},
                "provision": {"type": "permit", "actor": [{
                    "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "INF"}]},
                    "reference": {"identifier": {"system": "https://healthos.dev/fhir/data-source", "value": "apple-health"}}}]}},
             "request": {"method": "POST", "url": "Consent"}}
        ]});
        fhir_server::rest::bundle::process(
            &*store,
            &target.caller,
            bundle,
            base_url,
            false,
            &target.params,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.outcome()))?;
        let started = Instant::now();
        let summary = fhir_server::ingest::wearable::import(
            &target,
            &patient,
            mappers::wearable::Source::AppleHealth,
            &path,
            &fhir_server::clock::now_instant(),
            Arc::new(AtomicU64::new(0)),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.outcome()))?;
        let seconds = started.elapsed().as_secs_f64();
        let megabytes = bytes as f64 / 1e6;
        println!(
            "{backend}: apple-health import ({label}): {megabytes:.1} MB in {seconds:.2} s = {:.1} MB/s, {:.0} resources/s ({} stored; {}); peak RSS {}",
            megabytes / seconds,
            summary.created as f64 / seconds,
            summary.created,
            summary.line(),
            peak_rss()
        );
    }
    Ok(())
}

/// The process's peak resident set size (`VmHWM`).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
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

/// PostgreSQL plans from table statistics and answers index-only scans from its
/// visibility map; autovacuum refreshes both (an insert-driven VACUUM and ANALYZE) within
/// about a minute of a bulk load, and its work would otherwise land in the middle of the
/// search phases. Do it now rather than wait.
async fn analyze(backend: &str, url: &str) -> anyhow::Result<()> {
    if backend != "postgresql" {
        return Ok(());
    }
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query("VACUUM (ANALYZE)").execute(&mut conn).await?;
    println!(
        "{backend}: VACUUM (ANALYZE) after the import (what autovacuum does shortly after a bulk load)"
    );
    Ok(())
}

async fn run_backend(
    backend: &str,
    url: &str,
    patients: usize,
    growth: usize,
) -> anyhow::Result<()> {
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
    let base = server.base_url.clone();

    let fixtures = Arc::new(load_fixtures()?);
    import(backend, &server, &client, &fixtures, patients).await?;
    analyze(backend, url).await?;
    let ids = creates(backend, &server, &client).await?;
    reads(backend, &server, &client, &ids).await?;

    let population = Population::collect(&client, &base).await?;
    let before = search_phases(backend, &client, &base, &population, patients).await?;
    if growth > 1 {
        let total = patients * growth;
        import_more(
            backend,
            &base,
            &client,
            &fixtures,
            patients,
            total - patients,
        )
        .await?;
        analyze(backend, url).await?;
        let population = Population::collect(&client, &base).await?;
        let after = search_phases(backend, &client, &base, &population, total).await?;
        let step = format!("{}→{}", scale(patients), scale(total));
        for ((label, a), (_, b)) in before.iter().zip(&after) {
            println!(
                "{backend}: {label}: p50 growth {step}: {:.2}x ({a:.2} ms → {b:.2} ms)",
                b / a
            );
        }
    }
    server.shutdown().await;
    Ok(())
}

/// `1000` → `1k`, `20` → `20`.
fn scale(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// The fixture bundles: shared organizations/practitioners, and the patients.
struct Fixtures {
    shared: Vec<String>,
    patients: Vec<String>,
}

fn load_fixtures() -> anyhow::Result<Fixtures> {
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
    anyhow::ensure!(!patients.is_empty(), "no patient bundles in {FIXTURES}");
    Ok(Fixtures { shared, patients })
}

/// Clone number `n` of a patient bundle: every entry's `urn:uuid` (and so the references
/// and identifiers that repeat it) replaced by a fresh one, and the patient's family
/// names suffixed with `n` (six digits, so no name is a prefix of another). Returns the
/// bundle and its number of entries.
fn clone_bundle(text: &str, n: usize) -> (String, usize) {
    let bundle: Value = serde_json::from_str(text).expect("fixture bundles are JSON");
    let entries = bundle["entry"].as_array().map_or(0, Vec::len);
    let mut map: HashMap<String, String> = HashMap::new();
    let mut families = Vec::new();
    for e in bundle["entry"].as_array().into_iter().flatten() {
        if let Some(u) = e["fullUrl"]
            .as_str()
            .and_then(|u| u.strip_prefix("urn:uuid:"))
        {
            map.insert(u.to_owned(), uuid::Uuid::new_v4().to_string());
        }
        if e["resource"]["resourceType"] == "Patient" {
            for name in e["resource"]["name"].as_array().into_iter().flatten() {
                if let Some(f) = name["family"].as_str() {
                    families.push(f.to_owned());
                }
            }
        }
    }
    let mut out = replace_uuids(text, &map);
    for f in families {
        out = out.replace(&format!("\"{f}\""), &format!("\"{f}{n:06}\""));
    }
    (out, entries)
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
    fixtures: &Fixtures,
    patients: usize,
) -> anyhow::Result<()> {
    for b in &fixtures.shared {
        post_bundle(client, &server.base_url, b.clone()).await?;
    }
    // Prepare the clones before the clock starts.
    let bundles: Vec<(String, usize)> = (0..patients)
        .map(|i| clone_bundle(&fixtures.patients[i % fixtures.patients.len()], i))
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

/// The growth import: clones `first..first + count`, each prepared (off the async
/// workers) by the client about to send it, so memory stays bounded at any scale.
async fn import_more(
    backend: &str,
    base: &str,
    client: &reqwest::Client,
    fixtures: &Arc<Fixtures>,
    first: usize,
    count: usize,
) -> anyhow::Result<()> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(first));
    let end = first + count;
    let clients = env_usize("HEALTHOS_BENCH_IMPORT_CLIENTS", 4);
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..clients {
        let (next, client, base, fixtures) = (
            next.clone(),
            client.clone(),
            base.to_owned(),
            fixtures.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut resources = 0;
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= end {
                    return Ok::<usize, anyhow::Error>(resources);
                }
                let fixtures = fixtures.clone();
                let (body, entries) = tokio::task::spawn_blocking(move || {
                    clone_bundle(&fixtures.patients[n % fixtures.patients.len()], n)
                })
                .await?;
                post_bundle(&client, &base, body).await?;
                resources += entries;
            }
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{backend}: growth import: {count} more Synthea patients ({end} in all), {total} resources by {clients} clients in {secs:.2} s = {:.0} resources/s (clones prepared during the import)",
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
    let per_client = (env_usize("HEALTHOS_BENCH_CREATES", 10_000) / clients).max(1);
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

/// Percentile `p` (0–1) of sorted latencies, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

async fn reads(
    backend: &str,
    server: &RunningServer,
    client: &reqwest::Client,
    ids: &[String],
) -> anyhow::Result<()> {
    let clients = SEARCH_CLIENTS;
    let total = env_usize("HEALTHOS_BENCH_READS", 50_000);
    let per_client = (total / clients).max(1);
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
    println!(
        "{backend}: read by id: {} reads by {clients} keep-alive clients in {secs:.2} s = {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / secs,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );
    Ok(())
}

/// LOINC codes every Synthea patient has Observations of.
const SEARCH_CODES: &[&str] = &[
    "8302-2", "29463-7", "39156-5", "8867-4", "8480-6", "72514-3",
];

/// The imported patients' ids and family names, read through search itself.
struct Population {
    ids: Vec<String>,
    families: Vec<String>,
}

impl Population {
    async fn collect(client: &reqwest::Client, base: &str) -> anyhow::Result<Arc<Population>> {
        let mut ids = Vec::new();
        let mut families = Vec::new();
        let mut url = Some(format!(
            "{base}/Patient?_count=1000&_total=none&_elements=name"
        ));
        while let Some(u) = url.take() {
            let page: Value = client.get(&u).send().await?.json().await?;
            for e in page["entry"].as_array().into_iter().flatten() {
                if let Some(id) = e["resource"]["id"].as_str() {
                    ids.push(id.to_owned());
                }
                if let Some(f) = e["resource"]["name"][0]["family"].as_str() {
                    families.push(f.to_owned());
                }
            }
            url = page["link"]
                .as_array()
                .and_then(|links| links.iter().find(|l| l["relation"] == "next"))
                .and_then(|l| l["url"].as_str())
                .map(str::to_owned);
        }
        anyhow::ensure!(
            !ids.is_empty() && !families.is_empty(),
            "no patients to search"
        );
        Ok(Arc::new(Population { ids, families }))
    }
}

/// The query shapes of the search mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `Observation?patient&code&date&_count=50` (the typical search).
    ObservationByPatientCodeDate,
    /// `Patient?name=<family>`.
    PatientByName,
    /// `Encounter?patient&date&_include=Encounter:practitioner`.
    EncounterByPatientDate,
    /// `Observation/$lastn?patient&category=vital-signs&max=3`.
    Lastn,
}

const SHAPES: [Shape; 4] = [
    Shape::ObservationByPatientCodeDate,
    Shape::PatientByName,
    Shape::EncounterByPatientDate,
    Shape::Lastn,
];

impl Shape {
    fn label(self) -> &'static str {
        match self {
            Shape::ObservationByPatientCodeDate => "search Observation?patient&code&date&_count=50",
            Shape::PatientByName => "search Patient?name",
            Shape::EncounterByPatientDate => {
                "search Encounter?patient&date&_include=Encounter:practitioner"
            }
            Shape::Lastn => "Observation/$lastn?patient&category=vital-signs&max=3",
        }
    }

    /// The `n`th request of this shape: patients are taken in a stride over the
    /// population so concurrent clients do not all ask about the same ones.
    fn url(self, base: &str, population: &Population, n: usize) -> String {
        let pick = |list: &[String]| list[n.wrapping_mul(7919) % list.len()].clone();
        match self {
            Shape::ObservationByPatientCodeDate => format!(
                "{base}/Observation?patient=Patient/{}&code=http://loinc.org|{}&date=ge2010-01-01&_count=50",
                pick(&population.ids),
                SEARCH_CODES[n % SEARCH_CODES.len()]
            ),
            Shape::PatientByName => {
                let name: String =
                    form_urlencoded::byte_serialize(pick(&population.families).as_bytes())
                        .collect();
                format!("{base}/Patient?name={name}")
            }
            Shape::EncounterByPatientDate => format!(
                "{base}/Encounter?patient=Patient/{}&date=ge2010-01-01&_include=Encounter:practitioner&_count=50",
                pick(&population.ids)
            ),
            Shape::Lastn => format!(
                "{base}/Observation/$lastn?patient=Patient/{}&category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs&max=3",
                pick(&population.ids)
            ),
        }
    }
}

/// What one shape's requests of a phase gave.
#[derive(Default)]
struct ShapeRun {
    latencies: Vec<Duration>,
    matches: usize,
    included: usize,
}

/// One search phase: `total` requests from [`SEARCH_CLIENTS`] clients, request `n` of
/// shape `shapes[n % shapes.len()]`. Returns the results per shape (in `shapes` order,
/// latencies sorted) and the wall time in seconds.
async fn run_phase(
    client: &reqwest::Client,
    base: &str,
    population: &Arc<Population>,
    shapes: &[Shape],
    total: usize,
    first: usize,
) -> anyhow::Result<(Vec<ShapeRun>, f64)> {
    let per_client = (total / SEARCH_CLIENTS).max(1);
    let shapes: Arc<Vec<Shape>> = Arc::new(shapes.to_vec());
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..SEARCH_CLIENTS {
        let (client, base, population, shapes) = (
            client.clone(),
            base.to_owned(),
            population.clone(),
            shapes.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut runs: Vec<ShapeRun> = shapes.iter().map(|_| ShapeRun::default()).collect();
            for i in 0..per_client {
                let n = first + c * per_client + i;
                let k = n % shapes.len();
                let url = shapes[k].url(&base, &population, n);
                let t = Instant::now();
                let r = client.get(&url).send().await?;
                let status = r.status();
                anyhow::ensure!(status == 200, "{url}: {status}: {}", r.text().await?);
                let body: Value = r.json().await?;
                runs[k].latencies.push(t.elapsed());
                for e in body["entry"].as_array().into_iter().flatten() {
                    match e["search"]["mode"].as_str() {
                        Some("match") => runs[k].matches += 1,
                        Some("include") => runs[k].included += 1,
                        _ => {}
                    }
                }
            }
            Ok::<_, anyhow::Error>(runs)
        }));
    }
    let mut runs: Vec<ShapeRun> = shapes.iter().map(|_| ShapeRun::default()).collect();
    for t in tasks {
        for (all, run) in runs.iter_mut().zip(t.await??) {
            all.latencies.extend(run.latencies);
            all.matches += run.matches;
            all.included += run.included;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    for run in &mut runs {
        run.latencies.sort_unstable();
    }
    Ok((runs, secs))
}

/// The typical search, each other shape alone, then the mix; returns the p50 (ms) of
/// each shape alone and of the mix, labelled.
async fn search_phases(
    backend: &str,
    client: &reqwest::Client,
    base: &str,
    population: &Arc<Population>,
    patients: usize,
) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let searches = env_usize("HEALTHOS_BENCH_SEARCHES", 5_000);
    let clients = SEARCH_CLIENTS;
    let mut p50s = Vec::new();
    // Warm-up, unmeasured: the mix over other patients than the measured requests ask
    // about, so the server and database caches hold what any running server's would (the
    // index levels above the leaves, the statement caches), not the measured answers.
    run_phase(
        client,
        base,
        population,
        &SHAPES,
        searches / 2,
        WARM_UP_FIRST,
    )
    .await?;
    for shape in SHAPES {
        let (runs, secs) = run_phase(client, base, population, &[shape], searches, 0).await?;
        let run = &runs[0];
        let count = run.latencies.len();
        let (p50, p99) = (
            percentile(&run.latencies, 0.50),
            percentile(&run.latencies, 0.99),
        );
        let includes = if shape == Shape::EncounterByPatientDate {
            format!(", {:.1} included", run.included as f64 / count as f64)
        } else {
            String::new()
        };
        // The typical search keeps the line it has always had.
        let what = if shape == Shape::ObservationByPatientCodeDate {
            "searches"
        } else {
            "requests"
        };
        println!(
            "{backend}: {} over {patients} patients: {count} {what} ({:.1} matches each{includes}) by {clients} clients in {secs:.2} s = {:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms",
            shape.label(),
            run.matches as f64 / count as f64,
            count as f64 / secs,
        );
        p50s.push((shape.label(), p50));
    }
    let (runs, secs) = run_phase(client, base, population, &SHAPES, searches, 0).await?;
    let mut all: Vec<Duration> = runs
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    all.sort_unstable();
    let per_shape: Vec<String> = SHAPES
        .iter()
        .zip(&runs)
        .map(|(s, r)| {
            format!(
                "{} {:.2}/{:.2} ms",
                short(*s),
                percentile(&r.latencies, 0.50),
                percentile(&r.latencies, 0.99)
            )
        })
        .collect();
    let p50 = percentile(&all, 0.50);
    println!(
        "{backend}: search mix (the 4 shapes in turn) over {patients} patients: {} requests by {clients} clients in {secs:.2} s = {:.0} req/s, p50 {p50:.2} ms, p99 {:.2} ms; p50/p99 per shape: {}",
        all.len(),
        all.len() as f64 / secs,
        percentile(&all, 0.99),
        per_shape.join(", ")
    );
    p50s.push(("search mix", p50));
    Ok(p50s)
}

/// The request numbers of the warm-up start here: its patients (a stride over the
/// population from request number) differ from the measured ones.
const WARM_UP_FIRST: usize = 1_000_003;

/// A short name of a shape, for the mix line.
fn short(shape: Shape) -> &'static str {
    match shape {
        Shape::ObservationByPatientCodeDate => "Observation",
        Shape::PatientByName => "Patient",
        Shape::EncounterByPatientDate => "Encounter",
        Shape::Lastn => "$lastn",
    }
}
