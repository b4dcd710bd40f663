//! Observation `$lastn`
//! ([operation-observation-lastn](https://hl7.org/fhir/R4/observation-operation-lastn.html)):
//! the most recent `max` Observations per code for a subject, filtered by the other
//! search parameters; each expected list (in order) is written from the operation's
//! definition: grouped by code (system and code; translations join groups), most recent
//! first, ties at the cut all returned, `patient`/`subject` and a category or code
//! required, `max` a positiveInt.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::support::{Reply, TestServer};

const LOINC: &str = "http://loinc.org";
const HEART_RATE: &str = "8867-4";
const WEIGHT: &str = "29463-7";
const GLUCOSE: &str = "2339-0";

/// Creates (PUT) resources with fixed ids.
async fn put_all(s: &TestServer, resources: &[Value]) {
    for r in resources {
        let path = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        let reply = s.send_json(Method::PUT, &path, r).await;
        assert!(reply.status.is_success(), "{path}: {}", reply.text);
    }
}

fn category(code: &str) -> Value {
    json!([{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": code
    }]}])
}

/// An Observation of `patient` with one LOINC coding, at `effective` (none if `None`).
fn obs(id: &str, patient: &str, code: &str, cat: &str, effective: Option<&str>) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "category": category(cat),
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "valueQuantity": {"value": 1, "unit": "1", "system": "http://unitsofmeasure.org", "code": "1"},
    });
    if let Some(e) = effective {
        o["effectiveDateTime"] = json!(e);
    }
    o
}

/// p1: 3 heart rates, 2 weights (vital signs) and a glucose (laboratory); p2: a heart
/// rate more recent than all of p1's.
async fn observations(s: &TestServer) {
    put_all(
        s,
        &[
            json!({"resourceType": "Patient", "id": "p1"}),
            json!({"resourceType": "Patient", "id": "p2"}),
            obs(
                "hr1",
                "p1",
                HEART_RATE,
                "vital-signs",
                Some("2021-01-01T10:00:00Z"),
            ),
            obs(
                "hr2",
                "p1",
                HEART_RATE,
                "vital-signs",
                Some("2021-02-01T10:00:00Z"),
            ),
            obs(
                "hr3",
                "p1",
                HEART_RATE,
                "vital-signs",
                Some("2021-03-01T10:00:00Z"),
            ),
            obs(
                "wt1",
                "p1",
                WEIGHT,
                "vital-signs",
                Some("2021-01-15T10:00:00Z"),
            ),
            obs(
                "wt2",
                "p1",
                WEIGHT,
                "vital-signs",
                Some("2021-02-15T10:00:00Z"),
            ),
            obs(
                "glu1",
                "p1",
                GLUCOSE,
                "laboratory",
                Some("2021-02-20T10:00:00Z"),
            ),
            obs(
                "hr-p2",
                "p2",
                HEART_RATE,
                "vital-signs",
                Some("2021-04-01T10:00:00Z"),
            ),
        ],
    )
    .await;
}

/// The ids of a `$lastn` Bundle's matches, in order (checking the Bundle's shape).
async fn lastn(s: &TestServer, query: &str) -> Vec<String> {
    let r = s.get(&format!("Observation/$lastn?{query}")).await;
    matches(&r, query)
}

fn matches(r: &Reply, query: &str) -> Vec<String> {
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    let b = r.json();
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "searchset");
    let entries = b["entry"].as_array().map(Vec::as_slice).unwrap_or_default();
    let ids: Vec<String> = entries
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| {
            let id = e["resource"]["id"].as_str().unwrap().to_owned();
            let full_url = e["fullUrl"].as_str().unwrap();
            assert!(
                full_url.ends_with(&format!("/Observation/{id}")),
                "{full_url}"
            );
            id
        })
        .collect();
    assert_eq!(b["total"], ids.len(), "{query}: {b}");
    ids
}

async fn check(s: &TestServer, cases: &[(&str, &[&str])]) {
    for (query, expected) in cases {
        assert_eq!(lastn(s, query).await, *expected, "{query}");
    }
}

async fn most_recent_per_code(s: &TestServer) {
    observations(s).await;
    check(
        s,
        &[
            // max defaults to 1: the newest of each code; the group with the most recent
            // Observation first. p2's more recent heart rate is not p1's.
            ("patient=Patient/p1&category=vital-signs", &["hr3", "wt2"]),
            ("patient=p1&category=vital-signs", &["hr3", "wt2"]),
            ("subject=Patient/p1&category=vital-signs", &["hr3", "wt2"]),
            (
                "patient=Patient/p1&category=vital-signs&max=2",
                &["hr3", "hr2", "wt2", "wt1"],
            ),
            (
                "patient=Patient/p1&category=vital-signs&max=10",
                &["hr3", "hr2", "hr1", "wt2", "wt1"],
            ),
            ("patient=Patient/p2&category=vital-signs&max=3", &["hr-p2"]),
            // Other search parameters filter: category, code, date.
            ("patient=Patient/p1&category=laboratory&max=3", &["glu1"]),
            (
                "patient=Patient/p1&category=vital-signs,laboratory",
                &["hr3", "glu1", "wt2"],
            ),
            (
                "patient=Patient/p1&code=http://loinc.org|8867-4&max=2",
                &["hr3", "hr2"],
            ),
            ("patient=Patient/p1&code=8867-4,29463-7", &["hr3", "wt2"]),
            (
                "patient=Patient/p1&category=vital-signs&date=lt2021-02-10",
                &["hr2", "wt1"],
            ),
            (
                "patient=Patient/p1&category=vital-signs&date=ge2021-02-10&max=5",
                &["hr3", "wt2"],
            ),
            ("patient=Patient/p1&category=vital-signs&date=lt2020", &[]),
            ("patient=Patient/nobody&category=vital-signs", &[]),
            (
                "patient=Patient/p1&category=vital-signs&status=final",
                &["hr3", "wt2"],
            ),
            (
                "patient=Patient/p1&category=vital-signs&status=amended",
                &[],
            ),
        ],
    )
    .await;
}
backend_test!(most_recent_per_code_case, most_recent_per_code);

async fn writes_move_results(s: &TestServer) {
    observations(s).await;
    let q = "patient=Patient/p1&category=vital-signs";
    // Deleted Observations are gone from the results.
    let r = s.request(Method::DELETE, "Observation/hr3").send().await;
    assert_eq!(r.unwrap().status(), 204);
    check(s, &[(q, &["wt2", "hr2"])]).await;
    // An Observation updated to a later date becomes the newest of its code.
    put_all(
        s,
        &[obs(
            "hr1",
            "p1",
            HEART_RATE,
            "vital-signs",
            Some("2021-05-01T10:00:00Z"),
        )],
    )
    .await;
    check(
        s,
        &[
            (q, &["hr1", "wt2"]),
            (&format!("{q}&max=2"), &["hr1", "hr2", "wt2", "wt1"]),
        ],
    )
    .await;
    // … and one moved to another code moves group.
    put_all(
        s,
        &[obs(
            "hr1",
            "p1",
            WEIGHT,
            "vital-signs",
            Some("2021-05-01T10:00:00Z"),
        )],
    )
    .await;
    check(
        s,
        &[
            (q, &["hr1", "hr2"]),
            (&format!("{q}&max=2"), &["hr1", "wt2", "hr2"]),
        ],
    )
    .await;
    // The version returned is the current one.
    let r = s.get(&format!("Observation/$lastn?{q}")).await.json();
    assert_eq!(r["entry"][0]["resource"]["meta"]["versionId"], "3");
}
backend_test!(writes_move_results_case, writes_move_results);

async fn groups_ties_and_undated(s: &TestServer) {
    let coded = |id: &str, codings: Value, effective: Option<&str>| {
        let mut o = json!({
            "resourceType": "Observation", "id": id, "status": "final",
            "category": category("vital-signs"),
            "code": codings,
            "subject": {"reference": "Patient/p1"},
        });
        if let Some(e) = effective {
            o["effectiveDateTime"] = json!(e);
        }
        o
    };
    let codes = |codes: &[(&str, &str)]| json!({"coding": codes.iter().map(|(s, c)| json!({"system": s, "code": c})).collect::<Vec<_>>()});
    put_all(
        s,
        &[
            // Two at the same time: a tie at max=1 returns both.
            coded("t1", codes(&[(LOINC, "a")]), Some("2021-06-01T00:00:00Z")),
            coded("t2", codes(&[(LOINC, "a")]), Some("2021-06-01T00:00:00Z")),
            coded("t3", codes(&[(LOINC, "a")]), Some("2021-05-01T00:00:00Z")),
            // Same code, another system: another group.
            coded(
                "s1",
                codes(&[("urn:local", "a")]),
                Some("2021-01-01T00:00:00Z"),
            ),
            // b, then c with the translation b: one group [b, c] (transitive).
            coded("b1", codes(&[(LOINC, "b")]), Some("2021-03-01T00:00:00Z")),
            coded(
                "bc1",
                codes(&[(LOINC, "b"), ("urn:local", "c")]),
                Some("2021-02-01T00:00:00Z"),
            ),
            coded(
                "c1",
                codes(&[("urn:local", "c")]),
                Some("2021-04-01T00:00:00Z"),
            ),
            // Text-only codes group by their text; no date sorts last.
            coded("x1", json!({"text": "Pulse oximetry"}), None),
            coded("x2", json!({"text": "Pulse oximetry"}), Some("2020-01-01")),
        ],
    )
    .await;
    check(
        s,
        &[
            (
                "patient=p1&category=vital-signs",
                &["t1", "t2", "c1", "s1", "x2"],
            ),
            (
                "patient=p1&category=vital-signs&max=2",
                &["t1", "t2", "c1", "b1", "s1", "x2", "x1"],
            ),
            (
                "patient=p1&category=vital-signs&max=3",
                &["t1", "t2", "t3", "c1", "b1", "bc1", "s1", "x2", "x1"],
            ),
            // Filtering by code c: the matches are c1 and bc1; bc1 is returned once.
            ("patient=p1&code=urn:local|c&max=5", &["c1", "bc1"]),
            ("patient=p1&code=a&max=1", &["t1", "t2", "s1"]),
        ],
    )
    .await;
}
backend_test!(groups_ties_and_undated_case, groups_ties_and_undated);

async fn required_parameters_and_max(s: &TestServer) {
    observations(s).await;
    // A subject is required, and a category or a code.
    for q in [
        "category=vital-signs",
        "code=8867-4&max=2",
        "patient:missing=false&category=vital-signs",
        "",
    ] {
        s.get(&format!("Observation/$lastn?{q}"))
            .await
            .assert_outcome(400, "required");
    }
    s.get("Observation/$lastn?patient=p1")
        .await
        .assert_outcome(400, "required");
    s.get("Observation/$lastn?patient=p1&date=gt2020")
        .await
        .assert_outcome(400, "required");
    // max is a positiveInt, given once.
    for max in ["0", "-1", "abc", "1.5", "", "2147483648"] {
        let oo = s
            .get(&format!(
                "Observation/$lastn?patient=p1&category=vital-signs&max={max}"
            ))
            .await
            .assert_outcome(400, "value");
        assert_eq!(oo["issue"][0]["expression"][0], "max", "{max}: {oo}");
        assert!(
            oo["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .contains("max"),
            "{oo}"
        );
    }
    s.get("Observation/$lastn?patient=p1&category=vital-signs&max=1&max=2")
        .await
        .assert_outcome(400, "value");
    // An invalid value of a search parameter is a 400 as in search.
    s.get("Observation/$lastn?patient=p1&category=vital-signs&date=2021-13")
        .await
        .assert_outcome(400, "value");
}
backend_test!(
    required_parameters_and_max_case,
    required_parameters_and_max
);

async fn handling_and_bundle_shape(s: &TestServer) {
    observations(s).await;
    let q = "patient=Patient/p1&category=vital-signs&max=2";
    let b = s.get(&format!("Observation/$lastn?{q}")).await.json();
    assert_eq!(b["total"], 4);
    let self_url = b["link"][0]["url"].as_str().unwrap();
    assert_eq!(b["link"][0]["relation"], "self");
    assert!(
        self_url.starts_with(&s.url("Observation/$lastn?"))
            && self_url.contains("patient=Patient%2Fp1")
            && self_url.contains("max=2"),
        "{self_url}"
    );
    assert_eq!(b["link"].as_array().unwrap().len(), 1, "no paging: {b}");

    // Unknown parameters and search-only result parameters: ignored and reported
    // (lenient, the default), refused with Prefer: handling=strict.
    let r = s
        .get(&format!(
            "Observation/$lastn?{q}&nonsense=1&_count=1&_sort=date"
        ))
        .await;
    assert_eq!(matches(&r, q), ["hr3", "hr2", "wt2", "wt1"]);
    let b = r.json();
    let outcomes: Vec<&Value> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "outcome")
        .collect();
    assert_eq!(outcomes.len(), 3, "{b}");
    let self_url = b["link"][0]["url"].as_str().unwrap();
    assert!(!self_url.contains("nonsense"), "{self_url}");
    for extra in ["nonsense=1", "_count=1", "_include=Observation:subject"] {
        let r = s
            .request(Method::GET, &format!("Observation/$lastn?{q}&{extra}"))
            .header("prefer", "handling=strict");
        Reply::from(r.send().await.unwrap())
            .await
            .assert_outcome(400, "not-supported");
    }

    // _summary and _elements shape the resources; _summary=count leaves only the total.
    let b = s
        .get(&format!("Observation/$lastn?{q}&_elements=code"))
        .await
        .json();
    let first = &b["entry"][0]["resource"];
    assert_eq!(first["id"], "hr3");
    assert!(
        first.get("code").is_some() && first.get("valueQuantity").is_none(),
        "{first}"
    );
    let b = s
        .get(&format!("Observation/$lastn?{q}&_summary=count"))
        .await
        .json();
    assert_eq!(b["total"], 4);
    assert!(b.get("entry").is_none(), "{b}");
    let b = s
        .get(&format!("Observation/$lastn?{q}&_total=none"))
        .await
        .json();
    assert!(b.get("total").is_none(), "{b}");
    assert_eq!(b["entry"].as_array().unwrap().len(), 4);

    // POST with a form body, combined with the URL's parameters.
    let r = s
        .request(Method::POST, "Observation/$lastn?category=vital-signs")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("patient=Patient%2Fp1&max=2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        matches(&Reply::from(r).await, "POST"),
        ["hr3", "hr2", "wt2", "wt1"]
    );

    // The operation's route leaves the instance routes alone.
    assert_eq!(s.get("Observation/hr1").await.status, 200);
    assert_eq!(s.get("Observation/_history").await.status, 200);
    assert_eq!(s.get("Observation/hr1/_history").await.status, 200);
    let r = s.request(Method::DELETE, "Observation/$lastn").send().await;
    assert_eq!(r.unwrap().status(), 405);

    // And the CapabilityStatement says so.
    let cs = s.get("metadata").await.json();
    let observation = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Observation")
        .unwrap();
    assert_eq!(
        observation["operation"],
        json!([{"name": "lastn", "definition": "http://hl7.org/fhir/OperationDefinition/Observation-lastn"}])
    );
}
backend_test!(handling_and_bundle_shape_case, handling_and_bundle_shape);
