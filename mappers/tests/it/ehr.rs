//! EHR payload normalisation over every recorded vendor file: the 256 Oracle Health
//! (Cerner) documentation examples in `fixtures/cerner-sandbox/millennium-r4/` and the six
//! Epic sandbox resources in `fixtures/epic-sandbox/`. The table (`ehr_table.rs`) states
//! what each file becomes; the tests below check representative files element by element.
//! Vital-sign normalisation itself is tested in `main.rs`; here only what the EHR layer adds.

#[path = "ehr_table.rs"]
mod table;

use std::collections::BTreeMap;
use std::path::PathBuf;

use mappers::Error;
use mappers::ehr::{
    EhrContext, EhrNoteKind, ExternalReferences, NormalizedBatch, Vendor, normalize_payload,
    normalize_resource, update_url,
};
use serde_json::{Value, json};
use table::Expect;

const CERNER_BASE: &str = "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d";
const EPIC_BASE: &str = "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4";
const UCUM: &str = "http://unitsofmeasure.org";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn read(path: &str) -> Vec<u8> {
    let full = fixtures().join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn cerner_path(name: &str) -> String {
    format!("cerner-sandbox/millennium-r4/{name}.json")
}

fn epic_path(name: &str) -> String {
    format!("epic-sandbox/{name}.json")
}

fn cerner_ctx() -> EhrContext {
    EhrContext::new(Vendor::Cerner, CERNER_BASE)
}

fn epic_ctx() -> EhrContext {
    EhrContext::new(Vendor::Epic, EPIC_BASE)
}

fn cerner(name: &str) -> NormalizedBatch {
    normalize_payload(&read(&cerner_path(name)), &cerner_ctx())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn cerner_source(name: &str) -> Value {
    serde_json::from_slice(&read(&cerner_path(name))).unwrap()
}

/// `Type:n` per resource type and `Kind:n` per note kind, alphabetical.
fn summary(batch: &NormalizedBatch) -> (String, String) {
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for r in &batch.resources {
        *types
            .entry(r["resourceType"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for n in &batch.report {
        *kinds.entry(format!("{:?}", n.kind)).or_default() += 1;
    }
    let join = |m: BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    (join(types), join(kinds))
}

/// Every `reference` string under `value`, with its JSON pointer.
fn references(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                match (k.as_str(), v) {
                    ("reference", Value::String(r)) => out.push((path.to_owned(), r.clone())),
                    _ => references(v, &format!("{path}/{k}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                references(v, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// What holds for every resource the module returns, whatever the file: no vendor id, the
/// source identity, and no vendor `Type/id` reference left.
fn check_invariants(file: &str, base: &str, batch: &NormalizedBatch) -> Vec<String> {
    let mut problems = Vec::new();
    for r in &batch.resources {
        let ty = r["resourceType"].as_str().unwrap();
        if r.get("id").is_some() {
            problems.push(format!("{file}: {ty} keeps its id"));
        }
        let source = r["meta"]["source"].as_str().unwrap_or("");
        let Some(vendor_id) = source.strip_prefix(&format!("{base}/{ty}/")) else {
            problems.push(format!("{file}: {ty} meta.source {source:?}"));
            continue;
        };
        if r["meta"].get("versionId").is_some() || r["meta"].get("lastUpdated").is_some() {
            problems.push(format!("{file}: {ty} keeps vendor meta"));
        }
        let ours = json!({"system": format!("{base}/{ty}"), "value": vendor_id});
        let identified = match &r["identifier"] {
            Value::Array(list) => list.contains(&ours),
            single => ty == "QuestionnaireResponse" && *single == ours,
        };
        if !identified && ty != "Binary" {
            problems.push(format!(
                "{file}: {ty}/{vendor_id} lacks its source identifier"
            ));
        }
        if update_url(r).is_none() {
            problems.push(format!("{file}: {ty}/{vendor_id} has no update URL"));
        }
        let mut refs = Vec::new();
        references(r, "", &mut refs);
        for (path, reference) in refs {
            let fine = reference.starts_with('#')
                || reference.contains("?identifier=")
                || reference.contains("?_source=");
            if !fine {
                problems.push(format!(
                    "{file}: {ty}/{vendor_id}{path}: reference {reference:?} left as sent"
                ));
            }
        }
    }
    problems
}

fn check_table(rows: &[(&str, Expect)], path: fn(&str) -> String, ctx: &EhrContext) {
    let mut problems = Vec::new();
    for (name, expect) in rows {
        let result = normalize_payload(&read(&path(name)), ctx);
        match (expect, result) {
            (Expect::Batch(resources, notes), Ok(batch)) => {
                let (got_resources, got_notes) = summary(&batch);
                if (got_resources.as_str(), got_notes.as_str()) != (*resources, *notes) {
                    problems.push(format!(
                        "{name}: expected [{resources}] [{notes}], got [{got_resources}] [{got_notes}]: {:?}",
                        batch.report
                    ));
                }
                problems.extend(check_invariants(name, ctx.base_url.as_str(), &batch));
            }
            (Expect::Refused(text), Err(err @ Error::NotImportable { .. })) => {
                if err.to_string() != *text {
                    problems.push(format!("{name}: refused with {err}"));
                }
            }
            (_, Ok(batch)) => problems.push(format!("{name}: imported {:?}", summary(&batch))),
            (_, Err(err)) => problems.push(format!("{name}: {err:?}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The names of the `.json` files of a fixture folder, sorted.
fn json_files(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn every_cerner_file_is_in_the_table_once() {
    let mut listed: Vec<String> = table::CERNER.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(listed.len(), 256);
    assert_eq!(listed, json_files("cerner-sandbox/millennium-r4"));
}

#[test]
fn every_epic_file_is_in_the_table_once() {
    let mut listed: Vec<String> = table::EPIC.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(listed, json_files("epic-sandbox"));
}

#[test]
fn every_cerner_file_imports_as_the_table_says() {
    check_table(table::CERNER, cerner_path, &cerner_ctx());
}

#[test]
fn every_epic_file_imports_as_the_table_says() {
    check_table(table::EPIC, epic_path, &epic_ctx());
}

#[test]
fn cerner_observation_search_with_patient_link() {
    // GET …/Observation?patient=12724066: social history (a panel and its two members),
    // SpO2, two glucose results, and an axillary temperature of 27 Cel.
    let ctx = cerner_ctx().with_patient("12724066", "Patient/hos-1");
    let out = normalize_payload(&read(&cerner_path("R4_OBSERVATION_BUNDLE")), &ctx).unwrap();
    assert_eq!(out.resources.len(), 7);
    let r = &out.resources;

    // The panel's members are in the payload: conditional references to them.
    assert_eq!(
        r[0]["hasMember"],
        json!([
            {"reference": "Observation?identifier=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation|SH-73080191-q4625817"},
            {"reference": "Observation?identifier=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation|SH-73080191-q4625813"}
        ])
    );
    // The linked patient, everywhere.
    for resource in r {
        assert_eq!(resource["subject"], json!({"reference": "Patient/hos-1"}));
    }
    // The encounter is not in the payload: a logical reference.
    assert_eq!(
        r[0]["encounter"],
        json!({"type": "Encounter", "identifier": {
            "system": "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Encounter",
            "value": "18565902"
        }})
    );
    // Social history passes through: its code and answer as sent.
    assert_eq!(r[1]["code"]["text"], "SHX Alcohol use");
    assert_eq!(
        r[1]["valueCodeableConcept"]["coding"][0]["code"],
        "410513005"
    );
    assert_eq!(
        r[0]["meta"],
        json!({"source": "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation/SH-1-73080191"})
    );
    assert_eq!(
        r[0]["identifier"],
        json!([{"system": "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation", "value": "SH-1-73080191"}])
    );

    // SpO2 through the vitals mapper: LOINC 2708-6 first, codeSet/72 (another tenant's) kept.
    let spo2 = &r[3];
    assert_eq!(spo2["code"]["coding"][0]["code"], "2708-6");
    assert_eq!(
        spo2["code"]["coding"][1]["system"],
        "https://fhir.cerner.com/eb2384f8-839e-4c6e-8b29-18e71db1a0b1/codeSet/72"
    );
    assert_eq!(spo2["code"]["coding"][1]["code"], "3623994");
    assert_eq!(
        spo2["valueQuantity"],
        json!({"value": 95, "unit": "%", "system": UCUM, "code": "%"})
    );
    assert_eq!(
        spo2["meta"]["profile"],
        json!(["http://hl7.org/fhir/StructureDefinition/oxygensat"])
    );
    assert_eq!(spo2["component"][0]["valueQuantity"]["value"], json!(7));
    assert_eq!(spo2["component"][0]["valueQuantity"]["code"], "L/min");

    // Glucose (a lab) passes through: 181 mg/dL without a UCUM code, 189 without a unit.
    assert_eq!(r[4]["code"]["coding"][1]["code"], "2339-0");
    assert_eq!(
        r[4]["valueQuantity"],
        json!({"value": 181, "unit": "mg/dL"})
    );
    assert_eq!(r[5]["valueQuantity"], json!({"value": 189}));
    assert_eq!(r[4]["note"][0]["authorReference"]["type"], "Practitioner");
    assert_eq!(
        r[4]["note"][0]["authorReference"]["identifier"]["value"],
        "1"
    );
    // The vendor's ceuuid identifier stays first; ours follows.
    assert_eq!(
        r[4]["identifier"],
        json!([
            {"system": "https://fhir.cerner.com/ceuuid", "value": "CE87caf4b7-9397-4667-9897-702218017c9e-206310347-2023103017044900"},
            {"system": "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation", "value": "L-206310347"}
        ])
    );
    // A performer keeps its extension; the reference becomes logical in place.
    let performer = r[6]["performer"][0].as_object().unwrap();
    assert_eq!(
        performer.keys().collect::<Vec<_>>(),
        ["extension", "type", "identifier"]
    );
    assert_eq!(performer["identifier"]["value"], "1994008");

    // The 27 Cel temperature is kept, flagged, and reported.
    assert_eq!(r[6]["valueQuantity"]["value"], json!(27));
    assert_eq!(r[6]["code"]["coding"][0]["code"], "8310-5");
    assert_eq!(
        r[6]["extension"][0]["url"],
        "https://healthos.dev/fhir/StructureDefinition/implausible-value"
    );
    assert_eq!(out.report.len(), 1);
    let note = &out.report[0];
    assert_eq!(note.kind, EhrNoteKind::Implausible);
    assert_eq!(note.position, "/entry/6/resource");
    assert_eq!(note.resource.as_deref(), Some("Observation/VS-197292857"));
    assert_eq!(
        note.message,
        "Observation.valueQuantity: 8310-5: 27 Cel is outside the plausible range 30–45 Cel"
    );
}

#[test]
fn cerner_bare_entry_read_of_the_same_temperature() {
    // GET …/Observation/VS-197292857 as Cerner documents it: `{fullUrl, resource}`.
    let out = cerner("R4_OBSERVATION_ENTRY");
    assert_eq!(out.resources.len(), 1);
    let r = &out.resources[0];
    assert_eq!(
        update_url(r).as_deref(),
        Some(
            "Observation?identifier=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation|VS-197292857"
        )
    );
    assert_eq!(
        r["meta"],
        json!({
            "source": "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation/VS-197292857",
            "profile": ["http://hl7.org/fhir/StructureDefinition/bodytemp"]
        })
    );
    // No patient link: the subject is a logical reference to Cerner's patient.
    assert_eq!(
        r["subject"],
        json!({"type": "Patient", "identifier": {
            "system": "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Patient",
            "value": "12724066"
        }})
    );
    assert_eq!(out.report[0].position, "/resource");
}

#[test]
fn cerner_blood_pressure_update_keeps_both_vendor_identifiers() {
    let out = cerner("R4_OBSERVATION_VITALS_BP_UPDATE");
    let r = &out.resources[0];
    assert_eq!(r["code"]["coding"][0]["code"], "85354-9");
    assert_eq!(r["component"][0]["valueQuantity"]["value"], json!(99));
    assert_eq!(r["component"][1]["valueQuantity"]["value"], json!(66));
    assert_eq!(r["component"][1]["valueQuantity"]["code"], "mm[Hg]");
    let identifiers: Vec<&str> = r["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert_eq!(identifiers.len(), 3);
    assert_eq!(identifiers[2], "BP-59857018-59857020");
    assert!(out.report.is_empty());
}

#[test]
fn cerner_vital_without_loinc_is_rejected_with_the_vitals_error() {
    let out = cerner("R4_OBSERVATION_VITALS_UPDATE");
    assert!(out.resources.is_empty());
    let note = &out.report[0];
    assert_eq!(note.kind, EhrNoteKind::Rejected);
    assert_eq!(note.resource.as_deref(), Some("Observation/VS-197356031"));
    assert_eq!(
        note.message,
        "vital sign not normalised: no vital-sign LOINC code among [\"https://fhir.cerner.com/d242a518-4074-4bd4-a3a6-adfe0c5c1c51/codeSet/72|703558\"]"
    );
}

#[test]
fn cerner_pulse_ox_44_percent_is_reported() {
    let out = cerner("R4_OBSERVATION_VITALS_PO_UPDATE");
    assert_eq!(out.resources[0]["valueQuantity"]["value"], json!(44));
    assert_eq!(
        out.report[0].message,
        "Observation.valueQuantity: 2708-6: 44 % is outside the plausible range 50–100 %"
    );
}

#[test]
fn cerner_revinclude_provenance_is_kept_out() {
    // GET …/Observation?_id=VS-196190669&_revinclude=Provenance:target
    let out = cerner("R4_OBSERVATION_REVINCLUDE_BUNDLE");
    assert_eq!(out.resources.len(), 1);
    let r = &out.resources[0];
    // Temporal-artery temperature, 39 Cel: 8310-5 moved before 75539-7 and codeSet/72.
    let codes: Vec<&str> = r["code"]["coding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["8310-5", "4157752", "75539-7"]);
    assert_eq!(
        r["valueQuantity"],
        json!({"value": 39, "unit": "degC", "system": UCUM, "code": "Cel"})
    );
    assert_eq!(r["status"], "entered-in-error");
    assert_eq!(out.report.len(), 1);
    let note = &out.report[0];
    assert_eq!(note.kind, EhrNoteKind::VendorProvenance);
    assert_eq!(note.position, "/entry/1/resource");
    assert_eq!(note.resource.as_deref(), Some("Provenance/vit-4"));
    assert_eq!(
        note.message,
        "a vendor Provenance (target Observation/VS-196190669): HealthOS writes its own Provenance for each import"
    );
}

#[test]
fn cerner_lab_update_passes_through_except_identity_and_references() {
    let source = cerner_source("R4_OBSERVATION_LABS_UPDATE");
    let out = cerner("R4_OBSERVATION_LABS_UPDATE");
    let r = &out.resources[0];
    // Potassium 13.2 mg/dL coded with codeSet/72 only: not a vital, untouched.
    assert_eq!(r["code"], source["code"]);
    assert_eq!(r["valueQuantity"], source["valueQuantity"]);
    assert_eq!(r["valueQuantity"]["value"].to_string(), "13.2");
    assert_eq!(r["referenceRange"], source["referenceRange"]);
    assert_eq!(r["status"], "corrected");
    // Cerner's own meta.source (a request id) is replaced by the vendor URL.
    assert_eq!(
        r["meta"],
        json!({"source": "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation/L-196186655"})
    );
    let mut expected = source.clone();
    let obj = expected.as_object_mut().unwrap();
    obj.shift_remove("id");
    obj["meta"] = r["meta"].clone();
    obj.shift_insert(
        3,
        "identifier".to_owned(),
        json!([{"system": "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation", "value": "L-196186655"}]),
    );
    for (key, ty, id) in [
        ("subject", "Patient", "12457981"),
        ("encounter", "Encounter", "2673896"),
    ] {
        obj[key] = json!({"type": ty, "identifier": {"system": format!("{CERNER_BASE}/{ty}"), "value": id}});
    }
    obj["performer"][0] = json!({"type": "Practitioner", "identifier": {"system": format!("{CERNER_BASE}/Practitioner"), "value": "1477926"}});
    obj["note"][0]["authorReference"] = obj["performer"][0].clone();
    assert_eq!(*r, expected);
    assert_eq!(
        r.as_object().unwrap().keys().take(4).collect::<Vec<_>>(),
        ["resourceType", "status", "meta", "identifier"]
    );
}

#[test]
fn cerner_outcome_entry_is_dropped_with_its_text() {
    let out = cerner("R4_DOCUMENT_REFERENCE_NIL_STATUS_BUNDLE");
    assert_eq!(out.resources.len(), 2);
    assert_eq!(out.report.len(), 1);
    let note = &out.report[0];
    assert_eq!(note.kind, EhrNoteKind::Outcome);
    assert_eq!(note.position, "/entry/2/resource");
    assert_eq!(note.resource, None);
    assert_eq!(
        note.message,
        "an OperationOutcome (warning suppressed: Other search results were found but could not be compliantly expressed and hence have been suppressed)"
    );
    // The DocumentReferences: their content attachments (Binary URLs) are not references.
    assert_eq!(out.resources[0]["identifier"][1]["value"], "198381924");
}

#[test]
fn cerner_contained_medication_stays_contained() {
    let out = cerner("R4_MEDICATION_ADMINISTRATION_BUNDLE");
    let r = &out.resources[0];
    assert_eq!(r["contained"][0]["resourceType"], "Medication");
    assert_eq!(r["contained"][0]["id"], "197287785");
    assert_eq!(
        r["contained"][0]["ingredient"][0]["itemCodeableConcept"]["coding"][0]["code"],
        "237381"
    );
    assert_eq!(
        r["medicationReference"],
        json!({"reference": "#197287785", "display": "potassium acetate + K-Sol + Dextrose 10% with 0.2% NaCl"})
    );
    assert_eq!(
        r["request"],
        json!({"type": "MedicationRequest", "identifier": {"system": format!("{CERNER_BASE}/MedicationRequest"), "value": "311887733"}})
    );
    assert_eq!(
        r["performer"][0]["actor"],
        json!({"type": "Practitioner", "identifier": {"system": format!("{CERNER_BASE}/Practitioner"), "value": "607928"}, "display": "Cerner Test, RN Cerner"})
    );
    assert_eq!(r["dosage"]["rateQuantity"]["value"].to_string(), "125.0");
    assert!(out.report.is_empty());
}

#[test]
fn cerner_allergy_revinclude_with_contained_asserter() {
    // The secure host's search: fullUrls on fhir-ehr.cerner.com, our base is fhir-ehr too.
    let ctx = EhrContext::new(
        Vendor::Cerner,
        "https://fhir-ehr.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d",
    );
    let out = normalize_payload(
        &read(&cerner_path("R4_ALLERGY_INTOLERANCE_REVINCLUDE_BUNDLE")),
        &ctx,
    )
    .unwrap();
    assert_eq!(out.resources.len(), 2);
    let s = &out.resources[1];
    assert_eq!(s["contained"][0]["resourceType"], "PractitionerRole");
    assert_eq!(s["asserter"]["reference"], "#638995");
    assert_eq!(
        s["meta"]["source"],
        "https://fhir-ehr.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/AllergyIntolerance/S-75479691"
    );
    // The first allergy's asserter is its own patient (not in the payload).
    assert_eq!(
        out.resources[0]["asserter"]["identifier"]["value"],
        "150915497"
    );
    let notes: Vec<(&str, &str)> = out
        .report
        .iter()
        .map(|n| (n.position.as_str(), n.resource.as_deref().unwrap()))
        .collect();
    assert_eq!(
        notes,
        [
            ("/entry/2/resource", "Provenance/all-4957069"),
            ("/entry/3/resource", "Provenance/all-16897171")
        ]
    );
    assert!(
        out.report
            .iter()
            .all(|n| n.kind == EhrNoteKind::VendorProvenance)
    );
}

#[test]
fn cerner_include_bundle_references_resolve_within_the_payload() {
    // GET …/Consent?patient=12742397&_include=Consent:patient&_include=Consent:actor
    let out = cerner("R4_CONSENT_INCLUDE_BUNDLE");
    let [consent, patient, related] = out.resources.as_slice() else {
        panic!("{:?}", summary(&out));
    };
    assert_eq!(
        consent["patient"],
        json!({"reference": "Patient?identifier=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Patient|12742397", "display": "Smart, BabyBoy"})
    );
    // Consent.provision.actor.reference is itself a Reference.
    assert_eq!(
        consent["provision"]["actor"][0]["reference"],
        json!({"reference": "RelatedPerson?identifier=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/RelatedPerson|12724066-12742397", "display": "Smart II, Nancy"})
    );
    assert_eq!(consent["provision"]["actor"][0]["id"], "12724066");
    assert_eq!(
        related["patient"]["reference"],
        "Patient?identifier=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Patient|12742397"
    );
    // Three vendor identifiers, then ours.
    assert_eq!(patient["identifier"].as_array().unwrap().len(), 4);
    assert_eq!(patient["identifier"][3]["value"], "12742397");
    // The Patient's practitioners are not in the payload.
    assert_eq!(
        patient["generalPractitioner"][1]["identifier"]["value"],
        "4122630"
    );

    // With the patient linked, references to it go to our patient instead.
    let ctx = cerner_ctx().with_patient("12742397", "Patient/hos-9");
    let linked = normalize_payload(&read(&cerner_path("R4_CONSENT_INCLUDE_BUNDLE")), &ctx).unwrap();
    assert_eq!(linked.resources[0]["patient"]["reference"], "Patient/hos-9");
    assert_eq!(linked.resources[2]["patient"]["reference"], "Patient/hos-9");
}

#[test]
fn cerner_slot_with_included_schedule() {
    let out = cerner("R4_SLOT_BUNDLE_INCLUDE_SCHEDULE");
    let slot = &out.resources[0];
    assert_eq!(
        slot["schedule"],
        json!({"reference": "Schedule?identifier=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Schedule|4047611-32216049-61518614-0"})
    );
    // A reference inside an extension is rewritten too.
    assert_eq!(
        slot["extension"][0]["valueReference"],
        json!({"type": "Location", "identifier": {"system": format!("{CERNER_BASE}/Location"), "value": "32216049"}})
    );
    assert_eq!(slot["status"], "free");
    assert_eq!(
        out.resources[1]["actor"],
        json!([{"display": "OR Add-On 02"}])
    );

    // Asked for conditional external references, the Location becomes one.
    let mut ctx = cerner_ctx();
    ctx.external_references = ExternalReferences::Conditional;
    let conditional =
        normalize_payload(&read(&cerner_path("R4_SLOT_BUNDLE_INCLUDE_SCHEDULE")), &ctx).unwrap();
    assert_eq!(
        conditional.resources[0]["extension"][0]["valueReference"],
        json!({"reference": "Location?identifier=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Location|32216049"})
    );
}

#[test]
fn cerner_documentation_entry_oddities_are_reported() {
    let out = cerner("R4_CARE_PLAN_PATIENT_BUNDLE");
    assert_eq!(out.resources.len(), 1);
    assert_eq!(
        out.resources[0]["meta"]["source"],
        "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/CarePlan/197286315"
    );
    let messages: Vec<(EhrNoteKind, &str)> = out
        .report
        .iter()
        .map(|n| (n.kind, n.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                EhrNoteKind::FullUrlMismatch,
                "fullUrl https://fhir-ehr.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/CarePlan/197375407 does not name CarePlan/197286315; the resource's own type and id are used"
            ),
            (
                EhrNoteKind::Duplicate,
                "CarePlan/197286315 was already imported from /entry/0/resource; this copy is dropped"
            ),
        ]
    );

    let nested = cerner("R4_APPOINTMENT_BUNDLE");
    assert_eq!(nested.report[0].position, "/entry/0");
    assert_eq!(
        nested.report[0].resource.as_deref(),
        Some("Appointment/4822366")
    );
    assert_eq!(
        nested.report[0].message,
        "`resource` is itself a Bundle entry ({fullUrl, resource}), not a resource"
    );

    let inline = cerner("R4_PATIENT_CONDITION_BUNDLE");
    let notes: Vec<(&str, Option<&str>, &str)> = inline
        .report
        .iter()
        .map(|n| {
            (
                n.position.as_str(),
                n.resource.as_deref(),
                n.message.as_str(),
            )
        })
        .collect();
    let message = "the entry holds a resource's elements itself instead of under `resource`";
    assert_eq!(
        notes,
        [
            ("/entry/0", Some("Condition/p73875571"), message),
            (
                "/entry/2",
                Some("Condition/a077dc30-8eee-4bb7-ae7f-ced1273f5c68"),
                message
            ),
        ]
    );
    assert_eq!(
        inline.resources[0]["meta"]["source"],
        "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Condition/p73703587"
    );

    let empty = cerner("R4_CONSENT_BUNDLE");
    assert_eq!(empty.report[0].position, "/entry/1");
    assert_eq!(empty.report[0].message, "the entry has no resource");
}

#[test]
fn cerner_post_body_without_id_is_rejected() {
    let out = cerner("R4_OBSERVATION_PO_CREATE");
    assert!(out.resources.is_empty());
    assert_eq!(out.report[0].kind, EhrNoteKind::Rejected);
    assert_eq!(out.report[0].resource, None);
    assert_eq!(
        out.report[0].message,
        "Observation without `id` (a request body?): it has no source identity, so a re-import would duplicate it"
    );
}

#[test]
fn cerner_binary_and_questionnaire_response_are_matched_by_source() {
    let out = cerner("R4_BINARY_ENTRY");
    let binary = &out.resources[0];
    assert_eq!(binary["contentType"], "application/pdf");
    assert!(binary["data"].as_str().unwrap().starts_with("JVBERi0xLjQK"));
    assert_eq!(
        binary["meta"],
        json!({"source": "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Binary/XR-197198634"})
    );
    assert_eq!(binary.get("identifier"), None);
    assert_eq!(
        update_url(binary).as_deref(),
        Some(
            "Binary?_source=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Binary/XR-197198634"
        )
    );

    let out = cerner("R4_QUESTIONNAIRE_RESPONSE_ENTRY");
    let qr = &out.resources[0];
    // identifier is 0..1 here: set, as an object, since Cerner sent none.
    assert_eq!(
        qr["identifier"],
        json!({"system": format!("{CERNER_BASE}/QuestionnaireResponse"), "value": "SH-12508041"})
    );
    assert_eq!(
        update_url(qr).as_deref(),
        Some(
            "QuestionnaireResponse?_source=https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/QuestionnaireResponse/SH-12508041"
        )
    );
    // The canonical questionnaire URL is not a Reference: as sent.
    assert_eq!(
        qr["questionnaire"],
        "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Questionnaire/SH-12508041"
    );
    // A Reference inside an extension's Annotation.
    assert_eq!(
        qr["item"][0]["extension"][0]["valueAnnotation"]["authorReference"],
        json!({"type": "Practitioner", "identifier": {"system": format!("{CERNER_BASE}/Practitioner"), "value": "109413936"}, "display": "Lombardi, Falco Shine"})
    );
    assert_eq!(
        qr["item"][0]["item"][0]["answer"][0]["valueQuantity"]["value"],
        "20"
    );
}

#[test]
fn non_resource_files_are_refused_with_their_kind() {
    for (name, position) in [
        ("R4_WELL_KNOWN", ""),
        ("R4_PATIENT_PATCH", ""),
        ("R4_OPEN_METADATA", "/resourceType"),
        ("R4_PROVENANCE_ENTRY", "/resourceType"),
    ] {
        let err = normalize_payload(&read(&cerner_path(name)), &cerner_ctx()).unwrap_err();
        assert!(
            matches!(&err, Error::NotImportable { position: p, .. } if p == position),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn truncated_cerner_bundle_is_malformed() {
    let bytes = read(&cerner_path("R4_CONDITION_BUNDLE"));
    let err = normalize_payload(&bytes[..bytes.len() / 2], &cerner_ctx()).unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { position, reason } if position.starts_with("line ") && reason.contains("EOF")),
        "{err:?}"
    );
}

#[test]
fn epic_patient_single_read() {
    let out = normalize_payload(
        &read(&epic_path("Patient-erXuFYUfucBZaryVksYEcMg3")),
        &epic_ctx(),
    )
    .unwrap();
    let p = &out.resources[0];
    let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        &keys[..4],
        ["resourceType", "meta", "extension", "identifier"]
    );
    assert_eq!(
        p["meta"],
        json!({"source": "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Patient/erXuFYUfucBZaryVksYEcMg3"})
    );
    // Nine Epic identifiers as sent (padded INTERNAL one included), then ours.
    let identifiers = p["identifier"].as_array().unwrap();
    assert_eq!(identifiers.len(), 10);
    assert_eq!(identifiers[5]["value"], "     Z6129");
    assert_eq!(identifiers[6]["value"], "203713");
    assert_eq!(
        identifiers[9],
        json!({"system": "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Patient", "value": "erXuFYUfucBZaryVksYEcMg3"})
    );
    assert_eq!(
        p["extension"][0]["url"],
        "http://open.epic.com/FHIR/StructureDefinition/extension/legal-sex"
    );
    assert_eq!(
        p["managingOrganization"]["identifier"]["value"],
        "enRyWnSP963FYDpoks4NHOA3"
    );
    assert_eq!(p["birthDate"], "1987-09-12");
    assert!(out.report.is_empty());
}

#[test]
fn epic_medication_request_and_medication() {
    let out = normalize_payload(
        &read(&epic_path(
            "MedicationRequest-ePDJ.zsf3Jfg2.MKkAMgW9EcIbsaiB.y-OTrPS5v2h8Q3",
        )),
        &epic_ctx(),
    )
    .unwrap();
    let mr = &out.resources[0];
    assert_eq!(
        mr["medicationReference"],
        json!({
            "type": "Medication",
            "identifier": {"system": "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Medication", "value": "ej-bgums0x4N6E0.QqIjJb3kGhOQBVK3lIYjcil9mb9j-ukNrz6P2y90AiDm3R20Y3"},
            "display": "drospirenone-ethinyl estradiol (YAZ,GIANVI) tablet 3-0.02 mg"
        })
    );
    // Epic sends `type` on the reference: kept, not doubled.
    assert_eq!(
        mr["requester"],
        json!({
            "type": "Practitioner",
            "identifier": {"system": "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Practitioner", "value": "eM5CWtq15N0WJeuCet5bJlQ3"},
            "display": "Physician Family Medicine, MD"
        })
    );
    assert_eq!(mr["identifier"][0]["value"], "1066899");
    assert_eq!(mr["reasonCode"][0]["coding"][2]["code"], "E28.2");
    assert_eq!(
        mr["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"],
        json!({"value": 1, "unit": "tablet", "system": UCUM, "code": "{tbl}"})
    );
    assert_eq!(mr["dispenseRequest"]["expectedSupplyDuration"]["code"], "d");

    let out = normalize_payload(
        &read(&epic_path("Medication-drospirenone-ethinyl-estradiol")),
        &epic_ctx(),
    )
    .unwrap();
    let m = &out.resources[0];
    let codes: Vec<&str> = m["code"]["coding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "100899",
            "25990002150316",
            "49431",
            "4124",
            "11636",
            "630734",
            "748794",
            "748798",
            "840781"
        ]
    );
    assert_eq!(m["form"]["coding"][0]["code"], "TABS");
    assert_eq!(
        m["identifier"][1]["value"],
        "ej-bgums0x4N6E0.QqIjJb3kGhOQBVK3lIYjcil9mb9j-ukNrz6P2y90AiDm3R20Y3"
    );
}

#[test]
fn epic_resources_in_one_collection_reference_each_other() {
    // The six Epic sandbox files as one collection Bundle (as a sync page would hold them).
    let names = [
        "Patient-erXuFYUfucBZaryVksYEcMg3",
        "Practitioner-eM5CWtq15N0WJeuCet5bJlQ3",
        "Organization-enRyWnSP963FYDpoks4NHOA3",
        "AllergyIntolerance-camila-not-on-file",
        "Medication-drospirenone-ethinyl-estradiol",
        "MedicationRequest-ePDJ.zsf3Jfg2.MKkAMgW9EcIbsaiB.y-OTrPS5v2h8Q3",
    ];
    let entries: Vec<Value> = names
        .iter()
        .map(
            |n| json!({"resource": serde_json::from_slice::<Value>(&read(&epic_path(n))).unwrap()}),
        )
        .collect();
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
    let ctx = epic_ctx().with_patient("erXuFYUfucBZaryVksYEcMg3", "Patient/hos-camila");
    let out = normalize_payload(bundle.to_string().as_bytes(), &ctx).unwrap();
    assert_eq!(out.resources.len(), 6);
    assert!(out.report.is_empty());
    let [patient, _, _, allergy, _, request] = out.resources.as_slice() else {
        unreachable!()
    };
    assert_eq!(
        patient["generalPractitioner"],
        json!([{"reference": "Practitioner?identifier=https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Practitioner|eM5CWtq15N0WJeuCet5bJlQ3", "type": "Practitioner", "display": "Physician Family Medicine, MD"}])
    );
    assert_eq!(
        patient["managingOrganization"]["reference"],
        "Organization?identifier=https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Organization|enRyWnSP963FYDpoks4NHOA3"
    );
    assert_eq!(
        allergy["patient"],
        json!({"reference": "Patient/hos-camila", "display": "Lopez, Camila Maria"})
    );
    assert_eq!(allergy["code"]["coding"][0]["code"], "1631000175102");
    assert_eq!(
        request["medicationReference"]["reference"],
        "Medication?identifier=https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Medication|ej-bgums0x4N6E0.QqIjJb3kGhOQBVK3lIYjcil9mb9j-ukNrz6P2y90AiDm3R20Y3"
    );
    assert_eq!(
        request["requester"],
        json!({"reference": "Practitioner?identifier=https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Practitioner|eM5CWtq15N0WJeuCet5bJlQ3", "type": "Practitioner", "display": "Physician Family Medicine, MD"})
    );
    assert_eq!(request["subject"]["reference"], "Patient/hos-camila");
}

#[test]
fn epic_vitals_search_page_constructed_from_the_mapping_notes() {
    // No recorded Epic Observation with a clear origin exists (fixtures/epic-sandbox/SOURCE.md),
    // so this page is built from the recorded Epic behaviour in the mapping notes: flowsheet
    // codings, the generic 8716-3, legacy 55284-4 beside 85354-9, °F in an extension, weight
    // in [lb_av], and an OperationOutcome entry (59204, not authorized) in the searchset.
    let flowsheet = "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679";
    let vitals = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]});
    let patient =
        json!({"reference": "Patient/erXuFYUfucBZaryVksYEcMg3", "display": "Lopez, Camila Maria"});
    let page = json!({
        "resourceType": "Bundle", "type": "searchset", "total": 4,
        "link": [{"relation": "next", "url": format!("{EPIC_BASE}/Observation?patient=erXuFYUfucBZaryVksYEcMg3&category=vital-signs&page=2")}],
        "entry": [
            {"fullUrl": format!("{EPIC_BASE}/Observation/eBP"), "search": {"mode": "match"}, "resource": {
                "resourceType": "Observation", "id": "eBP", "status": "final", "category": [vitals],
                "code": {"coding": [
                    {"system": flowsheet, "code": "5", "display": "BP"},
                    {"system": "http://loinc.org", "code": "8716-3", "display": "Vital signs"},
                    {"system": "http://loinc.org", "code": "55284-4"},
                    {"system": "http://loinc.org", "code": "85354-9"}
                ], "text": "BP"},
                "subject": patient, "effectiveDateTime": "2019-09-03T14:10:00Z",
                "component": [
                    {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 120, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}},
                    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 80, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}}
                ]
            }},
            {"fullUrl": format!("{EPIC_BASE}/Observation/eTemp"), "search": {"mode": "match"}, "resource": {
                "resourceType": "Observation", "id": "eTemp", "status": "final", "category": [vitals],
                "extension": [{"url": "http://open.epic.com/FHIR/STU3/StructureDefinition/temperature-in-fahrenheit", "valueQuantity": {"value": 98.6, "unit": "degF", "system": UCUM, "code": "[degF]"}}],
                "code": {"coding": [
                    {"system": flowsheet, "code": "6", "display": "Temp"},
                    {"system": "http://loinc.org", "code": "8716-3"},
                    {"system": "http://loinc.org", "code": "8310-5"}
                ]},
                "subject": patient, "effectiveDateTime": "2019-09-03T14:10:00Z",
                "valueQuantity": {"value": 37, "unit": "Cel", "system": UCUM, "code": "Cel"}
            }},
            {"fullUrl": format!("{EPIC_BASE}/Observation/eWt"), "search": {"mode": "match"}, "resource": {
                "resourceType": "Observation", "id": "eWt", "status": "final", "category": [vitals],
                "code": {"coding": [
                    {"system": flowsheet, "code": "14", "display": "Weight"},
                    {"system": "http://loinc.org", "code": "8716-3"},
                    {"system": "http://loinc.org", "code": "29463-7"},
                    {"system": "http://loinc.org", "code": "3141-9"}
                ]},
                "subject": patient, "effectiveDateTime": "2019-09-03T14:10:00Z",
                "valueQuantity": {"value": 154.32, "unit": "lb", "system": UCUM, "code": "[lb_av]"}
            }},
            {"fullUrl": "urn:uuid:1b3c7f7a-0000-4000-8000-000000000000", "search": {"mode": "outcome"}, "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "processing", "details": {
                    "coding": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.657369", "code": "59204", "display": "The authenticated client's search request applies to a sub-resource that the client is not authorized for."}],
                    "text": "The authenticated client's search request applies to a sub-resource that the client is not authorized for."
                }, "diagnostics": "Client not authorized for Observation - Vital Signs (Flowsheet ID 11)"}]
            }}
        ]
    });
    let ctx = epic_ctx().with_patient("erXuFYUfucBZaryVksYEcMg3", "Patient/hos-camila");
    let out = normalize_payload(page.to_string().as_bytes(), &ctx).unwrap();
    let [bp, temp, weight] = out.resources.as_slice() else {
        panic!("{:?}", summary(&out));
    };
    let codes = |r: &Value| -> Vec<String> {
        r["code"]["coding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}|{}",
                    c["system"].as_str().unwrap(),
                    c["code"].as_str().unwrap()
                )
            })
            .collect()
    };
    // 8716-3 is never chosen; the flowsheet coding and the legacy code stay.
    assert_eq!(
        codes(bp),
        [
            "http://loinc.org|85354-9",
            "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679|5",
            "http://loinc.org|8716-3",
            "http://loinc.org|55284-4"
        ]
    );
    assert_eq!(bp["component"][0]["valueQuantity"]["value"], json!(120));
    assert_eq!(
        bp["subject"],
        json!({"reference": "Patient/hos-camila", "display": "Lopez, Camila Maria"})
    );
    assert_eq!(codes(temp)[0], "http://loinc.org|8310-5");
    assert_eq!(temp["valueQuantity"]["value"], json!(37));
    assert_eq!(
        temp["extension"][0],
        json!({"url": "http://open.epic.com/FHIR/STU3/StructureDefinition/temperature-in-fahrenheit", "valueQuantity": {"value": 98.6, "unit": "degF", "system": UCUM, "code": "[degF]"}})
    );
    assert_eq!(codes(weight)[0], "http://loinc.org|29463-7");
    assert_eq!(weight["valueQuantity"]["value"].to_string(), "69.998");
    assert_eq!(weight["valueQuantity"]["code"], "kg");
    assert_eq!(
        weight["identifier"],
        json!([{"system": "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Observation", "value": "eWt"}])
    );

    assert_eq!(out.report.len(), 1);
    let note = &out.report[0];
    assert_eq!(note.kind, EhrNoteKind::Outcome);
    assert_eq!(note.position, "/entry/3/resource");
    assert_eq!(
        note.message,
        "an OperationOutcome (warning processing (59204): The authenticated client's search request applies to a sub-resource that the client is not authorized for.)"
    );
}

#[test]
fn normalize_resource_accumulates_into_one_batch() {
    let mut batch = NormalizedBatch::default();
    for name in ["R4_PATIENT_ENTRY", "R4_PRACTITIONER_ENTRY"] {
        normalize_resource(cerner_source(name), &cerner_ctx(), &mut batch);
    }
    normalize_resource(
        cerner_source("R4_PROVENANCE_ENTRY"),
        &cerner_ctx(),
        &mut batch,
    );
    assert_eq!(
        summary(&batch),
        (
            "Patient:1 Practitioner:1".to_owned(),
            "VendorProvenance:1".to_owned()
        )
    );
    // One resource at a time: the Patient's practitioner is a logical reference.
    assert_eq!(
        batch.resources[0]["generalPractitioner"][0]["identifier"]["value"],
        "4122622"
    );
    assert_eq!(batch.report[0].position, "");
}
