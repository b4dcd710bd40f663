//! # twin
//!
//! A person's "digital twin": what is normal for them, and an early, explained warning
//! when something drifts. Pure: a person's daily values in, FHIR resources out; the server
//! (`fhir-server/src/twin/`) reads the series from the store, schedules the work after
//! imports commit, and stores what this crate returns.
//!
//! * [`input`]: stored Observations (wearable and EHR, as `mappers` writes them) → one
//!   [`DailyValue`] per metric and day, each naming the Observations it came from.
//! * [`baseline`]: rolling 30/90/180-day baselines per metric (median and MAD, mean and
//!   SD, count, coverage), preliminary until enough days.
//! * [`detect`]: the detectors; each returns [`Episode`]s with their evidence, numbers and
//!   a recommendation.
//! * [`fhir`]: baselines as Observations, episodes as Flag + DetectedIssue, and the
//!   HealthOS CodeSystems they use; everything tagged with [`MODEL_VERSION`].
//! * [`config`]: every threshold, in one documented place.

pub mod baseline;
pub mod config;
pub mod detect;
pub mod fhir;
pub mod input;

/// The engine's version, carried in `meta.tag` of everything it writes, so results of an
/// older model can be found and recomputed.
pub const MODEL_VERSION: &str = "1";

/// A calendar day, `YYYY-MM-DD` (the person's local date, as the source reported it).
pub type Day = String;

/// What the twin watches, one value per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Resting heart rate, `/min` (LOINC 40443-4).
    RestingHeartRate,
    /// Heart-rate variability RMSSD, `ms`.
    HrvRmssd,
    /// Heart-rate variability SDNN, `ms` (LOINC 80404-7).
    HrvSdnn,
    /// Minutes asleep in the night ending that day (LOINC 93832-4).
    SleepDuration,
    /// Steps that day (LOINC 41950-7).
    Steps,
    /// Oxygen saturation, `%`: the day's lowest reading (LOINC 2708-6 / 59408-5).
    OxygenSaturation,
    /// Respiratory rate, `/min` (LOINC 9279-1).
    RespiratoryRate,
    /// Skin temperature deviation from the person's own norm, `Cel`.
    TemperatureDeviation,
    /// Blood glucose, `mg/dL`: the day's mean.
    Glucose,
    /// Systolic blood pressure, `mm[Hg]`: the day's mean (LOINC 8480-6).
    SystolicBloodPressure,
    /// Diastolic blood pressure, `mm[Hg]`: the day's mean (LOINC 8462-4).
    DiastolicBloodPressure,
}

/// One metric's value for one day, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyValue {
    /// The metric.
    pub metric: Metric,
    /// The day.
    pub day: Day,
    /// The value in the metric's unit.
    pub value: f64,
    /// The Observations it was computed from (`Observation/id`), for evidence.
    pub sources: Vec<String>,
}

/// Whether a dose was taken, from MedicationAdministration or MedicationStatement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicationDose {
    /// The day.
    pub day: Day,
    /// `true` when taken (administration `completed`, statement `taken = y`), `false`
    /// when recorded as not taken or missed.
    pub taken: bool,
    /// The medication (its text or code), to name it in the alert.
    pub medication: String,
    /// The resource it came from.
    pub source: String,
}

/// Everything the engine knows about one person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonSeries {
    /// Daily values, any order.
    pub values: Vec<DailyValue>,
    /// Medication doses, any order.
    pub doses: Vec<MedicationDose>,
}
