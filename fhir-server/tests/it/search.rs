//! Search by date (and `_lastUpdated`), number and quantity with every prefix, and the
//! modifiers `:missing`, `:contains`, `:not`, `:below` and `:above`
//! ([search.html](https://hl7.org/fhir/R4/search.html)): each query's exact matches.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::support::TestServer;

/// Creates (PUT) resources with fixed ids.
async fn put_all(s: &TestServer, resources: &[Value]) {
    for r in resources {
        let path = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        let reply = s.send_json(Method::PUT, &path, r).await;
        assert_eq!(reply.status, 201, "{path}: {}", reply.text);
    }
}

/// The ids a search matches, sorted.
async fn ids(s: &TestServer, query: &str) -> Vec<String> {
    let r = s.get(&format!("{query}&_count=100")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    let b = r.json();
    let mut ids: Vec<String> = b["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(b["total"], ids.len(), "{query}");
    ids
}

/// Asserts the exact matches of each query.
async fn check(s: &TestServer, cases: &[(&str, &[&str])]) {
    for (query, expected) in cases {
        let mut expected: Vec<&str> = expected.to_vec();
        expected.sort_unstable();
        assert_eq!(ids(s, query).await, expected, "{query}");
    }
}

fn observation(id: &str, extra: Value) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": "Patient/p1"},
    });
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

fn ucum(value: f64, code: &str) -> Value {
    json!({"value": value, "unit": code, "system": "http://unitsofmeasure.org", "code": code})
}

/// o1 at 10:00:00Z, o2 at 09:00:30Z (written +01:00), o3 a period over 1–10 March, o4
/// the whole year 2020, o5 no date, no value and no subject.
async fn observations(s: &TestServer) {
    put_all(
        s,
        &[
            observation(
                "o1",
                json!({"effectiveDateTime": "2020-03-05T10:00:00Z", "valueQuantity": ucum(100.0, "mm[Hg]")}),
            ),
            observation(
                "o2",
                json!({"effectiveDateTime": "2020-03-05T10:00:30+01:00", "valueQuantity": ucum(99.6, "mm[Hg]")}),
            ),
            observation(
                "o3",
                json!({"effectivePeriod": {"start": "2020-03-01", "end": "2020-03-10"}, "valueQuantity": ucum(100.5, "kg")}),
            ),
            observation(
                "o4",
                json!({"effectiveDateTime": "2020", "valueQuantity": {"value": 5.4, "unit": "mg"}}),
            ),
            json!({"resourceType": "Observation", "id": "o5", "status": "final",
                   "code": {"text": "nothing measured"}}),
        ],
    )
    .await;
}

async fn date_prefixes(s: &TestServer) {
    observations(s).await;
    check(
        s,
        &[
            // eq: the stored range lies within the query's range by its precision.
            ("Observation?date=2020-03-05", &["o1", "o2"]),
            ("Observation?date=eq2020-03-05", &["o1", "o2"]),
            ("Observation?date=2020", &["o1", "o2", "o3", "o4"]),
            ("Observation?date=2020-03", &["o1", "o2", "o3"]),
            ("Observation?date=2020-03-05T10:00", &["o1"]),
            ("Observation?date=2020-03-05T10:00Z", &["o1"]),
            // An offset moves the query's range: 10:00+01:00 is 09:00Z.
            ("Observation?date=2020-03-05T10:00%2B01:00", &["o2"]),
            ("Observation?date=2020-03-05T10:00:30%2B01:00", &["o2"]),
            ("Observation?date=2020-03-05T10:00:31%2B01:00", &[]),
            ("Observation?date=2020-03-05T04:00-05:00", &["o2"]),
            ("Observation?date=2020-03-05T04:01-05:00", &[]),
            ("Observation?date=2020-03-05T05:00-05:00", &["o1"]),
            // ne: not eq.
            ("Observation?date=ne2020-03-05", &["o3", "o4"]),
            // gt: the stored range reaches past the query's end; lt: starts before its start.
            ("Observation?date=gt2020-03-05", &["o3", "o4"]),
            ("Observation?date=lt2020-03-05", &["o3", "o4"]),
            ("Observation?date=gt2020-03-05T09:30", &["o1", "o3", "o4"]),
            ("Observation?date=lt2020-03-05T10:00", &["o2", "o3", "o4"]),
            ("Observation?date=gt2020-12-31", &[]),
            // ge / le: gt / lt or eq.
            ("Observation?date=ge2020-03-05T10:00", &["o1", "o3", "o4"]),
            ("Observation?date=le2020-03-05T09:30", &["o2", "o3", "o4"]),
            (
                "Observation?date=le2020-03-05T10:00",
                &["o1", "o2", "o3", "o4"],
            ),
            // sa / eb: wholly after / before the query's range.
            ("Observation?date=sa2020-03-04", &["o1", "o2"]),
            ("Observation?date=sa2019", &["o1", "o2", "o3", "o4"]),
            ("Observation?date=sa2020-03-05T09:30", &["o1"]),
            ("Observation?date=eb2020-03-06", &["o1", "o2"]),
            ("Observation?date=eb2020-03-11", &["o1", "o2", "o3"]),
            ("Observation?date=eb2020-03-05T10:00", &["o2"]),
            // ap: overlaps the query's range widened by 10 % of its distance to now.
            ("Observation?date=ap2020-03-05", &["o1", "o2", "o3", "o4"]),
            ("Observation?date=ap1990", &[]),
            // OR with commas, AND with repeats.
            (
                "Observation?date=2020-03-05T10:00,2020-03-05T10:00%2B01:00",
                &["o1", "o2"],
            ),
            (
                "Observation?date=ge2020-03-05&date=le2020-03-05T09:30",
                &["o2", "o3", "o4"],
            ),
            ("Observation?date:missing=true", &["o5"]),
            ("Observation?date:missing=false", &["o1", "o2", "o3", "o4"]),
        ],
    )
    .await;
}
backend_test!(date_prefixes_case, date_prefixes);

async fn date_elements_and_errors(s: &TestServer) {
    let patient = |id: &str, birth: Option<&str>, family: &str, gender: Option<&str>| {
        let mut p = json!({"resourceType": "Patient", "id": id, "name": [{"family": family}]});
        if let Some(b) = birth {
            p["birthDate"] = json!(b);
        }
        if let Some(g) = gender {
            p["gender"] = json!(g);
        }
        p
    };
    put_all(
        s,
        &[
            patient("p1", Some("1970-01-01"), "Chalmers", Some("female")),
            patient("p2", Some("1970-06-15"), "Smith", Some("male")),
            patient("p3", Some("1971"), "Müller", Some("female")),
            patient("p4", Some("1969-12-31"), "Le Blanc", Some("other")),
            patient("p5", None, "Smithers", None),
        ],
    )
    .await;
    check(
        s,
        &[
            ("Patient?birthdate=1970", &["p1", "p2"]),
            ("Patient?birthdate=1970-01-01", &["p1"]),
            // A year-precision value is not within a month.
            ("Patient?birthdate=1971-05", &[]),
            ("Patient?birthdate=lt1970", &["p4"]),
            ("Patient?birthdate=ge1970-06", &["p2", "p3"]),
            ("Patient?birthdate=ne1970", &["p3", "p4"]),
            ("Patient?birthdate=sa1970", &["p3"]),
            ("Patient?birthdate=eb1970", &["p4"]),
            ("Patient?birthdate=le1969-12-31", &["p4"]),
            // 1969-12-31T23:00-02:00 is 1970-01-01T01:00Z: within p1's day, not containing it.
            ("Patient?birthdate=1969-12-31T23:00-02:00", &[]),
            (
                "Patient?birthdate=gt1969-12-31T23:00-02:00",
                &["p1", "p2", "p3"],
            ),
            ("Patient?birthdate:missing=true", &["p5"]),
            // string :contains on the normalized form (case and accents ignored).
            ("Patient?family:contains=MITH", &["p2", "p5"]),
            ("Patient?family:contains=ULL", &["p3"]),
            ("Patient?family:contains=e%20b", &["p4"]),
            ("Patient?family:contains=%25", &[]),
            ("Patient?family:contains=_", &[]),
            ("Patient?family=smith", &["p2", "p5"]),
            (
                "Patient?family:missing=false",
                &["p1", "p2", "p3", "p4", "p5"],
            ),
            // token :not: also the resources without a value.
            ("Patient?gender:not=female", &["p2", "p4", "p5"]),
            ("Patient?gender:not=female,male", &["p4", "p5"]),
            ("Patient?gender:missing=true", &["p5"]),
        ],
    )
    .await;
    for bad in [
        "birthdate=1970-13",
        "birthdate=1970-02-30",
        "birthdate=1970-01-01T10",
        "birthdate=gtx",
        "birthdate=19700101",
        "birthdate:missing=maybe",
    ] {
        s.get(&format!("Patient?{bad}"))
            .await
            .assert_outcome(400, "value");
    }
    for unsupported in ["gender:text=female", "birthdate:exact=1970"] {
        s.get(&format!("Patient?{unsupported}"))
            .await
            .assert_outcome(400, "not-supported");
    }
}
backend_test!(date_elements_and_errors_case, date_elements_and_errors);

async fn last_updated(s: &TestServer) {
    observations(s).await;
    let o1 = s.get("Observation/o1").await.json();
    let o5 = s.get("Observation/o5").await.json();
    let lu1 = o1["meta"]["lastUpdated"].as_str().unwrap();
    let lu5 = o5["meta"]["lastUpdated"].as_str().unwrap();
    let all: &[&str] = &["o1", "o2", "o3", "o4", "o5"];
    check(
        s,
        &[
            ("Observation?_lastUpdated=gt2000-01-01", all),
            ("Observation?_lastUpdated=sa2000", all),
            ("Observation?_lastUpdated=lt2000", &[]),
            ("Observation?_lastUpdated:missing=true", &[]),
            ("Observation?_lastUpdated:missing=false", all),
        ],
    )
    .await;
    assert!(
        ids(s, &format!("Observation?_lastUpdated={lu1}"))
            .await
            .contains(&"o1".to_owned())
    );
    assert!(
        ids(s, &format!("Observation?_lastUpdated=le{lu1}"))
            .await
            .contains(&"o1".to_owned())
    );
    assert!(
        !ids(s, &format!("Observation?_lastUpdated=gt{lu5}"))
            .await
            .contains(&"o5".to_owned())
    );
    s.get("Observation?_lastUpdated=yesterday")
        .await
        .assert_outcome(400, "value");
}
backend_test!(last_updated_case, last_updated);

async fn quantity(s: &TestServer) {
    observations(s).await;
    check(
        s,
        &[
            // eq: within the precision range ([99.5, 100.5) for 100).
            ("Observation?value-quantity=100", &["o1", "o2"]),
            ("Observation?value-quantity=100.0", &["o1"]),
            ("Observation?value-quantity=ne100", &["o3", "o4"]),
            // The other prefixes compare with the value itself.
            ("Observation?value-quantity=gt100", &["o3"]),
            ("Observation?value-quantity=ge100", &["o1", "o3"]),
            ("Observation?value-quantity=lt100", &["o2", "o4"]),
            ("Observation?value-quantity=le100", &["o1", "o2", "o4"]),
            ("Observation?value-quantity=sa100", &["o3"]),
            ("Observation?value-quantity=eb99.6", &["o4"]),
            ("Observation?value-quantity=ap100", &["o1", "o2", "o3"]),
            // Units: system|code, or ||code matching the code or the human unit.
            (
                "Observation?value-quantity=100|http://unitsofmeasure.org|mm[Hg]",
                &["o1", "o2"],
            ),
            (
                "Observation?value-quantity=100|http://unitsofmeasure.org|kg",
                &[],
            ),
            (
                "Observation?value-quantity=ge100|http://unitsofmeasure.org|kg",
                &["o3"],
            ),
            ("Observation?value-quantity=5.4||mg", &["o4"]),
            ("Observation?value-quantity=5.4||mm[Hg]", &[]),
            ("Observation?value-quantity=lt200||mm[Hg]", &["o1", "o2"]),
            ("Observation?value-quantity=5.4,100.0", &["o1", "o4"]),
            ("Observation?value-quantity:missing=true", &["o5"]),
            (
                "Observation?value-quantity:missing=false",
                &["o1", "o2", "o3", "o4"],
            ),
            // :missing on a reference.
            ("Observation?subject:missing=true", &["o5"]),
        ],
    )
    .await;
    for bad in [
        "value-quantity=abc",
        "value-quantity=5|mg",
        "value-quantity=gt",
    ] {
        s.get(&format!("Observation?{bad}"))
            .await
            .assert_outcome(400, "value");
    }
}
backend_test!(quantity_case, quantity);

async fn number(s: &TestServer) {
    let risk = |id: &str, probabilities: &[f64]| {
        let mut r = json!({"resourceType": "RiskAssessment", "id": id, "status": "final",
                           "subject": {"reference": "Patient/p1"}});
        if !probabilities.is_empty() {
            r["prediction"] = probabilities
                .iter()
                .map(|p| json!({"probabilityDecimal": p}))
                .collect();
        }
        r
    };
    put_all(
        s,
        &[
            risk("r1", &[40.0]),
            risk("r2", &[39.6]),
            risk("r3", &[40.5]),
            risk("r4", &[]),
            risk("r5", &[10.0, 80.0]),
        ],
    )
    .await;
    check(
        s,
        &[
            ("RiskAssessment?probability=40", &["r1", "r2"]),
            ("RiskAssessment?probability=40.0", &["r1"]),
            ("RiskAssessment?probability=4e1", &["r1", "r2", "r3"]),
            ("RiskAssessment?probability=gt40", &["r3", "r5"]),
            ("RiskAssessment?probability=lt40", &["r2", "r5"]),
            ("RiskAssessment?probability=ge40", &["r1", "r3", "r5"]),
            ("RiskAssessment?probability=le39.6", &["r2", "r5"]),
            ("RiskAssessment?probability=ne40", &["r3", "r5"]),
            ("RiskAssessment?probability=sa80", &[]),
            ("RiskAssessment?probability=eb10", &[]),
            ("RiskAssessment?probability=ap40", &["r1", "r2", "r3"]),
            ("RiskAssessment?probability=10,80", &["r5"]),
            ("RiskAssessment?probability:missing=true", &["r4"]),
        ],
    )
    .await;
    s.get("RiskAssessment?probability=forty")
        .await
        .assert_outcome(400, "value");
}
backend_test!(number_case, number);

async fn uri_below_above(s: &TestServer) {
    let vs = |id: &str, url: Option<&str>| {
        let mut v = json!({"resourceType": "ValueSet", "id": id, "status": "active"});
        if let Some(u) = url {
            v["url"] = json!(u);
        }
        v
    };
    put_all(
        s,
        &[
            vs("v1", Some("http://acme.org/fhir/ValueSet/123")),
            vs("v2", Some("http://acme.org/fhir/ValueSet/1234")),
            vs("v3", Some("http://acme.org/fhir")),
            vs("v4", Some("urn:oid:1.2.3")),
            vs("v5", None),
        ],
    )
    .await;
    check(
        s,
        &[
            ("ValueSet?url=http://acme.org/fhir", &["v3"]),
            (
                "ValueSet?url:below=http://acme.org/fhir/ValueSet",
                &["v1", "v2"],
            ),
            (
                "ValueSet?url:below=http://acme.org/fhir/ValueSet/123",
                &["v1"],
            ),
            (
                "ValueSet?url:below=http://acme.org/fhir/",
                &["v1", "v2", "v3"],
            ),
            (
                "ValueSet?url:above=http://acme.org/fhir/ValueSet/123/_history/5",
                &["v1", "v3"],
            ),
            (
                "ValueSet?url:above=http://acme.org/fhir/ValueSet/1234",
                &["v2", "v3"],
            ),
            ("ValueSet?url:above=http://acme.org/other", &[]),
            ("ValueSet?url:missing=true", &["v5"]),
        ],
    )
    .await;
}
backend_test!(uri_below_above_case, uri_below_above);
