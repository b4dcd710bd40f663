//! An old database opens with a new binary: a database left at an earlier schema version
//! gets the later migrations at start-up and keeps its data.

use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_at_schema_1_is_migrated_and_keeps_its_data() {
    use sqlx::{Connection, Executor};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    // A database as the first release left it: migration 1 only, with one resource.
    {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        conn.execute(include_str!("../../migrations/sqlite/0001_resources.sql"))
            .await
            .unwrap();
        conn.execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL);
             INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00.000Z');
             INSERT INTO resource (res_type, res_id, version, deleted, last_updated)
                 VALUES ('Patient', 'old', 1, 0, '2026-01-01T00:00:00.000Z');
             INSERT INTO resource_version (res_pk, res_type, res_id, version, last_updated, method, deleted, content)
                 VALUES (1, 'Patient', 'old', 1, '2026-01-01T00:00:00.000Z', 'PUT', 0,
                 '{\"resourceType\":\"Patient\",\"id\":\"old\",\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"2026-01-01T00:00:00.000Z\"}}');",
        )
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let server = fhir_server::start(fhir_server::Config::for_tests(url))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let old = client
        .get(format!("{}/Patient/old", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 200);
    // The later schema (token display text, migration 2) is in place for new data.
    let obs = json!({"resourceType": "Observation", "status": "final",
                     "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]}});
    let r = client
        .request(Method::POST, format!("{}/Observation", server.base_url))
        .header("content-type", "application/fhir+json")
        .body(obs.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let found: serde_json::Value = client
        .get(format!("{}/Observation?code:text=heart", server.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 1, "{found}");
    server.shutdown().await;
}
