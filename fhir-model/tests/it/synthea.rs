//! The Synthea fixtures (`fixtures/synthea`): the conformant sets must pass strictly; the
//! 2019 pre-release set is not R4 and must be refused with located errors.

use std::path::{Path, PathBuf};

use fhir_model::format::{Format, parse_resource};
use fhir_model::validate::ParseMode;

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/synthea")
        .join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    paths
}

/// Every resource of the conformant sets: the per-patient transaction Bundles (parsed
/// whole) and the bulk NDJSON files (one resource a line).
#[test]
fn conformant_synthea_passes_strictly() {
    let mut resources = 0;
    for p in files("iris-fhir-template-synthea-2020", "json") {
        let parsed = parse_resource(&std::fs::read(&p).unwrap(), Format::Json, ParseMode::Strict)
            .unwrap_or_else(|e| panic!("{}: {:?}", p.display(), e.issues()));
        resources += parsed.resource["entry"].as_array().unwrap().len();
    }
    for p in files("synthea-bulk-ndjson-ktmtwm", "ndjson")
        .into_iter()
        .chain(files("synthea-bulk-ndjson-ktmtwm", "json"))
    {
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = if p.extension().unwrap() == "ndjson" {
            text.lines().collect()
        } else {
            vec![&text]
        };
        for (n, line) in lines.into_iter().enumerate() {
            parse_resource(line.as_bytes(), Format::Json, ParseMode::Strict)
                .unwrap_or_else(|e| panic!("{}:{}: {:?}", p.display(), n + 1, e.issues()));
            resources += 1;
        }
    }
    assert_eq!(resources, RESOURCES);
}

/// The number of resources in the conformant sets (entries of the Bundles, plus bulk
/// resources, counting the hospital/practitioner Bundles as one each).
const RESOURCES: usize = 2973;

/// The April 2019 exporter wrote pre-release R4 (string `clinicalStatus`, `context`,
/// `assertedDate`, Claims without `created`…). Each entry is checked on its own: the
/// ones that fail are today's count, strict and lenient (lenient mode only drops unknown
/// elements, so wrong shapes and missing required elements still fail).
#[test]
fn prerelease_synthea_is_refused_with_located_errors() {
    let mut counts = Vec::new();
    for mode in [ParseMode::Strict, ParseMode::Lenient] {
        let (mut total, mut failing) = (0, 0);
        for p in files("smart-2019-prerelease-r4", "json") {
            let bundle: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            for entry in bundle["entry"].as_array().unwrap() {
                total += 1;
                let text = serde_json::to_vec(&entry["resource"]).unwrap();
                if let Err(e) = parse_resource(&text, Format::Json, mode) {
                    failing += 1;
                    assert!(e.issues().iter().all(|i| i.expression.is_some()), "{e:?}");
                }
            }
        }
        counts.push((mode, total, failing));
    }
    assert_eq!(
        counts,
        [(ParseMode::Strict, 254, 232), (ParseMode::Lenient, 254, 69)]
    );
}
