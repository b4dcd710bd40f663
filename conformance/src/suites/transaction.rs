//! `transaction`: transaction and batch Bundles, as
//! [R4 http.html §3.1.0.11](https://hl7.org/fhir/R4/http.html#transaction) describes them:
//! atomicity (a failing entry leaves nothing behind), processing order (DELETE, POST,
//! PUT/PATCH, GET), `urn:uuid:` and conditional (`Patient?identifier=…`) reference
//! resolution, independent batch entries, and the response Bundle (type, one entry per
//! request in request order, each with status, location and etag).

use reqwest::Method;
use serde_json::{Value, json};

use crate::suites::rest::{SYSTEM, identifier_query, patient};
use crate::{Case, CaseFuture, Client, ConformanceError, Exchange, Failure, SuiteConfig};

type CaseFn = for<'a> fn(&'a Client) -> CaseFuture<'a>;

macro_rules! cases {
    ($($name:literal => $f:ident),* $(,)?) => {
        vec![$(($name, (|c| Box::pin($f(c))) as CaseFn)),*]
    };
}

/// The cases.
pub fn load(_config: &SuiteConfig) -> Result<Vec<Case>, ConformanceError> {
    let list: Vec<(&str, CaseFn)> = cases![
        "response-bundle" => response_bundle,
        "urn-uuid-references" => urn_uuid_references,
        "atomic-failing-entry" => atomic_failing_entry,
        "atomic-precondition" => atomic_precondition,
        "order-get-after-put" => order_get_after_put,
        "order-delete-before-post" => order_delete_before_post,
        "conditional-reference" => conditional_reference,
        "conditional-create-entry" => conditional_create_entry,
        "conditional-update-entry" => conditional_update_entry,
        "patch-entry" => patch_entry,
        "batch-independent-entries" => batch_independent_entries,
        "error-wrong-bundle-type" => error_wrong_bundle_type,
    ];
    Ok(list
        .into_iter()
        .map(|(name, f)| Case::http(format!("transaction/{name}"), f))
        .collect())
}

fn urn() -> String {
    format!("urn:uuid:{}", uuid::Uuid::new_v4())
}

fn bundle(ty: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": ty, "entry": entries})
}

fn entry(method: &str, url: &str, resource: Option<Value>, full_url: Option<&str>) -> Value {
    let mut e = json!({"request": {"method": method, "url": url}});
    if let Some(r) = resource {
        e["resource"] = r;
    }
    if let Some(f) = full_url {
        e["fullUrl"] = json!(f);
    }
    e
}

fn observation(subject: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
    })
}

fn response_entries(b: &Value) -> &[Value] {
    b["entry"].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn status_of(e: &Value) -> &str {
    e["response"]["status"].as_str().unwrap_or_default()
}

async fn post_bundle(c: &Client, b: &Value, ty: &str) -> Result<(Exchange, Value), Failure> {
    let ex = c.post("", b).send().await?;
    ex.expect_status(&[200])?;
    ex.expect_fhir_json()?;
    let v = ex.resource("Bundle")?;
    ex.ensure(
        v["type"] == format!("{ty}-response"),
        format!("a Bundle of type {ty}-response"),
    )?;
    let n = b["entry"].as_array().map_or(0, Vec::len);
    ex.ensure(
        response_entries(&v).len() == n,
        format!("{n} response entries, one per request"),
    )?;
    Ok((ex, v))
}

/// The id in an entry's `response.location` (`Type/id/_history/n`, maybe absolute).
fn location_id(e: &Value, ty: &str) -> Option<String> {
    crate::client::location_id(e["response"]["location"].as_str()?, ty)
}

async fn response_bundle(c: &Client) -> Result<(), Failure> {
    let p_urn = urn();
    let (p, _) = patient(c, "tx-response");
    let b = bundle(
        "transaction",
        vec![
            entry("POST", "Patient", Some(p), Some(&p_urn)),
            entry(
                "POST",
                "Observation",
                Some(observation(&p_urn)),
                Some(&urn()),
            ),
        ],
    );
    let (ex, v) = post_bundle(c, &b, "transaction").await?;
    for (e, ty) in response_entries(&v).iter().zip(["Patient", "Observation"]) {
        ex.ensure(
            status_of(e).starts_with("201"),
            format!("{ty} entry: response.status 201"),
        )?;
        let loc = e["response"]["location"].as_str().unwrap_or_default();
        ex.ensure(
            loc.contains(&format!("{ty}/")) && loc.contains("/_history/1"),
            format!("{ty} entry: response.location {ty}/[id]/_history/1"),
        )?;
        ex.ensure(
            e["response"]["etag"] == "W/\"1\"",
            format!("{ty} entry: response.etag W/\"1\""),
        )?;
    }
    Ok(())
}

async fn urn_uuid_references(c: &Client) -> Result<(), Failure> {
    let p_urn = urn();
    let (p, _) = patient(c, "tx-urn");
    let b = bundle(
        "transaction",
        vec![
            // The Observation comes first: resolution must not depend on entry order.
            entry(
                "POST",
                "Observation",
                Some(observation(&p_urn)),
                Some(&urn()),
            ),
            entry("POST", "Patient", Some(p), Some(&p_urn)),
        ],
    );
    let (ex, v) = post_bundle(c, &b, "transaction").await?;
    let e = response_entries(&v);
    let (Some(obs), Some(pid)) = (
        location_id(&e[0], "Observation"),
        location_id(&e[1], "Patient"),
    ) else {
        return Err(ex.fail("response.location on both entries"));
    };
    let read = c.get(&format!("Observation/{obs}")).send().await?;
    read.expect_status(&[200])?;
    let o = read.resource("Observation")?;
    read.ensure(
        o["subject"]["reference"] == format!("Patient/{pid}"),
        format!("subject.reference rewritten to Patient/{pid}"),
    )
}

/// Posts a transaction that must fail as a whole; returns its exchange.
async fn failing_transaction(c: &Client, b: &Value) -> Result<Exchange, Failure> {
    let ex = c.post("", b).send().await?;
    ex.ensure(
        (400..500).contains(&ex.status),
        "a 4xx status for the whole transaction",
    )?;
    ex.expect_outcome()?;
    Ok(ex)
}

async fn nothing_left(c: &Client, put_id: &str, identifier: &str) -> Result<(), Failure> {
    let read = c.get(&format!("Patient/{put_id}")).send().await?;
    read.ensure(
        read.status == 404,
        format!("Patient/{put_id} of the failed transaction does not exist"),
    )?;
    // A conditional create finds no Patient with the identifier the failed POST carried.
    let (mut probe, _) = patient(c, "tx-probe");
    probe["identifier"][0]["value"] = json!(identifier);
    let ex = c
        .post("Patient", &probe)
        .header("If-None-Exist", identifier_query(identifier))
        .send()
        .await?;
    ex.ensure(
        ex.status == 201,
        "no Patient left by the failed transaction's POST",
    )
}

async fn atomic_failing_entry(c: &Client) -> Result<(), Failure> {
    let (posted, value) = patient(c, "tx-atomic");
    let put_id = c.unique("txa");
    let (mut put, _) = patient(c, "tx-atomic-put");
    put["id"] = json!(put_id);
    // A well-formed Bundle whose last entry fails only when processed: a PUT whose body
    // id disagrees with its URL (http.html: 400). A structurally invalid entry would be
    // refused with the whole Bundle before any processing, which proves nothing.
    let (mut mismatched, _) = patient(c, "tx-atomic-bad");
    mismatched["id"] = json!(c.unique("body-id"));
    let last_url = format!("Patient/{}", c.unique("url-id"));
    let b = bundle(
        "transaction",
        vec![
            entry("POST", "Patient", Some(posted), Some(&urn())),
            entry("PUT", &format!("Patient/{put_id}"), Some(put), None),
            entry("PUT", &last_url, Some(mismatched), None),
        ],
    );
    failing_transaction(c, &b).await?;
    nothing_left(c, &put_id, &value).await
}

async fn atomic_precondition(c: &Client) -> Result<(), Failure> {
    let existing = c.create(&patient(c, "tx-pre-existing").0).await?;
    let (posted, value) = patient(c, "tx-pre");
    let put_id = c.unique("txp");
    let (mut put, _) = patient(c, "tx-pre-put");
    put["id"] = json!(put_id);
    let (mut stale, _) = patient(c, "tx-pre-stale");
    stale["id"] = json!(existing);
    let mut last = entry("PUT", &format!("Patient/{existing}"), Some(stale), None);
    last["request"]["ifMatch"] = json!("W/\"9\"");
    let b = bundle(
        "transaction",
        vec![
            entry("POST", "Patient", Some(posted), Some(&urn())),
            entry("PUT", &format!("Patient/{put_id}"), Some(put), None),
            last,
        ],
    );
    failing_transaction(c, &b).await?;
    nothing_left(c, &put_id, &value).await
}

async fn order_get_after_put(c: &Client) -> Result<(), Failure> {
    let (mut p, _) = patient(c, "tx-order");
    let id = c.create(&p).await?;
    p["id"] = json!(id);
    p["active"] = json!(false);
    let b = bundle(
        "transaction",
        vec![
            entry("GET", &format!("Patient/{id}"), None, None),
            entry("PUT", &format!("Patient/{id}"), Some(p), None),
        ],
    );
    let (ex, v) = post_bundle(c, &b, "transaction").await?;
    let got = &response_entries(&v)[0]["resource"];
    ex.ensure(
        got["active"] == false && got["meta"]["versionId"] == "2",
        "the GET (listed first) sees the PUT's version 2: GETs run after PUTs",
    )
}

async fn order_delete_before_post(c: &Client) -> Result<(), Failure> {
    let (p, value) = patient(c, "tx-del-first");
    let old = c.create(&p).await?;
    let mut create = entry("POST", "Patient", Some(p), Some(&urn()));
    create["request"]["ifNoneExist"] = json!(identifier_query(&value));
    let b = bundle(
        "transaction",
        vec![
            create,
            entry(
                "DELETE",
                &format!("Patient?identifier={SYSTEM}|{value}"),
                None,
                None,
            ),
        ],
    );
    let (ex, v) = post_bundle(c, &b, "transaction").await?;
    let e = response_entries(&v);
    ex.ensure(
        status_of(&e[0]).starts_with("201"),
        "the conditional create (listed first) creates: the DELETE ran before it",
    )?;
    ex.ensure(
        status_of(&e[1]).starts_with("200") || status_of(&e[1]).starts_with("204"),
        "the conditional delete answers 200 or 204",
    )?;
    let read = c.get(&format!("Patient/{old}")).send().await?;
    read.expect_status(&[410])
}

async fn conditional_reference(c: &Client) -> Result<(), Failure> {
    let (p, value) = patient(c, "tx-cond-ref");
    let pid = c.create(&p).await?;
    let b = bundle(
        "transaction",
        vec![entry(
            "POST",
            "Observation",
            Some(observation(&format!(
                "Patient?{}",
                identifier_query(&value)
            ))),
            Some(&urn()),
        )],
    );
    let (ex, v) = post_bundle(c, &b, "transaction").await?;
    let Some(obs) = location_id(&response_entries(&v)[0], "Observation") else {
        return Err(ex.fail("response.location on the entry"));
    };
    let read = c.get(&format!("Observation/{obs}")).send().await?;
    read.expect_status(&[200])?;
    let o = read.resource("Observation")?;
    read.ensure(
        o["subject"]["reference"] == format!("Patient/{pid}"),
        format!("subject.reference resolved to Patient/{pid}"),
    )
}

async fn conditional_create_entry(c: &Client) -> Result<(), Failure> {
    let (p, value) = patient(c, "tx-cc");
    let pid = c.create(&p).await?;
    let mut e = entry("POST", "Patient", Some(p), Some(&urn()));
    e["request"]["ifNoneExist"] = json!(identifier_query(&value));
    let (ex, v) = post_bundle(c, &bundle("transaction", vec![e]), "transaction").await?;
    let r = &response_entries(&v)[0];
    ex.ensure(
        status_of(r).starts_with("200"),
        "response.status 200 (the match exists)",
    )?;
    ex.ensure(
        location_id(r, "Patient").as_deref() == Some(&pid),
        format!("response.location Patient/{pid}"),
    )
}

async fn conditional_update_entry(c: &Client) -> Result<(), Failure> {
    let (mut p, value) = patient(c, "tx-cu");
    let pid = c.create(&p).await?;
    p["active"] = json!(false);
    let e = entry(
        "PUT",
        &format!("Patient?identifier={SYSTEM}|{value}"),
        Some(p),
        Some(&urn()),
    );
    let (ex, v) = post_bundle(c, &bundle("transaction", vec![e]), "transaction").await?;
    let r = &response_entries(&v)[0];
    ex.ensure(status_of(r).starts_with("200"), "response.status 200")?;
    ex.ensure(r["response"]["etag"] == "W/\"2\"", "response.etag W/\"2\"")?;
    ex.ensure(
        location_id(r, "Patient").as_deref() == Some(&pid),
        format!("response.location Patient/{pid}"),
    )
}

async fn patch_entry(c: &Client) -> Result<(), Failure> {
    let pid = c.create(&patient(c, "tx-patch").0).await?;
    let params = json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": "Patient.active"},
        {"name": "value", "valueBoolean": false}
    ]}]});
    let e = entry("PATCH", &format!("Patient/{pid}"), Some(params), None);
    let (ex, v) = post_bundle(c, &bundle("transaction", vec![e]), "transaction").await?;
    ex.ensure(
        status_of(&response_entries(&v)[0]).starts_with("200"),
        "response.status 200",
    )?;
    let read = c.get(&format!("Patient/{pid}")).send().await?;
    read.expect_status(&[200])?;
    let r = read.resource("Patient")?;
    read.ensure(
        r["active"] == false && r["meta"]["versionId"] == "2",
        "the patched version 2 (active false)",
    )
}

async fn batch_independent_entries(c: &Client) -> Result<(), Failure> {
    let (good, _) = patient(c, "batch-good");
    // The failing entries fail when processed, not as structure (a structurally invalid
    // entry makes the Bundle itself invalid): a version conflict and an unknown id.
    let (mut stale, _) = patient(c, "batch-stale");
    let existing = c.create(&stale).await?;
    stale["id"] = json!(existing);
    let mut conflict = entry("PUT", &format!("Patient/{existing}"), Some(stale), None);
    conflict["request"]["ifMatch"] = json!("W/\"9\"");
    let b = bundle(
        "batch",
        vec![
            entry("POST", "Patient", Some(good), Some(&urn())),
            conflict,
            entry(
                "GET",
                &format!("Patient/{}", c.unique("missing")),
                None,
                None,
            ),
        ],
    );
    let (ex, v) = post_bundle(c, &b, "batch").await?;
    let e = response_entries(&v);
    ex.ensure(
        status_of(&e[0]).starts_with("201"),
        "entry 1: 201 (independent of the others)",
    )?;
    ex.ensure(
        status_of(&e[1]).starts_with("412")
            && e[1]["response"]["outcome"]["resourceType"] == "OperationOutcome",
        "entry 2: 412 (If-Match W/\"9\" on version 1) with response.outcome",
    )?;
    ex.ensure(status_of(&e[2]).starts_with("404"), "entry 3: 404")?;
    let Some(pid) = location_id(&e[0], "Patient") else {
        return Err(ex.fail("entry 1: response.location"));
    };
    c.get(&format!("Patient/{pid}"))
        .send()
        .await?
        .expect_status(&[200])
}

async fn error_wrong_bundle_type(c: &Client) -> Result<(), Failure> {
    let (p, _) = patient(c, "tx-collection");
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": urn(), "resource": p}]});
    let ex = c.request(Method::POST, "").json(&b).send().await?;
    ex.expect_error(&[400])
}
