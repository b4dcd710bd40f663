//! The official R4 examples (`fixtures/fhir-r4-examples`, pinned from the
//! `hl7.fhir.r4.examples@4.0.1` package) must all parse strictly, except the ones listed
//! in [`EXCLUDED`] with the reason. The list is exact: an excluded example that starts to
//! pass fails the test, so the list cannot go stale.

use std::path::{Path, PathBuf};

use fhir_model::format::{Format, parse_resource, to_json, to_xml};
use fhir_model::validate::ParseMode;

/// Examples that are not valid R4, with why.
const EXCLUDED: &[(&str, &str)] = &[(
    "Questionnaire-qs1.json",
    "32 nested items have no `linkId`, which is 1..1 in Questionnaire.item (the published \
     example predates that rule)",
)];

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/fhir-r4-examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn official_examples_parse_strictly() {
    let paths = examples();
    assert_eq!(paths.len(), 467, "the pinned fixture set changed");
    let mut failing = Vec::new();
    for p in &paths {
        let bytes = std::fs::read(p).unwrap();
        if let Err(e) = parse_resource(&bytes, Format::Json, ParseMode::Strict) {
            failing.push((
                name(p),
                e.issues()
                    .iter()
                    .take(3)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            ));
        }
    }
    let failing_names: Vec<&str> = failing.iter().map(|(n, _)| n.as_str()).collect();
    let excluded: Vec<&str> = EXCLUDED.iter().map(|(n, _)| *n).collect();
    assert_eq!(failing_names, excluded, "failures: {failing:#?}");
    println!(
        "{} of {} official examples pass",
        paths.len() - failing.len(),
        paths.len()
    );
}

/// JSON → XML → JSON gives the same resource for every passing example, decimals and
/// element order included (fhirbolt writes elements in definition order, and the
/// examples are written in that order too).
#[test]
fn official_examples_survive_xml_round_trip() {
    let mut differ = Vec::new();
    for p in examples() {
        if EXCLUDED.iter().any(|(n, _)| *n == name(&p)) {
            continue;
        }
        let parsed =
            parse_resource(&std::fs::read(&p).unwrap(), Format::Json, ParseMode::Strict).unwrap();
        let xml = to_xml(&parsed.resource, true).unwrap_or_else(|e| panic!("{}: {e}", name(&p)));
        let back = parse_resource(&xml, Format::Xml, ParseMode::Strict)
            .unwrap_or_else(|e| panic!("{}: {e}", name(&p)));
        if back.resource != parsed.resource {
            differ.push(name(&p));
        } else if to_json(&back.resource, false) != to_json(&parsed.resource, false) {
            differ.push(format!("{} (text)", name(&p)));
        }
    }
    assert_eq!(differ, Vec::<String>::new());
}
