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

use std::fs::File;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mappers::wearable::apple_health::parse;
use mappers::wearable::fhir::{Assembler, ImportContext};
use mappers::wearable::{Metric, Sample, Source, synthetic};
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
    let generate = |path: &Path, bytes: f64| {
        synthetic::apple_health_export(File::create(path).expect("create"), bytes as u64)
            .expect("write the synthetic export")
    };
    let small_bytes = generate(&small.0, target_mb * MB / 4.0);
    let full_bytes = generate(&full.0, target_mb * MB);
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
        "  {} hourly heart-rate series, {} hourly activity sums, {} daily totals, {} late samples, {} rejected; peak RSS: {}",
        thousands(summary.hourly_series),
        thousands(summary.hourly_sums),
        thousands(summary.daily_totals),
        thousands(summary.late_samples),
        thousands(summary.rejected),
        vm_hwm()
    );
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
