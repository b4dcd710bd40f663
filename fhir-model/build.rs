//! Derives the compact element model (`model.json` in `OUT_DIR`) from the official R4
//! StructureDefinitions in `definitions/`, so the crate carries what it needs (element
//! names, cardinality, types, summary and modifier flags) without the 35 MB originals.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};

const FHIR_TYPE_EXT: &str = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type";
const REGEX_EXT: &str = "http://hl7.org/fhir/StructureDefinition/regex";

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions");
    println!("cargo:rerun-if-changed=definitions/profiles-types.json");
    println!("cargo:rerun-if-changed=definitions/profiles-resources.json.gz");
    println!("cargo:rerun-if-changed=build.rs");

    let types: Value =
        serde_json::from_slice(&std::fs::read(dir.join("profiles-types.json")).unwrap()).unwrap();
    let mut gz = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(dir.join("profiles-resources.json.gz")).unwrap(),
    )
    .read_to_end(&mut gz)
    .unwrap();
    let resources: Value = serde_json::from_slice(&gz).unwrap();

    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for bundle in [&types, &resources] {
        for entry in bundle["entry"].as_array().unwrap() {
            let sd = &entry["resource"];
            if sd["resourceType"] != "StructureDefinition" || sd["derivation"] == "constraint" {
                continue;
            }
            let kind = sd["kind"].as_str().unwrap();
            if kind == "logical" {
                continue;
            }
            let name = sd["id"].as_str().unwrap();
            let abstract_ = sd["abstract"].as_bool().unwrap_or(false);
            let base = sd["baseDefinition"]
                .as_str()
                .and_then(|b| b.rsplit('/').next())
                .map(str::to_owned);
            add_structure(&mut out, name, kind, abstract_, base, sd);
        }
    }
    let model = json!({ "types": out });
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("model.json");
    std::fs::write(dest, serde_json::to_vec(&model).unwrap()).unwrap();
}

/// Adds one StructureDefinition, and one entry per backbone element inside it (named by
/// its path, e.g. `Observation.component`).
fn add_structure(
    out: &mut BTreeMap<String, Value>,
    name: &str,
    kind: &str,
    abstract_: bool,
    base: Option<String>,
    sd: &Value,
) {
    let elements = sd["snapshot"]["element"].as_array().unwrap();
    let paths: Vec<&str> = elements
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    let has_children = |p: &str| {
        paths
            .iter()
            .any(|q| q.len() > p.len() + 1 && q.starts_with(p) && q.as_bytes()[p.len()] == b'.')
    };

    let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    groups.insert(name.to_owned(), Vec::new());
    let mut regex = None;
    for el in elements {
        let path = el["path"].as_str().unwrap();
        let Some((parent, last)) = path.rsplit_once('.') else {
            continue;
        };
        if kind == "primitive-type" {
            if last == "value" {
                regex = el["type"][0]["extension"]
                    .as_array()
                    .and_then(|exts| exts.iter().find(|e| e["url"] == REGEX_EXT))
                    .map(|e| e["valueString"].clone());
            }
            if last == "value" {
                continue;
            }
        }
        let choice = last.ends_with("[x]");
        let elem_name = last.trim_end_matches("[x]");
        let mut types: Vec<String> = Vec::new();
        let mut targets: Vec<String> = Vec::new();
        if let Some(reference) = el["contentReference"].as_str() {
            types.push(reference.trim_start_matches('#').to_owned());
        } else if has_children(path) {
            types.push(path.to_owned());
        } else {
            for ty in el["type"].as_array().into_iter().flatten() {
                let code = ty["code"].as_str().unwrap();
                let code = if code.starts_with("http://hl7.org/fhirpath/System.") {
                    if elem_name == "id" && parent == name && kind == "resource" {
                        "id".to_owned()
                    } else {
                        ty["extension"]
                            .as_array()
                            .and_then(|exts| exts.iter().find(|e| e["url"] == FHIR_TYPE_EXT))
                            .and_then(|e| e["valueUrl"].as_str())
                            .unwrap_or("string")
                            .to_owned()
                    }
                } else {
                    code.to_owned()
                };
                for target in ty["targetProfile"].as_array().into_iter().flatten() {
                    if let Some(t) = target.as_str().and_then(|t| t.rsplit('/').next()) {
                        targets.push(t.to_owned());
                    }
                }
                types.push(code);
            }
        }
        let max = el["max"].as_str().unwrap_or("1");
        groups.entry(parent.to_owned()).or_default().push(json!({
            "name": elem_name,
            "min": el["min"].as_u64().unwrap_or(0),
            "many": max == "*" || max.parse::<u32>().map(|m| m > 1).unwrap_or(false),
            "choice": choice,
            "types": types,
            "targets": targets,
            "summary": el["isSummary"].as_bool().unwrap_or(false),
            "modifier": el["isModifier"].as_bool().unwrap_or(false),
        }));
    }
    for (group, elems) in groups {
        let (group_kind, group_base, group_abstract, group_regex) = if group == name {
            let k = match kind {
                "primitive-type" => "primitive",
                "complex-type" => "complex",
                _ => "resource",
            };
            (k, base.clone(), abstract_, regex.clone())
        } else {
            ("backbone", None, false, None)
        };
        out.insert(
            group,
            json!({
                "kind": group_kind,
                "base": group_base,
                "abstract": group_abstract,
                "regex": group_regex,
                "elements": elems,
            }),
        );
    }
}
