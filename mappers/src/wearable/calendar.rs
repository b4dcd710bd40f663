//! The calendar arithmetic every wearable parser needs, in one place: vendors write times
//! as epoch seconds or nanoseconds, as local date-times with or without a UTC offset, as
//! bare dates, and FHIR wants `dateTime` text in the wearer's own offset. Day counts are
//! the proleptic Gregorian ones of Howard Hinnant's `days_from_civil` / `civil_from_days`,
//! so the pure crate needs no date library.
//!
//! "Local seconds" below are the wall-clock time of some offset counted as if it were UTC
//! (UTC seconds plus the offset).
//!
//! The date and instant parsers and the date formatter are public: the digital twin
//! (`twin`) reads the dates this crate writes with the same functions.

use serde_json::Value;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count from [`days_from_civil`].
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The number of days of `month` (1–12) in `year`.
pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `YYYY-MM-DD` by shape: digits and the two dashes. Whether the day exists is not
/// checked (see [`parse_date`] for that).
pub(crate) fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Day count of a `YYYY-MM-DD` date, checking the day exists.
pub fn parse_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (
        i64::from(digits(&text[..4])?),
        i64::from(digits(&text[5..7])?),
        i64::from(digits(&text[8..])?),
    );
    let exists = (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day);
    exists.then(|| days_from_civil(year, month, day))
}

/// `YYYY-MM-DD` of a day count.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The local calendar date (`YYYY-MM-DD`) of epoch seconds in offset `offset` (seconds
/// east of UTC).
pub(crate) fn local_date(epoch_seconds: i64, offset: i64) -> String {
    format_date((epoch_seconds + offset).div_euclid(86_400))
}

/// Local seconds as `YYYY-MM-DDThh:mm:ss` followed by `offset_text` as given (`Z`,
/// `+01:00`, or nothing).
pub(crate) fn format_local(local: i64, offset_text: &str) -> String {
    let secs = local.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}{offset_text}",
        format_date(local.div_euclid(86_400)),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
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

/// A local date-time without offset (`2016-12-13T01:16:00.000`, Fitbit) as local seconds
/// plus nanoseconds.
pub fn parse_local(text: &str) -> Option<(i64, u32)> {
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
pub fn parse_instant(text: &str) -> Option<(i64, u32, Option<i32>)> {
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
    let mut out = format_local(utc_seconds + i64::from(offset.unwrap_or(0)), "");
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

/// Epoch seconds as a FHIR `dateTime` in the local offset `offset` (seconds east of UTC),
/// or in UTC (`Z`) without one: `date_time(0, Some(-25_200))` is
/// `1969-12-31T17:00:00-07:00`. An offset FHIR cannot write (not whole minutes, beyond
/// ±14:00) falls back to UTC.
pub fn date_time(epoch_seconds: i64, offset: Option<i64>) -> String {
    let offset = offset
        .filter(|o| o % 60 == 0 && o.abs() <= 14 * 3600)
        .and_then(|o| i32::try_from(o).ok());
    format_instant(epoch_seconds, 0, offset)
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
    fn times_keep_the_local_offset() {
        assert_eq!(date_time(1970, Some(3600)), "1970-01-01T01:32:50+01:00");
        assert_eq!(date_time(0, None), "1970-01-01T00:00:00Z");
        assert_eq!(date_time(0, Some(0)), "1970-01-01T00:00:00+00:00");
        assert_eq!(date_time(0, Some(-25_200)), "1969-12-31T17:00:00-07:00");
        assert_eq!(date_time(0, Some(19_800)), "1970-01-01T05:30:00+05:30");
        // 2000-02-29 (leap day, century divisible by 400) 12:00 UTC.
        assert_eq!(date_time(951_825_600, None), "2000-02-29T12:00:00Z");
        // An offset FHIR cannot write falls back to UTC.
        assert_eq!(date_time(0, Some(30)), "1970-01-01T00:00:00Z");
        assert_eq!(local_date(86_399, 1), "1970-01-02");
    }
}
