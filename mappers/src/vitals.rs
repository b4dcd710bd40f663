//! Normalise one EHR vital-sign Observation into the canonical HealthOS form.
//!
//! Epic and Oracle Health (Cerner) both send R4 vital signs, but not the same way: the
//! first coding is often a vendor code (Cerner `codeSet/72` with `userSelected`, Epic
//! flowsheet OIDs), Epic adds the generic `8716-3 Vital signs`, Cerner pairs a granular
//! LOINC code with the profile one, units come in `[degF]`, `[lb_av]` or `[in_i]`, and
//! sandbox data carries values no patient has. Everything downstream (charts, baselines,
//! alerts) needs one shape, so this module produces it and reports what it did:
//!
//! * **code**: the vital sign is found through an allow-list of LOINC codes
//!   ([`VITAL_SIGNS`]), never from `coding[0]`; the chosen LOINC coding is moved first and
//!   every other coding (vendor codes, granular LOINC, `8716-3`) is kept after it.
//! * **category** `vital-signs` and the matching [R4 vital-signs
//!   profile](https://hl7.org/fhir/R4/observation-vitalsigns.html) in `meta.profile` are
//!   added when missing.
//! * **units**: values are converted to the canonical UCUM unit ([`crate::units`]); the
//!   quantity as received is kept whole in the [`ORIGINAL_QUANTITY_URL`] extension on the
//!   new quantity whenever anything in it changed.
//! * **plausibility**: a value outside the physiologically possible range of its code is
//!   kept as sent but flagged with the [`IMPLAUSIBLE_VALUE_URL`] extension (carrying the
//!   plausible range) on the element holding it, and reported as a [`NoteKind::Implausible`]
//!   note, so it is never stored as if it were an ordinary reading.
//! * **vendor quirks** are tolerated only behind the named switches of [`Quirks`] (strict
//!   by default); each switch documents the vendor behaviour it answers.
//!
//! Everything else in the resource (identifiers, narrative, performers, vendor extensions,
//! reference ranges, interpretations) passes through unchanged.

use serde_json::{Map, Number, Value, json};

use crate::Error;
use crate::units::{self, Converted, Dimension, UCUM};

/// LOINC code system URI.
pub const LOINC: &str = "http://loinc.org";
/// Observation category code system URI.
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// Base of the extensions this crate defines. Placeholder canonical until HealthOS
/// publishes its own implementation guide; change it here only.
pub const EXTENSION_BASE: &str = "https://healthos.dev/fhir/StructureDefinition/";
/// Extension (on a `Quantity`) holding the quantity exactly as the source sent it, when
/// normalisation changed its value or unit. `valueQuantity`.
pub const ORIGINAL_QUANTITY_URL: &str =
    "https://healthos.dev/fhir/StructureDefinition/original-quantity";
/// Extension (on the Observation or on a component) marking a value outside the
/// physiologically plausible range; `valueRange` is that range in the canonical unit.
pub const IMPLAUSIBLE_VALUE_URL: &str =
    "https://healthos.dev/fhir/StructureDefinition/implausible-value";
/// Epic's OID under which some Epic payloads carry LOINC codes (see
/// [`Quirks::loinc_under_epic_oid`]).
pub const EPIC_LOINC_OID: &str = "urn:oid:1.2.246.537.6.96";
/// The generic "Vital signs" LOINC code Epic adds to every vital; never chosen.
pub const GENERIC_VITAL_SIGNS: &str = "8716-3";

/// One vital sign of the allow-list: its LOINC code, R4 profile, unit and plausible range.
#[derive(Debug, PartialEq, Eq)]
pub struct VitalSign {
    /// The LOINC code the R4 profile requires (e.g. `8867-4`).
    pub loinc: &'static str,
    /// LOINC display, used when the code has to be added.
    pub display: &'static str,
    /// The R4 profile canonical URL.
    pub profile: &'static str,
    /// What the value measures; `None` for panels (value in components / members).
    pub dimension: Option<Dimension>,
    /// Plausible range `(low, high)`, inclusive, in the canonical unit.
    pub plausible: Option<(&'static str, &'static str)>,
    /// More specific LOINC codes that mean this vital sign (e.g. oral temperature for
    /// body temperature). They select this entry only under
    /// [`Quirks::granular_loinc_only`] when the profile code itself is absent.
    pub granular: &'static [&'static str],
}

/// The allow-list: the R4 vital-signs profiles (`observation-vitalsigns`).
///
/// Plausible ranges are wide physiological limits covering neonates to adults, meant to
/// catch unit mix-ups and synthetic data (Cerner's sandbox has a 27 Cel temperature), not
/// to grade clinical abnormality: that is the `interpretation` the source sends.
pub const VITAL_SIGNS: &[VitalSign] = &[
    VitalSign {
        loinc: "85353-1",
        display: "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel",
        profile: "http://hl7.org/fhir/StructureDefinition/vitalspanel",
        dimension: None,
        plausible: None,
        granular: &[],
    },
    VitalSign {
        loinc: "9279-1",
        display: "Respiratory rate",
        profile: "http://hl7.org/fhir/StructureDefinition/resprate",
        dimension: Some(Dimension::Rate),
        plausible: Some(("3", "100")),
        granular: &[],
    },
    VitalSign {
        loinc: "8867-4",
        display: "Heart rate",
        profile: "http://hl7.org/fhir/StructureDefinition/heartrate",
        dimension: Some(Dimension::Rate),
        plausible: Some(("20", "300")),
        granular: &[],
    },
    VitalSign {
        loinc: "2708-6",
        display: "Oxygen saturation in Arterial blood",
        profile: "http://hl7.org/fhir/StructureDefinition/oxygensat",
        dimension: Some(Dimension::Percent),
        plausible: Some(("50", "100")),
        // 59408-5 "Oxygen saturation in Arterial blood by Pulse oximetry" (US Core pulse-ox
        // code; Cerner sends it alone in its pulse-ox create example).
        granular: &["59408-5"],
    },
    VitalSign {
        loinc: "8310-5",
        display: "Body temperature",
        profile: "http://hl7.org/fhir/StructureDefinition/bodytemp",
        dimension: Some(Dimension::Temperature),
        plausible: Some(("30", "45")),
        // Site-specific temperatures seen in Cerner data: 8331-1 oral, 8328-7 axillary,
        // 75539-7 temporal artery.
        granular: &["8331-1", "8328-7", "75539-7"],
    },
    VitalSign {
        loinc: "8302-2",
        display: "Body height",
        profile: "http://hl7.org/fhir/StructureDefinition/bodyheight",
        dimension: Some(Dimension::Length),
        plausible: Some(("20", "280")),
        // 3137-7 "Body height Measured" (Cerner pairs it with 8302-2).
        granular: &["3137-7"],
    },
    VitalSign {
        loinc: "9843-4",
        display: "Head Occipital-frontal circumference",
        profile: "http://hl7.org/fhir/StructureDefinition/headcircum",
        dimension: Some(Dimension::Length),
        plausible: Some(("15", "80")),
        granular: &[],
    },
    VitalSign {
        loinc: "29463-7",
        display: "Body weight",
        profile: "http://hl7.org/fhir/StructureDefinition/bodyweight",
        dimension: Some(Dimension::Mass),
        plausible: Some(("0.2", "700")),
        // 3141-9 "Body weight Measured" (Epic and the R4 example pair it with 29463-7).
        granular: &["3141-9"],
    },
    VitalSign {
        loinc: "39156-5",
        display: "Body mass index (BMI) [Ratio]",
        profile: "http://hl7.org/fhir/StructureDefinition/bmi",
        dimension: Some(Dimension::MassPerArea),
        plausible: Some(("5", "150")),
        granular: &[],
    },
    VitalSign {
        loinc: "85354-9",
        display: "Blood pressure panel with all children optional",
        profile: "http://hl7.org/fhir/StructureDefinition/bp",
        dimension: None,
        plausible: None,
        // 55284-4 "Blood pressure systolic and diastolic": Epic's legacy BP code, sent
        // beside 85354-9.
        granular: &["55284-4"],
    },
];

/// A component the mapper knows: blood-pressure parts and the pulse-oximetry extras.
#[derive(Debug, PartialEq, Eq)]
pub struct KnownComponent {
    /// LOINC code, matched exactly on any coding of the component.
    pub loinc: &'static str,
    /// What the value measures.
    pub dimension: Dimension,
    /// Plausible range `(low, high)`, inclusive, in the canonical unit.
    pub plausible: (&'static str, &'static str),
}

/// Systolic blood pressure component.
pub const SYSTOLIC: KnownComponent = KnownComponent {
    loinc: "8480-6",
    dimension: Dimension::Pressure,
    plausible: ("40", "300"),
};
/// Diastolic blood pressure component.
pub const DIASTOLIC: KnownComponent = KnownComponent {
    loinc: "8462-4",
    dimension: Dimension::Pressure,
    plausible: ("10", "200"),
};
/// Components normalised when present (besides the required BP parts).
pub const OPTIONAL_COMPONENTS: &[KnownComponent] = &[
    // Inhaled oxygen flow rate (US Core pulse oximetry).
    KnownComponent {
        loinc: "3151-8",
        dimension: Dimension::Flow,
        plausible: ("0", "100"),
    },
    // Inhaled oxygen concentration (FiO2); room air is 21 %.
    KnownComponent {
        loinc: "3150-0",
        dimension: Dimension::Percent,
        plausible: ("21", "100"),
    },
];

/// The vendor behaviours [`normalize`] may tolerate. All off by default (strict);
/// [`Quirks::CERNER`] and [`Quirks::EPIC`] switch on what each vendor is known to need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// Accept an Observation coded only with a granular LOINC code of the allow-list
    /// ([`VitalSign::granular`]) and add the profile's LOINC code in front of it.
    /// Observed: Cerner's documented create bodies code an oral temperature with 8331-1
    /// alone and a pulse-ox reading with 59408-5 alone.
    pub granular_loinc_only: bool,
    /// Accept a `valueQuantity` with a unit only as display text (`unit`) and no UCUM
    /// `code`/`system`, reading the text through [`units::ucum_from_text`]. Observed:
    /// Oracle Health sends non-UCUM units with `_code` carrying a data-absent-reason
    /// (`mmHg`, `bpm`, `kgm2` display units); clients of Epic post `{"value": 65, "unit": "KG"}`.
    pub unit_text_without_ucum_code: bool,
    /// Treat codings under [`EPIC_LOINC_OID`] as LOINC (adding an `http://loinc.org`
    /// coding for the chosen one). Observed: Epic flowsheet payloads carry the BP LOINC
    /// codes under that OID (recorded in the project's mapping notes; verify against
    /// fresh sandbox data).
    pub loinc_under_epic_oid: bool,
    /// Accept a pulse-oximetry Observation whose SpO2 reading is a component (coded
    /// 59408-5 or 2708-6) instead of `valueQuantity`, and move that component's value up.
    /// Observed: Cerner's documented pulse-ox create body (`R4_OBSERVATION_PO_CREATE`).
    pub spo2_value_in_component: bool,
}

impl Quirks {
    /// Nothing tolerated.
    pub const STRICT: Quirks = Quirks {
        granular_loinc_only: false,
        unit_text_without_ucum_code: false,
        loinc_under_epic_oid: false,
        spo2_value_in_component: false,
    };
    /// What Oracle Health (Cerner) Millennium R4 data needs.
    pub const CERNER: Quirks = Quirks {
        granular_loinc_only: true,
        unit_text_without_ucum_code: true,
        loinc_under_epic_oid: false,
        spo2_value_in_component: true,
    };
    /// What Epic R4 data needs.
    pub const EPIC: Quirks = Quirks {
        granular_loinc_only: false,
        unit_text_without_ucum_code: false,
        loinc_under_epic_oid: true,
        spo2_value_in_component: false,
    };
}

/// Which [`Quirks`] switch a note comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// [`Quirks::granular_loinc_only`]
    GranularLoincOnly,
    /// [`Quirks::unit_text_without_ucum_code`]
    UnitTextWithoutUcumCode,
    /// [`Quirks::loinc_under_epic_oid`]
    LoincUnderEpicOid,
    /// [`Quirks::spo2_value_in_component`]
    Spo2ValueInComponent,
}

/// What kind of change or finding a [`Note`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// The profile's LOINC coding was added to `code`.
    CodeAdded,
    /// The `vital-signs` category was added.
    CategoryAdded,
    /// The R4 vital-signs profile was added to `meta.profile`.
    ProfileAdded,
    /// A value was converted to the canonical unit.
    UnitConverted,
    /// A unit code was rewritten without changing the value (annotation dropped, or UCUM
    /// read from display text).
    UnitRewritten,
    /// A value was moved to where the profile expects it.
    ValueMoved,
    /// A value lies outside the plausible range of its code.
    Implausible,
}

/// One thing [`normalize`] changed or found, for the import report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// What happened.
    pub kind: NoteKind,
    /// Where, as a FHIRPath-like path (`Observation.component[1].valueQuantity`).
    pub path: String,
    /// Human-readable detail.
    pub message: String,
    /// The quirk switch that allowed it, if any.
    pub quirk: Option<Quirk>,
}

/// The canonical resource and the report of how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The canonical Observation.
    pub resource: Value,
    /// The allow-list entry the Observation was recognised as.
    pub vital: &'static VitalSign,
    /// Changes and findings, in the order they were made.
    pub notes: Vec<Note>,
}

impl Normalized {
    /// True when some value was flagged implausible.
    pub fn has_implausible_values(&self) -> bool {
        self.notes.iter().any(|n| n.kind == NoteKind::Implausible)
    }
}

/// Normalises a vital-sign Observation given as JSON bytes. See [`normalize`].
pub fn normalize_bytes(bytes: &[u8], quirks: Quirks) -> Result<Normalized, Error> {
    let value: Value = serde_json::from_slice(bytes)?;
    normalize(&value, quirks)
}

/// Normalises one vital-sign Observation (see the module documentation for what changes).
///
/// ```
/// use mappers::vitals::{normalize, Quirks, NoteKind};
/// use serde_json::json;
///
/// let epic_weight = json!({
///     "resourceType": "Observation",
///     "status": "final",
///     "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
///     "code": {"coding": [
///         {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679", "code": "14", "display": "Weight"},
///         {"system": "http://loinc.org", "code": "8716-3", "display": "Vital signs"},
///         {"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}
///     ]},
///     "effectiveDateTime": "2019-07-29T12:30:00Z",
///     "valueQuantity": {"value": 154.32, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"}
/// });
/// let out = normalize(&epic_weight, Quirks::STRICT).unwrap();
/// assert_eq!(out.resource["code"]["coding"][0]["code"], "29463-7");
/// assert_eq!(out.resource["valueQuantity"]["value"].to_string(), "69.998");
/// assert_eq!(out.resource["valueQuantity"]["code"], "kg");
/// assert_eq!(out.resource["meta"]["profile"][0], "http://hl7.org/fhir/StructureDefinition/bodyweight");
/// assert!(out.notes.iter().any(|n| n.kind == NoteKind::UnitConverted));
/// ```
pub fn normalize(observation: &Value, quirks: Quirks) -> Result<Normalized, Error> {
    let mut resource = observation.clone();
    let obj = resource.as_object_mut().ok_or(Error::NotAnObservation {
        found: json_kind(observation).to_owned(),
    })?;
    match obj.get("resourceType").and_then(Value::as_str) {
        Some("Observation") => {}
        other => {
            return Err(Error::NotAnObservation {
                found: other.unwrap_or("no resourceType").to_owned(),
            });
        }
    }
    let mut notes = Vec::new();

    let vital = choose_code(obj, quirks, &mut notes)?;
    ensure_category(obj, &mut notes);
    ensure_profile(obj, vital, &mut notes);

    match vital.dimension {
        Some(dimension) => {
            if quirks.spo2_value_in_component && vital.loinc == "2708-6" {
                lift_spo2_component(obj, vital, &mut notes)?;
            }
            normalize_value(
                obj,
                "Observation",
                vital.loinc,
                dimension,
                vital.plausible,
                quirks,
                &mut notes,
            )?;
        }
        None if vital.loinc == "85354-9" => normalize_bp(obj, quirks, &mut notes)?,
        None => {
            // Vital-signs panel: members are separate Observations (vs-2 asks for them).
            if obj
                .get("hasMember")
                .is_none_or(|m| m.as_array().is_none_or(Vec::is_empty))
            {
                return Err(Error::MissingValue {
                    code: vital.loinc.to_owned(),
                    path: "Observation.hasMember".to_owned(),
                });
            }
        }
    }
    normalize_optional_components(obj, quirks, &mut notes)?;

    Ok(Normalized {
        resource,
        vital,
        notes,
    })
}

/// A LOINC code found on a coding: the code and whether it is spelled under Epic's OID.
fn loinc_code(coding: &Value, quirks: Quirks) -> Option<(&str, bool)> {
    let system = coding.get("system")?.as_str()?;
    let code = coding.get("code")?.as_str()?;
    if system == LOINC {
        Some((code, false))
    } else if quirks.loinc_under_epic_oid && system == EPIC_LOINC_OID {
        Some((code, true))
    } else {
        None
    }
}

/// Finds the allow-listed vital sign and puts its LOINC coding first.
fn choose_code(
    obj: &mut Map<String, Value>,
    quirks: Quirks,
    notes: &mut Vec<Note>,
) -> Result<&'static VitalSign, Error> {
    let codings: Vec<Value> = obj
        .get("code")
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();

    // (entry, index of the coding, exact profile code?, under Epic OID?)
    let mut matches: Vec<(&'static VitalSign, usize, bool, bool)> = Vec::new();
    for (index, coding) in codings.iter().enumerate() {
        let Some((code, epic_oid)) = loinc_code(coding, quirks) else {
            continue;
        };
        if code == GENERIC_VITAL_SIGNS {
            continue;
        }
        for entry in VITAL_SIGNS {
            if entry.loinc == code {
                matches.push((entry, index, true, epic_oid));
            } else if entry.granular.contains(&code) {
                matches.push((entry, index, false, epic_oid));
            }
        }
    }
    let mut entries: Vec<&'static VitalSign> = Vec::new();
    for (entry, ..) in &matches {
        if !entries.iter().any(|e| std::ptr::eq(*e, *entry)) {
            entries.push(entry);
        }
    }
    let vital = match entries.as_slice() {
        [] => {
            return Err(Error::NotAVitalSign {
                codes: codings
                    .iter()
                    .map(|c| {
                        format!(
                            "{}|{}",
                            c.get("system").and_then(Value::as_str).unwrap_or(""),
                            c.get("code").and_then(Value::as_str).unwrap_or("")
                        )
                    })
                    .collect(),
            });
        }
        [one] => *one,
        several => {
            return Err(Error::AmbiguousCode {
                codes: several.iter().map(|e| e.loinc.to_owned()).collect(),
            });
        }
    };

    // Prefer a plain-LOINC exact coding, then an exact one under Epic's OID.
    let exact = matches
        .iter()
        .filter(|m| m.2)
        .min_by_key(|m| (m.3, m.1))
        .map(|m| (m.1, m.3));
    let mut reordered: Vec<Value> = Vec::with_capacity(codings.len() + 1);
    match exact {
        Some((index, false)) => reordered.push(codings[index].clone()),
        Some((_, true)) => {
            reordered.push(json!({"system": LOINC, "code": vital.loinc, "display": vital.display}));
            notes.push(Note {
                kind: NoteKind::CodeAdded,
                path: "Observation.code.coding".to_owned(),
                message: format!(
                    "added {LOINC}|{} for the same code under {EPIC_LOINC_OID}",
                    vital.loinc
                ),
                quirk: Some(Quirk::LoincUnderEpicOid),
            });
        }
        None => {
            let granular = matches
                .iter()
                .map(|m| codings[m.1]["code"].as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(", ");
            if !quirks.granular_loinc_only {
                return Err(Error::GranularCodeOnly {
                    found: granular,
                    expected: vital.loinc.to_owned(),
                });
            }
            reordered.push(json!({"system": LOINC, "code": vital.loinc, "display": vital.display}));
            notes.push(Note {
                kind: NoteKind::CodeAdded,
                path: "Observation.code.coding".to_owned(),
                message: format!(
                    "added {LOINC}|{} implied by granular code {granular}",
                    vital.loinc
                ),
                quirk: Some(Quirk::GranularLoincOnly),
            });
        }
    }
    let chosen_index = match exact {
        Some((index, false)) => Some(index),
        _ => None,
    };
    for (index, coding) in codings.into_iter().enumerate() {
        if Some(index) != chosen_index {
            reordered.push(coding);
        }
    }
    let code = obj
        .get_mut("code")
        .and_then(Value::as_object_mut)
        .expect("a matched coding implies an object `code`");
    code.insert("coding".to_owned(), Value::Array(reordered));
    Ok(vital)
}

fn is_vital_signs_category(category: &Value) -> bool {
    category
        .get("coding")
        .and_then(Value::as_array)
        .is_some_and(|codings| {
            codings.iter().any(|c| {
                c.get("system").and_then(Value::as_str) == Some(OBSERVATION_CATEGORY)
                    && c.get("code").and_then(Value::as_str) == Some("vital-signs")
            })
        })
}

fn ensure_category(obj: &mut Map<String, Value>, notes: &mut Vec<Note>) {
    let present = obj
        .get("category")
        .and_then(Value::as_array)
        .is_some_and(|cats| cats.iter().any(is_vital_signs_category));
    if present {
        return;
    }
    let category = json!({
        "coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}],
        "text": "Vital Signs"
    });
    match obj.get_mut("category").and_then(Value::as_array_mut) {
        Some(categories) => categories.insert(0, category),
        None => insert_in_order(obj, "category", Value::Array(vec![category])),
    }
    notes.push(Note {
        kind: NoteKind::CategoryAdded,
        path: "Observation.category".to_owned(),
        message: "added category vital-signs".to_owned(),
        quirk: None,
    });
}

fn ensure_profile(obj: &mut Map<String, Value>, vital: &VitalSign, notes: &mut Vec<Note>) {
    if !obj.get("meta").is_some_and(Value::is_object) {
        insert_in_order(obj, "meta", json!({}));
    }
    let meta = obj["meta"].as_object_mut().expect("meta is an object");
    if !meta.get("profile").is_some_and(Value::is_array) {
        meta.insert("profile".to_owned(), json!([]));
    }
    let profiles = meta["profile"].as_array_mut().expect("profile is an array");
    if profiles.iter().any(|p| p.as_str() == Some(vital.profile)) {
        return;
    }
    profiles.push(Value::String(vital.profile.to_owned()));
    notes.push(Note {
        kind: NoteKind::ProfileAdded,
        path: "Observation.meta.profile".to_owned(),
        message: format!("added profile {}", vital.profile),
        quirk: None,
    });
}

/// Normalises `value[x]` of an Observation or a component (`path` names it).
fn normalize_value(
    holder: &mut Map<String, Value>,
    path: &str,
    code: &str,
    dimension: Dimension,
    plausible: Option<(&str, &str)>,
    quirks: Quirks,
    notes: &mut Vec<Note>,
) -> Result<(), Error> {
    if let Some(other) = holder
        .keys()
        .find(|k| k.starts_with("value") && *k != "valueQuantity")
    {
        return Err(Error::UnsupportedValue {
            path: format!("{path}.{other}"),
        });
    }
    let Some(quantity) = holder.get("valueQuantity") else {
        if holder.contains_key("dataAbsentReason") {
            return Ok(());
        }
        return Err(Error::MissingValue {
            code: code.to_owned(),
            path: format!("{path}.value[x]"),
        });
    };
    let qpath = format!("{path}.valueQuantity");
    let original = quantity.clone();
    let mut quantity = quantity
        .as_object()
        .cloned()
        .ok_or_else(|| Error::InvalidQuantity {
            path: qpath.clone(),
            reason: "not an object".to_owned(),
        })?;
    let value_text = match quantity.get("value") {
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(Error::InvalidQuantity {
                path: qpath,
                reason: "value is not a number".to_owned(),
            });
        }
        None => {
            return Err(Error::InvalidQuantity {
                path: qpath,
                reason: "no value".to_owned(),
            });
        }
    };

    // The UCUM code: from `code` under the UCUM system, or (quirk) from the display text.
    let system = quantity.get("system").and_then(Value::as_str);
    let ucum_code = quantity.get("code").and_then(Value::as_str);
    let unit_text = quantity.get("unit").and_then(Value::as_str);
    let mut changed = false;
    let from_code: String = match (system, ucum_code) {
        (Some(UCUM), Some(c)) => c.to_owned(),
        (Some(other), Some(_)) if other != UCUM => {
            return Err(Error::InvalidQuantity {
                path: qpath,
                reason: format!("unit system {other} is not UCUM"),
            });
        }
        _ => {
            let recovered = quirks
                .unit_text_without_ucum_code
                .then_some(unit_text)
                .flatten()
                .and_then(units::ucum_from_text);
            let Some(recovered) = recovered else {
                return Err(Error::InvalidQuantity {
                    path: qpath,
                    reason: format!(
                        "no UCUM unit (`system` {UCUM} with a `code`); unit text {:?}",
                        unit_text.unwrap_or("")
                    ),
                });
            };
            notes.push(Note {
                kind: NoteKind::UnitRewritten,
                path: qpath.clone(),
                message: format!(
                    "read UCUM {recovered} from unit text {:?}",
                    unit_text.unwrap_or("")
                ),
                quirk: Some(Quirk::UnitTextWithoutUcumCode),
            });
            // The data-absent-reason on `_code` no longer applies once `code` is set.
            quantity.remove("_code");
            quantity.remove("_system");
            changed = true;
            recovered.to_owned()
        }
    };

    let converted = units::to_canonical(dimension, &value_text, &from_code).ok_or_else(|| {
        Error::IncompatibleUnit {
            path: qpath.clone(),
            code: code.to_owned(),
            unit: from_code.clone(),
            expected: dimension.canonical_unit(),
        }
    })?;
    let canonical = dimension.canonical_unit();
    let final_value = match converted {
        Converted::Unchanged => value_text.clone(),
        Converted::Renamed { code: to } => {
            notes.push(Note {
                kind: NoteKind::UnitRewritten,
                path: qpath.clone(),
                message: format!("unit {from_code} written as {to}"),
                quirk: None,
            });
            changed = true;
            value_text.clone()
        }
        Converted::Value { value, code: to } => {
            notes.push(Note {
                kind: NoteKind::UnitConverted,
                path: qpath.clone(),
                message: format!("{value_text} {from_code} converted to {value} {to}"),
                quirk: None,
            });
            let number: Number = value.parse().expect("converted decimals are JSON numbers");
            quantity.insert("value".to_owned(), Value::Number(number));
            changed = true;
            value
        }
    };
    if changed {
        quantity.insert("unit".to_owned(), Value::String(canonical.to_owned()));
        quantity.insert("system".to_owned(), Value::String(UCUM.to_owned()));
        quantity.insert("code".to_owned(), Value::String(canonical.to_owned()));
        let extensions = quantity.entry("extension").or_insert_with(|| json!([]));
        if let Some(list) = extensions.as_array_mut() {
            list.push(json!({"url": ORIGINAL_QUANTITY_URL, "valueQuantity": original}));
        }
        order_keys(&mut quantity, QUANTITY_ORDER);
    } else if quantity.get("unit").is_none() {
        // R4 vital-signs profiles require `unit`; the UCUM code is its display.
        quantity.insert("unit".to_owned(), Value::String(canonical.to_owned()));
        order_keys(&mut quantity, QUANTITY_ORDER);
    }
    holder.insert("valueQuantity".to_owned(), Value::Object(quantity));

    if let Some((low, high)) = plausible
        && units::within(&final_value, low, high) == Some(false)
    {
        notes.push(Note {
            kind: NoteKind::Implausible,
            path: qpath,
            message: format!("{code}: {final_value} {canonical} is outside the plausible range {low}–{high} {canonical}"),
            quirk: None,
        });
        let range = json!({
            "low": {"value": low.parse::<Number>().expect("range bound"), "unit": canonical, "system": UCUM, "code": canonical},
            "high": {"value": high.parse::<Number>().expect("range bound"), "unit": canonical, "system": UCUM, "code": canonical},
        });
        let extension = json!({"url": IMPLAUSIBLE_VALUE_URL, "valueRange": range});
        match holder.get_mut("extension").and_then(Value::as_array_mut) {
            Some(list) => list.push(extension),
            None => insert_in_order(holder, "extension", json!([extension])),
        }
    }
    Ok(())
}

fn component_has_loinc(component: &Value, code: &str, quirks: Quirks) -> bool {
    component
        .get("code")
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .is_some_and(|codings| {
            codings
                .iter()
                .any(|c| loinc_code(c, quirks).is_some_and(|(found, _)| found == code))
        })
}

/// Moves the LOINC coding `code` first in a component's `code.coding`.
fn component_code_first(component: &mut Map<String, Value>, code: &str, quirks: Quirks) {
    if let Some(codings) = component
        .get_mut("code")
        .and_then(|c| c.get_mut("coding"))
        .and_then(Value::as_array_mut)
        && let Some(index) = codings
            .iter()
            .position(|c| loinc_code(c, quirks).is_some_and(|(found, oid)| found == code && !oid))
        && index > 0
    {
        let coding = codings.remove(index);
        codings.insert(0, coding);
    }
}

fn normalize_bp(
    obj: &mut Map<String, Value>,
    quirks: Quirks,
    notes: &mut Vec<Note>,
) -> Result<(), Error> {
    let Some(components) = obj.get_mut("component").and_then(Value::as_array_mut) else {
        return Err(Error::MissingComponent {
            code: SYSTOLIC.loinc.to_owned(),
        });
    };
    for part in [&SYSTOLIC, &DIASTOLIC] {
        // Match the component's LOINC code exactly on any coding: Cerner's BP components
        // also carry the panel code 85354-9.
        let index = components
            .iter()
            .position(|c| component_has_loinc(c, part.loinc, quirks))
            .ok_or_else(|| Error::MissingComponent {
                code: part.loinc.to_owned(),
            })?;
        let path = format!("Observation.component[{index}]");
        let component =
            components[index]
                .as_object_mut()
                .ok_or_else(|| Error::InvalidQuantity {
                    path: path.clone(),
                    reason: "component is not an object".to_owned(),
                })?;
        component_code_first(component, part.loinc, quirks);
        normalize_value(
            component,
            &path,
            part.loinc,
            part.dimension,
            Some(part.plausible),
            quirks,
            notes,
        )?;
    }
    Ok(())
}

fn normalize_optional_components(
    obj: &mut Map<String, Value>,
    quirks: Quirks,
    notes: &mut Vec<Note>,
) -> Result<(), Error> {
    let Some(components) = obj.get_mut("component").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for (index, component) in components.iter_mut().enumerate() {
        let Some(known) = OPTIONAL_COMPONENTS
            .iter()
            .find(|k| component_has_loinc(component, k.loinc, quirks))
        else {
            continue;
        };
        let path = format!("Observation.component[{index}]");
        let Some(component) = component.as_object_mut() else {
            continue;
        };
        component_code_first(component, known.loinc, quirks);
        normalize_value(
            component,
            &path,
            known.loinc,
            known.dimension,
            Some(known.plausible),
            quirks,
            notes,
        )?;
    }
    Ok(())
}

/// [`Quirks::spo2_value_in_component`]: move a component holding the SpO2 reading up to
/// `valueQuantity` when the Observation has no value of its own.
fn lift_spo2_component(
    obj: &mut Map<String, Value>,
    vital: &VitalSign,
    notes: &mut Vec<Note>,
) -> Result<(), Error> {
    if obj.keys().any(|k| k.starts_with("value")) || obj.contains_key("dataAbsentReason") {
        return Ok(());
    }
    let codes: Vec<&str> = std::iter::once(vital.loinc)
        .chain(vital.granular.iter().copied())
        .collect();
    let Some(components) = obj.get_mut("component").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    let Some(index) = components.iter().position(|c| {
        codes
            .iter()
            .any(|code| component_has_loinc(c, code, Quirks::STRICT))
    }) else {
        return Ok(());
    };
    let only_code_and_value = components[index].as_object().is_some_and(|c| {
        c.keys().all(|k| k == "code" || k == "valueQuantity") && c.contains_key("valueQuantity")
    });
    if !only_code_and_value {
        return Err(Error::UnsupportedValue {
            path: format!(
                "Observation.component[{index}] (SpO2 reading with more than code and valueQuantity)"
            ),
        });
    }
    let component = components.remove(index);
    if components.is_empty() {
        obj.remove("component");
    }
    insert_in_order(obj, "valueQuantity", component["valueQuantity"].clone());
    notes.push(Note {
        kind: NoteKind::ValueMoved,
        path: "Observation.valueQuantity".to_owned(),
        message: format!("SpO2 reading moved up from component[{index}]"),
        quirk: Some(Quirk::Spo2ValueInComponent),
    });
    Ok(())
}

/// Element order of Observation (R4), used to place added elements where FHIR puts them.
const OBSERVATION_ORDER: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
    "identifier",
    "basedOn",
    "partOf",
    "status",
    "category",
    "code",
    "subject",
    "focus",
    "encounter",
    "effective",
    "issued",
    "performer",
    "value",
    "dataAbsentReason",
    "interpretation",
    "note",
    "bodySite",
    "method",
    "specimen",
    "device",
    "referenceRange",
    "hasMember",
    "derivedFrom",
    "component",
];

const QUANTITY_ORDER: &[&str] = &[
    "id",
    "extension",
    "value",
    "comparator",
    "unit",
    "system",
    "code",
];

/// Rank of a JSON key in an element order; choice types (`effectiveDateTime`) and
/// primitive siblings (`_status`) rank with their element.
fn rank(order: &[&str], key: &str) -> usize {
    let key = key.strip_prefix('_').unwrap_or(key);
    order
        .iter()
        .position(|name| {
            key == *name
                || (key.starts_with(name)
                    && key[name.len()..].starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .unwrap_or(order.len())
}

/// Inserts `key` after the last existing key that FHIR orders before it.
fn insert_in_order(obj: &mut Map<String, Value>, key: &str, value: Value) {
    let order = OBSERVATION_ORDER;
    let new_rank = rank(order, key);
    let position = obj
        .keys()
        .take_while(|k| rank(order, k) <= new_rank)
        .count();
    obj.shift_insert(position, key.to_owned(), value);
}

/// Sorts the keys of a small element by its FHIR order (stable for unknown keys).
fn order_keys(obj: &mut Map<String, Value>, order: &[&str]) {
    let mut entries: Vec<(String, Value)> = std::mem::take(obj).into_iter().collect();
    entries.sort_by_key(|(k, _)| rank(order, k));
    obj.extend(entries);
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(codings: Value, quantity: Value) -> Value {
        json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": codings},
            "valueQuantity": quantity
        })
    }

    fn loinc(code: &str) -> Value {
        json!({"system": LOINC, "code": code})
    }

    fn codes(resource: &Value) -> Vec<String> {
        resource["code"]["coding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}|{}",
                    c["system"].as_str().unwrap(),
                    c["code"].as_str().unwrap()
                )
            })
            .collect()
    }

    fn hr(value: Value) -> Value {
        obs(
            json!([loinc("8867-4")]),
            json!({"value": value, "unit": "/min", "system": UCUM, "code": "/min"}),
        )
    }

    #[test]
    fn allow_list_choice_skips_vendor_and_generic_codes() {
        let input = obs(
            json!([
                {"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679", "code": "9", "display": "Resp"},
                loinc("8716-3"),
                loinc("9279-1")
            ]),
            json!({"value": 18, "unit": "/min", "system": UCUM, "code": "/min"}),
        );
        let out = normalize(&input, Quirks::STRICT).unwrap();
        assert_eq!(out.vital.loinc, "9279-1");
        assert_eq!(
            codes(&out.resource),
            [
                "http://loinc.org|9279-1",
                "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679|9",
                "http://loinc.org|8716-3"
            ]
        );
    }

    #[test]
    fn generic_vital_signs_code_alone_is_not_a_vital() {
        let input = obs(
            json!([loinc("8716-3")]),
            json!({"value": 1, "system": UCUM, "code": "/min"}),
        );
        assert!(matches!(
            normalize(&input, Quirks::STRICT),
            Err(Error::NotAVitalSign { .. })
        ));
    }

    #[test]
    fn profile_code_wins_over_granular_code_in_any_position() {
        let input = obs(
            json!([loinc("3141-9"), loinc("29463-7")]),
            json!({"value": 70, "unit": "kg", "system": UCUM, "code": "kg"}),
        );
        let out = normalize(&input, Quirks::STRICT).unwrap();
        assert_eq!(
            codes(&out.resource),
            ["http://loinc.org|29463-7", "http://loinc.org|3141-9"]
        );
        assert!(!out.notes.iter().any(|n| n.kind == NoteKind::CodeAdded));
    }

    #[test]
    fn two_different_vitals_are_ambiguous() {
        let input = obs(
            json!([loinc("8867-4"), loinc("9279-1")]),
            json!({"value": 60, "system": UCUM, "code": "/min"}),
        );
        let err = normalize(&input, Quirks::STRICT).unwrap_err();
        assert!(
            matches!(&err, Error::AmbiguousCode { codes } if codes == &["8867-4", "9279-1"]),
            "{err:?}"
        );
    }

    #[test]
    fn granular_only_needs_the_quirk() {
        let input = obs(
            json!([loinc("8331-1")]),
            json!({"value": 37.2, "unit": "degC", "system": UCUM, "code": "Cel"}),
        );
        assert_eq!(
            normalize(&input, Quirks::STRICT).unwrap_err().to_string(),
            "only the granular LOINC code(s) 8331-1 present; the R4 profile needs 8310-5 (quirk `granular_loinc_only`)"
        );
        let quirks = Quirks {
            granular_loinc_only: true,
            ..Quirks::STRICT
        };
        let out = normalize(&input, quirks).unwrap();
        assert_eq!(
            out.resource["code"]["coding"][0],
            json!({"system": LOINC, "code": "8310-5", "display": "Body temperature"})
        );
        assert_eq!(out.resource["code"]["coding"][1], loinc("8331-1"));
        assert_eq!(out.notes[0].quirk, Some(Quirk::GranularLoincOnly));
    }

    #[test]
    fn epic_oid_loinc_needs_the_quirk() {
        let input = obs(
            json!([{"system": EPIC_LOINC_OID, "code": "8867-4"}]),
            json!({"value": 72, "unit": "/min", "system": UCUM, "code": "/min"}),
        );
        assert!(matches!(
            normalize(&input, Quirks::STRICT),
            Err(Error::NotAVitalSign { .. })
        ));
        let out = normalize(&input, Quirks::EPIC).unwrap();
        assert_eq!(
            codes(&out.resource),
            ["http://loinc.org|8867-4", "urn:oid:1.2.246.537.6.96|8867-4"]
        );
        assert_eq!(out.notes[0].quirk, Some(Quirk::LoincUnderEpicOid));
    }

    #[test]
    fn missing_category_and_profile_are_added_in_fhir_order() {
        let out = normalize(&hr(json!(72)), Quirks::STRICT).unwrap();
        let keys: Vec<&str> = out
            .resource
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "resourceType",
                "meta",
                "status",
                "category",
                "code",
                "valueQuantity"
            ]
        );
        assert_eq!(
            out.resource["meta"]["profile"],
            json!(["http://hl7.org/fhir/StructureDefinition/heartrate"])
        );
        assert!(is_vital_signs_category(&out.resource["category"][0]));
        let kinds: Vec<NoteKind> = out.notes.iter().map(|n| n.kind).collect();
        assert_eq!(kinds, [NoteKind::CategoryAdded, NoteKind::ProfileAdded]);
    }

    #[test]
    fn existing_profiles_and_categories_are_kept() {
        let mut input = hr(json!(72));
        input["meta"] = json!({"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]});
        input["category"] = json!([
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "procedure"}]},
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}
        ]);
        let out = normalize(&input, Quirks::STRICT).unwrap();
        assert_eq!(
            out.resource["meta"]["profile"],
            json!([
                "http://hl7.org/fhir/StructureDefinition/vitalsigns",
                "http://hl7.org/fhir/StructureDefinition/heartrate"
            ])
        );
        assert_eq!(out.resource["category"], input["category"]);
    }

    #[test]
    fn implausible_heart_rate_is_flagged_not_dropped() {
        let out = normalize(&hr(json!(400)), Quirks::STRICT).unwrap();
        assert!(out.has_implausible_values());
        assert_eq!(out.resource["valueQuantity"]["value"], json!(400));
        assert_eq!(
            out.resource["extension"],
            json!([{
                "url": IMPLAUSIBLE_VALUE_URL,
                "valueRange": {
                    "low": {"value": 20, "unit": "/min", "system": UCUM, "code": "/min"},
                    "high": {"value": 300, "unit": "/min", "system": UCUM, "code": "/min"}
                }
            }])
        );
        let note = out.notes.last().unwrap();
        assert_eq!(note.path, "Observation.valueQuantity");
        assert_eq!(
            note.message,
            "8867-4: 400 /min is outside the plausible range 20–300 /min"
        );
        assert!(
            !normalize(&hr(json!(300)), Quirks::STRICT)
                .unwrap()
                .has_implausible_values()
        );
    }

    #[test]
    fn fahrenheit_temperature_is_converted_and_kept() {
        let input = obs(
            json!([loinc("8310-5")]),
            json!({"value": 98.6, "unit": "°F", "system": UCUM, "code": "[degF]"}),
        );
        let out = normalize(&input, Quirks::STRICT).unwrap();
        assert_eq!(
            out.resource["valueQuantity"],
            json!({
                "extension": [{"url": ORIGINAL_QUANTITY_URL, "valueQuantity": {"value": 98.6, "unit": "°F", "system": UCUM, "code": "[degF]"}}],
                "value": "37.00".parse::<Number>().unwrap(),
                "unit": "Cel",
                "system": UCUM,
                "code": "Cel"
            })
        );
        assert_eq!(out.resource["valueQuantity"]["value"].to_string(), "37.00");
    }

    #[test]
    fn wrong_dimension_is_an_error() {
        let input = obs(
            json!([loinc("8310-5")]),
            json!({"value": 123, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}),
        );
        assert_eq!(
            normalize(&input, Quirks::CERNER).unwrap_err().to_string(),
            "Observation.valueQuantity: unit `mm[Hg]` cannot be a value of 8310-5 (expected something convertible to `Cel`)"
        );
    }

    #[test]
    fn unit_text_needs_the_quirk() {
        let input = obs(
            json!([loinc("29463-7")]),
            json!({"value": 65, "unit": "KG", "_code": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unsupported"}]}}),
        );
        assert!(matches!(
            normalize(&input, Quirks::STRICT),
            Err(Error::InvalidQuantity { .. })
        ));
        let out = normalize(&input, Quirks::CERNER).unwrap();
        let q = &out.resource["valueQuantity"];
        assert_eq!(q["value"], json!(65));
        assert_eq!(q["code"], "kg");
        assert_eq!(q["system"], UCUM);
        assert!(q.get("_code").is_none());
        assert_eq!(q["extension"][0]["valueQuantity"], input["valueQuantity"]);
        assert_eq!(
            out.notes
                .iter()
                .find(|n| n.kind == NoteKind::UnitRewritten)
                .unwrap()
                .quirk,
            Some(Quirk::UnitTextWithoutUcumCode)
        );
    }

    #[test]
    fn annotated_units_become_canonical() {
        let input = obs(
            json!([loinc("8867-4")]),
            json!({"value": 72, "unit": "beats/minute", "system": UCUM, "code": "{beats}/min"}),
        );
        let out = normalize(&input, Quirks::STRICT).unwrap();
        assert_eq!(out.resource["valueQuantity"]["code"], "/min");
        assert_eq!(out.resource["valueQuantity"]["value"], json!(72));
        assert!(
            out.notes
                .iter()
                .any(|n| n.kind == NoteKind::UnitRewritten && n.quirk.is_none())
        );
    }

    #[test]
    fn data_absent_reason_is_a_value() {
        let mut input = hr(json!(1));
        input.as_object_mut().unwrap().remove("valueQuantity");
        input["dataAbsentReason"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "not-performed"}]});
        assert!(normalize(&input, Quirks::STRICT).is_ok());
        input.as_object_mut().unwrap().remove("dataAbsentReason");
        assert!(matches!(
            normalize(&input, Quirks::STRICT),
            Err(Error::MissingValue { .. })
        ));
    }

    #[test]
    fn other_value_types_and_non_numbers_are_errors() {
        let mut input = hr(json!(72));
        input.as_object_mut().unwrap().remove("valueQuantity");
        input["valueString"] = json!("72");
        assert!(matches!(
            normalize(&input, Quirks::STRICT),
            Err(Error::UnsupportedValue { .. })
        ));
        assert!(matches!(
            normalize(&hr(json!("72")), Quirks::STRICT),
            Err(Error::InvalidQuantity { .. })
        ));
    }

    #[test]
    fn not_an_observation() {
        assert!(matches!(
            normalize(&json!({"resourceType": "Patient"}), Quirks::STRICT),
            Err(Error::NotAnObservation { found }) if found == "Patient"
        ));
        assert!(matches!(
            normalize(&json!([1]), Quirks::STRICT),
            Err(Error::NotAnObservation { .. })
        ));
        assert!(matches!(
            normalize_bytes(b"{", Quirks::STRICT),
            Err(Error::Json(_))
        ));
    }

    #[test]
    fn decimals_keep_their_text_when_unchanged() {
        let input = obs(
            json!([loinc("8310-5")]),
            json!({"value": "36.50".parse::<Number>().unwrap(), "unit": "Cel", "system": UCUM, "code": "Cel"}),
        );
        let out = normalize(&input, Quirks::STRICT).unwrap();
        assert_eq!(out.resource["valueQuantity"]["value"].to_string(), "36.50");
        assert!(out.resource["valueQuantity"].get("extension").is_none());
    }

    #[test]
    fn bp_without_diastolic_is_an_error() {
        let input = json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [loinc("85354-9")]},
            "component": [{"code": {"coding": [loinc("8480-6")]}, "valueQuantity": {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}]
        });
        assert!(
            matches!(normalize(&input, Quirks::STRICT), Err(Error::MissingComponent { code }) if code == "8462-4")
        );
    }

    #[test]
    fn vitals_panel_needs_members() {
        let input = json!({"resourceType": "Observation", "status": "final", "code": {"coding": [loinc("85353-1")]}, "hasMember": [{"reference": "Observation/hr"}]});
        let out = normalize(&input, Quirks::STRICT).unwrap();
        assert_eq!(
            out.resource["meta"]["profile"][0],
            "http://hl7.org/fhir/StructureDefinition/vitalspanel"
        );
        let empty = json!({"resourceType": "Observation", "status": "final", "code": {"coding": [loinc("85353-1")]}});
        assert!(matches!(
            normalize(&empty, Quirks::STRICT),
            Err(Error::MissingValue { .. })
        ));
    }

    #[test]
    fn allow_list_is_consistent() {
        for (i, vital) in VITAL_SIGNS.iter().enumerate() {
            assert!(
                vital
                    .profile
                    .starts_with("http://hl7.org/fhir/StructureDefinition/")
            );
            assert_ne!(vital.loinc, GENERIC_VITAL_SIGNS);
            assert_eq!(
                vital.dimension.is_some(),
                vital.plausible.is_some(),
                "{}",
                vital.loinc
            );
            if let Some((low, high)) = vital.plausible {
                assert!(
                    units::within(low, low, high) == Some(true),
                    "{}",
                    vital.loinc
                );
            }
            for other in &VITAL_SIGNS[i + 1..] {
                assert_ne!(vital.loinc, other.loinc);
                for g in vital.granular {
                    assert!(!other.granular.contains(g) && other.loinc != *g);
                }
            }
        }
    }
}
