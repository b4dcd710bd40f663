//! Search by date (and `_lastUpdated`), number and quantity with every prefix, the
//! modifiers `:missing`, `:contains`, `:not`, `:text`, `:below` and `:above`, `_include`
//! and `_revinclude`, `_total` and `_summary=count`, chains and `_has`, `Prefer:
//! handling`, `_sort` with keyset paging, and `POST [type]/_search`
//! ([search.html](https://hl7.org/fhir/R4/search.html)): each query's exact matches.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::support::{Reply, TestServer, match_ids};

/// A GET with `Prefer: handling=strict`.
pub(crate) async fn get_strict(s: &TestServer, path: &str) -> Reply {
    let r = s
        .request(Method::GET, path)
        .header("prefer", "handling=strict");
    Reply::from(r.send().await.unwrap()).await
}

/// The URL of a Bundle's link with this relation.
pub(crate) fn link<'b>(bundle: &'b Value, relation: &str) -> Option<&'b str> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)?["url"]
        .as_str()
}

/// Creates (PUT) resources with fixed ids.
pub(crate) async fn put_all(s: &TestServer, resources: &[Value]) {
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
pub(crate) async fn ids(s: &TestServer, query: &str) -> Vec<String> {
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
pub(crate) async fn check(s: &TestServer, cases: &[(&str, &[&str])]) {
    for (query, expected) in cases {
        let mut expected: Vec<&str> = expected.to_vec();
        expected.sort_unstable();
        assert_eq!(ids(s, query).await, expected, "{query}");
    }
}

pub(crate) fn observation(id: &str, extra: Value) -> Value {
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

pub(crate) fn ucum(value: f64, code: &str) -> Value {
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
    for unsupported in ["gender:below=female", "birthdate:exact=1970"] {
        get_strict(s, &format!("Patient?{unsupported}"))
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
            // search.html#uri: "any value sets that have a URL that starts with
            // http://acme.org/fhir/" (v3 does not: it lacks the final slash).
            ("ValueSet?url:below=http://acme.org/fhir/", &["v1", "v2"]),
            (
                "ValueSet?url:below=http://acme.org/fhir",
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

/// A searchset's matches and includes (`Type/id`, sorted), after checking that no
/// resource appears twice; and the outcome entries.
fn split_entries(b: &Value) -> (Vec<String>, Vec<String>, Vec<Value>) {
    let (mut matches, mut includes, mut outcomes) = (Vec::new(), Vec::new(), Vec::new());
    for e in b["entry"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let r = &e["resource"];
        let key = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap_or("-")
        );
        match e["search"]["mode"].as_str().unwrap() {
            "match" => matches.push(key),
            "include" => includes.push(key),
            "outcome" => outcomes.push(r.clone()),
            other => panic!("search.mode {other}"),
        }
    }
    let mut all: Vec<&String> = matches.iter().chain(&includes).collect();
    all.sort_unstable();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "no resource twice: {b}");
    matches.sort_unstable();
    includes.sort_unstable();
    (matches, includes, outcomes)
}

/// Asserts the exact matches and includes of each query (one page).
async fn check_includes(s: &TestServer, cases: &[(&str, &[&str], &[&str])]) {
    for (query, matches, includes) in cases {
        let r = s.get(query).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        let (m, i, o) = split_entries(&r.json());
        let sorted = |v: &[&str]| {
            let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(m, sorted(matches), "matches of {query}");
        assert_eq!(i, sorted(includes), "includes of {query}");
        assert!(o.is_empty(), "{query}");
    }
}

/// p1 (linked to p2), p2, dr1; e1 of p1; o1 (p1, dr1, e1), o2 (p1), o3 (p2), o4 (none).
async fn related(s: &TestServer) {
    put_all(
        s,
        &[
            json!({"resourceType": "Patient", "id": "p1",
                   "link": [{"other": {"reference": "Patient/p2"}, "type": "seealso"}]}),
            json!({"resourceType": "Patient", "id": "p2"}),
            json!({"resourceType": "Practitioner", "id": "dr1"}),
            json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
                   "class": {"code": "AMB"}, "subject": {"reference": "Patient/p1"}}),
            observation(
                "o1",
                json!({"performer": [{"reference": "Practitioner/dr1"}],
                       "encounter": {"reference": "Encounter/e1"}}),
            ),
            observation("o2", json!({})),
            observation("o3", json!({"subject": {"reference": "Patient/p2"}})),
            json!({"resourceType": "Observation", "id": "o4", "status": "final",
                   "code": {"text": "nothing measured"}}),
        ],
    )
    .await;
}

async fn include_revinclude(s: &TestServer) {
    related(s).await;
    check_includes(
        s,
        &[
            // Each included resource once, though both matches refer to it.
            (
                "Observation?_id=o1,o2&_include=Observation:subject",
                &["Observation/o1", "Observation/o2"],
                &["Patient/p1"],
            ),
            (
                "Observation?_id=o1&_include=Observation:subject:Patient",
                &["Observation/o1"],
                &["Patient/p1"],
            ),
            (
                "Observation?_id=o1&_include=Observation:performer:Patient",
                &["Observation/o1"],
                &[],
            ),
            (
                "Observation?_id=o1&_include=Observation:performer&_include=Observation:encounter",
                &["Observation/o1"],
                &["Practitioner/dr1", "Encounter/e1"],
            ),
            (
                "Observation?_id=o1&_include=*",
                &["Observation/o1"],
                &["Patient/p1", "Practitioner/dr1", "Encounter/e1"],
            ),
            (
                "Observation?_id=o1&_include=Observation:*",
                &["Observation/o1"],
                &["Patient/p1", "Practitioner/dr1", "Encounter/e1"],
            ),
            ("Observation?_id=o4&_include=*", &["Observation/o4"], &[]),
            // An include that is also a match is only a match.
            (
                "Patient?_id=p1,p2&_include=Patient:link",
                &["Patient/p1", "Patient/p2"],
                &[],
            ),
            ("Patient?_id=p1&_include=Patient:link", &["Patient/p1"], &["Patient/p2"]),
            // _revinclude: the resources referring to the matches.
            (
                "Patient?_id=p1&_revinclude=Observation:subject",
                &["Patient/p1"],
                &["Observation/o1", "Observation/o2"],
            ),
            (
                "Patient?_id=p1&_revinclude=Observation:subject:Group",
                &["Patient/p1"],
                &[],
            ),
            (
                "Patient?_id=p2&_revinclude=*",
                &["Patient/p2"],
                &["Observation/o3", "Patient/p1"],
            ),
            (
                "Patient?_id=p1&_revinclude=Encounter:subject&_revinclude=Observation:subject",
                &["Patient/p1"],
                &["Encounter/e1", "Observation/o1", "Observation/o2"],
            ),
            (
                "Practitioner?_id=dr1&_revinclude=Observation:performer&_include=Observation:subject",
                &["Practitioner/dr1"],
                &["Observation/o1"],
            ),
            // :iterate follows from included resources too; without it, only from matches.
            (
                "Observation?_id=o1&_include=Observation:encounter&_include=Encounter:subject",
                &["Observation/o1"],
                &["Encounter/e1"],
            ),
            (
                "Observation?_id=o1&_include=Observation:encounter&_include:iterate=Encounter:subject",
                &["Observation/o1"],
                &["Encounter/e1", "Patient/p1"],
            ),
            (
                "Practitioner?_id=dr1&_revinclude=Observation:performer&_include:iterate=Observation:subject&_include:iterate=Patient:link",
                &["Practitioner/dr1"],
                &["Observation/o1", "Patient/p1", "Patient/p2"],
            ),
            (
                "Encounter?_id=e1&_include=Encounter:subject&_revinclude:iterate=Observation:subject",
                &["Encounter/e1"],
                &["Patient/p1", "Observation/o1", "Observation/o2"],
            ),
            // Only the page's matches: p1 alone on the first page of two.
            (
                "Patient?_id=p1,p2&_count=1&_revinclude=Observation:subject",
                &["Patient/p1"],
                &["Observation/o1", "Observation/o2"],
            ),
        ],
    )
    .await;
    // The next page includes for its own match.
    let first = s
        .get("Patient?_id=p1,p2&_count=1&_revinclude=Observation:subject")
        .await
        .json();
    let next = link(&first, "next").unwrap();
    let second = Reply::from(s.client.get(next).send().await.unwrap())
        .await
        .json();
    let (m, i, _) = split_entries(&second);
    assert_eq!(
        (m, i),
        (
            vec!["Patient/p2".to_owned()],
            vec!["Observation/o3".to_owned()]
        )
    );
    // A deleted target is not included.
    assert_eq!(
        s.request(Method::DELETE, "Practitioner/dr1")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    check_includes(
        s,
        &[(
            "Observation?_id=o1&_include=Observation:performer",
            &["Observation/o1"],
            &[],
        )],
    )
    .await;
    for bad in [
        "_include=Observation",
        "_include=Observation:code",
        "_include=Nope:subject",
        "_include=Observation:subject:Nope",
        "_revinclude=Observation:nonsense",
    ] {
        s.get(&format!("Observation?{bad}"))
            .await
            .assert_outcome(400, "value");
    }
}
backend_test!(include_revinclude_case, include_revinclude);

/// More includes than the limit (the largest page, 1000 in tests): the first 1000 and an
/// OperationOutcome entry saying so.
async fn include_limit(s: &TestServer) {
    put_all(s, &[json!({"resourceType": "Patient", "id": "p1"})]).await;
    let entries: Vec<Value> = (0..1001)
        .map(|i| {
            json!({"resource": observation(&format!("c{i}"), json!({})),
                   "request": {"method": "PUT", "url": format!("Observation/c{i}")}})
        })
        .collect();
    let r = s
        .send_json(
            Method::POST,
            "",
            &json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = s
        .get("Patient?_id=p1&_revinclude=Observation:subject")
        .await
        .json();
    let (m, i, o) = split_entries(&b);
    assert_eq!(m, ["Patient/p1"]);
    assert_eq!(i.len(), 1000);
    assert!(
        !i.contains(&"Observation/c1000".to_owned()),
        "the first 1000 by key"
    );
    assert_eq!(o.len(), 1, "{b}");
    assert_eq!(o[0]["issue"][0]["severity"], "warning");
    assert_eq!(o[0]["issue"][0]["code"], "too-costly");
    // Exactly at the limit: no outcome.
    let r = s
        .request(Method::DELETE, "Observation/c0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let b = s
        .get("Patient?_id=p1&_revinclude=Observation:subject")
        .await
        .json();
    let (_, i, o) = split_entries(&b);
    assert_eq!((i.len(), o.len()), (1000, 0));
}
backend_test!(include_limit_case, include_limit);

async fn totals_and_summary_count(s: &TestServer) {
    related(s).await;
    let b = s
        .get("Observation?subject=Patient/p1&_summary=count")
        .await
        .json();
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 2);
    assert!(b.get("entry").is_none(), "{b}");
    assert!(link(&b, "next").is_none(), "no next page: {b}");
    let b = s
        .get("Observation?_summary=count&_total=none&_count=1")
        .await
        .json();
    assert_eq!(b["total"], 4);
    assert!(b.get("entry").is_none(), "{b}");
    let b = s
        .get("Observation?subject=Patient/p1&_total=none")
        .await
        .json();
    assert!(b.get("total").is_none(), "{b}");
    assert_eq!(split_entries(&b).0, ["Observation/o1", "Observation/o2"]);
    for t in ["estimate", "accurate"] {
        let b = s
            .get(&format!(
                "Observation?subject=Patient/p1&_total={t}&_count=1"
            ))
            .await
            .json();
        assert_eq!(b["total"], 2, "{t}");
        assert_eq!(b["entry"].as_array().unwrap().len(), 1, "{t}");
    }
    let b = s.get("Observation?_id=nothing").await.json();
    assert_eq!(b["total"], 0);
    assert!(b.get("entry").is_none(), "no empty entry array: {b}");
    // _summary=true still shapes each resource.
    let b = s.get("Observation?_id=o1&_summary=true").await.json();
    assert_eq!(b["total"], 1);
    assert_eq!(b["entry"][0]["resource"]["id"], "o1");
    // _elements too, and neither drops the Bundle's own elements.
    let b = s.get("Observation?_id=o1&_elements=status").await.json();
    assert_eq!(b["total"], 1);
    let o1 = &b["entry"][0]["resource"];
    assert_eq!((&o1["id"], &o1["status"]), (&json!("o1"), &json!("final")));
    assert!(o1.get("subject").is_none(), "{o1}");
    let b = s.get("Observation?_id=o1&_summary=text").await.json();
    assert_eq!(b["entry"][0]["resource"]["id"], "o1");
    s.get("Observation?_total=maybe")
        .await
        .assert_outcome(400, "value");
}
backend_test!(totals_and_summary_count_case, totals_and_summary_count);

async fn post_search(s: &TestServer) {
    related(s).await;
    let post = |path: &str, ct: &str, body: &str| {
        let req = s
            .request(Method::POST, path)
            .header("content-type", ct)
            .body(body.to_owned());
        async move { Reply::from(req.send().await.unwrap()).await }
    };
    let form = "application/x-www-form-urlencoded";
    let r = post("Observation/_search", form, "subject=Patient%2Fp1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!(b["total"], 2);
    assert_eq!(split_entries(&b).0, ["Observation/o1", "Observation/o2"]);
    // URL and body parameters combine (AND).
    let r = post(
        "Observation/_search?_id=o1,o3",
        "application/x-www-form-urlencoded; charset=utf-8",
        "subject=Patient/p1&_include=Observation:performer",
    )
    .await;
    let (m, i, _) = split_entries(&r.json());
    assert_eq!(
        (m, i),
        (
            vec!["Observation/o1".to_owned()],
            vec!["Practitioner/dr1".to_owned()]
        )
    );
    // The same results as GET, and paging links that are GET URLs.
    let r = post("Observation/_search", form, "subject=Patient/p1&_count=1").await;
    let b = r.json();
    assert_eq!(split_entries(&b).0, ["Observation/o1"]);
    let next = link(&b, "next").unwrap();
    assert!(next.contains("subject=Patient%2Fp1"), "{next}");
    let page2 = Reply::from(s.client.get(next).send().await.unwrap())
        .await
        .json();
    assert_eq!(split_entries(&page2).0, ["Observation/o2"]);
    let r = post("Observation/_search", form, "_summary=count").await;
    assert_eq!(r.json()["total"], 4);
    // Errors: an unknown parameter (strict), another media type, an unknown type.
    let r = s
        .request(Method::POST, "Observation/_search")
        .header("content-type", form)
        .header("prefer", "handling=strict")
        .body("nonsense=1");
    Reply::from(r.send().await.unwrap())
        .await
        .assert_outcome(400, "not-supported");
    post("Observation/_search", "application/fhir+json", "{}")
        .await
        .assert_outcome(415, "not-supported");
    post("Nope/_search", form, "")
        .await
        .assert_outcome(404, "not-found");
}
backend_test!(post_search_case, post_search);

async fn token_text(s: &TestServer) {
    let coded = |id: &str, code: Value| json!({"resourceType": "Observation", "id": id, "status": "final", "code": code});
    put_all(
        s,
        &[
            coded(
                "t1",
                json!({"text": "Heart rate",
                               "coding": [{"system": "http://loinc.org", "code": "8867-4"}]}),
            ),
            coded(
                "t2",
                json!({"coding": [{"system": "http://loinc.org", "code": "8480-6",
                                            "display": "Systolic blood pressure"}]}),
            ),
            coded(
                "t3",
                json!({"coding": [{"code": "x", "display": "Fréquence cardiaque"}]}),
            ),
            coded(
                "t4",
                json!({"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}),
            ),
        ],
    )
    .await;
    check(
        s,
        &[
            // A case- and accent-insensitive prefix of the text or a display.
            ("Observation?code:text=heart", &["t1"]),
            ("Observation?code:text=HEART%20R", &["t1"]),
            ("Observation?code:text=systolic", &["t2"]),
            ("Observation?code:text=frequence", &["t3"]),
            ("Observation?code:text=FRÉQ", &["t3"]),
            ("Observation?code:text=heart,systolic", &["t1", "t2"]),
            ("Observation?code:text=rate", &[]),
            ("Observation?code:text=heart&code=8867-4", &["t1"]),
            ("Observation?code=8867-4", &["t1", "t4"]),
        ],
    )
    .await;
}
backend_test!(token_text_case, token_text);

/// org1 "Acme Health", org2 "Other Clinic"; p1 "Peter Smith" (org1), p2 "Paul Jones"
/// (org2), p3 "Ann Peterson" (org2); loc1 "Peter Street"; o1 (p1, 1234-5), o2 (p2,
/// 2222-2), o3 (loc1, 9999-9), o4 (p3, 1234-5), o5 (no subject, 1234-5).
async fn chained_data(s: &TestServer) {
    let patient = |id: &str, given: &str, family: &str, org: &str| {
        json!({"resourceType": "Patient", "id": id,
               "name": [{"given": [given], "family": family}],
               "managingOrganization": {"reference": format!("Organization/{org}")}})
    };
    let code = |c: &str| json!({"coding": [{"system": "http://loinc.org", "code": c}]});
    put_all(
        s,
        &[
            json!({"resourceType": "Organization", "id": "org1", "name": "Acme Health"}),
            json!({"resourceType": "Organization", "id": "org2", "name": "Other Clinic"}),
            patient("p1", "Peter", "Smith", "org1"),
            patient("p2", "Paul", "Jones", "org2"),
            patient("p3", "Ann", "Peterson", "org2"),
            json!({"resourceType": "Location", "id": "loc1", "name": "Peter Street"}),
            observation("o1", json!({"code": code("1234-5")})),
            observation(
                "o2",
                json!({"code": code("2222-2"), "subject": {"reference": "Patient/p2"}}),
            ),
            observation(
                "o3",
                json!({"code": code("9999-9"), "subject": {"reference": "Location/loc1"}}),
            ),
            observation(
                "o4",
                json!({"code": code("1234-5"), "subject": {"reference": "Patient/p3"}}),
            ),
            json!({"resourceType": "Observation", "id": "o5", "status": "final",
                   "code": code("1234-5")}),
        ],
    )
    .await;
}

async fn chains(s: &TestServer) {
    chained_data(s).await;
    check(
        s,
        &[
            ("Observation?subject:Patient.name=peter", &["o1", "o4"]),
            // No type: every target type of `subject` that has `name` (Patient, Location…).
            ("Observation?subject.name=peter", &["o1", "o3", "o4"]),
            ("Observation?subject:Location.name=peter", &["o3"]),
            (
                "Observation?subject:Patient.name=peter,paul",
                &["o1", "o2", "o4"],
            ),
            ("Observation?subject:Patient.name:exact=Peter", &["o1"]),
            ("Observation?patient.name=peter&code=1234-5", &["o1", "o4"]),
            ("Observation?subject:Patient._id=p2", &["o2"]),
            ("Observation?subject.name=nobody", &[]),
            // Multi-hop.
            (
                "Observation?subject:Patient.organization.name=acme",
                &["o1"],
            ),
            ("Observation?subject.organization.name=other", &["o2", "o4"]),
            (
                "Observation?subject:Patient.organization:Organization.name=acme,other",
                &["o1", "o2", "o4"],
            ),
        ],
    )
    .await;
    // A deleted target no longer matches.
    let deleted = s
        .request(Method::DELETE, "Patient/p3")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    check(
        s,
        &[
            ("Observation?subject:Patient.name=peter", &["o1"]),
            ("Observation?subject.organization.name=other", &["o2"]),
        ],
    )
    .await;
    // Unknown chained parameters and chains on non-reference parameters are refused
    // when strict; an invalid value always.
    // A chain on a parameter that is not a reference is a malformed search: 400 even
    // when lenient.
    s.get("Observation?code.name=x")
        .await
        .assert_outcome(400, "invalid");
    for bad in [
        "subject.nonsense=x",
        "subject:Patient.organization.nonsense=x",
        "subject:Nope.name=x",
        "subject:Practitioner.name=x",
    ] {
        get_strict(s, &format!("Observation?{bad}"))
            .await
            .assert_outcome(400, "not-supported");
    }
    s.get("Observation?subject:Patient.birthdate=2020-13")
        .await
        .assert_outcome(400, "value");
}
backend_test!(chains_case, chains);

async fn reverse_chains(s: &TestServer) {
    chained_data(s).await;
    check(
        s,
        &[
            (
                "Patient?_has:Observation:patient:code=1234-5",
                &["p1", "p3"],
            ),
            (
                "Patient?_has:Observation:patient:code=1234-5,2222-2",
                &["p1", "p2", "p3"],
            ),
            ("Patient?_has:Observation:subject:code=9999-9", &[]),
            ("Location?_has:Observation:subject:code=9999-9", &["loc1"]),
            ("Patient?_has:Observation:patient:code=nothing", &[]),
            (
                "Patient?_has:Observation:patient:code=1234-5&name=peter",
                &["p1", "p3"],
            ),
            (
                "Patient?_has:Observation:patient:code=1234-5&_has:Observation:patient:code=2222-2",
                &[],
            ),
            // Nested: organizations of patients with a 1234-5 observation.
            (
                "Organization?_has:Patient:organization:_has:Observation:patient:code=1234-5",
                &["org1", "org2"],
            ),
            // With a chain inside.
            (
                "Organization?_has:Patient:organization:name=peter",
                &["org1", "org2"],
            ),
            (
                "Patient?_has:Observation:subject:subject:Patient.name=paul",
                &["p2"],
            ),
        ],
    )
    .await;
    // A deleted referring resource no longer counts.
    let deleted = s
        .request(Method::DELETE, "Patient/p3")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    check(
        s,
        &[
            ("Patient?_has:Observation:patient:code=1234-5", &["p1"]),
            (
                "Organization?_has:Patient:organization:_has:Observation:patient:code=1234-5",
                &["org1"],
            ),
        ],
    )
    .await;
    for bad in [
        "_has:Observation:patient=1",
        "_has:Nope:patient:code=1",
        "_has:Observation:code:code=1",
        "_has:Observation:encounter:code=1",
        "_has:Observation:patient:nonsense=1",
    ] {
        get_strict(s, &format!("Patient?{bad}"))
            .await
            .assert_outcome(400, "not-supported");
    }
    s.get("Patient?_has:Observation:patient:date=2020-13")
        .await
        .assert_outcome(400, "value");
}
backend_test!(reverse_chains_case, reverse_chains);

/// `Prefer: handling`: lenient (the default) ignores unknown parameters and unsupported
/// modifiers, reporting each in an outcome entry, and leaves them out of the links;
/// strict refuses them. Conditional interactions stay strict.
async fn handling(s: &TestServer) {
    chained_data(s).await;
    let query = "Patient?name=pe&nonsense=1&gender:below=x&_sort=nonsense&_count=1";
    let lenient = |prefer: Option<&'static str>| {
        let mut r = s.request(Method::GET, query);
        if let Some(p) = prefer {
            r = r.header("prefer", p);
        }
        async move { Reply::from(r.send().await.unwrap()).await }
    };
    for prefer in [
        None,
        Some("handling=lenient"),
        Some("return=minimal; handling=lenient"),
    ] {
        let r = lenient(prefer).await;
        assert_eq!(r.status, 200, "{prefer:?}: {}", r.text);
        let b = r.json();
        let (matches, _, outcomes) = split_entries(&b);
        assert_eq!(matches, ["Patient/p1"], "{b}");
        assert_eq!(b["total"], 2);
        let ignored: Vec<&str> = outcomes
            .iter()
            .map(|o| {
                assert_eq!(o["issue"][0]["severity"], "warning", "{o}");
                let d = o["issue"][0]["diagnostics"].as_str().unwrap();
                ["nonsense", "gender:below", "_sort"]
                    .into_iter()
                    .find(|n| d.contains(&format!("parameter '{n}' was ignored")))
                    .unwrap_or_else(|| panic!("{d}"))
            })
            .collect();
        assert_eq!(ignored, ["nonsense", "gender:below", "_sort"]);
        let base = &s.base;
        assert_eq!(
            b["link"][0],
            json!({"relation": "self", "url": format!("{base}/Patient?name=pe&_count=1")})
        );
        let next = link(&b, "next").unwrap();
        assert!(
            !next.contains("nonsense") && !next.contains("_sort"),
            "{next}"
        );
    }
    for prefer in ["handling=strict", "return=minimal, handling=strict"] {
        let r = s.request(Method::GET, query).header("prefer", prefer);
        Reply::from(r.send().await.unwrap())
            .await
            .assert_outcome(400, "not-supported");
    }
    // Invalid values are refused whatever the handling.
    s.get("Patient?birthdate=2020-13")
        .await
        .assert_outcome(400, "value");
    // Conditional interactions stay strict.
    let r = s
        .request(Method::PUT, "Patient?nonsense=1")
        .header("prefer", "handling=lenient")
        .header("content-type", "application/fhir+json")
        .body(r#"{"resourceType": "Patient"}"#);
    Reply::from(r.send().await.unwrap())
        .await
        .assert_outcome(400, "not-supported");
}
backend_test!(handling_case, handling);

/// The ids of one page's matches, in order, and its `next` link.
async fn page(s: &TestServer, url: &str) -> (Vec<String>, Option<String>) {
    let (ids, mut links) = page_links(s, url).await;
    (ids, links.remove("next"))
}

/// The ids of one page's matches, in order, and its links by relation.
pub(crate) async fn page_links(
    s: &TestServer,
    url: &str,
) -> (Vec<String>, std::collections::HashMap<String, String>) {
    let r = Reply::from(s.client.get(url).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{url}: {}", r.text);
    let b = r.json();
    let (_, _, outcomes) = split_entries(&b);
    assert!(outcomes.is_empty(), "{url}: {b}");
    let ids = match_ids(&b);
    let links = b["link"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["relation"].as_str().unwrap().to_owned(),
                l["url"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (ids, links)
}

/// Asserts the exact order of each sorted query, in one page and paged by 2 through
/// the `next` links.
async fn check_sorted(s: &TestServer, cases: &[(&str, &[&str])]) {
    for (query, expected) in cases {
        let (one, next) = page(s, &format!("{}/{query}&_count=100", s.base)).await;
        assert_eq!(one, *expected, "{query}");
        assert_eq!(next, None, "{query}");
        let start = format!("{}/{query}&_count=2", s.base);
        let mut url = Some(start.clone());
        let mut paged = Vec::new();
        let mut last = start.clone();
        while let Some(u) = url {
            assert!(u.contains("_sort="), "{u}");
            let (ids, links) = page_links(s, &u).await;
            assert!(ids.len() <= 2, "{u}");
            assert_eq!(page_links(s, &links["self"]).await.0, ids, "self: {u}");
            assert_eq!(
                page_links(s, &links["first"]).await.0,
                expected[..expected.len().min(2)],
                "first: {u}"
            );
            paged.extend(ids);
            last = u;
            url = links.get("next").cloned();
        }
        assert_eq!(paged, *expected, "{query} paged");
        // And back from the last page through the `previous` links.
        let (mut back, links) = page_links(s, &last).await;
        let mut url = links.get("previous").cloned();
        while let Some(u) = url {
            let (ids, links) = page_links(s, &u).await;
            assert_eq!(ids.len(), 2, "a previous page is full: {u}");
            back.splice(0..0, ids);
            url = links.get("previous").cloned();
        }
        assert_eq!(back, *expected, "{query} paged backwards");
    }
}

/// pa Baker 1980 male; pb adams 1990 female; pc two family names (Carter, Aaron), 1970,
/// other; pd no name and no birth date, female; pe Baker 1990 male. Created in that
/// order.
async fn sort_patients(s: &TestServer) {
    let patient = |id: &str, families: &[&str], birth: Option<&str>, gender: &str| {
        let mut p = json!({"resourceType": "Patient", "id": id, "gender": gender});
        if !families.is_empty() {
            p["name"] = families.iter().map(|f| json!({"family": f})).collect();
        }
        if let Some(b) = birth {
            p["birthDate"] = json!(b);
        }
        p
    };
    put_all(
        s,
        &[
            patient("pa", &["Baker"], Some("1980-01-01"), "male"),
            patient("pb", &["adams"], Some("1990-05-05"), "female"),
            patient("pc", &["Carter", "Aaron"], Some("1970"), "other"),
            patient("pd", &[], None, "female"),
            patient("pe", &["Baker"], Some("1990-05-05"), "male"),
        ],
    )
    .await;
}

/// `_sort`: ascending, descending (`-`), several keys, every key type, resources with
/// several values (lowest ascending, highest descending) and with none (last either
/// way), ties broken by creation; each also paged by 2.
async fn sort(s: &TestServer) {
    sort_patients(s).await;
    observations(s).await;
    check_sorted(
        s,
        &[
            // String, on the normalized form: pc by Aaron ascending, Carter descending.
            ("Patient?_sort=family", &["pc", "pb", "pa", "pe", "pd"]),
            ("Patient?_sort=-family", &["pc", "pa", "pe", "pb", "pd"]),
            // Several keys: Baker by birth date, latest first.
            (
                "Patient?_sort=family,-birthdate",
                &["pc", "pb", "pe", "pa", "pd"],
            ),
            (
                "Patient?_sort=-birthdate,_id",
                &["pb", "pe", "pa", "pc", "pd"],
            ),
            ("Patient?_sort=birthdate", &["pc", "pa", "pb", "pe", "pd"]),
            // Token (the code), then `_id` descending.
            ("Patient?_sort=gender,-_id", &["pd", "pb", "pe", "pa", "pc"]),
            ("Patient?_sort=_id", &["pa", "pb", "pc", "pd", "pe"]),
            ("Patient?_sort=-_id", &["pe", "pd", "pc", "pb", "pa"]),
            (
                "Patient?_sort=_lastUpdated",
                &["pa", "pb", "pc", "pd", "pe"],
            ),
            // With criteria.
            ("Patient?gender=male&_sort=-birthdate", &["pe", "pa"]),
            // Quantity and date (the start of the range).
            (
                "Observation?_sort=value-quantity",
                &["o4", "o2", "o1", "o3", "o5"],
            ),
            (
                "Observation?_sort=-value-quantity",
                &["o3", "o1", "o2", "o4", "o5"],
            ),
            ("Observation?_sort=date", &["o4", "o3", "o2", "o1", "o5"]),
            ("Observation?_sort=-date", &["o1", "o2", "o3", "o4", "o5"]),
            // Reference: o5 has no subject.
            (
                "Observation?_sort=-subject,-date",
                &["o1", "o2", "o3", "o4", "o5"],
            ),
        ],
    )
    .await;
    // A cursor of another sort, or none at all, is refused.
    s.get("Patient?_sort=family&_cursor=12")
        .await
        .assert_outcome(400, "value");
    s.get("Patient?_sort=family&_cursor=bm90LWpzb24")
        .await
        .assert_outcome(400, "value");
    s.get("Patient?_sort=family,,gender")
        .await
        .assert_outcome(400, "value");
    // An unknown sort parameter: ignored and reported (lenient), refused (strict).
    let b = s.get("Patient?_sort=nonsense&_count=100").await.json();
    let (matches, _, outcomes) = split_entries(&b);
    assert_eq!(matches.len(), 5, "{b}");
    assert_eq!(outcomes.len(), 1, "{b}");
    get_strict(s, "Patient?_sort=nonsense")
        .await
        .assert_outcome(400, "not-supported");
    assert_eq!(get_strict(s, "Patient?_sort=-family").await.status, 200);
}
backend_test!(sort_case, sort);

/// Paging a sorted search stays stable while resources are written between pages: no
/// repeats, no gaps; a new resource shows up only if it sorts after the cursor.
async fn sort_paging_while_writing(s: &TestServer) {
    sort_patients(s).await;
    let (first, next) = page(s, &format!("{}/Patient?_sort=family&_count=2", s.base)).await;
    assert_eq!(first, ["pc", "pb"]);
    // One before the cursor (not seen), one after it (seen, before those without a
    // name).
    put_all(
        s,
        &[
            json!({"resourceType": "Patient", "id": "pf", "name": [{"family": "Aardvark"}]}),
            json!({"resourceType": "Patient", "id": "pg", "name": [{"family": "Zed"}]}),
        ],
    )
    .await;
    let mut url = next;
    let mut rest = Vec::new();
    while let Some(u) = url {
        let (ids, next) = page(s, &u).await;
        rest.extend(ids);
        url = next;
        if rest.len() == 2 {
            // Between later pages too: a seen resource that now sorts before the cursor
            // is not seen twice.
            let r = s
                .send_json(
                    Method::PUT,
                    "Patient/pa",
                    &json!({"resourceType": "Patient", "id": "pa", "name": [{"family": "Abbot"}]}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }
    assert_eq!(rest, ["pa", "pe", "pg", "pd"]);
}
backend_test!(sort_paging_while_writing_case, sort_paging_while_writing);
