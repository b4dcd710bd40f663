//! UCUM unit canonicalization for quantity search.
//!
//! FHIR [quantity search](https://hl7.org/fhir/R4/search.html#quantity) compares
//! quantities "in canonical UCUM units" when the system is `http://unitsofmeasure.org`:
//! `98.6|http://unitsofmeasure.org|[degF]` must find an Observation of `37 Cel`, `1 g` one
//! of `1000 mg`, `5.5 mmol/L` one of `5.5e-3 mol/L`. [`canonical`] reduces a value and a
//! [UCUM](https://ucum.org/ucum) code to a value in base units and a canonical unit text.
//! Two quantities are comparable exactly when their unit texts are equal, and then their
//! values compare directly. Pure: no I/O, no dependencies; the unit table is resolved
//! once, on first use.
//!
//! # Canonical unit text
//!
//! The base units with their exponents, sorted by name in byte order (upper case, then
//! `[…]` arbitrary units, then lower case), joined by `.`; an exponent is written after
//! the name and only when it is not 1. A dimensionless quantity is `1`. Examples:
//! `mg/dL` and `g/L` → `g.m-3`; `mm[Hg]` and `kPa` → `g.m-1.s-2`; `mmol/L` → `m-3.mol`;
//! `/min` → `s-1`; `[IU]/L` → `[IU].m-3`; `Cel` and `[degF]` → `K`; `%` → `1`.
//!
//! The base units are UCUM's `m`, `s`, `g`, `rad`, `K`, `C`, `cd`, plus:
//! - `mol`, kept as its own base unit (UCUM defines it as the pure number 6.0221367e23).
//!   Concentrations (`mmol/L` → `m-3.mol`) then never compare equal to counts per volume
//!   (`10*9/L` → `m-3`), and values stay small. `eq` and `osm` are 1 `mol`, `kat` is
//!   `mol/s`, the enzyme unit `U` is `umol/min`, as in UCUM.
//! - the arbitrary units (`[IU]`, `[arb'U]`, `[CFU]`, …), each its own base unit under its
//!   own name, so `m[IU]/mL` converts to `[IU].m-3` but never to anything else (as HAPI
//!   does). `[iU]` is the same unit as `[IU]`.
//!
//! # Covered
//!
//! - The case-sensitive ("c/s") grammar: terms joined by `.` and `/` (left-associative),
//!   a leading `/` (`/min` = `1/min`), signed integer exponents (`m2`, `s-1`, `10*-3`),
//!   parentheses, integer factors (`1`, `100`), `10*n` and `10^n`, and annotations
//!   (`{beats}/min`; an annotation alone, `{score}`, is 1).
//! - The metric prefixes `Y`…`y` and the binary prefixes `Ki`…`Ti`, on metric atoms only.
//!   An exact atom wins over a prefix reading (`mol` is mole, `cd` candela, `Pa` pascal,
//!   `min` minute, `mo` month, `h` hour).
//! - The ratio-scale atoms of ucum-essence: SI and ISO 1000 units, constants, CGS,
//!   international, US and British customary units, avoirdupois, troy and apothecaries'
//!   weights, typesetting, heat, clinical, chemical and information units.
//! - The offset units `Cel`, `[degF]` and `[degRe]`, converted to kelvin only when they
//!   stand alone (no prefix, no exponent, nothing multiplied or divided; an annotation is
//!   allowed).
//!
//! # Not covered (`None`)
//!
//! - The logarithmic and other special units (`[pH]`, `B`, `Np`, `bit_s`, `%[slope]`,
//!   `[p'diop]`, homeopathic potencies), and offset units combined with anything.
//! - Case-insensitive ("c/i") codes and print symbols (`MMOL/L`, `mEq`, `mcg`, `°C`).
//! - Codes longer than 256 bytes, parentheses nested deeper than 16, exponents beyond
//!   ±999, non-finite values or results.

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::sync::OnceLock;

/// A quantity in canonical UCUM form: the value in base units and the canonical unit text.
///
/// The unit text is described in the [module docs](self); two `Canonical`s of the same
/// dimension have equal `unit`s, and their `value`s compare directly.
#[derive(Debug, Clone, PartialEq)]
pub struct Canonical {
    /// The value in the base units of `unit` (kelvin for temperatures, grams for mass).
    pub value: f64,
    /// The canonical unit text, e.g. `g.m-3`, `s-1`, `K`, or `1` when dimensionless.
    pub unit: String,
}

/// Converts `value` in the UCUM unit `code` to canonical form; None if `code` is not valid UCUM
/// (or uses a unit this module does not know).
///
/// Also None when `value` or the converted value is not finite. `Cel`, `[degF]` and
/// `[degRe]` convert with their offset, and only when they stand alone.
#[must_use]
pub fn canonical(value: f64, code: &str) -> Option<Canonical> {
    if !value.is_finite() {
        return None;
    }
    let parsed = parse(code, atoms())?;
    let (value, unit) = match parsed.special {
        None => (value * parsed.quantity.factor, parsed.quantity.unit_text()),
        Some(special) if parsed.special_standalone => (special.to_kelvin(value), "K".to_owned()),
        Some(_) => return None,
    };
    value.is_finite().then_some(Canonical { value, unit })
}

/// Longest code accepted, in bytes.
const MAX_CODE_LEN: usize = 256;
/// Deepest parenthesis nesting accepted (bounds the parser's recursion).
const MAX_NESTING: usize = 16;
/// Largest exponent magnitude accepted.
const MAX_EXPONENT: i32 = 999;

/// Exponents of base units, keyed by base-unit name (byte order gives the canonical text).
type Dims = BTreeMap<&'static str, i32>;

/// A ratio-scale unit: `factor` times the product of base units.
#[derive(Debug, Clone, PartialEq)]
struct Quantity {
    factor: f64,
    dims: Dims,
}

impl Quantity {
    /// A pure number.
    fn number(factor: f64) -> Self {
        Self {
            factor,
            dims: Dims::new(),
        }
    }

    /// One of a base unit.
    fn base(name: &'static str) -> Self {
        Self {
            factor: 1.0,
            dims: Dims::from([(name, 1)]),
        }
    }

    fn mul(self, other: &Self) -> Option<Self> {
        self.combine(other, 1)
    }

    fn div(self, other: &Self) -> Option<Self> {
        self.combine(other, -1)
    }

    /// `self * other^sign`, `sign` being 1 or -1.
    fn combine(mut self, other: &Self, sign: i32) -> Option<Self> {
        self.factor = if sign > 0 {
            self.factor * other.factor
        } else {
            self.factor / other.factor
        };
        for (&name, &exponent) in &other.dims {
            let slot = self.dims.entry(name).or_insert(0);
            *slot = slot.checked_add(exponent.checked_mul(sign)?)?;
        }
        self.normalized()
    }

    fn pow(mut self, exponent: i32) -> Option<Self> {
        self.factor = self.factor.powi(exponent);
        for slot in self.dims.values_mut() {
            *slot = slot.checked_mul(exponent)?;
        }
        self.normalized()
    }

    /// Drops cancelled base units; None when the factor overflowed or underflowed.
    fn normalized(mut self) -> Option<Self> {
        self.dims.retain(|_, exponent| *exponent != 0);
        (self.factor.is_finite() && self.factor != 0.0).then_some(self)
    }

    /// The canonical unit text (see the module docs).
    fn unit_text(&self) -> String {
        if self.dims.is_empty() {
            return "1".to_owned();
        }
        let parts: Vec<String> = self
            .dims
            .iter()
            .map(|(name, exponent)| match exponent {
                1 => (*name).to_owned(),
                e => format!("{name}{e}"),
            })
            .collect();
        parts.join(".")
    }
}

/// The non-ratio units that convert with an offset (UCUM "special" units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    /// `Cel`: K = °C + 273.15.
    Celsius,
    /// `[degF]`: K = (°F + 459.67) × 5/9.
    Fahrenheit,
    /// `[degRe]`: K = °Ré × 5/4 + 273.15.
    Reaumur,
}

impl Special {
    fn to_kelvin(self, value: f64) -> f64 {
        match self {
            Special::Celsius => value + 273.15,
            Special::Fahrenheit => (value + 459.67) * 5.0 / 9.0,
            Special::Reaumur => value * 5.0 / 4.0 + 273.15,
        }
    }
}

/// How a table atom is defined.
#[derive(Debug, Clone, Copy)]
enum Def {
    /// A base unit, its own dimension.
    Base,
    /// An arbitrary unit: not convertible, kept as its own base unit under its code.
    Arbitrary,
    /// `value` times the UCUM expression, which may only use atoms listed before it.
    Ratio(f64, &'static str),
    /// An offset unit.
    Offset(Special),
}

use Def::{Arbitrary, Base, Offset, Ratio};

const METRIC: bool = true;
const NOT_METRIC: bool = false;

/// The UCUM atoms (ucum-essence), in dependency order: each definition uses only atoms
/// above it. `(code, takes metric prefixes, definition)`.
const TABLE: &[(&str, bool, Def)] = &[
    // Base units (`mol` is one here: see the module docs).
    ("m", METRIC, Base),
    ("s", METRIC, Base),
    ("g", METRIC, Base),
    ("rad", METRIC, Base),
    ("K", METRIC, Base),
    ("C", METRIC, Base),
    ("cd", METRIC, Base),
    ("mol", METRIC, Base),
    // Dimensionless.
    ("10*", NOT_METRIC, Ratio(10.0, "1")),
    ("10^", NOT_METRIC, Ratio(10.0, "1")),
    ("[pi]", NOT_METRIC, Ratio(PI, "1")),
    ("%", NOT_METRIC, Ratio(1.0, "10*-2")),
    ("[ppth]", NOT_METRIC, Ratio(1.0, "10*-3")),
    ("[ppm]", NOT_METRIC, Ratio(1.0, "10*-6")),
    ("[ppb]", NOT_METRIC, Ratio(1.0, "10*-9")),
    ("[pptr]", NOT_METRIC, Ratio(1.0, "10*-12")),
    // SI.
    ("sr", METRIC, Ratio(1.0, "rad2")),
    ("Hz", METRIC, Ratio(1.0, "s-1")),
    ("N", METRIC, Ratio(1.0, "kg.m/s2")),
    ("Pa", METRIC, Ratio(1.0, "N/m2")),
    ("J", METRIC, Ratio(1.0, "N.m")),
    ("W", METRIC, Ratio(1.0, "J/s")),
    ("A", METRIC, Ratio(1.0, "C/s")),
    ("V", METRIC, Ratio(1.0, "J/C")),
    ("F", METRIC, Ratio(1.0, "C/V")),
    ("Ohm", METRIC, Ratio(1.0, "V/A")),
    ("S", METRIC, Ratio(1.0, "Ohm-1")),
    ("Wb", METRIC, Ratio(1.0, "V.s")),
    ("Cel", METRIC, Offset(Special::Celsius)),
    ("T", METRIC, Ratio(1.0, "Wb/m2")),
    ("H", METRIC, Ratio(1.0, "Wb/A")),
    ("lm", METRIC, Ratio(1.0, "cd.sr")),
    ("lx", METRIC, Ratio(1.0, "lm/m2")),
    ("Bq", METRIC, Ratio(1.0, "s-1")),
    ("Gy", METRIC, Ratio(1.0, "J/kg")),
    ("Sv", METRIC, Ratio(1.0, "J/kg")),
    // ISO 1000.
    ("deg", NOT_METRIC, Ratio(2.0, "[pi].rad/360")),
    ("gon", NOT_METRIC, Ratio(0.9, "deg")),
    ("'", NOT_METRIC, Ratio(1.0, "deg/60")),
    ("''", NOT_METRIC, Ratio(1.0, "'/60")),
    ("l", METRIC, Ratio(1.0, "dm3")),
    ("L", METRIC, Ratio(1.0, "l")),
    ("ar", METRIC, Ratio(100.0, "m2")),
    ("min", NOT_METRIC, Ratio(60.0, "s")),
    ("h", NOT_METRIC, Ratio(60.0, "min")),
    ("d", NOT_METRIC, Ratio(24.0, "h")),
    ("a_t", NOT_METRIC, Ratio(365.24219, "d")),
    ("a_j", NOT_METRIC, Ratio(365.25, "d")),
    ("a_g", NOT_METRIC, Ratio(365.2425, "d")),
    ("a", NOT_METRIC, Ratio(1.0, "a_j")),
    ("wk", NOT_METRIC, Ratio(7.0, "d")),
    ("mo_s", NOT_METRIC, Ratio(29.53059, "d")),
    ("mo_j", NOT_METRIC, Ratio(1.0, "a_j/12")),
    ("mo_g", NOT_METRIC, Ratio(1.0, "a_g/12")),
    ("mo", NOT_METRIC, Ratio(1.0, "mo_j")),
    ("t", METRIC, Ratio(1e3, "kg")),
    ("bar", METRIC, Ratio(1e5, "Pa")),
    ("u", METRIC, Ratio(1.6605402e-24, "g")),
    ("AU", NOT_METRIC, Ratio(149597.870, "Mm")),
    ("pc", METRIC, Ratio(3.085678e16, "m")),
    // Natural units and constants.
    ("[c]", METRIC, Ratio(299792458.0, "m/s")),
    ("[h]", METRIC, Ratio(6.6260755e-34, "J.s")),
    ("[k]", METRIC, Ratio(1.380658e-23, "J/K")),
    ("[eps_0]", METRIC, Ratio(8.854187817e-12, "F/m")),
    ("[mu_0]", METRIC, Ratio(1.0, "4.[pi].10*-7.N/A2")),
    ("[e]", METRIC, Ratio(1.60217733e-19, "C")),
    ("eV", METRIC, Ratio(1.0, "[e].V")),
    ("[m_e]", METRIC, Ratio(9.1093897e-28, "g")),
    ("[m_p]", METRIC, Ratio(1.6726231e-24, "g")),
    ("[G]", METRIC, Ratio(6.67259e-11, "m3.kg-1.s-2")),
    ("[g]", METRIC, Ratio(9.80665, "m/s2")),
    ("atm", NOT_METRIC, Ratio(101325.0, "Pa")),
    ("[ly]", METRIC, Ratio(1.0, "[c].a_j")),
    ("gf", METRIC, Ratio(1.0, "g.[g]")),
    // CGS.
    ("Ky", METRIC, Ratio(1.0, "cm-1")),
    ("Gal", METRIC, Ratio(1.0, "cm/s2")),
    ("dyn", METRIC, Ratio(1.0, "g.cm/s2")),
    ("erg", METRIC, Ratio(1.0, "dyn.cm")),
    ("P", METRIC, Ratio(1.0, "dyn.s/cm2")),
    ("Bi", METRIC, Ratio(10.0, "A")),
    ("St", METRIC, Ratio(1.0, "cm2/s")),
    ("Mx", METRIC, Ratio(1e-8, "Wb")),
    ("G", METRIC, Ratio(1e-4, "T")),
    ("Oe", METRIC, Ratio(250.0, "/[pi].A/m")),
    ("Gb", METRIC, Ratio(1.0, "Oe.cm")),
    ("sb", METRIC, Ratio(1.0, "cd/cm2")),
    ("Lmb", METRIC, Ratio(1.0, "cd/cm2/[pi]")),
    ("ph", METRIC, Ratio(1e-4, "lx")),
    ("Ci", METRIC, Ratio(3.7e10, "Bq")),
    ("R", METRIC, Ratio(2.58e-4, "C/kg")),
    ("RAD", METRIC, Ratio(100.0, "erg/g")),
    ("REM", METRIC, Ratio(1.0, "RAD")),
    // International customary.
    ("[in_i]", NOT_METRIC, Ratio(2.54, "cm")),
    ("[ft_i]", NOT_METRIC, Ratio(12.0, "[in_i]")),
    ("[yd_i]", NOT_METRIC, Ratio(3.0, "[ft_i]")),
    ("[mi_i]", NOT_METRIC, Ratio(5280.0, "[ft_i]")),
    ("[fth_i]", NOT_METRIC, Ratio(6.0, "[ft_i]")),
    ("[nmi_i]", NOT_METRIC, Ratio(1852.0, "m")),
    ("[kn_i]", NOT_METRIC, Ratio(1.0, "[nmi_i]/h")),
    ("[sin_i]", NOT_METRIC, Ratio(1.0, "[in_i]2")),
    ("[sft_i]", NOT_METRIC, Ratio(1.0, "[ft_i]2")),
    ("[syd_i]", NOT_METRIC, Ratio(1.0, "[yd_i]2")),
    ("[cin_i]", NOT_METRIC, Ratio(1.0, "[in_i]3")),
    ("[cft_i]", NOT_METRIC, Ratio(1.0, "[ft_i]3")),
    ("[cyd_i]", NOT_METRIC, Ratio(1.0, "[yd_i]3")),
    ("[bf_i]", NOT_METRIC, Ratio(144.0, "[in_i]3")),
    ("[cr_i]", NOT_METRIC, Ratio(128.0, "[ft_i]3")),
    ("[mil_i]", NOT_METRIC, Ratio(1e-3, "[in_i]")),
    ("[cml_i]", NOT_METRIC, Ratio(1.0, "[pi]/4.[mil_i]2")),
    ("[hd_i]", NOT_METRIC, Ratio(4.0, "[in_i]")),
    // US survey lengths.
    ("[ft_us]", NOT_METRIC, Ratio(1200.0, "m/3937")),
    ("[yd_us]", NOT_METRIC, Ratio(3.0, "[ft_us]")),
    ("[in_us]", NOT_METRIC, Ratio(1.0, "[ft_us]/12")),
    ("[rd_us]", NOT_METRIC, Ratio(16.5, "[ft_us]")),
    ("[ch_us]", NOT_METRIC, Ratio(4.0, "[rd_us]")),
    ("[lk_us]", NOT_METRIC, Ratio(1.0, "[ch_us]/100")),
    ("[rch_us]", NOT_METRIC, Ratio(100.0, "[ft_us]")),
    ("[rlk_us]", NOT_METRIC, Ratio(1.0, "[rch_us]/100")),
    ("[fth_us]", NOT_METRIC, Ratio(6.0, "[ft_us]")),
    ("[fur_us]", NOT_METRIC, Ratio(40.0, "[rd_us]")),
    ("[mi_us]", NOT_METRIC, Ratio(8.0, "[fur_us]")),
    ("[acr_us]", NOT_METRIC, Ratio(160.0, "[rd_us]2")),
    ("[srd_us]", NOT_METRIC, Ratio(1.0, "[rd_us]2")),
    ("[smi_us]", NOT_METRIC, Ratio(1.0, "[mi_us]2")),
    ("[sct]", NOT_METRIC, Ratio(1.0, "[mi_us]2")),
    ("[twp]", NOT_METRIC, Ratio(36.0, "[sct]")),
    ("[mil_us]", NOT_METRIC, Ratio(1e-3, "[in_us]")),
    // British imperial lengths.
    ("[in_br]", NOT_METRIC, Ratio(2.539998, "cm")),
    ("[ft_br]", NOT_METRIC, Ratio(12.0, "[in_br]")),
    ("[rd_br]", NOT_METRIC, Ratio(16.5, "[ft_br]")),
    ("[ch_br]", NOT_METRIC, Ratio(4.0, "[rd_br]")),
    ("[lk_br]", NOT_METRIC, Ratio(1.0, "[ch_br]/100")),
    ("[fth_br]", NOT_METRIC, Ratio(6.0, "[ft_br]")),
    ("[pc_br]", NOT_METRIC, Ratio(2.5, "[ft_br]")),
    ("[yd_br]", NOT_METRIC, Ratio(3.0, "[ft_br]")),
    ("[mi_br]", NOT_METRIC, Ratio(5280.0, "[ft_br]")),
    ("[nmi_br]", NOT_METRIC, Ratio(6080.0, "[ft_br]")),
    ("[kn_br]", NOT_METRIC, Ratio(1.0, "[nmi_br]/h")),
    ("[acr_br]", NOT_METRIC, Ratio(4840.0, "[yd_br]2")),
    // US volumes.
    ("[gal_us]", NOT_METRIC, Ratio(231.0, "[in_i]3")),
    ("[bbl_us]", NOT_METRIC, Ratio(42.0, "[gal_us]")),
    ("[qt_us]", NOT_METRIC, Ratio(1.0, "[gal_us]/4")),
    ("[pt_us]", NOT_METRIC, Ratio(1.0, "[qt_us]/2")),
    ("[gil_us]", NOT_METRIC, Ratio(1.0, "[pt_us]/4")),
    ("[foz_us]", NOT_METRIC, Ratio(1.0, "[gil_us]/4")),
    ("[fdr_us]", NOT_METRIC, Ratio(1.0, "[foz_us]/8")),
    ("[min_us]", NOT_METRIC, Ratio(1.0, "[fdr_us]/60")),
    ("[crd_us]", NOT_METRIC, Ratio(128.0, "[ft_i]3")),
    ("[bu_us]", NOT_METRIC, Ratio(2150.42, "[in_i]3")),
    ("[gal_wi]", NOT_METRIC, Ratio(1.0, "[bu_us]/8")),
    ("[pk_us]", NOT_METRIC, Ratio(1.0, "[bu_us]/4")),
    ("[dqt_us]", NOT_METRIC, Ratio(1.0, "[pk_us]/8")),
    ("[dpt_us]", NOT_METRIC, Ratio(1.0, "[dqt_us]/2")),
    ("[tbs_us]", NOT_METRIC, Ratio(1.0, "[foz_us]/2")),
    ("[tsp_us]", NOT_METRIC, Ratio(1.0, "[tbs_us]/3")),
    ("[cup_us]", NOT_METRIC, Ratio(16.0, "[tbs_us]")),
    ("[foz_m]", NOT_METRIC, Ratio(30.0, "mL")),
    ("[cup_m]", NOT_METRIC, Ratio(240.0, "mL")),
    ("[tsp_m]", NOT_METRIC, Ratio(5.0, "mL")),
    ("[tbs_m]", NOT_METRIC, Ratio(15.0, "mL")),
    // British imperial volumes.
    ("[gal_br]", NOT_METRIC, Ratio(4.54609, "l")),
    ("[pk_br]", NOT_METRIC, Ratio(2.0, "[gal_br]")),
    ("[bu_br]", NOT_METRIC, Ratio(4.0, "[pk_br]")),
    ("[qt_br]", NOT_METRIC, Ratio(1.0, "[gal_br]/4")),
    ("[pt_br]", NOT_METRIC, Ratio(1.0, "[qt_br]/2")),
    ("[gil_br]", NOT_METRIC, Ratio(1.0, "[pt_br]/4")),
    ("[foz_br]", NOT_METRIC, Ratio(1.0, "[gil_br]/5")),
    ("[fdr_br]", NOT_METRIC, Ratio(1.0, "[foz_br]/8")),
    ("[min_br]", NOT_METRIC, Ratio(1.0, "[fdr_br]/60")),
    // Avoirdupois, troy and apothecaries' weights.
    ("[gr]", NOT_METRIC, Ratio(64.79891, "mg")),
    ("[lb_av]", NOT_METRIC, Ratio(7000.0, "[gr]")),
    ("[oz_av]", NOT_METRIC, Ratio(1.0, "[lb_av]/16")),
    ("[dr_av]", NOT_METRIC, Ratio(1.0, "[oz_av]/16")),
    ("[scwt_av]", NOT_METRIC, Ratio(100.0, "[lb_av]")),
    ("[lcwt_av]", NOT_METRIC, Ratio(112.0, "[lb_av]")),
    ("[ston_av]", NOT_METRIC, Ratio(20.0, "[scwt_av]")),
    ("[lton_av]", NOT_METRIC, Ratio(20.0, "[lcwt_av]")),
    ("[stone_av]", NOT_METRIC, Ratio(14.0, "[lb_av]")),
    ("[pwt_tr]", NOT_METRIC, Ratio(24.0, "[gr]")),
    ("[oz_tr]", NOT_METRIC, Ratio(20.0, "[pwt_tr]")),
    ("[lb_tr]", NOT_METRIC, Ratio(12.0, "[oz_tr]")),
    ("[sc_ap]", NOT_METRIC, Ratio(20.0, "[gr]")),
    ("[dr_ap]", NOT_METRIC, Ratio(3.0, "[sc_ap]")),
    ("[oz_ap]", NOT_METRIC, Ratio(8.0, "[dr_ap]")),
    ("[lb_ap]", NOT_METRIC, Ratio(12.0, "[oz_ap]")),
    ("[oz_m]", NOT_METRIC, Ratio(28.0, "g")),
    // Typesetting.
    ("[lne]", NOT_METRIC, Ratio(1.0, "[in_i]/12")),
    ("[pnt]", NOT_METRIC, Ratio(1.0, "[lne]/6")),
    ("[pca]", NOT_METRIC, Ratio(12.0, "[pnt]")),
    ("[pnt_pr]", NOT_METRIC, Ratio(0.013837, "[in_i]")),
    ("[pca_pr]", NOT_METRIC, Ratio(12.0, "[pnt_pr]")),
    ("[pied]", NOT_METRIC, Ratio(32.48, "cm")),
    ("[pouce]", NOT_METRIC, Ratio(1.0, "[pied]/12")),
    ("[ligne]", NOT_METRIC, Ratio(1.0, "[pouce]/12")),
    ("[didot]", NOT_METRIC, Ratio(1.0, "[ligne]/6")),
    ("[cicero]", NOT_METRIC, Ratio(12.0, "[didot]")),
    // Heat.
    ("[degF]", NOT_METRIC, Offset(Special::Fahrenheit)),
    ("[degR]", NOT_METRIC, Ratio(5.0, "K/9")),
    ("[degRe]", NOT_METRIC, Offset(Special::Reaumur)),
    ("cal_[15]", METRIC, Ratio(4.18580, "J")),
    ("cal_[20]", METRIC, Ratio(4.18190, "J")),
    ("cal_m", METRIC, Ratio(4.19002, "J")),
    ("cal_IT", METRIC, Ratio(4.1868, "J")),
    ("cal_th", METRIC, Ratio(4.184, "J")),
    ("cal", METRIC, Ratio(1.0, "cal_th")),
    ("[Cal]", NOT_METRIC, Ratio(1.0, "kcal_th")),
    ("[Btu_39]", NOT_METRIC, Ratio(1.05967, "kJ")),
    ("[Btu_59]", NOT_METRIC, Ratio(1.05480, "kJ")),
    ("[Btu_60]", NOT_METRIC, Ratio(1.05468, "kJ")),
    ("[Btu_m]", NOT_METRIC, Ratio(1.05587, "kJ")),
    ("[Btu_IT]", NOT_METRIC, Ratio(1.05505585262, "kJ")),
    ("[Btu_th]", NOT_METRIC, Ratio(1.054350, "kJ")),
    ("[Btu]", NOT_METRIC, Ratio(1.0, "[Btu_th]")),
    ("[lbf_av]", NOT_METRIC, Ratio(1.0, "[lb_av].[g]")),
    ("[HP]", NOT_METRIC, Ratio(550.0, "[ft_i].[lbf_av]/s")),
    // Clinical.
    ("m[H2O]", METRIC, Ratio(9.80665, "kPa")),
    ("m[Hg]", METRIC, Ratio(133.3220, "kPa")),
    ("[in_i'H2O]", NOT_METRIC, Ratio(1.0, "m[H2O].[in_i]/m")),
    ("[in_i'Hg]", NOT_METRIC, Ratio(1.0, "m[Hg].[in_i]/m")),
    ("[PRU]", NOT_METRIC, Ratio(1.0, "mm[Hg].s/ml")),
    ("[wood'U]", NOT_METRIC, Ratio(1.0, "mm[Hg].min/L")),
    ("[diop]", NOT_METRIC, Ratio(1.0, "/m")),
    ("[mesh_i]", NOT_METRIC, Ratio(1.0, "/[in_i]")),
    ("[Ch]", NOT_METRIC, Ratio(1.0, "mm/3")),
    ("[drp]", NOT_METRIC, Ratio(1.0, "ml/20")),
    ("[hnsf'U]", NOT_METRIC, Ratio(1.0, "1")),
    ("[MET]", NOT_METRIC, Ratio(3.5, "mL/min/kg")),
    // Chemical and biochemical.
    ("eq", METRIC, Ratio(1.0, "mol")),
    ("osm", METRIC, Ratio(1.0, "mol")),
    ("g%", METRIC, Ratio(1.0, "g/dl")),
    ("[S]", NOT_METRIC, Ratio(1.0, "10*-13.s")),
    ("[HPF]", NOT_METRIC, Ratio(1.0, "1")),
    ("[LPF]", NOT_METRIC, Ratio(100.0, "1")),
    ("kat", METRIC, Ratio(1.0, "mol/s")),
    ("U", METRIC, Ratio(1.0, "umol/min")),
    ("[IU]", METRIC, Arbitrary),
    ("[iU]", METRIC, Ratio(1.0, "[IU]")),
    ("[arb'U]", NOT_METRIC, Arbitrary),
    ("[USP'U]", NOT_METRIC, Arbitrary),
    ("[GPL'U]", NOT_METRIC, Arbitrary),
    ("[MPL'U]", NOT_METRIC, Arbitrary),
    ("[APL'U]", NOT_METRIC, Arbitrary),
    ("[beth'U]", NOT_METRIC, Arbitrary),
    ("[anti'Xa'U]", NOT_METRIC, Arbitrary),
    ("[todd'U]", NOT_METRIC, Arbitrary),
    ("[dye'U]", NOT_METRIC, Arbitrary),
    ("[smgy'U]", NOT_METRIC, Arbitrary),
    ("[bdsk'U]", NOT_METRIC, Arbitrary),
    ("[ka'U]", NOT_METRIC, Arbitrary),
    ("[knk'U]", NOT_METRIC, Arbitrary),
    ("[mclg'U]", NOT_METRIC, Arbitrary),
    ("[tb'U]", NOT_METRIC, Arbitrary),
    ("[CCID_50]", METRIC, Arbitrary),
    ("[TCID_50]", METRIC, Arbitrary),
    ("[EID_50]", METRIC, Arbitrary),
    ("[PFU]", METRIC, Arbitrary),
    ("[FFU]", METRIC, Arbitrary),
    ("[CFU]", METRIC, Arbitrary),
    ("[IR]", METRIC, Arbitrary),
    ("[BAU]", METRIC, Arbitrary),
    ("[AU]", METRIC, Arbitrary),
    ("[Amb'a'1'U]", METRIC, Arbitrary),
    ("[PNU]", METRIC, Arbitrary),
    ("[Lf]", METRIC, Arbitrary),
    ("[D'ag'U]", METRIC, Arbitrary),
    ("[FEU]", METRIC, Arbitrary),
    ("[ELU]", METRIC, Arbitrary),
    ("[EU]", METRIC, Arbitrary),
    // Miscellaneous.
    ("st", METRIC, Ratio(1.0, "m3")),
    ("Ao", NOT_METRIC, Ratio(0.1, "nm")),
    ("b", NOT_METRIC, Ratio(100.0, "fm2")),
    ("att", NOT_METRIC, Ratio(1.0, "kgf/cm2")),
    ("mho", METRIC, Ratio(1.0, "S")),
    ("[psi]", NOT_METRIC, Ratio(1.0, "[lbf_av]/[in_i]2")),
    ("circ", NOT_METRIC, Ratio(2.0, "[pi].rad")),
    ("sph", NOT_METRIC, Ratio(4.0, "[pi].sr")),
    ("[car_m]", NOT_METRIC, Ratio(0.2, "g")),
    ("[car_Au]", NOT_METRIC, Ratio(1.0, "/24")),
    ("[smoot]", NOT_METRIC, Ratio(67.0, "[in_i]")),
    ("tex", METRIC, Ratio(1.0, "g/km")),
    ("[den]", NOT_METRIC, Ratio(1.0, "g/9/km")),
    // Information technology.
    ("bit", METRIC, Ratio(1.0, "1")),
    ("By", METRIC, Ratio(8.0, "bit")),
    ("Bd", METRIC, Ratio(1.0, "/s")),
];

/// The prefixes, two-letter ones first so that `da` is tried before `d`.
const PREFIXES: &[(&str, f64)] = &[
    ("da", 1e1),
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Y", 1e24),
    ("Z", 1e21),
    ("E", 1e18),
    ("P", 1e15),
    ("T", 1e12),
    ("G", 1e9),
    ("M", 1e6),
    ("k", 1e3),
    ("h", 1e2),
    ("d", 1e-1),
    ("c", 1e-2),
    ("m", 1e-3),
    ("u", 1e-6),
    ("n", 1e-9),
    ("p", 1e-12),
    ("f", 1e-15),
    ("a", 1e-18),
    ("z", 1e-21),
    ("y", 1e-24),
];

/// A resolved atom.
#[derive(Debug, Clone)]
struct Atom {
    metric: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Ratio(Quantity),
    Offset(Special),
}

type Atoms = BTreeMap<&'static str, Atom>;

/// The table with every definition reduced to base units, built on first use.
fn atoms() -> &'static Atoms {
    static ATOMS: OnceLock<Atoms> = OnceLock::new();
    ATOMS.get_or_init(build_atoms)
}

/// Resolves [`TABLE`] in order. An entry whose definition does not parse (a table bug,
/// caught by the `table_resolves` test) is left out rather than panicking.
fn build_atoms() -> Atoms {
    let mut atoms = Atoms::new();
    for &(code, metric, def) in TABLE {
        let kind = match def {
            Base | Arbitrary => Kind::Ratio(Quantity::base(code)),
            Offset(special) => Kind::Offset(special),
            Ratio(value, expression) => {
                let Some(parsed) = parse(expression, &atoms) else {
                    continue;
                };
                if parsed.special.is_some() {
                    continue;
                }
                match parsed.quantity.mul(&Quantity::number(value)) {
                    Some(quantity) => Kind::Ratio(quantity),
                    None => continue,
                }
            }
        };
        atoms.insert(code, Atom { metric, kind });
    }
    atoms
}

/// A parsed code: its ratio-scale value, or the offset unit it names.
struct Parsed {
    quantity: Quantity,
    /// The offset unit met while parsing, if any.
    special: Option<Special>,
    /// Whether that offset unit is the whole code (bar an annotation): no prefix, no
    /// exponent, no other component.
    special_standalone: bool,
}

/// Parses a UCUM code against `atoms`.
fn parse(code: &str, atoms: &Atoms) -> Option<Parsed> {
    // Only printable ASCII is valid UCUM; this also makes byte offsets char boundaries.
    if code.is_empty() || code.len() > MAX_CODE_LEN || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let mut parser = Parser {
        code,
        pos: 0,
        atoms,
        components: 0,
        special: None,
        special_plain: false,
    };
    let quantity = parser.main_term()?;
    if parser.pos != code.len() {
        return None;
    }
    Some(Parsed {
        quantity,
        special: parser.special,
        special_standalone: parser.components == 1 && parser.special_plain,
    })
}

/// A recursive-descent parser over the UCUM grammar, evaluating as it goes. Recursion only
/// happens through parentheses and is bounded by [`MAX_NESTING`].
struct Parser<'a> {
    code: &'a str,
    pos: usize,
    atoms: &'a Atoms,
    /// Components seen, counting the implicit `1` of a leading `/`.
    components: usize,
    special: Option<Special>,
    /// Whether the last offset unit seen had neither prefix nor exponent.
    special_plain: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.code.as_bytes().get(self.pos).copied()
    }

    /// `main-term := "/" term | term`. A leading `/` divides 1 by the first component
    /// and the term goes on left to right (`/[pi].A/m` = ((1/π)·A)/m, as UCUM's own
    /// definition of the oersted requires).
    fn main_term(&mut self) -> Option<Quantity> {
        let first = if self.peek() == Some(b'/') {
            self.pos += 1;
            self.components += 1;
            Quantity::number(1.0).div(&self.component(0)?)?
        } else {
            self.component(0)?
        };
        self.rest_of_term(first, 0)
    }

    /// `term := term "." component | term "/" component | component`.
    fn term(&mut self, depth: usize) -> Option<Quantity> {
        let first = self.component(depth)?;
        self.rest_of_term(first, depth)
    }

    fn rest_of_term(&mut self, mut acc: Quantity, depth: usize) -> Option<Quantity> {
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.pos += 1;
                    let next = self.component(depth)?;
                    acc = acc.mul(&next)?;
                }
                Some(b'/') => {
                    self.pos += 1;
                    let next = self.component(depth)?;
                    acc = acc.div(&next)?;
                }
                _ => return Some(acc),
            }
        }
    }

    /// `component := annotatable annotation | annotatable | annotation | factor | "(" term ")"`.
    fn component(&mut self, depth: usize) -> Option<Quantity> {
        self.components += 1;
        match self.peek()? {
            b'(' => {
                if depth >= MAX_NESTING {
                    return None;
                }
                self.pos += 1;
                let inner = self.term(depth + 1)?;
                if self.peek() != Some(b')') {
                    return None;
                }
                self.pos += 1;
                Some(inner)
            }
            b'{' => {
                self.annotation()?;
                Some(Quantity::number(1.0))
            }
            _ => {
                let symbol = self.symbol()?;
                let is_factor = symbol.bytes().all(|b| b.is_ascii_digit());
                let unit = self.simple_unit(symbol)?;
                if self.peek() == Some(b'{') {
                    if is_factor {
                        return None;
                    }
                    self.annotation()?;
                }
                Some(unit)
            }
        }
    }

    /// Skips `{…}`: printable ASCII without braces.
    fn annotation(&mut self) -> Option<()> {
        let rest = self.code.as_bytes().get(self.pos + 1..)?;
        let len = rest.iter().position(|&b| b == b'}')?;
        if rest[..len].contains(&b'{') {
            return None;
        }
        self.pos += len + 2;
        Some(())
    }

    /// The text of a simple unit with its exponent, or of a factor: up to the next
    /// operator, parenthesis or annotation, `[…]` being taken whole.
    fn symbol(&mut self) -> Option<&'a str> {
        let bytes = self.code.as_bytes();
        let start = self.pos;
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b'.' | b'/' | b'(' | b')' | b'{' | b'}' => break,
                b'[' => {
                    let close = bytes.get(self.pos..)?.iter().position(|&c| c == b']')?;
                    self.pos += close + 1;
                }
                b']' => return None,
                _ => self.pos += 1,
            }
        }
        self.code.get(start..self.pos).filter(|s| !s.is_empty())
    }

    /// Evaluates a factor (`100`) or a simple unit with an optional exponent (`cm3`,
    /// `10*-3`, `[in_i]2`).
    fn simple_unit(&mut self, symbol: &str) -> Option<Quantity> {
        if symbol.bytes().all(|b| b.is_ascii_digit()) {
            let factor: f64 = symbol.parse().ok()?;
            return (factor.is_finite() && factor > 0.0).then(|| Quantity::number(factor));
        }
        let (stem, exponent) = split_exponent(symbol)?;
        let (atom, prefix) = self.resolve(stem)?;
        match &atom.kind {
            Kind::Offset(special) => {
                self.special = Some(*special);
                self.special_plain = prefix.is_none() && exponent.is_none();
                Some(Quantity::number(1.0))
            }
            Kind::Ratio(quantity) => {
                let mut unit = quantity.clone();
                unit.factor *= prefix.unwrap_or(1.0);
                unit.pow(exponent.unwrap_or(1))
            }
        }
    }

    /// The atom named `stem`, or a prefix and a metric atom; an exact atom wins.
    fn resolve(&self, stem: &str) -> Option<(&'a Atom, Option<f64>)> {
        let atoms: &'a Atoms = self.atoms;
        if let Some(atom) = atoms.get(stem) {
            return Some((atom, None));
        }
        PREFIXES.iter().find_map(|&(prefix, factor)| {
            let atom = atoms.get(stem.strip_prefix(prefix)?)?;
            atom.metric.then_some((atom, Some(factor)))
        })
    }
}

/// Splits `m-2` into (`m`, Some(-2)) and `m` into (`m`, None). UCUM atoms never end in a
/// digit outside brackets, so trailing digits are always the exponent.
fn split_exponent(symbol: &str) -> Option<(&str, Option<i32>)> {
    let bytes = symbol.as_bytes();
    let digits_start = bytes
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    if digits_start == bytes.len() {
        return Some((symbol, None));
    }
    let digits = symbol.get(digits_start..)?;
    if digits.len() > 4 {
        return None;
    }
    let magnitude: i32 = digits.parse().ok()?;
    if magnitude > MAX_EXPONENT {
        return None;
    }
    let sign_at = digits_start.checked_sub(1)?;
    let (stem_end, exponent) = match bytes.get(sign_at) {
        Some(b'-') => (sign_at, -magnitude),
        Some(b'+') => (sign_at, magnitude),
        _ => (digits_start, magnitude),
    };
    let stem = symbol.get(..stem_end).filter(|s| !s.is_empty())?;
    Some((stem, Some(exponent)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts `canonical(value, code)` is `expected` `unit` within 1e-12 relative.
    fn check(value: f64, code: &str, expected: f64, unit: &str) {
        let got = canonical(value, code).unwrap_or_else(|| panic!("{code} did not convert"));
        assert_eq!(got.unit, unit, "unit of {code}");
        let tolerance = 1e-12 * expected.abs();
        assert!(
            (got.value - expected).abs() <= tolerance,
            "{value} {code}: got {}, expected {expected}",
            got.value
        );
    }

    #[test]
    fn table_resolves() {
        let atoms = atoms();
        for &(code, _, _) in TABLE {
            assert!(
                atoms.contains_key(code),
                "table atom {code} did not resolve"
            );
        }
        assert_eq!(atoms.len(), TABLE.len(), "duplicate codes in TABLE");
    }

    #[test]
    fn rates() {
        // min = 60 s, so 1/min = 1/60 s-1.
        check(1.0, "/min", 1.0 / 60.0, "s-1");
        check(1.0, "1/min", 1.0 / 60.0, "s-1");
        check(72.0, "{beats}/min", 72.0 / 60.0, "s-1");
        check(1.0, "Hz", 1.0, "s-1");
    }

    #[test]
    fn pressure() {
        // Pa = N/m2 = kg.m.s-2/m2 = 1e3 g.m-1.s-2; kPa = 1e6 g.m-1.s-2.
        check(1.0, "Pa", 1e3, "g.m-1.s-2");
        check(1.0, "kPa", 1e6, "g.m-1.s-2");
        // m[Hg] = 133.3220 kPa = 1.333220e8 g.m-1.s-2; mm[Hg] = 1e-3 of that.
        check(1.0, "mm[Hg]", 133_322.0, "g.m-1.s-2");
        // bar = 1e5 Pa = 1e8; atm = 101325 Pa = 1.01325e8.
        check(1.0, "bar", 1e8, "g.m-1.s-2");
        check(1.0, "atm", 1.01325e8, "g.m-1.s-2");
    }

    #[test]
    fn mass_and_concentration() {
        check(1.0, "g", 1.0, "g");
        check(1.0, "kg", 1e3, "g");
        check(1.0, "ug", 1e-6, "g");
        // [lb_av] = 7000 [gr] = 7000 × 64.79891 mg = 453.59237 g; [oz_av] = that / 16.
        check(1.0, "[lb_av]", 453.59237, "g");
        check(1.0, "[oz_av]", 28.349523125, "g");
        // kg/m2 = 1e3 g.m-2.
        check(1.0, "kg/m2", 1e3, "g.m-2");
        // L = dm3 = 1e-3 m3, dL = 1e-4 m3: mg/dL = 1e-3/1e-4 = 10 g.m-3, g/L = 1e3 g.m-3.
        check(1.0, "mg/dL", 10.0, "g.m-3");
        check(1.0, "g/L", 1e3, "g.m-3");
        // mL = 1e-6 m3: ng/mL = 1e-9/1e-6 = 1e-3, pg/mL = 1e-12/1e-6 = 1e-6 g.m-3.
        check(1.0, "ng/mL", 1e-3, "g.m-3");
        check(1.0, "pg/mL", 1e-6, "g.m-3");
        // mmol/L = 1e-3 mol / 1e-3 m3 = 1 mol.m-3; meq/L the same (eq = mol).
        check(5.5, "mmol/L", 5.5, "m-3.mol");
        check(1.0, "meq/L", 1.0, "m-3.mol");
        // mosm/kg = 1e-3 mol / 1e3 g = 1e-6 g-1.mol.
        check(1.0, "mosm/kg", 1e-6, "g-1.mol");
        // mg/(kg.d) = 1e-3 g / (1e3 g × 86400 s) = 1e-6/86400 s-1.
        check(1.0, "mg/(kg.d)", 1e-6 / 86_400.0, "s-1");
    }

    #[test]
    fn counts_and_units() {
        // 10*3/uL = 1e3 / 1e-9 m3 = 1e12 m-3; 10*9/L = 1e9 / 1e-3 m3 = 1e12 m-3.
        check(1.0, "10*3/uL", 1e12, "m-3");
        check(1.0, "10^3/uL", 1e12, "m-3");
        check(1.0, "10*9/L", 1e12, "m-3");
        // U = umol/min = 1e-6/60 mol.s-1; U/L = that / 1e-3 m3 = 1/60000.
        check(1.0, "U/L", 1.0 / 60_000.0, "m-3.mol.s-1");
        // [IU] is its own unit: [IU]/L = 1e3 [IU].m-3; m[IU]/mL = 1e-3/1e-6.
        check(1.0, "[IU]/L", 1e3, "[IU].m-3");
        check(1.0, "m[IU]/mL", 1e3, "[IU].m-3");
        check(1.0, "[iU]/L", 1e3, "[IU].m-3");
        check(1.0, "[arb'U]", 1.0, "[arb'U]");
    }

    #[test]
    fn dimensionless() {
        check(1.0, "%", 0.01, "1");
        check(98.0, "%{HemoglobinSaturation}", 0.98, "1");
        check(1.0, "[ppm]", 1e-6, "1");
        check(3.0, "{steps}", 3.0, "1");
        check(1.0, "{count}", 1.0, "1");
        check(1.0, "1", 1.0, "1");
        check(1.0, "{score}", 1.0, "1");
        // `10*` is the UCUM atom "ten" (for 10*n), valid on its own.
        check(1.0, "10*", 10.0, "1");
    }

    #[test]
    fn lengths_times_volumes() {
        check(1.0, "m", 1.0, "m");
        check(1.0, "cm", 0.01, "m");
        // [in_i] = 2.54 cm; [ft_i] = 12 [in_i] = 30.48 cm.
        check(1.0, "[in_i]", 0.0254, "m");
        check(1.0, "[ft_i]", 0.3048, "m");
        check(1.0, "s", 1.0, "s");
        check(1.0, "ms", 1e-3, "s");
        check(1.0, "min", 60.0, "s");
        check(1.0, "h", 3600.0, "s");
        check(1.0, "d", 86_400.0, "s");
        check(1.0, "wk", 604_800.0, "s");
        // a = a_j = 365.25 d = 31 557 600 s; mo = a_j/12 = 2 629 800 s.
        check(1.0, "a", 31_557_600.0, "s");
        check(1.0, "mo", 2_629_800.0, "s");
        check(1.0, "L", 1e-3, "m3");
        check(1.0, "l", 1e-3, "m3");
        check(1.0, "mL", 1e-6, "m3");
        check(1.0, "dL", 1e-4, "m3");
        check(1.0, "uL", 1e-9, "m3");
        check(1.0, "cm3", 1e-6, "m3");
        check(1.0, "m/s2", 1.0, "m.s-2");
    }

    #[test]
    fn energy_power_force() {
        // J = N.m = 1e3 g.m2.s-2; cal = cal_th = 4.184 J; kcal = 4184 J.
        check(1.0, "J", 1e3, "g.m2.s-2");
        check(1.0, "cal", 4184.0, "g.m2.s-2");
        check(1.0, "kcal", 4.184e6, "g.m2.s-2");
        check(1.0, "[Cal]", 4.184e6, "g.m2.s-2");
        // W = J/s; N = kg.m/s2.
        check(1.0, "W", 1e3, "g.m2.s-3");
        check(1.0, "N", 1e3, "g.m.s-2");
    }

    #[test]
    fn temperatures() {
        check(310.15, "K", 310.15, "K");
        check(37.0, "Cel", 310.15, "K");
        // (98.6 + 459.67) × 5/9 = 558.27 × 5/9 = 310.15 K.
        check(98.6, "[degF]", 310.15, "K");
        check(37.0, "Cel{oral}", 310.15, "K");
        check(1.0, "mK", 1e-3, "K");
        // [degR] = 5/9 K (ratio scale); [degRe]: 29.6 × 5/4 + 273.15 = 310.15.
        check(9.0, "[degR]", 5.0, "K");
        check(29.6, "[degRe]", 310.15, "K");
        let f = canonical(98.6, "[degF]").map(|c| c.value);
        let c = canonical(37.0, "Cel").map(|c| c.value);
        let (Some(f), Some(c)) = (f, c) else {
            panic!("temperatures did not convert");
        };
        assert!((f - c).abs() <= 1e-9 * c, "{f} vs {c}");
        // Offset units only stand alone.
        for code in [
            "Cel/s", "mCel", "Cel2", "/Cel", "(Cel)", "1.Cel", "[degF].m", "Cel.Cel", "kg/Cel",
        ] {
            assert_eq!(canonical(1.0, code), None, "{code}");
        }
    }

    #[test]
    fn prefix_and_atom_ambiguity() {
        check(1.0, "mol", 1.0, "mol");
        check(1.0, "cd", 1.0, "cd");
        check(1.0, "Pa", 1e3, "g.m-1.s-2");
        check(1.0, "dam", 10.0, "m");
        check(1.0, "kat", 1.0, "mol.s-1");
        check(1.0, "hPa", 1e5, "g.m-1.s-2");
        check(1.0, "kBy", 8e3, "1");
        check(1.0, "KiBy", 8.0 * 1024.0, "1");
        // Prefixes on non-metric atoms are not units.
        for code in ["kmin", "mh", "k[in_i]", "ma", "katm", "m%"] {
            assert_eq!(canonical(1.0, code), None, "{code}");
        }
    }

    #[test]
    fn same_dimension_same_text() {
        let pairs: &[(f64, &str, f64, &str)] = &[
            (100.0, "mg/dL", 1.0, "g/L"),
            (5.5, "mmol/L", 5.5e-3, "mol/L"),
            (1.0, "g", 1000.0, "mg"),
            (1.0, "10*3/uL", 1.0, "10*9/L"),
            (7.5, "kPa", 7.5e3, "Pa"),
            (1.0, "[ft_i]", 12.0, "[in_i]"),
            (1.0, "h", 60.0, "min"),
            (1.0, "kcal", 1000.0, "cal"),
            (1.0, "L", 1000.0, "mL"),
            (1.0, "mL", 1.0, "cm3"),
            (60.0, "/min", 1.0, "Hz"),
            (1.0, "mg/(kg.d)", 1.0, "mg/kg/d"),
            (1.0, "1", 100.0, "%"),
            (1.0, "eq", 1.0, "osm"),
            (1.0, "[lb_av]", 16.0, "[oz_av]"),
            (1.0, "m[IU]/mL", 1.0, "[IU]/L"),
        ];
        for &(a_value, a_code, b_value, b_code) in pairs {
            let (Some(a), Some(b)) = (canonical(a_value, a_code), canonical(b_value, b_code))
            else {
                panic!("{a_code} or {b_code} did not convert");
            };
            assert_eq!(a.unit, b.unit, "{a_code} vs {b_code}");
            assert!(
                (a.value - b.value).abs() <= 1e-12 * a.value.abs(),
                "{a_value} {a_code} = {} vs {b_value} {b_code} = {}",
                a.value,
                b.value
            );
        }
        // Different dimensions never share a text.
        let texts = |code: &str| canonical(1.0, code).map(|c| c.unit);
        assert_ne!(texts("mmol/L"), texts("10*9/L"));
        assert_ne!(texts("[IU]/L"), texts("U/L"));
        assert_ne!(texts("kg"), texts("kg/m2"));
    }

    #[test]
    fn grammar() {
        // Exponents with sign, parentheses, leading `/`, left-associative `/`.
        check(1.0, "m+2", 1.0, "m2");
        check(1.0, "s-1", 1.0, "s-1");
        check(1.0, "kg.m/s2", 1e3, "g.m.s-2");
        check(1.0, "mg/kg/d", 1e-6 / 86_400.0, "s-1");
        check(1.0, "/(kg.d)", 1e-3 / 86_400.0, "g-1.s-1");
        check(1.0, "((m))", 1.0, "m");
        check(1.0, "m/m", 1.0, "1");
        check(1.0, "m0", 1.0, "1");
        check(1.0, "10*-3", 1e-3, "1");
        check(1.0, "100", 100.0, "1");
        check(1.0, "mL{total}/min", 1e-6 / 60.0, "m3.s-1");
        check(1.0, "cal_[15]", 4185.8, "g.m2.s-2");
        check(1.0, "kcal_th", 4.184e6, "g.m2.s-2");
    }

    #[test]
    fn invalid_inputs() {
        let long = "m.".repeat(200) + "m";
        let deep = "(".repeat(40) + "m" + &")".repeat(40);
        for code in [
            "",
            "//",
            "/",
            "{",
            "}",
            "{a{b}",
            "m-",
            "m+",
            "-2",
            "m99999999999",
            "m1000",
            "10*400",
            "10*-400",
            "μg",
            "°C",
            "m g",
            "mg/",
            "/mg/",
            ".m",
            "m..s",
            "(m",
            "m)",
            "()",
            "(/m)",
            "[in_i",
            "in_i]",
            "m[",
            "0",
            "0/m",
            "2{x}",
            "(m){x}",
            "mEq/L",
            "mcg",
            "[pH]",
            "dB",
            "B[SPL]",
            "foo",
            "m^2",
            long.as_str(),
            deep.as_str(),
        ] {
            assert_eq!(canonical(1.0, code), None, "{code:?}");
        }
        // Non-finite values.
        assert_eq!(canonical(f64::NAN, "g"), None);
        assert_eq!(canonical(f64::INFINITY, "g"), None);
        assert_eq!(canonical(1e308, "Tg"), None);
    }

    #[test]
    fn never_panics_on_noise() {
        // A deterministic xorshift over an alphabet of UCUM-ish characters.
        let alphabet: Vec<char> = "mgLkdcunpsKC10*^-+23./(){}[]_'%μ eqlobHa".chars().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut code = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                code.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            if let Some(c) = canonical(1.5, &code) {
                assert!(c.value.is_finite() && !c.unit.is_empty(), "{code:?}");
            }
        }
    }
}
