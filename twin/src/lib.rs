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
//! * [`detect`]: the detectors; each returns [`Episode`](detect::Episode)s with their evidence, numbers and
//!   a recommendation.
//! * [`fhir`]: baselines as Observations, episodes as Flag + DetectedIssue, and the
//!   HealthOS CodeSystems they use; everything tagged with [`MODEL_VERSION`].
//! * [`config`]: every threshold, in one documented place.
//!
//! # Example
//!
//! Three weeks of a steady resting heart rate, then three raised days: one episode,
//! explained with the numbers, and its Flag.
//!
//! ```
//! use twin::config::Config;
//! use twin::detect::{Detector, Recommendation, detect};
//! use twin::{DailyValue, Metric, PersonSeries, fhir};
//!
//! let mut series = PersonSeries::default();
//! let calm = (0..21).map(|k| 57.0 + f64::from(k % 3)); // 57, 58, 59, 57, …
//! for (k, bpm) in calm.chain([68.0, 71.0, 70.0]).enumerate() {
//!     let day = format!("2024-03-{:02}", k + 1);
//!     series.values.push(DailyValue {
//!         metric: Metric::RestingHeartRate,
//!         sources: vec![format!("Observation/rhr-{day}")],
//!         day,
//!         value: bpm,
//!     });
//! }
//!
//! let episodes = detect(&series, &Config::default());
//! assert_eq!(episodes.len(), 1);
//! let episode = &episodes[0];
//! assert_eq!(episode.detector, Detector::ElevatedRestingHeartRate);
//! assert_eq!((episode.start.as_str(), episode.opened_on.as_str()), ("2024-03-22", "2024-03-24"));
//! assert_eq!(
//!     episode.detail,
//!     "resting HR 68, 71, 70 /min on 3 consecutive days vs baseline 58 ± 2 /min \
//!      (30-day median ± robust SD)"
//! );
//! assert_eq!(episode.recommendation, Recommendation::Rest);
//!
//! let flag = fhir::flag("Patient/123", episode);
//! assert_eq!(flag["resourceType"], "Flag");
//! assert_eq!(flag["status"], "active");
//! assert_eq!(flag["code"]["coding"][0]["code"], "elevated-resting-heart-rate");
//! assert_eq!(flag["period"]["start"], "2024-03-22");
//! assert_eq!(
//!     flag["identifier"][0]["value"],
//!     "Patient/123/episode/elevated-resting-heart-rate/2024-03-22"
//! );
//! let issue = fhir::detected_issue("Patient/123", episode);
//! assert_eq!(issue["evidence"][0]["detail"][0]["reference"], "Observation/rhr-2024-03-22");
//! ```

pub mod baseline;
pub mod config;
pub mod detect;
pub mod evaluate;
pub mod fhir;
pub mod input;
pub mod synthetic;

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
    /// Glucose time in range, `%`: the share of the day's readings within the target
    /// range (LOINC 97510-2); only for days with enough readings (CGM data).
    GlucoseTimeInRange,
    /// Systolic blood pressure, `mm[Hg]`: the day's mean (LOINC 8480-6).
    SystolicBloodPressure,
    /// Diastolic blood pressure, `mm[Hg]`: the day's mean (LOINC 8462-4).
    DiastolicBloodPressure,
}

impl Metric {
    /// Every metric, in declaration order.
    pub const ALL: [Metric; 12] = [
        Metric::RestingHeartRate,
        Metric::HrvRmssd,
        Metric::HrvSdnn,
        Metric::SleepDuration,
        Metric::Steps,
        Metric::OxygenSaturation,
        Metric::RespiratoryRate,
        Metric::TemperatureDeviation,
        Metric::Glucose,
        Metric::GlucoseTimeInRange,
        Metric::SystolicBloodPressure,
        Metric::DiastolicBloodPressure,
    ];

    /// The UCUM unit of the metric's daily value.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::RestingHeartRate | Metric::RespiratoryRate => "/min",
            Metric::HrvRmssd | Metric::HrvSdnn => "ms",
            Metric::SleepDuration => "min",
            Metric::Steps => "/d",
            Metric::OxygenSaturation | Metric::GlucoseTimeInRange => "%",
            Metric::TemperatureDeviation => "Cel",
            Metric::Glucose => "mg/dL",
            Metric::SystolicBloodPressure | Metric::DiastolicBloodPressure => "mm[Hg]",
        }
    }

    /// A short lower-case name for sentences ("resting HR").
    pub fn label(self) -> &'static str {
        match self {
            Metric::RestingHeartRate => "resting HR",
            Metric::HrvRmssd => "HRV (RMSSD)",
            Metric::HrvSdnn => "HRV (SDNN)",
            Metric::SleepDuration => "sleep",
            Metric::Steps => "steps",
            Metric::OxygenSaturation => "lowest SpO2",
            Metric::RespiratoryRate => "respiratory rate",
            Metric::TemperatureDeviation => "skin temperature deviation",
            Metric::Glucose => "mean glucose",
            Metric::GlucoseTimeInRange => "glucose time in range",
            Metric::SystolicBloodPressure => "systolic BP",
            Metric::DiastolicBloodPressure => "diastolic BP",
        }
    }
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
