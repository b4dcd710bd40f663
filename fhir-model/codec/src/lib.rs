//! The one crate that instantiates fhirbolt.
//!
//! fhirbolt's serde code is monomorphised in whichever crate calls it, and that costs
//! minutes of compile time and gigabytes of memory. Keeping every call here, behind
//! non-generic `&[u8] -> Vec<u8>` functions in a crate that rarely changes, means the rest
//! of the workspace never re-instantiates it (see `ARCHITECTURE.md`).
//!
//! fhirbolt is only ever run in its `Strict` mode: its lenient modes loop forever on some
//! unknown array-valued fields. Leniency in HealthOS is a pre-pass of `fhir-model`.

use fhirbolt::model::r4::Resource;
use fhirbolt::serde::{DeserializationConfig, DeserializationMode, SerializationConfig};

/// Why a typed conversion failed. The message is fhirbolt's, which names the element.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

fn strict() -> Option<DeserializationConfig> {
    Some(DeserializationConfig {
        mode: DeserializationMode::Strict,
    })
}

fn ser_config() -> Option<SerializationConfig> {
    None
}

/// Parses one R4 resource in the XML format and writes it as FHIR JSON.
pub fn xml_to_json(xml: &[u8]) -> Result<Vec<u8>, CodecError> {
    let resource: Resource =
        fhirbolt::xml::from_slice(xml, strict()).map_err(|e| CodecError(e.to_string()))?;
    fhirbolt::json::to_vec(&resource, ser_config()).map_err(|e| CodecError(e.to_string()))
}

/// Parses one R4 resource in the JSON format and writes it as FHIR XML.
pub fn json_to_xml(json: &[u8]) -> Result<Vec<u8>, CodecError> {
    let resource: Resource =
        fhirbolt::json::from_slice(json, strict()).map_err(|e| CodecError(e.to_string()))?;
    fhirbolt::xml::to_vec(&resource, ser_config()).map_err(|e| CodecError(e.to_string()))
}

/// Parses one R4 resource in the JSON format through the typed model and writes it back
/// as JSON: a check that the content fits the R4 structures.
pub fn json_roundtrip(json: &[u8]) -> Result<Vec<u8>, CodecError> {
    let resource: Resource =
        fhirbolt::json::from_slice(json, strict()).map_err(|e| CodecError(e.to_string()))?;
    fhirbolt::json::to_vec(&resource, ser_config()).map_err(|e| CodecError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_and_json_round_trip_keeps_decimal_text() {
        let json = br#"{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueQuantity":{"value":1.50,"unit":"kg"}}"#;
        let xml = json_to_xml(json).unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        assert!(text.contains(r#"<value value="1.50"/>"#), "{text}");
        let back = xml_to_json(&xml).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&back).unwrap();
        assert_eq!(back["valueQuantity"]["value"].to_string(), "1.50");
    }

    #[test]
    fn unknown_element_is_an_error() {
        let json = br#"{"resourceType":"Patient","fhir_comments":["c"]}"#;
        assert!(json_roundtrip(json).is_err());
    }
}
