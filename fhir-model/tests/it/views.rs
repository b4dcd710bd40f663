//! `_summary`, `_elements` and Bundle helpers over the official examples.

use std::path::Path;

use fhir_model::bundle::{
    BundleBuilder, BundleType, Entry, EntryRequest, EntryResponse, Method, request_entries,
};
use fhir_model::definitions;
use fhir_model::format::{Format, parse_resource};
use fhir_model::outcome::{Issue, IssueType, operation_outcome};
use fhir_model::summary::{Summary, select_elements, summarize};
use fhir_model::validate::{ParseMode, validate};
use serde_json::{Value, json};

fn valid_examples() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/fhir-r4-examples");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "json")
            && let Ok(parsed) =
                parse_resource(&std::fs::read(&p).unwrap(), Format::Json, ParseMode::Strict)
        {
            out.push((
                p.file_name().unwrap().to_string_lossy().into_owned(),
                parsed.resource,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn has_empty(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.is_empty() || o.values().any(has_empty),
        Value::Array(a) => a.is_empty() || a.iter().any(has_empty),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn subsetted(v: &Value) -> bool {
    v["meta"]["tag"].as_array().is_some_and(|tags| {
        tags.iter().any(|t| {
            t["code"] == "SUBSETTED"
                && t["system"] == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
        })
    })
}

#[test]
fn summaries_of_every_example() {
    for (name, r) in valid_examples() {
        let rt = r["resourceType"].as_str().unwrap();
        let def = definitions::type_def(rt).unwrap();

        let t = summarize(&r, Summary::True);
        assert!(subsetted(&t) && !has_empty(&t), "{name}");
        for key in t
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "resourceType")
        {
            assert!(
                def.element(key.trim_start_matches('_'))
                    .unwrap()
                    .def
                    .summary,
                "{name}: {key}"
            );
        }
        assert_eq!(t.get("id"), r.get("id"), "{name}");

        // `data` and `text` keep whole elements, so their result is still valid.
        for s in [Summary::Data, Summary::Text] {
            let mut v = summarize(&r, s);
            assert!(subsetted(&v), "{name}");
            validate(&mut v, ParseMode::Strict)
                .unwrap_or_else(|e| panic!("{name} {s:?}: {:?}", e.issues()));
        }
        let d = summarize(&r, Summary::Data);
        assert!(d.get("text").is_none(), "{name}");
        assert_eq!(
            d.as_object().unwrap().len(),
            r.as_object().unwrap().len() - usize::from(r.get("text").is_some())
                + usize::from(r.get("meta").is_none()),
            "{name}"
        );
        assert_eq!(summarize(&r, Summary::False), r);
    }
}

#[test]
fn summary_true_recurses_into_backbone_elements() {
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "bp"},
        "component": [{"code": {"text": "sys"}, "valueQuantity": {"value": 120}, "interpretation": [{"text": "high"}]}]});
    let s = summarize(&obs, Summary::True);
    assert_eq!(
        s["component"],
        json!([{"code": {"text": "sys"}, "valueQuantity": {"value": 120}}])
    );
}

#[test]
fn elements_keep_mandatory_and_modifier_elements() {
    let patient = json!({"resourceType": "Patient", "id": "p", "meta": {"versionId": "1"}, "active": true,
        "name": [{"family": "Doe"}], "gender": "female", "birthDate": "1970", "_birthDate": {"id": "b"},
        "deceasedBoolean": false});
    let s = select_elements(&patient, &["birthDate", "Patient.gender"]);
    // `active` and `deceased[x]` are modifiers; nothing in Patient is mandatory.
    assert_eq!(
        s,
        json!({"resourceType": "Patient", "id": "p", "meta": {"versionId": "1", "tag": [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}]},
            "active": true, "gender": "female", "birthDate": "1970", "_birthDate": {"id": "b"}, "deceasedBoolean": false})
    );
    let s = select_elements(&patient, &["deceased[x]"]);
    assert_eq!(s["deceasedBoolean"], false);
    assert!(s.get("name").is_none());
}

#[test]
fn every_bundle_kind_built_is_valid() {
    let oo = operation_outcome(&[Issue::warning(IssueType::Informational, "note")]);
    let mut b = BundleBuilder::new(BundleType::BatchResponse)
        .id("b1")
        .timestamp("2024-01-01T00:00:00Z");
    b.push(Entry {
        response: Some(EntryResponse {
            status: "201 Created".into(),
            location: Some("Patient/1/_history/1".into()),
            etag: Some("W/\"1\"".into()),
            last_modified: Some("2024-01-01T00:00:00Z".into()),
            outcome: Some(oo),
        }),
        ..Default::default()
    });
    let mut batch = b.build();
    validate(&mut batch, ParseMode::Strict).unwrap();
    assert_eq!(
        batch["entry"][0]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );

    let mut req = EntryRequest::new(Method::Put, "Patient/1");
    req.if_match = Some("W/\"1\"".into());
    let mut history = BundleBuilder::new(BundleType::History)
        .total(1)
        .entry(Entry {
            full_url: Some("http://h/fhir/Patient/1".into()),
            resource: Some(json!({"resourceType": "Patient", "id": "1"})),
            request: Some(req),
            response: Some(EntryResponse::status("200 OK")),
            ..Default::default()
        })
        .build();
    validate(&mut history, ParseMode::Strict).unwrap();
    assert_eq!(
        history["entry"][0]["request"],
        json!({"method": "PUT", "url": "Patient/1", "ifMatch": "W/\"1\""})
    );
    // An empty searchset has no `entry` or `link` arrays (FHIR forbids `[]`).
    let mut empty = BundleBuilder::new(BundleType::Searchset).total(0).build();
    validate(&mut empty, ParseMode::Strict).unwrap();
    assert_eq!(
        empty,
        json!({"resourceType": "Bundle", "type": "searchset", "total": 0})
    );
}

#[test]
fn request_entries_of_the_official_transaction() {
    let (_, bundle) = valid_examples()
        .into_iter()
        .find(|(n, _)| n == "Bundle-bundle-transaction.json")
        .unwrap();
    let (ty, entries) = request_entries(&bundle).unwrap();
    assert_eq!(ty, BundleType::Transaction);
    let methods: Vec<&str> = entries.iter().map(|e| e.method.code()).collect();
    assert_eq!(
        methods,
        [
            "POST", "POST", "PUT", "PUT", "PUT", "DELETE", "DELETE", "POST", "GET", "GET"
        ]
    );
    assert!(entries.iter().any(|e| e.if_none_exist.is_some()));
    assert!(entries.iter().any(|e| e.if_match.is_some()));
    // Not a transaction or batch; a POST without resource.
    assert!(request_entries(&json!({"resourceType": "Bundle", "type": "searchset"})).is_err());
    let e = request_entries(&json!({"resourceType": "Bundle", "type": "batch",
        "entry": [{"request": {"method": "POST", "url": "Patient"}}]}))
    .unwrap_err();
    assert_eq!(
        e.issues()[0].expression.as_deref(),
        Some("Bundle.entry[0].resource")
    );
}
