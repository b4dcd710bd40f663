//! # fhir-model
//!
//! The FHIR R4 model of HealthOS, usable without the server: parse and serialize
//! resources in JSON and XML, check them against the R4 structures (strict by default,
//! with a named lenient mode), build OperationOutcomes and Bundles, and read the
//! element model and search-parameter definitions.
//!
//! This crate does no I/O and knows nothing of HTTP or SQL.
//!
//! Resources are held as `serde_json::Value` (with `arbitrary_precision` and
//! `preserve_order`, so `1.50` stays `1.50` and element order is kept); the typed
//! fhirbolt model is used behind the `fhir-codec` crate for XML.

pub mod bundle;
pub mod compartment;
pub mod custom_params;
pub mod definitions;
pub mod error;
pub mod fhirpath;
pub mod format;
pub mod index;
pub mod outcome;
pub mod patch;
pub mod search_params;
pub mod summary;
pub mod ucum;
pub mod validate;
pub mod valueset;

pub use error::ModelError;
pub use format::{Format, Parsed, parse_resource, to_json, to_xml};
pub use outcome::{Issue, IssueType, Severity};
pub use validate::{ParseMode, validate};
