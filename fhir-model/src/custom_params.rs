//! Custom search parameters: the SearchParameter resources a server holds, turned into
//! registry entries that layer over the official registry ([`crate::search_params`]).
//!
//! Why: HAPI and Blaze let users add search parameters by POSTing SearchParameter
//! resources, and implementation guides ship them. The official registry is compiled in
//! and never changes; a server's custom set changes at run time. So the custom set is a
//! separate, immutable [`CustomSearchParams`] value (built whole from the current
//! SearchParameters, swapped whole by the server when they change) that lookups and index
//! extraction ([`crate::index::extract_index_values_with`]) take as an argument; this
//! crate keeps no global mutable state.
//!
//! The rules:
//! - Custom parameters only add. A SearchParameter whose code an official parameter of
//!   one of its bases already has is refused, unless it *is* that official definition
//!   (same `url`), which is accepted and changes nothing. One whose code another custom
//!   parameter of an overlapping base has is refused too. So an official parameter always
//!   wins a lookup, and one (type, code) never means two things. A custom parameter on
//!   `Resource` or `DomainResource` whose code an official parameter of some concrete type
//!   has is hidden on that type (the official one is used there).
//! - Only SearchParameters with `status` active or draft are used; retired (or unknown)
//!   ones are inert and not checked.
//! - A usable one has a code that fits in a URL (letters, digits, `-`, `_`; not starting
//!   with `_`, which the specification keeps for its own parameters; no `.`, `:` or `$`,
//!   which mean chains, modifiers and composite values), a type other than `special`
//!   (those need code of their own), bases that are resource types (or `Resource`,
//!   `DomainResource`), targets that are resource types, and an expression that parses,
//!   has a part for every base (it is restricted per base like the official ones:
//!   `Patient.x | Practitioner.y` gives each base its own part) and names no element its
//!   base does not have. A composite's components must name the `url` of a known
//!   non-composite parameter and have an expression that parses.
//!
//! Anything else is a [`Rejection`] with the reason and the element path, which the
//! server answers with a 400 (HAPI also refuses invalid expressions) rather than
//! storing a parameter that silently finds nothing.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Value, json};

use crate::definitions::{is_resource_type, resource_types};
use crate::fhirpath::{Expression, FhirPathError, parse};
use crate::outcome::IssueType;
use crate::search_params::{
    self, SearchParam, SearchParamKind, expression_for, is_domain_resource, official_for_base,
};

/// Why a SearchParameter cannot be used as a search parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (at {path})")]
pub struct Rejection {
    /// The issue type (`invalid`, `required`, `not-supported`, `duplicate`).
    pub code: IssueType,
    /// What is wrong, for the client.
    pub reason: String,
    /// The element path (`SearchParameter.expression`, `SearchParameter.base[1]`).
    pub path: String,
}

fn reject(code: IssueType, path: impl Into<String>, reason: impl Into<String>) -> Rejection {
    Rejection {
        code,
        reason: reason.into(),
        path: path.into(),
    }
}

/// One usable custom parameter on one base, with its parsed expressions.
#[derive(Debug, Clone)]
pub(crate) struct CustomParam {
    /// The id of the SearchParameter resource it comes from.
    pub(crate) source: String,
    /// The base it is for (`Patient`, `Resource`, `DomainResource`).
    pub(crate) base: String,
    /// The registry entry (expression restricted to `base`).
    pub(crate) param: SearchParam,
    /// `param.expression`, parsed.
    pub(crate) expression: Expression,
    /// For a composite: each component's kind and parsed expression.
    pub(crate) components: Vec<(SearchParamKind, Expression)>,
}

/// An immutable set of custom search parameters, with lookups that see the official
/// registry first and these after it.
///
/// ```
/// use fhir_model::custom_params::CustomSearchParams;
/// let sp = serde_json::json!({"resourceType": "SearchParameter", "url": "http://x/technique",
///     "name": "technique", "status": "active", "description": "d", "code": "technique",
///     "base": ["Observation"], "type": "token", "expression": "Observation.method"});
/// let (custom, rejected) = CustomSearchParams::from_resources([("sp1", &sp)]);
/// assert!(rejected.is_empty());
/// assert!(custom.search_param("Observation", "technique").is_some());
/// assert!(custom.search_param("Observation", "code").is_some(), "official ones too");
/// assert!(custom.search_param("Patient", "technique").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CustomSearchParams {
    /// Every usable parameter, one per (SearchParameter, base), in the order added.
    params: Vec<CustomParam>,
    /// Per concrete resource type (and `Resource`, for system-level search): indexes in
    /// `params` of those that apply to it and no official parameter of it hides.
    by_type: HashMap<String, Vec<usize>>,
    /// The FHIR base URL of the server the indexed resources live on: an absolute
    /// reference under it is indexed as the local `Type/id` it names; other absolute
    /// references name no local resource (search.html#reference).
    local_base: Option<String>,
}

/// Whether a resource is a SearchParameter this server uses: status active or draft.
pub fn is_in_use(resource: &Value) -> bool {
    resource.get("resourceType").and_then(Value::as_str) == Some("SearchParameter")
        && matches!(
            resource.get("status").and_then(Value::as_str),
            Some("active" | "draft")
        )
}

/// The registry entries a SearchParameter resource defines (one per base, its expression
/// restricted to that base), checked against the official registry only; a definition it
/// cannot use is a [`Rejection`]. The status is not looked at.
///
/// ```
/// use fhir_model::custom_params::search_params_from_resource;
/// let sp = serde_json::json!({"resourceType": "SearchParameter", "code": "nick",
///     "base": ["Patient", "Practitioner"], "type": "string",
///     "expression": "Patient.name.given | Practitioner.name.given"});
/// let params = search_params_from_resource(&sp).unwrap();
/// assert_eq!(params[1].expression.as_deref(), Some("Practitioner.name.given"));
/// let clash = serde_json::json!({"resourceType": "SearchParameter", "code": "name",
///     "base": ["Patient"], "type": "string", "expression": "Patient.name.given"});
/// assert_eq!(search_params_from_resource(&clash).unwrap_err().path, "SearchParameter.code");
/// ```
pub fn search_params_from_resource(resource: &Value) -> Result<Vec<SearchParam>, Rejection> {
    Ok(CustomSearchParams::default()
        .entries("", resource)?
        .into_iter()
        .map(|c| c.param)
        .collect())
}

static NONE: LazyLock<CustomSearchParams> = LazyLock::new(CustomSearchParams::default);

impl CustomSearchParams {
    /// The empty set: lookups see the official registry only.
    /// The same set, indexing absolute references under `base` as local ones.
    pub fn with_local_base(mut self, base: &str) -> Self {
        self.local_base = Some(base.trim_end_matches('/').to_owned());
        self
    }

    /// The base URL absolute references are local under, if known.
    pub fn local_base(&self) -> Option<&str> {
        self.local_base.as_deref()
    }

    pub fn none() -> &'static CustomSearchParams {
        &NONE
    }

    /// The set of the given SearchParameter resources (`(id, resource)`), in that order:
    /// those not in use ([`is_in_use`]) are skipped; one that cannot be used, or that
    /// clashes with one before it, is left out and returned with its id and reason.
    pub fn from_resources<'a>(
        resources: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> (CustomSearchParams, Vec<(String, Rejection)>) {
        let mut set = CustomSearchParams::default();
        let mut rejected = Vec::new();
        for (id, resource) in resources {
            if !is_in_use(resource) {
                continue;
            }
            match set.entries(id, resource) {
                Ok(entries) => set.params.extend(entries),
                Err(e) => rejected.push((id.to_owned(), e)),
            }
        }
        set.index();
        (set, rejected)
    }

    /// Checks that the SearchParameter `resource`, stored as `id` (replacing what that
    /// id defined before), can be used alongside the official registry and the other
    /// parameters of this set. A SearchParameter that is not in use passes.
    pub fn check(&self, id: &str, resource: &Value) -> Result<(), Rejection> {
        if !is_in_use(resource) {
            return Ok(());
        }
        self.entries(id, resource).map(|_| ())
    }

    /// Whether the set has no parameter.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// How many (SearchParameter, base) entries the set has.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    fn custom(&self, resource_type: &str) -> impl Iterator<Item = &CustomParam> {
        self.by_type
            .get(resource_type)
            .into_iter()
            .flatten()
            .map(|&i| &self.params[i])
    }

    /// The custom parameters that apply to a resource type, with their parsed
    /// expressions (for index extraction).
    pub(crate) fn compiled_for(&self, resource_type: &str) -> impl Iterator<Item = &CustomParam> {
        self.custom(resource_type)
    }

    /// A search parameter of a resource type by code: the official one if there is one,
    /// else a custom one (`Resource`: the parameters every type has).
    pub fn search_param(&self, resource_type: &str, code: &str) -> Option<&SearchParam> {
        search_params::search_param(resource_type, code).or_else(|| {
            self.custom(resource_type)
                .map(|c| &c.param)
                .find(|p| p.code == code)
        })
    }

    /// Every search parameter of a resource type: the official ones, then the custom ones.
    pub fn search_params_for(&self, resource_type: &str) -> Vec<&SearchParam> {
        let mut out: Vec<&SearchParam> = search_params::search_params_for(resource_type)
            .into_iter()
            .map(|p| p as &SearchParam)
            .collect();
        out.extend(self.custom_params_for(resource_type));
        out
    }

    /// Only the custom parameters of a resource type.
    pub fn custom_params_for(&self, resource_type: &str) -> Vec<&SearchParam> {
        self.custom(resource_type).map(|c| &c.param).collect()
    }

    /// The type of the parameter a definition URL names, official or custom (a
    /// composite's components name their parameters this way).
    pub fn kind_of_definition(&self, url: &str) -> Option<SearchParamKind> {
        search_params::kind_of_definition(url).or_else(|| {
            self.params
                .iter()
                .find(|c| c.param.url == url)
                .map(|c| c.param.kind)
        })
    }

    /// Fills `by_type` from `params`.
    fn index(&mut self) {
        self.by_type.clear();
        for ty in resource_types().iter().copied().chain(["Resource"]) {
            let mut list: Vec<usize> = Vec::new();
            for (i, c) in self.params.iter().enumerate() {
                let applies = c.base == ty
                    || c.base == "Resource"
                    || (c.base == "DomainResource" && ty != "Resource" && is_domain_resource(ty));
                let hidden = search_params::search_param(ty, &c.param.code).is_some();
                let twice = list
                    .iter()
                    .any(|&j| self.params[j].param.code == c.param.code);
                if applies && !hidden && !twice {
                    list.push(i);
                }
            }
            if !list.is_empty() {
                self.by_type.insert(ty.to_owned(), list);
            }
        }
    }

    /// The entries of a SearchParameter stored as `source`, checked against the official
    /// registry and the parameters of this set from other sources.
    fn entries(&self, source: &str, r: &Value) -> Result<Vec<CustomParam>, Rejection> {
        let str_of = |key: &str| r.get(key).and_then(Value::as_str);
        let strs = |key: &str| -> Vec<&str> {
            r.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap_or_default())
                .collect()
        };
        let code = str_of("code").ok_or_else(|| {
            reject(
                IssueType::Required,
                "SearchParameter.code",
                "A search parameter needs a code",
            )
        })?;
        if !valid_code(code) {
            return Err(reject(
                IssueType::Invalid,
                "SearchParameter.code",
                format!(
                    "The code '{code}' cannot be used as a search parameter name: use letters, digits, '-' and '_', not starting with '_'"
                ),
            ));
        }
        let type_code = str_of("type").unwrap_or_default();
        let kind = SearchParamKind::from_code(type_code).ok_or_else(|| {
            reject(
                IssueType::Invalid,
                "SearchParameter.type",
                format!("Unknown search parameter type '{type_code}'"),
            )
        })?;
        if kind == SearchParamKind::Special {
            return Err(reject(
                IssueType::NotSupported,
                "SearchParameter.type",
                "Search parameters of type special need code of their own on the server; a SearchParameter resource cannot define one here",
            ));
        }
        let bases = strs("base");
        if bases.is_empty() {
            return Err(reject(
                IssueType::Required,
                "SearchParameter.base",
                "A search parameter needs at least one base resource type",
            ));
        }
        for (i, b) in bases.iter().enumerate() {
            if !(is_resource_type(b) || *b == "Resource" || *b == "DomainResource") {
                return Err(reject(
                    IssueType::Invalid,
                    format!("SearchParameter.base[{i}]"),
                    format!("Unknown resource type '{b}'"),
                ));
            }
        }
        let targets = strs("target");
        for (i, t) in targets.iter().enumerate() {
            if !is_resource_type(t) {
                return Err(reject(
                    IssueType::Invalid,
                    format!("SearchParameter.target[{i}]"),
                    format!("Unknown resource type '{t}'"),
                ));
            }
        }
        let expression = str_of("expression")
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| {
                reject(
                    IssueType::Required,
                    "SearchParameter.expression",
                    "A search parameter needs a FHIRPath expression: this server finds values by evaluating it",
                )
            })?;
        parse(expression).map_err(|e| {
            reject(
                IssueType::Invalid,
                "SearchParameter.expression",
                format!("The expression does not parse: {e}"),
            )
        })?;
        let (declared, components) = if kind == SearchParamKind::Composite {
            self.components(source, r)?
        } else {
            (Vec::new(), Vec::new())
        };
        let url = str_of("url").unwrap_or_default();
        let mut out: Vec<CustomParam> = Vec::new();
        for base in bases.iter().copied() {
            if out.iter().any(|c| c.base == base) {
                continue;
            }
            if let Some(official) = official_clash(base, code) {
                if !url.is_empty() && official.url == url {
                    // The official definition itself: nothing to add.
                    continue;
                }
                return Err(reject(
                    IssueType::Duplicate,
                    "SearchParameter.code",
                    format!(
                        "{base} has the official search parameter '{code}' ({}); a custom one cannot replace it",
                        official.url
                    ),
                ));
            }
            if let Some(other) = self
                .params
                .iter()
                .find(|c| c.source != source && c.param.code == code && overlaps(&c.base, base))
            {
                return Err(reject(
                    IssueType::Duplicate,
                    "SearchParameter.code",
                    format!(
                        "'{code}' is already a search parameter of {} (SearchParameter/{})",
                        other.base, other.source
                    ),
                ));
            }
            let restricted = expression_for(expression, base).ok_or_else(|| {
                reject(
                    IssueType::Invalid,
                    "SearchParameter.expression",
                    format!("No part of the expression applies to {base}"),
                )
            })?;
            let parsed = parse(&restricted).map_err(|e| {
                reject(
                    IssueType::Invalid,
                    "SearchParameter.expression",
                    format!("The expression for {base} does not parse: {e}"),
                )
            })?;
            // A trial run on an empty resource of the base catches names the model does
            // not have (`Patient.nmae`) and unknown functions, which parse fine.
            let probe = if is_resource_type(base) {
                base
            } else {
                "Basic"
            };
            if let Err(FhirPathError::Semantic(why)) =
                parsed.evaluate(&json!({ "resourceType": probe }))
            {
                return Err(reject(
                    IssueType::Invalid,
                    "SearchParameter.expression",
                    format!("The expression is not valid for {base}: {why}"),
                ));
            }
            out.push(CustomParam {
                source: source.to_owned(),
                base: base.to_owned(),
                param: SearchParam {
                    code: code.to_owned(),
                    url: url.to_owned(),
                    kind,
                    base: bases.iter().map(|b| (*b).to_owned()).collect(),
                    expression: Some(restricted),
                    targets: targets.iter().map(|t| (*t).to_owned()).collect(),
                    components: declared.clone(),
                },
                expression: parsed,
                components: components.clone(),
            });
        }
        Ok(out)
    }

    /// A composite's components: as declared (definition, expression) and compiled.
    fn components(&self, source: &str, r: &Value) -> Result<Components, Rejection> {
        let list = r
            .get("component")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if list.is_empty() {
            return Err(reject(
                IssueType::Required,
                "SearchParameter.component",
                "A composite search parameter needs components",
            ));
        }
        let mut declared = Vec::new();
        let mut compiled = Vec::new();
        for (i, c) in list.iter().enumerate() {
            let at = |field: &str| format!("SearchParameter.component[{i}].{field}");
            let definition = c.get("definition").and_then(Value::as_str).ok_or_else(|| {
                reject(
                    IssueType::Required,
                    at("definition"),
                    "A component needs the url of its search parameter",
                )
            })?;
            let kind = search_params::kind_of_definition(definition)
                .or_else(|| {
                    self.params
                        .iter()
                        .find(|p| p.source != source && p.param.url == definition)
                        .map(|p| p.param.kind)
                })
                .ok_or_else(|| {
                    reject(
                        IssueType::Invalid,
                        at("definition"),
                        format!(
                            "'{definition}' is not the url of a search parameter this server knows"
                        ),
                    )
                })?;
            if matches!(kind, SearchParamKind::Composite | SearchParamKind::Special) {
                return Err(reject(
                    IssueType::NotSupported,
                    at("definition"),
                    "A component must be a search parameter of a simple type, not a composite or special one",
                ));
            }
            let text = c.get("expression").and_then(Value::as_str).ok_or_else(|| {
                reject(
                    IssueType::Required,
                    at("expression"),
                    "A component needs an expression",
                )
            })?;
            let expression = parse(text).map_err(|e| {
                reject(
                    IssueType::Invalid,
                    at("expression"),
                    format!("The expression does not parse: {e}"),
                )
            })?;
            declared.push((definition.to_owned(), text.to_owned()));
            compiled.push((kind, expression));
        }
        Ok((declared, compiled))
    }
}

/// A composite's components as declared (definition URL, expression) and as compiled
/// (kind, parsed expression).
type Components = (Vec<(String, String)>, Vec<(SearchParamKind, Expression)>);

/// Whether a code can be a search parameter name in a URL.
fn valid_code(code: &str) -> bool {
    code.starts_with(|c: char| c.is_ascii_alphanumeric())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The official parameter `code` of `base` (for `Resource` and `DomainResource`: one
/// defined on them, which every type below them has).
fn official_clash(base: &str, code: &str) -> Option<&'static SearchParam> {
    match base {
        "Resource" => official_for_base("Resource")
            .iter()
            .find(|p| p.code == code),
        "DomainResource" => official_for_base("Resource")
            .iter()
            .chain(official_for_base("DomainResource"))
            .find(|p| p.code == code),
        _ => search_params::search_param(base, code),
    }
}

/// Whether two bases share a resource type.
fn overlaps(a: &str, b: &str) -> bool {
    let covers = |general: &str, other: &str| match general {
        "Resource" => true,
        "DomainResource" => other == "DomainResource" || is_domain_resource(other),
        _ => false,
    };
    a == b || covers(a, b) || covers(b, a)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::index::{IndexValue, extract_index_values, extract_index_values_with};

    fn sp(code: &str, base: &[&str], ty: &str, expression: &str) -> Value {
        json!({"resourceType": "SearchParameter", "url": format!("http://example.org/sp/{code}"),
            "name": code, "status": "active", "description": "test", "code": code,
            "base": base, "type": ty, "expression": expression})
    }

    fn rejection(r: &Value) -> Rejection {
        search_params_from_resource(r).unwrap_err()
    }

    #[test]
    fn a_search_parameter_becomes_one_entry_per_base() {
        let r = sp(
            "nick",
            &["Patient", "Practitioner"],
            "string",
            "Patient.name.where(use = 'nickname').given | Practitioner.name.given",
        );
        let params = search_params_from_resource(&r).unwrap();
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].code, "nick");
        assert_eq!(params[0].kind, SearchParamKind::String);
        assert_eq!(params[0].url, "http://example.org/sp/nick");
        assert_eq!(
            params[0].expression.as_deref(),
            Some("Patient.name.where(use = 'nickname').given")
        );
        assert_eq!(
            params[1].expression.as_deref(),
            Some("Practitioner.name.given")
        );
        assert_eq!(params[1].base, ["Patient", "Practitioner"]);
        let mut reference = sp(
            "performed-by",
            &["Observation"],
            "reference",
            "Observation.performer",
        );
        reference["target"] = json!(["Practitioner", "Organization"]);
        let params = search_params_from_resource(&reference).unwrap();
        assert_eq!(params[0].targets, ["Practitioner", "Organization"]);
    }

    #[test]
    fn unusable_definitions_are_rejected_with_the_element_path() {
        let cases: Vec<(Value, &str, IssueType)> = vec![
            (
                sp("nick", &["Patient"], "string", "Patient.name.where("),
                "SearchParameter.expression",
                IssueType::Invalid,
            ),
            (
                {
                    let mut r = sp("nick", &["Patient"], "string", "x");
                    r.as_object_mut().unwrap().shift_remove("expression");
                    r
                },
                "SearchParameter.expression",
                IssueType::Required,
            ),
            (
                sp("nick", &["Patient", "Nope"], "string", "Patient.name"),
                "SearchParameter.base[1]",
                IssueType::Invalid,
            ),
            (
                sp("nick", &["Patient"], "special", "Patient.name"),
                "SearchParameter.type",
                IssueType::NotSupported,
            ),
            (
                sp("name", &["Patient"], "string", "Patient.name.given"),
                "SearchParameter.code",
                IssueType::Duplicate,
            ),
            (
                sp("_nick", &["Patient"], "string", "Patient.name"),
                "SearchParameter.code",
                IssueType::Invalid,
            ),
            (
                sp("a.b", &["Patient"], "string", "Patient.name"),
                "SearchParameter.code",
                IssueType::Invalid,
            ),
            (
                sp("nick", &["Patient"], "string", "Practitioner.name"),
                "SearchParameter.expression",
                IssueType::Invalid,
            ),
            (
                sp("nick", &["Patient"], "string", "Patient.nmae"),
                "SearchParameter.expression",
                IssueType::Invalid,
            ),
            (
                sp("nick", &["Patient"], "string", "Patient.name.nonsense()"),
                "SearchParameter.expression",
                IssueType::Invalid,
            ),
            (
                {
                    let mut r = sp("by", &["Observation"], "reference", "Observation.performer");
                    r["target"] = json!(["Nope"]);
                    r
                },
                "SearchParameter.target[0]",
                IssueType::Invalid,
            ),
            (
                sp("combo", &["Observation"], "composite", "Observation"),
                "SearchParameter.component",
                IssueType::Required,
            ),
        ];
        for (r, path, code) in cases {
            let e = rejection(&r);
            assert_eq!((e.path.as_str(), e.code), (path, code), "{r}: {e}");
            assert!(!e.reason.is_empty());
        }
    }

    #[test]
    fn a_copy_of_an_official_definition_adds_nothing() {
        let mut r = sp("family", &["Patient"], "string", "Patient.name.family");
        r["url"] = json!(
            crate::search_params::search_param("Patient", "family")
                .unwrap()
                .url
                .clone()
        );
        assert_eq!(search_params_from_resource(&r).unwrap(), Vec::new());
    }

    #[test]
    fn lookups_layer_over_the_official_registry() {
        let nick = sp(
            "nick",
            &["Patient"],
            "string",
            "Patient.name.where(use = 'nickname').given",
        );
        let everywhere = sp("tagged", &["Resource"], "token", "Resource.meta.tag");
        let (set, rejected) =
            CustomSearchParams::from_resources([("a", &nick), ("b", &everywhere)]);
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(set.len(), 2);
        assert_eq!(
            set.search_param("Patient", "nick").unwrap().kind,
            SearchParamKind::String
        );
        assert!(set.search_param("Practitioner", "nick").is_none());
        assert!(set.search_param("Practitioner", "tagged").is_some());
        assert!(set.search_param("Resource", "tagged").is_some());
        assert!(set.search_param("Resource", "nick").is_none());
        let patient: Vec<&str> = set
            .custom_params_for("Patient")
            .iter()
            .map(|p| p.code.as_str())
            .collect();
        assert_eq!(patient, ["nick", "tagged"]);
        assert!(set.search_params_for("Patient").len() > patient.len() + 20);
        assert_eq!(
            set.kind_of_definition("http://example.org/sp/nick"),
            Some(SearchParamKind::String)
        );
        assert!(CustomSearchParams::none().is_empty());
        assert!(
            CustomSearchParams::none()
                .search_param("Patient", "name")
                .is_some()
        );
    }

    #[test]
    fn custom_codes_do_not_clash_with_each_other() {
        let first = sp("nick", &["Patient"], "string", "Patient.name.given");
        let second = sp("nick", &["DomainResource"], "string", "text.div");
        let third = sp(
            "nick",
            &["Practitioner"],
            "string",
            "Practitioner.name.given",
        );
        let (set, rejected) =
            CustomSearchParams::from_resources([("a", &first), ("b", &second), ("c", &third)]);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].0, "b");
        assert_eq!(rejected[0].1.code, IssueType::Duplicate);
        assert!(set.search_param("Practitioner", "nick").is_some());
        // Updating a SearchParameter replaces its own definition: no clash with itself.
        assert!(set.check("a", &first).is_ok());
        assert_eq!(
            set.check("z", &first).unwrap_err().path,
            "SearchParameter.code"
        );
        // Not in use: not checked.
        let mut retired = first.clone();
        retired["status"] = json!("retired");
        assert!(set.check("z", &retired).is_ok());
        let (none, rejected) = CustomSearchParams::from_resources([("r", &retired)]);
        assert!(none.is_empty() && rejected.is_empty());
    }

    #[test]
    fn extraction_adds_the_custom_values() {
        let nick = sp(
            "nick",
            &["Patient"],
            "string",
            "Patient.name.where(use = 'nickname').given",
        );
        let mut by = sp(
            "performed-by",
            &["Observation"],
            "reference",
            "Observation.performer",
        );
        by["target"] = json!(["Practitioner"]);
        let technique = sp("technique", &["Observation"], "token", "Observation.method");
        let mut combo = sp(
            "technique-value",
            &["Observation"],
            "composite",
            "Observation",
        );
        combo["component"] = json!([
            {"definition": "http://example.org/sp/technique", "expression": "method"},
            {"definition": "http://hl7.org/fhir/SearchParameter/Observation-value-quantity",
             "expression": "value.as(Quantity)"}]);
        let (set, rejected) = CustomSearchParams::from_resources([
            ("a", &nick),
            ("b", &by),
            ("c", &technique),
            ("d", &combo),
        ]);
        assert!(rejected.is_empty(), "{rejected:?}");
        let p = json!({"resourceType": "Patient",
            "name": [{"family": "Doe", "given": ["Robert"]}, {"use": "nickname", "given": ["Bob"]}]});
        let e = extract_index_values_with(&p, &set);
        let nick: Vec<&IndexValue> = e
            .iter()
            .filter(|x| x.param == "nick")
            .map(|x| &x.value)
            .collect();
        assert_eq!(
            nick,
            [&IndexValue::String {
                normalized: "bob".into(),
                exact: "Bob".into()
            }]
        );
        assert_eq!(e.len(), extract_index_values(&p).len() + 1);
        let o = json!({"resourceType": "Observation", "status": "final",
            "code": {"text": "x"},
            "method": {"coding": [{"system": "http://snomed.info/sct", "code": "37931006"}]},
            "performer": [{"reference": "Practitioner/7"}],
            "valueQuantity": {"value": 5, "system": "http://unitsofmeasure.org", "code": "mg"}});
        let e = extract_index_values_with(&o, &set);
        let find = |param: &str| e.iter().filter(|x| x.param == param).count();
        assert_eq!(find("performed-by"), 1);
        assert_eq!(find("technique"), 1);
        assert_eq!(find("technique-value$0"), 1);
        assert_eq!(find("technique-value$1"), 1);
        // Other types are untouched.
        let p2 = json!({"resourceType": "Practitioner", "name": [{"given": ["Bob"]}]});
        assert_eq!(
            extract_index_values_with(&p2, &set),
            extract_index_values(&p2)
        );
    }
}
