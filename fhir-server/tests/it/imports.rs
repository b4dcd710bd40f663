//! `$import-wearable`: wearable exports through the server, with consent, idempotent
//! re-import, and nothing stored from a broken file. Expected values are read off the
//! fixture files by hand (see each test).

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::support::{Reply, TestServer};

fn fixture(path: &str) -> Vec<u8> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/wearables")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A patient, and (when `sources` is not empty) an active Consent permitting them.
async fn patient_with_consent(s: &TestServer, sources: &[&str]) -> String {
    let p = s
        .create(&json!({"resourceType": "Patient", "name": [{"family": "Wear"}]}))
        .await;
    let id = p.json()["id"].as_str().unwrap().to_owned();
    if !sources.is_empty() {
        consent(s, &id, sources).await;
    }
    id
}

/// An active Consent of the patient permitting imports from `sources` (wearable source
/// codes or EHR base URLs).
pub async fn consent(s: &TestServer, patient: &str, sources: &[&str]) {
    let actors: Vec<Value> = sources
        .iter()
        .map(|source| {
            json!({
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "INF"}]},
                "reference": {"identifier": {"system": "https://healthos.dev/fhir/data-source", "value": source}}
            })
        })
        .collect();
    let consent = json!({
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/{patient}")},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"type": "permit", "actor": actors}
    });
    let r = s.create(&consent).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn import(s: &TestServer, patient: &str, source: &str, body: Vec<u8>) -> Reply {
    Reply::from(
        s.request(
            Method::POST,
            &format!("Patient/{patient}/$import-wearable?source={source}"),
        )
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap(),
    )
    .await
}

/// The counts of the summary's `import-count` extensions, by name.
fn counts(outcome: &Value) -> Vec<(String, u64)> {
    outcome["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["extension"][0]["valueCode"].as_str().unwrap().to_owned(),
                e["extension"][1]["valueUnsignedInt"].as_u64().unwrap(),
            )
        })
        .collect()
}

pub fn count(outcome: &Value, name: &str) -> u64 {
    counts(outcome)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {outcome}"))
        .1
}

pub async fn search(s: &TestServer, query: &str) -> Vec<Value> {
    let r = s.get(query).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e["resource"].clone())
        .collect()
}

/// `withings-body-measures.json` (Withings `getmeas`, five groups): weights 74.126 kg
/// (1433052383 = 2015-05-31T06:06:23Z) and 74.128 kg, blood pressure 104/68 and pulse 41
/// in the first group, pulses 51 and 47 on other days, height 1.930 m and body
/// temperature 37 °C; meastype 18 three times (not imported). Eight Observations: the
/// three pulses are three hourly heart-rate series.
async fn withings_import_is_stored_and_idempotent(s: &TestServer) {
    let patient = patient_with_consent(s, &["withings"]).await;
    let file = fixture("openmhealth-shimmer/withings/withings-body-measures.json");
    let r = import(s, &patient, "withings", file.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let outcome = r.json();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(count(&outcome, "created"), 8, "{outcome}");
    assert_eq!(count(&outcome, "skipped"), 3, "{outcome}");
    assert_eq!(count(&outcome, "rejected"), 0, "{outcome}");

    let all = search(
        s,
        &format!("Observation?subject=Patient/{patient}&_count=100"),
    )
    .await;
    assert_eq!(all.len(), 8);
    let weights = search(
        s,
        &format!("Observation?subject=Patient/{patient}&code=http://loinc.org|29463-7&_sort=date"),
    )
    .await;
    let values: Vec<String> = weights
        .iter()
        .map(|w| w["valueQuantity"]["value"].to_string())
        .collect();
    assert_eq!(values, ["74.128", "74.126"]);
    assert_eq!(weights[1]["valueQuantity"]["code"], "kg");
    assert_eq!(weights[1]["effectiveDateTime"], "2015-05-31T06:06:23Z");
    let bp = search(
        s,
        &format!("Observation?subject=Patient/{patient}&code=85354-9"),
    )
    .await;
    assert_eq!(bp.len(), 1);
    assert_eq!(bp[0]["component"][0]["code"]["coding"][0]["code"], "8480-6");
    assert_eq!(bp[0]["component"][0]["valueQuantity"]["value"], 104);
    assert_eq!(bp[0]["component"][1]["valueQuantity"]["value"], 68);
    let height = search(
        s,
        &format!("Observation?subject=Patient/{patient}&code=8302-2"),
    )
    .await;
    assert_eq!(height[0]["valueQuantity"]["value"], 193);
    assert_eq!(height[0]["valueQuantity"]["code"], "cm");
    let provenance = search(s, "Provenance?_count=10").await;
    assert_eq!(provenance.len(), 1);
    assert_eq!(provenance[0]["target"].as_array().unwrap().len(), 8);

    // The same file again: nothing changes, not even the history.
    let again = import(s, &patient, "withings", file).await;
    assert_eq!(again.status, 200, "{}", again.text);
    let outcome = again.json();
    assert_eq!(count(&outcome, "created"), 0, "{outcome}");
    assert_eq!(count(&outcome, "updated"), 0, "{outcome}");
    assert_eq!(count(&outcome, "unchanged"), 8, "{outcome}");
    let history = s.get("Observation/_history?_count=100").await.json();
    assert_eq!(history["total"], 8, "{history}");
    assert_eq!(search(s, "Provenance").await.len(), 1);

    // Another person's import of the same file makes their own Observations.
    let other = patient_with_consent(s, &["withings"]).await;
    let file = fixture("openmhealth-shimmer/withings/withings-body-measures.json");
    let r = import(s, &other, "withings", file).await;
    assert_eq!(count(&r.json(), "created"), 8, "{}", r.text);
    assert_eq!(
        search(
            s,
            &format!("Observation?subject=Patient/{patient}&_count=100")
        )
        .await
        .len(),
        8
    );
}
backend_test!(
    withings_import_is_stored_and_idempotent_case,
    withings_import_is_stored_and_idempotent
);

/// No Consent for the source: 403 naming it; nothing stored.
async fn import_without_consent_is_refused(s: &TestServer) {
    let patient = patient_with_consent(s, &["garmin"]).await;
    let file = fixture("openmhealth-shimmer/withings/withings-body-measures.json");
    let r = import(s, &patient, "withings", file).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let text = r.json()["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("withings"), "{text}");
    assert!(search(s, "Observation").await.is_empty());
}
backend_test!(
    import_without_consent_is_refused_case,
    import_without_consent_is_refused
);

/// A truncated file is refused with its position, and nothing of it is stored; unknown
/// sources, missing patients and empty bodies get their own errors.
async fn broken_imports_store_nothing(s: &TestServer) {
    let patient = patient_with_consent(s, &["garmin", "withings"]).await;
    let mut file = fixture("garmin-health-api/dailies.json");
    file.truncate(file.len() / 2);
    let r = import(s, &patient, "garmin", file).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let text = r.json()["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("line"), "{text}");
    assert!(search(s, "Observation").await.is_empty());
    assert!(search(s, "Device").await.is_empty());

    let r = import(s, &patient, "polar", b"{}".to_vec()).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("apple-health"), "{}", r.text);
    let r = import(s, "no-such-patient", "garmin", b"[]".to_vec()).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = import(s, &patient, "garmin", Vec::new()).await;
    assert_eq!(r.status, 400, "{}", r.text);
}
backend_test!(
    broken_imports_store_nothing_case,
    broken_imports_store_nothing
);

/// Apple Health `export.zip` (alxdrcirilo fixture, 8 records): heart rate 74 and 75 /min
/// at 01:01:36 and 01:01:37 (+02:00) from the watch, one hourly series with minute 1 at
/// 74.5; active energy 0.12 kcal on 1 January and 0.08 kcal on 2 January (two intervals,
/// two daily totals); the iPhone's in-bed record and the watch's 12.5 min of core sleep
/// (two nights: two devices); exercise and stand time not imported. Seven Observations
/// and three Devices (the watch named in the device string, and the two `sourceName`s of
/// the records without one).
async fn apple_health_zip_import(s: &TestServer) {
    let patient = patient_with_consent(s, &["apple-health"]).await;
    let file = fixture("apple-health/alxdrcirilo-apple-health-parser/export.zip");
    let r = import(s, &patient, "apple-health", file.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let outcome = r.json();
    assert_eq!(count(&outcome, "read"), 8, "{outcome}");
    assert_eq!(count(&outcome, "skipped"), 2, "{outcome}");
    assert_eq!(count(&outcome, "created"), 10, "{outcome}");
    let observations = search(
        s,
        &format!("Observation?subject=Patient/{patient}&_count=100"),
    )
    .await;
    assert_eq!(observations.len(), 7);
    assert_eq!(search(s, "Device").await.len(), 3);

    let hr = search(
        s,
        &format!("Observation?subject=Patient/{patient}&code=8867-4"),
    )
    .await;
    assert_eq!(hr.len(), 1);
    let data = hr[0]["valueSampledData"]["data"].as_str().unwrap();
    assert!(data.starts_with("E 74.5 E "), "{data}");
    assert_eq!(
        hr[0]["effectivePeriod"]["start"],
        "2024-01-01T01:00:00+02:00"
    );

    let sleep = search(
        s,
        &format!("Observation?subject=Patient/{patient}&code=93832-4&value-quantity=gt1"),
    )
    .await;
    assert_eq!(sleep.len(), 1);
    assert_eq!(sleep[0]["valueQuantity"]["value"], 12.5);
    assert_eq!(
        sleep[0]["component"][0]["code"]["coding"][0]["code"],
        "93830-8"
    );

    let energy = search(
        s,
        &format!("Observation?subject=Patient/{patient}&code=41981-2"),
    )
    .await;
    let mut daily: Vec<String> = energy
        .iter()
        .filter(|o| {
            o["effectiveDateTime"]
                .as_str()
                .is_some_and(|d| d.len() == 10)
        })
        .map(|o| format!("{} {}", o["effectiveDateTime"], o["valueQuantity"]["value"]))
        .collect();
    daily.sort();
    assert_eq!(daily, ["\"2024-01-01\" 0.12", "\"2024-01-02\" 0.08"]);
    assert_eq!(energy.len(), 4, "two hourly sums and two daily totals");

    let again = import(s, &patient, "apple-health", file).await;
    let outcome = again.json();
    assert_eq!(count(&outcome, "unchanged"), 10, "{outcome}");
    assert_eq!(count(&outcome, "created"), 0, "{outcome}");
}
backend_test!(apple_health_zip_import_case, apple_health_zip_import);

/// `fhir-server import` (the command line) on the server's database: the closing summary
/// line, and the data visible through the running server; a second run changes nothing.
async fn command_line_import(s: &TestServer) {
    let patient = patient_with_consent(s, &["withings"]).await;
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/wearables/openmhealth-shimmer/withings/withings-body-measures.json");
    let run = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_fhir-server"))
            .args(["import", "--source", "withings", "--patient", &patient])
            .arg(&file)
            .args(["--database-url", &s.database_url])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run();
    assert!(
        first.contains("read 11, created 8, updated 0, unchanged 0, skipped 3, rejected 0"),
        "{first}"
    );
    assert_eq!(
        search(
            s,
            &format!("Observation?subject=Patient/{patient}&_count=100")
        )
        .await
        .len(),
        8
    );
    let second = run();
    assert!(
        second.contains("created 0, updated 0, unchanged 8"),
        "{second}"
    );
}
backend_test!(command_line_import_case, command_line_import);
