//! `examples`: every official R4 example resource (`fixtures/fhir-r4-examples`, the
//! `hl7.fhir.r4.examples@4.0.1` package) is created, read back and compared, once in
//! JSON and once in XML.
//!
//! The comparison ignores what the server owns (`id`, `meta.versionId`,
//! `meta.lastUpdated`, `meta.source`); everything else must come back exactly. For XML
//! the kit writes the example with `fhir_model::format::to_xml`, sends it as
//! `application/fhir+xml`, reads it back with `Accept: application/fhir+xml` and reads the
//! answer with `fhir_model::format::parse_resource`; the expectation is the model's own
//! JSON→XML→JSON round trip of the example, so a normalisation of the model's XML codec
//! is never blamed on the server.

use fhir_model::format::{Format, parse_resource, to_xml};
use fhir_model::validate::ParseMode;
use serde_json::Value;

use crate::client::{FHIR_JSON, FHIR_XML};
use crate::compare::resource_difference;
use crate::suites::{files_with_ext, read_json};
use crate::{Case, Client, ConformanceError, Failure, SuiteConfig};

/// One case per example and format.
pub fn load(config: &SuiteConfig) -> Result<Vec<Case>, ConformanceError> {
    let dir = config.fixtures.join("fhir-r4-examples");
    let mut json_cases = Vec::new();
    let mut xml_cases = Vec::new();
    for path in files_with_ext(&dir, "json")? {
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let example = read_json(&path)?;
        let Some(ty) = example["resourceType"].as_str().map(str::to_owned) else {
            return Err(ConformanceError::fixture(&path, "no resourceType"));
        };
        let sent = example.clone();
        let t = ty.clone();
        json_cases.push(Case::http(format!("examples/json/{stem}"), move |c| {
            Box::pin(json_round_trip(c, t.clone(), sent.clone()))
        }));
        let id = format!("examples/xml/{stem}");
        xml_cases.push(match codec_xml(&example) {
            Ok((xml, expected)) => Case::http(id, move |c| {
                Box::pin(xml_round_trip(c, ty.clone(), xml.clone(), expected.clone()))
            }),
            Err(e) => Case::not_run(id, format!("the kit cannot write this example as XML: {e}")),
        });
    }
    json_cases.append(&mut xml_cases);
    Ok(json_cases)
}

/// The example as XML, and the codec's JSON reading of that XML.
fn codec_xml(example: &Value) -> Result<(Vec<u8>, Value), String> {
    let xml = to_xml(example, false).map_err(|e| e.to_string())?;
    let expected =
        parse_resource(&xml, Format::Xml, ParseMode::Strict).map_err(|e| e.to_string())?;
    Ok((xml, expected.resource))
}

async fn json_round_trip(c: &Client, ty: String, sent: Value) -> Result<(), Failure> {
    let id = c.create(&sent).await?;
    let ex = c.get(&format!("{ty}/{id}")).send().await?;
    ex.expect_status(&[200])?;
    ex.expect_fhir_json()?;
    let back = ex.resource(&ty)?;
    match resource_difference(&sent, &back) {
        None => Ok(()),
        Some(d) => Err(ex.fail_with(
            "the example as created, apart from id and server-set meta",
            d,
        )),
    }
}

async fn xml_round_trip(
    c: &Client,
    ty: String,
    xml: Vec<u8>,
    expected: Value,
) -> Result<(), Failure> {
    let created = c
        .request(reqwest::Method::POST, &ty)
        .header("Accept", FHIR_XML)
        .body(xml, FHIR_XML)
        .send()
        .await?;
    created.expect_status(&[201])?;
    let id = created.created_id(&ty)?;
    let ex = c
        .get(&format!("{ty}/{id}"))
        .header("Accept", FHIR_XML)
        .send()
        .await?;
    ex.expect_status(&[200])?;
    ex.ensure(
        ex.media_type().as_deref() == Some(FHIR_XML),
        format!("Content-Type {FHIR_XML}"),
    )?;
    let back = parse_resource(&ex.body, Format::Xml, ParseMode::Strict)
        .map_err(|e| ex.fail_with("an R4 resource in XML", e.to_string()))?
        .resource;
    match resource_difference(&expected, &back) {
        None => Ok(()),
        Some(d) => Err(ex.fail_with(
            format!("the example as created in XML, apart from id and server-set meta (compared as {FHIR_JSON})"),
            d,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_has_a_json_and_an_xml_case() {
        let config = SuiteConfig {
            fixtures: SuiteConfig::default_fixtures(),
            body_limit: None,
            run_pending: false,
        };
        let cases = load(&config).unwrap();
        assert_eq!(cases.len(), 2 * 467);
        assert!(
            cases
                .iter()
                .any(|c| c.id == "examples/json/Patient-example")
        );
        assert!(cases.iter().any(|c| c.id == "examples/xml/Patient-example"));
    }

    #[test]
    fn codec_round_trip_keeps_the_example() {
        let example = serde_json::json!({"resourceType": "Patient", "id": "x", "active": true});
        let (xml, expected) = codec_xml(&example).unwrap();
        assert!(
            String::from_utf8(xml)
                .unwrap()
                .contains("<active value=\"true\"/>")
        );
        assert_eq!(resource_difference(&example, &expected), None);
    }
}
