//! Logs carry the route template, status and request id, and never resource content,
//! query values or ids (they can be PHI).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::Method;
use serde_json::json;

use crate::backend_test;
use crate::support::TestServer;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, at debug level.
fn captured() -> &'static Buffer {
    static LOGS: OnceLock<Buffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    })
}

async fn no_phi_in_logs(s: &TestServer) {
    let logs = captured();
    let marker = "Quixotelyname";
    let r = s
        .create(&json!({"resourceType": "Patient", "name": [{"family": marker}], "birthDate": "1961-07-04"}))
        .await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    s.get(&format!("Patient?family={marker}")).await;
    s.get(&format!("Patient/{id}")).await;
    s.send_json(
        Method::POST,
        "Patient",
        &json!({"resourceType": "Patient", "name": [{"family": marker, "bogus": marker}]}),
    )
    .await;
    let r = s
        .request(Method::GET, "metadata")
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("route=\"/fhir/{res_type}/{id}\""),
        "route templates are logged"
    );
    assert!(text.contains("trace-me-42"), "the request id is logged");
    assert!(text.contains("status=201"));
    for secret in [marker, id.as_str(), "1961-07-04"] {
        assert!(
            !text.contains(secret),
            "'{secret}' must not appear in the logs"
        );
    }
}
backend_test!(no_phi_in_logs_case, no_phi_in_logs);
