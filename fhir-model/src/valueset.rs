//! The codes a ValueSet stands for, as token search's
//! [`:in` and `:not-in`](https://hl7.org/fhir/R4/search.html#token) need them: which
//! (system, code) pairs, or whole code systems, a value is "in".
//!
//! Read from the ValueSet alone, without a terminology server: its `expansion.contains`
//! when it has one (nested `contains` included), otherwise its `compose`:
//! `include.concept` lists, `include.system` without concepts (every code of the system),
//! `include.valueSet` (other ValueSets, returned for the caller to resolve, as a union)
//! and `exclude.concept` lists. Filters (`is-a` and the like) need the code system's
//! hierarchy and are refused with a reason, as are the forms whose meaning is an
//! intersection (`include` with both `system` and `valueSet`) or a whole-system exclude.

use serde_json::Value;

/// What a ValueSet contains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValueSetCodes {
    /// `(system, Some(code))` for one code, `(system, None)` for every code of a system.
    pub codes: Vec<(String, Option<String>)>,
    /// Canonical URLs of ValueSets whose codes are included too.
    pub imports: Vec<String>,
}

/// The codes of a ValueSet resource, or why they cannot be known without a terminology
/// server.
///
/// ```
/// let vs = serde_json::json!({"resourceType": "ValueSet", "compose": {"include": [
///     {"system": "http://loinc.org", "concept": [{"code": "8867-4"}, {"code": "8480-6"}]}]}});
/// let codes = fhir_model::valueset::value_set_codes(&vs).unwrap();
/// assert_eq!(codes.codes.len(), 2);
/// ```
pub fn value_set_codes(vs: &Value) -> Result<ValueSetCodes, String> {
    let mut out = ValueSetCodes::default();
    if let Some(contains) = vs.pointer("/expansion/contains").and_then(Value::as_array) {
        collect_contains(contains, &mut out.codes, 0);
        return Ok(out);
    }
    let Some(compose) = vs.get("compose") else {
        return Err("the ValueSet has neither an expansion nor a compose".into());
    };
    for include in array(compose, "include") {
        if array(include, "filter").next().is_some() {
            return Err("its compose uses filters, which need a terminology server".into());
        }
        let system = include.get("system").and_then(Value::as_str);
        let imports: Vec<&str> = array(include, "valueSet")
            .filter_map(Value::as_str)
            .collect();
        match (system, imports.is_empty()) {
            (Some(_), false) => {
                return Err(
                    "an include with both system and valueSet (an intersection) is not supported"
                        .into(),
                );
            }
            (None, false) => out.imports.extend(imports.into_iter().map(str::to_owned)),
            (Some(system), true) => {
                let mut concepts = array(include, "concept").peekable();
                if concepts.peek().is_none() {
                    out.codes.push((system.to_owned(), None));
                }
                for c in concepts {
                    if let Some(code) = c.get("code").and_then(Value::as_str) {
                        out.codes.push((system.to_owned(), Some(code.to_owned())));
                    }
                }
            }
            (None, true) => return Err("an include has neither system nor valueSet".into()),
        }
    }
    for exclude in array(compose, "exclude") {
        let system = exclude.get("system").and_then(Value::as_str);
        let mut concepts = array(exclude, "concept").peekable();
        let (Some(system), true) = (system, concepts.peek().is_some()) else {
            return Err("only excludes that list concepts of a system are supported".into());
        };
        for c in concepts {
            if let Some(code) = c.get("code").and_then(Value::as_str) {
                if out.codes.contains(&(system.to_owned(), None)) {
                    return Err(
                        "excluding codes from a whole included code system is not supported".into(),
                    );
                }
                out.codes
                    .retain(|(s, k)| !(s == system && k.as_deref() == Some(code)));
            }
        }
    }
    Ok(out)
}

fn array<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// Expansions nest `contains`; a hostile one could nest deeply, so depth is bounded.
fn collect_contains(contains: &[Value], out: &mut Vec<(String, Option<String>)>, depth: usize) {
    if depth > 64 {
        return;
    }
    for c in contains {
        if let (Some(system), Some(code)) = (
            c.get("system").and_then(Value::as_str),
            c.get("code").and_then(Value::as_str),
        ) {
            out.push((system.to_owned(), Some(code.to_owned())));
        }
        if let Some(nested) = c.get("contains").and_then(Value::as_array) {
            collect_contains(nested, out, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn expansion_wins_and_nests() {
        let vs = json!({"compose": {"include": [{"system": "x"}]},
            "expansion": {"contains": [{"system": "a", "code": "1",
                "contains": [{"system": "a", "code": "2"}]}, {"abstract": true, "display": "group"}]}});
        let codes = value_set_codes(&vs).unwrap();
        assert_eq!(
            codes.codes,
            [
                ("a".into(), Some("1".into())),
                ("a".into(), Some("2".into()))
            ]
        );
    }

    #[test]
    fn compose_forms() {
        let vs = json!({"compose": {
            "include": [{"system": "s", "concept": [{"code": "1"}, {"code": "2"}]},
                        {"system": "whole"}, {"valueSet": ["http://vs/other"]}],
            "exclude": [{"system": "s", "concept": [{"code": "2"}]}]}});
        let codes = value_set_codes(&vs).unwrap();
        assert_eq!(
            codes.codes,
            [("s".into(), Some("1".into())), ("whole".into(), None)]
        );
        assert_eq!(codes.imports, ["http://vs/other"]);
    }

    #[test]
    fn what_needs_a_terminology_server_is_refused() {
        for vs in [
            json!({}),
            json!({"compose": {"include": [{"system": "s", "filter": [{"property": "concept", "op": "is-a", "value": "x"}]}]}}),
            json!({"compose": {"include": [{"system": "s", "valueSet": ["v"]}]}}),
            json!({"compose": {"include": [{"system": "s"}], "exclude": [{"system": "s", "concept": [{"code": "1"}]}]}}),
            json!({"compose": {"include": [{"concept": [{"code": "1"}]}]}}),
        ] {
            assert!(value_set_codes(&vs).is_err(), "{vs}");
        }
    }
}
