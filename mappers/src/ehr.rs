//! Epic and Oracle Health (Cerner) R4 data, as the vendors really send it, → the resources
//! HealthOS stores.
//!
//! The EHR sync fetches pages of search results and single reads from a vendor's FHIR base;
//! this module decides, without I/O, what of each payload is written and how. Every rule
//! has a name (used in the code and in [`EhrNote`] messages) and is applied the same way to
//! both vendors; vendor differences live only in [`Vendor::quirks`], the named switches of
//! [`crate::vitals::Quirks`].
//!
//! | rule | what |
//! |---|---|
//! | **payload-shape** | A `searchset` or `collection` Bundle, a single resource, or a bare Bundle entry (`{fullUrl, resource}`, what Cerner documents for some reads). Anything else (a JSON Patch, a SMART configuration, a bulk-export manifest or file, server metadata) is refused with [`Error::NotImportable`]; broken JSON is [`Error::Malformed`]. `Bundle.link` paging is the sync client's business. |
//! | **entry-shape** | A Bundle entry must carry its resource under `resource`. Entries that do not (no resource, the resource's elements inline, an entry nested in an entry: all seen in Cerner's published examples) are rejected and reported; the rest of the page is imported. |
//! | **outcome-entries** | OperationOutcome entries (`search.mode = outcome`: Epic's "59204 not authorized", Cerner's "suppressed") are dropped and reported with their issue text and codes. |
//! | **vendor-provenance** | Provenance from the vendor (`_revinclude=Provenance:target`, or read directly) is kept out and reported: the server writes its own Provenance for each import. |
//! | **import-scope** | Conformance, terminology and exchange-infrastructure types (CapabilityStatement, StructureDefinition, Parameters, …) are not patient data and are not imported; names that are no R4 resource type are reported as unknown. |
//! | **vital-signs** | An Observation in the `vital-signs` category, or coded with a LOINC code of the vitals allow-list, goes through [`crate::vitals::normalize`] with the vendor's quirks (Epic's generic `8716-3` is never chosen, flowsheet and `codeSet/72` codings and vendor extensions such as Epic's `temperature-in-fahrenheit` are kept, implausible values are flagged and reported). A vital that fails is rejected and reported with the error; it is not stored half-normalised. Other Observations (labs, social history) pass through. |
//! | **source-identity** | See below: the vendor `id` becomes a source identifier, `meta.source` the vendor URL; a resource without `id` (a request body) is rejected; the second copy of one resource in a payload is dropped. |
//! | **references** | See below: references into the payload become conditional references, references to the linked patient become the caller's patient reference, other vendor references become logical references. |
//!
//! ## Source identity
//!
//! A re-import must update what the last import wrote, so every resource carries where it
//! came from, in a form a conditional update (`PUT [type]?…`) can find:
//!
//! * `meta.source` = the resource's URL at the vendor, `<base>/<Type>/<id>` (the R4
//!   definition of `meta.source` allows the source system's URL of the resource;
//!   `_source:below=<base>` still finds everything from one vendor base).
//!   `meta.versionId` and `meta.lastUpdated` are the vendor's and are dropped; `id` is
//!   removed (our server assigns ids).
//! * For the types whose `identifier` repeats (0..*, nearly all), an identifier is added:
//!   `{system: "<base>/<Type>", value: "<id>"}` ([`source_identifier`]). The system is the
//!   vendor's id namespace for that type, so `system + "/" + value` is the vendor URL again.
//!   These types are matched with `identifier=<system>|<id>`.
//! * Types with a single `identifier` (QuestionnaireResponse, Composition, AdverseEvent, …)
//!   get the identifier only when the vendor sent none, and types without `identifier`
//!   (Binary, MedicationKnowledge, …) get none; both are matched with `_source=<url>`.
//!
//! [`conditional_reference`] gives the match for a type and vendor id (it is both the
//! conditional-update URL and the conditional reference); [`update_url`] reads it back from
//! a normalised resource. The caller must pass the same `base_url` on every import of one
//! vendor tenant (Cerner serves one tenant under several hosts).
//!
//! ## References
//!
//! * `Type/id` (relative, absolute into the vendor base, or the `fullUrl` of an entry,
//!   including `urn:uuid:`/`urn:oid:` ones) naming a resource imported from the same payload
//!   → the conditional reference `Type?identifier=…` (R4 http.html#trules), which the
//!   server's transaction processing resolves.
//! * A reference to the patient of [`EhrContext::patient`] → that patient's reference on our
//!   server, whether or not the Patient is in the payload.
//! * Any other reference into the vendor → by [`ExternalReferences`]: a logical reference
//!   (`Reference.identifier` = the source identifier, `type` set, `display` kept; the
//!   default: it never points at a wrong resource and never fails a transaction) or a
//!   conditional reference (when the caller imports targets first).
//! * The linked patient's own Patient resource, when in the payload, is normalised like any
//!   other (matched by its source identifier); whether to write it is the caller's choice.
//! * `#id` references stay (contained resources stay contained, valid FHIR); one that names
//!   no contained resource is reported, as is a `urn:` reference that names no entry.
//!   Versioned references lose their vendor version. References to other servers stay.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::Error;
use crate::json::{kind as json_kind, parse_document};
use crate::vitals::{self, EPIC_LOINC_OID, LOINC, NoteKind, OBSERVATION_CATEGORY, Quirks};

/// The EHR a payload comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// Epic (`https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4` and customer
    /// instances).
    Epic,
    /// Oracle Health (Cerner) Millennium (`https://fhir-open.cerner.com/r4/<tenant>`, …).
    Cerner,
}

impl Vendor {
    /// The vital-sign quirks this vendor's data needs ([`Quirks::EPIC`], [`Quirks::CERNER`]).
    pub fn quirks(self) -> Quirks {
        match self {
            Vendor::Epic => Quirks::EPIC,
            Vendor::Cerner => Quirks::CERNER,
        }
    }

    /// A human-readable name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Epic => "Epic",
            Vendor::Cerner => "Oracle Health (Cerner)",
        }
    }
}

/// The vendor's patient whose references are rewritten to a patient already on our server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientLink {
    /// The patient's id at the vendor (`12724066`, `erXuFYUfucBZaryVksYEcMg3`).
    pub source_id: String,
    /// The reference to write instead, e.g. `Patient/8c1e…`.
    pub reference: String,
}

/// What a reference to a vendor resource that is not in the payload becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExternalReferences {
    /// A logical reference: `reference` removed, `identifier` = the target's source
    /// identifier (unless the vendor sent one), `type` set. Never dangles, never fails.
    #[default]
    Logical,
    /// A conditional reference (`Type?identifier=…`): a real link, but the transaction
    /// fails unless the target was imported before.
    Conditional,
}

/// Where a payload comes from and how its references are mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhrContext {
    /// The vendor.
    pub vendor: Vendor,
    /// The vendor FHIR base the payload was fetched from, e.g.
    /// `https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d` (a trailing
    /// `/` is ignored). The source identity of everything imported is derived from it.
    pub base_url: String,
    /// The vendor patient that maps to a patient on our server, when known.
    pub patient: Option<PatientLink>,
    /// What references to vendor resources outside the payload become.
    pub external_references: ExternalReferences,
}

impl EhrContext {
    /// A context without patient link, with logical external references.
    pub fn new(vendor: Vendor, base_url: impl Into<String>) -> EhrContext {
        EhrContext {
            vendor,
            base_url: base_url.into(),
            patient: None,
            external_references: ExternalReferences::default(),
        }
    }

    /// The same context, with references to vendor patient `source_id` written as
    /// `reference`.
    pub fn with_patient(
        mut self,
        source_id: impl Into<String>,
        reference: impl Into<String>,
    ) -> EhrContext {
        self.patient = Some(PatientLink {
            source_id: source_id.into(),
            reference: reference.into(),
        });
        self
    }

    fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
}

/// What an [`EhrNote`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EhrNoteKind {
    /// An OperationOutcome entry was dropped (rule outcome-entries).
    Outcome,
    /// A vendor Provenance was kept out (rule vendor-provenance).
    VendorProvenance,
    /// A resource of a type outside the import was skipped (rule import-scope).
    NotImported,
    /// A `resourceType` that is no R4 resource type (rule import-scope).
    UnknownType,
    /// A resource or entry that could not be imported, with the reason.
    Rejected,
    /// A second copy of a resource already imported from the payload was dropped.
    Duplicate,
    /// A vital-sign value outside its plausible range; kept, flagged in the resource.
    Implausible,
    /// A `#id` or `urn:` reference that resolves to nothing; kept as sent.
    DanglingReference,
    /// An entry's `fullUrl` names another resource than the one it holds; the resource's
    /// own type and id are used.
    FullUrlMismatch,
}

/// One finding of an import, for the import report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhrNote {
    /// What happened.
    pub kind: EhrNoteKind,
    /// Where in the payload: a JSON pointer (`/entry/3/resource`; `""` is the whole
    /// payload).
    pub position: String,
    /// The vendor resource concerned, as `Type/id`, when known.
    pub resource: Option<String>,
    /// Human-readable detail.
    pub message: String,
}

/// The resources to store and the report of what was left out or flagged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormalizedBatch {
    /// Normalised resources, in payload order, without `id`, each with its source identity.
    pub resources: Vec<Value>,
    /// Dropped outcomes and Provenance, rejected entries, implausible values, … in payload
    /// order; dangling references (found once everything is admitted) come last.
    pub report: Vec<EhrNote>,
}

impl NormalizedBatch {
    /// The notes of one kind.
    pub fn notes(&self, kind: EhrNoteKind) -> impl Iterator<Item = &EhrNote> {
        self.report.iter().filter(move |n| n.kind == kind)
    }
}

/// Every R4 (4.0.1) resource type, from the official StructureDefinitions
/// (`fhir-model/definitions/profiles-resources.json.gz`, abstract types excluded).
const R4_RESOURCE_TYPES: &str = "Account ActivityDefinition AdverseEvent AllergyIntolerance \
    Appointment AppointmentResponse AuditEvent Basic Binary BiologicallyDerivedProduct \
    BodyStructure Bundle CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem \
    ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication \
    CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent \
    Contract Coverage CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue \
    Device DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport \
    DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint \
    EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence \
    EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal \
    GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization \
    ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan \
    Invoice Library Linkage List Location Measure MeasureReport Media Medication \
    MedicationAdministration MedicationDispense MedicationKnowledge MedicationRequest \
    MedicationStatement MedicinalProduct MedicinalProductAuthorization \
    MedicinalProductContraindication MedicinalProductIndication MedicinalProductIngredient \
    MedicinalProductInteraction MedicinalProductManufactured MedicinalProductPackaged \
    MedicinalProductPharmaceutical MedicinalProductUndesirableEffect MessageDefinition \
    MessageHeader MolecularSequence NamingSystem NutritionOrder Observation \
    ObservationDefinition OperationDefinition OperationOutcome Organization \
    OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person \
    PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire \
    QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition \
    ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment \
    RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen \
    SpecimenDefinition StructureDefinition StructureMap Subscription Substance \
    SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation \
    SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task \
    TerminologyCapabilities TestReport TestScript ValueSet VerificationResult \
    VisionPrescription";

/// Whether `name` is an R4 resource type.
pub fn is_resource_type(name: &str) -> bool {
    R4_RESOURCE_TYPES
        .split_ascii_whitespace()
        .any(|t| t == name)
}

/// Rule import-scope: conformance and terminology resources describe a server, not a
/// patient.
const CONFORMANCE: &[&str] = &[
    "CapabilityStatement",
    "CodeSystem",
    "CompartmentDefinition",
    "ConceptMap",
    "ExampleScenario",
    "GraphDefinition",
    "ImplementationGuide",
    "MessageDefinition",
    "NamingSystem",
    "OperationDefinition",
    "SearchParameter",
    "StructureDefinition",
    "StructureMap",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
];

/// Rule import-scope: exchange infrastructure, each with why it is not stored.
const INFRASTRUCTURE: &[(&str, &str)] = &[
    (
        "AuditEvent",
        "the vendor's audit trail; HealthOS keeps its own",
    ),
    (
        "Bundle",
        "a Bundle inside a payload; import its entries on their own",
    ),
    (
        "Linkage",
        "links between the vendor's records, meaningless on our server",
    ),
    ("MessageHeader", "FHIR messaging infrastructure, not data"),
    (
        "Parameters",
        "an operation's input or output, not a resource to store",
    ),
    ("Subscription", "a vendor notification channel, not data"),
];

/// How a resource type is matched on re-import (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identity {
    /// `identifier` is 0..*: the source identifier is added; matched by `identifier`.
    Identifier,
    /// `identifier` is 0..1: set when absent; matched by `_source`.
    SingleIdentifier,
    /// No `identifier`: matched by `_source`.
    SourceOnly,
}

/// R4 types (of those imported) whose `identifier` is 0..1.
const SINGLE_IDENTIFIER: &[&str] = &[
    "AdverseEvent",
    "Composition",
    "MedicinalProductIngredient",
    "QuestionnaireResponse",
    "SpecimenDefinition",
    "SubstanceSpecification",
];

/// R4 types (of those imported) without `identifier`.
const NO_IDENTIFIER: &[&str] = &[
    "Binary",
    "MedicationKnowledge",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductUndesirableEffect",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "VerificationResult",
];

fn identity_of(resource_type: &str) -> Identity {
    if SINGLE_IDENTIFIER.contains(&resource_type) {
        Identity::SingleIdentifier
    } else if NO_IDENTIFIER.contains(&resource_type) {
        Identity::SourceOnly
    } else {
        Identity::Identifier
    }
}

/// The source identifier of vendor resource `resource_type/id`: `(system, value)` =
/// `("<base>/<Type>", "<id>")`.
///
/// ```
/// use mappers::ehr::{EhrContext, Vendor, source_identifier};
/// let ctx = EhrContext::new(Vendor::Cerner, "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/");
/// assert_eq!(
///     source_identifier(&ctx, "Observation", "VS-197292857"),
///     (
///         "https://fhir-open.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Observation".to_owned(),
///         "VS-197292857".to_owned()
///     )
/// );
/// ```
pub fn source_identifier(ctx: &EhrContext, resource_type: &str, id: &str) -> (String, String) {
    (format!("{}/{resource_type}", ctx.base()), id.to_owned())
}

/// The vendor URL of `resource_type/id`, written to `meta.source`.
pub fn source_url(ctx: &EhrContext, resource_type: &str, id: &str) -> String {
    format!("{}/{resource_type}/{id}", ctx.base())
}

/// The conditional reference to vendor resource `resource_type/id` once imported:
/// `Type?identifier=<system>|<id>`, or `Type?_source=<url>` for types without a repeating
/// `identifier`. It is also the conditional-update URL (`PUT [base]/` + it).
///
/// ```
/// use mappers::ehr::{EhrContext, Vendor, conditional_reference};
/// let ctx = EhrContext::new(Vendor::Epic, "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4");
/// assert_eq!(
///     conditional_reference(&ctx, "Patient", "erXuFYUfucBZaryVksYEcMg3"),
///     "Patient?identifier=https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Patient|erXuFYUfucBZaryVksYEcMg3"
/// );
/// assert_eq!(
///     conditional_reference(&ctx, "Binary", "X 1"),
///     "Binary?_source=https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/Binary/X%201"
/// );
/// ```
pub fn conditional_reference(ctx: &EhrContext, resource_type: &str, id: &str) -> String {
    conditional_for(ctx.base(), resource_type, id)
}

fn conditional_for(base: &str, resource_type: &str, id: &str) -> String {
    match identity_of(resource_type) {
        Identity::Identifier => format!(
            "{resource_type}?identifier={}|{}",
            query_escape(&search_escape(&format!("{base}/{resource_type}"))),
            query_escape(&search_escape(id))
        ),
        Identity::SingleIdentifier | Identity::SourceOnly => format!(
            "{resource_type}?_source={}",
            query_escape(&search_escape(&format!("{base}/{resource_type}/{id}")))
        ),
    }
}

/// The conditional-update URL of a resource this module normalised, read back from its
/// `meta.source`; `None` for anything else.
pub fn update_url(resource: &Value) -> Option<String> {
    let resource_type = resource.get("resourceType")?.as_str()?;
    let source = resource.get("meta")?.get("source")?.as_str()?;
    let (rest, id) = source.rsplit_once('/')?;
    let (base, ty) = rest.rsplit_once('/')?;
    (ty == resource_type && !id.is_empty()).then(|| conditional_for(base, ty, id))
}

/// FHIR search escaping of a token part (R4 search.html#escaping).
fn search_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '|' | ',' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Percent-encodes what a query-string value cannot carry as is (`&`, `+`, `#`, `%`, `=`,
/// spaces, `\`, non-ASCII, …); `:` `/` `|` `$` `,` stay readable.
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:/@!$'()*,;|?".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Normalises one vendor payload: a searchset (or collection) Bundle, a single resource, or
/// a bare Bundle entry (`{fullUrl, resource}`).
///
/// Errors: [`Error::Malformed`] for input that is not JSON (or a Bundle whose `entry` is not
/// an array); [`Error::NotImportable`] for well-formed input that is not data to import
/// (rule payload-shape, and a single resource of a type outside the import). Problems of
/// single entries or resources are reported in [`NormalizedBatch::report`] instead.
pub fn normalize_payload(bytes: &[u8], ctx: &EhrContext) -> Result<NormalizedBatch, Error> {
    let value = parse_document(bytes)?;
    let mut out = NormalizedBatch::default();
    normalize_entries(payload_entries(value)?, ctx, &mut out);
    Ok(out)
}

/// Normalises one resource into `out`; whatever keeps it out is reported there. Its
/// references are resolved against itself only (a reference to another resource is a
/// reference outside the payload).
pub fn normalize_resource(resource: Value, ctx: &EhrContext, out: &mut NormalizedBatch) {
    let entry = Entry {
        position: String::new(),
        full_url: None,
        resource,
    };
    normalize_entries(vec![Ok(entry)], ctx, out);
}

/// A resource of the payload with where it sits.
struct Entry {
    /// JSON pointer of the resource.
    position: String,
    full_url: Option<String>,
    resource: Value,
}

/// A resource admitted to the batch, before its references and identity are rewritten.
struct Admitted {
    position: String,
    full_url: Option<String>,
    resource_type: String,
    id: String,
    resource: Value,
}

impl Admitted {
    fn label(&self) -> String {
        format!("{}/{}", self.resource_type, self.id)
    }
}

/// An entry of the payload, or the note rejecting it (rule entry-shape).
type EntryOrNote = Result<Entry, EhrNote>;

/// Rule payload-shape: the entries of a payload, or why it is refused.
fn payload_entries(value: Value) -> Result<Vec<EntryOrNote>, Error> {
    let obj = match value {
        Value::Object(obj) => obj,
        Value::Array(items) => return Err(refuse("", array_kind(&items))),
        other => {
            return Err(refuse(
                "",
                format!("a JSON {}, not a FHIR resource", json_kind(&other)),
            ));
        }
    };
    match obj.get("resourceType") {
        Some(Value::String(t)) if t == "Bundle" => bundle_entries(obj),
        Some(Value::String(_)) => {
            if let Some((_, reason)) = exclusion(&obj) {
                return Err(refuse("/resourceType", reason));
            }
            Ok(vec![Ok(Entry {
                position: String::new(),
                full_url: None,
                resource: Value::Object(obj),
            })])
        }
        Some(_) => Err(Error::Malformed {
            position: "/resourceType".to_owned(),
            reason: "resourceType is not a string".to_owned(),
        }),
        None if obj.contains_key("resource") => {
            // A bare Bundle entry, as Cerner documents some reads.
            let entry = entry_resource(Value::Object(obj), "")
                .map_err(|note| refuse(&note.position, note.message))?;
            if let Some((_, reason)) = entry.resource.as_object().and_then(exclusion) {
                return Err(refuse("/resource/resourceType", reason));
            }
            Ok(vec![Ok(entry)])
        }
        None => Err(refuse("", object_kind(&obj))),
    }
}

fn refuse(position: &str, reason: impl Into<String>) -> Error {
    Error::NotImportable {
        position: position.to_owned(),
        reason: reason.into(),
    }
}

/// What a top-level JSON array is, for the refusal.
fn array_kind(items: &[Value]) -> String {
    let all = |key: &str| !items.is_empty() && items.iter().all(|i| i.get(key).is_some());
    if all("op") && all("path") {
        "a JSON Patch document (the body of a PATCH request), not a FHIR resource".to_owned()
    } else if all("resourceType") {
        format!(
            "a JSON array of {} resources, not a FHIR payload: bulk-export (NDJSON) files are imported one resource per line",
            items.len()
        )
    } else {
        "a JSON array, not a FHIR resource".to_owned()
    }
}

/// What a top-level object without `resourceType` is, for the refusal.
fn object_kind(obj: &Map<String, Value>) -> String {
    if obj.contains_key("token_endpoint") || obj.contains_key("authorization_endpoint") {
        "a SMART configuration (.well-known/smart-configuration), not a FHIR resource".to_owned()
    } else if obj.contains_key("transactionTime") && obj.contains_key("output") {
        "a bulk-data export status manifest (its `output` lists the files to fetch), not a FHIR resource".to_owned()
    } else {
        "a JSON object without resourceType, not a FHIR resource".to_owned()
    }
}

/// The entries of a searchset or collection Bundle.
fn bundle_entries(mut bundle: Map<String, Value>) -> Result<Vec<EntryOrNote>, Error> {
    let bundle_type = bundle.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(bundle_type, "searchset" | "collection") {
        return Err(refuse(
            "/type",
            format!(
                "a Bundle of type `{bundle_type}`: only searchset and collection Bundles hold data to import"
            ),
        ));
    }
    let entries = match bundle.shift_remove("entry") {
        None => Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            return Err(Error::Malformed {
                position: "/entry".to_owned(),
                reason: "Bundle.entry is not an array".to_owned(),
            });
        }
    };
    Ok(entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| entry_resource(entry, &format!("/entry/{i}")))
        .collect())
}

/// Rule entry-shape: the resource of one entry at `at`, or the note rejecting the entry.
fn entry_resource(entry: Value, at: &str) -> Result<Entry, EhrNote> {
    let rejected = |resource: Option<String>, message: &str| EhrNote {
        kind: EhrNoteKind::Rejected,
        position: at.to_owned(),
        resource,
        message: message.to_owned(),
    };
    let Value::Object(mut entry) = entry else {
        return Err(rejected(None, "the entry is not a JSON object"));
    };
    let full_url = entry
        .get("fullUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match entry.shift_remove("resource") {
        Some(resource) if resource.get("resourceType").is_some_and(Value::is_string) => Ok(Entry {
            position: format!("{at}/resource"),
            full_url,
            resource,
        }),
        Some(inner) if inner.get("resource").is_some() => Err(rejected(
            label_of(&inner["resource"]),
            "`resource` is itself a Bundle entry ({fullUrl, resource}), not a resource",
        )),
        Some(_) => Err(rejected(
            None,
            "`resource` is not a resource (no resourceType)",
        )),
        None if entry.contains_key("resourceType") => Err(rejected(
            label_of(&Value::Object(entry)),
            "the entry holds a resource's elements itself instead of under `resource`",
        )),
        None => Err(rejected(None, "the entry has no resource")),
    }
}

/// `Type/id` of a resource, when it has both.
fn label_of(resource: &Value) -> Option<String> {
    let resource_type = resource.get("resourceType")?.as_str()?;
    let id = resource.get("id")?.as_str()?;
    Some(format!("{resource_type}/{id}"))
}

/// Rules outcome-entries, vendor-provenance and import-scope: why a resource's type keeps
/// it out of the import, if it does.
fn exclusion(resource: &Map<String, Value>) -> Option<(EhrNoteKind, String)> {
    let resource_type = resource.get("resourceType")?.as_str()?;
    if resource_type == "OperationOutcome" {
        return Some((
            EhrNoteKind::Outcome,
            format!("an OperationOutcome ({})", outcome_text(resource)),
        ));
    }
    if resource_type == "Provenance" {
        let targets: Vec<&str> = resource
            .get("target")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("reference").and_then(Value::as_str))
            .collect();
        return Some((
            EhrNoteKind::VendorProvenance,
            format!(
                "a vendor Provenance (target {}): HealthOS writes its own Provenance for each import",
                if targets.is_empty() {
                    "none".to_owned()
                } else {
                    targets.join(", ")
                }
            ),
        ));
    }
    if CONFORMANCE.contains(&resource_type) {
        return Some((
            EhrNoteKind::NotImported,
            format!(
                "{resource_type}: server metadata (conformance or terminology), not patient data"
            ),
        ));
    }
    if let Some((_, why)) = INFRASTRUCTURE.iter().find(|(t, _)| *t == resource_type) {
        return Some((EhrNoteKind::NotImported, format!("{resource_type}: {why}")));
    }
    if !is_resource_type(resource_type) {
        return Some((
            EhrNoteKind::UnknownType,
            format!("`{resource_type}` is not an R4 resource type"),
        ));
    }
    None
}

/// The issues of an OperationOutcome: `severity code (detail codes): text`, `; `-joined.
fn outcome_text(outcome: &Map<String, Value>) -> String {
    let issues: Vec<String> = outcome
        .get("issue")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|issue| {
            let field = |name: &str| issue.get(name).and_then(Value::as_str).unwrap_or("?");
            let details = issue.get("details");
            let codings: Vec<&Value> = details
                .and_then(|d| d.get("coding"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect();
            let codes: Vec<&str> = codings
                .iter()
                .filter_map(|c| c.get("code").and_then(Value::as_str))
                .collect();
            let text = details
                .and_then(|d| d.get("text"))
                .and_then(Value::as_str)
                .or_else(|| issue.get("diagnostics").and_then(Value::as_str))
                .or_else(|| {
                    codings
                        .iter()
                        .find_map(|c| c.get("display").and_then(Value::as_str))
                });
            let mut line = format!("{} {}", field("severity"), field("code"));
            if !codes.is_empty() {
                line.push_str(&format!(" ({})", codes.join(", ")));
            }
            if let Some(text) = text {
                line.push_str(": ");
                line.push_str(text);
            }
            line
        })
        .collect();
    if issues.is_empty() {
        "no issue".to_owned()
    } else {
        issues.join("; ")
    }
}

/// Admits every resource it can, then rewrites references (which needs to know what the
/// payload holds) and identities.
fn normalize_entries(entries: Vec<EntryOrNote>, ctx: &EhrContext, out: &mut NormalizedBatch) {
    let quirks = ctx.vendor.quirks();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut admitted: Vec<Admitted> = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            Ok(entry) => admitted.extend(admit(entry, quirks, &mut seen, out)),
            Err(note) => out.report.push(note),
        }
    }

    // What the payload holds: `Type/id` and each entry's fullUrl → (Type, id).
    let mut index: BTreeMap<String, (String, String)> = BTreeMap::new();
    for a in &admitted {
        let target = (a.resource_type.clone(), a.id.clone());
        if let Some(url) = &a.full_url {
            index.entry(url.clone()).or_insert_with(|| target.clone());
        }
        index.insert(a.label(), target);
    }

    for mut a in admitted {
        let label = a.label();
        let cx = ReferenceContext {
            ctx,
            index: &index,
            contained: contained_ids(&a.resource),
        };
        let mut dangling = Vec::new();
        rewrite_references(&mut a.resource, &mut String::new(), &cx, &mut dangling);
        for (path, message) in dangling {
            out.report.push(EhrNote {
                kind: EhrNoteKind::DanglingReference,
                position: format!("{}{path}", a.position),
                resource: Some(label.clone()),
                message,
            });
        }
        if let Some(obj) = a.resource.as_object_mut() {
            apply_identity(obj, &a.resource_type, &a.id, ctx);
        }
        out.resources.push(a.resource);
    }
}

/// Decides whether one resource is imported (rules import-scope, source-identity,
/// vital-signs); reports why not.
fn admit(
    entry: Entry,
    quirks: Quirks,
    seen: &mut BTreeMap<String, String>,
    out: &mut NormalizedBatch,
) -> Option<Admitted> {
    let Entry {
        position,
        full_url,
        resource,
    } = entry;
    let label = label_of(&resource);
    let mut note = |kind: EhrNoteKind, message: String| {
        out.report.push(EhrNote {
            kind,
            position: position.clone(),
            resource: label.clone(),
            message,
        });
    };
    let Some(obj) = resource.as_object() else {
        note(
            EhrNoteKind::Rejected,
            format!("a JSON {}, not a resource", json_kind(&resource)),
        );
        return None;
    };
    let Some(resource_type) = obj.get("resourceType").and_then(Value::as_str) else {
        note(EhrNoteKind::Rejected, "no resourceType".to_owned());
        return None;
    };
    if let Some((kind, message)) = exclusion(obj) {
        note(kind, message);
        return None;
    }
    // Rule source-identity: no vendor id, no source identity.
    let Some(id) = obj
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
    else {
        note(
            EhrNoteKind::Rejected,
            format!(
                "{resource_type} without `id` (a request body?): it has no source identity, so a re-import would duplicate it"
            ),
        );
        return None;
    };
    let resource_type = resource_type.to_owned();
    let id = id.to_owned();
    let key = format!("{resource_type}/{id}");
    if let Some(first) = seen.get(&key) {
        note(
            EhrNoteKind::Duplicate,
            format!("{key} was already imported from {first}; this copy is dropped"),
        );
        return None;
    }
    if let Some(url) = &full_url
        && let Some(named) = resource_named_by(url)
        && named != (resource_type.as_str(), id.as_str())
    {
        note(
            EhrNoteKind::FullUrlMismatch,
            format!("fullUrl {url} does not name {key}; the resource's own type and id are used"),
        );
    }

    // Rule vital-signs.
    let resource = if resource_type == "Observation" && is_vital(&resource, quirks) {
        match vitals::normalize(&resource, quirks) {
            Ok(normalized) => {
                for n in normalized
                    .notes
                    .iter()
                    .filter(|n| n.kind == NoteKind::Implausible)
                {
                    note(
                        EhrNoteKind::Implausible,
                        format!("{}: {}", n.path, n.message),
                    );
                }
                normalized.resource
            }
            Err(e) => {
                note(
                    EhrNoteKind::Rejected,
                    format!("vital sign not normalised: {e}"),
                );
                return None;
            }
        }
    } else {
        resource
    };
    seen.insert(key, position.clone());
    Some(Admitted {
        position,
        full_url,
        resource_type,
        id,
        resource,
    })
}

/// The `(Type, id)` an absolute http(s) `fullUrl` names: `…/Type/id` or
/// `…/Type/id/_history/n`; `("", "")` for a search URL (`…/Type?…`), which names none.
/// `None` for `urn:` and other URIs, which are not checked.
fn resource_named_by(url: &str) -> Option<(&str, &str)> {
    let path = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    if path.contains('?') {
        return Some(("", ""));
    }
    let mut segments: Vec<&str> = path.split('/').collect();
    if segments.len() >= 4 && segments[segments.len() - 2] == "_history" {
        segments.truncate(segments.len() - 2);
    }
    match segments.as_slice() {
        [.., ty, id] => Some((ty, id)),
        _ => Some(("", "")),
    }
}

/// Rule vital-signs: in the `vital-signs` category, or coded with an allow-listed LOINC code
/// (LOINC under Epic's OID counts when the vendor's quirks say so).
fn is_vital(observation: &Value, quirks: Quirks) -> bool {
    let codings = |concept: &Value| -> Vec<(String, String)> {
        concept
            .get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    c.get("system")?.as_str()?.to_owned(),
                    c.get("code")?.as_str()?.to_owned(),
                ))
            })
            .collect()
    };
    let in_category = observation
        .get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(codings)
        .any(|(system, code)| system == OBSERVATION_CATEGORY && code == "vital-signs");
    let coded = observation.get("code").is_some_and(|code| {
        codings(code).iter().any(|(system, code)| {
            (system == LOINC || (quirks.loinc_under_epic_oid && system == EPIC_LOINC_OID))
                && vitals::VITAL_SIGNS
                    .iter()
                    .any(|v| v.loinc == code || v.granular.contains(&code.as_str()))
        })
    });
    in_category || coded
}

/// The ids of a resource's contained resources.
fn contained_ids(resource: &Value) -> BTreeSet<String> {
    resource
        .get("contained")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// What reference rewriting needs to know.
struct ReferenceContext<'a> {
    ctx: &'a EhrContext,
    /// `Type/id` and `fullUrl` of every resource imported from the payload.
    index: &'a BTreeMap<String, (String, String)>,
    /// Ids of the resource's contained resources.
    contained: BTreeSet<String>,
}

/// What one reference becomes.
enum Resolution {
    Keep,
    Dangling(String),
    Replace(String),
    Logical { resource_type: String, id: String },
}

/// Rule references: rewrites every `Reference.reference` under `value` (contained resources
/// and extensions included); `path` is the JSON pointer below the resource; dangling
/// references are collected as `(pointer, message)`.
fn rewrite_references(
    value: &mut Value,
    path: &mut String,
    cx: &ReferenceContext<'_>,
    dangling: &mut Vec<(String, String)>,
) {
    match value {
        Value::Object(obj) => {
            if let Some(reference) = obj.get("reference").and_then(Value::as_str) {
                match resolve(reference, cx) {
                    Resolution::Keep => {}
                    Resolution::Dangling(message) => {
                        dangling.push((format!("{path}/reference"), message));
                    }
                    Resolution::Replace(new) => {
                        obj.insert("reference".to_owned(), Value::String(new));
                    }
                    Resolution::Logical { resource_type, id } => {
                        logical_reference(obj, &resource_type, &id, cx.ctx);
                    }
                }
            }
            for (key, child) in obj.iter_mut() {
                // `Reference.reference` is a string; `Consent.provision.actor.reference` is
                // a Reference and is walked.
                if child.is_string() {
                    continue;
                }
                let len = path.len();
                path.push('/');
                path.push_str(key);
                rewrite_references(child, path, cx, dangling);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                rewrite_references(item, path, cx, dangling);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn resolve(reference: &str, cx: &ReferenceContext<'_>) -> Resolution {
    if let Some(local) = reference.strip_prefix('#') {
        // `#` alone is the container itself (from inside a contained resource).
        return if local.is_empty() || cx.contained.contains(local) {
            Resolution::Keep
        } else {
            Resolution::Dangling(format!("`{reference}` names no contained resource"))
        };
    }
    let (resource_type, id, in_payload) = if let Some((ty, id)) = cx.index.get(reference) {
        (ty.as_str(), id.as_str(), true)
    } else if reference.starts_with("urn:uuid:") || reference.starts_with("urn:oid:") {
        return Resolution::Dangling(format!("`{reference}` names no entry of the payload"));
    } else {
        let base = cx.ctx.base();
        let relative = match reference
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('/'))
        {
            Some(rest) => rest,
            // Another server's resource, or a URN: not ours to rewrite.
            None if reference.contains(':') => return Resolution::Keep,
            None => reference,
        };
        if relative.contains('?') {
            // Already a conditional reference.
            return Resolution::Keep;
        }
        let (ty, id) = match relative.split('/').collect::<Vec<_>>().as_slice() {
            [ty, id] | [ty, id, "_history", _] if !id.is_empty() && is_resource_type(ty) => {
                (*ty, *id)
            }
            _ => return Resolution::Keep,
        };
        let in_payload = cx.index.contains_key(&format!("{ty}/{id}"));
        (ty, id, in_payload)
    };
    if resource_type == "Patient"
        && let Some(link) = &cx.ctx.patient
        && link.source_id == id
    {
        return Resolution::Replace(link.reference.clone());
    }
    if in_payload || cx.ctx.external_references == ExternalReferences::Conditional {
        Resolution::Replace(conditional_reference(cx.ctx, resource_type, id))
    } else {
        Resolution::Logical {
            resource_type: resource_type.to_owned(),
            id: id.to_owned(),
        }
    }
}

/// [`ExternalReferences::Logical`]: `reference` → `type` + `identifier` (the vendor's own
/// identifier wins when it sent one: the target carries it too).
fn logical_reference(
    reference: &mut Map<String, Value>,
    resource_type: &str,
    id: &str,
    ctx: &EhrContext,
) {
    let at = reference.keys().position(|k| k == "reference").unwrap_or(0);
    reference.shift_remove("reference");
    let mut at = at;
    if !reference.contains_key("type") {
        reference.shift_insert(
            at,
            "type".to_owned(),
            Value::String(resource_type.to_owned()),
        );
        at += 1;
    } else {
        at = reference
            .keys()
            .position(|k| k == "type")
            .map_or(at, |p| p + 1);
    }
    if !reference.contains_key("identifier") {
        let (system, value) = source_identifier(ctx, resource_type, id);
        reference.shift_insert(
            at,
            "identifier".to_owned(),
            json!({"system": system, "value": value}),
        );
    }
}

/// Rule source-identity on an admitted resource: `id` removed, vendor `meta.versionId`/
/// `lastUpdated` dropped, `meta.source` set, source identifier added.
fn apply_identity(obj: &mut Map<String, Value>, resource_type: &str, id: &str, ctx: &EhrContext) {
    obj.shift_remove("id");
    if !obj.get("meta").is_some_and(Value::is_object) {
        let at = usize::from(obj.keys().next().is_some_and(|k| k == "resourceType"));
        obj.shift_insert(at, "meta".to_owned(), json!({}));
    }
    if let Some(meta) = obj.get_mut("meta").and_then(Value::as_object_mut) {
        meta.shift_remove("versionId");
        meta.shift_remove("lastUpdated");
        meta.shift_remove("source");
        meta.shift_insert(
            0,
            "source".to_owned(),
            Value::String(source_url(ctx, resource_type, id)),
        );
    }
    let (system, value) = source_identifier(ctx, resource_type, id);
    let ours = json!({"system": system, "value": value});
    if obj.get("identifier").is_some_and(Value::is_null) {
        obj.shift_remove("identifier");
    }
    match identity_of(resource_type) {
        Identity::Identifier => match obj.get_mut("identifier") {
            Some(Value::Array(list)) => {
                if !list.contains(&ours) {
                    list.push(ours);
                }
            }
            Some(other) => {
                // A vendor identifier sent as an object where R4 has an array.
                let sent = other.take();
                *other = json!([sent, ours]);
            }
            None => insert_identifier(obj, json!([ours])),
        },
        Identity::SingleIdentifier => {
            if !obj.contains_key("identifier") {
                insert_identifier(obj, ours);
            }
        }
        Identity::SourceOnly => {}
    }
}

/// Inserts `identifier` where R4 orders it: after the resource and domain-resource
/// elements, and after `url` / `masterIdentifier` / `requestIdentifier` where a type has them.
fn insert_identifier(obj: &mut Map<String, Value>, identifier: Value) {
    const BEFORE: &[&str] = &[
        "resourceType",
        "id",
        "meta",
        "implicitRules",
        "language",
        "text",
        "contained",
        "extension",
        "modifierExtension",
        "url",
        "masterIdentifier",
        "requestIdentifier",
    ];
    // After the last of those present, whatever order the vendor wrote the others in.
    let at = obj
        .keys()
        .rposition(|k| BEFORE.contains(&k.as_str()))
        .map_or(0, |last| last + 1);
    obj.shift_insert(at, "identifier".to_owned(), identifier);
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://fhir.example.org/r4";

    fn ctx() -> EhrContext {
        EhrContext::new(Vendor::Cerner, BASE)
    }

    fn run(payload: Value, ctx: &EhrContext) -> NormalizedBatch {
        normalize_payload(payload.to_string().as_bytes(), ctx).unwrap()
    }

    fn kinds(batch: &NormalizedBatch) -> Vec<EhrNoteKind> {
        batch.report.iter().map(|n| n.kind).collect()
    }

    #[test]
    fn escaping_in_conditional_references() {
        let ctx = EhrContext::new(Vendor::Epic, "https://h/fhir/");
        assert_eq!(
            conditional_reference(&ctx, "Observation", "a|b,c$d\\e&f+g h#i=j%"),
            "Observation?identifier=https://h/fhir/Observation|a%5C|b%5C,c%5C$d%5C%5Ce%26f%2Bg%20h%23i%3Dj%25"
        );
        assert_eq!(
            conditional_reference(&ctx, "QuestionnaireResponse", "SH-1"),
            "QuestionnaireResponse?_source=https://h/fhir/QuestionnaireResponse/SH-1"
        );
    }

    #[test]
    fn update_url_reads_meta_source_back() {
        let resource =
            json!({"resourceType": "Binary", "meta": {"source": "https://h/fhir/Binary/XR-1"}});
        assert_eq!(
            update_url(&resource).as_deref(),
            Some("Binary?_source=https://h/fhir/Binary/XR-1")
        );
        let wrong_type =
            json!({"resourceType": "Patient", "meta": {"source": "https://h/fhir/Binary/XR-1"}});
        assert_eq!(update_url(&wrong_type), None);
        assert_eq!(update_url(&json!({"resourceType": "Patient"})), None);
    }

    #[test]
    fn identity_replaces_id_and_vendor_meta_and_keeps_the_rest() {
        let out = run(
            json!({
                "resourceType": "Condition",
                "id": "p1",
                "meta": {"versionId": "3", "lastUpdated": "2020-01-01T00:00:00Z", "security": [{"code": "PHY"}]},
                "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Patient/1</div>"},
                "clinicalStatus": {"text": "Active"}
            }),
            &ctx(),
        );
        assert_eq!(
            out.resources,
            [json!({
                "resourceType": "Condition",
                "meta": {"source": "https://fhir.example.org/r4/Condition/p1", "security": [{"code": "PHY"}]},
                "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Patient/1</div>"},
                "identifier": [{"system": "https://fhir.example.org/r4/Condition", "value": "p1"}],
                "clinicalStatus": {"text": "Active"}
            })]
        );
        assert!(out.report.is_empty());
    }

    #[test]
    fn identity_of_single_and_no_identifier_types() {
        let out = run(
            json!({"resourceType": "Bundle", "type": "collection", "entry": [
                {"resource": {"resourceType": "QuestionnaireResponse", "id": "q1", "status": "completed"}},
                {"resource": {"resourceType": "QuestionnaireResponse", "id": "q2", "identifier": {"value": "vendor"}, "status": "completed"}},
                {"resource": {"resourceType": "Binary", "id": "b1", "contentType": "text/plain"}}
            ]}),
            &ctx(),
        );
        assert_eq!(
            out.resources[0]["identifier"],
            json!({"system": "https://fhir.example.org/r4/QuestionnaireResponse", "value": "q1"})
        );
        assert_eq!(out.resources[1]["identifier"], json!({"value": "vendor"}));
        assert_eq!(
            out.resources[2],
            json!({"resourceType": "Binary", "meta": {"source": "https://fhir.example.org/r4/Binary/b1"}, "contentType": "text/plain"})
        );
    }

    #[test]
    fn null_identifier_counts_as_absent() {
        let out = run(
            json!({"resourceType": "Goal", "id": "g", "identifier": null}),
            &ctx(),
        );
        assert_eq!(
            out.resources[0]["identifier"],
            json!([{"system": "https://fhir.example.org/r4/Goal", "value": "g"}])
        );
    }

    #[test]
    fn renormalising_does_not_add_the_identifier_twice() {
        let mut out = NormalizedBatch::default();
        let resource = json!({"resourceType": "Goal", "id": "g1", "identifier": [
            {"system": "https://fhir.example.org/r4/Goal", "value": "g1"}
        ]});
        normalize_resource(resource, &ctx(), &mut out);
        assert_eq!(
            out.resources[0]["identifier"],
            json!([{"system": "https://fhir.example.org/r4/Goal", "value": "g1"}])
        );
    }

    #[test]
    fn references_in_payload_to_patient_external_contained_and_urns() {
        let ctx = ctx().with_patient("7", "Patient/ours-7");
        let out = run(
            json!({"resourceType": "Bundle", "type": "searchset", "entry": [
                {"fullUrl": "urn:uuid:0b5a", "resource": {"resourceType": "Practitioner", "id": "pr1"}},
                {"fullUrl": "https://fhir.example.org/r4/Encounter/e1", "resource": {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"}}},
                {"resource": {
                    "resourceType": "MedicationAdministration", "id": "m1",
                    "contained": [{"resourceType": "Medication", "id": "med", "manufacturer": {"reference": "Organization/o9"}}],
                    "status": "completed",
                    "medicationReference": {"reference": "#med"},
                    "subject": {"reference": "https://fhir.example.org/r4/Patient/7", "display": "Smart, Nancy"},
                    "context": {"reference": "Encounter/e1/_history/4"},
                    "performer": [
                        {"actor": {"reference": "urn:uuid:0b5a"}},
                        {"actor": {"reference": "Practitioner/pr2", "display": "Dr B"}},
                        {"actor": {"reference": "urn:uuid:ffff"}}
                    ],
                    "request": {"reference": "https://other.example.com/fhir/MedicationRequest/3"},
                    "reasonReference": [{"reference": "#gone"}],
                    "effectiveDateTime": "2020-01-01"
                }}
            ]}),
            &ctx,
        );
        let m = &out.resources[2];
        assert_eq!(m["medicationReference"], json!({"reference": "#med"}));
        assert_eq!(
            m["contained"][0],
            json!({"resourceType": "Medication", "id": "med", "manufacturer": {
                "type": "Organization",
                "identifier": {"system": "https://fhir.example.org/r4/Organization", "value": "o9"}
            }})
        );
        assert_eq!(
            m["subject"],
            json!({"reference": "Patient/ours-7", "display": "Smart, Nancy"})
        );
        assert_eq!(
            m["context"]["reference"],
            "Encounter?identifier=https://fhir.example.org/r4/Encounter|e1"
        );
        assert_eq!(
            m["performer"][0]["actor"]["reference"],
            "Practitioner?identifier=https://fhir.example.org/r4/Practitioner|pr1"
        );
        assert_eq!(
            m["performer"][1]["actor"],
            json!({"type": "Practitioner", "identifier": {"system": "https://fhir.example.org/r4/Practitioner", "value": "pr2"}, "display": "Dr B"})
        );
        assert_eq!(m["performer"][2]["actor"]["reference"], "urn:uuid:ffff");
        assert_eq!(
            m["request"]["reference"],
            "https://other.example.com/fhir/MedicationRequest/3"
        );
        assert_eq!(m["reasonReference"][0]["reference"], "#gone");
        assert_eq!(
            kinds(&out),
            [
                EhrNoteKind::DanglingReference,
                EhrNoteKind::DanglingReference
            ]
        );
        assert_eq!(
            out.report[0].position,
            "/entry/2/resource/performer/2/actor/reference"
        );
        assert_eq!(
            out.report[0].message,
            "`urn:uuid:ffff` names no entry of the payload"
        );
        assert_eq!(
            out.report[1].position,
            "/entry/2/resource/reasonReference/0/reference"
        );
        assert_eq!(out.report[1].message, "`#gone` names no contained resource");
        assert_eq!(
            out.report[1].resource.as_deref(),
            Some("MedicationAdministration/m1")
        );
    }

    #[test]
    fn conditional_external_references_on_request() {
        let mut ctx = ctx();
        ctx.external_references = ExternalReferences::Conditional;
        let out = run(
            json!({"resourceType": "Goal", "id": "g", "subject": {"reference": "Patient/7"}}),
            &ctx,
        );
        assert_eq!(
            out.resources[0]["subject"],
            json!({"reference": "Patient?identifier=https://fhir.example.org/r4/Patient|7"})
        );
    }

    #[test]
    fn vendor_identifier_on_a_reference_is_kept_when_made_logical() {
        // Epic sends relative references with the target's identifier and display.
        let out = run(
            json!({"resourceType": "Encounter", "id": "e", "participant": [{"individual": {
                "reference": "Practitioner/eM5", "type": "Practitioner",
                "identifier": {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.3.698084.8", "value": "1000"},
                "display": "Physician, MD"
            }}]}),
            &EhrContext::new(Vendor::Epic, BASE),
        );
        assert_eq!(
            out.resources[0]["participant"][0]["individual"],
            json!({"type": "Practitioner", "identifier": {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.3.698084.8", "value": "1000"}, "display": "Physician, MD"})
        );
    }

    #[test]
    fn unknown_and_infrastructure_types_in_a_bundle_are_reported() {
        let out = run(
            json!({"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": {"resourceType": "Wearable", "id": "w"}},
                {"resource": {"resourceType": "Parameters", "parameter": []}},
                {"resource": {"resourceType": "AuditEvent", "id": "a"}},
                {"resource": {"resourceType": "Goal"}},
                {"resource": {"resourceType": "Goal", "id": "g"}},
                {"resource": {"resourceType": "Goal", "id": "g", "lifecycleStatus": "active"}},
                "text",
                {"resource": 3}
            ]}),
            &ctx(),
        );
        assert_eq!(out.resources.len(), 1);
        assert_eq!(
            kinds(&out),
            [
                EhrNoteKind::UnknownType,
                EhrNoteKind::NotImported,
                EhrNoteKind::NotImported,
                EhrNoteKind::Rejected,
                EhrNoteKind::Duplicate,
                EhrNoteKind::Rejected,
                EhrNoteKind::Rejected,
            ]
        );
        assert_eq!(
            out.report[0].message,
            "`Wearable` is not an R4 resource type"
        );
        assert_eq!(
            out.report[2].message,
            "AuditEvent: the vendor's audit trail; HealthOS keeps its own"
        );
        assert_eq!(out.report[3].resource, None);
        assert_eq!(
            out.report[3].message,
            "Goal without `id` (a request body?): it has no source identity, so a re-import would duplicate it"
        );
        assert_eq!(out.report[5].position, "/entry/6");
        assert_eq!(out.report[5].message, "the entry is not a JSON object");
        assert_eq!(
            out.report[6].message,
            "`resource` is not a resource (no resourceType)"
        );
        assert_eq!(
            out.report[4].message,
            "Goal/g was already imported from /entry/4/resource; this copy is dropped"
        );
    }

    #[test]
    fn refused_payloads() {
        for (payload, reason) in [
            (json!("x"), "a JSON string, not a FHIR resource"),
            (json!([]), "a JSON array, not a FHIR resource"),
            (
                json!({"a": 1}),
                "a JSON object without resourceType, not a FHIR resource",
            ),
            (
                json!({"resourceType": "Bundle", "type": "transaction"}),
                "a Bundle of type `transaction`: only searchset and collection Bundles hold data to import",
            ),
            (
                json!({"resourceType": "Widget"}),
                "`Widget` is not an R4 resource type",
            ),
        ] {
            let err = normalize_payload(payload.to_string().as_bytes(), &ctx()).unwrap_err();
            assert!(
                matches!(&err, Error::NotImportable { reason: r, .. } if r == reason),
                "{payload}: {err:?}"
            );
        }
    }

    #[test]
    fn malformed_json_and_entry_lists() {
        let err = normalize_payload(b"{\"resourceType\": \"Bundle\",\n \"entry\": [", &ctx())
            .unwrap_err();
        assert!(
            matches!(&err, Error::Malformed { position, .. } if position == "line 2, column 11"),
            "{err:?}"
        );
        let err = normalize_payload(
            br#"{"resourceType": "Bundle", "type": "searchset", "entry": {}}"#,
            &ctx(),
        )
        .unwrap_err();
        assert!(matches!(&err, Error::Malformed { position, .. } if position == "/entry"));
        let err = normalize_payload(br#"{"resourceType": 4}"#, &ctx()).unwrap_err();
        assert!(matches!(&err, Error::Malformed { position, .. } if position == "/resourceType"));
    }

    #[test]
    fn empty_searchset_is_an_empty_batch() {
        let out = run(
            json!({"resourceType": "Bundle", "type": "searchset", "total": 0}),
            &ctx(),
        );
        assert_eq!(out, NormalizedBatch::default());
    }

    #[test]
    fn full_url_naming_another_resource_is_reported() {
        let out = run(
            json!({"resourceType": "Bundle", "type": "searchset", "entry": [
                {"fullUrl": "https://fhir.example.org/r4/Goal/1/_history/2", "resource": {"resourceType": "Goal", "id": "1"}},
                {"fullUrl": "https://fhir.example.org/r4/Goal/2", "resource": {"resourceType": "Goal", "id": "3"}},
                {"fullUrl": "https://fhir.example.org/r4/Goal?x=1", "resource": {"resourceType": "Goal", "id": "4"}}
            ]}),
            &ctx(),
        );
        assert_eq!(out.resources.len(), 3);
        assert_eq!(
            kinds(&out),
            [EhrNoteKind::FullUrlMismatch, EhrNoteKind::FullUrlMismatch]
        );
        assert_eq!(
            out.report[0].message,
            "fullUrl https://fhir.example.org/r4/Goal/2 does not name Goal/3; the resource's own type and id are used"
        );
    }
}
