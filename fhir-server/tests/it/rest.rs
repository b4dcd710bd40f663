//! The REST interactions of http.html, positive cases.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::support::TestServer;

fn patient(family: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"system": "http://example.org/mrn", "value": family}],
        "name": [{"family": family, "given": ["Ann"]}],
        "gender": "female",
        "birthDate": "1970-01-01"
    })
}

async fn create_read_vread(s: &TestServer) {
    let r = s.create(&patient("Create")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert!(r.header("last-modified").is_some());
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/fhir+json")
    );
    let location = r.header("location").unwrap().to_owned();
    let body = r.json();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(location, s.url(&format!("Patient/{id}/_history/1")));
    assert_eq!(body["meta"]["versionId"], "1");
    assert_eq!(body["name"][0]["family"], "Create");

    let read = s.get(&format!("Patient/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.header("etag"), Some("W/\"1\""));
    assert_eq!(read.json(), body);

    let vread = s.get(&format!("Patient/{id}/_history/1")).await;
    assert_eq!(vread.status, 200);
    assert_eq!(vread.json(), body);
    s.get(&format!("Patient/{id}/_history/2"))
        .await
        .assert_outcome(404, "not-found");
    s.get("Patient/does-not-exist")
        .await
        .assert_outcome(404, "not-found");
}
backend_test!(create_read_vread_case, create_read_vread);

async fn create_ignores_client_id(s: &TestServer) {
    let mut p = patient("Ignored");
    p["id"] = json!("client-chosen");
    let r = s.create(&p).await;
    assert_eq!(r.status, 201);
    assert_ne!(r.json()["id"], "client-chosen");
}
backend_test!(create_ignores_client_id_case, create_ignores_client_id);

async fn update_and_create_on_update(s: &TestServer) {
    let mut p = patient("Upd");
    p["id"] = json!("upd-1");
    let r = s.send_json(Method::PUT, "Patient/upd-1", &p).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert_eq!(
        r.header("location").unwrap(),
        s.url("Patient/upd-1/_history/1")
    );
    p["gender"] = json!("male");
    let r = s.send_json(Method::PUT, "Patient/upd-1", &p).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    assert_eq!(r.json()["gender"], "male");
    assert_eq!(
        s.get("Patient/upd-1/_history/1").await.json()["gender"],
        "female"
    );
}
backend_test!(
    update_and_create_on_update_case,
    update_and_create_on_update
);

/// An update with the content of the current version writes nothing (as HAPI FHIR): the
/// version, Last-Modified and history stay; in a transaction the entry says so in
/// `response.outcome`. Key order and `meta.versionId`/`lastUpdated` do not count.
async fn unchanged_update_writes_nothing(s: &TestServer) {
    let mut p = patient("Same");
    p["id"] = json!("same-1");
    let first = s.send_json(Method::PUT, "Patient/same-1", &p).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let mut again = first.json();
    again["meta"]["lastUpdated"] = json!("2001-01-01T00:00:00Z");
    let gender = again
        .as_object_mut()
        .unwrap()
        .shift_remove("gender")
        .unwrap();
    again["gender"] = gender;
    let r = s.send_json(Method::PUT, "Patient/same-1", &again).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert_eq!(r.header("last-modified"), first.header("last-modified"));
    let history = s.get("Patient/same-1/_history").await.json();
    assert_eq!(history["total"], 1, "{history}");

    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": p.clone(), "request": {"method": "PUT", "url": "Patient?identifier=http://example.org/mrn|Same"}}
    ]});
    let r = s.send_json(Method::POST, "", &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let entry = &r.json()["entry"][0]["response"];
    assert_eq!(entry["etag"], "W/\"1\"", "{entry}");
    assert_eq!(
        entry["outcome"]["issue"][0]["code"], "informational",
        "{entry}"
    );

    p["gender"] = json!("other");
    let r = s.send_json(Method::PUT, "Patient/same-1", &p).await;
    assert_eq!(r.header("etag"), Some("W/\"2\""));
}
backend_test!(
    unchanged_update_writes_nothing_case,
    unchanged_update_writes_nothing
);

async fn delete_then_gone(s: &TestServer) {
    let id = s.create(&patient("Del")).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .request(Method::DELETE, &format!("Patient/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    s.get(&format!("Patient/{id}"))
        .await
        .assert_outcome(410, "deleted");
    // History keeps both versions; the old version is still readable.
    let h = s.get(&format!("Patient/{id}/_history")).await.json();
    assert_eq!(h["total"], 2);
    assert_eq!(h["entry"][0]["request"]["method"], "DELETE");
    assert_eq!(s.get(&format!("Patient/{id}/_history/1")).await.status, 200);
    s.get(&format!("Patient/{id}/_history/2"))
        .await
        .assert_outcome(410, "deleted");
    // Deleting again succeeds without a new version; so does deleting an id never held
    // (http.html: "or if the resource does not exist at all"), which creates nothing.
    let r = s
        .request(Method::DELETE, &format!("Patient/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.get(&format!("Patient/{id}/_history")).await.json()["total"],
        2
    );
    let r = s
        .request(Method::DELETE, "Patient/never")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    s.get("Patient/never")
        .await
        .assert_outcome(404, "not-found");
}
backend_test!(delete_then_gone_case, delete_then_gone);

async fn conditional_create(s: &TestServer) {
    let first = s.create(&patient("Cond")).await;
    assert_eq!(first.status, 201);
    let id = first.json()["id"].clone();
    let again = s
        .request(Method::POST, "Patient")
        .header("content-type", "application/fhir+json")
        .header("if-none-exist", "identifier=http://example.org/mrn|Cond")
        .body(serde_json::to_vec(&patient("Cond")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["id"], id);
    // Two matches → 412.
    s.create(&patient("Cond")).await;
    let third = s
        .request(Method::POST, "Patient")
        .header("content-type", "application/fhir+json")
        .header("if-none-exist", "identifier=http://example.org/mrn|Cond")
        .body(serde_json::to_vec(&patient("Cond")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 412);
}
backend_test!(conditional_create_case, conditional_create);

async fn conditional_update_and_delete(s: &TestServer) {
    // No match, no id → create.
    let r = s
        .send_json(
            Method::PUT,
            "Patient?identifier=http://example.org/mrn|CU",
            &patient("CU"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    // One match → update it.
    let mut p = patient("CU");
    p["gender"] = json!("other");
    let r = s
        .send_json(
            Method::PUT,
            "Patient?identifier=http://example.org/mrn|CU",
            &p,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    // Conditional delete of the one match.
    let r = s
        .request(
            Method::DELETE,
            "Patient?identifier=http://example.org/mrn|CU",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.get(&format!("Patient/{id}")).await.status, 410);
    // Several matches → 412, nothing deleted.
    let a = s.create(&patient("Many")).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.create(&patient("Many")).await;
    let r = s
        .request(
            Method::DELETE,
            "Patient?identifier=http://example.org/mrn|Many",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(s.get(&format!("Patient/{a}")).await.status, 200);
    // By _id and by a reference parameter.
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": format!("Patient/{a}")}});
    let oid = s.create(&obs).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .request(
            Method::DELETE,
            &format!("Observation?subject=Patient/{a}&_id={oid}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.get(&format!("Observation/{oid}")).await.status, 410);
}
backend_test!(
    conditional_update_and_delete_case,
    conditional_update_and_delete
);

async fn json_patch_and_fhirpath_patch(s: &TestServer) {
    let id = s.create(&patient("Patch")).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .request(Method::PATCH, &format!("Patient/{id}"))
        .header("content-type", "application/json-patch+json")
        .body(r#"[{"op":"replace","path":"/gender","value":"male"},{"op":"add","path":"/active","value":true}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["gender"], "male");
    assert_eq!(body["active"], true);

    let params = json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": "Patient.birthDate"},
        {"name": "value", "valueDate": "1980-02-03"}
    ]}]});
    let r = s
        .send_json(Method::PATCH, &format!("Patient/{id}"), &params)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["birthDate"], "1980-02-03");
    assert_eq!(r.header("etag"), Some("W/\"3\""));

    // A patch that breaks the resource is refused and changes nothing.
    let r = s
        .request(Method::PATCH, &format!("Patient/{id}"))
        .header("content-type", "application/json-patch+json")
        .body(r#"[{"op":"add","path":"/nonsense","value":1}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        s.get(&format!("Patient/{id}")).await.header("etag"),
        Some("W/\"3\"")
    );
}
backend_test!(
    json_patch_and_fhirpath_patch_case,
    json_patch_and_fhirpath_patch
);

async fn version_aware_update(s: &TestServer) {
    let id = s.create(&patient("VA")).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut p = patient("VA");
    p["id"] = json!(id);
    // A change, so the update writes version 2 (an unchanged update writes nothing).
    p["gender"] = json!("other");
    let put = |tag: &'static str, body: Value| {
        s.request(Method::PUT, &format!("Patient/{id}"))
            .header("content-type", "application/fhir+json")
            .header("if-match", tag)
            .body(serde_json::to_vec(&body).unwrap())
            .send()
    };
    assert_eq!(put("W/\"1\"", p.clone()).await.unwrap().status(), 200);
    let stale = put("W/\"1\"", p.clone()).await.unwrap();
    assert_eq!(stale.status(), 412);
    let oo: Value = stale.json().await.unwrap();
    assert_eq!(oo["resourceType"], "OperationOutcome");
}
backend_test!(version_aware_update_case, version_aware_update);

/// Two updates with the same If-Match race: exactly one wins, the other gets 412, and
/// no write is lost.
async fn concurrent_if_match(s: &TestServer) {
    for round in 0..5 {
        let id = s.create(&patient("Race")).await.json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mk = |gender: &'static str| {
            let mut p = patient("Race");
            p["id"] = json!(id);
            p["gender"] = json!(gender);
            s.request(Method::PUT, &format!("Patient/{id}"))
                .header("content-type", "application/fhir+json")
                .header("if-match", "W/\"1\"")
                .body(serde_json::to_vec(&p).unwrap())
                .send()
        };
        let (a, b) = tokio::join!(mk("male"), mk("other"));
        let (a, b) = (a.unwrap().status().as_u16(), b.unwrap().status().as_u16());
        let mut statuses = [a, b];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "round {round}");
        let h = s.get(&format!("Patient/{id}/_history")).await.json();
        assert_eq!(h["total"], 2, "round {round}: exactly one new version");
        let winner = if a == 200 { "male" } else { "other" };
        assert_eq!(
            s.get(&format!("Patient/{id}")).await.json()["gender"],
            winner
        );
    }
}
backend_test!(concurrent_if_match_case, concurrent_if_match);

async fn conditional_reads(s: &TestServer) {
    let r = s.create(&patient("CR")).await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let last_modified = r.header("last-modified").unwrap().to_owned();
    let nm = s
        .request(Method::GET, &format!("Patient/{id}"))
        .header("if-none-match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(nm.status(), 304);
    let nm = s
        .request(Method::GET, &format!("Patient/{id}"))
        .header("if-none-match", "W/\"7\"")
        .send()
        .await
        .unwrap();
    assert_eq!(nm.status(), 200);
    let ims = s
        .request(Method::GET, &format!("Patient/{id}"))
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(ims.status(), 304);
    let ims = s
        .request(Method::GET, &format!("Patient/{id}"))
        .header("if-modified-since", "Thu, 01 Jan 2015 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(ims.status(), 200);
}
backend_test!(conditional_reads_case, conditional_reads);

async fn prefer_return(s: &TestServer) {
    let send = |prefer: &'static str| {
        s.request(Method::POST, "Patient")
            .header("content-type", "application/fhir+json")
            .header("prefer", prefer)
            .body(serde_json::to_vec(&patient("Prefer")).unwrap())
            .send()
    };
    let minimal = send("return=minimal").await.unwrap();
    assert_eq!(minimal.status(), 201);
    assert!(minimal.headers().contains_key("location"));
    assert_eq!(minimal.text().await.unwrap(), "");
    let oo: Value = send("return=OperationOutcome")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    let rep: Value = send("return=representation")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rep["resourceType"], "Patient");
}
backend_test!(prefer_return_case, prefer_return);

async fn formats_and_shaping(s: &TestServer) {
    // Sent as text, so the decimal's text (70.50) is what the server receives.
    let obs = r#"{"resourceType":"Observation","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"valueQuantity":{"value":70.50,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},"note":[{"text":"not in summary"}]}"#;
    let created = crate::support::Reply::from(
        s.request(Method::POST, "Observation")
            .header("content-type", "application/fhir+json")
            .body(obs)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        created.text.contains("\"value\":70.50"),
        "decimal text kept: {}",
        created.text
    );
    assert!(
        created
            .text
            .ends_with(r#""note":[{"text":"not in summary"}]}"#),
        "element order kept: {}",
        created.text
    );
    let id = created.json()["id"].as_str().unwrap().to_owned();

    // XML by Accept, by _format, and its aliases.
    for (accept, format) in [
        ("application/fhir+xml", ""),
        ("", "?_format=xml"),
        ("", "?_format=application/fhir+xml"),
    ] {
        let mut req = s.request(Method::GET, &format!("Observation/{id}{format}"));
        if !accept.is_empty() {
            req = req.header("accept", accept);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/fhir+xml")
        );
        let text = r.text().await.unwrap();
        assert!(
            text.contains("<Observation xmlns=\"http://hl7.org/fhir\">"),
            "{text}"
        );
        assert!(text.contains("<value value=\"70.50\"/>"), "{text}");
    }
    let json_alias = s.get(&format!("Observation/{id}?_format=json")).await;
    assert!(
        json_alias
            .header("content-type")
            .unwrap()
            .starts_with("application/fhir+json")
    );

    let pretty = s.get(&format!("Observation/{id}?_pretty=true")).await;
    assert!(
        pretty.text.contains("\n  \"resourceType\""),
        "{}",
        pretty.text
    );

    let summary = s
        .get(&format!("Observation/{id}?_summary=true"))
        .await
        .json();
    assert!(
        summary.get("note").is_none() && summary.get("text").is_none(),
        "{summary}"
    );
    assert_eq!(summary["status"], "final");
    let tags = summary["meta"]["tag"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["code"] == "SUBSETTED"));
    let data = s
        .get(&format!("Observation/{id}?_summary=data"))
        .await
        .json();
    assert!(data.get("text").is_none() && data.get("note").is_some());
    let text = s
        .get(&format!("Observation/{id}?_summary=text"))
        .await
        .json();
    assert!(text.get("text").is_some() && text.get("note").is_none());
    let elements = s
        .get(&format!("Observation/{id}?_elements=code"))
        .await
        .json();
    assert!(
        elements.get("code").is_some()
            && elements.get("note").is_none()
            && elements.get("valueQuantity").is_none()
    );

    // An XML body is accepted and stored as the same resource.
    let xml = r#"<Patient xmlns="http://hl7.org/fhir"><name><family value="Xml"/></name><gender value="female"/></Patient>"#;
    let r = s
        .request(Method::POST, "Patient")
        .header("content-type", "application/fhir+xml")
        .header("accept", "application/fhir+json")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["name"][0]["family"], "Xml");
}
backend_test!(formats_and_shaping_case, formats_and_shaping);

async fn metadata(s: &TestServer) {
    let r = s.get("metadata").await;
    assert_eq!(r.status, 200);
    let cs = r.json();
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    let resources = cs["rest"][0]["resource"].as_array().unwrap();
    assert_eq!(
        resources.len(),
        fhir_model::definitions::resource_types().len()
    );
    let obs = resources
        .iter()
        .find(|r| r["type"] == "Observation")
        .unwrap();
    assert!(
        obs["searchInclude"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "Observation:subject")
    );
    let interactions: Vec<&str> = obs["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    for i in [
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "create",
    ] {
        assert!(interactions.contains(&i), "{i}");
    }
    assert!(
        obs["searchParam"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "subject")
    );
    let xml = s.get("metadata?_format=xml").await;
    assert!(xml.text.contains("<CapabilityStatement"), "{}", xml.text);
}
backend_test!(metadata_case, metadata);

async fn request_id_is_echoed(s: &TestServer) {
    let r = s
        .request(Method::GET, "metadata")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = s.request(Method::GET, "metadata").send().await.unwrap();
    assert!(!r.headers()["x-request-id"].is_empty());
}
backend_test!(request_id_is_echoed_case, request_id_is_echoed);

async fn basic_search(s: &TestServer) {
    let a = s.create(&patient("Searchable")).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.create(&patient("Other")).await;
    let b = s
        .get("Patient?identifier=http://example.org/mrn|Searchable")
        .await
        .json();
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 1);
    assert_eq!(b["entry"][0]["resource"]["id"], a.as_str());
    let b = s.get("Patient?family=searcha").await.json();
    assert_eq!(b["total"], 1, "string prefix, case-insensitive: {b}");
    let b = s.get("Patient?_count=1").await.json();
    assert_eq!(b["entry"].as_array().unwrap().len(), 1);
    let next = b["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let page2: Value = s
        .client
        .get(&next)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2["entry"].as_array().unwrap().len(), 1);
    assert_ne!(
        page2["entry"][0]["resource"]["id"],
        b["entry"][0]["resource"]["id"]
    );
}
backend_test!(basic_search_case, basic_search);

/// Many concurrent writes, some of which fail: the failures change nothing and every
/// success is there afterwards (on SQLite they share group commits).
async fn concurrent_writes_fail_alone(s: &TestServer) {
    let before = s.get("_history").await.json()["total"].as_u64().unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = s.client.clone();
        let base = s.base.clone();
        tasks.push(tokio::spawn(async move {
            let (method, url, body, headers): (Method, String, Value, Vec<(&str, &str)>) = match i % 4 {
                // A transaction whose last entry fails.
                0 => (
                    Method::POST,
                    base.clone(),
                    json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
                        {"resource": {"resourceType": "Patient", "id": format!("never-{i}")},
                         "request": {"method": "PUT", "url": format!("Patient/never-{i}"), "ifMatch": "W/\"3\""}}
                    ]}),
                    vec![],
                ),
                // A stale If-Match update of a resource that does not exist.
                1 => (
                    Method::PUT,
                    format!("{base}/Patient/ghost-{i}"),
                    json!({"resourceType": "Patient", "id": format!("ghost-{i}")}),
                    vec![("if-match", "W/\"1\"")],
                ),
                _ => (Method::POST, format!("{base}/Patient"), patient(&format!("ok-{i}")), vec![]),
            };
            let mut req = client.request(method, url).header("content-type", "application/fhir+json");
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let r = req.body(serde_json::to_vec(&body).unwrap()).send().await.unwrap();
            (i, r.status().as_u16())
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (i, status) = t.await.unwrap();
        match i % 4 {
            0 | 1 => assert_eq!(status, 412, "request {i}"),
            _ => {
                assert_eq!(status, 201, "request {i}");
                created += 1;
            }
        }
    }
    let after = s.get("_history").await.json()["total"].as_u64().unwrap();
    assert_eq!(
        after - before,
        created,
        "exactly the successful creates were stored"
    );
    for i in (0..40).filter(|i| i % 4 == 1) {
        assert_eq!(s.get(&format!("Patient/ghost-{i}")).await.status, 404);
    }
    let found = s
        .get("Patient?identifier=http://example.org/mrn|ok-2")
        .await
        .json();
    assert_eq!(found["total"], 1);
}
backend_test!(
    concurrent_writes_fail_alone_case,
    concurrent_writes_fail_alone
);
