//! Comparing a resource the kit sent with the one the server gave back.
//!
//! The server owns `id` and `meta.versionId`/`meta.lastUpdated` (and may add
//! `meta.source`), so those are removed from both sides; everything else must survive
//! exactly, decimals included (`1.50` stays `1.50`: serde_json keeps the number's text).
//! Object key order does not matter (JSON objects are unordered); array order does.

use serde_json::Value;

/// The `meta` elements the server sets.
const SERVER_META: &[&str] = &["versionId", "lastUpdated", "source"];

/// `resource` without the elements the server sets. A `meta` left empty is dropped.
pub fn without_server_fields(resource: &Value) -> Value {
    let mut v = resource.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("id");
        let empty_meta = match obj.get_mut("meta").and_then(Value::as_object_mut) {
            Some(meta) => {
                for k in SERVER_META {
                    meta.remove(*k);
                }
                meta.is_empty()
            }
            None => false,
        };
        if empty_meta {
            obj.remove("meta");
        }
    }
    v
}

/// The first difference between `expected` and `actual` after removing server-set
/// fields, as `path: expected X, got Y`; `None` when they match.
pub fn resource_difference(expected: &Value, actual: &Value) -> Option<String> {
    first_difference(
        &without_server_fields(expected),
        &without_server_fields(actual),
    )
}

/// The first difference between two JSON values, with its path.
pub fn first_difference(expected: &Value, actual: &Value) -> Option<String> {
    diff_at("", expected, actual)
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(200).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn diff_at(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    let here = || {
        if path.is_empty() {
            "(root)".to_owned()
        } else {
            path.to_owned()
        }
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => {
                        if let Some(d) = diff_at(&p, ev, av) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{p}: expected {}, missing", short(ev))),
                }
            }
            a.iter()
                .find(|(k, _)| !e.contains_key(*k))
                .map(|(k, av)| format!("{path}.{k}: not expected, got {}", short(av)))
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                if let Some(d) = diff_at(&format!("{path}[{i}]"), ev, av) {
                    return Some(d);
                }
            }
            (e.len() != a.len())
                .then(|| format!("{}: expected {} items, got {}", here(), e.len(), a.len()))
        }
        // With `arbitrary_precision` two numbers are equal only if their text is.
        _ if expected == actual => None,
        _ => Some(format!(
            "{}: expected {}, got {}",
            here(),
            short(expected),
            short(actual)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn server_set_id_and_meta_are_ignored() {
        let sent = json!({"resourceType": "Patient", "id": "example", "active": true});
        let back = json!({"resourceType": "Patient", "id": "42", "active": true,
            "meta": {"versionId": "1", "lastUpdated": "2024-01-01T00:00:00Z"}});
        assert_eq!(resource_difference(&sent, &back), None);
    }

    #[test]
    fn client_meta_must_survive() {
        let sent = json!({"resourceType": "Patient", "meta": {"profile": ["http://p"]}});
        let back = json!({"resourceType": "Patient", "id": "1", "meta": {"versionId": "1"}});
        assert_eq!(
            resource_difference(&sent, &back).as_deref(),
            Some(r#".meta: expected {"profile":["http://p"]}, missing"#)
        );
    }

    #[test]
    fn decimal_text_matters_and_key_order_does_not() {
        let sent =
            parse(r#"{"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"kg"}}"#);
        let reordered =
            parse(r#"{"valueQuantity":{"unit":"kg","value":1.50},"resourceType":"Observation"}"#);
        let rounded =
            parse(r#"{"resourceType":"Observation","valueQuantity":{"value":1.5,"unit":"kg"}}"#);
        assert_eq!(resource_difference(&sent, &reordered), None);
        assert_eq!(
            resource_difference(&sent, &rounded).as_deref(),
            Some(".valueQuantity.value: expected 1.50, got 1.5")
        );
    }

    #[test]
    fn extra_elements_and_array_lengths_are_reported_with_paths() {
        let sent = json!({"resourceType": "Patient", "name": [{"given": ["A"]}]});
        let extra = json!({"resourceType": "Patient", "name": [{"given": ["A"]}], "active": true});
        let longer = json!({"resourceType": "Patient", "name": [{"given": ["A", "B"]}]});
        assert_eq!(
            resource_difference(&sent, &extra).as_deref(),
            Some(".active: not expected, got true")
        );
        assert_eq!(
            resource_difference(&sent, &longer).as_deref(),
            Some(".name[0].given: expected 1 items, got 2")
        );
    }
}
