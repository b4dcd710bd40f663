//! The digital twin end to end: five weeks of a person's resting heart rate imported as a
//! Health Connect export, the worker computing baselines after the import commits, then
//! three elevated days making exactly one active Flag whose DetectedIssue points at those
//! days' Observations; re-running changes nothing; acknowledging closes the Flag.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::imports::{consent, search};
use fhir_server::config::AuthMode;

use crate::support::{Reply, TestServer};

/// A Health Connect export of daily resting heart rates, one record per day from
/// 2025-03-01 (+01:00, 07:00 local), ids `rhr-<day index>`.
fn resting_heart_rates(values: &[(usize, u32)]) -> Vec<u8> {
    let records: Vec<Value> = values
        .iter()
        .map(|(day, bpm)| {
            let date = day_of(*day);
            json!({
                "type": "RestingHeartRateRecord",
                "time": format!("{date}T06:00:00Z"),
                "zoneOffset": "+01:00",
                "beatsPerMinute": bpm,
                "metadata": {"id": format!("rhr-{day}"),
                             "device": {"type": 1, "manufacturer": "Google", "model": "Pixel Watch 2"}}
            })
        })
        .collect();
    serde_json::to_vec(&json!({"records": records})).unwrap()
}

/// Day `n` after 2025-03-01 (March has 31 days; the test stays within March and April).
fn day_of(n: usize) -> String {
    if n < 31 {
        format!("2025-03-{:02}", n + 1)
    } else {
        format!("2025-04-{:02}", n - 30)
    }
}

async fn import(s: &TestServer, patient: &str, body: Vec<u8>) -> Reply {
    let r = Reply::from(
        s.request(
            Method::POST,
            &format!("Patient/{patient}/$import-wearable?source=health-connect"),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

/// `$twin` until `done` says its Bundle is complete (the worker runs after the import's
/// answer), for up to 20 s.
async fn twin_when(s: &TestServer, patient: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let bundle = s.get(&format!("Patient/{patient}/$twin")).await.json();
        if done(&bundle) {
            return bundle;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the twin of Patient/{patient} was not computed in time");
}

fn of_type<'a>(bundle: &'a Value, res_type: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .map(|e| e.iter().map(|e| &e["resource"]).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["resourceType"] == res_type)
        .collect()
}

async fn twin_end_to_end(s: &TestServer) {
    let patient = s
        .create(&json!({"resourceType": "Patient", "name": [{"family": "Twin"}]}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    consent(s, &patient, &["health-connect"]).await;

    // Five weeks around 58 /min.
    let normal: Vec<(usize, u32)> = (0..35).map(|d| (d, 57 + (d % 3) as u32)).collect();
    import(s, &patient, resting_heart_rates(&normal)).await;
    let bundle = twin_when(s, &patient, |b| !of_type(b, "Observation").is_empty()).await;
    let baselines = of_type(&bundle, "Observation");
    let rhr_30 = baselines
        .iter()
        .find(|o| {
            o["code"]["coding"][0]["code"] == "40443-4"
                && o["method"]["coding"][0]["code"] == "baseline-30d"
        })
        .unwrap_or_else(|| panic!("no 30-day resting HR baseline in {bundle}"));
    assert_eq!(rhr_30["valueQuantity"]["value"], 58, "{rhr_30}");
    assert_eq!(rhr_30["valueQuantity"]["code"], "/min");
    assert!(of_type(&bundle, "Flag").is_empty(), "{bundle}");

    // Three elevated days: 68, 71, 70.
    let episode = [(35, 68), (36, 71), (37, 70)];
    import(s, &patient, resting_heart_rates(&episode)).await;
    let bundle = twin_when(s, &patient, |b| !of_type(b, "Flag").is_empty()).await;
    let flags = of_type(&bundle, "Flag");
    assert_eq!(flags.len(), 1, "{bundle}");
    assert_eq!(flags[0]["status"], "active");
    let issues = of_type(&bundle, "DetectedIssue");
    assert_eq!(issues.len(), 1, "{bundle}");
    let detail = issues[0]["detail"].as_str().unwrap();
    assert!(detail.contains("68, 71, 70"), "{detail}");
    // The evidence is the three days' Observations.
    let evidence: Vec<String> = issues[0]["implicated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = Vec::new();
    for (day, _) in episode {
        let date = day_of(day);
        let found = search(
            s,
            &format!("Observation?subject=Patient/{patient}&code=40443-4&date={date}"),
        )
        .await;
        assert_eq!(found.len(), 1, "{date}");
        expected.push(format!("Observation/{}", found[0]["id"].as_str().unwrap()));
    }
    let mut sorted = evidence.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);

    // Rebuilding (and the queued run) duplicates nothing.
    let count = |res_type: &'static str| async move {
        search(s, &format!("{res_type}?_count=500")).await.len()
    };
    let (observations, flags_before, issues_before) = (
        count("Observation").await,
        count("Flag").await,
        count("DetectedIssue").await,
    );
    let r = s
        .send_json(
            Method::POST,
            &format!("Patient/{patient}/$twin-rebuild"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(count("Observation").await, observations);
    assert_eq!(count("Flag").await, flags_before);
    assert_eq!(count("DetectedIssue").await, issues_before);
    let flag_id = flags[0]["id"].as_str().unwrap().to_owned();
    let history = s.get(&format!("Flag/{flag_id}/_history")).await.json();
    assert_eq!(history["total"], 1, "{history}");

    // Acknowledged: inactive, and a rebuild leaves it so.
    let r = s
        .send_json(
            Method::POST,
            &format!("Flag/{flag_id}/$acknowledge"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "inactive");
    s.send_json(
        Method::POST,
        &format!("Patient/{patient}/$twin-rebuild"),
        &json!({}),
    )
    .await;
    assert_eq!(
        s.get(&format!("Flag/{flag_id}")).await.json()["status"],
        "inactive"
    );

    // The CodeSystems the twin's codes come from are on the server.
    let systems = search(
        s,
        "CodeSystem?url=https://healthos.dev/fhir/CodeSystem/twin-alert",
    )
    .await;
    assert_eq!(systems.len(), 1);
}
backend_test!(twin_end_to_end_case, twin_end_to_end);

/// The job queue, on a server that runs no worker of its own (`--twin-worker false`): a
/// queued patient is claimed by one worker at a time (a second claim finds nothing while
/// the lease holds); queued again while claimed, it stays queued when the first
/// computation ends; finishing then removes it.
async fn job_queue_claims_once(s: &TestServer) {
    use fhir_server::twin::jobs;
    let queue = TestServer::start_configured(s.backend(), AuthMode::Off, |c| {
        c.twin_worker = false;
    })
    .await;
    let store = queue.admin_store().await;
    jobs::enqueue(&*store, "q-1").await.unwrap();
    jobs::enqueue(&*store, "q-2").await.unwrap();
    let first = jobs::claim(&*store).await.unwrap().unwrap();
    let second = jobs::claim(&*store).await.unwrap().unwrap();
    assert_ne!(first.patient_id, second.patient_id);
    assert_eq!(jobs::claim(&*store).await.unwrap(), None, "both leased");
    // q-1 gets new data while being computed: it is still queued afterwards.
    jobs::enqueue(&*store, &first.patient_id).await.unwrap();
    jobs::finish(&*store, &first).await.unwrap();
    jobs::finish(&*store, &second).await.unwrap();
    let again = jobs::claim(&*store).await.unwrap().unwrap();
    assert_eq!(again.patient_id, first.patient_id);
    jobs::finish(&*store, &again).await.unwrap();
    assert_eq!(
        jobs::claim(&*store).await.unwrap(),
        None,
        "the queue is empty"
    );
    queue.stop().await;
}
backend_test!(job_queue_claims_once_case, job_queue_claims_once);
