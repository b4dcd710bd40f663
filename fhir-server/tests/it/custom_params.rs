//! Custom search parameters: SearchParameter resources POSTed to the server are usable
//! for new data at once and for data stored before them after `$reindex` (string, token
//! and reference parameters; `_sort`, `_include`, chains and `_has` on them), unusable
//! ones are refused with a 400, deleting one makes its code unknown again, and
//! `$reindex` works per type and over all types without creating versions.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::search::get_strict;
use crate::support::{TestServer, match_ids};

fn search_parameter(code: &str, base: &str, ty: &str, expression: &str) -> Value {
    json!({
        "resourceType": "SearchParameter",
        "url": format!("http://example.org/fhir/SearchParameter/{code}"),
        "name": code,
        "status": "active",
        "description": format!("Custom parameter {code}"),
        "code": code,
        "base": [base],
        "type": ty,
        "expression": expression,
    })
}

fn nickname() -> Value {
    search_parameter(
        "nickname",
        "Patient",
        "string",
        "Patient.name.where(use = 'nickname').given",
    )
}

fn patient(id: &str, nick: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "name": [
        {"use": "official", "family": "Doe", "given": ["Robert"]},
        {"use": "nickname", "given": [nick]}]})
}

async fn put(s: &TestServer, resource: &Value) -> u16 {
    let path = format!(
        "{}/{}",
        resource["resourceType"].as_str().unwrap(),
        resource["id"].as_str().unwrap()
    );
    let r = s.send_json(Method::PUT, &path, resource).await;
    assert!(r.status.is_success(), "{path}: {}", r.text);
    r.status.as_u16()
}

/// The ids of a search's matches (in order), with `Prefer: handling=strict`, so a
/// parameter the server does not know fails the test instead of being ignored.
async fn strict_ids(s: &TestServer, query: &str) -> Vec<String> {
    let r = get_strict(s, query).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    match_ids(&r.json())
}

async fn sorted_ids(s: &TestServer, query: &str) -> Vec<String> {
    let mut ids = strict_ids(s, query).await;
    ids.sort();
    ids
}

/// `$reindex` on `path` (`$reindex` or `Type/$reindex`): the Parameters `count`.
async fn reindex(s: &TestServer, path: &str) -> i64 {
    let r = s.request(Method::POST, path).send().await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resourceType"], "Parameters", "{body}");
    assert_eq!(body["parameter"][0]["name"], "count", "{body}");
    body["parameter"][0]["valueInteger"].as_i64().unwrap()
}

async fn lifecycle(s: &TestServer) {
    put(s, &patient("old", "Bobby")).await;
    // Unknown before the SearchParameter exists: refused (strict) or ignored (lenient).
    get_strict(s, "Patient?nickname=bob")
        .await
        .assert_outcome(400, "not-supported");
    let lenient = s.get("Patient?nickname=bob").await;
    assert_eq!(lenient.status, 200, "{}", lenient.text);
    let b = lenient.json();
    assert_eq!(b["total"], 1, "ignored, so every Patient matches: {b}");
    assert_eq!(b["entry"][1]["search"]["mode"], "outcome", "{b}");

    let r = s.create(&nickname()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sp_id = r.json()["id"].as_str().unwrap().to_owned();

    // New data is indexed by it at once; older data only after `$reindex`.
    put(s, &patient("new", "Bobster")).await;
    assert_eq!(strict_ids(s, "Patient?nickname=bob").await, ["new"]);
    assert_eq!(
        strict_ids(s, "Patient?nickname:exact=Bobster").await,
        ["new"]
    );
    assert_eq!(reindex(s, "Patient/$reindex").await, 2);
    assert_eq!(sorted_ids(s, "Patient?nickname=bob").await, ["new", "old"]);
    assert_eq!(strict_ids(s, "Patient?nickname=bobby").await, ["old"]);
    // `$reindex` writes no version.
    let old = s.get("Patient/old").await.json();
    assert_eq!(old["meta"]["versionId"], "1", "{old}");
    let history = s.get("Patient/old/_history").await.json();
    assert_eq!(history["total"], 1, "{history}");

    // `_sort` by the custom parameter.
    assert_eq!(
        strict_ids(s, "Patient?_sort=nickname").await,
        ["old", "new"]
    );
    assert_eq!(
        strict_ids(s, "Patient?_sort=-nickname").await,
        ["new", "old"]
    );

    // The CapabilityStatement lists it on Patient.
    let cs = s.get("metadata").await.json();
    let patient_params = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Patient")
        .unwrap()["searchParam"]
        .clone();
    assert!(
        patient_params.as_array().unwrap().iter().any(|p| p
            == &json!({"name": "nickname", "type": "string",
                "definition": "http://example.org/fhir/SearchParameter/nickname"})),
        "{patient_params}"
    );

    // An update (PATCH) of a Patient is indexed with it too.
    let patch = json!([{"op": "replace", "path": "/name/1/given/0", "value": "Robbie"}]);
    let r = s
        .request(Method::PATCH, "Patient/old")
        .header("content-type", "application/json-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(strict_ids(s, "Patient?nickname=robbie").await, ["old"]);

    // Retiring it (update) or deleting it makes the code unknown again.
    let mut retired = nickname();
    retired["id"] = json!(sp_id);
    retired["status"] = json!("retired");
    assert_eq!(put(s, &retired).await, 200);
    get_strict(s, "Patient?nickname=bob")
        .await
        .assert_outcome(400, "not-supported");
    let mut active = retired.clone();
    active["status"] = json!("active");
    put(s, &active).await;
    assert_eq!(strict_ids(s, "Patient?nickname=bob").await, ["new"]);
    let r = s
        .request(Method::DELETE, &format!("SearchParameter/{sp_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    get_strict(s, "Patient?nickname=bob")
        .await
        .assert_outcome(400, "not-supported");
    let cs = s.get("metadata").await.text;
    assert!(!cs.contains("\"nickname\""), "{cs}");
}
backend_test!(lifecycle_case, lifecycle);

async fn token_parameter(s: &TestServer) {
    let obs = |id: &str, code: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "method": {"coding": [{"system": "http://snomed.info/sct", "code": code}],
                "text": "Auscultation"}})
    };
    put(s, &obs("o1", "37931006")).await;
    let r = s
        .create(&search_parameter(
            "technique",
            "Observation",
            "token",
            "Observation.method",
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    put(s, &obs("o2", "129433002")).await;
    put(
        s,
        &json!({"resourceType": "Observation", "id": "o3", "status": "final",
            "code": {"text": "no method"}}),
    )
    .await;
    assert_eq!(
        strict_ids(s, "Observation?technique=http://snomed.info/sct|129433002").await,
        ["o2"]
    );
    assert!(
        strict_ids(s, "Observation?technique=37931006")
            .await
            .is_empty(),
        "o1 predates the parameter"
    );
    assert_eq!(reindex(s, "Observation/$reindex").await, 3);
    assert_eq!(
        strict_ids(s, "Observation?technique=37931006").await,
        ["o1"]
    );
    assert_eq!(
        sorted_ids(s, "Observation?technique:text=auscul").await,
        ["o1", "o2"]
    );
    assert_eq!(
        strict_ids(s, "Observation?technique:missing=true").await,
        ["o3"]
    );
    assert_eq!(
        sorted_ids(s, "Observation?technique:not=37931006").await,
        ["o2", "o3"]
    );
    // Conditional interactions see it too.
    let r = s
        .request(Method::DELETE, "Observation?technique=129433002")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        strict_ids(s, "Observation?technique=129433002")
            .await
            .is_empty()
    );
}
backend_test!(token_parameter_case, token_parameter);

async fn reference_parameter(s: &TestServer) {
    let mut performed_by = search_parameter(
        "performed-by",
        "Observation",
        "reference",
        "Observation.performer",
    );
    performed_by["target"] = json!(["Practitioner", "Organization"]);
    let r = s.create(&performed_by).await;
    assert_eq!(r.status, 201, "{}", r.text);
    put(
        s,
        &json!({"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Smith"}]}),
    )
    .await;
    put(
        s,
        &json!({"resourceType": "Organization", "id": "org1", "name": "Acme Lab"}),
    )
    .await;
    // Written by a transaction (its prepared fast path and its general path).
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Observation", "status": "final", "id": "ignored",
            "code": {"text": "a"}, "performer": [{"reference": "Practitioner/pr1"}]},
         "request": {"method": "POST", "url": "Observation"}}]});
    let r = s.send_json(Method::POST, "", &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let location = r.json()["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .to_owned();
    let o1 = location.split('/').nth(1).unwrap().to_owned();
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Observation", "status": "final", "id": "o2",
            "code": {"text": "b"}, "performer": [{"reference": "Organization/org1"}]},
         "request": {"method": "PUT", "url": "Observation/o2"}}]});
    let r = s.send_json(Method::POST, "", &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);

    assert_eq!(
        strict_ids(s, "Observation?performed-by=Practitioner/pr1").await,
        [o1.as_str()]
    );
    assert_eq!(
        strict_ids(s, "Observation?performed-by:Organization=org1").await,
        ["o2"]
    );
    // Chains.
    assert_eq!(
        strict_ids(s, "Observation?performed-by:Practitioner.name=smith").await,
        [o1.as_str()]
    );
    assert_eq!(
        strict_ids(s, "Observation?performed-by.name=acme").await,
        ["o2"]
    );
    // Reverse chains.
    assert_eq!(
        strict_ids(s, "Practitioner?_has:Observation:performed-by:code:text=a").await,
        ["pr1"]
    );
    // Includes.
    let r = get_strict(
        s,
        &format!("Observation?_id={o1}&_include=Observation:performed-by"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    let included: Vec<&str> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(included, ["pr1"], "{b}");
    let r = get_strict(
        s,
        "Organization?_id=org1&_revinclude=Observation:performed-by",
    )
    .await;
    let b = r.json();
    assert_eq!(b["entry"][1]["resource"]["id"], "o2", "{b}");
    // The CapabilityStatement offers it for `_include`.
    let cs = s.get("metadata").await.json();
    let observation = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Observation")
        .unwrap()
        .clone();
    assert!(
        observation["searchInclude"]
            .as_array()
            .unwrap()
            .contains(&json!("Observation:performed-by")),
        "{observation}"
    );
}
backend_test!(reference_parameter_case, reference_parameter);

async fn unusable_search_parameters_are_refused(s: &TestServer) {
    let cases = [
        (
            search_parameter("nickname", "Patient", "string", "Patient.name.where("),
            "invalid",
            "SearchParameter.expression",
        ),
        (
            search_parameter("name", "Patient", "string", "Patient.name.given"),
            "duplicate",
            "SearchParameter.code",
        ),
        (
            search_parameter("nickname", "Patient", "string", "Patient.nmae"),
            "invalid",
            "SearchParameter.expression",
        ),
        (
            search_parameter("near-by", "Location", "special", "Location.position"),
            "not-supported",
            "SearchParameter.type",
        ),
    ];
    for (sp, code, path) in &cases {
        let oo = s.create(sp).await.assert_outcome(400, code);
        assert_eq!(oo["issue"][0]["expression"][0], *path, "{oo}");
        // The same through PUT and a transaction.
        let mut with_id = sp.clone();
        with_id["id"] = json!("sp1");
        s.send_json(Method::PUT, "SearchParameter/sp1", &with_id)
            .await
            .assert_outcome(400, code);
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": sp, "request": {"method": "POST", "url": "SearchParameter"}}]});
        s.send_json(Method::POST, "", &bundle)
            .await
            .assert_outcome(400, code);
    }
    let r = s.get("SearchParameter").await.json();
    assert_eq!(r["total"], 0, "nothing was stored: {r}");
    // Not in use (retired): stored, not checked, and not a parameter.
    let mut retired = cases[1].0.clone();
    retired["status"] = json!("retired");
    assert_eq!(s.create(&retired).await.status, 201);
    // A second definition of a custom code is refused; updating the first is not.
    let mut first = nickname();
    first["id"] = json!("nick");
    assert_eq!(put(s, &first).await, 201);
    let mut second = nickname();
    second["url"] = json!("http://example.org/other");
    s.create(&second).await.assert_outcome(400, "duplicate");
    first["description"] = json!("changed");
    assert_eq!(put(s, &first).await, 200);
    assert!(strict_ids(s, "Patient?nickname=x").await.is_empty());
}
backend_test!(
    unusable_search_parameters_are_refused_case,
    unusable_search_parameters_are_refused
);

async fn reindex_all_types(s: &TestServer) {
    put(s, &patient("p1", "Bobby")).await;
    put(
        s,
        &json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"text": "x"},
            "method": {"coding": [{"system": "http://snomed.info/sct", "code": "37931006"}]}}),
    )
    .await;
    // Both SearchParameters in one transaction: usable as soon as it is answered.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": nickname(), "request": {"method": "POST", "url": "SearchParameter"}},
        {"resource": search_parameter("technique", "Observation", "token", "Observation.method"),
         "request": {"method": "POST", "url": "SearchParameter"}}]});
    let r = s.send_json(Method::POST, "", &bundle).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(strict_ids(s, "Patient?nickname=bob").await.is_empty());
    assert!(
        strict_ids(s, "Observation?technique=37931006")
            .await
            .is_empty()
    );
    // Every current resource: two SearchParameters, a Patient, an Observation.
    assert_eq!(reindex(s, "$reindex").await, 4);
    assert_eq!(strict_ids(s, "Patient?nickname=bob").await, ["p1"]);
    assert_eq!(
        strict_ids(s, "Observation?technique=37931006").await,
        ["o1"]
    );
    // Deleted resources are not re-indexed; an empty type counts 0.
    let r = s
        .request(Method::DELETE, "Observation/o1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(reindex(s, "$reindex").await, 3);
    assert_eq!(reindex(s, "Encounter/$reindex").await, 0);
    // Errors.
    let r = s
        .request(Method::POST, "Nope/$reindex")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    s.get("$reindex").await.assert_outcome(405, "not-supported");
    // The CapabilityStatement offers the operation.
    let cs = s.get("metadata").await.json();
    assert_eq!(cs["rest"][0]["operation"][0]["name"], "reindex", "{cs}");
}
backend_test!(reindex_all_types_case, reindex_all_types);

/// The ids a strict search on another server (base URL) matches, or its status.
async fn ids_at(client: &reqwest::Client, base: &str, query: &str) -> Result<Vec<String>, u16> {
    let r = client
        .get(format!("{base}/{query}"))
        .header("prefer", "handling=strict")
        .send()
        .await
        .unwrap();
    if r.status() != 200 {
        return Err(r.status().as_u16());
    }
    let b: Value = r.json().await.unwrap();
    Ok(b["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect())
}

async fn other_servers(s: &TestServer) {
    assert_eq!(s.create(&nickname()).await.status, 201);
    put(s, &patient("p1", "Bobby")).await;
    // A server started later on the same database (a restart) loads the stored
    // SearchParameters.
    let mut config = fhir_server::Config::for_tests(s.database_url.clone());
    config.search_param_refresh_secs = 0;
    let other = fhir_server::start(config).await.unwrap();
    let client = reqwest::Client::new();
    assert_eq!(
        ids_at(&client, &other.base_url, "Patient?nickname=bob").await,
        Ok(vec!["p1".to_owned()])
    );
    let cs: Value = client
        .get(format!("{}/metadata", other.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(cs.to_string().contains("\"nickname\""));
    if other.backend == "postgresql" {
        // Several instances on one PostgreSQL database: a SearchParameter written through
        // one reaches another at its next `$reindex`, or by its periodic re-read.
        let mut config = fhir_server::Config::for_tests(s.database_url.clone());
        config.search_param_refresh_secs = 1;
        let polling = fhir_server::start(config).await.unwrap();
        let technique = search_parameter("technique", "Observation", "token", "Observation.method");
        assert_eq!(s.create(&technique).await.status, 201);
        let query = "Observation?technique=37931006";
        assert_eq!(ids_at(&client, &other.base_url, query).await, Err(400));
        let r = client
            .post(format!("{}/$reindex", other.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            ids_at(&client, &other.base_url, query).await,
            Ok(Vec::new())
        );
        let mut waited = 0;
        while ids_at(&client, &polling.base_url, query).await.is_err() {
            assert!(waited < 100, "the periodic re-read did not happen");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            waited += 1;
        }
        polling.shutdown().await;
    }
    other.shutdown().await;
}
backend_test!(other_servers_case, other_servers);
