//! batch and transaction Bundles.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::support::TestServer;

async fn post_bundle(s: &TestServer, bundle: &Value) -> crate::support::Reply {
    s.send_json(Method::POST, "", bundle).await
}

async fn transaction_resolves_references_in_order(s: &TestServer) {
    s.send_json(
        Method::PUT,
        "Patient/old",
        &json!({"resourceType": "Patient", "id": "old"}),
    )
    .await;
    s.create(&json!({"resourceType": "Organization", "identifier": [{"system": "urn:org", "value": "acme"}], "name": "Acme"})).await;
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "GET", "url": "Patient?identifier=urn:mrn|tx-1"}},
            {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
             "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "tx-1"}],
                          "managingOrganization": {"reference": "Organization?identifier=urn:org|acme"}},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "hr"},
                          "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},
             "request": {"method": "POST", "url": "Observation"}},
            {"request": {"method": "DELETE", "url": "Patient/old"}}
        ]
    });
    let r = post_bundle(s, &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let resp = r.json();
    assert_eq!(resp["type"], "transaction-response");
    let e = resp["entry"].as_array().unwrap();
    assert_eq!(e.len(), 4);
    // GET ran after the POST, so it sees the new patient.
    assert_eq!(e[0]["response"]["status"], "200 OK");
    assert_eq!(e[0]["resource"]["total"], 1);
    assert_eq!(e[1]["response"]["status"], "201 Created");
    assert_eq!(e[1]["response"]["etag"], "W/\"1\"");
    let patient_loc = e[1]["response"]["location"].as_str().unwrap();
    let patient_id = patient_loc.split('/').nth(1).unwrap();
    let obs_loc = e[2]["response"]["location"].as_str().unwrap();
    let obs = s
        .get(obs_loc.split("/_history").next().unwrap())
        .await
        .json();
    assert_eq!(obs["subject"]["reference"], format!("Patient/{patient_id}"));
    let patient = s.get(&format!("Patient/{patient_id}")).await.json();
    assert!(
        patient["managingOrganization"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Organization/")
    );
    assert_eq!(e[3]["response"]["status"], "204 No Content");
    assert_eq!(s.get("Patient/old").await.status, 410);
}
backend_test!(transaction_case, transaction_resolves_references_in_order);

async fn failed_transaction_leaves_nothing(s: &TestServer) {
    let before = s.get("_history").await.json()["total"].as_u64().unwrap();
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:2a0b4c47-79d4-4d8e-a3bb-8c0ab5d1a9a1",
             "resource": {"resourceType": "Patient", "gender": "female"},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Patient", "id": "fixed", "gender": "male"},
             "request": {"method": "PUT", "url": "Patient/fixed"}},
            {"request": {"method": "PUT", "url": "Patient/fixed2", "ifMatch": "W/\"9\""},
             "resource": {"resourceType": "Patient", "id": "fixed2"}}
        ]
    });
    let r = post_bundle(s, &bundle).await;
    assert_eq!(r.status, 412, "{}", r.text);
    let oo = r.json();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(oo["issue"][0]["expression"][0], "Bundle.entry[2]");
    assert_eq!(
        s.get("_history").await.json()["total"].as_u64().unwrap(),
        before,
        "nothing was written"
    );
    assert_eq!(s.get("Patient/fixed").await.status, 404);

    // An invalid resource in the last entry: refused before anything is written.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "foo": 1}, "request": {"method": "POST", "url": "Patient"}}
    ]});
    post_bundle(s, &bundle)
        .await
        .assert_outcome(400, "structure");
    // The same resource twice is refused.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": "d"}, "request": {"method": "PUT", "url": "Patient/d"}},
        {"resource": {"resourceType": "Patient", "id": "d"}, "request": {"method": "PUT", "url": "Patient/d"}}
    ]});
    post_bundle(s, &bundle)
        .await
        .assert_outcome(400, "duplicate");
    assert_eq!(
        s.get("_history").await.json()["total"].as_u64().unwrap(),
        before
    );
}
backend_test!(failed_transaction_case, failed_transaction_leaves_nothing);

async fn batch_entries_are_independent(s: &TestServer) {
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": {"resourceType": "Patient", "gender": "female"}, "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "GET", "url": "Patient/missing"}},
            {"resource": {"resourceType": "Patient", "id": "b2"}, "request": {"method": "PUT", "url": "Patient/b2"}},
            {"request": {"method": "GET", "url": "Unicorn/1"}}
        ]
    });
    let r = post_bundle(s, &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let resp = r.json();
    assert_eq!(resp["type"], "batch-response");
    let e = resp["entry"].as_array().unwrap();
    assert_eq!(e[0]["response"]["status"], "201 Created");
    assert_eq!(e[1]["response"]["status"], "404 Not Found");
    assert_eq!(
        e[1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(e[2]["response"]["status"], "201 Created");
    assert_eq!(e[3]["response"]["status"], "404 Not Found");
    assert_eq!(s.get("Patient/b2").await.status, 200);
}
backend_test!(batch_case, batch_entries_are_independent);

async fn official_transaction_example(s: &TestServer) {
    // The spec's own transaction example also contains conditional entries that need search
    // parameters and a Parameters entry; it must either fully succeed or leave nothing.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/fhir-r4-examples/Bundle-bundle-transaction.json"
    ))
    .unwrap();
    let bundle: Value = serde_json::from_str(&text).unwrap();
    let before = s.get("_history").await.json()["total"].as_u64().unwrap();
    let r = post_bundle(s, &bundle).await;
    if r.status == 200 {
        assert_eq!(r.json()["type"], "transaction-response");
    } else {
        assert_eq!(r.json()["resourceType"], "OperationOutcome", "{}", r.text);
        assert_eq!(
            s.get("_history").await.json()["total"].as_u64().unwrap(),
            before
        );
    }
    // Posting a non-batch Bundle type to the base is refused.
    post_bundle(s, &json!({"resourceType": "Bundle", "type": "collection"}))
        .await
        .assert_outcome(400, "invalid");
}
backend_test!(
    official_transaction_example_case,
    official_transaction_example
);

/// A transaction of plain creates (prepared before its write job) with a conditional
/// reference and `urn:uuid:` references: resolved and written as one.
async fn plain_transaction_with_conditional_reference(s: &TestServer) {
    s.create(&json!({"resourceType": "Organization", "identifier": [{"system": "urn:org", "value": "plain"}]})).await;
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0b1c5a52-7d58-4c3b-9a51-1d6f4b5c2a10",
         "resource": {"resourceType": "Patient", "managingOrganization": {"reference": "Organization?identifier=urn:org|plain"}},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                      "subject": {"reference": "urn:uuid:0b1c5a52-7d58-4c3b-9a51-1d6f4b5c2a10"}},
         "request": {"method": "POST", "url": "Observation"}},
        {"request": {"method": "GET", "url": "Organization?identifier=urn:org|plain"}}
    ]});
    let r = post_bundle(s, &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let e = r.json()["entry"].clone();
    let patient_id = e[0]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_owned();
    let obs = s
        .get(e[1]["response"]["location"].as_str().unwrap())
        .await
        .json();
    assert_eq!(obs["subject"]["reference"], format!("Patient/{patient_id}"));
    let patient = s.get(&format!("Patient/{patient_id}")).await.json();
    assert!(
        patient["managingOrganization"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Organization/")
    );
    assert_eq!(e[2]["resource"]["total"], 1);

    // A conditional reference that matches nothing fails the whole transaction.
    let before = s.get("_history").await.json()["total"].as_u64().unwrap();
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "managingOrganization": {"reference": "Organization?identifier=urn:org|none"}},
         "request": {"method": "POST", "url": "Patient"}}
    ]});
    post_bundle(s, &bundle)
        .await
        .assert_outcome(412, "not-found");
    assert_eq!(
        s.get("_history").await.json()["total"].as_u64().unwrap(),
        before
    );
}
backend_test!(
    plain_transaction_case,
    plain_transaction_with_conditional_reference
);

/// A conditional reference written exactly like the condition of a conditional update in
/// the same transaction means that entry's resource, whether the update creates it or
/// finds it (HAPI FHIR resolves them the same way); the second run of the same Bundle
/// finds what the first created.
async fn conditional_reference_to_an_entry_of_the_same_transaction(s: &TestServer) {
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Observation", "status": "final",
                      "identifier": [{"system": "urn:ex:obs", "value": "o1"}],
                      "code": {"text": "heart rate"},
                      "device": {"reference": "Device?identifier=urn:ex:dev|d%5C%2C1"}},
         "request": {"method": "PUT", "url": "Observation?identifier=urn:ex:obs|o1"}},
        {"resource": {"resourceType": "Device", "identifier": [{"system": "urn:ex:dev", "value": "d,1"}]},
         "request": {"method": "PUT", "url": "Device?identifier=urn:ex:dev|d%5C%2C1"}}
    ]});
    for round in 0..2 {
        let r = post_bundle(s, &bundle).await;
        assert_eq!(r.status, 200, "round {round}: {}", r.text);
        let body = r.json();
        let device = body["entry"][1]["response"]["location"].as_str().unwrap();
        let device_id = device.split('/').nth(1).unwrap();
        let observation = s.get("Observation?identifier=urn:ex:obs|o1").await.json();
        assert_eq!(
            observation["entry"][0]["resource"]["device"]["reference"],
            format!("Device/{device_id}"),
            "round {round}"
        );
        assert_eq!(
            s.get("Device").await.json()["entry"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
backend_test!(
    conditional_reference_to_an_entry_of_the_same_transaction_case,
    conditional_reference_to_an_entry_of_the_same_transaction
);
