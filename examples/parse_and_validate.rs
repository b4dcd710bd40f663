//! Parse a FHIR resource strictly, see the element path of a problem, and convert to XML.
//!
//! `cargo run -p healthos-examples --example parse_and_validate`

use fhir_model::format::{Format, parse_resource, to_xml};
use fhir_model::validate::ParseMode;

fn main() -> anyhow::Result<()> {
    let good = br#"{"resourceType":"Observation","status":"final","code":{"text":"Body weight"},
                    "valueQuantity":{"value":70.50,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}"#;
    let parsed = parse_resource(good, Format::Json, ParseMode::Strict)?;
    println!(
        "valid; the decimal keeps its text: {}",
        parsed.resource["valueQuantity"]["value"]
    );
    println!("{}", String::from_utf8(to_xml(&parsed.resource, true)?)?);

    let bad =
        br#"{"resourceType":"Observation","status":"final","code":{"text":"x","colour":"red"}}"#;
    match parse_resource(bad, Format::Json, ParseMode::Strict) {
        Ok(_) => println!("unexpectedly valid"),
        Err(e) => {
            for issue in e.issues() {
                println!("strict: {issue}");
            }
        }
    }
    let lenient = parse_resource(bad, Format::Json, ParseMode::Lenient)?;
    for w in &lenient.warnings {
        println!("lenient warning: {w}");
    }
    Ok(())
}
