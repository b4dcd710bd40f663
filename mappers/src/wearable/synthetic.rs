//! Synthetic wearable data for benchmarks and tests: realistic in shape and volume, made
//! up in content, deterministic (the same arguments give the same bytes).

use std::fmt::Write as _;
use std::io::{BufWriter, Write};

use super::date_time;

/// Writes a synthetic Apple Health `export.xml` of at least `target` bytes to `out`,
/// streamed (the same bytes for the same `target`): of every 100 records,
/// 62 heart rate (watch, with a metadata entry), 12 steps and 10 distance (phone), 10 active
/// energy (watch), 2 sleep stages, 1 blood pressure (correlation plus the two top-level
/// copies Apple writes) and 3 basal energy (not imported), one every 5 to 64 seconds from
/// 2019-01-01 in a -07:00 zone. Returns the bytes written.
pub fn apple_health_export(out: impl Write, target: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
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
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        line.clear();
        clock += 5 + (r as i64 % 60);
        n += 1;
    }
    out.write_all(b"</HealthData>\n")?;
    out.flush()?;
    Ok(written + 14)
}

/// Seconds since the epoch as Apple writes a date in a -0700 zone
/// (`2019-01-01 00:00:00 -0700`).
fn date(epoch: i64) -> String {
    // `2019-01-01T00:00:00-07:00`
    let fhir = date_time(epoch, Some(-7 * 3600));
    format!("{} {} -0700", &fhir[..10], &fhir[11..19])
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
