//! The iHealth parser over every iHealth response of Open mHealth Shimmer's test resources
//! (`fixtures/wearables/openmhealth-shimmer/ihealth/`, 19 files). Expected samples are
//! written from reading each file: `MDate` and the sleep times are local wall-clock epoch
//! seconds, so 1442491463 is 12:04:23 (read as UTC) and with `"TimeZone": "-0800"` becomes
//! `2015-09-17T12:04:23-08:00` (Shimmer's own tests expect the same times).

use std::io::Cursor;
use std::path::PathBuf;

use mappers::Error;
use mappers::wearable::{
    DeviceKind, Effective, ParseReport, Reading, Sample, Source, ihealth, parse,
};

fn fixture(name: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/wearables/openmhealth-shimmer/ihealth")
        .join(name);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn read(name: &str) -> (Vec<Sample>, ParseReport) {
    let mut samples = Vec::new();
    let report =
        ihealth::parse(&fixture(name), &mut samples).unwrap_or_else(|e| panic!("{name}: {e}"));
    // Every record is either a sample or a skip.
    assert_eq!(
        report.records,
        samples.len() as u64 + report.skipped_total,
        "{name}"
    );
    (samples, report)
}

/// `metric time value`, plus `manual` for values typed in by hand.
fn line(sample: &Sample) -> String {
    let time = match &sample.effective {
        Effective::Instant(t) | Effective::Date(t) => t.clone(),
        Effective::Period { start, end } => format!("{start}..{end}"),
    };
    let value = match &sample.reading {
        Reading::Quantity(v) => v.to_string(),
        Reading::BloodPressure {
            systolic,
            diastolic,
        } => format!("{systolic}/{diastolic}"),
        Reading::Sleep { stages } => format!("{stages:?}"),
    };
    let manual = match &sample.device {
        Some(d) if d.kind == DeviceKind::Manual => " manual",
        Some(d) => panic!("unexpected device {d:?}"),
        None => "",
    };
    format!("{:?} {time} {value}{manual}", sample.metric)
}

fn lines(samples: &[Sample]) -> Vec<String> {
    samples.iter().map(line).collect()
}

fn ids(samples: &[Sample]) -> Vec<&str> {
    samples
        .iter()
        .map(|s| s.record_id.as_deref().unwrap())
        .collect()
}

fn skipped(report: &ParseReport) -> Vec<String> {
    report
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.position, s.reason))
        .collect()
}

#[test]
fn every_empty_page_is_zero_samples() {
    for name in [
        "ihealth-activity-empty.json",
        "ihealth-bp-empty.json",
        "ihealth-glucose-empty.json",
        "ihealth-sleep-empty.json",
        "ihealth-spo2-empty.json",
        "ihealth-sport-empty.json",
        "ihealth-weight-empty.json",
    ] {
        let (samples, report) = read(name);
        assert!(samples.is_empty(), "{name}");
        assert_eq!(report, ParseReport::default(), "{name}");
    }
}

#[test]
fn blood_pressure_with_its_heart_rate() {
    let (samples, report) = read("ihealth-bp.json");
    assert_eq!(
        lines(&samples),
        [
            "BloodPressure 2015-09-17T12:04:23-08:00 120/90",
            "HeartRate 2015-09-17T12:04:23-08:00 100",
            "BloodPressure 2015-09-17T14:07:45-06:00 130/95 manual",
            "HeartRate 2015-09-17T14:07:45-06:00 75 manual",
        ]
    );
    assert_eq!(
        ids(&samples),
        [
            "c62b84d9d4b7480a8ff2aef1465aa454",
            "c62b84d9d4b7480a8ff2aef1465aa454",
            "d6c08fb0bde6dc50db5c5f305a76c455",
            "d6c08fb0bde6dc50db5c5f305a76c455",
        ]
    );
    assert_eq!(samples[0].vendor_code.as_deref(), Some("BPDataList.HP/LP"));
    assert_eq!(samples[1].vendor_code.as_deref(), Some("BPDataList.HR"));
    assert_eq!(report.records, 4);
    assert!(report.skipped.is_empty());

    // `HR: 0` is no heart rate, not a heart rate of zero.
    let (samples, report) = read("ihealth-bp-no-heart-rate.json");
    assert_eq!(
        lines(&samples),
        ["BloodPressure 2015-09-17T14:07:45-06:00 130/95 manual"]
    );
    assert!(report.skipped.is_empty());
}

#[test]
fn glucose_in_mg_dl() {
    let (samples, report) = read("ihealth-glucose.json");
    assert_eq!(
        lines(&samples),
        [
            "BloodGlucose 2015-09-17T12:03:27-08:00 60",
            "BloodGlucose 2015-09-24T14:44:40-06:00 70 manual",
        ]
    );
    assert_eq!(
        ids(&samples),
        [
            "f706b6152f684c0e9185b1fa6b7c5148",
            "b0d61f8df4214f938a8d05d0ac583baa"
        ]
    );
    assert_eq!(samples[0].metric.info().unit, "mg/dL");
    assert_eq!(report.records, 2);
}

#[test]
fn spo2_with_and_without_its_values() {
    let (samples, _) = read("ihealth-spo2.json");
    assert_eq!(
        lines(&samples),
        [
            "OxygenSaturation 2015-09-23T15:46:00-06:00 99",
            "HeartRate 2015-09-23T15:46:00-06:00 80",
            "OxygenSaturation 2015-09-24T15:03:00-06:00 90 manual",
            "HeartRate 2015-09-24T15:03:00-06:00 65 manual",
        ]
    );
    assert_eq!(
        samples[3].record_id.as_deref(),
        Some("217e56a104cf8462f4977fd8bf743ca5")
    );
    assert_eq!(samples[3].vendor_code.as_deref(), Some("BODataList.HR"));

    let (samples, report) = read("ihealth-spo2-no-heart-rate.json");
    assert_eq!(
        lines(&samples),
        ["OxygenSaturation 2015-09-23T15:46:00-06:00 99"]
    );
    assert!(report.skipped.is_empty());

    // `BO` and `HR` both 0: nothing measured.
    let (samples, report) = read("ihealth-spo2-no-oxygen-saturation.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        ["/BODataList/0: no SpO2: `BO` is 0 or absent (not measured)"]
    );
    assert_eq!(report.records, 1);
}

#[test]
fn weight_and_body_fat() {
    let (samples, report) = read("ihealth-weight.json");
    // BMI 22.56… has no metric; `FatValue: 0` of the second weighing is not measured.
    assert_eq!(
        lines(&samples),
        [
            "BodyWeight 2015-09-17T12:04:09-08:00 77.5643875134944",
            "BodyFat 2015-09-17T12:04:09-08:00 10",
            "BodyWeight 2015-09-17T14:07:57-06:00 77.56438446044922 manual",
        ]
    );
    assert_eq!(
        ids(&samples),
        [
            "5fe5893c418b48cd8da7954f8b6c2f36",
            "5fe5893c418b48cd8da7954f8b6c2f36",
            "b702a3a5e998f2fca268df6daaa69871",
        ]
    );
    assert!(report.skipped.is_empty());

    let (samples, report) = read("ihealth-weight-no-weight-value.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        ["/WeightDataList/0: no weight: `WeightValue` is 0 or absent (not measured)"]
    );
}

#[test]
fn sleep_periods_in_minutes_asleep() {
    // `HoursSlept` is minutes: 345 of the 445-minute first period is `SleepEfficiency` 77.
    let (samples, report) = read("ihealth-sleep.json");
    assert_eq!(
        lines(&samples),
        [
            "Sleep 2015-11-15T01:51:00-07:00..2015-11-15T09:16:00-07:00 [(Asleep, 345.0)]",
            "Sleep 2015-11-15T13:51:00+01:00..2015-11-15T17:16:00+01:00 [(Asleep, 195.0)]",
            "Sleep 2015-11-16T00:27:00-07:00..2015-11-16T07:12:00-07:00 [(Asleep, 355.0)] manual",
        ]
    );
    assert_eq!(
        ids(&samples),
        [
            "7eb7292b90d710ae7b7f61b75f9425cf",
            "34aa1c5351f965dbb6a09f3c5b730e83",
            "ed650c323ebd78e444430291675bd2fd",
        ]
    );
    assert_eq!(report.records, 3);
}

#[test]
fn activity_as_daily_steps_and_distance() {
    // 0.01743 km (`DistanceUnit` 0) is 17.43 m; the second day has no distance (0).
    let (samples, report) = read("ihealth-activity.json");
    assert_eq!(
        lines(&samples),
        [
            "Steps 2015-11-16 21",
            "Distance 2015-11-16 17.43",
            "Steps 2015-11-18 4398 manual",
        ]
    );
    assert_eq!(
        ids(&samples),
        [
            "ac67c4ccf64af669d92569af85d19f59",
            "ac67c4ccf64af669d92569af85d19f59",
            "a1c7ec7c4d75cf1fdb15e0d8acc4f83c",
        ]
    );
    assert!(report.skipped.is_empty());

    // Steps and distance 0: only `Calories` (1963, total energy) is left, not imported.
    let (samples, report) = read("ihealth-activity-no-steps.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [
            "/ARDataList/0: no steps or distance (`Calories` is total energy, basal included: not imported)"
        ]
    );
}

#[test]
fn workouts_are_skipped_with_the_reason() {
    let (samples, report) = read("ihealth-sport.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [
            "/SPORTDataList/0: workouts are not imported yet",
            "/SPORTDataList/1: workouts are not imported yet",
        ]
    );
}

#[test]
fn through_the_source_dispatch() {
    assert_eq!(Source::from_code("ihealth"), Some(Source::IHealth));
    assert_eq!(Source::IHealth.display(), "iHealth");
    let mut samples: Vec<Sample> = Vec::new();
    let report = parse(
        Source::IHealth,
        Cursor::new(fixture("ihealth-glucose.json")),
        &mut samples,
    )
    .unwrap();
    assert_eq!(report.records, 2);
    assert_eq!(samples[1].reading, Reading::Quantity(70.0));
}

#[test]
fn a_truncated_page_is_malformed_at_its_line_and_column() {
    let bp = fixture("ihealth-bp.json");
    // Cut inside line 5, `            "DataID": "c62b`: 12 spaces, `"DataID":`, a space and
    // `"c62b` are 27 characters.
    let cut = String::from_utf8(bp).unwrap();
    let end = cut.find("c62b").unwrap() + 4;
    let mut samples = Vec::new();
    let Err(Error::Malformed { position, reason }) =
        ihealth::parse(&cut.as_bytes()[..end], &mut samples)
    else {
        panic!("accepted a cut-off page");
    };
    assert_eq!(position, "line 5, column 27");
    assert_eq!(reason, "invalid JSON: EOF while parsing a string");
    assert!(samples.is_empty());
}

#[test]
fn a_page_of_no_ihealth_list_is_malformed() {
    let mut samples = Vec::new();
    let Err(Error::Malformed { position, reason }) =
        ihealth::parse(br#"{"RecordCount": 0, "PageNumber": 1}"#, &mut samples)
    else {
        panic!("accepted a page without a list");
    };
    assert_eq!(position, "/");
    assert!(reason.starts_with("not a iHealth payload"), "{reason}");
    let Err(Error::Malformed { position, .. }) =
        ihealth::parse(br#"{"BPDataList": {}, "BPUnit": 0}"#, &mut samples)
    else {
        panic!("accepted a list that is an object");
    };
    assert_eq!(position, "/BPDataList");
}
