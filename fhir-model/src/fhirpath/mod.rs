//! [FHIRPath](https://hl7.org/fhirpath/N1/) (the normative release R4 references),
//! evaluated over `serde_json::Value` resources.
//!
//! Why our own engine: search-parameter extraction, FHIRPath Patch and invariants need
//! FHIRPath on the JSON the server keeps (decimals with their text, element order kept),
//! and no Rust crate resolves choice types (`Observation.value` → `valueQuantity`) or
//! `resolve() is Patient` without a heavy model provider. The FHIR type of every node is
//! read from the element model in [`crate::definitions`], so `is`/`as`/`ofType` work.
//!
//! Pieces: `parser` (tokenizer and precedence-climbing parser), `value` (exact decimal,
//! partial date/time, quantity), `eval` (the evaluator and function library).
//!
//! ```
//! use fhir_model::fhirpath::parse;
//! let obs: serde_json::Value = serde_json::from_str(r#"{"resourceType": "Observation",
//!     "status": "final", "valueQuantity": {"value": 1.50, "unit": "mg"}}"#).unwrap();
//! let items = parse("Observation.value.as(Quantity).value").unwrap().evaluate(&obs).unwrap();
//! assert_eq!(items[0].type_name(), "decimal");
//! assert_eq!(items[0].to_json().to_string(), "1.50");
//! ```

mod eval;
mod parser;
pub mod value;

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_json::Value as Json;

use crate::definitions::{TypeKind, type_def};
use value::{Decimal, Quantity, Temporal, TemporalKind};

/// Why an expression could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FhirPathError {
    /// The text is not a FHIRPath expression (the position is a byte offset).
    #[error("FHIRPath syntax error at {position}: {message}")]
    Syntax {
        /// Byte offset in the expression text.
        position: usize,
        /// What was wrong.
        message: String,
    },
    /// The expression is well-formed but meaningless for the model: an unknown element
    /// of a known type, an unknown function, a wrong number of arguments.
    #[error("FHIRPath semantic error: {0}")]
    Semantic(String),
    /// Evaluation failed on this input: a collection where one item was needed, operands
    /// of incompatible types, an invalid argument.
    #[error("FHIRPath evaluation error: {0}")]
    Evaluation(String),
}

/// One step from the resource root to a node: a JSON property or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// A property name (for primitives the name without `_`, even when only the
    /// `_name` extension object exists).
    Key(String),
    /// An index in a JSON array.
    Index(usize),
}

/// A parsed FHIRPath expression; parse once, evaluate many times.
#[derive(Debug, Clone)]
pub struct Expression {
    ast: parser::Ast,
    text: String,
}

/// Parses a FHIRPath expression.
///
/// ```
/// assert!(fhir_model::fhirpath::parse("Patient.name.where(use = 'official').family").is_ok());
/// assert!(fhir_model::fhirpath::parse("2 + ").is_err());
/// ```
pub fn parse(text: &str) -> Result<Expression, FhirPathError> {
    Ok(Expression {
        ast: parser::parse_ast(text)?,
        text: text.to_owned(),
    })
}

impl Expression {
    /// Evaluates the expression with `resource` as the focus, `%resource` and `%context`.
    pub fn evaluate<'a>(&self, resource: &'a Json) -> Result<Vec<Item<'a>>, FhirPathError> {
        eval::Evaluator::new(resource).run(&self.ast)
    }

    /// Evaluates the expression with `focus`, an item `resource` yielded (from another
    /// expression), as the input; `%resource` is still `resource`. Composite search
    /// parameters evaluate their components this way, relative to each root item.
    pub fn evaluate_on<'a>(
        &self,
        resource: &'a Json,
        focus: &Item<'a>,
    ) -> Result<Vec<Item<'a>>, FhirPathError> {
        eval::Evaluator::new(resource).run_on(&self.ast, focus)
    }

    /// The expression text as parsed.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// One item of a result collection: a node of the input resource (with its FHIR type
/// and location) or a value computed by the expression.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub(crate) val: Val<'a>,
    location: OnceCell<Option<Vec<PathStep>>>,
}

/// The value of an [`Item`].
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Node(Node<'a>),
    Bool(bool),
    Int(i64),
    Dec(Decimal),
    Str(Cow<'a, str>),
    Temporal(Temporal),
    Quantity(Quantity),
    /// The result of `type()`.
    Type {
        namespace: &'static str,
        name: String,
    },
}

/// A node of the input: the JSON value, the `_name` companion of a primitive (its `id`
/// and `extension`), and the FHIR type name from the element model (`None` when unknown).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node<'a> {
    pub(crate) root: &'a Json,
    pub(crate) value: Option<&'a Json>,
    pub(crate) ext: Option<&'a Json>,
    pub(crate) ty: Option<&'a str>,
}

impl<'a> Item<'a> {
    pub(crate) fn new(val: Val<'a>) -> Self {
        Item {
            val,
            location: OnceCell::new(),
        }
    }

    pub(crate) fn node(node: Node<'a>) -> Self {
        Item::new(Val::Node(node))
    }

    /// The FHIR type name (`"HumanName"`, `"code"`, `"Patient"`, `"BackboneElement"`) of
    /// a node, or for a computed value the lower-case name of its system type
    /// (`"boolean"`, `"integer"`, `"decimal"`, `"string"`, `"date"`, `"dateTime"`,
    /// `"time"`, `"Quantity"`).
    pub fn type_name(&self) -> String {
        match &self.val {
            Val::Node(n) => match n.ty {
                Some(t) if t.contains('.') => {
                    let root = t.split('.').next().unwrap_or_default();
                    if type_def(root).is_some_and(|d| d.kind == TypeKind::Resource) {
                        "BackboneElement".into()
                    } else {
                        "Element".into()
                    }
                }
                Some(t) => t.to_owned(),
                None => match n.value {
                    Some(Json::Bool(_)) => "boolean".into(),
                    Some(Json::Number(x)) if x.is_i64() || x.is_u64() => "integer".into(),
                    Some(Json::Number(_)) => "decimal".into(),
                    Some(Json::String(_)) => "string".into(),
                    Some(Json::Object(o)) => o
                        .get("resourceType")
                        .and_then(Json::as_str)
                        .unwrap_or("Element")
                        .to_owned(),
                    _ => "Element".into(),
                },
            },
            Val::Bool(_) => "boolean".into(),
            Val::Int(_) => "integer".into(),
            Val::Dec(_) => "decimal".into(),
            Val::Str(_) => "string".into(),
            Val::Temporal(t) => match t.kind {
                TemporalKind::Date => "date".into(),
                TemporalKind::DateTime => "dateTime".into(),
                TemporalKind::Time => "time".into(),
            },
            Val::Quantity(_) => "Quantity".into(),
            Val::Type { .. } => "TypeInfo".into(),
        }
    }

    /// The model type name of a node, as in [`crate::definitions::type_def`] (backbone
    /// elements by path, e.g. `Observation.component`).
    pub fn model_type(&self) -> Option<&str> {
        match &self.val {
            Val::Node(n) => n.ty,
            _ => None,
        }
    }

    /// The JSON value of a node of the input (without copying it); `None` for computed
    /// values and for primitives that only have an `_name` extension object.
    pub fn json(&self) -> Option<&'a Json> {
        match &self.val {
            Val::Node(n) => n.value,
            _ => None,
        }
    }

    /// The item as JSON: a node's value (a primitive's value, or its `_name` object
    /// when it has no value), or a computed value (a quantity as a FHIR Quantity).
    pub fn to_json(&self) -> Json {
        match &self.val {
            Val::Node(n) => n.value.or(n.ext).cloned().unwrap_or(Json::Null),
            Val::Bool(b) => Json::Bool(*b),
            Val::Int(i) => Json::from(*i),
            Val::Dec(d) => decimal_json(d),
            Val::Str(s) => Json::String(s.to_string()),
            Val::Temporal(t) => Json::String(t.to_string()),
            Val::Quantity(q) => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), decimal_json(&q.value));
                let unit = value::calendar_unit(&q.unit).unwrap_or(&q.unit).to_owned();
                m.insert("unit".into(), Json::String(unit));
                if value::calendar_unit(&q.unit).is_none() {
                    m.insert(
                        "system".into(),
                        Json::String("http://unitsofmeasure.org".into()),
                    );
                    m.insert("code".into(), Json::String(q.unit.clone()));
                }
                Json::Object(m)
            }
            Val::Type { namespace, name } => Json::String(format!("{namespace}.{name}")),
        }
    }

    /// Where a node sits in the evaluated resource (empty for the root); `None` for
    /// computed values and for the typed stubs `resolve()` makes for references.
    pub fn location(&self) -> Option<&[PathStep]> {
        self.location
            .get_or_init(|| match &self.val {
                Val::Node(n) => {
                    let target = n.value.or(n.ext)?;
                    let mut path = Vec::new();
                    find_path(n.root, target, &mut path).then_some(path)
                }
                _ => None,
            })
            .as_deref()
    }

    /// The text of a primitive item (`"male"`, `"1.50"`, `"2020-03-04"`, `"true"`), the
    /// way FHIRPath `toString()` writes it; `None` for complex nodes.
    pub fn as_string(&self) -> Option<String> {
        eval::to_string_val(&self.system()?)
    }

    /// The system value of a primitive node (itself for computed values).
    pub(crate) fn system(&self) -> Option<Val<'a>> {
        match &self.val {
            Val::Node(n) => n.system(),
            v => Some(v.clone()),
        }
    }
}

fn decimal_json(d: &Decimal) -> Json {
    serde_json::from_str(&d.to_string()).unwrap_or(Json::Null)
}

/// Depth-first search for the JSON node at `target` (by address), recording the steps.
fn find_path(cur: &Json, target: &Json, path: &mut Vec<PathStep>) -> bool {
    if std::ptr::eq(cur, target) {
        return true;
    }
    match cur {
        Json::Object(map) => {
            for (k, v) in map {
                if !v.is_object() && !v.is_array() && !std::ptr::eq(v, target) {
                    continue;
                }
                path.push(PathStep::Key(k.strip_prefix('_').unwrap_or(k).to_owned()));
                if find_path(v, target, path) {
                    return true;
                }
                path.pop();
            }
            false
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                if find_path(v, target, path) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

impl<'a> Node<'a> {
    /// The system value of a primitive (or Quantity) node.
    pub(crate) fn system(&self) -> Option<Val<'a>> {
        let v = self.value?;
        let ty = self.ty.unwrap_or("");
        match v {
            Json::Bool(b) => Some(Val::Bool(*b)),
            Json::Number(n) => {
                let text = n.to_string();
                let is_int = matches!(ty, "integer" | "positiveInt" | "unsignedInt")
                    || (ty.is_empty() && !text.contains(['.', 'e', 'E']));
                if is_int && let Ok(i) = text.parse::<i64>() {
                    return Some(Val::Int(i));
                }
                Decimal::parse(&text).map(Val::Dec)
            }
            Json::String(s) => Some(match ty {
                "date" => Val::Temporal(Temporal::parse_date(s)?),
                "dateTime" | "instant" => match Temporal::parse_datetime(s) {
                    Some(t) => Val::Temporal(t),
                    None => Val::Str(Cow::Borrowed(s)),
                },
                "time" => Val::Temporal(Temporal::parse_time(s)?),
                _ => Val::Str(Cow::Borrowed(s)),
            }),
            Json::Object(o) if is_quantity_type(ty) => {
                let value = o.get("value").and_then(|v| match v {
                    Json::Number(n) => Decimal::parse(&n.to_string()),
                    _ => None,
                })?;
                let unit = o
                    .get("code")
                    .or_else(|| o.get("unit"))
                    .and_then(Json::as_str)
                    .unwrap_or("1")
                    .to_owned();
                Some(Val::Quantity(Quantity { value, unit }))
            }
            _ => None,
        }
    }
}

/// Whether a FHIR type is Quantity or one of its specialisations (Age, Duration…).
pub(crate) fn is_quantity_type(ty: &str) -> bool {
    matches!(
        ty,
        "Quantity" | "Age" | "Distance" | "Duration" | "Count" | "SimpleQuantity" | "MoneyQuantity"
    )
}

#[cfg(test)]
mod tests;
