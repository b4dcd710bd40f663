//! UCUM units of the vital signs and the conversions to their canonical unit.
//!
//! The canonical units are the ones a chart compares across sources: `Cel`, `kg`, `cm`,
//! `/min`, `%`, `mm[Hg]`, `kg/m2`, `L/min`. The R4 profiles also allow `[degF]`,
//! `[lb_av]`, `[in_i]`, `g`; converting once on the way in means every consumer
//! (baselines, alerts, search by quantity) sees one unit per code.
//!
//! Precision rule: a converted value is rounded to `s + k` decimal places, where `s` is
//! the number of places in the source value and `k` is the smallest integer with
//! `10^-k <= factor` (the size of one source unit in canonical units). One step of the
//! last source digit therefore stays visible in the result, and no spurious precision is
//! invented: `185 [lb_av]` → `83.9 kg`, `98.6 [degF]` → `37.00 Cel`, `66.9 [in_i]` →
//! `169.9 cm`. The exact original quantity is kept beside the result (see
//! [`crate::vitals`]).

use crate::decimal::Decimal;

/// UCUM code system URI.
pub const UCUM: &str = "http://unitsofmeasure.org";

/// What a vital-sign value measures, which fixes its canonical unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Events per minute (heart rate, respiratory rate): `/min`.
    Rate,
    /// Percent (SpO2, FiO2): `%`.
    Percent,
    /// Body temperature: `Cel`.
    Temperature,
    /// Body mass: `kg`.
    Mass,
    /// Body length (height, head circumference): `cm`.
    Length,
    /// Blood pressure: `mm[Hg]`.
    Pressure,
    /// Body mass index: `kg/m2`.
    MassPerArea,
    /// Gas flow: `L/min`.
    Flow,
}

impl Dimension {
    /// The canonical UCUM code.
    pub fn canonical_unit(self) -> &'static str {
        match self {
            Dimension::Rate => "/min",
            Dimension::Percent => "%",
            Dimension::Temperature => "Cel",
            Dimension::Mass => "kg",
            Dimension::Length => "cm",
            Dimension::Pressure => "mm[Hg]",
            Dimension::MassPerArea => "kg/m2",
            Dimension::Flow => "L/min",
        }
    }

    /// The affine conversion `canonical = (value + offset) * num / den` from a UCUM
    /// code, with its extra decimal places `k` (see the module docs).
    fn conversion(self, ucum: &str) -> Option<Conversion> {
        let c = |offset, num, den, extra| {
            Some(Conversion {
                offset,
                num,
                den,
                extra,
            })
        };
        match (self, ucum) {
            (Dimension::Temperature, "[degF]") => c(-32, 5, 9, 1),
            (Dimension::Mass, "[lb_av]") => c(0, 45_359_237, 100_000_000, 1),
            (Dimension::Mass, "[oz_av]") => c(0, 28_349_523_125, 1_000_000_000_000, 2),
            (Dimension::Mass, "g") => c(0, 1, 1000, 3),
            (Dimension::Length, "[in_i]") => c(0, 254, 100, 0),
            (Dimension::Length, "[ft_i]") => c(0, 3048, 100, -1),
            (Dimension::Length, "m") => c(0, 100, 1, -2),
            (Dimension::Length, "mm") => c(0, 1, 10, 1),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Conversion {
    offset: i128,
    num: i128,
    den: i128,
    extra: i32,
}

/// The result of bringing a UCUM value into the canonical unit of a [`Dimension`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Converted {
    /// Already canonical: value and code unchanged.
    Unchanged,
    /// Same unit written with a UCUM annotation (`{beats}/min`): value unchanged, code
    /// replaced by the canonical one. UCUM annotations carry no meaning.
    Renamed {
        /// The canonical code.
        code: &'static str,
    },
    /// Converted: the new value text (rounded per the module's precision rule).
    Value {
        /// The value in the canonical unit.
        value: String,
        /// The canonical code.
        code: &'static str,
    },
}

/// Brings `value` (decimal text) in UCUM unit `code` to the canonical unit of `dimension`.
/// Returns `None` when the unit is not one this dimension knows or the value is not a
/// decimal.
///
/// ```
/// use mappers::units::{to_canonical, Converted, Dimension};
///
/// assert_eq!(
///     to_canonical(Dimension::Mass, "185", "[lb_av]"),
///     Some(Converted::Value { value: "83.9".into(), code: "kg" })
/// );
/// assert_eq!(to_canonical(Dimension::Rate, "44", "/min"), Some(Converted::Unchanged));
/// assert_eq!(to_canonical(Dimension::Mass, "185", "[degF]"), None);
/// ```
pub fn to_canonical(dimension: Dimension, value: &str, code: &str) -> Option<Converted> {
    let decimal = Decimal::parse(value)?;
    let canonical = dimension.canonical_unit();
    if code == canonical {
        return Some(Converted::Unchanged);
    }
    if strip_annotations(code) == canonical {
        return Some(Converted::Renamed { code: canonical });
    }
    let conversion = dimension.conversion(code)?;
    let places = u32::try_from((decimal.scale() as i32 + conversion.extra).max(0)).ok()?;
    let converted = decimal.convert(conversion.offset, conversion.num, conversion.den, places)?;
    Some(Converted::Value {
        value: converted.to_string(),
        code: canonical,
    })
}

/// Removes UCUM `{…}` annotations: `{beats}/min` → `/min`, `%{HemoglobinSaturation}` → `%`.
fn strip_annotations(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut depth = 0usize;
    for c in code.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Reads a unit written as display text (no UCUM code) as UCUM, for the
/// [`crate::vitals::Quirks::unit_text_without_ucum_code`] rule. Only unambiguous
/// spellings seen in vendor data or their obvious variants are known; case-insensitive.
pub fn ucum_from_text(text: &str) -> Option<&'static str> {
    let lower = text.trim().to_ascii_lowercase();
    Some(match lower.as_str() {
        "cel" | "degc" | "°c" | "deg c" | "c" => "Cel",
        "[degf]" | "degf" | "°f" | "deg f" | "f" => "[degF]",
        "kg" | "kgs" => "kg",
        "g" => "g",
        "lb" | "lbs" | "[lb_av]" => "[lb_av]",
        "oz" | "[oz_av]" => "[oz_av]",
        "cm" => "cm",
        "m" => "m",
        "in" | "inch" | "inches" | "[in_i]" => "[in_i]",
        "/min" | "bpm" | "beats/min" | "beats/minute" | "br/min" | "breaths/min"
        | "breaths/minute" => "/min",
        "mmhg" | "mm hg" | "mm[hg]" => "mm[Hg]",
        "%" => "%",
        "kg/m2" | "kgm2" | "kg/m^2" => "kg/m2",
        "l/min" | "lpm" => "L/min",
        _ => return None,
    })
}

/// Whether `value` (decimal text) lies within `[low, high]`; `None` if it is not a decimal.
pub(crate) fn within(value: &str, low: &str, high: &str) -> Option<bool> {
    let v = Decimal::parse(value)?;
    Some(Decimal::parse(low)? <= v && v <= Decimal::parse(high)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(dimension: Dimension, v: &str, code: &str) -> String {
        match to_canonical(dimension, v, code) {
            Some(Converted::Value { value, .. }) => value,
            other => panic!("{v} {code}: {other:?}"),
        }
    }

    #[test]
    fn fahrenheit_to_celsius() {
        assert_eq!(value(Dimension::Temperature, "98.6", "[degF]"), "37.00");
        assert_eq!(value(Dimension::Temperature, "212", "[degF]"), "100.0");
        assert_eq!(value(Dimension::Temperature, "101.3", "[degF]"), "38.50");
        assert_eq!(value(Dimension::Temperature, "97", "[degF]"), "36.1");
    }

    #[test]
    fn pounds_and_ounces_to_kilograms() {
        assert_eq!(value(Dimension::Mass, "185", "[lb_av]"), "83.9");
        assert_eq!(value(Dimension::Mass, "154.32", "[lb_av]"), "69.998");
        assert_eq!(value(Dimension::Mass, "2116.8", "[oz_av]"), "60.010");
        assert_eq!(value(Dimension::Mass, "3500", "g"), "3.500");
    }

    #[test]
    fn inches_feet_and_metres_to_centimetres() {
        assert_eq!(value(Dimension::Length, "66.9", "[in_i]"), "169.9");
        assert_eq!(value(Dimension::Length, "70", "[in_i]"), "178");
        assert_eq!(value(Dimension::Length, "5.5", "[ft_i]"), "168");
        assert_eq!(value(Dimension::Length, "1.75", "m"), "175");
        assert_eq!(value(Dimension::Length, "1.753", "m"), "175.3");
        assert_eq!(value(Dimension::Length, "1755", "mm"), "175.5");
    }

    #[test]
    fn canonical_units_and_annotations() {
        assert_eq!(
            to_canonical(Dimension::Temperature, "36.5", "Cel"),
            Some(Converted::Unchanged)
        );
        assert_eq!(
            to_canonical(Dimension::Rate, "72", "{beats}/min"),
            Some(Converted::Renamed { code: "/min" })
        );
        assert_eq!(
            to_canonical(Dimension::Percent, "97", "%{HemoglobinSaturation}"),
            Some(Converted::Renamed { code: "%" })
        );
    }

    #[test]
    fn refuses_other_dimensions_and_non_decimals() {
        assert_eq!(to_canonical(Dimension::Temperature, "123", "mm[Hg]"), None);
        assert_eq!(to_canonical(Dimension::Mass, "185", "[stone_av]"), None);
        assert_eq!(to_canonical(Dimension::Rate, "{score}", "/min"), None);
        assert_eq!(to_canonical(Dimension::Temperature, "310", "K"), None);
    }

    #[test]
    fn unit_text_spellings() {
        assert_eq!(ucum_from_text("degC"), Some("Cel"));
        assert_eq!(ucum_from_text("KG"), Some("kg"));
        assert_eq!(ucum_from_text("bpm"), Some("/min"));
        assert_eq!(ucum_from_text("mmHg"), Some("mm[Hg]"));
        assert_eq!(ucum_from_text("kgm2"), Some("kg/m2"));
        assert_eq!(ucum_from_text("lbs"), Some("[lb_av]"));
        assert_eq!(ucum_from_text("stone"), None);
    }

    #[test]
    fn ranges_are_inclusive() {
        assert_eq!(within("30", "30", "45"), Some(true));
        assert_eq!(within("45.0", "30", "45"), Some(true));
        assert_eq!(within("28", "30", "45"), Some(false));
        assert_eq!(within("45.01", "30", "45"), Some(false));
        assert_eq!(within("x", "30", "45"), None);
    }
}
