//! Consent per data source: nothing is imported from a source the patient has not
//! allowed.
//!
//! The permission is an ordinary R4 [Consent](https://hl7.org/fhir/R4/consent.html) on
//! the server, so apps write, read and revoke it through the REST API like any other
//! resource. One Consent allows one source:
//!
//! ```json
//! {"resourceType": "Consent", "status": "active",
//!  "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
//!  "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
//!  "patient": {"reference": "Patient/123"},
//!  "provision": {"type": "permit",
//!    "period": {"start": "2026-01-01"},
//!    "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "INF"}]},
//!               "reference": {"identifier": {"system": "https://healthos.dev/fhir/data-source", "value": "apple-health"}}}]}}
//! ```
//!
//! The source is the provision's actor in the *informant* role (`INF`: it supplies the
//! data), named by a logical reference (`Reference.identifier`) in the
//! [`DATA_SOURCE_SYSTEM`]: the wearable's [`Source::code`](mappers::wearable::Source::code)
//! or, for an EHR, its FHIR base URL. An import goes ahead only if some Consent of the
//! patient is `active`, its provision is a `permit` naming the source, and its period (if
//! any) covers now; a `deny` provision naming the source, in any active Consent, wins.

use fhir_model::outcome::IssueType;
use serde_json::Value;

use super::IngestTarget;
use crate::error::ApiError;
use crate::rest::criteria::parse_criteria_with;
use crate::store::SearchQuery;

/// Identifier system naming a data source in a Consent's provision actor.
pub const DATA_SOURCE_SYSTEM: &str = "https://healthos.dev/fhir/data-source";

/// How many active Consents of one patient are looked at (far more than anyone has).
const MAX_CONSENTS: usize = 1000;

/// Refuses with 403 and an OperationOutcome unless the patient has allowed `source`
/// (see the module docs). `now` is a FHIR instant.
pub async fn require(
    target: &IngestTarget,
    patient_id: &str,
    source: &str,
    now: &str,
) -> Result<(), ApiError> {
    let (params, base_url) = (&target.params, &target.base_url);
    let pairs = [
        ("patient".to_owned(), format!("Patient/{patient_id}")),
        ("status".to_owned(), "active".to_owned()),
    ];
    let criteria = target.within_reach(
        "Consent",
        parse_criteria_with(params, "Consent", &pairs, base_url)?,
    )?;
    let page = target
        .store
        .search_with("Consent", &SearchQuery::matching(criteria, MAX_CONSENTS))
        .await?;
    let consents: Vec<Value> = page
        .resources
        .iter()
        .filter_map(|s| s.content.as_deref())
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect();
    match decide(&consents, source, now) {
        Decision::Permitted => Ok(()),
        Decision::Denied => Err(refusal(format!(
            "Patient/{patient_id} has an active Consent denying imports from '{source}'"
        ))),
        Decision::NoConsent => Err(refusal(format!(
            "Patient/{patient_id} has no active Consent permitting imports from '{source}': \
             create a Consent whose provision permits the actor with identifier \
             {DATA_SOURCE_SYSTEM}|{source} (role v3-ParticipationType INF)"
        ))),
    }
}

fn refusal(text: String) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        IssueType::Forbidden,
        text,
    )
}

/// What the patient's Consents say about a source.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// An active, current `permit` names it, and no `deny` does.
    Permitted,
    /// An active, current `deny` names it.
    Denied,
    /// Nothing names it.
    NoConsent,
}

/// Decides over the patient's active Consents (pure; `now` a FHIR instant).
pub fn decide(consents: &[Value], source: &str, now: &str) -> Decision {
    let mut permitted = false;
    for consent in consents {
        if consent.get("status").and_then(Value::as_str) != Some("active") {
            continue;
        }
        let Some(provision) = consent.get("provision") else {
            continue;
        };
        if !names_source(provision, source) || !covers(provision.get("period"), now) {
            continue;
        }
        match provision.get("type").and_then(Value::as_str) {
            Some("permit") => permitted = true,
            Some("deny") => return Decision::Denied,
            _ => {}
        }
    }
    if permitted {
        Decision::Permitted
    } else {
        Decision::NoConsent
    }
}

fn names_source(provision: &Value, source: &str) -> bool {
    let actors = provision.get("actor").and_then(Value::as_array);
    actors.into_iter().flatten().any(|actor| {
        let id = &actor["reference"]["identifier"];
        id["system"].as_str() == Some(DATA_SOURCE_SYSTEM) && id["value"].as_str() == Some(source)
    })
}

/// Whether a Period (absent: always) covers `now`. FHIR dates of any precision compare
/// by their text prefix: a period ending `2026-05` covers every instant in May 2026.
fn covers(period: Option<&Value>, now: &str) -> bool {
    let Some(period) = period else {
        return true;
    };
    let after_start = period["start"]
        .as_str()
        .is_none_or(|start| now >= start || now.starts_with(start));
    let before_end = period["end"]
        .as_str()
        .is_none_or(|end| now <= end || now.starts_with(end));
    after_start && before_end
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn consent(status: &str, kind: &str, source: &str, period: Option<Value>) -> Value {
        let mut provision = json!({"type": kind, "actor": [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "INF"}]},
            "reference": {"identifier": {"system": DATA_SOURCE_SYSTEM, "value": source}}
        }]});
        if let Some(p) = period {
            provision["period"] = p;
        }
        json!({"resourceType": "Consent", "status": status, "provision": provision})
    }

    const NOW: &str = "2026-11-22T10:00:00Z";

    #[test]
    fn a_current_permit_for_the_source_permits() {
        let c = [consent("active", "permit", "fitbit", None)];
        assert_eq!(decide(&c, "fitbit", NOW), Decision::Permitted);
        assert_eq!(decide(&c, "oura", NOW), Decision::NoConsent);
    }

    #[test]
    fn inactive_expired_or_future_consents_do_not_count() {
        let c = [
            consent("inactive", "permit", "fitbit", None),
            consent(
                "active",
                "permit",
                "fitbit",
                Some(json!({"end": "2026-10-31"})),
            ),
            consent(
                "active",
                "permit",
                "fitbit",
                Some(json!({"start": "2027-01-01"})),
            ),
        ];
        assert_eq!(decide(&c, "fitbit", NOW), Decision::NoConsent);
        let until_today = [consent(
            "active",
            "permit",
            "fitbit",
            Some(json!({"start": "2026-11", "end": "2026-11-22"})),
        )];
        assert_eq!(decide(&until_today, "fitbit", NOW), Decision::Permitted);
    }

    #[test]
    fn a_deny_wins_over_a_permit() {
        let c = [
            consent("active", "permit", "garmin", None),
            consent("active", "deny", "garmin", None),
        ];
        assert_eq!(decide(&c, "garmin", NOW), Decision::Denied);
    }
}
