//! Android Health Connect records, exported as JSON → [`Sample`](super::Sample)s.
//!
//! Health Connect has no export format of its own: an Android app reads the records with
//! the Jetpack client (`androidx.health.connect.client.records`) and sends them. This
//! module defines that JSON as the records' own property names, so an app can write it
//! with any serializer that follows the Kotlin properties:
//!
//! ```json
//! {"records": [
//!   {"type": "HeartRateRecord",
//!    "startTime": "2024-03-01T06:15:00Z", "startZoneOffset": "+01:00",
//!    "endTime": "2024-03-01T06:20:00Z", "endZoneOffset": "+01:00",
//!    "samples": [{"time": "2024-03-01T06:15:00Z", "beatsPerMinute": 62}],
//!    "metadata": {"id": "8a9c…", "dataOrigin": {"packageName": "com.fitbit.FitbitMobile"},
//!                 "device": {"type": 1, "manufacturer": "Google", "model": "Pixel Watch 2"},
//!                 "recordingMethod": 2}},
//!   {"type": "WeightRecord", "time": "2024-03-01T06:30:00Z", "zoneOffset": "+01:00",
//!    "weight": {"inKilograms": 72.4}, "metadata": {"id": "…"}}
//! ]}
//! ```
//!
//! * `type` is the record class's simple name.
//! * Times are `Instant.toString()` (UTC, `Z`); offsets are `ZoneOffset.toString()`
//!   (`+01:00`, `Z`) or absent/`null` when unknown. Every time is written in the local
//!   time of its record's offset (`2024-03-01T07:15:00+01:00`); heart-rate samples use
//!   `startZoneOffset`; without an offset the time stays UTC (`Z`).
//! * Unit-typed values (`Mass`, `Length`, `Energy`, `Pressure`, `Temperature`,
//!   `BloodGlucose`) are an object with one of the class's `in…` accessors:
//!   `{"inKilograms": 72.4}`, `{"inPounds": 159.6}`, `{"inMeters": 1200}`,
//!   `{"inKilocalories": 85}`, `{"inMillimetersOfMercury": 120}`, `{"inCelsius": 36.8}`,
//!   `{"inMillimolesPerLiter": 5.5}`; `Percentage` is `{"value": 97}`. Integer constants
//!   (`stage`, `device.type`, `recordingMethod`) are their numbers.
//! * `metadata.dataOrigin` is `{"packageName": …}` (or the package name as a string).
//!
//! | `type` | read | → |
//! |---|---|---|
//! | `HeartRateRecord` | `samples[].time`, `.beatsPerMinute` | heart rate per sample (`record_id` `{id}/samples/{n}`) |
//! | `RestingHeartRateRecord` | `time`, `beatsPerMinute` | resting heart rate |
//! | `HeartRateVariabilityRmssdRecord` | `time`, `heartRateVariabilityMillis` | HRV RMSSD |
//! | `StepsRecord` | `startTime`..`endTime`, `count` | steps |
//! | `DistanceRecord` | `distance` (Length) | distance, m |
//! | `ActiveCaloriesBurnedRecord` | `energy` (Energy) | active energy, kcal |
//! | `SleepSessionRecord` | `startTime`..`endTime`, `stages[]` | sleep, minutes per stage |
//! | `OxygenSaturationRecord` | `time`, `percentage` | SpO2, % |
//! | `RespiratoryRateRecord` | `time`, `rate` | respiratory rate |
//! | `WeightRecord` | `time`, `weight` (Mass) | body weight, kg |
//! | `HeightRecord` | `time`, `height` (Length) | body height, cm |
//! | `BloodPressureRecord` | `time`, `systolic`, `diastolic` (Pressure) | blood pressure |
//! | `BodyTemperatureRecord` | `time`, `temperature` (Temperature) | body temperature, Cel |
//! | `BloodGlucoseRecord` | `time`, `level` (BloodGlucose) | glucose, mg/dL (mmol/L × 18.016) |
//! | `Vo2MaxRecord` | `time`, `vo2MillilitersPerMinuteKilogram` | VO2 max |
//!
//! Sleep stages (`SleepSessionRecord.STAGE_TYPE_*`): 1 awake and 3 out of bed → awake;
//! 2 sleeping → asleep (stage unknown); 4 light, 5 deep, 6 REM; 7 awake in bed and 0
//! unknown → in bed (in the session, not counted asleep). A session without stages is
//! asleep for its whole span. The record id is `metadata.id`. The device is
//! `metadata.device` (`Device.TYPE_*`: 1 watch, 6 fitness band → watch, 2 phone, 3 scale,
//! 4 ring), or [`DeviceKind::Manual`] when `recordingMethod` is 3 (manual entry); a
//! record with only a `dataOrigin` names that app as a [`DeviceKind::Manual`] source (an
//! app without a device). Other record types are skipped with their name.

use serde_json::Value;

use super::calendar::{format_instant, parse_instant, parse_offset};
use super::vendor_json::{Emitter, Origin, add_stage, not_a_payload, number, round6};
use super::{
    DeviceInfo, DeviceKind, Effective, Metric, ParseReport, Reading, SampleSink, SleepStage,
};
use crate::Error;
use crate::json::{parse_document, ptr};

const EXPECTED: &str = "`records` (a list of Health Connect records)";

/// Reads a Health Connect export (the JSON shape in the module documentation), pushing a
/// [`Sample`](super::Sample) per value.
///
/// Errors: invalid JSON ([`Error::Malformed`] at its line and column), or a document
/// without a `records` list (at `/`).
pub fn parse(json: &[u8], sink: &mut impl SampleSink) -> Result<ParseReport, Error> {
    let doc = parse_document(json)?;
    let Some(records) = doc.get("records").and_then(Value::as_array) else {
        return Err(not_a_payload("Health Connect", EXPECTED, &doc));
    };
    let mut out = Emitter::new(sink);
    for (i, record) in records.iter().enumerate() {
        read_record(record, &ptr("/records", i), &mut out);
    }
    Ok(out.finish())
}

const MASS_KG: &[(&str, f64)] = &[
    ("inKilograms", 1.0),
    ("inGrams", 1e-3),
    ("inMilligrams", 1e-6),
    ("inMicrograms", 1e-9),
    ("inPounds", 0.453_592_37),
    ("inOunces", 0.028_349_523_125),
];
const LENGTH_M: &[(&str, f64)] = &[
    ("inMeters", 1.0),
    ("inKilometers", 1000.0),
    ("inMiles", 1609.344),
    ("inFeet", 0.3048),
    ("inInches", 0.0254),
];
const ENERGY_KCAL: &[(&str, f64)] = &[
    ("inKilocalories", 1.0),
    ("inCalories", 1e-3),
    ("inKilojoules", 1.0 / 4.184),
    ("inJoules", 1.0 / 4184.0),
];
const PRESSURE_MMHG: &[(&str, f64)] = &[("inMillimetersOfMercury", 1.0)];
const GLUCOSE_MG_DL: &[(&str, f64)] = &[
    ("inMilligramsPerDeciliter", 1.0),
    ("inMillimolesPerLiter", 18.016),
];

/// A unit-typed value in the canonical unit: the first `in…` accessor present, converted.
fn measure(value: &Value, units: &[(&str, f64)]) -> Option<f64> {
    units.iter().find_map(|&(accessor, factor)| {
        number(&value[accessor]).map(|v| if factor == 1.0 { v } else { round6(v * factor) })
    })
}

fn celsius(value: &Value) -> Option<f64> {
    number(&value["inCelsius"])
        .or_else(|| number(&value["inFahrenheit"]).map(|f| round6((f - 32.0) * 5.0 / 9.0)))
}

/// A time written in the local time of its offset, or UTC without one. `None` when the
/// time or a present offset cannot be read.
fn local_time(time: &Value, offset: &Value) -> Option<String> {
    let (seconds, nanos, _) = parse_instant(time.as_str()?)?;
    let offset = match offset {
        Value::Null => None,
        other => Some(parse_offset(other.as_str()?)?),
    };
    Some(format_instant(seconds, nanos, offset))
}

fn instant(record: &Value) -> Option<Effective> {
    local_time(&record["time"], &record["zoneOffset"]).map(Effective::Instant)
}

fn interval(record: &Value) -> Option<Effective> {
    Some(Effective::Period {
        start: local_time(&record["startTime"], &record["startZoneOffset"])?,
        end: local_time(&record["endTime"], &record["endZoneOffset"])?,
    })
}

/// Minutes between two instants.
fn minutes_between(start: &Value, end: &Value) -> Option<f64> {
    let (s, sn, _) = parse_instant(start.as_str()?)?;
    let (e, en, _) = parse_instant(end.as_str()?)?;
    let seconds = (e - s) as f64 + (f64::from(en) - f64::from(sn)) / 1e9;
    (seconds >= 0.0).then(|| round6(seconds / 60.0))
}

fn stage(code: i64) -> Option<SleepStage> {
    match code {
        1 | 3 => Some(SleepStage::Awake),
        2 => Some(SleepStage::Asleep),
        4 => Some(SleepStage::Light),
        5 => Some(SleepStage::Deep),
        6 => Some(SleepStage::Rem),
        0 | 7 => Some(SleepStage::InBed),
        _ => None,
    }
}

fn sleep_reading(record: &Value) -> Result<Reading, String> {
    let mut stages = Vec::new();
    let list = record["stages"].as_array().map_or(&[][..], Vec::as_slice);
    for (i, entry) in list.iter().enumerate() {
        let code = entry["stage"].as_i64();
        let Some(kind) = code.and_then(stage) else {
            return Err(format!("stages[{i}]: unknown stage {}", entry["stage"]));
        };
        let Some(minutes) = minutes_between(&entry["startTime"], &entry["endTime"]) else {
            return Err(format!("stages[{i}]: needs `startTime` before `endTime`"));
        };
        add_stage(&mut stages, kind, minutes);
    }
    if stages.is_empty() {
        let minutes = minutes_between(&record["startTime"], &record["endTime"])
            .ok_or("needs `startTime` before `endTime`")?;
        stages.push((SleepStage::Asleep, minutes));
    }
    Ok(Reading::Sleep { stages })
}

/// The device (or app) a record's metadata names.
fn device(metadata: &Value) -> Option<DeviceInfo> {
    let app = metadata["dataOrigin"]
        .as_str()
        .or(metadata["dataOrigin"]["packageName"].as_str())
        .filter(|a| !a.is_empty());
    let device = &metadata["device"];
    let text = |key: &str| device[key].as_str().filter(|s| !s.is_empty());
    let (manufacturer, model) = (text("manufacturer"), text("model"));
    let name: Vec<&str> = manufacturer.into_iter().chain(model).collect();
    let manual = metadata["recordingMethod"].as_i64() == Some(3);
    if name.is_empty() {
        return app.map(|app| DeviceInfo {
            key: app.to_owned(),
            name: Some(app.to_owned()),
            manufacturer: None,
            model: None,
            version: None,
            kind: DeviceKind::Manual,
        });
    }
    let kind = match device["type"].as_i64() {
        _ if manual => DeviceKind::Manual,
        Some(1 | 6) => DeviceKind::Watch,
        Some(2) => DeviceKind::Phone,
        Some(3) => DeviceKind::Scale,
        Some(4) => DeviceKind::Ring,
        _ => DeviceKind::Other,
    };
    Some(DeviceInfo {
        key: name.join(" "),
        name: Some(name.join(" ")),
        manufacturer: manufacturer.map(str::to_owned),
        model: model.map(str::to_owned),
        version: None,
        kind,
    })
}

fn read_record(record: &Value, at: &str, out: &mut Emitter<'_>) {
    let Some(kind) = record["type"].as_str() else {
        out.skip(at, "a record without `type`");
        return;
    };
    let metadata = &record["metadata"];
    let id = metadata["id"].as_str().filter(|id| !id.is_empty());
    let device = device(metadata);
    let origin = Origin {
        record_id: id,
        device: device.as_ref(),
        vendor_code: kind,
    };

    if kind == "HeartRateRecord" {
        let samples = record["samples"].as_array().map_or(&[][..], Vec::as_slice);
        for (n, sample) in samples.iter().enumerate() {
            let when = local_time(&sample["time"], &record["startZoneOffset"]);
            let (Some(when), Some(bpm)) = (when, number(&sample["beatsPerMinute"])) else {
                out.skip(
                    ptr(&ptr(at, "samples"), n),
                    "needs a `time` instant and `beatsPerMinute`",
                );
                continue;
            };
            let sample_id = id.map(|id| format!("{id}/samples/{n}"));
            let origin = Origin {
                record_id: sample_id.as_deref(),
                ..origin
            };
            out.push(origin.quantity(Metric::HeartRate, Effective::Instant(when), bpm));
        }
        return;
    }

    let quantity = |v: Option<f64>| v.map(Reading::Quantity).ok_or("no value");
    let (metric, effective, reading): (Metric, Option<Effective>, Result<Reading, String>) =
        match kind {
            "RestingHeartRateRecord" => (
                Metric::RestingHeartRate,
                instant(record),
                quantity(number(&record["beatsPerMinute"]))
                    .map_err(|e| format!("{e} in `beatsPerMinute`")),
            ),
            "HeartRateVariabilityRmssdRecord" => (
                Metric::HrvRmssd,
                instant(record),
                quantity(number(&record["heartRateVariabilityMillis"]))
                    .map_err(|e| format!("{e} in `heartRateVariabilityMillis`")),
            ),
            "StepsRecord" => (
                Metric::Steps,
                interval(record),
                quantity(number(&record["count"])).map_err(|e| format!("{e} in `count`")),
            ),
            "DistanceRecord" => (
                Metric::Distance,
                interval(record),
                quantity(measure(&record["distance"], LENGTH_M))
                    .map_err(|e| format!("{e} in `distance` (a Length)")),
            ),
            "ActiveCaloriesBurnedRecord" => (
                Metric::ActiveEnergy,
                interval(record),
                quantity(measure(&record["energy"], ENERGY_KCAL))
                    .map_err(|e| format!("{e} in `energy` (an Energy)")),
            ),
            "SleepSessionRecord" => (Metric::Sleep, interval(record), sleep_reading(record)),
            "OxygenSaturationRecord" => (
                Metric::OxygenSaturation,
                instant(record),
                quantity(number(&record["percentage"]["value"]))
                    .map_err(|e| format!("{e} in `percentage.value`")),
            ),
            "RespiratoryRateRecord" => (
                Metric::RespiratoryRate,
                instant(record),
                quantity(number(&record["rate"])).map_err(|e| format!("{e} in `rate`")),
            ),
            "WeightRecord" => (
                Metric::BodyWeight,
                instant(record),
                quantity(measure(&record["weight"], MASS_KG))
                    .map_err(|e| format!("{e} in `weight` (a Mass)")),
            ),
            "HeightRecord" => (
                Metric::BodyHeight,
                instant(record),
                quantity(measure(&record["height"], LENGTH_M).map(|m| round6(m * 100.0)))
                    .map_err(|e| format!("{e} in `height` (a Length)")),
            ),
            "BloodPressureRecord" => (
                Metric::BloodPressure,
                instant(record),
                match (
                    measure(&record["systolic"], PRESSURE_MMHG),
                    measure(&record["diastolic"], PRESSURE_MMHG),
                ) {
                    (Some(systolic), Some(diastolic)) => Ok(Reading::BloodPressure {
                        systolic,
                        diastolic,
                    }),
                    _ => Err("needs `systolic` and `diastolic` (Pressures)".to_owned()),
                },
            ),
            "BodyTemperatureRecord" => (
                Metric::BodyTemperature,
                instant(record),
                quantity(celsius(&record["temperature"]))
                    .map_err(|e| format!("{e} in `temperature` (a Temperature)")),
            ),
            "BloodGlucoseRecord" => (
                Metric::BloodGlucose,
                instant(record),
                quantity(measure(&record["level"], GLUCOSE_MG_DL))
                    .map_err(|e| format!("{e} in `level` (a BloodGlucose)")),
            ),
            "Vo2MaxRecord" => (
                Metric::Vo2Max,
                instant(record),
                quantity(number(&record["vo2MillilitersPerMinuteKilogram"]))
                    .map_err(|e| format!("{e} in `vo2MillilitersPerMinuteKilogram`")),
            ),
            other => {
                out.skip(at, format!("record type `{other}` is not mapped"));
                return;
            }
        };
    match (effective, reading) {
        (Some(effective), Ok(reading)) => out.push(origin.sample(metric, effective, reading)),
        (None, _) => out.skip(
            at,
            format!("{kind}: needs its time(s) as instants and valid zone offsets"),
        ),
        (_, Err(reason)) => out.skip(at, format!("{kind}: {reason}")),
    }
}
