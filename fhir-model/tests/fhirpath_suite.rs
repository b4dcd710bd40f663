//! Runs the official FHIRPath R4 suite (`fixtures/fhirpath-tests/fhir-test-cases/r4/
//! fhirpath/tests-fhir-r4.xml`) against `fhir_model::fhirpath`, with the JSON copies of the
//! input resources from `fixtures/fhirpath-tests/fhirpath.js/test/resources/r4/`.
//!
//! Every test is run; failing ones are printed by name with the reason, and the pass count
//! must not fall below [`FLOOR`] (raise it as the engine grows).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

/// The number of suite tests that pass today; the test fails if fewer pass.
const FLOOR: usize = 874;

#[derive(Debug, Default)]
struct Case {
    group: String,
    name: String,
    input: Option<String>,
    predicate: bool,
    unordered: bool,
    expression: String,
    invalid: bool,
    outputs: Vec<(String, String)>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/fhirpath-tests")
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| {
            a.normalized_value(quick_xml::XmlVersion::default())
                .expect("attribute value")
                .into_owned()
        })
}

fn load_cases() -> Vec<Case> {
    let path = fixtures().join("fhir-test-cases/r4/fhirpath/tests-fhir-r4.xml");
    let xml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut cases = Vec::new();
    let mut group = String::new();
    let mut case: Option<Case> = None;
    // Which element's text is being collected: the expression, or an output's type.
    let mut text_target: Option<Option<String>> = None;
    let mut text = String::new();
    let mut unnamed = 0;
    loop {
        let event = reader.read_event().expect("well-formed suite XML");
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.name().as_ref() {
                    "group" => group = attr(e, "name").unwrap_or_default(),
                    "test" => {
                        let name = attr(e, "name").unwrap_or_else(|| {
                            unnamed += 1;
                            format!("{group}#{unnamed}")
                        });
                        case = Some(Case {
                            group: group.clone(),
                            name,
                            input: attr(e, "inputfile"),
                            predicate: attr(e, "predicate").as_deref() == Some("true"),
                            unordered: attr(e, "ordered").as_deref() == Some("false"),
                            ..Case::default()
                        });
                    }
                    "expression" => {
                        if let Some(c) = case.as_mut() {
                            c.invalid = attr(e, "invalid").is_some();
                        }
                        text.clear();
                        text_target = (!empty).then_some(None);
                    }
                    "output" => {
                        text.clear();
                        let ty = attr(e, "type").unwrap_or_default();
                        if empty {
                            if let Some(c) = case.as_mut() {
                                c.outputs.push((ty, String::new()));
                            }
                        } else {
                            text_target = Some(Some(ty));
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if text_target.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if text_target.is_some() => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if text_target.is_some() => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    let name = r.xml10_content();
                    text.push_str(match name.as_ref() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        other => panic!("unknown entity {other}"),
                    });
                }
            }
            Event::End(ref e) => match e.name().as_ref() {
                "expression" => {
                    if let Some(c) = case.as_mut() {
                        c.expression = text.clone();
                    }
                    text_target = None;
                }
                "output" => {
                    if let (Some(c), Some(Some(ty))) = (case.as_mut(), text_target.take()) {
                        c.outputs.push((ty, text.clone()));
                    }
                }
                "test" => cases.extend(case.take()),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    cases
}

fn load_input(cache: &mut HashMap<String, Value>, file: &str) -> Result<Value, String> {
    if let Some(v) = cache.get(file) {
        return Ok(v.clone());
    }
    let stem = file.trim_end_matches(".xml").trim_end_matches(".json");
    let path = fixtures().join(format!("fhirpath.js/test/resources/r4/{stem}.json"));
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("input {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("input {file}: {e}"))?;
    cache.insert(file.to_owned(), v.clone());
    Ok(v)
}

fn run(case: &Case, cache: &mut HashMap<String, Value>) -> Result<(), String> {
    let input = match &case.input {
        Some(f) => load_input(cache, f)?,
        None => serde_json::json!({}),
    };
    let result = fhir_model::fhirpath::parse(&case.expression).and_then(|e| {
        let items = e.evaluate(&input)?;
        Ok(items
            .iter()
            .map(|i| {
                (
                    i.type_name(),
                    i.as_string().unwrap_or_else(|| i.to_json().to_string()),
                )
            })
            .collect::<Vec<_>>())
    });
    if case.invalid {
        return match result {
            Err(_) => Ok(()),
            Ok(got) => Err(format!("expected an error, got {got:?}")),
        };
    }
    let mut got = result.map_err(|e| e.to_string())?;
    if case.predicate {
        got = vec![("boolean".into(), (!got.is_empty()).to_string())];
    }
    let mut want: Vec<(String, String)> = case
        .outputs
        .iter()
        .map(|(t, v)| {
            let v = if matches!(t.as_str(), "date" | "dateTime" | "time") {
                v.trim_start_matches('@').trim_start_matches('T').to_owned()
            } else {
                v.clone()
            };
            (t.clone(), v)
        })
        .collect();
    for g in got.iter_mut() {
        if g.0 == "time" {
            g.1 = g.1.trim_start_matches('T').to_owned();
        }
    }
    // An output without a type attribute only states the value.
    for (w, g) in want.iter_mut().zip(&got) {
        if w.0.is_empty() {
            w.0 = g.0.clone();
        }
    }
    if case.unordered {
        got.sort();
        want.sort();
    }
    if got == want {
        Ok(())
    } else {
        Err(format!("expected {want:?}, got {got:?}"))
    }
}

#[test]
fn official_fhirpath_r4_suite() {
    let cases = load_cases();
    assert!(
        cases.len() > 900,
        "the suite has {} tests, expected about 937",
        cases.len()
    );
    let mut cache = HashMap::new();
    let mut failed = Vec::new();
    for case in &cases {
        if let Err(why) = run(case, &mut cache) {
            failed.push(format!(
                "{} / {}: `{}`: {why}",
                case.group,
                case.name,
                case.expression.trim()
            ));
        }
    }
    let passed = cases.len() - failed.len();
    for f in &failed {
        println!("FAIL {f}");
    }
    println!("FHIRPath R4 suite: {passed} of {} passed", cases.len());
    assert!(
        passed >= FLOOR,
        "{passed} of {} passed, below the floor of {FLOOR}",
        cases.len()
    );
}
