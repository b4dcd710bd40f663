//! Stored Observations → one value per metric and day.
//!
//! The detectors think in days ("three days running"), while the store holds whatever the
//! sources sent: a vendor's daily resting HR, a night of sleep with its stages, CGM
//! readings every five minutes, an EHR blood pressure panel. This module reduces them to
//! one [`DailyValue`] per metric and day, each naming the Observations it came from so an
//! alert can cite its evidence. It reads the shapes `mappers` writes (see
//! `mappers/src/wearable/fhir.rs` and `mappers/src/vitals.rs`) and plain R4 Observations
//! of the same codes.
//!
//! * **Which day.** The person's local date *as written* in the dateTime: its first 10
//!   characters. Sources keep the wearer's own UTC offset (`2024-03-01T07:15:00+01:00`)
//!   and daily totals are date-precision already, so the written date is the day the
//!   person lived; converting to UTC would move late evenings to the next day. A night of
//!   sleep belongs to the day it **ends** (`effectivePeriod.end`): the night of 3→4 March
//!   is how rested the person is on 4 March.
//! * **Codes.** By LOINC, or by the HealthOS wearable code
//!   (`https://healthos.dev/fhir/CodeSystem/wearable`) for metrics without one; the first
//!   coding that matches decides:
//!
//!   | metric | codes | one value per day |
//!   |---|---|---|
//!   | resting HR | 40443-4, `resting-heart-rate` | the lowest (the one truest to "resting") |
//!   | HRV RMSSD / SDNN | `hrv-rmssd` / 80404-7, `hrv-sdnn` | mean |
//!   | sleep | 93832-4, `sleep` | minutes asleep of the nights ending that day: overlapping sessions (two devices) count once, the longer; separate ones (a nap) add up |
//!   | steps | 41950-7, or `steps` with a date-precision effective | the largest daily total (the device worn longest); interval counts (55423-8) are ignored, the daily total already sums them |
//!   | SpO2 | 2708-6, 59408-5, `oxygen-saturation` | the lowest |
//!   | respiratory rate | 9279-1, `respiratory-rate` | mean |
//!   | temperature deviation | `temperature-deviation` | mean |
//!   | glucose | 2339-0, 41653-7, 99504-3 (mg/dL); 15074-8, 105272-9 (mmol/L × 18.016); `blood-glucose` | mean, and time in range when the day has enough readings |
//!   | blood pressure | 85354-9, `blood-pressure` (components 8480-6, 8462-4); 8480-6, 8462-4 alone | means |
//!
//!   Hourly heart-rate series (8867-4, SampledData) are not read: the vendors' resting HR
//!   is computed from far more signal (sleep, motion) than an hourly minimum would be.
//! * **Skipped:** status `entered-in-error` or `cancelled`; values `mappers::vitals`
//!   marked implausible (extension `…/implausible-value` on the resource or component);
//!   no value (a night with `dataAbsentReason`); a date that is not a valid day.
//! * **Doses** come from MedicationAdministration (`completed` taken, `not-done` not
//!   taken) and MedicationStatement (STU3-style `taken` `y`/`n`, or R4 status `completed`
//!   / `not-taken`) whose effective is one day; other resources are ignored.

use std::collections::BTreeMap;

use mappers::vitals::{IMPLAUSIBLE_VALUE_URL, LOINC};
use mappers::wearable::WEARABLE_CODE_SYSTEM;
use mappers::wearable::calendar::{parse_date, parse_instant, parse_local};
use serde_json::Value;

use crate::baseline::{day_number, day_text};
use crate::config::Config;
use crate::{DailyValue, MedicationDose, Metric, PersonSeries};

/// mg/dL per mmol/L of glucose.
pub const GLUCOSE_MMOL_TO_MG: f64 = 18.016;

/// [`daily_values_with`] under [`Config::default`].
pub fn daily_values(observations: &[Value]) -> PersonSeries {
    daily_values_with(observations, &Config::default())
}

/// One person's resources (Observations, MedicationAdministrations,
/// MedicationStatements, in any order; anything else is ignored) → their daily values
/// and doses, by the rules of the [module docs](self). The config supplies the glucose
/// target range and the readings a day needs for a time in range. Values are sorted by
/// metric and day, doses by day, medication and source.
pub fn daily_values_with(resources: &[Value], config: &Config) -> PersonSeries {
    let mut readings: BTreeMap<(Metric, i64), Vec<Reading>> = BTreeMap::new();
    let mut doses = Vec::new();
    for resource in resources {
        match resource["resourceType"].as_str() {
            Some("Observation") => observation(resource, &mut readings),
            Some("MedicationAdministration") => doses.extend(administration(resource)),
            Some("MedicationStatement") => doses.extend(statement(resource)),
            _ => {}
        }
    }
    let mut values = Vec::new();
    for ((metric, day), day_readings) in &readings {
        values.extend(reduce(*metric, *day, day_readings, config));
    }
    values.sort_by(|a, b| (a.metric, &a.day).cmp(&(b.metric, &b.day)));
    doses.sort_by(|a: &MedicationDose, b| {
        (&a.day, &a.medication, &a.source).cmp(&(&b.day, &b.medication, &b.source))
    });
    PersonSeries { values, doses }
}

/// One value read from one Observation.
#[derive(Debug, Clone)]
struct Reading {
    value: f64,
    source: Option<String>,
    /// The period in UTC seconds (sleep), to find overlapping nights.
    span: Option<(i64, i64)>,
}

/// What an Observation's code says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    One(Metric),
    /// Glucose; `true` when the code implies mmol/L.
    Glucose(bool),
    BloodPressurePanel,
}

fn kind(observation: &Value) -> Option<Kind> {
    let codings = observation["code"]["coding"].as_array()?;
    let date_precision = observation["effectiveDateTime"]
        .as_str()
        .is_some_and(|t| t.len() == 10);
    codings.iter().find_map(|coding| {
        let code = coding["code"].as_str()?;
        let one = |m| Some(Kind::One(m));
        match coding["system"].as_str()? {
            LOINC => match code {
                "40443-4" => one(Metric::RestingHeartRate),
                "80404-7" => one(Metric::HrvSdnn),
                "93832-4" => one(Metric::SleepDuration),
                "41950-7" => one(Metric::Steps),
                "2708-6" | "59408-5" => one(Metric::OxygenSaturation),
                "9279-1" => one(Metric::RespiratoryRate),
                "2339-0" | "41653-7" | "99504-3" => Some(Kind::Glucose(false)),
                "15074-8" | "105272-9" => Some(Kind::Glucose(true)),
                "85354-9" => Some(Kind::BloodPressurePanel),
                "8480-6" => one(Metric::SystolicBloodPressure),
                "8462-4" => one(Metric::DiastolicBloodPressure),
                _ => None,
            },
            WEARABLE_CODE_SYSTEM => match code {
                "resting-heart-rate" => one(Metric::RestingHeartRate),
                "hrv-rmssd" => one(Metric::HrvRmssd),
                "hrv-sdnn" => one(Metric::HrvSdnn),
                "sleep" => one(Metric::SleepDuration),
                "steps" if date_precision => one(Metric::Steps),
                "oxygen-saturation" => one(Metric::OxygenSaturation),
                "respiratory-rate" => one(Metric::RespiratoryRate),
                "temperature-deviation" => one(Metric::TemperatureDeviation),
                "blood-glucose" => Some(Kind::Glucose(false)),
                "blood-pressure" => Some(Kind::BloodPressurePanel),
                _ => None,
            },
            _ => None,
        }
    })
}

fn observation(o: &Value, readings: &mut BTreeMap<(Metric, i64), Vec<Reading>>) {
    if matches!(o["status"].as_str(), Some("entered-in-error" | "cancelled")) {
        return;
    }
    // The twin's own baselines carry the metric's code too; they are results, not data.
    let tags = o["meta"]["tag"].as_array();
    if tags
        .into_iter()
        .flatten()
        .any(|t| t["system"] == crate::fhir::MODEL_SYSTEM)
    {
        return;
    }
    let Some(kind) = kind(o) else { return };
    let sleep = kind == Kind::One(Metric::SleepDuration);
    let Some(day) = effective_day(o, sleep) else {
        return;
    };
    let source = o["id"].as_str().map(|id| format!("Observation/{id}"));
    let mut push = |metric, value: f64, span| {
        if value.is_finite() {
            readings.entry((metric, day)).or_default().push(Reading {
                value,
                source: source.clone(),
                span,
            });
        }
    };
    match kind {
        Kind::BloodPressurePanel => {
            for component in o["component"].as_array().into_iter().flatten() {
                let Some(codings) = component["code"]["coding"].as_array() else {
                    continue;
                };
                let metric =
                    codings
                        .iter()
                        .find_map(|c| match (c["system"].as_str(), c["code"].as_str()) {
                            (Some(LOINC), Some("8480-6")) => Some(Metric::SystolicBloodPressure),
                            (Some(LOINC), Some("8462-4")) => Some(Metric::DiastolicBloodPressure),
                            _ => None,
                        });
                if let (Some(metric), Some((value, _))) = (metric, quantity(component)) {
                    push(metric, value, None);
                }
            }
        }
        Kind::Glucose(mmol_code) => {
            if let Some((value, unit)) = quantity(o) {
                let mmol = match unit.as_deref() {
                    Some("mmol/L") => true,
                    Some("mg/dL") => false,
                    _ => mmol_code,
                };
                push(
                    Metric::Glucose,
                    if mmol {
                        value * GLUCOSE_MMOL_TO_MG
                    } else {
                        value
                    },
                    None,
                );
            }
        }
        Kind::One(metric) => {
            let Some((value, unit)) = quantity(o) else {
                return;
            };
            let value = match (metric, unit.as_deref()) {
                (Metric::OxygenSaturation, Some("1")) => value * 100.0,
                (Metric::SleepDuration, Some("h")) => value * 60.0,
                (Metric::SleepDuration, Some("s")) => value / 60.0,
                (Metric::TemperatureDeviation, Some("[degF]")) => value * 5.0 / 9.0,
                _ => value,
            };
            let span = if sleep {
                let period = &o["effectivePeriod"];
                period["start"]
                    .as_str()
                    .and_then(utc_seconds)
                    .zip(period["end"].as_str().and_then(utc_seconds))
            } else {
                None
            };
            push(metric, value, span);
        }
    }
}

/// The local day of an Observation: the first 10 characters of `effectiveDateTime`,
/// `effectiveInstant` or `effectivePeriod.start` (`.end` first for sleep).
fn effective_day(o: &Value, by_end: bool) -> Option<i64> {
    let period = &o["effectivePeriod"];
    let from_period = if by_end {
        period["end"].as_str().or(period["start"].as_str())
    } else {
        period["start"].as_str()
    };
    let text = o["effectiveDateTime"]
        .as_str()
        .or(o["effectiveInstant"].as_str())
        .or(from_period)?;
    day_number(text)
}

/// `valueQuantity.value` and its unit code (or unit text) of a resource or component,
/// unless it is marked implausible.
fn quantity(element: &Value) -> Option<(f64, Option<String>)> {
    if implausible(element) {
        return None;
    }
    let q = &element["valueQuantity"];
    let value = q["value"].as_f64()?;
    let unit = q["code"].as_str().or(q["unit"].as_str()).map(str::to_owned);
    Some((value, unit))
}

fn implausible(element: &Value) -> bool {
    element["extension"]
        .as_array()
        .is_some_and(|e| e.iter().any(|x| x["url"] == IMPLAUSIBLE_VALUE_URL))
}

/// Seconds since the epoch (UTC) of a FHIR date or dateTime: `YYYY-MM-DD` (midnight), or
/// with a time `hh:mm`, optional seconds and fraction, `Z` or `±hh:mm` (no offset: read
/// as UTC).
fn utc_seconds(text: &str) -> Option<i64> {
    parse_date(text)
        .map(|day| day * 86_400)
        .or_else(|| parse_instant(text).map(|(seconds, ..)| seconds))
        .or_else(|| parse_local(text).map(|(seconds, _)| seconds))
}

/// The day's value of one metric from its readings.
fn reduce(metric: Metric, day: i64, readings: &[Reading], config: &Config) -> Vec<DailyValue> {
    let day_value = |value: f64, chosen: Vec<&Reading>| {
        let mut sources: Vec<String> = Vec::new();
        for r in chosen {
            if let Some(s) = &r.source
                && !sources.contains(s)
            {
                sources.push(s.clone());
            }
        }
        DailyValue {
            metric,
            day: day_text(day),
            value,
            sources,
        }
    };
    let extreme = |lowest: bool| {
        let pick = readings.iter().reduce(|a, b| {
            let better = if lowest {
                b.value < a.value
            } else {
                b.value > a.value
            };
            if better { b } else { a }
        });
        pick.map(|r| day_value(r.value, vec![r]))
    };
    let mean = || {
        let n = readings.len() as f64;
        day_value(
            readings.iter().map(|r| r.value).sum::<f64>() / n,
            readings.iter().collect(),
        )
    };
    match metric {
        Metric::RestingHeartRate | Metric::OxygenSaturation => extreme(true).into_iter().collect(),
        Metric::Steps => extreme(false).into_iter().collect(),
        Metric::SleepDuration => {
            let (minutes, chosen) = nights(readings);
            vec![day_value(minutes, chosen)]
        }
        Metric::Glucose => {
            let mut out = vec![mean()];
            if readings.len() >= config.time_in_range_min_readings.max(1) {
                let in_range = readings
                    .iter()
                    .filter(|r| r.value >= config.glucose_low && r.value <= config.glucose_high)
                    .count();
                let mut tir = mean();
                tir.metric = Metric::GlucoseTimeInRange;
                tir.value = 100.0 * in_range as f64 / readings.len() as f64;
                out.push(tir);
            }
            out
        }
        _ => vec![mean()],
    }
}

/// Minutes asleep of one day's nights: sessions whose periods overlap are one night seen
/// twice (the longer counts); separate sessions add up.
fn nights(readings: &[Reading]) -> (f64, Vec<&Reading>) {
    let mut timed: Vec<&Reading> = readings.iter().filter(|r| r.span.is_some()).collect();
    timed.sort_by_key(|r| r.span);
    let mut chosen: Vec<&Reading> = readings.iter().filter(|r| r.span.is_none()).collect();
    let mut cluster: Option<(i64, &Reading)> = None;
    for r in timed {
        let Some((start, end)) = r.span else { continue };
        cluster = match cluster {
            Some((cluster_end, best)) if start < cluster_end => Some((
                cluster_end.max(end),
                if r.value > best.value { r } else { best },
            )),
            Some((_, best)) => {
                chosen.push(best);
                Some((end, r))
            }
            None => Some((end, r)),
        };
    }
    chosen.extend(cluster.map(|(_, best)| best));
    (chosen.iter().map(|r| r.value).sum(), chosen)
}

fn administration(r: &Value) -> Option<MedicationDose> {
    let taken = match r["status"].as_str()? {
        "completed" => true,
        "not-done" => false,
        _ => return None,
    };
    dose(r, "MedicationAdministration", taken)
}

fn statement(r: &Value) -> Option<MedicationDose> {
    let taken = match (r["taken"].as_str(), r["status"].as_str()) {
        (Some("y"), _) => true,
        (Some("n"), _) => false,
        (Some(_), _) => return None,
        (None, Some("completed")) => true,
        (None, Some("not-taken")) => false,
        _ => return None,
    };
    dose(r, "MedicationStatement", taken)
}

fn dose(r: &Value, resource_type: &str, taken: bool) -> Option<MedicationDose> {
    let text = match r["effectiveDateTime"].as_str() {
        Some(t) => t,
        None => {
            // A period is a course of treatment unless it lies within one day.
            let start = r["effectivePeriod"]["start"].as_str()?;
            let end = r["effectivePeriod"]["end"].as_str().unwrap_or(start);
            if day_number(start)? != day_number(end)? {
                return None;
            }
            start
        }
    };
    let day = day_text(day_number(text)?);
    let concept = &r["medicationCodeableConcept"];
    let medication = concept["text"]
        .as_str()
        .or(concept["coding"][0]["display"].as_str())
        .or(concept["coding"][0]["code"].as_str())
        .or(r["medicationReference"]["display"].as_str())
        .or(r["medicationReference"]["reference"].as_str())
        .unwrap_or("medication")
        .to_owned();
    let source = match r["id"].as_str() {
        Some(id) => format!("{resource_type}/{id}"),
        None => String::new(),
    };
    Some(MedicationDose {
        day,
        taken,
        medication,
        source,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn loinc(code: &str) -> Value {
        json!({"system": LOINC, "code": code})
    }

    fn local(code: &str) -> Value {
        json!({"system": WEARABLE_CODE_SYSTEM, "code": code})
    }

    fn obs(id: &str, codings: Vec<Value>, effective: &str, value: f64, unit: &str) -> Value {
        json!({
            "resourceType": "Observation",
            "id": id,
            "status": "final",
            "code": {"coding": codings},
            "subject": {"reference": "Patient/1"},
            "effectiveDateTime": effective,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
        })
    }

    fn one(series: &PersonSeries, metric: Metric) -> Vec<(String, f64, Vec<String>)> {
        series
            .values
            .iter()
            .filter(|v| v.metric == metric)
            .map(|v| (v.day.clone(), v.value, v.sources.clone()))
            .collect()
    }

    #[test]
    fn resting_heart_rate_takes_the_days_lowest_on_the_local_date() {
        let series = daily_values(&[
            // Written as mappers writes a vendor's daily figure (LOINC, then ours).
            obs(
                "a",
                vec![loinc("40443-4"), local("resting-heart-rate")],
                "2024-03-01",
                58.0,
                "/min",
            ),
            obs(
                "b",
                vec![loinc("40443-4")],
                "2024-03-01T07:00:00+01:00",
                56.0,
                "/min",
            ),
            // 23:30 at UTC−05:00 is 04:30 UTC the next day: still 1 March for the wearer.
            obs(
                "c",
                vec![loinc("40443-4")],
                "2024-03-01T23:30:00-05:00",
                61.0,
                "/min",
            ),
            obs(
                "d",
                vec![local("resting-heart-rate")],
                "2024-03-02",
                59.0,
                "/min",
            ),
        ]);
        assert_eq!(
            one(&series, Metric::RestingHeartRate),
            [
                ("2024-03-01".into(), 56.0, vec!["Observation/b".into()]),
                ("2024-03-02".into(), 59.0, vec!["Observation/d".into()]),
            ]
        );
    }

    #[test]
    fn daily_step_totals_only() {
        let interval = json!({
            "resourceType": "Observation", "id": "i", "status": "final",
            "code": {"coding": [loinc("55423-8"), local("steps")]},
            "effectivePeriod": {"start": "2024-03-01T08:00:00+01:00", "end": "2024-03-01T09:00:00+01:00"},
            "valueQuantity": {"value": 5000, "unit": "{steps}", "code": "{steps}"}
        });
        let series = daily_values(&[
            interval,
            obs(
                "w",
                vec![loinc("41950-7"), local("steps")],
                "2024-03-01",
                8400.0,
                "/d",
            ),
            obs(
                "p",
                vec![loinc("41950-7"), local("steps")],
                "2024-03-01",
                7900.0,
                "/d",
            ),
            // Our code alone, date precision: a daily total; with a time: not.
            obs("x", vec![local("steps")], "2024-03-02", 3000.0, "/d"),
            obs(
                "y",
                vec![local("steps")],
                "2024-03-03T10:00:00Z",
                99.0,
                "{steps}",
            ),
        ]);
        assert_eq!(
            one(&series, Metric::Steps),
            [
                ("2024-03-01".into(), 8400.0, vec!["Observation/w".into()]),
                ("2024-03-02".into(), 3000.0, vec!["Observation/x".into()]),
            ]
        );
    }

    fn night(id: &str, start: &str, end: &str, minutes: f64) -> Value {
        json!({
            "resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [loinc("93832-4"), local("sleep")]},
            "effectivePeriod": {"start": start, "end": end},
            "valueQuantity": {"value": minutes, "unit": "min", "code": "min"}
        })
    }

    #[test]
    fn sleep_belongs_to_the_day_the_night_ends() {
        let series = daily_values(&[
            // Night of 3→4 March from the watch, the same night from the ring (overlap:
            // counted once, the longer), and an afternoon nap on 4 March (added).
            night(
                "watch",
                "2024-03-03T23:10:00+01:00",
                "2024-03-04T06:50:00+01:00",
                410.0,
            ),
            night(
                "ring",
                "2024-03-03T23:20:00+01:00",
                "2024-03-04T07:00:00+01:00",
                420.0,
            ),
            night(
                "nap",
                "2024-03-04T14:00:00+01:00",
                "2024-03-04T14:40:00+01:00",
                35.0,
            ),
            // A night without any asleep stage: no value.
            json!({
                "resourceType": "Observation", "id": "empty", "status": "final",
                "code": {"coding": [loinc("93832-4")]},
                "effectivePeriod": {"start": "2024-03-04T23:00:00Z", "end": "2024-03-05T06:00:00Z"},
                "dataAbsentReason": {"coding": [{"code": "unknown"}]}
            }),
        ]);
        assert_eq!(
            one(&series, Metric::SleepDuration),
            [(
                "2024-03-04".into(),
                455.0,
                vec!["Observation/ring".into(), "Observation/nap".into()]
            )]
        );
    }

    #[test]
    fn spo2_minimum_and_means() {
        let series = daily_values(&[
            obs(
                "s1",
                vec![loinc("2708-6"), loinc("59408-5")],
                "2024-03-01T02:00:00Z",
                95.0,
                "%",
            ),
            obs(
                "s2",
                vec![loinc("59408-5")],
                "2024-03-01T03:00:00Z",
                91.0,
                "%",
            ),
            obs(
                "s3",
                vec![local("oxygen-saturation")],
                "2024-03-02T03:00:00Z",
                0.97,
                "1",
            ),
            obs(
                "r1",
                vec![loinc("9279-1")],
                "2024-03-01T03:00:00Z",
                14.0,
                "/min",
            ),
            obs(
                "r2",
                vec![loinc("9279-1")],
                "2024-03-01T04:00:00Z",
                15.0,
                "/min",
            ),
            obs("h1", vec![local("hrv-rmssd")], "2024-03-01", 40.0, "ms"),
            obs(
                "h2",
                vec![local("hrv-rmssd")],
                "2024-03-01T05:00:00Z",
                50.0,
                "ms",
            ),
            obs(
                "h3",
                vec![loinc("80404-7"), local("hrv-sdnn")],
                "2024-03-01",
                61.0,
                "ms",
            ),
            obs(
                "t",
                vec![local("temperature-deviation")],
                "2024-03-01",
                0.6,
                "Cel",
            ),
            // Heart rate is not a daily metric here.
            obs(
                "hr",
                vec![loinc("8867-4")],
                "2024-03-01T03:00:00Z",
                70.0,
                "/min",
            ),
        ]);
        assert_eq!(
            one(&series, Metric::OxygenSaturation),
            [
                ("2024-03-01".into(), 91.0, vec!["Observation/s2".into()]),
                ("2024-03-02".into(), 97.0, vec!["Observation/s3".into()]),
            ]
        );
        assert_eq!(one(&series, Metric::RespiratoryRate)[0].1, 14.5);
        assert_eq!(
            one(&series, Metric::HrvRmssd),
            [(
                "2024-03-01".into(),
                45.0,
                vec!["Observation/h1".into(), "Observation/h2".into()]
            )]
        );
        assert_eq!(one(&series, Metric::HrvSdnn)[0].1, 61.0);
        assert_eq!(one(&series, Metric::TemperatureDeviation)[0].1, 0.6);
        assert_eq!(series.values.len(), 6);
    }

    #[test]
    fn blood_pressure_components_and_skips() {
        let panel = |id: &str, at: &str, sys: f64, dia: f64| {
            json!({
                "resourceType": "Observation", "id": id, "status": "final",
                "code": {"coding": [loinc("85354-9"), local("blood-pressure")]},
                "effectiveDateTime": at,
                "component": [
                    {"code": {"coding": [loinc("8480-6")]}, "valueQuantity": {"value": sys, "unit": "mm[Hg]", "code": "mm[Hg]"}},
                    {"code": {"coding": [loinc("8462-4")]}, "valueQuantity": {"value": dia, "unit": "mm[Hg]", "code": "mm[Hg]"}}
                ]
            })
        };
        let mut wrong = panel("gone", "2024-03-01T09:00:00Z", 200.0, 120.0);
        wrong["status"] = json!("entered-in-error");
        let mut odd = panel("odd", "2024-03-01T10:00:00Z", 131.0, 600.0);
        odd["component"][1]["extension"] =
            json!([{"url": IMPLAUSIBLE_VALUE_URL, "valueRange": {}}]);
        let series = daily_values(&[
            panel("bp1", "2024-03-01T08:00:00+01:00", 128.0, 82.0),
            panel("bp2", "2024-03-01T20:00:00+01:00", 134.0, 86.0),
            wrong,
            odd,
            obs(
                "sys",
                vec![loinc("8480-6")],
                "2024-03-02T08:00:00Z",
                140.0,
                "mm[Hg]",
            ),
        ]);
        assert_eq!(
            one(&series, Metric::SystolicBloodPressure),
            [
                (
                    "2024-03-01".into(),
                    131.0,
                    vec![
                        "Observation/bp1".into(),
                        "Observation/bp2".into(),
                        "Observation/odd".into()
                    ]
                ),
                ("2024-03-02".into(), 140.0, vec!["Observation/sys".into()]),
            ]
        );
        assert_eq!(
            one(&series, Metric::DiastolicBloodPressure),
            [(
                "2024-03-01".into(),
                84.0,
                vec!["Observation/bp1".into(), "Observation/bp2".into()]
            )]
        );
    }

    #[test]
    fn glucose_units_and_time_in_range() {
        let config = Config {
            time_in_range_min_readings: 4,
            ..Config::default()
        };
        let series = daily_values_with(
            &[
                obs(
                    "g1",
                    vec![loinc("2339-0")],
                    "2024-03-01T08:00:00Z",
                    100.0,
                    "mg/dL",
                ),
                // 10 mmol/L = 180.16 mg/dL: just above the range.
                obs(
                    "g2",
                    vec![loinc("15074-8")],
                    "2024-03-01T12:00:00Z",
                    10.0,
                    "mmol/L",
                ),
                obs(
                    "g3",
                    vec![loinc("99504-3")],
                    "2024-03-01T16:00:00Z",
                    150.0,
                    "mg/dL",
                ),
                obs(
                    "g4",
                    vec![local("blood-glucose")],
                    "2024-03-01T20:00:00Z",
                    60.0,
                    "mg/dL",
                ),
                obs(
                    "g5",
                    vec![loinc("41653-7")],
                    "2024-03-02T08:00:00Z",
                    110.0,
                    "mg/dL",
                ),
            ],
            &config,
        );
        let glucose = one(&series, Metric::Glucose);
        assert_eq!(glucose.len(), 2);
        assert!((glucose[0].1 - (100.0 + 180.16 + 150.0 + 60.0) / 4.0).abs() < 1e-9);
        assert_eq!(glucose[0].2.len(), 4);
        assert_eq!(glucose[1].1, 110.0);
        // Two of four readings within 70–180; the second day has too few readings.
        let tir = one(&series, Metric::GlucoseTimeInRange);
        assert_eq!(tir.len(), 1);
        assert_eq!((tir[0].0.as_str(), tir[0].1), ("2024-03-01", 50.0));
    }

    #[test]
    fn doses_from_administrations_and_statements() {
        let series = daily_values(&[
            json!({"resourceType": "MedicationAdministration", "id": "a1", "status": "completed",
                   "medicationCodeableConcept": {"text": "Metformin 500 mg"},
                   "effectiveDateTime": "2024-03-01T08:00:00+01:00"}),
            json!({"resourceType": "MedicationAdministration", "id": "a2", "status": "not-done",
                   "medicationCodeableConcept": {"coding": [{"code": "860975", "display": "Metformin"}]},
                   "effectivePeriod": {"start": "2024-03-02T08:00:00+01:00", "end": "2024-03-02T08:05:00+01:00"}}),
            json!({"resourceType": "MedicationAdministration", "id": "a3", "status": "in-progress",
                   "effectiveDateTime": "2024-03-02"}),
            json!({"resourceType": "MedicationStatement", "id": "s1", "status": "completed", "taken": "n",
                   "medicationReference": {"reference": "Medication/5", "display": "Lisinopril"},
                   "effectiveDateTime": "2024-03-03"}),
            json!({"resourceType": "MedicationStatement", "id": "s2", "status": "not-taken",
                   "medicationReference": {"reference": "Medication/5"},
                   "effectiveDateTime": "2024-03-04"}),
            // A course of treatment, not a dose.
            json!({"resourceType": "MedicationStatement", "id": "s3", "status": "completed",
                   "effectivePeriod": {"start": "2024-01-01", "end": "2024-03-01"}}),
            json!({"resourceType": "Patient", "id": "1"}),
        ]);
        let got: Vec<(&str, bool, &str, &str)> = series
            .doses
            .iter()
            .map(|d| {
                (
                    d.day.as_str(),
                    d.taken,
                    d.medication.as_str(),
                    d.source.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "2024-03-01",
                    true,
                    "Metformin 500 mg",
                    "MedicationAdministration/a1"
                ),
                (
                    "2024-03-02",
                    false,
                    "Metformin",
                    "MedicationAdministration/a2"
                ),
                ("2024-03-03", false, "Lisinopril", "MedicationStatement/s1"),
                (
                    "2024-03-04",
                    false,
                    "Medication/5",
                    "MedicationStatement/s2"
                ),
            ]
        );
        assert!(series.values.is_empty());
    }

    #[test]
    fn stored_observations_to_an_explained_flag() {
        // Resting HR as mappers writes a vendor's daily figure, as the store returns it
        // (with ids): 21 calm days, then 68, 71, 70.
        let calm = (0..21).map(|k| 57.0 + f64::from(k % 3));
        let observations: Vec<Value> = calm
            .chain([68.0, 71.0, 70.0])
            .enumerate()
            .map(|(k, bpm)| {
                let day = format!("2024-03-{:02}", k + 1);
                obs(
                    &format!("rhr{}", k + 1),
                    vec![loinc("40443-4"), local("resting-heart-rate")],
                    &day,
                    bpm,
                    "/min",
                )
            })
            .collect();
        let series = daily_values(&observations);
        assert_eq!(series.values.len(), 24);
        let episodes = crate::detect::detect(&series, &Config::default());
        assert_eq!(episodes.len(), 1);
        let issue = crate::fhir::detected_issue("Patient/1", &episodes[0]);
        assert_eq!(
            issue["implicated"],
            json!([
                {"reference": "Observation/rhr22"},
                {"reference": "Observation/rhr23"},
                {"reference": "Observation/rhr24"}
            ])
        );
        let flag = crate::fhir::flag("Patient/1", &episodes[0]);
        assert_eq!(flag["status"], "active");
    }

    #[test]
    fn utc_seconds_reads_offsets() {
        assert_eq!(utc_seconds("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(utc_seconds("1970-01-01T00:00:30.5Z"), Some(30));
        assert_eq!(utc_seconds("1970-01-01T00:00-00:30"), Some(1800));
        assert_eq!(utc_seconds("1970-01-02"), Some(86_400));
        assert_eq!(utc_seconds("1970-01-01Txx"), None);
    }
}
