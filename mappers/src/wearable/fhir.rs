//! [`Sample`]s → FHIR R4 Observations, Devices and a Provenance, vendor-neutral.
//!
//! The vendor parsers say *what* was measured; this module decides how it is stored. The
//! output is plain `serde_json::Value`s in R4 element order, written to a callback as
//! soon as each is final, so a 1 GB export streams through an [`Assembler`] in bounded
//! memory. No resource has an `id`: the server stores each with a conditional update on
//! its `identifier`, so the identifier is what makes a re-import update instead of
//! duplicate. The rules, and why:
//!
//! * **Observation shape.** `status` `final` (a wearable never amends); `category` from
//!   [`Metric::info`]; `code` = the LOINC coding first (when the metric has one; a daily
//!   total uses [`MetricInfo::daily_loinc`] when there is one), then the HealthOS coding
//!   ([`WEARABLE_CODE_SYSTEM`], so every metric has one stable code of ours to search on),
//!   then the vendor's own type as a coding ([`vendor_code_system`]) so nothing the vendor
//!   said is lost. Oxygen saturation also carries LOINC 59408-5 after 2708-6, as US Core
//!   pulse oximetry requires both. `meta.profile` is the metric's R4 vital-signs profile;
//!   `subject` the patient; `effectiveDateTime` for an instant or a whole day (date
//!   precision, which the vital-signs invariant vs-1 allows), `effectivePeriod` for an
//!   interval; `valueQuantity` in the metric's canonical UCUM unit (unit and code both the
//!   UCUM code). Values are rounded to 2 decimals (3 for kg: scales report grams) with trailing zeros dropped (`72`, not
//!   `72.0`; `0.3`, not `0.30000000000000004`), steps to whole numbers: a wearable's float
//!   noise is not precision.
//! * **Identifiers.** `identifier` = `{system: identifier_system(source), value:
//!   <patient reference>/<key>}` (the patient first, so two people's keys never meet). A
//!   vendor record id becomes `<local_code>/<record id>`: one vendor record often carries
//!   several metrics (a Garmin daily summary has steps, distance and energy under one
//!   `summaryId`; a Withings measure group weight and fat ratio under one `grpid`), and
//!   the bare id would make them overwrite each other. Without a record id the key is
//!   `<local_code>/<effective>/<device key>` (`effective` = the instant, the date, or
//!   `start/end`; the device part left out when the device is unknown), readable and
//!   deterministic: the same input always gives the same keys.
//! * **Device reference.** `device` is the conditional reference
//!   `Device?identifier=<system>|<key>` ([`device_reference`]), not a client-chosen id:
//!   the Device may already exist under a server id from an earlier import, and the
//!   conditional update by identifier keeps that id, so only the identifier is known here.
//!   The HealthOS server resolves conditional references of a transaction against what is
//!   already stored, before the transaction's own writes: the caller stores each Device
//!   before the Observations that reference it (it comes out first, see below). Commas in
//!   the key are escaped (`\,`, FHIR search escaping) and the rest percent-encoded.
//! * **Devices.** One Device per distinct [`DeviceInfo::key`], pushed the first time the
//!   key is seen, before the first Observation that references it, so a caller writing
//!   in output order has every Device stored before it is referenced. Later samples with
//!   the same key and other details (a newer software version) do not re-emit it:
//!   exports are ordered by type, not time, so "latest" would flip back and forth.
//! * **Blood pressure.** The 85354-9 panel without a top-level value; components 8480-6
//!   systolic and 8462-4 diastolic in `mm[Hg]`, as the R4 `bp` profile requires.
//! * **Sleep.** One Observation per night, code 93832-4, `effectivePeriod` from the first
//!   start to the last end, `valueQuantity` = minutes asleep (every stage but awake and in
//!   bed), and one component per stage present: deep 93831-6, light 93830-8, REM 93829-0,
//!   and the HealthOS codes `sleep-awake` and `sleep-in-bed` (LOINC has no confirmed code
//!   for these). Apple writes one record per stage *segment*, so consecutive samples of
//!   one device whose periods overlap, touch, or are less than an hour apart are summed
//!   into one night (one open night per device; a sample that does not fit closes it). A
//!   sample with a vendor record id is the vendor's own session (Fitbit `logId`) and is
//!   never merged. A night's key is `sleep/<start>/<device key>` (or `sleep/<record id>`).
//!   A night with no asleep stage at all (a phone that only logged "in bed") has no value
//!   but `dataAbsentReason` `unknown`: zero minutes asleep would be a false reading.
//! * **Dense series: one Observation per hour, one total per day.** A watch writes a
//!   heart rate every few seconds, and Apple Health a steps, distance and active-energy
//!   interval every few minutes: one Observation each would be millions of resources a
//!   year (a 200 MB Apple export alone holds ~150,000 activity intervals), and storing
//!   them, not parsing, would bound the import. So dense samples are folded per (metric,
//!   device, clock hour in the sample's own UTC offset) into one Observation with
//!   `effectivePeriod` = the hour, at most 24 a day per metric and device:
//!   - *Heart-rate instants* become `valueSampledData` with origin `0 /min`, period
//!     60000 ms, one dimension, and 60 per-minute means (`E` where a minute has no
//!     data), full minute resolution; components give the hour's minimum, maximum and
//!     mean (HealthOS codes `heart-rate-min`/`-max`/`-mean`). The series claims the base
//!     `vitalsigns` profile, not `heartrate`, which allows `valueQuantity` only. Key
//!     `heart-rate-hourly/<hour start>/<device key>`.
//!   - *Steps, distance and active-energy intervals* (and instants of them) become a
//!     `valueQuantity` = the sum of the intervals *starting* in the hour (one running past
//!     the hour counts whole in the hour it starts, as it does for its day), with the
//!     interval code and unit (55423-8 `{steps}`, 55430-3 `m`, 41981-2 `kcal`), and the
//!     number of intervals summed in the [`SUMMED_INTERVALS_URL`] extension. Key
//!     `<local_code>-hourly/<hour start>/<device key>`. An hour is not a day: the
//!     daily LOINC codes are for daily totals only (below).
//!
//!   Vendor record ids of folded samples are not kept (the hour is the record); a sample
//!   whose time cannot be read stays its own Observation. To bound memory a (metric,
//!   device) bucket is flushed once a sample of that metric and device arrives for an
//!   hour more than 2 h later (exports are time-ordered per type), so at most three
//!   hours per metric and device are open. A sample for an hour more than 2 h older than
//!   the newest seen (its bucket may be flushed already) is *late*: it becomes its own
//!   Observation with the key it would have alone (`heart-rate/<instant>/<device key>`
//!   with the `heartrate` profile; `steps/<start>/<end>/<device key>` or
//!   `steps/<record id>`), which never overwrites the hour's value.
//!
//!   **Daily totals, one source per day.** Every activity interval, folded or late, is
//!   also summed per (metric, local date of the interval's start, device); one whose
//!   start cannot be read counts toward no day. At
//!   [`Assembler::finish`] each (metric, date) gets ONE daily-total Observation
//!   (date-precision effective, daily LOINC and unit, key `<local_code>-daily/<date>`
//!   without device, so a re-import with more data updates it) taken from one device: a
//!   watch and a phone both count the same steps, so summing them would double the day.
//!   (The hourly sums keep every device: each is one device's own count.) The device is
//!   chosen by kind — watch > ring > phone > other (scale, cuff, meter, unknown) > manual
//!   entry — and among equals by the larger total (the device worn longer), then by key.
//!   A vendor's own daily figure (an [`Effective::Date`] sample, e.g. a Fitbit summary)
//!   is not emitted on its own but becomes that day's total, preferred over totals
//!   computed from intervals (the vendor deduplicated with data we do not see); among
//!   several, the same priority applies, and a repeated figure of one device replaces the
//!   earlier one.
//! * **Rejected samples.** A reading that does not fit its metric (a blood pressure
//!   reading for heart rate), or a value that is not a finite number, produces nothing
//!   and is counted in [`AssemblySummary::rejected`]: FHIR JSON cannot carry NaN.
//! * **Provenance.** [`provenance`] records one import: its targets, `recorded` = the
//!   import time, activity `CREATE`, the HealthOS importer as `assembler` and the patient
//!   as `informant` (the person who supplied the export or connected the account), and
//!   the source as an entity with the import's id.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Number, Value, json};

use super::calendar::{days_from_civil, days_in_month, format_local};
use super::{
    Category, DeviceInfo, DeviceKind, Effective, Metric, MetricInfo, Reading, Sample, SleepStage,
    Source, WEARABLE_CODE_SYSTEM,
};
use crate::units::UCUM;
use crate::vitals::{LOINC, OBSERVATION_CATEGORY};

/// Base of the identifier systems of imported resources ([`identifier_system`]).
/// Placeholder canonical, like [`WEARABLE_CODE_SYSTEM`].
pub const IDENTIFIER_BASE: &str = "https://healthos.dev/fhir/source/";
/// Base of the invented code systems for vendor type names ([`vendor_code_system`]).
pub const VENDOR_CODE_SYSTEM_BASE: &str = "https://healthos.dev/fhir/CodeSystem/vendor/";
/// Apple's HealthKit documentation, the system HealthKitOnFHIR uses for HealthKit type
/// identifiers (`HKQuantityTypeIdentifierHeartRate`).
pub const HEALTHKIT_CODE_SYSTEM: &str = "http://developer.apple.com/documentation/healthkit";
/// The base R4 vital-signs profile, claimed by hourly heart-rate series.
pub const VITALSIGNS_PROFILE: &str = "http://hl7.org/fhir/StructureDefinition/vitalsigns";
/// Provenance participant types (`assembler`, `informant`).
pub const PARTICIPANT_TYPE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
/// v3 DataOperation (the Provenance activity `CREATE`).
pub const DATA_OPERATION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-DataOperation";
/// Data absent reasons (a night without any asleep stage).
pub const DATA_ABSENT_REASON_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/data-absent-reason";

/// Extension (on an hourly activity sum) with the number of vendor intervals summed,
/// `valuePositiveInt`. Placeholder canonical under `vitals::EXTENSION_BASE`.
pub const SUMMED_INTERVALS_URL: &str =
    "https://healthos.dev/fhir/StructureDefinition/summed-intervals";

/// An hourly bucket is flushed when a sample of its metric and device arrives for an hour
/// more than this many seconds later; older samples are late.
const OPEN_WINDOW: i64 = 2 * 3600;
/// Sleep samples less than this many seconds apart belong to one night.
const NIGHT_GAP: i64 = 3600;

/// What every resource of one import shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportContext {
    /// Where the data comes from.
    pub source: Source,
    /// The patient, as a reference (`Patient/123`).
    pub patient: String,
    /// When the import ran, a FHIR `instant` given by the caller (this crate has no
    /// clock). Used only by [`provenance`], so the Observations of two imports of the same
    /// data are identical.
    pub imported_at: String,
    /// The caller's id for this import (a UUID), named in the Provenance.
    pub import_id: String,
}

/// What an [`Assembler`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssemblySummary {
    /// Observations emitted per metric (hourly series and sums, late samples, nights and
    /// daily totals included).
    pub observations: BTreeMap<Metric, u64>,
    /// Devices emitted.
    pub devices: u64,
    /// Hourly heart-rate series emitted.
    pub hourly_series: u64,
    /// Hourly sums of steps, distance and active energy emitted.
    pub hourly_sums: u64,
    /// Daily totals emitted.
    pub daily_totals: u64,
    /// Samples that arrived after their hour was closed and became their own Observation
    /// (heart-rate instants and activity intervals).
    pub late_samples: u64,
    /// Samples that produced nothing: a reading that does not fit the metric, or a value
    /// that is not finite.
    pub rejected: u64,
}

/// Turns a stream of [`Sample`]s of one import into FHIR resources.
///
/// Feed every sample to [`Assembler::push`], then call [`Assembler::finish`]; resources
/// go to the callback as soon as they are final. See the [module docs](self) for the
/// rules.
///
/// ```
/// use mappers::wearable::fhir::{Assembler, ImportContext};
/// use mappers::wearable::{DeviceInfo, DeviceKind, Effective, Metric, Reading, Sample, Source};
///
/// let ctx = ImportContext {
///     source: Source::AppleHealth,
///     patient: "Patient/123".into(),
///     imported_at: "2024-03-02T08:00:00Z".into(),
///     import_id: "6f1c2a9e-0000-4000-8000-000000000001".into(),
/// };
/// let watch = DeviceInfo {
///     key: "apple-watch".into(),
///     name: Some("Ann's Apple Watch".into()),
///     manufacturer: Some("Apple Inc.".into()),
///     model: Some("Watch".into()),
///     version: None,
///     kind: DeviceKind::Watch,
/// };
/// let mut resources = Vec::new();
/// let mut out = |r| resources.push(r);
/// let mut assembler = Assembler::new(ctx);
/// for (time, bpm) in [("07:15:10", 72.0), ("07:16:40", 75.0)] {
///     let sample = Sample {
///         metric: Metric::HeartRate,
///         effective: Effective::Instant(format!("2024-03-01T{time}+01:00")),
///         reading: Reading::Quantity(bpm),
///         record_id: None,
///         device: Some(watch.clone()),
///         vendor_code: Some("HKQuantityTypeIdentifierHeartRate".into()),
///     };
///     assembler.push(sample, &mut out);
/// }
/// let summary = assembler.finish(&mut out);
///
/// // The Device first, then one Observation for the hour 07:00–08:00.
/// assert_eq!(resources[0]["resourceType"], "Device");
/// let hour = &resources[1];
/// assert_eq!(hour["effectivePeriod"]["start"], "2024-03-01T07:00:00+01:00");
/// assert!(hour["valueSampledData"]["data"].as_str().unwrap().starts_with("E E E E E E E E E E E E E E E 72 75 E"));
/// assert_eq!(summary.hourly_series, 1);
/// assert_eq!(summary.observations[&Metric::HeartRate], 1);
/// ```
#[derive(Debug)]
pub struct Assembler {
    ctx: ImportContext,
    /// Device keys already emitted.
    devices: BTreeSet<String>,
    /// Open heart-rate hours per device key (`None`: no device).
    hours: BTreeMap<Option<String>, Hours<Bucket>>,
    /// Open hourly activity sums per (metric, device key).
    sums: BTreeMap<(Metric, Option<String>), Hours<Sum>>,
    /// The open sleep night per device key.
    nights: BTreeMap<Option<String>, Night>,
    /// Daily-total candidates per (metric, local date).
    days: BTreeMap<(Metric, String), Day>,
    summary: AssemblySummary,
}

/// The identifier system of everything imported from `source`:
/// `https://healthos.dev/fhir/source/<source code>`. Devices use it with `/device`
/// appended, the Provenance's import id with `/import`.
pub fn identifier_system(source: Source) -> String {
    format!("{IDENTIFIER_BASE}{}", source.code())
}

/// The system of a vendor's own type names: Apple's HealthKit documentation URL for Apple
/// Health (as HealthKitOnFHIR writes it), otherwise the invented
/// `https://healthos.dev/fhir/CodeSystem/vendor/<source code>` (no vendor publishes a
/// FHIR system for its data types).
pub fn vendor_code_system(source: Source) -> String {
    match source {
        Source::AppleHealth => HEALTHKIT_CODE_SYSTEM.to_owned(),
        other => format!("{VENDOR_CODE_SYSTEM_BASE}{}", other.code()),
    }
}

/// The conditional reference to the Device with `key` from `source`:
/// `Device?identifier=<identifier_system>/device|<key>`, escaped as the server reads it.
pub fn device_reference(source: Source, key: &str) -> String {
    identifier_reference(
        "Device",
        &format!("{}/device", identifier_system(source)),
        key,
    )
}

/// The conditional reference `<resource type>?identifier=<system>|<value>`: commas are
/// escaped as `\,` (FHIR search escaping, so a key like `Watch6,1` stays one value) and
/// everything but letters, digits and `-._~:/` is percent-encoded.
pub fn identifier_reference(resource_type: &str, system: &str, value: &str) -> String {
    format!(
        "{resource_type}?identifier={}|{}",
        query_encode(system),
        query_encode(value)
    )
}

/// The conditional reference to an emitted resource, from its type and first identifier
/// (for [`provenance`] targets); `None` when it has neither.
pub fn reference_by_identifier(resource: &Value) -> Option<String> {
    let resource_type = resource["resourceType"].as_str()?;
    let identifier = &resource["identifier"][0];
    Some(identifier_reference(
        resource_type,
        identifier["system"].as_str()?,
        identifier["value"].as_str()?,
    ))
}

/// The [Provenance](https://hl7.org/fhir/R4/provenance.html) of one import: `target` =
/// the given references (at least one: R4 requires it; a large import writes one
/// Provenance per batch), `recorded` = [`ImportContext::imported_at`], activity
/// v3-DataOperation `CREATE`, agents the HealthOS importer (`assembler`) and the patient
/// (`informant`), and the source as entity (`role` `source`) identified by the import id
/// under `<identifier_system>/import`.
pub fn provenance(ctx: &ImportContext, targets: &[String]) -> Value {
    let targets: Vec<Value> = targets.iter().map(|t| json!({"reference": t})).collect();
    json!({
        "resourceType": "Provenance",
        "target": targets,
        "recorded": ctx.imported_at,
        "activity": {"coding": [{"system": DATA_OPERATION_SYSTEM, "code": "CREATE", "display": "create"}]},
        "agent": [
            {
                "type": {"coding": [{"system": PARTICIPANT_TYPE_SYSTEM, "code": "assembler", "display": "Assembler"}]},
                "who": {"display": "HealthOS importer"}
            },
            {
                "type": {"coding": [{"system": PARTICIPANT_TYPE_SYSTEM, "code": "informant", "display": "Informant"}]},
                "who": {"reference": ctx.patient}
            }
        ],
        "entity": [{
            "role": "source",
            "what": {
                "identifier": {
                    "system": format!("{}/import", identifier_system(ctx.source)),
                    "value": ctx.import_id
                },
                "display": ctx.source.display()
            }
        }]
    })
}

impl Assembler {
    /// An assembler for one import.
    pub fn new(ctx: ImportContext) -> Self {
        Assembler {
            ctx,
            devices: BTreeSet::new(),
            hours: BTreeMap::new(),
            sums: BTreeMap::new(),
            nights: BTreeMap::new(),
            days: BTreeMap::new(),
            summary: AssemblySummary::default(),
        }
    }

    /// Takes one sample; pushes finished resources (Device, Observations) to `out` as
    /// soon as they are final. Heart-rate instants and activity intervals are held until
    /// their hour closes, sleep segments until their night does, daily totals until the
    /// import ends.
    pub fn push(&mut self, sample: Sample, out: &mut impl FnMut(Value)) {
        if !fits(&sample) {
            self.summary.rejected += 1;
            return;
        }
        if let Some(device) = &sample.device {
            self.see_device(device, out);
        }
        match (sample.metric, &sample.effective) {
            (Metric::HeartRate, Effective::Instant(_)) => self.heart_rate(sample, out),
            (Metric::Sleep, _) => self.sleep(sample, out),
            (Metric::Steps | Metric::Distance | Metric::ActiveEnergy, _) => {
                self.activity(sample, out)
            }
            _ => {
                let resource = self.single(&sample);
                self.emit(sample.metric, resource, out);
            }
        }
    }

    /// Flushes everything still held (open hours, open nights, daily totals) and returns
    /// the summary.
    pub fn finish(mut self, out: &mut impl FnMut(Value)) -> AssemblySummary {
        for (_, hours) in std::mem::take(&mut self.hours) {
            for (_, bucket) in hours.open {
                self.emit_bucket(&bucket, out);
            }
        }
        for ((metric, _), hours) in std::mem::take(&mut self.sums) {
            for (_, sum) in hours.open {
                self.emit_sum(metric, &sum, out);
            }
        }
        for (_, night) in std::mem::take(&mut self.nights) {
            self.emit_night(&night, out);
        }
        for ((metric, date), day) in std::mem::take(&mut self.days) {
            let candidates = if day.vendor.is_empty() {
                &day.computed
            } else {
                &day.vendor
            };
            if let Some((device, chosen)) = best(candidates) {
                let info = metric.info();
                let unit = info.daily_unit.unwrap_or(info.unit);
                let resource = self.observation(Parts {
                    metric,
                    daily: true,
                    profile: info.profile,
                    extension: Vec::new(),
                    key: format!("{}-daily/{date}", info.local_code),
                    when: When::DateTime(&date),
                    value: Some(("valueQuantity", quantity(chosen.total, unit))),
                    device: device.as_deref(),
                    vendor_code: chosen.vendor_code.as_deref(),
                    components: Vec::new(),
                });
                self.summary.daily_totals += 1;
                self.emit(metric, resource, out);
            }
        }
        self.summary
    }

    fn emit(&mut self, metric: Metric, resource: Value, out: &mut impl FnMut(Value)) {
        *self.summary.observations.entry(metric).or_default() += 1;
        out(resource);
    }

    fn see_device(&mut self, device: &DeviceInfo, out: &mut impl FnMut(Value)) {
        if self.devices.contains(&device.key) {
            return;
        }
        self.devices.insert(device.key.clone());
        self.summary.devices += 1;
        out(self.device(device));
    }

    /// An identifier value: the key within the source, prefixed with the patient
    /// (`Patient/123/steps-daily/2024-03-01`). Keys derived from metric, time and device
    /// are the same for two people with the same watch model, and vendor record ids are
    /// unique only per vendor account; the prefix keeps one person's re-import from ever
    /// matching another person's data.
    fn scoped(&self, key: &str) -> String {
        format!("{}/{key}", self.ctx.patient)
    }

    /// The [Device](https://hl7.org/fhir/R4/device.html), elements in R4 order.
    fn device(&self, device: &DeviceInfo) -> Value {
        let mut d = Map::new();
        d.insert("resourceType".into(), json!("Device"));
        d.insert(
            "identifier".into(),
            json!([{
                "system": format!("{}/device", identifier_system(self.ctx.source)),
                "value": self.scoped(&device.key)
            }]),
        );
        if let Some(manufacturer) = &device.manufacturer {
            d.insert("manufacturer".into(), json!(manufacturer));
        }
        if let Some(name) = &device.name {
            d.insert(
                "deviceName".into(),
                json!([{"name": name, "type": "user-friendly-name"}]),
            );
        }
        if let Some(model) = &device.model {
            d.insert("modelNumber".into(), json!(model));
        }
        d.insert("type".into(), json!({"text": kind_text(device.kind)}));
        if let Some(version) = &device.version {
            d.insert("version".into(), json!([{"value": version}]));
        }
        d.insert("patient".into(), json!({"reference": self.ctx.patient}));
        Value::Object(d)
    }

    /// A sample that is its own Observation.
    fn single(&self, sample: &Sample) -> Value {
        let info = sample.metric.info();
        let (value, components) = match &sample.reading {
            Reading::Quantity(v) => (Some(("valueQuantity", quantity(*v, info.unit))), vec![]),
            Reading::BloodPressure {
                systolic,
                diastolic,
            } => (
                None,
                vec![
                    component(
                        LOINC,
                        "8480-6",
                        "Systolic blood pressure",
                        *systolic,
                        "mm[Hg]",
                    ),
                    component(
                        LOINC,
                        "8462-4",
                        "Diastolic blood pressure",
                        *diastolic,
                        "mm[Hg]",
                    ),
                ],
            ),
            // Routed to `sleep`; never reached.
            Reading::Sleep { .. } => (None, vec![]),
        };
        let key = match &sample.record_id {
            Some(id) => format!("{}/{id}", info.local_code),
            None => derived_key(info.local_code, &sample.effective, device_key(sample)),
        };
        self.observation(Parts {
            metric: sample.metric,
            daily: false,
            profile: info.profile,
            extension: Vec::new(),
            key,
            when: When::of(&sample.effective),
            value,
            device: device_key(sample),
            vendor_code: sample.vendor_code.as_deref(),
            components,
        })
    }

    /// An Observation, elements in R4 order.
    fn observation(&self, p: Parts<'_>) -> Value {
        let info = p.metric.info();
        let mut o = Map::new();
        o.insert("resourceType".into(), json!("Observation"));
        if let Some(profile) = p.profile {
            o.insert("meta".into(), json!({"profile": [profile]}));
        }
        if !p.extension.is_empty() {
            o.insert("extension".into(), Value::Array(p.extension));
        }
        o.insert(
            "identifier".into(),
            json!([{"system": identifier_system(self.ctx.source), "value": self.scoped(&p.key)}]),
        );
        o.insert("status".into(), json!("final"));
        o.insert(
            "category".into(),
            json!([{"coding": [{
                "system": OBSERVATION_CATEGORY,
                "code": info.category.code(),
                "display": category_display(info.category)
            }]}]),
        );
        o.insert(
            "code".into(),
            self.code(p.metric, &info, p.daily, p.vendor_code),
        );
        o.insert("subject".into(), json!({"reference": self.ctx.patient}));
        match p.when {
            When::DateTime(at) => o.insert("effectiveDateTime".into(), json!(at)),
            When::Period(start, end) => o.insert(
                "effectivePeriod".into(),
                json!({"start": start, "end": end}),
            ),
        };
        if let Some((name, value)) = p.value {
            o.insert(name.into(), value);
        } else if p.metric == Metric::Sleep {
            o.insert(
                "dataAbsentReason".into(),
                json!({"coding": [{"system": DATA_ABSENT_REASON_SYSTEM, "code": "unknown", "display": "Unknown"}]}),
            );
        }
        if let Some(key) = p.device {
            o.insert(
                "device".into(),
                json!({"reference": device_reference(self.ctx.source, &self.scoped(key))}),
            );
        }
        if !p.components.is_empty() {
            o.insert("component".into(), Value::Array(p.components));
        }
        Value::Object(o)
    }

    fn code(
        &self,
        metric: Metric,
        info: &MetricInfo,
        daily: bool,
        vendor_code: Option<&str>,
    ) -> Value {
        let mut codings = Vec::new();
        match (daily, info.daily_loinc, info.loinc) {
            (true, Some(code), _) => codings.push(coding(LOINC, code, daily_display(code))),
            (_, _, Some(code)) => codings.push(coding(LOINC, code, Some(info.display))),
            _ => {}
        }
        if metric == Metric::OxygenSaturation {
            codings.push(coding(
                LOINC,
                "59408-5",
                Some("Oxygen saturation in Arterial blood by Pulse oximetry"),
            ));
        }
        codings.push(coding(
            WEARABLE_CODE_SYSTEM,
            info.local_code,
            Some(info.display),
        ));
        if let Some(code) = vendor_code {
            codings.push(json!({"system": vendor_code_system(self.ctx.source), "code": code}));
        }
        json!({"coding": codings, "text": info.display})
    }

    fn heart_rate(&mut self, sample: Sample, out: &mut impl FnMut(Value)) {
        let (Reading::Quantity(bpm), Effective::Instant(at)) = (&sample.reading, &sample.effective)
        else {
            return;
        };
        let Some(moment) = Moment::parse(at) else {
            // A time we cannot place in an hour: kept as its own Observation.
            let resource = self.single(&sample);
            self.emit(Metric::HeartRate, resource, out);
            return;
        };
        let device = sample.device.as_ref().map(|d| d.key.clone());
        let (hour_local, hour_utc) = moment.hour();
        if self.hours.get(&device).is_some_and(|h| h.is_late(hour_utc)) {
            self.summary.late_samples += 1;
            let resource = self.single(&sample);
            self.emit(Metric::HeartRate, resource, out);
            return;
        }
        let hours = self.hours.entry(device.clone()).or_default();
        let bucket = hours
            .open
            .entry((hour_utc, moment.offset_text.to_owned()))
            .or_insert_with(|| Bucket {
                start: format_local(hour_local, moment.offset_text),
                end: format_local(hour_local + 3600, moment.offset_text),
                device,
                vendor_code: sample.vendor_code.clone(),
                sums: [0.0; 60],
                counts: [0; 60],
                min: *bpm,
                max: *bpm,
                total: 0.0,
                n: 0,
            });
        // `rem_euclid` keeps the minute in 0..60.
        let minute = usize::try_from(moment.local.rem_euclid(3600) / 60).unwrap_or(0);
        bucket.sums[minute] += bpm;
        bucket.counts[minute] += 1;
        bucket.min = bucket.min.min(*bpm);
        bucket.max = bucket.max.max(*bpm);
        bucket.total += bpm;
        bucket.n += 1;
        for bucket in hours.advance(hour_utc).into_values() {
            self.emit_bucket(&bucket, out);
        }
    }

    fn emit_bucket(&mut self, b: &Bucket, out: &mut impl FnMut(Value)) {
        let data: Vec<String> = (0..60)
            .map(|m| match b.counts[m] {
                0 => "E".to_owned(),
                n => decimal_text(b.sums[m] / f64::from(n), 2),
            })
            .collect();
        let mean = b.total / f64::from(b.n.max(1));
        let stat =
            |code, display, value| component(WEARABLE_CODE_SYSTEM, code, display, value, "/min");
        let key = hourly_key(
            Metric::HeartRate.info().local_code,
            &b.start,
            b.device.as_deref(),
        );
        let resource = self.observation(Parts {
            metric: Metric::HeartRate,
            daily: false,
            profile: Some(VITALSIGNS_PROFILE),
            extension: Vec::new(),
            key,
            when: When::Period(&b.start, &b.end),
            value: Some((
                "valueSampledData",
                json!({
                    "origin": quantity(0.0, "/min"),
                    "period": 60000,
                    "dimensions": 1,
                    "data": data.join(" ")
                }),
            )),
            device: b.device.as_deref(),
            vendor_code: b.vendor_code.as_deref(),
            components: vec![
                stat(
                    "heart-rate-min",
                    "Heart rate, minimum over the period",
                    b.min,
                ),
                stat(
                    "heart-rate-max",
                    "Heart rate, maximum over the period",
                    b.max,
                ),
                stat("heart-rate-mean", "Heart rate, mean over the period", mean),
            ],
        });
        self.summary.hourly_series += 1;
        self.emit(Metric::HeartRate, resource, out);
    }

    fn sleep(&mut self, sample: Sample, out: &mut impl FnMut(Value)) {
        let Reading::Sleep { stages } = &sample.reading else {
            return;
        };
        let device = sample.device.as_ref().map(|d| d.key.clone());
        let mut summed = BTreeMap::new();
        for (stage, minutes) in stages {
            *summed.entry(*stage).or_insert(0.0) += minutes;
        }
        let span = match &sample.effective {
            Effective::Period { start, end } => Moment::parse(start)
                .zip(Moment::parse(end))
                .map(|(s, e)| (s.utc, e.utc)),
            _ => None,
        };
        let (start, end) = match &sample.effective {
            Effective::Period { start, end } => (start.clone(), end.clone()),
            Effective::Instant(at) | Effective::Date(at) => (at.clone(), at.clone()),
        };
        let night = Night {
            start,
            end,
            span: span.unwrap_or((0, 0)),
            is_period: matches!(sample.effective, Effective::Period { .. }),
            stages: summed,
            record_id: sample.record_id.clone(),
            device: device.clone(),
            vendor_code: sample.vendor_code.clone(),
        };
        if sample.record_id.is_some() || span.is_none() {
            self.emit_night(&night, out);
            return;
        }
        match self.nights.remove(&device) {
            Some(mut open) if open.joins(&night) => {
                open.merge(night);
                self.nights.insert(device, open);
            }
            Some(open) => {
                self.emit_night(&open, out);
                self.nights.insert(device, night);
            }
            None => {
                self.nights.insert(device, night);
            }
        }
    }

    fn emit_night(&mut self, night: &Night, out: &mut impl FnMut(Value)) {
        let minutes = |stage| night.stages.get(&stage).copied();
        let asleep: Vec<f64> = [
            SleepStage::Light,
            SleepStage::Deep,
            SleepStage::Rem,
            SleepStage::Asleep,
        ]
        .into_iter()
        .filter_map(minutes)
        .collect();
        let value =
            (!asleep.is_empty()).then(|| ("valueQuantity", quantity(asleep.iter().sum(), "min")));
        let components = [
            (SleepStage::Deep, LOINC, "93831-6", "Deep sleep duration"),
            (SleepStage::Light, LOINC, "93830-8", "Light sleep duration"),
            (SleepStage::Rem, LOINC, "93829-0", "REM sleep duration"),
            (
                SleepStage::Awake,
                WEARABLE_CODE_SYSTEM,
                "sleep-awake",
                "Awake during the sleep period",
            ),
            (
                SleepStage::InBed,
                WEARABLE_CODE_SYSTEM,
                "sleep-in-bed",
                "Time in bed",
            ),
        ]
        .into_iter()
        .filter_map(|(stage, system, code, display)| {
            minutes(stage).map(|m| component(system, code, display, m, "min"))
        })
        .collect();
        let key = match (&night.record_id, &night.device) {
            (Some(id), _) => format!("sleep/{id}"),
            (None, Some(device)) => format!("sleep/{}/{device}", night.start),
            (None, None) => format!("sleep/{}", night.start),
        };
        let resource = self.observation(Parts {
            metric: Metric::Sleep,
            daily: false,
            profile: Metric::Sleep.info().profile,
            extension: Vec::new(),
            key,
            when: if night.is_period {
                When::Period(&night.start, &night.end)
            } else {
                When::DateTime(&night.start)
            },
            value,
            device: night.device.as_deref(),
            vendor_code: night.vendor_code.as_deref(),
            components,
        });
        self.emit(Metric::Sleep, resource, out);
    }

    fn activity(&mut self, sample: Sample, out: &mut impl FnMut(Value)) {
        let Reading::Quantity(value) = sample.reading else {
            return;
        };
        let device = sample.device.as_ref().map(|d| d.key.clone());
        let rank = priority(sample.device.as_ref().map(|d| d.kind));
        let vendor_code = sample.vendor_code.clone();
        match &sample.effective {
            Effective::Date(date) => {
                let day = self.days.entry((sample.metric, date.clone())).or_default();
                day.vendor.insert(
                    device,
                    Candidate {
                        rank,
                        total: value,
                        vendor_code,
                    },
                );
            }
            Effective::Instant(start) | Effective::Period { start, .. } => {
                let Some(moment) = Moment::parse(start) else {
                    // A start we cannot place in an hour or a day: kept as its own
                    // Observation, counted toward no day.
                    let resource = self.single(&sample);
                    self.emit(sample.metric, resource, out);
                    return;
                };
                let day = (sample.metric, moment.text[..10].to_owned());
                self.days
                    .entry(day)
                    .or_default()
                    .computed
                    .entry(device.clone())
                    .or_insert(Candidate {
                        rank,
                        total: 0.0,
                        vendor_code,
                    })
                    .total += value;
                self.hourly_sum(&sample, device, value, moment, out);
            }
        }
    }

    /// Adds an activity interval (or instant) to its hour, or emits it alone when late.
    fn hourly_sum(
        &mut self,
        sample: &Sample,
        device: Option<String>,
        value: f64,
        moment: Moment<'_>,
        out: &mut impl FnMut(Value),
    ) {
        let (hour_local, hour_utc) = moment.hour();
        let bucket_key = (sample.metric, device);
        if self
            .sums
            .get(&bucket_key)
            .is_some_and(|h| h.is_late(hour_utc))
        {
            self.summary.late_samples += 1;
            let resource = self.single(sample);
            self.emit(sample.metric, resource, out);
            return;
        }
        let hours = self.sums.entry(bucket_key).or_default();
        let sum = hours
            .open
            .entry((hour_utc, moment.offset_text.to_owned()))
            .or_insert_with(|| Sum {
                start: format_local(hour_local, moment.offset_text),
                end: format_local(hour_local + 3600, moment.offset_text),
                device: device_key(sample).map(str::to_owned),
                vendor_code: sample.vendor_code.clone(),
                total: 0.0,
                n: 0,
            });
        sum.total += value;
        sum.n += 1;
        for sum in hours.advance(hour_utc).into_values() {
            self.emit_sum(sample.metric, &sum, out);
        }
    }

    fn emit_sum(&mut self, metric: Metric, s: &Sum, out: &mut impl FnMut(Value)) {
        let info = metric.info();
        let resource = self.observation(Parts {
            metric,
            daily: false,
            profile: info.profile,
            extension: vec![json!({"url": SUMMED_INTERVALS_URL, "valuePositiveInt": s.n})],
            key: hourly_key(info.local_code, &s.start, s.device.as_deref()),
            when: When::Period(&s.start, &s.end),
            value: Some(("valueQuantity", quantity(s.total, info.unit))),
            device: s.device.as_deref(),
            vendor_code: s.vendor_code.as_deref(),
            components: Vec::new(),
        });
        self.summary.hourly_sums += 1;
        self.emit(metric, resource, out);
    }
}

/// What an Observation is built from.
struct Parts<'a> {
    metric: Metric,
    /// A daily total: daily LOINC code.
    daily: bool,
    profile: Option<&'static str>,
    /// Observation-level extensions.
    extension: Vec<Value>,
    key: String,
    when: When<'a>,
    /// The `value[x]` element name and value.
    value: Option<(&'static str, Value)>,
    device: Option<&'a str>,
    vendor_code: Option<&'a str>,
    components: Vec<Value>,
}

/// `effective[x]`.
enum When<'a> {
    /// `effectiveDateTime` (an instant or a date).
    DateTime(&'a str),
    /// `effectivePeriod`.
    Period(&'a str, &'a str),
}

impl<'a> When<'a> {
    fn of(effective: &'a Effective) -> When<'a> {
        match effective {
            Effective::Instant(at) | Effective::Date(at) => When::DateTime(at),
            Effective::Period { start, end } => When::Period(start, end),
        }
    }
}

/// The open hours of one (metric, device): heart-rate [`Bucket`]s or activity [`Sum`]s.
#[derive(Debug)]
struct Hours<B> {
    /// UTC start of the newest hour seen (seconds since the epoch).
    newest: Option<i64>,
    /// By (UTC hour start, offset text).
    open: BTreeMap<(i64, String), B>,
}

impl<B> Default for Hours<B> {
    fn default() -> Self {
        Hours {
            newest: None,
            open: BTreeMap::new(),
        }
    }
}

impl<B> Hours<B> {
    /// Whether the hour starting at `hour_utc` is more than [`OPEN_WINDOW`] before the
    /// newest hour seen (its bucket may be flushed already).
    fn is_late(&self, hour_utc: i64) -> bool {
        self.newest
            .is_some_and(|newest| hour_utc < newest - OPEN_WINDOW)
    }

    /// Records that the hour starting at `hour_utc` was seen; returns the buckets that
    /// closed because of it (more than [`OPEN_WINDOW`] before it), oldest first.
    fn advance(&mut self, hour_utc: i64) -> BTreeMap<(i64, String), B> {
        if self.newest.is_some_and(|newest| hour_utc <= newest) {
            return BTreeMap::new();
        }
        self.newest = Some(hour_utc);
        let keep = self
            .open
            .split_off(&(hour_utc - OPEN_WINDOW, String::new()));
        std::mem::replace(&mut self.open, keep)
    }
}

/// One clock hour of heart rate of one device.
#[derive(Debug)]
struct Bucket {
    start: String,
    end: String,
    device: Option<String>,
    vendor_code: Option<String>,
    sums: [f64; 60],
    counts: [u32; 60],
    min: f64,
    max: f64,
    total: f64,
    n: u32,
}

/// One clock hour of one activity metric of one device.
#[derive(Debug)]
struct Sum {
    start: String,
    end: String,
    device: Option<String>,
    vendor_code: Option<String>,
    total: f64,
    /// Intervals summed.
    n: u32,
}

/// One night of sleep being assembled (or one sample of it).
#[derive(Debug)]
struct Night {
    start: String,
    end: String,
    /// UTC seconds of start and end (when `is_period`).
    span: (i64, i64),
    is_period: bool,
    stages: BTreeMap<SleepStage, f64>,
    record_id: Option<String>,
    device: Option<String>,
    vendor_code: Option<String>,
}

impl Night {
    /// Whether `other` overlaps, touches or is less than [`NIGHT_GAP`] away.
    fn joins(&self, other: &Night) -> bool {
        other.span.0 < self.span.1 + NIGHT_GAP && other.span.1 > self.span.0 - NIGHT_GAP
    }

    fn merge(&mut self, other: Night) {
        if other.span.0 < self.span.0 {
            self.span.0 = other.span.0;
            self.start = other.start;
        }
        if other.span.1 > self.span.1 {
            self.span.1 = other.span.1;
            self.end = other.end;
        }
        for (stage, minutes) in other.stages {
            *self.stages.entry(stage).or_insert(0.0) += minutes;
        }
        if self.vendor_code.is_none() {
            self.vendor_code = other.vendor_code;
        }
    }
}

/// Daily-total candidates of one (metric, date), by device key.
#[derive(Debug, Default)]
struct Day {
    /// The vendor's own daily figures.
    vendor: BTreeMap<Option<String>, Candidate>,
    /// Sums of interval samples.
    computed: BTreeMap<Option<String>, Candidate>,
}

#[derive(Debug)]
struct Candidate {
    rank: u8,
    total: f64,
    vendor_code: Option<String>,
}

/// The highest-priority candidate, then the larger total, then the first key.
fn best(candidates: &BTreeMap<Option<String>, Candidate>) -> Option<(&Option<String>, &Candidate)> {
    let mut chosen: Option<(&Option<String>, &Candidate)> = None;
    for (key, c) in candidates {
        let better = match chosen {
            None => true,
            Some((_, b)) => c.rank > b.rank || (c.rank == b.rank && c.total > b.total),
        };
        if better {
            chosen = Some((key, c));
        }
    }
    chosen
}

/// Source priority of a device kind for daily totals: watch > ring > phone > other >
/// manual entry.
fn priority(kind: Option<DeviceKind>) -> u8 {
    match kind {
        Some(DeviceKind::Watch) => 4,
        Some(DeviceKind::Ring) => 3,
        Some(DeviceKind::Phone) => 2,
        Some(DeviceKind::Manual) => 0,
        Some(
            DeviceKind::Scale
            | DeviceKind::BloodPressureMonitor
            | DeviceKind::GlucoseMeter
            | DeviceKind::Other,
        )
        | None => 1,
    }
}

/// Whether the reading fits the metric and every number is finite.
fn fits(sample: &Sample) -> bool {
    match (&sample.metric, &sample.reading) {
        (
            Metric::BloodPressure,
            Reading::BloodPressure {
                systolic,
                diastolic,
            },
        ) => systolic.is_finite() && diastolic.is_finite(),
        (Metric::Sleep, Reading::Sleep { stages }) => stages.iter().all(|(_, m)| m.is_finite()),
        (Metric::BloodPressure | Metric::Sleep, _) => false,
        (_, Reading::Quantity(v)) => v.is_finite(),
        _ => false,
    }
}

fn device_key(sample: &Sample) -> Option<&str> {
    sample.device.as_ref().map(|d| d.key.as_str())
}

/// `<local code>/<effective>[/<device key>]`.
fn derived_key(local_code: &str, effective: &Effective, device: Option<&str>) -> String {
    let when = match effective {
        Effective::Instant(at) | Effective::Date(at) => at.clone(),
        Effective::Period { start, end } => format!("{start}/{end}"),
    };
    match device {
        Some(device) => format!("{local_code}/{when}/{device}"),
        None => format!("{local_code}/{when}"),
    }
}

/// `<local code>-hourly/<hour start>[/<device key>]`.
fn hourly_key(local_code: &str, start: &str, device: Option<&str>) -> String {
    match device {
        Some(device) => format!("{local_code}-hourly/{start}/{device}"),
        None => format!("{local_code}-hourly/{start}"),
    }
}

fn coding(system: &str, code: &str, display: Option<&str>) -> Value {
    match display {
        Some(display) => json!({"system": system, "code": code, "display": display}),
        None => json!({"system": system, "code": code}),
    }
}

fn component(system: &str, code: &str, display: &str, value: f64, unit: &str) -> Value {
    json!({
        "code": {"coding": [coding(system, code, Some(display))]},
        "valueQuantity": quantity(value, unit)
    })
}

/// A UCUM `Quantity`.
fn quantity(value: f64, unit: &str) -> Value {
    let places = match unit {
        "{steps}" | "/d" => 0,
        // Body weight in kg keeps the gram a scale reports (74.126 kg).
        "kg" => 3,
        _ => 2,
    };
    let number = decimal_text(value, places)
        .parse::<Number>()
        .map_or(Value::Null, Value::Number);
    json!({"value": number, "unit": unit, "system": UCUM, "code": unit})
}

/// `value` rounded to `places` decimals, trailing zeros (and a bare point) dropped
/// (`72`, not `72.0`; `0.3`, not `0.30000000000000004`; never `-0`).
pub fn decimal_text(value: f64, places: usize) -> String {
    let mut text = format!("{value:.places$}");
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(trimmed);
    }
    if text == "-0" {
        text = "0".to_owned();
    }
    text
}

fn daily_display(loinc: &str) -> Option<&'static str> {
    match loinc {
        "41950-7" => Some("Number of steps in 24 hour Measured"),
        _ => None,
    }
}

fn category_display(category: Category) -> &'static str {
    match category {
        Category::VitalSigns => "Vital Signs",
        Category::Activity => "Activity",
        Category::Laboratory => "Laboratory",
    }
}

fn kind_text(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Watch => "Watch",
        DeviceKind::Ring => "Ring",
        DeviceKind::Phone => "Phone",
        DeviceKind::Scale => "Scale",
        DeviceKind::BloodPressureMonitor => "Blood pressure monitor",
        DeviceKind::GlucoseMeter => "Glucose meter",
        DeviceKind::Manual => "Manual entry",
        DeviceKind::Other => "Other",
    }
}

/// Percent-encodes a search value after escaping its commas.
fn query_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.replace(',', "\\,").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A FHIR `dateTime` with seconds and an offset (`2024-03-01T07:15:00.5+01:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Moment<'a> {
    /// Seconds since the epoch, UTC.
    utc: i64,
    /// The same wall-clock time as if it were UTC (local seconds since the epoch).
    local: i64,
    /// Offset in seconds east of UTC.
    offset: i64,
    /// `Z` or `±hh:mm`, as written.
    offset_text: &'a str,
    /// The whole text.
    text: &'a str,
}

impl<'a> Moment<'a> {
    fn parse(text: &'a str) -> Option<Moment<'a>> {
        let b = text.as_bytes();
        let num = |from: usize, to: usize| num_in(text, from, to);
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        let mut rest = text.get(19..)?;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            rest = fraction.get(digits..)?;
        }
        let offset = if rest == "Z" {
            0
        } else {
            let r = rest.as_bytes();
            if r.len() != 6 || r[3] != b':' {
                return None;
            }
            let sign = match r[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (num_in(rest, 1, 3)?, num_in(rest, 4, 6)?);
            if oh > 14 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        };
        let valid = (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return None;
        }
        let local = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
        Some(Moment {
            utc: local - offset,
            local,
            offset,
            offset_text: rest,
            text,
        })
    }

    /// The clock hour the moment falls in, in its own offset: (local start, UTC start),
    /// seconds since the epoch.
    fn hour(&self) -> (i64, i64) {
        let local = self.local - self.local.rem_euclid(3600);
        (local, local - self.offset)
    }
}

fn num_in(text: &str, from: usize, to: usize) -> Option<i64> {
    let part = text.get(from..to)?;
    if part.bytes().all(|c| c.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wearable::calendar::civil_from_days;

    #[test]
    fn moments_parse_with_offsets_fractions_and_zulu() {
        let m = Moment::parse("2024-03-01T07:15:30.250+01:00").unwrap();
        assert_eq!(m.offset, 3600);
        assert_eq!(m.offset_text, "+01:00");
        // 2024-03-01 is day 19783 since 1970-01-01.
        assert_eq!(m.local, 19783 * 86400 + 7 * 3600 + 15 * 60 + 30);
        assert_eq!(m.utc, m.local - 3600);
        let z = Moment::parse("1970-01-01T00:00:00Z").unwrap();
        assert_eq!((z.utc, z.offset), (0, 0));
        let west = Moment::parse("2024-01-01T00:30:00-05:30").unwrap();
        assert_eq!(west.utc - west.local, 5 * 3600 + 30 * 60);
        for bad in [
            "2024-03-01",
            "2024-03-01T07:15:00",
            "2024-02-30T07:15:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T07:15:00+1:00",
            "2024-03-01T07:15:00.Z",
            "2024-03-01T07:15:00+01:00x",
            "2024-03-01T07:1a:00Z",
        ] {
            assert_eq!(Moment::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn hour_ends_cross_days_months_and_years() {
        let local = days_from_civil(2023, 12, 31) * 86400 + 23 * 3600;
        assert_eq!(
            format_local(local + 3600, "-08:00"),
            "2024-01-01T00:00:00-08:00"
        );
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn decimals_are_rounded_and_trimmed() {
        assert_eq!(decimal_text(72.0, 2), "72");
        assert_eq!(decimal_text(0.1 + 0.2, 2), "0.3");
        assert_eq!(decimal_text(72.456, 2), "72.46");
        assert_eq!(decimal_text(-0.001, 2), "0");
        assert_eq!(decimal_text(1234.5, 0), "1234");
        assert_eq!(decimal_text(1235.5, 0), "1236");
    }

    #[test]
    fn a_day_of_per_second_heart_rate_keeps_at_most_three_hours_open() {
        let ctx = ImportContext {
            source: Source::Garmin,
            patient: "Patient/1".into(),
            imported_at: "2024-03-02T00:00:00Z".into(),
            import_id: "i".into(),
        };
        let device = DeviceInfo {
            key: "fr945".into(),
            name: None,
            manufacturer: None,
            model: None,
            version: None,
            kind: DeviceKind::Watch,
        };
        let mut assembler = Assembler::new(ctx);
        let mut emitted = 0_u32;
        let mut most_open = 0;
        let start = days_from_civil(2024, 3, 1) * 86400;
        for second in (0..86400).step_by(5) {
            let sample = Sample {
                metric: Metric::HeartRate,
                effective: Effective::Instant(format_local(start + second, "+02:00")),
                reading: Reading::Quantity(60.0 + f64::from(u8::try_from(second % 40).unwrap())),
                record_id: None,
                device: Some(device.clone()),
                vendor_code: None,
            };
            assembler.push(sample, &mut |_| emitted += 1);
            most_open = most_open.max(assembler.hours[&Some("fr945".into())].open.len());
        }
        assert_eq!(most_open, 3);
        let summary = assembler.finish(&mut |_| emitted += 1);
        // The Device and 24 hourly series.
        assert_eq!(emitted, 25);
        assert_eq!(summary.hourly_series, 24);
        assert_eq!(summary.late_samples, 0);
    }

    #[test]
    fn a_day_of_five_minute_steps_keeps_at_most_three_hours_open() {
        let ctx = ImportContext {
            source: Source::AppleHealth,
            patient: "Patient/1".into(),
            imported_at: "2024-03-02T00:00:00Z".into(),
            import_id: "i".into(),
        };
        let mut assembler = Assembler::new(ctx);
        let mut emitted = 0_u32;
        let mut most_open = 0;
        let start = days_from_civil(2024, 3, 1) * 86400;
        for minute in (0..1440).step_by(5) {
            let sample = Sample {
                metric: Metric::Steps,
                effective: Effective::Period {
                    start: format_local(start + minute * 60, "-05:00"),
                    end: format_local(start + minute * 60 + 300, "-05:00"),
                },
                reading: Reading::Quantity(10.0),
                record_id: None,
                device: None,
                vendor_code: None,
            };
            assembler.push(sample, &mut |_| emitted += 1);
            most_open = most_open.max(assembler.sums[&(Metric::Steps, None)].open.len());
        }
        assert_eq!(most_open, 3);
        let summary = assembler.finish(&mut |_| emitted += 1);
        // 24 hourly sums of 12 intervals each and one daily total; no Device.
        assert_eq!(emitted, 25);
        assert_eq!(summary.hourly_sums, 24);
        assert_eq!(summary.daily_totals, 1);
        assert_eq!(summary.late_samples, 0);
    }

    #[test]
    fn search_values_are_escaped_and_encoded() {
        assert_eq!(
            identifier_reference("Device", "https://x.dev/s", "Ann's Watch6,1 & co+"),
            "Device?identifier=https://x.dev/s|Ann%27s%20Watch6%5C%2C1%20%26%20co%2B"
        );
    }
}
