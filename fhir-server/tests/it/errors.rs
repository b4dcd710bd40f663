//! Every error is an OperationOutcome with the right status and IssueType, and leaves the
//! store untouched.

use reqwest::Method;
use serde_json::json;

use crate::backend_test;
use crate::support::TestServer;

async fn raw(
    s: &TestServer,
    method: Method,
    path: &str,
    ct: &str,
    body: impl Into<reqwest::Body>,
) -> crate::support::Reply {
    crate::support::Reply::from(
        s.request(method, path)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// POSTs headers declaring a body of `len` bytes and `Expect: 100-continue`, without
/// sending the body; returns the status and the response body.
async fn declared_oversize_post(s: &TestServer, path: &str, len: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.server.as_ref().unwrap().addr;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /fhir/{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/fhir+json\r\nContent-Length: {len}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

async fn history_total(s: &TestServer) -> u64 {
    s.get("_history").await.json()["total"].as_u64().unwrap()
}

async fn bad_input_is_refused_and_changes_nothing(s: &TestServer) {
    let before = history_total(s).await;
    // Malformed JSON.
    raw(
        s,
        Method::POST,
        "Patient",
        "application/fhir+json",
        "{\"resourceType\": \"Patient\",",
    )
    .await
    .assert_outcome(400, "structure");
    // Malformed XML.
    raw(
        s,
        Method::POST,
        "Patient",
        "application/fhir+xml",
        "<Patient xmlns=\"http://hl7.org/fhir\"><name>",
    )
    .await
    .assert_outcome(400, "structure");
    // Unknown element, with its path.
    let oo = s
        .create(&json!({"resourceType": "Patient", "name": [{"family": "x", "nickname": "y"}]}))
        .await
        .assert_outcome(400, "structure");
    assert_eq!(
        oo["issue"][0]["expression"][0], "Patient.name[0].nickname",
        "{oo}"
    );
    // Wrong resourceType for the URL.
    s.send_json(
        Method::POST,
        "Patient",
        &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}),
    )
    .await
    .assert_outcome(400, "invalid");
    // Invalid value: a bad date.
    let oo = s
        .create(&json!({"resourceType": "Patient", "birthDate": "yesterday"}))
        .await;
    assert_eq!(oo.status, 400, "{}", oo.text);
    assert_eq!(oo.json()["issue"][0]["expression"][0], "Patient.birthDate");
    // Missing required element.
    let oo = s
        .create(&json!({"resourceType": "Observation", "code": {"text": "x"}}))
        .await;
    assert_eq!(oo.status, 400);
    assert_eq!(oo.json()["issue"][0]["code"], "required");
    // Deeply nested input.
    let mut deep = String::from("{\"resourceType\":\"Patient\",\"extension\":[");
    for _ in 0..5000 {
        deep.push_str("{\"url\":\"http://x\",\"extension\":[");
    }
    let r = raw(s, Method::POST, "Patient", "application/fhir+json", deep).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["resourceType"], "OperationOutcome");
    // Unsupported media type, and none at all.
    raw(s, Method::POST, "Patient", "text/plain", "hello")
        .await
        .assert_outcome(415, "not-supported");
    let r = crate::support::Reply::from(
        s.request(Method::POST, "Patient")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_outcome(415, "not-supported");
    // Body over the limit (the test server allows 2 MiB): refused on the declared length,
    // before the body is read. Sent by hand with `Expect: 100-continue`, as a client that
    // wants to hear a refusal before it uploads does (a plain client would see the
    // connection close under its upload).
    let (status, body) = declared_oversize_post(s, "Patient", 3 * 1024 * 1024).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"too-long\""), "{body}");
    assert_eq!(history_total(s).await, before, "nothing was stored");
}
backend_test!(bad_input_case, bad_input_is_refused_and_changes_nothing);

async fn url_errors(s: &TestServer) {
    s.get("Unicorn/1").await.assert_outcome(404, "not-found");
    s.create(&json!({"resourceType": "Patient"})).await;
    s.send_json(Method::POST, "Unicorn", &json!({"resourceType": "Unicorn"}))
        .await
        .assert_outcome(404, "not-found");
    s.get("Patient/bad$id").await.assert_outcome(400, "value");
    s.get(&format!("Patient/{}", "a".repeat(65)))
        .await
        .assert_outcome(400, "value");
    s.get("nowhere").await.assert_outcome(404, "not-found");
    // Errors come in the format the client asked for.
    let xml = crate::support::Reply::from(
        s.request(Method::GET, "Unicorn/1")
            .header("accept", "application/fhir+xml")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(xml.status, 404);
    assert!(
        xml.header("content-type")
            .unwrap()
            .starts_with("application/fhir+xml")
    );
    assert!(
        xml.text
            .contains("<OperationOutcome xmlns=\"http://hl7.org/fhir\">"),
        "{}",
        xml.text
    );
    assert!(
        xml.text.contains("<code value=\"not-found\"/>"),
        "{}",
        xml.text
    );
    let r = s.send_json(Method::PUT, "metadata", &json!({})).await;
    assert_eq!(r.status, 405, "{}", r.text);
}
backend_test!(url_errors_case, url_errors);

async fn update_id_rules(s: &TestServer) {
    let p = json!({"resourceType": "Patient", "id": "one"});
    s.send_json(Method::PUT, "Patient/two", &p)
        .await
        .assert_outcome(400, "invalid");
    s.send_json(
        Method::PUT,
        "Patient/two",
        &json!({"resourceType": "Patient"}),
    )
    .await
    .assert_outcome(400, "required");
    s.send_json(Method::PUT, "Patient/two", &json!({"resourceType": "Observation", "id": "two", "status": "final", "code": {"text": "x"}}))
        .await
        .assert_outcome(400, "invalid");
    let r = s
        .request(Method::PUT, "Patient/one")
        .header("content-type", "application/fhir+json")
        .header("if-match", "not-an-etag")
        .body(serde_json::to_vec(&p).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        s.get("Patient/one").await.status,
        404,
        "nothing was created"
    );
}
backend_test!(update_id_rules_case, update_id_rules);

async fn conditional_errors(s: &TestServer) {
    s.send_json(
        Method::PUT,
        "Patient?nonsense=1",
        &json!({"resourceType": "Patient"}),
    )
    .await
    .assert_outcome(400, "not-supported");
    s.send_json(Method::PUT, "Patient", &json!({"resourceType": "Patient"}))
        .await
        .assert_outcome(400, "required");
    let r = s.request(Method::DELETE, "Patient").send().await.unwrap();
    assert_eq!(r.status(), 400);
}
backend_test!(conditional_errors_case, conditional_errors);
