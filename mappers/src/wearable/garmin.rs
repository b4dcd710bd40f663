//! Garmin Health API summaries → [`Sample`]s.
//!
//! Garmin delivers "summaries", one JSON object per day, epoch, night or measurement. A
//! push notification (and the fixtures) wrap them by type, `{"dailies": [...]}`,
//! `{"sleeps": [...]}`; a pull or backfill answer is a bare array of one type. Wrapped
//! summaries take their type from the key; bare ones from the fields they carry. A payload
//! that is neither is refused whole ([`Error::Malformed`]); a summary that cannot be read
//! is skipped with its JSON pointer and the rest are kept.
//!
//! Times are `startTimeInSeconds` (UTC epoch seconds) written in the device's local offset
//! `startTimeOffsetInSeconds` (`measurementTime…` for blood pressure and body composition,
//! `offsetStartTimeInSeconds` or `offsetInSeconds` in some types), so 1970-01-01 00:00:00
//! UTC with offset 3600 is `1970-01-01T01:00:00+01:00`. Without an offset the time is UTC
//! (`Z`). Series such as `timeOffsetHeartRateSamples` are maps from seconds after the
//! summary's start to a value; each entry is one instant.
//!
//! What is kept, per summary type:
//!
//! | type | samples |
//! |---|---|
//! | dailies | steps, `distanceInMeters`, `activeKilocalories`, `restingHeartRateInBeatsPerMinute` as daily figures of `calendarDate`; `timeOffsetHeartRateSamples` as heart-rate instants. Average, minimum and maximum heart rate are not measurements of their own and are left out. |
//! | epochs | steps, distance, active kcal over the epoch (a period) |
//! | sleeps | one sleep period (deep, light, REM, awake minutes; unmeasurable time is left out); `timeOffsetSleepRespiration`, `timeOffsetSleepSpo2` as instants |
//! | pulseox | `timeOffsetSpo2Values` |
//! | allDayRespiration | `timeOffsetEpochToBreaths` |
//! | hrv | `lastNightAvg` as the night's RMSSD (a daily figure), `hrvValues` (5-minute RMSSD) as instants |
//! | bloodPressures | systolic/diastolic, and `pulse` as heart rate |
//! | bodyComps | `weightInGrams` ÷ 1000 (kg), `bodyFatInPercent` |
//! | userMetrics | `vo2Max` as a daily figure |
//! | healthSnapshot | `epochSummaries` of heart rate, respiration, SpO2 and RMSSD as instants |
//! | stressDetails | skipped: stress and Body Battery have no FHIR metric here |
//! | activities, activityDetails, manuallyUpdatedActivities, moveIQActivities | skipped: workouts are not imported yet |
//!
//! Record ids: the summary's `summaryId`, followed by the metric's code and, for series,
//! the offset (`EXAMPLE 67891/heart-rate/3180`), because one summary yields many samples.
//! Health API summaries name no device except activities (`deviceName`), so the device is
//! `None` unless a summary carries `deviceName`.

use serde_json::{Map, Value};

use super::calendar::{date_time, is_date, local_date};
use super::{
    DeviceInfo, DeviceKind, Effective, Metric, ParseReport, Reading, Sample, SampleSink, SleepStage,
};
use crate::Error;
use crate::json::{parse_document, pointer_token};

/// Reads one Garmin Health API payload (a `{"<summary type>": [...]}` wrapper or a bare
/// array of summaries) and pushes its samples into `sink`.
pub fn parse(json: &[u8], sink: &mut impl SampleSink) -> Result<ParseReport, Error> {
    let value = parse_document(json)?;
    let mut report = ParseReport::default();
    match &value {
        Value::Object(map) => {
            let lists: Vec<(Kind, &String, &Value)> = map
                .iter()
                .filter_map(|(key, list)| Kind::from_key(key).map(|kind| (kind, key, list)))
                .collect();
            if lists.is_empty() {
                return Err(not_garmin());
            }
            for (kind, key, list) in lists {
                let base = format!("/{}", pointer_token(key));
                let Some(items) = list.as_array() else {
                    return Err(Error::Malformed {
                        position: base,
                        reason: "expected an array of summaries".to_owned(),
                    });
                };
                for (i, item) in items.iter().enumerate() {
                    summary(kind, item, &format!("{base}/{i}"), sink, &mut report);
                }
            }
        }
        Value::Array(items) => {
            let mut recognised = false;
            for (i, item) in items.iter().enumerate() {
                let at = format!("/{i}");
                match Kind::detect(item) {
                    Some(kind) => {
                        recognised = true;
                        summary(kind, item, &at, sink, &mut report);
                    }
                    None => report.skip(at, "not a Garmin summary of a known type"),
                }
            }
            if !items.is_empty() && !recognised {
                return Err(not_garmin());
            }
        }
        _ => return Err(not_garmin()),
    }
    Ok(report)
}

fn not_garmin() -> Error {
    Error::Malformed {
        position: "/".to_owned(),
        reason: "not a Garmin payload: expected an object with a summary list (dailies, \
                 epochs, sleeps, bodyComps, pulseox, allDayRespiration, hrv, bloodPressures, \
                 userMetrics, healthSnapshot, stressDetails, activities, …) or an array of \
                 summaries"
            .to_owned(),
    }
}

/// Garmin summary types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dailies,
    Epochs,
    Sleeps,
    PulseOx,
    Respiration,
    Hrv,
    BloodPressure,
    BodyComps,
    UserMetrics,
    HealthSnapshot,
    Stress,
    Workout,
}

impl Kind {
    /// The type of a push payload's summary list, by its key.
    fn from_key(key: &str) -> Option<Kind> {
        Some(match key {
            "dailies" => Kind::Dailies,
            "epochs" => Kind::Epochs,
            "sleeps" => Kind::Sleeps,
            "pulseox" => Kind::PulseOx,
            "allDayRespiration" => Kind::Respiration,
            "hrv" => Kind::Hrv,
            "bloodPressures" => Kind::BloodPressure,
            "bodyComps" => Kind::BodyComps,
            "userMetrics" => Kind::UserMetrics,
            "healthSnapshot" => Kind::HealthSnapshot,
            "stressDetails" => Kind::Stress,
            "activities"
            | "activityDetails"
            | "manuallyUpdatedActivities"
            | "moveIQActivities"
            | "moveIq" => Kind::Workout,
            _ => return None,
        })
    }

    /// The type of a bare summary, by the fields only that type carries.
    fn detect(summary: &Value) -> Option<Kind> {
        let obj = summary.as_object()?;
        let has = |keys: &[&str]| keys.iter().any(|k| obj.contains_key(*k));
        Some(if has(&["activityId", "activitySubType"]) {
            Kind::Workout
        } else if has(&["timeOffsetSpo2Values"]) {
            Kind::PulseOx
        } else if has(&["timeOffsetEpochToBreaths"]) {
            Kind::Respiration
        } else if has(&["hrvValues", "lastNightAvg"]) {
            Kind::Hrv
        } else if has(&["systolic", "diastolic"]) {
            Kind::BloodPressure
        } else if has(&["weightInGrams", "bodyFatInPercent", "muscleMassInGrams"]) {
            Kind::BodyComps
        } else if has(&["vo2Max", "fitnessAge"]) {
            Kind::UserMetrics
        } else if has(&["summaries"]) {
            Kind::HealthSnapshot
        } else if has(&["timeOffsetStressLevelValues", "timeOffsetBodyBatteryValues"]) {
            Kind::Stress
        } else if has(&["sleepLevelsMap", "deepSleepDurationInSeconds"]) {
            Kind::Sleeps
        } else if has(&["intensity", "meanMotionIntensity", "met"]) {
            Kind::Epochs
        } else if has(&["timeOffsetHeartRateSamples", "stepsGoal", "bmrKilocalories"]) {
            Kind::Dailies
        } else {
            return None;
        })
    }

    /// The summary list's name, for vendor codes (`dailies.steps`).
    fn name(self) -> &'static str {
        match self {
            Kind::Dailies => "dailies",
            Kind::Epochs => "epochs",
            Kind::Sleeps => "sleeps",
            Kind::PulseOx => "pulseox",
            Kind::Respiration => "allDayRespiration",
            Kind::Hrv => "hrv",
            Kind::BloodPressure => "bloodPressures",
            Kind::BodyComps => "bodyComps",
            Kind::UserMetrics => "userMetrics",
            Kind::HealthSnapshot => "healthSnapshot",
            Kind::Stress => "stressDetails",
            Kind::Workout => "activities",
        }
    }
}

/// One summary being read: where it is, its id and device, and what it pushed.
struct Summary<'a, S> {
    kind: Kind,
    at: &'a str,
    obj: &'a Map<String, Value>,
    id: Option<String>,
    device: Option<DeviceInfo>,
    sink: &'a mut S,
    report: &'a mut ParseReport,
    /// Samples pushed and values skipped, so a summary that gave nothing is reported.
    outcomes: usize,
}

impl<S: SampleSink> Summary<'_, S> {
    /// A number field: `None` when absent or null; a skip when it is not a number.
    fn number(&mut self, key: &str) -> Option<f64> {
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_f64().filter(|v| v.is_finite()) {
                Some(v) => Some(v),
                None => {
                    self.skip_field(key, "not a number");
                    None
                }
            },
        }
    }

    /// An integer field (epoch seconds, offsets).
    fn integer(&self, key: &str) -> Option<i64> {
        self.obj.get(key).and_then(Value::as_i64)
    }

    fn skip_field(&mut self, key: &str, reason: &str) {
        self.outcomes += 1;
        self.report
            .skip(format!("{}/{}", self.at, pointer_token(key)), reason);
    }

    fn record_id(&self, metric: Metric, offset: Option<&str>) -> Option<String> {
        self.id.as_ref().map(|id| match offset {
            Some(o) => format!("{id}/{}/{o}", metric.info().local_code),
            None => format!("{id}/{}", metric.info().local_code),
        })
    }

    fn push(
        &mut self,
        metric: Metric,
        effective: Effective,
        reading: Reading,
        record_id: Option<String>,
        field: &str,
    ) {
        self.outcomes += 1;
        self.report.read();
        self.sink.push(Sample {
            metric,
            effective,
            reading,
            record_id,
            device: self.device.clone(),
            vendor_code: Some(format!("{}.{field}", self.kind.name())),
        });
    }

    /// A single figure `key` of the summary as `metric`, `scale` applied.
    fn figure(&mut self, key: &str, metric: Metric, effective: &Effective, scale: f64) {
        let Some(value) = self.number(key) else {
            return;
        };
        if value < 0.0 {
            self.skip_field(key, "negative value");
            return;
        }
        let record_id = self.record_id(metric, None);
        self.push(
            metric,
            effective.clone(),
            Reading::Quantity(value / scale),
            record_id,
            key,
        );
    }

    /// A `timeOffset…` map (seconds after `start` → value) as instants of `metric`.
    fn series(&mut self, key: &str, metric: Metric, start: i64, offset: Option<i64>) {
        let obj = self.obj;
        let Some(map) = obj.get(key) else {
            return;
        };
        let Some(map) = map.as_object() else {
            self.skip_field(key, "expected an object of offsets to values");
            return;
        };
        let field_at = format!("{}/{}", self.at, pointer_token(key));
        self.offset_map(map, &field_at, key, metric, start, offset);
    }

    fn offset_map(
        &mut self,
        map: &Map<String, Value>,
        field_at: &str,
        field: &str,
        metric: Metric,
        start: i64,
        offset: Option<i64>,
    ) {
        for (seconds, value) in map {
            let at = || format!("{field_at}/{}", pointer_token(seconds));
            let Ok(after) = seconds.parse::<i64>() else {
                self.outcomes += 1;
                self.report
                    .skip(at(), "offset is not a whole number of seconds");
                continue;
            };
            let Some(value) = value.as_f64().filter(|v| v.is_finite() && *v >= 0.0) else {
                self.outcomes += 1;
                self.report.skip(at(), "not a non-negative number");
                continue;
            };
            let record_id = self.record_id(metric, Some(seconds));
            self.push(
                metric,
                Effective::Instant(date_time(start + after, offset)),
                Reading::Quantity(value),
                record_id,
                field,
            );
        }
    }
}

/// Reads one summary of type `kind` at JSON pointer `at`.
fn summary(
    kind: Kind,
    item: &Value,
    at: &str,
    sink: &mut impl SampleSink,
    report: &mut ParseReport,
) {
    let Some(obj) = item.as_object() else {
        report.skip(at, "a summary must be an object");
        return;
    };
    match kind {
        Kind::Stress => {
            report.skip(at, "stress and Body Battery: no FHIR metric");
            return;
        }
        Kind::Workout => {
            report.skip(at, "workouts are not imported yet");
            return;
        }
        _ => {}
    }
    let device = obj
        .get("deviceName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(|name| DeviceInfo {
            key: name.to_owned(),
            name: Some(name.to_owned()),
            manufacturer: Some("Garmin".to_owned()),
            model: Some(name.to_owned()),
            version: None,
            kind: DeviceKind::Watch,
        });
    let id = obj.get("summaryId").and_then(|id| match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let mut s = Summary {
        kind,
        at,
        obj,
        id,
        device,
        sink,
        report,
        outcomes: 0,
    };
    if let Err(reason) = read_summary(&mut s) {
        s.report.skip(at, reason);
    } else if s.outcomes == 0 {
        s.report.skip(at, "no value of a mapped metric");
    }
}

/// Pushes the samples of one summary; `Err` when the summary as a whole is unusable.
fn read_summary<S: SampleSink>(s: &mut Summary<'_, S>) -> Result<(), &'static str> {
    let offset = s
        .integer("startTimeOffsetInSeconds")
        .or_else(|| s.integer("offsetStartTimeInSeconds"))
        .or_else(|| s.integer("offsetInSeconds"));
    let start = s.integer("startTimeInSeconds");
    match s.kind {
        Kind::Dailies => {
            let date = day(s, start, offset).ok_or("no calendarDate and no start time")?;
            let day = Effective::Date(date);
            s.figure("steps", Metric::Steps, &day, 1.0);
            s.figure("distanceInMeters", Metric::Distance, &day, 1.0);
            s.figure("activeKilocalories", Metric::ActiveEnergy, &day, 1.0);
            s.figure(
                "restingHeartRateInBeatsPerMinute",
                Metric::RestingHeartRate,
                &day,
                1.0,
            );
            if let Some(start) = start {
                s.series(
                    "timeOffsetHeartRateSamples",
                    Metric::HeartRate,
                    start,
                    offset,
                );
            }
        }
        Kind::Epochs => {
            let start = start.ok_or("no startTimeInSeconds")?;
            let duration = s
                .integer("durationInSeconds")
                .ok_or("no durationInSeconds")?;
            let period = Effective::Period {
                start: date_time(start, offset),
                end: date_time(start + duration, offset),
            };
            s.figure("steps", Metric::Steps, &period, 1.0);
            s.figure("distanceInMeters", Metric::Distance, &period, 1.0);
            s.figure("activeKilocalories", Metric::ActiveEnergy, &period, 1.0);
        }
        Kind::Sleeps => {
            let start = start.ok_or("no startTimeInSeconds")?;
            let duration = s
                .integer("durationInSeconds")
                .ok_or("no durationInSeconds")?;
            let mut stages = Vec::new();
            for (key, stage) in [
                ("deepSleepDurationInSeconds", SleepStage::Deep),
                ("lightSleepDurationInSeconds", SleepStage::Light),
                ("remSleepInSeconds", SleepStage::Rem),
                ("awakeDurationInSeconds", SleepStage::Awake),
            ] {
                if let Some(seconds) = s.number(key) {
                    stages.push((stage, seconds / 60.0));
                }
            }
            if stages.is_empty() {
                return Err("no sleep stage durations");
            }
            let record_id = s.record_id(Metric::Sleep, None);
            s.push(
                Metric::Sleep,
                Effective::Period {
                    start: date_time(start, offset),
                    end: date_time(start + duration, offset),
                },
                Reading::Sleep { stages },
                record_id,
                "durationInSeconds",
            );
            s.series(
                "timeOffsetSleepRespiration",
                Metric::RespiratoryRate,
                start,
                offset,
            );
            s.series(
                "timeOffsetSleepSpo2",
                Metric::OxygenSaturation,
                start,
                offset,
            );
        }
        Kind::PulseOx => {
            let start = start.ok_or("no startTimeInSeconds")?;
            s.series(
                "timeOffsetSpo2Values",
                Metric::OxygenSaturation,
                start,
                offset,
            );
        }
        Kind::Respiration => {
            let start = start.ok_or("no startTimeInSeconds")?;
            s.series(
                "timeOffsetEpochToBreaths",
                Metric::RespiratoryRate,
                start,
                offset,
            );
        }
        Kind::Hrv => {
            if let Some(date) = day(s, start, offset) {
                s.figure(
                    "lastNightAvg",
                    Metric::HrvRmssd,
                    &Effective::Date(date),
                    1.0,
                );
            }
            if let Some(start) = start {
                s.series("hrvValues", Metric::HrvRmssd, start, offset);
            }
        }
        Kind::BloodPressure | Kind::BodyComps => {
            let time = s
                .integer("measurementTimeInSeconds")
                .ok_or("no measurementTimeInSeconds")?;
            let offset = s.integer("measurementTimeOffsetInSeconds");
            let instant = Effective::Instant(date_time(time, offset));
            if s.kind == Kind::BodyComps {
                s.figure("weightInGrams", Metric::BodyWeight, &instant, 1000.0);
                s.figure("bodyFatInPercent", Metric::BodyFat, &instant, 1.0);
            } else {
                let (systolic, diastolic) = (s.number("systolic"), s.number("diastolic"));
                match (systolic, diastolic) {
                    (Some(systolic), Some(diastolic)) => {
                        let record_id = s.record_id(Metric::BloodPressure, None);
                        s.push(
                            Metric::BloodPressure,
                            instant.clone(),
                            Reading::BloodPressure {
                                systolic,
                                diastolic,
                            },
                            record_id,
                            "systolic/diastolic",
                        );
                    }
                    (None, None) => {}
                    _ => {
                        s.outcomes += 1;
                        s.report
                            .skip(s.at, "blood pressure needs both systolic and diastolic");
                    }
                }
                s.figure("pulse", Metric::HeartRate, &instant, 1.0);
            }
        }
        Kind::UserMetrics => {
            let date = day(s, start, offset).ok_or("no calendarDate")?;
            s.figure("vo2Max", Metric::Vo2Max, &Effective::Date(date), 1.0);
        }
        Kind::HealthSnapshot => {
            let start = start.ok_or("no startTimeInSeconds")?;
            let obj = s.obj;
            let summaries = obj
                .get("summaries")
                .and_then(Value::as_array)
                .ok_or("no summaries array")?;
            for (i, summary) in summaries.iter().enumerate() {
                let at = format!("{}/summaries/{i}", s.at);
                let kind = summary.get("summaryType").and_then(Value::as_str);
                let metric = match kind {
                    Some("heart_rate") => Metric::HeartRate,
                    Some("respiration") => Metric::RespiratoryRate,
                    Some("spo2") => Metric::OxygenSaturation,
                    Some("rmssd_hrv") => Metric::HrvRmssd,
                    Some(other) => {
                        s.outcomes += 1;
                        s.report
                            .skip(at, format!("health snapshot {other}: not mapped"));
                        continue;
                    }
                    None => {
                        s.outcomes += 1;
                        s.report.skip(at, "no summaryType");
                        continue;
                    }
                };
                let Some(epochs) = summary.get("epochSummaries").and_then(Value::as_object) else {
                    s.outcomes += 1;
                    s.report.skip(at, "no epochSummaries");
                    continue;
                };
                let field = format!("{}.epochSummaries", kind.unwrap_or_default());
                s.offset_map(
                    epochs,
                    &format!("{at}/epochSummaries"),
                    &field,
                    metric,
                    start,
                    offset,
                );
            }
        }
        Kind::Stress | Kind::Workout => {}
    }
    Ok(())
}

/// The summary's local day: `calendarDate`, or the local date of its start.
fn day<S>(s: &Summary<'_, S>, start: Option<i64>, offset: Option<i64>) -> Option<String> {
    match s.obj.get("calendarDate").and_then(Value::as_str) {
        Some(date) if is_date(date) => Some(date.to_owned()),
        _ => start.map(|start| local_date(start, offset.unwrap_or(0))),
    }
}
