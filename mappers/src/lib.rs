//! # mappers
//!
//! Pure mappings from what other systems send to the canonical HealthOS resources:
//! bytes or JSON values in, resources and a report out. No I/O, no clock, no network:
//! the sync jobs in `fhir-server` fetch, these functions decide what is stored, and every
//! decision is unit-tested against recorded vendor data in `fixtures/`.
//!
//! * [`vitals`]: one Epic or Oracle Health (Cerner) vital-sign Observation → the R4
//!   vital-signs profile with LOINC from an allow-list, canonical UCUM units and
//!   plausibility flags.
//! * [`ehr`]: Epic and Oracle Health (Cerner) R4 payloads (search Bundles, reads) → the
//!   resources to store, with source identifiers, rewritten references and a report.
//! * [`units`]: the UCUM conversions behind it, exact in decimal.
//! * [`wearable`]: wearable exports (Apple Health, Fitbit, Oura, Garmin, Google Fit,
//!   Health Connect, Withings) → Observations, Devices and Provenance, streamed.

mod decimal;
pub mod ehr;
mod json;
pub mod units;
pub mod vitals;
pub mod wearable;

pub use vitals::{Normalized, Note, NoteKind, Quirks, normalize, normalize_bytes};

/// Why an input could not be mapped. Each variant names the element at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not JSON.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The input is not an Observation.
    #[error("expected an Observation, got {found}")]
    NotAnObservation {
        /// The `resourceType` found, or the JSON kind.
        found: String,
    },
    /// No coding of `Observation.code` is on the vital-signs allow-list.
    #[error("no vital-sign LOINC code among {codes:?}")]
    NotAVitalSign {
        /// The codings found, as `system|code`.
        codes: Vec<String>,
    },
    /// Codings for more than one vital sign.
    #[error("codes for several vital signs: {codes:?}")]
    AmbiguousCode {
        /// The profile LOINC codes matched.
        codes: Vec<String>,
    },
    /// Only a granular LOINC code (e.g. 8331-1 oral temperature) and the quirk is off.
    #[error(
        "only the granular LOINC code(s) {found} present; the R4 profile needs {expected} (quirk `granular_loinc_only`)"
    )]
    GranularCodeOnly {
        /// The granular codes found.
        found: String,
        /// The profile code.
        expected: String,
    },
    /// No `value[x]`, `dataAbsentReason`, or (panels) `hasMember` (invariant vs-2).
    #[error("{path}: {code} has no value and no dataAbsentReason")]
    MissingValue {
        /// The LOINC code of the element.
        code: String,
        /// Where the value was expected.
        path: String,
    },
    /// A `value[x]` other than `valueQuantity`.
    #[error("{path}: only valueQuantity is accepted for vital signs")]
    UnsupportedValue {
        /// The offending element.
        path: String,
    },
    /// A `valueQuantity` without a numeric value or a usable UCUM unit.
    #[error("{path}: {reason}")]
    InvalidQuantity {
        /// The quantity.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A unit of another dimension than the code's (e.g. `mm[Hg]` for a temperature).
    #[error(
        "{path}: unit `{unit}` cannot be a value of {code} (expected something convertible to `{expected}`)"
    )]
    IncompatibleUnit {
        /// The quantity.
        path: String,
        /// The LOINC code of the element.
        code: String,
        /// The UCUM code found.
        unit: String,
        /// The canonical unit.
        expected: &'static str,
    },
    /// A blood pressure without its systolic or diastolic component.
    #[error("blood pressure without a {code} component")]
    MissingComponent {
        /// The missing component's LOINC code.
        code: String,
    },
    /// A file that is not what its source produces, or is cut short: nothing from it is
    /// kept.
    #[error("{position}: {reason}")]
    Malformed {
        /// Where: a JSON pointer, `line L, column C` (XML), or `byte N`.
        position: String,
        /// What is wrong there.
        reason: String,
    },
    /// Well-formed input that is not data to import: a JSON Patch, server metadata, a
    /// bulk-export manifest, an OperationOutcome, a resource type outside the import.
    #[error("not importable: {reason}")]
    NotImportable {
        /// Where: a JSON pointer (`""` for the whole document, `/resourceType`).
        position: String,
        /// What the input is instead, and why it is refused.
        reason: String,
    },
    /// Reading the input failed.
    #[error("reading the input: {0}")]
    Io(#[from] std::io::Error),
}
