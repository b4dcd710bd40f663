//! Structural validation of a resource held as JSON against the R4 element model.
//!
//! Why our own: fhirbolt's Strict mode accepts `""`, `{}` and invalid dates, and the JSON
//! schema misses required primitives and double `value[x]` (see `deps-notes.md`). This
//! module walks a `serde_json::Value` once, driven by [`crate::definitions`], and checks
//! what the [JSON format](https://hl7.org/fhir/R4/json.html) and the element model say
//! about every element:
//!
//! - element names (unknown ones are errors; in [`ParseMode::Lenient`] they are removed
//!   and reported as warnings), arrays exactly where the element repeats, the JSON kind
//!   of each primitive (boolean, number, integer, string) and its text format (the
//!   `regex` of its StructureDefinition), the `_element` siblings that carry a primitive's
//!   `id` and `extension` (arrays aligned with `null`s), at most one type of a choice
//!   element, required elements (`min ≥ 1`), no empty `{}`, `[]` or `""`, `resourceType`
//!   on every resource (contained, `Bundle.entry.resource`, `Parameters…resource` are
//!   checked against their own type), and an XHTML `div` in narratives.
//! - It does not check invariants, bindings, profiles or references.
//!
//! It runs on the server's hot path, so the element model is compiled once into sorted
//! tables (with every choice name such as `valueQuantity` expanded) and the regexes are
//! compiled once; the walk allocates only for issues. Its recursion is bounded by
//! [`MAX_DEPTH`], so no input can overflow the stack.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::definitions::{self, TypeKind};
use crate::error::ModelError;
use crate::outcome::{Issue, IssueType};

/// The deepest JSON nesting (objects and arrays) a resource may have. Real resources stay
/// well below 30; anything deeper is refused as too costly.
pub const MAX_DEPTH: usize = 100;

/// At most this many errors are reported for one resource; the rest are summarised.
const MAX_ISSUES: usize = 100;

/// How strictly content is read.
///
/// Leniency has a name so that callers choose it knowingly (see `STYLE.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParseMode {
    /// Every structural problem is an error (the default).
    #[default]
    Strict,
    /// Unknown elements are removed and reported as warnings; everything else is still an
    /// error. Meant for importing data from systems that add non-standard elements.
    Lenient,
}

/// Checks `resource` against the R4 structures, and in [`ParseMode::Lenient`] removes its
/// unknown elements.
///
/// Returns the warnings (the removed elements, in lenient mode) or
/// [`ModelError::Invalid`] with every error found, each located by a FHIRPath expression
/// such as `Observation.component[1].code.coding[0].system`.
///
/// ```
/// use fhir_model::validate::{validate, ParseMode};
/// use serde_json::json;
///
/// let mut obs = json!({"resourceType": "Observation", "status": "final",
///                      "code": {"text": "weight"}, "valueQuantity": {"value": 72.5}});
/// assert!(validate(&mut obs, ParseMode::Strict).unwrap().is_empty());
///
/// let mut bad = json!({"resourceType": "Observation", "code": {"text": "weight"},
///                      "effectiveDateTime": "yesterday"});
/// let issues = validate(&mut bad, ParseMode::Strict).unwrap_err().issues();
/// assert_eq!(issues.len(), 2);
/// assert_eq!(issues[0].expression.as_deref(), Some("Observation.effective.ofType(dateTime)"));
/// assert_eq!(issues[1].expression.as_deref(), Some("Observation.status"));
///
/// let mut extra = json!({"resourceType": "Patient", "foo": 1});
/// let warnings = validate(&mut extra, ParseMode::Lenient).unwrap();
/// assert_eq!(warnings[0].diagnostics, "Unknown element 'foo' removed (lenient mode)");
/// assert_eq!(extra, json!({"resourceType": "Patient"}));
/// ```
pub fn validate(resource: &mut Value, mode: ParseMode) -> Result<Vec<Issue>, ModelError> {
    let removals = {
        let mut walker = Walker::new(mode);
        walker.top(resource);
        if !walker.errors.is_empty() {
            return Err(ModelError::Invalid(walker.finish_errors()));
        }
        if walker.removals.is_empty() {
            return Ok(Vec::new());
        }
        (walker.removals, walker.warnings)
    };
    let (paths, warnings) = removals;
    for path in &paths {
        remove_at(resource, path);
    }
    // Removing an element may leave an empty object behind: check the result again.
    let mut walker = Walker::new(ParseMode::Strict);
    walker.top(resource);
    if walker.errors.is_empty() {
        Ok(warnings)
    } else {
        Err(ModelError::Invalid(walker.finish_errors()))
    }
}

// ---------------------------------------------------------------------------------------
// The compiled model

type TypeId = u32;

/// How a primitive's JSON value is checked.
enum Prim {
    Boolean,
    /// `integer`, `positiveInt`, `unsignedInt`: a JSON integer in `[min, i32::MAX]`.
    Integer {
        min: i64,
    },
    /// Any JSON number (the JSON number grammar is the FHIR decimal grammar).
    Decimal,
    /// A non-empty string, matching the type's regex if it has one worth checking.
    Text(Option<Regex>),
    /// Narrative XHTML: a string holding a `<div>` element.
    Xhtml,
}

enum Shape {
    Primitive(Prim),
    /// A complex data type or backbone element: a JSON object.
    Complex,
    /// A resource (`contained`, `Bundle.entry.resource`): checked by its own type.
    AnyResource,
}

struct Prop {
    /// Index of the element in its type (for presence tracking).
    elem: u8,
    /// The element's name (`value` for `valueQuantity`).
    name: &'static str,
    /// The choice type (`Quantity` for `valueQuantity`).
    of_type: Option<&'static str>,
    ty: TypeId,
    many: bool,
    choice: bool,
}

struct CType {
    shape: Shape,
    /// JSON property names, sorted, with their element.
    props: Vec<(Box<str>, Prop)>,
    /// `(element index, display name)` of the required elements.
    required: Vec<(u8, Box<str>)>,
    is_resource: bool,
}

impl CType {
    fn prop(&self, json_name: &str) -> Option<&Prop> {
        self.props
            .binary_search_by(|(n, _)| n.as_ref().cmp(json_name))
            .ok()
            .map(|i| &self.props[i].1)
    }
}

struct Schema {
    types: Vec<CType>,
    names: Vec<&'static str>,
    ids: HashMap<&'static str, TypeId>,
}

impl Schema {
    fn resource(&self, name: &str) -> Option<TypeId> {
        let id = *self.ids.get(name)?;
        self.types[id as usize].is_resource.then_some(id)
    }
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(build_schema)
}

fn build_schema() -> Schema {
    let mut ids: HashMap<&'static str, TypeId> = HashMap::new();
    let mut names: Vec<&'static str> = Vec::new();
    let mut queue: Vec<&'static str> = definitions::resource_types().to_vec();
    // Assign ids to every type reachable from the resources.
    while let Some(name) = queue.pop() {
        if ids.contains_key(name) {
            continue;
        }
        let Some(def) = definitions::type_def(name) else {
            continue;
        };
        ids.insert(name, names.len() as TypeId);
        names.push(name);
        for el in &def.elements {
            for t in &el.types {
                if !ids.contains_key(t.as_str()) {
                    queue.push(t.as_str());
                }
            }
        }
    }
    let types = names
        .iter()
        .map(|&name| {
            let def = definitions::type_def(name).expect("listed above");
            assert!(
                def.elements.len() <= 128,
                "{name} has more elements than the presence bitset holds"
            );
            let shape = match def.kind {
                TypeKind::Primitive => Shape::Primitive(primitive(name, def.regex.as_deref())),
                TypeKind::Resource if def.is_abstract => Shape::AnyResource,
                TypeKind::Resource | TypeKind::Complex | TypeKind::Backbone => Shape::Complex,
            };
            let mut props = Vec::new();
            let mut required = Vec::new();
            for (i, el) in def.elements.iter().enumerate() {
                let elem = i as u8;
                if el.min > 0 {
                    let shown = if el.choice {
                        format!("{}[x]", el.name)
                    } else {
                        el.name.clone()
                    };
                    required.push((elem, shown.into_boxed_str()));
                }
                for t in &el.types {
                    // Types outside the model cannot occur (checked by a test); skip them.
                    let Some(&ty) = ids.get(t.as_str()) else {
                        continue;
                    };
                    let (json, of_type) = if el.choice {
                        (
                            format!("{}{}", el.name, definitions::upper_first(t)),
                            Some(t.as_str()),
                        )
                    } else {
                        (el.name.clone(), None)
                    };
                    props.push((
                        json.into_boxed_str(),
                        Prop {
                            elem,
                            name: el.name.as_str(),
                            of_type,
                            ty,
                            many: el.many,
                            choice: el.choice,
                        },
                    ));
                    if !el.choice {
                        break;
                    }
                }
            }
            props.sort_by(|a, b| a.0.cmp(&b.0));
            CType {
                shape,
                props,
                required,
                is_resource: def.kind == TypeKind::Resource && !def.is_abstract,
            }
        })
        .collect();
    Schema { types, names, ids }
}

fn primitive(name: &str, regex: Option<&str>) -> Prim {
    match name {
        "boolean" => Prim::Boolean,
        "integer" => Prim::Integer {
            min: i64::from(i32::MIN),
        },
        "unsignedInt" => Prim::Integer { min: 0 },
        "positiveInt" => Prim::Integer { min: 1 },
        "decimal" => Prim::Decimal,
        "xhtml" => Prim::Xhtml,
        // `[ \r\n\t\S]+`: any non-empty string. (The regex is Java's, where `\S` is
        // ASCII-only; taken literally in Unicode it would refuse a no-break space.)
        "string" | "markdown" => Prim::Text(None),
        _ => {
            Prim::Text(regex.map(|r| {
                Regex::new(&format!("^(?:{r})$")).expect("the R4 primitive regexes compile")
            }))
        }
    }
}

// ---------------------------------------------------------------------------------------
// The walk

/// One step of the path being walked.
#[derive(Clone, Copy)]
enum Seg<'a> {
    /// Entering a resource of this type (the root, or `.ofType(T)` below it).
    Resource(&'a str),
    /// An element: its JSON property name and how it renders.
    Key {
        json: &'a str,
        name: &'a str,
        of_type: Option<&'a str>,
    },
    /// An array index.
    Index(usize),
}

/// A step of a JSON path, for removing an unknown element.
enum Step {
    Key(String),
    Index(usize),
}

struct Walker<'a> {
    schema: &'static Schema,
    mode: ParseMode,
    path: Vec<Seg<'a>>,
    errors: Vec<Issue>,
    dropped_errors: usize,
    warnings: Vec<Issue>,
    removals: Vec<Vec<Step>>,
    too_deep: bool,
    /// Scratch space for `_name` look-ups.
    buf: String,
}

impl<'a> Walker<'a> {
    fn new(mode: ParseMode) -> Self {
        Walker {
            schema: schema(),
            mode,
            path: Vec::with_capacity(16),
            errors: Vec::new(),
            dropped_errors: 0,
            warnings: Vec::new(),
            removals: Vec::new(),
            too_deep: false,
            buf: String::new(),
        }
    }

    fn finish_errors(mut self) -> Vec<Issue> {
        if self.dropped_errors > 0 {
            self.errors.push(Issue::error(
                IssueType::TooCostly,
                format!("{} more errors not reported", self.dropped_errors),
            ));
        }
        self.errors
    }

    /// The current path as a FHIRPath expression, with `extra` as a last element name.
    fn render(&self, extra: Option<&str>) -> String {
        let mut out = String::with_capacity(64);
        for (i, seg) in self.path.iter().enumerate() {
            match *seg {
                Seg::Resource(t) if i == 0 => out.push_str(t),
                Seg::Resource(t) => {
                    out.push_str(".ofType(");
                    out.push_str(t);
                    out.push(')');
                }
                Seg::Key { name, of_type, .. } => {
                    if i > 0 {
                        out.push('.');
                    }
                    out.push_str(name);
                    if let Some(t) = of_type {
                        out.push_str(".ofType(");
                        out.push_str(t);
                        out.push(')');
                    }
                }
                Seg::Index(n) => {
                    out.push('[');
                    out.push_str(&n.to_string());
                    out.push(']');
                }
            }
        }
        if let Some(name) = extra {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(name);
        }
        out
    }

    fn error(&mut self, code: IssueType, message: impl Into<String>) {
        self.error_at(code, message, None);
    }

    fn error_at(&mut self, code: IssueType, message: impl Into<String>, extra: Option<&str>) {
        if self.errors.len() >= MAX_ISSUES {
            self.dropped_errors += 1;
            return;
        }
        let issue = Issue::error(code, message).at(self.render(extra));
        self.errors.push(issue);
    }

    fn unknown(&mut self, key: &'a str) {
        match self.mode {
            ParseMode::Strict => self.error_at(
                IssueType::Structure,
                format!("Unknown element '{}'", shown(key)),
                Some(shown(key)),
            ),
            ParseMode::Lenient => {
                let at = self.render(Some(shown(key)));
                self.warnings.push(
                    Issue::warning(
                        IssueType::Structure,
                        format!("Unknown element '{}' removed (lenient mode)", shown(key)),
                    )
                    .at(at),
                );
                let mut steps: Vec<Step> = Vec::with_capacity(self.path.len() + 1);
                for seg in &self.path {
                    match *seg {
                        Seg::Resource(_) => {}
                        Seg::Key { json, .. } => steps.push(Step::Key(json.to_owned())),
                        Seg::Index(n) => steps.push(Step::Index(n)),
                    }
                }
                steps.push(Step::Key(key.to_owned()));
                self.removals.push(steps);
            }
        }
    }

    /// Checks one nesting level more; false (and one error) when too deep.
    fn deeper(&mut self, depth: usize) -> bool {
        if depth <= MAX_DEPTH {
            return true;
        }
        if !self.too_deep {
            self.too_deep = true;
            self.error(
                IssueType::TooCostly,
                format!("Content is nested deeper than {MAX_DEPTH} levels"),
            );
        }
        false
    }

    fn top(&mut self, value: &'a Value) {
        match value {
            Value::Object(_) => self.resource(value, 1, None),
            _ => self.error(IssueType::Structure, "A resource must be a JSON object"),
        }
    }

    /// A resource: an object whose `resourceType` says how to check it.
    fn resource(&mut self, value: &'a Value, depth: usize, element: Option<&str>) {
        let Value::Object(obj) = value else {
            self.error(IssueType::Structure, "Expected a resource (a JSON object)");
            return;
        };
        let rt = match obj.get("resourceType") {
            Some(Value::String(rt)) => rt.as_str(),
            Some(_) => {
                self.error_at(
                    IssueType::Structure,
                    "resourceType must be a string",
                    Some("resourceType"),
                );
                return;
            }
            None => {
                let message = match element {
                    Some(e) => format!("Missing resourceType in '{e}'"),
                    None => "Missing resourceType".to_owned(),
                };
                self.error(IssueType::Required, message);
                return;
            }
        };
        let Some(ty) = self.schema.resource(rt) else {
            let message = if definitions::type_def(rt).is_some() {
                format!("'{rt}' is not a concrete resource type")
            } else if rt.len() <= 64 && rt.bytes().all(|b| b.is_ascii_alphanumeric()) {
                format!("Unknown resource type '{rt}'")
            } else {
                "Unknown resource type".to_owned()
            };
            self.error_at(IssueType::Value, message, Some("resourceType"));
            return;
        };
        self.path.push(Seg::Resource(rt));
        self.object(obj, ty, depth);
        self.path.pop();
    }

    /// The elements of a complex value, backbone element, resource, or `_primitive`.
    fn object(&mut self, obj: &'a Map<String, Value>, ty: TypeId, depth: usize) {
        if !self.deeper(depth) {
            return;
        }
        let schema = self.schema;
        let ctype = &schema.types[ty as usize];
        let mut seen: u128 = 0;
        // Choice elements met so far: (element, type, JSON name).
        let mut chosen: [(u8, TypeId, &'a str); 8] = [(0, 0, ""); 8];
        let mut n_chosen = 0;
        for (key, value) in obj {
            let key = key.as_str();
            let (ext, name) = match key.strip_prefix('_') {
                Some(rest) => (true, rest),
                None => (false, key),
            };
            if key == "resourceType" && ctype.is_resource {
                continue;
            }
            let Some(prop) = ctype.prop(name) else {
                self.unknown(key);
                continue;
            };
            if ext && !matches!(schema.types[prop.ty as usize].shape, Shape::Primitive(_)) {
                self.unknown(key);
                continue;
            }
            seen |= 1u128 << prop.elem;
            if prop.choice {
                let mut clash = None;
                let mut found = false;
                for &(elem, t, other) in &chosen[..n_chosen] {
                    if elem == prop.elem {
                        found = true;
                        if t != prop.ty {
                            clash = Some(other);
                        }
                    }
                }
                if let Some(other) = clash {
                    self.error_at(
                        IssueType::Structure,
                        format!(
                            "Only one type of '{}[x]' is allowed, found '{}' and '{key}'",
                            prop.name,
                            other.trim_start_matches('_')
                        ),
                        Some(prop.name),
                    );
                } else if !found && n_chosen < chosen.len() {
                    chosen[n_chosen] = (prop.elem, prop.ty, key);
                    n_chosen += 1;
                }
            }
            self.path.push(Seg::Key {
                json: key,
                name: prop.name,
                of_type: prop.of_type,
            });
            if ext {
                self.primitive_extension(obj, name, value, prop, depth);
            } else {
                self.element(obj, key, value, prop, depth);
            }
            self.path.pop();
        }
        for (elem, shown) in &ctype.required {
            if seen & (1u128 << elem) == 0 {
                self.error_at(
                    IssueType::Required,
                    format!("Missing required element '{shown}'"),
                    Some(shown.trim_end_matches("[x]")),
                );
            }
        }
    }

    /// The value of one element (path already pushed).
    fn element(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &'a str,
        value: &'a Value,
        prop: &Prop,
        depth: usize,
    ) {
        match (value, prop.many) {
            (Value::Array(items), true) => {
                if items.is_empty() {
                    self.error(
                        IssueType::Structure,
                        format!("Empty array in '{key}' (leave the element out instead)"),
                    );
                    return;
                }
                if !self.deeper(depth + 1) {
                    return;
                }
                let mut extensions: Option<&'a Vec<Value>> = None;
                let mut looked = false;
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    if item.is_null() {
                        if !looked {
                            looked = true;
                            self.buf.clear();
                            self.buf.push('_');
                            self.buf.push_str(key);
                            if let Some(Value::Array(e)) = obj.get(self.buf.as_str()) {
                                extensions = Some(e);
                            }
                        }
                        let is_primitive = matches!(
                            self.schema.types[prop.ty as usize].shape,
                            Shape::Primitive(_)
                        );
                        let covered = extensions
                            .and_then(|e| e.get(i))
                            .is_some_and(Value::is_object);
                        if !is_primitive || !covered {
                            self.error(
                                IssueType::Structure,
                                format!(
                                    "null in '{key}' is only allowed where '_{key}' has an entry"
                                ),
                            );
                        }
                    } else {
                        self.single(item, prop.ty, depth + 1, key);
                    }
                    self.path.pop();
                }
            }
            (Value::Array(_), false) => self.error(
                IssueType::Structure,
                format!("Element '{key}' must be a single value, not an array"),
            ),
            (_, true) => self.error(
                IssueType::Structure,
                format!("Element '{key}' repeats, so it must be an array"),
            ),
            (Value::Null, false) => self.error(
                IssueType::Structure,
                format!("Element '{key}' must not be null"),
            ),
            (_, false) => self.single(value, prop.ty, depth, key),
        }
    }

    /// A `_name` sibling: the `id` and `extension` of a primitive (path already pushed).
    fn primitive_extension(
        &mut self,
        obj: &'a Map<String, Value>,
        name: &'a str,
        value: &'a Value,
        prop: &Prop,
        depth: usize,
    ) {
        match (value, prop.many) {
            (Value::Object(o), false) => self.extension_object(o, prop.ty, depth, name),
            (Value::Array(items), true) => {
                if items.is_empty() {
                    self.error(
                        IssueType::Structure,
                        format!("Empty array in '_{name}' (leave the element out instead)"),
                    );
                    return;
                }
                if !self.deeper(depth + 1) {
                    return;
                }
                let values = match obj.get(name) {
                    Some(Value::Array(v)) => Some(v),
                    _ => None,
                };
                if let Some(v) = values
                    && v.len() != items.len()
                {
                    self.error(
                        IssueType::Structure,
                        format!(
                            "'_{name}' must have as many entries as '{name}' ({} ≠ {})",
                            items.len(),
                            v.len()
                        ),
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    match item {
                        // Both null is reported on the value side.
                        Value::Null
                            if values.is_some_and(|v| v.get(i).is_some_and(|x| !x.is_null())) => {}
                        Value::Null if values.is_some_and(|v| i < v.len()) => {}
                        Value::Null => self.error(
                            IssueType::Structure,
                            format!("null in '_{name}' is only allowed where '{name}' has a value"),
                        ),
                        Value::Object(o) => self.extension_object(o, prop.ty, depth + 1, name),
                        _ => self.error(
                            IssueType::Structure,
                            format!("Entries of '_{name}' must be objects or null"),
                        ),
                    }
                    self.path.pop();
                }
            }
            (Value::Array(_), false) => self.error(
                IssueType::Structure,
                format!("Element '_{name}' must be a single object, not an array"),
            ),
            (_, true) => self.error(
                IssueType::Structure,
                format!("Element '_{name}' must be an array"),
            ),
            (_, false) => self.error(
                IssueType::Structure,
                format!("Element '_{name}' must be an object"),
            ),
        }
    }

    fn extension_object(
        &mut self,
        o: &'a Map<String, Value>,
        ty: TypeId,
        depth: usize,
        name: &str,
    ) {
        if o.is_empty() {
            self.error(
                IssueType::Structure,
                format!("Empty object in '_{name}' (leave the element out instead)"),
            );
        } else {
            self.object(o, ty, depth + 1);
        }
    }

    /// One (non-array) value of type `ty` (path already pushed).
    fn single(&mut self, value: &'a Value, ty: TypeId, depth: usize, key: &'a str) {
        let schema = self.schema;
        match &schema.types[ty as usize].shape {
            Shape::Primitive(prim) => self.primitive(value, prim, ty, key),
            Shape::Complex => match value {
                Value::Object(o) if o.is_empty() => self.error(
                    IssueType::Structure,
                    format!("Empty object in '{key}' (leave the element out instead)"),
                ),
                Value::Object(o) => self.object(o, ty, depth + 1),
                _ => self.error(
                    IssueType::Structure,
                    format!("Element '{key}' must be a JSON object"),
                ),
            },
            Shape::AnyResource => self.resource(value, depth + 1, Some(key)),
        }
    }

    fn primitive(&mut self, value: &'a Value, prim: &Prim, ty: TypeId, key: &str) {
        let ok = match (prim, value) {
            (Prim::Boolean, Value::Bool(_)) => true,
            (Prim::Decimal, Value::Number(_)) => true,
            (Prim::Integer { min }, Value::Number(n)) => {
                let text = n.as_str();
                let digits = text.strip_prefix('-').unwrap_or(text);
                let ok = !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && text
                        .parse::<i64>()
                        .is_ok_and(|v| v >= *min && v <= i64::from(i32::MAX));
                if !ok {
                    self.error(
                        IssueType::Value,
                        format!(
                            "Element '{key}' must be an integer in range ({})",
                            type_name(ty)
                        ),
                    );
                }
                return;
            }
            (Prim::Text(re), Value::String(s)) => {
                if s.is_empty() {
                    self.error(
                        IssueType::Value,
                        format!("Empty string in '{key}' (leave the element out instead)"),
                    );
                } else if re.as_ref().is_some_and(|re| !re.is_match(s)) {
                    self.error(
                        IssueType::Value,
                        format!("Element '{key}' is not a valid {}", type_name(ty)),
                    );
                }
                return;
            }
            (Prim::Xhtml, Value::String(s)) => {
                if !s.trim_start().starts_with("<div") {
                    self.error(
                        IssueType::Value,
                        format!("Element '{key}' must be an XHTML <div> element"),
                    );
                }
                return;
            }
            _ => false,
        };
        if !ok {
            let expected = match prim {
                Prim::Boolean => "a JSON boolean",
                Prim::Decimal | Prim::Integer { .. } => "a JSON number",
                Prim::Text(_) | Prim::Xhtml => "a JSON string",
            };
            self.error(
                IssueType::Structure,
                format!("Element '{key}' ({}) must be {expected}", type_name(ty)),
            );
        }
    }
}

/// The name of a type by id (for messages only).
fn type_name(ty: TypeId) -> &'static str {
    schema().names[ty as usize]
}

/// An element name fit for a message: unknown names are user input, so only names that
/// look like element names are shown.
fn shown(key: &str) -> &str {
    if key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key
    } else {
        "(unprintable name)"
    }
}

fn remove_at(value: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = value;
    for step in parents {
        let next = match (step, cur) {
            (Step::Key(k), Value::Object(o)) => o.get_mut(k.as_str()),
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return,
        }
    }
    if let (Step::Key(k), Value::Object(o)) = (last, cur) {
        o.shift_remove(k.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_type_is_in_the_compiled_model() {
        for name in definitions::resource_types() {
            let mut stack = vec![*name];
            let mut done = std::collections::HashSet::new();
            while let Some(t) = stack.pop() {
                if !done.insert(t) {
                    continue;
                }
                let def = definitions::type_def(t).unwrap();
                for el in &def.elements {
                    assert!(!el.types.is_empty(), "{t}.{} has no type", el.name);
                    assert!(
                        el.choice || el.types.len() == 1,
                        "{t}.{} has several types",
                        el.name
                    );
                    for ty in &el.types {
                        assert!(
                            schema().ids.contains_key(ty.as_str()),
                            "{t}.{}: {ty}",
                            el.name
                        );
                        stack.push(ty);
                    }
                }
            }
        }
    }

    #[test]
    fn choice_names_are_expanded() {
        let s = schema();
        let obs = &s.types[s.resource("Observation").unwrap() as usize];
        let p = obs.prop("valueQuantity").unwrap();
        assert_eq!((p.name, p.of_type), ("value", Some("Quantity")));
        assert!(obs.prop("value").is_none());
        assert!(obs.prop("status").is_some());
    }
}
