//! The R4 [search parameters](https://hl7.org/fhir/R4/searchparameter-registry.html), read
//! from the official `definitions/search-parameters.json` (embedded, parsed on first use).
//!
//! One definition often serves several resource types with one expression joined by `|`
//! (`AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | …`). The
//! registry keeps one [`SearchParam`] per (resource type, code) whose `expression` holds
//! only the parts for that type, so callers never evaluate another type's paths.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::definitions::{is_resource_type, type_def};

static SEARCH_PARAMETERS_JSON: &str = include_str!("../definitions/search-parameters.json");

/// [SearchParamType](https://hl7.org/fhir/R4/valueset-search-param-type.html).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchParamKind {
    /// A number (integer or decimal).
    Number,
    /// A date, dateTime, instant, Period or Timing.
    Date,
    /// A string (case- and accent-insensitive prefix match by default).
    String,
    /// A code, Coding, CodeableConcept, Identifier, ContactPoint, boolean…
    Token,
    /// A reference to another resource (or a canonical/uri).
    Reference,
    /// A combination of other parameters (`code-value-quantity`).
    Composite,
    /// A Quantity (value, system, code).
    Quantity,
    /// A URI.
    Uri,
    /// Special handling (`near`, `_query`…).
    Special,
}

impl SearchParamKind {
    /// From the `SearchParameter.type` code.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "number" => SearchParamKind::Number,
            "date" => SearchParamKind::Date,
            "string" => SearchParamKind::String,
            "token" => SearchParamKind::Token,
            "reference" => SearchParamKind::Reference,
            "composite" => SearchParamKind::Composite,
            "quantity" => SearchParamKind::Quantity,
            "uri" => SearchParamKind::Uri,
            "special" => SearchParamKind::Special,
            _ => return None,
        })
    }
}

/// One search parameter as it applies to one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchParam {
    /// The code used in URLs (`identifier`, `_lastUpdated`).
    pub code: String,
    /// The canonical URL of the definition.
    pub url: String,
    /// The parameter type.
    pub kind: SearchParamKind,
    /// The resource types the definition covers (`Resource` for the common ones).
    pub base: Vec<String>,
    /// The FHIRPath expression restricted to this resource type (`None` for `_text`,
    /// `_content`, `_query` and other parameters without one).
    pub expression: Option<String>,
    /// Target resource types of a reference parameter.
    pub targets: Vec<String>,
    /// For composites: (definition URL, expression relative to the resource) per part.
    pub components: Vec<(String, String)>,
}

struct Registry {
    /// Keyed by base type (`Patient`, `Resource`, `DomainResource`), then by code.
    by_type: HashMap<String, Vec<SearchParam>>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let bundle: Value = serde_json::from_str(SEARCH_PARAMETERS_JSON)
            .expect("the embedded search parameters are valid");
        let mut by_type: HashMap<String, Vec<SearchParam>> = HashMap::new();
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            let r = &entry["resource"];
            let strs = |v: &Value| -> Vec<String> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            };
            let (Some(code), Some(kind)) = (
                r["code"].as_str(),
                r["type"].as_str().and_then(SearchParamKind::from_code),
            ) else {
                continue;
            };
            let base = strs(&r["base"]);
            let components = r["component"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    Some((
                        c["definition"].as_str()?.to_owned(),
                        c["expression"].as_str()?.to_owned(),
                    ))
                })
                .collect();
            let param = SearchParam {
                code: code.to_owned(),
                url: r["url"].as_str().unwrap_or_default().to_owned(),
                kind,
                base: base.clone(),
                expression: None,
                targets: strs(&r["target"]),
                components,
            };
            for b in &base {
                let expression = r["expression"].as_str().and_then(|e| expression_for(e, b));
                by_type.entry(b.clone()).or_default().push(SearchParam {
                    expression,
                    ..param.clone()
                });
            }
        }
        Registry { by_type }
    })
}

/// Splits an expression at its top-level `|` (outside parentheses and strings).
fn split_union(expr: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, false, 0);
    for (i, c) in expr.char_indices() {
        match c {
            '\'' => quote = !quote,
            '(' | '[' if !quote => depth += 1,
            ')' | ']' if !quote => depth -= 1,
            '|' if !quote && depth == 0 => {
                parts.push(expr[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(expr[start..].trim());
    parts
}

/// The parts of a multi-type expression that apply to `ty` (parts that start with
/// another resource type are dropped).
pub(crate) fn expression_for(expr: &str, ty: &str) -> Option<String> {
    let parts: Vec<&str> = split_union(expr)
        .into_iter()
        .filter(|p| {
            let head: String = p
                .trim_start_matches(['(', ' '])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            head == ty
                || !(is_resource_type(&head) || head == "Resource" || head == "DomainResource")
        })
        .collect();
    (!parts.is_empty()).then(|| as_to_of_type(&parts.join(" | ")))
}

/// Rewrites `path as Type` to `path.ofType(Type)`. The R4 definitions apply `as` to paths
/// that can hold several items (`Observation.component.value as Quantity`), which
/// FHIRPath makes an error for more than one item; what they mean (and what R5 writes)
/// is the filter `ofType`.
fn as_to_of_type(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len() + 16);
    let mut rest = expr;
    while let Some(i) = rest.find(" as ") {
        let (before, after) = rest.split_at(i);
        let after = &after[4..];
        let path_start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .map_or(0, |p| p + 1);
        let ty_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let path = &before[path_start..];
        if path.is_empty() || ty_len == 0 || path.ends_with('.') {
            out.push_str(before);
            out.push_str(" as ");
            rest = after;
            continue;
        }
        out.push_str(&before[..path_start]);
        out.push_str(path);
        out.push_str(".ofType(");
        out.push_str(&after[..ty_len]);
        out.push(')');
        rest = &after[ty_len..];
    }
    out.push_str(rest);
    out
}

/// Whether a resource type is a DomainResource (all but Bundle, Binary, Parameters).
pub(crate) fn is_domain_resource(ty: &str) -> bool {
    type_def(ty).is_some_and(|t| t.base.as_deref() == Some("DomainResource"))
}

/// Every search parameter of a resource type, including the common `Resource` and
/// `DomainResource` ones (`_id`, `_lastUpdated`, `_tag`, `_profile`, `_security`,
/// `_source`, `_text`, `_content`, `_query`). Empty for an unknown type; `Resource` gives
/// the parameters common to every type.
///
/// ```
/// let params = fhir_model::search_params::search_params_for("Patient");
/// assert!(params.iter().any(|p| p.code == "family"));
/// assert!(params.iter().any(|p| p.code == "_lastUpdated"));
/// ```
pub fn search_params_for(resource_type: &str) -> Vec<&'static SearchParam> {
    let reg = registry();
    if resource_type == "Resource" {
        // The parameters every type has (what a system-level search may use).
        return reg.by_type.get("Resource").into_iter().flatten().collect();
    }
    if !is_resource_type(resource_type) {
        return Vec::new();
    }
    let mut out: Vec<&'static SearchParam> = Vec::new();
    let mut bases = vec!["Resource"];
    if is_domain_resource(resource_type) {
        bases.push("DomainResource");
    }
    bases.push(resource_type);
    for b in bases {
        out.extend(reg.by_type.get(b).into_iter().flatten());
    }
    out
}

/// The official parameters defined on exactly this base (`Patient`, `Resource`,
/// `DomainResource`), without the common ones a type inherits.
pub(crate) fn official_for_base(base: &str) -> &'static [SearchParam] {
    registry().by_type.get(base).map_or(&[], Vec::as_slice)
}

/// One search parameter of a resource type by code (`search_param("Patient", "name")`),
/// including the common ones (`_id`).
///
/// ```
/// use fhir_model::search_params::{search_param, SearchParamKind};
/// let p = search_param("Observation", "patient").unwrap();
/// assert_eq!(p.kind, SearchParamKind::Reference);
/// assert_eq!(p.expression.as_deref(), Some("Observation.subject.where(resolve() is Patient)"));
/// ```
pub fn search_param(resource_type: &str, code: &str) -> Option<&'static SearchParam> {
    search_params_for(resource_type)
        .into_iter()
        .find(|p| p.code == code)
}

/// The two parameters a parameter is the union of, when it is one: R4's Observation
/// `combo-*` parameters are the Observation's own value and its components' (`combo-code`
/// is `code | component-code`). The index keeps only the parts; a search on the union
/// matches either.
///
/// ```
/// use fhir_model::search_params::union_parts;
/// assert_eq!(union_parts("Observation", "combo-code"), Some(["code", "component-code"]));
/// assert_eq!(union_parts("Observation", "code"), None);
/// ```
pub fn union_parts(resource_type: &str, code: &str) -> Option<[&'static str; 2]> {
    if resource_type != "Observation" {
        return None;
    }
    Some(match code {
        "combo-code" => ["code", "component-code"],
        "combo-data-absent-reason" => ["data-absent-reason", "component-data-absent-reason"],
        "combo-value-concept" => ["value-concept", "component-value-concept"],
        "combo-value-quantity" => ["value-quantity", "component-value-quantity"],
        "combo-code-value-concept" => ["code-value-concept", "component-code-value-concept"],
        "combo-code-value-quantity" => ["code-value-quantity", "component-code-value-quantity"],
        _ => return None,
    })
}

/// The parameters whose rows a composite's components are, when the composite would only
/// repeat them: R4's Observation `code-value-quantity` and `code-value-concept` have the
/// Observation itself as their one root item, and their components (`code`,
/// `value.as(Quantity)`, `value.as(CodeableConcept)`) find exactly what `code`,
/// `value-quantity` (whose other part, SampledData, gives no quantity) and `value-concept`
/// find. The index keeps only those parameters' rows; a resource matches the composite when
/// rows of every part match, together (there is one root item, so "on the same item" holds
/// of any two of its rows). `code-value-string` and `code-value-date` keep rows of their
/// own: `value-string` also finds a CodeableConcept's text, and `value.as(DateTime)` is not
/// `value-date`'s `dateTime`.
///
/// ```
/// use fhir_model::search_params::composite_parts;
/// assert_eq!(composite_parts("Observation", "code-value-quantity"), Some(["code", "value-quantity"]));
/// assert_eq!(composite_parts("Observation", "component-code-value-quantity"), None);
/// ```
pub fn composite_parts(resource_type: &str, code: &str) -> Option<[&'static str; 2]> {
    if resource_type != "Observation" {
        return None;
    }
    Some(match code {
        "code-value-quantity" => ["code", "value-quantity"],
        "code-value-concept" => ["code", "value-concept"],
        _ => return None,
    })
}

/// The type of the search parameter a definition URL names (a composite's components
/// name their parameters this way), from any base type that has it.
///
/// ```
/// use fhir_model::search_params::{kind_of_definition, SearchParamKind};
/// let kind = kind_of_definition("http://hl7.org/fhir/SearchParameter/clinical-code");
/// assert_eq!(kind, Some(SearchParamKind::Token));
/// ```
pub fn kind_of_definition(url: &str) -> Option<SearchParamKind> {
    registry()
        .by_type
        .values()
        .flatten()
        .find(|p| p.url == url)
        .map(|p| p.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_type_expressions_are_restricted_to_the_type() {
        let p = search_param("CarePlan", "patient").unwrap();
        assert_eq!(
            p.expression.as_deref(),
            Some("CarePlan.subject.where(resolve() is Patient)")
        );
        assert!(p.base.len() > 10);
        let id = search_param("Patient", "identifier").unwrap();
        assert_eq!(id.expression.as_deref(), Some("Patient.identifier"));
        assert_eq!(
            search_param("Patient", "_id")
                .unwrap()
                .expression
                .as_deref(),
            Some("Resource.id")
        );
        assert!(search_param("Patient", "_text").is_some());
        assert!(
            search_param("Bundle", "_text").is_none(),
            "Bundle is not a DomainResource"
        );
        assert!(search_params_for("Nope").is_empty());
        let cvq = search_param("Observation", "code-value-quantity").unwrap();
        assert_eq!(cvq.kind, SearchParamKind::Composite);
        assert_eq!(cvq.components.len(), 2);
        let value = search_param("Observation", "value-quantity").unwrap();
        assert_eq!(
            value.expression.as_deref(),
            Some("(Observation.value.ofType(Quantity)) | (Observation.value.ofType(SampledData))")
        );
        assert_eq!(
            as_to_of_type("(A.b.value as Quantity) | A.c.where(x as y)"),
            "(A.b.value.ofType(Quantity)) | A.c.where(x.ofType(y))"
        );
    }

    #[test]
    fn unions_are_exactly_their_parts() {
        let norm = |e: &str| {
            let mut parts: Vec<String> = split_union(e)
                .into_iter()
                .map(|p| {
                    p.trim_matches(['(', ')', ' '])
                        .replace("Observation.component", "C")
                })
                .collect();
            parts.sort();
            parts
        };
        for code in [
            "combo-code",
            "combo-data-absent-reason",
            "combo-value-concept",
            "combo-value-quantity",
        ] {
            let [a, b] = union_parts("Observation", code).unwrap();
            let expr = |c: &str| {
                search_param("Observation", c)
                    .unwrap()
                    .expression
                    .clone()
                    .unwrap()
            };
            let mut both = norm(&expr(a));
            both.extend(norm(&expr(b)));
            both.sort();
            assert_eq!(norm(&expr(code)), both, "{code}");
        }
        for code in ["combo-code-value-concept", "combo-code-value-quantity"] {
            let [a, b] = union_parts("Observation", code).unwrap();
            let c = |c: &str| search_param("Observation", c).unwrap();
            assert_eq!(
                c(code).expression.as_deref(),
                Some("Observation | Observation.component")
            );
            assert_eq!(c(a).expression.as_deref(), Some("Observation"));
            assert_eq!(c(b).expression.as_deref(), Some("Observation.component"));
            let exprs = |p: &SearchParam| {
                p.components
                    .iter()
                    .map(|(_, e)| e.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(exprs(c(code)), exprs(c(a)));
            assert_eq!(exprs(c(code)), exprs(c(b)));
        }
    }

    #[test]
    fn every_expression_parses_and_every_type_has_parameters() {
        for ty in crate::definitions::resource_types() {
            let params = search_params_for(ty);
            assert!(params.len() >= 5, "{ty}");
            for p in params {
                if let Some(e) = &p.expression {
                    assert!(!e.is_empty());
                    crate::fhirpath::parse(e)
                        .unwrap_or_else(|err| panic!("{ty}.{}: {e}: {err}", p.code));
                }
            }
        }
    }
}
