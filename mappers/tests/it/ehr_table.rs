//! What [`mappers::ehr::normalize_payload`] must make of every recorded vendor file, written
//! by hand from each file (its entries, ids, fullUrls and search modes, and the rules of
//! `mappers::ehr`). `Batch(resources, notes)`: the resources kept, by type, and the report,
//! by note kind, each `Name:count` in alphabetical order. `Refused(text)`: the error.
//!
//! Oddities of Cerner's published examples, checked by hand: entries nested in entries
//! (`*_APPOINTMENT_BUNDLE`, `*_LOCATION_ADDRESS_*BUNDLE`), entries with a resource's
//! elements inline (`DOCUMENT_REFERENCE_BUNDLE` entry 2, `NUTRITION_ORDER_*BUNDLE`,
//! `PATIENT_CONDITION_BUNDLE` entries 0 and 2) or with no resource (`CONSENT_*BUNDLE`
//! entry 1), fullUrls naming another id (`CARE_PLAN_PATIENT_BUNDLE` entry 0,
//! `CARE_TEAM_PATIENT_BUNDLE` entry 0) or a search (`LOCATION_PHYSICAL_TYPE_BUNDLE`,
//! `LOCATION_TYPE_BUNDLE`), one CarePlan twice (`CARE_PLAN_PATIENT_BUNDLE`), POST bodies
//! without `id` (`*_CREATE`, `*_POST_*`, `FINANCIAL_TRANSACTION_*`; but
//! `FAMILY_MEMBER_HISTORY_CREATE` has one).

/// The expected outcome of one file.
pub enum Expect {
    /// Imported: resources by type, notes by kind (`""` for none).
    Batch(&'static str, &'static str),
    /// Refused with this error text.
    Refused(&'static str),
}

use Expect::{Batch, Refused};

const PATCH: Expect = Refused(
    "not importable: a JSON Patch document (the body of a PATCH request), not a FHIR resource",
);
const PARAMETERS: Expect =
    Refused("not importable: Parameters: an operation's input or output, not a resource to store");
const NO_ID: Expect = Batch("", "Rejected:1");

/// Every file of `fixtures/cerner-sandbox/millennium-r4/`, by constant name.
pub const CERNER: &[(&str, Expect)] = &[
    ("BULK_PATIENT_ONE", Batch("Patient:1", "")),
    ("BULK_PATIENT_THREE", Batch("Patient:1", "")),
    ("BULK_PATIENT_TWO", Batch("Patient:1", "")),
    ("R4_ACCOUNT_READ", Batch("Account:1", "")),
    ("R4_ACCOUNT_SEARCH", Batch("Account:1", "")),
    ("R4_ACCOUNT_SEARCH_ENCOUNTER", Batch("Account:1", "")),
    ("R4_ACCOUNT_SEARCH_GUARANTOR", Batch("Account:3", "")),
    ("R4_ACCOUNT_SEARCH_GUARANTOR_ID", Batch("Account:1", "")),
    ("R4_ACCOUNT_SEARCH_STATEMENT", Batch("Account:1", "")),
    (
        "R4_ALLERGY_INTOLERANCE_BUNDLE",
        Batch("AllergyIntolerance:2", ""),
    ),
    ("R4_ALLERGY_INTOLERANCE_CREATE", NO_ID),
    (
        "R4_ALLERGY_INTOLERANCE_ENTERED_IN_ERROR_STATUS",
        Batch("AllergyIntolerance:1", ""),
    ),
    (
        "R4_ALLERGY_INTOLERANCE_ENTRY",
        Batch("AllergyIntolerance:1", ""),
    ),
    (
        "R4_ALLERGY_INTOLERANCE_PATIENT_BUNDLE",
        Batch("AllergyIntolerance:1", ""),
    ),
    (
        "R4_ALLERGY_INTOLERANCE_PATIENT_ENTRY",
        Batch("AllergyIntolerance:1", ""),
    ),
    (
        "R4_ALLERGY_INTOLERANCE_REVINCLUDE_BUNDLE",
        Batch("AllergyIntolerance:2", "VendorProvenance:2"),
    ),
    (
        "R4_ALLERGY_INTOLERANCE_UPDATE",
        Batch("AllergyIntolerance:1", ""),
    ),
    ("R4_APPOINTMENT_BOOKED_PATCH", PATCH),
    // Its one entry nests another entry.
    ("R4_APPOINTMENT_BUNDLE", Batch("", "Rejected:1")),
    ("R4_APPOINTMENT_CANCELATIONREASON_PATCH", PATCH),
    ("R4_APPOINTMENT_CREATE", NO_ID),
    ("R4_APPOINTMENT_ENTRY", Batch("Appointment:1", "")),
    ("R4_APPOINTMENT_EXTENSION_ACTION_COMMENT_PATCH", PATCH),
    ("R4_APPOINTMENT_EXTENSION_ACTION_COMMENT_SLOT_PATCH", PATCH),
    ("R4_APPOINTMENT_PARTICIPANT_STATUS_PATCH", PATCH),
    ("R4_APPOINTMENT_PATCH", PATCH),
    ("R4_APPOINTMENT_REASONCODE_PATCH", PATCH),
    ("R4_APPOINTMENT_RESCHEDULEREASON_PATCH", PATCH),
    ("R4_APPOINTMENT_SLOT_PATCH", PATCH),
    ("R4_APPOINTMENT_VIDEO_VISIT_ADD_PATCH", PATCH),
    (
        "R4_APPOINTMENT_VIDEO_VISIT_ENTRY",
        Batch("Appointment:1", ""),
    ),
    ("R4_APPOINTMENT_VIDEO_VISIT_REPLACE_PATCH", PATCH),
    (
        "R4_AUTH_METADATA",
        Refused(
            "not importable: CapabilityStatement: server metadata (conformance or terminology), not patient data",
        ),
    ),
    ("R4_BINARY_CCD_ENCOUNTER_ENTRY", Batch("Binary:1", "")),
    ("R4_BINARY_CCD_ENTRY", Batch("Binary:1", "")),
    ("R4_BINARY_COMMUNICATION_ENTRY", Batch("Binary:1", "")),
    ("R4_BINARY_ENTRY", Batch("Binary:1", "")),
    ("R4_BINARY_TR_JSON_ENTRY", Batch("Binary:1", "")),
    (
        "R4_BULK_EXPORT_COMPLETE",
        Refused(
            "not importable: a bulk-data export status manifest (its `output` lists the files to fetch), not a FHIR resource",
        ),
    ),
    (
        "R4_BULK_EXPORT_FILE",
        Refused(
            "not importable: a JSON array of 3 resources, not a FHIR payload: bulk-export (NDJSON) files are imported one resource per line",
        ),
    ),
    (
        "R4_CAREPLAN_REVINCLUDE_BUNDLE",
        Batch("CarePlan:1", "VendorProvenance:1"),
    ),
    ("R4_CARE_PLAN_BUNDLE", Batch("CarePlan:2", "")),
    (
        "R4_CARE_PLAN_ENTERED_IN_ERROR_STATUS",
        Batch("CarePlan:1", ""),
    ),
    ("R4_CARE_PLAN_ENTRY", Batch("CarePlan:1", "")),
    // Entry 0's fullUrl names CarePlan/197375407 but holds 197286315; entry 1 holds it again.
    (
        "R4_CARE_PLAN_PATIENT_BUNDLE",
        Batch("CarePlan:1", "Duplicate:1 FullUrlMismatch:1"),
    ),
    ("R4_CARE_PLAN_PATIENT_ENTRY", Batch("CarePlan:1", "")),
    ("R4_CARE_PLAN_UNKNOWN_STATUS", Batch("CarePlan:1", "")),
    ("R4_CARE_TEAM_BUNDLE", Batch("CareTeam:1", "")),
    ("R4_CARE_TEAM_ENTRY", Batch("CareTeam:1", "")),
    (
        "R4_CARE_TEAM_PATIENT_BUNDLE",
        Batch("CareTeam:3", "FullUrlMismatch:1"),
    ),
    ("R4_CARE_TEAM_PATIENT_ENTRY", Batch("CareTeam:1", "")),
    (
        "R4_CARE_TEAM_REVINCLUDE_BUNDLE",
        Batch("CareTeam:1", "VendorProvenance:1"),
    ),
    ("R4_CHARGEITEM_BUNDLE", Batch("ChargeItem:1", "")),
    ("R4_CHARGE_ITEM_CREATE", PARAMETERS),
    ("R4_CHARGE_ITEM_CREDIT", PARAMETERS),
    ("R4_CHARGE_ITEM_MODIFY", PARAMETERS),
    ("R4_CHARGE_ITEM_READ", Batch("ChargeItem:1", "")),
    ("R4_COMBINED_ENCOUNTER_ENTRY", Batch("Encounter:1", "")),
    ("R4_COMBINED_PATIENT_ENTRY", Batch("Patient:1", "")),
    ("R4_COMBINED_PERSON_ENTRY", Batch("Person:1", "")),
    ("R4_COMMUNICATION_BUNDLE", Batch("Communication:1", "")),
    ("R4_COMMUNICATION_CREATE", NO_ID),
    ("R4_COMMUNICATION_ENTRY", Batch("Communication:1", "")),
    ("R4_COMMUNICATION_PATCH", PATCH),
    ("R4_CONDITION_BUNDLE", Batch("Condition:3", "")),
    ("R4_CONDITION_CREATE", NO_ID),
    ("R4_CONDITION_DIAGNOSIS", Batch("Condition:1", "")),
    ("R4_CONDITION_ENTRY", Batch("Condition:1", "")),
    ("R4_CONDITION_HEALTH_CONCERN", Batch("Condition:1", "")),
    ("R4_CONDITION_PROBLEM", Batch("Condition:1", "")),
    (
        "R4_CONDITION_REVINCLUDE_BUNDLE",
        Batch("Condition:1", "VendorProvenance:1"),
    ),
    ("R4_CONDITION_UPDATE", Batch("Condition:1", "")),
    // Entry 1 is `{"search": {"mode": "match"}}` only.
    ("R4_CONSENT_ACTOR_BUNDLE", Batch("Consent:1", "Rejected:1")),
    ("R4_CONSENT_BUNDLE", Batch("Consent:1", "Rejected:1")),
    ("R4_CONSENT_ENTRY", Batch("Consent:1", "")),
    ("R4_CONSENT_ID_BUNDLE", Batch("Consent:1", "")),
    (
        "R4_CONSENT_INCLUDE_BUNDLE",
        Batch("Consent:1 Patient:1 RelatedPerson:1", ""),
    ),
    (
        "R4_CONSENT_PATIENT_BUNDLE",
        Batch("Consent:1", "Rejected:1"),
    ),
    ("R4_COVERAGE_BUNDLE", Batch("Coverage:1", "")),
    ("R4_COVERAGE_CREATE", NO_ID),
    ("R4_COVERAGE_ENCOUNTER_BUNDLE", Batch("Coverage:1", "")),
    (
        "R4_COVERAGE_ENCOUNTER_BUNDLE_ENTRY",
        Batch("Coverage:1", ""),
    ),
    ("R4_COVERAGE_ENCOUNTER_CREATE", NO_ID),
    ("R4_COVERAGE_ENCOUNTER_PATCH", PATCH),
    (
        "R4_COVERAGE_ENCOUNTER_SOCIAL_HEALTHCARE_BUNDLE",
        Batch("Coverage:1", ""),
    ),
    (
        "R4_COVERAGE_ENCOUNTER_SOCIAL_HEALTHCARE_BUNDLE_ENTRY",
        Batch("Coverage:1", ""),
    ),
    ("R4_COVERAGE_ENCOUNTER_SOCIAL_HEALTHCARE_CREATE", NO_ID),
    ("R4_COVERAGE_PATIENT_BUNDLE_ENTRY", Batch("Coverage:1", "")),
    (
        "R4_COVERAGE_PATIENT_SOCIAL_HEALTHCARE_BUNDLE",
        Batch("Coverage:1", ""),
    ),
    (
        "R4_COVERAGE_PATIENT_SOCIAL_HEALTHCARE_BUNDLE_ENTRY",
        Batch("Coverage:1", ""),
    ),
    ("R4_COVERAGE_PATIENT_SOCIAL_HEALTHCARE_CREATE", NO_ID),
    ("R4_DEVICE", Batch("Device:1", "")),
    ("R4_DEVICE_BUNDLE", Batch("Device:1", "")),
    ("R4_DEVICE_ENTERED_IN_ERROR_STATUS", Batch("Device:1", "")),
    ("R4_DEVICE_PATIENT_BUNDLE", Batch("Device:1", "")),
    ("R4_DEVICE_PATIENT_ENTRY", Batch("Device:1", "")),
    // fullUrls with `//` before the type: still Device/31539245.
    (
        "R4_DEVICE_REVINCLUDE_BUNDLE",
        Batch("Device:1", "VendorProvenance:1"),
    ),
    ("R4_DIAGNOSTIC_REPORT_POST_CARDIOLOGY", NO_ID),
    ("R4_DIAGNOSTIC_REPORT_POST_PATHOLOGY", NO_ID),
    (
        "R4_DIAGNOSTIC_REPORT_READ_BY_ID",
        Batch("DiagnosticReport:1", ""),
    ),
    (
        "R4_DIAGNOSTIC_REPORT_SEARCH_BY_ID",
        Batch("DiagnosticReport:1", ""),
    ),
    (
        "R4_DIAGNOSTIC_REPORT_SEARCH_BY_REVINCLUDE",
        Batch("DiagnosticReport:2", "VendorProvenance:2"),
    ),
    ("R4_DOCUMENT_REFERENCE", Batch("DocumentReference:1", "")),
    (
        "R4_DOCUMENT_REFERENCE_BUNDLE",
        Batch("DocumentReference:2", "Rejected:1"),
    ),
    (
        "R4_DOCUMENT_REFERENCE_CCD",
        Batch("DocumentReference:1", ""),
    ),
    (
        "R4_DOCUMENT_REFERENCE_CCD_BUNDLE",
        Batch("DocumentReference:1", ""),
    ),
    (
        "R4_DOCUMENT_REFERENCE_CCD_PATIENT_BUNDLE",
        Batch("DocumentReference:1", ""),
    ),
    (
        "R4_DOCUMENT_REFERENCE_NIL_STATUS",
        Refused("not importable: an OperationOutcome (error not-found: Resource not found)"),
    ),
    (
        "R4_DOCUMENT_REFERENCE_NIL_STATUS_BUNDLE",
        Batch("DocumentReference:2", "Outcome:1"),
    ),
    (
        "R4_DOCUMENT_REFERENCE_PATIENT_ACCESS",
        Batch("DocumentReference:1", ""),
    ),
    (
        "R4_DOCUMENT_REFERENCE_PATIENT_ACCESS_BUNDLE",
        Batch("DocumentReference:2", ""),
    ),
    ("R4_DOCUMENT_REFERENCE_POST", NO_ID),
    (
        "R4_DOCUMENT_REFERENCE_REVINCLUDE_BUNDLE",
        Batch("DocumentReference:1", "VendorProvenance:1"),
    ),
    (
        "R4_DOCUMENT_REFERENCE_SEARCH_BY_ENCOUNTER_FILTER_PATIENT_DOCUMENTS",
        Batch("DocumentReference:1", ""),
    ),
    (
        "R4_DOCUMENT_REFERENCE_UPDATE",
        Batch("DocumentReference:1", ""),
    ),
    ("R4_ENCOUNTER", Batch("Encounter:1", "")),
    ("R4_ENCOUNTER_BUNDLE", Batch("Encounter:2", "")),
    ("R4_ENCOUNTER_CREATE", NO_ID),
    ("R4_ENCOUNTER_PATCH", PATCH),
    ("R4_ENCOUNTER_PATIENT_BUNDLE", Batch("Encounter:6", "")),
    ("R4_ENCOUNTER_PATIENT_ENTRY", Batch("Encounter:1", "")),
    (
        "R4_ENCOUNTER_REVINCLUDE_BUNDLE",
        Batch("Encounter:1", "VendorProvenance:1"),
    ),
    (
        "R4_FAMILY_MEMBER_HISTORY_BUNDLE",
        Batch("FamilyMemberHistory:2", ""),
    ),
    (
        "R4_FAMILY_MEMBER_HISTORY_CREATE",
        Batch("FamilyMemberHistory:1", ""),
    ),
    (
        "R4_FAMILY_MEMBER_HISTORY_ENTRY",
        Batch("FamilyMemberHistory:1", ""),
    ),
    (
        "R4_FAMILY_MEMBER_HISTORY_UPDATE",
        Batch("FamilyMemberHistory:1", ""),
    ),
    ("R4_FINANCIAL_TRANSACTION_ADJUSTMENT", NO_ID),
    ("R4_FINANCIAL_TRANSACTION_CARD", NO_ID),
    ("R4_FINANCIAL_TRANSACTION_CASH", NO_ID),
    ("R4_FINANCIAL_TRANSACTION_CHECK", NO_ID),
    ("R4_GOAL", Batch("Goal:1", "")),
    ("R4_GOAL_BUNDLE", Batch("Goal:1", "")),
    ("R4_GOAL_BUNDLE_BY_DATE", Batch("Goal:1", "")),
    ("R4_GOAL_BUNDLE_BY_ID", Batch("Goal:1", "")),
    ("R4_GOAL_ENTERED_IN_ERROR_STATUS", Batch("Goal:1", "")),
    ("R4_GOAL_PATIENT_BUNDLE", Batch("Goal:1", "")),
    (
        "R4_GOAL_REVINCLUDE_BUNDLE",
        Batch("Goal:1", "VendorProvenance:1"),
    ),
    ("R4_HEALTH_CARDS_ISSUE_REQUEST", PARAMETERS),
    ("R4_HEALTH_CARDS_RESPONSE", PARAMETERS),
    ("R4_IMMUNIZATION_BUNDLE", Batch("Immunization:2", "")),
    ("R4_IMMUNIZATION_CREATE", NO_ID),
    (
        "R4_IMMUNIZATION_ENTERED_IN_ERROR_STATUS",
        Batch("Immunization:1", ""),
    ),
    ("R4_IMMUNIZATION_ENTRY", Batch("Immunization:1", "")),
    (
        "R4_IMMUNIZATION_NOT_DONE_STATUS",
        Batch("Immunization:1", ""),
    ),
    (
        "R4_IMMUNIZATION_PATIENT_BUNDLE",
        Batch("Immunization:2", ""),
    ),
    ("R4_IMMUNIZATION_PATIENT_ENTRY", Batch("Immunization:1", "")),
    (
        "R4_IMMUNIZATION_REVINCLUDE_BUNDLE",
        Batch("Immunization:2", "VendorProvenance:2"),
    ),
    ("R4_IMMUNIZATION_UPDATE", Batch("Immunization:1", "")),
    ("R4_INSURANCEPLAN_BUNDLE", Batch("InsurancePlan:4", "")),
    ("R4_INSURANCEPLAN_ENTRY", Batch("InsurancePlan:1", "")),
    ("R4_LOCATION_ADDRESS_BUNDLE", Batch("", "Rejected:1")),
    (
        "R4_LOCATION_ADDRESS_CITY_STATE_BUNDLE",
        Batch("", "Rejected:1"),
    ),
    ("R4_LOCATION_ADDRESS_ENTRY", Batch("Location:1", "")),
    ("R4_LOCATION_ADDRESS_NAME_BUNDLE", Batch("Location:1", "")),
    (
        "R4_LOCATION_ADDRESS_ORGANIZATION_BUNDLE",
        Batch("", "Rejected:1"),
    ),
    ("R4_LOCATION_BUNDLE", Batch("Location:1", "")),
    ("R4_LOCATION_ENTRY", Batch("Location:1", "")),
    (
        "R4_LOCATION_PHYSICAL_TYPE_BUNDLE",
        Batch("Location:1", "FullUrlMismatch:1"),
    ),
    (
        "R4_LOCATION_TYPE_BUNDLE",
        Batch("Location:1", "FullUrlMismatch:1"),
    ),
    (
        "R4_MEDICATION_ADMINISTRATION_BUNDLE",
        Batch("MedicationAdministration:2", ""),
    ),
    (
        "R4_MEDICATION_ADMINISTRATION_ENTRY",
        Batch("MedicationAdministration:1", ""),
    ),
    (
        "R4_MEDICATION_REQUEST_BUNDLE",
        Batch("MedicationRequest:1", ""),
    ),
    ("R4_MEDICATION_REQUEST_CREATE", NO_ID),
    (
        "R4_MEDICATION_REQUEST_ENTERED_IN_ERROR",
        Batch("MedicationRequest:1", ""),
    ),
    (
        "R4_MEDICATION_REQUEST_ENTRY",
        Batch("MedicationRequest:1", ""),
    ),
    ("R4_MEDICATION_REQUEST_PATCH", PATCH),
    (
        "R4_MEDICATION_REQUEST_PATIENT_BUNDLE",
        Batch("MedicationRequest:1", ""),
    ),
    (
        "R4_MEDICATION_REQUEST_PATIENT_ENTRY",
        Batch("MedicationRequest:1", ""),
    ),
    (
        "R4_MEDICATION_REQUEST_REVINCLUDE_BUNDLE",
        Batch("MedicationRequest:1", "VendorProvenance:1"),
    ),
    ("R4_NUTRITION_ORDER_BUNDLE", Batch("", "Rejected:1")),
    (
        "R4_NUTRITION_ORDER_CHILD_ENTRY",
        Batch("NutritionOrder:1", ""),
    ),
    ("R4_NUTRITION_ORDER_ENTRY", Batch("NutritionOrder:1", "")),
    (
        "R4_NUTRITION_ORDER_PATIENT_ACCESS_BUNDLE",
        Batch("", "Rejected:1"),
    ),
    (
        "R4_NUTRITION_ORDER_PATIENT_ACCESS_ENTERED_IN_ERROR",
        Batch("NutritionOrder:1", ""),
    ),
    (
        "R4_NUTRITION_ORDER_PATIENT_ACCESS_ENTRY",
        Batch("NutritionOrder:1", ""),
    ),
    (
        "R4_NUTRITION_ORDER_SEARCH_BY_REVINCLUDE",
        Batch("NutritionOrder:2", "VendorProvenance:2"),
    ),
    ("R4_OBSERVATION_BP_CREATE", NO_ID),
    // Social history ×3, SpO2, glucose ×2, axillary temperature 27 Cel.
    (
        "R4_OBSERVATION_BUNDLE",
        Batch("Observation:7", "Implausible:1"),
    ),
    ("R4_OBSERVATION_CREATE", NO_ID),
    (
        "R4_OBSERVATION_ENTERED_IN_ERROR_STATUS",
        Batch("Observation:1", ""),
    ),
    (
        "R4_OBSERVATION_ENTRY",
        Batch("Observation:1", "Implausible:1"),
    ),
    ("R4_OBSERVATION_LABS_CREATE", NO_ID),
    ("R4_OBSERVATION_LABS_UPDATE", Batch("Observation:1", "")),
    ("R4_OBSERVATION_PATIENT_BUNDLE", Batch("Observation:2", "")),
    ("R4_OBSERVATION_PO_CREATE", NO_ID),
    (
        "R4_OBSERVATION_REVINCLUDE_BUNDLE",
        Batch("Observation:1", "VendorProvenance:1"),
    ),
    (
        "R4_OBSERVATION_VITALS_BP_UPDATE",
        Batch("Observation:1", ""),
    ),
    // SpO2 44 %.
    (
        "R4_OBSERVATION_VITALS_PO_UPDATE",
        Batch("Observation:1", "Implausible:1"),
    ),
    // vital-signs category, coded with codeSet/72 only.
    ("R4_OBSERVATION_VITALS_UPDATE", Batch("", "Rejected:1")),
    (
        "R4_OPEN_METADATA",
        Refused(
            "not importable: CapabilityStatement: server metadata (conformance or terminology), not patient data",
        ),
    ),
    (
        "R4_OPERATION_DEFINITION_BUNDLE",
        Refused(
            "not importable: OperationDefinition: server metadata (conformance or terminology), not patient data",
        ),
    ),
    ("R4_ORGANIZATION_BUNDLE", Batch("Organization:1", "")),
    (
        "R4_ORGANIZATION_CAREGIVER_SEARCH_BUNDLE",
        Batch("Organization:1", ""),
    ),
    ("R4_ORGANIZATION_CREATE", NO_ID),
    ("R4_ORGANIZATION_ENTRY", Batch("Organization:1", "")),
    ("R4_PATIENT_ACTIVE_ENTRY", Batch("Condition:1", "")),
    ("R4_PATIENT_BUNDLE", Batch("Patient:1", "")),
    (
        "R4_PATIENT_CONDITION_BUNDLE",
        Batch("Condition:1", "Rejected:2"),
    ),
    ("R4_PATIENT_CONDITION_ENTRY", Batch("Condition:1", "")),
    ("R4_PATIENT_CREATE", NO_ID),
    (
        "R4_PATIENT_ENTERED_IN_ERROR_ENTRY",
        Batch("Condition:1", ""),
    ),
    ("R4_PATIENT_ENTRY", Batch("Patient:1", "")),
    (
        "R4_PATIENT_LEVEL_FAMILY_MEMBER_HISTORY_ENTRY",
        Batch("FamilyMemberHistory:1", ""),
    ),
    ("R4_PATIENT_PATCH", PATCH),
    (
        "R4_PATIENT_REVINCLUDE_BUNDLE",
        Batch("Patient:1", "VendorProvenance:1"),
    ),
    ("R4_PERSON_BUNDLE", Batch("Person:1", "")),
    ("R4_PERSON_ENTRY", Batch("Person:1", "")),
    ("R4_PRACTITIONER_BUNDLE", Batch("Practitioner:1", "")),
    ("R4_PRACTITIONER_CREATE", NO_ID),
    ("R4_PRACTITIONER_ENTRY", Batch("Practitioner:1", "")),
    ("R4_PROCEDURE_BUNDLE", Batch("Procedure:2", "")),
    ("R4_PROCEDURE_CREATE", NO_ID),
    (
        "R4_PROCEDURE_ENTERED_IN_ERROR_STATUS",
        Batch("Procedure:1", ""),
    ),
    ("R4_PROCEDURE_ENTRY", Batch("Procedure:1", "")),
    ("R4_PROCEDURE_PATIENT_BUNDLE", Batch("Procedure:2", "")),
    ("R4_PROCEDURE_PATIENT_ENTRY", Batch("Procedure:1", "")),
    (
        "R4_PROCEDURE_REVINCLUDE_BUNDLE",
        Batch("Procedure:1", "VendorProvenance:1"),
    ),
    ("R4_PROPOSED_APPOINTMENT_CREATE", NO_ID),
    ("R4_PROVENANCE_BUNDLE", Batch("", "VendorProvenance:1")),
    (
        "R4_PROVENANCE_CREATE",
        Refused(
            "not importable: a vendor Provenance (target DocumentReference/881049): HealthOS writes its own Provenance for each import",
        ),
    ),
    (
        "R4_PROVENANCE_ENTRY",
        Refused(
            "not importable: a vendor Provenance (target DocumentReference/881049): HealthOS writes its own Provenance for each import",
        ),
    ),
    (
        "R4_PROVENANCE_PATIENT_ACCESS_BUNDLE",
        Batch("", "VendorProvenance:1"),
    ),
    (
        "R4_PROVENANCE_PATIENT_ACCESS_ENTRY",
        Refused(
            "not importable: a vendor Provenance (target AllergyIntolerance/S-1595069): HealthOS writes its own Provenance for each import",
        ),
    ),
    ("R4_QUESTIONNAIRE_BUNDLE", Batch("Questionnaire:1", "")),
    ("R4_QUESTIONNAIRE_ENTRY", Batch("Questionnaire:1", "")),
    (
        "R4_QUESTIONNAIRE_RESPONSE_BUNDLE",
        Batch("QuestionnaireResponse:1", ""),
    ),
    (
        "R4_QUESTIONNAIRE_RESPONSE_ENTRY",
        Batch("QuestionnaireResponse:1", ""),
    ),
    (
        "R4_QUESTIONNAIRE_RESPONSE_UPDATE",
        Batch("QuestionnaireResponse:1", ""),
    ),
    ("R4_RELATEDPERSON_BUNDLE", Batch("RelatedPerson:2", "")),
    ("R4_RELATEDPERSON_CREATE", NO_ID),
    (
        "R4_RELATEDPERSON_ENCOUNTER_BUNDLE",
        Batch("RelatedPerson:1", ""),
    ),
    ("R4_RELATEDPERSON_ENCOUNTER_CREATE", NO_ID),
    (
        "R4_RELATEDPERSON_ENCOUNTER_ENTRY",
        Batch("RelatedPerson:1", ""),
    ),
    ("R4_RELATEDPERSON_ENTRY", Batch("RelatedPerson:1", "")),
    ("R4_RELATEDPERSON_PATCH", PATCH),
    ("R4_SCHEDULE_BUNDLE", Batch("Schedule:1", "")),
    ("R4_SCHEDULE_ENTRY", Batch("Schedule:1", "")),
    ("R4_SCHEDULE_PATIENT_BUNDLE", Batch("Schedule:1", "")),
    ("R4_SCHEDULE_PATIENT_ENTRY", Batch("Schedule:1", "")),
    ("R4_SERVICE_REQUEST", Batch("ServiceRequest:1", "")),
    ("R4_SERVICE_REQUEST_BUNDLE", Batch("ServiceRequest:2", "")),
    (
        "R4_SERVICE_REQUEST_PATIENT_ACCESS",
        Batch("ServiceRequest:1", ""),
    ),
    (
        "R4_SERVICE_REQUEST_PATIENT_ACCESS_BUNDLE",
        Batch("ServiceRequest:2", ""),
    ),
    (
        "R4_SERVICE_REQUEST_PATIENT_ACCESS_ENTERED_IN_ERROR",
        Batch("ServiceRequest:1", ""),
    ),
    (
        "R4_SERVICE_REQUEST_SEARCH_BY_REVINCLUDE",
        Batch("ServiceRequest:2", "VendorProvenance:2"),
    ),
    ("R4_SLOT_BUNDLE", Batch("Slot:2", "")),
    (
        "R4_SLOT_BUNDLE_INCLUDE_PRACTITIONER",
        Batch("Practitioner:1 Slot:1", ""),
    ),
    (
        "R4_SLOT_BUNDLE_INCLUDE_SCHEDULE",
        Batch("Schedule:1 Slot:1", ""),
    ),
    ("R4_SLOT_ENTRY", Batch("Slot:1", "")),
    ("R4_SLOT_PATCH", PATCH),
    ("R4_SLOT_PATIENT_ACCESS_BUNDLE", Batch("Slot:2", "")),
    (
        "R4_SLOT_PATIENT_ACCESS_BUNDLE_INCLUDE_PRACTITIONER",
        Batch("Practitioner:1 Slot:1", ""),
    ),
    (
        "R4_SLOT_PATIENT_ACCESS_BUNDLE_INCLUDE_SCHEDULE",
        Batch("Schedule:1 Slot:1", ""),
    ),
    ("R4_SLOT_PATIENT_ACCESS_ENTRY", Batch("Slot:1", "")),
    (
        "R4_STRUCTURE_DEFINITION_BUNDLE",
        Refused(
            "not importable: StructureDefinition: server metadata (conformance or terminology), not patient data",
        ),
    ),
    (
        "R4_WELL_KNOWN",
        Refused(
            "not importable: a SMART configuration (.well-known/smart-configuration), not a FHIR resource",
        ),
    ),
];

/// Every file of `fixtures/epic-sandbox/`, by file name without `.json`.
pub const EPIC: &[(&str, Expect)] = &[
    (
        "AllergyIntolerance-camila-not-on-file",
        Batch("AllergyIntolerance:1", ""),
    ),
    (
        "Medication-drospirenone-ethinyl-estradiol",
        Batch("Medication:1", ""),
    ),
    (
        "MedicationRequest-ePDJ.zsf3Jfg2.MKkAMgW9EcIbsaiB.y-OTrPS5v2h8Q3",
        Batch("MedicationRequest:1", ""),
    ),
    (
        "Organization-enRyWnSP963FYDpoks4NHOA3",
        Batch("Organization:1", ""),
    ),
    ("Patient-erXuFYUfucBZaryVksYEcMg3", Batch("Patient:1", "")),
    (
        "Practitioner-eM5CWtq15N0WJeuCet5bJlQ3",
        Batch("Practitioner:1", ""),
    ),
];
