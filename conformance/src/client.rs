//! The kit's HTTP client: a thin layer over reqwest that records every exchange, so a
//! failing case can show the request it sent, what it expected and what came back.
//!
//! The kit speaks only HTTP (no server types), so it runs against any FHIR server.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::{ConformanceError, Failure};

/// The FHIR JSON media type.
pub const FHIR_JSON: &str = "application/fhir+json";
/// The FHIR XML media type.
pub const FHIR_XML: &str = "application/fhir+xml";
/// The JSON Patch media type.
pub const JSON_PATCH: &str = "application/json-patch+json";

/// How far bodies are shown in failure reports.
const EXCERPT: usize = 1500;

/// Where the server is and how to talk to it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The FHIR base, e.g. `http://127.0.0.1:8080/fhir` (no trailing slash needed).
    pub base_url: String,
    /// A bearer token sent on every request.
    pub token: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl ClientConfig {
    /// A config for `base_url` without a token and with a 60 s timeout.
    pub fn new(base_url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into(),
            token: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A recording FHIR HTTP client.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    run_id: String,
    counter: AtomicU64,
}

impl Client {
    /// Builds the client. An `https` base needs the crate's `https` feature.
    pub fn new(config: &ClientConfig) -> Result<Client, ConformanceError> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        if base.starts_with("https://") && !cfg!(feature = "https") {
            return Err(ConformanceError::Client(
                "https base URLs need the `https` feature: \
                 cargo install --path conformance --features https"
                    .into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConformanceError::Client(e.to_string()))?;
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        Ok(Client {
            http,
            base,
            token: config.token.clone(),
            run_id,
            counter: AtomicU64::new(0),
        })
    }

    /// The FHIR base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A value unique to this run and call, for identifiers and client-chosen ids
    /// (letters, digits and `-`, at most 64 characters: a valid FHIR id).
    pub fn unique(&self, tag: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut s = format!("{tag}-{}-{n}", self.run_id);
        s.truncate(64);
        s
    }

    /// The absolute URL of `path` (relative to the base, or already absolute).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else if path.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    /// Starts a request.
    pub fn request(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            client: self,
            method,
            url: self.url(path),
            query: Vec::new(),
            headers: vec![("Accept".into(), FHIR_JSON.into())],
            body: None,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Req<'_> {
        self.request(Method::GET, path)
    }

    /// `POST path` with a FHIR JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Req<'_> {
        self.request(Method::POST, path).json(body)
    }

    /// `PUT path` with a FHIR JSON body.
    pub fn put(&self, path: &str, body: &Value) -> Req<'_> {
        self.request(Method::PUT, path).json(body)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Req<'_> {
        self.request(Method::DELETE, path)
    }

    /// POSTs a body of `len` bytes (a JSON object padded with spaces) with
    /// `Expect: 100-continue`, over a plain TCP connection.
    ///
    /// A server that refuses an oversized body on its `Content-Length` answers 413 at
    /// once and closes the connection; an HTTP client that is still writing the body then
    /// sees a reset instead of the answer. With `Expect: 100-continue` the body is only
    /// sent if the server asks for it, so the 413 can be read. `http://` bases only.
    pub async fn post_oversized(&self, path: &str, len: usize) -> Result<Exchange, Failure> {
        let url = self.url(path);
        let mut ex = Exchange {
            method: "POST".into(),
            url: url.clone(),
            request_headers: vec![
                ("Content-Type".into(), FHIR_JSON.into()),
                ("Content-Length".into(), len.to_string()),
                ("Expect".into(), "100-continue".into()),
            ],
            request_body: Some(
                format!("{{\"resourceType\":\"Patient\"}} padded with spaces to {len} bytes")
                    .into_bytes(),
            ),
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
        match raw::post_expect_continue(&url, self.token.as_deref(), len).await {
            Ok((status, headers, body)) => {
                ex.status = status;
                ex.headers = headers;
                ex.body = body;
                Ok(ex)
            }
            Err(e) => Err(ex.fail_with("an HTTP response", format!("no response: {e}"))),
        }
    }

    /// Creates `resource` with POST and returns its id, failing the case unless the
    /// server answers 201 with a body or a Location.
    pub async fn create(&self, resource: &Value) -> Result<String, Failure> {
        let ty = resource["resourceType"].as_str().unwrap_or_default();
        let ex = self.post(ty, resource).send().await?;
        ex.expect_status(&[201])?;
        ex.created_id(ty)
    }
}

/// A request being built.
pub struct Req<'c> {
    client: &'c Client,
    method: Method,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Req<'_> {
    /// Sets a header, replacing one of the same name.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a query parameter (percent-encoded when sent).
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// A FHIR JSON body.
    pub fn json(self, body: &Value) -> Self {
        self.body(body.to_string().into_bytes(), FHIR_JSON)
    }

    /// A body of any media type.
    pub fn body(mut self, body: Vec<u8>, content_type: &str) -> Self {
        self.body = Some(body);
        self.header("Content-Type", content_type)
    }

    /// Sends it and records the exchange. A transport error fails the case.
    pub async fn send(self) -> Result<Exchange, Failure> {
        let mut url = reqwest::Url::parse(&self.url).map_err(|e| {
            Failure::new(
                format!("{} {}", self.method, self.url),
                "a valid URL",
                e.to_string(),
            )
        })?;
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &self.query {
                pairs.append_pair(k, v);
            }
        }
        let mut req = self.client.http.request(self.method.clone(), url.clone());
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(token) = &self.client.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = &self.body {
            req = req.body(body.clone());
        }
        let mut ex = Exchange {
            method: self.method.to_string(),
            url: url.to_string(),
            request_headers: self.headers,
            request_body: self.body,
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => return Err(ex.fail_with("an HTTP response", format!("no response: {e}"))),
        };
        ex.status = resp.status().as_u16();
        ex.headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into(),
                )
            })
            .collect();
        match resp.bytes().await {
            Ok(bytes) => ex.body = bytes.to_vec(),
            Err(e) => return Err(ex.fail_with("a response body", format!("body error: {e}"))),
        }
        Ok(ex)
    }
}

/// One recorded request and its response.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The method.
    pub method: String,
    /// The full URL, query included.
    pub url: String,
    /// Request headers set by the case (the bearer token is never recorded).
    pub request_headers: Vec<(String, String)>,
    /// The request body.
    pub request_body: Option<Vec<u8>>,
    /// The response status.
    pub status: u16,
    /// Response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: Vec<u8>,
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= EXCERPT {
        text.into_owned()
    } else {
        let cut: String = text.chars().take(EXCERPT).collect();
        format!("{cut}… ({} bytes in all)", bytes.len())
    }
}

impl Exchange {
    /// The request as text, for a failure report.
    pub fn request_text(&self) -> String {
        let mut s = format!("{} {}", self.method, self.url);
        for (k, v) in &self.request_headers {
            let _ = write!(s, "\n{k}: {v}");
        }
        if let Some(body) = &self.request_body {
            let _ = write!(s, "\n\n{}", excerpt(body));
        }
        s
    }

    /// The response as text, for a failure report.
    pub fn response_text(&self) -> String {
        let mut s = format!("HTTP {}", self.status);
        for (k, v) in &self.headers {
            if matches!(
                k.as_str(),
                "content-type" | "location" | "etag" | "last-modified" | "content-location"
            ) {
                let _ = write!(s, "\n{k}: {v}");
            }
        }
        if !self.body.is_empty() {
            let _ = write!(s, "\n\n{}", excerpt(&self.body));
        }
        s
    }

    /// A failure of this exchange: `expected` against the response.
    pub fn fail(&self, expected: impl Into<String>) -> Failure {
        Failure::new(self.request_text(), expected, self.response_text())
    }

    /// A failure of this exchange with a specific account of what was seen.
    pub fn fail_with(&self, expected: impl Into<String>, actual: impl Into<String>) -> Failure {
        Failure::new(
            self.request_text(),
            expected,
            format!("{}\n\n{}", actual.into(), self.response_text()),
        )
    }

    /// Fails unless `cond`.
    pub fn ensure(&self, cond: bool, expected: impl Into<String>) -> Result<(), Failure> {
        if cond {
            Ok(())
        } else {
            Err(self.fail(expected))
        }
    }

    /// Fails unless the status is one of `ok`.
    pub fn expect_status(&self, ok: &[u16]) -> Result<(), Failure> {
        let want = ok
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        self.ensure(ok.contains(&self.status), format!("status {want}"))
    }

    /// A response header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The response's media type, without parameters, in lower case.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// Fails unless the response is `application/fhir+json` (parameters such as charset
    /// are allowed).
    pub fn expect_fhir_json(&self) -> Result<(), Failure> {
        self.ensure(
            self.media_type().as_deref() == Some(FHIR_JSON),
            format!("Content-Type {FHIR_JSON}"),
        )
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, Failure> {
        serde_json::from_slice(&self.body)
            .map_err(|e| self.fail_with("a JSON body", format!("not JSON: {e}")))
    }

    /// The body as a FHIR JSON resource of type `ty`.
    pub fn resource(&self, ty: &str) -> Result<Value, Failure> {
        let v = self.json()?;
        if v["resourceType"] == ty {
            Ok(v)
        } else {
            Err(self.fail(format!("a {ty} resource")))
        }
    }

    /// Fails unless the body is an OperationOutcome with at least one issue.
    pub fn expect_outcome(&self) -> Result<Value, Failure> {
        let v = self.json()?;
        let ok = v["resourceType"] == "OperationOutcome"
            && v["issue"].as_array().is_some_and(|a| !a.is_empty());
        if ok {
            Ok(v)
        } else {
            Err(self.fail("an OperationOutcome body with an issue"))
        }
    }

    /// Fails unless the status is one of `ok` and the body is an OperationOutcome: how
    /// the negative cases of http.html look.
    pub fn expect_error(&self, ok: &[u16]) -> Result<(), Failure> {
        self.expect_status(ok)?;
        self.expect_outcome()?;
        self.expect_fhir_json()
    }

    /// The id a create answered with: the body's `id`, else the Location header's.
    pub fn created_id(&self, ty: &str) -> Result<String, Failure> {
        if let Ok(v) = self.json()
            && let Some(id) = v["id"].as_str()
        {
            return Ok(id.to_owned());
        }
        self.header("location")
            .and_then(|loc| location_id(loc, ty))
            .ok_or_else(|| self.fail(format!("an id in the body or a Location {ty}/[id]")))
    }

    /// The ETag header.
    pub fn etag(&self) -> Option<&str> {
        self.header("etag")
    }
}

mod raw {
    //! A minimal HTTP/1.1 exchange over `tokio::net::TcpStream`, for the one request a
    //! general client cannot make (see [`super::Client::post_oversized`]).

    use std::time::Duration;

    use tokio::net::TcpStream;

    const WAIT: Duration = Duration::from_secs(10);

    async fn write_all(stream: &TcpStream, mut buf: &[u8]) -> std::io::Result<()> {
        while !buf.is_empty() {
            stream.writable().await?;
            match stream.try_write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads until `done(bytes)` or the connection closes.
    async fn read_until(
        stream: &TcpStream,
        got: &mut Vec<u8>,
        done: impl Fn(&[u8]) -> bool,
    ) -> std::io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        while !done(got) {
            tokio::time::timeout(WAIT, stream.readable())
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no response"))??;
            match stream.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn head_end(b: &[u8]) -> Option<usize> {
        b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
    }

    type Response = (u16, Vec<(String, String)>, Vec<u8>);

    fn parse_head(head: &str) -> Result<(u16, Vec<(String, String)>), String> {
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {head:?}"))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok((status, headers))
    }

    pub(super) async fn post_expect_continue(
        url: &str,
        token: Option<&str>,
        len: usize,
    ) -> Result<Response, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        if parsed.scheme() != "http" {
            return Err("only http:// bases are supported for this request".into());
        }
        let host = parsed.host_str().ok_or("no host")?;
        let port = parsed.port_or_known_default().unwrap_or(80);
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| e.to_string())?;
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/fhir+json\r\n\
             Accept: application/fhir+json\r\nContent-Length: {len}\r\nExpect: 100-continue\r\nConnection: close\r\n",
            match parsed.query() {
                Some(q) => format!("{}?{q}", parsed.path()),
                None => parsed.path().to_owned(),
            }
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        write_all(&stream, head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut got = Vec::new();
        read_until(&stream, &mut got, |b| head_end(b).is_some())
            .await
            .map_err(|e| e.to_string())?;
        let end = head_end(&got).ok_or("the connection closed before a response")?;
        let (mut status, mut headers) = parse_head(&String::from_utf8_lossy(&got[..end]))?;
        let mut rest = got[end..].to_vec();
        if status == 100 {
            // The server wants the body: send it, then read the final response.
            let mut body = br#"{"resourceType":"Patient"}"#.to_vec();
            body.resize(len, b' ');
            // A server may answer and close while the body is still going out.
            let _ = write_all(&stream, &body).await;
            read_until(&stream, &mut rest, |b| head_end(b).is_some())
                .await
                .map_err(|e| e.to_string())?;
            let end = head_end(&rest).ok_or("the connection closed before a final response")?;
            (status, headers) = parse_head(&String::from_utf8_lossy(&rest[..end]))?;
            rest.drain(..end);
        }
        let want = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok());
        read_until(&stream, &mut rest, |b| want.is_some_and(|n| b.len() >= n))
            .await
            .map_err(|e| e.to_string())?;
        if let Some(n) = want {
            rest.truncate(n);
        }
        Ok((status, headers, rest))
    }
}

/// The id in a Location such as `[base]/Patient/123/_history/1`.
pub fn location_id(location: &str, ty: &str) -> Option<String> {
    let path = location.split('?').next()?;
    let segments: Vec<&str> = path.split('/').collect();
    let pos = segments.iter().position(|s| *s == ty)?;
    segments
        .get(pos + 1)
        .filter(|s| !s.is_empty())
        .map(|s| (*s).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_id_reads_the_segment_after_the_type() {
        assert_eq!(
            location_id("http://x/fhir/Patient/abc/_history/1", "Patient").as_deref(),
            Some("abc")
        );
        assert_eq!(
            location_id("Patient/abc", "Patient").as_deref(),
            Some("abc")
        );
        assert_eq!(location_id("http://x/fhir/Observation/1", "Patient"), None);
    }

    #[test]
    fn unique_values_are_valid_fhir_ids() {
        let c = Client::new(&ClientConfig::new("http://127.0.0.1:1/fhir/")).unwrap();
        let a = c.unique("a-very-long-tag-that-goes-on-and-on-and-on-and-on-and-on-and-on");
        let b = c.unique("t");
        assert_ne!(a, b);
        assert!(a.len() <= 64 && a.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'));
        assert_eq!(c.url("Patient"), "http://127.0.0.1:1/fhir/Patient");
    }
}
