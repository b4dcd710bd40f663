//! Garmin Health API and Withings payloads → samples, over the recorded fixtures in
//! `fixtures/wearables/garmin-health-api/`, `fixtures/wearables/withings-python-withings/`
//! and `fixtures/wearables/openmhealth-shimmer/withings/`. Every file of those folders is
//! read here. Expected values, times and counts were written from the files themselves:
//! small files by reading them, large ones by counting with `grep` or a few lines of
//! Python over the JSON (said at each count). Epoch seconds were turned into UTC times
//! with `date -u -d @<seconds>`, and local times by adding the stated offset by hand.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mappers::Error;
use mappers::wearable::{
    DeviceInfo, DeviceKind, Effective, Metric, ParseReport, Reading, Sample, SleepStage, garmin,
    withings,
};

fn bytes(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/wearables")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn garmin_file(name: &str) -> (Vec<Sample>, ParseReport) {
    let mut samples = Vec::new();
    let report = garmin::parse(&bytes(&format!("garmin-health-api/{name}")), &mut samples)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        report.records,
        samples.len() as u64 + report.skipped_total,
        "{name}: records = samples + skipped"
    );
    (samples, report)
}

fn withings_file(path: &str) -> (Vec<Sample>, ParseReport) {
    let mut samples = Vec::new();
    let report =
        withings::parse(&bytes(path), &mut samples).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        report.records,
        samples.len() as u64 + report.skipped_total,
        "{path}: records = samples + skipped"
    );
    (samples, report)
}

fn py(name: &str) -> (Vec<Sample>, ParseReport) {
    withings_file(&format!("withings-python-withings/{name}"))
}

fn shimmer(name: &str) -> (Vec<Sample>, ParseReport) {
    withings_file(&format!("openmhealth-shimmer/withings/{name}"))
}

/// Samples per metric.
fn counts(samples: &[Sample]) -> Vec<(Metric, usize)> {
    let mut by_metric = BTreeMap::new();
    for s in samples {
        *by_metric.entry(s.metric).or_insert(0) += 1;
    }
    by_metric.into_iter().collect()
}

fn skipped(report: &ParseReport) -> Vec<(&str, &str)> {
    report
        .skipped
        .iter()
        .map(|s| (s.position.as_str(), s.reason.as_str()))
        .collect()
}

fn instant(time: &str) -> Effective {
    Effective::Instant(time.to_owned())
}

fn period(start: &str, end: &str) -> Effective {
    Effective::Period {
        start: start.to_owned(),
        end: end.to_owned(),
    }
}

fn date(day: &str) -> Effective {
    Effective::Date(day.to_owned())
}

fn sample(
    metric: Metric,
    effective: Effective,
    value: f64,
    record_id: Option<&str>,
    vendor_code: &str,
) -> Sample {
    Sample {
        metric,
        effective,
        reading: Reading::Quantity(value),
        record_id: record_id.map(str::to_owned),
        device: None,
        vendor_code: Some(vendor_code.to_owned()),
    }
}

fn find<'a>(samples: &'a [Sample], record_id: &str) -> &'a Sample {
    samples
        .iter()
        .find(|s| s.record_id.as_deref() == Some(record_id))
        .unwrap_or_else(|| panic!("no sample {record_id}"))
}

fn quantities(samples: &[Sample], metric: Metric) -> Vec<f64> {
    samples
        .iter()
        .filter(|s| s.metric == metric)
        .map(|s| match s.reading {
            Reading::Quantity(v) => v,
            ref other => panic!("{other:?}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Garmin
// ---------------------------------------------------------------------------------------

#[test]
fn garmin_dailies_daily_figures_and_heart_rate_instants() {
    let (samples, report) = garmin_file("dailies.json");
    // Two dailies: the first has steps, distance, active kcal and 8 HR samples (no resting
    // HR); the second also has restingHeartRateInBeatsPerMinute 64.
    assert_eq!(
        counts(&samples),
        [
            (Metric::HeartRate, 16),
            (Metric::RestingHeartRate, 1),
            (Metric::Steps, 2),
            (Metric::Distance, 2),
            (Metric::ActiveEnergy, 2),
        ]
    );
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(
        &samples[..3],
        [
            sample(
                Metric::Steps,
                date("2016-01-11"),
                4210.0,
                Some("EXAMPLE 67891/steps"),
                "dailies.steps"
            ),
            sample(
                Metric::Distance,
                date("2016-01-11"),
                3146.5,
                Some("EXAMPLE 67891/distance"),
                "dailies.distanceInMeters"
            ),
            sample(
                Metric::ActiveEnergy,
                date("2016-01-11"),
                321.0,
                Some("EXAMPLE 67891/active-energy"),
                "dailies.activeKilocalories"
            ),
        ]
    );
    // 1452470400 = 2016-01-11T00:00:00Z; offset 3600 → 01:00 local; +15 s.
    assert_eq!(
        samples[3],
        sample(
            Metric::HeartRate,
            instant("2016-01-11T01:00:15+01:00"),
            75.0,
            Some("EXAMPLE 67891/heart-rate/15"),
            "dailies.timeOffsetHeartRateSamples"
        )
    );
    // +3255 s = 54 min 15 s.
    assert_eq!(
        find(&samples, "EXAMPLE 67891/heart-rate/3255").effective,
        instant("2016-01-11T01:54:15+01:00")
    );
    // The second daily has no calendarDate: its day is the local date of its start,
    // 1452556800 + 3600 = 2016-01-12T01:00+01:00.
    assert_eq!(
        *find(&samples, "EXAMPLE 67892/resting-heart-rate"),
        sample(
            Metric::RestingHeartRate,
            date("2016-01-12"),
            64.0,
            Some("EXAMPLE 67892/resting-heart-rate"),
            "dailies.restingHeartRateInBeatsPerMinute"
        )
    );
    assert_eq!(
        quantities(&samples, Metric::HeartRate),
        [
            75.0, 75.0, 76.0, 65.0, 65.0, 73.0, 74.0, 74.0, 77.0, 72.0, 71.0, 67.0, 62.0, 65.0,
            71.0, 81.0
        ]
    );
    assert_eq!(quantities(&samples, Metric::Steps), [4210.0, 3305.0]);
    assert!(samples.iter().all(|s| s.device.is_none()));
}

#[test]
fn garmin_epoch_is_a_period_in_the_local_offset() {
    let (samples, report) = garmin_file("epoch.json");
    // 1519679700 = 2018-02-26T21:15:00Z, offset -21600 → 15:15 at -06:00; 840 s later.
    let p = period("2018-02-26T15:15:00-06:00", "2018-02-26T15:29:00-06:00");
    let id = "x153a9f3-5a9478d4-6";
    assert_eq!(
        samples,
        [
            sample(
                Metric::Steps,
                p.clone(),
                93.0,
                Some(&format!("{id}/steps")),
                "epochs.steps"
            ),
            sample(
                Metric::Distance,
                p.clone(),
                49.11,
                Some(&format!("{id}/distance")),
                "epochs.distanceInMeters"
            ),
            sample(
                Metric::ActiveEnergy,
                p,
                24.0,
                Some(&format!("{id}/active-energy")),
                "epochs.activeKilocalories"
            ),
        ]
    );
    assert_eq!(report.records, 3);
}

#[test]
fn garmin_sleeps_stages_and_nightly_respiration_and_spo2() {
    let (samples, report) = garmin_file("sleeps.json");
    // Two nights; the second carries 3 respiration and 7 SpO2 values.
    assert_eq!(
        counts(&samples),
        [
            (Metric::Sleep, 2),
            (Metric::OxygenSaturation, 7),
            (Metric::RespiratoryRate, 3),
        ]
    );
    assert!(report.skipped.is_empty());
    // 1452419581 = 2016-01-10T09:53:01Z, +02:00 → 11:53:01; + 15264 s (4 h 14 min 24 s).
    assert_eq!(
        samples[0],
        Sample {
            metric: Metric::Sleep,
            effective: period("2016-01-10T11:53:01+02:00", "2016-01-10T16:07:25+02:00"),
            reading: Reading::Sleep {
                stages: vec![
                    (SleepStage::Deep, 11231.0 / 60.0),
                    (SleepStage::Light, 3541.0 / 60.0),
                    (SleepStage::Rem, 0.0),
                    (SleepStage::Awake, 492.0 / 60.0),
                ]
            },
            record_id: Some("EXAMPLE 567890/sleep".to_owned()),
            device: None,
            vendor_code: Some("sleeps.durationInSeconds".to_owned()),
        }
    );
    // 1452467493 = 2016-01-10T23:11:33Z → 2016-01-11T01:11:33+02:00; + 11900 s (3 h 18 min 20 s).
    assert_eq!(
        samples[1].effective,
        period("2016-01-11T01:11:33+02:00", "2016-01-11T04:29:53+02:00")
    );
    assert_eq!(
        samples[1].reading,
        Reading::Sleep {
            stages: vec![
                (SleepStage::Deep, 9446.0 / 60.0),
                (SleepStage::Light, 0.0),
                (SleepStage::Rem, 2142.0 / 60.0),
                (SleepStage::Awake, 312.0 / 60.0),
            ]
        }
    );
    assert_eq!(
        *find(&samples, "EXAMPLE 567891/respiratory-rate/60"),
        sample(
            Metric::RespiratoryRate,
            instant("2016-01-11T01:12:33+02:00"),
            15.31,
            Some("EXAMPLE 567891/respiratory-rate/60"),
            "sleeps.timeOffsetSleepRespiration"
        )
    );
    assert_eq!(
        quantities(&samples, Metric::OxygenSaturation),
        [95.0, 96.0, 97.0, 93.0, 94.0, 95.0, 96.0]
    );
    assert_eq!(
        find(&samples, "EXAMPLE 567891/oxygen-saturation/360").effective,
        instant("2016-01-11T01:17:33+02:00")
    );
}

#[test]
fn garmin_pulse_ox_on_demand_reading() {
    let (samples, _) = garmin_file("pulse_ox.json");
    // 1572303600 + 55740 = 1572359340 = 2019-10-29T14:29:00Z, offset +01:00.
    assert_eq!(
        samples,
        [sample(
            Metric::OxygenSaturation,
            instant("2019-10-29T15:29:00+01:00"),
            93.0,
            Some("example1234-spo2OnDemand/oxygen-saturation/55740"),
            "pulseox.timeOffsetSpo2Values"
        )]
    );
}

#[test]
fn garmin_all_day_respiration() {
    let (samples, _) = garmin_file("respiration.json");
    assert_eq!(counts(&samples), [(Metric::RespiratoryRate, 11)]);
    assert_eq!(
        quantities(&samples, Metric::RespiratoryRate),
        [
            14.63, 14.4, 14.38, 14.38, 17.1, 16.61, 16.14, 14.59, 14.65, 15.09, 14.88
        ]
    );
    // 1568171700 = 2019-09-11T03:15:00Z, offset -18000 → the evening before at -05:00.
    assert_eq!(samples[0].effective, instant("2019-09-10T22:15:00-05:00"));
    assert_eq!(
        samples[10].record_id.as_deref(),
        Some("x15372ea-5d7866b4/respiratory-rate/840")
    );
    assert_eq!(samples[10].effective, instant("2019-09-10T22:29:00-05:00"));
}

#[test]
fn garmin_hrv_is_rmssd_nightly_and_per_five_minutes() {
    let (samples, _) = garmin_file("hrv.json");
    assert_eq!(counts(&samples), [(Metric::HrvRmssd, 13)]);
    assert_eq!(
        samples[0],
        sample(
            Metric::HrvRmssd,
            date("2022-05-31"),
            44.0,
            Some("x473db21-6295abc4/hrv-rmssd"),
            "hrv.lastNightAvg"
        )
    );
    // 1653976004 = 2022-05-31T05:46:44Z, -05:00 → 00:46:44; +300 s.
    assert_eq!(
        samples[1],
        sample(
            Metric::HrvRmssd,
            instant("2022-05-31T00:51:44-05:00"),
            32.0,
            Some("x473db21-6295abc4/hrv-rmssd/300"),
            "hrv.hrvValues"
        )
    );
    assert_eq!(
        find(&samples, "x473db21-6295abc4/hrv-rmssd/3600").effective,
        instant("2022-05-31T01:46:44-05:00")
    );
}

#[test]
fn garmin_blood_pressure_with_its_pulse() {
    let (samples, _) = garmin_file("blood_pressure.json");
    // measurementTimeInSeconds 1663776000 = 2022-09-21T16:00:00Z, offset -18000.
    let at = instant("2022-09-21T11:00:00-05:00");
    assert_eq!(
        samples,
        [
            Sample {
                metric: Metric::BloodPressure,
                effective: at.clone(),
                reading: Reading::BloodPressure {
                    systolic: 120.0,
                    diastolic: 110.0
                },
                record_id: Some("x473db21-632b3500/blood-pressure".to_owned()),
                device: None,
                vendor_code: Some("bloodPressures.systolic/diastolic".to_owned()),
            },
            sample(
                Metric::HeartRate,
                at,
                82.0,
                Some("x473db21-632b3500/heart-rate"),
                "bloodPressures.pulse"
            ),
        ]
    );
}

#[test]
fn garmin_body_comps_grams_become_kilograms() {
    let (samples, _) = garmin_file("body_comps.json");
    assert_eq!(
        samples,
        [
            sample(
                Metric::BodyWeight,
                instant("2015-08-16T16:05:30+00:00"),
                75.45,
                Some("EXAMPLE_678901/body-weight"),
                "bodyComps.weightInGrams"
            ),
            sample(
                Metric::BodyFat,
                instant("2015-08-16T16:05:30+00:00"),
                17.1,
                Some("EXAMPLE_678901/body-fat"),
                "bodyComps.bodyFatInPercent"
            ),
            sample(
                Metric::BodyWeight,
                instant("2015-08-17T04:05:30+00:00"),
                75.173,
                Some("EXAMPLE_678902/body-weight"),
                "bodyComps.weightInGrams"
            ),
            sample(
                Metric::BodyFat,
                instant("2015-08-17T04:05:30+00:00"),
                17.3,
                Some("EXAMPLE_678902/body-fat"),
                "bodyComps.bodyFatInPercent"
            ),
        ]
    );
}

#[test]
fn garmin_user_metrics_vo2_max() {
    let (samples, _) = garmin_file("user_metrics.json");
    assert_eq!(
        samples,
        [sample(
            Metric::Vo2Max,
            date("2017-03-23"),
            48.0,
            Some("EXAMPLE 843244/vo2-max"),
            "userMetrics.vo2Max"
        )]
    );
}

#[test]
fn garmin_health_snapshot_epoch_summaries() {
    let (samples, report) = garmin_file("health_snapshot.json");
    // heart_rate: 6 epoch values, respiration: 12.
    assert_eq!(
        counts(&samples),
        [(Metric::HeartRate, 6), (Metric::RespiratoryRate, 12)]
    );
    assert!(report.skipped.is_empty());
    let id = "x42f72c9-612e11dae53d462a-0b98-4ae8-9fdc-28f392a1cd8078";
    // 1630409178 = 2021-08-31T11:26:18Z; this type names its offset
    // offsetStartTimeInSeconds (7200).
    assert_eq!(
        *find(&samples, &format!("{id}/heart-rate/5")),
        sample(
            Metric::HeartRate,
            instant("2021-08-31T13:26:23+02:00"),
            84.0,
            Some(&format!("{id}/heart-rate/5")),
            "healthSnapshot.heart_rate.epochSummaries"
        )
    );
    assert_eq!(
        *find(&samples, &format!("{id}/respiratory-rate/117")),
        sample(
            Metric::RespiratoryRate,
            instant("2021-08-31T13:28:15+02:00"),
            14.30,
            Some(&format!("{id}/respiratory-rate/117")),
            "healthSnapshot.respiration.epochSummaries"
        )
    );
}

#[test]
fn garmin_stress_and_workouts_are_skipped_with_their_reason() {
    let (samples, report) = garmin_file("stress.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [(
            "/stressDetails/0",
            "stress and Body Battery: no FHIR metric"
        )]
    );
    let (samples, report) = garmin_file("activities.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [
            ("/activities/0", "workouts are not imported yet"),
            ("/activities/1", "workouts are not imported yet"),
        ]
    );
    let (samples, report) = garmin_file("activity_details.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [("/activityDetails/0", "workouts are not imported yet")]
    );
    let (samples, report) = garmin_file("move_iq.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [("/moveIQActivities/0", "workouts are not imported yet")]
    );
}

#[test]
fn garmin_pull_answer_is_a_bare_array_of_summaries() {
    // The backfill/pull shape: the list without its wrapper. Types come from the fields.
    let bytes = bytes("garmin-health-api/body_comps.json");
    let wrapped: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let bare = serde_json::to_vec(&wrapped["bodyComps"]).unwrap();
    let mut samples = Vec::new();
    let report = garmin::parse(&bare, &mut samples).unwrap();
    assert_eq!(
        counts(&samples),
        [(Metric::BodyWeight, 2), (Metric::BodyFat, 2)]
    );
    assert_eq!(
        samples[0].record_id.as_deref(),
        Some("EXAMPLE_678901/body-weight")
    );
    assert_eq!(report.records, 4);

    // A summary with a device name names its device.
    let mut samples = Vec::new();
    garmin::parse(
        br#"[{"summaryId": "e1", "intensity": "ACTIVE", "steps": 10, "durationInSeconds": 900,
              "startTimeInSeconds": 0, "deviceName": "fenix 7"}]"#,
        &mut samples,
    )
    .unwrap();
    assert_eq!(
        samples[0].device,
        Some(DeviceInfo {
            key: "fenix 7".to_owned(),
            name: Some("fenix 7".to_owned()),
            manufacturer: Some("Garmin".to_owned()),
            model: Some("fenix 7".to_owned()),
            version: None,
            kind: DeviceKind::Watch,
        })
    );
    // No offset given: UTC.
    assert_eq!(
        samples[0].effective,
        period("1970-01-01T00:00:00Z", "1970-01-01T00:15:00Z")
    );
}

#[test]
fn garmin_per_record_problems_are_skipped_not_fatal() {
    let json = br#"{"dailies": [
        {"summaryId": "d1", "calendarDate": "2024-03-01", "steps": "many",
         "startTimeInSeconds": 1709247600, "startTimeOffsetInSeconds": 3600,
         "timeOffsetHeartRateSamples": {"15": 60, "x": 61}},
        {"summaryId": "d2"},
        7
    ]}"#;
    let mut samples = Vec::new();
    let report = garmin::parse(json, &mut samples).unwrap();
    // 1709247600 = 2024-02-29T23:00:00Z → 2024-03-01T00:00:00+01:00.
    assert_eq!(
        samples,
        [sample(
            Metric::HeartRate,
            instant("2024-03-01T00:00:15+01:00"),
            60.0,
            Some("d1/heart-rate/15"),
            "dailies.timeOffsetHeartRateSamples"
        )]
    );
    assert_eq!(
        skipped(&report),
        [
            ("/dailies/0/steps", "not a number"),
            (
                "/dailies/0/timeOffsetHeartRateSamples/x",
                "offset is not a whole number of seconds"
            ),
            ("/dailies/1", "no calendarDate and no start time"),
            ("/dailies/2", "a summary must be an object"),
        ]
    );
}

#[test]
fn garmin_unknown_shape_and_broken_json_are_malformed() {
    let mut samples = Vec::new();
    for json in [
        &br#"{"status": 0, "body": {}}"#[..],
        br#"[{"foo": 1}]"#,
        b"42",
    ] {
        match garmin::parse(json, &mut samples) {
            Err(Error::Malformed { position, reason }) => {
                assert_eq!(position, "/");
                assert!(
                    reason.starts_with("not a Garmin payload: expected"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // A wrapper whose list is not a list.
    assert!(matches!(
        garmin::parse(br#"{"dailies": {}}"#, &mut samples),
        Err(Error::Malformed { position, .. }) if position == "/dailies"
    ));
    // blood_pressure.json cut after its third line (`        {` and its newline): the
    // parser stops at the end of input, line 4 column 0.
    let whole = bytes("garmin-health-api/blood_pressure.json");
    let cut: Vec<u8> = whole
        .split_inclusive(|b| *b == b'\n')
        .take(3)
        .flatten()
        .copied()
        .collect();
    assert_eq!(cut, b"{\n    \"bloodPressures\": [\n        {\n");
    match garmin::parse(&cut, &mut samples) {
        Err(Error::Malformed { position, reason }) => {
            assert_eq!(position, "line 4, column 0");
            assert_eq!(reason, "invalid JSON: EOF while parsing an object");
        }
        other => panic!("{other:?}"),
    }
    assert!(samples.is_empty());
}

// ---------------------------------------------------------------------------------------
// Withings: measure getmeas
// ---------------------------------------------------------------------------------------

#[test]
fn withings_shimmer_body_measures_values_times_ten_to_the_unit() {
    let (samples, report) = shimmer("withings-body-measures.json");
    // Group 0: BP 104/68, pulse 41, weight 74126e-3, type 18 skipped; group 1: weight;
    // groups 2 and 3: pulse, type 18 skipped; group 4: height 1930e-3 m, body temp 37.
    assert_eq!(
        counts(&samples),
        [
            (Metric::HeartRate, 3),
            (Metric::BodyWeight, 2),
            (Metric::BodyHeight, 1),
            (Metric::BloodPressure, 1),
            (Metric::BodyTemperature, 1),
        ]
    );
    // 1433052383 = 2015-05-31T06:06:23Z. Samples in measure order, the BP after the group.
    let t0 = instant("2015-05-31T06:06:23Z");
    assert_eq!(
        &samples[..3],
        [
            sample(
                Metric::HeartRate,
                t0.clone(),
                41.0,
                Some("366956482/heart-rate"),
                "meastype 11"
            ),
            sample(
                Metric::BodyWeight,
                t0.clone(),
                74.126,
                Some("366956482/body-weight"),
                "meastype 1"
            ),
            Sample {
                metric: Metric::BloodPressure,
                effective: t0,
                reading: Reading::BloodPressure {
                    systolic: 104.0,
                    diastolic: 68.0
                },
                record_id: Some("366956482/blood-pressure".to_owned()),
                device: None,
                vendor_code: Some("meastype 10/9".to_owned()),
            },
        ]
    );
    // 1424719489 = 2015-02-23T19:24:49Z: 1.930 m = 193 cm; type 71 body temperature 37 °C.
    assert_eq!(
        samples[6..],
        [
            sample(
                Metric::BodyHeight,
                instant("2015-02-23T19:24:49Z"),
                193.0,
                Some("320419189/body-height"),
                "meastype 4"
            ),
            sample(
                Metric::BodyTemperature,
                instant("2015-02-23T19:24:49Z"),
                37.0,
                Some("320419189/body-temperature"),
                "meastype 71"
            ),
        ]
    );
    assert_eq!(
        skipped(&report),
        [
            (
                "/body/measuregrps/0/measures/3",
                "meastype 18: no HealthOS metric"
            ),
            (
                "/body/measuregrps/2/measures/1",
                "meastype 18: no HealthOS metric"
            ),
            (
                "/body/measuregrps/3/measures/1",
                "meastype 18: no HealthOS metric"
            ),
        ]
    );
}

#[test]
fn withings_category_2_is_a_goal_not_a_measurement() {
    let (samples, report) = shimmer("withings-body-measures-only-goal.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [(
            "/body/measuregrps/0",
            "category 2: a user objective (goal), not a measurement"
        )]
    );
}

#[test]
fn withings_repeated_group_is_read_once() {
    let (samples, report) = py("measurement.json");
    // 1693651151 = 2023-09-02T10:39:11Z; 118003e-3 kg; the same grpid again with attrib 8.
    assert_eq!(
        samples,
        [Sample {
            device: Some(DeviceInfo {
                key: "f998be4b9ccc9e136fd8cd8e8e344c31ec3b271d".to_owned(),
                name: None,
                manufacturer: Some("Withings".to_owned()),
                model: Some("Body+".to_owned()),
                version: None,
                kind: DeviceKind::Scale,
            }),
            ..sample(
                Metric::BodyWeight,
                instant("2023-09-02T10:39:11Z"),
                118.003,
                Some("4815757309/body-weight"),
                "meastype 1"
            )
        }]
    );
    assert_eq!(
        skipped(&report),
        [(
            "/body/measuregrps/1",
            "group 4815757309 repeated (attrib 8): already read"
        )]
    );
}

#[test]
fn withings_measurement_list_long_series() {
    // A bare array of 2062 measure groups (`measuregrps` on its own). Counts from Python
    // over the JSON: 1 group has attrib 1 (index 13, BP 122/94 with pulse 84: ambiguous,
    // skipped); among the other 2061, type 1 occurs in 441 groups, type 4 in 1, type 6 in
    // 420 (8 of them with value 0, skipped), types 9 and 10 together in 793 (never one
    // alone), type 11 in 1207; no type repeats within a group. Unmapped types: 5, 8 (420
    // each), 76, 77, 88, 91, 155 (412 each) = 2900 measures.
    let (samples, report) = py("measurement_list.json");
    assert_eq!(
        counts(&samples),
        [
            (Metric::HeartRate, 1207),
            (Metric::BodyWeight, 441),
            (Metric::BodyHeight, 1),
            (Metric::BloodPressure, 793),
            (Metric::BodyFat, 412),
        ]
    );
    assert_eq!(report.skipped_total, 1 + 8 + 2900);
    assert_eq!(report.records, 2854 + 2909);
    assert_eq!(report.skipped.len(), ParseReport::MAX_SKIPPED);
    assert!(report.skipped.contains(&mappers::wearable::Skipped {
        position: "/13".to_owned(),
        reason:
            "attrib 1: ambiguous, the device could not tell whose measurement this is".to_owned(),
    }));
    // Group 0 (grpid 2726375354), entered by hand without a device: 1600e-3 m.
    assert_eq!(
        samples[0],
        sample(
            Metric::BodyHeight,
            instant("2021-05-05T17:53:36Z"),
            160.0,
            Some("2726375354/body-height"),
            "meastype 4"
        )
    );
    // Group 1: 56300e-3 kg.
    assert_eq!(quantities(&samples[1..2], Metric::BodyWeight), [56.3]);
    // Group 2 (grpid 2726388728, 1620039631 = 2021-05-03T11:00:31Z), a BPM Connect:
    // 10600e-2 diastolic, 14300e-2 systolic, 8200e-2 pulse.
    let bpm = Some(DeviceInfo {
        key: "91a7e556c2022ef54dca6e07a853c3193734d148".to_owned(),
        name: None,
        manufacturer: Some("Withings".to_owned()),
        model: Some("BPM Connect".to_owned()),
        version: None,
        kind: DeviceKind::BloodPressureMonitor,
    });
    let pulse = find(&samples, "2726388728/heart-rate");
    assert_eq!(pulse.reading, Reading::Quantity(82.0));
    assert_eq!(pulse.device, bpm);
    let bp = find(&samples, "2726388728/blood-pressure");
    assert_eq!(bp.effective, instant("2021-05-03T11:00:31Z"));
    assert_eq!(
        bp.reading,
        Reading::BloodPressure {
            systolic: 143.0,
            diastolic: 106.0
        }
    );
    // Group 415 (grpid 3373005073), a Body Cardio: 90200e-3 kg and fat ratio 11530e-3 %.
    assert_eq!(
        find(&samples, "3373005073/body-weight").reading,
        Reading::Quantity(90.2)
    );
    let fat = find(&samples, "3373005073/body-fat");
    assert_eq!(fat.reading, Reading::Quantity(11.53));
    assert_eq!(fat.device.as_ref().unwrap().kind, DeviceKind::Scale);
    // Group 302 (grpid 3179960660), entered by hand: weight 670000e-4 = 67 kg is kept, its
    // fat ratio 0 is not.
    assert_eq!(
        find(&samples, "3179960660/body-weight").reading,
        Reading::Quantity(67.0)
    );
    assert!(
        !samples
            .iter()
            .any(|s| s.record_id.as_deref() == Some("3179960660/body-fat"))
    );
}

#[test]
fn withings_measurement_list_2_body_scan() {
    // 34 groups from a Body Scan, 433 measures (Python): type 1 in 17 groups, type 6 in 14,
    // type 11 in 8, none with a position; the other 394 measures are of unmapped types
    // (segmental ones carry a position too).
    let (samples, report) = py("measurement_list_2.json");
    assert_eq!(
        counts(&samples),
        [
            (Metric::HeartRate, 8),
            (Metric::BodyWeight, 17),
            (Metric::BodyFat, 14),
        ]
    );
    assert_eq!(report.skipped_total, 394);
    assert_eq!(report.records, 433);
    // Group 0: grpid 5109691092, pulse 120 (unit 0), 1703523863.
    assert_eq!(
        find(&samples, "5109691092/heart-rate").reading,
        Reading::Quantity(120.0)
    );
    // Group 1, measure 0: type 196 (electrodermal activity).
    assert_eq!(
        skipped(&report)[0],
        (
            "/1/measures/0",
            "meastype 196 (electrodermal activity): no HealthOS metric"
        )
    );
}

#[test]
fn withings_measurement_positions_whole_body_values_only() {
    // Two Body Scan groups of 28 measures: weight (type 1) and fat ratio (type 6) have no
    // position; the other 26 of each are skipped.
    let (samples, report) = py("measurement_positions.json");
    assert_eq!(quantities(&samples, Metric::BodyWeight), [95.854, 96.44]);
    assert_eq!(quantities(&samples, Metric::BodyFat), [19.467, 18.457]);
    // 1704769719 = 2024-01-09T03:08:39Z.
    assert_eq!(samples[0].effective, instant("2024-01-09T03:08:39Z"));
    assert_eq!(
        samples[0].record_id.as_deref(),
        Some("5149666502/body-weight")
    );
    assert_eq!(report.skipped_total, 52);
    assert_eq!(
        skipped(&report)[..2],
        [
            (
                "/0/measures/1",
                "meastype 5 (fat-free mass): no HealthOS metric"
            ),
            (
                "/0/measures/2",
                "meastype 5 (fat-free mass): no HealthOS metric"
            ),
        ]
    );
}

#[test]
fn withings_segmental_weight_and_skin_temperature_are_not_whole_body_values() {
    let json = br#"{"status": 0, "body": {"measuregrps": [
        {"grpid": 1, "attrib": 0, "date": 0, "category": 1, "measures": [
            {"type": 1, "value": 12000, "unit": -3, "position": 7},
            {"type": 73, "value": 3420, "unit": -2},
            {"type": 10, "value": 120, "unit": 0},
            {"type": 54, "value": 97, "unit": 0},
            {"type": 123, "value": 425, "unit": -1},
            {"type": 12, "value": 3690, "unit": -2}
        ]}
    ]}}"#;
    let mut samples = Vec::new();
    let report = withings::parse(json, &mut samples).unwrap();
    assert_eq!(
        samples
            .iter()
            .map(|s| (s.metric, s.reading.clone()))
            .collect::<Vec<_>>(),
        [
            (Metric::OxygenSaturation, Reading::Quantity(97.0)),
            (Metric::Vo2Max, Reading::Quantity(42.5)),
            (Metric::BodyTemperature, Reading::Quantity(36.9)),
        ]
    );
    assert_eq!(
        skipped(&report),
        [
            (
                "/body/measuregrps/0/measures/0",
                "segmental measure (position 7): not a whole-body value"
            ),
            (
                "/body/measuregrps/0/measures/1",
                "meastype 73 skin temperature: not a core body temperature"
            ),
            (
                "/body/measuregrps/0",
                "systolic (meastype 10) without diastolic (meastype 9)"
            ),
        ]
    );
}

#[test]
fn withings_bare_groups_and_bodies_without_envelope() {
    let groups = r#"[{"grpid": 5, "date": 86400, "category": 1,
                      "measures": [{"type": 11, "value": 60, "unit": 0}]},
                     {"grpid": 6, "measures": []}, 3]"#;
    let mut samples = Vec::new();
    let report = withings::parse(groups.as_bytes(), &mut samples).unwrap();
    assert_eq!(
        samples,
        [sample(
            Metric::HeartRate,
            instant("1970-01-02T00:00:00Z"),
            60.0,
            Some("5/heart-rate"),
            "meastype 11"
        )]
    );
    assert_eq!(
        skipped(&report),
        [
            ("/1", "no date"),
            ("/2", "a measure group must be an object")
        ]
    );
    // The body alone, and the body under `body` without a status: the same one sample.
    for json in [
        format!(r#"{{"measuregrps": {groups}}}"#),
        format!(r#"{{"body": {{"measuregrps": {groups}}}}}"#),
    ] {
        let mut again = Vec::new();
        let report = withings::parse(json.as_bytes(), &mut again).unwrap();
        assert_eq!(again, samples);
        assert_eq!(report.skipped_total, 2);
    }
}

// ---------------------------------------------------------------------------------------
// Withings: activity
// ---------------------------------------------------------------------------------------

#[test]
fn withings_activity_days_active_calories_only() {
    let (samples, report) = py("activity.json");
    assert_eq!(
        counts(&samples),
        [
            (Metric::Steps, 2),
            (Metric::Distance, 2),
            (Metric::ActiveEnergy, 2),
        ]
    );
    assert!(report.skipped.is_empty());
    let tracker = Some(DeviceInfo {
        key: "GoogleFit tracker".to_owned(),
        name: None,
        manufacturer: Some("Withings".to_owned()),
        model: Some("GoogleFit tracker".to_owned()),
        version: None,
        kind: DeviceKind::Phone,
    });
    let with_tracker = |s: Sample| Sample {
        device: tracker.clone(),
        ..s
    };
    assert_eq!(
        samples[..3],
        [
            with_tracker(sample(
                Metric::Steps,
                date("2023-10-20"),
                1209.0,
                None,
                "getactivity.steps"
            )),
            with_tracker(sample(
                Metric::Distance,
                date("2023-10-20"),
                1028.559,
                None,
                "getactivity.distance"
            )),
            // calories (active), not totalcalories 2303.788.
            with_tracker(sample(
                Metric::ActiveEnergy,
                date("2023-10-20"),
                85.497,
                None,
                "getactivity.calories"
            )),
        ]
    );
    assert_eq!(
        quantities(&samples, Metric::ActiveEnergy),
        [85.497, 134.132]
    );
}

#[test]
fn withings_shimmer_activity_days() {
    let (samples, _) = shimmer("withings-activity-measures.json");
    assert_eq!(
        counts(&samples),
        [
            (Metric::Steps, 4),
            (Metric::Distance, 4),
            (Metric::ActiveEnergy, 4),
        ]
    );
    assert_eq!(
        quantities(&samples, Metric::Steps),
        [2934.0, 2600.0, 5458.0, 1798.0]
    );
    assert_eq!(
        quantities(&samples, Metric::Distance),
        [2563.0, 2387.0, 4754.0, 1666.0]
    );
    assert_eq!(
        quantities(&samples, Metric::ActiveEnergy),
        [139.0, 130.0, 241.0, 99.0]
    );
    // Days stay local dates, out of order as sent.
    assert_eq!(samples[9].effective, date("2015-02-21"));
    assert!(samples.iter().all(|s| s.device.is_none()));
}

#[test]
fn withings_intraday_intervals() {
    let (samples, report) = shimmer("withings-intraday-activity.json");
    // 6 intervals; 2 have only a duration.
    assert_eq!(
        counts(&samples),
        [
            (Metric::Steps, 4),
            (Metric::Distance, 4),
            (Metric::ActiveEnergy, 4),
        ]
    );
    // 1434758640 = 2015-06-20T00:04:00Z, duration 60.
    let p = period("2015-06-20T00:04:00Z", "2015-06-20T00:05:00Z");
    assert_eq!(
        samples[..3],
        [
            sample(
                Metric::Steps,
                p.clone(),
                21.0,
                None,
                "getintradayactivity.steps"
            ),
            sample(
                Metric::Distance,
                p.clone(),
                15.0,
                None,
                "getintradayactivity.distance"
            ),
            sample(
                Metric::ActiveEnergy,
                p,
                1.0,
                None,
                "getintradayactivity.calories"
            ),
        ]
    );
    // 1434760860 = 1434758640 + 2220 s = 00:41:00Z.
    assert_eq!(
        samples[9].effective,
        period("2015-06-20T00:41:00Z", "2015-06-20T00:42:00Z")
    );
    assert_eq!(
        quantities(&samples, Metric::Steps),
        [21.0, 47.0, 20.0, 74.0]
    );
    let reason = "interval without steps, distance, calories, heart rate or SpO2";
    assert_eq!(
        skipped(&report),
        [
            ("/body/series/1434758700", reason),
            ("/body/series/1434760260", reason),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Withings: sleep
// ---------------------------------------------------------------------------------------

fn aura() -> Option<DeviceInfo> {
    Some(DeviceInfo {
        key: "201d0b9a0556d6b755166b2cf8d22d3bdf0487ee".to_owned(),
        name: None,
        manufacturer: Some("Withings".to_owned()),
        model: Some("Aura Sensor V2".to_owned()),
        version: None,
        kind: DeviceKind::Other,
    })
}

fn stage_counts(samples: &[Sample]) -> Vec<(SleepStage, usize)> {
    let mut by_stage = BTreeMap::new();
    for s in samples {
        if let Reading::Sleep { stages } = &s.reading {
            assert_eq!(stages.len(), 1);
            *by_stage.entry(stages[0].0).or_insert(0) += 1;
        }
    }
    by_stage.into_iter().collect()
}

#[test]
fn withings_sleep_segments_with_heart_and_breathing_rate() {
    let (samples, report) = py("sleep.json");
    // 613 segments (`grep -c '"state"'`), states by `grep -o '"state": [0-9]' | uniq -c`:
    // 100 × 0, 297 × 1, 147 × 2, 69 × 3. The hr and rr maps hold 2872 entries each
    // (Python: sum of len(segment["hr"])), all positive, none repeated.
    assert_eq!(
        counts(&samples),
        [
            (Metric::HeartRate, 2872),
            (Metric::Sleep, 613),
            (Metric::RespiratoryRate, 2872),
        ]
    );
    assert_eq!(
        stage_counts(&samples),
        [
            (SleepStage::Awake, 100),
            (SleepStage::Light, 297),
            (SleepStage::Deep, 147),
            (SleepStage::Rem, 69),
        ]
    );
    assert!(report.skipped.is_empty());
    // First segment: 1618691453 = 2021-04-17T20:30:53Z to +120 s, awake; HR 70 and 71,
    // breathing 15 and 15, a minute apart.
    let with_aura = |s: Sample| Sample {
        device: aura(),
        ..s
    };
    assert_eq!(
        samples[..5],
        [
            Sample {
                metric: Metric::Sleep,
                effective: period("2021-04-17T20:30:53Z", "2021-04-17T20:32:53Z"),
                reading: Reading::Sleep {
                    stages: vec![(SleepStage::Awake, 2.0)]
                },
                record_id: None,
                device: aura(),
                vendor_code: Some("sleep.state".to_owned()),
            },
            with_aura(sample(
                Metric::HeartRate,
                instant("2021-04-17T20:30:53Z"),
                70.0,
                None,
                "sleep.hr"
            )),
            with_aura(sample(
                Metric::HeartRate,
                instant("2021-04-17T20:31:53Z"),
                71.0,
                None,
                "sleep.hr"
            )),
            with_aura(sample(
                Metric::RespiratoryRate,
                instant("2021-04-17T20:30:53Z"),
                15.0,
                None,
                "sleep.rr"
            )),
            with_aura(sample(
                Metric::RespiratoryRate,
                instant("2021-04-17T20:31:53Z"),
                15.0,
                None,
                "sleep.rr"
            )),
        ]
    );
}

#[test]
fn withings_sleep_segments_without_data_fields() {
    let (samples, _) = py("sleep_no_datafields.json");
    // The same 613 segments without hr, rr and snoring.
    assert_eq!(counts(&samples), [(Metric::Sleep, 613)]);
    assert_eq!(
        stage_counts(&samples),
        [
            (SleepStage::Awake, 100),
            (SleepStage::Light, 297),
            (SleepStage::Deep, 147),
            (SleepStage::Rem, 69),
        ]
    );
    // The last segment: 1618875124 to 1618875724 (600 s), state 1.
    assert_eq!(
        samples[612].reading,
        Reading::Sleep {
            stages: vec![(SleepStage::Light, 10.0)]
        }
    );
}

#[test]
fn withings_shimmer_sleep_segments() {
    let (samples, _) = shimmer("withings-sleep-measures.json");
    // 1417550400 = 2014-12-02T20:00:00Z. No device id; `model` 32 is a number.
    let sleep = |start: &str, end: &str, stage, minutes| Sample {
        metric: Metric::Sleep,
        effective: period(start, end),
        reading: Reading::Sleep {
            stages: vec![(stage, minutes)],
        },
        record_id: None,
        device: None,
        vendor_code: Some("sleep.state".to_owned()),
    };
    assert_eq!(
        samples,
        [
            sleep(
                "2014-12-02T20:00:00Z",
                "2014-12-02T20:15:00Z",
                SleepStage::Awake,
                15.0
            ),
            sleep(
                "2014-12-02T20:16:00Z",
                "2014-12-02T20:32:00Z",
                SleepStage::Light,
                16.0
            ),
            sleep(
                "2014-12-02T20:33:00Z",
                "2014-12-02T21:00:00Z",
                SleepStage::Rem,
                27.0
            ),
        ]
    );
}

#[test]
fn withings_sleep_summary_nights() {
    let (samples, report) = py("sleep_summary.json");
    // 300 nights, each with deep, light, REM and wake-up durations and rr_average
    // (Python: all 300 data objects have the same 25 keys; rr_average 11–18).
    assert_eq!(
        counts(&samples),
        [(Metric::Sleep, 300), (Metric::RespiratoryRate, 300)]
    );
    assert!(report.skipped.is_empty());
    // Night 2081804182: 1618691453 (2021-04-17T20:30:53Z) to 1618713173
    // (2021-04-18T02:32:53Z); deep 5820 s, light 10440, REM 2400, wake-up 3060; rr 14.
    let device = Some(DeviceInfo {
        model: None,
        ..aura().unwrap()
    });
    let night = period("2021-04-17T20:30:53Z", "2021-04-18T02:32:53Z");
    assert_eq!(
        samples[..2],
        [
            Sample {
                metric: Metric::Sleep,
                effective: night.clone(),
                reading: Reading::Sleep {
                    stages: vec![
                        (SleepStage::Deep, 97.0),
                        (SleepStage::Light, 174.0),
                        (SleepStage::Rem, 40.0),
                        (SleepStage::Awake, 51.0),
                    ]
                },
                record_id: Some("2081804182/sleep".to_owned()),
                device: device.clone(),
                vendor_code: Some("sleep.getsummary".to_owned()),
            },
            Sample {
                device,
                ..sample(
                    Metric::RespiratoryRate,
                    night,
                    14.0,
                    Some("2081804182/respiratory-rate"),
                    "sleep.getsummary.rr_average"
                )
            },
        ]
    );
    // The last night, 2518656114: 2022-01-09T21:30:01Z to 2022-01-10T04:00:41Z.
    let last = find(&samples, "2518656114/sleep");
    assert_eq!(
        last.effective,
        period("2022-01-09T21:30:01Z", "2022-01-10T04:00:41Z")
    );
    assert_eq!(
        last.reading,
        Reading::Sleep {
            stages: vec![
                (SleepStage::Deep, 48.0),
                (SleepStage::Light, 179.0),
                (SleepStage::Rem, 93.0),
                (SleepStage::Awake, 64.0),
            ]
        }
    );
}

#[test]
fn withings_sleep_summary_without_data_fields() {
    let (samples, _) = py("sleep_summary_no_datafields.json");
    // The same 300 nights without hr/rr figures: sleep only.
    assert_eq!(counts(&samples), [(Metric::Sleep, 300)]);
    assert_eq!(samples[0].record_id.as_deref(), Some("2081804182/sleep"));
    assert_eq!(
        samples[0].reading,
        Reading::Sleep {
            stages: vec![
                (SleepStage::Deep, 97.0),
                (SleepStage::Light, 174.0),
                (SleepStage::Rem, 40.0),
                (SleepStage::Awake, 51.0),
            ]
        }
    );
}

#[test]
fn withings_shimmer_sleep_summary_older_api() {
    let (samples, _) = shimmer("withings-sleep-summary.json");
    // No remsleepduration in this older answer; no rr_average; model 16 without an id.
    assert_eq!(
        samples,
        [
            Sample {
                metric: Metric::Sleep,
                // 1504307700 = 2017-09-01T23:15:00Z, 1504319100 = 2017-09-02T02:25:00Z.
                effective: period("2017-09-01T23:15:00Z", "2017-09-02T02:25:00Z"),
                reading: Reading::Sleep {
                    stages: vec![
                        (SleepStage::Deep, 130.0),
                        (SleepStage::Light, 56.0),
                        (SleepStage::Awake, 0.0),
                    ]
                },
                record_id: Some("123/sleep".to_owned()),
                device: None,
                vendor_code: Some("sleep.getsummary".to_owned()),
            },
            Sample {
                metric: Metric::Sleep,
                // 1504477140 = 2017-09-03T22:19:00Z, 1504509540 = 2017-09-04T07:19:00Z.
                effective: period("2017-09-03T22:19:00Z", "2017-09-04T07:19:00Z"),
                reading: Reading::Sleep {
                    stages: vec![
                        (SleepStage::Deep, 230.0),
                        (SleepStage::Light, 265.0),
                        (SleepStage::Awake, 45.0),
                    ]
                },
                record_id: Some("124/sleep".to_owned()),
                device: None,
                vendor_code: Some("sleep.getsummary".to_owned()),
            },
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Withings: answers that are not measurements, errors
// ---------------------------------------------------------------------------------------

#[test]
fn withings_non_measurement_answers_are_reported_not_refused() {
    let (samples, report) = py("device.json");
    assert!(samples.is_empty());
    assert_eq!(report.skipped_total, 5);
    assert_eq!(
        skipped(&report)[4],
        ("/body/devices/4", "device list: not measurements")
    );
    let (samples, report) = py("new_device.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [("/body/devices/0", "device list: not measurements")]
    );
    let (samples, report) = py("goals.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [("/body/goals", "goals: not measurements")]
    );
    let (samples, report) = py("notify_list.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [(
            "/body/profiles/0",
            "notification subscription: not measurements"
        )]
    );
    // 11 workouts (`grep -c '"category"' workouts.json`).
    let (samples, report) = py("workouts.json");
    assert!(samples.is_empty());
    assert_eq!(report.skipped_total, 11);
    assert_eq!(
        skipped(&report)[0],
        ("/body/series/0", "workout: workouts are not imported yet")
    );
}

#[test]
fn withings_error_status_unknown_shape_and_broken_json() {
    let mut samples = Vec::new();
    match withings::parse(
        br#"{"status": 401, "error": "XRequestError: invalid_token"}"#,
        &mut samples,
    ) {
        Err(Error::Malformed { position, reason }) => {
            assert_eq!(position, "/status");
            assert_eq!(
                reason,
                "Withings answered status 401: XRequestError: invalid_token"
            );
        }
        other => panic!("{other:?}"),
    }
    for json in [
        &br#"{"status": 0, "body": {"something": []}}"#[..],
        br#"{"dailies": []}"#,
        br#"[{"summaryId": "x"}]"#,
        b"\"text\"",
    ] {
        match withings::parse(json, &mut samples) {
            Err(Error::Malformed { position, reason }) => {
                assert_eq!(position, "/");
                assert!(
                    reason.starts_with("not a Withings payload: expected"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // goals.json cut inside `"steps": 10000,`: its fourth line is `    "goals": {` and the
    // fifth `      "steps": 1` once cut after 16 characters → line 5, column 16.
    let whole = bytes("withings-python-withings/goals.json");
    let text = std::str::from_utf8(&whole).unwrap();
    let fifth_line_start: usize = text.split_inclusive('\n').take(4).map(str::len).sum();
    let cut = &whole[..fifth_line_start + 16];
    assert!(cut.ends_with(b"      \"steps\": 1"));
    match withings::parse(cut, &mut samples) {
        Err(Error::Malformed { position, reason }) => {
            assert_eq!(position, "line 5, column 16");
            assert_eq!(reason, "invalid JSON: EOF while parsing an object");
        }
        other => panic!("{other:?}"),
    }
    assert!(samples.is_empty());
}
