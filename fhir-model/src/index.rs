//! Search index values: what each search parameter of a resource's type finds in it,
//! normalised so the store can match searches with plain comparisons (a lower-cased,
//! accent-free string; a token's system and code; a date as an inclusive UTC range).
//!
//! This runs for every stored resource, so every expression is parsed once per type and
//! cached, and the lookup by type is one map access.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::definitions::is_resource_type;
use crate::fhirpath::value::{Temporal, format_instant_millis};
use crate::fhirpath::{Expression, Item, parse};
use crate::search_params::{SearchParam, SearchParamKind, search_params_for};

/// One value of one search parameter found in a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The parameter code (`identifier`, `name`, `_lastUpdated`).
    pub param: String,
    /// The normalised value.
    pub value: IndexValue,
}

/// A normalised search value, by parameter type.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    /// [string](https://hl7.org/fhir/R4/search.html#string) parameters.
    String {
        /// Lower-cased with accents stripped, for the default (prefix) and `:contains`.
        normalized: String,
        /// As written, for `:exact`.
        exact: String,
    },
    /// [token](https://hl7.org/fhir/R4/search.html#token) parameters.
    Token {
        /// The code system / identifier system / ContactPoint system.
        system: Option<String>,
        /// The code / identifier value / ContactPoint value / boolean.
        code: Option<String>,
        /// Display text (`:text`): CodeableConcept.text, Coding.display, Identifier.type.text.
        text: Option<String>,
    },
    /// [reference](https://hl7.org/fhir/R4/search.html#reference) parameters.
    Reference {
        /// The target type when the reference names one (`Patient/1`).
        target_type: Option<String>,
        /// The target id when the reference names one.
        target_id: Option<String>,
        /// The reference as written (relative or absolute; canonical URLs as given).
        url: String,
    },
    /// [date](https://hl7.org/fhir/R4/search.html#date) parameters: the inclusive instant
    /// range the value covers, as `YYYY-MM-DDThh:mm:ss.sssZ`.
    Date {
        /// First instant.
        start: String,
        /// Last instant.
        end: String,
    },
    /// [number](https://hl7.org/fhir/R4/search.html#number) parameters.
    Number {
        /// The value.
        value: f64,
        /// Its text, for precision-aware matching.
        text: String,
    },
    /// [quantity](https://hl7.org/fhir/R4/search.html#quantity) parameters.
    Quantity {
        /// The value.
        value: f64,
        /// The unit system (UCUM for most).
        system: Option<String>,
        /// The coded unit.
        code: Option<String>,
        /// The human unit.
        unit: Option<String>,
    },
    /// [uri](https://hl7.org/fhir/R4/search.html#uri) parameters.
    Uri(String),
}

/// The lowest and highest instants used for open Period ends.
const MIN_INSTANT: &str = "0001-01-01T00:00:00.000Z";
const MAX_INSTANT: &str = "9999-12-31T23:59:59.999Z";

type Compiled = Vec<(&'static SearchParam, Expression)>;

/// The parsed expressions of every search parameter of a type (parameters without an
/// expression, composites and specials are not indexed here).
fn compiled(resource_type: &str) -> Option<&'static Compiled> {
    static CACHE: OnceLock<HashMap<&'static str, Compiled>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            crate::definitions::resource_types()
                .iter()
                .map(|ty| {
                    let exprs = search_params_for(ty)
                        .into_iter()
                        .filter(|p| {
                            !matches!(
                                p.kind,
                                SearchParamKind::Composite | SearchParamKind::Special
                            )
                        })
                        .filter_map(|p| Some((p, parse(p.expression.as_deref()?).ok()?)))
                        .collect();
                    (*ty, exprs)
                })
                .collect()
        })
        .get(resource_type)
}

/// Evaluates every search parameter of the resource's type and returns the normalised
/// values (none for an unknown type). Expressions that fail on this resource are skipped.
///
/// ```
/// use fhir_model::index::{extract_index_values, IndexValue};
/// let p = serde_json::json!({"resourceType": "Patient", "id": "1",
///     "name": [{"family": "Chalmérs", "given": ["Peter"]}]});
/// let entries = extract_index_values(&p);
/// assert!(entries.iter().any(|e| e.param == "family"
///     && e.value == IndexValue::String { normalized: "chalmers".into(), exact: "Chalmérs".into() }));
/// ```
pub fn extract_index_values(resource: &Value) -> Vec<IndexEntry> {
    let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
        return Vec::new();
    };
    if !is_resource_type(ty) {
        return Vec::new();
    }
    let Some(exprs) = compiled(ty) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (param, expr) in exprs {
        let Ok(items) = expr.evaluate(resource) else {
            continue;
        };
        for item in &items {
            let mut push = |value| {
                out.push(IndexEntry {
                    param: param.code.clone(),
                    value,
                })
            };
            values_of(param.kind, item, &mut push);
        }
    }
    out
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn values_of(kind: SearchParamKind, item: &Item<'_>, push: &mut dyn FnMut(IndexValue)) {
    // Borrow the node where possible: this runs for every value of every stored resource.
    let owned_ty;
    let ty: &str = match item.model_type() {
        Some(t) if !t.contains('.') => t,
        _ => {
            owned_ty = item.type_name();
            &owned_ty
        }
    };
    let owned_json;
    let json: &Value = match item.json() {
        Some(j) => j,
        None => {
            owned_json = item.to_json();
            &owned_json
        }
    };
    match kind {
        SearchParamKind::String => match ty {
            "HumanName" => {
                for key in ["family", "text"] {
                    if let Some(v) = json.get(key).and_then(Value::as_str) {
                        push(string_value(v));
                    }
                }
                for key in ["given", "prefix", "suffix"] {
                    for v in json
                        .get(key)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        push(string_value(v));
                    }
                }
            }
            "Address" => {
                for v in json
                    .get("line")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    push(string_value(v));
                }
                for key in ["city", "district", "state", "postalCode", "country", "text"] {
                    if let Some(v) = json.get(key).and_then(Value::as_str) {
                        push(string_value(v));
                    }
                }
            }
            _ => {
                if let Some(v) = json.as_str() {
                    push(string_value(v));
                }
            }
        },
        SearchParamKind::Token => match ty {
            "Coding" => push(coding(json, None)),
            "CodeableConcept" => {
                let text = s(json, "text");
                let codings = json.get("coding").and_then(Value::as_array);
                for c in codings.into_iter().flatten() {
                    push(coding(c, text.clone()));
                }
                if codings.is_none_or(Vec::is_empty) && text.is_some() {
                    push(IndexValue::Token {
                        system: None,
                        code: None,
                        text,
                    });
                }
            }
            "Identifier" => push(IndexValue::Token {
                system: s(json, "system"),
                code: s(json, "value"),
                text: json.get("type").and_then(|t| s(t, "text")),
            }),
            "ContactPoint" => push(IndexValue::Token {
                system: s(json, "system"),
                code: s(json, "value"),
                text: None,
            }),
            _ => {
                if let Some(code) = item.as_string().filter(|_| !json.is_object()) {
                    push(IndexValue::Token {
                        system: None,
                        code: Some(code),
                        text: None,
                    });
                }
            }
        },
        SearchParamKind::Reference => {
            let url = match ty {
                "Reference" => s(json, "reference"),
                _ => json.as_str().map(str::to_owned),
            };
            if let Some(url) = url.filter(|u| !u.starts_with('#')) {
                let (target_type, target_id) = split_reference(&url);
                push(IndexValue::Reference {
                    target_type,
                    target_id,
                    url,
                });
            }
        }
        SearchParamKind::Date => date_values(ty, json, push),
        SearchParamKind::Number => {
            if let Value::Number(n) = json {
                let text = n.to_string();
                if let Ok(value) = text.parse() {
                    push(IndexValue::Number { value, text });
                }
            }
        }
        SearchParamKind::Quantity => {
            let value = json
                .get("value")
                .and_then(|v| v.to_string().parse::<f64>().ok());
            if let Some(value) = value {
                if ty == "Money" {
                    push(IndexValue::Quantity {
                        value,
                        system: Some("urn:iso:std:iso:4217".into()),
                        code: s(json, "currency"),
                        unit: None,
                    });
                } else {
                    push(IndexValue::Quantity {
                        value,
                        system: s(json, "system"),
                        code: s(json, "code"),
                        unit: s(json, "unit"),
                    });
                }
            }
        }
        SearchParamKind::Uri => {
            if let Some(u) = json.as_str() {
                push(IndexValue::Uri(u.to_owned()));
            }
        }
        SearchParamKind::Composite | SearchParamKind::Special => {}
    }
}

fn coding(c: &Value, text: Option<String>) -> IndexValue {
    IndexValue::Token {
        system: s(c, "system"),
        code: s(c, "code"),
        text: text.or_else(|| s(c, "display")),
    }
}

/// `Patient/1`, `http://x/fhir/Patient/1/_history/2` → (`Patient`, `1`).
fn split_reference(url: &str) -> (Option<String>, Option<String>) {
    let url = url.split('|').next().unwrap_or(url);
    let url = match url.find("/_history/") {
        Some(i) => &url[..i],
        None => url,
    };
    let mut segs = url.rsplit('/');
    match (segs.next(), segs.next()) {
        (Some(id), Some(ty)) if is_resource_type(ty) && !id.is_empty() => {
            (Some(ty.to_owned()), Some(id.to_owned()))
        }
        _ => (None, None),
    }
}

fn range_of(text: &str) -> Option<(String, String)> {
    let t = Temporal::parse_datetime(text)?;
    let (a, b) = t.range_millis();
    Some((format_instant_millis(a), format_instant_millis(b)))
}

fn date_values(ty: &str, json: &Value, push: &mut dyn FnMut(IndexValue)) {
    match ty {
        "Period" => {
            let start = json
                .get("start")
                .and_then(Value::as_str)
                .and_then(range_of)
                .map(|r| r.0);
            let end = json
                .get("end")
                .and_then(Value::as_str)
                .and_then(range_of)
                .map(|r| r.1);
            if start.is_some() || end.is_some() {
                push(IndexValue::Date {
                    start: start.unwrap_or_else(|| MIN_INSTANT.into()),
                    end: end.unwrap_or_else(|| MAX_INSTANT.into()),
                });
            }
        }
        "Timing" => {
            for e in json
                .get("event")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some((start, end)) = e.as_str().and_then(range_of) {
                    push(IndexValue::Date { start, end });
                }
            }
            if let Some(bounds) = json.get("repeat").and_then(|r| r.get("boundsPeriod")) {
                date_values("Period", bounds, push);
            }
        }
        _ => {
            if let Some((start, end)) = json.as_str().and_then(range_of) {
                push(IndexValue::Date { start, end });
            }
        }
    }
}

/// The normalised form of a string value: accents stripped, lower-cased.
fn string_value(v: &str) -> IndexValue {
    IndexValue::String {
        normalized: normalize(v),
        exact: v.to_owned(),
    }
}

/// Lower-cases and strips the accents of Latin letters (`Chalmérs` → `chalmers`).
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        let base = match c {
            'À'..='Å' | 'à'..='å' | 'Ā' | 'ā' | 'Ă' | 'ă' | 'Ą' | 'ą' => 'a',
            'Ç' | 'ç' | 'Ć' | 'ć' | 'Č' | 'č' => 'c',
            'Ď' | 'ď' | 'Đ' | 'đ' => 'd',
            'È'..='Ë' | 'è'..='ë' | 'Ē' | 'ē' | 'Ę' | 'ę' | 'Ě' | 'ě' | 'Ė' | 'ė' => {
                'e'
            }
            'Ì'..='Ï' | 'ì'..='ï' | 'Ī' | 'ī' | 'Į' | 'į' | 'İ' | 'ı' => 'i',
            'Ñ' | 'ñ' | 'Ń' | 'ń' | 'Ň' | 'ň' => 'n',
            'Ò'..='Ö' | 'ò'..='ö' | 'Ø' | 'ø' | 'Ō' | 'ō' | 'Ő' | 'ő' => 'o',
            'Ù'..='Ü' | 'ù'..='ü' | 'Ū' | 'ū' | 'Ů' | 'ů' | 'Ű' | 'ű' => 'u',
            'Ý' | 'ý' | 'ÿ' | 'Ÿ' => 'y',
            'Š' | 'š' | 'Ś' | 'ś' | 'Ş' | 'ş' => 's',
            'Ž' | 'ž' | 'Ź' | 'ź' | 'Ż' | 'ż' => 'z',
            'Ł' | 'ł' => 'l',
            'Ř' | 'ř' => 'r',
            'Ť' | 'ť' => 't',
            'ß' => {
                out.push_str("ss");
                continue;
            }
            'Æ' | 'æ' => {
                out.push_str("ae");
                continue;
            }
            '\u{300}'..='\u{36f}' => continue,
            other => {
                out.extend(other.to_lowercase());
                continue;
            }
        };
        out.push(base);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn find<'e>(entries: &'e [IndexEntry], param: &str) -> Vec<&'e IndexValue> {
        entries
            .iter()
            .filter(|e| e.param == param)
            .map(|e| &e.value)
            .collect()
    }

    #[test]
    fn patient_values() {
        let p = json!({"resourceType": "Patient", "id": "p1",
            "meta": {"lastUpdated": "2020-03-04T10:00:00+01:00", "tag": [{"system": "s", "code": "t"}]},
            "identifier": [{"system": "urn:mrn", "value": "123", "type": {"text": "MRN"}}],
            "active": true,
            "name": [{"family": "Müller", "given": ["Ann", "B"], "prefix": ["Dr"]}],
            "telecom": [{"system": "phone", "value": "555"}],
            "gender": "female", "birthDate": "2020-03",
            "address": [{"line": ["1 Main St"], "city": "Springfield"}],
            "generalPractitioner": [{"reference": "Practitioner/7"}, {"reference": "#c"},
                {"reference": "http://other/fhir/Organization/9/_history/1"}]});
        let e = extract_index_values(&p);
        assert_eq!(
            find(&e, "_id"),
            [&IndexValue::Token {
                system: None,
                code: Some("p1".into()),
                text: None
            }]
        );
        assert_eq!(
            find(&e, "identifier"),
            [&IndexValue::Token {
                system: Some("urn:mrn".into()),
                code: Some("123".into()),
                text: Some("MRN".into())
            }]
        );
        assert_eq!(
            find(&e, "active"),
            [&IndexValue::Token {
                system: None,
                code: Some("true".into()),
                text: None
            }]
        );
        assert_eq!(
            find(&e, "family"),
            [&IndexValue::String {
                normalized: "muller".into(),
                exact: "Müller".into()
            }]
        );
        assert_eq!(find(&e, "name").len(), 4);
        assert_eq!(find(&e, "address").len(), 2);
        assert_eq!(find(&e, "phone").len(), 1);
        assert_eq!(
            find(&e, "birthdate"),
            [&IndexValue::Date {
                start: "2020-03-01T00:00:00.000Z".into(),
                end: "2020-03-31T23:59:59.999Z".into()
            }]
        );
        assert_eq!(
            find(&e, "_lastUpdated"),
            [&IndexValue::Date {
                start: "2020-03-04T09:00:00.000Z".into(),
                end: "2020-03-04T09:00:00.999Z".into()
            }]
        );
        assert_eq!(find(&e, "_tag").len(), 1);
        let gp = find(&e, "general-practitioner");
        assert_eq!(gp.len(), 2, "the contained reference is skipped: {gp:?}");
        assert_eq!(
            gp[1],
            &IndexValue::Reference {
                target_type: Some("Organization".into()),
                target_id: Some("9".into()),
                url: "http://other/fhir/Organization/9/_history/1".into()
            }
        );
    }

    #[test]
    fn observation_values() {
        let o: Value = serde_json::from_str(
            r#"{"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}], "text": "HR"},
            "subject": {"reference": "Patient/1"},
            "effectivePeriod": {"start": "2020-01-01"},
            "valueQuantity": {"value": 72.50, "unit": "beats/min", "system": "http://unitsofmeasure.org", "code": "/min"}}"#,
        )
        .unwrap();
        let e = extract_index_values(&o);
        assert_eq!(
            find(&e, "code"),
            [&IndexValue::Token {
                system: Some("http://loinc.org".into()),
                code: Some("8867-4".into()),
                text: Some("HR".into())
            }]
        );
        let patient = IndexValue::Reference {
            target_type: Some("Patient".into()),
            target_id: Some("1".into()),
            url: "Patient/1".into(),
        };
        assert_eq!(find(&e, "patient"), [&patient]);
        assert_eq!(find(&e, "subject"), [&patient]);
        assert_eq!(
            find(&e, "date"),
            [&IndexValue::Date {
                start: "2020-01-01T00:00:00.000Z".into(),
                end: MAX_INSTANT.into()
            }]
        );
        assert_eq!(
            find(&e, "value-quantity"),
            [&IndexValue::Quantity {
                value: 72.5,
                system: Some("http://unitsofmeasure.org".into()),
                code: Some("/min".into()),
                unit: Some("beats/min".into())
            }]
        );
        assert_eq!(find(&e, "status").len(), 1);
        assert!(extract_index_values(&json!({"resourceType": "Nope"})).is_empty());
    }

    /// Measures the extraction cost on the Synthea fixtures (printed; asserted only
    /// loosely, since debug builds and shared machines vary).
    #[test]
    fn extraction_cost_on_synthea() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/synthea");
        let mut resources = Vec::new();
        collect_resources(&dir, &mut resources);
        assert!(
            resources.len() > 100,
            "found {} Synthea resources under {}",
            resources.len(),
            dir.display()
        );
        resources.truncate(5000);
        for r in resources.iter().take(50) {
            extract_index_values(r); // warm the caches
        }
        let start = std::time::Instant::now();
        let mut n = 0;
        for r in &resources {
            n += extract_index_values(r).len();
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / resources.len() as f64;
        println!(
            "index extraction: {per:.1} µs per resource over {} Synthea resources ({n} entries)",
            resources.len()
        );
        assert!(n > resources.len());
        assert!(per < 5_000.0, "{per} µs per resource");
    }

    fn collect_resources(dir: &std::path::Path, out: &mut Vec<Value>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                collect_resources(&p, out);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let name = p.to_string_lossy();
            if name.ends_with(".ndjson") {
                out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
            } else if name.ends_with(".json")
                && let Ok(v) = serde_json::from_str::<Value>(&text)
            {
                if v["resourceType"] == "Bundle" {
                    let entries = v["entry"].as_array().into_iter().flatten();
                    out.extend(entries.map(|e| e["resource"].clone()));
                } else {
                    out.push(v);
                }
            }
        }
    }
}
