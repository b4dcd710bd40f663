//! The digital twin in the server: reads a patient's series from the store, runs the pure
//! engine (crate `twin`), and stores what it returns.
//!
//! * **When.** After an import or sync commits data for a patient, the patient is queued
//!   in the durable job table ([`jobs`]); a worker in every server instance computes
//!   queued patients. `POST Patient/[id]/$twin-rebuild` computes at once.
//! * **What is read.** Only the Observations the engine uses (by code: resting heart rate,
//!   sleep, daily steps, SpO2, respiratory rate, HRV, temperature deviation, glucose, blood
//!   pressure) and medication records, from the engine's look-back
//!   (`twin::config::Config::lookback_days`: the longest baseline window plus the longest
//!   run a detector judges against it) before the
//!   patient's newest data: a new day of data costs work proportional to that window, not
//!   to the whole history. The twin's own Observations (tagged with its model) are not
//!   read back.
//! * **What is written.** One baseline Observation per metric and window (updated in
//!   place as days pass: the history keeps every version), and per episode a Flag and a
//!   DetectedIssue, all by conditional update on their identifiers, so re-running changes
//!   nothing and an ongoing episode keeps one Flag. A Flag the person acknowledged stays
//!   inactive. The twin's CodeSystems are stored the first time it writes.
//! * **Reading it.** `GET Patient/[id]/$twin`: the current baselines, the active Flags and
//!   their DetectedIssues. `POST Flag/[id]/$acknowledge` closes a Flag.

pub mod jobs;

use std::sync::Arc;

use fhir_model::custom_params::CustomSearchParams;
use serde_json::{Value, json};

use crate::auth::access::Caller;
use crate::error::ApiError;
use crate::ingest::{ChunkWriter, IngestSummary, IngestTarget};
use crate::rest::criteria::{parse_criteria_with, parse_sort};
use crate::store::{ResourceStore, SearchQuery, StoredResource};

/// The twin's tag on everything it writes (`meta.tag`).
pub const MODEL_TAG_SYSTEM: &str = twin::fhir::MODEL_SYSTEM;

/// The Observation codes the engine reads (`system|code`, as a `code` search value).
pub const INPUT_CODES: &[&str] = &[
    "http://loinc.org|40443-4",
    "http://loinc.org|93832-4",
    "http://loinc.org|41950-7",
    "http://loinc.org|2708-6",
    "http://loinc.org|59408-5",
    "http://loinc.org|9279-1",
    "http://loinc.org|80404-7",
    "https://healthos.dev/fhir/CodeSystem/wearable|hrv-rmssd",
    "https://healthos.dev/fhir/CodeSystem/wearable|temperature-deviation",
    "http://loinc.org|2339-0",
    "http://loinc.org|41653-7",
    "http://loinc.org|99504-3",
    "http://loinc.org|15074-8",
    "http://loinc.org|85354-9",
];

/// Most resources read per page from the store.
const PAGE: usize = 1000;

/// Recomputes one patient's twin and stores the result. `now` is a FHIR instant.
pub async fn recompute(
    store: Arc<dyn ResourceStore>,
    params: Arc<CustomSearchParams>,
    base_url: &str,
    patient_id: &str,
    now: &str,
) -> Result<IngestSummary, ApiError> {
    let target = IngestTarget {
        store,
        params,
        base_url: base_url.to_owned(),
        caller: Caller::Open,
    };
    let patient = format!("Patient/{patient_id}");
    let inputs = read_inputs(&target, &patient).await?;
    let series = twin::input::daily_values(&inputs);
    let config = twin::config::Config::default();
    let Some(as_of) = series
        .values
        .iter()
        .map(|v| v.day.as_str())
        .max()
        .and_then(|day| twin::baseline::add_days(day, 1))
    else {
        return Ok(IngestSummary::default());
    };
    let mut resources: Vec<Value> = twin::baseline::baselines(&series, &as_of, &config)
        .iter()
        .map(|b| twin::fhir::baseline_observation(&patient, b))
        .collect();
    let mut current_flags = Vec::new();
    for episode in twin::detect::detect(&series, &config) {
        // The DetectedIssue first: its Flag refers to it by a conditional reference.
        resources.push(twin::fhir::detected_issue(&patient, &episode));
        let flag = twin::fhir::flag(&patient, &episode);
        current_flags.push(update_url(&flag));
        let stored = stored_by_identifier(&target, &flag).await?;
        resources.push(twin::fhir::reconcile(flag, stored.as_ref()));
    }
    // An active Flag whose episode the engine no longer sees (earlier data arrived late
    // and moved the episode's start) is closed.
    for mut stale in active_flags(&target, &patient).await? {
        if current_flags.contains(&update_url(&stale)) {
            continue;
        }
        stale["status"] = json!("inactive");
        resources.push(stale);
    }
    publish_code_systems(&target).await?;
    let recorded = now.to_owned();
    let mut writer = ChunkWriter::new(target.clone(), &patient, move |targets| {
        let assembler = format!("HealthOS digital twin, model {}", twin::MODEL_VERSION);
        crate::ingest::chunk_provenance(&recorded, targets, &assembler, None, None)
    })
    .await;
    for resource in resources {
        let url = update_url(&resource);
        writer.push(resource, url).await?;
    }
    writer.finish().await
}

/// The conditional-update URL of a twin resource, from its first identifier (as the
/// engine spells the conditional references between its resources).
fn update_url(resource: &Value) -> String {
    let identifier = &resource["identifier"][0];
    twin::fhir::identifier_reference(
        resource["resourceType"].as_str().unwrap_or_default(),
        identifier["system"].as_str().unwrap_or_default(),
        identifier["value"].as_str().unwrap_or_default(),
    )
}

/// The input Observations (the engine's look-back before the newest data) and medication
/// records.
async fn read_inputs(target: &IngestTarget, patient: &str) -> Result<Vec<Value>, ApiError> {
    let codes = INPUT_CODES.join(",");
    let base = [
        ("subject".to_owned(), patient.to_owned()),
        ("code".to_owned(), codes),
        (
            "_tag:not".to_owned(),
            format!("{MODEL_TAG_SYSTEM}|{}", twin::MODEL_VERSION),
        ),
    ];
    let newest = search(target, "Observation", &base, Some("-date"), 1).await?;
    let Some(latest) = newest.first().and_then(effective_day) else {
        return Ok(Vec::new());
    };
    let lookback = i64::from(twin::config::Config::default().lookback_days());
    let from = twin::baseline::add_days(&latest, -lookback).unwrap_or(latest);
    let mut pairs = base.to_vec();
    pairs.push(("date".to_owned(), format!("ge{from}")));
    let mut inputs = search(target, "Observation", &pairs, None, usize::MAX).await?;
    for res_type in ["MedicationAdministration", "MedicationStatement"] {
        let pairs = [("subject".to_owned(), patient.to_owned())];
        inputs.extend(search(target, res_type, &pairs, None, usize::MAX).await?);
    }
    Ok(inputs)
}

/// The first 10 characters of an Observation's effective time (its local day).
fn effective_day(observation: &Value) -> Option<String> {
    let text = observation["effectiveDateTime"]
        .as_str()
        .or_else(|| observation["effectivePeriod"]["end"].as_str())
        .or_else(|| observation["effectivePeriod"]["start"].as_str())?;
    text.get(..10).map(str::to_owned)
}

/// Up to `limit` resources matching `pairs`, following the store's cursors.
async fn search(
    target: &IngestTarget,
    res_type: &str,
    pairs: &[(String, String)],
    sort: Option<&str>,
    limit: usize,
) -> Result<Vec<Value>, ApiError> {
    let criteria = target.within_reach(
        res_type,
        parse_criteria_with(&target.params, res_type, pairs, &target.base_url)?,
    )?;
    let mut query = SearchQuery::matching(criteria, PAGE.min(limit));
    if let Some(sort) = sort {
        query.sort = parse_sort(&target.params, res_type, sort)?;
    }
    let mut out = Vec::new();
    loop {
        let page = target.store.search_with(res_type, &query).await?;
        out.extend(page.resources.iter().filter_map(parse));
        match page.next {
            Some(next) if out.len() < limit => query.after = Some(next),
            _ => break,
        }
    }
    out.truncate(limit);
    Ok(out)
}

fn parse(stored: &StoredResource) -> Option<Value> {
    serde_json::from_str(stored.content.as_deref()?).ok()
}

/// The patient's active Flags from the twin (R4 has no Flag `status` search parameter, so
/// the status is checked here).
async fn active_flags(target: &IngestTarget, patient: &str) -> Result<Vec<Value>, ApiError> {
    let pairs = [
        ("subject".to_owned(), patient.to_owned()),
        (
            "_tag".to_owned(),
            format!("{MODEL_TAG_SYSTEM}|{}", twin::MODEL_VERSION),
        ),
    ];
    let flags = search(target, "Flag", &pairs, None, usize::MAX).await?;
    Ok(flags
        .into_iter()
        .filter(|f| f["status"] == "active")
        .collect())
}

/// The stored resource with the same first identifier as `resource`, if any.
async fn stored_by_identifier(
    target: &IngestTarget,
    resource: &Value,
) -> Result<Option<Value>, ApiError> {
    let url = update_url(resource);
    let (res_type, query) = url.split_once('?').unwrap_or((&url, ""));
    let pairs = crate::rest::criteria::query_pairs(query);
    Ok(search(target, res_type, &pairs, None, 1)
        .await?
        .into_iter()
        .next())
}

/// Stores the twin's CodeSystems the first time the twin writes anything (by conditional
/// update on their `url`, so an older model's are updated), so every code it writes can
/// be looked up on the server.
async fn publish_code_systems(target: &IngestTarget) -> Result<(), ApiError> {
    let systems = twin::fhir::code_systems();
    let url = |system: &Value| system["url"].as_str().unwrap_or_default().to_owned();
    let Some(last) = systems.last() else {
        return Ok(());
    };
    let version_of_last = last["version"].clone();
    let pairs = [("url".to_owned(), url(last))];
    let stored = search(target, "CodeSystem", &pairs, None, 1).await?;
    if stored
        .first()
        .is_some_and(|s| s["version"] == version_of_last)
    {
        return Ok(());
    }
    let entries: Vec<Value> = systems
        .iter()
        .map(|system| {
            let token: String = form_urlencoded::byte_serialize(url(system).as_bytes()).collect();
            json!({"resource": system, "request": {"method": "PUT", "url": format!("CodeSystem?url={token}")}})
        })
        .collect();
    crate::rest::bundle::process(
        &*target.store,
        &target.caller,
        json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}),
        &target.base_url,
        false,
        &target.params,
    )
    .await?;
    Ok(())
}

/// `GET Patient/[id]/$twin`: a searchset Bundle of the patient's current baselines, active
/// Flags and the DetectedIssues they point to (`search.mode` `include`).
pub async fn twin_bundle(target: &IngestTarget, patient_id: &str) -> Result<Value, ApiError> {
    let patient = format!("Patient/{patient_id}");
    let tag = format!("{MODEL_TAG_SYSTEM}|{}", twin::MODEL_VERSION);
    let baselines = search(
        target,
        "Observation",
        &[
            ("subject".to_owned(), patient.clone()),
            ("_tag".to_owned(), tag.clone()),
        ],
        None,
        usize::MAX,
    )
    .await?;
    let flags = active_flags(target, &patient).await?;
    let mut issues = Vec::new();
    for flag in &flags {
        let detail = flag["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/flag-detail")
            .and_then(|e| e["valueReference"]["reference"].as_str());
        if let Some(id) = detail.and_then(|r| r.strip_prefix("DetectedIssue/"))
            && let Some(issue) = target.store.read("DetectedIssue", id).await?
            && let Some(issue) = parse(&issue)
        {
            issues.push(issue);
        }
    }
    let entry = |resource: Value, mode: &str| {
        json!({
            "fullUrl": format!(
                "{}/{}/{}",
                target.base_url,
                resource["resourceType"].as_str().unwrap_or_default(),
                resource["id"].as_str().unwrap_or_default()
            ),
            "resource": resource,
            "search": {"mode": mode}
        })
    };
    let total = baselines.len() + flags.len();
    let mut entries: Vec<Value> = baselines
        .into_iter()
        .chain(flags)
        .map(|r| entry(r, "match"))
        .collect();
    entries.extend(issues.into_iter().map(|r| entry(r, "include")));
    Ok(json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "entry": entries
    }))
}

/// `POST Flag/[id]/$acknowledge`: the person saw the alert. The Flag becomes inactive
/// with the time of acknowledgement, and stays so while the episode lasts.
pub fn acknowledged_flag(flag: &Value, now: &str) -> Value {
    let mut flag = flag.clone();
    flag["status"] = json!("inactive");
    if flag["period"].is_object() {
        flag["period"]["end"] = json!(now);
    }
    let extensions = flag["extension"].as_array().cloned().unwrap_or_default();
    let mut extensions: Vec<Value> = extensions
        .into_iter()
        .filter(|e| e["url"] != twin::fhir::ACKNOWLEDGED_URL)
        .collect();
    extensions.push(json!({"url": twin::fhir::ACKNOWLEDGED_URL, "valueDateTime": now}));
    flag["extension"] = json!(extensions);
    flag
}
