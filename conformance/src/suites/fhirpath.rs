//! `fhirpath`: the official FHIRPath suite for R4
//! (`fixtures/fhirpath-tests/fhir-test-cases/r4/fhirpath/tests-fhir-r4.xml`, 937 tests)
//! run in-process against `fhir_model::fhirpath`.
//!
//! The XML is authoritative for expressions and expectations; inputs are read as JSON
//! (the engine works on JSON): from `fhir-test-cases/r4/` when the suite names a JSON
//! file, else from the same stem in `fhirpath.js/test/resources/r4/`.
//!
//! How expectations are read:
//! - `invalid="syntax"`: parsing must fail; `invalid="semantic" | "execution" | "true"`:
//!   parsing or evaluation must fail.
//! - Otherwise each `<output type="t">v</output>` is one result item, in order unless
//!   the test says `ordered="false"`. Types compare without a `System.`/`FHIR.`
//!   namespace and case-insensitively; numbers compare by value (as FHIRPath `=` does);
//!   dates and times without their `@`/`@T` prefix; a Quantity as `value 'unit'`.
//! - `predicate="true"`: the result is reduced to whether it is non-empty.
//!

use std::path::{Path, PathBuf};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

use crate::error::read_text;
use crate::{Case, ConformanceError, SuiteConfig};

/// Where the official suite is, under `fixtures/`.
pub const SUITE_FILE: &str = "fhirpath-tests/fhir-test-cases/r4/fhirpath/tests-fhir-r4.xml";

/// One expected output item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The FHIRPath type, when the suite gives one.
    pub ty: Option<String>,
    /// The value's text.
    pub value: String,
}

/// One `<test>` of the suite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathTest {
    /// The enclosing `<group name>`.
    pub group: String,
    /// The test's `name`.
    pub name: String,
    /// The `inputfile`, if any.
    pub input: Option<String>,
    /// The expression.
    pub expression: String,
    /// `syntax`, `semantic`, `execution` or `true` when the expression must be rejected.
    pub invalid: Option<String>,
    /// `mode` (e.g. `strict`), on the test or its expression.
    pub mode: Option<String>,
    /// `predicate="true"`.
    pub predicate: bool,
    /// `false` when `ordered="false"`.
    pub ordered: bool,
    /// The expected outputs.
    pub outputs: Vec<Expected>,
}

/// Parses the suite XML. `<modeTest>`s (commented out in R4) and comments are ignored.
pub fn parse_suite(xml: &str) -> Result<Vec<PathTest>, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut tests = Vec::new();
    let mut group = String::new();
    let mut test: Option<PathTest> = None;
    // Which text the reader is inside: the expression or an output.
    let mut text: Option<String> = None;
    let mut output_ty: Option<Option<String>> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "group" => {
                group = attr(&e, "name")?.unwrap_or_default();
            }
            Event::Start(e) if e.name().as_ref() == "test" => {
                test = Some(PathTest {
                    group: group.clone(),
                    name: attr(&e, "name")?.unwrap_or_default(),
                    input: attr(&e, "inputfile")?,
                    mode: attr(&e, "mode")?,
                    predicate: attr(&e, "predicate")?.as_deref() == Some("true"),
                    ordered: attr(&e, "ordered")?.as_deref() != Some("false"),
                    ..PathTest::default()
                });
            }
            Event::Start(e) if e.name().as_ref() == "expression" => {
                if let Some(t) = test.as_mut() {
                    t.invalid = attr(&e, "invalid")?;
                    if let Some(mode) = attr(&e, "mode")? {
                        t.mode = Some(mode);
                    }
                }
                text = Some(String::new());
            }
            Event::Start(e) if e.name().as_ref() == "output" => {
                output_ty = Some(attr(&e, "type")?);
                text = Some(String::new());
            }
            Event::Empty(e) if e.name().as_ref() == "output" => {
                if let Some(t) = test.as_mut() {
                    t.outputs.push(Expected {
                        ty: attr(&e, "type")?,
                        value: String::new(),
                    });
                }
            }
            Event::Text(e) => {
                if let Some(s) = text.as_mut() {
                    s.push_str(&e.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Event::CData(e) => {
                if let Some(s) = text.as_mut() {
                    s.push_str(&e.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Event::GeneralRef(e) => {
                if let Some(s) = text.as_mut() {
                    if let Some(ch) = e.resolve_char_ref().map_err(|e| e.to_string())? {
                        s.push(ch);
                    } else {
                        let name = e.xml_content(XmlVersion::Implicit1_0);
                        let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?;
                        s.push_str(resolved);
                    }
                }
            }
            Event::End(e) if e.name().as_ref() == "expression" => {
                if let (Some(t), Some(s)) = (test.as_mut(), text.take()) {
                    t.expression = s;
                }
            }
            Event::End(e) if e.name().as_ref() == "output" => {
                if let (Some(t), Some(s), Some(ty)) = (test.as_mut(), text.take(), output_ty.take())
                {
                    t.outputs.push(Expected { ty, value: s });
                }
            }
            Event::End(e) if e.name().as_ref() == "test" => {
                tests.extend(test.take());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(tests)
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        if a.key.as_ref() == name {
            let v = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// The JSON form of a suite input file, if the fixtures have one.
pub fn input_json_path(fixtures: &Path, input: &str) -> Option<PathBuf> {
    let base = fixtures.join("fhirpath-tests");
    let stem = input.rsplit_once('.').map_or(input, |(s, _)| s);
    [
        base.join("fhir-test-cases/r4").join(format!("{stem}.json")),
        base.join("fhirpath.js/test/resources/r4")
            .join(format!("{stem}.json")),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// One case per `<test>`, named `fhirpath/<name>` (`fhirpath/<group>/<name>` where a
/// name repeats).
pub fn load(config: &SuiteConfig) -> Result<Vec<Case>, ConformanceError> {
    let path = config.fixtures.join(SUITE_FILE);
    let tests = parse_suite(&read_text(&path)?).map_err(|e| ConformanceError::fixture(&path, e))?;
    let mut inputs: std::collections::BTreeMap<String, Result<std::sync::Arc<Value>, String>> =
        Default::default();
    let mut cases = Vec::with_capacity(tests.len());
    for test in tests {
        let repeated = cases
            .iter()
            .any(|c: &Case| c.id == format!("fhirpath/{}", test.name));
        let id = if repeated {
            format!("fhirpath/{}/{}", test.group, test.name)
        } else {
            format!("fhirpath/{}", test.name)
        };
        let input = match &test.input {
            None => Ok(std::sync::Arc::new(Value::Null)),
            Some(file) => inputs
                .entry(file.clone())
                .or_insert_with(|| match input_json_path(&config.fixtures, file) {
                    Some(p) => crate::suites::read_json(&p)
                        .map(std::sync::Arc::new)
                        .map_err(|e| e.to_string()),
                    None => Err(format!("the fixtures have no JSON form of {file}")),
                })
                .clone(),
        };
        cases.push(match input {
            Err(reason) => Case::not_run(id, reason),
            Ok(input) => engine::case(id, test, input),
        });
    }
    Ok(cases)
}

/// Reading expected and actual values into comparable text.
pub mod values {
    use serde_json::Value;

    /// The type name without namespace, lower case.
    pub fn type_key(ty: &str) -> String {
        let t = ty
            .strip_prefix("System.")
            .or_else(|| ty.strip_prefix("FHIR."))
            .unwrap_or(ty);
        t.to_ascii_lowercase()
    }

    /// A number's text without trailing fractional zeros (`1.50` → `1.5`, `2.0` → `2`).
    pub fn number_key(text: &str) -> String {
        let t = text.trim();
        if t.contains(['e', 'E']) {
            return t
                .parse::<f64>()
                .map(|f| f.to_string())
                .unwrap_or_else(|_| t.to_owned());
        }
        let mut s = t.trim_start_matches('+').to_owned();
        if s.contains('.') {
            while s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
        }
        if s == "-0" { "0".into() } else { s }
    }

    /// The expected value of type `ty` as comparable text.
    pub fn expected_key(ty: Option<&str>, value: &str) -> String {
        let ty = ty.map(type_key);
        match ty.as_deref() {
            Some("integer" | "decimal") => number_key(value),
            Some("date" | "datetime" | "time") => temporal_key(value),
            Some("quantity") => match value.trim().split_once(' ') {
                Some((v, unit)) => {
                    format!("{} '{}'", number_key(v), unit.trim().trim_matches('\''))
                }
                None => number_key(value),
            },
            // Untyped outputs (the boundary tests) say their type by their form.
            None if value.trim().starts_with('@') => temporal_key(value),
            None if value.trim().ends_with('\'') => expected_key(Some("Quantity"), value),
            None if value.trim().parse::<f64>().is_ok() => number_key(value),
            _ => value.to_owned(),
        }
    }

    fn temporal_key(v: &str) -> String {
        let v = v.trim().trim_start_matches('@');
        v.strip_prefix('T').unwrap_or(v).to_owned()
    }

    /// An engine item's JSON value, read according to its type, as comparable text.
    pub fn actual_key(ty: &str, value: &Value) -> String {
        let ty = type_key(ty);
        match value {
            Value::Number(n) => number_key(&n.to_string()),
            Value::String(s) if matches!(ty.as_str(), "date" | "datetime" | "time") => {
                temporal_key(s)
            }
            Value::String(s) if matches!(ty.as_str(), "integer" | "decimal") => number_key(s),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Object(o) if ty == "quantity" || o.contains_key("value") && o.len() <= 4 => {
                let v = o
                    .get("value")
                    .map(|v| number_key(&v.to_string().replace('"', "")))
                    .unwrap_or_default();
                match o
                    .get("code")
                    .or_else(|| o.get("unit"))
                    .and_then(Value::as_str)
                {
                    Some(unit) => format!("{v} '{unit}'"),
                    None => v,
                }
            }
            other => other.to_string(),
        }
    }
}

mod engine {
    //! The runner proper, against `fhir_model::fhirpath`.

    use std::sync::Arc;

    use serde_json::Value;

    use super::values::{actual_key, expected_key, type_key};
    use super::{Expected, PathTest};
    use crate::{Case, Failure};

    pub(super) fn case(id: String, test: PathTest, input: Arc<Value>) -> Case {
        Case::local(id, move || check(&test, &input))
    }

    fn describe(test: &PathTest) -> String {
        let mut s = format!(
            "expression: {}\ninput: {}",
            test.expression.trim(),
            test.input.as_deref().unwrap_or("(none)")
        );
        if let Some(mode) = &test.mode {
            s.push_str(&format!("\nmode: {mode}"));
        }
        s
    }

    fn expected_text(test: &PathTest) -> String {
        if let Some(kind) = &test.invalid {
            return format!("an error ({kind})");
        }
        let items: Vec<String> = test
            .outputs
            .iter()
            .map(|o| format!("{} {}", o.ty.as_deref().unwrap_or("?"), o.value))
            .collect();
        format!(
            "[{}]{}",
            items.join(", "),
            if test.ordered { "" } else { " in any order" }
        )
    }

    /// Runs one test.
    pub fn check(test: &PathTest, input: &Value) -> Result<(), Failure> {
        let fail = |actual: String| Failure::new(describe(test), expected_text(test), actual);
        let parsed = fhir_model::fhirpath::parse(&test.expression);
        let expr = match (parsed, test.invalid.as_deref()) {
            (Err(_), Some(_)) => return Ok(()),
            (Err(e), None) => return Err(fail(format!("parse error: {e}"))),
            (Ok(_), Some("syntax")) => return Err(fail("parsed without error".into())),
            (Ok(expr), _) => expr,
        };
        let items = match (expr.evaluate(input), test.invalid.as_deref()) {
            (Err(_), Some(_)) => return Ok(()),
            (Err(e), None) => return Err(fail(format!("evaluation error: {e}"))),
            (Ok(items), Some(_)) => {
                let got: Vec<String> = items
                    .iter()
                    .map(|i| format!("{} {}", i.type_name(), i.to_json()))
                    .collect();
                return Err(fail(format!("no error; result [{}]", got.join(", "))));
            }
            (Ok(items), None) => items,
        };
        let mut actual: Vec<(String, String)> = if test.predicate {
            vec![("boolean".into(), (!items.is_empty()).to_string())]
        } else {
            items
                .iter()
                .map(|i| {
                    (
                        type_key(&i.type_name()),
                        actual_key(&i.type_name(), &i.to_json()),
                    )
                })
                .collect()
        };
        let mut expected: Vec<(Option<String>, String)> = test
            .outputs
            .iter()
            .map(|Expected { ty, value }| {
                (
                    ty.as_deref().map(type_key),
                    expected_key(ty.as_deref(), value),
                )
            })
            .collect();
        if !test.ordered {
            actual.sort_by(|a, b| a.1.cmp(&b.1));
            expected.sort_by(|a, b| a.1.cmp(&b.1));
        }
        let matches = actual.len() == expected.len()
            && actual
                .iter()
                .zip(&expected)
                .all(|((aty, av), (ety, ev))| av == ev && ety.as_ref().is_none_or(|t| t == aty));
        if matches {
            Ok(())
        } else {
            let got: Vec<String> = actual.iter().map(|(t, v)| format!("{t} {v}")).collect();
            Err(fail(format!("[{}]", got.join(", "))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::values::*;
    use super::*;

    #[test]
    fn parses_the_official_suite() {
        let path = SuiteConfig::default_fixtures().join(SUITE_FILE);
        let tests = parse_suite(&read_text(&path).unwrap()).unwrap();
        assert_eq!(
            tests.len(),
            935,
            "937 <test> elements less the 2 inside comments"
        );
        let lt = tests
            .iter()
            .find(|t| t.name == "testLiteralIntegerLessThanTrue")
            .unwrap();
        assert_eq!(lt.expression, "1 < 2");
        assert_eq!(
            lt.outputs,
            vec![Expected {
                ty: Some("boolean".into()),
                value: "true".into()
            }]
        );
        let invalid = tests.iter().find(|t| t.name == "testComment7").unwrap();
        assert_eq!(invalid.invalid.as_deref(), Some("syntax"));
        let unordered = tests.iter().find(|t| t.name == "testExpressions").unwrap();
        assert!(!unordered.ordered);
        let html = tests.iter().find(|t| t.name == "testEscapeHtml").unwrap();
        assert_eq!(html.outputs[0].value, "&quot;1&lt;2&quot;");
        let strict = tests.iter().find(|t| t.name == "testSimpleFail").unwrap();
        assert_eq!(
            (strict.mode.as_deref(), strict.invalid.as_deref()),
            (Some("strict"), Some("semantic"))
        );
        assert!(tests.iter().all(|t| !t.expression.is_empty()));
    }

    #[test]
    fn every_input_has_a_json_form_and_every_case_is_loaded() {
        let config = SuiteConfig {
            fixtures: SuiteConfig::default_fixtures(),
            body_limit: None,
            run_pending: false,
        };
        let cases = load(&config).unwrap();
        assert_eq!(cases.len(), 935);
        let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 935, "case ids are unique");
        for c in &cases {
            if let crate::Run::NotRun(reason) = &c.run {
                assert!(!reason.contains("no JSON form"), "{}: {reason}", c.id);
            }
        }
    }

    #[test]
    fn values_compare_by_meaning() {
        assert_eq!(type_key("System.Boolean"), "boolean");
        assert_eq!(type_key("FHIR.dateTime"), "datetime");
        assert_eq!(expected_key(Some("decimal"), "1"), number_key("1.0"));
        assert_eq!(
            expected_key(Some("date"), "@1974-12-25"),
            actual_key("date", &serde_json::json!("1974-12-25"))
        );
        assert_eq!(
            expected_key(Some("time"), "@T12:30"),
            actual_key("time", &serde_json::json!("12:30"))
        );
        assert_eq!(
            expected_key(Some("Quantity"), "1 '1'"),
            actual_key(
                "Quantity",
                &serde_json::json!({"value": 1, "code": "1", "system": "http://unitsofmeasure.org"})
            )
        );
        assert_ne!(
            expected_key(Some("integer"), "4"),
            actual_key("integer", &serde_json::json!(5))
        );
    }
}
