//! Search that needs more than one index value or some knowledge of terminology
//! ([search.html](https://hl7.org/fhir/R4/search.html)): quantities compared in canonical
//! UCUM units, composite parameters (components of the same item together), identifier
//! `:of-type`, reference `:identifier`, and token `:in`/`:not-in` against ValueSets
//! stored on the server. Expected matches are worked out from the spec's rules in the
//! comments.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::search::{check, get_strict, observation, put_all, ucum};
use crate::support::TestServer;

const LOINC: &str = "http://loinc.org";

fn coded(code: &str) -> Value {
    json!({"coding": [{"system": LOINC, "code": code}]})
}

fn component(code: &str, value: Value) -> Value {
    json!({"code": coded(code), "valueQuantity": value})
}

async fn ucum_units(s: &TestServer) {
    put_all(
        s,
        &[
            observation(
                "cel",
                json!({"code": coded("8310-5"), "valueQuantity": ucum(37.0, "Cel")}),
            ),
            observation(
                "degf",
                json!({"code": coded("8310-5"), "valueQuantity": ucum(98.6, "[degF]")}),
            ),
            observation(
                "g",
                json!({"code": coded("2345-7"), "valueQuantity": ucum(1.0, "g")}),
            ),
            observation(
                "mg",
                json!({"code": coded("2345-7"), "valueQuantity": ucum(1000.0, "mg")}),
            ),
            observation(
                "mmol",
                json!({"code": coded("2345-7"), "valueQuantity": ucum(5.5, "mmol/L")}),
            ),
            observation(
                "mgdl",
                json!({"code": coded("2345-7"), "valueQuantity": ucum(99.0, "mg/dL")}),
            ),
            // Not UCUM: compared as written only.
            observation(
                "other",
                json!({"code": coded("2345-7"),
                "valueQuantity": {"value": 1, "system": "http://example.org/units", "code": "g"}}),
            ),
        ],
    )
    .await;
    check(
        s,
        &[
            // 98.6 [degF] stands for [98.55, 98.65) °F = [310.122, 310.178) K; 37 Cel is
            // 310.15 K and 98.6 [degF] 310.15 K.
            (
                "Observation?value-quantity=98.6|http://unitsofmeasure.org|[degF]",
                &["cel", "degf"],
            ),
            // 37 Cel: [36.5, 37.5) Cel = [309.65, 310.65) K.
            (
                "Observation?value-quantity=37|http://unitsofmeasure.org|Cel",
                &["cel", "degf"],
            ),
            // 37.0 Cel: [36.95, 37.05) Cel; 98.6 °F is exactly 37 Cel.
            (
                "Observation?value-quantity=37.0|http://unitsofmeasure.org|Cel",
                &["cel", "degf"],
            ),
            (
                "Observation?value-quantity=gt37.1|http://unitsofmeasure.org|Cel",
                &[],
            ),
            // 1 g: [0.5, 1.5) g holds 1 g and 1000 mg (the non-UCUM `g` is not UCUM).
            (
                "Observation?value-quantity=1|http://unitsofmeasure.org|g",
                &["g", "mg"],
            ),
            (
                "Observation?value-quantity=gt999|http://unitsofmeasure.org|mg",
                &["g", "mg"],
            ),
            (
                "Observation?value-quantity=lt999|http://unitsofmeasure.org|mg",
                &[],
            ),
            // 0.99 g/L is 99 mg/dL.
            (
                "Observation?value-quantity=0.99|http://unitsofmeasure.org|g/L",
                &["mgdl"],
            ),
            // 5.5 mmol/L = 0.0055 mol/L; the precision range of 0.0055 is [0.00545, 0.00555).
            (
                "Observation?value-quantity=0.0055|http://unitsofmeasure.org|mol/L",
                &["mmol"],
            ),
            // Another dimension never matches.
            (
                "Observation?value-quantity=1|http://unitsofmeasure.org|mL",
                &[],
            ),
            // The non-UCUM system as written.
            (
                "Observation?value-quantity=1|http://example.org/units|g",
                &["other"],
            ),
            ("Observation?value-quantity=1||g", &["g", "other"]),
        ],
    )
    .await;
}
backend_test!(ucum_units_case, ucum_units);

async fn composites(s: &TestServer) {
    let bp = |id: &str, sys: f64, dia: f64| {
        observation(
            id,
            json!({"code": coded("85354-9"), "component": [
                component("8480-6", ucum(sys, "mm[Hg]")),
                component("8462-4", ucum(dia, "mm[Hg]"))]}),
        )
    };
    put_all(
        s,
        &[
            bp("bp1", 120.0, 80.0),
            bp("bp2", 140.0, 90.0),
            observation("hr1", json!({"code": coded("8867-4"), "valueQuantity": ucum(110.0, "/min")})),
            observation("hr2", json!({"code": coded("8867-4"), "valueQuantity": ucum(60.0, "/min")})),
            observation("temp", json!({"code": coded("8310-5"), "valueQuantity": ucum(37.5, "Cel")})),
            observation("smoke", json!({"code": coded("72166-2"),
                "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "8517006"}]}})),
            observation("note", json!({"code": coded("8251-1"), "valueString": "Feels well"})),
        ],
    )
    .await;
    check(
        s,
        &[
            ("Observation?component-code-value-quantity=http://loinc.org|8480-6$gt130", &["bp2"]),
            ("Observation?component-code-value-quantity=http://loinc.org|8462-4$gt85", &["bp2"]),
            // bp1's diastolic is below 85 but its systolic is not: the components of one
            // item must match together.
            ("Observation?component-code-value-quantity=http://loinc.org|8480-6$lt85", &[]),
            // OR across values.
            (
                "Observation?component-code-value-quantity=http://loinc.org|8480-6$gt130,http://loinc.org|8462-4$lt85",
                &["bp1", "bp2"],
            ),
            // AND across repeats.
            (
                "Observation?component-code-value-quantity=http://loinc.org|8480-6$gt110&component-code-value-quantity=http://loinc.org|8462-4$lt85",
                &["bp1"],
            ),
            ("Observation?code-value-quantity=http://loinc.org|8867-4$gt100", &["hr1"]),
            ("Observation?code-value-quantity=8867-4$60", &["hr2"]),
            // hr1 has the code, temp the value: one Observation must have both.
            ("Observation?code-value-quantity=http://loinc.org|8867-4$37.5", &[]),
            (
                "Observation?code-value-quantity=http://loinc.org|8867-4$gt100,http://loinc.org|8310-5$37.5",
                &["hr1", "temp"],
            ),
            // Present when the Observation has both a code and a Quantity value.
            ("Observation?code-value-quantity:missing=false", &["hr1", "hr2", "temp"]),
            (
                "Observation?code-value-quantity:missing=true",
                &["bp1", "bp2", "smoke", "note"],
            ),
            ("Observation?code-value-concept:missing=false", &["smoke"]),
            // The quantity part is compared in canonical units: 37.5 Cel is 99.5 °F.
            (
                "Observation?code-value-quantity=http://loinc.org|8310-5$gt99|http://unitsofmeasure.org|[degF]",
                &["temp"],
            ),
            // combo-: the code and value of the Observation or of one of its components.
            ("Observation?combo-code-value-quantity=http://loinc.org|8462-4$90", &["bp2"]),
            ("Observation?combo-code-value-quantity=http://loinc.org|8867-4$ge60", &["hr1", "hr2"]),
            (
                "Observation?code-value-concept=http://loinc.org|72166-2$http://snomed.info/sct|8517006",
                &["smoke"],
            ),
            ("Observation?code-value-string=http://loinc.org|8251-1$feels", &["note"]),
            ("Observation?code-value-string=http://loinc.org|8867-4$feels", &[]),
            // combo-code is code | component-code; its negation negates the union.
            ("Observation?combo-code=http://loinc.org|8480-6", &["bp1", "bp2"]),
            ("Observation?combo-code=http://loinc.org|85354-9,http://loinc.org|8867-4", &["bp1", "bp2", "hr1", "hr2"]),
            (
                "Observation?combo-code:not=http://loinc.org|8480-6",
                &["hr1", "hr2", "temp", "smoke", "note"],
            ),
            ("Observation?combo-code:missing=true", &[]),
            // 120 and 140 (systolic components), 110 (a heart rate): above 100.
            ("Observation?combo-value-quantity=gt100", &["bp1", "bp2", "hr1"]),
            ("Observation?combo-value-quantity:missing=true", &["smoke", "note"]),
            ("Observation?component-code-value-quantity:missing=false", &["bp1", "bp2"]),
            (
                "Observation?component-code-value-quantity:missing=true",
                &["hr1", "hr2", "temp", "smoke", "note"],
            ),
        ],
    )
    .await;
    // The spec's example, through a chain: reports with a potassium result above 5.4 mmol/L.
    put_all(
        s,
        &[
            observation(
                "k1",
                json!({"code": coded("2823-3"), "valueQuantity": ucum(5.9, "mmol/L")}),
            ),
            observation(
                "k2",
                json!({"code": coded("2823-3"), "valueQuantity": ucum(4.1, "mmol/L")}),
            ),
            json!({"resourceType": "DiagnosticReport", "id": "r1", "status": "final",
                "code": {"text": "electrolytes"}, "result": [{"reference": "Observation/k1"}]}),
            json!({"resourceType": "DiagnosticReport", "id": "r2", "status": "final",
                "code": {"text": "electrolytes"}, "result": [{"reference": "Observation/k2"}]}),
        ],
    )
    .await;
    check(
        s,
        &[(
            "DiagnosticReport?result.code-value-quantity=http://loinc.org|2823-3$gt5.4|http://unitsofmeasure.org|mmol/L",
            &["r1"],
        )],
    )
    .await;
    for bad in [
        "component-code-value-quantity=http://loinc.org|8480-6",
        "component-code-value-quantity=http://loinc.org|8480-6$abc",
        "component-code-value-quantity=a$1$2",
    ] {
        s.get(&format!("Observation?{bad}"))
            .await
            .assert_outcome(400, "value");
    }
    get_strict(s, "Observation?code-value-quantity:exact=x$1")
        .await
        .assert_outcome(400, "not-supported");
}
backend_test!(composites_case, composites);

async fn identifier_modifiers(s: &TestServer) {
    let v2 = "http://terminology.hl7.org/CodeSystem/v2-0203";
    put_all(
        s,
        &[
            json!({"resourceType": "Patient", "id": "mr", "identifier": [{"type": {"coding": [{"system": v2, "code": "MR"}]}, "system": "urn:mrn", "value": "123"}]}),
            json!({"resourceType": "Patient", "id": "dl", "identifier": [{"type": {"coding": [{"system": v2, "code": "DL"}]}, "system": "urn:dl", "value": "123"}]}),
            observation("by-identifier", json!({"subject": {"identifier": {"system": "urn:mrn", "value": "123"}}})),
            observation("by-reference", json!({"subject": {"reference": "Patient/mr"}})),
        ],
    )
    .await;
    check(
        s,
        &[
            (&format!("Patient?identifier:of-type={v2}|MR|123"), &["mr"]),
            (&format!("Patient?identifier:of-type={v2}|DL|123"), &["dl"]),
            (&format!("Patient?identifier:of-type={v2}|MR|999"), &[]),
            ("Patient?identifier=123", &["mr", "dl"]),
            // :identifier matches Reference.identifier, not the literal reference.
            (
                "Observation?subject:identifier=urn:mrn|123",
                &["by-identifier"],
            ),
            ("Observation?subject:identifier=123", &["by-identifier"]),
            ("Observation?subject:identifier=urn:other|123", &[]),
            ("Observation?subject=Patient/mr", &["by-reference"]),
        ],
    )
    .await;
    for bad in ["identifier:of-type=MR|123", "identifier:of-type=x||123"] {
        s.get(&format!("Patient?{bad}"))
            .await
            .assert_outcome(400, "value");
    }
}
backend_test!(identifier_modifiers_case, identifier_modifiers);

async fn in_value_sets(s: &TestServer) {
    put_all(
        s,
        &[
            json!({"resourceType": "ValueSet", "id": "vitals", "status": "active",
                "url": "http://example.org/fhir/ValueSet/vitals", "version": "1",
                "compose": {"include": [{"system": LOINC, "concept": [{"code": "8480-6"}, {"code": "8867-4"}]}]}}),
            json!({"resourceType": "ValueSet", "id": "labs-and-vitals", "status": "active",
                "url": "http://example.org/fhir/ValueSet/labs-and-vitals",
                "compose": {"include": [{"valueSet": ["http://example.org/fhir/ValueSet/vitals"]},
                                        {"system": LOINC, "concept": [{"code": "2339-0"}]}]}}),
            json!({"resourceType": "ValueSet", "id": "expanded", "status": "active",
                "url": "http://example.org/fhir/ValueSet/expanded",
                "expansion": {"timestamp": "2020-01-01T00:00:00Z", "contains": [{"system": LOINC, "code": "2339-0"}]}}),
            json!({"resourceType": "ValueSet", "id": "filtered", "status": "active",
                "url": "http://example.org/fhir/ValueSet/filtered",
                "compose": {"include": [{"system": LOINC, "filter": [{"property": "CLASS", "op": "=", "value": "CHEM"}]}]}}),
            observation("sys", json!({})),
            observation("hr", json!({"code": coded("8867-4")})),
            observation("glucose", json!({"code": coded("2339-0")})),
            // Same code, other system: not in the set.
            observation("local", json!({"code": {"coding": [{"system": "http://example.org/codes", "code": "8867-4"}]}})),
        ],
    )
    .await;
    check(
        s,
        &[
            ("Observation?code:in=http://example.org/fhir/ValueSet/vitals", &["sys", "hr"]),
            ("Observation?code:in=http://example.org/fhir/ValueSet/vitals|1", &["sys", "hr"]),
            ("Observation?code:not-in=http://example.org/fhir/ValueSet/vitals", &["glucose", "local"]),
            (
                "Observation?code:in=http://example.org/fhir/ValueSet/labs-and-vitals",
                &["sys", "hr", "glucose"],
            ),
            ("Observation?code:in=http://example.org/fhir/ValueSet/expanded", &["glucose"]),
            (
                "Observation?code:in=http://example.org/fhir/ValueSet/expanded,http://example.org/fhir/ValueSet/vitals",
                &["sys", "hr", "glucose"],
            ),
        ],
    )
    .await;
    for missing in [
        "code:in=http://example.org/fhir/ValueSet/nope",
        "code:in=http://example.org/fhir/ValueSet/vitals|2",
        "code:in=http://example.org/fhir/ValueSet/filtered",
    ] {
        let oo = s
            .get(&format!("Observation?{missing}"))
            .await
            .assert_outcome(400, "value");
        assert!(
            oo["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .contains("ValueSet"),
            "{oo}"
        );
    }
    // Conditional interactions take the same criteria.
    let r = s
        .request(
            Method::PUT,
            "Observation?code:in=http://example.org/fhir/ValueSet/expanded",
        )
        .header("content-type", "application/fhir+json")
        .body(
            observation(
                "glucose",
                json!({"code": coded("2339-0"), "status": "amended"}),
            )
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        s.get("Observation/glucose").await.json()["status"],
        "amended"
    );
}
backend_test!(in_value_sets_case, in_value_sets);

/// [System-level search](https://hl7.org/fhir/R4/search.html#all): `GET [base]?…` over
/// every type with the common parameters, or over the `_type` list with parameters those
/// types share; `POST [base]/_search` alike.
async fn system_level(s: &TestServer) {
    let tag = json!([{"system": "http://example.org/tags", "code": "t1"}]);
    put_all(
        s,
        &[
            json!({"resourceType": "Patient", "id": "p1", "meta": {"tag": tag}}),
            observation("o1", json!({"meta": {"tag": tag}})),
            json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]}}),
            json!({"resourceType": "Organization", "id": "org1", "name": "Acme"}),
        ],
    )
    .await;
    // `observation` refers to Patient/p1 as its subject.
    check(
        s,
        &[
            ("?_tag=http://example.org/tags|t1", &["p1", "o1"]),
            ("?_id=p1,c1,org1", &["p1", "c1", "org1"]),
            ("?_type=Patient,Observation&_id=p1,o1,c1", &["p1", "o1"]),
            (
                "?_type=Observation,Condition&patient=Patient/p1",
                &["o1", "c1"],
            ),
            (
                "?_type=Observation,Condition&code=http://loinc.org|8480-6",
                &["o1", "c1"],
            ),
            ("?_type=Organization", &["org1"]),
            (
                "?_lastUpdated=gt2000-01-01&_type=Condition,Organization",
                &["c1", "org1"],
            ),
        ],
    )
    .await;
    let b = s
        .get("?_type=Patient,Observation&_id=p1,o1&_count=1")
        .await
        .json();
    assert_eq!(b["total"], 2, "{b}");
    let full_url = b["entry"][0]["fullUrl"].as_str().unwrap();
    assert!(full_url.starts_with(&format!("{}/", s.base)), "{full_url}");
    let next = b["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap();
    let next = next["url"].as_str().unwrap();
    assert!(next.starts_with(&format!("{}?", s.base)), "{next}");
    let b2: Value = s
        .client
        .get(next)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b2["entry"].as_array().unwrap().len(), 1, "{b2}");
    assert_ne!(b2["entry"][0]["fullUrl"], b["entry"][0]["fullUrl"]);
    // A parameter not every type has: ignored (lenient) or refused (strict).
    let b = s.get("?name=Acme").await.json();
    assert_eq!(
        b["entry"].as_array().unwrap().last().unwrap()["search"]["mode"],
        "outcome"
    );
    get_strict(s, "?name=Acme")
        .await
        .assert_outcome(400, "not-supported");
    s.get("?_type=Nope").await.assert_outcome(400, "value");
    // POST [base]/_search.
    let r = s
        .request(Method::POST, "_search")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("_type=Patient&_id=p1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["total"], 1, "{b}");
    assert_eq!(b["entry"][0]["resource"]["id"], "p1");
}
backend_test!(system_level_case, system_level);

/// [`_list`](https://hl7.org/fhir/R4/search.html#list): the resources a List holds.
async fn list(s: &TestServer) {
    put_all(
        s,
        &[
            observation("o1", json!({})),
            observation("o2", json!({})),
            observation("o3", json!({})),
            json!({"resourceType": "List", "id": "watch", "status": "current", "mode": "working",
                "entry": [{"item": {"reference": "Observation/o1"}}, {"item": {"reference": "Observation/o3"}},
                          {"item": {"reference": "Patient/p1"}}]}),
        ],
    )
    .await;
    check(
        s,
        &[
            ("Observation?_list=watch", &["o1", "o3"]),
            ("Observation?_list=nope", &[]),
            ("?_type=Observation&_list=watch", &["o1", "o3"]),
        ],
    )
    .await;
}
backend_test!(list_case, list);
