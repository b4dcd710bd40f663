//! Fitbit Web API JSON → [`Sample`](super::Sample)s.
//!
//! The caller fetches one endpoint and hands its body over; the parser recognises the
//! endpoint by its top-level keys (several in one object are all read):
//!
//! | top-level key | endpoint | samples |
//! |---|---|---|
//! | `activities-heart` (+ `activities-heart-intraday`) | `activities/heart/date/…` | daily `value.restingHeartRate` → resting HR for the date; intraday `{time, value}` → heart rate at that time of `activities-heart[0].dateTime` |
//! | `activities-steps` (+ `activities-steps-intraday`) | `activities/steps/date/…` | daily totals (`/d`, date); intraday values → steps over `[time, time + datasetInterval)` |
//! | `sleep` | `1.2/user/-/sleep/date/…` | one sleep period per log, `startTime`..`endTime` (or `startTime` + `duration`, which is in **milliseconds**), minutes per stage from `levels.summary` |
//! | `weight` | `body/log/weight/date/…` | body weight at `date`T`time`, `record_id` = `logId` |
//! | `summary` / `activities` | `activities/date/{date}` | daily steps, distance (`distances[activity=total]`), active energy (`activityCalories`, not `caloriesOut`, which includes BMR) and resting HR, for [`FitbitOptions::date`] |
//!
//! Three things the payload does not say, so the caller does ([`FitbitOptions`]):
//!
//! * **The UTC offset.** Fitbit writes local times without offset (`2016-12-13T01:16:00.000`,
//!   `"time": "00:01:00"`); a FHIR `dateTime` with a time needs one. One offset
//!   ([`FitbitOptions::utc_offset_minutes`], default `0` → `+00:00`) is applied to every
//!   local time of the payload: pass the user's `offsetFromUTCMillis` from the profile
//!   endpoint, divided by 60 000. Dates stay dates.
//! * **The unit system.** Weight and distance come in the units of the request's
//!   `Accept-Language` ([`FitbitUnits`]): none → kg and km; `en_US` → lb and miles;
//!   `en_GB` → stone and km. The recorded fixtures were fetched metric: their weights
//!   (56.7 kg at BMI 21.48) only make sense in kilograms.
//! * **The day of an activities summary.** `activities/date/{date}.json` does not repeat
//!   `{date}`; without [`FitbitOptions::date`] its figures are skipped, with that reason.
//!
//! Logged exercises (`activities[]`) are skipped with a reason: exercise sessions are not
//! mapped. Classic sleep logs count `restless` as awake, as Fitbit's own `minutesAsleep`
//! does. Empty lists are zero samples, not errors. Fitbit names no device in these
//! endpoints, so samples carry none.

use serde_json::{Map, Value};

use super::calendar::{
    format_date, format_instant, parse_date, parse_local, parse_time_of_day, valid_offset,
};
use super::vendor_json::{Emitter, Origin, id_text, not_a_payload, number, round6};
use super::{Effective, Metric, ParseReport, Reading, SampleSink, SleepStage};
use crate::Error;
use crate::json::{parse_document, ptr};

/// The unit system Fitbit answered in, chosen by the request's `Accept-Language` header
/// ([Fitbit units](https://dev.fitbit.com/build/reference/web-api/developer-guide/application-design/#Units)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FitbitUnits {
    /// No `Accept-Language` (or any locale but the two below): kg, km.
    #[default]
    Metric,
    /// `en_US`: pounds, miles.
    UnitedStates,
    /// `en_GB`: stone, km.
    UnitedKingdom,
}

impl FitbitUnits {
    fn kilograms(self, weight: f64) -> f64 {
        match self {
            FitbitUnits::Metric => weight,
            FitbitUnits::UnitedStates => round6(weight * 0.453_592_37),
            FitbitUnits::UnitedKingdom => round6(weight * 6.350_293_18),
        }
    }

    fn meters(self, distance: f64) -> f64 {
        match self {
            FitbitUnits::Metric | FitbitUnits::UnitedKingdom => round6(distance * 1000.0),
            FitbitUnits::UnitedStates => round6(distance * 1609.344),
        }
    }
}

/// What the caller knows about a Fitbit response that the response does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FitbitOptions {
    /// UTC offset of the user's local times, in minutes (east positive). Fitbit's profile
    /// gives `offsetFromUTCMillis`; one offset serves the whole payload.
    pub utc_offset_minutes: i32,
    /// The unit system of the request.
    pub units: FitbitUnits,
    /// The `{date}` of an `activities/date/{date}` request (`YYYY-MM-DD`).
    pub date: Option<String>,
}

/// The longest sleep log read from `startTime` + `duration`: two days, in milliseconds.
const MAX_SLEEP_MS: f64 = 2.0 * 86_400_000.0;

const EXPECTED: &str = "`activities-heart`, `activities-steps`, `sleep`, `weight`, `summary` (activities date summary)";

/// Reads one Fitbit Web API response with the default [`FitbitOptions`] (UTC, metric, no
/// summary date).
pub fn parse(json: &[u8], sink: &mut impl SampleSink) -> Result<ParseReport, Error> {
    parse_with(json, &FitbitOptions::default(), sink)
}

/// Reads one Fitbit Web API response, pushing a [`Sample`](super::Sample) per value.
///
/// Errors: invalid JSON ([`Error::Malformed`] at its line and column), a document that is
/// none of the endpoints above (at `/`), or an offset beyond ±18 h in the options.
pub fn parse_with(
    json: &[u8],
    options: &FitbitOptions,
    sink: &mut impl SampleSink,
) -> Result<ParseReport, Error> {
    let offset = options.utc_offset_minutes;
    if offset.checked_mul(60).and_then(valid_offset).is_none() {
        return Err(Error::Malformed {
            position: "FitbitOptions::utc_offset_minutes".to_owned(),
            reason: format!("{offset} minutes is not a UTC offset (±18 h at most)"),
        });
    }
    let doc = parse_document(json)?;
    let Some(map) = doc.as_object() else {
        return Err(not_a_payload("Fitbit", EXPECTED, &doc));
    };
    let known = [
        "activities-heart",
        "activities-steps",
        "sleep",
        "weight",
        "summary",
    ];
    if !known.iter().any(|key| map.contains_key(*key)) {
        return Err(not_a_payload("Fitbit", EXPECTED, &doc));
    }
    let mut reader = Reader {
        out: Emitter::new(sink),
        options,
    };
    reader.time_series(map, "heart", Metric::RestingHeartRate);
    reader.time_series(map, "steps", Metric::Steps);
    reader.sleep(map);
    reader.weight(map);
    reader.day_summary(map);
    Ok(reader.out.finish())
}

struct Reader<'a, 'o> {
    out: Emitter<'a>,
    options: &'o FitbitOptions,
}

impl Reader<'_, '_> {
    /// A local Fitbit date-time with the caller's offset.
    fn local(&self, text: &str) -> Option<String> {
        let (seconds, nanos) = parse_local(text)?;
        Some(self.at(seconds, nanos))
    }

    /// Local seconds (as if UTC) written with the caller's offset.
    fn at(&self, local_seconds: i64, nanos: u32) -> String {
        let offset = self.options.utc_offset_minutes * 60;
        format_instant(local_seconds - i64::from(offset), nanos, Some(offset))
    }

    fn list<'m>(&mut self, map: &'m Map<String, Value>, key: &str) -> &'m [Value] {
        match map.get(key) {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => &[],
            Some(_) => {
                self.out
                    .skip(ptr("", key), format!("`{key}` is not a list"));
                &[]
            }
        }
    }

    /// `activities-{resource}` daily entries and its `-intraday` dataset.
    fn time_series(&mut self, map: &Map<String, Value>, resource: &str, daily: Metric) {
        let key = format!("activities-{resource}");
        if !map.contains_key(&key) {
            return;
        }
        let days = self.list(map, &key);
        let origin = Origin {
            record_id: None,
            device: None,
            vendor_code: &key,
        };
        for (i, day) in days.iter().enumerate() {
            let at = ptr(&ptr("", &key), i);
            let Some(date) = day["dateTime"].as_str().filter(|d| parse_date(d).is_some()) else {
                self.out.skip(at, "no `dateTime` date");
                continue;
            };
            let value = match daily {
                Metric::RestingHeartRate => number(&day["value"]["restingHeartRate"]),
                _ => number(&day["value"]),
            };
            match value {
                Some(v) => {
                    self.out
                        .push(origin.quantity(daily, Effective::Date(date.to_owned()), v))
                }
                None if daily == Metric::RestingHeartRate => self.out.skip(
                    ptr(&at, "value"),
                    format!("no `value.restingHeartRate` for {date}"),
                ),
                None => self.out.skip(ptr(&at, "value"), "no numeric `value`"),
            }
        }

        let intraday_key = format!("{key}-intraday");
        let Some(intraday) = map.get(&intraday_key) else {
            return;
        };
        let base = ptr(&ptr("", &intraday_key), "dataset");
        let points: &[Value] = intraday["dataset"].as_array().map_or(&[], Vec::as_slice);
        let day = days
            .first()
            .and_then(|d| d["dateTime"].as_str())
            .and_then(parse_date);
        let interval = intraday["datasetInterval"]
            .as_i64()
            .filter(|n| (1..=1440).contains(n))
            .unwrap_or(1);
        let step = match intraday["datasetType"].as_str() {
            Some("second") => 1,
            _ => 60,
        } * interval;
        let origin = Origin {
            record_id: None,
            device: None,
            vendor_code: &intraday_key,
        };
        for (i, point) in points.iter().enumerate() {
            let at = ptr(&base, i);
            let Some(day) = day else {
                self.out
                    .skip(at, format!("no date: `{key}[0].dateTime` is missing"));
                continue;
            };
            let time = point["time"].as_str().and_then(parse_time_of_day);
            let (Some((seconds, nanos)), Some(value)) = (time, number(&point["value"])) else {
                self.out
                    .skip(at, "needs a `time` hh:mm:ss and a numeric `value`");
                continue;
            };
            let start = day * 86_400 + seconds;
            let effective = if resource == "heart" {
                Effective::Instant(self.at(start, nanos))
            } else {
                Effective::Period {
                    start: self.at(start, nanos),
                    end: self.at(start + step, nanos),
                }
            };
            let metric = if resource == "heart" {
                Metric::HeartRate
            } else {
                Metric::Steps
            };
            self.out.push(origin.quantity(metric, effective, value));
        }
    }

    fn sleep(&mut self, map: &Map<String, Value>) {
        for (i, log) in self.list(map, "sleep").iter().enumerate() {
            let at = ptr("/sleep", i);
            let record_id = id_text(&log["logId"]);
            let start = log["startTime"].as_str().and_then(parse_local);
            let end = match log["endTime"].as_str() {
                Some(end) => parse_local(end),
                // `duration` is in milliseconds.
                None => start
                    .zip(number(&log["duration"]).filter(|ms| (0.0..=MAX_SLEEP_MS).contains(ms)))
                    .map(|((s, n), ms)| (s + (ms / 1000.0).floor() as i64, n)),
            };
            let (Some(start), Some(end)) = (start, end) else {
                self.out.skip(
                    at,
                    "needs a local `startTime` and an `endTime` or `duration`",
                );
                continue;
            };
            let Some(stages) = sleep_stages(log) else {
                self.out.skip(
                    at,
                    "no minutes per stage (`levels.summary`) and no `minutesAsleep`",
                );
                continue;
            };
            let origin = Origin {
                record_id: record_id.as_deref(),
                device: None,
                vendor_code: "sleep",
            };
            let effective = Effective::Period {
                start: self.at(start.0, start.1),
                end: self.at(end.0, end.1),
            };
            self.out
                .push(origin.sample(Metric::Sleep, effective, Reading::Sleep { stages }));
        }
    }

    fn weight(&mut self, map: &Map<String, Value>) {
        for (i, log) in self.list(map, "weight").iter().enumerate() {
            let at = ptr("/weight", i);
            let time = log["time"].as_str().unwrap_or("00:00:00");
            let when = log["date"]
                .as_str()
                .and_then(|date| self.local(&format!("{date}T{time}")));
            let (Some(when), Some(weight)) = (when, number(&log["weight"])) else {
                self.out
                    .skip(at, "needs a `date`, a `time` and a numeric `weight`");
                continue;
            };
            let record_id = id_text(&log["logId"]);
            let origin = Origin {
                record_id: record_id.as_deref(),
                device: None,
                vendor_code: "body/log/weight",
            };
            let kg = self.options.units.kilograms(weight);
            self.out
                .push(origin.quantity(Metric::BodyWeight, Effective::Instant(when), kg));
        }
    }

    /// `activities/date/{date}`: the logged exercises and the day's summary.
    fn day_summary(&mut self, map: &Map<String, Value>) {
        for (i, activity) in self.list(map, "activities").iter().enumerate() {
            let name = activity["name"].as_str().unwrap_or("activity");
            self.out.skip(
                ptr("/activities", i),
                format!("logged exercise `{name}`: exercise sessions are not mapped"),
            );
        }
        let Some(summary) = map.get("summary").and_then(Value::as_object) else {
            return;
        };
        // `sleep/date` responses carry a `summary` of their own: nothing daily in it.
        if map.contains_key("sleep") {
            return;
        }
        let date = self.options.date.as_deref();
        let Some(day) = date.and_then(parse_date) else {
            let reason = match date {
                None => {
                    "an activities date summary does not name its day: pass `FitbitOptions::date`"
                        .to_owned()
                }
                Some(d) => format!("`FitbitOptions::date` `{d}` is not YYYY-MM-DD"),
            };
            self.out.skip("/summary", reason);
            return;
        };
        let date = format_date(day);
        let origin = Origin {
            record_id: None,
            device: None,
            vendor_code: "activities/date",
        };
        let total_distance = summary
            .get("distances")
            .and_then(Value::as_array)
            .and_then(|all| all.iter().find(|d| d["activity"] == "total"))
            .and_then(|d| number(&d["distance"]))
            .map(|d| self.options.units.meters(d));
        let figures = [
            (Metric::Steps, summary.get("steps").and_then(number)),
            (Metric::Distance, total_distance),
            (
                Metric::ActiveEnergy,
                summary.get("activityCalories").and_then(number),
            ),
            (
                Metric::RestingHeartRate,
                summary.get("restingHeartRate").and_then(number),
            ),
        ];
        for (metric, value) in figures {
            if let Some(value) = value {
                self.out
                    .push(origin.quantity(metric, Effective::Date(date.clone()), value));
            }
        }
    }
}

/// Minutes per stage of one sleep log: `levels.summary` in Fitbit's stage order, or the
/// log's `minutesAsleep` (and `minutesAwake`) when it has no levels.
fn sleep_stages(log: &Value) -> Option<Vec<(SleepStage, f64)>> {
    let summary = &log["levels"]["summary"];
    let minutes = |key: &str| number(&summary[key]["minutes"]);
    let mut stages = Vec::new();
    if summary.get("deep").is_some() || summary.get("rem").is_some() {
        for (key, stage) in [
            ("deep", SleepStage::Deep),
            ("light", SleepStage::Light),
            ("rem", SleepStage::Rem),
            ("wake", SleepStage::Awake),
        ] {
            if let Some(m) = minutes(key) {
                stages.push((stage, m));
            }
        }
    } else if summary.get("asleep").is_some() {
        if let Some(m) = minutes("asleep") {
            stages.push((SleepStage::Asleep, m));
        }
        // Fitbit counts restless minutes as awake (minutesAwake = restless + awake).
        let awake: Option<f64> = match (minutes("restless"), minutes("awake")) {
            (None, None) => None,
            (r, a) => Some(r.unwrap_or(0.0) + a.unwrap_or(0.0)),
        };
        if let Some(m) = awake {
            stages.push((SleepStage::Awake, m));
        }
    } else if let Some(asleep) = number(&log["minutesAsleep"]) {
        stages.push((SleepStage::Asleep, asleep));
        if let Some(awake) = number(&log["minutesAwake"]) {
            stages.push((SleepStage::Awake, awake));
        }
    }
    (!stages.is_empty()).then_some(stages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wearable::Sample;

    fn read(json: &str, options: &FitbitOptions) -> (Vec<Sample>, ParseReport) {
        let mut samples = Vec::new();
        let report = parse_with(json.as_bytes(), options, &mut samples).unwrap();
        (samples, report)
    }

    #[test]
    fn stages_sleep_and_us_units() {
        let json = r#"{
          "sleep": [{"logId": 7, "startTime": "2024-03-01T23:30:00.000", "duration": 27000000,
                     "type": "stages",
                     "levels": {"summary": {"deep": {"count": 3, "minutes": 80},
                                            "light": {"count": 20, "minutes": 230},
                                            "rem": {"count": 5, "minutes": 95},
                                            "wake": {"count": 25, "minutes": 45}}}}],
          "weight": [{"date": "2024-03-02", "time": "07:00:00", "weight": 150, "logId": 9}]
        }"#;
        let options = FitbitOptions {
            utc_offset_minutes: -300,
            units: FitbitUnits::UnitedStates,
            date: None,
        };
        let (samples, report) = read(json, &options);
        assert_eq!(report.records, 2);
        // 23:30 local + 27 000 000 ms (7.5 h) = 07:00 the next morning, at -05:00.
        assert_eq!(
            samples[0].effective,
            Effective::Period {
                start: "2024-03-01T23:30:00-05:00".into(),
                end: "2024-03-02T07:00:00-05:00".into()
            }
        );
        assert_eq!(
            samples[0].reading,
            Reading::Sleep {
                stages: vec![
                    (SleepStage::Deep, 80.0),
                    (SleepStage::Light, 230.0),
                    (SleepStage::Rem, 95.0),
                    (SleepStage::Awake, 45.0)
                ]
            }
        );
        // 150 lb × 0.45359237 = 68.0388555 kg.
        assert_eq!(samples[1].reading, Reading::Quantity(68.038_856));
        assert_eq!(samples[1].record_id.as_deref(), Some("9"));
    }

    #[test]
    fn summary_day_comes_from_the_options() {
        let json = r#"{"summary": {"steps": 5000, "restingHeartRate": 58,
                       "distances": [{"activity": "total", "distance": 2.5}]}}"#;
        let (none, report) = read(json, &FitbitOptions::default());
        assert!(none.is_empty());
        assert_eq!(report.skipped[0].position, "/summary");
        let options = FitbitOptions {
            units: FitbitUnits::UnitedStates,
            date: Some("2024-03-02".into()),
            ..FitbitOptions::default()
        };
        let (samples, _) = read(json, &options);
        let got: Vec<(Metric, Reading)> = samples
            .iter()
            .map(|s| (s.metric, s.reading.clone()))
            .collect();
        // 2.5 mi = 4023.36 m.
        assert_eq!(
            got,
            [
                (Metric::Steps, Reading::Quantity(5000.0)),
                (Metric::Distance, Reading::Quantity(4023.36)),
                (Metric::RestingHeartRate, Reading::Quantity(58.0)),
            ]
        );
        assert_eq!(samples[0].effective, Effective::Date("2024-03-02".into()));
    }

    #[test]
    fn unknown_shape_lists_what_is_expected() {
        let mut samples = Vec::new();
        let err = parse(br#"{"foods": []}"#, &mut samples).unwrap_err();
        let Error::Malformed { position, reason } = err else {
            panic!("{err:?}")
        };
        assert_eq!(position, "/");
        assert!(reason.starts_with("not a Fitbit payload: expected one of `activities-heart`"));
        assert!(reason.ends_with("found keys `foods`"), "{reason}");
    }
}
