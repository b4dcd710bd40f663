//! Baselines and episodes as FHIR R4 resources, and the CodeSystems they use.
//!
//! The twin's results are ordinary resources, so every FHIR client can read them, search
//! them and subscribe to them, and the server stores them like any other write:
//!
//! * **Baselines** are [Observation](https://hl7.org/fhir/R4/observation.html)s: `code`
//!   = the metric's LOINC code (the HealthOS wearable code where LOINC has none), `method`
//!   = `twin-method#baseline-30d` (`-90d`, `-180d`), `effectivePeriod` = the window,
//!   `valueQuantity` = the median in the metric's UCUM unit, components for MAD, mean, SD,
//!   count and coverage (`twin-statistic`), `derivedFrom` = the 10 most recent source
//!   Observations (a 180-day baseline has 180 sources; the newest ten show where it comes
//!   from without making the resource grow with the window), `status` `preliminary` or
//!   `final` by [`BaselineStatus`].
//! * **Episodes** are a [Flag](https://hl7.org/fhir/R4/flag.html) (what a chart shows:
//!   `active` while ongoing, `inactive` once resolved) pointing through the standard
//!   `flag-detail` extension to a [DetectedIssue](https://hl7.org/fhir/R4/detectedissue.html)
//!   (the explanation: severity, evidence references, the sentence with the numbers, and
//!   the recommendation as `mitigation`). The reference is conditional
//!   (`DetectedIssue?identifier=…`) because the DetectedIssue's server id is unknown
//!   here; the server stores the DetectedIssue first (or in the same transaction).
//! * **Identity.** Nothing has an `id`; each resource has one identifier under
//!   [`TWIN_IDENTIFIER_SYSTEM`] and the server stores it by conditional update on it, so a
//!   recomputation updates instead of duplicating: `<patient>/baseline/<metric
//!   code>/<window>d` (one current baseline per metric and window),
//!   `<patient>/episode/<detector code>/<start>` for the Flag and
//!   `<patient>/episode-issue/<detector code>/<start>` for its DetectedIssue (an episode
//!   is its detector and start day; it grows and closes under the same identity).
//! * **Model version.** Everything carries `meta.tag` [`MODEL_SYSTEM`]`|`[`MODEL_VERSION`],
//!   so results of an older model can be found and recomputed.
//! * **Acknowledgement.** A person or clinician may close a Flag before the data does.
//!   An acknowledged Flag is `inactive` with the [`ACKNOWLEDGED_URL`] extension
//!   (`valueDateTime`, when); [`reconcile`] keeps it closed while the engine still sees
//!   the episode. The server adds the extension when it closes a Flag for a person
//!   (`$acknowledge`, or an update setting `status` to `inactive`).

use mappers::units::UCUM;
use mappers::vitals::{LOINC, OBSERVATION_CATEGORY};
use mappers::wearable::WEARABLE_CODE_SYSTEM;
use mappers::wearable::fhir::decimal_text;
use serde_json::{Map, Number, Value, json};

use crate::baseline::{Baseline, BaselineStatus};
use crate::config::Config;
use crate::detect::{Detector, Episode, Recommendation};
use crate::{MODEL_VERSION, Metric};

/// The conditional reference `<type>?identifier=<system>|<value>`, escaped as the server
/// reads it (commas as `\,`, then percent-encoding), as `mappers` writes its own.
pub use mappers::wearable::fhir::identifier_reference;

/// The identifier system of everything the twin writes.
pub const TWIN_IDENTIFIER_SYSTEM: &str = "https://healthos.dev/fhir/twin";
/// Baseline methods (`baseline-30d`, …).
pub const METHOD_SYSTEM: &str = "https://healthos.dev/fhir/CodeSystem/twin-method";
/// Baseline statistics (`mad`, `mean`, `sd`, `count`, `coverage`).
pub const STATISTIC_SYSTEM: &str = "https://healthos.dev/fhir/CodeSystem/twin-statistic";
/// Alert codes, one per [`Detector`].
pub const ALERT_SYSTEM: &str = "https://healthos.dev/fhir/CodeSystem/twin-alert";
/// Recommendation codes, one per [`Recommendation`].
pub const RECOMMENDATION_SYSTEM: &str = "https://healthos.dev/fhir/CodeSystem/twin-recommendation";
/// Model versions, in `meta.tag`.
pub const MODEL_SYSTEM: &str = "https://healthos.dev/fhir/CodeSystem/twin-model";
/// The R4 extension on Flag pointing at the resource that explains it.
pub const FLAG_DETAIL_URL: &str = "http://hl7.org/fhir/StructureDefinition/flag-detail";
/// HealthOS extension on a Flag closed by a person: `valueDateTime` = when.
pub const ACKNOWLEDGED_URL: &str = "https://healthos.dev/fhir/StructureDefinition/acknowledged";
/// Flag categories.
pub const FLAG_CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/flag-category";
/// How many source Observations a baseline lists in `derivedFrom`.
pub const DERIVED_FROM_LIMIT: usize = 10;

/// The author named on Flags and DetectedIssues.
const AUTHOR: &str = "HealthOS digital twin";

/// How a metric is coded: `(system, code, display)`.
pub fn metric_coding(metric: Metric) -> (&'static str, &'static str, &'static str) {
    match metric {
        Metric::RestingHeartRate => (LOINC, "40443-4", "Heart rate --resting"),
        Metric::HrvRmssd => (
            WEARABLE_CODE_SYSTEM,
            "hrv-rmssd",
            "Heart rate variability, RMSSD",
        ),
        Metric::HrvSdnn => (
            LOINC,
            "80404-7",
            "R-R interval.standard deviation (Heart rate variability)",
        ),
        Metric::SleepDuration => (LOINC, "93832-4", "Sleep duration"),
        Metric::Steps => (LOINC, "41950-7", "Number of steps in 24 hour Measured"),
        Metric::OxygenSaturation => (LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
        Metric::RespiratoryRate => (LOINC, "9279-1", "Respiratory rate"),
        Metric::TemperatureDeviation => (
            WEARABLE_CODE_SYSTEM,
            "temperature-deviation",
            "Skin temperature deviation from personal baseline",
        ),
        Metric::Glucose => (LOINC, "2339-0", "Glucose [Mass/volume] in Blood"),
        Metric::GlucoseTimeInRange => (
            LOINC,
            "97510-2",
            "Glucose measurements in range out of Total glucose measurements during reporting period",
        ),
        Metric::SystolicBloodPressure => (LOINC, "8480-6", "Systolic blood pressure"),
        Metric::DiastolicBloodPressure => (LOINC, "8462-4", "Diastolic blood pressure"),
    }
}

/// The Observation category of a metric: `vital-signs`, `activity` (sleep, steps) or
/// `laboratory` (glucose, as the mapping notes class it).
pub fn metric_category(metric: Metric) -> (&'static str, &'static str) {
    match metric {
        Metric::SleepDuration | Metric::Steps => ("activity", "Activity"),
        Metric::Glucose | Metric::GlucoseTimeInRange => ("laboratory", "Laboratory"),
        _ => ("vital-signs", "Vital Signs"),
    }
}

/// The `twin-method` code of a window: `baseline-30d`.
pub fn method_code(window_days: u32) -> String {
    format!("baseline-{window_days}d")
}

/// The `meta` with the model tag.
fn meta() -> Value {
    json!({"tag": [{"system": MODEL_SYSTEM, "code": MODEL_VERSION, "display": format!("HealthOS twin model {MODEL_VERSION}")}]})
}

fn identifier(value: String) -> Value {
    json!([{"system": TWIN_IDENTIFIER_SYSTEM, "value": value}])
}

/// `value` rounded to `places` decimals, trailing zeros dropped, as a JSON number.
fn decimal(value: f64, places: usize) -> Value {
    decimal_text(value, places)
        .parse::<Number>()
        .map_or(Value::Null, Value::Number)
}

fn quantity(value: f64, metric: Metric) -> Value {
    let places = if metric == Metric::Steps { 0 } else { 2 };
    let unit = metric.unit();
    json!({"value": decimal(value, places), "unit": unit, "system": UCUM, "code": unit})
}

fn statistic(code: &str, display: &str, value: (&str, Value)) -> Value {
    let mut c = Map::new();
    c.insert(
        "code".into(),
        json!({"coding": [{"system": STATISTIC_SYSTEM, "code": code, "display": display}]}),
    );
    c.insert(value.0.into(), value.1);
    Value::Object(c)
}

/// The baseline as an Observation (see the [module docs](self)); `patient` is a
/// reference (`Patient/123`).
pub fn baseline_observation(patient: &str, b: &Baseline) -> Value {
    let (system, code, display) = metric_coding(b.metric);
    let (category, category_display) = metric_category(b.metric);
    let derived: Vec<Value> = b
        .sources
        .iter()
        .rev()
        .take(DERIVED_FROM_LIMIT)
        .map(|s| json!({"reference": s}))
        .collect();
    let mut o = Map::new();
    o.insert("resourceType".into(), json!("Observation"));
    o.insert("meta".into(), meta());
    o.insert(
        "identifier".into(),
        identifier(format!("{patient}/baseline/{code}/{}d", b.window_days)),
    );
    o.insert(
        "status".into(),
        json!(match b.status {
            BaselineStatus::Preliminary => "preliminary",
            BaselineStatus::Stable => "final",
        }),
    );
    o.insert(
        "category".into(),
        json!([{"coding": [{"system": OBSERVATION_CATEGORY, "code": category, "display": category_display}]}]),
    );
    o.insert(
        "code".into(),
        json!({
            "coding": [{"system": system, "code": code, "display": display}],
            "text": format!("{display}, {}-day personal baseline", b.window_days)
        }),
    );
    o.insert("subject".into(), json!({"reference": patient}));
    o.insert(
        "effectivePeriod".into(),
        json!({"start": b.start, "end": b.end}),
    );
    o.insert("valueQuantity".into(), quantity(b.median, b.metric));
    o.insert(
        "method".into(),
        json!({"coding": [{
            "system": METHOD_SYSTEM,
            "code": method_code(b.window_days),
            "display": format!("{}-day personal baseline", b.window_days)
        }]}),
    );
    if !derived.is_empty() {
        o.insert("derivedFrom".into(), Value::Array(derived));
    }
    let count = u64::try_from(b.count).unwrap_or(u64::MAX);
    o.insert(
        "component".into(),
        json!([
            statistic(
                "mad",
                "Median absolute deviation",
                ("valueQuantity", quantity(b.mad, b.metric))
            ),
            statistic("mean", "Mean", ("valueQuantity", quantity(b.mean, b.metric))),
            statistic(
                "sd",
                "Standard deviation",
                ("valueQuantity", quantity(b.sd, b.metric))
            ),
            statistic("count", "Days with data", ("valueInteger", json!(count))),
            statistic(
                "coverage",
                "Share of the window's days with data",
                (
                    "valueQuantity",
                    json!({"value": decimal(100.0 * b.coverage, 1), "unit": "%", "system": UCUM, "code": "%"})
                )
            ),
        ]),
    );
    Value::Object(o)
}

/// The identifier value of an episode's Flag: `<patient>/episode/<detector>/<start>`.
pub fn flag_identifier(patient: &str, e: &Episode) -> String {
    format!("{patient}/episode/{}/{}", e.detector.code(), e.start)
}

/// The identifier value of an episode's DetectedIssue:
/// `<patient>/episode-issue/<detector>/<start>`.
pub fn detected_issue_identifier(patient: &str, e: &Episode) -> String {
    format!("{patient}/episode-issue/{}/{}", e.detector.code(), e.start)
}

fn alert_code(detector: Detector) -> Value {
    json!({
        "coding": [{"system": ALERT_SYSTEM, "code": detector.code(), "display": detector.display()}],
        "text": detector.display()
    })
}

/// The episode's Flag (see the [module docs](self)): `active` while ongoing, `inactive`
/// with `period.end` once resolved. Pass it through [`reconcile`] before storing.
pub fn flag(patient: &str, e: &Episode) -> Value {
    let issue = identifier_reference(
        "DetectedIssue",
        TWIN_IDENTIFIER_SYSTEM,
        &detected_issue_identifier(patient, e),
    );
    let mut period = Map::new();
    period.insert("start".into(), json!(e.start));
    if let Some(end) = &e.resolved_on {
        period.insert("end".into(), json!(end));
    }
    let mut f = Map::new();
    f.insert("resourceType".into(), json!("Flag"));
    f.insert("meta".into(), meta());
    f.insert(
        "extension".into(),
        json!([{"url": FLAG_DETAIL_URL, "valueReference": {"reference": issue, "display": e.detail}}]),
    );
    f.insert("identifier".into(), identifier(flag_identifier(patient, e)));
    f.insert(
        "status".into(),
        json!(if e.is_ongoing() { "active" } else { "inactive" }),
    );
    f.insert(
        "category".into(),
        json!([{"coding": [{"system": FLAG_CATEGORY_SYSTEM, "code": "clinical", "display": "Clinical"}]}]),
    );
    f.insert("code".into(), alert_code(e.detector));
    f.insert("subject".into(), json!({"reference": patient}));
    f.insert("period".into(), Value::Object(period));
    f.insert("author".into(), json!({"display": AUTHOR}));
    Value::Object(f)
}

/// The episode's DetectedIssue (see the [module docs](self)): `preliminary` while
/// ongoing (it may still grow), `final` once resolved; `identifiedDateTime` = the last
/// day the condition held; `implicated` and `evidence.detail` = the evidence references;
/// `mitigation[0].action` = the recommendation code with the plain sentence as text.
pub fn detected_issue(patient: &str, e: &Episode) -> Value {
    let references: Vec<Value> = e
        .evidence_references()
        .into_iter()
        .map(|r| json!({"reference": r}))
        .collect();
    let recommendation: Recommendation = e.recommendation;
    let mut d = Map::new();
    d.insert("resourceType".into(), json!("DetectedIssue"));
    d.insert("meta".into(), meta());
    d.insert(
        "identifier".into(),
        identifier(detected_issue_identifier(patient, e)),
    );
    d.insert(
        "status".into(),
        json!(if e.is_ongoing() {
            "preliminary"
        } else {
            "final"
        }),
    );
    d.insert("code".into(), alert_code(e.detector));
    d.insert("severity".into(), json!(e.severity.code()));
    d.insert("patient".into(), json!({"reference": patient}));
    d.insert("identifiedDateTime".into(), json!(e.last));
    d.insert("author".into(), json!({"display": AUTHOR}));
    if !references.is_empty() {
        d.insert("implicated".into(), Value::Array(references.clone()));
        d.insert("evidence".into(), json!([{"detail": references}]));
    }
    d.insert("detail".into(), json!(e.detail));
    d.insert(
        "mitigation".into(),
        json!([{"action": {
            "coding": [{
                "system": RECOMMENDATION_SYSTEM,
                "code": recommendation.code(),
                "display": recommendation.display()
            }],
            "text": e.advice()
        }}]),
    );
    Value::Object(d)
}

/// Whether a stored Flag was closed by a person: `inactive` with an [`ACKNOWLEDGED_URL`]
/// extension carrying a `valueDateTime`.
pub fn acknowledged(flag: &Value) -> bool {
    flag["status"] == "inactive"
        && flag["extension"].as_array().is_some_and(|extensions| {
            extensions
                .iter()
                .any(|x| x["url"] == ACKNOWLEDGED_URL && x["valueDateTime"].is_string())
        })
}

/// The Flag to store, given the newly computed one and the stored one with the same
/// identifier: a Flag the person closed stays `inactive` even while the engine still sees
/// the episode — acknowledged through `$acknowledge` (keeping its acknowledgement), or set
/// `inactive` by an update of its status (the engine itself writes `inactive` only for a
/// resolved episode, so a stored `inactive` Flag of an ongoing one was closed by a
/// person); otherwise the new Flag is stored as is.
pub fn reconcile(new_flag: Value, stored: Option<&Value>) -> Value {
    let closed_by_person = |s: &&Value| {
        acknowledged(s) || (s["status"] == "inactive" && new_flag["status"] == "active")
    };
    let Some(stored) = stored.filter(closed_by_person) else {
        return new_flag;
    };
    let mut flag = new_flag;
    flag["status"] = json!("inactive");
    let acks: Vec<Value> = stored["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| x["url"] == ACKNOWLEDGED_URL)
        .cloned()
        .collect();
    if let Some(extensions) = flag["extension"].as_array_mut() {
        extensions.retain(|x| x["url"] != ACKNOWLEDGED_URL);
        extensions.extend(acks);
    } else {
        flag["extension"] = Value::Array(acks);
    }
    flag
}

/// One concept: `(code, display, definition)`.
type Concept = (String, String, String);

fn code_system(
    name: &str,
    title: &str,
    url: &str,
    description: &str,
    concepts: Vec<Concept>,
) -> Value {
    let concept: Vec<Value> = concepts
        .iter()
        .map(|(code, display, definition)| {
            json!({"code": code, "display": display, "definition": definition})
        })
        .collect();
    json!({
        "resourceType": "CodeSystem",
        "meta": meta(),
        "url": url,
        "version": MODEL_VERSION,
        "name": name,
        "title": title,
        "status": "active",
        "experimental": false,
        "publisher": "HealthOS",
        "description": description,
        "caseSensitive": true,
        "content": "complete",
        "count": concept.len(),
        "concept": concept
    })
}

fn owned(code: &str, display: &str, definition: &str) -> Concept {
    (code.to_owned(), display.to_owned(), definition.to_owned())
}

/// The CodeSystems the twin's resources use (twin-method, twin-statistic, twin-alert,
/// twin-recommendation, twin-model), for the server to store by conditional update on
/// `url`.
pub fn code_systems() -> Vec<Value> {
    let windows = Config::default().windows;
    let methods = windows
        .iter()
        .map(|w| {
            owned(
                &method_code(*w),
                &format!("{w}-day personal baseline"),
                &format!(
                    "Median (centre), median absolute deviation, mean, standard deviation, count and coverage of the person's daily values over the {w} days before the baseline's date; preliminary below 3 days with data, final from 14."
                ),
            )
        })
        .collect();
    let statistics = vec![
        owned(
            "mad",
            "Median absolute deviation",
            "The median of the absolute deviations of the daily values from their median, unscaled (times 1.4826 estimates the standard deviation).",
        ),
        owned("mean", "Mean", "The arithmetic mean of the daily values."),
        owned(
            "sd",
            "Standard deviation",
            "The sample standard deviation (n - 1) of the daily values.",
        ),
        owned(
            "count",
            "Days with data",
            "The number of days with a value in the window.",
        ),
        owned(
            "coverage",
            "Coverage",
            "Days with data as a percentage of the window's days.",
        ),
    ];
    let alerts = Detector::ALL
        .iter()
        .map(|d| owned(d.code(), d.display(), d.definition()))
        .collect();
    let recommendations = Recommendation::ALL
        .iter()
        .map(|r| owned(r.code(), r.display(), r.definition()))
        .collect();
    let models = vec![owned(
        MODEL_VERSION,
        &format!("HealthOS twin model {MODEL_VERSION}"),
        "Robust personal baselines (median and MAD) over 30, 90 and 180 days; detectors comparing each day with the 30-day baseline in robust standard deviations with per-metric floors, opening an episode after N consecutive qualifying days (fewer for a resting heart rate corroborated by skin temperature or respiratory rate) and closing it after 2 recovered days.",
    )];
    vec![
        code_system(
            "TwinMethod",
            "HealthOS twin baseline methods",
            METHOD_SYSTEM,
            "How a HealthOS personal baseline Observation was computed: one code per window.",
            methods,
        ),
        code_system(
            "TwinStatistic",
            "HealthOS twin baseline statistics",
            STATISTIC_SYSTEM,
            "The statistics a HealthOS personal baseline Observation carries as components.",
            statistics,
        ),
        code_system(
            "TwinAlert",
            "HealthOS twin alerts",
            ALERT_SYSTEM,
            "The early-warning patterns the HealthOS digital twin detects; the code of its Flags and DetectedIssues.",
            alerts,
        ),
        code_system(
            "TwinRecommendation",
            "HealthOS twin recommendations",
            RECOMMENDATION_SYSTEM,
            "What the HealthOS digital twin advises with an alert, chosen by rule; never a diagnosis.",
            recommendations,
        ),
        code_system(
            "TwinModel",
            "HealthOS twin model versions",
            MODEL_SYSTEM,
            "Versions of the HealthOS digital twin engine, carried in meta.tag of everything it writes.",
            models,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Severity;
    use crate::{DailyValue, MedicationDose};

    fn baseline(status: BaselineStatus) -> Baseline {
        Baseline {
            metric: Metric::RestingHeartRate,
            window_days: 30,
            start: "2024-02-20".into(),
            end: "2024-03-20".into(),
            median: 58.0,
            mad: 1.0,
            mean: 58.25,
            sd: 0.8333333,
            count: 12,
            coverage: 0.4,
            status,
            sources: (1..=12).map(|k| format!("Observation/rhr-{k}")).collect(),
        }
    }

    #[test]
    fn baseline_observation_shape() {
        let o = baseline_observation("Patient/123", &baseline(BaselineStatus::Stable));
        let keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "resourceType",
                "meta",
                "identifier",
                "status",
                "category",
                "code",
                "subject",
                "effectivePeriod",
                "valueQuantity",
                "method",
                "derivedFrom",
                "component"
            ]
        );
        assert_eq!(o["meta"]["tag"][0]["system"], MODEL_SYSTEM);
        assert_eq!(o["meta"]["tag"][0]["code"], "1");
        assert_eq!(
            o["identifier"][0]["system"],
            "https://healthos.dev/fhir/twin"
        );
        assert_eq!(
            o["identifier"][0]["value"],
            "Patient/123/baseline/40443-4/30d"
        );
        assert_eq!(o["status"], "final");
        assert_eq!(o["category"][0]["coding"][0]["code"], "vital-signs");
        assert_eq!(o["code"]["coding"][0]["system"], "http://loinc.org");
        assert_eq!(o["code"]["coding"][0]["code"], "40443-4");
        assert_eq!(o["subject"]["reference"], "Patient/123");
        assert_eq!(
            o["effectivePeriod"],
            json!({"start": "2024-02-20", "end": "2024-03-20"})
        );
        assert_eq!(
            o["valueQuantity"],
            json!({"value": 58, "unit": "/min", "system": UCUM, "code": "/min"})
        );
        assert_eq!(o["valueQuantity"]["value"].to_string(), "58");
        assert_eq!(o["method"]["coding"][0]["code"], "baseline-30d");
        // The ten most recent sources, newest first.
        let derived = o["derivedFrom"].as_array().unwrap();
        assert_eq!(derived.len(), 10);
        assert_eq!(derived[0]["reference"], "Observation/rhr-12");
        assert_eq!(derived[9]["reference"], "Observation/rhr-3");
        let c = &o["component"];
        assert_eq!(c[0]["code"]["coding"][0]["code"], "mad");
        assert_eq!(c[0]["valueQuantity"]["value"].to_string(), "1");
        assert_eq!(c[1]["valueQuantity"]["value"].to_string(), "58.25");
        assert_eq!(c[2]["valueQuantity"]["value"].to_string(), "0.83");
        assert_eq!(c[3]["code"]["coding"][0]["code"], "count");
        assert_eq!(c[3]["valueInteger"], 12);
        assert_eq!(c[4]["valueQuantity"]["value"].to_string(), "40");
        assert_eq!(c[4]["valueQuantity"]["unit"], "%");

        let p = baseline_observation("Patient/123", &baseline(BaselineStatus::Preliminary));
        assert_eq!(p["status"], "preliminary");
    }

    #[test]
    fn metrics_without_loinc_use_the_wearable_code() {
        let mut b = baseline(BaselineStatus::Stable);
        b.metric = Metric::HrvRmssd;
        b.window_days = 90;
        b.sources.clear();
        let o = baseline_observation("Patient/1", &b);
        assert_eq!(o["code"]["coding"][0]["system"], WEARABLE_CODE_SYSTEM);
        assert_eq!(
            o["identifier"][0]["value"],
            "Patient/1/baseline/hrv-rmssd/90d"
        );
        assert_eq!(o["method"]["coding"][0]["code"], "baseline-90d");
        assert_eq!(o["valueQuantity"]["unit"], "ms");
        assert!(o.get("derivedFrom").is_none());
        b.metric = Metric::Steps;
        let o = baseline_observation("Patient/1", &b);
        assert_eq!(o["category"][0]["coding"][0]["code"], "activity");
        assert_eq!(o["code"]["coding"][0]["code"], "41950-7");
        assert_eq!(o["valueQuantity"]["unit"], "/d");
        // Every metric has a distinct code, so identifiers never collide.
        let codes: std::collections::BTreeSet<&str> =
            Metric::ALL.iter().map(|m| metric_coding(*m).1).collect();
        assert_eq!(codes.len(), Metric::ALL.len());
    }

    fn episode(resolved: Option<&str>) -> Episode {
        Episode {
            detector: Detector::ElevatedRestingHeartRate,
            metric: Some(Metric::RestingHeartRate),
            start: "2024-03-22".into(),
            last: "2024-03-24".into(),
            opened_on: "2024-03-24".into(),
            resolved_on: resolved.map(str::to_owned),
            severity: Severity::Low,
            evidence: ["22", "23", "24"]
                .iter()
                .map(|d| DailyValue {
                    metric: Metric::RestingHeartRate,
                    day: format!("2024-03-{d}"),
                    value: 70.0,
                    sources: vec![format!("Observation/rhr-{d}")],
                })
                .collect(),
            doses: Vec::new(),
            detail: "resting HR 68, 71, 70 /min on 3 consecutive days vs baseline 58 ± 2 /min (30-day median ± robust SD)".into(),
            recommendation: Recommendation::Rest,
        }
    }

    #[test]
    fn flag_of_an_ongoing_episode() {
        let f = flag("Patient/123", &episode(None));
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "resourceType",
                "meta",
                "extension",
                "identifier",
                "status",
                "category",
                "code",
                "subject",
                "period",
                "author"
            ]
        );
        assert_eq!(f["status"], "active");
        assert_eq!(
            f["identifier"][0]["value"],
            "Patient/123/episode/elevated-resting-heart-rate/2024-03-22"
        );
        assert_eq!(f["extension"][0]["url"], FLAG_DETAIL_URL);
        assert_eq!(
            f["extension"][0]["valueReference"]["reference"],
            "DetectedIssue?identifier=https://healthos.dev/fhir/twin|Patient/123/episode-issue/elevated-resting-heart-rate/2024-03-22"
        );
        assert_eq!(
            f["category"][0]["coding"][0]["system"],
            FLAG_CATEGORY_SYSTEM
        );
        assert_eq!(f["category"][0]["coding"][0]["code"], "clinical");
        assert_eq!(f["code"]["coding"][0]["system"], ALERT_SYSTEM);
        assert_eq!(
            f["code"]["coding"][0]["code"],
            "elevated-resting-heart-rate"
        );
        assert_eq!(f["subject"]["reference"], "Patient/123");
        assert_eq!(f["period"], json!({"start": "2024-03-22"}));
        assert_eq!(f["meta"]["tag"][0]["code"], MODEL_VERSION);
    }

    #[test]
    fn flag_of_a_resolved_episode_is_inactive() {
        let f = flag("Patient/123", &episode(Some("2024-03-25")));
        assert_eq!(f["status"], "inactive");
        assert_eq!(
            f["period"],
            json!({"start": "2024-03-22", "end": "2024-03-25"})
        );
    }

    #[test]
    fn conditional_references_escape_commas_and_encode() {
        assert_eq!(
            identifier_reference("DetectedIssue", "https://x.org/s", "Patient/a,b c|d"),
            "DetectedIssue?identifier=https://x.org/s|Patient/a%5C%2Cb%20c%7Cd"
        );
    }

    #[test]
    fn detected_issue_carries_evidence_detail_and_advice() {
        let d = detected_issue("Patient/123", &episode(None));
        let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "resourceType",
                "meta",
                "identifier",
                "status",
                "code",
                "severity",
                "patient",
                "identifiedDateTime",
                "author",
                "implicated",
                "evidence",
                "detail",
                "mitigation"
            ]
        );
        assert_eq!(
            d["identifier"][0]["value"],
            "Patient/123/episode-issue/elevated-resting-heart-rate/2024-03-22"
        );
        assert_eq!(d["status"], "preliminary");
        assert_eq!(d["severity"], "low");
        assert_eq!(d["patient"]["reference"], "Patient/123");
        assert_eq!(d["identifiedDateTime"], "2024-03-24");
        let refs = json!([
            {"reference": "Observation/rhr-22"},
            {"reference": "Observation/rhr-23"},
            {"reference": "Observation/rhr-24"}
        ]);
        assert_eq!(d["implicated"], refs);
        assert_eq!(d["evidence"][0]["detail"], refs);
        assert_eq!(
            d["detail"],
            "resting HR 68, 71, 70 /min on 3 consecutive days vs baseline 58 ± 2 /min (30-day median ± robust SD)"
        );
        let action = &d["mitigation"][0]["action"];
        assert_eq!(action["coding"][0]["system"], RECOMMENDATION_SYSTEM);
        assert_eq!(action["coding"][0]["code"], "rest");
        assert!(action["text"].as_str().unwrap().starts_with("Take it easy"));
        let resolved = detected_issue("Patient/123", &episode(Some("2024-03-25")));
        assert_eq!(resolved["status"], "final");
    }

    #[test]
    fn missed_medication_evidence_names_the_doses() {
        let mut e = episode(None);
        e.detector = Detector::MissedMedication;
        e.metric = None;
        e.evidence.clear();
        e.doses = vec![MedicationDose {
            day: "2024-03-22".into(),
            taken: false,
            medication: "Metformin".into(),
            source: "MedicationStatement/9".into(),
        }];
        let d = detected_issue("Patient/1", &e);
        assert_eq!(d["implicated"][0]["reference"], "MedicationStatement/9");
        e.doses.clear();
        let d = detected_issue("Patient/1", &e);
        assert!(d.get("implicated").is_none() && d.get("evidence").is_none());
    }

    #[test]
    fn an_acknowledged_flag_stays_closed() {
        let new = flag("Patient/123", &episode(None));
        // Nothing stored, or stored active: the new Flag as computed.
        assert_eq!(reconcile(new.clone(), None), new);
        assert_eq!(reconcile(new.clone(), Some(&new)), new);
        // Closed by an update of its status (no acknowledgement extension) while the
        // episode goes on: stays inactive.
        let mut closed_by_update = new.clone();
        closed_by_update["status"] = json!("inactive");
        assert!(!acknowledged(&closed_by_update));
        assert_eq!(
            reconcile(new.clone(), Some(&closed_by_update))["status"],
            "inactive"
        );
        // A resolved episode's Flag is inactive anyway: stored as computed.
        let mut resolved = new.clone();
        resolved["status"] = json!("inactive");
        resolved["period"]["end"] = json!("2024-03-30");
        assert_eq!(
            reconcile(resolved.clone(), Some(&closed_by_update)),
            resolved
        );
        // Acknowledged: stays inactive and keeps its acknowledgement.
        let mut acked = new.clone();
        acked["status"] = json!("inactive");
        acked["extension"]
            .as_array_mut()
            .unwrap()
            .push(json!({"url": ACKNOWLEDGED_URL, "valueDateTime": "2024-03-25T09:00:00Z"}));
        assert!(acknowledged(&acked));
        let kept = reconcile(new.clone(), Some(&acked));
        assert_eq!(kept["status"], "inactive");
        assert_eq!(kept["extension"].as_array().unwrap().len(), 2);
        assert_eq!(
            kept["extension"][1]["valueDateTime"],
            "2024-03-25T09:00:00Z"
        );
        assert_eq!(kept["period"], new["period"]);
        // An acknowledgement without a time does not count.
        let mut vague = acked.clone();
        vague["extension"][1] = json!({"url": ACKNOWLEDGED_URL});
        assert!(!acknowledged(&vague));
    }

    #[test]
    fn code_systems_cover_every_code_used() {
        let systems = code_systems();
        let urls: Vec<&str> = systems.iter().map(|s| s["url"].as_str().unwrap()).collect();
        assert_eq!(
            urls,
            [
                METHOD_SYSTEM,
                STATISTIC_SYSTEM,
                ALERT_SYSTEM,
                RECOMMENDATION_SYSTEM,
                MODEL_SYSTEM
            ]
        );
        let codes = |url: &str| -> Vec<String> {
            let s = systems.iter().find(|s| s["url"] == url).unwrap();
            assert_eq!(s["status"], "active");
            assert_eq!(s["content"], "complete");
            let concepts = s["concept"].as_array().unwrap();
            assert_eq!(s["count"], concepts.len());
            for c in concepts {
                assert!(c["display"].is_string() && c["definition"].is_string());
            }
            concepts
                .iter()
                .map(|c| c["code"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            codes(METHOD_SYSTEM),
            ["baseline-30d", "baseline-90d", "baseline-180d"]
        );
        assert_eq!(
            codes(STATISTIC_SYSTEM),
            ["mad", "mean", "sd", "count", "coverage"]
        );
        assert_eq!(codes(ALERT_SYSTEM).len(), 8);
        assert!(codes(ALERT_SYSTEM).contains(&"missed-medication".to_owned()));
        assert_eq!(
            codes(RECOMMENDATION_SYSTEM),
            [
                "rest",
                "hydration",
                "telehealth-check-in",
                "lifestyle-adjustment"
            ]
        );
        assert_eq!(codes(MODEL_SYSTEM), [MODEL_VERSION]);
        // The codes the resources use are all defined.
        let o = baseline_observation("Patient/1", &baseline(BaselineStatus::Stable));
        for c in o["component"].as_array().unwrap() {
            let code = c["code"]["coding"][0]["code"].as_str().unwrap().to_owned();
            assert!(codes(STATISTIC_SYSTEM).contains(&code));
        }
    }
}
