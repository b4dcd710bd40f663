//! iHealth Labs open API (v2) JSON → [`Sample`](super::Sample)s.
//!
//! Each `/openapiv2/user/{id}/{endpoint}.json` answer is one page with one list, and the
//! list's name says the endpoint (an empty list is zero samples):
//!
//! | list | endpoint | samples |
//! |---|---|---|
//! | `BPDataList` | `bp` | blood pressure `HP`/`LP` (`BPUnit` 0 mmHg, 1 kPa × 7.500615758) and heart rate `HR`, instants at `MDate` |
//! | `BGDataList` | `glucose` | blood glucose `BG` (`BGUnit` 0 mg/dL, 1 mmol/L × 18.016) at `MDate` |
//! | `BODataList` | `spo2` | SpO2 `BO` (%) and heart rate `HR` at `MDate` |
//! | `WeightDataList` | `weight` | weight `WeightValue` (`WeightUnit` 0 kg, 1 lb × 0.45359237, 2 stone × 6.35029318) and body fat `FatValue` (%) at `MDate` |
//! | `SRDataList` | `sleep` | one sleep period `StartTime`..`EndTime`, asleep `HoursSlept` **minutes** (the name is wrong; it is 77 % of the period when `SleepEfficiency` is 77) |
//! | `ARDataList` | `activity` | daily steps `Steps` and distance `DistanceTraveled` (`DistanceUnit` 0 km, 1 mile) for the local date of `MDate` |
//! | `SPORTDataList` | `sport` | none yet: every workout is skipped, with that reason |
//!
//! **Times.** iHealth writes `MDate`, `StartTime` and `EndTime` as epoch seconds of the
//! *local* wall clock (the local time counted as if it were UTC) and the offset beside it
//! in `TimeZone` (`"-0800"`, or whole hours as a number in `sport`). So the local time is
//! the epoch value read as UTC, and the FHIR `dateTime` is that time with that offset:
//! `MDate` 1442491463 (12:04:23 read as UTC) with `"-0800"` is `2015-09-17T12:04:23-08:00`,
//! which is what Shimmer's tests expect and what `LastChangeTime` (true UTC, 20:04:30Z)
//! confirms. A record without a usable time is skipped.
//!
//! **Zero means not measured** (iHealth sends 0 for an absent value, as Shimmer found): a
//! blood pressure without `HP`/`LP`, an SpO2 without `BO`, a weighing without
//! `WeightValue` skips the record with that reason, while the other values of the record
//! (its heart rate, its body fat) are still read. Units apply to the whole page; a page
//! whose unit field is missing or unknown skips the values that need it rather than guess.
//!
//! Left out on purpose: `Calories` of `activity` is the day's *total* energy with the
//! basal rate (1 571 kcal for 21 steps in the fixtures), not active energy; `BMI` has no
//! metric of its own (it follows from weight and height); the glucose meal and medication
//! context (`DinnerSituation`, `DrugSituation`), notes, bone, muscle and water values, and
//! the sleep's `Awaken` (a number of awakenings, not minutes) and `FallSleep`. The payload
//! names no device; a record with `DataSource` `Manual` is marked as entered by hand
//! ([`DeviceKind::Manual`]), so a daily total measured by a device wins over it. Every
//! sample carries the record's `DataID`.

use serde_json::Value;

use super::calendar::{format_instant, local_date, parse_offset, valid_offset};
use super::vendor_json::{Emitter, Origin, not_a_payload, number, round6};
use super::{
    DeviceInfo, DeviceKind, Effective, Metric, ParseReport, Reading, SampleSink, SleepStage,
};
use crate::Error;
use crate::json::{kind, parse_document, ptr};

const EXPECTED: &str = "`BPDataList`, `BGDataList`, `BODataList`, `WeightDataList`, `SRDataList`, `ARDataList` or `SPORTDataList` (an iHealth open API v2 page)";

/// The iHealth endpoints, by the list their page holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    BloodPressure,
    Glucose,
    Spo2,
    Weight,
    Sleep,
    Activity,
    Sport,
}

impl Endpoint {
    const ALL: [Endpoint; 7] = [
        Endpoint::BloodPressure,
        Endpoint::Glucose,
        Endpoint::Spo2,
        Endpoint::Weight,
        Endpoint::Sleep,
        Endpoint::Activity,
        Endpoint::Sport,
    ];

    fn list(self) -> &'static str {
        match self {
            Endpoint::BloodPressure => "BPDataList",
            Endpoint::Glucose => "BGDataList",
            Endpoint::Spo2 => "BODataList",
            Endpoint::Weight => "WeightDataList",
            Endpoint::Sleep => "SRDataList",
            Endpoint::Activity => "ARDataList",
            Endpoint::Sport => "SPORTDataList",
        }
    }

    /// The page's unit field and the factor of each of its values to the canonical unit
    /// (iHealth's "Unit Definitions"), for the endpoints that have one.
    fn unit(self) -> Option<(&'static str, &'static [(f64, &'static str)])> {
        Some(match self {
            Endpoint::BloodPressure => ("BPUnit", &[(1.0, "mmHg"), (7.500_615_758, "kPa")]),
            Endpoint::Glucose => ("BGUnit", &[(1.0, "mg/dL"), (18.016, "mmol/L")]),
            Endpoint::Weight => (
                "WeightUnit",
                &[(1.0, "kg"), (0.453_592_37, "lb"), (6.350_293_18, "stone")],
            ),
            Endpoint::Activity => ("DistanceUnit", &[(1000.0, "km"), (1609.344, "mile")]),
            _ => return None,
        })
    }
}

/// Reads one iHealth open API v2 page, pushing a [`Sample`](super::Sample) per value.
///
/// Errors: invalid JSON ([`Error::Malformed`] at its line and column), a document with
/// none of the iHealth lists (at `/`), or a list that is not an array (at its pointer).
pub fn parse(json: &[u8], sink: &mut impl SampleSink) -> Result<ParseReport, Error> {
    let doc = parse_document(json)?;
    let Some((endpoint, list)) = Endpoint::ALL
        .into_iter()
        .find_map(|e| doc.get(e.list()).map(|list| (e, list)))
    else {
        return Err(not_a_payload("iHealth", EXPECTED, &doc));
    };
    let base = ptr("", endpoint.list());
    let Some(records) = list.as_array() else {
        return Err(Error::Malformed {
            position: base,
            reason: format!("expected an array of records, found a JSON {}", kind(list)),
        });
    };
    // The factor to the canonical unit, or why the page's unit is unusable.
    let factor = endpoint.unit().map(|(field, table)| {
        doc[field]
            .as_u64()
            .and_then(|i| table.get(usize::try_from(i).ok()?))
            .map(|(factor, _)| *factor)
            .ok_or_else(|| {
                let known: Vec<String> = (0..)
                    .zip(table.iter())
                    .map(|(i, (_, u))| format!("{i} {u}"))
                    .collect();
                format!("`{field}` is missing or not one of {}", known.join(", "))
            })
    });
    let factor = factor.unwrap_or(Ok(1.0));
    let mut out = Emitter::new(sink);
    for (i, record) in records.iter().enumerate() {
        let at = ptr(&base, i);
        if !record.is_object() {
            out.skip(
                &at,
                format!("a record is an object, not a JSON {}", kind(record)),
            );
            continue;
        }
        let device = (record["DataSource"].as_str() == Some("Manual")).then(entered_by_hand);
        let read = Record {
            record,
            at: &at,
            factor: &factor,
            list: endpoint.list(),
            device: device.as_ref(),
        };
        match endpoint {
            Endpoint::BloodPressure => read.blood_pressure(&mut out),
            Endpoint::Glucose => read.glucose(&mut out),
            Endpoint::Spo2 => read.spo2(&mut out),
            Endpoint::Weight => read.weight(&mut out),
            Endpoint::Sleep => read.sleep(&mut out),
            Endpoint::Activity => read.activity(&mut out),
            Endpoint::Sport => out.skip(&at, "workouts are not imported yet"),
        }
    }
    Ok(out.finish())
}

/// The source of values typed into the iHealth app.
fn entered_by_hand() -> DeviceInfo {
    DeviceInfo {
        key: "ihealth-manual-entry".to_owned(),
        name: Some("Entered by hand in iHealth".to_owned()),
        manufacturer: None,
        model: None,
        version: None,
        kind: DeviceKind::Manual,
    }
}

/// A `TimeZone` as seconds east of UTC: `"-0800"`, `"+05:30"`, or whole hours as a number
/// (`-8`, as `sport` writes it); `None` if FHIR cannot write it.
fn offset(zone: &Value) -> Option<i32> {
    let seconds = match zone {
        Value::String(s) if s.is_ascii() && s.len() == 5 && !s.contains(':') => {
            parse_offset(&format!("{}:{}", &s[..3], &s[3..]))?
        }
        Value::String(s) => parse_offset(s)?,
        Value::Number(n) => i32::try_from(n.as_i64()?).ok()?.checked_mul(3600)?,
        _ => return None,
    };
    valid_offset(seconds)
}

/// Local epoch seconds (see the module doc) within the years FHIR can write.
fn local_seconds(value: &Value) -> Option<i64> {
    value.as_i64().filter(|s| (0..=253_402_300_799).contains(s))
}

/// One list entry and what every value of it shares.
struct Record<'a> {
    record: &'a Value,
    at: &'a str,
    factor: &'a Result<f64, String>,
    list: &'static str,
    device: Option<&'a DeviceInfo>,
}

impl Record<'_> {
    /// A value that was measured: a number above zero.
    fn measured(&self, key: &str) -> Option<f64> {
        number(&self.record[key]).filter(|v| *v > 0.0)
    }

    /// `value` in the canonical unit (rounded to six decimals when converted).
    fn convert(&self, value: f64) -> Result<f64, &str> {
        match self.factor {
            Ok(f) if *f == 1.0 => Ok(value),
            Ok(f) => Ok(round6(value * f)),
            Err(reason) => Err(reason),
        }
    }

    fn time(&self, key: &str) -> Option<String> {
        let local = local_seconds(&self.record[key])?;
        let offset = offset(&self.record["TimeZone"])?;
        Some(format_instant(local - i64::from(offset), 0, Some(offset)))
    }

    /// The record's `MDate` as an instant, or skips the record.
    fn instant(&self, out: &mut Emitter<'_>) -> Option<Effective> {
        let when = self.time("MDate").map(Effective::Instant);
        if when.is_none() {
            out.skip(self.at, "needs `MDate` and a `TimeZone` (±hhmm)");
        }
        when
    }

    /// Pushes `metric` = `reading`, coded `<list>.<field>`.
    fn push(
        &self,
        out: &mut Emitter<'_>,
        metric: Metric,
        when: &Effective,
        reading: Reading,
        field: &'static str,
    ) {
        let code = format!("{}.{field}", self.list);
        let origin = Origin {
            record_id: self.record["DataID"].as_str().filter(|id| !id.is_empty()),
            device: self.device,
            vendor_code: &code,
        };
        out.push(origin.sample(metric, when.clone(), reading));
    }

    /// Pushes the heart rate `HR` when measured.
    fn heart_rate(&self, out: &mut Emitter<'_>, when: &Effective) {
        if let Some(bpm) = self.measured("HR") {
            self.push(out, Metric::HeartRate, when, Reading::Quantity(bpm), "HR");
        }
    }

    fn blood_pressure(&self, out: &mut Emitter<'_>) {
        let Some(when) = self.instant(out) else {
            return;
        };
        match (self.measured("HP"), self.measured("LP")) {
            (Some(hp), Some(lp)) => match (self.convert(hp), self.convert(lp)) {
                (Ok(systolic), Ok(diastolic)) => {
                    let reading = Reading::BloodPressure {
                        systolic,
                        diastolic,
                    };
                    self.push(out, Metric::BloodPressure, &when, reading, "HP/LP");
                }
                (Err(reason), _) | (_, Err(reason)) => out.skip(self.at, reason),
            },
            _ => out.skip(
                self.at,
                "no blood pressure: `HP` or `LP` is 0 or absent (not measured)",
            ),
        }
        self.heart_rate(out, &when);
    }

    fn glucose(&self, out: &mut Emitter<'_>) {
        let Some(when) = self.instant(out) else {
            return;
        };
        match self.measured("BG").map(|bg| self.convert(bg)) {
            Some(Ok(mg_dl)) => {
                self.push(
                    out,
                    Metric::BloodGlucose,
                    &when,
                    Reading::Quantity(mg_dl),
                    "BG",
                );
            }
            Some(Err(reason)) => out.skip(self.at, reason),
            None => out.skip(self.at, "no glucose: `BG` is 0 or absent (not measured)"),
        }
    }

    fn spo2(&self, out: &mut Emitter<'_>) {
        let Some(when) = self.instant(out) else {
            return;
        };
        match self.measured("BO") {
            Some(percent) => {
                self.push(
                    out,
                    Metric::OxygenSaturation,
                    &when,
                    Reading::Quantity(percent),
                    "BO",
                );
            }
            None => out.skip(self.at, "no SpO2: `BO` is 0 or absent (not measured)"),
        }
        self.heart_rate(out, &when);
    }

    fn weight(&self, out: &mut Emitter<'_>) {
        let Some(when) = self.instant(out) else {
            return;
        };
        match self.measured("WeightValue").map(|w| self.convert(w)) {
            Some(Ok(kg)) => {
                self.push(
                    out,
                    Metric::BodyWeight,
                    &when,
                    Reading::Quantity(kg),
                    "WeightValue",
                );
            }
            Some(Err(reason)) => out.skip(self.at, reason),
            None => out.skip(
                self.at,
                "no weight: `WeightValue` is 0 or absent (not measured)",
            ),
        }
        if let Some(fat) = self.measured("FatValue") {
            self.push(
                out,
                Metric::BodyFat,
                &when,
                Reading::Quantity(fat),
                "FatValue",
            );
        }
    }

    fn sleep(&self, out: &mut Emitter<'_>) {
        let (start, end) = (self.time("StartTime"), self.time("EndTime"));
        let ordered =
            local_seconds(&self.record["StartTime"]) < local_seconds(&self.record["EndTime"]);
        let (Some(start), Some(end), true) = (start, end, ordered) else {
            return out.skip(
                self.at,
                "needs `StartTime` before `EndTime` and a `TimeZone` (±hhmm)",
            );
        };
        let Some(minutes) = self.measured("HoursSlept") else {
            return out.skip(self.at, "no sleep: `HoursSlept` is 0 or absent");
        };
        let stages = vec![(SleepStage::Asleep, minutes)];
        let period = Effective::Period { start, end };
        self.push(
            out,
            Metric::Sleep,
            &period,
            Reading::Sleep { stages },
            "HoursSlept",
        );
    }

    fn activity(&self, out: &mut Emitter<'_>) {
        let Some(local) = local_seconds(&self.record["MDate"]) else {
            return out.skip(self.at, "needs `MDate`");
        };
        let day = Effective::Date(local_date(local, 0));
        let steps = self.measured("Steps");
        let distance = self.measured("DistanceTraveled");
        if let Some(steps) = steps {
            self.push(out, Metric::Steps, &day, Reading::Quantity(steps), "Steps");
        }
        match distance.map(|d| self.convert(d)) {
            Some(Ok(m)) => {
                self.push(
                    out,
                    Metric::Distance,
                    &day,
                    Reading::Quantity(m),
                    "DistanceTraveled",
                );
            }
            Some(Err(reason)) => out.skip(self.at, reason),
            None if steps.is_none() => out.skip(
                self.at,
                "no steps or distance (`Calories` is total energy, basal included: not imported)",
            ),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_in_every_form_ihealth_writes() {
        assert_eq!(offset(&Value::from("-0800")), Some(-28_800));
        assert_eq!(offset(&Value::from("+0530")), Some(19_800));
        assert_eq!(offset(&Value::from("+01:00")), Some(3_600));
        assert_eq!(offset(&Value::from(-8)), Some(-28_800));
        assert_eq!(offset(&Value::from(1)), Some(3_600));
        assert_eq!(offset(&Value::from("0800")), None);
        assert_eq!(offset(&Value::from("-08é0")), None);
        assert_eq!(offset(&Value::from(99)), None);
        assert_eq!(offset(&Value::Null), None);
    }

    #[test]
    fn units_of_a_page_convert_and_an_unknown_unit_skips() {
        // 16 kPa is 120.0098… mmHg; 5.5 mmol/L is 99.088 mg/dL; 150 lb is 68.0388555 kg.
        let page = |list: &str, unit: &str, code: u8, record: &str| {
            format!(
                r#"{{"{list}": [{{"MDate": 0, "TimeZone": "+0000", "DataID": "x", {record}}}], "{unit}": {code}}}"#
            )
        };
        let read = |json: String| {
            let mut samples = Vec::new();
            let report = parse(json.as_bytes(), &mut samples).unwrap();
            (samples, report)
        };
        let (bp, _) = read(page(
            "BPDataList",
            "BPUnit",
            1,
            r#""HP": 16, "LP": 10, "HR": 0"#,
        ));
        assert_eq!(
            bp[0].reading,
            Reading::BloodPressure {
                systolic: 120.009852,
                diastolic: 75.006158
            }
        );
        let (bg, _) = read(page("BGDataList", "BGUnit", 1, r#""BG": 5.5"#));
        assert_eq!(bg[0].reading, Reading::Quantity(99.088));
        let (w, _) = read(page(
            "WeightDataList",
            "WeightUnit",
            1,
            r#""WeightValue": 150"#,
        ));
        assert_eq!(w[0].reading, Reading::Quantity(68.038856));
        let (none, report) = read(page("BGDataList", "BGUnit", 7, r#""BG": 5.5"#));
        assert!(none.is_empty());
        assert_eq!(
            report.skipped[0].reason,
            "`BGUnit` is missing or not one of 0 mg/dL, 1 mmol/L"
        );
    }
}
