//! EHR sync against a second, real server loaded with Oracle Health's (Cerner) recorded
//! sandbox data for patient 12724066 (`R4_OBSERVATION_BUNDLE`, `R4_CONDITION_BUNDLE`,
//! `R4_IMMUNIZATION_BUNDLE`, stored under their Cerner ids). Expected values are read off
//! those files by hand.

use std::sync::Arc;

use fhir_server::auth::admin::{self, NewClientAuth};
use fhir_server::ingest::ehr::{SourceAuth, SyncRequest};
use reqwest::Method;
use serde_json::{Value, json};
use smart_auth::{SigningAlgorithm, SigningKey};

use crate::backend_test;
use crate::imports::{consent, count, search};
use crate::support::{Reply, TestServer};

const SOURCE_PATIENT: &str = "12724066";

fn cerner(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cerner-sandbox/millennium-r4")
        .join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Stores the resources of the recorded bundles on `source` under their Cerner ids.
async fn load_source(source: &TestServer) {
    for name in [
        "R4_OBSERVATION_BUNDLE",
        "R4_CONDITION_BUNDLE",
        "R4_IMMUNIZATION_BUNDLE",
    ] {
        for entry in cerner(name)["entry"].as_array().unwrap() {
            let resource = &entry["resource"];
            let path = format!(
                "{}/{}",
                resource["resourceType"].as_str().unwrap(),
                resource["id"].as_str().unwrap()
            );
            let r = source.send_json(Method::PUT, &path, resource).await;
            assert!(r.status == 201 || r.status == 200, "{path}: {}", r.text);
        }
    }
}

/// Our patient, with a Consent permitting `source_base`.
async fn patient_allowing(s: &TestServer, source_base: &str) -> String {
    let id = s
        .create(
            &json!({"resourceType": "Patient", "name": [{"family": "Smart", "given": ["Nancy"]}]}),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    consent(s, &id, &[source_base]).await;
    id
}

async fn sync_ehr(s: &TestServer, patient: &str, source_base: &str) -> Reply {
    let parameters = json!({"resourceType": "Parameters", "parameter": [
        {"name": "source", "valueUrl": source_base},
        {"name": "sourcePatient", "valueString": SOURCE_PATIENT},
        {"name": "vendor", "valueCode": "cerner"},
        {"name": "type", "valueCode": "Observation"},
        {"name": "type", "valueCode": "Condition"},
        {"name": "type", "valueCode": "Immunization"},
        {"name": "pageSize", "valueInteger": 2}
    ]});
    s.send_json(
        Method::POST,
        &format!("Patient/{patient}/$sync-ehr"),
        &parameters,
    )
    .await
}

/// The whole sync: 7 Observations (3 social history, SpO2 95 %, two glucose results,
/// the axillary temperature of 27 Cel, kept and flagged implausible), 2 Conditions (the
/// recorded Condition bundle's third entry is about another patient, 9279171) and 2
/// Immunizations, pulled two per page; all now about our patient, vitals normalised. A
/// second sync finds nothing new; after a change at the source, the third updates
/// exactly that resource.
async fn sync_pulls_pages_normalises_and_is_incremental(s: &TestServer) {
    let source = TestServer::start(s.backend()).await;
    load_source(&source).await;
    let base = source.base.clone();
    let patient = patient_allowing(s, &base).await;

    let r = sync_ehr(s, &patient, &base).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let outcome = r.json();
    assert_eq!(count(&outcome, "created"), 11, "{outcome}");
    assert_eq!(count(&outcome, "rejected"), 0, "{outcome}");

    let subject = format!("Patient/{patient}");
    let observations = search(s, &format!("Observation?subject={subject}&_count=50")).await;
    assert_eq!(observations.len(), 7);
    let spo2 = search(
        s,
        &format!("Observation?subject={subject}&code=http://loinc.org|2708-6"),
    )
    .await;
    assert_eq!(spo2.len(), 1);
    assert_eq!(spo2[0]["code"]["coding"][0]["code"], "2708-6");
    assert_eq!(spo2[0]["valueQuantity"]["value"], 95);
    assert_eq!(spo2[0]["subject"]["reference"], subject);
    assert!(
        spo2[0]["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["value"] == "VS-CV-55046871-SECT-8098"),
        "{}",
        spo2[0]
    );
    let temperature = search(s, &format!("Observation?subject={subject}&code=8310-5")).await;
    assert_eq!(temperature[0]["valueQuantity"]["value"], 27);
    assert!(temperature[0].to_string().contains("implausible-value"));
    assert_eq!(
        search(s, &format!("Condition?subject={subject}"))
            .await
            .len(),
        2
    );
    assert_eq!(
        search(s, &format!("Immunization?patient={subject}"))
            .await
            .len(),
        2
    );
    assert_eq!(
        search(s, "Patient").await.len(),
        1,
        "the source's Patient is not imported"
    );

    // Nothing changed at the source: the next sync asks only for changes and finds none.
    let r = sync_ehr(s, &patient, &base).await;
    let outcome = r.json();
    assert_eq!(count(&outcome, "read"), 0, "{outcome}");
    assert_eq!(count(&outcome, "created"), 0, "{outcome}");

    // One Condition changes at the source.
    let mut condition = source.get("Condition/p73077203").await.json();
    condition["clinicalStatus"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved"}]});
    assert_eq!(
        source
            .send_json(Method::PUT, "Condition/p73077203", &condition)
            .await
            .status,
        200
    );
    let r = sync_ehr(s, &patient, &base).await;
    let outcome = r.json();
    assert_eq!(count(&outcome, "read"), 1, "{outcome}");
    assert_eq!(count(&outcome, "updated"), 1, "{outcome}");
    let resolved = search(
        s,
        &format!("Condition?subject={subject}&clinical-status=resolved"),
    )
    .await;
    assert_eq!(resolved.len(), 1);
    source.stop().await;
}
backend_test!(
    sync_pulls_pages_normalises_and_is_incremental_case,
    sync_pulls_pages_normalises_and_is_incremental
);

/// Without a Consent naming the source, nothing is pulled.
async fn sync_without_consent_is_refused(s: &TestServer) {
    let patient = s.create(&json!({"resourceType": "Patient"})).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = sync_ehr(s, &patient, "http://127.0.0.1:9/fhir").await;
    assert_eq!(r.status, 403, "{}", r.text);
}
backend_test!(
    sync_without_consent_is_refused_case,
    sync_without_consent_is_refused
);

/// SMART Backend Services against a source that requires it: the sync signs a client
/// assertion with its ES384 key, gets a `system/` token through the `oauth2` crate from the
/// token endpoint named in the source's smart-configuration, and pulls with it.
async fn sync_with_backend_services(s: &TestServer) {
    let source = TestServer::start_smart(s.backend()).await;
    let key = SigningKey::generate(SigningAlgorithm::Es384).unwrap();
    let source_store = source.admin_store().await;
    admin::add_client(
        &*source_store,
        "healthos-sync",
        None,
        Vec::new(),
        NewClientAuth::Jwks(serde_json::to_value(key.jwks()).unwrap()),
        Some("system/*.rs system/*.cruds"),
    )
    .await
    .unwrap();
    // Load the source through a system token of its own.
    let open = TestServer::start(s.backend()).await;
    load_source(&open).await;
    let bundle = open.get("Observation?_count=50").await.json();
    open.stop().await;
    let token = backend_token(&source, &key).await;
    for entry in bundle["entry"].as_array().unwrap() {
        let resource = &entry["resource"];
        let path = format!("Observation/{}", resource["id"].as_str().unwrap());
        let r = source
            .request(Method::PUT, &path)
            .bearer_auth(&token)
            .header("content-type", "application/fhir+json")
            .body(resource.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    let patient = patient_allowing(s, &source.base).await;
    let target = fhir_server::ingest::IngestTarget {
        store: s.admin_store().await,
        params: Arc::new(fhir_model::custom_params::CustomSearchParams::default()),
        base_url: s.base.clone(),
        caller: fhir_server::auth::access::Caller::Open,
    };
    let request = SyncRequest {
        base_url: source.base.clone(),
        vendor: mappers::ehr::Vendor::Cerner,
        source_patient: SOURCE_PATIENT.to_owned(),
        patient_id: patient.clone(),
        since: None,
        auth: SourceAuth::Backend {
            client_id: "healthos-sync".to_owned(),
            key: Arc::new(key),
            token_url: None,
            scope: "system/Observation.rs".to_owned(),
        },
        types: vec!["Observation".to_owned()],
        page_size: 100,
    };
    let summary = fhir_server::ingest::ehr::sync(
        &target,
        &request,
        &fhir_server::clock::now_instant(),
        Arc::default(),
    )
    .await
    .unwrap();
    assert_eq!(summary.created, 7, "{summary:?}");

    // A wrong key is refused by the source's token endpoint, and the sync says so.
    let mut wrong = request.clone();
    wrong.auth = SourceAuth::Backend {
        client_id: "healthos-sync".to_owned(),
        key: Arc::new(SigningKey::generate(SigningAlgorithm::Es384).unwrap()),
        token_url: None,
        scope: "system/Observation.rs".to_owned(),
    };
    let error = fhir_server::ingest::ehr::sync(
        &target,
        &wrong,
        &fhir_server::clock::now_instant(),
        Arc::default(),
    )
    .await
    .unwrap_err();
    let text = error.outcome().to_string();
    assert!(text.contains("invalid_client"), "{text}");
    source.stop().await;
}
backend_test!(sync_with_backend_services_case, sync_with_backend_services);

/// A system token from the source, the way the sync gets one (independently of it).
async fn backend_token(source: &TestServer, key: &SigningKey) -> String {
    let token_url = source.get(".well-known/smart-configuration").await.json()["token_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let assertion = smart_auth::client_assertion::sign_assertion(
        key,
        "healthos-sync",
        &token_url,
        std::time::SystemTime::now(),
        "load-1",
    )
    .unwrap();
    let r = reqwest::Client::new()
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "system/Observation.cruds"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// `fhir-server sync` (the command line) into the server's database.
async fn command_line_sync(s: &TestServer) {
    let source = TestServer::start(s.backend()).await;
    load_source(&source).await;
    let patient = patient_allowing(s, &source.base).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fhir-server"))
        .args(["sync", "--base-url", &source.base, "--vendor", "cerner"])
        .args(["--patient", &patient, "--source-patient", SOURCE_PATIENT])
        .args(["--type", "Immunization", "--database-url", &s.database_url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("read 2, created 2"), "{stdout}");
    assert_eq!(
        search(s, &format!("Immunization?patient=Patient/{patient}"))
            .await
            .len(),
        2
    );
    source.stop().await;
}
backend_test!(command_line_sync_case, command_line_sync);
