//! Search index values: what each search parameter of a resource's type finds in it,
//! normalised so the store can match searches with plain comparisons (a lower-cased,
//! accent-free string; a token's system and code; a date as an inclusive UTC range).
//!
//! This runs for every stored resource, so every expression is parsed once per type and
//! cached, and the lookup by type is one map access. Custom search parameters (a
//! server's SearchParameter resources, [`crate::custom_params`]) are parsed once when
//! their set is built and evaluated after the official ones by
//! [`extract_index_values_with`].

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::custom_params::CustomSearchParams;
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
    /// For the components of a [composite](https://hl7.org/fhir/R4/search.html#composite)
    /// parameter: which root item of the composite's expression the value came from.
    /// Values of one root item share it, so a search matches the components together
    /// (`code-value-quantity`: this code *with* this value). `None` otherwise.
    pub group: Option<u32>,
}

/// The index parameter name of component `k` (0-based) of the composite parameter `code`
/// (`code-value-quantity$1` is its quantity).
pub fn composite_component(code: &str, k: usize) -> String {
    format!("{code}${k}")
}

/// The index parameter name of the identifiers' types of the token parameter `code`, for
/// [`:of-type`](https://hl7.org/fhir/R4/search.html#token): rows whose system is the type
/// coding's system and whose code is `{type code}|{identifier value}`.
pub fn of_type_param(code: &str) -> String {
    format!("{code}:of-type")
}

/// The index parameter name of the logical identifiers of the reference parameter `code`
/// (`Reference.identifier`), for [`:identifier`](https://hl7.org/fhir/R4/search.html#reference):
/// token rows.
pub fn identifier_param(code: &str) -> String {
    format!("{code}:identifier")
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
        /// The value and unit in canonical UCUM form, when the unit is UCUM and known
        /// (`37 Cel` is `310.15 K`), so searches in other units of the dimension find it.
        canonical: Option<(f64, String)>,
    },
    /// [uri](https://hl7.org/fhir/R4/search.html#uri) parameters.
    Uri(String),
}

/// The lowest and highest instants used for open Period ends.
const MIN_INSTANT: &str = "0001-01-01T00:00:00.000Z";
const MAX_INSTANT: &str = "9999-12-31T23:59:59.999Z";

/// A parameter's parsed expression and, for a composite, its components' kinds and
/// expressions (evaluated on each item the main expression yields).
struct CompiledParam {
    param: &'static SearchParam,
    expression: Expression,
    components: Vec<(SearchParamKind, Expression)>,
}

type Compiled = Vec<CompiledParam>;

/// The parsed expressions of every search parameter of a type (parameters without an
/// expression, specials and composites whose parts cannot be typed are not indexed).
fn compiled(resource_type: &str) -> Option<&'static Compiled> {
    static CACHE: OnceLock<HashMap<&'static str, Compiled>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            crate::definitions::resource_types()
                .iter()
                .map(|ty| {
                    let exprs = search_params_for(ty)
                        .into_iter()
                        .filter(|p| p.kind != SearchParamKind::Special)
                        // A union's rows would repeat its parts' (`combo-code`), and so
                        // would some composites' (`code-value-quantity`).
                        .filter(|p| crate::search_params::union_parts(ty, &p.code).is_none())
                        .filter(|p| crate::search_params::composite_parts(ty, &p.code).is_none())
                        .filter_map(compile_param)
                        .collect();
                    (*ty, exprs)
                })
                .collect()
        })
        .get(resource_type)
}

fn compile_param(param: &'static SearchParam) -> Option<CompiledParam> {
    let expression = parse(param.expression.as_deref()?).ok()?;
    let components = if param.kind == SearchParamKind::Composite {
        let parts: Option<Vec<_>> = param
            .components
            .iter()
            .map(|(definition, expr)| {
                Some((
                    crate::search_params::kind_of_definition(definition)?,
                    parse(expr).ok()?,
                ))
            })
            .collect();
        parts.filter(|p| !p.is_empty())?
    } else {
        Vec::new()
    };
    Some(CompiledParam {
        param,
        expression,
        components,
    })
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
    for c in exprs {
        push_param_values(
            resource,
            &c.param.code,
            c.param.kind,
            &c.expression,
            &c.components,
            &mut out,
        );
    }
    out
}

/// [`extract_index_values`] with the custom search parameters of `custom` too (those
/// that apply to the resource's type), so data written while a custom parameter exists
/// is searchable by it at once.
///
/// ```
/// use fhir_model::custom_params::CustomSearchParams;
/// use fhir_model::index::extract_index_values_with;
/// let sp = serde_json::json!({"resourceType": "SearchParameter", "url": "http://x/nickname",
///     "name": "nickname", "status": "active", "description": "d", "code": "nickname",
///     "base": ["Patient"], "type": "string",
///     "expression": "Patient.name.where(use = 'nickname').given"});
/// let (custom, rejected) = CustomSearchParams::from_resources([("sp1", &sp)]);
/// assert!(rejected.is_empty());
/// let p = serde_json::json!({"resourceType": "Patient",
///     "name": [{"use": "nickname", "given": ["Bob"]}]});
/// assert!(extract_index_values_with(&p, &custom).iter().any(|e| e.param == "nickname"));
/// ```
pub fn extract_index_values_with(resource: &Value, custom: &CustomSearchParams) -> Vec<IndexEntry> {
    let mut out = extract_index_values(resource);
    if let Some(base) = custom.local_base() {
        localize_references(&mut out, base);
    }
    if custom.is_empty() {
        return out;
    }
    let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
        return out;
    };
    for c in custom.compiled_for(ty) {
        push_param_values(
            resource,
            &c.param.code,
            c.param.kind,
            &c.expression,
            &c.components,
            &mut out,
        );
    }
    out
}

/// Gives absolute references under `base` (this server's) the local target they name.
fn localize_references(entries: &mut [IndexEntry], base: &str) {
    for e in entries {
        if let IndexValue::Reference {
            target_type,
            target_id,
            url,
        } = &mut e.value
            && let Some(rest) = url.strip_prefix(base).and_then(|r| r.strip_prefix('/'))
        {
            (*target_type, *target_id) = split_reference(rest);
        }
    }
}

/// Evaluates one parameter (`code` of type `kind`, its parsed expression and, for a
/// composite, its components' kinds and expressions) on `resource` and appends the
/// normalised values. An expression that fails on this resource adds nothing.
pub(crate) fn push_param_values(
    resource: &Value,
    code: &str,
    kind: SearchParamKind,
    expression: &Expression,
    components: &[(SearchParamKind, Expression)],
    out: &mut Vec<IndexEntry>,
) {
    let Ok(items) = expression.evaluate(resource) else {
        return;
    };
    if kind == SearchParamKind::Composite {
        // A search matches a composite only when every component matches on one item, so
        // an item missing a component (an Observation's `code-value-string` when it has a
        // Quantity) is not indexed at all.
        let mut group_rows = Vec::new();
        'items: for (group, item) in items.iter().enumerate() {
            group_rows.clear();
            for (k, (kind, expr)) in components.iter().enumerate() {
                let Ok(parts) = expr.evaluate_on(resource, item) else {
                    continue 'items;
                };
                let name = composite_component(code, k);
                let before = group_rows.len();
                for part in &parts {
                    values_of(*kind, part, &mut |suffix, value| {
                        // Only the component's own values, not its derived rows.
                        if suffix == Derived::None {
                            group_rows.push(IndexEntry {
                                param: name.clone(),
                                value,
                                group: Some(group as u32),
                            });
                        }
                    });
                }
                if group_rows.len() == before {
                    continue 'items;
                }
            }
            out.append(&mut group_rows);
        }
        return;
    }
    for item in &items {
        values_of(kind, item, &mut |derived, value| {
            out.push(IndexEntry {
                param: match derived {
                    Derived::None => code.to_owned(),
                    Derived::OfType => of_type_param(code),
                    Derived::Identifier => identifier_param(code),
                },
                value,
                group: None,
            })
        });
    }
}

/// Which index rows a value is for: the parameter itself, or the rows kept for a
/// modifier (`:of-type`, `:identifier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Derived {
    None,
    OfType,
    Identifier,
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn values_of(
    kind: SearchParamKind,
    item: &Item<'_>,
    push_derived: &mut dyn FnMut(Derived, IndexValue),
) {
    let push = &mut |v| push_derived(Derived::None, v);
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
                        // search.html#string: the parts of a family name ("Carreno
                        // Quinones") should be found independently.
                        if key == "family" && v.contains(char::is_whitespace) {
                            for part in v.split_whitespace() {
                                push(string_value(part));
                            }
                        }
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
                    // `Patient.name.family` and the like: the parts too, as above.
                    let is_family = || {
                        matches!(
                            item.location().and_then(<[_]>::last),
                            Some(crate::fhirpath::PathStep::Key(k)) if k == "family"
                        )
                    };
                    if v.contains(char::is_whitespace) && is_family() {
                        for part in v.split_whitespace() {
                            push(string_value(part));
                        }
                    }
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
            "Identifier" => {
                push(IndexValue::Token {
                    system: s(json, "system"),
                    code: s(json, "value"),
                    text: json.get("type").and_then(|t| s(t, "text")),
                });
                identifier_types(json, &mut |v| push_derived(Derived::OfType, v));
            }
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
                // A resource itself (`Bundle.entry[0].resource`): a reference to it.
                _ if json.is_object() => match (s(json, "resourceType"), s(json, "id")) {
                    (Some(t), Some(id)) => Some(format!("{t}/{id}")),
                    _ => None,
                },
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
            if ty == "Reference"
                && let Some(identifier) = json.get("identifier")
            {
                push_derived(
                    Derived::Identifier,
                    IndexValue::Token {
                        system: s(identifier, "system"),
                        code: s(identifier, "value"),
                        text: None,
                    },
                );
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
                        canonical: None,
                    });
                } else {
                    let (system, code) = (s(json, "system"), s(json, "code"));
                    let canonical = canonical_quantity(value, system.as_deref(), code.as_deref());
                    push(IndexValue::Quantity {
                        value,
                        system,
                        code,
                        unit: s(json, "unit"),
                        canonical,
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

/// The UCUM system URI.
pub const UCUM: &str = "http://unitsofmeasure.org";

/// A quantity in canonical UCUM form (value, unit), when its unit is a UCUM code this
/// crate knows.
pub fn canonical_quantity(
    value: f64,
    system: Option<&str>,
    code: Option<&str>,
) -> Option<(f64, String)> {
    if system != Some(UCUM) {
        return None;
    }
    let c = crate::ucum::canonical(value, code?)?;
    c.value.is_finite().then_some((c.value, c.unit))
}

/// `:of-type` rows of an Identifier: one per coding of its type, when it has a value.
fn identifier_types(json: &Value, push: &mut dyn FnMut(IndexValue)) {
    let Some(value) = json.get("value").and_then(Value::as_str) else {
        return;
    };
    let codings = json
        .get("type")
        .and_then(|t| t.get("coding"))
        .and_then(Value::as_array);
    for c in codings.into_iter().flatten() {
        if let Some(code) = c.get("code").and_then(Value::as_str) {
            push(IndexValue::Token {
                system: s(c, "system"),
                code: Some(format!("{code}|{value}")),
                text: None,
            });
        }
    }
}

fn coding(c: &Value, text: Option<String>) -> IndexValue {
    IndexValue::Token {
        system: s(c, "system"),
        code: s(c, "code"),
        text: text.or_else(|| s(c, "display")),
    }
}

/// `Patient/1`, `Patient/1/_history/2` → (`Patient`, `1`). An absolute URL names no
/// local resource (another server's `Patient/1` is not this one's); see
/// `localize_references` for this server's own absolute URLs.
fn split_reference(url: &str) -> (Option<String>, Option<String>) {
    if url.contains("://") || url.starts_with("urn:") {
        return (None, None);
    }
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
                target_type: None,
                target_id: None,
                url: "http://other/fhir/Organization/9/_history/1".into()
            },
            "another server's resource is not a local one"
        );
        // Under this server's base, the absolute URL names the local resource.
        let here = CustomSearchParams::none()
            .clone()
            .with_local_base("http://other/fhir");
        let e = extract_index_values_with(&p, &here);
        assert_eq!(
            find(&e, "general-practitioner")[1],
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
        let [
            IndexValue::Quantity {
                value,
                system,
                code,
                unit,
                canonical: Some((canon_value, canon_unit)),
            },
        ] = &find(&e, "value-quantity")[..]
        else {
            panic!("{:?}", find(&e, "value-quantity"))
        };
        assert_eq!(*value, 72.5);
        assert_eq!(system.as_deref(), Some("http://unitsofmeasure.org"));
        assert_eq!(
            (code.as_deref(), unit.as_deref()),
            (Some("/min"), Some("beats/min"))
        );
        assert_eq!(
            canon_unit, "s-1",
            "beats per minute are per second in canonical units"
        );
        assert!((canon_value - 72.5 / 60.0).abs() < 1e-12);
        assert_eq!(find(&e, "status").len(), 1);
        assert!(extract_index_values(&json!({"resourceType": "Nope"})).is_empty());
    }

    #[test]
    fn composites_group_their_components_by_root_item() {
        let o = json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                 "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]});
        let e = extract_index_values(&o);
        let rows = |param: &str| -> Vec<(Option<u32>, IndexValue)> {
            e.iter()
                .filter(|x| x.param == param)
                .map(|x| (x.group, x.value.clone()))
                .collect()
        };
        let codes = rows("component-code-value-quantity$0");
        let values = rows("component-code-value-quantity$1");
        assert_eq!(codes.len(), 2);
        assert_eq!(values.len(), 2);
        let group_of = |code: &str| {
            codes
                .iter()
                .find(|(_, v)| matches!(v, IndexValue::Token { code: Some(c), .. } if c == code))
                .map(|(g, _)| *g)
                .unwrap()
        };
        let value_of = |group: Option<u32>| {
            values
                .iter()
                .find(|(g, _)| *g == group)
                .map(|(_, v)| match v {
                    IndexValue::Quantity { value, .. } => *value,
                    other => panic!("{other:?}"),
                })
                .unwrap()
        };
        assert_eq!(value_of(group_of("8480-6")), 120.0);
        assert_eq!(value_of(group_of("8462-4")), 80.0);
        // The whole-resource composite has the code but no value: not indexed.
        assert!(rows("code-value-quantity$0").is_empty());
        assert!(rows("code-value-quantity$1").is_empty());
        // Plain parameters have no group.
        assert!(
            e.iter()
                .filter(|x| x.param == "code")
                .all(|x| x.group.is_none())
        );
    }

    /// `composite_parts`: on every Observation of the official examples and the Synthea
    /// fixtures, the composite evaluated as a composite (what its own rows would be) gives
    /// exactly the rows of its parts, and a complete group exactly when every part has rows.
    #[test]
    fn whole_resource_composites_repeat_their_parts() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let mut resources = Vec::new();
        collect_resources(&root.join("fhir-r4-examples"), &mut resources);
        collect_resources(&root.join("synthea"), &mut resources);
        let observations: Vec<&Value> = resources
            .iter()
            .filter(|r| r["resourceType"] == "Observation")
            .collect();
        assert!(observations.len() > 1000, "{}", observations.len());
        let mut with_rows = 0;
        for code in ["code-value-quantity", "code-value-concept"] {
            let parts = crate::search_params::composite_parts("Observation", code).unwrap();
            let param = crate::search_params::search_param("Observation", code).unwrap();
            let c = compile_param(param).unwrap();
            for o in &observations {
                let mut own = Vec::new();
                push_param_values(
                    o,
                    code,
                    c.param.kind,
                    &c.expression,
                    &c.components,
                    &mut own,
                );
                let rows = extract_index_values(o);
                assert!(rows.iter().all(|e| !e.param.starts_with(code)), "{code}");
                let values = |param: &str| -> Vec<IndexValue> {
                    rows.iter()
                        .filter(|e| e.param == param)
                        .map(|e| e.value.clone())
                        .collect()
                };
                if own.is_empty() {
                    assert!(parts.iter().any(|p| values(p).is_empty()), "{code}: {o}");
                    continue;
                }
                with_rows += 1;
                for (k, part) in parts.iter().enumerate() {
                    let name = composite_component(code, k);
                    let component: Vec<IndexValue> = own
                        .iter()
                        .filter(|e| e.param == name)
                        .map(|e| e.value.clone())
                        .collect();
                    assert_eq!(component, values(part), "{code} component {k}: {o}");
                }
            }
        }
        assert!(with_rows > 1000, "{with_rows}");
    }

    #[test]
    fn identifier_types_and_reference_identifiers_get_their_own_rows() {
        let p = json!({"resourceType": "Patient",
            "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": "urn:mrn", "value": "123"}],
            "managingOrganization": {"identifier": {"system": "urn:org", "value": "A1"}}});
        let e = extract_index_values(&p);
        assert_eq!(
            find(&e, "identifier:of-type"),
            [&IndexValue::Token {
                system: Some("http://terminology.hl7.org/CodeSystem/v2-0203".into()),
                code: Some("MR|123".into()),
                text: None
            }]
        );
        assert_eq!(
            find(&e, "organization:identifier"),
            [&IndexValue::Token {
                system: Some("urn:org".into()),
                code: Some("A1".into()),
                text: None
            }]
        );
        assert!(find(&e, "organization").is_empty(), "no literal reference");
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
