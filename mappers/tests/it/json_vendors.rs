//! The JSON vendor parsers over recorded vendor data: every Fitbit and Google Fit response
//! of Open mHealth Shimmer's test resources (`fixtures/wearables/openmhealth-shimmer/`) and
//! every Google Health API data point of django-google-health
//! (`fixtures/wearables/google-health-api/`). Expected samples are written from reading
//! each file (times cross-checked against the epoch values they come from).
//!
//! Health Connect and Oura have no recorded fixtures: their payloads here are written by
//! hand from the documented schemas (the Jetpack `androidx.health.connect.client.records`
//! reference, and the Oura API v2 `usercollection` models), and say so.

use std::path::PathBuf;

use mappers::Error;
use mappers::wearable::fitbit::{self, FitbitOptions, FitbitUnits};
use mappers::wearable::{
    DeviceKind, Effective, ParseReport, Reading, Sample, google_fit, health_connect, oura,
};

fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/wearables")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// `metric time value unit`, the unit being the metric's canonical one (daily unit for a
/// whole day).
fn line(sample: &Sample) -> String {
    let info = sample.metric.info();
    let (time, unit) = match &sample.effective {
        Effective::Instant(t) => (t.clone(), info.unit),
        Effective::Period { start, end } => (format!("{start}..{end}"), info.unit),
        Effective::Date(d) => (d.clone(), info.daily_unit.unwrap_or(info.unit)),
    };
    let value = match &sample.reading {
        Reading::Quantity(v) => format!("{v} {unit}"),
        Reading::BloodPressure {
            systolic,
            diastolic,
        } => format!("{systolic}/{diastolic} {unit}"),
        Reading::Sleep { stages } => {
            let parts: Vec<String> = stages.iter().map(|(s, m)| format!("{s:?} {m}")).collect();
            format!("{} {unit}", parts.join(", "))
        }
    };
    format!("{:?} {time} {value}", sample.metric)
}

fn lines(samples: &[Sample]) -> Vec<String> {
    samples.iter().map(line).collect()
}

fn skipped(report: &ParseReport) -> Vec<String> {
    report
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.position, s.reason))
        .collect()
}

fn fitbit_file(name: &str, options: &FitbitOptions) -> (Vec<Sample>, ParseReport) {
    let mut samples = Vec::new();
    let report = fitbit::parse_with(
        &fixture(&format!("openmhealth-shimmer/fitbit/{name}")),
        options,
        &mut samples,
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    (samples, report)
}

fn google_file(path: &str) -> (Vec<Sample>, ParseReport) {
    let mut samples = Vec::new();
    let report =
        google_fit::parse(&fixture(path), &mut samples).unwrap_or_else(|e| panic!("{path}: {e}"));
    (samples, report)
}

fn malformed(result: Result<ParseReport, Error>) -> (String, String) {
    match result {
        Err(Error::Malformed { position, reason }) => (position, reason),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// The first `n` lines of a file, without the line break after the last (a cut-off
/// download).
fn first_lines(bytes: &[u8], n: usize) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let kept: Vec<&str> = text.split('\n').take(n).collect();
    kept.join("\n").trim_end_matches('\r').as_bytes().to_vec()
}

// ---------------------------------------------------------------------------------------
// Fitbit (11 files).

#[test]
fn fitbit_heart_intraday_with_the_callers_offset() {
    // activities-heart[0]: dateTime 2015-08-21, "value": "64.2" (no restingHeartRate
    // object); intraday: 5 one-minute values 64, 63, 64, 65, 65 from 00:01:00.
    let options = FitbitOptions {
        utc_offset_minutes: 120,
        ..FitbitOptions::default()
    };
    let (samples, report) = fitbit_file("fitbit-activities-heart-1d-1m-intraday.json", &options);
    assert_eq!(
        lines(&samples),
        [
            "HeartRate 2015-08-21T00:01:00+02:00 64 /min",
            "HeartRate 2015-08-21T00:02:00+02:00 63 /min",
            "HeartRate 2015-08-21T00:03:00+02:00 64 /min",
            "HeartRate 2015-08-21T00:04:00+02:00 65 /min",
            "HeartRate 2015-08-21T00:05:00+02:00 65 /min",
        ]
    );
    assert_eq!(
        skipped(&report),
        ["/activities-heart/0/value: no `value.restingHeartRate` for 2015-08-21"]
    );
    assert_eq!((report.records, report.skipped_total), (6, 1));
    assert_eq!(
        samples[0].vendor_code.as_deref(),
        Some("activities-heart-intraday")
    );
    assert_eq!(samples[0].device, None);
}

#[test]
fn fitbit_steps_intraday_are_one_minute_periods_beside_the_daily_total() {
    // Daily 2015-08-21 "3212"; intraday 7 at 00:00, 0 at 14:27, 52 at 14:28 (interval 1 min).
    let (samples, report) = fitbit_file(
        "fitbit-activities-steps-1d-1m-intraday.json",
        &FitbitOptions::default(),
    );
    assert_eq!(
        lines(&samples),
        [
            "Steps 2015-08-21 3212 /d",
            "Steps 2015-08-21T00:00:00+00:00..2015-08-21T00:01:00+00:00 7 {steps}",
            "Steps 2015-08-21T14:27:00+00:00..2015-08-21T14:28:00+00:00 0 {steps}",
            "Steps 2015-08-21T14:28:00+00:00..2015-08-21T14:29:00+00:00 52 {steps}",
        ]
    );
    assert_eq!((report.records, report.skipped_total), (4, 0));
}

#[test]
fn fitbit_steps_time_series_are_daily_totals() {
    let (samples, report) = fitbit_file(
        "fitbit-activities-steps-timeseries.json",
        &FitbitOptions::default(),
    );
    assert_eq!(
        lines(&samples),
        [
            "Steps 2015-08-23 175 /d",
            "Steps 2015-08-24 2937 /d",
            "Steps 2015-08-25 0 /d",
        ]
    );
    assert_eq!(report.records, 3);
}

#[test]
fn fitbit_body_weight_log_is_in_kilograms() {
    // 4 logs, BMI about 21.5 at 56–58: kilograms (56.7 lb would be a 0.77 m tall adult).
    // Each logId is the epoch milliseconds of its date and time read as UTC
    // (1431541739000 = 2015-05-13T18:28:59Z), so this user's offset was +00:00.
    let (samples, report) = fitbit_file("fitbit-body-log-weight.json", &FitbitOptions::default());
    assert_eq!(
        lines(&samples),
        [
            "BodyWeight 2015-05-13T18:28:59+00:00 56.7 kg",
            "BodyWeight 2015-05-14T11:51:57+00:00 55.9 kg",
            "BodyWeight 2015-05-22T18:12:06+00:00 58.1 kg",
            "BodyWeight 2015-05-24T15:15:25+00:00 57.2 kg",
        ]
    );
    let ids: Vec<&str> = samples
        .iter()
        .filter_map(|s| s.record_id.as_deref())
        .collect();
    assert_eq!(
        ids,
        [
            "1431541739000",
            "1431604317000",
            "1432318326000",
            "1432480525000"
        ]
    );
    assert_eq!(report.records, 4);

    // The same response fetched with Accept-Language en_GB is in stone.
    let (stone, _) = fitbit_file(
        "fitbit-body-log-weight.json",
        &FitbitOptions {
            units: FitbitUnits::UnitedKingdom,
            ..FitbitOptions::default()
        },
    );
    // 56.7 st × 6.35029318 = 360.06162330600003 → 360.061623 kg.
    assert_eq!(stone[0].reading, Reading::Quantity(360.061_623));
}

#[test]
fn fitbit_sleep_logs_are_periods_with_classic_stages() {
    // Two classic logs of 2016-12-13: a 63-minute nap 09:59:00–11:02:30 (asleep 63), and
    // the main sleep 01:16–03:14 (asleep 112, restless 6 in 3 bouts, which Fitbit counts
    // in minutesAwake = 6). The nap's `duration` (3 780 000 ms = 63 min) ends 30 s before
    // its `endTime`: the `endTime` is kept.
    let expected = [
        "Sleep 2016-12-13T09:59:00+00:00..2016-12-13T11:02:30+00:00 Asleep 63, Awake 0 min",
        "Sleep 2016-12-13T01:16:00+00:00..2016-12-13T03:14:00+00:00 Asleep 112, Awake 6 min",
    ];
    for name in ["fitbit-sleep-date.json", "fitbit-sleep-date-range.json"] {
        let (samples, report) = fitbit_file(name, &FitbitOptions::default());
        assert_eq!(lines(&samples), expected, "{name}");
        let ids: Vec<&str> = samples
            .iter()
            .filter_map(|s| s.record_id.as_deref())
            .collect();
        assert_eq!(ids, ["13214029456", "13211507000"], "{name}");
        assert_eq!((report.records, report.skipped_total), (2, 0), "{name}");
    }
}

#[test]
fn fitbit_empty_sleep_lists_are_no_samples() {
    for name in [
        "fitbit-sleep-date-empty-sleep-list.json",
        "fitbit-sleep-date-range-empty-sleep-list.json",
    ] {
        let (samples, report) = fitbit_file(name, &FitbitOptions::default());
        assert!(samples.is_empty(), "{name}");
        assert_eq!(report, ParseReport::default(), "{name}");
    }
}

#[test]
fn fitbit_activities_date_summaries() {
    let day = FitbitOptions {
        date: Some("2015-06-23".into()),
        ..FitbitOptions::default()
    };
    // Empty list: steps 12517, total distance 8.56 km, activityCalories 799 (caloriesOut
    // 1892 includes BMR and is not active energy); no restingHeartRate.
    let (samples, report) = fitbit_file("fitbit-activities-date-empty-activities-list.json", &day);
    assert_eq!(
        lines(&samples),
        [
            "Steps 2015-06-23 12517 /d",
            "Distance 2015-06-23 8560 m",
            "ActiveEnergy 2015-06-23 799 kcal",
        ]
    );
    assert_eq!((report.records, report.skipped_total), (3, 0));

    // Three logged exercises (Run, Swimming, Walk) are skipped; steps 15242, the `total`
    // distance 12.87 km (not `tracker` 0 or `loggedActivities` 16.09345), 150 kcal.
    let (samples, report) = fitbit_file(
        "fitbit-activities-date-multiple-in-activities-list.json",
        &day,
    );
    assert_eq!(
        lines(&samples),
        [
            "Steps 2015-06-23 15242 /d",
            "Distance 2015-06-23 12870 m",
            "ActiveEnergy 2015-06-23 150 kcal",
        ]
    );
    assert_eq!(
        skipped(&report),
        [
            "/activities/0: logged exercise `Run`: exercise sessions are not mapped",
            "/activities/1: logged exercise `Swimming`: exercise sessions are not mapped",
            "/activities/2: logged exercise `Walk`: exercise sessions are not mapped",
        ]
    );
    assert_eq!(report.records, 6);

    // One Walk; steps 10007, total 7.32 km, 420 kcal. Without a date the summary cannot
    // be placed: skipped with the reason.
    let (samples, report) = fitbit_file(
        "fitbit-activities-date-single-in-activities-list.json",
        &day,
    );
    assert_eq!(
        lines(&samples),
        [
            "Steps 2015-06-23 10007 /d",
            "Distance 2015-06-23 7320 m",
            "ActiveEnergy 2015-06-23 420 kcal",
        ]
    );
    assert_eq!((report.records, report.skipped_total), (4, 1));
    let (none, report) = fitbit_file(
        "fitbit-activities-date-single-in-activities-list.json",
        &FitbitOptions::default(),
    );
    assert!(none.is_empty());
    assert_eq!(
        skipped(&report)[1],
        "/summary: an activities date summary does not name its day: pass `FitbitOptions::date`"
    );
}

#[test]
fn fitbit_cut_off_response_names_line_and_column() {
    // Cut after line 5, `            "value": "175"`: 26 characters.
    let bytes = first_lines(
        &fixture("openmhealth-shimmer/fitbit/fitbit-activities-steps-timeseries.json"),
        5,
    );
    let (position, reason) = malformed(fitbit::parse(&bytes, &mut Vec::new()));
    assert_eq!(position, "line 5, column 26");
    assert_eq!(reason, "invalid JSON: EOF while parsing an object");
}

// ---------------------------------------------------------------------------------------
// Google Fit (11 files).

#[test]
fn google_fit_heart_rate_points_at_their_start_in_utc() {
    // 54 bpm at 1422632268186000000 ns, 58 bpm at 1436538872914000000 ns (its end is
    // 1.001 s later).
    let (samples, report) =
        google_file("openmhealth-shimmer/googlefit/googlefit-merge-heart-rate.json");
    assert_eq!(
        lines(&samples),
        [
            "HeartRate 2015-01-30T15:37:48.186Z 54 /min",
            "HeartRate 2015-07-10T14:34:32.914Z 58 /min",
        ]
    );
    assert_eq!(report.records, 2);
    let device = samples[0].device.as_ref().unwrap();
    assert_eq!(
        device.key,
        "raw:com.google.heart_rate.bpm:com.azumio.instantheartrate.full:"
    );
    assert_eq!(
        device.name.as_deref(),
        Some("com.azumio.instantheartrate.full")
    );
    assert_eq!(device.kind, DeviceKind::Manual);
    assert_eq!(
        samples[0].vendor_code.as_deref(),
        Some("com.google.heart_rate.bpm")
    );
}

#[test]
fn google_fit_weight_loses_its_float32_noise() {
    // 72.0999984741211 is the 32-bit float of 72.1; 75.75070190429688 that of 75.7507.
    let (samples, _) = google_file("openmhealth-shimmer/googlefit/googlefit-merge-weight.json");
    assert_eq!(
        lines(&samples),
        [
            "BodyWeight 2015-02-13T00:00:00Z 72.1 kg",
            "BodyWeight 2015-02-17T16:57:13.313Z 72 kg",
            "BodyWeight 2015-07-08T03:17:00Z 75.7507 kg",
        ]
    );
    let apps: Vec<&str> = samples
        .iter()
        .map(|s| s.device.as_ref().unwrap().name.as_deref().unwrap())
        .collect();
    assert_eq!(
        apps,
        [
            "com.fatsecret.android",
            "com.wsl.noom",
            "com.google.android.apps.fitness"
        ]
    );
}

#[test]
fn google_fit_height_in_metres_becomes_centimetres() {
    // 1.8287990093231201 m is the float32 of 1.828799; 1.828800082206726 that of 1.8288001.
    let (samples, _) = google_file("openmhealth-shimmer/googlefit/googlefit-merge-height.json");
    assert_eq!(
        lines(&samples),
        [
            "BodyHeight 2015-07-08T03:17:06.03Z 182.8799 cm",
            "BodyHeight 2015-07-08T14:43:57.544Z 182.88001 cm",
        ]
    );
}

#[test]
fn google_fit_step_deltas_with_a_phone_and_nanosecond_ends() {
    let (samples, report) =
        google_file("openmhealth-shimmer/googlefit/googlefit-merge-step-deltas.json");
    assert_eq!(
        lines(&samples),
        [
            "Steps 2015-02-02T22:49:39.811Z..2015-02-02T23:25:20.811Z 4146 {steps}",
            "Steps 2015-07-10T20:00:00Z..2015-07-10T20:30:00Z 0 {steps}",
            "Steps 2015-07-10T21:58:17.687316406Z..2015-07-10T21:59:17.687316406Z 17 {steps}",
            "Steps 2015-07-10T22:05:21.162Z..2015-07-10T22:07:18.006058105Z 184 {steps}",
        ]
    );
    assert_eq!(report.records, 4);
    // derived:…:com.google.android.gms:samsung:Galaxy Nexus:32b1bd9e:soft_step_counter
    let phone = samples[2].device.as_ref().unwrap();
    assert_eq!(phone.kind, DeviceKind::Phone);
    assert_eq!(phone.manufacturer.as_deref(), Some("samsung"));
    assert_eq!(phone.model.as_deref(), Some("Galaxy Nexus"));
    // raw:…:com.google.android.apps.fitness:user_input: typed in.
    assert_eq!(samples[1].device.as_ref().unwrap().kind, DeviceKind::Manual);
}

#[test]
fn google_fit_sleep_segment_and_skipped_activities() {
    // Activity 72 (sleeping) from 13:30 to 14:00 UTC on 2015-07-07: 30 minutes asleep.
    let (samples, report) = google_file(
        "openmhealth-shimmer/googlefit/googlefit-merge-activity-segments-only-sleep.json",
    );
    assert_eq!(
        lines(&samples),
        ["Sleep 2015-07-07T13:30:00Z..2015-07-07T14:00:00Z Asleep 30 min"]
    );
    assert_eq!(report.records, 1);

    // Activity 3 (still) is not sleep.
    let (samples, report) = google_file(
        "openmhealth-shimmer/googlefit/googlefit-merge-activity-segments-only-stationary-activity.json",
    );
    assert!(samples.is_empty());
    assert_eq!(skipped(&report), ["/point/0: activity type 3 is not sleep"]);

    // Walking (7), aerobics (9) and running (8): all skipped.
    let (samples, report) =
        google_file("openmhealth-shimmer/googlefit/googlefit-merge-activity-segments.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        [
            "/point/0: activity type 7 is not sleep",
            "/point/1: activity type 9 is not sleep",
            "/point/2: activity type 8 is not sleep",
        ]
    );
}

#[test]
fn google_fit_total_calories_location_and_speed_are_skipped() {
    let (samples, report) =
        google_file("openmhealth-shimmer/googlefit/googlefit-merge-calories-expended.json");
    assert!(samples.is_empty());
    assert_eq!(report.skipped_total, 3);
    assert_eq!(
        report.skipped[1].reason,
        "com.google.calories.expended: total energy (basal included), not active energy"
    );
    for (file, data_type) in [
        (
            "googlefit-merge-location-samples.json",
            "com.google.location.sample",
        ),
        ("googlefit-merge-speed.json", "com.google.speed"),
    ] {
        let (samples, report) = google_file(&format!("openmhealth-shimmer/googlefit/{file}"));
        assert!(samples.is_empty(), "{file}");
        assert_eq!(
            skipped(&report),
            [
                format!("/point/0: {data_type}: not a data type HealthOS maps"),
                format!("/point/1: {data_type}: not a data type HealthOS maps"),
            ],
            "{file}"
        );
    }
}

#[test]
fn google_fit_dataset_without_points_is_empty() {
    let (samples, report) = google_file("openmhealth-shimmer/googlefit/googlefit-empty.json");
    assert!(samples.is_empty());
    assert_eq!(report, ParseReport::default());
}

#[test]
fn google_fit_cut_off_response_names_line_and_column() {
    // CRLF file cut after line 5, `    "point": [`: 14 characters.
    let bytes = first_lines(
        &fixture("openmhealth-shimmer/googlefit/googlefit-merge-weight.json"),
        5,
    );
    let (position, reason) = malformed(google_fit::parse(&bytes, &mut Vec::new()));
    assert_eq!(position, "line 5, column 14");
    assert_eq!(reason, "invalid JSON: EOF while parsing a list");
}

// ---------------------------------------------------------------------------------------
// Google Health API (11 files).

#[test]
fn health_api_heart_rate_resting_and_spo2() {
    // physicalTime 2026-08-06T12:01:29Z at utcOffset -14400s is civil 08:01:29, as the file's
    // civilTime says.
    let (samples, _) = google_file("google-health-api/heart_rate_sample.json");
    assert_eq!(
        lines(&samples),
        ["HeartRate 2026-08-06T08:01:29-04:00 72 /min"]
    );
    let device = samples[0].device.as_ref().unwrap();
    assert_eq!(device.key, "Charge 5");
    assert_eq!(device.kind, DeviceKind::Watch);
    assert_eq!(samples[0].vendor_code.as_deref(), Some("heartRate"));

    let (samples, _) = google_file("google-health-api/daily_resting_heart_rate.json");
    assert_eq!(lines(&samples), ["RestingHeartRate 2026-08-06 53 /min"]);

    // averagePercentage 99.3 (bounds 97.9–100 are not kept).
    let (samples, _) = google_file("google-health-api/daily_oxygen_saturation.json");
    assert_eq!(lines(&samples), ["OxygenSaturation 2026-08-06 99.3 %"]);
}

#[test]
fn health_api_activity_intervals() {
    let (samples, _) = google_file("google-health-api/steps.json");
    assert_eq!(
        lines(&samples),
        ["Steps 2026-08-06T08:01:00-04:00..2026-08-06T08:02:00-04:00 1 {steps}"]
    );
    // "millimeters": "700" → 0.7 m.
    let (samples, _) = google_file("google-health-api/distance.json");
    assert_eq!(
        lines(&samples),
        ["Distance 2026-08-06T08:01:00-04:00..2026-08-06T08:02:00-04:00 0.7 m"]
    );
    let (samples, _) = google_file("google-health-api/active_energy_burned.json");
    assert_eq!(
        lines(&samples),
        [
            "ActiveEnergy 2026-08-07T11:04:00-04:00..2026-08-07T11:05:00-04:00 0.7933980000000002 kcal"
        ]
    );
}

#[test]
fn health_api_sleep_stages_from_the_summary() {
    // 21:30 to 07:07 local (-04:00); stagesSummary AWAKE 7, LIGHT 382, DEEP 53, REM 134:
    // 382 + 53 + 134 = 569 = summary.minutesAsleep.
    let (samples, report) = google_file("google-health-api/sleep_stages.json");
    assert_eq!(
        lines(&samples),
        [
            "Sleep 2026-08-05T21:30:00-04:00..2026-08-06T07:07:00-04:00 Awake 7, Light 382, Deep 53, Rem 134 min"
        ]
    );
    assert_eq!(
        samples[0].record_id.as_deref(),
        Some("dataTypes/sleep/dataPoints/7821966286120953736")
    );
    assert_eq!(report.records, 1);
}

#[test]
fn health_api_manual_weight_in_grams() {
    // weightGrams 87090 at 14:46:22.749348Z, offset -4 h; entered by hand, no device.
    let (samples, _) = google_file("google-health-api/weight_manual.json");
    assert_eq!(
        lines(&samples),
        ["BodyWeight 2026-08-07T10:46:22.749348-04:00 87.09 kg"]
    );
    assert_eq!(
        samples[0].record_id.as_deref(),
        Some("dataTypes/weight/dataPoints/6685309773198399080")
    );
    assert_eq!(samples[0].device, None);
}

#[test]
fn health_api_zone_minutes_and_exercise_are_skipped() {
    let (samples, report) = google_file("google-health-api/active_zone_minutes.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        ["/activeZoneMinutes: active-zone minutes have no FHIR mapping here"]
    );
    let (samples, report) = google_file("google-health-api/exercise_walking.json");
    assert!(samples.is_empty());
    assert_eq!(
        skipped(&report),
        ["/exercise: exercise sessions are not mapped"]
    );
}

#[test]
fn health_api_error_body_is_an_error_with_the_apis_message() {
    let (position, reason) = malformed(google_fit::parse(
        &fixture("google-health-api/error_account_not_linked.json"),
        &mut Vec::new(),
    ));
    assert_eq!(position, "/error");
    assert_eq!(
        reason,
        "the Google API answered with an error 400 FAILED_PRECONDITION: The account is not linked to Google Health."
    );
}

#[test]
fn health_api_cut_off_point_names_line_and_column() {
    // Cut after line 5, `      "displayName": "Charge 5"`: 31 characters.
    let bytes = first_lines(&fixture("google-health-api/heart_rate_sample.json"), 5);
    let (position, reason) = malformed(google_fit::parse(&bytes, &mut Vec::new()));
    assert_eq!(position, "line 5, column 31");
    assert_eq!(reason, "invalid JSON: EOF while parsing an object");
}

#[test]
fn google_payload_of_another_shape_is_refused_at_the_root() {
    let (position, reason) = malformed(google_fit::parse(br#"{"session": []}"#, &mut Vec::new()));
    assert_eq!(position, "/");
    assert!(
        reason.starts_with("not a Google Fit payload: expected one of"),
        "{reason}"
    );
}

// ---------------------------------------------------------------------------------------
// Health Connect (hand-written from the Jetpack records reference).

const HEALTH_CONNECT: &str = r#"{"records": [
  {"type": "HeartRateRecord",
   "startTime": "2024-03-01T06:15:00Z", "startZoneOffset": "+01:00",
   "endTime": "2024-03-01T06:16:00Z", "endZoneOffset": "+01:00",
   "samples": [{"time": "2024-03-01T06:15:00Z", "beatsPerMinute": 62},
               {"time": "2024-03-01T06:15:30.500Z", "beatsPerMinute": 64},
               {"time": "2024-03-01T06:16:00Z"}],
   "metadata": {"id": "hr-1", "dataOrigin": {"packageName": "com.google.android.apps.fitness"},
                "device": {"type": 1, "manufacturer": "Google", "model": "Pixel Watch 2"},
                "recordingMethod": 2}},
  {"type": "RestingHeartRateRecord", "time": "2024-03-01T05:00:00Z", "zoneOffset": "+01:00",
   "beatsPerMinute": 54, "metadata": {"id": "rhr-1"}},
  {"type": "HeartRateVariabilityRmssdRecord", "time": "2024-03-01T04:00:00Z", "zoneOffset": null,
   "heartRateVariabilityMillis": 41.5, "metadata": {"id": "hrv-1"}},
  {"type": "StepsRecord", "startTime": "2024-03-01T08:00:00Z", "startZoneOffset": "+01:00",
   "endTime": "2024-03-01T08:15:00Z", "endZoneOffset": "+01:00", "count": 1210,
   "metadata": {"id": "steps-1", "dataOrigin": "com.sec.android.app.shealth",
                "device": {"type": 2, "manufacturer": "samsung", "model": "SM-S911B"}}},
  {"type": "DistanceRecord", "startTime": "2024-03-01T08:00:00Z", "startZoneOffset": "+01:00",
   "endTime": "2024-03-01T08:15:00Z", "endZoneOffset": "+01:00",
   "distance": {"inMiles": 0.5}, "metadata": {"id": "dist-1"}},
  {"type": "ActiveCaloriesBurnedRecord", "startTime": "2024-03-01T08:00:00Z", "startZoneOffset": "+01:00",
   "endTime": "2024-03-01T08:15:00Z", "endZoneOffset": "+01:00",
   "energy": {"inKilocalories": 85.5}, "metadata": {"id": "kcal-1"}},
  {"type": "SleepSessionRecord", "startTime": "2024-02-29T22:30:00Z", "startZoneOffset": "+01:00",
   "endTime": "2024-03-01T06:00:00Z", "endZoneOffset": "+01:00",
   "stages": [{"startTime": "2024-02-29T22:30:00Z", "endTime": "2024-02-29T22:45:00Z", "stage": 7},
              {"startTime": "2024-02-29T22:45:00Z", "endTime": "2024-03-01T01:00:00Z", "stage": 4},
              {"startTime": "2024-03-01T01:00:00Z", "endTime": "2024-03-01T02:30:00Z", "stage": 5},
              {"startTime": "2024-03-01T02:30:00Z", "endTime": "2024-03-01T02:40:00Z", "stage": 1},
              {"startTime": "2024-03-01T02:40:00Z", "endTime": "2024-03-01T04:40:00Z", "stage": 4},
              {"startTime": "2024-03-01T04:40:00Z", "endTime": "2024-03-01T06:00:00Z", "stage": 6}],
   "metadata": {"id": "sleep-1", "device": {"type": 4, "manufacturer": "Oura", "model": "Gen3"}}},
  {"type": "OxygenSaturationRecord", "time": "2024-03-01T03:00:00Z", "zoneOffset": "+01:00",
   "percentage": {"value": 96.0}, "metadata": {"id": "spo2-1"}},
  {"type": "RespiratoryRateRecord", "time": "2024-03-01T03:00:00Z", "zoneOffset": "+01:00",
   "rate": 14.5, "metadata": {"id": "rr-1"}},
  {"type": "WeightRecord", "time": "2024-03-01T06:30:00Z", "zoneOffset": "+01:00",
   "weight": {"inPounds": 160}, "metadata": {"id": "wt-1", "recordingMethod": 3,
   "device": {"type": 2, "manufacturer": "samsung", "model": "SM-S911B"}}},
  {"type": "HeightRecord", "time": "2024-03-01T06:30:00Z", "zoneOffset": "+01:00",
   "height": {"inMeters": 1.78}, "metadata": {"id": "ht-1"}},
  {"type": "BloodPressureRecord", "time": "2024-03-01T07:00:00Z", "zoneOffset": "+01:00",
   "systolic": {"inMillimetersOfMercury": 118}, "diastolic": {"inMillimetersOfMercury": 76},
   "bodyPosition": 2, "measurementLocation": 1, "metadata": {"id": "bp-1"}},
  {"type": "BodyTemperatureRecord", "time": "2024-03-01T07:00:00Z", "zoneOffset": "+01:00",
   "temperature": {"inFahrenheit": 98.6}, "measurementLocation": 0, "metadata": {"id": "temp-1"}},
  {"type": "BloodGlucoseRecord", "time": "2024-03-01T07:30:00Z", "zoneOffset": "+01:00",
   "level": {"inMillimolesPerLiter": 5.5}, "specimenSource": 2, "metadata": {"id": "glu-1"}},
  {"type": "Vo2MaxRecord", "time": "2024-03-01T09:00:00Z", "zoneOffset": "+01:00",
   "vo2MillilitersPerMinuteKilogram": 44.2, "measurementMethod": 0, "metadata": {"id": "vo2-1"}},
  {"type": "HydrationRecord", "startTime": "2024-03-01T09:00:00Z", "endTime": "2024-03-01T09:01:00Z",
   "volume": {"inLiters": 0.25}, "metadata": {"id": "h2o-1"}},
  {"type": "WeightRecord", "time": "2024-03-01T06:30:00Z", "zoneOffset": "+01:30:15",
   "weight": {"inKilograms": 72}, "metadata": {"id": "wt-2"}}
]}"#;

#[test]
fn health_connect_every_mapped_record_type() {
    let mut samples = Vec::new();
    let report = health_connect::parse(HEALTH_CONNECT.as_bytes(), &mut samples).unwrap();
    assert_eq!(
        lines(&samples),
        [
            "HeartRate 2024-03-01T07:15:00+01:00 62 /min",
            "HeartRate 2024-03-01T07:15:30.5+01:00 64 /min",
            "RestingHeartRate 2024-03-01T06:00:00+01:00 54 /min",
            // No zone offset: stays UTC.
            "HrvRmssd 2024-03-01T04:00:00Z 41.5 ms",
            "Steps 2024-03-01T09:00:00+01:00..2024-03-01T09:15:00+01:00 1210 {steps}",
            // 0.5 mi × 1609.344 = 804.672 m.
            "Distance 2024-03-01T09:00:00+01:00..2024-03-01T09:15:00+01:00 804.672 m",
            "ActiveEnergy 2024-03-01T09:00:00+01:00..2024-03-01T09:15:00+01:00 85.5 kcal",
            // Awake in bed 15 min; light 135 + 120; deep 90; awake 10; REM 80.
            "Sleep 2024-02-29T23:30:00+01:00..2024-03-01T07:00:00+01:00 InBed 15, Light 255, Deep 90, Awake 10, Rem 80 min",
            "OxygenSaturation 2024-03-01T04:00:00+01:00 96 %",
            "RespiratoryRate 2024-03-01T04:00:00+01:00 14.5 /min",
            // 160 lb × 0.45359237 = 72.5747792 kg.
            "BodyWeight 2024-03-01T07:30:00+01:00 72.574779 kg",
            "BodyHeight 2024-03-01T07:30:00+01:00 178 cm",
            "BloodPressure 2024-03-01T08:00:00+01:00 118/76 mm[Hg]",
            // (98.6 − 32) × 5/9 = 37 °C.
            "BodyTemperature 2024-03-01T08:00:00+01:00 37 Cel",
            // 5.5 mmol/L × 18.016 = 99.088 mg/dL.
            "BloodGlucose 2024-03-01T08:30:00+01:00 99.088 mg/dL",
            "Vo2Max 2024-03-01T10:00:00+01:00 44.2 mL/min/kg",
        ]
    );
    assert_eq!(
        skipped(&report),
        [
            "/records/0/samples/2: needs a `time` instant and `beatsPerMinute`",
            "/records/15: record type `HydrationRecord` is not mapped",
            "/records/16: WeightRecord: needs its time(s) as instants and valid zone offsets",
        ]
    );
    assert_eq!((report.records, report.skipped_total), (19, 3));

    let ids: Vec<&str> = samples
        .iter()
        .filter_map(|s| s.record_id.as_deref())
        .collect();
    assert_eq!(
        &ids[..4],
        ["hr-1/samples/0", "hr-1/samples/1", "rhr-1", "hrv-1"]
    );
    let watch = samples[0].device.as_ref().unwrap();
    assert_eq!(
        (watch.key.as_str(), watch.kind),
        ("Google Pixel Watch 2", DeviceKind::Watch)
    );
    assert_eq!(samples[4].device.as_ref().unwrap().kind, DeviceKind::Phone);
    assert_eq!(samples[7].device.as_ref().unwrap().kind, DeviceKind::Ring);
    // Typed into the phone: recordingMethod 3.
    assert_eq!(
        samples[10].device.as_ref().unwrap().kind,
        DeviceKind::Manual
    );
    assert_eq!(samples[2].device, None);
    assert_eq!(samples[15].vendor_code.as_deref(), Some("Vo2MaxRecord"));
}

#[test]
fn health_connect_session_without_stages_and_bad_input() {
    let json = br#"{"records": [{"type": "SleepSessionRecord",
        "startTime": "2024-03-01T13:00:00Z", "endTime": "2024-03-01T13:25:30Z",
        "metadata": {"id": "nap", "dataOrigin": {"packageName": "com.example.sleep"}}}]}"#;
    let mut samples = Vec::new();
    health_connect::parse(json, &mut samples).unwrap();
    assert_eq!(
        lines(&samples),
        ["Sleep 2024-03-01T13:00:00Z..2024-03-01T13:25:30Z Asleep 25.5 min"]
    );
    let app = samples[0].device.as_ref().unwrap();
    assert_eq!(
        (app.key.as_str(), app.kind),
        ("com.example.sleep", DeviceKind::Manual)
    );

    let (position, reason) = malformed(health_connect::parse(
        br#"{"records": [{"type": "StepsRecord", "count": 3"#,
        &mut Vec::new(),
    ));
    assert_eq!(position, "line 1, column 47");
    assert_eq!(reason, "invalid JSON: EOF while parsing an object");
    let (position, reason) = malformed(health_connect::parse(br#"[]"#, &mut Vec::new()));
    assert_eq!(position, "/");
    assert_eq!(
        reason,
        "not a Health Connect payload: expected one of `records` (a list of Health Connect records); found a JSON array"
    );
}

// ---------------------------------------------------------------------------------------
// Oura v2 (hand-written from the documented v2 usercollection models).

fn oura_read(json: &str) -> (Vec<Sample>, ParseReport) {
    let mut samples = Vec::new();
    let report = oura::parse(json.as_bytes(), &mut samples).unwrap();
    (samples, report)
}

#[test]
fn oura_heartrate_samples_keep_their_offset() {
    let (samples, report) = oura_read(
        r#"{"data": [{"bpm": 58, "source": "awake", "timestamp": "2024-03-01T07:00:00+01:00"},
                     {"bpm": 51, "source": "sleep", "timestamp": "2024-03-01T02:05:00.000+01:00"},
                     {"bpm": null, "source": "rest", "timestamp": "2024-03-01T02:10:00+01:00"}],
            "next_token": null}"#,
    );
    assert_eq!(
        lines(&samples),
        [
            "HeartRate 2024-03-01T07:00:00+01:00 58 /min",
            "HeartRate 2024-03-01T02:05:00+01:00 51 /min",
        ]
    );
    assert_eq!(
        skipped(&report),
        ["/data/2: needs a `timestamp` with offset and a numeric `bpm`"]
    );
    let ring = samples[0].device.as_ref().unwrap();
    assert_eq!(
        (ring.key.as_str(), ring.kind),
        ("oura-ring", DeviceKind::Ring)
    );
}

#[test]
fn oura_sleep_periods_with_rmssd_and_breathing() {
    // Durations in seconds: deep 5400 = 90 min, light 14400 = 240, REM 6300 = 105, awake
    // 1800 = 30. lowest_heart_rate 48 is not a resting heart rate and is not read.
    let (samples, report) = oura_read(
        r#"{"data": [
          {"id": "s-1", "day": "2024-03-01", "type": "long_sleep",
           "bedtime_start": "2024-02-29T23:10:00+01:00", "bedtime_end": "2024-03-01T07:10:00+01:00",
           "total_sleep_duration": 26100, "deep_sleep_duration": 5400, "light_sleep_duration": 14400,
           "rem_sleep_duration": 6300, "awake_time": 1800, "average_hrv": 46,
           "average_heart_rate": 55.25, "lowest_heart_rate": 48, "average_breath": 14.625},
          {"id": "s-2", "day": "2024-03-01", "type": "deleted",
           "bedtime_start": "2024-03-01T14:00:00+01:00", "bedtime_end": "2024-03-01T14:20:00+01:00"}],
          "next_token": null}"#,
    );
    let period = "2024-02-29T23:10:00+01:00..2024-03-01T07:10:00+01:00";
    assert_eq!(
        lines(&samples),
        [
            format!("Sleep {period} Deep 90, Light 240, Rem 105, Awake 30 min"),
            format!("HrvRmssd {period} 46 ms"),
            format!("RespiratoryRate {period} 14.625 /min"),
        ]
    );
    assert!(
        samples
            .iter()
            .all(|s| s.record_id.as_deref() == Some("s-1"))
    );
    assert_eq!(
        skipped(&report),
        ["/data/1: sleep period deleted by the user"]
    );
    assert_eq!(report.records, 4);
}

#[test]
fn oura_daily_activity_spo2_and_readiness() {
    let (samples, _) = oura_read(
        r#"{"data": [{"id": "a-1", "day": "2024-03-01", "score": 82, "steps": 9120,
                      "active_calories": 410, "total_calories": 2350,
                      "equivalent_walking_distance": 7400}], "next_token": null}"#,
    );
    assert_eq!(
        lines(&samples),
        [
            "Steps 2024-03-01 9120 /d",
            "ActiveEnergy 2024-03-01 410 kcal",
            "Distance 2024-03-01 7400 m",
        ]
    );

    let (samples, report) = oura_read(
        r#"{"data": [{"id": "o-1", "day": "2024-03-01", "spo2_percentage": {"average": 96.812},
                      "breathing_disturbance_index": 4},
                     {"id": "o-2", "day": "2024-03-02", "spo2_percentage": null}],
            "next_token": null}"#,
    );
    assert_eq!(lines(&samples), ["OxygenSaturation 2024-03-01 96.812 %"]);
    assert_eq!(
        skipped(&report),
        ["/data/1: no value in `spo2_percentage.average` for 2024-03-02"]
    );

    let (samples, _) = oura_read(
        r#"{"data": [{"id": "r-1", "day": "2024-03-01", "score": 77,
                      "temperature_deviation": -0.21, "temperature_trend_deviation": 0.05,
                      "contributors": {}}], "next_token": null}"#,
    );
    assert_eq!(
        lines(&samples),
        ["TemperatureDeviation 2024-03-01 -0.21 Cel"]
    );
}

#[test]
fn oura_unknown_endpoint_empty_list_and_broken_json() {
    let (samples, report) = oura_read(r#"{"data": [], "next_token": null}"#);
    assert!(samples.is_empty());
    assert_eq!(report, ParseReport::default());

    // daily_sleep (scores only) is not read.
    let (position, reason) = malformed(oura::parse(
        br#"{"data": [{"id": "d", "day": "2024-03-01", "score": 80, "contributors": {}}]}"#,
        &mut Vec::new(),
    ));
    assert_eq!(position, "/data/0");
    assert!(
        reason.starts_with("not a record of an Oura endpoint read here"),
        "{reason}"
    );

    let (position, _) = malformed(oura::parse(br#"{"sleep": []}"#, &mut Vec::new()));
    assert_eq!(position, "/");

    let (position, reason) =
        malformed(oura::parse(b"{\"data\": [\n  {\"bpm\": 5", &mut Vec::new()));
    assert_eq!(position, "line 2, column 11");
    assert_eq!(reason, "invalid JSON: EOF while parsing an object");
}

// ---------------------------------------------------------------------------------------
// Every parser, every cut.

#[test]
fn every_cut_off_prefix_is_refused_with_a_line_and_column() {
    type Parse = fn(&[u8]) -> Result<ParseReport, Error>;
    let fitbit: Parse = |b| fitbit::parse(b, &mut Vec::new());
    let google: Parse = |b| google_fit::parse(b, &mut Vec::new());
    let health_connect: Parse = |b| health_connect::parse(b, &mut Vec::new());
    let oura: Parse = |b| oura::parse(b, &mut Vec::new());
    let mut inputs: Vec<(String, Vec<u8>, Parse)> = vec![
        ("health connect".into(), HEALTH_CONNECT.as_bytes().to_vec(), health_connect),
        (
            "oura".into(),
            br#"{"data": [{"bpm": 58, "source": "awake", "timestamp": "2024-03-01T07:00:00+01:00"}]}"#.to_vec(),
            oura,
        ),
    ];
    for (dir, parse) in [
        ("openmhealth-shimmer/fitbit", fitbit),
        ("openmhealth-shimmer/googlefit", google),
        ("google-health-api", google),
    ] {
        let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/wearables")
            .join(dir);
        let mut names: Vec<String> = std::fs::read_dir(&full)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        for name in names {
            let path = format!("{dir}/{name}");
            inputs.push((path.clone(), fixture(&path), parse));
        }
    }
    assert_eq!(inputs.len(), 2 + 11 + 11 + 11);
    for (name, bytes, parse) in inputs {
        let closing = bytes.iter().rposition(|&b| b == b'}').unwrap();
        for cut in (0..closing).step_by(7) {
            match parse(&bytes[..cut]) {
                Err(Error::Malformed { position, .. }) if position.starts_with("line ") => {}
                other => panic!("{name} cut at {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn fitbit_offset_beyond_eighteen_hours_is_refused() {
    let options = FitbitOptions {
        utc_offset_minutes: 19 * 60,
        ..FitbitOptions::default()
    };
    let result = fitbit::parse_with(br#"{"sleep": []}"#, &options, &mut Vec::new());
    let (position, reason) = malformed(result);
    assert_eq!(position, "FitbitOptions::utc_offset_minutes");
    assert_eq!(reason, "1140 minutes is not a UTC offset (±18 h at most)");
}
