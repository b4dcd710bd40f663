//! One test per validation rule: what is refused, with which issue, at which path.

use fhir_model::format::{Format, parse_resource};
use fhir_model::validate::{ParseMode, validate};
use fhir_model::{IssueType, ModelError, Severity};
use serde_json::{Value, json};

/// Validates `resource` strictly and compares `(code, expression, diagnostics)` of every
/// issue with `expected` (`None` = valid).
fn check(resource: Value, expected: &[(IssueType, &str, &str)]) {
    let mut r = resource;
    match validate(&mut r, ParseMode::Strict) {
        Ok(warnings) => {
            assert!(warnings.is_empty(), "{warnings:?}");
            assert!(expected.is_empty(), "valid, but expected {expected:?}");
        }
        Err(e) => {
            let got: Vec<(IssueType, String, String)> = e
                .issues()
                .into_iter()
                .map(|i| {
                    assert_eq!(i.severity, Severity::Error);
                    (i.code, i.expression.unwrap_or_default(), i.diagnostics)
                })
                .collect();
            let want: Vec<(IssueType, String, String)> = expected
                .iter()
                .map(|(c, p, d)| (*c, p.to_string(), d.to_string()))
                .collect();
            assert_eq!(got, want);
        }
    }
}

fn obs(extra: Value) -> Value {
    let mut o =
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "weight"}});
    o.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    o
}

#[test]
fn a_minimal_observation_is_valid() {
    check(
        obs(json!({"valueQuantity": {"value": 72.50, "unit": "kg"}})),
        &[],
    );
}

#[test]
fn unknown_element() {
    check(
        obs(json!({"foo": 1})),
        &[(
            IssueType::Structure,
            "Observation.foo",
            "Unknown element 'foo'",
        )],
    );
    check(
        obs(
            json!({"component": [{"code": {"text": "a"}}, {"code": {"text": "b", "coding": [{"sytem": "x"}]}}]}),
        ),
        &[(
            IssueType::Structure,
            "Observation.component[1].code.coding[0].sytem",
            "Unknown element 'sytem'",
        )],
    );
    // resourceType belongs to resources only.
    check(
        obs(json!({"code": {"resourceType": "CodeableConcept", "text": "w"}})),
        &[(
            IssueType::Structure,
            "Observation.code.resourceType",
            "Unknown element 'resourceType'",
        )],
    );
    // A choice name with a type the element does not allow.
    check(
        obs(json!({"valueMoney": {"value": 1}})),
        &[(
            IssueType::Structure,
            "Observation.valueMoney",
            "Unknown element 'valueMoney'",
        )],
    );
}

#[test]
fn array_or_single() {
    check(
        json!({"resourceType": "Patient", "name": {"family": "Doe"}}),
        &[(
            IssueType::Structure,
            "Patient.name",
            "Element 'name' repeats, so it must be an array",
        )],
    );
    check(
        json!({"resourceType": "Patient", "gender": ["male"]}),
        &[(
            IssueType::Structure,
            "Patient.gender",
            "Element 'gender' must be a single value, not an array",
        )],
    );
}

#[test]
fn json_kinds_of_primitives() {
    check(
        json!({"resourceType": "Patient", "active": "true"}),
        &[(
            IssueType::Structure,
            "Patient.active",
            "Element 'active' (boolean) must be a JSON boolean",
        )],
    );
    check(
        obs(json!({"valueQuantity": {"value": "72.5"}})),
        &[(
            IssueType::Structure,
            "Observation.value.ofType(Quantity).value",
            "Element 'value' (decimal) must be a JSON number",
        )],
    );
    check(
        json!({"resourceType": "Patient", "multipleBirthInteger": 1.5}),
        &[(
            IssueType::Value,
            "Patient.multipleBirth.ofType(integer)",
            "Element 'multipleBirthInteger' must be an integer in range (integer)",
        )],
    );
    check(
        json!({"resourceType": "Patient", "multipleBirthInteger": 2147483648_i64}),
        &[(
            IssueType::Value,
            "Patient.multipleBirth.ofType(integer)",
            "Element 'multipleBirthInteger' must be an integer in range (integer)",
        )],
    );
    check(
        json!({"resourceType": "Patient", "birthDate": 1970}),
        &[(
            IssueType::Structure,
            "Patient.birthDate",
            "Element 'birthDate' (date) must be a JSON string",
        )],
    );
    check(
        json!({"resourceType": "Patient", "name": [{"family": {"text": "x"}}]}),
        &[(
            IssueType::Structure,
            "Patient.name[0].family",
            "Element 'family' (string) must be a JSON string",
        )],
    );
    check(
        json!({"resourceType": "Patient", "maritalStatus": "M"}),
        &[(
            IssueType::Structure,
            "Patient.maritalStatus",
            "Element 'maritalStatus' must be a JSON object",
        )],
    );
    // positiveInt and unsignedInt ranges.
    check(
        json!({"resourceType": "Patient", "photo": [{"size": -1}]}),
        &[(
            IssueType::Value,
            "Patient.photo[0].size",
            "Element 'size' must be an integer in range (unsignedInt)",
        )],
    );
    check(
        json!({"resourceType": "Patient", "photo": [{"size": 0}]}),
        &[],
    );
}

#[test]
fn primitive_formats() {
    let bad = |field: &str, value: Value, ty: &str| {
        check(
            json!({"resourceType": "Patient", field: value}),
            &[(
                IssueType::Value,
                &format!("Patient.{}", field.replace("DateTime", ".ofType(dateTime)")),
                &format!("Element '{field}' is not a valid {ty}"),
            )],
        )
    };
    bad("birthDate", json!("yesterday"), "date");
    bad("birthDate", json!("1970-13-01"), "date");
    bad("birthDate", json!("1970-01-01T10:00:00Z"), "date");
    bad("deceasedDateTime", json!("2020-01-01T10:00"), "dateTime");
    bad("id", json!("a b"), "id");
    bad("id", json!("x".repeat(65)), "id");
    bad("gender", json!("not a code "), "code");
    bad("implicitRules", json!("http://a b"), "uri");
    check(
        json!({"resourceType": "Patient", "meta": {"lastUpdated": "2020-01-01"}}),
        &[(
            IssueType::Value,
            "Patient.meta.lastUpdated",
            "Element 'lastUpdated' is not a valid instant",
        )],
    );
    check(
        json!({"resourceType": "Patient", "photo": [{"data": "not base64!"}]}),
        &[(
            IssueType::Value,
            "Patient.photo[0].data",
            "Element 'data' is not a valid base64Binary",
        )],
    );
    check(
        json!({"resourceType": "Patient", "identifier": [{"system": "urn:oid:1.2.x"}]}),
        &[],
    );
    // Every valid partial date/time form.
    for ok in [
        "2020",
        "2020-02",
        "2020-02-29",
        "2020-02-29T10:00:00Z",
        "2020-02-29T10:00:00.123+14:00",
    ] {
        check(
            json!({"resourceType": "Patient", "deceasedDateTime": ok}),
            &[],
        );
    }
    check(
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "t"}, "valueTime": "25:00:00"}),
        &[(
            IssueType::Value,
            "Observation.value.ofType(time)",
            "Element 'valueTime' is not a valid time",
        )],
    );
}

#[test]
fn primitive_extensions() {
    // `_birthDate` alone, and aligned arrays with nulls, are fine.
    check(
        json!({"resourceType": "Patient", "_birthDate": {"extension": [{"url": "http://x", "valueBoolean": true}]},
               "name": [{"given": ["A", null], "_given": [null, {"id": "g2"}]}]}),
        &[],
    );
    check(
        json!({"resourceType": "Patient", "name": [{"given": ["A", null]}]}),
        &[(
            IssueType::Structure,
            "Patient.name[0].given[1]",
            "null in 'given' is only allowed where '_given' has an entry",
        )],
    );
    check(
        json!({"resourceType": "Patient", "name": [{"given": ["A", "B"], "_given": [null]}]}),
        &[(
            IssueType::Structure,
            "Patient.name[0].given",
            "'_given' must have as many entries as 'given' (1 ≠ 2)",
        )],
    );
    check(
        json!({"resourceType": "Patient", "_birthDate": {"foo": 1}}),
        &[(
            IssueType::Structure,
            "Patient.birthDate.foo",
            "Unknown element 'foo'",
        )],
    );
    check(
        json!({"resourceType": "Patient", "_birthDate": {"extension": [{"valueBoolean": true}]}}),
        &[(
            IssueType::Required,
            "Patient.birthDate.extension[0].url",
            "Missing required element 'url'",
        )],
    );
    // `_` only goes with primitives.
    check(
        json!({"resourceType": "Patient", "_name": [{"id": "x"}]}),
        &[(
            IssueType::Structure,
            "Patient._name",
            "Unknown element '_name'",
        )],
    );
    // A required primitive given only by its extension (data absent) counts as present.
    check(
        json!({"resourceType": "Observation", "_status": {"extension": [{"url": "http://x", "valueCode": "unknown"}]},
               "code": {"text": "t"}}),
        &[],
    );
}

#[test]
fn one_value_of_a_choice() {
    check(
        obs(json!({"valueString": "a", "valueBoolean": true})),
        &[(
            IssueType::Structure,
            "Observation.value",
            "Only one type of 'value[x]' is allowed, found 'valueString' and 'valueBoolean'",
        )],
    );
    check(
        obs(json!({"valueString": "a", "_valueString": {"id": "v"}})),
        &[],
    );
}

#[test]
fn required_elements() {
    check(
        json!({"resourceType": "Observation", "code": {"text": "weight"}}),
        &[(
            IssueType::Required,
            "Observation.status",
            "Missing required element 'status'",
        )],
    );
    check(
        json!({"resourceType": "Patient", "extension": [{"url": "http://x"}], "link": [{"type": "seealso"}]}),
        &[(
            IssueType::Required,
            "Patient.link[0].other",
            "Missing required element 'other'",
        )],
    );
}

#[test]
fn empty_values() {
    check(
        json!({"resourceType": "Patient", "gender": ""}),
        &[(
            IssueType::Value,
            "Patient.gender",
            "Empty string in 'gender' (leave the element out instead)",
        )],
    );
    check(
        json!({"resourceType": "Patient", "name": []}),
        &[(
            IssueType::Structure,
            "Patient.name",
            "Empty array in 'name' (leave the element out instead)",
        )],
    );
    check(
        json!({"resourceType": "Patient", "maritalStatus": {}}),
        &[(
            IssueType::Structure,
            "Patient.maritalStatus",
            "Empty object in 'maritalStatus' (leave the element out instead)",
        )],
    );
    check(
        json!({"resourceType": "Patient", "name": [{}]}),
        &[(
            IssueType::Structure,
            "Patient.name[0]",
            "Empty object in 'name' (leave the element out instead)",
        )],
    );
    check(
        json!({"resourceType": "Patient", "gender": null}),
        &[(
            IssueType::Structure,
            "Patient.gender",
            "Element 'gender' must not be null",
        )],
    );
}

#[test]
fn resource_type() {
    check(
        json!({"id": "x"}),
        &[(IssueType::Required, "", "Missing resourceType")],
    );
    check(
        json!({"resourceType": "Patients"}),
        &[(
            IssueType::Value,
            "resourceType",
            "Unknown resource type 'Patients'",
        )],
    );
    check(
        json!({"resourceType": "DomainResource"}),
        &[(
            IssueType::Value,
            "resourceType",
            "'DomainResource' is not a concrete resource type",
        )],
    );
    check(
        json!([{"resourceType": "Patient"}]),
        &[(IssueType::Structure, "", "A resource must be a JSON object")],
    );
}

#[test]
fn nested_resources_are_checked_by_their_own_type() {
    check(
        json!({"resourceType": "Patient", "contained": [{"resourceType": "Practitioner", "id": "p", "gender": "x y "}]}),
        &[(
            IssueType::Value,
            "Patient.contained[0].ofType(Practitioner).gender",
            "Element 'gender' is not a valid code",
        )],
    );
    check(
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Observation", "code": {"text": "x"}}}]}),
        &[(
            IssueType::Required,
            "Bundle.entry[0].resource.ofType(Observation).status",
            "Missing required element 'status'",
        )],
    );
    check(
        json!({"resourceType": "Parameters", "parameter": [{"name": "r", "resource": {"id": "x"}}]}),
        &[(
            IssueType::Required,
            "Parameters.parameter[0].resource",
            "Missing resourceType in 'resource'",
        )],
    );
}

#[test]
fn narrative_div() {
    check(
        json!({"resourceType": "Patient", "text": {"status": "generated", "div": "plain text"}}),
        &[(
            IssueType::Value,
            "Patient.text.div",
            "Element 'div' must be an XHTML <div> element",
        )],
    );
    check(
        json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}),
        &[],
    );
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    // Extensions of extensions: structurally valid all the way down, so only depth stops it.
    let mut ext = json!({"url": "http://x", "valueString": "leaf"});
    for _ in 0..200 {
        ext = json!({"url": "http://x", "extension": [ext]});
    }
    let mut r = json!({"resourceType": "Patient", "extension": [ext]});
    let e = validate(&mut r, ParseMode::Strict).unwrap_err();
    assert_eq!(e.issues().len(), 1);
    assert_eq!(e.issues()[0].code, IssueType::TooCostly);
    // Within the limit it is fine.
    let mut ext = json!({"url": "http://x", "valueString": "leaf"});
    for _ in 0..40 {
        ext = json!({"url": "http://x", "extension": [ext]});
    }
    check(json!({"resourceType": "Patient", "extension": [ext]}), &[]);
    // Through the parser: serde_json's own limit (128) and ours (100) both give TooCostly.
    for levels in [55, 5000] {
        let text = format!(
            "{{\"resourceType\":\"Patient\",\"extension\":{}{}{}}}",
            "[{\"url\":\"http://x\",\"extension\":".repeat(levels),
            "[{\"url\":\"http://x\",\"valueString\":\"y\"}]",
            "}]".repeat(levels)
        );
        let e = parse_resource(text.as_bytes(), Format::Json, ParseMode::Strict).unwrap_err();
        assert_eq!(e.issues()[0].code, IssueType::TooCostly, "{levels}: {e}");
    }
}

#[test]
fn duplicate_json_keys() {
    let e = parse_resource(
        br#"{"resourceType":"Patient","active":true,"active":false}"#,
        Format::Json,
        ParseMode::Strict,
    )
    .unwrap_err();
    let ModelError::Invalid(issues) = e else {
        panic!("{e:?}")
    };
    assert_eq!(issues[0].code, IssueType::Structure);
    assert_eq!(
        issues[0].diagnostics,
        "Duplicate JSON property 'active' at line 1 column 55"
    );
    // Also deep inside.
    assert!(
        parse_resource(
            br#"{"resourceType":"Patient","name":[{"family":"a","family":"b"}]}"#,
            Format::Json,
            ParseMode::Lenient
        )
        .is_err()
    );
}

#[test]
fn malformed_json() {
    let e = parse_resource(
        br#"{"resourceType":"Patient","active":tru}"#,
        Format::Json,
        ParseMode::Strict,
    )
    .unwrap_err();
    let ModelError::Syntax { format, message } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*format, "JSON");
    assert_eq!(message, "expected ident at line 1 column 39");
    let e = parse_resource(
        b"{\"resourceType\":\"Patient\",\n\"name\":\"secret",
        Format::Json,
        ParseMode::Strict,
    )
    .unwrap_err();
    let ModelError::Syntax { message, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        !message.contains("secret") && message.contains("line 2"),
        "{message}"
    );
    assert!(matches!(
        parse_resource(b"", Format::Json, ParseMode::Strict),
        Err(ModelError::Syntax { .. })
    ));
    assert!(matches!(
        parse_resource(b"{} x", Format::Json, ParseMode::Strict),
        Err(ModelError::Syntax { .. })
    ));
}

#[test]
fn malformed_and_invalid_xml() {
    let syntax = |xml: &[u8], expected: &str| {
        let e = parse_resource(xml, Format::Xml, ParseMode::Strict).unwrap_err();
        let ModelError::Syntax {
            format: "XML",
            message,
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(message, expected);
    };
    // fhirbolt alone would accept a truncated document.
    syntax(
        b"<Patient xmlns=\"http://hl7.org/fhir\"><active value=\"true\"/>",
        "unclosed element at end of document",
    );
    syntax(
        b"<Patient xmlns=\"http://hl7.org/fhir\"><active value=\"true\"></Patient>",
        "mismatched end tag at byte 58",
    );
    syntax(
        b"<Patient><active value=\"true\"/></Patient>",
        "invalid XML unbound namespace (expected 'http://hl7.org/fhir')",
    );
    syntax(b"not xml", "no root element");
    syntax(
        b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><Patient/>",
        "DOCTYPE declarations are not allowed",
    );
    let e = parse_resource(
        b"<Patient xmlns=\"http://hl7.org/fhir\"><foo value=\"1\"/></Patient>",
        Format::Xml,
        ParseMode::Strict,
    )
    .unwrap_err();
    let ModelError::Invalid(issues) = &e else {
        panic!("{e:?}")
    };
    assert!(
        issues[0]
            .diagnostics
            .starts_with("Invalid FHIR XML: unknown field `foo`"),
        "{issues:?}"
    );
    // Deep XML is refused before fhirbolt's recursive reader sees it.
    let deep = format!(
        "<Patient xmlns=\"http://hl7.org/fhir\">{}{}</Patient>",
        "<extension url=\"http://x\">".repeat(100_000),
        "</extension>".repeat(100_000)
    );
    let e = parse_resource(deep.as_bytes(), Format::Xml, ParseMode::Strict).unwrap_err();
    assert_eq!(e.issues()[0].code, IssueType::TooCostly);
    // A byte order mark is skipped in JSON.
    assert!(
        parse_resource(
            b"\xEF\xBB\xBF{\"resourceType\":\"Patient\"}",
            Format::Json,
            ParseMode::Strict
        )
        .is_ok()
    );
    // fhirbolt accepts an invalid date; our validator does not.
    let e = parse_resource(
        b"<Patient xmlns=\"http://hl7.org/fhir\"><birthDate value=\"yesterday\"/></Patient>",
        Format::Xml,
        ParseMode::Strict,
    )
    .unwrap_err();
    assert_eq!(
        e.issues()[0].expression.as_deref(),
        Some("Patient.birthDate")
    );
}

#[test]
fn lenient_mode_drops_unknown_elements_with_a_warning() {
    let text = br#"{"resourceType":"Patient","fhir_comments":["c"],"name":[{"family":"Doe","nickname":"D"}],"active":true}"#;
    assert!(parse_resource(text, Format::Json, ParseMode::Strict).is_err());
    let parsed = parse_resource(text, Format::Json, ParseMode::Lenient).unwrap();
    assert_eq!(
        parsed.resource,
        json!({"resourceType": "Patient", "name": [{"family": "Doe"}], "active": true})
    );
    let w: Vec<(Severity, Option<String>, String)> = parsed
        .warnings
        .into_iter()
        .map(|i| (i.severity, i.expression, i.diagnostics))
        .collect();
    assert_eq!(
        w,
        [
            (
                Severity::Warning,
                Some("Patient.fhir_comments".to_owned()),
                "Unknown element 'fhir_comments' removed (lenient mode)".to_owned()
            ),
            (
                Severity::Warning,
                Some("Patient.name[0].nickname".to_owned()),
                "Unknown element 'nickname' removed (lenient mode)".to_owned()
            ),
        ]
    );
    // Everything else is still an error in lenient mode.
    let e = parse_resource(
        br#"{"resourceType":"Patient","foo":1,"birthDate":"x"}"#,
        Format::Json,
        ParseMode::Lenient,
    )
    .unwrap_err();
    assert_eq!(e.issues().len(), 1);
    assert_eq!(
        e.issues()[0].expression.as_deref(),
        Some("Patient.birthDate")
    );
    // Removing the only element of an object leaves `{}`: still refused.
    let e = parse_resource(
        br#"{"resourceType":"Patient","maritalStatus":{"foo":1}}"#,
        Format::Json,
        ParseMode::Lenient,
    )
    .unwrap_err();
    assert_eq!(
        e.issues()[0].expression.as_deref(),
        Some("Patient.maritalStatus")
    );
}

#[test]
fn messages_never_echo_content() {
    let mut r = json!({"resourceType": "Patient", "id": "secret value", "birthDate": "secret",
                       "secret key with spaces": 1});
    let e = validate(&mut r, ParseMode::Strict).unwrap_err();
    for i in e.issues() {
        assert!(!i.diagnostics.contains("secret"), "{i}");
    }
}

#[test]
fn error_count_is_capped() {
    let items: Vec<Value> = (0..300).map(|_| json!({"foo": 1})).collect();
    let mut r = json!({"resourceType": "Patient", "name": items});
    let issues = validate(&mut r, ParseMode::Strict).unwrap_err().issues();
    assert_eq!(issues.len(), 101);
    assert_eq!(issues[100].diagnostics, "200 more errors not reported");
}

/// fhirbolt recurses with large frames (≈ 30 KB a level in a debug build): 48 nested
/// extensions, still valid, overflowed this 1 MB stack (and ~65 a 2 MB one, tokio's worker
/// default), aborting the process. Deep content now converts on a thread of its own, so
/// it is fine on a small stack, in both directions.
#[test]
fn deep_xml_is_converted_without_overflow_on_a_small_stack() {
    let xml = format!(
        "<Patient xmlns=\"http://hl7.org/fhir\">{}<valueString value=\"x\"/>{}</Patient>",
        "<extension url=\"http://x\">".repeat(48),
        "</extension>".repeat(48)
    );
    let result = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let parsed = parse_resource(xml.as_bytes(), Format::Xml, ParseMode::Strict)
                .map_err(|e| e.to_string())?;
            fhir_model::to_xml(&parsed.resource, true).map_err(|e| e.to_string())
        })
        .unwrap()
        .join()
        .unwrap();
    let xml = String::from_utf8(result.unwrap()).unwrap();
    assert_eq!(xml.matches("<extension").count(), 48);
}
