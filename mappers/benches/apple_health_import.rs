//! Apple Health import throughput and memory.
//!
//! Real exports are hundreds of megabytes to gigabytes, mostly heart rate from a watch, so
//! this writes a synthetic `export.xml` of that shape to the temp directory (size in MB from
//! `HEALTHOS_BENCH_APPLE_MB`, default 200), then times two things over it: [`parse`] alone,
//! with a sink that only counts samples, and the whole pure pipeline the server runs,
//! [`parse`] into an [`Assembler`] whose resources are only counted (no storage). Memory
//! must not grow with the file: a file a quarter of the size goes first each time, and the
//! process's peak RSS (`VmHWM`, a high-water mark that cannot be reset) is printed after
//! each run; the quarter and the full file should show about the same figure.
//!
//! Run: `HEALTHOS_BENCH_APPLE_MB=20 cargo bench -p mappers --bench apple_health_import`.

use std::fmt::Write as _;
use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use mappers::wearable::apple_health::parse;
use mappers::wearable::fhir::{Assembler, ImportContext};
use mappers::wearable::{Metric, Sample, Source, date_time};
use serde_json::Value;

const MB: f64 = 1_000_000.0;

fn main() {
    let target_mb: f64 = std::env::var("HEALTHOS_BENCH_APPLE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200.0);
    println!("peak RSS at start: {}", vm_hwm());

    let dir = std::env::temp_dir();
    let id = std::process::id();
    let small = TempFile(dir.join(format!("healthos-bench-apple-{id}-quarter.xml")));
    let full = TempFile(dir.join(format!("healthos-bench-apple-{id}-full.xml")));
    let small_bytes = generate(&small.0, (target_mb * MB / 4.0) as u64);
    let full_bytes = generate(&full.0, (target_mb * MB) as u64);
    println!(
        "generated {:.1} MB and {:.1} MB in {}; peak RSS: {}",
        small_bytes as f64 / MB,
        full_bytes as f64 / MB,
        dir.display(),
        vm_hwm()
    );

    for file in [&small, &full] {
        import(&file.0);
    }
    for file in [&small, &full] {
        to_fhir(&file.0);
    }
}

/// Parses one file and prints its throughput and the peak RSS so far.
fn import(path: &Path) {
    let bytes = std::fs::metadata(path).expect("stat").len();
    let file = File::open(path).expect("open");
    let mut samples = 0u64;
    let mut heart_rate = 0u64;
    let mut blood_pressure = 0u64;
    let started = Instant::now();
    let report = parse(file, &mut |sample: Sample| {
        samples += 1;
        match sample.metric {
            Metric::HeartRate => heart_rate += 1,
            Metric::BloodPressure => blood_pressure += 1,
            _ => {}
        }
        black_box(sample);
    })
    .expect("the synthetic export parses");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "apple-health export.xml import: {:.1} MB in {:.2} s = {:.1} MB/s, {} samples/s",
        bytes as f64 / MB,
        seconds,
        bytes as f64 / MB / seconds,
        thousands((samples as f64 / seconds) as u64)
    );
    println!(
        "  {} records, {} samples ({} heart rate, {} blood pressure), {} skipped; peak RSS: {}",
        thousands(report.records),
        thousands(samples),
        thousands(heart_rate),
        thousands(blood_pressure),
        thousands(report.skipped_total),
        vm_hwm()
    );
}

/// Parses one file into an [`Assembler`], counts the resources it emits, and prints the
/// throughput and the peak RSS so far.
fn to_fhir(path: &Path) {
    let bytes = std::fs::metadata(path).expect("stat").len();
    let file = File::open(path).expect("open");
    let mut assembler = Assembler::new(ImportContext {
        source: Source::AppleHealth,
        patient: "Patient/bench".to_owned(),
        imported_at: "2024-06-01T15:00:00Z".to_owned(),
        import_id: "00000000-0000-4000-8000-00000000be4c".to_owned(),
    });
    let (mut observations, mut devices) = (0u64, 0u64);
    let mut count = |resource: Value| {
        match resource["resourceType"].as_str() {
            Some("Observation") => observations += 1,
            Some("Device") => devices += 1,
            _ => {}
        }
        black_box(resource);
    };
    let started = Instant::now();
    parse(file, &mut |sample: Sample| {
        assembler.push(sample, &mut count)
    })
    .expect("the synthetic export parses");
    let summary = assembler.finish(&mut count);
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(observations, summary.observations.values().sum::<u64>());
    assert_eq!(devices, summary.devices);
    println!(
        "apple-health export.xml → FHIR: {:.1} MB in {:.2} s = {:.1} MB/s, {} Observations/s ({} Observations, {} Devices)",
        bytes as f64 / MB,
        seconds,
        bytes as f64 / MB / seconds,
        thousands((observations as f64 / seconds) as u64),
        thousands(observations),
        thousands(devices)
    );
    println!(
        "  {} hourly heart-rate series, {} daily totals, {} late heart-rate samples, {} rejected; peak RSS: {}",
        thousands(summary.hourly_series),
        thousands(summary.daily_totals),
        thousands(summary.late_samples),
        thousands(summary.rejected),
        vm_hwm()
    );
}

/// Writes a synthetic export of at least `target` bytes, streamed: of every 100 records,
/// 62 heart rate (watch, with a metadata entry), 12 steps and 10 distance (phone), 10 active
/// energy (watch), 2 sleep stages, 1 blood pressure (correlation plus the two top-level
/// copies Apple writes) and 3 basal energy (not imported). Returns the bytes written.
fn generate(path: &Path, target: u64) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("create"));
    let mut written = 0u64;
    let mut line = String::with_capacity(1024);
    line.push_str(HEADER);
    let watch = "&lt;&lt;HKDevice: 0x283a4d0e0&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,1, software:9.1&gt;";
    let phone = "&lt;&lt;HKDevice: 0x281b6c2d0&gt;, name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,2, software:16.1&gt;";
    let cuff = "&lt;&lt;HKDevice: 0x282c1a3f0&gt;, name:BPM Connect, manufacturer:Withings, model:BPM Connect, hardware:BPM Connect, software:2.1&gt;";
    let stages = [
        "InBed",
        "AsleepCore",
        "AsleepDeep",
        "AsleepREM",
        "Awake",
        "AsleepUnspecified",
    ];
    // 2019-01-01 00:00:00 -0700, in seconds since the epoch.
    let mut clock: i64 = 1_546_326_000;
    let mut random: u64 = 0x2545_f491_4f6c_dd1d;
    let mut n: u64 = 0;
    while written < target {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let r = random % 1000;
        let start = date(clock);
        let end = date(clock + 60 + (r as i64 % 240));
        let created = date(clock + 600);
        match n % 100 {
            0..62 => {
                let _ = write!(
                    line,
                    " <Record type=\"HKQuantityTypeIdentifierHeartRate\" sourceName=\"Ann’s Apple Watch\" sourceVersion=\"9.1\" device=\"{watch}\" unit=\"count/min\" creationDate=\"{created}\" startDate=\"{start}\" endDate=\"{start}\" value=\"{}\">\n  <MetadataEntry key=\"HKMetadataKeyHeartRateMotionContext\" value=\"{}\"/>\n </Record>\n",
                    55 + r % 90,
                    r % 3
                );
            }
            62..74 => {
                let _ = writeln!(
                    line,
                    " <Record type=\"HKQuantityTypeIdentifierStepCount\" sourceName=\"Ann’s iPhone\" sourceVersion=\"16.1\" device=\"{phone}\" unit=\"count\" creationDate=\"{created}\" startDate=\"{start}\" endDate=\"{end}\" value=\"{}\"/>",
                    r % 400
                );
            }
            74..84 => {
                let _ = writeln!(
                    line,
                    " <Record type=\"HKQuantityTypeIdentifierDistanceWalkingRunning\" sourceName=\"Ann’s iPhone\" sourceVersion=\"16.1\" device=\"{phone}\" unit=\"km\" creationDate=\"{created}\" startDate=\"{start}\" endDate=\"{end}\" value=\"0.{:05}\"/>",
                    r * 31
                );
            }
            84..94 => {
                let _ = writeln!(
                    line,
                    " <Record type=\"HKQuantityTypeIdentifierActiveEnergyBurned\" sourceName=\"Ann’s Apple Watch\" sourceVersion=\"9.1\" device=\"{watch}\" unit=\"kcal\" creationDate=\"{created}\" startDate=\"{start}\" endDate=\"{end}\" value=\"{}.{:03}\"/>",
                    r % 7,
                    r
                );
            }
            94..96 => {
                let _ = write!(
                    line,
                    " <Record type=\"HKCategoryTypeIdentifierSleepAnalysis\" sourceName=\"Ann’s Apple Watch\" sourceVersion=\"9.1\" creationDate=\"{created}\" startDate=\"{start}\" endDate=\"{end}\" value=\"HKCategoryValueSleepAnalysis{}\">\n  <MetadataEntry key=\"HKTimeZone\" value=\"America/Los_Angeles\"/>\n </Record>\n",
                    stages[r as usize % stages.len()]
                );
            }
            96 => {
                let (sys, dia) = (105 + r % 40, 65 + r % 25);
                let child = |ty: &str, v: u64| {
                    format!(
                        "<Record type=\"HKQuantityTypeIdentifierBloodPressure{ty}\" sourceName=\"Health Mate\" sourceVersion=\"5.3\" device=\"{cuff}\" unit=\"mmHg\" creationDate=\"{created}\" startDate=\"{start}\" endDate=\"{start}\" value=\"{v}\"/>\n"
                    )
                };
                let _ = write!(
                    line,
                    " {} {} <Correlation type=\"HKCorrelationTypeIdentifierBloodPressure\" sourceName=\"Health Mate\" sourceVersion=\"5.3\" device=\"{cuff}\" creationDate=\"{created}\" startDate=\"{start}\" endDate=\"{start}\">\n  <MetadataEntry key=\"HKWasUserEntered\" value=\"0\"/>\n  {}  {} </Correlation>\n",
                    child("Diastolic", dia),
                    child("Systolic", sys),
                    child("Diastolic", dia),
                    child("Systolic", sys)
                );
            }
            _ => {
                let _ = writeln!(
                    line,
                    " <Record type=\"HKQuantityTypeIdentifierBasalEnergyBurned\" sourceName=\"Ann’s Apple Watch\" sourceVersion=\"9.1\" device=\"{watch}\" unit=\"kcal\" creationDate=\"{created}\" startDate=\"{start}\" endDate=\"{end}\" value=\"1.{:03}\"/>",
                    r
                );
            }
        }
        out.write_all(line.as_bytes()).expect("write");
        written += line.len() as u64;
        line.clear();
        clock += 5 + (r as i64 % 60);
        n += 1;
    }
    out.write_all(b"</HealthData>\n").expect("write");
    out.flush().expect("flush");
    written + 14
}

/// Seconds since the epoch as Apple writes a date in a -0700 zone
/// (`2019-01-01 00:00:00 -0700`).
fn date(epoch: i64) -> String {
    // `2019-01-01T00:00:00-07:00`
    let fhir = date_time(epoch, Some(-7 * 3600));
    format!("{} {} -0700", &fhir[..10], &fhir[11..19])
}

/// `VmHWM` (peak resident set size) from `/proc/self/status`.
fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".to_owned())
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A generated file, removed when the benchmark ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 13 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord|Audiogram|VisionPrescription)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!-- Note: Any Records that appear as children of a correlation also appear as top-level records in this document. -->
<!ELEMENT Correlation ((MetadataEntry|Record)*)>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry
  key   CDATA #REQUIRED
  value CDATA #REQUIRED
>
]>
<HealthData locale="en_US">
 <ExportDate value="2024-06-01 08:00:00 -0700"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1985-04-02" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale" HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet" HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet" HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>
"#;
