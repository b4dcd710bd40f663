//! Every official R4 example can be created and read back equal to what was sent (apart
//! from the `id` and `meta.versionId`/`meta.lastUpdated` the server sets), in JSON and XML.

use reqwest::Method;
use serde_json::Value;

use crate::backend_test;
use crate::support::TestServer;

/// Examples excluded, each with the reason. The test fails if one of them passes.
const EXCLUDED: &[(&str, &str)] = &[(
    "Questionnaire-qs1.json",
    "not a valid R4 resource: its nested items have no linkId, which Questionnaire.item.linkId (1..1) requires",
)];

fn strip_server_fields(mut v: Value) -> Value {
    if let Some(obj) = v.as_object_mut() {
        obj.shift_remove("id");
        let empty_meta = match obj.get_mut("meta").and_then(Value::as_object_mut) {
            Some(meta) => {
                meta.shift_remove("versionId");
                meta.shift_remove("lastUpdated");
                meta.is_empty()
            }
            None => false,
        };
        if empty_meta {
            obj.shift_remove("meta");
        }
    }
    v
}

async fn roundtrip(s: &TestServer, original: &Value, xml: bool) -> Result<(), String> {
    let ty = original["resourceType"].as_str().unwrap();
    // In XML, what was sent is the XML document; its JSON reading is what must come back.
    // (XML drops whitespace-only text inside the narrative `div`, so it is not the JSON
    // original byte for byte.)
    let (ct, body, expected) = if xml {
        let body =
            fhir_model::format::to_xml(original, false).map_err(|e| format!("to_xml: {e}"))?;
        let expected = fhir_model::format::parse_resource(
            &body,
            fhir_model::format::Format::Xml,
            Default::default(),
        )
        .map_err(|e| format!("our own XML does not parse: {e}"))?
        .resource;
        ("application/fhir+xml", body, expected)
    } else {
        (
            "application/fhir+json",
            serde_json::to_vec(original).unwrap(),
            original.clone(),
        )
    };
    let r = s
        .request(Method::POST, ty)
        .header("content-type", ct)
        .header("prefer", "return=minimal")
        .body(body)
        .send()
        .await
        .unwrap();
    if r.status() != 201 {
        return Err(format!(
            "create {}: {}",
            r.status(),
            r.text().await.unwrap()
        ));
    }
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let read: Value = s
        .client
        .get(location.split("/_history").next().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (a, b) = (strip_server_fields(expected), strip_server_fields(read));
    if a != b {
        return Err(format!("read back differs:\n sent {a}\n read {b}"));
    }
    Ok(())
}

async fn every_official_example_round_trips(s: &TestServer) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/fhir-r4-examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut passed, mut failures, mut excluded_passing) = (0, vec![], vec![]);
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let original: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let result = match roundtrip(s, &original, false).await {
            Ok(()) => roundtrip(s, &original, true).await,
            Err(e) => Err(e),
        };
        let excluded = EXCLUDED.iter().any(|(n, _)| *n == name);
        match (result, excluded) {
            (Ok(()), false) => passed += 1,
            (Ok(()), true) => excluded_passing.push(name.to_owned()),
            (Err(e), false) => failures.push(format!("{name}: {e}")),
            (Err(_), true) => {}
        }
    }
    println!(
        "official examples: {} files, {passed} round-trip in JSON and XML, {} excluded",
        files.len(),
        EXCLUDED.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        excluded_passing.is_empty(),
        "excluded examples now pass, remove them from EXCLUDED: {excluded_passing:?}"
    );
    assert_eq!(passed + EXCLUDED.len(), files.len());
}
backend_test!(examples_case, every_official_example_round_trips);
