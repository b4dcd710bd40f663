//! [Observation `$lastn`](https://hl7.org/fhir/R4/observation-operation-lastn.html)
//! (`GET [base]/Observation/$lastn?…`, and `POST` with a form body like `_search`): the
//! most recent Observations of each code for a subject, as a `searchset` Bundle.
//!
//! The request, as the operation's definition says it SHALL be:
//!
//! - a subject: the `patient` or `subject` parameter (a reference or a chain), else a 400
//!   (`required`);
//! - `category` and/or a parameter whose FHIRPath expression has a `code` element
//!   (`code`, `component-code`, `combo-code`), else a 400 (`required`): without them
//!   "the last of each code" would be every code the subject has;
//! - `max` (optional, a positiveInt, default 1): how many per code group; anything but a
//!   positive integer is a 400 (`value`) naming `max`. Values above the server's largest
//!   page size (`max_count`) are lowered to it.
//!
//! Every other Observation search parameter filters, parsed as search parses it
//! (`criteria.rs`); unknown parameters follow
//! [`Prefer: handling`](https://hl7.org/fhir/R4/search.html#errors) as in search
//! (lenient: ignored with an OperationOutcome entry; strict: a 400). Of the result
//! parameters, `_summary` (`count` included), `_elements`, `_format`, `_pretty` and
//! `_total` work as in search; the others (`_count`, `_sort`, `_include`, `_revinclude`,
//! paging) do not apply to `$lastn` and are handled like unknown parameters.
//!
//! The grouping, the order and the ties are the store's (`store::sql::lastn`): grouped by
//! code (translations join groups), most recent first by `effective[x]`, at most `max`
//! per group except that Observations tied with the last one kept are returned too. All
//! results are on one page (no paging links); `Bundle.total` is their number.

use axum::http::HeaderMap;
use axum::response::Response;
use fhir_model::outcome::{Issue, IssueType};
use fhir_model::search_params::search_param;
use serde_json::json;
use smart_auth::Interaction;

use super::criteria::{Handling, parse_search_criteria_with};
use super::history;
use super::search::{Searchset, searchset_response, wants_total};
use crate::AppState;
use crate::auth::access::Caller;
use crate::error::ApiError;
use crate::http::negotiate::negotiate;
use crate::store::{Criterion, LastnQuery, StoredResource};

/// The resource type the operation is defined on.
const OBSERVATION: &str = "Observation";

/// The canonical URL of the operation's definition.
pub const DEFINITION: &str = "http://hl7.org/fhir/OperationDefinition/Observation-lastn";

/// Result parameters of search that `$lastn` does not apply: ignored (and reported) with
/// lenient handling, refused with strict.
const NOT_APPLICABLE: &[&str] = &[
    "_count",
    "_sort",
    "_include",
    "_include:iterate",
    "_revinclude",
    "_revinclude:iterate",
    "_contained",
    "_containedType",
    "_page",
    "_cursor",
];

/// Answers `Observation/$lastn` with the given parameters (query string, and for a POST
/// the form body too).
pub async fn respond(
    state: &AppState,
    caller: &Caller,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    // `_summary=count` shapes the Bundle, not the resources.
    let summary_count = pairs.iter().any(|(k, v)| k == "_summary" && v == "count");
    let shaping: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, v)| !(k == "_summary" && v == "count"))
        .cloned()
        .collect();
    let neg = negotiate(&shaping, headers)?;
    let handling = Handling::from_prefer(
        headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let max = parse_max(pairs)?.min(state.config.max_count.max(1));
    let total = wants_total(pairs)?;

    let mut ignored = Vec::new();
    handling.not_applicable(
        pairs,
        NOT_APPLICABLE,
        "it does not apply to $lastn",
        &mut ignored,
    )?;
    let filters: Vec<(String, String)> =
        pairs.iter().filter(|(k, _)| k != "max").cloned().collect();
    let params = state.search_params.current();
    let (mut criteria, unknown) =
        parse_search_criteria_with(&params, OBSERVATION, &filters, &state.base_url, handling)?;
    ignored.extend(unknown);
    require(&criteria)?;
    // Only the Observations the caller may search are ranked.
    let reach = caller.reach(OBSERVATION, Interaction::Search, &params, &state.base_url)?;
    criteria.extend(reach.criteria().iter().cloned());

    let found = state.store.lastn(&LastnQuery { criteria, max }).await?;

    let base = &state.base_url;
    // The self link carries only the parameters this operation used.
    let used: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !ignored.iter().any(|i| &i.name == k))
        .cloned()
        .collect();
    let self_url = format!(
        "{base}/{OBSERVATION}/$lastn{}",
        history::link_query(&used, &[])
    );
    let outcomes = ignored
        .iter()
        .map(|i| {
            Issue::warning(
                IssueType::NotSupported,
                format!("The parameter '{}' was ignored: {}", i.name, i.diagnostics),
            )
        })
        .collect();
    let matches: &[StoredResource] = if summary_count { &[] } else { &found };
    searchset_response(
        base,
        Searchset {
            total: (total || summary_count).then_some(found.len() as i64),
            links: vec![json!({"relation": "self", "url": self_url})],
            matches,
            included: &[],
            outcomes,
        },
        neg,
    )
}

/// `max`: a positiveInt, once; 1 when absent.
fn parse_max(pairs: &[(String, String)]) -> Result<usize, ApiError> {
    let mut values = pairs.iter().filter(|(k, _)| k == "max").map(|(_, v)| v);
    let Some(value) = values.next() else {
        return Ok(1);
    };
    let invalid = |why: &str| {
        ApiError::bad_request(IssueType::Value, format!("Invalid max '{value}': {why}")).at("max")
    };
    if values.next().is_some() {
        return Err(invalid("max may be given once"));
    }
    // positiveInt: 1 to 2^31 - 1, digits only.
    match value.parse::<i32>() {
        Ok(n) if n >= 1 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n as usize),
        _ => Err(invalid("expected a positive integer")),
    }
}

/// The parameters the operation requires: a subject, and a category or a code.
fn require(criteria: &[Criterion]) -> Result<(), ApiError> {
    let params: Vec<&str> = criteria.iter().filter_map(param_of).collect();
    if !params.iter().any(|p| *p == "patient" || *p == "subject") {
        return Err(ApiError::bad_request(
            IssueType::Required,
            "$lastn needs a subject: the patient or subject parameter",
        ));
    }
    if !params
        .iter()
        .any(|p| *p == "category" || has_code_element(p))
    {
        return Err(ApiError::bad_request(
            IssueType::Required,
            "$lastn needs a category parameter and/or a code parameter (code, component-code, combo-code)",
        ));
    }
    Ok(())
}

/// The search parameter a criterion selects on, when it selects (not `:missing`).
fn param_of(c: &Criterion) -> Option<&str> {
    match c {
        Criterion::Token { param, .. }
        | Criterion::TokenText { param, .. }
        | Criterion::Reference { param, .. }
        | Criterion::Chain { param, .. } => Some(param),
        Criterion::Not(inner) => param_of(inner),
        _ => None,
    }
}

/// Whether an Observation search parameter's FHIRPath expression has a `code` element.
fn has_code_element(param: &str) -> bool {
    search_param(OBSERVATION, param)
        .and_then(|p| p.expression.as_deref())
        .is_some_and(|e| {
            e.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == "code")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        crate::rest::criteria::query_pairs(q)
    }

    #[test]
    fn max_is_a_positive_int_given_once() {
        assert_eq!(parse_max(&pairs("patient=1")).unwrap(), 1);
        assert_eq!(parse_max(&pairs("max=3")).unwrap(), 3);
        for bad in [
            "max=0",
            "max=-1",
            "max=abc",
            "max=1.5",
            "max=+2",
            "max=",
            "max=1&max=2",
        ] {
            let e = parse_max(&pairs(bad)).unwrap_err();
            assert_eq!(e.issues[0].expression.as_deref(), Some("max"), "{bad}");
        }
    }

    #[test]
    fn code_elements() {
        assert!(has_code_element("code"));
        assert!(has_code_element("combo-code"));
        assert!(has_code_element("component-code"));
        assert!(!has_code_element("value-concept"));
        assert!(!has_code_element("status"));
    }
}
