//! The R4 [Patient compartment](https://hl7.org/fhir/R4/compartmentdefinition-patient.html),
//! read from the official `definitions/CompartmentDefinition-patient.json` (embedded, parsed
//! on first use).
//!
//! A resource is in a Patient's compartment when one of the search parameters the
//! definition lists for its type references that Patient; a Patient is in its own
//! compartment (and, through `link`, in those of the Patients it links to). SMART
//! `patient/` scopes confine access to the launch patient's compartment with this.
//!
//! The references are found by the search-index extraction ([`crate::index`]), so a
//! resource is in exactly the compartments a `?patient=`-style search finds it in. Only
//! relative references (`Patient/123`, with or without `_history`) name a compartment:
//! contained (`#p1`), absolute and logical (identifier-only) references name none.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::index::{IndexValue, extract_index_values};

static PATIENT_COMPARTMENT_JSON: &str =
    include_str!("../definitions/CompartmentDefinition-patient.json");

/// Resource type → the parameters that put it in a Patient's compartment (types whose
/// entry has no `param` are not in the compartment and are absent).
fn patient_compartment() -> &'static HashMap<String, Vec<String>> {
    static COMPARTMENT: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    COMPARTMENT.get_or_init(|| {
        let definition: Value = serde_json::from_str(PATIENT_COMPARTMENT_JSON)
            .expect("the embedded Patient CompartmentDefinition is valid JSON");
        definition["resource"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let code = entry["code"].as_str()?;
                let params: Vec<String> = entry["param"]
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                (!params.is_empty()).then(|| (code.to_owned(), params))
            })
            .collect()
    })
}

/// The search parameters that put a resource of type `res_type` in a Patient's
/// compartment (`Observation`: `subject`, `performer`; `Patient`: `link`), or `None` when
/// the type is not in the Patient compartment (`Practitioner`, `Medication`, unknown types).
///
/// ```
/// use fhir_model::compartment::patient_compartment_params;
/// assert_eq!(patient_compartment_params("Encounter").unwrap(), ["patient"]);
/// assert!(patient_compartment_params("Practitioner").is_none());
/// ```
pub fn patient_compartment_params(res_type: &str) -> Option<&'static [String]> {
    patient_compartment().get(res_type).map(Vec::as_slice)
}

/// The resource types in the Patient compartment (those with compartment parameters,
/// `Patient` included), sorted.
pub fn patient_compartment_types() -> &'static [String] {
    static TYPES: OnceLock<Vec<String>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut types: Vec<String> = patient_compartment().keys().cloned().collect();
        types.sort();
        types
    })
}

/// Every `Type|param` pair of the Patient compartment, sorted: what an SQL test of "this
/// index row makes its resource a compartment member" compares against.
pub fn patient_compartment_pairs() -> &'static [String] {
    static PAIRS: OnceLock<Vec<String>> = OnceLock::new();
    PAIRS.get_or_init(|| {
        let mut pairs: Vec<String> = patient_compartment()
            .iter()
            .flat_map(|(t, params)| params.iter().map(move |p| format!("{t}|{p}")))
            .collect();
        pairs.sort();
        pairs
    })
}

/// The ids of every Patient whose compartment `resource` is in, sorted and without
/// duplicates: for a Patient its own `id` and the Patients its `link` names; for other
/// types the Patients referenced by the type's compartment parameters (references to other
/// types, such as an Observation's Practitioner `performer`, do not count). Empty for a
/// type outside the compartment or a value without `resourceType`.
///
/// ```
/// use fhir_model::compartment::patient_compartments;
/// let obs = serde_json::json!({"resourceType": "Observation", "status": "final",
///     "code": {"text": "x"}, "subject": {"reference": "Patient/p1"},
///     "performer": [{"reference": "Practitioner/d1"}, {"reference": "Patient/p2"}]});
/// assert_eq!(patient_compartments(&obs), ["p1", "p2"]);
/// ```
pub fn patient_compartments(resource: &Value) -> Vec<String> {
    let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    if ty == "Patient"
        && let Some(id) = resource.get("id").and_then(Value::as_str)
    {
        ids.push(id.to_owned());
    }
    if let Some(params) = patient_compartment_params(ty) {
        for entry in extract_index_values(resource) {
            if let IndexValue::Reference {
                target_type: Some(target_type),
                target_id: Some(target_id),
                ..
            } = entry.value
                && target_type == "Patient"
                && params.contains(&entry.param)
            {
                ids.push(target_id);
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Whether `resource` is in the compartment of the Patient with id `patient_id`
/// (see [`patient_compartments`]).
pub fn in_patient_compartment(resource: &Value, patient_id: &str) -> bool {
    patient_compartments(resource)
        .iter()
        .any(|id| id == patient_id)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::search_params::{SearchParamKind, search_param};

    /// An official R4 example from `fixtures/fhir-r4-examples`.
    fn example(file: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/fhir-r4-examples")
            .join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The compartments of an official example.
    fn check(file: &str, expected: &[&str]) {
        assert_eq!(patient_compartments(&example(file)), expected, "{file}");
    }

    #[test]
    fn the_definition_lists_66_types_whose_params_are_reference_search_params() {
        let compartment = patient_compartment();
        assert_eq!(
            compartment.len(),
            66,
            "entries with a `param` in the R4 definition"
        );
        for (ty, params) in compartment {
            for code in params {
                let param = search_param(ty, code)
                    .unwrap_or_else(|| panic!("{ty}.{code} is not a search parameter"));
                assert_eq!(param.kind, SearchParamKind::Reference, "{ty}.{code}");
            }
        }
    }

    #[test]
    fn params_by_type() {
        assert_eq!(
            patient_compartment_params("Observation").unwrap(),
            ["subject", "performer"]
        );
        assert_eq!(patient_compartment_params("Patient").unwrap(), ["link"]);
        assert_eq!(
            patient_compartment_params("AllergyIntolerance").unwrap(),
            ["patient", "recorder", "asserter"]
        );
        assert_eq!(patient_compartment_params("Group").unwrap(), ["member"]);
        // Listed in the definition without a `param`: not in the compartment.
        for ty in [
            "Practitioner",
            "Organization",
            "Medication",
            "Location",
            "Device",
        ] {
            assert!(patient_compartment_params(ty).is_none(), "{ty}");
        }
        assert!(patient_compartment_params("NotAType").is_none());
    }

    #[test]
    fn official_examples() {
        // subject Patient/example (its encounter is no Patient).
        check("Observation-example.json", &["example"]);
        // subject and performer both Patient/PatientId-patientId: one compartment.
        check("Observation-656.json", &["PatientId-patientId"]);
        // subject a contained `#newborn`, performer a Practitioner.
        check("Observation-1minute-apgar-score.json", &[]);
        // subject a Group.
        check("Observation-herd1.json", &[]);
        // subject Patient/example.
        check("Encounter-example.json", &["example"]);
        // Not in the compartment at all.
        check("Practitioner-example.json", &[]);
        check("Medication-med0301.json", &[]);
        // Its own compartment; no `link`.
        check("Patient-example.json", &["example"]);
        // link.other Patient/pat2.
        check("Patient-pat1.json", &["pat1", "pat2"]);
        // link.other is a RelatedPerson.
        check("Patient-mom.json", &["mom"]);
        // patient and asserter Patient/example, recorder a Practitioner.
        check("AllergyIntolerance-example.json", &["example"]);
        // participant actors: Patient/example, a Practitioner and a Location.
        check("Appointment-example.json", &["example"]);
        // member.entity of four Patients (one inactive: still a member).
        check("Group-102.json", &["pat1", "pat2", "pat3", "pat4"]);
        // subject Patient/pat1; the contained medication and the Encounter do not count.
        check("MedicationAdministration-medadminexample03.json", &["pat1"]);
        // link.target: a RelatedPerson and Patient/example.
        check("Person-example.json", &["example"]);
    }

    #[test]
    fn membership() {
        let obs = example("Observation-example.json");
        assert!(in_patient_compartment(&obs, "example"));
        assert!(!in_patient_compartment(&obs, "pat1"));
        assert!(!in_patient_compartment(&obs, ""));
        let patient = example("Patient-pat2.json");
        assert!(in_patient_compartment(&patient, "pat2"));
        assert!(in_patient_compartment(&patient, "pat1"), "linked");
        assert!(!in_patient_compartment(
            &example("Practitioner-example.json"),
            "example"
        ));
    }

    #[test]
    fn only_relative_patient_references_count() {
        let obs = json!({"resourceType": "Observation", "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "http://other.example/fhir/Patient/a"},
        "performer": [
            {"reference": "Patient/b/_history/3"},
            {"identifier": {"system": "urn:x", "value": "c"}},
            {"reference": "RelatedPerson/d"}
        ]});
        assert_eq!(patient_compartments(&obs), ["b"]);
        // A Patient without an id (before create assigns one) is only in linked ones.
        let patient = json!({"resourceType": "Patient",
            "link": [{"other": {"reference": "Patient/e"}, "type": "seealso"}]});
        assert_eq!(patient_compartments(&patient), ["e"]);
        assert!(patient_compartments(&json!({"subject": {"reference": "Patient/f"}})).is_empty());
    }
}
