//! `rest`: the interactions of [FHIR R4 http.html](https://hl7.org/fhir/R4/http.html),
//! positive and negative, written here from the spec (the spec has no official test
//! files for them).
//!
//! Each case creates what it needs with identifiers and ids unique to the run
//! ([`Client::unique`]), so the suite can run against a server that already holds data,
//! and checks status codes, headers (Location, ETag `W/"n"`, Last-Modified,
//! Content-Type) and bodies (the resource, or an OperationOutcome for errors).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{FHIR_JSON, FHIR_XML, JSON_PATCH};
use crate::{Case, CaseFuture, Client, ConformanceError, Exchange, Failure, SuiteConfig};

/// The identifier system of everything the kit creates.
pub const SYSTEM: &str = "urn:healthos:conformance";

/// A Patient with a unique identifier (returned too), a narrative and both summary and
/// non-summary elements.
pub fn patient(c: &Client, tag: &str) -> (Value, String) {
    let value = c.unique(tag);
    let p = json!({
        "resourceType": "Patient",
        "text": {
            "status": "generated",
            "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Conformance patient</div>"
        },
        "identifier": [{"system": SYSTEM, "value": value}],
        "active": true,
        "name": [{"family": "Conformance", "given": [tag]}],
        "gender": "female",
        "birthDate": "1970-01-01",
        "maritalStatus": {"text": "unknown"}
    });
    (p, value)
}

/// `identifier=SYSTEM|value`.
pub fn identifier_query(value: &str) -> String {
    format!("identifier={SYSTEM}|{value}")
}

type CaseFn = for<'a> fn(&'a Client) -> CaseFuture<'a>;

macro_rules! cases {
    ($($name:literal => $f:ident),* $(,)?) => {
        vec![$(($name, (|c| Box::pin($f(c))) as CaseFn)),*]
    };
}

/// The cases, in the order of http.html.
pub fn load(config: &SuiteConfig) -> Result<Vec<Case>, ConformanceError> {
    let list: Vec<(&str, CaseFn)> = cases![
        "metadata" => metadata,
        "create" => create,
        "create-ignores-id" => create_ignores_id,
        "create-xml" => create_xml,
        "read" => read,
        "read-unknown-id" => read_unknown_id,
        "vread" => vread,
        "vread-unknown-version" => vread_unknown_version,
        "update" => update,
        "update-creates" => update_creates,
        "delete" => delete,
        "delete-unknown" => delete_unknown,
        "history-instance" => history_instance,
        "history-type" => history_type,
        "history-system" => history_system,
        "history-count" => history_count,
        "history-since" => history_since,
        "conditional-create-no-match" => conditional_create_no_match,
        "conditional-create-match" => conditional_create_match,
        "conditional-create-multiple" => conditional_create_multiple,
        "conditional-update-match" => conditional_update_match,
        "conditional-update-no-match" => conditional_update_no_match,
        "conditional-update-multiple" => conditional_update_multiple,
        "conditional-delete" => conditional_delete,
        "patch-json-patch" => patch_json_patch,
        "patch-fhirpath-patch" => patch_fhirpath_patch,
        "update-if-match" => update_if_match,
        "update-if-match-mismatch" => update_if_match_mismatch,
        "patch-if-match-mismatch" => patch_if_match_mismatch,
        "read-if-none-match" => read_if_none_match,
        "read-if-modified-since" => read_if_modified_since,
        "read-if-modified-since-older" => read_if_modified_since_older,
        "prefer-minimal" => prefer_minimal,
        "prefer-representation" => prefer_representation,
        "prefer-operation-outcome" => prefer_operation_outcome,
        "format-xml" => format_xml,
        "format-json-over-accept" => format_json_over_accept,
        "accept-xml" => accept_xml,
        "pretty" => pretty,
        "summary-true" => summary_true,
        "summary-text" => summary_text,
        "summary-data" => summary_data,
        "elements" => elements,
        "error-unknown-type-read" => error_unknown_type_read,
        "error-unknown-type-create" => error_unknown_type_create,
        "error-wrong-resource-type" => error_wrong_resource_type,
        "error-id-mismatch" => error_id_mismatch,
        "error-update-without-id" => error_update_without_id,
        "error-malformed-json" => error_malformed_json,
        "error-malformed-xml" => error_malformed_xml,
        "error-unknown-element" => error_unknown_element,
        "error-unsupported-media-type" => error_unsupported_media_type,
        "error-invalid-id" => error_invalid_id,
    ];
    let mut cases: Vec<Case> = list
        .into_iter()
        .map(|(name, f)| Case::http(format!("rest/{name}"), f))
        .collect();
    let id = "rest/error-body-too-large";
    cases.push(match config.body_limit {
        Some(limit) => Case::http(id, move |c| Box::pin(error_body_too_large(c, limit))),
        None => Case::not_run(id, "the server's body limit is unknown (pass --body-limit)"),
    });
    Ok(cases)
}

/// Creates a fresh Patient; returns its id, the create exchange and the resource sent.
async fn created(c: &Client, tag: &str) -> Result<(String, Exchange, Value), Failure> {
    let (p, _) = patient(c, tag);
    let ex = c.post("Patient", &p).send().await?;
    ex.expect_status(&[201])?;
    let id = ex.created_id("Patient")?;
    Ok((id, ex, p))
}

fn version(v: &Value) -> Option<&str> {
    v["meta"]["versionId"].as_str()
}

/// Checks a single-resource response: status, FHIR JSON, ETag `W/"vid"`, Last-Modified,
/// the resource type and id, and `meta.versionId`.
fn check_resource(ex: &Exchange, status: u16, id: &str, vid: &str) -> Result<Value, Failure> {
    ex.expect_status(&[status])?;
    ex.expect_fhir_json()?;
    ex.ensure(
        ex.etag() == Some(&format!("W/\"{vid}\"")),
        format!("ETag W/\"{vid}\""),
    )?;
    ex.ensure(
        ex.header("last-modified")
            .is_some_and(|v| v.ends_with("GMT")),
        "a Last-Modified header (HTTP date)",
    )?;
    let v = ex.resource("Patient")?;
    ex.ensure(v["id"] == id, format!("the resource with id {id}"))?;
    ex.ensure(version(&v) == Some(vid), format!("meta.versionId {vid}"))?;
    ex.ensure(v["meta"]["lastUpdated"].is_string(), "meta.lastUpdated")?;
    Ok(v)
}

fn entries(bundle: &Value) -> &[Value] {
    bundle["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn expect_bundle(ex: &Exchange, ty: &str) -> Result<Value, Failure> {
    ex.expect_status(&[200])?;
    ex.expect_fhir_json()?;
    let b = ex.resource("Bundle")?;
    ex.ensure(b["type"] == ty, format!("a Bundle of type {ty}"))?;
    Ok(b)
}

async fn metadata(c: &Client) -> Result<(), Failure> {
    let ex = c.get("metadata").send().await?;
    ex.expect_status(&[200])?;
    ex.expect_fhir_json()?;
    let cs = ex.resource("CapabilityStatement")?;
    ex.ensure(cs["fhirVersion"] == "4.0.1", "fhirVersion 4.0.1")?;
    ex.ensure(cs["kind"] == "instance", "kind instance")?;
    ex.ensure(cs["rest"][0]["mode"] == "server", "rest[0].mode server")?;
    let formats = cs["format"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    ex.ensure(
        formats.iter().any(|f| f == "json" || f == FHIR_JSON),
        "format lists json",
    )?;
    let patient = cs["rest"][0]["resource"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["type"] == "Patient"));
    ex.ensure(patient.is_some(), "rest[0].resource lists Patient")
}

async fn create(c: &Client) -> Result<(), Failure> {
    let (id, ex, sent) = created(c, "create").await?;
    let v = check_resource(&ex, 201, &id, "1")?;
    let loc = ex.header("location").unwrap_or_default();
    ex.ensure(
        loc.starts_with("http") && loc.ends_with(&format!("/Patient/{id}/_history/1")),
        "Location [base]/Patient/[id]/_history/1 (absolute)",
    )?;
    match crate::compare::resource_difference(&sent, &v) {
        None => Ok(()),
        Some(d) => Err(ex.fail_with("the body is the resource as created", d)),
    }
}

async fn create_ignores_id(c: &Client) -> Result<(), Failure> {
    let (mut p, _) = patient(c, "create-id");
    let client_id = c.unique("client-chosen");
    p["id"] = json!(client_id);
    let ex = c.post("Patient", &p).send().await?;
    ex.expect_status(&[201])?;
    let id = ex.created_id("Patient")?;
    ex.ensure(
        id != client_id,
        "a server-assigned id (the id in the body is ignored)",
    )
}

async fn create_xml(c: &Client) -> Result<(), Failure> {
    let (p, _) = patient(c, "create-xml");
    let xml = fhir_model::format::to_xml(&p, false)
        .map_err(|e| Failure::new("(kit)", "the kit writes the Patient as XML", e.to_string()))?;
    let ex = c
        .request(Method::POST, "Patient")
        .header("Accept", FHIR_XML)
        .body(xml, FHIR_XML)
        .send()
        .await?;
    ex.expect_status(&[201])?;
    ex.ensure(
        ex.media_type().as_deref() == Some(FHIR_XML),
        format!("Content-Type {FHIR_XML}"),
    )?;
    ex.ensure(ex.etag() == Some("W/\"1\""), "ETag W/\"1\"")?;
    let id = ex.created_id("Patient")?;
    let read = c.get(&format!("Patient/{id}")).send().await?;
    let back = check_resource(&read, 200, &id, "1")?;
    match crate::compare::resource_difference(&p, &back) {
        None => Ok(()),
        Some(d) => Err(read.fail_with("the resource created from XML, read as JSON", d)),
    }
}

async fn read(c: &Client) -> Result<(), Failure> {
    let (id, _, sent) = created(c, "read").await?;
    let ex = c.get(&format!("Patient/{id}")).send().await?;
    let v = check_resource(&ex, 200, &id, "1")?;
    match crate::compare::resource_difference(&sent, &v) {
        None => Ok(()),
        Some(d) => Err(ex.fail_with("the resource as created", d)),
    }
}

async fn read_unknown_id(c: &Client) -> Result<(), Failure> {
    let ex = c
        .get(&format!("Patient/{}", c.unique("missing")))
        .send()
        .await?;
    ex.expect_error(&[404])
}

async fn vread(c: &Client) -> Result<(), Failure> {
    let (id, _, mut p) = created(c, "vread").await?;
    p["id"] = json!(id);
    p["active"] = json!(false);
    c.put(&format!("Patient/{id}"), &p)
        .send()
        .await?
        .expect_status(&[200])?;
    let ex = c.get(&format!("Patient/{id}/_history/1")).send().await?;
    let v = check_resource(&ex, 200, &id, "1")?;
    ex.ensure(v["active"] == true, "version 1 as it was (active true)")
}

async fn vread_unknown_version(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "vread-unknown").await?;
    let ex = c.get(&format!("Patient/{id}/_history/99")).send().await?;
    ex.expect_error(&[404])
}

async fn update(c: &Client) -> Result<(), Failure> {
    let (id, _, mut p) = created(c, "update").await?;
    p["id"] = json!(id);
    p["active"] = json!(false);
    let ex = c.put(&format!("Patient/{id}"), &p).send().await?;
    let v = check_resource(&ex, 200, &id, "2")?;
    ex.ensure(v["active"] == false, "the updated content (active false)")?;
    let read = c.get(&format!("Patient/{id}")).send().await?;
    let v = check_resource(&read, 200, &id, "2")?;
    read.ensure(v["active"] == false, "the updated content on read")
}

async fn update_creates(c: &Client) -> Result<(), Failure> {
    let (mut p, _) = patient(c, "update-create");
    let id = c.unique("uc");
    p["id"] = json!(id);
    let ex = c.put(&format!("Patient/{id}"), &p).send().await?;
    check_resource(&ex, 201, &id, "1")?;
    let loc = ex.header("location").unwrap_or_default();
    ex.ensure(
        loc.contains(&format!("Patient/{id}/_history/1")),
        "Location …/Patient/[id]/_history/1",
    )
}

async fn delete(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "delete").await?;
    let ex = c.delete(&format!("Patient/{id}")).send().await?;
    ex.expect_status(&[200, 204])?;
    let read = c.get(&format!("Patient/{id}")).send().await?;
    read.expect_status(&[410])
}

async fn delete_unknown(c: &Client) -> Result<(), Failure> {
    // http.html: "Upon successful deletion, or if the resource does not exist at all, the
    // server should return either a 200 OK … or a 204 No Content".
    let ex = c
        .delete(&format!("Patient/{}", c.unique("never")))
        .send()
        .await?;
    ex.expect_status(&[200, 204])
}

async fn history_instance(c: &Client) -> Result<(), Failure> {
    let (id, _, mut p) = created(c, "history").await?;
    p["id"] = json!(id);
    p["active"] = json!(false);
    c.put(&format!("Patient/{id}"), &p)
        .send()
        .await?
        .expect_status(&[200])?;
    c.delete(&format!("Patient/{id}"))
        .send()
        .await?
        .expect_status(&[200, 204])?;
    let ex = c.get(&format!("Patient/{id}/_history")).send().await?;
    let b = expect_bundle(&ex, "history")?;
    let e = entries(&b);
    let methods: Vec<&str> = e
        .iter()
        .map(|x| x["request"]["method"].as_str().unwrap_or("?"))
        .collect();
    ex.ensure(
        methods == ["DELETE", "PUT", "POST"],
        "3 entries, newest first, with request.method DELETE, PUT, POST",
    )?;
    ex.ensure(
        e[0].get("resource").is_none(),
        "no resource in the DELETE entry",
    )?;
    ex.ensure(
        version(&e[1]["resource"]) == Some("2") && version(&e[2]["resource"]) == Some("1"),
        "versions 2 then 1",
    )?;
    ex.ensure(
        e.iter().all(|x| x["response"]["status"].is_string()),
        "response.status on every entry",
    )?;
    ex.ensure(
        b.get("total").is_none_or(|t| *t == 3),
        "total 3 (when given)",
    )
}

/// Whether a history bundle's entries include the Patient `id`.
fn history_has(b: &Value, id: &str) -> bool {
    entries(b).iter().any(|e| {
        e["resource"]["id"] == id
            || e["fullUrl"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("Patient/{id}")))
    })
}

async fn history_type(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "history-type").await?;
    let ex = c.get("Patient/_history").send().await?;
    let b = expect_bundle(&ex, "history")?;
    ex.ensure(
        history_has(&b, &id),
        format!("the new Patient/{id} on the first page (newest first)"),
    )?;
    ex.ensure(
        entries(&b).iter().all(|e| {
            e.get("resource")
                .is_none_or(|r| r["resourceType"] == "Patient")
        }),
        "only Patient entries",
    )
}

async fn history_system(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "history-system").await?;
    let ex = c.get("_history").send().await?;
    let b = expect_bundle(&ex, "history")?;
    ex.ensure(
        history_has(&b, &id),
        format!("the new Patient/{id} on the first page (newest first)"),
    )
}

async fn history_count(c: &Client) -> Result<(), Failure> {
    let (id, _, mut p) = created(c, "history-count").await?;
    p["id"] = json!(id);
    // A change: an update equal to the current version may write nothing (HAPI does so).
    p["active"] = json!(false);
    c.put(&format!("Patient/{id}"), &p)
        .send()
        .await?
        .expect_status(&[200])?;
    let ex = c
        .get(&format!("Patient/{id}/_history"))
        .query("_count", "1")
        .send()
        .await?;
    let b = expect_bundle(&ex, "history")?;
    ex.ensure(entries(&b).len() == 1, "1 entry (_count=1)")?;
    ex.ensure(
        version(&entries(&b)[0]["resource"]) == Some("2"),
        "the newest version first",
    )?;
    let next = b["link"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["relation"] == "next"));
    ex.ensure(next.is_some(), "a next link")?;
    let next_url = next
        .and_then(|n| n["url"].as_str())
        .unwrap_or_default()
        .to_owned();
    let page2 = c.get(&next_url).send().await?;
    let b2 = expect_bundle(&page2, "history")?;
    page2.ensure(
        entries(&b2).len() == 1 && version(&entries(&b2)[0]["resource"]) == Some("1"),
        "the next page holds version 1",
    )
}

async fn history_since(c: &Client) -> Result<(), Failure> {
    let (id, _, mut p) = created(c, "history-since").await?;
    // Past a second, so that servers keeping second precision still order the versions.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    p["id"] = json!(id);
    p["active"] = json!(false);
    let upd = c.put(&format!("Patient/{id}"), &p).send().await?;
    upd.expect_status(&[200])?;
    let since = upd.resource("Patient")?["meta"]["lastUpdated"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ex = c
        .get(&format!("Patient/{id}/_history"))
        .query("_since", since.clone())
        .send()
        .await?;
    let b = expect_bundle(&ex, "history")?;
    ex.ensure(
        entries(&b).len() == 1 && version(&entries(&b)[0]["resource"]) == Some("2"),
        format!("only version 2 (_since={since})"),
    )?;
    let all = c
        .get(&format!("Patient/{id}/_history"))
        .query("_since", "2000-01-01T00:00:00Z")
        .send()
        .await?;
    let b = expect_bundle(&all, "history")?;
    all.ensure(
        entries(&b).len() == 2,
        "both versions (_since=2000-01-01T00:00:00Z)",
    )
}

async fn conditional_create_no_match(c: &Client) -> Result<(), Failure> {
    let (p, value) = patient(c, "cc-new");
    let ex = c
        .post("Patient", &p)
        .header("If-None-Exist", identifier_query(&value))
        .send()
        .await?;
    ex.expect_status(&[201])?;
    ex.created_id("Patient").map(drop)
}

async fn conditional_create_match(c: &Client) -> Result<(), Failure> {
    let (p, value) = patient(c, "cc-match");
    let first = c.post("Patient", &p).send().await?;
    first.expect_status(&[201])?;
    let id = first.created_id("Patient")?;
    let ex = c
        .post("Patient", &p)
        .header("If-None-Exist", identifier_query(&value))
        .send()
        .await?;
    ex.expect_status(&[200])?;
    let same = ex.created_id("Patient").is_ok_and(|got| got == id);
    ex.ensure(same, format!("the existing Patient/{id}, not a new one"))
}

async fn two_with_same_identifier(c: &Client, tag: &str) -> Result<(Value, String), Failure> {
    let (p, value) = patient(c, tag);
    for _ in 0..2 {
        c.post("Patient", &p).send().await?.expect_status(&[201])?;
    }
    Ok((p, value))
}

async fn conditional_create_multiple(c: &Client) -> Result<(), Failure> {
    let (p, value) = two_with_same_identifier(c, "cc-multi").await?;
    let ex = c
        .post("Patient", &p)
        .header("If-None-Exist", identifier_query(&value))
        .send()
        .await?;
    ex.expect_error(&[412])
}

async fn conditional_update_match(c: &Client) -> Result<(), Failure> {
    let (id, _, mut p) = created(c, "cu-match").await?;
    let value = p["identifier"][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    p["active"] = json!(false);
    let ex = c
        .put("Patient", &p)
        .query("identifier", format!("{SYSTEM}|{value}"))
        .send()
        .await?;
    let v = check_resource(&ex, 200, &id, "2")?;
    ex.ensure(v["active"] == false, "the updated content")
}

async fn conditional_update_no_match(c: &Client) -> Result<(), Failure> {
    let (p, value) = patient(c, "cu-new");
    let ex = c
        .put("Patient", &p)
        .query("identifier", format!("{SYSTEM}|{value}"))
        .send()
        .await?;
    ex.expect_status(&[201])?;
    ex.ensure(ex.etag() == Some("W/\"1\""), "ETag W/\"1\"")
}

async fn conditional_update_multiple(c: &Client) -> Result<(), Failure> {
    let (p, value) = two_with_same_identifier(c, "cu-multi").await?;
    let ex = c
        .put("Patient", &p)
        .query("identifier", format!("{SYSTEM}|{value}"))
        .send()
        .await?;
    ex.expect_error(&[412])
}

async fn conditional_delete(c: &Client) -> Result<(), Failure> {
    let (id, _, p) = created(c, "cd").await?;
    let value = p["identifier"][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ex = c
        .delete("Patient")
        .query("identifier", format!("{SYSTEM}|{value}"))
        .send()
        .await?;
    ex.expect_status(&[200, 204])?;
    let read = c.get(&format!("Patient/{id}")).send().await?;
    read.expect_status(&[410])
}

async fn patch_json_patch(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "patch-json").await?;
    let ops = json!([{"op": "replace", "path": "/active", "value": false}]);
    let ex = c
        .request(Method::PATCH, &format!("Patient/{id}"))
        .body(ops.to_string().into_bytes(), JSON_PATCH)
        .send()
        .await?;
    let v = check_resource(&ex, 200, &id, "2")?;
    ex.ensure(
        v["active"] == false && v["gender"] == "female",
        "active false, the rest unchanged",
    )
}

fn fhirpath_patch_active_false() -> Value {
    json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": "Patient.active"},
        {"name": "value", "valueBoolean": false}
    ]}]})
}

async fn patch_fhirpath_patch(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "patch-fp").await?;
    let ex = c
        .request(Method::PATCH, &format!("Patient/{id}"))
        .json(&fhirpath_patch_active_false())
        .send()
        .await?;
    let v = check_resource(&ex, 200, &id, "2")?;
    ex.ensure(
        v["active"] == false && v["gender"] == "female",
        "active false, the rest unchanged",
    )
}

async fn update_if_match(c: &Client) -> Result<(), Failure> {
    let (id, _, mut p) = created(c, "if-match").await?;
    p["id"] = json!(id);
    p["active"] = json!(false);
    let ex = c
        .put(&format!("Patient/{id}"), &p)
        .header("If-Match", "W/\"1\"")
        .send()
        .await?;
    check_resource(&ex, 200, &id, "2").map(drop)
}

async fn update_if_match_mismatch(c: &Client) -> Result<(), Failure> {
    let (id, _, mut p) = created(c, "if-match-no").await?;
    p["id"] = json!(id);
    let ex = c
        .put(&format!("Patient/{id}"), &p)
        .header("If-Match", "W/\"7\"")
        .send()
        .await?;
    ex.expect_error(&[412])?;
    let read = c.get(&format!("Patient/{id}")).send().await?;
    check_resource(&read, 200, &id, "1").map(drop)
}

async fn patch_if_match_mismatch(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "patch-if-match").await?;
    let ex = c
        .request(Method::PATCH, &format!("Patient/{id}"))
        .header("If-Match", "W/\"7\"")
        .json(&fhirpath_patch_active_false())
        .send()
        .await?;
    ex.expect_error(&[412])
}

async fn read_if_none_match(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "if-none-match").await?;
    let ex = c
        .get(&format!("Patient/{id}"))
        .header("If-None-Match", "W/\"1\"")
        .send()
        .await?;
    ex.expect_status(&[304])?;
    let other = c
        .get(&format!("Patient/{id}"))
        .header("If-None-Match", "W/\"9\"")
        .send()
        .await?;
    check_resource(&other, 200, &id, "1").map(drop)
}

async fn read_if_modified_since(c: &Client) -> Result<(), Failure> {
    let (id, ex, _) = created(c, "ims").await?;
    let last = ex.header("last-modified").unwrap_or_default().to_owned();
    ex.ensure(!last.is_empty(), "a Last-Modified header")?;
    let read = c
        .get(&format!("Patient/{id}"))
        .header("If-Modified-Since", last)
        .send()
        .await?;
    read.expect_status(&[304])
}

async fn read_if_modified_since_older(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "ims-old").await?;
    let read = c
        .get(&format!("Patient/{id}"))
        .header("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")
        .send()
        .await?;
    check_resource(&read, 200, &id, "1").map(drop)
}

async fn prefer_minimal(c: &Client) -> Result<(), Failure> {
    let (p, _) = patient(c, "prefer-min");
    let ex = c
        .post("Patient", &p)
        .header("Prefer", "return=minimal")
        .send()
        .await?;
    ex.expect_status(&[201])?;
    ex.ensure(ex.body.iter().all(u8::is_ascii_whitespace), "an empty body")?;
    ex.ensure(ex.header("location").is_some(), "a Location header")?;
    ex.ensure(ex.etag() == Some("W/\"1\""), "ETag W/\"1\"")
}

async fn prefer_representation(c: &Client) -> Result<(), Failure> {
    let (p, _) = patient(c, "prefer-rep");
    let ex = c
        .post("Patient", &p)
        .header("Prefer", "return=representation")
        .send()
        .await?;
    let id = ex.created_id("Patient")?;
    check_resource(&ex, 201, &id, "1").map(drop)
}

async fn prefer_operation_outcome(c: &Client) -> Result<(), Failure> {
    let (p, _) = patient(c, "prefer-oo");
    let ex = c
        .post("Patient", &p)
        .header("Prefer", "return=OperationOutcome")
        .send()
        .await?;
    ex.expect_status(&[201])?;
    ex.expect_fhir_json()?;
    ex.resource("OperationOutcome").map(drop)
}

async fn format_xml(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "format-xml").await?;
    for value in ["xml", FHIR_XML] {
        let ex = c
            .get(&format!("Patient/{id}"))
            .query("_format", value)
            .send()
            .await?;
        ex.expect_status(&[200])?;
        ex.ensure(
            ex.media_type().as_deref() == Some(FHIR_XML),
            format!("Content-Type {FHIR_XML} for _format={value}"),
        )?;
        ex.ensure(
            String::from_utf8_lossy(&ex.body).contains("<Patient"),
            "a Patient in XML",
        )?;
    }
    Ok(())
}

async fn format_json_over_accept(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "format-json").await?;
    let ex = c
        .get(&format!("Patient/{id}"))
        .header("Accept", FHIR_XML)
        .query("_format", "json")
        .send()
        .await?;
    check_resource(&ex, 200, &id, "1").map(drop)
}

async fn accept_xml(c: &Client) -> Result<(), Failure> {
    let (id, _, sent) = created(c, "accept-xml").await?;
    let ex = c
        .get(&format!("Patient/{id}"))
        .header("Accept", FHIR_XML)
        .send()
        .await?;
    ex.expect_status(&[200])?;
    ex.ensure(
        ex.media_type().as_deref() == Some(FHIR_XML),
        format!("Content-Type {FHIR_XML}"),
    )?;
    let back = fhir_model::format::parse_resource(
        &ex.body,
        fhir_model::format::Format::Xml,
        Default::default(),
    )
    .map_err(|e| ex.fail_with("a Patient in R4 XML", e.to_string()))?;
    match crate::compare::resource_difference(&sent, &back.resource) {
        None => Ok(()),
        Some(d) => Err(ex.fail_with("the resource as created", d)),
    }
}

async fn pretty(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "pretty").await?;
    let ex = c
        .get(&format!("Patient/{id}"))
        .query("_pretty", "true")
        .send()
        .await?;
    check_resource(&ex, 200, &id, "1")?;
    ex.ensure(ex.body.contains(&b'\n'), "indented JSON (several lines)")
}

async fn summary_true(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "summary").await?;
    let ex = c
        .get(&format!("Patient/{id}"))
        .query("_summary", "true")
        .send()
        .await?;
    ex.expect_status(&[200])?;
    let v = ex.resource("Patient")?;
    ex.ensure(
        v["name"].is_array() && v["identifier"].is_array() && v["gender"] == "female",
        "the summary elements (name, identifier, gender)",
    )?;
    ex.ensure(
        v.get("maritalStatus").is_none() && v.get("text").is_none(),
        "no non-summary elements (maritalStatus, text)",
    )
}

async fn summary_text(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "summary-text").await?;
    let ex = c
        .get(&format!("Patient/{id}"))
        .query("_summary", "text")
        .send()
        .await?;
    ex.expect_status(&[200])?;
    let v = ex.resource("Patient")?;
    ex.ensure(v["text"]["div"].is_string() && v["id"] == id, "text and id")?;
    ex.ensure(
        v.get("name").is_none() && v.get("gender").is_none(),
        "no other elements (name, gender)",
    )
}

async fn summary_data(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "summary-data").await?;
    let ex = c
        .get(&format!("Patient/{id}"))
        .query("_summary", "data")
        .send()
        .await?;
    ex.expect_status(&[200])?;
    let v = ex.resource("Patient")?;
    ex.ensure(v.get("text").is_none(), "no text")?;
    ex.ensure(
        v["name"].is_array() && v["maritalStatus"].is_object(),
        "every other element",
    )
}

async fn elements(c: &Client) -> Result<(), Failure> {
    let (id, _, _) = created(c, "elements").await?;
    let ex = c
        .get(&format!("Patient/{id}"))
        .query("_elements", "name,gender")
        .send()
        .await?;
    ex.expect_status(&[200])?;
    let v = ex.resource("Patient")?;
    ex.ensure(
        v["id"] == id && v["name"].is_array() && v["gender"] == "female",
        "id, name and gender",
    )?;
    ex.ensure(
        v.get("birthDate").is_none()
            && v.get("maritalStatus").is_none()
            && v.get("identifier").is_none(),
        "no element that was not asked for (birthDate, maritalStatus, identifier)",
    )
}

async fn error_unknown_type_read(c: &Client) -> Result<(), Failure> {
    c.get("NotAResourceType/1")
        .send()
        .await?
        .expect_error(&[404])
}

async fn error_unknown_type_create(c: &Client) -> Result<(), Failure> {
    let body = json!({"resourceType": "NotAResourceType"});
    c.post("NotAResourceType", &body)
        .send()
        .await?
        .expect_error(&[404])
}

async fn error_wrong_resource_type(c: &Client) -> Result<(), Failure> {
    let body = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}});
    c.post("Patient", &body).send().await?.expect_error(&[400])
}

async fn error_id_mismatch(c: &Client) -> Result<(), Failure> {
    let (id, _, mut p) = created(c, "id-mismatch").await?;
    p["id"] = json!(c.unique("other"));
    c.put(&format!("Patient/{id}"), &p)
        .send()
        .await?
        .expect_error(&[400])
}

async fn error_update_without_id(c: &Client) -> Result<(), Failure> {
    let (id, _, p) = created(c, "no-id").await?;
    c.put(&format!("Patient/{id}"), &p)
        .send()
        .await?
        .expect_error(&[400])
}

async fn error_malformed_json(c: &Client) -> Result<(), Failure> {
    let ex = c
        .request(Method::POST, "Patient")
        .body(
            br#"{"resourceType": "Patient", "active": tru"#.to_vec(),
            FHIR_JSON,
        )
        .send()
        .await?;
    ex.expect_error(&[400])
}

async fn error_malformed_xml(c: &Client) -> Result<(), Failure> {
    let ex = c
        .request(Method::POST, "Patient")
        .body(
            br#"<Patient xmlns="http://hl7.org/fhir"><active value="true"/>"#.to_vec(),
            FHIR_XML,
        )
        .send()
        .await?;
    ex.expect_error(&[400])
}

async fn error_unknown_element(c: &Client) -> Result<(), Failure> {
    let body = json!({"resourceType": "Patient", "active": true, "favouriteColour": "green"});
    c.post("Patient", &body).send().await?.expect_error(&[400])
}

async fn error_unsupported_media_type(c: &Client) -> Result<(), Failure> {
    let ex = c
        .request(Method::POST, "Patient")
        .body(b"active=true".to_vec(), "text/plain")
        .send()
        .await?;
    ex.expect_error(&[415])
}

async fn error_invalid_id(c: &Client) -> Result<(), Failure> {
    // An id is 1-64 characters of [A-Za-z0-9-.]: an underscore is not allowed.
    let (mut p, _) = patient(c, "bad-id");
    let id = "not_a_valid_id";
    p["id"] = json!(id);
    c.put(&format!("Patient/{id}"), &p)
        .send()
        .await?
        .expect_error(&[400])
}

async fn error_body_too_large(c: &Client, limit: usize) -> Result<(), Failure> {
    // Valid JSON padded with whitespace to one byte past the limit.
    let ex = c.post_oversized("Patient", limit + 1).await?;
    ex.expect_error(&[413])
}
