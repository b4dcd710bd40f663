//! End-to-end: data from a vendor, normalised by `mappers`, stored and read back through
//! the running server over HTTP.

use serde_json::Value;

const CERNER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/cerner-sandbox/millennium-r4"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cerner_vitals_are_normalised_stored_and_found_by_loinc_code() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        fhir_server::Config::for_tests(format!("sqlite://{}/e2e.db", dir.path().display()));
    let server = fhir_server::start(config).await.unwrap();
    let client = reqwest::Client::new();

    let bundle: Value = serde_json::from_slice(
        &std::fs::read(format!("{CERNER}/R4_OBSERVATION_BUNDLE.json")).unwrap(),
    )
    .unwrap();
    let mut stored = 0;
    for entry in bundle["entry"].as_array().unwrap() {
        let resource = &entry["resource"];
        if resource["resourceType"] != "Observation" {
            continue;
        }
        // Only vital signs normalise; labs and social history are refused by the mapper.
        let Ok(normalized) = mappers::vitals::normalize(resource, mappers::vitals::Quirks::CERNER)
        else {
            continue;
        };
        let mut obs = normalized.resource;
        // The subject is a patient this server does not hold; references are not checked
        // for existence on create, as in HAPI's default.
        obs.as_object_mut().unwrap().shift_remove("id");
        let r = client
            .post(format!("{}/Observation", server.base_url))
            .header("content-type", "application/fhir+json")
            .body(serde_json::to_vec(&obs).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        stored += 1;
    }
    assert!(
        stored >= 2,
        "the Cerner bundle holds several vital signs; stored {stored}"
    );

    // The canonical LOINC coding is searchable; the generic vendor coding did not replace it.
    let found: Value = client
        .get(format!(
            "{}/Observation?code=http://loinc.org|8310-5",
            server.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let total = found["total"].as_u64().unwrap();
    assert!(total >= 1, "{found}");
    for e in found["entry"].as_array().unwrap() {
        assert_eq!(e["resource"]["code"]["coding"][0]["code"], "8310-5");
        assert_eq!(
            e["resource"]["valueQuantity"]["system"],
            "http://unitsofmeasure.org"
        );
    }
    server.shutdown().await;
}
