//! What an access token may touch, over HTTP: each expectation is written from
//! [SMART App Launch 2.x, scopes and launch context](https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html)
//! and the R4 [Patient CompartmentDefinition](https://hl7.org/fhir/R4/compartmentdefinition-patient.html).
//!
//! Two patients, A (`pa`) and B (`pb`), each with Observations (vital signs and
//! laboratory), an Encounter (both with the same Practitioner), a Condition, a
//! MedicationRequest and a Provenance; one more Provenance is in B's compartment but
//! points at A's Observation, and one of A's Observations is derived from one of B's, so
//! that `_include`/`_revinclude` can reach B's data from A's. A `patient/` token launched
//! for A must never return, count, include or write anything of B's, whatever the
//! interaction: read, vread, history, search (type, system, `_summary=count`, paging,
//! `_include`, `_revinclude`, `_has`, chains, `POST _search`), `$lastn`, create, update,
//! patch, delete, their conditional forms, and batch and transaction Bundles. The data
//! is loaded, and every refused write checked, with a clinician's unrestricted
//! `user/*.cruds` token.

use reqwest::Method;
use serde_json::{Value, json};

use crate::smart_support::*;
use crate::smart_test;
use crate::support::{Reply, TestServer, mode_ids};

const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const LOINC: &str = "http://loinc.org";
const HEART_RATE: &str = "8867-4";
const GLUCOSE: &str = "2339-0";
/// Only B has a body temperature.
const BODY_TEMPERATURE: &str = "8310-5";
/// The identifier system of the test Observations (value = the id they were loaded with).
const OBS_IDS: &str = "urn:test:obs";
/// The clinician: a Practitioner user, who loads the data and opens the EHR launches.
const CLINICIAN: (&str, &str) = ("clinician", "clinician-password");

/// An Observation of `patient` in category `cat`, with an identifier equal to its id.
fn observation(id: &str, patient: &str, cat: &str, code: &str, effective: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id,
        "identifier": [{"system": OBS_IDS, "value": id}],
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": cat}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": effective,
        "valueQuantity": {"value": 72, "unit": "1", "system": "http://unitsofmeasure.org", "code": "1"},
    })
}

/// One patient's record besides Observations: an Encounter with Practitioner `doc`, a
/// Condition, a MedicationRequest and a Provenance of its vital-signs Observation.
fn record(prefix: &str, patient: &str) -> Vec<Value> {
    let subject = json!({"reference": format!("Patient/{patient}")});
    vec![
        json!({"resourceType": "Encounter", "id": format!("{prefix}-enc"), "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
               "subject": subject,
               "participant": [{"individual": {"reference": "Practitioner/doc"}}]}),
        json!({"resourceType": "Condition", "id": format!("{prefix}-cond"),
               "code": {"text": "Condition of the test"}, "subject": subject}),
        json!({"resourceType": "MedicationRequest", "id": format!("{prefix}-mr"),
               "status": "active", "intent": "order",
               "medicationCodeableConcept": {"text": "Medication of the test"}, "subject": subject}),
        json!({"resourceType": "Provenance", "id": format!("{prefix}-prov"),
               "target": [{"reference": format!("Observation/{prefix}-vs")}, subject],
               "recorded": "2024-01-01T10:00:00Z",
               "agent": [{"who": {"reference": "Practitioner/doc"}}]}),
    ]
}

/// Every resource of the test, A's and B's.
fn resources() -> Vec<Value> {
    let mut all = vec![
        json!({"resourceType": "Practitioner", "id": "doc", "name": [{"family": "Okafor"}]}),
        json!({"resourceType": "Patient", "id": "pa", "name": [{"family": "Alvarez", "given": ["Ana"]}]}),
        json!({"resourceType": "Patient", "id": "pb", "name": [{"family": "Brandt", "given": ["Ben"]}]}),
        observation(
            "a-vs",
            "pa",
            "vital-signs",
            HEART_RATE,
            "2024-01-01T10:00:00Z",
        ),
        observation("a-lab", "pa", "laboratory", GLUCOSE, "2024-01-02T10:00:00Z"),
        observation(
            "b-vs",
            "pb",
            "vital-signs",
            HEART_RATE,
            "2024-02-01T10:00:00Z",
        ),
        observation("b-lab", "pb", "laboratory", GLUCOSE, "2024-02-02T10:00:00Z"),
        observation(
            "b-temp",
            "pb",
            "vital-signs",
            BODY_TEMPERATURE,
            "2024-02-03T10:00:00Z",
        ),
        // In B's compartment only (its Patient target is B), though it points at A's
        // Observation: `_revinclude=Provenance:target` from A's Observations reaches it.
        json!({"resourceType": "Provenance", "id": "x-prov",
               "target": [{"reference": "Observation/a-vs"}, {"reference": "Patient/pb"}],
               "recorded": "2024-03-01T10:00:00Z",
               "agent": [{"who": {"reference": "Practitioner/doc"}}]}),
    ];
    // `_include=Observation:derived-from` from A's laboratory result reaches B's.
    all[4]["derivedFrom"] = json!([{"reference": "Observation/b-lab"}]);
    all.extend(record("a", "pa"));
    all.extend(record("b", "pb"));
    all
}

/// Loads every resource with the clinician's `user/*.cruds` token (which the test also
/// returns, to check what refused writes left behind).
async fn load(server: &TestServer) -> String {
    add_user(server, CLINICIAN.0, CLINICIAN.1, "Practitioner/doc").await;
    let token = standalone_token(server, "loader", CLINICIAN.0, CLINICIAN.1, "user/*.cruds").await;
    let admin = token["access_token"].as_str().unwrap().to_owned();
    for r in resources() {
        let path = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        let reply = send_with(server, &admin, Method::PUT, &path, Some(&r), &[]).await;
        assert_eq!(reply.status, 201, "{path}: {}", reply.text);
    }
    admin
}

/// An EHR launch for A (in A's Encounter) by the clinician; the access token granting
/// `scope`.
async fn token_for_a(server: &TestServer, client_id: &str, scope: &str) -> String {
    let token = ehr_token(
        server,
        client_id,
        CLINICIAN,
        ("Patient/pa", Some("Encounter/a-enc")),
        scope,
    )
    .await;
    assert_eq!(token["patient"], "pa");
    assert_eq!(token["encounter"], "a-enc");
    token["access_token"].as_str().unwrap().to_owned()
}

/// `Type/id` of a searchset's entries in `mode`, sorted.
fn entries_in(bundle: &Value, mode: &str) -> Vec<String> {
    let mut found: Vec<String> = bundle["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|e| e["search"]["mode"] == mode)
        .map(|e| {
            format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap(),
                e["resource"]["id"].as_str().unwrap()
            )
        })
        .collect();
    found.sort();
    found
}

/// A search with `token`: its matches and its included resources (`Type/id`, sorted).
async fn search(server: &TestServer, token: &str, path: &str) -> (Vec<String>, Vec<String>) {
    let reply = get_with(server, token, path).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    let bundle = reply.json();
    assert_eq!(bundle["type"], "searchset", "{path}");
    (entries_in(&bundle, "match"), entries_in(&bundle, "include"))
}

/// Follows a search's `next` links from `path`: every page's `total` is `total`, and the
/// matches of all pages (sorted, at most `total` of them) are returned.
async fn walk_pages(s: &TestServer, token: &str, path: &str, total: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next = Some(s.url(path));
    while let Some(url) = next {
        let page: Value = s
            .client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["total"], total, "{page}");
        seen.extend(entries_in(&page, "match"));
        assert!(seen.len() <= total, "{seen:?}");
        next = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_owned());
    }
    seen.sort();
    seen
}

/// Asserts the matches of a search (and that it includes nothing).
async fn check_matches(server: &TestServer, token: &str, path: &str, expected: &[&str]) {
    let (matches, included) = search(server, token, path).await;
    assert_eq!(matches, sorted(expected), "{path}");
    assert!(included.is_empty(), "{path}: {included:?}");
}

/// `Bundle.total` of a search.
async fn total(server: &TestServer, token: &str, path: &str) -> i64 {
    let reply = get_with(server, token, path).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    reply.json()["total"]
        .as_i64()
        .unwrap_or_else(|| panic!("{path}: no total: {}", reply.text))
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// Everything in `patient`'s record, as the unrestricted token reads it (versions and
/// timestamps included), sorted: equal before and after a refused write means nothing
/// of it was written.
async fn snapshot(server: &TestServer, admin: &str, patient: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for query in [
        format!("Patient?_id={patient}"),
        format!("Observation?subject=Patient/{patient}"),
        format!("Encounter?patient={patient}"),
        format!("Condition?patient={patient}"),
        format!("MedicationRequest?patient={patient}"),
        format!("Provenance?patient={patient}"),
    ] {
        let reply = get_with(server, admin, &format!("{query}&_count=100")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        let bundle = reply.json();
        all.extend(
            bundle["entry"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e["resource"].clone()),
        );
    }
    all.sort_by_key(|r| format!("{}/{}", r["resourceType"], r["id"]));
    all
}

/// The whole two-patient test: every way a `patient/` token launched for A could reach
/// B's data is refused, returns nothing, counts nothing or writes nothing.
async fn two_patients(server: &TestServer) {
    // No token at all: 401 with a Bearer challenge, before anything else.
    let r = server.get("Observation").await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));

    let admin = load(server).await;
    let read = token_for_a(server, "app-read", "patient/*.rs").await;
    let write = token_for_a(server, "app-write", "patient/*.cruds").await;
    reads_stay_in_a(server, &read).await;
    searches_stay_in_a(server, &read).await;
    writes_stay_in_a(server, &admin, &read, &write).await;
    bundles_stay_in_a(server, &admin, &write).await;
}

async fn reads_stay_in_a(s: &TestServer, a: &str) {
    for path in [
        "Patient/pa",
        "Observation/a-vs",
        "Encounter/a-enc",
        "Provenance/a-prov",
    ] {
        let r = get_with(s, a, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    // B's resources look exactly like ones that do not exist.
    for path in [
        "Patient/pb",
        "Observation/b-vs",
        "Observation/b-lab",
        "Encounter/b-enc",
        "Condition/b-cond",
        "MedicationRequest/b-mr",
        "Provenance/b-prov",
        "Provenance/x-prov",
        "Observation/no-such-id",
    ] {
        get_with(s, a, path).await.assert_outcome(404, "not-found");
    }
    // vread and instance history of B's resource: 404, as a read; A's: found.
    get_with(s, a, "Observation/b-vs/_history/1")
        .await
        .assert_outcome(404, "not-found");
    get_with(s, a, "Observation/b-vs/_history")
        .await
        .assert_outcome(404, "not-found");
    get_with(s, a, "Patient/pb/_history")
        .await
        .assert_outcome(404, "not-found");
    assert_eq!(
        get_with(s, a, "Observation/a-vs/_history/1").await.status,
        200
    );
    let history = get_with(s, a, "Observation/a-vs/_history").await;
    assert_eq!(history.status, 200, "{}", history.text);
    assert_eq!(history.json()["entry"].as_array().unwrap().len(), 1);
    // History of a type or of the server cannot be confined to a compartment: 403.
    for path in ["Observation/_history", "Patient/_history", "_history"] {
        get_with(s, a, path).await.assert_outcome(403, "forbidden");
    }
}

async fn searches_stay_in_a(s: &TestServer, a: &str) {
    let a_obs = ["Observation/a-lab", "Observation/a-vs"];
    check_matches(s, a, "Observation", &a_obs).await;
    check_matches(s, a, "Observation?subject=Patient/pb", &[]).await;
    check_matches(s, a, "Observation?patient=pb", &[]).await;
    check_matches(s, a, "Observation?subject=Patient/pa,Patient/pb", &a_obs).await;
    check_matches(s, a, "Observation?_id=b-vs,a-vs", &["Observation/a-vs"]).await;
    check_matches(s, a, &format!("Observation?code={BODY_TEMPERATURE}"), &[]).await;
    check_matches(
        s,
        a,
        &format!("Observation?identifier={OBS_IDS}|b-lab"),
        &[],
    )
    .await;
    check_matches(s, a, "Encounter", &["Encounter/a-enc"]).await;
    check_matches(s, a, "Condition", &["Condition/a-cond"]).await;
    check_matches(s, a, "Condition?patient=pb", &[]).await;
    check_matches(s, a, "MedicationRequest", &["MedicationRequest/a-mr"]).await;
    check_matches(s, a, "Provenance", &["Provenance/a-prov"]).await;
    check_matches(s, a, "Patient", &["Patient/pa"]).await;
    check_matches(s, a, "Patient?_id=pb", &[]).await;
    check_matches(s, a, "Patient?family=Brandt", &[]).await;

    // Counts: only A's are counted, with or without entries.
    assert_eq!(total(s, a, "Observation?_total=accurate").await, 2);
    assert_eq!(total(s, a, "Observation?_summary=count").await, 2);
    assert_eq!(
        total(s, a, "Observation?subject=Patient/pb&_total=accurate").await,
        0
    );
    assert_eq!(
        total(s, a, "Observation?subject=Patient/pb&_summary=count").await,
        0
    );
    assert_eq!(
        total(
            s,
            a,
            &format!("Observation?code={HEART_RATE}&_summary=count")
        )
        .await,
        1
    );
    assert_eq!(total(s, a, "Patient?_summary=count").await, 1);
    let count = get_with(s, a, "Observation?_summary=count").await.json();
    assert!(count.get("entry").is_none(), "{count}");

    // Paging one at a time walks A's Observations only.
    let seen = walk_pages(s, a, "Observation?_count=1&_total=accurate", 2).await;
    assert_eq!(seen, sorted(&a_obs));

    // _include and _revinclude: only what A's token may read comes along.
    let (m, inc) = search(s, a, "Observation?_include=Observation:subject").await;
    assert_eq!((m, inc), (sorted(&a_obs), sorted(&["Patient/pa"])));
    let (m, inc) = search(s, a, "Observation?_include=Observation:derived-from").await;
    assert_eq!(m, sorted(&a_obs));
    assert!(inc.is_empty(), "B's Observation/b-lab included: {inc:?}");
    let (m, inc) = search(s, a, "Observation?_revinclude=Provenance:target").await;
    assert_eq!(m, sorted(&a_obs));
    assert_eq!(
        inc,
        sorted(&["Provenance/a-prov"]),
        "x-prov is in B's compartment"
    );
    let (m, inc) = search(s, a, "Patient?_revinclude=Observation:subject").await;
    assert_eq!((m, inc), (sorted(&["Patient/pa"]), sorted(&a_obs)));
    let (m, inc) = search(s, a, "Patient?_revinclude=Provenance:patient").await;
    assert_eq!(
        (m, inc),
        (sorted(&["Patient/pa"]), sorted(&["Provenance/a-prov"]))
    );
    // The Practitioner both Encounters share is not in A's compartment; whatever the
    // server decides for it, nothing of B's comes with A's Encounter.
    let (m, inc) = search(
        s,
        a,
        "Encounter?_include=Encounter:participant&_revinclude=Provenance:target",
    )
    .await;
    assert_eq!(m, sorted(&["Encounter/a-enc"]));
    assert!(inc.iter().all(|r| r == "Practitioner/doc"), "{inc:?}");

    // _has and chains: their inner searches do not open B's record.
    let has = format!("Patient?_has:Observation:subject:code={HEART_RATE}");
    check_matches(s, a, &has, &["Patient/pa"]).await;
    let has = format!("Patient?_has:Observation:subject:code={BODY_TEMPERATURE}");
    check_matches(s, a, &has, &[]).await;
    check_matches(s, a, "Observation?subject:Patient.name=Brandt", &[]).await;
    check_matches(s, a, "Observation?subject:Patient.family=Brandt", &[]).await;
    check_matches(s, a, "Observation?subject:Patient.name=Alvarez", &a_obs).await;
    check_matches(
        s,
        a,
        "Provenance?target:Observation.subject=Patient/pb",
        &[],
    )
    .await;

    // POST _search: the same confinement as GET.
    for (form, expected) in [
        (vec![], &a_obs[..]),
        (vec![("subject", "Patient/pb")], &[][..]),
        (vec![("_id", "b-vs")], &[][..]),
        (vec![("category", "vital-signs")], &["Observation/a-vs"][..]),
    ] {
        let reply = Reply::from(
            s.request(Method::POST, "Observation/_search")
                .bearer_auth(a)
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 200, "{form:?}: {}", reply.text);
        assert_eq!(
            entries_in(&reply.json(), "match"),
            sorted(expected),
            "{form:?}"
        );
    }

    // $lastn ranks only A's Observations, even when asked for B.
    let lastn = |q: &str| format!("Observation/$lastn?{q}");
    let all_entries = |bundle: &Value| -> Vec<String> {
        let mut ids = mode_ids(bundle, None);
        ids.sort();
        ids
    };
    for (query, expected) in [
        ("patient=pa&category=vital-signs", vec!["a-vs"]),
        ("patient=pa,pb&category=vital-signs", vec!["a-vs"]),
        ("patient=pb&category=vital-signs", vec![]),
        ("subject=Patient/pb&category=laboratory", vec![]),
        (
            "patient=pa,pb&category=vital-signs,laboratory&max=5",
            vec!["a-lab", "a-vs"],
        ),
    ] {
        let reply = get_with(s, a, &lastn(query)).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        assert_eq!(all_entries(&reply.json()), expected, "{query}");
    }

    // A system-level search reaches each type as a type-level search would: A's only.
    check_matches(
        s,
        a,
        "?_type=Observation",
        &["Observation/a-lab", "Observation/a-vs"],
    )
    .await;
    check_matches(s, a, "?_type=Patient&_id=pb", &[]).await;
    check_matches(s, a, "?_id=b-vs", &[]).await;
    check_matches(s, a, "?_id=b-vs,pb,b-enc,doc", &[]).await;
    assert_eq!(
        total(s, a, "?_type=Observation,Patient&_summary=count").await,
        3
    );
    let reply = Reply::from(
        s.request(Method::POST, "_search")
            .bearer_auth(a)
            .form(&[("_type", "Observation")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        entries_in(&reply.json(), "match"),
        sorted(&["Observation/a-lab", "Observation/a-vs"])
    );
    // A type outside the compartment: nothing, as its type-level search.
    check_matches(s, a, "?_type=Practitioner", &[]).await;

    // Patient/$everything: A's own record; B's is not known.
    check_matches(s, a, "Patient/pa/$everything?_count=100", &EVERYTHING_A).await;
    get_with(s, a, "Patient/pb/$everything")
        .await
        .assert_outcome(404, "not-found");
}

/// Patient A's compartment (R4 Patient CompartmentDefinition): the Patient, its
/// Observations (`subject`), Encounter and Condition (`patient`), MedicationRequest
/// (`subject`) and the Provenance whose `target` names it; not the Practitioner, not
/// `x-prov` (whose Patient target is B).
const EVERYTHING_A: [&str; 7] = [
    "Condition/a-cond",
    "Encounter/a-enc",
    "MedicationRequest/a-mr",
    "Observation/a-lab",
    "Observation/a-vs",
    "Patient/pa",
    "Provenance/a-prov",
];

/// `send_with` without extra headers, taking the body by value.
async fn send(
    s: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    send_with(s, token, method, path, body.as_ref(), &[]).await
}

async fn writes_stay_in_a(s: &TestServer, admin: &str, read: &str, write: &str) {
    let b_before = snapshot(s, admin, "pb").await;
    assert_eq!(b_before.len(), 9, "B's record as loaded");
    let new_obs = |patient: &str, identifier: &str| {
        let mut o = observation(
            "x",
            patient,
            "vital-signs",
            HEART_RATE,
            "2024-05-01T10:00:00Z",
        );
        o.as_object_mut().unwrap().remove("id");
        o["identifier"][0]["value"] = json!(identifier);
        o
    };

    // A read-only token writes nothing, not even for A.
    send(
        s,
        read,
        Method::POST,
        "Observation",
        Some(new_obs("pa", "ro")),
    )
    .await
    .assert_outcome(403, "forbidden");
    // Creates: for A yes (the control), for B no.
    let created = send(
        s,
        write,
        Method::POST,
        "Observation",
        Some(new_obs("pa", "new-a")),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    send(
        s,
        write,
        Method::POST,
        "Observation",
        Some(new_obs("pb", "new-b")),
    )
    .await
    .assert_outcome(403, "forbidden");
    let mut for_b = new_obs("pb", "put-b");
    for_b["id"] = json!("put-b");
    send(s, write, Method::PUT, "Observation/put-b", Some(for_b))
        .await
        .assert_outcome(403, "forbidden");
    // An Observation whose subject is A but whose performer is B is in both compartments
    // (subject and performer are its compartment parameters), so it may be written.
    let mut both = new_obs("pa", "both");
    both["performer"] = json!([{"reference": "Patient/pb"}]);
    let r = send(s, write, Method::POST, "Observation", Some(both)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        get_with(s, admin, "Observation?subject=Patient/pb&_summary=count")
            .await
            .json()["total"],
        3
    );
    get_with(s, admin, "Observation/put-b")
        .await
        .assert_outcome(404, "not-found");

    // Updates of B's resource, and of A's into B's record: 403, nothing written.
    let mut b_vs = observation(
        "b-vs",
        "pb",
        "vital-signs",
        HEART_RATE,
        "2024-02-01T10:00:00Z",
    );
    b_vs["valueQuantity"]["value"] = json!(99);
    send(
        s,
        write,
        Method::PUT,
        "Observation/b-vs",
        Some(b_vs.clone()),
    )
    .await
    .assert_outcome(403, "forbidden");
    b_vs["subject"]["reference"] = json!("Patient/pa");
    send(s, write, Method::PUT, "Observation/b-vs", Some(b_vs))
        .await
        .assert_outcome(403, "forbidden");
    let b_patient = json!({"resourceType": "Patient", "id": "pb", "name": [{"family": "Changed"}]});
    send(s, write, Method::PUT, "Patient/pb", Some(b_patient))
        .await
        .assert_outcome(403, "forbidden");
    let a_before = snapshot(s, admin, "pa").await;
    let mut moved = observation(
        "a-vs",
        "pb",
        "vital-signs",
        HEART_RATE,
        "2024-01-01T10:00:00Z",
    );
    send(
        s,
        write,
        Method::PUT,
        "Observation/a-vs",
        Some(moved.clone()),
    )
    .await
    .assert_outcome(403, "forbidden");
    // Moving it through the other compartment parameter (performer) is no better.
    moved.as_object_mut().unwrap().remove("subject");
    moved["performer"] = json!([{"reference": "Patient/pb"}]);
    send(s, write, Method::PUT, "Observation/a-vs", Some(moved))
        .await
        .assert_outcome(403, "forbidden");
    let patch = Reply::from(
        s.request(Method::PATCH, "Observation/b-vs")
            .bearer_auth(write)
            .header("content-type", "application/json-patch+json")
            .body(r#"[{"op": "replace", "path": "/status", "value": "cancelled"}]"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    patch.assert_outcome(403, "forbidden");
    let patch = Reply::from(
        s.request(Method::PATCH, "Observation/a-vs")
            .bearer_auth(write)
            .header("content-type", "application/json-patch+json")
            .body(r#"[{"op": "replace", "path": "/subject/reference", "value": "Patient/pb"}]"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    patch.assert_outcome(403, "forbidden");
    assert_eq!(
        snapshot(s, admin, "pa").await,
        a_before,
        "A's record after refused moves"
    );

    // Deletes of B's: 403.
    for path in ["Observation/b-vs", "Patient/pb", "Condition/b-cond"] {
        send(s, write, Method::DELETE, path, None)
            .await
            .assert_outcome(403, "forbidden");
    }

    // Conditional interactions: the condition only sees A's record, so B's never match.
    let b_identifier = format!("identifier={OBS_IDS}|b-vs");
    let r = send_with(
        s,
        write,
        Method::POST,
        "Observation",
        Some(&new_obs("pa", "cond-a")),
        &[("if-none-exist", b_identifier.as_str())],
    )
    .await;
    assert_eq!(
        r.status, 201,
        "B's b-vs is not seen, so A's is created: {}",
        r.text
    );
    assert_eq!(r.json()["subject"]["reference"], "Patient/pa");
    let r = send_with(
        s,
        write,
        Method::POST,
        "Observation",
        Some(&new_obs("pb", "cond-b")),
        &[("if-none-exist", b_identifier.as_str())],
    )
    .await;
    r.assert_outcome(403, "forbidden");
    let r = send(
        s,
        write,
        Method::PUT,
        &format!("Observation?{b_identifier}"),
        Some(new_obs("pa", "cond-a-2")),
    )
    .await;
    assert_eq!(
        r.status, 201,
        "B's b-vs is not matched, so A's is created: {}",
        r.text
    );
    assert_eq!(r.json()["subject"]["reference"], "Patient/pa");
    let r = send(
        s,
        write,
        Method::PUT,
        "Observation?subject=Patient/pb",
        Some(new_obs("pb", "cond-b")),
    )
    .await;
    r.assert_outcome(403, "forbidden");
    for query in [b_identifier.as_str(), "subject=Patient/pb", "_id=b-lab"] {
        let r = send(
            s,
            write,
            Method::DELETE,
            &format!("Observation?{query}"),
            None,
        )
        .await;
        assert!(r.status.is_success(), "{query}: {}", r.text);
    }
    let r = send(s, write, Method::DELETE, "Patient?_id=pb", None).await;
    assert!(r.status.is_success(), "{}", r.text);

    assert_eq!(
        snapshot(s, admin, "pb").await,
        b_before,
        "B's record after every write"
    );
}

async fn bundles_stay_in_a(s: &TestServer, admin: &str, write: &str) {
    let a_before = snapshot(s, admin, "pa").await;
    let b_before = snapshot(s, admin, "pb").await;
    let create = |patient: &str, identifier: &str| {
        json!({"request": {"method": "POST", "url": "Observation"},
               "resource": {"resourceType": "Observation", "status": "final",
                            "identifier": [{"system": OBS_IDS, "value": identifier}],
                            "code": {"coding": [{"system": LOINC, "code": HEART_RATE}]},
                            "subject": {"reference": format!("Patient/{patient}")}}})
    };
    let transactions = [
        // Two creates (prepared before the write job): A's first, then B's.
        json!([create("pa", "tx-a"), create("pb", "tx-b")]),
        // B's first.
        json!([create("pb", "tx-b"), create("pa", "tx-a")]),
        // An update of A's that is allowed, and a delete of B's that is not.
        json!([
            {"request": {"method": "PUT", "url": "Observation/a-lab"},
             "resource": observation("a-lab", "pa", "laboratory", GLUCOSE, "2024-06-01T10:00:00Z")},
            {"request": {"method": "DELETE", "url": "Observation/b-lab"}}
        ]),
        // A create for A and a conditional update that would create in B's record.
        json!([
            create("pa", "tx-a"),
            {"request": {"method": "PUT", "url": format!("Observation?identifier={OBS_IDS}|tx-b")},
             "resource": create("pb", "tx-b")["resource"]}
        ]),
    ];
    for entries in transactions {
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        let r = send_with(s, write, Method::POST, "", Some(&bundle), &[]).await;
        r.assert_outcome(403, "forbidden");
        assert_eq!(
            snapshot(s, admin, "pa").await,
            a_before,
            "A's record: {entries}"
        );
        assert_eq!(
            snapshot(s, admin, "pb").await,
            b_before,
            "B's record: {entries}"
        );
        for id in ["tx-a", "tx-b"] {
            let query = format!("Observation?identifier={OBS_IDS}|{id}&_summary=count");
            assert_eq!(
                total(s, admin, &query).await,
                0,
                "{id} written by {entries}"
            );
        }
    }

    // A batch: each entry on its own.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Observation/a-vs"}},
        {"request": {"method": "GET", "url": "Observation/b-vs"}},
        {"request": {"method": "GET", "url": "Patient/pb"}},
        {"request": {"method": "GET", "url": "Observation?subject=Patient/pb"}},
        {"request": {"method": "GET", "url": "Observation/b-vs/_history/1"}},
        create("pb", "batch-b"),
        {"request": {"method": "DELETE", "url": "Observation/b-vs"}},
    ]});
    let r = send_with(s, write, Method::POST, "", Some(&batch), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let response = r.json();
    assert_eq!(response["type"], "batch-response");
    let status = |i: usize| {
        response["entry"][i]["response"]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(status(0).starts_with("200"), "{response}");
    assert_eq!(response["entry"][0]["resource"]["id"], "a-vs");
    assert!(status(1).starts_with("404"), "{response}");
    assert!(response["entry"][1].get("resource").is_none(), "{response}");
    assert!(status(2).starts_with("404"), "{response}");
    assert!(status(3).starts_with("200"), "{response}");
    assert_eq!(response["entry"][3]["resource"]["total"], 0, "{response}");
    assert!(
        response["entry"][3]["resource"]
            .get("entry")
            .is_none_or(|e| e.as_array().unwrap().is_empty())
    );
    assert!(status(4).starts_with("404"), "{response}");
    assert!(status(5).starts_with("403"), "{response}");
    assert!(status(6).starts_with("403"), "{response}");
    assert_eq!(
        snapshot(s, admin, "pb").await,
        b_before,
        "B's record after the batch"
    );
}

smart_test!(two_patients_case, two_patients);

/// v1 `patient/Observation.read` = `rs`: read and search, no create; v1 `.write` = `cud`:
/// create, no search; v1 `.*` = `cruds`.
async fn v1_scopes(s: &TestServer) {
    let admin = load(s).await;
    let read = token_for_a(s, "v1-read", "patient/Observation.read").await;
    check_matches(
        s,
        &read,
        "Observation",
        &["Observation/a-lab", "Observation/a-vs"],
    )
    .await;
    assert_eq!(get_with(s, &read, "Observation/a-vs").await.status, 200);
    get_with(s, &read, "Observation/b-vs")
        .await
        .assert_outcome(404, "not-found");
    let obs = |patient: &str| {
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "v1"},
               "subject": {"reference": format!("Patient/{patient}")}})
    };
    send_with(s, &read, Method::POST, "Observation", Some(&obs("pa")), &[])
        .await
        .assert_outcome(403, "forbidden");
    get_with(s, &read, "Condition")
        .await
        .assert_outcome(403, "forbidden");

    let write = token_for_a(s, "v1-write", "patient/Observation.write").await;
    let r = send_with(
        s,
        &write,
        Method::POST,
        "Observation",
        Some(&obs("pa")),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    send_with(
        s,
        &write,
        Method::POST,
        "Observation",
        Some(&obs("pb")),
        &[],
    )
    .await
    .assert_outcome(403, "forbidden");
    get_with(s, &write, "Observation")
        .await
        .assert_outcome(403, "forbidden");
    get_with(s, &write, "Observation/a-vs")
        .await
        .assert_outcome(403, "forbidden");

    let all = token_for_a(s, "v1-all", "patient/Observation.*").await;
    let r = send_with(s, &all, Method::POST, "Observation", Some(&obs("pa")), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(total(s, &all, "Observation?_summary=count").await, 4);
    send_with(s, &all, Method::POST, "Observation", Some(&obs("pb")), &[])
        .await
        .assert_outcome(403, "forbidden");
    assert_eq!(
        total(s, &admin, "Observation?subject=Patient/pb&_summary=count").await,
        3
    );
}

smart_test!(v1_scopes_case, v1_scopes);

/// A granular scope (`patient/Observation.rs?category=…|vital-signs`) narrows A's
/// Observations to the vital signs; two granular scopes add up.
async fn granular_category_scope(s: &TestServer) {
    load(s).await;
    let vital = format!("patient/Observation.rs?category={CATEGORY}|vital-signs");
    let t = token_for_a(s, "granular", &vital).await;
    check_matches(s, &t, "Observation", &["Observation/a-vs"]).await;
    check_matches(s, &t, "Observation?category=laboratory", &[]).await;
    check_matches(s, &t, "Observation?subject=Patient/pb", &[]).await;
    assert_eq!(total(s, &t, "Observation?_summary=count").await, 1);
    assert_eq!(get_with(s, &t, "Observation/a-vs").await.status, 200);
    get_with(s, &t, "Observation/a-lab")
        .await
        .assert_outcome(404, "not-found");
    get_with(s, &t, "Observation/b-vs")
        .await
        .assert_outcome(404, "not-found");
    let reply = get_with(s, &t, "Observation/$lastn?patient=pa&category=laboratory").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .json()
            .get("entry")
            .is_none_or(|e| e.as_array().unwrap().is_empty())
    );
    get_with(s, &t, "Patient")
        .await
        .assert_outcome(403, "forbidden");

    let lab = format!("patient/Observation.rs?category={CATEGORY}|laboratory");
    let both = token_for_a(s, "granular-2", &format!("{vital} {lab}")).await;
    check_matches(
        s,
        &both,
        "Observation",
        &["Observation/a-lab", "Observation/a-vs"],
    )
    .await;
}

smart_test!(granular_category_scope_case, granular_category_scope);

/// A token with no scope on Observation: 403 on every Observation interaction, whatever
/// the resource.
async fn no_observation_scope(s: &TestServer) {
    load(s).await;
    let t = token_for_a(s, "conditions-only", "patient/Condition.rs").await;
    for path in [
        "Observation",
        "Observation?subject=Patient/pa",
        "Observation/a-vs",
        "Observation/b-vs",
        "Observation/a-vs/_history",
        "Observation/$lastn?patient=pa&category=vital-signs",
        "?_type=Observation",
        "?_type=Condition,Observation",
        "Patient/pa/$everything?_type=Observation",
    ] {
        get_with(s, &t, path).await.assert_outcome(403, "forbidden");
    }
    check_matches(s, &t, "Condition", &["Condition/a-cond"]).await;
    // A system-level search without _type reaches the types the token may search; so
    // does $everything (Patient needs `patient/Patient.r`, which this token lacks).
    check_matches(s, &t, "?_id=a-cond,a-vs,pa", &["Condition/a-cond"]).await;
    get_with(s, &t, "Patient/pa/$everything")
        .await
        .assert_outcome(403, "forbidden");
    let two = token_for_a(s, "two-types", "patient/Condition.rs patient/Patient.rs").await;
    check_matches(
        s,
        &two,
        "Patient/pa/$everything",
        &["Condition/a-cond", "Patient/pa"],
    )
    .await;
    // An _include of a type the token may not read brings nothing.
    let (m, inc) = search(s, &t, "Condition?_include=Condition:subject").await;
    assert_eq!(m, sorted(&["Condition/a-cond"]));
    assert!(inc.is_empty(), "{inc:?}");
}

smart_test!(no_observation_scope_case, no_observation_scope);

/// `user/` scopes of a user who is a Patient reach that patient's compartment, as
/// `patient/` scopes do.
async fn patient_user_confined(s: &TestServer) {
    load(s).await;
    add_user(s, "ana", "ana-password", "Patient/pa").await;
    let token = standalone_token(
        s,
        "portal",
        "ana",
        "ana-password",
        "openid fhirUser user/*.cruds",
    )
    .await;
    let t = token["access_token"].as_str().unwrap();
    check_matches(
        s,
        t,
        "Observation",
        &["Observation/a-lab", "Observation/a-vs"],
    )
    .await;
    check_matches(s, t, "Observation?subject=Patient/pb", &[]).await;
    check_matches(s, t, "Patient", &["Patient/pa"]).await;
    assert_eq!(total(s, t, "Observation?_summary=count").await, 2);
    get_with(s, t, "Observation/b-vs")
        .await
        .assert_outcome(404, "not-found");
    get_with(s, t, "Patient/pb")
        .await
        .assert_outcome(404, "not-found");
    let (m, inc) = search(s, t, "Observation?_include=Observation:derived-from").await;
    assert_eq!(m, sorted(&["Observation/a-lab", "Observation/a-vs"]));
    assert!(inc.is_empty(), "{inc:?}");
    get_with(s, t, "Observation/_history")
        .await
        .assert_outcome(403, "forbidden");
    check_matches(
        s,
        t,
        "?_type=Observation",
        &["Observation/a-lab", "Observation/a-vs"],
    )
    .await;
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": "Patient/pb"}});
    send_with(s, t, Method::POST, "Observation", Some(&obs), &[])
        .await
        .assert_outcome(403, "forbidden");
    send_with(s, t, Method::DELETE, "Observation/b-vs", None, &[])
        .await
        .assert_outcome(403, "forbidden");
}

smart_test!(patient_user_confined_case, patient_user_confined);

/// A Practitioner's `user/*.rs` is not confined to a compartment: both patients, the
/// type and system histories and system search; but no writes.
async fn practitioner_user_sees_both(s: &TestServer) {
    load(s).await;
    let token = standalone_token(s, "clinic", CLINICIAN.0, CLINICIAN.1, "user/*.rs").await;
    let t = token["access_token"].as_str().unwrap();
    let all_obs = [
        "Observation/a-lab",
        "Observation/a-vs",
        "Observation/b-lab",
        "Observation/b-temp",
        "Observation/b-vs",
    ];
    check_matches(s, t, "Observation", &all_obs).await;
    check_matches(s, t, "Patient", &["Patient/pa", "Patient/pb"]).await;
    assert_eq!(get_with(s, t, "Observation/b-vs").await.status, 200);
    assert_eq!(get_with(s, t, "Practitioner/doc").await.status, 200);
    let (m, inc) = search(
        s,
        t,
        "Observation?_id=a-lab&_include=Observation:derived-from",
    )
    .await;
    assert_eq!(
        (m, inc),
        (
            sorted(&["Observation/a-lab"]),
            sorted(&["Observation/b-lab"])
        )
    );
    let (m, inc) = search(s, t, "Encounter?_include=Encounter:participant").await;
    assert_eq!(m, sorted(&["Encounter/a-enc", "Encounter/b-enc"]));
    assert_eq!(inc, sorted(&["Practitioner/doc"]));
    assert_eq!(total(s, t, "?_type=Observation&_summary=count").await, 5);
    // $everything of each patient: that patient's compartment, paged and narrowed by
    // _type.
    check_matches(s, t, "Patient/pa/$everything", &EVERYTHING_A).await;
    check_matches(
        s,
        t,
        "Patient/pb/$everything?_type=Observation,Provenance",
        &[
            "Observation/b-lab",
            "Observation/b-temp",
            "Observation/b-vs",
            "Provenance/b-prov",
            "Provenance/x-prov",
        ],
    )
    .await;
    let seen = walk_pages(s, t, "Patient/pa/$everything?_count=3", 7).await;
    assert_eq!(seen, sorted(&EVERYTHING_A));
    get_with(s, t, "Patient/pa/$everything?_type=Practitioner")
        .await
        .assert_outcome(400, "value");
    for path in [
        "Observation/_history",
        "_history",
        "Observation/b-vs/_history",
    ] {
        let r = get_with(s, t, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": "Patient/pb"}});
    send_with(s, t, Method::POST, "Observation", Some(&obs), &[])
        .await
        .assert_outcome(403, "forbidden");
}

smart_test!(
    practitioner_user_sees_both_case,
    practitioner_user_sees_both
);

/// A SMART app with `patient/` scopes imports a wearable file for its patient: the
/// Observations, Device and Provenance are written with the app's rights (all in the
/// patient's compartment); for another patient it is refused and nothing is written.
async fn patient_app_imports_wearable_data(server: &TestServer) {
    let admin = load(server).await;
    for patient in ["pa", "pb"] {
        let consent = json!({"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": format!("Patient/{patient}")},
            "provision": {"type": "permit", "actor": [{
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "INF"}]},
                "reference": {"identifier": {"system": "https://healthos.dev/fhir/data-source", "value": "withings"}}}]}});
        let r = send_with(server, &admin, Method::POST, "Consent", Some(&consent), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let token = token_for_a(server, "importer", "patient/*.cruds").await;
    let file = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/wearables/openmhealth-shimmer/withings/withings-body-measures.json"),
    )
    .unwrap();
    let import = |patient: &'static str| {
        server
            .request(
                Method::POST,
                &format!("Patient/{patient}/$import-wearable?source=withings"),
            )
            .bearer_auth(&token)
            .body(file.clone())
            .send()
    };
    let r = Reply::from(import("pa").await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let found = get_with(server, &token, "Observation?code=29463-7")
        .await
        .json();
    assert_eq!(found["total"], 2, "{found}");
    let r = Reply::from(import("pb").await.unwrap()).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let b = get_with(
        server,
        &admin,
        "Observation?subject=Patient/pb&code=29463-7",
    )
    .await
    .json();
    assert_eq!(b["total"], 0, "{b}");
}
smart_test!(
    patient_app_imports_wearable_data_case,
    patient_app_imports_wearable_data
);
