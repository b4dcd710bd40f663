//! Vital-sign normalisation over recorded vendor data: the Oracle Health (Cerner)
//! documentation examples in `fixtures/cerner-sandbox/` and the official R4 examples in
//! `fixtures/fhir-r4-examples/`. Each test states the exact output expected, and that
//! nothing outside the normalised elements changed.

use std::path::PathBuf;

use mappers::vitals::{IMPLAUSIBLE_VALUE_URL, ORIGINAL_QUANTITY_URL, Quirk};
use mappers::{Error, NoteKind, Quirks, normalize};
use serde_json::{Number, Value, json};

mod apple_health;
mod ehr;
mod garmin_withings;
mod ihealth;
mod json_vendors;
mod wearable_fhir;

const UCUM: &str = "http://unitsofmeasure.org";

fn fixture(path: &str) -> Value {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path);
    let bytes = std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn cerner(name: &str) -> Value {
    fixture(&format!("cerner-sandbox/millennium-r4/{name}.json"))
}

fn cerner_bundle_entry(name: &str, id: &str) -> Value {
    cerner(name)["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {name}"))
}

fn num(text: &str) -> Value {
    Value::Number(text.parse::<Number>().unwrap())
}

/// `system|code` of each coding of a CodeableConcept.
fn codes(concept: &Value) -> Vec<String> {
    concept["coding"]
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
}

fn note_kinds(notes: &[mappers::Note]) -> Vec<NoteKind> {
    notes.iter().map(|n| n.kind).collect()
}

/// The resource without the named top-level elements, to check everything else is as sent.
fn without(resource: &Value, keys: &[&str]) -> Value {
    let mut copy = resource.clone();
    for key in keys {
        copy.as_object_mut().unwrap().remove(*key);
    }
    copy
}

fn range_extension(low: &str, high: &str, unit: &str) -> Value {
    json!({
        "url": IMPLAUSIBLE_VALUE_URL,
        "valueRange": {
            "low": {"value": num(low), "unit": unit, "system": UCUM, "code": unit},
            "high": {"value": num(high), "unit": unit, "system": UCUM, "code": unit}
        }
    })
}

#[test]
fn cerner_axillary_temperature_27_cel_is_flagged_implausible() {
    let input = cerner("R4_OBSERVATION_ENTRY")["resource"].clone();
    let out = normalize(&input, Quirks::CERNER).unwrap();
    let r = &out.resource;

    assert_eq!(out.vital.loinc, "8310-5");
    assert_eq!(
        codes(&r["code"]),
        [
            "http://loinc.org|8310-5",
            "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/codeSet/72|703535",
            "http://loinc.org|8328-7",
        ]
    );
    assert_eq!(r["code"]["text"], "Temperature Axillary");
    // The vendor coding keeps its userSelected flag.
    assert_eq!(r["code"]["coding"][1]["userSelected"], true);
    assert_eq!(
        r["meta"],
        json!({
            "versionId": "1",
            "lastUpdated": "2020-07-06T21:13:24.000Z",
            "profile": ["http://hl7.org/fhir/StructureDefinition/bodytemp"]
        })
    );
    assert_eq!(r["valueQuantity"], input["valueQuantity"]);
    assert_eq!(r["valueQuantity"]["value"], json!(27));
    assert_eq!(r["extension"], json!([range_extension("30", "45", "Cel")]));
    // The extension sits where FHIR orders it: after `text`, before `identifier`.
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        &keys[..6],
        [
            "resourceType",
            "id",
            "meta",
            "text",
            "extension",
            "identifier"
        ]
    );

    assert_eq!(
        note_kinds(&out.notes),
        [NoteKind::ProfileAdded, NoteKind::Implausible]
    );
    assert_eq!(
        out.notes[1].message,
        "8310-5: 27 Cel is outside the plausible range 30–45 Cel"
    );
    assert_eq!(
        without(r, &["code", "meta", "extension"]),
        without(&input, &["code", "meta"])
    );
}

#[test]
fn cerner_spo2_with_flow_and_fio2_components() {
    let input = cerner_bundle_entry("R4_OBSERVATION_BUNDLE", "VS-CV-55046871-SECT-8098");
    let out = normalize(&input, Quirks::CERNER).unwrap();
    let r = &out.resource;

    assert_eq!(out.vital.loinc, "2708-6");
    assert_eq!(
        codes(&r["code"]),
        [
            "http://loinc.org|2708-6",
            "https://fhir.cerner.com/eb2384f8-839e-4c6e-8b29-18e71db1a0b1/codeSet/72|3623994",
            "http://loinc.org|59408-5",
        ]
    );
    assert_eq!(
        r["meta"]["profile"],
        json!(["http://hl7.org/fhir/StructureDefinition/oxygensat"])
    );
    assert_eq!(
        r["valueQuantity"],
        json!({"value": 95, "unit": "%", "system": UCUM, "code": "%"})
    );
    // Components: LOINC coding first, values unchanged and plausible.
    assert_eq!(
        codes(&r["component"][0]["code"]),
        [
            "http://loinc.org|3151-8",
            "https://fhir.cerner.com/eb2384f8-839e-4c6e-8b29-18e71db1a0b1/codeSet/72|703569",
        ]
    );
    assert_eq!(
        r["component"][0]["valueQuantity"],
        input["component"][0]["valueQuantity"]
    );
    assert_eq!(
        codes(&r["component"][1]["code"])[0],
        "http://loinc.org|3150-0"
    );
    assert_eq!(r["component"][1]["valueQuantity"]["value"], json!(21));
    assert!(!out.has_implausible_values());
    assert_eq!(note_kinds(&out.notes), [NoteKind::ProfileAdded]);
    assert_eq!(
        without(r, &["code", "meta", "component"]),
        without(&input, &["code", "meta", "component"])
    );
}

#[test]
fn cerner_blood_pressure_components_matched_by_exact_loinc() {
    let input = cerner("R4_OBSERVATION_VITALS_BP_UPDATE");
    let out = normalize(&input, Quirks::CERNER).unwrap();
    let r = &out.resource;

    assert_eq!(out.vital.loinc, "85354-9");
    assert_eq!(codes(&r["code"]), ["http://loinc.org|85354-9"]);
    assert_eq!(
        r["meta"],
        json!({"profile": ["http://hl7.org/fhir/StructureDefinition/bp"]})
    );
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[..3], ["resourceType", "id", "meta"]);
    assert_eq!(
        codes(&r["component"][0]["code"]),
        ["http://loinc.org|8480-6"]
    );
    assert_eq!(
        r["component"][0]["valueQuantity"],
        json!({"value": 99, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"})
    );
    assert_eq!(
        codes(&r["component"][1]["code"]),
        ["http://loinc.org|8462-4"]
    );
    assert_eq!(r["component"][1]["valueQuantity"]["value"], json!(66));
    // Vendor interpretation and (odd) reference ranges pass through untouched.
    assert_eq!(r["component"], input["component"]);
    assert_eq!(note_kinds(&out.notes), [NoteKind::ProfileAdded]);
    assert_eq!(without(r, &["meta"]), input);
}

#[test]
fn cerner_blood_pressure_component_also_coded_with_the_panel_code() {
    // Oracle Health BP components carry 85354-9 beside 8480-6/8462-4 (mapping notes): the
    // component is found by its own code in any position, and that coding moves first.
    let mut input = cerner("R4_OBSERVATION_VITALS_BP_UPDATE");
    for component in input["component"].as_array_mut().unwrap() {
        component["code"]["coding"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!({"system": "http://loinc.org", "code": "85354-9"}));
    }
    // Swap the components so position does not decide either.
    input["component"].as_array_mut().unwrap().swap(0, 1);
    let out = normalize(&input, Quirks::CERNER).unwrap();
    let r = &out.resource;
    assert_eq!(
        codes(&r["component"][0]["code"]),
        ["http://loinc.org|8462-4", "http://loinc.org|85354-9"]
    );
    assert_eq!(r["component"][0]["valueQuantity"]["value"], json!(66));
    assert_eq!(
        codes(&r["component"][1]["code"]),
        ["http://loinc.org|8480-6", "http://loinc.org|85354-9"]
    );
    assert_eq!(r["component"][1]["valueQuantity"]["value"], json!(99));
}

#[test]
fn cerner_spo2_44_percent_is_flagged_implausible() {
    let input = cerner("R4_OBSERVATION_VITALS_PO_UPDATE");
    let out = normalize(&input, Quirks::CERNER).unwrap();
    let r = &out.resource;
    assert_eq!(
        codes(&r["code"]),
        ["http://loinc.org|2708-6", "http://loinc.org|59408-5"]
    );
    assert_eq!(r["valueQuantity"]["value"], json!(44));
    assert_eq!(r["extension"], json!([range_extension("50", "100", "%")]));
    // FiO2 66 % and 55 L/min are high but possible: not flagged.
    assert_eq!(r["component"], input["component"]);
    assert_eq!(
        note_kinds(&out.notes),
        [NoteKind::ProfileAdded, NoteKind::Implausible]
    );
    assert_eq!(out.notes[1].path, "Observation.valueQuantity");
}

#[test]
fn cerner_oral_temperature_coded_8331_1_only() {
    let input = cerner("R4_OBSERVATION_CREATE");
    let strict = normalize(&input, Quirks::STRICT).unwrap_err();
    assert!(
        matches!(&strict, Error::GranularCodeOnly { found, expected } if found == "8331-1" && expected == "8310-5")
    );

    let out = normalize(&input, Quirks::CERNER).unwrap();
    let r = &out.resource;
    assert_eq!(
        r["code"],
        json!({
            "coding": [
                {"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"},
                {"system": "http://loinc.org", "code": "8331-1"}
            ],
            "text": "Temperature Oral"
        })
    );
    assert_eq!(r["valueQuantity"]["value"], num("37.2"));
    assert_eq!(r["valueQuantity"]["value"].to_string(), "37.2");
    assert_eq!(
        note_kinds(&out.notes),
        [NoteKind::CodeAdded, NoteKind::ProfileAdded]
    );
    assert_eq!(out.notes[0].quirk, Some(Quirk::GranularLoincOnly));
    assert_eq!(
        out.notes[0].message,
        "added http://loinc.org|8310-5 implied by granular code 8331-1"
    );
    assert_eq!(without(r, &["code", "meta"]), without(&input, &["code"]));
}

#[test]
fn cerner_pulse_ox_create_with_the_reading_in_a_component() {
    let input = cerner("R4_OBSERVATION_PO_CREATE");
    assert!(matches!(
        normalize(&input, Quirks::STRICT),
        Err(Error::GranularCodeOnly { .. })
    ));
    let only_codes = Quirks {
        granular_loinc_only: true,
        ..Quirks::STRICT
    };
    assert!(matches!(
        normalize(&input, only_codes),
        Err(Error::MissingValue { .. })
    ));

    let out = normalize(&input, Quirks::CERNER).unwrap();
    let r = &out.resource;
    assert_eq!(
        codes(&r["code"]),
        ["http://loinc.org|2708-6", "http://loinc.org|59408-5"]
    );
    assert_eq!(
        r["valueQuantity"],
        json!({"value": 96, "unit": "%", "system": UCUM, "code": "%"})
    );
    // The SpO2 component moved up; flow rate and FiO2 stay.
    let components: Vec<String> = r["component"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| codes(&c["code"])[0].clone())
        .collect();
    assert_eq!(
        components,
        ["http://loinc.org|3151-8", "http://loinc.org|3150-0"]
    );
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[keys.len() - 2..], ["valueQuantity", "component"]);
    assert_eq!(
        note_kinds(&out.notes),
        [
            NoteKind::CodeAdded,
            NoteKind::ProfileAdded,
            NoteKind::ValueMoved
        ]
    );
    assert_eq!(out.notes[2].quirk, Some(Quirk::Spo2ValueInComponent));
}

#[test]
fn cerner_vendor_code_without_loinc_is_rejected() {
    // "Temperature Oral" by Cerner code only, with a value in mm[Hg]: not guessed at.
    let input = cerner("R4_OBSERVATION_VITALS_UPDATE");
    let err = normalize(&input, Quirks::CERNER).unwrap_err();
    assert!(
        matches!(&err, Error::NotAVitalSign { codes } if codes == &["https://fhir.cerner.com/d242a518-4074-4bd4-a3a6-adfe0c5c1c51/codeSet/72|703558"]),
        "{err:?}"
    );
}

#[test]
fn cerner_search_bundle_every_observation_has_a_stated_outcome() {
    // Every Observation of the patient search, with what the mapper does to it.
    let bundle = cerner("R4_OBSERVATION_BUNDLE");
    let mut outcomes = Vec::new();
    for entry in bundle["entry"].as_array().unwrap() {
        let resource = &entry["resource"];
        let outcome = match normalize(resource, Quirks::CERNER) {
            Ok(out) => format!(
                "vital {}{}",
                out.vital.loinc,
                if out.has_implausible_values() {
                    " implausible"
                } else {
                    ""
                }
            ),
            Err(Error::NotAVitalSign { .. }) => "not a vital sign".to_owned(),
            Err(other) => format!("error: {other}"),
        };
        outcomes.push(format!("{} {}", resource["id"].as_str().unwrap(), outcome));
    }
    assert_eq!(
        outcomes,
        [
            "SH-1-73080191 not a vital sign",
            "SH-73080191-q4625817 not a vital sign",
            "SH-73080191-q4625813 not a vital sign",
            "VS-CV-55046871-SECT-8098 vital 2708-6",
            "L-206310347 not a vital sign",
            "L-206310341 not a vital sign",
            "VS-197292857 vital 8310-5 implausible",
        ]
    );
}

#[test]
fn r4_example_heart_rate() {
    let input = fixture("fhir-r4-examples/Observation-heart-rate.json");
    let out = normalize(&input, Quirks::STRICT).unwrap();
    let r = &out.resource;
    assert_eq!(out.vital.loinc, "8867-4");
    assert_eq!(
        r["meta"]["profile"],
        json!([
            "http://hl7.org/fhir/StructureDefinition/vitalsigns",
            "http://hl7.org/fhir/StructureDefinition/heartrate"
        ])
    );
    assert_eq!(
        r["valueQuantity"],
        json!({"value": 44, "unit": "beats/minute", "system": UCUM, "code": "/min"})
    );
    assert_eq!(note_kinds(&out.notes), [NoteKind::ProfileAdded]);
    assert_eq!(without(r, &["meta"]), without(&input, &["meta"]));
}

#[test]
fn r4_example_body_weight_185_lb_becomes_83_9_kg() {
    let input = fixture("fhir-r4-examples/Observation-example.json");
    let out = normalize(&input, Quirks::STRICT).unwrap();
    let r = &out.resource;
    assert_eq!(out.vital.loinc, "29463-7");
    // Already first: the order of the four codings is kept.
    assert_eq!(
        codes(&r["code"]),
        [
            "http://loinc.org|29463-7",
            "http://loinc.org|3141-9",
            "http://snomed.info/sct|27113001",
            "http://acme.org/devices/clinical-codes|body-weight",
        ]
    );
    assert_eq!(
        r["valueQuantity"],
        json!({
            "extension": [{
                "url": ORIGINAL_QUANTITY_URL,
                "valueQuantity": {"value": 185, "unit": "lbs", "system": UCUM, "code": "[lb_av]"}
            }],
            "value": num("83.9"),
            "unit": "kg",
            "system": UCUM,
            "code": "kg"
        })
    );
    assert_eq!(
        r["meta"],
        json!({"profile": ["http://hl7.org/fhir/StructureDefinition/bodyweight"]})
    );
    assert_eq!(
        note_kinds(&out.notes),
        [NoteKind::ProfileAdded, NoteKind::UnitConverted]
    );
    assert_eq!(out.notes[1].message, "185 [lb_av] converted to 83.9 kg");
    assert_eq!(
        without(r, &["meta", "valueQuantity"]),
        without(&input, &["valueQuantity"])
    );
}

#[test]
fn r4_example_body_height_in_inches_keeps_its_float_noise_precision() {
    // The official example writes 66.899999999999991 [in_i]; 15 decimal places in means
    // 15 out (precision rule in `mappers::units`): 169.92599999999997714 rounds to
    // 169.925999999999977. The original text is kept byte for byte.
    let input = fixture("fhir-r4-examples/Observation-body-height.json");
    let out = normalize(&input, Quirks::STRICT).unwrap();
    let q = &out.resource["valueQuantity"];
    assert_eq!(q["value"].to_string(), "169.925999999999977");
    assert_eq!(q["code"], "cm");
    assert_eq!(
        q["extension"][0]["valueQuantity"]["value"].to_string(),
        "66.899999999999991"
    );
}

#[test]
fn every_r4_vital_signs_example_normalises() {
    // All R4 vital-signs profile examples with a value: recognised, and strictly.
    for (file, loinc) in [
        ("Observation-heart-rate.json", "8867-4"),
        ("Observation-respiratory-rate.json", "9279-1"),
        ("Observation-satO2.json", "2708-6"),
        ("Observation-body-temperature.json", "8310-5"),
        ("Observation-body-height.json", "8302-2"),
        ("Observation-head-circumference.json", "9843-4"),
        ("Observation-example.json", "29463-7"),
        ("Observation-bmi.json", "39156-5"),
        ("Observation-blood-pressure.json", "85354-9"),
        ("Observation-vitals-panel.json", "85353-1"),
    ] {
        let input = fixture(&format!("fhir-r4-examples/{file}"));
        let out = normalize(&input, Quirks::STRICT).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(out.vital.loinc, loinc, "{file}");
        assert!(!out.has_implausible_values(), "{file}: {:?}", out.notes);
        assert_eq!(
            codes(&out.resource["code"])[0],
            format!("http://loinc.org|{loinc}"),
            "{file}"
        );
    }
}
