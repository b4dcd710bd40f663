//! Building and reading [Bundles](https://hl7.org/fhir/R4/bundle.html).
//!
//! Why: search results, history, and transaction/batch responses are all Bundles, and
//! transaction/batch requests arrive as Bundles. Keeping their shape in one place means
//! the server never writes Bundle JSON by hand and reads request entries one way.

use serde_json::{Map, Value, json};

use crate::error::ModelError;
use crate::outcome::{Issue, IssueType};

/// [Bundle.type](https://hl7.org/fhir/R4/valueset-bundle-type.html).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleType {
    /// A document (first entry a Composition).
    Document,
    /// A message (first entry a MessageHeader).
    Message,
    /// A transaction request: processed as a whole.
    Transaction,
    /// The response to a transaction.
    TransactionResponse,
    /// A batch request: each entry processed on its own.
    Batch,
    /// The response to a batch.
    BatchResponse,
    /// A history list.
    History,
    /// Search results.
    Searchset,
    /// A set of resources.
    Collection,
}

impl BundleType {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            BundleType::Document => "document",
            BundleType::Message => "message",
            BundleType::Transaction => "transaction",
            BundleType::TransactionResponse => "transaction-response",
            BundleType::Batch => "batch",
            BundleType::BatchResponse => "batch-response",
            BundleType::History => "history",
            BundleType::Searchset => "searchset",
            BundleType::Collection => "collection",
        }
    }

    /// The type for a FHIR code.
    ///
    /// ```
    /// use fhir_model::bundle::BundleType;
    /// assert_eq!(BundleType::from_code("batch-response"), Some(BundleType::BatchResponse));
    /// assert_eq!(BundleType::from_code("Batch"), None);
    /// ```
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "document" => BundleType::Document,
            "message" => BundleType::Message,
            "transaction" => BundleType::Transaction,
            "transaction-response" => BundleType::TransactionResponse,
            "batch" => BundleType::Batch,
            "batch-response" => BundleType::BatchResponse,
            "history" => BundleType::History,
            "searchset" => BundleType::Searchset,
            "collection" => BundleType::Collection,
            _ => return None,
        })
    }
}

/// [Bundle.entry.search.mode](https://hl7.org/fhir/R4/valueset-search-entry-mode.html).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchMode {
    /// The resource matched the search.
    Match,
    /// Added by `_include` / `_revinclude`.
    Include,
    /// An OperationOutcome about the search.
    Outcome,
}

impl SearchMode {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            SearchMode::Match => "match",
            SearchMode::Include => "include",
            SearchMode::Outcome => "outcome",
        }
    }
}

/// [HTTPVerb](https://hl7.org/fhir/R4/valueset-http-verb.html) of a request entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Read or search.
    Get,
    /// Read headers only.
    Head,
    /// Create (or search with POST).
    Post,
    /// Update or create with a client id.
    Put,
    /// Delete.
    Delete,
    /// Patch.
    Patch,
}

impl Method {
    /// The FHIR code (`GET`, …).
    pub fn code(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }

    /// The method for a FHIR code.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            _ => return None,
        })
    }
}

/// `Bundle.entry.request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRequest {
    /// The HTTP method.
    pub method: Method,
    /// The URL relative to the server base, e.g. `Patient/123` or `Patient?name=x`.
    pub url: String,
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since` (an instant).
    pub if_modified_since: Option<String>,
    /// `If-Match` (an ETag).
    pub if_match: Option<String>,
    /// `If-None-Exist` (a search query, for conditional create).
    pub if_none_exist: Option<String>,
}

impl EntryRequest {
    /// A request with only a method and URL.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        EntryRequest {
            method,
            url: url.into(),
            if_none_match: None,
            if_modified_since: None,
            if_match: None,
            if_none_exist: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("method".into(), json!(self.method.code()));
        o.insert("url".into(), json!(self.url));
        for (k, v) in [
            ("ifNoneMatch", &self.if_none_match),
            ("ifModifiedSince", &self.if_modified_since),
            ("ifMatch", &self.if_match),
            ("ifNoneExist", &self.if_none_exist),
        ] {
            if let Some(v) = v {
                o.insert(k.into(), json!(v));
            }
        }
        Value::Object(o)
    }
}

/// `Bundle.entry.response`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryResponse {
    /// The HTTP status, starting with the 3-digit code (`201 Created`).
    pub status: String,
    /// The `Location` of a created/updated resource (`Patient/1/_history/1`).
    pub location: Option<String>,
    /// The ETag (`W/"1"`).
    pub etag: Option<String>,
    /// The last-modified instant.
    pub last_modified: Option<String>,
    /// An OperationOutcome with hints and warnings (or errors, in a batch).
    pub outcome: Option<Value>,
}

impl EntryResponse {
    /// A response with only a status.
    pub fn status(status: impl Into<String>) -> Self {
        EntryResponse {
            status: status.into(),
            ..Default::default()
        }
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("status".into(), json!(self.status));
        for (k, v) in [
            ("location", &self.location),
            ("etag", &self.etag),
            ("lastModified", &self.last_modified),
        ] {
            if let Some(v) = v {
                o.insert(k.into(), json!(v));
            }
        }
        if let Some(outcome) = &self.outcome {
            o.insert("outcome".into(), outcome.clone());
        }
        Value::Object(o)
    }
}

/// One `Bundle.entry` to add to a [`BundleBuilder`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    /// `fullUrl`: the absolute URL of the resource (or a `urn:uuid:`).
    pub full_url: Option<String>,
    /// The resource.
    pub resource: Option<Value>,
    /// `search.mode` (search results only).
    pub search_mode: Option<SearchMode>,
    /// `request` (transaction/batch and history).
    pub request: Option<EntryRequest>,
    /// `response` (transaction/batch responses and history).
    pub response: Option<EntryResponse>,
}

impl Entry {
    /// A search result entry.
    pub fn search(full_url: impl Into<String>, resource: Value, mode: SearchMode) -> Self {
        Entry {
            full_url: Some(full_url.into()),
            resource: Some(resource),
            search_mode: Some(mode),
            ..Default::default()
        }
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(u) = &self.full_url {
            o.insert("fullUrl".into(), json!(u));
        }
        if let Some(r) = &self.resource {
            o.insert("resource".into(), r.clone());
        }
        if let Some(m) = self.search_mode {
            o.insert("search".into(), json!({ "mode": m.code() }));
        }
        if let Some(r) = &self.request {
            o.insert("request".into(), r.to_json());
        }
        if let Some(r) = &self.response {
            o.insert("response".into(), r.to_json());
        }
        Value::Object(o)
    }
}

/// Builds a Bundle.
///
/// ```
/// use fhir_model::bundle::{BundleBuilder, BundleType, Entry, EntryResponse, SearchMode};
/// use serde_json::json;
///
/// let b = BundleBuilder::new(BundleType::Searchset)
///     .total(1)
///     .link("self", "http://h/fhir/Patient?name=x")
///     .entry(Entry::search("http://h/fhir/Patient/1", json!({"resourceType": "Patient", "id": "1"}), SearchMode::Match))
///     .build();
/// assert_eq!(b["type"], "searchset");
/// assert_eq!(b["total"], 1);
/// assert_eq!(b["link"][0]["relation"], "self");
/// assert_eq!(b["entry"][0]["search"]["mode"], "match");
///
/// let r = BundleBuilder::new(BundleType::TransactionResponse)
///     .entry(Entry { response: Some(EntryResponse { location: Some("Patient/1/_history/1".into()),
///                                                  ..EntryResponse::status("201 Created") }),
///                    ..Default::default() })
///     .build();
/// assert_eq!(r["entry"][0]["response"]["status"], "201 Created");
/// assert!(fhir_model::validate::validate(&mut r.clone(), Default::default()).is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct BundleBuilder {
    ty: BundleType,
    id: Option<String>,
    timestamp: Option<String>,
    total: Option<u64>,
    links: Vec<(String, String)>,
    entries: Vec<Value>,
}

impl BundleBuilder {
    /// An empty Bundle of a type.
    pub fn new(ty: BundleType) -> Self {
        BundleBuilder {
            ty,
            id: None,
            timestamp: None,
            total: None,
            links: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Sets `Bundle.id`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets `Bundle.timestamp` (an instant).
    pub fn timestamp(mut self, instant: impl Into<String>) -> Self {
        self.timestamp = Some(instant.into());
        self
    }

    /// Sets `Bundle.total` (searchset and history only).
    pub fn total(mut self, total: u64) -> Self {
        self.total = Some(total);
        self
    }

    /// Adds a `link` (`self`, `next`, `previous`, `first`, `last`).
    pub fn link(mut self, relation: impl Into<String>, url: impl Into<String>) -> Self {
        self.links.push((relation.into(), url.into()));
        self
    }

    /// Adds an entry.
    pub fn entry(mut self, entry: Entry) -> Self {
        self.entries.push(entry.to_json());
        self
    }

    /// Adds an entry in place (for loops).
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry.to_json());
    }

    /// The Bundle resource (no empty `link` or `entry` arrays).
    pub fn build(self) -> Value {
        let mut o = Map::new();
        o.insert("resourceType".into(), json!("Bundle"));
        if let Some(id) = self.id {
            o.insert("id".into(), json!(id));
        }
        o.insert("type".into(), json!(self.ty.code()));
        if let Some(ts) = self.timestamp {
            o.insert("timestamp".into(), json!(ts));
        }
        if let Some(total) = self.total {
            o.insert("total".into(), json!(total));
        }
        if !self.links.is_empty() {
            let links = self
                .links
                .into_iter()
                .map(|(r, u)| json!({"relation": r, "url": u}))
                .collect();
            o.insert("link".into(), Value::Array(links));
        }
        if !self.entries.is_empty() {
            o.insert("entry".into(), Value::Array(self.entries));
        }
        Value::Object(o)
    }
}

/// One entry of a transaction or batch request Bundle, borrowed from it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestEntry<'a> {
    /// The position in `Bundle.entry`.
    pub index: usize,
    /// `fullUrl` (a `urn:uuid:` that other entries may reference).
    pub full_url: Option<&'a str>,
    /// The resource (POST, PUT; absent for GET, DELETE).
    pub resource: Option<&'a Value>,
    /// The HTTP method.
    pub method: Method,
    /// The request URL, relative to the base.
    pub url: &'a str,
    /// `request.ifMatch`.
    pub if_match: Option<&'a str>,
    /// `request.ifNoneMatch`.
    pub if_none_match: Option<&'a str>,
    /// `request.ifNoneExist`.
    pub if_none_exist: Option<&'a str>,
    /// `request.ifModifiedSince`.
    pub if_modified_since: Option<&'a str>,
}

/// The type and the request entries of a transaction or batch Bundle (which should have
/// been validated already). Fails when it is not a `transaction` or `batch`, or when an
/// entry lacks `request.method`/`url`, or POST/PUT/PATCH lacks a resource.
///
/// ```
/// use fhir_model::bundle::{request_entries, BundleType, Method};
/// use serde_json::json;
///
/// let b = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
///     {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
///      "resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
///     {"request": {"method": "DELETE", "url": "Patient/2"}}]});
/// let (ty, entries) = request_entries(&b).unwrap();
/// assert_eq!(ty, BundleType::Transaction);
/// assert_eq!(entries[0].method, Method::Post);
/// assert_eq!(entries[1].url, "Patient/2");
/// ```
pub fn request_entries(bundle: &Value) -> Result<(BundleType, Vec<RequestEntry<'_>>), ModelError> {
    let invalid = |message: String, at: String| {
        ModelError::Invalid(vec![Issue::error(IssueType::Invalid, message).at(at)])
    };
    if bundle["resourceType"] != "Bundle" {
        return Err(invalid("Expected a Bundle".into(), "Bundle".into()));
    }
    let ty = bundle["type"].as_str().and_then(BundleType::from_code);
    let ty = match ty {
        Some(t @ (BundleType::Transaction | BundleType::Batch)) => t,
        _ => {
            return Err(invalid(
                "Bundle.type must be transaction or batch".into(),
                "Bundle.type".into(),
            ));
        }
    };
    let entries: &[Value] = bundle["entry"].as_array().map_or(&[], Vec::as_slice);
    let mut out = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let request = &entry["request"];
        let at = |field: &str| format!("Bundle.entry[{index}].request.{field}");
        let method = request["method"]
            .as_str()
            .and_then(Method::from_code)
            .ok_or_else(|| invalid("Missing or unknown request.method".into(), at("method")))?;
        let url = request["url"]
            .as_str()
            .ok_or_else(|| invalid("Missing request.url".into(), at("url")))?;
        let resource = entry.get("resource");
        if matches!(method, Method::Post | Method::Put | Method::Patch) && resource.is_none() {
            return Err(invalid(
                format!("A {} entry needs a resource", method.code()),
                format!("Bundle.entry[{index}].resource"),
            ));
        }
        out.push(RequestEntry {
            index,
            full_url: entry["fullUrl"].as_str(),
            resource,
            method,
            url,
            if_match: request["ifMatch"].as_str(),
            if_none_match: request["ifNoneMatch"].as_str(),
            if_none_exist: request["ifNoneExist"].as_str(),
            if_modified_since: request["ifModifiedSince"].as_str(),
        });
    }
    Ok((ty, out))
}
