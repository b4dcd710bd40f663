//! µs per resource for `parse_resource(.., Json, Strict)` over the conformant Synthea
//! fixtures, against plain `serde_json` parsing as the floor. A plain timing loop (no
//! criterion) to keep the build cheap. Run in an optimised profile that leaves fhirbolt
//! unoptimised (the codec is linked but not timed, and optimising it costs ~9 minutes):
//!
//! ```text
//! cargo bench -p fhir-model --bench parse_validate --profile perf \
//!   --config 'profile.perf.inherits="release"' \
//!   --config 'profile.perf.package.fhir-codec.opt-level=0' \
//!   --config 'profile.perf.package.fhirbolt.opt-level=0' \
//!   --config 'profile.perf.package.fhirbolt-model.opt-level=0' \
//!   --config 'profile.perf.package.fhirbolt-serde.opt-level=0' \
//!   --config 'profile.perf.package.fhirbolt-element.opt-level=0'
//! ```

use std::path::Path;
use std::time::Instant;

use fhir_model::format::{Format, parse_resource};
use fhir_model::validate::{ParseMode, validate};
use serde_json::Value;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/synthea");
    let mut resources: Vec<Vec<u8>> = Vec::new();
    let mut dirs = vec![
        root.join("iris-fhir-template-synthea-2020"),
        root.join("synthea-bulk-ndjson-ktmtwm"),
    ];
    dirs.sort();
    for dir in dirs {
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for p in paths {
            match p.extension().and_then(|e| e.to_str()) {
                Some("ndjson") => {
                    let text = std::fs::read_to_string(&p).unwrap();
                    resources.extend(text.lines().map(|l| l.as_bytes().to_vec()));
                }
                Some("json") => {
                    let bundle: Value =
                        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                    for e in bundle["entry"].as_array().unwrap() {
                        resources.push(serde_json::to_vec(&e["resource"]).unwrap());
                    }
                }
                _ => {}
            }
        }
    }
    let bytes: usize = resources.iter().map(Vec::len).sum();
    println!(
        "{} resources, {:.1} MB, {} bytes on average",
        resources.len(),
        bytes as f64 / 1e6,
        bytes / resources.len()
    );

    // Warm up (compiles the model and regexes) and check everything passes.
    for r in &resources {
        parse_resource(r, Format::Json, ParseMode::Strict).expect("conformant Synthea");
    }
    let rounds = 5;
    let per = |label: &str, f: &dyn Fn(&[u8])| {
        let start = Instant::now();
        for _ in 0..rounds {
            for r in &resources {
                f(r);
            }
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / (rounds * resources.len()) as f64;
        println!(
            "{label:<40} {us:>7.2} µs/resource  {:>8.0} resources/s/core",
            1e6 / us
        );
    };
    per("serde_json::from_slice::<Value>", &|r| {
        std::hint::black_box(serde_json::from_slice::<Value>(r).unwrap());
    });
    per("parse_resource(Json, Strict)", &|r| {
        std::hint::black_box(parse_resource(r, Format::Json, ParseMode::Strict).unwrap());
    });
    let values: Vec<Value> = resources
        .iter()
        .map(|r| serde_json::from_slice(r).unwrap())
        .collect();
    let start = Instant::now();
    for _ in 0..rounds {
        for v in &values {
            let mut v = v.clone();
            std::hint::black_box(validate(&mut v, ParseMode::Strict).unwrap());
        }
    }
    let with_clone = start.elapsed();
    let start = Instant::now();
    for _ in 0..rounds {
        for v in &values {
            std::hint::black_box(v.clone());
        }
    }
    let clone_only = start.elapsed();
    let us = (with_clone.saturating_sub(clone_only)).as_secs_f64() * 1e6
        / (rounds * values.len()) as f64;
    println!(
        "{:<40} {us:>7.2} µs/resource  {:>8.0} resources/s/core",
        "validate only",
        1e6 / us
    );
}
