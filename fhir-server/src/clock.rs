//! Timestamps as HealthOS writes them: FHIR instants in UTC with millisecond precision,
//! fixed width, so text order is time order in both databases.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Now, as a FHIR instant (`2026-11-22T15:32:28.123Z`).
pub fn now_instant() -> String {
    format_instant(OffsetDateTime::now_utc())
}

/// Formats a time as a fixed-width UTC instant with milliseconds.
pub fn format_instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses a FHIR instant or dateTime with at least day precision (query parameters such
/// as `_since`, `_at`), returning the fixed-width UTC form used for comparisons.
/// Date-only and timezone-less values are taken as UTC.
pub fn parse_instant(text: &str) -> Option<String> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(format_instant(t));
    }
    let with_zone = match text.len() {
        10 => format!("{text}T00:00:00Z"),
        16 => format!("{text}:00Z"),
        19 => format!("{text}Z"),
        _ => return None,
    };
    OffsetDateTime::parse(&with_zone, &Rfc3339)
        .ok()
        .map(format_instant)
}

/// The HTTP-date form (`Last-Modified`) of a stored instant.
pub fn http_date(instant: &str) -> Option<String> {
    let t = OffsetDateTime::parse(instant, &Rfc3339).ok()?;
    let system: std::time::SystemTime = t.into();
    Some(httpdate::fmt_http_date(system))
}

/// Parses an HTTP-date (`If-Modified-Since`) to a stored-instant form, at second precision.
pub fn parse_http_date(text: &str) -> Option<String> {
    let system = httpdate::parse_http_date(text).ok()?;
    Some(format_instant(OffsetDateTime::from(system)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_fixed_width_utc() {
        assert_eq!(
            parse_instant("2020-01-02").unwrap(),
            "2020-01-02T00:00:00.000Z"
        );
        assert_eq!(
            parse_instant("2020-01-02T10:00:00+02:00").unwrap(),
            "2020-01-02T08:00:00.000Z"
        );
        assert_eq!(
            parse_instant("2020-01-02T10:00:00.5Z").unwrap(),
            "2020-01-02T10:00:00.500Z"
        );
        assert!(parse_instant("yesterday").is_none());
        assert_eq!(now_instant().len(), 24);
    }

    #[test]
    fn http_dates_round_trip_to_the_second() {
        let d = http_date("2020-01-02T08:00:00.250Z").unwrap();
        assert_eq!(d, "Thu, 02 Jan 2020 08:00:00 GMT");
        assert_eq!(parse_http_date(&d).unwrap(), "2020-01-02T08:00:00.000Z");
    }
}
