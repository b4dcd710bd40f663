//! The FHIRPath system types that need more than a Rust primitive: an exact decimal
//! (FHIR decimals keep their precision, `1.50` is not `1.5` when printed), partial
//! dates and times (`2020-03` is a date of month precision, not a day), and quantities
//! with the small part of UCUM that comparisons and date arithmetic need.

use std::cmp::Ordering;
use std::fmt;

/// An exact decimal: `mantissa × 10^-scale`, keeping the scale of its text.
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// Digits kept after the point by a division.
const DIV_SCALE: u32 = 8;
const MAX_SCALE: u32 = 28;

impl Decimal {
    /// From an integer.
    pub fn from_int(i: i64) -> Self {
        Decimal {
            mantissa: i as i128,
            scale: 0,
        }
    }

    /// Parses `-12.340`, `1e3` (exponents are expanded). `None` when not a number.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (num, exp) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (neg, digits) = match num.as_bytes().first()? {
            b'-' => (true, &num[1..]),
            b'+' => (false, &num[1..]),
            _ => (false, num),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if digits.contains('.') && frac.is_empty() {
            return None;
        }
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa.checked_mul(10)?.checked_add((b - b'0') as i128)?;
        }
        let mut scale = frac.len() as i32 - exp;
        while scale < 0 {
            mantissa = mantissa.checked_mul(10)?;
            scale += 1;
        }
        let mut d = Decimal {
            mantissa: if neg { -mantissa } else { mantissa },
            scale: scale as u32,
        };
        while d.scale > MAX_SCALE {
            d = d.rescale_round(MAX_SCALE);
        }
        Some(d)
    }

    /// The number of digits after the point.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// As a float (for indexing and maths functions).
    pub fn to_f64(&self) -> f64 {
        self.mantissa as f64 / 10f64.powi(self.scale as i32)
    }

    /// From a float, rounded to 8 decimals and trimmed.
    pub fn from_f64(f: f64) -> Option<Self> {
        if !f.is_finite() {
            return None;
        }
        let d = Decimal::parse(&format!("{f:.8}"))?;
        Some(d.normalized())
    }

    /// The integer part if there is no fraction.
    pub fn to_i64_exact(&self) -> Option<i64> {
        let n = self.normalized();
        if n.scale == 0 {
            i64::try_from(n.mantissa).ok()
        } else {
            None
        }
    }

    /// Trailing zeros after the point removed.
    pub fn normalized(mut self) -> Self {
        while self.scale > 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        self
    }

    fn rescale_up(&self, scale: u32) -> Option<i128> {
        let mut m = self.mantissa;
        for _ in self.scale..scale {
            m = m.checked_mul(10)?;
        }
        Some(m)
    }

    /// Rounds (half away from zero) or pads to `scale` digits.
    pub fn rescale_round(&self, scale: u32) -> Self {
        if scale >= self.scale {
            return match self.rescale_up(scale) {
                Some(m) => Decimal { mantissa: m, scale },
                None => *self,
            };
        }
        let mut m = self.mantissa;
        let mut last = 0;
        for _ in scale..self.scale {
            last = m % 10;
            m /= 10;
        }
        if last.abs() >= 5 {
            m += m.signum().max(if self.mantissa < 0 { -1 } else { 1 });
        }
        Decimal { mantissa: m, scale }
    }

    /// Truncates toward zero to `scale` digits.
    pub fn truncate_to(&self, scale: u32) -> Self {
        let mut m = self.mantissa;
        for _ in scale..self.scale {
            m /= 10;
        }
        Decimal {
            mantissa: m,
            scale: scale.min(self.scale),
        }
    }

    fn align(a: &Decimal, b: &Decimal) -> Option<(i128, i128, u32)> {
        let s = a.scale.max(b.scale);
        Some((a.rescale_up(s)?, b.rescale_up(s)?, s))
    }

    /// `a + b`.
    pub fn add(&self, o: &Decimal) -> Option<Decimal> {
        let (a, b, s) = Decimal::align(self, o)?;
        Some(Decimal {
            mantissa: a.checked_add(b)?,
            scale: s,
        })
    }

    /// `a - b`.
    pub fn sub(&self, o: &Decimal) -> Option<Decimal> {
        let (a, b, s) = Decimal::align(self, o)?;
        Some(Decimal {
            mantissa: a.checked_sub(b)?,
            scale: s,
        })
    }

    /// `a * b`.
    pub fn mul(&self, o: &Decimal) -> Option<Decimal> {
        let mut d = Decimal {
            mantissa: self.mantissa.checked_mul(o.mantissa)?,
            scale: self.scale + o.scale,
        };
        while d.scale > MAX_SCALE {
            d = d.rescale_round(MAX_SCALE);
        }
        Some(d)
    }

    /// `a / b` to 8 decimals, trailing zeros trimmed; `None` when dividing by zero.
    pub fn div(&self, o: &Decimal) -> Option<Decimal> {
        if o.mantissa == 0 {
            return None;
        }
        // (a/10^sa) / (b/10^sb) = a*10^(sb + D + 1 - sa) / b / 10^(D+1)
        let shift = o.scale as i64 + DIV_SCALE as i64 + 1 - self.scale as i64;
        let mut a = self.mantissa;
        let mut b = o.mantissa;
        if shift >= 0 {
            for _ in 0..shift {
                a = a.checked_mul(10)?;
            }
        } else {
            for _ in 0..(-shift) {
                b = b.checked_mul(10)?;
            }
        }
        let q = Decimal {
            mantissa: a / b,
            scale: DIV_SCALE + 1,
        };
        Some(q.rescale_round(DIV_SCALE).normalized())
    }

    /// Integer division (truncated), `None` when dividing by zero.
    pub fn div_trunc(&self, o: &Decimal) -> Option<Decimal> {
        let (a, b, _) = Decimal::align(self, o)?;
        if b == 0 {
            return None;
        }
        Some(Decimal {
            mantissa: a / b,
            scale: 0,
        })
    }

    /// Remainder of the truncated division, `None` when dividing by zero.
    pub fn rem(&self, o: &Decimal) -> Option<Decimal> {
        let (a, b, s) = Decimal::align(self, o)?;
        if b == 0 {
            return None;
        }
        Some(Decimal {
            mantissa: a % b,
            scale: s,
        })
    }

    /// `-a`.
    pub fn neg(&self) -> Decimal {
        Decimal {
            mantissa: -self.mantissa,
            scale: self.scale,
        }
    }

    /// Whether it is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether it is below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// Largest integer not above.
    pub fn floor(&self) -> Decimal {
        let t = self.truncate_to(0);
        if self.mantissa < 0 && t.rescale_up(self.scale) != Some(self.mantissa) {
            Decimal {
                mantissa: t.mantissa - 1,
                scale: 0,
            }
        } else {
            t
        }
    }

    /// Smallest integer not below.
    pub fn ceiling(&self) -> Decimal {
        let t = self.truncate_to(0);
        if self.mantissa > 0 && t.rescale_up(self.scale) != Some(self.mantissa) {
            Decimal {
                mantissa: t.mantissa + 1,
                scale: 0,
            }
        } else {
            t
        }
    }

    /// Compares numerically (`1.0` equals `1`).
    pub fn cmp_num(&self, o: &Decimal) -> Ordering {
        match Decimal::align(self, o) {
            Some((a, b, _)) => a.cmp(&b),
            None => self
                .to_f64()
                .partial_cmp(&o.to_f64())
                .unwrap_or(Ordering::Equal),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.mantissa < 0;
        let digits = self.mantissa.unsigned_abs().to_string();
        let s = self.scale as usize;
        let body = if s == 0 {
            digits
        } else if digits.len() > s {
            format!(
                "{}.{}",
                &digits[..digits.len() - s],
                &digits[digits.len() - s..]
            )
        } else {
            format!("0.{}{}", "0".repeat(s - digits.len()), digits)
        };
        if neg {
            write!(f, "-{body}")
        } else {
            f.write_str(&body)
        }
    }
}

/// Which of the three temporal system types a [`Temporal`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalKind {
    /// `System.Date`: year, month, day.
    Date,
    /// `System.DateTime`: a date with an optional time and offset.
    DateTime,
    /// `System.Time`: a time of day without date or offset.
    Time,
}

/// A partial date, date-time or time. Fields past the precision are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Temporal {
    /// Date, DateTime or Time.
    pub kind: TemporalKind,
    /// Year (0 for a Time).
    pub year: i32,
    /// Month 1–12.
    pub month: Option<u8>,
    /// Day 1–31.
    pub day: Option<u8>,
    /// Hour 0–23.
    pub hour: Option<u8>,
    /// Minute.
    pub minute: Option<u8>,
    /// Second.
    pub second: Option<u8>,
    /// Milliseconds (fractional seconds, 3 digits).
    pub millis: Option<u16>,
    /// Offset from UTC in minutes, when given.
    pub tz: Option<i16>,
}

/// Days in a month of a (proleptic Gregorian) year.
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

fn num(s: &str, len: usize) -> Option<u32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl Temporal {
    fn empty(kind: TemporalKind) -> Self {
        Temporal {
            kind,
            year: 0,
            month: None,
            day: None,
            hour: None,
            minute: None,
            second: None,
            millis: None,
            tz: None,
        }
    }

    /// Parses a FHIR/FHIRPath date (`2020`, `2020-03`, `2020-03-04`).
    pub fn parse_date(s: &str) -> Option<Self> {
        let mut t = Temporal::empty(TemporalKind::Date);
        t.parse_date_part(s)?;
        Some(t)
    }

    fn parse_date_part(&mut self, s: &str) -> Option<()> {
        let mut parts = s.split('-');
        self.year = num(parts.next()?, 4)? as i32;
        if let Some(m) = parts.next() {
            let m = num(m, 2)? as u8;
            if !(1..=12).contains(&m) {
                return None;
            }
            self.month = Some(m);
            if let Some(d) = parts.next() {
                let d = num(d, 2)? as u8;
                if d < 1 || d > days_in_month(self.year, m) {
                    return None;
                }
                self.day = Some(d);
            }
        }
        parts.next().is_none().then_some(())
    }

    fn parse_time_part(&mut self, s: &str) -> Option<()> {
        let mut parts = s.split(':');
        let h = num(parts.next()?, 2)? as u8;
        if h > 23 {
            return None;
        }
        self.hour = Some(h);
        if let Some(m) = parts.next() {
            let m = num(m, 2)? as u8;
            if m > 59 {
                return None;
            }
            self.minute = Some(m);
            if let Some(sec) = parts.next() {
                let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
                let sv = num(whole, 2)? as u8;
                if sv > 59 {
                    return None;
                }
                self.second = Some(sv);
                if sec.contains('.') {
                    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    let padded = format!("{:0<3}", &frac[..frac.len().min(3)]);
                    self.millis = Some(padded.parse().ok()?);
                }
            }
        }
        parts.next().is_none().then_some(())
    }

    /// Parses a FHIR dateTime/instant or FHIRPath DateTime literal body
    /// (`2020`, `2020-03-04T10:00`, `2020-03-04T10:00:00.123+01:00`, `2015T`).
    pub fn parse_datetime(s: &str) -> Option<Self> {
        let mut t = Temporal::empty(TemporalKind::DateTime);
        let (date, time) = match s.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (s, None),
        };
        t.parse_date_part(date)?;
        if let Some(time) = time.filter(|t| !t.is_empty()) {
            t.day?;
            let (clock, tz) = split_tz(time)?;
            t.parse_time_part(clock)?;
            t.tz = tz;
        }
        Some(t)
    }

    /// Parses a time (`14:34`, `14:34:28.123`); no offset allowed.
    pub fn parse_time(s: &str) -> Option<Self> {
        let mut t = Temporal::empty(TemporalKind::Time);
        t.parse_time_part(s)?;
        Some(t)
    }

    /// How many components are present (year = 1 … millisecond = 7).
    pub fn precision(&self) -> u8 {
        let fields = [
            self.kind != TemporalKind::Time,
            self.month.is_some(),
            self.day.is_some(),
            self.hour.is_some(),
            self.minute.is_some(),
            self.second.is_some(),
            self.millis.is_some(),
        ];
        fields.iter().filter(|f| **f).count() as u8
    }

    /// The fields as an array of comparable numbers, `None` past the precision, in UTC
    /// when an offset is present (and `default_tz` fills a missing one).
    fn components(&self, default_tz: Option<i16>) -> [Option<i64>; 7] {
        let mut t = *self;
        if self.kind == TemporalKind::DateTime
            && self.minute.is_some()
            && let Some(tz) = self.tz.or(default_tz)
        {
            t = t.shift_minutes(-(tz as i64));
        }
        let time = self.kind == TemporalKind::Time;
        [
            Some(if time { 0 } else { t.year as i64 }),
            if time {
                Some(1)
            } else {
                t.month.map(i64::from)
            },
            if time { Some(1) } else { t.day.map(i64::from) },
            t.hour.map(i64::from),
            t.minute.map(i64::from),
            t.second.map(i64::from),
            t.millis.map(i64::from),
        ]
    }

    fn shift_minutes(&self, minutes: i64) -> Temporal {
        let (Some(m), Some(d), Some(h), Some(mi)) = (self.month, self.day, self.hour, self.minute)
        else {
            return *self;
        };
        let total = days_from_civil(self.year, m, d) * 1440 + h as i64 * 60 + mi as i64 + minutes;
        let (y, mo, dd) = civil_from_days(total.div_euclid(1440));
        let rem = total.rem_euclid(1440);
        Temporal {
            year: y,
            month: Some(mo),
            day: Some(dd),
            hour: Some((rem / 60) as u8),
            minute: Some((rem % 60) as u8),
            tz: None,
            ..*self
        }
    }

    /// FHIRPath comparison: `Some(ordering)`, or `None` when the precisions differ and
    /// the common part is equal (the result is unknown).
    pub fn compare(&self, o: &Temporal) -> Option<Ordering> {
        if self.hour.is_some() && o.hour.is_some() && self.tz.is_some() != o.tz.is_some() {
            // One side has an offset and the other none: the instants cannot be lined up.
            return None;
        }
        let (a, b) = (self.components(o.tz), o.components(self.tz));
        for i in 0..7 {
            // Seconds and milliseconds are one precision in FHIRPath comparisons.
            let (x, y) = if i == 5 {
                let ms = |c: &[Option<i64>; 7]| c[5].map(|s| s * 1000 + c[6].unwrap_or(0));
                (ms(&a), ms(&b))
            } else if i == 6 {
                break;
            } else {
                (a[i], b[i])
            };
            match (x, y) {
                (Some(x), Some(y)) if x != y => return Some(x.cmp(&y)),
                (Some(_), Some(_)) => continue,
                (None, None) => return Some(Ordering::Equal),
                _ => return None,
            }
        }
        Some(Ordering::Equal)
    }

    /// Adds a calendar quantity (`years`, `months`, `weeks`, `days`, `hours`, `minutes`,
    /// `seconds`, `milliseconds`, given as an amount in that unit).
    pub fn add(&self, amount: &Decimal, unit: &str) -> Option<Temporal> {
        let whole = amount.truncate_to(0).to_i64_exact()?;
        let mut t = *self;
        match unit {
            "year" => t.year = i32::try_from(t.year as i64 + whole).ok()?,
            "month" => {
                if let Some(m) = t.month {
                    let total = t.year as i64 * 12 + (m as i64 - 1) + whole;
                    t.year = i32::try_from(total.div_euclid(12)).ok()?;
                    t.month = Some((total.rem_euclid(12) + 1) as u8);
                } else {
                    t.year = i32::try_from(t.year as i64 + whole / 12).ok()?;
                }
            }
            "week" | "day" => {
                let days = if unit == "week" { whole * 7 } else { whole };
                match (t.month, t.day) {
                    (Some(m), Some(d)) => {
                        let (y, mo, dd) = civil_from_days(days_from_civil(t.year, m, d) + days);
                        t.year = y;
                        t.month = Some(mo);
                        t.day = Some(dd);
                    }
                    _ => return t.add(&Decimal::from_int(days / 30), "month"),
                }
            }
            "hour" | "minute" | "second" | "millisecond" => {
                let ms: i64 = match unit {
                    "hour" => whole * 3_600_000,
                    "minute" => whole * 60_000,
                    "second" => whole * 1000,
                    _ => whole,
                };
                return Some(t.add_millis(ms));
            }
            _ => return None,
        }
        if let (Some(m), Some(d)) = (t.month, t.day) {
            t.day = Some(d.min(days_in_month(t.year, m)));
        }
        Some(t)
    }

    fn add_millis(&self, ms: i64) -> Temporal {
        if self.hour.is_none() {
            return *self;
        }
        let day_ms = 86_400_000i64;
        let cur = self.hour.unwrap_or(0) as i64 * 3_600_000
            + self.minute.unwrap_or(0) as i64 * 60_000
            + self.second.unwrap_or(0) as i64 * 1000
            + self.millis.unwrap_or(0) as i64;
        let total = cur + ms;
        let mut t = *self;
        let day_shift = total.div_euclid(day_ms);
        let rem = total.rem_euclid(day_ms);
        t.hour = Some((rem / 3_600_000) as u8);
        if t.minute.is_some() || rem % 3_600_000 != 0 {
            t.minute = Some((rem / 60_000 % 60) as u8);
        }
        if t.second.is_some() || rem % 60_000 != 0 {
            t.second = Some((rem / 1000 % 60) as u8);
        }
        if t.millis.is_some() || rem % 1000 != 0 {
            t.millis = Some((rem % 1000) as u16);
        }
        if t.kind != TemporalKind::Time
            && day_shift != 0
            && let (Some(m), Some(d)) = (t.month, t.day)
        {
            let (y, mo, dd) = civil_from_days(days_from_civil(t.year, m, d) + day_shift);
            t.year = y;
            t.month = Some(mo);
            t.day = Some(dd);
        }
        t
    }

    /// The first and last instant (milliseconds since the epoch, UTC) this value covers;
    /// a missing offset counts as UTC.
    pub fn range_millis(&self) -> (i64, i64) {
        let year = self.year;
        let (m0, m1) = self.month.map_or((1, 12), |m| (m, m));
        let d0 = self.day.unwrap_or(1);
        let d1 = self.day.unwrap_or_else(|| days_in_month(year, m1));
        let (h0, h1) = self.hour.map_or((0, 23), |h| (h, h));
        let (mi0, mi1) = self.minute.map_or((0, 59), |m| (m, m));
        let (s0, s1) = self.second.map_or((0, 59), |s| (s, s));
        let (ms0, ms1) = self.millis.map_or((0, 999), |m| (m, m));
        let tz = self.tz.unwrap_or(0) as i64 * 60_000;
        let at = |m, d, h: u8, mi: u8, s: u8, ms: u16| {
            days_from_civil(year, m, d) * 86_400_000
                + h as i64 * 3_600_000
                + mi as i64 * 60_000
                + s as i64 * 1000
                + ms as i64
                - tz
        };
        (at(m0, d0, h0, mi0, s0, ms0), at(m1, d1, h1, mi1, s1, ms1))
    }
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDThh:mm:ss.sssZ`.
pub fn format_instant_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

fn split_tz(time: &str) -> Option<(&str, Option<i16>)> {
    if let Some(clock) = time.strip_suffix('Z') {
        return Some((clock, Some(0)));
    }
    if let Some(i) = time.rfind(['+', '-']) {
        let (clock, tz) = time.split_at(i);
        let sign: i16 = if tz.starts_with('-') { -1 } else { 1 };
        let (h, m) = tz[1..].split_once(':')?;
        let (h, m) = (num(h, 2)? as i16, num(m, 2)? as i16);
        if h > 14 || m > 59 {
            return None;
        }
        return Some((clock, Some(sign * (h * 60 + m))));
    }
    Some((time, None))
}

impl fmt::Display for Temporal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != TemporalKind::Time {
            write!(f, "{:04}", self.year)?;
            if let Some(m) = self.month {
                write!(f, "-{m:02}")?;
            }
            if let Some(d) = self.day {
                write!(f, "-{d:02}")?;
            }
            if self.kind == TemporalKind::Date {
                return Ok(());
            }
            if self.hour.is_none() {
                return Ok(());
            }
            f.write_str("T")?;
        }
        if let Some(h) = self.hour {
            write!(f, "{h:02}")?;
        }
        if let Some(m) = self.minute {
            write!(f, ":{m:02}")?;
        }
        if let Some(s) = self.second {
            write!(f, ":{s:02}")?;
        }
        if let Some(ms) = self.millis {
            write!(f, ".{ms:03}")?;
        }
        if let Some(tz) = self.tz {
            if tz == 0 {
                f.write_str("Z")?;
            } else {
                let sign = if tz < 0 { '-' } else { '+' };
                write!(f, "{sign}{:02}:{:02}", tz.abs() / 60, tz.abs() % 60)?;
            }
        }
        Ok(())
    }
}

/// A FHIRPath quantity: a decimal and a UCUM unit (or a calendar duration keyword).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// The amount.
    pub value: Decimal,
    /// The UCUM code or a calendar keyword (`year`, `month`, `day`, …, singular).
    pub unit: String,
}

impl PartialEq for Decimal {
    fn eq(&self, o: &Decimal) -> bool {
        self.cmp_num(o) == Ordering::Equal
    }
}

/// Calendar keywords (singular) for a FHIRPath calendar duration or the matching UCUM
/// code: `days`→`day`, `'d'`→`day`.
pub fn calendar_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "year" | "years" => "year",
        "month" | "months" => "month",
        "week" | "weeks" => "week",
        "day" | "days" => "day",
        "hour" | "hours" => "hour",
        "minute" | "minutes" => "minute",
        "second" | "seconds" => "second",
        "millisecond" | "milliseconds" => "millisecond",
        _ => return None,
    })
}

/// The UCUM code matching a calendar keyword for time units where they are
/// interchangeable (`day` = `'d'`); years and months are not (`'a'` is 365.25 days).
fn ucum_of(unit: &str) -> &str {
    match unit {
        "week" => "wk",
        "day" => "d",
        "hour" => "h",
        "minute" => "min",
        "second" => "s",
        "millisecond" => "ms",
        other => other,
    }
}

/// `(factor, base unit)` for the UCUM units HealthOS can convert between.
fn ucum_base(unit: &str) -> Option<(Decimal, &'static str)> {
    let d = |s: &str| Decimal::parse(s);
    let simple: &[(&str, &str, &str)] = &[
        ("wk", "604800", "s"),
        ("d", "86400", "s"),
        ("h", "3600", "s"),
        ("min", "60", "s"),
        ("s", "1", "s"),
        ("ms", "0.001", "s"),
        ("a", "31557600", "s"),
        ("mo", "2629800", "s"),
        ("[lb_av]", "453.59237", "g"),
        ("[oz_av]", "28.349523125", "g"),
        ("[in_i]", "0.0254", "m"),
        ("[ft_i]", "0.3048", "m"),
        ("L", "1", "L"),
        ("l", "1", "L"),
        ("g", "1", "g"),
        ("m", "1", "m"),
        ("1", "1", "1"),
        ("%", "0.01", "1"),
        ("mm[Hg]", "1", "mm[Hg]"),
        ("Cel", "1", "Cel"),
    ];
    if let Some((_, f, b)) = simple.iter().find(|(u, _, _)| *u == unit) {
        return Some((d(f)?, b));
    }
    let prefixes = [
        ("k", "1000"),
        ("d", "0.1"),
        ("c", "0.01"),
        ("m", "0.001"),
        ("u", "0.000001"),
        ("n", "0.000000001"),
    ];
    for (p, f) in prefixes {
        if let Some(rest) = unit.strip_prefix(p) {
            let base: &'static str = match rest {
                "g" => "g",
                "m" => "m",
                "L" | "l" => "L",
                "s" => "s",
                _ => continue,
            };
            return Some((d(f)?, base));
        }
    }
    None
}

impl Quantity {
    /// This quantity in its UCUM base unit, when the unit is known.
    fn to_base(&self) -> Option<(Decimal, &'static str)> {
        let (f, b) = ucum_base(ucum_of(&self.unit))?;
        Some((self.value.mul(&f)?, b))
    }

    /// Compares two quantities, converting units where possible. `None` when the units
    /// cannot be compared.
    pub fn compare(&self, o: &Quantity) -> Option<Ordering> {
        if self.unit == o.unit {
            return Some(self.value.cmp_num(&o.value));
        }
        let cal = |u: &str| matches!(u, "year" | "month");
        if cal(&self.unit) || cal(&o.unit) {
            return None;
        }
        if ucum_of(&self.unit) == ucum_of(&o.unit) {
            return Some(self.value.cmp_num(&o.value));
        }
        let (a, ab) = self.to_base()?;
        let (b, bb) = o.to_base()?;
        (ab == bb).then(|| a.cmp_num(&b))
    }

    /// The FHIRPath text: `5 'mg'`, `3 days`.
    pub fn literal(&self) -> String {
        if calendar_unit(&self.unit).is_some() {
            format!("{} {}", self.value, self.unit)
        } else {
            format!("{} '{}'", self.value, self.unit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_keeps_scale_and_does_exact_arithmetic() {
        let a = Decimal::parse("1.50").unwrap();
        assert_eq!(a.to_string(), "1.50");
        assert_eq!(
            a.add(&Decimal::parse("0.7").unwrap()).unwrap().to_string(),
            "2.20"
        );
        assert_eq!(
            Decimal::parse("1")
                .unwrap()
                .div(&Decimal::parse("3").unwrap())
                .unwrap()
                .to_string(),
            "0.33333333"
        );
        assert_eq!(
            Decimal::parse("-1.5").unwrap().rescale_round(0).to_string(),
            "-2"
        );
        assert_eq!(Decimal::parse("1e3").unwrap().to_string(), "1000");
        assert!(Decimal::parse("1.").is_none() && Decimal::parse("abc").is_none());
        assert_eq!(Decimal::parse("-1.2").unwrap().floor().to_string(), "-2");
    }

    #[test]
    fn temporal_parse_compare_range() {
        let d = Temporal::parse_date("2020-03").unwrap();
        let (s, e) = d.range_millis();
        assert_eq!(format_instant_millis(s), "2020-03-01T00:00:00.000Z");
        assert_eq!(format_instant_millis(e), "2020-03-31T23:59:59.999Z");
        let a = Temporal::parse_datetime("2020-03-04T10:00:00+01:00").unwrap();
        let b = Temporal::parse_datetime("2020-03-04T09:00:00Z").unwrap();
        assert_eq!(a.compare(&b), Some(Ordering::Equal));
        assert_eq!(a.to_string(), "2020-03-04T10:00:00+01:00");
        let c = Temporal::parse_datetime("2020-03-04").unwrap();
        assert_eq!(c.compare(&a), None);
        assert!(Temporal::parse_date("2020-02-30").is_none());
        let t = Temporal::parse_date("2020-01-31")
            .unwrap()
            .add(&Decimal::from_int(1), "month")
            .unwrap();
        assert_eq!(t.to_string(), "2020-02-29");
    }

    #[test]
    fn quantity_units_convert() {
        let q = |v: &str, u: &str| Quantity {
            value: Decimal::parse(v).unwrap(),
            unit: u.into(),
        };
        assert_eq!(q("4", "g").compare(&q("4000", "mg")), Some(Ordering::Equal));
        assert_eq!(q("1", "week").compare(&q("7", "d")), Some(Ordering::Equal));
        assert_eq!(q("1", "year").compare(&q("1", "a")), None);
        assert_eq!(q("1", "cm").compare(&q("1", "g")), None);
    }
}
