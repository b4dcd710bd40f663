//! Apple Health export parsing over the recorded exports in `fixtures/wearables/apple-health/`
//! (each folder's SOURCE.md says where they come from), plus small hand-written exports for
//! what those files do not contain (blood-pressure correlations, SpO2, every sleep stage,
//! unit conversions, broken input).
//!
//! Not every file there is an export. tdda's CSVs (`StepCount.csv`,
//! `DistanceWalkingRunning.csv`, `Workout.csv`, `ActivitySummary.csv`) are what that tool
//! derived from `export6s3sample.xml`: they are not imported, but read here as an
//! independent count and value check of the XML. dogsheep's
//! `workout-routes/route_2019-06-11_3.00pm.gpx` is a workout's GPS route: it goes into the
//! zip built from `zip_contents/` (as the Health app packs it) and must be ignored; as an
//! XML file it is the wrong-root case.

use std::io::{Cursor, Write};
use std::path::PathBuf;

use mappers::Error;
use mappers::wearable::apple_health::{parse, parse_xml, parse_zip};
use mappers::wearable::{
    DeviceInfo, DeviceKind, Effective, Metric, ParseReport, Reading, Sample, SleepStage,
};

const DIR: &str = "wearables/apple-health";

fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(DIR)
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn fixture_text(path: &str) -> String {
    String::from_utf8(fixture(path)).unwrap()
}

fn read_xml(bytes: &[u8]) -> Result<(Vec<Sample>, ParseReport), Error> {
    let mut samples = Vec::new();
    let report = parse_xml(bytes, &mut samples)?;
    Ok((samples, report))
}

fn read(bytes: &[u8]) -> (Vec<Sample>, ParseReport) {
    read_xml(bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn malformed(result: Result<ParseReport, Error>) -> (String, String) {
    match result {
        Err(Error::Malformed { position, reason }) => (position, reason),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// A small export around `body`.
fn export(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<HealthData locale=\"en_US\">\n \
         <ExportDate value=\"2024-06-01 08:00:00 +0000\"/>\n{body}</HealthData>\n"
    )
}

/// One `Record` line.
fn record(ty: &str, unit: &str, value: &str, start: &str, end: &str) -> String {
    format!(
        " <Record type=\"{ty}\" sourceName=\"Ann's Apple Watch\" unit=\"{unit}\" \
         startDate=\"{start}\" endDate=\"{end}\" value=\"{value}\"/>\n"
    )
}

fn quantity(sample: &Sample) -> f64 {
    match sample.reading {
        Reading::Quantity(v) => v,
        ref other => panic!("not a quantity: {other:?}"),
    }
}

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9 * expected.abs().max(1.0),
        "{actual} != {expected}"
    );
}

fn count(samples: &[Sample], metric: Metric) -> usize {
    samples.iter().filter(|s| s.metric == metric).count()
}

fn skipped(report: &ParseReport) -> Vec<(&str, &str)> {
    report
        .skipped
        .iter()
        .map(|s| (s.position.as_str(), s.reason.as_str()))
        .collect()
}

fn period(start: &str, end: &str) -> Effective {
    Effective::Period {
        start: start.to_owned(),
        end: end.to_owned(),
    }
}

fn instant(at: &str) -> Effective {
    Effective::Instant(at.to_owned())
}

/// A device known by its `sourceName` only.
fn source_device(name: &str, kind: DeviceKind) -> DeviceInfo {
    DeviceInfo {
        key: name.to_owned(),
        name: Some(name.to_owned()),
        manufacturer: None,
        model: None,
        version: None,
        kind,
    }
}

fn watch(manufacturer: &str, hardware: &str, software: &str) -> DeviceInfo {
    DeviceInfo {
        key: format!("Apple Watch/Watch/{hardware}"),
        name: Some("Apple Watch".to_owned()),
        manufacturer: Some(manufacturer.to_owned()),
        model: Some("Watch".to_owned()),
        version: Some(software.to_owned()),
        kind: DeviceKind::Watch,
    }
}

/// The rows of one of tdda's CSVs, split at commas (none of its fields holds one).
fn csv_rows(path: &str) -> Vec<Vec<String>> {
    fixture_text(path)
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split(',')
                .map(|f| f.trim_matches('"').to_owned())
                .collect()
        })
        .collect()
}

/// `2014-09-13 10:27:54 +0100` as FHIR writes it.
fn fhir_date(apple: &str) -> String {
    format!(
        "{}T{}{}:{}",
        &apple[..10],
        &apple[11..19],
        &apple[20..23],
        &apple[23..]
    )
}

// ---------------------------------------------------------------------------------------
// Recorded exports

#[test]
fn tdda_iphone_6s_export_with_its_dtd() {
    let (samples, report) = read(&fixture("tdda-applehealthdata/export6s3sample.xml"));
    assert_eq!(samples.len(), 15);
    assert_eq!(count(&samples, Metric::Steps), 10);
    assert_eq!(count(&samples, Metric::Distance), 5);
    // 10 + 5 records, 2 activity summaries and a workout; ExportDate and Me are not records.
    assert_eq!(report.records, 18);
    assert_eq!(report.skipped_total, 3);
    assert_eq!(
        skipped(&report),
        [
            ("line 98", "ActivitySummary: not imported (2 records)"),
            ("line 100", "Workout: not imported (1 record)"),
        ]
    );

    assert_eq!(
        samples[0],
        Sample {
            metric: Metric::Steps,
            effective: period("2014-09-13T10:27:54+01:00", "2014-09-13T10:27:59+01:00"),
            reading: Reading::Quantity(329.0),
            record_id: None,
            device: Some(source_device("Health", DeviceKind::Other)),
            vendor_code: Some("HKQuantityTypeIdentifierStepCount".to_owned()),
        }
    );
    let steps: f64 = samples[..10].iter().map(quantity).sum();
    assert_eq!(steps, 2517.0);

    // Kilometres → metres.
    let distance = &samples[10];
    assert_eq!(distance.metric, Metric::Distance);
    assert_eq!(
        distance.effective,
        period("2014-09-20T10:41:28+01:00", "2014-09-20T10:41:30+01:00")
    );
    assert_eq!(
        distance.vendor_code.as_deref(),
        Some("HKQuantityTypeIdentifierDistanceWalkingRunning")
    );
    for (sample, metres) in samples[10..].iter().zip([2.88, 2.84, 1.42, 6.39, 5.9]) {
        assert_close(quantity(sample), metres);
    }
}

#[test]
fn tdda_csvs_agree_with_the_xml() {
    let (samples, report) = read(&fixture("tdda-applehealthdata/export6s3sample.xml"));
    for (csv, metric, metres_per_unit) in [
        ("tdda-applehealthdata/StepCount.csv", Metric::Steps, 1.0),
        (
            "tdda-applehealthdata/DistanceWalkingRunning.csv",
            Metric::Distance,
            1000.0,
        ),
    ] {
        let rows = csv_rows(csv);
        let ours: Vec<&Sample> = samples.iter().filter(|s| s.metric == metric).collect();
        assert_eq!(rows.len(), ours.len(), "{csv}");
        for (row, sample) in rows.iter().zip(ours) {
            // sourceName,sourceVersion,device,type,unit,creationDate,startDate,endDate,value
            assert_eq!(
                sample.device.as_ref().unwrap().key,
                row[0],
                "{csv}: sourceName"
            );
            assert_eq!(
                sample.vendor_code.as_deref(),
                Some(format!("HKQuantityTypeIdentifier{}", row[3]).as_str())
            );
            assert_eq!(
                sample.effective,
                period(&fhir_date(&row[6]), &fhir_date(&row[7])),
                "{csv}"
            );
            let value: f64 = row[8].parse().unwrap();
            assert_close(quantity(sample), value * metres_per_unit);
        }
    }
    // One workout and two activity summaries, none imported.
    assert_eq!(csv_rows("tdda-applehealthdata/Workout.csv").len(), 1);
    assert_eq!(
        csv_rows("tdda-applehealthdata/ActivitySummary.csv").len(),
        2
    );
    assert_eq!(
        report.skipped_total,
        1 + 2,
        "workouts and summaries are counted, not imported"
    );
}

fn alxdrcirilo_expected() -> Vec<Sample> {
    let watch = watch("Apple Inc.", "Watch6,7", "10.2");
    let sample = |metric, effective, reading, vendor: &str, device: &DeviceInfo| Sample {
        metric,
        effective,
        reading,
        record_id: None,
        device: Some(device.clone()),
        vendor_code: Some(vendor.to_owned()),
    };
    let hr = "HKQuantityTypeIdentifierHeartRate";
    let energy = "HKQuantityTypeIdentifierActiveEnergyBurned";
    let sleep = "HKCategoryTypeIdentifierSleepAnalysis";
    vec![
        sample(
            Metric::HeartRate,
            instant("2024-01-01T01:01:36+02:00"),
            Reading::Quantity(74.0),
            hr,
            &watch,
        ),
        sample(
            Metric::HeartRate,
            instant("2024-01-01T01:01:37+02:00"),
            Reading::Quantity(75.0),
            hr,
            &watch,
        ),
        sample(
            Metric::ActiveEnergy,
            period("2024-01-01T01:02:27+02:00", "2024-01-01T01:02:58+02:00"),
            Reading::Quantity(0.12),
            energy,
            &watch,
        ),
        sample(
            Metric::ActiveEnergy,
            period("2024-01-02T01:52:27+02:00", "2024-01-02T01:52:58+02:00"),
            Reading::Quantity(0.08),
            energy,
            &watch,
        ),
        // 00:55:28 → 00:56:53 in bed: 85 s. Written by the phone, without a device string.
        sample(
            Metric::Sleep,
            period("2024-01-01T00:55:28+02:00", "2024-01-01T00:56:53+02:00"),
            Reading::Sleep {
                stages: vec![(SleepStage::InBed, 85.0 / 60.0)],
            },
            sleep,
            &source_device("Alexandre's iPhone", DeviceKind::Phone),
        ),
        // 03:27:53 → 03:40:23 core (light) sleep: 12 min 30 s.
        sample(
            Metric::Sleep,
            period("2024-01-01T03:27:53+02:00", "2024-01-01T03:40:23+02:00"),
            Reading::Sleep {
                stages: vec![(SleepStage::Light, 12.5)],
            },
            sleep,
            &source_device("Alexandre's Apple Watch", DeviceKind::Watch),
        ),
    ]
}

fn assert_alxdrcirilo(samples: &[Sample], report: &ParseReport) {
    assert_eq!(samples, alxdrcirilo_expected());
    // 8 records: 6 imported, exercise and stand time not.
    assert_eq!(report.records, 8);
    assert_eq!(report.skipped_total, 2);
    assert_eq!(
        skipped(report),
        [
            (
                "line 32",
                "HKQuantityTypeIdentifierAppleExerciseTime: not imported (1 record)"
            ),
            (
                "line 37",
                "HKQuantityTypeIdentifierAppleStandTime: not imported (1 record)"
            ),
        ]
    );
}

#[test]
fn alxdrcirilo_watchos_10_export_xml() {
    let (samples, report) = read(&fixture("alxdrcirilo-apple-health-parser/export.xml"));
    assert_alxdrcirilo(&samples, &report);
}

#[test]
fn alxdrcirilo_finder_zip_skips_the_macosx_shadow_entry() {
    // The zip holds `__MACOSX/apple_health_export/._export.xml` (resource fork junk) too.
    let bytes = fixture("alxdrcirilo-apple-health-parser/export.zip");
    let mut samples = Vec::new();
    let report = parse_zip(Cursor::new(&bytes), &mut samples).unwrap();
    assert_alxdrcirilo(&samples, &report);

    let mut sniffed = Vec::new();
    let report = parse(Cursor::new(&bytes), &mut sniffed).unwrap();
    assert_alxdrcirilo(&sniffed, &report);
}

fn assert_dogsheep(samples: &[Sample], report: &ParseReport, activity_summary_line: &str) {
    assert_eq!(
        samples,
        [Sample {
            metric: Metric::HeartRate,
            effective: instant("2018-09-10T02:28:55-07:00"),
            reading: Reading::Quantity(72.0),
            record_id: None,
            device: Some(watch("Apple", "Watch2,4", "4.3.1")),
            vendor_code: Some("HKQuantityTypeIdentifierHeartRate".to_owned()),
        }]
    );
    // BMI (not imported), heart rate, a workout (its route not counted) and two summaries.
    assert_eq!(report.records, 5);
    assert_eq!(report.skipped_total, 4);
    assert_eq!(
        skipped(report),
        [
            (
                "line 4",
                "HKQuantityTypeIdentifierBodyMassIndex: not imported (1 record)"
            ),
            ("line 14", "Workout: not imported (1 record)"),
            (
                activity_summary_line,
                "ActivitySummary: not imported (2 records)"
            ),
        ]
    );
}

#[test]
fn dogsheep_export_without_dtd() {
    let (samples, report) = read(&fixture("dogsheep-healthkit-to-sqlite/export.xml"));
    assert_dogsheep(&samples, &report, "line 23");
}

#[test]
fn dogsheep_zip_contents_zipped_as_the_health_app_does() {
    let dir = "dogsheep-healthkit-to-sqlite/zip_contents/apple_health_export";
    let route = "workout-routes/route_2019-06-11_3.00pm.gpx";
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    // The route first, so the export is not simply the first entry.
    for name in [route, "export.xml"] {
        zip.start_file(format!("apple_health_export/{name}"), options)
            .unwrap();
        zip.write_all(&fixture(&format!("{dir}/{name}"))).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();

    let mut samples = Vec::new();
    let report = parse_zip(Cursor::new(&bytes), &mut samples).unwrap();
    assert_dogsheep(&samples, &report, "line 22");

    let mut sniffed = Vec::new();
    let report = parse(Cursor::new(&bytes), &mut sniffed).unwrap();
    assert_dogsheep(&sniffed, &report, "line 22");

    // The unzipped file reads the same.
    let (unzipped, report) = read(&fixture(&format!("{dir}/export.xml")));
    assert_dogsheep(&unzipped, &report, "line 22");
}

// ---------------------------------------------------------------------------------------
// Broken input

#[test]
fn export_cut_in_half_is_malformed_at_the_cut() {
    let bytes = fixture("alxdrcirilo-apple-health-parser/export.xml");
    // The first half ends in `    <Record type=` on line 27, the second energy record.
    let (position, reason) = malformed(parse_xml(&bytes[..bytes.len() / 2], &mut Vec::new()));
    assert_eq!(position, "line 27, column 5");
    assert!(reason.contains("tag not closed"), "{reason}");
}

#[test]
fn export_cut_before_its_end_tag_is_truncated() {
    let text = fixture_text("tdda-applehealthdata/export6s3sample.xml");
    let cut = text.find("</HealthData>").unwrap();
    let (position, reason) = malformed(parse_xml(&text.as_bytes()[..cut], &mut Vec::new()));
    assert_eq!(position, "line 101, column 1");
    assert_eq!(
        reason,
        "the file ends before </HealthData>: the export is truncated"
    );
    // The DTD half alone.
    let (position, _) = malformed(parse_xml(
        &text.as_bytes()[..text.len() / 2],
        &mut Vec::new(),
    ));
    assert!(position.starts_with("line "), "{position}");
}

#[test]
fn zip_cut_in_half_is_malformed() {
    let bytes = fixture("alxdrcirilo-apple-health-parser/export.zip");
    let half = &bytes[..bytes.len() / 2];
    let (position, reason) = malformed(parse_zip(Cursor::new(half), &mut Vec::new()));
    assert_eq!(position, "zip archive");
    assert!(reason.starts_with("not a readable zip archive"), "{reason}");
    // Sniffed as a zip by its signature, so the same error.
    assert!(matches!(
        parse(Cursor::new(half), &mut Vec::new()),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn zip_without_export_xml() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("apple_health_export/export_cda.xml", options)
        .unwrap();
    zip.write_all(b"<ClinicalDocument/>").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let (position, reason) = malformed(parse_zip(Cursor::new(bytes), &mut Vec::new()));
    assert_eq!(position, "zip archive");
    assert_eq!(
        reason,
        "no export.xml entry: not an Apple Health export (entries: apple_health_export/export_cda.xml)"
    );
}

#[test]
fn not_xml_and_not_zip() {
    let (position, reason) = malformed(parse(
        Cursor::new(br#"{"resourceType": "Bundle"}"#),
        &mut Vec::new(),
    ));
    assert!(position.starts_with("line 1, column "), "{position}");
    assert_eq!(
        reason,
        "text outside the root element: not an Apple Health export.xml"
    );
    let (position, reason) = malformed(parse_xml(&b""[..], &mut Vec::new()));
    assert_eq!(position, "line 1, column 1");
    assert_eq!(
        reason,
        "no <HealthData> element: not an Apple Health export"
    );
    assert!(matches!(
        parse_zip(Cursor::new(b"<HealthData/>"), &mut Vec::new()),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn gpx_route_is_the_wrong_root() {
    let gpx = fixture(
        "dogsheep-healthkit-to-sqlite/zip_contents/apple_health_export/workout-routes/route_2019-06-11_3.00pm.gpx",
    );
    let (position, reason) = malformed(parse_xml(&gpx[..], &mut Vec::new()));
    assert_eq!(position, "line 2, column 1");
    assert_eq!(
        reason,
        "the root element is <gpx>, not <HealthData>: not an Apple Health export"
    );
}

#[test]
fn mismatched_end_tag_is_malformed() {
    let xml = export(" <Record type=\"HKQuantityTypeIdentifierHeartRate\">\n </Correlation>\n");
    let (position, reason) = malformed(parse_xml(xml.as_bytes(), &mut Vec::new()));
    assert_eq!(position, "line 5, column 2");
    assert!(reason.contains("Correlation"), "{reason}");
}

#[test]
fn unquoted_attribute_is_malformed() {
    let xml = export(" <Record type=HKQuantityTypeIdentifierHeartRate value=\"60\"/>\n");
    let (position, reason) = malformed(parse_xml(xml.as_bytes(), &mut Vec::new()));
    assert_eq!(position, "line 4, column 2");
    assert!(reason.starts_with("attribute: "), "{reason}");
}

#[test]
fn empty_export_has_no_records() {
    let (samples, report) = read(b"<HealthData locale=\"en_US\"/>");
    assert!(samples.is_empty());
    assert_eq!(report, ParseReport::default());
}

// ---------------------------------------------------------------------------------------
// Hand-written records

#[test]
fn blood_pressure_from_the_correlation_only() {
    let device = "&lt;&lt;HKDevice: 0x2836f1a40&gt;, name:BPM Connect, manufacturer:Withings, model:BPM Connect, hardware:BPM Connect, software:2.1&gt;";
    let at = "startDate=\"2021-03-04 08:15:00 +0100\" endDate=\"2021-03-04 08:15:00 +0100\"";
    let bp = |ty: &str, value: u32| {
        format!(
            "<Record type=\"HKQuantityTypeIdentifierBloodPressure{ty}\" sourceName=\"Health Mate\" \
             device=\"{device}\" unit=\"mmHg\" {at} value=\"{value}\"/>\n"
        )
    };
    // Apple writes the children at top level too (before the correlation, sorted by type).
    let xml = export(&format!(
        " {}{}\
         <Correlation type=\"HKCorrelationTypeIdentifierBloodPressure\" sourceName=\"Health Mate\" device=\"{device}\" {at}>\n\
         <MetadataEntry key=\"HKWasUserEntered\" value=\"0\"/>\n\
         {}{}</Correlation>\n\
         <Correlation type=\"HKCorrelationTypeIdentifierBloodPressure\" sourceName=\"Health Mate\" {at}>\n\
         {}</Correlation>\n",
        bp("Diastolic", 79),
        bp("Systolic", 121),
        bp("Diastolic", 79),
        bp("Systolic", 121),
        bp("Systolic", 135),
    ));
    let (samples, report) = read(xml.as_bytes());
    assert_eq!(
        samples,
        [Sample {
            metric: Metric::BloodPressure,
            effective: instant("2021-03-04T08:15:00+01:00"),
            reading: Reading::BloodPressure {
                systolic: 121.0,
                diastolic: 79.0
            },
            record_id: None,
            device: Some(DeviceInfo {
                key: "BPM Connect/BPM Connect/BPM Connect".to_owned(),
                name: Some("BPM Connect".to_owned()),
                manufacturer: Some("Withings".to_owned()),
                model: Some("BPM Connect".to_owned()),
                version: Some("2.1".to_owned()),
                kind: DeviceKind::BloodPressureMonitor,
            }),
            vendor_code: Some("HKCorrelationTypeIdentifierBloodPressure".to_owned()),
        }]
    );
    // Two correlations; the top-level copies are not records.
    assert_eq!(report.records, 2);
    assert_eq!(
        skipped(&report),
        [(
            "line 11",
            "HKCorrelationTypeIdentifierBloodPressure: no diastolic record"
        )]
    );
}

#[test]
fn oxygen_saturation_and_body_fat_fractions_become_percent() {
    let at = "2024-03-01 03:10:00 +0100";
    let xml = export(
        &[
            record(
                "HKQuantityTypeIdentifierOxygenSaturation",
                "%",
                "0.97",
                at,
                at,
            ),
            record(
                "HKQuantityTypeIdentifierBodyFatPercentage",
                "%",
                "0.215",
                at,
                at,
            ),
        ]
        .concat(),
    );
    let (samples, report) = read(xml.as_bytes());
    assert_eq!(report.records, 2);
    assert_eq!(samples[0].metric, Metric::OxygenSaturation);
    assert_close(quantity(&samples[0]), 97.0);
    assert_eq!(samples[0].effective, instant("2024-03-01T03:10:00+01:00"));
    assert_eq!(samples[1].metric, Metric::BodyFat);
    assert_close(quantity(&samples[1]), 21.5);
}

#[test]
fn every_sleep_value_is_one_stage() {
    let values = [
        ("InBed", SleepStage::InBed, "23:00:00", "23:10:00", 10.0),
        (
            "AsleepUnspecified",
            SleepStage::Asleep,
            "23:10:00",
            "23:40:00",
            30.0,
        ),
        // Before iOS 16.
        ("Asleep", SleepStage::Asleep, "23:40:00", "23:41:30", 1.5),
        ("Awake", SleepStage::Awake, "23:41:30", "23:45:00", 3.5),
        (
            "AsleepCore",
            SleepStage::Light,
            "23:45:00",
            "23:59:59",
            14.0 + 59.0 / 60.0,
        ),
        (
            "AsleepDeep",
            SleepStage::Deep,
            "23:59:59",
            "00:20:00",
            20.0 + 1.0 / 60.0,
        ),
        ("AsleepREM", SleepStage::Rem, "00:20:00", "00:20:00", 0.0),
    ];
    let body: String = values
        .iter()
        .map(|(value, _, start, end, _)| {
            let day = |t: &str| if t.starts_with("23") { "2024-03-01" } else { "2024-03-02" };
            format!(
                " <Record type=\"HKCategoryTypeIdentifierSleepAnalysis\" sourceName=\"Ann's Apple Watch\" \
                 startDate=\"{} {start} -0500\" endDate=\"{} {end} -0500\" \
                 value=\"HKCategoryValueSleepAnalysis{value}\"/>\n",
                day(start),
                day(end)
            )
        })
        .collect();
    let xml = export(&format!(
        "{body} <Record type=\"HKCategoryTypeIdentifierSleepAnalysis\" sourceName=\"x\" \
         startDate=\"2024-03-02 01:00:00 -0500\" endDate=\"2024-03-02 02:00:00 -0500\" \
         value=\"HKCategoryValueSleepAnalysisNap\"/>\n"
    ));
    let (samples, report) = read(xml.as_bytes());
    assert_eq!(samples.len(), 7);
    for (sample, (_, stage, _, _, minutes)) in samples.iter().zip(values) {
        assert_eq!(sample.metric, Metric::Sleep);
        assert!(matches!(sample.effective, Effective::Period { .. }));
        match &sample.reading {
            Reading::Sleep { stages } => {
                assert_eq!(stages.len(), 1);
                assert_eq!(stages[0].0, stage);
                assert_close(stages[0].1, minutes);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        samples[5].effective,
        period("2024-03-01T23:59:59-05:00", "2024-03-02T00:20:00-05:00")
    );
    assert_eq!(
        skipped(&report),
        [(
            "line 11",
            "HKCategoryTypeIdentifierSleepAnalysis: unknown sleep value `HKCategoryValueSleepAnalysisNap`"
        )]
    );
}

#[test]
fn units_are_converted_to_the_canonical_unit() {
    let at = "2024-03-01 07:00:00 +0000";
    let later = "2024-03-01 07:30:00 +0000";
    let cases: [(&str, &str, &str, Metric, f64); 20] = [
        (
            "BodyTemperature",
            "degF",
            "98.6",
            Metric::BodyTemperature,
            37.0,
        ),
        (
            "BodyTemperature",
            "degC",
            "36.6",
            Metric::BodyTemperature,
            36.6,
        ),
        (
            "DistanceWalkingRunning",
            "mi",
            "1",
            Metric::Distance,
            1609.344,
        ),
        (
            "DistanceWalkingRunning",
            "ft",
            "1000",
            Metric::Distance,
            304.8,
        ),
        ("DistanceWalkingRunning", "m", "42", Metric::Distance, 42.0),
        (
            "ActiveEnergyBurned",
            "kJ",
            "418.4",
            Metric::ActiveEnergy,
            100.0,
        ),
        (
            "ActiveEnergyBurned",
            "Cal",
            "12.5",
            Metric::ActiveEnergy,
            12.5,
        ),
        ("BodyMass", "lb", "150", Metric::BodyWeight, 68.0388555),
        ("BodyMass", "g", "71500", Metric::BodyWeight, 71.5),
        ("Height", "in", "70", Metric::BodyHeight, 177.8),
        ("Height", "m", "1.82", Metric::BodyHeight, 182.0),
        ("Height", "ft", "6", Metric::BodyHeight, 182.88),
        // Escaped in the file as Apple writes it.
        (
            "BloodGlucose",
            "mmol&lt;180.1558800000541&gt;/L",
            "5.5",
            Metric::BloodGlucose,
            99.088,
        ),
        ("BloodGlucose", "mg/dL", "98", Metric::BloodGlucose, 98.0),
        ("VO2Max", "mL/min·kg", "45.2", Metric::Vo2Max, 45.2),
        (
            "HeartRateVariabilitySDNN",
            "ms",
            "48.3",
            Metric::HrvSdnn,
            48.3,
        ),
        (
            "RestingHeartRate",
            "count/min",
            "55",
            Metric::RestingHeartRate,
            55.0,
        ),
        (
            "RespiratoryRate",
            "count/min",
            "14.5",
            Metric::RespiratoryRate,
            14.5,
        ),
        ("HeartRate", "count/min", "61", Metric::HeartRate, 61.0),
        ("StepCount", "count", "1200", Metric::Steps, 1200.0),
    ];
    let body: String = cases
        .iter()
        .map(|(ty, unit, value, _, _)| {
            record(
                &format!("HKQuantityTypeIdentifier{ty}"),
                unit,
                value,
                at,
                later,
            )
        })
        .collect();
    let (samples, report) = read(export(&body).as_bytes());
    assert_eq!(report.records, 20);
    assert_eq!(report.skipped_total, 0);
    for (sample, (ty, unit, _, metric, expected)) in samples.iter().zip(cases) {
        assert_eq!(sample.metric, metric, "{ty} {unit}");
        assert_close(quantity(sample), expected);
        assert_eq!(
            sample.effective,
            period("2024-03-01T07:00:00+00:00", "2024-03-01T07:30:00+00:00")
        );
        assert_eq!(
            sample.device.as_ref().unwrap(),
            &source_device("Ann's Apple Watch", DeviceKind::Watch)
        );
    }
}

#[test]
fn unreadable_records_are_skipped_with_their_line() {
    let at = "2024-03-01 07:00:00 +0000";
    let xml = export(
        &[
            record(
                "HKQuantityTypeIdentifierHeartRate",
                "count/min",
                "abc",
                at,
                at,
            ),
            record("HKQuantityTypeIdentifierHeartRate", "kg", "60", at, at),
            record(
                "HKQuantityTypeIdentifierHeartRate",
                "count/min",
                "60",
                "2024-03-01T07:00:00Z",
                "2024-03-01T07:00:00Z",
            ),
            record(
                "HKQuantityTypeIdentifierStepCount",
                "count",
                "60",
                at,
                "2024-03-01 06:00:00 +0000",
            ),
            record(
                "HKQuantityTypeIdentifierBasalEnergyBurned",
                "kcal",
                "1",
                at,
                at,
            ),
            record(
                "HKQuantityTypeIdentifierHeartRate",
                "count/min",
                "60",
                at,
                at,
            ),
            record(
                "HKQuantityTypeIdentifierBasalEnergyBurned",
                "kcal",
                "1",
                at,
                at,
            ),
            " <Record sourceName=\"x\"/>\n".to_owned(),
        ]
        .concat(),
    );
    let (samples, report) = read(xml.as_bytes());
    assert_eq!(samples.len(), 1);
    assert_close(quantity(&samples[0]), 60.0);
    assert_eq!(report.records, 8);
    assert_eq!(report.skipped_total, 7);
    assert_eq!(
        skipped(&report),
        [
            (
                "line 8",
                "HKQuantityTypeIdentifierBasalEnergyBurned: not imported (2 records)"
            ),
            (
                "line 4",
                "HKQuantityTypeIdentifierHeartRate: value `abc` is not a number"
            ),
            (
                "line 5",
                "HKQuantityTypeIdentifierHeartRate: unit `kg` cannot be converted to /min"
            ),
            (
                "line 6",
                "HKQuantityTypeIdentifierHeartRate: startDate `2024-03-01T07:00:00Z` is not a date"
            ),
            (
                "line 7",
                "HKQuantityTypeIdentifierStepCount: ends (2024-03-01T06:00:00+00:00) before it starts (2024-03-01T07:00:00+00:00)"
            ),
            ("line 11", "Record without a type"),
        ]
    );
}

#[test]
fn skipped_list_is_capped_with_types_first() {
    let at = "2024-03-01 07:00:00 +0000";
    let bad = record(
        "HKQuantityTypeIdentifierHeartRate",
        "count/min",
        "-",
        at,
        at,
    );
    let body = bad.repeat(150)
        + &record(
            "HKQuantityTypeIdentifierFlightsClimbed",
            "count",
            "3",
            at,
            at,
        );
    let (samples, report) = read(export(&body).as_bytes());
    assert!(samples.is_empty());
    assert_eq!(report.records, 151);
    assert_eq!(report.skipped_total, 151);
    assert_eq!(report.skipped.len(), ParseReport::MAX_SKIPPED);
    assert_eq!(
        report.skipped[0].reason,
        "HKQuantityTypeIdentifierFlightsClimbed: not imported (1 record)"
    );
    assert_eq!(report.skipped[0].position, "line 154");
    assert_eq!(report.skipped[1].position, "line 4");
}

#[test]
fn multi_line_records_are_placed_at_their_first_line() {
    // watchOS 10 exports split attributes over lines: the record's line is its `<Record`.
    let xml = export(
        " <Record type=\"HKQuantityTypeIdentifierHeartRate\"\n  sourceName=\"w\" unit=\"count/min\"\n  \
         startDate=\"2024-03-01 07:00:00 +0000\" endDate=\"2024-03-01 07:00:00 +0000\"\n  value=\"x\">\n \
         <MetadataEntry key=\"HKMetadataKeyHeartRateMotionContext\" value=\"0\"/>\n </Record>\n",
    );
    let (_, report) = read(xml.as_bytes());
    assert_eq!(report.skipped[0].position, "line 4");
}
