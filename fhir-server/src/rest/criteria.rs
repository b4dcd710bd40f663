//! Search criteria from a query string, typed by the official search-parameter
//! definitions: what conditional interactions (`If-None-Exist`, conditional update and
//! delete, conditional references in transactions) and basic search match on.
//!
//! Supported today: `_id`, and every parameter of type token, reference, string and uri
//! (with `:exact` for strings and `:[Type]` for references). Other types and modifiers
//! are refused with a clear 400 rather than silently ignored; the search issue widens them.

use fhir_model::outcome::IssueType;
use fhir_model::search_params::{SearchParamKind, search_param};

use crate::error::ApiError;
use crate::store::{Criterion, ReferenceMatch, TokenMatch};

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
    "_revinclude",
    "_contained",
    "_containedType",
    "_page",
    "_cursor",
];

/// Splits a parameter value at unescaped commas (`\,` is a literal comma).
pub fn split_or(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                out.last_mut().expect("never empty").push(',');
                chars.next();
            }
            ',' => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out
}

/// Parses `name=value&…` pairs (already percent-decoded) into criteria for `res_type`.
/// Result-shaping parameters are skipped. `base_url` turns absolute references to this
/// server into relative ones.
pub fn parse_criteria(
    res_type: &str,
    pairs: &[(String, String)],
    base_url: &str,
) -> Result<Vec<Criterion>, ApiError> {
    let mut criteria = Vec::new();
    for (name, value) in pairs {
        if RESULT_PARAMETERS.contains(&name.as_str()) {
            continue;
        }
        let (code, modifier) = match name.split_once(':') {
            Some((c, m)) => (c, Some(m)),
            None => (name.as_str(), None),
        };
        if code == "_id" {
            if modifier.is_some() {
                return Err(unsupported(name));
            }
            criteria.push(Criterion::Id(split_or(value)));
            continue;
        }
        let Some(param) = search_param(res_type, code) else {
            return Err(ApiError::bad_request(
                IssueType::NotSupported,
                format!("Unknown search parameter '{code}' for resource type {res_type}"),
            ));
        };
        let values = split_or(value);
        let param_code = code.to_owned();
        let criterion = match (param.kind, modifier) {
            (SearchParamKind::Token, None) => Criterion::Token {
                param: param_code,
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
            (SearchParamKind::String, None | Some("exact")) => Criterion::String {
                param: param_code,
                exact: modifier.is_some(),
                values: if modifier.is_some() {
                    values
                } else {
                    values.iter().map(|v| normalize(v)).collect()
                },
            },
            (SearchParamKind::Uri, None) => Criterion::Uri {
                param: param_code,
                values,
            },
            _ => return Err(unsupported(name)),
        };
        criteria.push(criterion);
    }
    Ok(criteria)
}

fn unsupported(name: &str) -> ApiError {
    ApiError::bad_request(
        IssueType::NotSupported,
        format!("The search parameter or modifier '{name}' is not supported in this context yet"),
    )
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
        assert!(parse_criteria("Patient", &query_pairs("gender:text=x"), "").is_err());
        assert!(
            parse_criteria("Patient", &query_pairs("_count=5"), "")
                .unwrap()
                .is_empty()
        );
    }
}
