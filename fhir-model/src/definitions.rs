//! The R4 element model: every resource, data type and backbone element with its
//! elements' names, cardinality, types and flags, derived at build time from the official
//! StructureDefinitions (`definitions/`, see `build.rs`).
//!
//! Everything that needs to know the shape of FHIR data (the structural validator,
//! `_summary`, FHIRPath choice types, the XML bridge) reads it from here.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// What a [`TypeDef`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeKind {
    /// A primitive data type such as `string` or `dateTime`.
    Primitive,
    /// A complex data type such as `CodeableConcept`.
    Complex,
    /// A resource type (including the abstract `Resource` and `DomainResource`).
    Resource,
    /// An anonymous backbone element, named by its path (e.g. `Observation.component`).
    Backbone,
}

/// One type of the R4 model.
#[derive(Debug, Deserialize)]
pub struct TypeDef {
    /// What kind of type this is.
    pub kind: TypeKind,
    /// The type it specialises (`DomainResource` for most resources).
    pub base: Option<String>,
    /// Abstract types (`Resource`, `DomainResource`) cannot be instantiated.
    #[serde(rename = "abstract")]
    pub is_abstract: bool,
    /// For primitives: the regular expression a value's text must match.
    pub regex: Option<String>,
    /// The elements, in definition order (which is also the canonical serialization order).
    pub elements: Vec<ElementDef>,
}

/// One element of a type.
#[derive(Debug, Deserialize)]
pub struct ElementDef {
    /// The element name without any `[x]` suffix (`value` for `value[x]`).
    pub name: String,
    /// Minimum cardinality.
    pub min: u32,
    /// Whether the element repeats (max > 1 or `*`), so it is a JSON array.
    pub many: bool,
    /// Whether this is a choice element (`value[x]`), written as `valueQuantity` etc.
    pub choice: bool,
    /// The allowed type names (for backbone elements their path; for `contentReference`
    /// elements the referenced path).
    pub types: Vec<String>,
    /// Target resource types of a `Reference` or `canonical` element (empty = any).
    pub targets: Vec<String>,
    /// Part of the `_summary=true` view.
    pub summary: bool,
    /// A modifier element (always kept by `_elements`).
    pub modifier: bool,
}

#[derive(Deserialize)]
struct Model {
    types: HashMap<String, TypeDef>,
}

static MODEL_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/model.json"));

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| serde_json::from_str(MODEL_JSON).expect("the embedded model is valid"))
}

/// The definition of a type, resource or backbone element by name
/// (`"Observation"`, `"Quantity"`, `"Observation.component"`).
pub fn type_def(name: &str) -> Option<&'static TypeDef> {
    model().types.get(name)
}

/// The concrete R4 resource types, sorted by name.
///
/// ```
/// let types = fhir_model::definitions::resource_types();
/// assert!(types.contains(&"Observation"));
/// assert!(!types.contains(&"DomainResource"));
/// ```
pub fn resource_types() -> &'static [&'static str] {
    static TYPES: OnceLock<Vec<&'static str>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut names: Vec<&'static str> = model()
            .types
            .iter()
            .filter(|(_, t)| t.kind == TypeKind::Resource && !t.is_abstract)
            .map(|(n, _)| n.as_str())
            .collect();
        names.sort_unstable();
        names
    })
}

/// Whether `name` is a concrete R4 resource type (case-sensitive, as FHIR is).
pub fn is_resource_type(name: &str) -> bool {
    type_def(name).is_some_and(|t| t.kind == TypeKind::Resource && !t.is_abstract)
}

/// A JSON property name resolved against a type's elements.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedElement<'a> {
    /// The element definition.
    pub def: &'a ElementDef,
    /// The concrete type of the value: the choice type for `valueQuantity`, else the
    /// element's single type (or `None` when the element allows several).
    pub type_name: Option<&'a str>,
}

impl TypeDef {
    /// Finds the element for a JSON property name, resolving choice names
    /// (`valueQuantity` → `value[x]` with type `Quantity`). Inherited elements of the
    /// base types are included.
    ///
    /// ```
    /// let obs = fhir_model::definitions::type_def("Observation").unwrap();
    /// let el = obs.element("valueQuantity").unwrap();
    /// assert_eq!(el.def.name, "value");
    /// assert_eq!(el.type_name, Some("Quantity"));
    /// ```
    pub fn element(&self, json_name: &str) -> Option<ResolvedElement<'_>> {
        for def in &self.elements {
            if def.choice {
                if let Some(suffix) = json_name.strip_prefix(def.name.as_str())
                    && let Some(t) = def.types.iter().find(|t| upper_first(t) == suffix)
                {
                    return Some(ResolvedElement {
                        def,
                        type_name: Some(t),
                    });
                }
            } else if def.name == json_name {
                let type_name = (def.types.len() == 1).then(|| def.types[0].as_str());
                return Some(ResolvedElement { def, type_name });
            }
        }
        None
    }
}

/// `dateTime` → `DateTime`: the suffix a choice type takes in a JSON property name.
pub fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_every_r4_resource_type() {
        let types = resource_types();
        assert_eq!(types.len(), 146, "{types:?}");
        for t in [
            "Patient",
            "Observation",
            "Bundle",
            "Parameters",
            "Binary",
            "Slot",
        ] {
            assert!(is_resource_type(t), "{t}");
        }
        assert!(!is_resource_type("Resource"));
        assert!(!is_resource_type("patient"));
    }

    #[test]
    fn backbone_and_content_reference_are_resolved() {
        let obs = type_def("Observation").unwrap();
        let comp = obs.element("component").unwrap();
        assert!(comp.def.many);
        assert_eq!(comp.type_name, Some("Observation.component"));
        assert!(
            type_def("Observation.component")
                .unwrap()
                .element("valueQuantity")
                .is_some()
        );
        let item = type_def("Questionnaire.item")
            .unwrap()
            .element("item")
            .unwrap();
        assert_eq!(item.type_name, Some("Questionnaire.item"));
        let status = obs.element("status").unwrap();
        assert_eq!(status.def.min, 1);
        assert!(status.def.modifier && status.def.summary);
        assert_eq!(obs.element("id").unwrap().type_name, Some("id"));
    }
}
