//! Withings public API responses → [`Sample`]s.
//!
//! Every Withings answer is an envelope `{"status": 0, "body": {...}}`; a status other
//! than 0 is an error from Withings and the whole file is refused with that status. The
//! body's shape says which service answered:
//!
//! | body | service | samples |
//! |---|---|---|
//! | `measuregrps` | `measure getmeas` | one per measure: `value × 10^unit`, by meastype (below) |
//! | `activities` | `v2/measure getactivity` | steps, distance, active kcal (`calories`, not `totalcalories`) as daily figures of the local `date` |
//! | `series` object | `v2/measure getintradayactivity` | steps, distance, active kcal over each interval; `heart_rate`, `spo2_auto` as instants |
//! | `series` of `{state, …}` | `v2/sleep get` | one sleep period per segment (state 0 awake, 1 light, 2 deep, 3 REM, 4/5 asleep); `hr`, `rr` series as instants |
//! | `series` of `{data, …}` | `v2/sleep getsummary` | one sleep period per night (deep, light, REM, wake-up durations); `rr_average` as the night's respiratory rate |
//! | `series` of `{category, …}` | `v2/measure getworkouts` | none: workouts are not imported yet |
//! | `devices`, `goals`, `profiles` | device list, goals, notification list | none: each entry is reported as skipped, not measurements |
//!
//! A bare array of measure groups (the `measuregrps` list on its own, as client libraries
//! hand it on) is read like a `getmeas` body, and so is a body without its envelope.
//!
//! Meastypes: 1 weight (kg), 4 height (m → cm), 6 fat ratio (%), 9 + 10 diastolic and
//! systolic (one blood pressure per group), 11 heart pulse, 12 and 71 body temperature
//! (°C), 54 SpO2 (%), 123 VO2 max. Skin temperature (73) is not a core temperature and
//! other types (fat-free mass, muscle, bone, hydration, pulse wave velocity, …) have no
//! metric here: each is skipped with its reason. Groups of category 2 are the user's
//! objectives, not measurements; attrib 1 means the device could not tell whose the
//! measurement is; a `grpid` already read (Withings repeats a group with attrib 8, "same as
//! 0") is read once. Segmental measures (those with a `position`) are not whole-body values.
//!
//! Times: Withings gives epoch seconds and, beside them, the user's IANA time zone
//! (`"timezone": "Europe/Paris"`). Resolving an IANA zone to an offset needs the tz
//! database, which this pure crate does not carry, so every instant is written in UTC
//! (`…Z`): the same moment, without the local offset. Local dates (`"date": "2023-10-20"`)
//! are kept as they are.
//!
//! Record ids: measure groups `<grpid>/<metric code>`, sleep summaries `<id>/<metric
//! code>`. Activity days, intraday intervals and sleep segments have no id of their own.
//! Device: `deviceid` (or `hash_deviceid`) with the `model` name, or the model name alone
//! when there is no id.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::calendar::{date_time, is_date};
use super::{
    DeviceInfo, DeviceKind, Effective, Metric, ParseReport, Reading, Sample, SampleSink, SleepStage,
};
use crate::Error;
use crate::json::{parse_document, pointer_token};

/// Reads one Withings API response (or a bare list of measure groups) and pushes its
/// samples into `sink`.
pub fn parse(json: &[u8], sink: &mut impl SampleSink) -> Result<ParseReport, Error> {
    let value = parse_document(json)?;
    let mut reader = Reader {
        sink,
        report: ParseReport::default(),
        groups_read: BTreeSet::new(),
    };
    match &value {
        Value::Array(groups) => {
            if !groups.is_empty() && !groups.iter().any(|g| g.get("measures").is_some()) {
                return Err(not_withings());
            }
            reader.measure_groups(groups, "");
        }
        Value::Object(envelope) => {
            let (body, base) = match envelope.get("status") {
                Some(status) => {
                    if status.as_i64() != Some(0) {
                        let error = envelope
                            .get("error")
                            .and_then(Value::as_str)
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default();
                        return Err(Error::Malformed {
                            position: "/status".to_owned(),
                            reason: format!("Withings answered status {status}{error}"),
                        });
                    }
                    let body = envelope.get("body").and_then(Value::as_object).ok_or(
                        Error::Malformed {
                            position: "/body".to_owned(),
                            reason: "status 0 without a body object".to_owned(),
                        },
                    )?;
                    (body, "/body")
                }
                // The body alone, as a client library may hand it on.
                None => match envelope.get("body").and_then(Value::as_object) {
                    Some(body) => (body, "/body"),
                    None => (envelope, ""),
                },
            };
            reader.body(body, base)?;
        }
        _ => return Err(not_withings()),
    }
    Ok(reader.report)
}

fn not_withings() -> Error {
    Error::Malformed {
        position: "/".to_owned(),
        reason: "not a Withings payload: expected {\"status\": 0, \"body\": {…}} with \
                 measuregrps, activities, series, devices, goals or profiles, or an array of \
                 measure groups"
            .to_owned(),
    }
}

struct Reader<'a, S> {
    sink: &'a mut S,
    report: ParseReport,
    /// `grpid`s read, so a repeated group is read once.
    groups_read: BTreeSet<i64>,
}

/// A numeric field: absent and null are `None`.
fn number(obj: &Map<String, Value>, key: &str) -> Option<f64> {
    obj.get(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
}

fn integer(obj: &Map<String, Value>, key: &str) -> Option<i64> {
    obj.get(key).and_then(Value::as_i64)
}

/// `value × 10^exponent`, rounded once (through the decimal text), so 74126 × 10^-3 is the
/// same f64 as the literal 74.126.
fn scaled(value: i64, exponent: i64) -> f64 {
    format!("{value}e{exponent}").parse().unwrap_or(f64::NAN)
}

/// The device of a record: `deviceid` (or `hash_deviceid`) and `model`.
fn device(obj: &Map<String, Value>) -> Option<DeviceInfo> {
    let text = |key| {
        obj.get(key)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    };
    let model = text("model");
    let key = text("deviceid")
        .or_else(|| text("hash_deviceid"))
        .or(model)?;
    Some(DeviceInfo {
        key: key.to_owned(),
        name: None,
        manufacturer: Some("Withings".to_owned()),
        model: model.map(str::to_owned),
        version: None,
        kind: model.map_or(DeviceKind::Other, device_kind),
    })
}

/// The kind of a Withings model, from its name (`Body+`, `BPM Connect`, `ScanWatch`,
/// `GoogleFit tracker`, …).
fn device_kind(model: &str) -> DeviceKind {
    let lower = model.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["bpm", "blood pressure"]) {
        DeviceKind::BloodPressureMonitor
    } else if lower.starts_with("body") || has(&["scale", "wbs", "ws-"]) {
        DeviceKind::Scale
    } else if has(&["watch", "steel", "pulse", "move", "activit"]) {
        DeviceKind::Watch
    } else if has(&["tracker"]) {
        DeviceKind::Phone
    } else {
        DeviceKind::Other
    }
}

impl<S: SampleSink> Reader<'_, S> {
    fn push(
        &mut self,
        metric: Metric,
        effective: Effective,
        reading: Reading,
        record_id: Option<String>,
        device: &Option<DeviceInfo>,
        vendor_code: String,
    ) {
        self.report.read();
        self.sink.push(Sample {
            metric,
            effective,
            reading,
            record_id,
            device: device.clone(),
            vendor_code: Some(vendor_code),
        });
    }

    fn body(&mut self, body: &Map<String, Value>, base: &str) -> Result<(), Error> {
        let list = |key: &str| -> Result<&Vec<Value>, Error> {
            body.get(key)
                .and_then(Value::as_array)
                .ok_or_else(|| Error::Malformed {
                    position: format!("{base}/{key}"),
                    reason: "expected an array".to_owned(),
                })
        };
        if body.contains_key("measuregrps") {
            self.measure_groups(list("measuregrps")?, &format!("{base}/measuregrps"));
        } else if body.contains_key("activities") {
            let at = format!("{base}/activities");
            for (i, day) in list("activities")?.iter().enumerate() {
                self.activity_day(day, &format!("{at}/{i}"));
            }
        } else if let Some(series) = body.get("series") {
            let at = format!("{base}/series");
            match series {
                Value::Object(intervals) => {
                    for (time, interval) in intervals {
                        let at = format!("{at}/{}", pointer_token(time));
                        self.intraday(time, interval, &at);
                    }
                }
                Value::Array(entries) => {
                    for (i, entry) in entries.iter().enumerate() {
                        self.series_entry(entry, &format!("{at}/{i}"));
                    }
                }
                _ => {
                    return Err(Error::Malformed {
                        position: at,
                        reason: "expected an array or an object".to_owned(),
                    });
                }
            }
        } else if body.contains_key("devices") {
            let at = format!("{base}/devices");
            for i in 0..list("devices")?.len() {
                self.report
                    .skip(format!("{at}/{i}"), "device list: not measurements");
            }
        } else if body.contains_key("profiles") {
            let at = format!("{base}/profiles");
            for i in 0..list("profiles")?.len() {
                self.report.skip(
                    format!("{at}/{i}"),
                    "notification subscription: not measurements",
                );
            }
        } else if body.contains_key("goals") {
            self.report
                .skip(format!("{base}/goals"), "goals: not measurements");
        } else {
            return Err(not_withings());
        }
        Ok(())
    }

    /// `measure getmeas` groups.
    fn measure_groups(&mut self, groups: &[Value], base: &str) {
        for (i, group) in groups.iter().enumerate() {
            let at = format!("{base}/{i}");
            if let Err(reason) = self.measure_group(group, &at) {
                self.report.skip(at, reason);
            }
        }
    }

    fn measure_group(&mut self, group: &Value, at: &str) -> Result<(), String> {
        let group = group
            .as_object()
            .ok_or("a measure group must be an object")?;
        match integer(group, "category") {
            Some(1) | None => {}
            Some(2) => return Err("category 2: a user objective (goal), not a measurement".into()),
            Some(other) => return Err(format!("unknown category {other}")),
        }
        let attrib = integer(group, "attrib");
        if attrib == Some(1) {
            return Err(
                "attrib 1: ambiguous, the device could not tell whose measurement this is".into(),
            );
        }
        let grpid = integer(group, "grpid").ok_or("no grpid")?;
        let time = integer(group, "date").ok_or("no date")?;
        let measures = group
            .get("measures")
            .and_then(Value::as_array)
            .ok_or("no measures array")?;
        if !self.groups_read.insert(grpid) {
            return Err(format!(
                "group {grpid} repeated (attrib {}): already read",
                attrib.map_or("none".to_owned(), |a| a.to_string())
            ));
        }
        let device = device(group);
        let instant = Effective::Instant(date_time(time, None));
        let mut metrics_read = BTreeSet::new();
        let (mut systolic, mut diastolic) = (None, None);
        for (j, measure) in measures.iter().enumerate() {
            let measure_at = format!("{at}/measures/{j}");
            let Some(measure) = measure.as_object() else {
                self.report.skip(measure_at, "a measure must be an object");
                continue;
            };
            let (Some(kind), Some(value), Some(unit)) = (
                integer(measure, "type"),
                integer(measure, "value"),
                integer(measure, "unit"),
            ) else {
                self.report.skip(
                    measure_at,
                    "a measure needs an integer type, value and unit",
                );
                continue;
            };
            let (metric, exponent) = match kind {
                1 => (Metric::BodyWeight, unit),
                4 => (Metric::BodyHeight, unit + 2),
                6 => (Metric::BodyFat, unit),
                9 | 10 => (Metric::BloodPressure, unit),
                11 => (Metric::HeartRate, unit),
                12 | 71 => (Metric::BodyTemperature, unit),
                54 => (Metric::OxygenSaturation, unit),
                123 => (Metric::Vo2Max, unit),
                73 => {
                    self.report.skip(
                        measure_at,
                        "meastype 73 skin temperature: not a core body temperature",
                    );
                    continue;
                }
                other => {
                    let reason = match meastype_name(other) {
                        Some(name) => format!("meastype {other} ({name}): no HealthOS metric"),
                        None => format!("meastype {other}: no HealthOS metric"),
                    };
                    self.report.skip(measure_at, reason);
                    continue;
                }
            };
            if let Some(position) = measure.get("position") {
                self.report.skip(
                    measure_at,
                    format!("segmental measure (position {position}): not a whole-body value"),
                );
                continue;
            }
            let real = scaled(value, exponent);
            if real <= 0.0 || !real.is_finite() {
                self.report.skip(
                    measure_at,
                    format!("meastype {kind}: value {real} out of range"),
                );
                continue;
            }
            if !metrics_read.insert(kind) {
                self.report.skip(
                    measure_at,
                    format!("meastype {kind} repeated in group {grpid}: already read"),
                );
                continue;
            }
            match kind {
                9 => diastolic = Some(real),
                10 => systolic = Some(real),
                _ => self.push(
                    metric,
                    instant.clone(),
                    Reading::Quantity(real),
                    Some(format!("{grpid}/{}", metric.info().local_code)),
                    &device,
                    format!("meastype {kind}"),
                ),
            }
        }
        match (systolic, diastolic) {
            (Some(systolic), Some(diastolic)) => self.push(
                Metric::BloodPressure,
                instant,
                Reading::BloodPressure {
                    systolic,
                    diastolic,
                },
                Some(format!(
                    "{grpid}/{}",
                    Metric::BloodPressure.info().local_code
                )),
                &device,
                "meastype 10/9".to_owned(),
            ),
            (None, None) => {}
            (Some(_), None) => self
                .report
                .skip(at, "systolic (meastype 10) without diastolic (meastype 9)"),
            (None, Some(_)) => self
                .report
                .skip(at, "diastolic (meastype 9) without systolic (meastype 10)"),
        }
        Ok(())
    }

    /// One day of `getactivity`.
    fn activity_day(&mut self, day: &Value, at: &str) {
        let Some(day) = day.as_object() else {
            self.report.skip(at, "an activity day must be an object");
            return;
        };
        let Some(date) = day
            .get("date")
            .and_then(Value::as_str)
            .filter(|d| is_date(d))
        else {
            self.report.skip(at, "no local date (YYYY-MM-DD)");
            return;
        };
        let device = device(day);
        let mut read = false;
        for (key, metric) in [
            ("steps", Metric::Steps),
            ("distance", Metric::Distance),
            ("calories", Metric::ActiveEnergy),
        ] {
            if let Some(value) = number(day, key).filter(|v| *v >= 0.0) {
                read = true;
                self.push(
                    metric,
                    Effective::Date(date.to_owned()),
                    Reading::Quantity(value),
                    None,
                    &device,
                    format!("getactivity.{key}"),
                );
            }
        }
        if !read {
            self.report.skip(at, "no steps, distance or calories");
        }
    }

    /// One interval of `getintradayactivity`, keyed by its start (epoch seconds).
    fn intraday(&mut self, time: &str, interval: &Value, at: &str) {
        let (Ok(start), Some(interval)) = (time.parse::<i64>(), interval.as_object()) else {
            self.report
                .skip(at, "an interval must be an object keyed by epoch seconds");
            return;
        };
        let device = device(interval);
        let when = match integer(interval, "duration") {
            Some(duration) => Effective::Period {
                start: date_time(start, None),
                end: date_time(start + duration, None),
            },
            None => Effective::Instant(date_time(start, None)),
        };
        let mut read = false;
        for (key, metric, instant) in [
            ("steps", Metric::Steps, false),
            ("distance", Metric::Distance, false),
            ("calories", Metric::ActiveEnergy, false),
            ("heart_rate", Metric::HeartRate, true),
            ("spo2_auto", Metric::OxygenSaturation, true),
        ] {
            if let Some(value) = number(interval, key).filter(|v| *v >= 0.0) {
                read = true;
                let effective = if instant {
                    Effective::Instant(date_time(start, None))
                } else {
                    when.clone()
                };
                self.push(
                    metric,
                    effective,
                    Reading::Quantity(value),
                    None,
                    &device,
                    format!("getintradayactivity.{key}"),
                );
            }
        }
        if !read {
            self.report.skip(
                at,
                "interval without steps, distance, calories, heart rate or SpO2",
            );
        }
    }

    /// An entry of a `series` array: a sleep segment, a night's summary or a workout.
    fn series_entry(&mut self, entry: &Value, at: &str) {
        let Some(entry) = entry.as_object() else {
            self.report.skip(at, "a series entry must be an object");
            return;
        };
        let result = if entry.contains_key("state") {
            self.sleep_segment(entry, at)
        } else if entry.contains_key("category") {
            Err("workout: workouts are not imported yet".to_owned())
        } else if entry.contains_key("data") {
            self.sleep_summary(entry)
        } else {
            Err("not a sleep segment, sleep summary or workout".to_owned())
        };
        if let Err(reason) = result {
            self.report.skip(at, reason);
        }
    }

    /// One `sleep get` segment, with its `hr` and `rr` series.
    fn sleep_segment(&mut self, segment: &Map<String, Value>, at: &str) -> Result<(), String> {
        let start = integer(segment, "startdate").ok_or("no startdate")?;
        let end = integer(segment, "enddate").ok_or("no enddate")?;
        let stage = match integer(segment, "state") {
            Some(0) => SleepStage::Awake,
            Some(1) => SleepStage::Light,
            Some(2) => SleepStage::Deep,
            Some(3) => SleepStage::Rem,
            Some(4 | 5) => SleepStage::Asleep,
            _ => {
                let state = segment.get("state").unwrap_or(&Value::Null);
                return Err(format!("unknown sleep state {state}"));
            }
        };
        if end < start {
            return Err("enddate before startdate".to_owned());
        }
        let device = device(segment);
        self.push(
            Metric::Sleep,
            Effective::Period {
                start: date_time(start, None),
                end: date_time(end, None),
            },
            Reading::Sleep {
                stages: vec![(stage, (end - start) as f64 / 60.0)],
            },
            None,
            &device,
            "sleep.state".to_owned(),
        );
        for (key, metric) in [("hr", Metric::HeartRate), ("rr", Metric::RespiratoryRate)] {
            let Some(series) = segment.get(key).and_then(Value::as_object) else {
                continue;
            };
            for (time, value) in series {
                let value = value.as_f64().filter(|v| v.is_finite() && *v > 0.0);
                let (Ok(time), Some(value)) = (time.parse::<i64>(), value) else {
                    self.report.skip(
                        format!("{at}/{key}/{}", pointer_token(time)),
                        "expected epoch seconds → a positive number",
                    );
                    continue;
                };
                self.push(
                    metric,
                    Effective::Instant(date_time(time, None)),
                    Reading::Quantity(value),
                    None,
                    &device,
                    format!("sleep.{key}"),
                );
            }
        }
        Ok(())
    }

    /// One night of `sleep getsummary`.
    fn sleep_summary(&mut self, night: &Map<String, Value>) -> Result<(), String> {
        let start = integer(night, "startdate").ok_or("no startdate")?;
        let end = integer(night, "enddate").ok_or("no enddate")?;
        let data = night
            .get("data")
            .and_then(Value::as_object)
            .ok_or("data is not an object")?;
        let mut stages = Vec::new();
        for (key, stage) in [
            ("deepsleepduration", SleepStage::Deep),
            ("lightsleepduration", SleepStage::Light),
            ("remsleepduration", SleepStage::Rem),
            ("wakeupduration", SleepStage::Awake),
        ] {
            if let Some(seconds) = number(data, key) {
                stages.push((stage, seconds / 60.0));
            }
        }
        if !stages.iter().any(|(stage, _)| *stage != SleepStage::Awake) {
            match number(data, "total_sleep_time") {
                Some(seconds) => stages.insert(0, (SleepStage::Asleep, seconds / 60.0)),
                None => return Err("no sleep durations".to_owned()),
            }
        }
        let id = night.get("id").and_then(|id| match id {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            _ => None,
        });
        let record_id = |metric: Metric| {
            id.as_ref()
                .map(|id| format!("{id}/{}", metric.info().local_code))
        };
        let device = device(night);
        let period = Effective::Period {
            start: date_time(start, None),
            end: date_time(end, None),
        };
        self.push(
            Metric::Sleep,
            period.clone(),
            Reading::Sleep { stages },
            record_id(Metric::Sleep),
            &device,
            "sleep.getsummary".to_owned(),
        );
        if let Some(rate) = number(data, "rr_average").filter(|v| *v > 0.0) {
            self.push(
                Metric::RespiratoryRate,
                period,
                Reading::Quantity(rate),
                record_id(Metric::RespiratoryRate),
                &device,
                "sleep.getsummary.rr_average".to_owned(),
            );
        }
        Ok(())
    }
}

/// Names of the Withings meastypes that are skipped, for the report.
fn meastype_name(kind: i64) -> Option<&'static str> {
    Some(match kind {
        5 => "fat-free mass",
        8 => "fat mass",
        76 => "muscle mass",
        77 => "hydration",
        88 => "bone mass",
        91 => "pulse wave velocity",
        130 => "atrial fibrillation result",
        135 => "QRS interval",
        136 => "PR interval",
        137 => "QT interval",
        138 => "corrected QT interval",
        139 => "atrial fibrillation from PPG",
        155 => "vascular age",
        167 => "nerve health score",
        168 => "extracellular water",
        169 => "intracellular water",
        170 => "visceral fat",
        173 => "segmental fat-free mass",
        174 => "segmental fat mass",
        175 => "segmental muscle mass",
        196 => "electrodermal activity",
        226 => "basal metabolic rate",
        227 => "metabolic age",
        229 => "electrochemical skin conductance",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_times_ten_to_the_unit_is_exact() {
        assert_eq!(scaled(74126, -3), 74.126);
        assert_eq!(scaled(1930, -1), 193.0);
        assert_eq!(scaled(37, 0), 37.0);
        assert_eq!(scaled(5, 2), 500.0);
    }

    #[test]
    fn device_kinds_from_model_names() {
        assert_eq!(device_kind("Body+"), DeviceKind::Scale);
        assert_eq!(device_kind("Body Cardio"), DeviceKind::Scale);
        assert_eq!(device_kind("BPM Connect"), DeviceKind::BloodPressureMonitor);
        assert_eq!(device_kind("ScanWatch"), DeviceKind::Watch);
        assert_eq!(device_kind("GoogleFit tracker"), DeviceKind::Phone);
        assert_eq!(device_kind("Aura Sensor V2"), DeviceKind::Other);
    }
}
