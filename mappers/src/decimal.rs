//! Exact decimal arithmetic for unit conversions.
//!
//! FHIR decimals keep their text (`1.50` is not `1.5`), and `185 [lb_av]` is exactly
//! `83.91458845 kg`: binary floating point would turn both into noise. Values here are a
//! mantissa and a count of decimal places; conversions are rational and round once, half
//! away from zero, to a stated number of places.

use std::cmp::Ordering;
use std::fmt;

/// A decimal number `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// At most this many significant digits are accepted, so every operation below stays
/// far from `i128` overflow (which is still checked).
const MAX_DIGITS: usize = 24;

impl Decimal {
    /// Parses FHIR/JSON decimal text: `-?digits(.digits)?([eE][+-]?digits)?`.
    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (number, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if int.is_empty() || number.ends_with('.') {
            return None;
        }
        let digits = format!("{int}{frac}");
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let trimmed = digits.trim_start_matches('0');
        if trimmed.len() > MAX_DIGITS {
            return None;
        }
        let mut mantissa: i128 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().ok()?
        };
        let mut scale = i32::try_from(frac.len()).ok()? - exponent;
        if scale < 0 {
            mantissa = mantissa.checked_mul(pow10(u32::try_from(-scale).ok()?)?)?;
            scale = 0;
        }
        if negative {
            mantissa = -mantissa;
        }
        Some(Decimal {
            mantissa,
            scale: u32::try_from(scale).ok()?,
        })
    }

    /// Decimal places as written (`37.20` has 2).
    pub(crate) fn scale(self) -> u32 {
        self.scale
    }

    /// `(self + offset) * num / den`, rounded half away from zero to `places` decimals.
    pub(crate) fn convert(
        self,
        offset: i128,
        num: i128,
        den: i128,
        places: u32,
    ) -> Option<Decimal> {
        let shift = pow10(self.scale)?;
        let numerator = self
            .mantissa
            .checked_add(offset.checked_mul(shift)?)?
            .checked_mul(num)?
            .checked_mul(pow10(places)?)?;
        let denominator = shift.checked_mul(den)?;
        Some(Decimal {
            mantissa: div_round(numerator, denominator),
            scale: places,
        })
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        let widen = |d: &Decimal| pow10(scale - d.scale).and_then(|p| d.mantissa.checked_mul(p));
        match (widen(self), widen(other)) {
            (Some(a), Some(b)) => a.cmp(&b),
            // Unreachable with MAX_DIGITS-bounded inputs; fall back to floating point.
            _ => {
                let approx = |d: &Decimal| d.mantissa as f64 / 10f64.powi(d.scale as i32);
                approx(self).total_cmp(&approx(other))
            }
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = if digits.len() <= scale {
            format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
        } else {
            digits
        };
        let (int, frac) = padded.split_at(padded.len() - scale);
        if self.mantissa < 0 {
            f.write_str("-")?;
        }
        f.write_str(int)?;
        if !frac.is_empty() {
            write!(f, ".{frac}")?;
        }
        Ok(())
    }
}

fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// Integer division rounding half away from zero.
fn div_round(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if r.unsigned_abs() * 2 >= d.unsigned_abs() {
        q + if (n < 0) == (d < 0) { 1 } else { -1 }
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn parses_and_prints_fhir_decimals_unchanged() {
        for text in [
            "0", "37", "37.2", "37.20", "-0.05", "1.50", "0.000001", "-12",
        ] {
            assert_eq!(d(text).to_string(), text);
        }
        assert_eq!(d("37.20").scale(), 2);
        assert_eq!(d("1.5e2").to_string(), "150");
        assert_eq!(d("15E-1").to_string(), "1.5");
        assert_eq!(d("007.5").to_string(), "7.5");
    }

    #[test]
    fn rejects_non_decimals() {
        for text in [
            "",
            "-",
            ".5",
            "5.",
            "1.2.3",
            "abc",
            "1e",
            "1,5",
            "+1",
            "1234567890123456789012345",
        ] {
            assert_eq!(Decimal::parse(text), None, "{text}");
        }
    }

    #[test]
    fn orders_across_scales() {
        assert!(d("28") < d("30.0"));
        assert!(d("45.01") > d("45"));
        assert_eq!(d("30.0").cmp(&d("30")), Ordering::Equal);
        assert!(d("-1") < d("0.5"));
    }

    #[test]
    fn converts_exactly_and_rounds_half_away_from_zero() {
        // 185 lb -> kg, exact then rounded
        assert_eq!(
            d("185")
                .convert(0, 45359237, 100_000_000, 8)
                .unwrap()
                .to_string(),
            "83.91458845"
        );
        assert_eq!(
            d("185")
                .convert(0, 45359237, 100_000_000, 1)
                .unwrap()
                .to_string(),
            "83.9"
        );
        // 98.6 F -> 37.00 C; 100.5 F -> 38.055.. -> 38.06
        assert_eq!(
            d("98.6").convert(-32, 5, 9, 2).unwrap().to_string(),
            "37.00"
        );
        assert_eq!(
            d("100.5").convert(-32, 5, 9, 2).unwrap().to_string(),
            "38.06"
        );
        // half away from zero, both signs: 0.25 -> 0.3, -0.25 -> -0.3
        assert_eq!(d("0.25").convert(0, 1, 1, 1).unwrap().to_string(), "0.3");
        assert_eq!(d("-0.25").convert(0, 1, 1, 1).unwrap().to_string(), "-0.3");
        assert_eq!(d("0.24").convert(0, 1, 1, 1).unwrap().to_string(), "0.2");
        // below freezing: 14 F = -10 C
        assert_eq!(d("14").convert(-32, 5, 9, 1).unwrap().to_string(), "-10.0");
    }
}
