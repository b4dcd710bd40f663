//! What the JSON vendor parsers (Fitbit, Google Fit, Health Connect, Oura) share beyond
//! reading the document ([`crate::json`]) and its timestamps ([`super::calendar`]): the
//! error for a document of the wrong shape, numbers that vendors send as text
//! (`"beatsPerMinute": "72"`), and the emitter that keeps [`ParseReport`] in step with the
//! sink.

use serde_json::Value;

use super::{DeviceInfo, Effective, Metric, ParseReport, Reading, Sample, SampleSink, SleepStage};
use crate::Error;
use crate::json;

/// The error for a document whose top-level shape is none of the vendor's endpoints.
pub(crate) fn not_a_payload(vendor: &str, expected: &str, doc: &Value) -> Error {
    let found = match doc.as_object() {
        Some(map) if map.is_empty() => "an empty object".to_owned(),
        Some(map) => {
            let keys: Vec<String> = map.keys().take(8).map(|k| format!("`{k}`")).collect();
            format!("keys {}", keys.join(", "))
        }
        None => format!("a JSON {}", json::kind(doc)),
    };
    Error::Malformed {
        position: "/".to_owned(),
        reason: format!("not a {vendor} payload: expected one of {expected}; found {found}"),
    }
}

/// A number, or a string holding one (Google's int64 fields are strings). Finite only.
pub(crate) fn number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// A string, or a number written as text (Fitbit `logId`s are numbers, ids elsewhere are
/// strings).
pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `value` rounded to six decimals: removes the binary noise a unit conversion adds
/// (`8.56 km × 1000` is `8560.000000000001`) and keeps every digit a vendor sends.
pub(crate) fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Keeps [`ParseReport`] in step with what reaches the sink.
pub(crate) struct Emitter<'a> {
    sink: &'a mut dyn SampleSink,
    /// The report so far.
    pub(crate) report: ParseReport,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(sink: &'a mut dyn SampleSink) -> Self {
        Emitter {
            sink,
            report: ParseReport::default(),
        }
    }

    /// Pushes one sample and counts its record as read.
    pub(crate) fn push(&mut self, sample: Sample) {
        self.report.read();
        self.sink.push(sample);
    }

    /// Counts one record as skipped, with where and why.
    pub(crate) fn skip(&mut self, position: impl Into<String>, reason: impl Into<String>) {
        self.report.skip(position, reason);
    }

    /// The report, once the document is read.
    pub(crate) fn finish(self) -> ParseReport {
        self.report
    }
}

/// The parts every sample of one record shares.
#[derive(Clone, Copy)]
pub(crate) struct Origin<'r> {
    pub(crate) record_id: Option<&'r str>,
    pub(crate) device: Option<&'r DeviceInfo>,
    pub(crate) vendor_code: &'r str,
}

impl Origin<'_> {
    /// A sample of `metric` with these parts.
    pub(crate) fn sample(&self, metric: Metric, effective: Effective, reading: Reading) -> Sample {
        Sample {
            metric,
            effective,
            reading,
            record_id: self.record_id.map(str::to_owned),
            device: self.device.cloned(),
            vendor_code: Some(self.vendor_code.to_owned()),
        }
    }

    /// A one-number sample of `metric`.
    pub(crate) fn quantity(&self, metric: Metric, effective: Effective, value: f64) -> Sample {
        self.sample(metric, effective, Reading::Quantity(value))
    }
}

/// Adds `minutes` to `stage`, keeping the order in which stages first appear (one entry
/// per stage, as [`Reading::Sleep`] wants).
pub(crate) fn add_stage(stages: &mut Vec<(SleepStage, f64)>, stage: SleepStage, minutes: f64) {
    match stages.iter_mut().find(|(s, _)| *s == stage) {
        Some((_, total)) => *total += minutes,
        None => stages.push((stage, minutes)),
    }
}
