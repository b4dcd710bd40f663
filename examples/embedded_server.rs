//! Start the server in-process on a temporary SQLite file, create a Patient, read it back.
//!
//! `cargo run -p healthos-examples --example embedded_server`

use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config =
        fhir_server::Config::for_tests(format!("sqlite://{}/example.db", dir.path().display()));
    let server = fhir_server::start(config).await?;
    let client = reqwest::Client::new();

    let created = client
        .post(format!("{}/Patient", server.base_url))
        .header("content-type", "application/fhir+json")
        .body(json!({"resourceType": "Patient", "name": [{"family": "Example"}]}).to_string())
        .send()
        .await?;
    println!(
        "create: {} at {}",
        created.status(),
        created.headers()["location"].to_str()?
    );
    let location = created.headers()["location"].to_str()?.to_owned();
    let read = client.get(&location).send().await?;
    println!("vread: {} {}", read.status(), read.text().await?);
    server.shutdown().await;
    Ok(())
}
