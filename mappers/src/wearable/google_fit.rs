//! Google Fit REST datasets and Google Health API data points → [`Sample`](super::Sample)s.
//!
//! Both belong to the [`Source::GoogleFit`](super::Source::GoogleFit) source (the Health
//! API, `health.googleapis.com`, succeeds the Fitbit Web API and Google Fit), and one
//! [`parse`] tells them apart by their top-level keys:
//!
//! | top-level keys | payload |
//! |---|---|
//! | `dataSourceId` with `point` or `minStartTimeNs` | Fit `users.dataSources.datasets.get` (a merge stream); no `point` → zero samples |
//! | `bucket` | Fit `users.dataset.aggregate`: the points of every `bucket[].dataset[]` |
//! | `dataPoints` | Health API `users.dataTypes.dataPoints.list` |
//! | `dataSource` | one Health API data point (`dataPoints.get`) |
//! | `error` | a Google API error body: [`Error::Malformed`] at `/error` with its code, status and message |
//!
//! **Google Fit.** Times are epoch **nanoseconds** (`startTimeNanos`), written as UTC
//! (`Z`): Fit keeps no offset. Instantaneous types (heart rate, weight, height, SpO2, blood
//! pressure, temperature, glucose) are taken at `startTimeNanos` (the fixtures show an
//! `endTimeNanos` up to 10 s later for a single weighing); interval types (steps, distance,
//! sleep) span start..end. Fit stores floats as 32-bit (`Value.asFloat()`), so its JSON
//! doubles carry float noise (`72.0999984741211` for 72.1 kg); every `fpVal` is read back
//! as the shortest decimal that 32-bit float prints as. Height is in **metres** (→ cm),
//! glucose in mmol/L (× 18.016 → mg/dL). `com.google.calories.expended` is **total**
//! energy, basal included (the fixture's `from_bmr` point is 1 672.5 kcal): it is not
//! active energy and is skipped, like location and speed. `com.google.activity.segment`
//! yields sleep only for the sleep activities (72 sleep, 109 light, 110 deep, 111 REM, 112
//! awake); every other activity is skipped. The device is the point's
//! `originDataSourceId` (`type:dataType:app[:manufacturer:model:uid]:stream`): with a
//! device part it is a phone, or a watch when its text says so; without one it is an app
//! ([`DeviceKind::Manual`], entered by hand or by an app without a device).
//!
//! **Google Health API.** Sample times (`sampleTime.physicalTime`) and intervals
//! (`interval.startTime`/`endTime`) are UTC instants written in the local time of their
//! `utcOffset` (`"-14400s"` → `-04:00`); daily types carry a `date` object (→ a FHIR
//! date). Int64 fields arrive as strings (`"beatsPerMinute": "72"`). Mapped: heart rate,
//! daily resting heart rate, daily SpO2 (`averagePercentage`), steps, distance
//! (`millimeters` → m), active energy (`kcal`), sleep (minutes per stage from
//! `summary.stagesSummary`, or summed from `stages[]`; `RESTLESS` counts as awake, as
//! Fitbit's `minutesAwake` does) and weight (`weightGrams` → kg). Active-zone minutes and
//! exercise sessions are skipped with a reason. The device is `dataSource.device`
//! (`formFactor`; the fixtures' Charge 5 comes both with `FITNESS_BAND` and without a form
//! factor, so a `FITBIT`-platform device without one is taken as a wrist device). The
//! record id is the data point's `name` from `dataTypes/` on, which does not depend on the
//! user id in front of it.

use serde_json::Value;

use super::calendar::{
    format_date, format_instant, parse_epoch_nanos, parse_instant, valid_offset,
};
use super::vendor_json::{Emitter, Origin, add_stage, not_a_payload, number, round6};
use super::{
    DeviceInfo, DeviceKind, Effective, Metric, ParseReport, Reading, SampleSink, SleepStage,
};
use crate::Error;
use crate::json::{parse_document, ptr};

const EXPECTED: &str = "a Google Fit dataset (`dataSourceId`, `point`), an aggregate (`bucket`), Health API `dataPoints`, a Health API data point (`dataSource`)";

/// Reads one Google Fit dataset or aggregate response, or one Google Health API data point
/// or list, pushing a [`Sample`](super::Sample) per value.
///
/// Errors: invalid JSON ([`Error::Malformed`] at its line and column), a Google API error
/// body (at `/error`, with the API's message), or any other shape (at `/`).
pub fn parse(json: &[u8], sink: &mut impl SampleSink) -> Result<ParseReport, Error> {
    let doc = parse_document(json)?;
    let mut out = Emitter::new(sink);
    if let Some(error) = doc.get("error") {
        return Err(api_error(error));
    }
    if let Some(points) = doc.get("dataPoints") {
        for (i, point) in points
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .enumerate()
        {
            health_point(point, &ptr("/dataPoints", i), &mut out);
        }
    } else if doc.get("dataSource").is_some() {
        health_point(&doc, "", &mut out);
    } else if let Some(buckets) = doc.get("bucket").and_then(Value::as_array) {
        for (b, bucket) in buckets.iter().enumerate() {
            let datasets = bucket["dataset"].as_array().map_or(&[][..], Vec::as_slice);
            for (d, dataset) in datasets.iter().enumerate() {
                let at = ptr(&ptr(&ptr(&ptr("", "bucket"), b), "dataset"), d);
                fit_dataset(dataset, &at, &mut out);
            }
        }
    } else if doc.get("dataSourceId").is_some()
        && (doc.get("point").is_some() || doc.get("minStartTimeNs").is_some())
    {
        fit_dataset(&doc, "", &mut out);
    } else {
        return Err(not_a_payload("Google Fit", EXPECTED, &doc));
    }
    Ok(out.finish())
}

/// A Google API error body (`{"error": {"code", "status", "message"}}`).
fn api_error(error: &Value) -> Error {
    let code = error["code"]
        .as_i64()
        .map_or_else(String::new, |c| format!(" {c}"));
    let status = error["status"]
        .as_str()
        .map_or_else(String::new, |s| format!(" {s}"));
    let message = error["message"].as_str().unwrap_or("(no message)");
    Error::Malformed {
        position: "/error".to_owned(),
        reason: format!("the Google API answered with an error{code}{status}: {message}"),
    }
}

// ---------------------------------------------------------------------------------------
// Google Fit.

/// The shortest decimal of the 32-bit float Google Fit stored.
fn fit_float(value: f64) -> f64 {
    (value as f32)
        .to_string()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .unwrap_or(value)
}

/// How a Fit data type maps: instantaneous (one time) or over its interval.
enum FitKind {
    Instant(Metric, fn(&[f64]) -> Option<Reading>),
    Interval(Metric, fn(&[f64]) -> Option<Reading>),
    ActivitySegment,
    SleepSegment,
    Skip(&'static str),
}

fn first(values: &[f64]) -> Option<Reading> {
    values.first().map(|&v| Reading::Quantity(v))
}

fn fit_kind(data_type: &str) -> FitKind {
    use FitKind::*;
    match data_type {
        "com.google.heart_rate.bpm" => Instant(Metric::HeartRate, first),
        "com.google.weight" => Instant(Metric::BodyWeight, first),
        "com.google.height" => Instant(Metric::BodyHeight, |v| {
            v.first().map(|m| Reading::Quantity(round6(m * 100.0)))
        }),
        "com.google.oxygen_saturation" => Instant(Metric::OxygenSaturation, first),
        "com.google.body.temperature" => Instant(Metric::BodyTemperature, first),
        "com.google.blood_glucose" => Instant(Metric::BloodGlucose, |v| {
            v.first()
                .map(|mmol| Reading::Quantity(round6(mmol * 18.016)))
        }),
        "com.google.blood_pressure" => Instant(Metric::BloodPressure, |v| match v {
            [systolic, diastolic, ..] => Some(Reading::BloodPressure {
                systolic: *systolic,
                diastolic: *diastolic,
            }),
            _ => None,
        }),
        "com.google.step_count.delta" => Interval(Metric::Steps, first),
        "com.google.distance.delta" => Interval(Metric::Distance, first),
        "com.google.activity.segment" => ActivitySegment,
        "com.google.sleep.segment" => SleepSegment,
        "com.google.calories.expended" => Skip("total energy (basal included), not active energy"),
        _ => Skip("not a data type HealthOS maps"),
    }
}

/// The sleep stage of a `com.google.activity.segment` activity type, if it is sleep.
fn activity_sleep_stage(activity: i64) -> Option<SleepStage> {
    match activity {
        72 => Some(SleepStage::Asleep),
        109 => Some(SleepStage::Light),
        110 => Some(SleepStage::Deep),
        111 => Some(SleepStage::Rem),
        112 => Some(SleepStage::Awake),
        _ => None,
    }
}

/// The stage of a `com.google.sleep.segment` value.
fn sleep_segment_stage(stage: i64) -> Option<SleepStage> {
    match stage {
        1 | 3 => Some(SleepStage::Awake),
        2 => Some(SleepStage::Asleep),
        4 => Some(SleepStage::Light),
        5 => Some(SleepStage::Deep),
        6 => Some(SleepStage::Rem),
        _ => None,
    }
}

/// The device (or app) of a Fit data source id.
fn fit_device(id: &str) -> DeviceInfo {
    let parts: Vec<&str> = id.split(':').collect();
    let app = parts.get(2).copied().filter(|a| !a.is_empty());
    let (manufacturer, model) = if parts.len() >= 7 {
        (Some(parts[3]), Some(parts[4]))
    } else {
        (None, None)
    };
    let kind = if id.to_ascii_lowercase().contains("watch") {
        DeviceKind::Watch
    } else if model.is_some() {
        DeviceKind::Phone
    } else {
        DeviceKind::Manual
    };
    DeviceInfo {
        key: id.to_owned(),
        name: model.or(app).map(str::to_owned),
        manufacturer: manufacturer.map(str::to_owned),
        model: model.map(str::to_owned),
        version: None,
        kind,
    }
}

fn fit_dataset(dataset: &Value, base: &str, out: &mut Emitter<'_>) {
    let points = dataset["point"].as_array().map_or(&[][..], Vec::as_slice);
    for (i, point) in points.iter().enumerate() {
        fit_point(point, dataset, &ptr(&ptr(base, "point"), i), out);
    }
}

fn fit_point(point: &Value, dataset: &Value, at: &str, out: &mut Emitter<'_>) {
    let data_type = point["dataTypeName"].as_str().unwrap_or("");
    let kind = fit_kind(data_type);
    if let FitKind::Skip(reason) = kind {
        let named = if data_type.is_empty() {
            "a point without `dataTypeName`"
        } else {
            data_type
        };
        out.skip(at, format!("{named}: {reason}"));
        return;
    }
    let times =
        parse_epoch_nanos(&point["startTimeNanos"]).zip(parse_epoch_nanos(&point["endTimeNanos"]));
    let Some(((start_s, start_n), (end_s, end_n))) = times else {
        out.skip(
            at,
            "needs `startTimeNanos` and `endTimeNanos` in nanoseconds",
        );
        return;
    };
    let values = point["value"].as_array().map_or(&[][..], Vec::as_slice);
    let floats: Vec<f64> = values
        .iter()
        .filter_map(|v| match v.get("fpVal") {
            Some(fp) => number(fp).map(fit_float),
            None => number(&v["intVal"]),
        })
        .collect();
    let source = point["originDataSourceId"]
        .as_str()
        .or(dataset["dataSourceId"].as_str());
    let device = source.map(fit_device);
    let origin = Origin {
        record_id: None,
        device: device.as_ref(),
        vendor_code: data_type,
    };
    let period = || Effective::Period {
        start: format_instant(start_s, start_n, None),
        end: format_instant(end_s, end_n, None),
    };
    let sleep = |stage: Option<SleepStage>| {
        let minutes =
            ((end_s - start_s) as f64 + (f64::from(end_n) - f64::from(start_n)) / 1e9) / 60.0;
        stage.map(|stage| Reading::Sleep {
            stages: vec![(stage, round6(minutes))],
        })
    };
    let int = floats.first().map(|&v| v as i64);
    let (metric, effective, reading) = match kind {
        FitKind::Instant(metric, read) => (
            metric,
            Effective::Instant(format_instant(start_s, start_n, None)),
            read(&floats),
        ),
        FitKind::Interval(metric, read) => (metric, period(), read(&floats)),
        FitKind::ActivitySegment => {
            let Some(stage) = int.and_then(activity_sleep_stage) else {
                let activity = int.map_or_else(|| "without a value".to_owned(), |a| a.to_string());
                out.skip(at, format!("activity type {activity} is not sleep"));
                return;
            };
            (Metric::Sleep, period(), sleep(Some(stage)))
        }
        FitKind::SleepSegment => (
            Metric::Sleep,
            period(),
            sleep(int.and_then(sleep_segment_stage)),
        ),
        FitKind::Skip(_) => return,
    };
    match reading {
        Some(reading) => out.push(origin.sample(metric, effective, reading)),
        None => out.skip(at, format!("{data_type}: no usable `value`")),
    }
}

// ---------------------------------------------------------------------------------------
// Google Health API.

/// The kind of device a Health API data source names.
fn health_device(source: &Value) -> Option<DeviceInfo> {
    let device = source.get("device")?;
    let text = |key: &str| device[key].as_str().filter(|s| !s.is_empty());
    let name = text("displayName");
    let manufacturer = text("manufacturer");
    let key: Vec<&str> = manufacturer.into_iter().chain(name).collect();
    if key.is_empty() {
        return None;
    }
    let kind = match (text("formFactor"), source["recordingMethod"].as_str()) {
        (_, Some("MANUAL")) => DeviceKind::Manual,
        (Some("FITNESS_BAND" | "WATCH"), _) => DeviceKind::Watch,
        (Some("PHONE" | "TABLET"), _) => DeviceKind::Phone,
        (Some("RING"), _) => DeviceKind::Ring,
        (Some("SCALE"), _) => DeviceKind::Scale,
        (None, _) if source["platform"] == "FITBIT" => DeviceKind::Watch,
        _ => DeviceKind::Other,
    };
    Some(DeviceInfo {
        key: key.join(" "),
        name: name.map(str::to_owned),
        manufacturer: manufacturer.map(str::to_owned),
        model: None,
        version: None,
        kind,
    })
}

/// `"-14400s"` (a protobuf Duration) in seconds, if it is an offset FHIR can write.
fn duration_seconds(value: &Value) -> Option<i32> {
    valid_offset(value.as_str()?.strip_suffix('s')?.parse().ok()?)
}

/// An instant written in the local time of its offset.
fn health_time(time: &Value, offset: &Value) -> Option<String> {
    let (seconds, nanos, _) = parse_instant(time.as_str()?)?;
    Some(format_instant(seconds, nanos, duration_seconds(offset)))
}

fn health_interval(interval: &Value) -> Option<Effective> {
    Some(Effective::Period {
        start: health_time(&interval["startTime"], &interval["startUtcOffset"])?,
        end: health_time(&interval["endTime"], &interval["endUtcOffset"])?,
    })
}

fn health_date(date: &Value) -> Option<Effective> {
    let part = |key: &str| date[key].as_i64();
    let (y, m, d) = (part("year")?, part("month")?, part("day")?);
    let text = format!("{y:04}-{m:02}-{d:02}");
    let days = super::calendar::parse_date(&text)?;
    Some(Effective::Date(format_date(days)))
}

fn health_stage(name: &str) -> Option<SleepStage> {
    match name {
        "AWAKE" | "RESTLESS" => Some(SleepStage::Awake),
        "LIGHT" => Some(SleepStage::Light),
        "DEEP" => Some(SleepStage::Deep),
        "REM" => Some(SleepStage::Rem),
        "ASLEEP" => Some(SleepStage::Asleep),
        _ => None,
    }
}

fn health_sleep(sleep: &Value) -> Option<Reading> {
    let mut stages = Vec::new();
    if let Some(summary) = sleep["summary"]["stagesSummary"].as_array() {
        for entry in summary {
            if let (Some(stage), Some(minutes)) = (
                entry["type"].as_str().and_then(health_stage),
                number(&entry["minutes"]),
            ) {
                add_stage(&mut stages, stage, minutes);
            }
        }
    } else {
        for entry in sleep["stages"].as_array().map_or(&[][..], Vec::as_slice) {
            let span = parse_instant(entry["startTime"].as_str().unwrap_or(""))
                .zip(parse_instant(entry["endTime"].as_str().unwrap_or("")));
            if let (Some(stage), Some(((start, _, _), (end, _, _)))) =
                (entry["type"].as_str().and_then(health_stage), span)
            {
                add_stage(&mut stages, stage, (end - start) as f64 / 60.0);
            }
        }
    }
    (!stages.is_empty()).then_some(Reading::Sleep { stages })
}

/// One Health API data point: `dataSource` plus one key named after its data type.
fn health_point(point: &Value, base: &str, out: &mut Emitter<'_>) {
    let Some((data_type, data)) = point.as_object().and_then(|map| {
        map.iter()
            .find(|(k, _)| !matches!(k.as_str(), "name" | "dataSource"))
    }) else {
        out.skip(
            ptr(base, "dataSource"),
            "a data point without a typed value",
        );
        return;
    };
    let at = ptr(base, data_type);
    let device = health_device(&point["dataSource"]);
    let record_id = point["name"]
        .as_str()
        .and_then(|name| name.find("dataTypes/").map(|i| name[i..].to_owned()));
    let origin = Origin {
        record_id: record_id.as_deref(),
        device: device.as_ref(),
        vendor_code: data_type,
    };
    let sample_time = || {
        health_time(
            &data["sampleTime"]["physicalTime"],
            &data["sampleTime"]["utcOffset"],
        )
        .map(Effective::Instant)
    };
    let quantity = |v: Option<f64>| v.map(Reading::Quantity);
    let (metric, effective, reading) = match data_type.as_str() {
        "heartRate" => (
            Metric::HeartRate,
            sample_time(),
            quantity(number(&data["beatsPerMinute"])),
        ),
        "dailyRestingHeartRate" => (
            Metric::RestingHeartRate,
            health_date(&data["date"]),
            quantity(number(&data["beatsPerMinute"])),
        ),
        "dailyOxygenSaturation" => (
            Metric::OxygenSaturation,
            health_date(&data["date"]),
            quantity(number(&data["averagePercentage"])),
        ),
        "steps" => (
            Metric::Steps,
            health_interval(&data["interval"]),
            quantity(number(&data["count"])),
        ),
        "distance" => (
            Metric::Distance,
            health_interval(&data["interval"]),
            quantity(number(&data["millimeters"]).map(|mm| mm / 1000.0)),
        ),
        "activeEnergyBurned" => (
            Metric::ActiveEnergy,
            health_interval(&data["interval"]),
            quantity(number(&data["kcal"])),
        ),
        "weight" => (
            Metric::BodyWeight,
            sample_time(),
            quantity(number(&data["weightGrams"]).map(|g| g / 1000.0)),
        ),
        "sleep" => (
            Metric::Sleep,
            health_interval(&data["interval"]),
            health_sleep(data),
        ),
        "activeZoneMinutes" => {
            out.skip(at, "active-zone minutes have no FHIR mapping here");
            return;
        }
        "exercise" => {
            out.skip(at, "exercise sessions are not mapped");
            return;
        }
        other => {
            out.skip(at, format!("data type `{other}` is not mapped"));
            return;
        }
    };
    match (effective, reading) {
        (Some(effective), Some(reading)) => out.push(origin.sample(metric, effective, reading)),
        (None, _) => out.skip(at, format!("`{data_type}` without a readable time or date")),
        (_, None) => out.skip(at, format!("`{data_type}` without a value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wearable::Sample;

    #[test]
    fn fit_blood_pressure_glucose_and_a_watch() {
        let json = br#"{"dataSourceId": "derived:com.google.blood_pressure:x", "point": [
          {"startTimeNanos": "1700000000000000000", "endTimeNanos": "1700000000000000000",
           "dataTypeName": "com.google.blood_pressure",
           "originDataSourceId": "raw:com.google.blood_pressure:com.omron:Omron:Watch BP:42:stream",
           "value": [{"fpVal": 121.0}, {"fpVal": 79.0}, {"intVal": 1}]},
          {"startTimeNanos": "1700000060000000000", "endTimeNanos": "1700000060000000000",
           "dataTypeName": "com.google.blood_glucose",
           "originDataSourceId": "raw:com.google.blood_glucose:com.app:",
           "value": [{"fpVal": 5.5}]}]}"#;
        let mut samples: Vec<Sample> = Vec::new();
        let report = parse(json, &mut samples).unwrap();
        assert_eq!(report.records, 2);
        assert_eq!(
            samples[0].reading,
            Reading::BloodPressure {
                systolic: 121.0,
                diastolic: 79.0
            }
        );
        assert_eq!(
            samples[0].effective,
            Effective::Instant("2023-11-14T22:13:20Z".into())
        );
        let device = samples[0].device.as_ref().unwrap();
        assert_eq!(device.kind, DeviceKind::Watch);
        assert_eq!(device.manufacturer.as_deref(), Some("Omron"));
        // 5.5 mmol/L × 18.016 = 99.088 mg/dL.
        assert_eq!(samples[1].reading, Reading::Quantity(99.088));
        assert_eq!(samples[1].device.as_ref().unwrap().kind, DeviceKind::Manual);
    }

    #[test]
    fn fit_aggregate_buckets_point_into_their_datasets() {
        let json = br#"{"bucket": [{"startTimeMillis": "1700000000000", "endTimeMillis": "1700086400000",
          "dataset": [{"dataSourceId": "derived:com.google.step_count.delta:com.google.android.gms:aggregated",
            "point": [{"startTimeNanos": "1700000000000000000", "endTimeNanos": "1700086400000000000",
                       "dataTypeName": "com.google.step_count.delta", "value": [{"intVal": 8123}]},
                      {"startTimeNanos": "1700000000000000000", "endTimeNanos": "1700086400000000000",
                       "dataTypeName": "com.google.distance.delta", "value": []}]}]}]}"#;
        let mut samples: Vec<Sample> = Vec::new();
        let report = parse(json, &mut samples).unwrap();
        assert_eq!(samples[0].reading, Reading::Quantity(8123.0));
        assert_eq!(
            samples[0].effective,
            Effective::Period {
                start: "2023-11-14T22:13:20Z".into(),
                end: "2023-11-15T22:13:20Z".into()
            }
        );
        // Without an origin, the device is the dataset's stream (an app, no device part).
        assert_eq!(samples[0].device.as_ref().unwrap().kind, DeviceKind::Manual);
        assert_eq!(report.skipped[0].position, "/bucket/0/dataset/0/point/1");
        assert_eq!(
            report.skipped[0].reason,
            "com.google.distance.delta: no usable `value`"
        );
    }

    #[test]
    fn health_api_list_with_classic_sleep_summed_from_stages() {
        let json = br#"{"dataPoints": [{"dataSource": {"platform": "FITBIT"},
          "sleep": {"interval": {"startTime": "2026-01-01T22:00:00Z", "startUtcOffset": "3600s",
                                 "endTime": "2026-01-02T06:00:00Z", "endUtcOffset": "3600s"},
                    "type": "CLASSIC",
                    "stages": [{"startTime": "2026-01-01T22:00:00Z", "endTime": "2026-01-02T01:00:00Z", "type": "ASLEEP"},
                               {"startTime": "2026-01-02T01:00:00Z", "endTime": "2026-01-02T01:10:00Z", "type": "RESTLESS"},
                               {"startTime": "2026-01-02T01:10:00Z", "endTime": "2026-01-02T05:50:00Z", "type": "ASLEEP"},
                               {"startTime": "2026-01-02T05:50:00Z", "endTime": "2026-01-02T06:00:00Z", "type": "AWAKE"}]}}],
          "nextPageToken": ""}"#;
        let mut samples: Vec<Sample> = Vec::new();
        parse(json, &mut samples).unwrap();
        assert_eq!(
            samples[0].effective,
            Effective::Period {
                start: "2026-01-01T23:00:00+01:00".into(),
                end: "2026-01-02T07:00:00+01:00".into()
            }
        );
        assert_eq!(
            samples[0].reading,
            Reading::Sleep {
                stages: vec![(SleepStage::Asleep, 460.0), (SleepStage::Awake, 20.0)]
            }
        );
        assert_eq!(samples[0].device, None);
    }
}
