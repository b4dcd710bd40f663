//! What the JSON vendor parsers (Fitbit, Google Fit, Health Connect, Oura) share: reading
//! the document with serde_json's line and column on failure, JSON pointers for skipped
//! records, numbers that vendors send as text (`"beatsPerMinute": "72"`), the emitter that
//! keeps [`ParseReport`] in step with the sink, and the little calendar arithmetic their
//! timestamps need (epoch nanoseconds, local times plus a UTC offset). The arithmetic is
//! the proleptic Gregorian day count (Howard Hinnant's `days_from_civil`), so the pure
//! crate needs no date library.

use serde_json::Value;

use super::{DeviceInfo, Effective, Metric, ParseReport, Reading, Sample, SampleSink, SleepStage};
use crate::Error;

/// Parses the whole document; a syntax error or a cut-off file names serde_json's line
/// and column.
pub(crate) fn parse_document(json: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(json).map_err(|e| {
        let text = e.to_string();
        let reason = match text.rfind(" at line ") {
            Some(at) => &text[..at],
            None => &text,
        };
        Error::Malformed {
            position: format!("line {}, column {}", e.line(), e.column()),
            reason: format!("invalid JSON: {reason}"),
        }
    })
}

/// The error for a document whose top-level shape is none of the vendor's endpoints.
pub(crate) fn not_a_payload(vendor: &str, expected: &str, doc: &Value) -> Error {
    let found = match doc.as_object() {
        Some(map) if map.is_empty() => "an empty object".to_owned(),
        Some(map) => {
            let keys: Vec<String> = map.keys().take(8).map(|k| format!("`{k}`")).collect();
            format!("keys {}", keys.join(", "))
        }
        None => format!("a JSON {}", kind(doc)),
    };
    Error::Malformed {
        position: "/".to_owned(),
        reason: format!("not a {vendor} payload: expected one of {expected}; found {found}"),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `base` extended by one JSON-pointer token (RFC 6901 escaping).
pub(crate) fn ptr(base: &str, token: impl std::fmt::Display) -> String {
    let token = token.to_string().replace('~', "~0").replace('/', "~1");
    format!("{base}/{token}")
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

// ---------------------------------------------------------------------------------------
// Calendar arithmetic.

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count from [`days_from_civil`].
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Day count of a `YYYY-MM-DD` date, checking the day exists.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (
        digits(&text[..4])?,
        digits(&text[5..7])?,
        digits(&text[8..])?,
    );
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    (civil_from_days(days) == (i64::from(year), month, day)).then_some(days)
}

/// `YYYY-MM-DD` of a day count.
pub(crate) fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Seconds of a `hh:mm[:ss]` time of day, and nanoseconds of a fraction after the seconds.
pub(crate) fn parse_time_of_day(text: &str) -> Option<(i64, u32)> {
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    let mut parts = clock.split(':');
    let hours = digits(parts.next()?)?;
    let minutes = digits(parts.next()?)?;
    let seconds = match parts.next() {
        Some(s) => digits(s)?,
        None => 0,
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(f) if f.is_empty() || f.len() > 9 => return None,
        Some(f) => digits(f)? * 10u32.pow(9 - f.len() as u32),
    };
    Some((
        i64::from(hours) * 3600 + i64::from(minutes) * 60 + i64::from(seconds),
        nanos,
    ))
}

/// A local date-time without offset (`2016-12-13T01:16:00.000`, Fitbit) as seconds since
/// the epoch read as if it were UTC, plus nanoseconds.
pub(crate) fn parse_local(text: &str) -> Option<(i64, u32)> {
    let (date, time) = text.split_once('T')?;
    let (seconds, nanos) = parse_time_of_day(time)?;
    Some((parse_date(date)? * 86_400 + seconds, nanos))
}

/// A UTC offset written `Z`, `±hh:mm` or `±hh:mm:00` (Java `ZoneOffset.toString()`), in
/// seconds. Offsets with seconds are refused: FHIR cannot write them.
pub(crate) fn parse_offset(text: &str) -> Option<i32> {
    if text == "Z" {
        return Some(0);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut parts = text[1..].split(':');
    let hours = digits(parts.next()?)?;
    let minutes = digits(parts.next()?)?;
    if let Some(seconds) = parts.next()
        && digits(seconds)? != 0
    {
        return None;
    }
    if parts.next().is_some() || hours > 18 || minutes > 59 {
        return None;
    }
    Some(sign * (hours as i32 * 3600 + minutes as i32 * 60))
}

/// An RFC 3339 date-time (`2026-08-06T12:01:29Z`, `2021-01-01T00:00:00+02:00`) as UTC
/// seconds since the epoch, nanoseconds, and the offset it was written with (`None` for
/// `Z`).
pub(crate) fn parse_instant(text: &str) -> Option<(i64, u32, Option<i32>)> {
    let split = text.rfind(['Z', '+', '-']).filter(|&at| at > 10)?;
    let (local, zone) = text.split_at(split);
    let (seconds, nanos) = parse_local(local)?;
    if zone == "Z" {
        return Some((seconds, nanos, None));
    }
    let offset = parse_offset(zone)?;
    Some((seconds - i64::from(offset), nanos, Some(offset)))
}

/// A FHIR `dateTime` for UTC seconds and nanoseconds: written in the local time of
/// `offset` with that offset (`2026-08-06T08:01:29-04:00`), or in UTC with `Z` when there
/// is none. Fractions keep their significant digits only.
pub(crate) fn format_instant(utc_seconds: i64, nanos: u32, offset: Option<i32>) -> String {
    let local = utc_seconds + i64::from(offset.unwrap_or(0));
    let (days, seconds) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let mut out = format!(
        "{}T{:02}:{:02}:{:02}",
        format_date(days),
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    match offset {
        None => out.push('Z'),
        Some(offset) => {
            let sign = if offset < 0 { '-' } else { '+' };
            let minutes = offset.unsigned_abs() / 60;
            out.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
        }
    }
    out
}

/// An RFC 3339 date-time rewritten as [`format_instant`] writes it (same instant, same
/// offset).
pub(crate) fn normalize_instant(text: &str) -> Option<String> {
    let (seconds, nanos, offset) = parse_instant(text)?;
    Some(format_instant(seconds, nanos, offset))
}

/// Epoch seconds of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59Z: the years a FHIR
/// `dateTime` can write.
const FHIR_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// Nanoseconds since the epoch, as Google Fit writes them (a decimal string), split into
/// seconds and nanoseconds; `None` outside the years 1–9999.
pub(crate) fn parse_epoch_nanos(value: &Value) -> Option<(i64, u32)> {
    let nanos: i128 = match value {
        Value::String(s) => s.trim().parse().ok()?,
        Value::Number(n) => i128::from(n.as_i64()?),
        _ => return None,
    };
    let seconds = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
    FHIR_SECONDS
        .contains(&seconds)
        .then_some((seconds, nanos.rem_euclid(1_000_000_000) as u32))
}

/// A UTC offset in seconds that a FHIR `dateTime` can write: whole minutes within ±18 h.
pub(crate) fn valid_offset(seconds: i32) -> Option<i32> {
    ((-64_800..=64_800).contains(&seconds) && seconds % 60 == 0).then_some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counts_round_trip_across_leap_years_and_the_epoch() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-13-01"), None);
        assert_eq!(format_date(19_782), "2024-02-29");
    }

    #[test]
    fn instants_keep_their_offset_and_trim_fractions() {
        // 2021-01-01T00:00:00Z is 1609459200 s; 00:30 at +05:30 is 19:00Z the day before.
        // 1436275800 s is 2015-07-07T13:30:00Z.
        assert_eq!(
            format_instant(1_436_275_800, 0, None),
            "2015-07-07T13:30:00Z"
        );
        assert_eq!(
            format_instant(1_436_275_800, 687_316_406, Some(-4 * 3600)),
            "2015-07-07T09:30:00.687316406-04:00"
        );
        assert_eq!(
            normalize_instant("2021-01-01T00:30:00.500+05:30").as_deref(),
            Some("2021-01-01T00:30:00.5+05:30")
        );
        assert_eq!(
            parse_instant("2021-01-01T00:30:00+05:30"),
            Some((1_609_441_200, 0, Some(19_800)))
        );
        assert_eq!(parse_instant("2021-01-01T00:30:00"), None);
        assert_eq!(parse_instant("2021-01-01"), None);
        assert_eq!(parse_offset("+05:30:15"), None);
        assert_eq!(parse_offset("-08:00"), Some(-28_800));
    }

    #[test]
    fn google_nanoseconds_split_exactly() {
        assert_eq!(
            parse_epoch_nanos(&Value::from("1436566038006058105")),
            Some((1_436_566_038, 6_058_105))
        );
        assert_eq!(parse_epoch_nanos(&Value::from("soon")), None);
        assert_eq!(
            parse_epoch_nanos(&Value::from("999999999999999999999999")),
            None
        );
    }

    #[test]
    fn broken_json_names_line_and_column() {
        let Err(Error::Malformed { position, reason }) = parse_document(b"{\n  \"a\": [1,") else {
            panic!("accepted a cut-off document");
        };
        // `  "a": [1,` is 10 characters.
        assert_eq!(position, "line 2, column 10");
        assert_eq!(reason, "invalid JSON: EOF while parsing a value");
    }
}
