//! Oura API v2 JSON → [`Sample`](super::Sample)s.
//!
//! Every `/v2/usercollection/{endpoint}` list answers `{"data": [...], "next_token": ...}`;
//! the endpoint is recognised by the fields of `data[0]` (an empty `data` is zero samples):
//!
//! | field of `data[0]` | endpoint | samples |
//! |---|---|---|
//! | `bpm` | `heartrate` | heart rate at `timestamp` (any `source`: awake, rest, sleep, workout, …) |
//! | `bedtime_start` | `sleep` | one sleep period `bedtime_start`..`bedtime_end` with deep, light, REM and awake minutes (`*_sleep_duration`, `awake_time`: **seconds**); `average_hrv` → HRV **RMSSD** and `average_breath` → respiratory rate over the same period |
//! | `spo2_percentage` | `daily_spo2` | SpO2 `spo2_percentage.average` (%) for `day` |
//! | `temperature_deviation` | `daily_readiness` | skin-temperature **deviation** from baseline (°C) for `day`, never a body temperature |
//! | `active_calories` / `equivalent_walking_distance` | `daily_activity` | steps, active energy (kcal) and distance (m) for `day` |
//!
//! Left out on purpose: `lowest_heart_rate` is the night's minimum, not a resting heart
//! rate (Oura has no resting-HR field), and `average_heart_rate` duplicates the `heartrate`
//! samples. Sleep periods of type `deleted` (removed by the user) and `rest` (a rest period
//! that is not sleep) are skipped with that reason. Times keep Oura's own offsets; a
//! nullable value that is `null` (no SpO2 measured that night) skips its record. Every
//! sample names the ring as its device, and daily and sleep samples carry Oura's `id`.

use serde_json::Value;

use super::calendar::{normalize_instant, parse_date};
use super::vendor_json::{Emitter, Origin, not_a_payload, number};
use super::{
    DeviceInfo, DeviceKind, Effective, Metric, ParseReport, Reading, SampleSink, SleepStage,
};
use crate::Error;
use crate::json::{parse_document, ptr};

const EXPECTED: &str =
    "`data` (an Oura v2 list: heartrate, sleep, daily_activity, daily_spo2, daily_readiness)";

/// The Oura endpoints this parser reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    HeartRate,
    Sleep,
    DailyActivity,
    DailySpo2,
    DailyReadiness,
}

impl Endpoint {
    fn of(record: &Value) -> Option<Endpoint> {
        let has = |key: &str| record.get(key).is_some();
        Some(if has("bpm") {
            Endpoint::HeartRate
        } else if has("bedtime_start") {
            Endpoint::Sleep
        } else if has("spo2_percentage") {
            Endpoint::DailySpo2
        } else if has("temperature_deviation") {
            Endpoint::DailyReadiness
        } else if has("active_calories") || has("equivalent_walking_distance") {
            Endpoint::DailyActivity
        } else {
            return None;
        })
    }

    fn name(self) -> &'static str {
        match self {
            Endpoint::HeartRate => "heartrate",
            Endpoint::Sleep => "sleep",
            Endpoint::DailyActivity => "daily_activity",
            Endpoint::DailySpo2 => "daily_spo2",
            Endpoint::DailyReadiness => "daily_readiness",
        }
    }
}

/// The ring: Oura's v2 data all come from it.
fn ring() -> DeviceInfo {
    DeviceInfo {
        key: "oura-ring".to_owned(),
        name: Some("Oura Ring".to_owned()),
        manufacturer: Some("Oura".to_owned()),
        model: None,
        version: None,
        kind: DeviceKind::Ring,
    }
}

/// Reads one Oura API v2 list response, pushing a [`Sample`](super::Sample) per value.
///
/// Errors: invalid JSON ([`Error::Malformed`] at its line and column), a document without
/// a `data` list (at `/`), or a `data[0]` of an endpoint this parser does not read (at
/// `/data/0`).
pub fn parse(json: &[u8], sink: &mut impl SampleSink) -> Result<ParseReport, Error> {
    let doc = parse_document(json)?;
    let Some(records) = doc.get("data").and_then(Value::as_array) else {
        return Err(not_a_payload("Oura v2", EXPECTED, &doc));
    };
    let mut out = Emitter::new(sink);
    let Some(first) = records.first() else {
        return Ok(out.finish());
    };
    let Some(endpoint) = Endpoint::of(first) else {
        return Err(Error::Malformed {
            position: "/data/0".to_owned(),
            reason: "not a record of an Oura endpoint read here: expected `bpm` (heartrate), `bedtime_start` (sleep), `spo2_percentage` (daily_spo2), `temperature_deviation` (daily_readiness) or `active_calories` (daily_activity)".to_owned(),
        });
    };
    let device = ring();
    for (i, record) in records.iter().enumerate() {
        let at = ptr("/data", i);
        let id = record["id"].as_str();
        let origin = Origin {
            record_id: id,
            device: Some(&device),
            vendor_code: endpoint.name(),
        };
        match endpoint {
            Endpoint::HeartRate => heart_rate(record, &at, origin, &mut out),
            Endpoint::Sleep => sleep(record, &at, origin, &mut out),
            _ => daily(endpoint, record, &at, origin, &mut out),
        }
    }
    Ok(out.finish())
}

fn heart_rate(record: &Value, at: &str, origin: Origin<'_>, out: &mut Emitter<'_>) {
    let when = record["timestamp"].as_str().and_then(normalize_instant);
    match (when, number(&record["bpm"])) {
        (Some(when), Some(bpm)) => {
            out.push(origin.quantity(Metric::HeartRate, Effective::Instant(when), bpm));
        }
        _ => out.skip(at, "needs a `timestamp` with offset and a numeric `bpm`"),
    }
}

fn sleep(record: &Value, at: &str, origin: Origin<'_>, out: &mut Emitter<'_>) {
    match record["type"].as_str() {
        Some("deleted") => return out.skip(at, "sleep period deleted by the user"),
        Some("rest") => return out.skip(at, "a rest period, not sleep"),
        _ => {}
    }
    let start = record["bedtime_start"].as_str().and_then(normalize_instant);
    let end = record["bedtime_end"].as_str().and_then(normalize_instant);
    let (Some(start), Some(end)) = (start, end) else {
        return out.skip(at, "needs `bedtime_start` and `bedtime_end` with offsets");
    };
    let period = || Effective::Period {
        start: start.clone(),
        end: end.clone(),
    };
    let minutes = |key: &str| number(&record[key]).map(|seconds| seconds / 60.0);
    let mut stages: Vec<(SleepStage, f64)> = [
        (SleepStage::Deep, "deep_sleep_duration"),
        (SleepStage::Light, "light_sleep_duration"),
        (SleepStage::Rem, "rem_sleep_duration"),
    ]
    .into_iter()
    .filter_map(|(stage, key)| minutes(key).map(|m| (stage, m)))
    .collect();
    if stages.is_empty()
        && let Some(total) = minutes("total_sleep_duration")
    {
        stages.push((SleepStage::Asleep, total));
    }
    if stages.is_empty() {
        return out.skip(
            at,
            "no sleep durations (`*_sleep_duration`, `total_sleep_duration`)",
        );
    }
    if let Some(awake) = minutes("awake_time") {
        stages.push((SleepStage::Awake, awake));
    }
    out.push(origin.sample(Metric::Sleep, period(), Reading::Sleep { stages }));
    if let Some(hrv) = number(&record["average_hrv"]) {
        out.push(origin.quantity(Metric::HrvRmssd, period(), hrv));
    }
    if let Some(breath) = number(&record["average_breath"]) {
        out.push(origin.quantity(Metric::RespiratoryRate, period(), breath));
    }
}

fn daily(endpoint: Endpoint, record: &Value, at: &str, origin: Origin<'_>, out: &mut Emitter<'_>) {
    let Some(day) = record["day"].as_str().filter(|d| parse_date(d).is_some()) else {
        return out.skip(at, "needs a `day` YYYY-MM-DD");
    };
    let date = || Effective::Date(day.to_owned());
    let figures: Vec<(Metric, &str, Option<f64>)> = match endpoint {
        Endpoint::DailySpo2 => vec![(
            Metric::OxygenSaturation,
            "spo2_percentage.average",
            number(&record["spo2_percentage"]["average"]),
        )],
        Endpoint::DailyReadiness => vec![(
            Metric::TemperatureDeviation,
            "temperature_deviation",
            number(&record["temperature_deviation"]),
        )],
        _ => vec![
            (Metric::Steps, "steps", number(&record["steps"])),
            (
                Metric::ActiveEnergy,
                "active_calories",
                number(&record["active_calories"]),
            ),
            (
                Metric::Distance,
                "equivalent_walking_distance",
                number(&record["equivalent_walking_distance"]),
            ),
        ],
    };
    if figures.iter().all(|(_, _, value)| value.is_none()) {
        let fields: Vec<&str> = figures.iter().map(|(_, field, _)| *field).collect();
        return out.skip(
            at,
            format!("no value in `{}` for {day}", fields.join("`, `")),
        );
    }
    for (metric, _, value) in figures {
        if let Some(value) = value {
            out.push(origin.quantity(metric, date(), value));
        }
    }
}
