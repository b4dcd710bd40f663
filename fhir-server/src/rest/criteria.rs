//! Search criteria from a query string, typed by the official search-parameter
//! definitions: what conditional interactions (`If-None-Exist`, conditional update and
//! delete, conditional references in transactions) and basic search match on.
//!
//! The server's custom search parameters (its SearchParameter resources,
//! `fhir_model::custom_params`) are seen everywhere a parameter is looked up (plain
//! parameters, chains, `_has`, `_sort`) by the `*_with` entry points and those that take
//! the set; the others see the official registry only, for callers that have no server
//! state.
//!
//! Supported: `_id`, `_list`, and every parameter of type token, reference, string, uri,
//! [date](https://hl7.org/fhir/R4/search.html#date) (`_lastUpdated` included),
//! [number](https://hl7.org/fhir/R4/search.html#number),
//! [quantity](https://hl7.org/fhir/R4/search.html#quantity) and
//! [composite](https://hl7.org/fhir/R4/search.html#composite) (`code-value-quantity=
//! http://loinc.org|8480-6$gt100`: the components' values joined by `$`, matched on one
//! item of the resource together), with the
//! [prefixes](https://hl7.org/fhir/R4/search.html#prefix) `eq ne gt lt ge le sa eb ap` on
//! dates, numbers and quantities, and the modifiers `:missing` (every type), `:exact` and
//! `:contains` (string), `:not`, `:text`, `:of-type` (identifiers: `typeSystem|typeCode|
//! value`), `:in` and `:not-in` (ValueSets stored on this server, resolved by the store)
//! (token), `:[Type]` and `:identifier` (reference), `:below` and `:above` (uri);
//! [chains](https://hl7.org/fhir/R4/search.html#chaining) (`subject:Patient.name`,
//! `subject.name` over every target type of `subject` that has `name`, multi-hop) and
//! [`_has`](https://hl7.org/fhir/R4/search.html#has) (nested too). `_list=id` is
//! `_has:List:item:_id=id`. A [system-level search](https://hl7.org/fhir/R4/search.html#all)
//! takes the parameters every type has, or with `_type` those the listed types share
//! ([`parse_system_criteria`]). Other modifiers (and the special parameters `_text`,
//! `_content`, `_query`, `near`) are refused with a clear 400 (issue type
//! `not-supported`) by [`parse_criteria`], which conditional interactions use; search may
//! instead ignore and report them ([`Handling::Lenient`]). An invalid value, or a chain on
//! a parameter that is not a reference, is a 400 (`value`, `invalid`) either way.
//!
//! Token `:text` is a case- and accent-insensitive prefix match on the display text
//! (CodeableConcept.text, Coding.display, Identifier.type.text). That text is indexed
//! since schema migration 0002, and composites, `:of-type` and `:identifier` rows and
//! canonical quantities since 0003: resources stored before them are found by those
//! once re-indexed (written again, or `$reindex`).
//!
//! Values are typed here, purely:
//! - a date is the inclusive range of instants its precision covers (`2020` is the whole
//!   year, `2020-03-05T10:00` that minute); a value without an offset is taken as UTC.
//!   `ap` widens that range by 10 % of the distance between the value and now, on each
//!   side.
//! - a number stands for the range of its implicit precision (`100` is [99.5, 100.5),
//!   `100.00` is [99.995, 100.005), `1e2` is [50, 150): one significant figure, as the
//!   spec's text says, where its example range [95, 105) does not) for `eq` and `ne`; the other
//!   prefixes compare with the value itself; `ap` is within 10 % of the value (and at
//!   least the precision range).
//! - a quantity is `[prefix]number`, `[prefix]number|system|code` or
//!   `[prefix]number||code` (code or human unit, any system). With a UCUM unit
//!   (`http://unitsofmeasure.org`) the number and its precision range are converted to
//!   canonical UCUM units and compared with stored quantities' canonical form, so
//!   `98.6|http://unitsofmeasure.org|[degF]` finds `37 Cel` and `1|…|g` finds `1000 mg`;
//!   stored quantities whose unit has no canonical form are compared as written.

use fhir_model::custom_params::CustomSearchParams;
use fhir_model::fhirpath::value::{Temporal, format_instant_millis};
use fhir_model::outcome::IssueType;
use fhir_model::search_params::SearchParamKind;

use crate::error::ApiError;
use crate::store::{
    Criterion, DateMatch, NumberMatch, Prefix, QuantityMatch, ReferenceMatch, SortKey, StringMode,
    TokenMatch, UriMode,
};

/// Parameters that shape results instead of selecting them.
pub const RESULT_PARAMETERS: &[&str] = &[
    "_count",
    "_format",
    "_pretty",
    "_summary",
    "_elements",
    "_total",
    "_sort",
    "_include",
    "_include:iterate",
    "_revinclude",
    "_revinclude:iterate",
    "_contained",
    "_containedType",
    "_page",
    "_cursor",
    "_before",
    "_type",
];

/// Splits a parameter value at unescaped commas (`\\,` is a literal comma).
pub fn split_or(value: &str) -> Vec<String> {
    split_unescaped(value, ',')
}

/// Splits at unescaped `sep` (`\\` before it makes it literal).
fn split_unescaped(value: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&sep) => {
                out.last_mut().expect("never empty").push(sep);
                chars.next();
            }
            c if c == sep => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out
}

/// Parses `name=value&…` pairs (already percent-decoded) into criteria for `res_type`,
/// strictly: an unknown parameter or unsupported modifier is a 400, as conditional
/// interactions need. Result-shaping parameters are skipped. `base_url` turns absolute
/// references to this server into relative ones. Only the official search parameters:
/// [`parse_criteria_with`] sees the server's custom ones too.
pub fn parse_criteria(
    res_type: &str,
    pairs: &[(String, String)],
    base_url: &str,
) -> Result<Vec<Criterion>, ApiError> {
    parse_criteria_with(CustomSearchParams::none(), res_type, pairs, base_url)
}

/// [`parse_criteria`] with the official and the custom search parameters of `params`.
pub fn parse_criteria_with(
    params: &CustomSearchParams,
    res_type: &str,
    pairs: &[(String, String)],
    base_url: &str,
) -> Result<Vec<Criterion>, ApiError> {
    let ctx = Ctx {
        params,
        base_url,
        now_ms: now_millis(),
    };
    parse_search_criteria_at(res_type, pairs, Handling::Strict, ctx).map(|(criteria, _)| criteria)
}

/// [`parse_criteria`] with "now" given (milliseconds since the epoch), for `ap` on dates.
pub fn parse_criteria_at(
    res_type: &str,
    pairs: &[(String, String)],
    base_url: &str,
    now_ms: i64,
) -> Result<Vec<Criterion>, ApiError> {
    let ctx = Ctx {
        params: CustomSearchParams::none(),
        base_url,
        now_ms,
    };
    parse_search_criteria_at(res_type, pairs, Handling::Strict, ctx).map(|(criteria, _)| criteria)
}

/// What parsing reads besides the query: the search parameters (official and custom),
/// the base URL (absolute references to this server become relative) and "now" (for
/// `ap` on dates).
#[derive(Clone, Copy)]
struct Ctx<'a> {
    params: &'a CustomSearchParams,
    base_url: &'a str,
    now_ms: i64,
}

/// How a search treats parameters it does not know or support
/// ([`Prefer: handling`](https://hl7.org/fhir/R4/search.html#errors)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// `handling=strict`: refused with a 400.
    Strict,
    /// `handling=lenient` (the default for search): ignored, and reported.
    Lenient,
}

impl Handling {
    /// The `handling` preference of the `Prefer` header values; lenient when absent.
    pub fn from_prefer<'a>(values: impl IntoIterator<Item = &'a str>) -> Handling {
        let strict = values
            .into_iter()
            .flat_map(|v| v.split([',', ';']))
            .filter_map(|p| p.trim().split_once('='))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("handling"))
            .last()
            .is_some_and(|(_, v)| v.trim().trim_matches('"').eq_ignore_ascii_case("strict"));
        if strict {
            Handling::Strict
        } else {
            Handling::Lenient
        }
    }
}

impl Handling {
    /// What a search does with a parameter it cannot use (`result` refused as
    /// `not-supported`): lenient handling lists it in `ignored` (once per name) and goes
    /// on without it (`Ok(None)`); strict handling, and any other error, is the error.
    pub fn tolerate<T>(
        self,
        name: &str,
        result: Result<T, ApiError>,
        ignored: &mut Vec<Ignored>,
    ) -> Result<Option<T>, ApiError> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e)
                if self == Handling::Lenient
                    && e.issues.iter().all(|i| i.code == IssueType::NotSupported) =>
            {
                if !ignored.iter().any(|i| i.name == name) {
                    ignored.push(Ignored {
                        name: name.to_owned(),
                        diagnostics: e
                            .issues
                            .iter()
                            .map(|i| i.diagnostics.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                    });
                }
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// [`Handling::tolerate`] for the parameters among `names` that a request carries but
    /// that do not apply to it (`why` says so).
    pub fn not_applicable(
        self,
        pairs: &[(String, String)],
        names: &[&str],
        why: &str,
        ignored: &mut Vec<Ignored>,
    ) -> Result<(), ApiError> {
        for name in names {
            if pairs.iter().any(|(k, _)| k == name) {
                let refused = ApiError::bad_request(
                    IssueType::NotSupported,
                    format!("'{name}' is not supported: {why}"),
                );
                self.tolerate::<()>(name, Err(refused), ignored)?;
            }
        }
        Ok(())
    }
}

/// A search parameter a lenient search ignored: its name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The parameter name as given (`name:modifier`, chain included).
    pub name: String,
    /// Why it was ignored.
    pub diagnostics: String,
}

/// [`parse_criteria`] for a search: with [`Handling::Lenient`], an unknown parameter or
/// unsupported modifier is left out and listed (every pair with that name) instead of
/// refused. An invalid value of a known parameter is refused either way. Only the
/// official search parameters: [`parse_search_criteria_with`] sees the custom ones too.
pub fn parse_search_criteria(
    res_type: &str,
    pairs: &[(String, String)],
    base_url: &str,
    handling: Handling,
) -> Result<(Vec<Criterion>, Vec<Ignored>), ApiError> {
    parse_search_criteria_with(
        CustomSearchParams::none(),
        res_type,
        pairs,
        base_url,
        handling,
    )
}

/// [`parse_search_criteria`] with the official and the custom search parameters of
/// `params`.
pub fn parse_search_criteria_with(
    params: &CustomSearchParams,
    res_type: &str,
    pairs: &[(String, String)],
    base_url: &str,
    handling: Handling,
) -> Result<(Vec<Criterion>, Vec<Ignored>), ApiError> {
    let ctx = Ctx {
        params,
        base_url,
        now_ms: now_millis(),
    };
    parse_search_criteria_at(res_type, pairs, handling, ctx)
}

fn parse_search_criteria_at(
    res_type: &str,
    pairs: &[(String, String)],
    handling: Handling,
    ctx: Ctx<'_>,
) -> Result<(Vec<Criterion>, Vec<Ignored>), ApiError> {
    let mut criteria = Vec::new();
    let mut ignored: Vec<Ignored> = Vec::new();
    for (name, value) in pairs {
        // search.html#errors: "Empty parameters are not an error - they are just ignored".
        if RESULT_PARAMETERS.contains(&name.as_str()) || value.is_empty() {
            continue;
        }
        let parsed = parse_one(res_type, name, value, ctx);
        criteria.extend(handling.tolerate(name, parsed, &mut ignored)?);
    }
    Ok((criteria, ignored))
}

/// The criteria of a [system-level search](https://hl7.org/fhir/R4/search.html#all)
/// over `types` (every type when empty): with no `_type`, only the parameters every type
/// has; with `_type`, parameters each listed type has, and which mean the same for each
/// (a parameter that differs, say a chain whose targets differ, is refused).
pub fn parse_system_criteria(
    params: &CustomSearchParams,
    types: &[String],
    pairs: &[(String, String)],
    base_url: &str,
    handling: Handling,
) -> Result<(Vec<Criterion>, Vec<Ignored>), ApiError> {
    let ctx = Ctx {
        params,
        base_url,
        now_ms: now_millis(),
    };
    let Some((first, rest)) = types.split_first() else {
        return parse_search_criteria_at("Resource", pairs, handling, ctx);
    };
    let parsed = parse_search_criteria_at(first, pairs, handling, ctx)?;
    for ty in rest {
        let other = parse_search_criteria_at(ty, pairs, handling, ctx)?;
        if other != parsed {
            return Err(ApiError::bad_request(
                IssueType::NotSupported,
                format!(
                    "The search parameters do not mean the same for {first} and {ty}; search them separately"
                ),
            ));
        }
    }
    Ok(parsed)
}

/// The types of a `_type` value (`Patient,Observation`); an unknown one is a 400.
pub fn parse_types(value: &str) -> Result<Vec<String>, ApiError> {
    value
        .split(',')
        .map(|t| {
            let t = t.trim();
            if fhir_model::definitions::is_resource_type(t) {
                Ok(t.to_owned())
            } else {
                Err(invalid_value("_type", t, "resource types"))
            }
        })
        .collect()
}

/// The keys of a [`_sort`](https://hl7.org/fhir/R4/search.html#sort) value
/// (`a,-b,c`): search parameters of `res_type` of a sortable type (string, token, date,
/// number, quantity, uri, reference; `_id` and `_lastUpdated`), `-` for descending. An
/// unknown or unsortable parameter is `not-supported` (so lenient search may ignore the
/// whole `_sort`); an empty key is an invalid value. Custom parameters of `params` sort too.
pub fn parse_sort(
    params: &CustomSearchParams,
    res_type: &str,
    value: &str,
) -> Result<Vec<SortKey>, ApiError> {
    let mut keys = Vec::new();
    for part in value.split(',') {
        let part = part.trim();
        let (descending, code) = match part.strip_prefix('-') {
            Some(code) => (true, code),
            None => (false, part),
        };
        if code.is_empty() {
            return Err(invalid_value("_sort", value, "a,-b,… (search parameters)"));
        }
        let kind = if code == "_id" {
            SearchParamKind::Token
        } else {
            match params.search_param(res_type, code) {
                Some(p) => p.kind,
                None => {
                    return Err(ApiError::bad_request(
                        IssueType::NotSupported,
                        format!("Cannot sort by '{code}': {res_type} has no such search parameter"),
                    ));
                }
            }
        };
        if matches!(kind, SearchParamKind::Composite | SearchParamKind::Special)
            || fhir_model::search_params::union_parts(res_type, code).is_some()
        {
            return Err(ApiError::bad_request(
                IssueType::NotSupported,
                format!("Sorting by the {kind:?} parameter '{code}' is not supported"),
            ));
        }
        keys.push(SortKey {
            param: code.to_owned(),
            kind,
            descending,
        });
    }
    Ok(keys)
}

/// Whether `res_type` has the search parameter `code` (`_id` included).
fn has_param(params: &CustomSearchParams, res_type: &str, code: &str) -> bool {
    code == "_id" || params.search_param(res_type, code).is_some()
}

/// One `name=value` pair as a criterion on `res_type`: a plain parameter, a
/// [chain](https://hl7.org/fhir/R4/search.html#chaining) or a
/// [`_has`](https://hl7.org/fhir/R4/search.html#has).
fn parse_one(res_type: &str, name: &str, value: &str, ctx: Ctx<'_>) -> Result<Criterion, ApiError> {
    if name == "_list" {
        // `_list=id`: the resources List/id holds, i.e. `_has:List:item:_id=id`.
        return Ok(Criterion::Has {
            source_type: "List".to_owned(),
            param: "item".to_owned(),
            criterion: Box::new(Criterion::Id(split_or(value))),
        });
    }
    if let Some(rest) = name.strip_prefix("_has:") {
        return parse_has(res_type, name, rest, value, ctx);
    }
    if let Some((head, chained)) = name.split_once('.') {
        return parse_chain(res_type, name, head, chained, value, ctx);
    }
    let (code, modifier) = match name.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (name, None),
    };
    if code == "_id" {
        if modifier.is_some() {
            return Err(unsupported(name));
        }
        return Ok(Criterion::Id(split_or(value)));
    }
    let Some(param) = ctx.params.search_param(res_type, code) else {
        return Err(unknown(res_type, code));
    };
    if let Some(parts) = fhir_model::search_params::union_parts(res_type, code) {
        return parse_union(res_type, parts, modifier, value, ctx);
    }
    let param_code = code.to_owned();
    if modifier == Some("missing") {
        let missing = match value {
            "true" => true,
            "false" => false,
            _ => {
                return Err(invalid_value(name, value, "true or false"));
            }
        };
        if let Some(parts) = fhir_model::search_params::composite_parts(res_type, code) {
            // Present when every part is (see `composite`).
            let present = Criterion::AllOf(
                parts
                    .iter()
                    .map(|part| parse_one(res_type, &format!("{part}:missing"), "false", ctx))
                    .collect::<Result<_, _>>()?,
            );
            return Ok(if missing {
                Criterion::Not(Box::new(present))
            } else {
                present
            });
        }
        // A composite is present when its first component is (its rows carry it).
        let (param_code, kind) = match param.kind {
            SearchParamKind::Special => return Err(unsupported(name)),
            SearchParamKind::Composite => (
                fhir_model::index::composite_component(code, 0),
                param
                    .components
                    .first()
                    .and_then(|(d, _)| ctx.params.kind_of_definition(d))
                    .ok_or_else(|| unsupported(name))?,
            ),
            kind => (param_code, kind),
        };
        return Ok(Criterion::Missing {
            param: param_code,
            kind,
            missing,
        });
    }
    if param.kind == SearchParamKind::Composite {
        if modifier.is_some() {
            return Err(unsupported(name));
        }
        return composite(res_type, name, code, &param.components, value, ctx);
    }
    value_criterion(
        param.kind,
        param_code,
        modifier,
        split_or(value),
        name,
        ctx.base_url,
        ctx.now_ms,
    )
}

/// A parameter that is the union of two others (`combo-code` is `code | component-code`,
/// and only those are indexed): either part matches. A negating modifier (`:not`,
/// `:not-in`, `:missing=true`) negates the union, not each part.
fn parse_union(
    res_type: &str,
    parts: [&str; 2],
    modifier: Option<&str>,
    value: &str,
    ctx: Ctx<'_>,
) -> Result<Criterion, ApiError> {
    let (modifier, value, negate) = match (modifier, value) {
        (Some("not"), v) => (None, v, true),
        (Some("not-in"), v) => (Some("in"), v, true),
        (Some("missing"), "true") => (Some("missing"), "false", true),
        (m, v) => (m, v, false),
    };
    let either = parts
        .iter()
        .map(|part| {
            let name = match modifier {
                Some(m) => format!("{part}:{m}"),
                None => (*part).to_owned(),
            };
            parse_one(res_type, &name, value, ctx)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let any = Criterion::AnyOf(either);
    Ok(if negate {
        Criterion::Not(Box::new(any))
    } else {
        any
    })
}

/// The criterion of a parameter of type `kind` (not composite) with the index name
/// `param_code`, the modifier and the OR'ed values (`name` is the parameter as written,
/// for errors).
fn value_criterion(
    kind: SearchParamKind,
    param_code: String,
    modifier: Option<&str>,
    values: Vec<String>,
    name: &str,
    base_url: &str,
    now_ms: i64,
) -> Result<Criterion, ApiError> {
    let criterion = match (kind, modifier) {
        (SearchParamKind::Token, None | Some("not")) => {
            let token = Criterion::Token {
                param: param_code,
                values: values.iter().map(|v| token_match(v)).collect(),
            };
            if modifier.is_some() {
                Criterion::Not(Box::new(token))
            } else {
                token
            }
        }
        (SearchParamKind::Token, Some("text")) => Criterion::TokenText {
            param: param_code,
            values: values.iter().map(|v| normalize(v)).collect(),
        },
        (SearchParamKind::Token, Some("of-type")) => Criterion::Token {
            param: fhir_model::index::of_type_param(&param_code),
            values: values
                .iter()
                .map(|v| match v.splitn(3, '|').collect::<Vec<_>>()[..] {
                    [system, code, value] if !code.is_empty() && !value.is_empty() => {
                        Ok(TokenMatch {
                            system: Some(system.to_owned()),
                            code: Some(format!("{code}|{value}")),
                        })
                    }
                    _ => Err(invalid_value(
                        name,
                        v,
                        "[type system]|[type code]|[identifier value]",
                    )),
                })
                .collect::<Result<_, _>>()?,
        },
        (SearchParamKind::Token, Some(m @ ("in" | "not-in"))) => {
            if let Some(bad) = values
                .iter()
                .find(|v| v.is_empty() || v.contains(char::is_whitespace))
            {
                return Err(invalid_value(name, bad, "the canonical URL of a ValueSet"));
            }
            let inside = Criterion::InValueSet {
                param: param_code,
                urls: values,
            };
            if m == "in" {
                inside
            } else {
                Criterion::Not(Box::new(inside))
            }
        }
        (SearchParamKind::Reference, Some("identifier")) => Criterion::Token {
            param: fhir_model::index::identifier_param(&param_code),
            values: values.iter().map(|v| token_match(v)).collect(),
        },
        (SearchParamKind::Reference, modifier) => {
            if let Some(m) = modifier
                && !fhir_model::definitions::is_resource_type(m)
            {
                return Err(unsupported(name));
            }
            Criterion::Reference {
                param: param_code,
                values: values
                    .iter()
                    .map(|v| reference_match(v, modifier, base_url))
                    .collect(),
            }
        }
        (SearchParamKind::String, None | Some("exact") | Some("contains")) => {
            let mode = match modifier {
                None => StringMode::Prefix,
                Some("exact") => StringMode::Exact,
                _ => StringMode::Contains,
            };
            Criterion::String {
                param: param_code,
                values: if mode == StringMode::Exact {
                    values
                } else {
                    values.iter().map(|v| normalize(v)).collect()
                },
                mode,
            }
        }
        (SearchParamKind::Uri, None | Some("below") | Some("above")) => Criterion::Uri {
            param: param_code,
            values,
            mode: match modifier {
                None => UriMode::Exact,
                Some("below") => UriMode::Below,
                _ => UriMode::Above,
            },
        },
        (SearchParamKind::Date, None) => Criterion::Date {
            param: param_code,
            values: values
                .iter()
                .map(|v| {
                    date_match(v, now_ms)
                        .ok_or_else(|| invalid_value(name, v, "a FHIR date or dateTime"))
                })
                .collect::<Result<_, _>>()?,
        },
        (SearchParamKind::Number, None) => Criterion::Number {
            param: param_code,
            values: values
                .iter()
                .map(|v| number_match(v).ok_or_else(|| invalid_value(name, v, "a number")))
                .collect::<Result<_, _>>()?,
        },
        (SearchParamKind::Quantity, None) => Criterion::Quantity {
            param: param_code,
            values: values
                .iter()
                .map(|v| {
                    quantity_match(v)
                        .ok_or_else(|| invalid_value(name, v, "[prefix]number[|system|code]"))
                })
                .collect::<Result<_, _>>()?,
        },
        _ => return Err(unsupported(name)),
    };
    Ok(criterion)
}

/// A [composite](https://hl7.org/fhir/R4/search.html#composite) parameter: each
/// (comma-separated) value is its components' values joined by `$`, one per component in
/// the definition's order, each typed by its component's parameter type.
fn composite(
    res_type: &str,
    name: &str,
    code: &str,
    components: &[(String, String)],
    value: &str,
    ctx: Ctx<'_>,
) -> Result<Criterion, ApiError> {
    let kinds: Vec<SearchParamKind> = components
        .iter()
        .map(|(definition, _)| ctx.params.kind_of_definition(definition))
        .collect::<Option<_>>()
        .filter(|k: &Vec<SearchParamKind>| !k.is_empty())
        .ok_or_else(|| unknown(res_type, code))?;
    // A composite whose rows would repeat other parameters' has none of its own: its
    // components are matched on those parameters' rows.
    let stored_as = fhir_model::search_params::composite_parts(res_type, code);
    let mut alternatives = Vec::new();
    for v in split_or(value) {
        let parts = split_unescaped(&v, '$');
        if parts.len() != kinds.len() {
            return Err(invalid_value(
                name,
                &v,
                &format!("{} values joined by '$'", kinds.len()),
            ));
        }
        let mut alternative = Vec::new();
        for (k, (kind, part)) in kinds.iter().zip(parts).enumerate() {
            alternative.push(value_criterion(
                *kind,
                stored_as.map_or_else(
                    || fhir_model::index::composite_component(code, k),
                    |p| p[k].to_owned(),
                ),
                None,
                vec![part],
                name,
                ctx.base_url,
                ctx.now_ms,
            )?);
        }
        alternatives.push(alternative);
    }
    if stored_as.is_some() {
        return Ok(Criterion::AnyOf(
            alternatives.into_iter().map(Criterion::AllOf).collect(),
        ));
    }
    Ok(Criterion::Composite {
        param: code.to_owned(),
        alternatives,
    })
}

/// `param[:Type].chained` (`head` is `param[:Type]`): the targets are `Type`, or every
/// target type of `param` that has the first parameter of `chained`.
fn parse_chain(
    res_type: &str,
    name: &str,
    head: &str,
    chained: &str,
    value: &str,
    ctx: Ctx<'_>,
) -> Result<Criterion, ApiError> {
    let (code, type_modifier) = match head.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (head, None),
    };
    let Some(param) = ctx.params.search_param(res_type, code) else {
        return Err(unknown(res_type, code));
    };
    if param.kind != SearchParamKind::Reference {
        return Err(ApiError::bad_request(
            IssueType::Invalid,
            format!("'{name}': only reference parameters can be chained, and '{code}' is not one"),
        ));
    }
    let types: Vec<&str> = match type_modifier {
        Some(t)
            if fhir_model::definitions::is_resource_type(t)
                && (param.targets.is_empty() || param.targets.iter().any(|p| p == t)) =>
        {
            vec![t]
        }
        Some(_) => return Err(unsupported(name)),
        None => param.targets.iter().map(String::as_str).collect(),
    };
    let next_code = chained
        .split(['.', ':'])
        .next()
        .expect("split yields at least one part");
    let mut targets = Vec::new();
    for t in types {
        if has_param(ctx.params, t, next_code) {
            targets.push((t.to_owned(), parse_one(t, chained, value, ctx)?));
        }
    }
    if targets.is_empty() {
        return Err(ApiError::bad_request(
            IssueType::NotSupported,
            format!("'{name}': no target type of '{code}' has the search parameter '{next_code}'"),
        ));
    }
    Ok(Criterion::Chain {
        param: code.to_owned(),
        targets,
    })
}

/// `_has:Type:param:criterion` (`rest` is what follows `_has:`): a `Type` refers to the
/// resource through its reference parameter `param` and matches `criterion`.
fn parse_has(
    res_type: &str,
    name: &str,
    rest: &str,
    value: &str,
    ctx: Ctx<'_>,
) -> Result<Criterion, ApiError> {
    let mut parts = rest.splitn(3, ':');
    let (Some(source), Some(code), Some(inner)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ApiError::bad_request(
            IssueType::NotSupported,
            format!("'{name}': expected _has:Type:param:criterion"),
        ));
    };
    if !fhir_model::definitions::is_resource_type(source) {
        return Err(ApiError::bad_request(
            IssueType::NotSupported,
            format!("'{name}': unknown resource type '{source}'"),
        ));
    }
    match ctx.params.search_param(source, code) {
        Some(p)
            if p.kind == SearchParamKind::Reference
                && (p.targets.is_empty() || p.targets.iter().any(|t| t == res_type)) => {}
        _ => {
            return Err(ApiError::bad_request(
                IssueType::NotSupported,
                format!(
                    "'{name}': '{code}' is not a reference parameter of {source} to {res_type}"
                ),
            ));
        }
    }
    Ok(Criterion::Has {
        source_type: source.to_owned(),
        param: code.to_owned(),
        criterion: Box::new(parse_one(source, inner, value, ctx)?),
    })
}

fn unknown(res_type: &str, code: &str) -> ApiError {
    ApiError::bad_request(
        IssueType::NotSupported,
        format!("Unknown search parameter '{code}' for resource type {res_type}"),
    )
}

fn unsupported(name: &str) -> ApiError {
    ApiError::bad_request(
        IssueType::NotSupported,
        format!("The search parameter or modifier '{name}' is not supported in this context yet"),
    )
}

fn invalid_value(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::bad_request(
        IssueType::Value,
        format!("Invalid value '{value}' for search parameter '{name}': expected {expected}"),
    )
}

fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Splits a leading search prefix (`ge2020` → (`Ge`, `2020`)); `eq` when there is none.
pub fn split_prefix(v: &str) -> (Prefix, &str) {
    let prefix = match v.get(..2) {
        Some("eq") => Prefix::Eq,
        Some("ne") => Prefix::Ne,
        Some("gt") => Prefix::Gt,
        Some("lt") => Prefix::Lt,
        Some("ge") => Prefix::Ge,
        Some("le") => Prefix::Le,
        Some("sa") => Prefix::Sa,
        Some("eb") => Prefix::Eb,
        Some("ap") => Prefix::Ap,
        _ => return (Prefix::Eq, v),
    };
    (prefix, &v[2..])
}

/// Milliseconds since the epoch of the first and last instants the store can write
/// (years 0001 to 9999: fixed-width text keeps time order).
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_799_999;

/// A date search value (`[prefix]date`): the inclusive UTC range its precision covers,
/// widened for `ap` by 10 % of its distance to `now_ms` on each side. `None` if it is not
/// a FHIR date/dateTime with at least minutes when a time is given.
pub fn date_match(v: &str, now_ms: i64) -> Option<DateMatch> {
    let (prefix, text) = split_prefix(v);
    if text.ends_with('T') {
        return None;
    }
    let t = Temporal::parse_datetime(text)?;
    if t.hour.is_some() && t.minute.is_none() {
        return None;
    }
    let (mut start, mut end) = t.range_millis();
    if prefix == Prefix::Ap {
        let mid = start + (end - start) / 2;
        let widen = (now_ms - mid).abs() / 10;
        start = start.saturating_sub(widen);
        end = end.saturating_add(widen);
    }
    let clamp = |ms: i64| format_instant_millis(ms.clamp(MIN_MS, MAX_MS));
    Some(DateMatch {
        prefix,
        start: clamp(start),
        end: clamp(end),
    })
}

/// A number search value (`[prefix]number`), with the range of its implicit precision.
pub fn number_match(v: &str) -> Option<NumberMatch> {
    let (prefix, text) = split_prefix(v);
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<i32>().ok()?),
        None => (text, 0),
    };
    let digits = mantissa.strip_prefix(['-', '+']).unwrap_or(mantissa);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let half = 0.5 * 10f64.powi(exponent - frac.len() as i32);
    let (low, high) = if prefix == Prefix::Ap {
        let spread = (value.abs() / 10.0).max(half);
        (value - spread, value + spread)
    } else {
        (value - half, value + half)
    };
    Some(NumberMatch {
        prefix,
        value,
        low,
        high,
    })
}

/// A quantity search value: `[prefix]number`, `[prefix]number|system|code` or
/// `[prefix]number||code`.
pub fn quantity_match(v: &str) -> Option<QuantityMatch> {
    let mut parts = v.splitn(3, '|');
    let number = number_match(parts.next()?)?;
    let (system, code) = match (parts.next(), parts.next()) {
        (None, _) => (None, None),
        (Some(system), Some(code)) => (
            (!system.is_empty()).then(|| system.to_owned()),
            (!code.is_empty()).then(|| code.to_owned()),
        ),
        (Some(_), None) => return None,
    };
    let canonical = canonical_number(&number, system.as_deref(), code.as_deref());
    Some(QuantityMatch {
        number,
        system,
        code,
        canonical,
    })
}

/// The number part of a quantity search value in canonical UCUM units (each bound
/// converted; the conversions are increasing, so ranges stay ranges), and that unit.
fn canonical_number(
    number: &NumberMatch,
    system: Option<&str>,
    code: Option<&str>,
) -> Option<(NumberMatch, String)> {
    let convert = |x: f64| fhir_model::index::canonical_quantity(x, system, code);
    let (value, unit) = convert(number.value)?;
    Some((
        NumberMatch {
            prefix: number.prefix,
            value,
            low: convert(number.low)?.0,
            high: convert(number.high)?.0,
        },
        unit,
    ))
}

fn token_match(v: &str) -> TokenMatch {
    match v.split_once('|') {
        Some((system, code)) => TokenMatch {
            system: Some(system.to_owned()),
            code: (!code.is_empty()).then(|| code.to_owned()),
        },
        None => TokenMatch {
            system: None,
            code: Some(v.to_owned()),
        },
    }
}

fn reference_match(v: &str, type_modifier: Option<&str>, base_url: &str) -> ReferenceMatch {
    let local = v
        .strip_prefix(base_url)
        .map(|rest| rest.trim_start_matches('/'))
        .unwrap_or(v);
    if local.contains("://") || local.starts_with("urn:") {
        return ReferenceMatch {
            target_type: None,
            target_id: None,
            url: Some(local.to_owned()),
        };
    }
    match local.split_once('/') {
        Some((t, id)) => ReferenceMatch {
            target_type: Some(t.to_owned()),
            target_id: Some(id.to_owned()),
            url: None,
        },
        None => ReferenceMatch {
            target_type: type_modifier.map(str::to_owned),
            target_id: Some(local.to_owned()),
            url: None,
        },
    }
}

/// The normalized form string parameters are indexed and matched in: lower case,
/// accents removed (as `fhir_model::index` writes them).
fn normalize(v: &str) -> String {
    fhir_model::index::normalize(v)
}

/// Parses a raw query string into decoded pairs.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_values_split_at_unescaped_commas() {
        assert_eq!(split_or("a,b\\,c"), vec!["a", "b,c"]);
    }

    #[test]
    fn token_forms() {
        let c = parse_criteria(
            "Patient",
            &query_pairs("identifier=http://x|1,|2,http://y|&gender=female"),
            "http://h/fhir",
        )
        .unwrap();
        assert_eq!(
            c[0],
            Criterion::Token {
                param: "identifier".into(),
                values: vec![
                    TokenMatch {
                        system: Some("http://x".into()),
                        code: Some("1".into())
                    },
                    TokenMatch {
                        system: Some(String::new()),
                        code: Some("2".into())
                    },
                    TokenMatch {
                        system: Some("http://y".into()),
                        code: None
                    },
                ]
            }
        );
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn references_to_this_server_become_relative() {
        let c = parse_criteria(
            "Observation",
            &query_pairs("subject=http://h/fhir/Patient/7"),
            "http://h/fhir",
        )
        .unwrap();
        assert_eq!(
            c[0],
            Criterion::Reference {
                param: "subject".into(),
                values: vec![ReferenceMatch {
                    target_type: Some("Patient".into()),
                    target_id: Some("7".into()),
                    url: None
                }]
            }
        );
    }

    #[test]
    fn unknown_parameters_and_modifiers_are_refused() {
        assert!(parse_criteria("Patient", &query_pairs("nonsense=1"), "").is_err());
        assert!(parse_criteria("Patient", &query_pairs("gender:below=x"), "").is_err());
        assert!(
            parse_criteria("Patient", &query_pairs("_count=5"), "")
                .unwrap()
                .is_empty()
        );
    }

    fn date(v: &str) -> DateMatch {
        date_match(v, 0).unwrap()
    }

    #[test]
    fn dates_are_ranges_by_precision() {
        let d = date("2020");
        assert_eq!(
            (d.prefix, d.start.as_str(), d.end.as_str()),
            (
                Prefix::Eq,
                "2020-01-01T00:00:00.000Z",
                "2020-12-31T23:59:59.999Z"
            )
        );
        let d = date("ge2020-02");
        assert_eq!(d.prefix, Prefix::Ge);
        assert_eq!(d.end, "2020-02-29T23:59:59.999Z");
        let d = date("2020-03-05T10:00");
        assert_eq!(
            (d.start.as_str(), d.end.as_str()),
            ("2020-03-05T10:00:00.000Z", "2020-03-05T10:00:59.999Z")
        );
        let d = date("lt2020-03-05T10:00:00+02:00");
        assert_eq!(d.prefix, Prefix::Lt);
        assert_eq!(
            (d.start.as_str(), d.end.as_str()),
            ("2020-03-05T08:00:00.000Z", "2020-03-05T08:00:00.999Z")
        );
        let d = date("9999-12-31T23:59-01:00");
        assert_eq!(
            d.end, "9999-12-31T23:59:59.999Z",
            "clamped to the last instant"
        );
    }

    #[test]
    fn ap_dates_widen_by_a_tenth_of_the_distance_to_now() {
        // now = 2000-01-01T00:00:00Z; the middle of 1990-01-01 is 3651.5 days before:
        // ± 365.15 days (365 days 3 h 36 min).
        let now = 946_684_800_000;
        let d = date_match("ap1990-01-01", now).unwrap();
        assert_eq!(d.prefix, Prefix::Ap);
        assert_eq!(d.start, "1988-12-31T20:24:00.000Z");
        assert_eq!(d.end, "1991-01-02T03:35:59.999Z");
    }

    #[test]
    fn invalid_dates_are_refused() {
        for v in [
            "2020-13",
            "2020-02-30",
            "20",
            "2020-03-05T10",
            "2015T",
            "gt",
            "xx2020",
            "2020-03-05T25:00",
        ] {
            assert!(date_match(v, 0).is_none(), "{v}");
        }
        let e = parse_criteria("Patient", &query_pairs("birthdate=2020-13"), "").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
    }

    #[test]
    fn numbers_carry_their_implicit_precision() {
        let n = number_match("100").unwrap();
        assert_eq!(
            (n.prefix, n.value, n.low, n.high),
            (Prefix::Eq, 100.0, 99.5, 100.5)
        );
        let n = number_match("100.00").unwrap();
        assert!((n.low - 99.995).abs() < 1e-9 && (n.high - 100.005).abs() < 1e-9);
        let n = number_match("1e2").unwrap();
        assert_eq!((n.value, n.low, n.high), (100.0, 50.0, 150.0));
        let n = number_match("gt-0.5").unwrap();
        assert_eq!((n.prefix, n.value), (Prefix::Gt, -0.5));
        let n = number_match("ap100").unwrap();
        assert_eq!((n.low, n.high), (90.0, 110.0));
        for v in ["", "ab", "1.2.3", "inf", "NaN", "1e", "gt", "--1", "."] {
            assert!(number_match(v).is_none(), "{v}");
        }
    }

    #[test]
    fn quantity_forms() {
        let q = quantity_match("lt65|http://unitsofmeasure.org|/min").unwrap();
        assert_eq!(q.number.prefix, Prefix::Lt);
        assert_eq!(q.system.as_deref(), Some("http://unitsofmeasure.org"));
        assert_eq!(q.code.as_deref(), Some("/min"));
        let q = quantity_match("5.4||mg").unwrap();
        assert_eq!((q.system, q.code.as_deref()), (None, Some("mg")));
        let q = quantity_match("5.4").unwrap();
        assert_eq!((q.system, q.code), (None, None));
        assert!(quantity_match("5.4|mg").is_none());
        assert!(quantity_match("x|http://u|mg").is_none());
    }

    #[test]
    fn modifiers() {
        let c = parse_criteria(
            "Patient",
            &query_pairs(
                "gender:not=male&name:contains=ÉR&birthdate:missing=true&_lastUpdated=gt2020",
            ),
            "",
        )
        .unwrap();
        assert!(matches!(&c[0], Criterion::Not(t) if matches!(**t, Criterion::Token { .. })));
        assert_eq!(
            c[1],
            Criterion::String {
                param: "name".into(),
                values: vec!["er".into()],
                mode: StringMode::Contains
            }
        );
        assert_eq!(
            c[2],
            Criterion::Missing {
                param: "birthdate".into(),
                kind: SearchParamKind::Date,
                missing: true
            }
        );
        assert!(matches!(&c[3], Criterion::Date { param, .. } if param == "_lastUpdated"));
        let c = parse_criteria("ValueSet", &query_pairs("url:below=http://a/b"), "").unwrap();
        assert!(matches!(
            &c[0],
            Criterion::Uri {
                mode: UriMode::Below,
                ..
            }
        ));
        assert_eq!(
            parse_criteria("Observation", &query_pairs("code:text=Héart%20R"), "").unwrap(),
            [Criterion::TokenText {
                param: "code".into(),
                values: vec!["heart r".into()]
            }]
        );
        assert!(parse_criteria("Patient", &query_pairs("gender:missing=maybe"), "").is_err());
        assert!(parse_criteria("Patient", &query_pairs("birthdate:exact=2020"), "").is_err());
    }

    #[test]
    fn chains_type_each_hop_by_its_target() {
        let c = parse_criteria(
            "Observation",
            &query_pairs("subject:Patient.organization.name=Acme"),
            "",
        )
        .unwrap();
        assert_eq!(
            c,
            [Criterion::Chain {
                param: "subject".into(),
                targets: vec![(
                    "Patient".into(),
                    Criterion::Chain {
                        param: "organization".into(),
                        targets: vec![(
                            "Organization".into(),
                            Criterion::String {
                                param: "name".into(),
                                values: vec!["acme".into()],
                                mode: StringMode::Prefix
                            }
                        )]
                    }
                )]
            }]
        );
        // Without a type: every target type that has the parameter.
        let c = parse_criteria("Observation", &query_pairs("subject.name=x"), "").unwrap();
        let Criterion::Chain { targets, .. } = &c[0] else {
            panic!("{c:?}")
        };
        let types: Vec<&str> = targets.iter().map(|(t, _)| t.as_str()).collect();
        assert!(
            types.contains(&"Patient") && types.contains(&"Location"),
            "{types:?}"
        );
        assert!(!types.contains(&"Group"), "{types:?}");
    }

    #[test]
    fn has_nests() {
        let c = parse_criteria(
            "Organization",
            &query_pairs("_has:Patient:organization:_has:Observation:patient:code=1"),
            "",
        )
        .unwrap();
        let Criterion::Has {
            source_type,
            param,
            criterion,
        } = &c[0]
        else {
            panic!("{c:?}")
        };
        assert_eq!(
            (source_type.as_str(), param.as_str()),
            ("Patient", "organization")
        );
        assert!(
            matches!(&**criterion, Criterion::Has { source_type, .. } if source_type == "Observation")
        );
        for bad in ["_has:Observation:patient=1", "_has:Observation:code:code=1"] {
            assert!(
                parse_criteria("Patient", &query_pairs(bad), "").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn lenient_search_ignores_unknown_parameters_but_not_invalid_values() {
        let pairs = query_pairs("nonsense=1&gender:below=x&gender=male&nonsense=2");
        let (c, ignored) = parse_search_criteria("Patient", &pairs, "", Handling::Lenient).unwrap();
        assert_eq!(c.len(), 1);
        let names: Vec<&str> = ignored.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["nonsense", "gender:below"]);
        assert!(parse_search_criteria("Patient", &pairs, "", Handling::Strict).is_err());
        let bad = query_pairs("birthdate=2020-13");
        assert!(parse_search_criteria("Patient", &bad, "", Handling::Lenient).is_err());
    }

    #[test]
    fn sort_keys() {
        let keys = parse_sort(
            CustomSearchParams::none(),
            "Observation",
            "date,-value-quantity,_id,-_lastUpdated",
        )
        .unwrap();
        let got: Vec<(&str, SearchParamKind, bool)> = keys
            .iter()
            .map(|k| (k.param.as_str(), k.kind, k.descending))
            .collect();
        assert_eq!(
            got,
            [
                ("date", SearchParamKind::Date, false),
                ("value-quantity", SearchParamKind::Quantity, true),
                ("_id", SearchParamKind::Token, false),
                ("_lastUpdated", SearchParamKind::Date, true),
            ]
        );
        for (bad, code) in [
            ("nonsense", IssueType::NotSupported),
            ("date,-nonsense", IssueType::NotSupported),
            ("code-value-quantity", IssueType::NotSupported),
            ("date,,code", IssueType::Value),
            ("-", IssueType::Value),
        ] {
            let e = parse_sort(CustomSearchParams::none(), "Observation", bad).unwrap_err();
            assert_eq!(e.issues[0].code, code, "{bad}");
        }
    }

    #[test]
    fn custom_parameters_are_seen_everywhere() {
        let sp = |code: &str, base: &str, ty: &str, expression: &str, target: &[&str]| {
            serde_json::json!({"resourceType": "SearchParameter", "status": "active",
                "url": format!("http://x/{code}"), "code": code, "base": [base],
                "type": ty, "expression": expression, "target": target})
        };
        let nick = sp(
            "nickname",
            "Patient",
            "string",
            "Patient.name.where(use = 'nickname').given",
            &[],
        );
        let by = sp(
            "performed-by",
            "Observation",
            "reference",
            "Observation.performer",
            &["Practitioner", "Patient"],
        );
        let (params, rejected) = CustomSearchParams::from_resources([("a", &nick), ("b", &by)]);
        assert!(rejected.is_empty(), "{rejected:?}");
        let parse = |ty: &str, q: &str| parse_criteria_with(&params, ty, &query_pairs(q), "");
        assert_eq!(
            parse("Patient", "nickname=Bób").unwrap(),
            [Criterion::String {
                param: "nickname".into(),
                values: vec!["bob".into()],
                mode: StringMode::Prefix
            }]
        );
        assert!(parse_criteria("Patient", &query_pairs("nickname=x"), "").is_err());
        let Criterion::Chain { param, targets } =
            &parse("Observation", "performed-by.nickname=x").unwrap()[0]
        else {
            panic!()
        };
        assert_eq!(param, "performed-by");
        let types: Vec<&str> = targets.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(types, ["Patient"], "only Patient has nickname");
        assert!(matches!(
            &parse("Practitioner", "_has:Observation:performed-by:status=final").unwrap()[0],
            Criterion::Has { param, .. } if param == "performed-by"
        ));
        let keys = parse_sort(&params, "Patient", "-nickname").unwrap();
        assert_eq!(
            (keys[0].kind, keys[0].descending),
            (SearchParamKind::String, true)
        );
        assert!(parse_sort(CustomSearchParams::none(), "Patient", "nickname").is_err());
        let (c, ignored) = parse_system_criteria(
            &params,
            &["Patient".to_owned()],
            &query_pairs("nickname=x"),
            "",
            Handling::Strict,
        )
        .unwrap();
        assert_eq!((c.len(), ignored.len()), (1, 0));
    }

    #[test]
    fn prefer_handling() {
        assert_eq!(Handling::from_prefer([]), Handling::Lenient);
        assert_eq!(
            Handling::from_prefer(["return=minimal, handling=strict"]),
            Handling::Strict
        );
        assert_eq!(
            Handling::from_prefer(["handling=lenient"]),
            Handling::Lenient
        );
    }
}
