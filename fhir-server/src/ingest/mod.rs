//! Imports: data from outside (wearable exports now, EHR pulls next) stored as resources.
//!
//! The `mappers` crate decides what the resources are; this module stores them so that
//! importing the same data twice changes nothing:
//!
//! * every imported resource carries an identifier from its source (a vendor record id,
//!   or one derived from what was measured, when and by which device), and is written by
//!   a conditional update on it (`PUT Observation?identifier=system|value`): new data
//!   creates, changed data updates, and unchanged data writes nothing (an update equal to
//!   the current version is a no-op, see `rest::interactions::update`);
//! * writes go in transaction Bundles of [`CHUNK`] entries through the same code as
//!   `POST [base]` (`rest::bundle`), so access checks, conditional references and
//!   validation are those of the REST API; each Bundle commits whole or not at all;
//! * each chunk that changed something gets a Provenance naming the import and the
//!   versions it wrote;
//! * a file is checked whole before anything is stored (the wearable importer parses
//!   it once without storing), so a malformed or truncated file stores nothing.
//!
//! [`consent`] refuses sources the patient has not allowed.

pub mod consent;
pub mod ehr;
pub mod wearable;

use std::sync::Arc;

use fhir_model::custom_params::CustomSearchParams;
use fhir_model::outcome::{Issue, IssueType, operation_outcome};
use serde_json::{Value, json};

use crate::auth::access::Caller;
use crate::error::ApiError;
use crate::store::ResourceStore;

/// Entries per transaction Bundle: big enough that a commit's cost is shared by many
/// resources, small enough that one chunk holds the SQLite writer only briefly.
pub const CHUNK: usize = 500;

/// How many rejected records are listed one by one in a summary (all are counted).
const MAX_LISTED: usize = 100;

/// Where an import writes, and as whom.
#[derive(Clone)]
pub struct IngestTarget {
    /// The store.
    pub store: Arc<dyn ResourceStore>,
    /// The search parameters conditions are parsed with.
    pub params: Arc<CustomSearchParams>,
    /// The FHIR base URL.
    pub base_url: String,
    /// Who asked: every write is checked against what this caller may do.
    pub caller: Caller,
}

impl IngestTarget {
    /// The server's store and search parameters, as `caller`.
    pub fn of(state: &crate::AppState, caller: Caller) -> IngestTarget {
        IngestTarget {
            store: Arc::clone(&state.store),
            params: state.search_params.current(),
            base_url: state.base_url.to_string(),
            caller,
        }
    }
}

/// The [Provenance](https://hl7.org/fhir/R4/provenance.html) of one stored chunk:
/// `targets` (the versions written), `recorded`, activity v3-DataOperation `UPDATE`, the
/// HealthOS component that wrote them as `assembler`, the patient (when given) as
/// `informant`, and the data source (when given) as the `source` entity.
pub fn chunk_provenance(
    recorded: &str,
    targets: &[String],
    assembler: &str,
    informant: Option<&str>,
    source: Option<Value>,
) -> Value {
    let participant = |code: &str| json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": code}]});
    let mut agents = vec![json!({"type": participant("assembler"), "who": {"display": assembler}})];
    if let Some(patient) = informant {
        agents.push(json!({"type": participant("informant"), "who": {"reference": patient}}));
    }
    let targets: Vec<Value> = targets.iter().map(|t| json!({"reference": t})).collect();
    let mut provenance = json!({
        "resourceType": "Provenance",
        "target": targets,
        "recorded": recorded,
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "UPDATE"}]},
        "agent": agents
    });
    if let Some(what) = source {
        provenance["entity"] = json!([{"role": "source", "what": what}]);
    }
    provenance
}

/// What an import did, for the closing summary (CLI) and the OperationOutcome (server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Records read from the input.
    pub read: u64,
    /// Resources created.
    pub created: u64,
    /// Resources updated (changed content, new version).
    pub updated: u64,
    /// Resources already stored with the same content (nothing written).
    pub unchanged: u64,
    /// Records read but not imported: kinds HealthOS does not import (workouts, stress
    /// scores), records without a value.
    pub skipped: u64,
    /// Records refused: values that cannot be mapped (an unknown unit, an implausible
    /// vital sign, a resource the server would not accept).
    pub rejected_total: u64,
    /// Where and why, for the first [`MAX_LISTED`] skipped or rejected records.
    pub reasons: Vec<(String, String)>,
    /// Provenance resources written.
    pub provenances: u64,
}

impl IngestSummary {
    /// Adds a refused record.
    pub fn reject(&mut self, position: impl Into<String>, reason: impl Into<String>) {
        self.rejected_total += 1;
        self.list(position, reason);
    }

    /// Adds a skipped record.
    pub fn skip(&mut self, position: impl Into<String>, reason: impl Into<String>) {
        self.skipped += 1;
        self.list(position, reason);
    }

    fn list(&mut self, position: impl Into<String>, reason: impl Into<String>) {
        if self.reasons.len() < MAX_LISTED {
            self.reasons.push((position.into(), reason.into()));
        }
    }

    /// One line: `read 10, created 7, updated 1, unchanged 2, skipped 0, rejected 0`.
    pub fn line(&self) -> String {
        format!(
            "read {}, created {}, updated {}, unchanged {}, skipped {}, rejected {}",
            self.read,
            self.created,
            self.updated,
            self.unchanged,
            self.skipped,
            self.rejected_total
        )
    }

    /// The summary as an OperationOutcome: one `information` issue with the counts, then
    /// a `warning` per listed skipped or rejected record, located where the input had it.
    pub fn to_outcome(&self, what: &str) -> Value {
        let mut issues = vec![Issue::information(
            IssueType::Informational,
            format!("{what}: {}", self.line()),
        )];
        for (position, reason) in &self.reasons {
            issues.push(Issue::warning(IssueType::Processing, reason.clone()).at(position.clone()));
        }
        let unlisted =
            (self.skipped + self.rejected_total).saturating_sub(self.reasons.len() as u64);
        if unlisted > 0 {
            issues.push(Issue::warning(
                IssueType::Processing,
                format!(
                    "{unlisted} more records were skipped or rejected (the first {MAX_LISTED} are listed)"
                ),
            ));
        }
        let mut outcome = operation_outcome(&issues);
        outcome["extension"] = json!([
            count_extension("created", self.created),
            count_extension("updated", self.updated),
            count_extension("unchanged", self.unchanged),
            count_extension("skipped", self.skipped),
            count_extension("rejected", self.rejected_total),
            count_extension("read", self.read),
        ]);
        outcome
    }
}

/// The extension carrying one count of an import summary, for clients that want numbers
/// rather than the sentence.
pub const IMPORT_COUNT_URL: &str = "https://healthos.dev/fhir/StructureDefinition/import-count";

fn count_extension(name: &str, count: u64) -> Value {
    json!({"url": IMPORT_COUNT_URL, "extension": [
        {"url": "name", "valueCode": name},
        {"url": "count", "valueUnsignedInt": count}
    ]})
}

/// Builds the Provenance of a chunk from the versions it wrote (`Type/id/_history/n`).
pub type ProvenanceFn = Box<dyn Fn(&[String]) -> Value + Send + Sync>;

/// Stores resources in transaction chunks (see the module docs), keeping the counts.
pub struct ChunkWriter {
    target: IngestTarget,
    provenance: ProvenanceFn,
    pending: Vec<Value>,
    summary: IngestSummary,
}

impl ChunkWriter {
    /// A writer to `target`; `provenance` makes the Provenance for the versions a chunk
    /// wrote (`Type/id/_history/n`).
    pub fn new(
        target: IngestTarget,
        provenance: impl Fn(&[String]) -> Value + Send + Sync + 'static,
    ) -> ChunkWriter {
        ChunkWriter {
            target,
            provenance: Box::new(provenance),
            pending: Vec::with_capacity(CHUNK),
            summary: IngestSummary::default(),
        }
    }

    /// The counts so far (reads and skips are the caller's to add).
    pub fn summary_mut(&mut self) -> &mut IngestSummary {
        &mut self.summary
    }

    /// Queues a resource, to be written by a conditional update to `url`
    /// (`Observation?identifier=…`: its source identity); writes a chunk when one is full.
    /// Resources refer to each other (an Observation to its Device) by the same
    /// conditional URL their entries are written with, which a transaction resolves to
    /// the entry's target, so a Device and the Observations after it may share a chunk.
    pub async fn push(&mut self, resource: Value, url: String) -> Result<(), ApiError> {
        self.pending
            .push(json!({"resource": resource, "request": {"method": "PUT", "url": url}}));
        if self.pending.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes what is queued.
    pub async fn flush(&mut self) -> Result<(), ApiError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let entries = std::mem::take(&mut self.pending);
        let response = self
            .transaction(json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
            .await?;
        let mut written = Vec::new();
        for entry in response["entry"].as_array().into_iter().flatten() {
            let r = &entry["response"];
            let status = r["status"].as_str().unwrap_or_default();
            if !r["outcome"].is_null() {
                self.summary.unchanged += 1;
                continue;
            }
            if status.starts_with("201") {
                self.summary.created += 1;
            } else {
                self.summary.updated += 1;
            }
            if let Some(location) = r["location"].as_str() {
                written.push(location.to_owned());
            }
        }
        if !written.is_empty() {
            let provenance = (self.provenance)(&written);
            self.transaction(
                json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                    {"resource": provenance, "request": {"method": "POST", "url": "Provenance"}}
                ]}),
            )
            .await?;
            self.summary.provenances += 1;
        }
        Ok(())
    }

    /// Writes what is queued and returns the counts.
    pub async fn finish(mut self) -> Result<IngestSummary, ApiError> {
        self.flush().await?;
        Ok(self.summary)
    }

    async fn transaction(&self, bundle: Value) -> Result<Value, ApiError> {
        let t = &self.target;
        crate::rest::bundle::process(&*t.store, &t.caller, bundle, &t.base_url, false, &t.params)
            .await
    }
}
