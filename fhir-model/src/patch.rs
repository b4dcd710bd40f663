//! The two PATCH formats FHIR R4 servers accept: [JSON Patch](https://www.rfc-editor.org/rfc/rfc6902)
//! and [FHIRPath Patch](https://hl7.org/fhir/R4/fhirpatch.html) (a Parameters resource
//! whose `operation` parts address elements by FHIRPath).
//!
//! Both work on the resource as `serde_json::Value` and are all-or-nothing: on error the
//! resource is left unchanged and the error names the failing operation and its path.
//! Validating the patched resource is the caller's job.

use serde_json::{Map, Value};

use crate::definitions::type_def;
use crate::fhirpath::{self, PathStep};
use crate::{Issue, IssueType, ModelError};

fn invalid(code: IssueType, message: impl Into<String>, at: Option<&str>) -> ModelError {
    let issue = Issue::error(code, message);
    ModelError::Invalid(vec![match at {
        Some(p) => issue.at(p),
        None => issue,
    }])
}

/// Applies an RFC 6902 JSON Patch document (an array of operations).
///
/// ```
/// let mut p = serde_json::json!({"resourceType": "Patient", "active": false});
/// let patch = serde_json::json!([{"op": "replace", "path": "/active", "value": true}]);
/// fhir_model::patch::apply_json_patch(&mut p, &patch).unwrap();
/// assert_eq!(p["active"], true);
/// ```
pub fn apply_json_patch(resource: &mut Value, patch: &Value) -> Result<(), ModelError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| {
        invalid(
            IssueType::Invalid,
            format!("Not a JSON Patch document: {e}"),
            None,
        )
    })?;
    json_patch::patch(resource, &ops).map_err(|e| {
        let path = e.path.to_string();
        invalid(
            IssueType::Processing,
            format!(
                "JSON Patch operation {} ({}) failed: {}",
                e.operation, path, e.kind
            ),
            Some(&path),
        )
    })
}

/// One parsed FHIRPath Patch operation.
struct Operation {
    kind: String,
    path: String,
    name: Option<String>,
    /// The value and the JSON key suffix of its type (`Boolean` for `valueBoolean`).
    value: Option<(Value, String)>,
    index: Option<usize>,
    source: Option<usize>,
    destination: Option<usize>,
}

/// The value of a `value[x]` part, or an object assembled from nested `part`s.
fn part_value(part: &Value) -> Option<(Value, String)> {
    let obj = part.as_object()?;
    for (k, v) in obj {
        if let Some(suffix) = k.strip_prefix("value")
            && !suffix.is_empty()
        {
            return Some((v.clone(), suffix.to_owned()));
        }
    }
    let parts = obj.get("part")?.as_array()?;
    let mut out = Map::new();
    for p in parts {
        let Some(name) = p.get("name").and_then(Value::as_str) else {
            continue;
        };
        let Some((v, _)) = part_value(p) else {
            continue;
        };
        match out.get_mut(name) {
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                out.insert(name.to_owned(), v);
            }
        }
    }
    Some((Value::Object(out), String::new()))
}

fn parse_operation(i: usize, op: &Value) -> Result<Operation, ModelError> {
    let at = format!("Parameters.parameter[{i}]");
    let mut o = Operation {
        kind: String::new(),
        path: String::new(),
        name: None,
        value: None,
        index: None,
        source: None,
        destination: None,
    };
    for part in op
        .get("part")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = part.get("name").and_then(Value::as_str).unwrap_or_default();
        let text = || part_value(part).and_then(|(v, _)| v.as_str().map(str::to_owned));
        let int = || {
            part_value(part)
                .and_then(|(v, _)| v.as_u64())
                .map(|n| n as usize)
        };
        match name {
            "type" => o.kind = text().unwrap_or_default(),
            "path" => o.path = text().unwrap_or_default(),
            "name" => o.name = text(),
            "value" => o.value = part_value(part),
            "index" => o.index = int(),
            "source" => o.source = int(),
            "destination" => o.destination = int(),
            other => {
                return Err(invalid(
                    IssueType::Invalid,
                    format!("Unknown FHIRPath Patch part '{other}'"),
                    Some(&at),
                ));
            }
        }
    }
    if o.path.is_empty() {
        return Err(invalid(
            IssueType::Required,
            format!("Operation {i} has no path"),
            Some(&at),
        ));
    }
    Ok(o)
}

/// Applies a FHIRPath Patch (a Parameters resource with `operation` parameters).
///
/// ```
/// use serde_json::json;
/// let mut p = json!({"resourceType": "Patient", "name": [{"family": "A"}]});
/// let patch = json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
///     {"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"},
///     {"name": "name", "valueString": "birthDate"}, {"name": "value", "valueDate": "1990-01-01"}]}]});
/// fhir_model::patch::apply_fhirpath_patch(&mut p, &patch).unwrap();
/// assert_eq!(p["birthDate"], "1990-01-01");
/// ```
pub fn apply_fhirpath_patch(resource: &mut Value, parameters: &Value) -> Result<(), ModelError> {
    if parameters.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(invalid(
            IssueType::Invalid,
            "A FHIRPath Patch must be a Parameters resource",
            None,
        ));
    }
    let mut work = resource.clone();
    for (i, op) in parameters
        .get("parameter")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if op.get("name").and_then(Value::as_str) != Some("operation") {
            let at = format!("Parameters.parameter[{i}]");
            return Err(invalid(
                IssueType::Invalid,
                "Every parameter of a FHIRPath Patch must be an 'operation'",
                Some(&at),
            ));
        }
        let op = parse_operation(i, op)?;
        apply_operation(&mut work, &op).map_err(|msg| {
            invalid(
                IssueType::Processing,
                format!("FHIRPath Patch operation {i} ({}) failed: {msg}", op.kind),
                Some(&op.path),
            )
        })?;
    }
    *resource = work;
    Ok(())
}

/// The location and model type of every item the path selects.
/// A selected element: its location and its model type.
type Selected = (Vec<PathStep>, Option<String>);

fn select(resource: &Value, path: &str) -> Result<Vec<Selected>, String> {
    let expr = fhirpath::parse(path).map_err(|e| e.to_string())?;
    let items = expr.evaluate(resource).map_err(|e| e.to_string())?;
    items
        .iter()
        .map(|it| {
            let loc = it
                .location()
                .ok_or("the path selects a computed value, not an element")?;
            Ok((loc.to_vec(), it.model_type().map(str::to_owned)))
        })
        .collect()
}

fn select_one(resource: &Value, path: &str) -> Result<Selected, String> {
    let mut items = select(resource, path)?;
    match items.len() {
        1 => Ok(items.remove(0)),
        0 => Err("the path selects nothing".into()),
        n => Err(format!("the path selects {n} elements, not one")),
    }
}

fn get_mut<'v>(root: &'v mut Value, loc: &[PathStep]) -> Option<&'v mut Value> {
    let mut cur = root;
    for step in loc {
        cur = match step {
            PathStep::Key(k) => cur.get_mut(k.as_str())?,
            PathStep::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

fn value_of(op: &Operation) -> Result<Value, String> {
    op.value
        .as_ref()
        .map(|(v, _)| v.clone())
        .ok_or_else(|| "no value given".to_owned())
}

/// The list selected by a path (its parent object and key), created empty if missing.
fn list_at<'v>(resource: &'v mut Value, path: &str) -> Result<&'v mut Vec<Value>, String> {
    let (parent_path, name) = path
        .rsplit_once('.')
        .ok_or("the path must name an element of a parent")?;
    let (loc, _) = select_one(resource, parent_path)?;
    let parent = get_mut(resource, &loc)
        .and_then(Value::as_object_mut)
        .ok_or("the parent is not an element")?;
    let list = parent
        .entry(name.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    list.as_array_mut()
        .ok_or_else(|| format!("'{name}' is not a list"))
}

fn apply_operation(resource: &mut Value, op: &Operation) -> Result<(), String> {
    match op.kind.as_str() {
        "add" => {
            let name = op.name.as_deref().ok_or("an add needs a name")?;
            let (value, suffix) = op.value.clone().ok_or("no value given")?;
            let (loc, ty) = select_one(resource, &op.path)?;
            let def = ty.as_deref().and_then(type_def);
            let choice = def.is_some_and(|d| d.elements.iter().any(|e| e.choice && e.name == name));
            let key = if choice && !suffix.is_empty() {
                format!("{name}{suffix}")
            } else {
                name.to_owned()
            };
            let many = def.and_then(|d| d.element(&key)).map(|e| e.def.many);
            let target = get_mut(resource, &loc)
                .and_then(Value::as_object_mut)
                .ok_or("the path does not select an element")?;
            match (target.get_mut(&key), many) {
                (Some(Value::Array(items)), _) => items.push(value),
                (Some(_), _) => return Err(format!("'{key}' already has a value")),
                (None, Some(true)) => {
                    target.insert(key, Value::Array(vec![value]));
                }
                (None, _) => {
                    target.insert(key, value);
                }
            }
            Ok(())
        }
        "insert" => {
            let value = value_of(op)?;
            let index = op.index.ok_or("an insert needs an index")?;
            let list = list_at(resource, &op.path)?;
            if index > list.len() {
                return Err(format!(
                    "index {index} is outside the list of {}",
                    list.len()
                ));
            }
            list.insert(index, value);
            Ok(())
        }
        "delete" => {
            let items = select(resource, &op.path)?;
            let (loc, _) = match items.len() {
                0 => return Ok(()),
                1 => &items[0],
                n => return Err(format!("the path selects {n} elements, not one")),
            };
            remove_at(resource, loc).map(|_| ())
        }
        "replace" => {
            let value = value_of(op)?;
            let (loc, _) = select_one(resource, &op.path)?;
            let target = get_mut(resource, &loc).ok_or("the path does not select an element")?;
            *target = value;
            Ok(())
        }
        "move" => {
            let (source, destination) = (
                op.source.ok_or("a move needs a source")?,
                op.destination.ok_or("a move needs a destination")?,
            );
            let list = list_at(resource, &op.path)?;
            if source >= list.len() || destination >= list.len() {
                return Err(format!(
                    "source {source} or destination {destination} is outside the list of {}",
                    list.len()
                ));
            }
            let item = list.remove(source);
            list.insert(destination, item);
            Ok(())
        }
        other => Err(format!("unknown operation type '{other}'")),
    }
}

/// Removes the element at `loc` (with a primitive's `_name` companion), dropping a list
/// or companion that becomes empty.
fn remove_at(resource: &mut Value, loc: &[PathStep]) -> Result<Value, String> {
    let (last, parent_loc) = loc
        .split_last()
        .ok_or("the resource itself cannot be deleted")?;
    match last {
        PathStep::Key(k) => {
            let parent = get_mut(resource, parent_loc)
                .and_then(Value::as_object_mut)
                .ok_or("no parent element")?;
            let removed = parent.shift_remove(k.as_str());
            parent.shift_remove(&format!("_{k}"));
            removed.ok_or_else(|| "nothing to delete".to_owned())
        }
        PathStep::Index(i) => {
            let (PathStep::Key(list_key), owner_loc) =
                parent_loc.split_last().ok_or("no parent element")?
            else {
                return Err("nested lists are not FHIR".into());
            };
            let owner = get_mut(resource, owner_loc)
                .and_then(Value::as_object_mut)
                .ok_or("no parent element")?;
            let mut removed = Value::Null;
            for key in [list_key.clone(), format!("_{list_key}")] {
                if let Some(Value::Array(items)) = owner.get_mut(&key) {
                    if *i < items.len() {
                        let v = items.remove(*i);
                        if !key.starts_with('_') {
                            removed = v;
                        }
                    }
                    if items.is_empty() || items.iter().all(Value::is_null) {
                        owner.shift_remove(&key);
                    }
                }
            }
            Ok(removed)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn op(parts: Value) -> Value {
        json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]})
    }

    fn patient() -> Value {
        json!({"resourceType": "Patient", "id": "1", "active": true,
            "identifier": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
            "name": [{"family": "Smith", "given": ["Ann", "Bea"]}]})
    }

    fn message(e: ModelError) -> String {
        e.issues()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn add_insert_delete_replace_move() {
        let mut p = patient();
        apply_fhirpath_patch(
            &mut p,
            &op(json!([{"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "deceased"},
            {"name": "value", "valueBoolean": false}])),
        )
        .unwrap();
        assert_eq!(p["deceasedBoolean"], false);
        apply_fhirpath_patch(&mut p, &op(json!([{"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "telecom"},
            {"name": "value", "part": [{"name": "system", "valueCode": "phone"}, {"name": "value", "valueString": "555"}]}]))).unwrap();
        assert_eq!(p["telecom"], json!([{"system": "phone", "value": "555"}]));
        apply_fhirpath_patch(&mut p, &op(json!([{"name": "type", "valueCode": "insert"},
            {"name": "path", "valueString": "Patient.identifier"}, {"name": "index", "valueInteger": 1},
            {"name": "value", "valueIdentifier": {"value": "x"}}]))).unwrap();
        assert_eq!(p["identifier"][1]["value"], "x");
        apply_fhirpath_patch(
            &mut p,
            &op(json!([{"name": "type", "valueCode": "delete"},
            {"name": "path", "valueString": "Patient.identifier.where(value = 'a')"}])),
        )
        .unwrap();
        assert_eq!(p["identifier"].as_array().unwrap().len(), 3);
        apply_fhirpath_patch(&mut p, &op(json!([{"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": "Patient.name.given[1]"}, {"name": "value", "valueString": "Cy"}]))).unwrap();
        assert_eq!(p["name"][0]["given"], json!(["Ann", "Cy"]));
        apply_fhirpath_patch(&mut p, &op(json!([{"name": "type", "valueCode": "move"},
            {"name": "path", "valueString": "Patient.identifier"}, {"name": "source", "valueInteger": 0},
            {"name": "destination", "valueInteger": 2}]))).unwrap();
        assert_eq!(
            p["identifier"],
            json!([{"value": "b"}, {"value": "c"}, {"value": "x"}])
        );
        apply_fhirpath_patch(
            &mut p,
            &op(json!([{"name": "type", "valueCode": "delete"},
            {"name": "path", "valueString": "Patient.active"}])),
        )
        .unwrap();
        assert!(p.get("active").is_none());
        // Deleting what is not there is not an error.
        apply_fhirpath_patch(
            &mut p,
            &op(json!([{"name": "type", "valueCode": "delete"},
            {"name": "path", "valueString": "Patient.birthDate"}])),
        )
        .unwrap();
    }

    #[test]
    fn fhirpath_patch_failures_leave_the_resource_unchanged() {
        let original = patient();
        let cases = [
            (
                json!([{"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.identifier"},
                {"name": "value", "valueString": "x"}]),
                "selects 3 elements",
            ),
            (
                json!([{"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.birthDate"},
                {"name": "value", "valueDate": "2000"}]),
                "selects nothing",
            ),
            (
                json!([{"name": "type", "valueCode": "insert"}, {"name": "path", "valueString": "Patient.identifier"},
                {"name": "index", "valueInteger": 9}, {"name": "value", "valueIdentifier": {}}]),
                "outside the list",
            ),
            (
                json!([{"name": "type", "valueCode": "frobnicate"}, {"name": "path", "valueString": "Patient"}]),
                "unknown operation",
            ),
            (
                json!([{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"},
                {"name": "name", "valueString": "active"}, {"name": "value", "valueBoolean": false}]),
                "already has a value",
            ),
            (
                json!([{"name": "type", "valueCode": "delete"}, {"name": "path", "valueString": "Patient.nope"}]),
                "no element",
            ),
        ];
        for (parts, want) in cases {
            let mut p = original.clone();
            let err = message(apply_fhirpath_patch(&mut p, &op(parts.clone())).unwrap_err());
            assert!(
                err.contains(want) && err.contains("operation 0"),
                "{parts}: {err}"
            );
            assert_eq!(p, original);
        }
        let mut p = original.clone();
        assert!(apply_fhirpath_patch(&mut p, &json!({"resourceType": "Patient"})).is_err());
    }

    #[test]
    fn json_patch_applies_and_names_the_failing_operation() {
        let mut p = patient();
        apply_json_patch(
            &mut p,
            &json!([{"op": "add", "path": "/gender", "value": "female"},
            {"op": "remove", "path": "/identifier/0"}]),
        )
        .unwrap();
        assert_eq!(p["gender"], "female");
        assert_eq!(p["identifier"].as_array().unwrap().len(), 2);
        let before = p.clone();
        let err = apply_json_patch(
            &mut p,
            &json!([{"op": "add", "path": "/birthDate", "value": "2000"},
            {"op": "test", "path": "/active", "value": false}]),
        )
        .unwrap_err();
        let issues = err.issues();
        assert!(
            issues[0].diagnostics.contains("operation 1"),
            "{}",
            issues[0]
        );
        assert_eq!(issues[0].expression.as_deref(), Some("/active"));
        assert_eq!(p, before, "a failed patch changes nothing");
        assert!(apply_json_patch(&mut p, &json!({"op": "add"})).is_err());
    }
}
