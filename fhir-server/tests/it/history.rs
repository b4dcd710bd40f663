//! History: instance, type and system; `_since`, `_at`, `_count` and paging links.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_test;
use crate::support::TestServer;

fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| l["url"].as_str().unwrap().to_owned())
}

async fn history_levels_and_paging(s: &TestServer) {
    let mut p = json!({"resourceType": "Patient", "id": "h1", "gender": "female"});
    s.send_json(Method::PUT, "Patient/h1", &p).await;
    let t1 = s.get("Patient/h1").await.json()["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    p["gender"] = json!("male");
    s.send_json(Method::PUT, "Patient/h1", &p).await;
    p["gender"] = json!("other");
    s.send_json(Method::PUT, "Patient/h1", &p).await;
    s.create(&json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}))
        .await;

    let inst = s.get("Patient/h1/_history").await.json();
    assert_eq!(inst["type"], "history");
    assert_eq!(inst["total"], 3);
    let versions: Vec<&str> = inst["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["3", "2", "1"], "newest first");
    assert_eq!(inst["entry"][2]["request"]["method"], "PUT");
    assert_eq!(inst["entry"][2]["response"]["status"], "201 Created");

    assert_eq!(s.get("Patient/_history").await.json()["total"], 3);
    assert_eq!(s.get("_history").await.json()["total"], 4);

    // _count pages with next links until the end, without repeats.
    let mut page = s.get("_history?_count=1").await.json();
    let mut seen = vec![];
    loop {
        assert!(page["entry"].as_array().unwrap().len() <= 1);
        for e in page["entry"].as_array().unwrap() {
            seen.push(format!("{}{}", e["fullUrl"], e["response"]["etag"]));
        }
        match next_link(&page) {
            Some(url) => {
                page = s
                    .client
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap()
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 4);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4);

    // _since: only versions at or after; _at: the version current then.
    let since = s
        .get(&format!("Patient/h1/_history?_since={}", urlencode(&t1)))
        .await
        .json();
    assert_eq!(since["total"], 3);
    let at = s
        .get(&format!("Patient/h1/_history?_at={}", urlencode(&t1)))
        .await
        .json();
    assert_eq!(at["total"], 1);
    assert_eq!(at["entry"][0]["resource"]["meta"]["versionId"], "1");
    s.get("_history?_since=yesterday")
        .await
        .assert_outcome(400, "value");
    s.get("Patient/none/_history")
        .await
        .assert_outcome(404, "not-found");
}
backend_test!(history_case, history_levels_and_paging);

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}
