//! Wearable exports → canonical Observations, Devices and Provenance.
//!
//! Every vendor speaks its own JSON or XML, so each has a parser module that turns the
//! vendor's records into [`Sample`]s: one measured value of one [`Metric`] at one time,
//! already in the metric's canonical UCUM unit, with the vendor's own record key and the
//! device that measured it. Everything after that is vendor-neutral and lives in
//! [`fhir`]: the FHIR shape of each metric (LOINC or HealthOS code, category, profile),
//! identifiers that make a re-import update instead of duplicate, dense heart-rate series
//! folded into hourly `SampledData` and dense step, distance and energy intervals into
//! hourly sums, daily totals taken from one source per day, one Device per source device
//! and one Provenance per import.
//!
//! Parsers push samples into a [`SampleSink`] instead of returning a `Vec`, so a 1 GB
//! Apple Health export streams through in constant memory.
//!
//! | module | vendor format |
//! |---|---|
//! | [`apple_health`] | Apple Health `export.xml` / `export.zip` (HealthKit export) |
//! | [`fitbit`] | Fitbit Web API JSON |
//! | [`oura`] | Oura API v2 JSON |
//! | [`garmin`] | Garmin Health API JSON summaries |
//! | [`google_fit`] | Google Fit REST dataset JSON, and the Google Health API data points |
//! | [`health_connect`] | Android Health Connect records as JSON |
//! | [`withings`] | Withings `measure getmeas`, activity and sleep JSON |
//! | [`ihealth`] | iHealth Labs open API v2 JSON (blood pressure, glucose, SpO2, weight, sleep, activity) |

pub mod apple_health;
pub mod calendar;
pub mod fhir;
pub mod fitbit;
pub mod garmin;
pub mod google_fit;
pub mod health_connect;
pub mod ihealth;
pub mod oura;
pub mod synthetic;
mod vendor_json;
pub mod withings;

use std::io::{Read, Seek};

use crate::Error;

pub use calendar::date_time;

/// Largest JSON payload read (the JSON vendors' API responses are read whole; the
/// Apple Health export, which can be gigabytes, is streamed).
pub const MAX_JSON_BYTES: u64 = 512 * 1024 * 1024;

/// Parses an export or API payload of `source`, pushing its samples into `sink`.
///
/// ```
/// use mappers::wearable::{parse, Metric, Reading, Sample, Source};
///
/// let withings = br#"{"status": 0, "body": {"updatetime": 1700000000, "timezone": "Europe/Paris",
///   "measuregrps": [{"grpid": 42, "attrib": 0, "date": 1700000000, "created": 1700000000,
///     "category": 1, "deviceid": null,
///     "measures": [{"value": 72450, "type": 1, "unit": -3}]}]}}"#;
/// let mut samples: Vec<Sample> = Vec::new();
/// let report = parse(Source::Withings, std::io::Cursor::new(&withings[..]), &mut samples).unwrap();
/// assert_eq!(report.records, 1);
/// assert_eq!(samples[0].metric, Metric::BodyWeight);
/// assert_eq!(samples[0].reading, Reading::Quantity(72.45));
/// ```
pub fn parse<R: Read + Seek>(
    source: Source,
    input: R,
    sink: &mut impl SampleSink,
) -> Result<ParseReport, Error> {
    match source {
        Source::AppleHealth => apple_health::parse(input, sink),
        Source::Fitbit => fitbit::parse(&read_json(input, source)?, sink),
        Source::Oura => oura::parse(&read_json(input, source)?, sink),
        Source::Garmin => garmin::parse(&read_json(input, source)?, sink),
        Source::GoogleFit => google_fit::parse(&read_json(input, source)?, sink),
        Source::HealthConnect => health_connect::parse(&read_json(input, source)?, sink),
        Source::Withings => withings::parse(&read_json(input, source)?, sink),
        Source::IHealth => ihealth::parse(&read_json(input, source)?, sink),
    }
}

/// Reads a JSON payload whole, up to [`MAX_JSON_BYTES`].
fn read_json(input: impl Read, source: Source) -> Result<Vec<u8>, Error> {
    let mut json = Vec::new();
    input.take(MAX_JSON_BYTES + 1).read_to_end(&mut json)?;
    if json.len() as u64 > MAX_JSON_BYTES {
        return Err(Error::Malformed {
            position: format!("byte {MAX_JSON_BYTES}"),
            reason: format!(
                "a {} payload larger than {MAX_JSON_BYTES} bytes; split it",
                source.display()
            ),
        });
    }
    Ok(json)
}

/// A data source a person can connect. Its [`Source::code`] is the `source` parameter of
/// `$import-wearable` and the CLI, and the tail of the identifier system of everything
/// imported from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Apple Health export (`export.zip` or `export.xml`).
    AppleHealth,
    /// Fitbit Web API.
    Fitbit,
    /// Oura API v2.
    Oura,
    /// Garmin Health API.
    Garmin,
    /// Google Fit REST API (and its successor, the Google Health API).
    GoogleFit,
    /// Android Health Connect.
    HealthConnect,
    /// Withings public API.
    Withings,
    /// iHealth Labs open API.
    IHealth,
}

impl Source {
    /// Every source, in the order of the `source` parameter's documentation.
    pub const ALL: [Source; 8] = [
        Source::AppleHealth,
        Source::Fitbit,
        Source::Oura,
        Source::Garmin,
        Source::GoogleFit,
        Source::HealthConnect,
        Source::Withings,
        Source::IHealth,
    ];

    /// The code used in URLs and on the command line (`apple-health`, `fitbit`, …).
    pub fn code(self) -> &'static str {
        match self {
            Source::AppleHealth => "apple-health",
            Source::Fitbit => "fitbit",
            Source::Oura => "oura",
            Source::Garmin => "garmin",
            Source::GoogleFit => "google-fit",
            Source::HealthConnect => "health-connect",
            Source::Withings => "withings",
            Source::IHealth => "ihealth",
        }
    }

    /// The human name of the source.
    pub fn display(self) -> &'static str {
        match self {
            Source::AppleHealth => "Apple Health",
            Source::Fitbit => "Fitbit",
            Source::Oura => "Oura",
            Source::Garmin => "Garmin",
            Source::GoogleFit => "Google Fit",
            Source::HealthConnect => "Health Connect",
            Source::Withings => "Withings",
            Source::IHealth => "iHealth",
        }
    }

    /// The source named by `code`.
    pub fn from_code(code: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// What a sample measures. The FHIR code, unit and category of each are in
/// [`Metric::info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Heart rate, `/min`.
    HeartRate,
    /// Resting heart rate (the vendor's own daily figure), `/min`.
    RestingHeartRate,
    /// Heart-rate variability as SDNN, `ms` (Apple only).
    HrvSdnn,
    /// Heart-rate variability as RMSSD, `ms` (Fitbit, Oura, Garmin, Health Connect). Never
    /// coded as SDNN.
    HrvRmssd,
    /// Steps, `{steps}` over an interval, or `/d` as a daily total.
    Steps,
    /// Walking/running distance, `m`.
    Distance,
    /// Active energy burned, `kcal`.
    ActiveEnergy,
    /// One night's (or nap's) sleep: minutes asleep, with stage components.
    Sleep,
    /// Oxygen saturation, `%` (0–100, never a 0–1 fraction).
    OxygenSaturation,
    /// Respiratory rate, `/min`.
    RespiratoryRate,
    /// Body weight, `kg`.
    BodyWeight,
    /// Body height, `cm`.
    BodyHeight,
    /// Blood pressure: systolic and diastolic, `mm[Hg]`.
    BloodPressure,
    /// Absolute body temperature, `Cel` (deviations are not temperatures: see
    /// [`Metric::TemperatureDeviation`]).
    BodyTemperature,
    /// Skin or body temperature deviation from the person's own baseline, `Cel`.
    TemperatureDeviation,
    /// Blood glucose, `mg/dL`.
    BloodGlucose,
    /// VO2 max, `mL/min/kg`.
    Vo2Max,
    /// Body fat percentage, `%`.
    BodyFat,
}

/// Observation category of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// `vital-signs` (the R4 vital-signs profile applies).
    VitalSigns,
    /// `activity`.
    Activity,
    /// `laboratory` (glucose).
    Laboratory,
}

impl Category {
    /// The code in `http://terminology.hl7.org/CodeSystem/observation-category`.
    pub fn code(self) -> &'static str {
        match self {
            Category::VitalSigns => "vital-signs",
            Category::Activity => "activity",
            Category::Laboratory => "laboratory",
        }
    }
}

/// How a metric is coded in FHIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricInfo {
    /// LOINC code, or `None` when LOINC has none and the HealthOS code below is used alone.
    pub loinc: Option<&'static str>,
    /// LOINC code for a daily total (steps, distance, energy), used when the sample is a
    /// whole local day ([`Effective::Date`]).
    pub daily_loinc: Option<&'static str>,
    /// Code in the HealthOS wearable CodeSystem ([`WEARABLE_CODE_SYSTEM`]); always present
    /// so every metric has a stable code of ours.
    pub local_code: &'static str,
    /// Display text.
    pub display: &'static str,
    /// Canonical UCUM unit of the value (components for BP and sleep).
    pub unit: &'static str,
    /// Canonical UCUM unit of a daily total, when it differs (steps: `/d`).
    pub daily_unit: Option<&'static str>,
    /// Observation category.
    pub category: Category,
    /// The R4 vital-signs profile, when the metric has one.
    pub profile: Option<&'static str>,
}

/// The HealthOS CodeSystem for wearable metrics without a LOINC code (and as a second
/// coding for all of them). Placeholder canonical, like `vitals::EXTENSION_BASE`.
pub const WEARABLE_CODE_SYSTEM: &str = "https://healthos.dev/fhir/CodeSystem/wearable";

impl Metric {
    /// The FHIR coding of the metric (from `../shared/mapping-notes.md`: the R4 vital-signs
    /// table, the HL7 Physical Activity IG and HealthKitOnFHIR).
    pub fn info(self) -> MetricInfo {
        let m = |loinc, local_code, display, unit, category, profile| MetricInfo {
            loinc,
            daily_loinc: None,
            local_code,
            display,
            unit,
            daily_unit: None,
            category,
            profile,
        };
        use Category::*;
        match self {
            Metric::HeartRate => m(
                Some("8867-4"),
                "heart-rate",
                "Heart rate",
                "/min",
                VitalSigns,
                Some("http://hl7.org/fhir/StructureDefinition/heartrate"),
            ),
            Metric::RestingHeartRate => m(
                Some("40443-4"),
                "resting-heart-rate",
                "Heart rate --resting",
                "/min",
                VitalSigns,
                None,
            ),
            Metric::HrvSdnn => m(
                Some("80404-7"),
                "hrv-sdnn",
                "R-R interval.standard deviation (Heart rate variability)",
                "ms",
                VitalSigns,
                None,
            ),
            Metric::HrvRmssd => m(
                None,
                "hrv-rmssd",
                "Heart rate variability, RMSSD",
                "ms",
                VitalSigns,
                None,
            ),
            Metric::Steps => MetricInfo {
                daily_loinc: Some("41950-7"),
                daily_unit: Some("/d"),
                ..m(
                    Some("55423-8"),
                    "steps",
                    "Number of steps",
                    "{steps}",
                    Activity,
                    None,
                )
            },
            Metric::Distance => m(
                Some("55430-3"),
                "distance",
                "Walking distance",
                "m",
                Activity,
                None,
            ),
            Metric::ActiveEnergy => m(
                Some("41981-2"),
                "active-energy",
                "Calories burned",
                "kcal",
                Activity,
                None,
            ),
            Metric::Sleep => m(
                Some("93832-4"),
                "sleep",
                "Sleep duration",
                "min",
                Activity,
                None,
            ),
            Metric::OxygenSaturation => m(
                Some("2708-6"),
                "oxygen-saturation",
                "Oxygen saturation in Arterial blood",
                "%",
                VitalSigns,
                Some("http://hl7.org/fhir/StructureDefinition/oxygensat"),
            ),
            Metric::RespiratoryRate => m(
                Some("9279-1"),
                "respiratory-rate",
                "Respiratory rate",
                "/min",
                VitalSigns,
                Some("http://hl7.org/fhir/StructureDefinition/resprate"),
            ),
            Metric::BodyWeight => m(
                Some("29463-7"),
                "body-weight",
                "Body weight",
                "kg",
                VitalSigns,
                Some("http://hl7.org/fhir/StructureDefinition/bodyweight"),
            ),
            Metric::BodyHeight => m(
                Some("8302-2"),
                "body-height",
                "Body height",
                "cm",
                VitalSigns,
                Some("http://hl7.org/fhir/StructureDefinition/bodyheight"),
            ),
            Metric::BloodPressure => m(
                Some("85354-9"),
                "blood-pressure",
                "Blood pressure panel with all children optional",
                "mm[Hg]",
                VitalSigns,
                Some("http://hl7.org/fhir/StructureDefinition/bp"),
            ),
            Metric::BodyTemperature => m(
                Some("8310-5"),
                "body-temperature",
                "Body temperature",
                "Cel",
                VitalSigns,
                Some("http://hl7.org/fhir/StructureDefinition/bodytemp"),
            ),
            Metric::TemperatureDeviation => m(
                None,
                "temperature-deviation",
                "Skin temperature deviation from personal baseline",
                "Cel",
                VitalSigns,
                None,
            ),
            Metric::BloodGlucose => m(
                Some("41653-7"),
                "blood-glucose",
                "Glucose [Mass/volume] in Capillary blood by Glucometer",
                "mg/dL",
                Laboratory,
                None,
            ),
            Metric::Vo2Max => m(
                Some("94122-9"),
                "vo2-max",
                "Maximal oxygen uptake [Volume/Time/Mass] by Estimated",
                "mL/min/kg",
                Activity,
                None,
            ),
            Metric::BodyFat => m(
                Some("41982-0"),
                "body-fat",
                "Percentage of body fat Measured",
                "%",
                VitalSigns,
                None,
            ),
        }
    }
}

/// When a sample was measured, as the vendor defines it. Times are FHIR `dateTime`
/// strings keeping the vendor's UTC offset (`2024-03-01T07:15:00+01:00`), or `Z` when the
/// vendor gives UTC only; a local calendar day is a FHIR `date`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Effective {
    /// A point in time.
    Instant(String),
    /// An interval (steps between two times, a night's sleep).
    Period {
        /// Start, inclusive.
        start: String,
        /// End.
        end: String,
    },
    /// A whole local day (daily totals and daily figures such as resting heart rate).
    Date(String),
}

/// Sleep stages, as the vendors' stage lists map onto LOINC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SleepStage {
    /// Awake during the sleep period (not counted as asleep).
    Awake,
    /// Light (Apple "core") sleep, LOINC 93830-8.
    Light,
    /// Deep sleep, LOINC 93831-6.
    Deep,
    /// REM sleep, LOINC 93829-0.
    Rem,
    /// Asleep, stage not known (counted in the total only).
    Asleep,
    /// In bed (not counted as asleep).
    InBed,
}

/// The measured value, in the metric's canonical unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// One number in [`MetricInfo::unit`] (or [`MetricInfo::daily_unit`] for a daily total).
    Quantity(f64),
    /// Blood pressure in `mm[Hg]`.
    BloodPressure {
        /// Systolic.
        systolic: f64,
        /// Diastolic.
        diastolic: f64,
    },
    /// A sleep period: minutes per stage, as the vendor reported them. The total asleep is
    /// the sum over every stage but [`SleepStage::Awake`] and [`SleepStage::InBed`].
    Sleep {
        /// Minutes per stage, in the order given; one entry per stage.
        stages: Vec<(SleepStage, f64)>,
    },
}

/// What kind of device measured a sample; it decides the priority between overlapping
/// sources (see [`fhir`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKind {
    /// A watch or band worn on the wrist.
    Watch,
    /// A ring.
    Ring,
    /// A phone (step counts from its motion sensor).
    Phone,
    /// A scale.
    Scale,
    /// A blood-pressure cuff.
    BloodPressureMonitor,
    /// A glucose meter or CGM.
    GlucoseMeter,
    /// Entered by hand, or by an app without a device.
    Manual,
    /// Anything else.
    Other,
}

/// A device that measured samples. `key` identifies it within its source and becomes the
/// Device's identifier, so the same watch is one Device across imports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceInfo {
    /// Stable key within the source (vendor device id, or name + model when there is none).
    pub key: String,
    /// Name as the vendor shows it (`Ann's Apple Watch`).
    pub name: Option<String>,
    /// Manufacturer (`Apple Inc.`).
    pub manufacturer: Option<String>,
    /// Model (`Watch`, `Forerunner 945`).
    pub model: Option<String>,
    /// Software or hardware version.
    pub version: Option<String>,
    /// Kind, for source priority.
    pub kind: DeviceKind,
}

/// One measured value. Parsers produce these; [`fhir`] turns them into resources.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// What was measured.
    pub metric: Metric,
    /// When.
    pub effective: Effective,
    /// The value, in canonical units.
    pub reading: Reading,
    /// The vendor's own id for the record, when it has one (Fitbit `logId`, Garmin
    /// `summaryId`, Withings `grpid`). Without one, the identifier is derived from metric,
    /// time and device.
    pub record_id: Option<String>,
    /// The device that measured it, when known.
    pub device: Option<DeviceInfo>,
    /// The vendor's own type name (`HKQuantityTypeIdentifierHeartRate`,
    /// `com.google.heart_rate.bpm`, `meastype 11`), kept as a second coding.
    pub vendor_code: Option<String>,
}

/// Where parsed samples go. A closure `FnMut(Sample)` is a sink.
pub trait SampleSink {
    /// Takes one sample.
    fn push(&mut self, sample: Sample);
}

impl<F: FnMut(Sample)> SampleSink for F {
    fn push(&mut self, sample: Sample) {
        self(sample)
    }
}

impl SampleSink for Vec<Sample> {
    fn push(&mut self, sample: Sample) {
        Vec::push(self, sample)
    }
}

/// A record the parser read but did not turn into a sample, and why (an unknown type, a
/// value out of range, a record without a value). Reported in the import summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where in the input: a JSON pointer (`/body/measuregrps/3`) or `line N` in XML.
    pub position: String,
    /// Why.
    pub reason: String,
}

/// What a parser read, besides the samples it pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseReport {
    /// Records read (samples pushed plus records skipped).
    pub records: u64,
    /// Records skipped, with the reason. Kept in full up to [`ParseReport::MAX_SKIPPED`];
    /// beyond that only counted in `skipped_total`.
    pub skipped: Vec<Skipped>,
    /// Records skipped in all.
    pub skipped_total: u64,
}

impl ParseReport {
    /// How many skipped records are kept with their reason.
    pub const MAX_SKIPPED: usize = 100;

    /// Records one skipped record.
    pub fn skip(&mut self, position: impl Into<String>, reason: impl Into<String>) {
        self.records += 1;
        self.skipped_total += 1;
        if self.skipped.len() < Self::MAX_SKIPPED {
            self.skipped.push(Skipped {
                position: position.into(),
                reason: reason.into(),
            });
        }
    }

    /// Records one record turned into a sample.
    pub fn read(&mut self) {
        self.records += 1;
    }
}
