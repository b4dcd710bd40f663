//! `wearable::fhir`: hand-built Samples → the exact resources expected, written out by
//! hand from the rules in the module docs (codes from `../shared/mapping-notes.md`).

use mappers::wearable::fhir::{
    Assembler, AssemblySummary, ImportContext, identifier_system, provenance,
    reference_by_identifier, vendor_code_system,
};
use mappers::wearable::{
    DeviceInfo, DeviceKind, Effective, Metric, Reading, Sample, SleepStage, Source,
};
use serde_json::{Value, json};

const UCUM: &str = "http://unitsofmeasure.org";
const LOINC: &str = "http://loinc.org";
const WEARABLE: &str = "https://healthos.dev/fhir/CodeSystem/wearable";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const HK: &str = "http://developer.apple.com/documentation/healthkit";
const APPLE_IDS: &str = "https://healthos.dev/fhir/source/apple-health";
/// The Apple Watch's Device, by conditional reference (`,` escaped as `\,`, encoded).
const WATCH_REF: &str = "Device?identifier=https://healthos.dev/fhir/source/apple-health/device|Patient/123/Watch6%5C%2C1";
const PHONE_REF: &str = "Device?identifier=https://healthos.dev/fhir/source/apple-health/device|Patient/123/iPhone14%5C%2C2";
/// The extension counting the intervals in an hourly sum.
const SUMMED: &str = "https://healthos.dev/fhir/StructureDefinition/summed-intervals";

fn ctx(source: Source) -> ImportContext {
    ImportContext {
        source,
        patient: "Patient/123".into(),
        imported_at: "2024-03-05T10:00:00Z".into(),
        import_id: "0b7e7c43-5a8e-4f4a-9d55-2f2c5f7f1a10".into(),
    }
}

fn watch() -> DeviceInfo {
    DeviceInfo {
        key: "Watch6,1".into(),
        name: Some("Ann's Apple Watch".into()),
        manufacturer: Some("Apple Inc.".into()),
        model: Some("Watch".into()),
        version: Some("10.1".into()),
        kind: DeviceKind::Watch,
    }
}

fn phone() -> DeviceInfo {
    DeviceInfo {
        key: "iPhone14,2".into(),
        name: Some("Ann's iPhone".into()),
        manufacturer: Some("Apple Inc.".into()),
        model: Some("iPhone".into()),
        version: None,
        kind: DeviceKind::Phone,
    }
}

fn at(time: &str) -> Effective {
    Effective::Instant(time.into())
}

fn period(start: &str, end: &str) -> Effective {
    Effective::Period {
        start: start.into(),
        end: end.into(),
    }
}

fn sample(metric: Metric, effective: Effective, reading: Reading) -> Sample {
    Sample {
        metric,
        effective,
        reading,
        record_id: None,
        device: Some(watch()),
        vendor_code: None,
    }
}

fn heart_rate(time: &str, bpm: f64) -> Sample {
    Sample {
        vendor_code: Some("HKQuantityTypeIdentifierHeartRate".into()),
        ..sample(Metric::HeartRate, at(time), Reading::Quantity(bpm))
    }
}

fn sleep_segment(
    device: DeviceInfo,
    start: &str,
    end: &str,
    stage: SleepStage,
    min: f64,
) -> Sample {
    Sample {
        device: Some(device),
        vendor_code: Some("HKCategoryTypeIdentifierSleepAnalysis".into()),
        ..sample(
            Metric::Sleep,
            period(start, end),
            Reading::Sleep {
                stages: vec![(stage, min)],
            },
        )
    }
}

fn steps(device: DeviceInfo, start: &str, end: &str, count: f64) -> Sample {
    Sample {
        device: Some(device),
        vendor_code: Some("HKQuantityTypeIdentifierStepCount".into()),
        ..sample(Metric::Steps, period(start, end), Reading::Quantity(count))
    }
}

/// Every resource pushed, in order, and the summary.
fn run(source: Source, samples: Vec<Sample>) -> (Vec<Value>, AssemblySummary) {
    let mut resources = Vec::new();
    let mut assembler = Assembler::new(ctx(source));
    let mut out = |r| resources.push(r);
    for s in samples {
        assembler.push(s, &mut out);
    }
    let summary = assembler.finish(&mut out);
    (resources, summary)
}

/// Equal, and with the same element order everywhere (serialised text compared too).
fn same(actual: &Value, expected: &Value) {
    assert_eq!(actual, expected);
    assert_eq!(actual.to_string(), expected.to_string(), "element order");
}

fn quantity(value: Value, unit: &str) -> Value {
    json!({"value": value, "unit": unit, "system": UCUM, "code": unit})
}

fn vital_signs() -> Value {
    json!([{"coding": [{"system": CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}])
}

fn activity() -> Value {
    json!([{"coding": [{"system": CATEGORY, "code": "activity", "display": "Activity"}]}])
}

fn watch_device() -> Value {
    json!({
        "resourceType": "Device",
        "identifier": [{"system": "https://healthos.dev/fhir/source/apple-health/device", "value": "Patient/123/Watch6,1"}],
        "manufacturer": "Apple Inc.",
        "deviceName": [{"name": "Ann's Apple Watch", "type": "user-friendly-name"}],
        "modelNumber": "Watch",
        "type": {"text": "Watch"},
        "version": [{"value": "10.1"}],
        "patient": {"reference": "Patient/123"}
    })
}

fn heart_rate_code() -> Value {
    json!({
        "coding": [
            {"system": LOINC, "code": "8867-4", "display": "Heart rate"},
            {"system": WEARABLE, "code": "heart-rate", "display": "Heart rate"},
            {"system": HK, "code": "HKQuantityTypeIdentifierHeartRate"}
        ],
        "text": "Heart rate"
    })
}

fn stat(code: &str, display: &str, value: Value) -> Value {
    json!({
        "code": {"coding": [{"system": WEARABLE, "code": code, "display": display}]},
        "valueQuantity": quantity(value, "/min")
    })
}

/// `data` of an hourly series: the given per-minute values, then `E` to 60.
fn minutes(values: &[&str]) -> String {
    let mut all: Vec<&str> = values.to_vec();
    all.resize(60, "E");
    all.join(" ")
}

fn steps_code() -> Value {
    json!({
        "coding": [
            {"system": LOINC, "code": "55423-8", "display": "Number of steps"},
            {"system": WEARABLE, "code": "steps", "display": "Number of steps"},
            {"system": HK, "code": "HKQuantityTypeIdentifierStepCount"}
        ],
        "text": "Number of steps"
    })
}

/// (identifier value, `valueQuantity.value`) of each resource.
fn ids_and_values(resources: &[Value]) -> Vec<(&str, Value)> {
    resources
        .iter()
        .map(|r| {
            (
                r["identifier"][0]["value"].as_str().unwrap(),
                r["valueQuantity"]["value"].clone(),
            )
        })
        .collect()
}

#[test]
fn three_heart_rate_samples_in_two_minutes_become_one_hourly_series() {
    // 08:00 has 70 and 74 (mean 72), 08:01 has 75: "72 75 E E …".
    let (resources, summary) = run(
        Source::AppleHealth,
        vec![
            heart_rate("2024-03-01T08:00:05+01:00", 70.0),
            heart_rate("2024-03-01T08:00:40.5+01:00", 74.0),
            heart_rate("2024-03-01T08:01:30+01:00", 75.0),
        ],
    );
    assert_eq!(resources.len(), 2);
    same(&resources[0], &watch_device());
    same(
        &resources[1],
        &json!({
            "resourceType": "Observation",
            "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
            "identifier": [{
                "system": APPLE_IDS,
                "value": "Patient/123/heart-rate-hourly/2024-03-01T08:00:00+01:00/Watch6,1"
            }],
            "status": "final",
            "category": vital_signs(),
            "code": heart_rate_code(),
            "subject": {"reference": "Patient/123"},
            "effectivePeriod": {"start": "2024-03-01T08:00:00+01:00", "end": "2024-03-01T09:00:00+01:00"},
            "valueSampledData": {
                "origin": quantity(json!(0), "/min"),
                "period": 60000,
                "dimensions": 1,
                "data": minutes(&["72", "75"])
            },
            "device": {"reference": WATCH_REF},
            "component": [
                stat("heart-rate-min", "Heart rate, minimum over the period", json!(70)),
                stat("heart-rate-max", "Heart rate, maximum over the period", json!(75)),
                stat("heart-rate-mean", "Heart rate, mean over the period", json!(73))
            ]
        }),
    );
    assert_eq!(
        summary,
        AssemblySummary {
            observations: [(Metric::HeartRate, 1)].into(),
            devices: 1,
            hourly_series: 1,
            ..AssemblySummary::default()
        }
    );
}

#[test]
fn an_hour_series_at_the_end_of_the_year_ends_in_the_next_one() {
    let (resources, _) = run(
        Source::AppleHealth,
        vec![heart_rate("2023-12-31T23:59:59.999-08:00", 61.5)],
    );
    let hour = &resources[1];
    assert_eq!(
        hour["effectivePeriod"],
        json!({"start": "2023-12-31T23:00:00-08:00", "end": "2024-01-01T00:00:00-08:00"})
    );
    let mut data = vec!["E"; 59];
    data.push("61.5");
    assert_eq!(hour["valueSampledData"]["data"], data.join(" "));
}

#[test]
fn hours_close_when_a_sample_is_more_than_two_hours_later_and_late_samples_stand_alone() {
    let mut resources: Vec<Value> = Vec::new();
    let mut assembler = Assembler::new(ctx(Source::AppleHealth));
    let mut push = |time: &str, bpm: f64, resources: &mut Vec<Value>| {
        assembler.push(heart_rate(time, bpm), &mut |r| resources.push(r));
    };
    push("2024-03-01T08:10:00+01:00", 70.0, &mut resources);
    push("2024-03-01T09:20:00+01:00", 65.0, &mut resources);
    // 10:00 is 2 h after 08:00: not more, nothing closes.
    push("2024-03-01T10:05:00+01:00", 66.0, &mut resources);
    assert_eq!(resources.len(), 1, "only the Device so far");
    // 11:00 is 3 h after 08:00: the 08:00 hour is final and goes out now.
    push("2024-03-01T11:05:00+01:00", 80.0, &mut resources);
    assert_eq!(resources.len(), 2);
    assert_eq!(
        resources[1]["identifier"][0]["value"],
        "Patient/123/heart-rate-hourly/2024-03-01T08:00:00+01:00/Watch6,1"
    );
    assert_eq!(
        resources[1]["valueSampledData"]["data"],
        minutes(&["E", "E", "E", "E", "E", "E", "E", "E", "E", "E", "70"])
    );
    // 08:30 comes after its hour was closed: its own instant Observation.
    push("2024-03-01T08:30:00+01:00", 90.0, &mut resources);
    // 09:00 is still open (2 h before 11:00): joins its hour.
    push("2024-03-01T09:21:00+01:00", 67.0, &mut resources);
    let summary = assembler.finish(&mut |r| resources.push(r));
    same(
        &resources[2],
        &json!({
            "resourceType": "Observation",
            "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/heartrate"]},
            "identifier": [{"system": APPLE_IDS, "value": "Patient/123/heart-rate/2024-03-01T08:30:00+01:00/Watch6,1"}],
            "status": "final",
            "category": vital_signs(),
            "code": heart_rate_code(),
            "subject": {"reference": "Patient/123"},
            "effectiveDateTime": "2024-03-01T08:30:00+01:00",
            "valueQuantity": quantity(json!(90), "/min"),
            "device": {"reference": WATCH_REF}
        }),
    );
    let hours: Vec<(&str, &str)> = resources[3..]
        .iter()
        .map(|r| {
            (
                r["effectivePeriod"]["start"].as_str().unwrap(),
                r["valueSampledData"]["data"].as_str().unwrap(),
            )
        })
        .collect();
    let nine = {
        let mut d = vec!["E"; 20];
        d.extend(["65", "67"]);
        minutes(&d)
    };
    assert_eq!(
        hours,
        [
            ("2024-03-01T09:00:00+01:00", nine.as_str()),
            (
                "2024-03-01T10:00:00+01:00",
                minutes(&["E", "E", "E", "E", "E", "66"]).as_str()
            ),
            (
                "2024-03-01T11:00:00+01:00",
                minutes(&["E", "E", "E", "E", "E", "80"]).as_str()
            ),
        ]
    );
    assert_eq!(summary.hourly_series, 4);
    assert_eq!(summary.late_samples, 1);
    assert_eq!(summary.observations, [(Metric::HeartRate, 5)].into());
}

#[test]
fn blood_pressure_is_a_panel_with_two_components_keyed_by_the_vendor_group() {
    let cuff = DeviceInfo {
        key: "withings-bpm-7".into(),
        name: None,
        manufacturer: Some("Withings".into()),
        model: Some("BPM Connect".into()),
        version: None,
        kind: DeviceKind::BloodPressureMonitor,
    };
    let bp = Sample {
        metric: Metric::BloodPressure,
        effective: at("2024-03-01T07:30:00Z"),
        reading: Reading::BloodPressure {
            systolic: 121.0,
            diastolic: 79.5,
        },
        record_id: Some("5634233019".into()),
        device: Some(cuff),
        vendor_code: Some("meastype 10".into()),
    };
    let (resources, summary) = run(Source::Withings, vec![bp]);
    same(
        &resources[0],
        &json!({
            "resourceType": "Device",
            "identifier": [{"system": "https://healthos.dev/fhir/source/withings/device", "value": "Patient/123/withings-bpm-7"}],
            "manufacturer": "Withings",
            "modelNumber": "BPM Connect",
            "type": {"text": "Blood pressure monitor"},
            "patient": {"reference": "Patient/123"}
        }),
    );
    same(
        &resources[1],
        &json!({
            "resourceType": "Observation",
            "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/bp"]},
            "identifier": [{"system": "https://healthos.dev/fhir/source/withings", "value": "Patient/123/blood-pressure/5634233019"}],
            "status": "final",
            "category": vital_signs(),
            "code": {
                "coding": [
                    {"system": LOINC, "code": "85354-9", "display": "Blood pressure panel with all children optional"},
                    {"system": WEARABLE, "code": "blood-pressure", "display": "Blood pressure panel with all children optional"},
                    {"system": "https://healthos.dev/fhir/CodeSystem/vendor/withings", "code": "meastype 10"}
                ],
                "text": "Blood pressure panel with all children optional"
            },
            "subject": {"reference": "Patient/123"},
            "effectiveDateTime": "2024-03-01T07:30:00Z",
            "device": {"reference": "Device?identifier=https://healthos.dev/fhir/source/withings/device|Patient/123/withings-bpm-7"},
            "component": [
                {
                    "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
                    "valueQuantity": quantity(json!(121), "mm[Hg]")
                },
                {
                    "code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
                    "valueQuantity": quantity(json!(79.5), "mm[Hg]")
                }
            ]
        }),
    );
    assert_eq!(summary.observations, [(Metric::BloodPressure, 1)].into());
}

#[test]
fn oxygen_saturation_carries_the_pulse_oximetry_code_after_2708_6() {
    let spo2 = Sample {
        vendor_code: Some("HKQuantityTypeIdentifierOxygenSaturation".into()),
        ..sample(
            Metric::OxygenSaturation,
            at("2024-03-01T03:12:00+01:00"),
            Reading::Quantity(96.999_999_999),
        )
    };
    let (resources, _) = run(Source::AppleHealth, vec![spo2]);
    same(
        &resources[1],
        &json!({
            "resourceType": "Observation",
            "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/oxygensat"]},
            "identifier": [{"system": APPLE_IDS, "value": "Patient/123/oxygen-saturation/2024-03-01T03:12:00+01:00/Watch6,1"}],
            "status": "final",
            "category": vital_signs(),
            "code": {
                "coding": [
                    {"system": LOINC, "code": "2708-6", "display": "Oxygen saturation in Arterial blood"},
                    {"system": LOINC, "code": "59408-5", "display": "Oxygen saturation in Arterial blood by Pulse oximetry"},
                    {"system": WEARABLE, "code": "oxygen-saturation", "display": "Oxygen saturation in Arterial blood"},
                    {"system": HK, "code": "HKQuantityTypeIdentifierOxygenSaturation"}
                ],
                "text": "Oxygen saturation in Arterial blood"
            },
            "subject": {"reference": "Patient/123"},
            "effectiveDateTime": "2024-03-01T03:12:00+01:00",
            "valueQuantity": quantity(json!(97), "%"),
            "device": {"reference": WATCH_REF}
        }),
    );
}

#[test]
fn apple_sleep_segments_become_one_observation_per_night_and_device() {
    let p = "+01:00";
    let t = |s: &str| format!("{s}{p}");
    let segments = vec![
        // The phone only logs "in bed": its own night, without an asleep value.
        sleep_segment(
            phone(),
            &t("2024-03-01T22:50:00"),
            &t("2024-03-02T06:40:00"),
            SleepStage::InBed,
            470.0,
        ),
        sleep_segment(
            watch(),
            &t("2024-03-01T23:00:00"),
            &t("2024-03-01T23:20:00"),
            SleepStage::Light,
            20.0,
        ),
        sleep_segment(
            watch(),
            &t("2024-03-01T23:20:00"),
            &t("2024-03-02T00:10:00"),
            SleepStage::Deep,
            50.0,
        ),
        sleep_segment(
            watch(),
            &t("2024-03-02T00:10:00"),
            &t("2024-03-02T00:15:00"),
            SleepStage::Awake,
            5.0,
        ),
        sleep_segment(
            watch(),
            &t("2024-03-02T00:15:00"),
            &t("2024-03-02T01:45:00"),
            SleepStage::Light,
            90.0,
        ),
        sleep_segment(
            watch(),
            &t("2024-03-02T01:45:00"),
            &t("2024-03-02T02:15:00"),
            SleepStage::Rem,
            30.0,
        ),
        // 40 minutes without data: still the same night.
        sleep_segment(
            watch(),
            &t("2024-03-02T02:55:00"),
            &t("2024-03-02T06:30:00"),
            SleepStage::Light,
            215.0,
        ),
        // The next evening: a new night, which closes the first one.
        sleep_segment(
            watch(),
            &t("2024-03-02T22:45:00"),
            &t("2024-03-02T23:30:00"),
            SleepStage::Light,
            45.0,
        ),
    ];
    let (resources, summary) = run(Source::AppleHealth, segments);
    let types: Vec<&str> = resources
        .iter()
        .map(|r| r["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Device",
            "Device",
            "Observation",
            "Observation",
            "Observation"
        ]
    );
    let stage = |system: &str, code: &str, display: &str, min: i64| {
        json!({
            "code": {"coding": [{"system": system, "code": code, "display": display}]},
            "valueQuantity": quantity(json!(min), "min")
        })
    };
    let sleep_code = json!({
        "coding": [
            {"system": LOINC, "code": "93832-4", "display": "Sleep duration"},
            {"system": WEARABLE, "code": "sleep", "display": "Sleep duration"},
            {"system": HK, "code": "HKCategoryTypeIdentifierSleepAnalysis"}
        ],
        "text": "Sleep duration"
    });
    // First night of the watch: emitted when the next night's first segment arrived.
    same(
        &resources[2],
        &json!({
            "resourceType": "Observation",
            "identifier": [{"system": APPLE_IDS, "value": "Patient/123/sleep/2024-03-01T23:00:00+01:00/Watch6,1"}],
            "status": "final",
            "category": activity(),
            "code": sleep_code,
            "subject": {"reference": "Patient/123"},
            "effectivePeriod": {"start": "2024-03-01T23:00:00+01:00", "end": "2024-03-02T06:30:00+01:00"},
            // 20 + 50 + 90 + 30 + 215; the 5 awake minutes are not sleep.
            "valueQuantity": quantity(json!(405), "min"),
            "device": {"reference": WATCH_REF},
            "component": [
                stage(LOINC, "93831-6", "Deep sleep duration", 50),
                stage(LOINC, "93830-8", "Light sleep duration", 325),
                stage(LOINC, "93829-0", "REM sleep duration", 30),
                stage(WEARABLE, "sleep-awake", "Awake during the sleep period", 5)
            ]
        }),
    );
    // At finish, by device key (byte order): the watch ("Watch6,1") before the phone
    // ("iPhone14,2").
    assert_eq!(
        resources[3]["effectivePeriod"],
        json!({"start": "2024-03-02T22:45:00+01:00", "end": "2024-03-02T23:30:00+01:00"})
    );
    assert_eq!(resources[3]["valueQuantity"]["value"], json!(45));
    same(
        &resources[4],
        &json!({
            "resourceType": "Observation",
            "identifier": [{"system": APPLE_IDS, "value": "Patient/123/sleep/2024-03-01T22:50:00+01:00/iPhone14,2"}],
            "status": "final",
            "category": activity(),
            "code": sleep_code,
            "subject": {"reference": "Patient/123"},
            "effectivePeriod": {"start": "2024-03-01T22:50:00+01:00", "end": "2024-03-02T06:40:00+01:00"},
            "dataAbsentReason": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "unknown",
                "display": "Unknown"
            }]},
            "device": {"reference": PHONE_REF},
            "component": [stage(WEARABLE, "sleep-in-bed", "Time in bed", 470)]
        }),
    );
    assert_eq!(summary.observations, [(Metric::Sleep, 3)].into());
}

#[test]
fn a_vendor_sleep_session_with_its_own_id_is_never_merged() {
    let session = |id: &str, start: &str, end: &str| Sample {
        record_id: Some(id.into()),
        vendor_code: None,
        ..sample(
            Metric::Sleep,
            period(start, end),
            Reading::Sleep {
                stages: vec![
                    (SleepStage::Deep, 80.0),
                    (SleepStage::Light, 240.5),
                    (SleepStage::Rem, 95.0),
                    (SleepStage::Awake, 30.0),
                ],
            },
        )
    };
    let (resources, _) = run(
        Source::Fitbit,
        vec![
            session(
                "26589710670",
                "2024-03-01T23:10:00Z",
                "2024-03-02T06:40:00Z",
            ),
            // A nap 30 minutes later: close, but the vendor says it is another session.
            session(
                "26589710671",
                "2024-03-02T07:10:00Z",
                "2024-03-02T07:40:00Z",
            ),
        ],
    );
    let ids: Vec<&str> = resources[1..]
        .iter()
        .map(|r| r["identifier"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "Patient/123/sleep/26589710670",
            "Patient/123/sleep/26589710671"
        ]
    );
    // 80 + 240.5 + 95.
    assert_eq!(resources[1]["valueQuantity"]["value"], json!(415.5));
    assert_eq!(resources[1]["code"]["coding"].as_array().unwrap().len(), 2);
}

#[test]
fn daily_steps_come_from_the_watch_when_watch_and_phone_both_counted() {
    let p = "+01:00";
    let t = |s: &str| format!("2024-03-01T{s}{p}");
    let samples = vec![
        steps(watch(), &t("08:00:00"), &t("09:00:00"), 1000.0),
        steps(phone(), &t("08:05:00"), &t("09:00:00"), 900.0),
        steps(watch(), &t("12:00:00"), &t("13:00:00"), 2500.0),
        steps(phone(), &t("12:00:00"), &t("12:50:00"), 2300.0),
        // The phone alone in the evening: its day is larger, the watch still wins.
        steps(phone(), &t("18:00:00"), &t("18:30:00"), 400.0),
        // The next day only the phone counted.
        steps(
            phone(),
            "2024-03-02T10:00:00+01:00",
            "2024-03-02T10:20:00+01:00",
            700.0,
        ),
    ];
    let (resources, summary) = run(Source::AppleHealth, samples);
    // Each interval is the only one of its hour, and each hour keeps its own device.
    // The watch's 08:00 hour closes when its 12:00 interval arrives.
    same(
        &resources[2],
        &json!({
            "resourceType": "Observation",
            "extension": [{"url": SUMMED, "valuePositiveInt": 1}],
            "identifier": [{
                "system": APPLE_IDS,
                "value": "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/Watch6,1"
            }],
            "status": "final",
            "category": activity(),
            "code": steps_code(),
            "subject": {"reference": "Patient/123"},
            "effectivePeriod": {"start": "2024-03-01T08:00:00+01:00", "end": "2024-03-01T09:00:00+01:00"},
            "valueQuantity": quantity(json!(1000), "{steps}"),
            "device": {"reference": WATCH_REF}
        }),
    );
    let daily = |date: &str, count: i64, device: &str| {
        json!({
            "resourceType": "Observation",
            "identifier": [{"system": APPLE_IDS, "value": format!("Patient/123/steps-daily/{date}")}],
            "status": "final",
            "category": activity(),
            "code": {
                "coding": [
                    {"system": LOINC, "code": "41950-7", "display": "Number of steps in 24 hour Measured"},
                    {"system": WEARABLE, "code": "steps", "display": "Number of steps"},
                    {"system": HK, "code": "HKQuantityTypeIdentifierStepCount"}
                ],
                "text": "Number of steps"
            },
            "subject": {"reference": "Patient/123"},
            "effectiveDateTime": date,
            "valueQuantity": quantity(json!(count), "/d"),
            "device": {"reference": device}
        })
    };
    assert_eq!(
        ids_and_values(&resources[2..8]),
        [
            // Closed by a later interval of the same device, in arrival order.
            (
                "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/Watch6,1",
                json!(1000)
            ),
            (
                "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/iPhone14,2",
                json!(900)
            ),
            (
                "Patient/123/steps-hourly/2024-03-01T12:00:00+01:00/iPhone14,2",
                json!(2300)
            ),
            (
                "Patient/123/steps-hourly/2024-03-01T18:00:00+01:00/iPhone14,2",
                json!(400)
            ),
            // Still open at finish: by device key, "Watch6,1" before "iPhone14,2".
            (
                "Patient/123/steps-hourly/2024-03-01T12:00:00+01:00/Watch6,1",
                json!(2500)
            ),
            (
                "Patient/123/steps-hourly/2024-03-02T10:00:00+01:00/iPhone14,2",
                json!(700)
            ),
        ]
    );
    let n = resources.len();
    assert_eq!(n, 2 + 6 + 2);
    // 1000 + 2500 from the watch, not 1000 + 900 + 2500 + 2300 + 400.
    same(&resources[n - 2], &daily("2024-03-01", 3500, WATCH_REF));
    same(&resources[n - 1], &daily("2024-03-02", 700, PHONE_REF));
    assert_eq!(summary.daily_totals, 2);
    assert_eq!(summary.hourly_sums, 6);
    assert_eq!(summary.observations, [(Metric::Steps, 8)].into());
}

#[test]
fn apple_five_minute_step_intervals_in_one_hour_become_one_hourly_sum() {
    let t = |s: &str| format!("2024-03-01T{s}+01:00");
    let interval = |start: &str, end: &str, count: f64| steps(watch(), &t(start), &t(end), count);
    let samples = vec![
        interval("08:00:00", "08:05:00", 312.0),
        interval("08:05:00", "08:10:00", 298.0),
        interval("08:10:00", "08:15:00", 455.0),
        interval("08:20:00", "08:25:00", 87.0),
        // An instant (start == end) counts into its hour like an interval.
        Sample {
            effective: at(&t("08:40:00")),
            ..interval("08:40:00", "08:40:00", 3.0)
        },
        // Starts in the 08:00 hour, ends at 09:00: counted in 08:00.
        interval("08:55:00", "09:00:00", 140.0),
        interval("09:00:00", "09:05:00", 25.0),
    ];
    let (resources, summary) = run(Source::AppleHealth, samples);
    assert_eq!(resources.len(), 4);
    same(&resources[0], &watch_device());
    same(
        &resources[1],
        &json!({
            "resourceType": "Observation",
            "extension": [{"url": SUMMED, "valuePositiveInt": 6}],
            "identifier": [{
                "system": APPLE_IDS,
                "value": "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/Watch6,1"
            }],
            "status": "final",
            "category": activity(),
            "code": steps_code(),
            "subject": {"reference": "Patient/123"},
            "effectivePeriod": {"start": "2024-03-01T08:00:00+01:00", "end": "2024-03-01T09:00:00+01:00"},
            // 312 + 298 + 455 + 87 + 3 + 140.
            "valueQuantity": quantity(json!(1295), "{steps}"),
            "device": {"reference": WATCH_REF}
        }),
    );
    assert_eq!(
        resources[2]["effectivePeriod"],
        json!({"start": "2024-03-01T09:00:00+01:00", "end": "2024-03-01T10:00:00+01:00"})
    );
    assert_eq!(resources[2]["valueQuantity"]["value"], json!(25));
    assert_eq!(resources[2]["extension"][0]["valuePositiveInt"], json!(1));
    // The daily total is unchanged by the folding: 1295 + 25.
    assert_eq!(
        resources[3]["identifier"][0]["value"],
        "Patient/123/steps-daily/2024-03-01"
    );
    assert_eq!(resources[3]["valueQuantity"], quantity(json!(1320), "/d"));
    assert_eq!(
        summary,
        AssemblySummary {
            observations: [(Metric::Steps, 3)].into(),
            devices: 1,
            hourly_sums: 2,
            daily_totals: 1,
            ..AssemblySummary::default()
        }
    );
}

#[test]
fn distance_and_energy_hours_keep_their_interval_codes_and_units() {
    let t = |s: &str| format!("2024-03-01T{s}+01:00");
    let distance = |start: &str, end: &str, m: f64| Sample {
        vendor_code: Some("HKQuantityTypeIdentifierDistanceWalkingRunning".into()),
        ..sample(
            Metric::Distance,
            period(&t(start), &t(end)),
            Reading::Quantity(m),
        )
    };
    // Energy from an app without a device: the key has no device part.
    let energy = |start: &str, end: &str, kcal: f64| Sample {
        device: None,
        vendor_code: Some("HKQuantityTypeIdentifierActiveEnergyBurned".into()),
        ..sample(
            Metric::ActiveEnergy,
            period(&t(start), &t(end)),
            Reading::Quantity(kcal),
        )
    };
    let (resources, summary) = run(
        Source::AppleHealth,
        vec![
            distance("08:00:00", "08:05:00", 250.5),
            energy("08:00:00", "08:05:00", 12.5),
            distance("08:05:00", "08:10:00", 240.25),
            energy("08:05:00", "08:10:00", 11.75),
        ],
    );
    // The Device, the two hours (distance before energy), the two daily totals.
    assert_eq!(resources.len(), 5);
    assert_eq!(
        resources[1]["code"]["coding"][0],
        json!({"system": LOINC, "code": "55430-3", "display": "Walking distance"})
    );
    assert_eq!(
        resources[1]["identifier"][0]["value"],
        "Patient/123/distance-hourly/2024-03-01T08:00:00+01:00/Watch6,1"
    );
    assert_eq!(resources[1]["valueQuantity"], quantity(json!(490.75), "m"));
    same(
        &resources[2],
        &json!({
            "resourceType": "Observation",
            "extension": [{"url": SUMMED, "valuePositiveInt": 2}],
            "identifier": [{
                "system": APPLE_IDS,
                "value": "Patient/123/active-energy-hourly/2024-03-01T08:00:00+01:00"
            }],
            "status": "final",
            "category": activity(),
            "code": {
                "coding": [
                    {"system": LOINC, "code": "41981-2", "display": "Calories burned"},
                    {"system": WEARABLE, "code": "active-energy", "display": "Calories burned"},
                    {"system": HK, "code": "HKQuantityTypeIdentifierActiveEnergyBurned"}
                ],
                "text": "Calories burned"
            },
            "subject": {"reference": "Patient/123"},
            "effectivePeriod": {"start": "2024-03-01T08:00:00+01:00", "end": "2024-03-01T09:00:00+01:00"},
            "valueQuantity": quantity(json!(24.25), "kcal")
        }),
    );
    assert_eq!(summary.hourly_sums, 2);
    assert_eq!(
        summary.observations,
        [(Metric::Distance, 2), (Metric::ActiveEnergy, 2)].into()
    );
}

#[test]
fn two_devices_give_two_hourly_sums_and_a_daily_total_from_the_watch_only() {
    let t = |s: &str| format!("2024-03-01T{s}+01:00");
    let (resources, summary) = run(
        Source::AppleHealth,
        vec![
            steps(watch(), &t("08:00:00"), &t("08:05:00"), 300.0),
            steps(phone(), &t("08:00:00"), &t("08:05:00"), 280.0),
            steps(watch(), &t("08:05:00"), &t("08:10:00"), 310.0),
            steps(phone(), &t("08:06:00"), &t("08:10:00"), 290.0),
        ],
    );
    assert_eq!(
        ids_and_values(&resources[2..]),
        [
            (
                "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/Watch6,1",
                json!(610)
            ),
            (
                "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/iPhone14,2",
                json!(570)
            ),
            // The watch's 300 + 310, not the phone's 570 nor both.
            ("Patient/123/steps-daily/2024-03-01", json!(610)),
        ]
    );
    same(
        &resources[3],
        &json!({
            "resourceType": "Observation",
            "extension": [{"url": SUMMED, "valuePositiveInt": 2}],
            "identifier": [{
                "system": APPLE_IDS,
                "value": "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/iPhone14,2"
            }],
            "status": "final",
            "category": activity(),
            "code": steps_code(),
            "subject": {"reference": "Patient/123"},
            "effectivePeriod": {"start": "2024-03-01T08:00:00+01:00", "end": "2024-03-01T09:00:00+01:00"},
            "valueQuantity": quantity(json!(570), "{steps}"),
            "device": {"reference": PHONE_REF}
        }),
    );
    assert_eq!(resources[4]["device"]["reference"], WATCH_REF);
    assert_eq!(resources[4]["valueQuantity"]["unit"], "/d");
    assert_eq!(summary.hourly_sums, 2);
    assert_eq!(summary.daily_totals, 1);
    assert_eq!(summary.observations, [(Metric::Steps, 3)].into());
}

/// Pushes watch step intervals of 2024-03-01 (+01:00) one by one; returns everything
/// emitted after each push, then after finish.
fn push_steps_one_by_one(
    intervals: &[(&str, &str, f64)],
) -> (Vec<usize>, Vec<Value>, AssemblySummary) {
    let mut resources: Vec<Value> = Vec::new();
    let mut counts = Vec::new();
    let mut assembler = Assembler::new(ctx(Source::AppleHealth));
    let t = |s: &str| format!("2024-03-01T{s}+01:00");
    for (start, end, count) in intervals {
        let interval = steps(watch(), &t(start), &t(end), *count);
        assembler.push(interval, &mut |r| resources.push(r));
        counts.push(resources.len());
    }
    let summary = assembler.finish(&mut |r| resources.push(r));
    (counts, resources, summary)
}

#[test]
fn a_step_interval_more_than_two_hours_later_closes_the_hour() {
    let (counts, resources, summary) = push_steps_one_by_one(&[
        ("08:00:00", "08:05:00", 100.0),
        ("08:30:00", "08:35:00", 50.0),
        // 10:00 is 2 h after 08:00: not more, nothing closes.
        ("10:10:00", "10:15:00", 20.0),
        // 11:00 is 3 h after 08:00 (the next-but-two hour): 08:00 goes out now.
        ("11:00:00", "11:05:00", 30.0),
    ]);
    // Only the Device until the fourth interval; then the 08:00 hour.
    assert_eq!(counts, [1, 1, 1, 2]);
    same(
        &resources[1],
        &json!({
            "resourceType": "Observation",
            "extension": [{"url": SUMMED, "valuePositiveInt": 2}],
            "identifier": [{
                "system": APPLE_IDS,
                "value": "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/Watch6,1"
            }],
            "status": "final",
            "category": activity(),
            "code": steps_code(),
            "subject": {"reference": "Patient/123"},
            "effectivePeriod": {"start": "2024-03-01T08:00:00+01:00", "end": "2024-03-01T09:00:00+01:00"},
            "valueQuantity": quantity(json!(150), "{steps}"),
            "device": {"reference": WATCH_REF}
        }),
    );
    assert_eq!(
        ids_and_values(&resources[2..]),
        [
            (
                "Patient/123/steps-hourly/2024-03-01T10:00:00+01:00/Watch6,1",
                json!(20)
            ),
            (
                "Patient/123/steps-hourly/2024-03-01T11:00:00+01:00/Watch6,1",
                json!(30)
            ),
            ("Patient/123/steps-daily/2024-03-01", json!(200)),
        ]
    );
    assert_eq!(summary.hourly_sums, 3);
    assert_eq!(summary.late_samples, 0);
}

#[test]
fn a_late_step_interval_stands_alone_and_still_counts_for_its_day() {
    let (counts, resources, summary) = push_steps_one_by_one(&[
        ("08:00:00", "08:05:00", 100.0),
        ("08:30:00", "08:35:00", 50.0),
        ("10:10:00", "10:15:00", 20.0),
        ("11:00:00", "11:05:00", 30.0),
        // 08:00 was closed by 11:00: this one is late and goes out on its own, now.
        ("08:40:00", "08:45:00", 40.0),
        // 09:00 is 2 h before 11:00, so still open: it joins its hour.
        ("09:15:00", "09:20:00", 15.0),
    ]);
    assert_eq!(counts, [1, 1, 1, 2, 3, 3]);
    // Its own interval key, so it never overwrites the 08:00 hour's sum of 150.
    same(
        &resources[2],
        &json!({
            "resourceType": "Observation",
            "identifier": [{
                "system": APPLE_IDS,
                "value": "Patient/123/steps/2024-03-01T08:40:00+01:00/2024-03-01T08:45:00+01:00/Watch6,1"
            }],
            "status": "final",
            "category": activity(),
            "code": steps_code(),
            "subject": {"reference": "Patient/123"},
            "effectivePeriod": {"start": "2024-03-01T08:40:00+01:00", "end": "2024-03-01T08:45:00+01:00"},
            "valueQuantity": quantity(json!(40), "{steps}"),
            "device": {"reference": WATCH_REF}
        }),
    );
    assert_eq!(
        ids_and_values(&resources[1..]),
        [
            (
                "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/Watch6,1",
                json!(150)
            ),
            (
                "Patient/123/steps/2024-03-01T08:40:00+01:00/2024-03-01T08:45:00+01:00/Watch6,1",
                json!(40)
            ),
            (
                "Patient/123/steps-hourly/2024-03-01T09:00:00+01:00/Watch6,1",
                json!(15)
            ),
            (
                "Patient/123/steps-hourly/2024-03-01T10:00:00+01:00/Watch6,1",
                json!(20)
            ),
            (
                "Patient/123/steps-hourly/2024-03-01T11:00:00+01:00/Watch6,1",
                json!(30)
            ),
            // 100 + 50 + 20 + 30 + 40 + 15: the late interval counts for its day.
            ("Patient/123/steps-daily/2024-03-01", json!(255)),
        ]
    );
    assert_eq!(
        summary,
        AssemblySummary {
            observations: [(Metric::Steps, 6)].into(),
            devices: 1,
            hourly_sums: 4,
            daily_totals: 1,
            late_samples: 1,
            ..AssemblySummary::default()
        }
    );
}

#[test]
fn a_vendor_daily_figure_wins_over_a_total_from_intervals() {
    let tracker = DeviceInfo {
        key: "2468013579".into(),
        name: None,
        manufacturer: Some("Fitbit".into()),
        model: Some("Charge 6".into()),
        version: None,
        kind: DeviceKind::Watch,
    };
    let daily_distance = Sample {
        metric: Metric::Distance,
        effective: Effective::Date("2024-03-01".into()),
        reading: Reading::Quantity(5230.5),
        record_id: None,
        device: Some(tracker.clone()),
        vendor_code: Some("activities/distance".into()),
    };
    let interval = Sample {
        effective: period("2024-03-01T08:00:00", "2024-03-01T08:15:00"),
        reading: Reading::Quantity(1200.0),
        ..daily_distance.clone()
    };
    // A start without an offset is no dateTime this module can place in a day: the
    // interval is still stored, and the vendor's figure is the day's total anyway.
    let interval_ok = Sample {
        effective: period("2024-03-01T09:00:00Z", "2024-03-01T09:15:00Z"),
        reading: Reading::Quantity(1300.0),
        ..daily_distance.clone()
    };
    let (resources, summary) = run(Source::Fitbit, vec![daily_distance, interval, interval_ok]);
    let daily: Vec<&Value> = resources
        .iter()
        .filter(|r| r["effectiveDateTime"] == "2024-03-01")
        .collect();
    assert_eq!(daily.len(), 1);
    same(
        daily[0],
        &json!({
            "resourceType": "Observation",
            "identifier": [{"system": "https://healthos.dev/fhir/source/fitbit", "value": "Patient/123/distance-daily/2024-03-01"}],
            "status": "final",
            "category": activity(),
            "code": {
                "coding": [
                    {"system": LOINC, "code": "55430-3", "display": "Walking distance"},
                    {"system": WEARABLE, "code": "distance", "display": "Walking distance"},
                    {"system": "https://healthos.dev/fhir/CodeSystem/vendor/fitbit", "code": "activities/distance"}
                ],
                "text": "Walking distance"
            },
            "subject": {"reference": "Patient/123"},
            "effectiveDateTime": "2024-03-01",
            "valueQuantity": quantity(json!(5230.5), "m"),
            "device": {"reference": "Device?identifier=https://healthos.dev/fhir/source/fitbit/device|Patient/123/2468013579"}
        }),
    );
    // The interval without an offset stays its own Observation (no hour to put it in);
    // the one at 09:00Z is its hour's sum.
    assert_eq!(
        ids_and_values(&resources[1..3]),
        [
            (
                "Patient/123/distance/2024-03-01T08:00:00/2024-03-01T08:15:00/2468013579",
                json!(1200)
            ),
            (
                "Patient/123/distance-hourly/2024-03-01T09:00:00Z/2468013579",
                json!(1300)
            ),
        ]
    );
    assert_eq!(
        resources[2]["effectivePeriod"],
        json!({"start": "2024-03-01T09:00:00Z", "end": "2024-03-01T10:00:00Z"})
    );
    assert_eq!(summary.observations, [(Metric::Distance, 3)].into());
    assert_eq!(summary.daily_totals, 1);
    assert_eq!(summary.hourly_sums, 1);
}

#[test]
fn vendor_record_ids_are_scoped_by_metric() {
    // One Garmin daily summary carries resting heart rate and steps under one summaryId.
    let garmin = DeviceInfo {
        key: "fenix-7".into(),
        name: None,
        manufacturer: Some("Garmin".into()),
        model: None,
        version: None,
        kind: DeviceKind::Watch,
    };
    let day = Effective::Date("2024-03-01".into());
    let resting = Sample {
        metric: Metric::RestingHeartRate,
        effective: day.clone(),
        reading: Reading::Quantity(52.0),
        record_id: Some("x4a1b2c3-6449a3c0-15180".into()),
        device: Some(garmin.clone()),
        vendor_code: None,
    };
    let daily_steps = Sample {
        metric: Metric::Steps,
        reading: Reading::Quantity(9876.4),
        ..resting.clone()
    };
    let (resources, _) = run(Source::Garmin, vec![resting, daily_steps]);
    let ids: Vec<(&str, &Value)> = resources[1..]
        .iter()
        .map(|r| {
            (
                r["identifier"][0]["value"].as_str().unwrap(),
                &r["valueQuantity"]["value"],
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            (
                "Patient/123/resting-heart-rate/x4a1b2c3-6449a3c0-15180",
                &json!(52)
            ),
            ("Patient/123/steps-daily/2024-03-01", &json!(9876)),
        ]
    );
    assert_eq!(resources[1]["effectiveDateTime"], "2024-03-01");
    assert_eq!(resources[1]["code"]["coding"][0]["code"], "40443-4");
}

fn mixed_import() -> Vec<Sample> {
    vec![
        heart_rate("2024-03-01T08:00:05+01:00", 70.0),
        steps(
            phone(),
            "2024-03-01T08:05:00+01:00",
            "2024-03-01T09:00:00+01:00",
            900.0,
        ),
        heart_rate("2024-03-01T08:01:05+01:00", 71.0),
        Sample {
            record_id: None,
            ..sample(
                Metric::BloodPressure,
                at("2024-03-01T08:02:00+01:00"),
                Reading::BloodPressure {
                    systolic: 118.0,
                    diastolic: 76.0,
                },
            )
        },
        sleep_segment(
            watch(),
            "2024-03-01T23:00:00+01:00",
            "2024-03-01T23:20:00+01:00",
            SleepStage::Deep,
            20.0,
        ),
        steps(
            watch(),
            "2024-03-01T08:00:00+01:00",
            "2024-03-01T09:00:00+01:00",
            1000.0,
        ),
        sample(
            Metric::BodyWeight,
            at("2024-03-01T07:00:00+01:00"),
            Reading::Quantity(70.25),
        ),
    ]
}

#[test]
fn the_same_input_gives_the_same_output_twice() {
    let (first, first_summary) = run(Source::AppleHealth, mixed_import());
    let (second, second_summary) = run(Source::AppleHealth, mixed_import());
    let text = |rs: &[Value]| rs.iter().map(Value::to_string).collect::<Vec<_>>();
    assert_eq!(text(&first), text(&second));
    assert_eq!(first_summary, second_summary);
    let ids: Vec<&str> = first
        .iter()
        .map(|r| r["identifier"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "Patient/123/Watch6,1",
            "Patient/123/iPhone14,2",
            "Patient/123/blood-pressure/2024-03-01T08:02:00+01:00/Watch6,1",
            "Patient/123/body-weight/2024-03-01T07:00:00+01:00/Watch6,1",
            // At finish: heart-rate hours, then activity hours by (metric, device key),
            // then nights, then daily totals.
            "Patient/123/heart-rate-hourly/2024-03-01T08:00:00+01:00/Watch6,1",
            "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/Watch6,1",
            "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/iPhone14,2",
            "Patient/123/sleep/2024-03-01T23:00:00+01:00/Watch6,1",
            "Patient/123/steps-daily/2024-03-01",
        ]
    );
    // No resource has an id: the server stores by identifier.
    assert!(first.iter().all(|r| r.get("id").is_none()));
}

#[test]
fn each_device_is_emitted_once_before_its_first_observation() {
    let (resources, summary) = run(Source::AppleHealth, mixed_import());
    for (position, r) in resources.iter().enumerate() {
        if let Some(reference) = r["device"]["reference"].as_str() {
            let device = resources
                .iter()
                .position(|d| {
                    d["resourceType"] == "Device"
                        && reference.ends_with(
                            &d["identifier"][0]["value"]
                                .as_str()
                                .unwrap()
                                .replace(',', "%5C%2C"),
                        )
                })
                .unwrap();
            assert!(device < position, "{reference} after resource {position}");
        }
    }
    let devices: Vec<&Value> = resources
        .iter()
        .filter(|r| r["resourceType"] == "Device")
        .collect();
    assert_eq!(devices.len(), 2);
    assert_eq!(summary.devices, 2);
    same(devices[0], &watch_device());
    // The phone appears with the second sample (its steps), whose hour is emitted only
    // at finish.
    assert_eq!(resources[1]["deviceName"][0]["name"], "Ann's iPhone");
    let phone_first = resources
        .iter()
        .find(|r| r["device"]["reference"] == PHONE_REF)
        .unwrap();
    assert_eq!(
        phone_first["identifier"][0]["value"],
        "Patient/123/steps-hourly/2024-03-01T08:00:00+01:00/iPhone14,2"
    );
}

#[test]
fn a_sample_without_a_device_has_no_device_reference_and_a_shorter_key() {
    let mut manual = sample(
        Metric::BodyTemperature,
        at("2024-03-01T07:00:00+01:00"),
        Reading::Quantity(36.85),
    );
    manual.device = None;
    let (resources, summary) = run(Source::HealthConnect, vec![manual]);
    assert_eq!(resources.len(), 1);
    assert_eq!(
        resources[0]["identifier"],
        json!([{"system": "https://healthos.dev/fhir/source/health-connect", "value": "Patient/123/body-temperature/2024-03-01T07:00:00+01:00"}])
    );
    assert_eq!(resources[0].get("device"), None);
    assert_eq!(resources[0]["valueQuantity"], quantity(json!(36.85), "Cel"));
    assert_eq!(summary.devices, 0);
}

#[test]
fn readings_that_do_not_fit_their_metric_are_rejected() {
    let (resources, summary) = run(
        Source::AppleHealth,
        vec![
            sample(
                Metric::HeartRate,
                at("2024-03-01T08:00:00Z"),
                Reading::BloodPressure {
                    systolic: 120.0,
                    diastolic: 80.0,
                },
            ),
            sample(
                Metric::BloodPressure,
                at("2024-03-01T08:00:00Z"),
                Reading::Quantity(120.0),
            ),
            sample(
                Metric::BodyWeight,
                at("2024-03-01T08:00:00Z"),
                Reading::Quantity(f64::NAN),
            ),
        ],
    );
    assert!(resources.is_empty());
    assert_eq!(summary.rejected, 3);
    assert_eq!(summary.devices, 0);
}

#[test]
fn provenance_names_targets_importer_patient_and_source() {
    let (resources, _) = run(
        Source::AppleHealth,
        vec![heart_rate("2024-03-01T08:00:05+01:00", 70.0)],
    );
    let targets: Vec<String> = resources
        .iter()
        .filter_map(reference_by_identifier)
        .collect();
    assert_eq!(
        targets,
        [
            WATCH_REF,
            "Observation?identifier=https://healthos.dev/fhir/source/apple-health|Patient/123/heart-rate-hourly/2024-03-01T08:00:00%2B01:00/Watch6%5C%2C1",
        ]
    );
    same(
        &provenance(&ctx(Source::AppleHealth), &targets),
        &json!({
            "resourceType": "Provenance",
            "target": [{"reference": targets[0]}, {"reference": targets[1]}],
            "recorded": "2024-03-05T10:00:00Z",
            "activity": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                "code": "CREATE",
                "display": "create"
            }]},
            "agent": [
                {
                    "type": {"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                        "code": "assembler",
                        "display": "Assembler"
                    }]},
                    "who": {"display": "HealthOS importer"}
                },
                {
                    "type": {"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                        "code": "informant",
                        "display": "Informant"
                    }]},
                    "who": {"reference": "Patient/123"}
                }
            ],
            "entity": [{
                "role": "source",
                "what": {
                    "identifier": {
                        "system": "https://healthos.dev/fhir/source/apple-health/import",
                        "value": "0b7e7c43-5a8e-4f4a-9d55-2f2c5f7f1a10"
                    },
                    "display": "Apple Health"
                }
            }]
        }),
    );
}

#[test]
fn systems_per_source() {
    assert_eq!(identifier_system(Source::AppleHealth), APPLE_IDS);
    assert_eq!(
        identifier_system(Source::GoogleFit),
        "https://healthos.dev/fhir/source/google-fit"
    );
    assert_eq!(vendor_code_system(Source::AppleHealth), HK);
    assert_eq!(
        vendor_code_system(Source::Oura),
        "https://healthos.dev/fhir/CodeSystem/vendor/oura"
    );
}
