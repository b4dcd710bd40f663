//! [`_summary` and `_elements`](https://hl7.org/fhir/R4/search.html#summary): the
//! reduced views of a resource a client may ask for.
//!
//! Why here: which elements belong to the summary is a property of the element model
//! (`isSummary` in the StructureDefinitions), so the views are pure functions over a
//! resource and [`crate::definitions`]. Every reduced view is marked with the `SUBSETTED`
//! tag so that it is never mistaken for (and written back as) the whole resource.

use std::str::FromStr;

use serde_json::{Map, Value, json};

use crate::definitions::{self, TypeDef, TypeKind};

/// The system of the `SUBSETTED` tag.
pub const SUBSETTED_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
/// The code of the `SUBSETTED` tag.
pub const SUBSETTED_CODE: &str = "SUBSETTED";

/// The [`_summary`](https://hl7.org/fhir/R4/search.html#summary) views of a resource.
/// (`_summary=count` is a property of a search, not of a resource: the server handles it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Summary {
    /// Only the elements marked as summary in the element model.
    True,
    /// `text`, `id`, `meta` and the mandatory top-level elements.
    Text,
    /// Everything except `text`.
    Data,
    /// The whole resource.
    False,
}

/// The `_summary` value is not one of `true`, `text`, `data`, `false`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("_summary must be one of true, text, data, false")]
pub struct UnknownSummary;

impl FromStr for Summary {
    type Err = UnknownSummary;

    /// ```
    /// use fhir_model::summary::Summary;
    /// assert_eq!("data".parse(), Ok(Summary::Data));
    /// assert!("count".parse::<Summary>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "true" => Ok(Summary::True),
            "text" => Ok(Summary::Text),
            "data" => Ok(Summary::Data),
            "false" => Ok(Summary::False),
            _ => Err(UnknownSummary),
        }
    }
}

/// The `_summary` view of a resource, tagged `SUBSETTED` unless it is the whole resource.
///
/// ```
/// use fhir_model::summary::{summarize, Summary};
/// use serde_json::json;
///
/// let patient = json!({"resourceType": "Patient", "id": "p1",
///     "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">P</div>"},
///     "name": [{"family": "Doe", "extension": [{"url": "http://x", "valueString": "y"}]}],
///     "photo": [{"contentType": "image/png"}], "active": true});
///
/// let s = summarize(&patient, Summary::True);
/// assert_eq!(s["name"], json!([{"family": "Doe"}]));
/// assert!(s.get("photo").is_none() && s.get("text").is_none());
/// assert_eq!(s["meta"]["tag"][0]["code"], "SUBSETTED");
///
/// let d = summarize(&patient, Summary::Data);
/// assert!(d.get("text").is_none() && d.get("photo").is_some());
///
/// let t = summarize(&patient, Summary::Text);
/// assert!(t.get("text").is_some() && t.get("name").is_none());
///
/// assert_eq!(summarize(&patient, Summary::False), patient);
/// ```
pub fn summarize(resource: &Value, summary: Summary) -> Value {
    let Value::Object(obj) = resource else {
        return resource.clone();
    };
    let def = obj
        .get("resourceType")
        .and_then(Value::as_str)
        .and_then(definitions::type_def);
    let mut out = match summary {
        Summary::False => return resource.clone(),
        Summary::Data => obj
            .iter()
            .filter(|(k, _)| *k != "text" && *k != "_text")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Summary::Text => obj
            .iter()
            .filter(|(k, _)| {
                let name = k.trim_start_matches('_');
                matches!(name, "resourceType" | "id" | "meta" | "text")
                    || def
                        .and_then(|d| d.element(name))
                        .is_some_and(|e| e.def.min > 0)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Summary::True => match def {
            Some(def) => summary_object(obj, def, 0),
            None => obj.clone(),
        },
    };
    add_subsetted_tag(&mut out);
    Value::Object(out)
}

/// The summary elements of an object of type `def`, recursively.
fn summary_object(obj: &Map<String, Value>, def: &TypeDef, depth: usize) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in obj {
        if key == "resourceType" {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let Some(el) = def.element(key.trim_start_matches('_')) else {
            continue;
        };
        if !el.def.summary {
            continue;
        }
        let child = el.type_name.and_then(definitions::type_def);
        let kept = match child {
            // Stop descending at an absurd depth (validated content never gets there).
            _ if depth > crate::validate::MAX_DEPTH => None,
            Some(t)
                if matches!(t.kind, TypeKind::Complex | TypeKind::Backbone)
                    && !key.starts_with('_') =>
            {
                summary_value(value, t, depth + 1)
            }
            Some(t) if t.kind == TypeKind::Resource => summary_value(value, t, depth + 1),
            _ => Some(value.clone()),
        };
        if let Some(v) = kept {
            out.insert(key.clone(), v);
        }
    }
    out
}

/// A summarised value (array or object); `None` when nothing is left of it.
fn summary_value(value: &Value, def: &TypeDef, depth: usize) -> Option<Value> {
    match value {
        Value::Array(items) => {
            let items: Vec<Value> = items
                .iter()
                .filter_map(|v| summary_value(v, def, depth))
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(o) => {
            // A contained or entry resource is summarised by its own type.
            let def = match o
                .get("resourceType")
                .and_then(Value::as_str)
                .and_then(definitions::type_def)
            {
                Some(own) if def.kind == TypeKind::Resource => own,
                _ => def,
            };
            let o = summary_object(o, def, depth);
            (o.keys().any(|k| k != "resourceType")).then_some(Value::Object(o))
        }
        other => Some(other.clone()),
    }
}

/// The [`_elements`](https://hl7.org/fhir/R4/search.html#elements) view of a resource: the
/// listed top-level elements, plus `id`, `meta` and the mandatory and modifier elements
/// (so that the subset is never misread), tagged `SUBSETTED`.
///
/// Names may be element names (`value` selects `valueQuantity`), JSON names
/// (`valueQuantity`), `value[x]`, or prefixed with the resource type (`Patient.name`).
///
/// ```
/// use fhir_model::summary::select_elements;
/// use serde_json::json;
///
/// let obs = json!({"resourceType": "Observation", "id": "o", "status": "final",
///     "code": {"text": "bp"}, "subject": {"reference": "Patient/p"}, "valueString": "x",
///     "note": [{"text": "n"}]});
/// let s = select_elements(&obs, &["value", "Observation.note"]);
/// assert_eq!(s["valueString"], "x");
/// assert_eq!(s["note"][0]["text"], "n");
/// assert_eq!(s["status"], "final"); // mandatory (and a modifier)
/// assert!(s.get("subject").is_none());
/// assert_eq!(s["meta"]["tag"][0]["code"], "SUBSETTED");
/// ```
pub fn select_elements(resource: &Value, elements: &[&str]) -> Value {
    let Value::Object(obj) = resource else {
        return resource.clone();
    };
    let rt = obj
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let def = definitions::type_def(rt);
    let wanted: Vec<&str> = elements
        .iter()
        .map(|e| {
            let e = e.trim();
            let e = e
                .strip_prefix(rt)
                .and_then(|r| r.strip_prefix('.'))
                .unwrap_or(e);
            e.trim_end_matches("[x]")
        })
        .collect();
    let mut out: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| {
            let json_name = k.trim_start_matches('_');
            if matches!(json_name, "resourceType" | "id" | "meta") || wanted.contains(&json_name) {
                return true;
            }
            match def.and_then(|d| d.element(json_name)) {
                Some(el) => {
                    el.def.min > 0 || el.def.modifier || wanted.contains(&el.def.name.as_str())
                }
                None => false,
            }
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    add_subsetted_tag(&mut out);
    Value::Object(out)
}

/// Adds the `SUBSETTED` tag to `meta.tag` (once), creating `meta` after `id` if needed.
///
/// ```
/// let mut r = serde_json::json!({"resourceType": "Patient", "id": "p", "active": true});
/// let obj = r.as_object_mut().unwrap();
/// fhir_model::summary::add_subsetted_tag(obj);
/// fhir_model::summary::add_subsetted_tag(obj);
/// assert_eq!(obj.keys().collect::<Vec<_>>(), ["resourceType", "id", "meta", "active"]);
/// assert_eq!(r["meta"]["tag"].as_array().unwrap().len(), 1);
/// ```
pub fn add_subsetted_tag(resource: &mut Map<String, Value>) {
    let tag = json!({"system": SUBSETTED_SYSTEM, "code": SUBSETTED_CODE});
    if let Some(Value::Object(meta)) = resource.get_mut("meta") {
        match meta.get_mut("tag") {
            Some(Value::Array(tags)) => {
                if !tags
                    .iter()
                    .any(|t| t["system"] == SUBSETTED_SYSTEM && t["code"] == SUBSETTED_CODE)
                {
                    tags.push(tag);
                }
            }
            _ => {
                meta.insert("tag".to_owned(), json!([tag]));
            }
        }
        return;
    }
    // Rebuild to put `meta` in its canonical place, after `resourceType` and `id`.
    let old = std::mem::take(resource);
    let mut placed = false;
    for (k, v) in old {
        if !placed && !matches!(k.as_str(), "resourceType" | "id" | "_id" | "meta") {
            resource.insert("meta".to_owned(), json!({"tag": [tag.clone()]}));
            placed = true;
        }
        if k != "meta" {
            resource.insert(k, v);
        }
    }
    if !placed {
        resource.insert("meta".to_owned(), json!({"tag": [tag]}));
    }
}
