//! Imports: data from outside (wearable exports, EHR syncs, the twin's results) stored as
//! resources.
//!
//! The `mappers` crate decides what the resources are; this module stores them so that
//! importing the same data twice changes nothing:
//!
//! * every imported resource carries an identifier from its source (a vendor record id,
//!   or one derived from what was measured, when and by which device), named by a
//!   conditional URL (`Observation?identifier=system|value`). Before a chunk is written
//!   its URLs are looked up (on the read pool, not in the SQLite writer; one query per
//!   resource type): new data becomes a create, changed data an update of the stored
//!   resource, and unchanged data is not sent at all. References between resources (an
//!   Observation to its Device) are written as those URLs and rewritten to where the
//!   resource is, in the chunk or stored. Imports of one patient take turns, so a lookup
//!   is never stale within this process;
//! * a chunk is looked up and prepared (validated, indexed, serialized) while the one
//!   before it is written, so the writer is kept busy;
//! * writes go in transaction Bundles of [`CHUNK`] entries through the same code as
//!   `POST [base]` (`rest::bundle`), so access checks, conditional references and
//!   validation are those of the REST API; each Bundle commits whole or not at all;
//! * each chunk that wrote something is followed by a Provenance naming the versions it
//!   wrote, recorded by the server itself (not with the caller's scopes);
//! * a file is checked whole before anything is stored (the wearable importer parses
//!   it once without storing), so a malformed or truncated file stores nothing.
//!
//! [`consent`] refuses sources the patient has not allowed.

pub mod consent;
pub mod ehr;
pub mod wearable;

use std::collections::HashMap;
use std::sync::Arc;

use fhir_model::custom_params::CustomSearchParams;
use fhir_model::outcome::{Issue, IssueType, operation_outcome};
use serde_json::{Value, json};

use crate::auth::access::Caller;
use crate::error::ApiError;
use crate::store::{Criterion, ResourceStore, SearchQuery, StoredResource, TokenMatch};

/// Entries per transaction Bundle: big enough that a commit's cost is shared by many
/// resources, small enough that one chunk holds the SQLite writer only briefly.
pub const CHUNK: usize = 500;

/// Concurrent lookup tasks per chunk (the read pool serves them on its connections).
const LOOKUP_TASKS: usize = 4;

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
    /// The database at `database_url` (migrated) with its search parameters, as an
    /// unrestricted caller: where the command line and the benchmark import. `base_url`
    /// is only used to read absolute references.
    pub async fn open_admin(database_url: &str, base_url: &str) -> anyhow::Result<IngestTarget> {
        let store = crate::store::open(database_url).await?;
        let now = crate::clock::now_instant();
        let params = crate::custom_params::SearchParameters::load(&*store, base_url, &now)
            .await?
            .current();
        Ok(IngestTarget {
            store,
            params,
            base_url: base_url.to_owned(),
            caller: Caller::Open,
        })
    }

    /// The server's store and search parameters, as `caller`.
    pub fn of(state: &crate::AppState, caller: Caller) -> IngestTarget {
        IngestTarget {
            store: Arc::clone(&state.store),
            params: state.search_params.current(),
            base_url: state.base_url.to_string(),
            caller,
        }
    }

    /// `criteria` confined to what the caller may search of `res_type` (its scopes'
    /// restrictions added).
    pub fn within_reach(
        &self,
        res_type: &str,
        mut criteria: Vec<Criterion>,
    ) -> Result<Vec<Criterion>, ApiError> {
        let reach = self.caller.reach(
            res_type,
            smart_auth::Interaction::Search,
            &self.params,
            &self.base_url,
        )?;
        criteria.extend(reach.criteria().iter().cloned());
        Ok(criteria)
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
    pending: Vec<(Value, String)>,
    summary: IngestSummary,
    /// The last chunk's transaction, written while the next chunk is looked up and
    /// prepared.
    in_flight: Option<tokio::task::JoinHandle<Result<Value, ApiError>>>,
    /// Where the resources of earlier chunks that later ones referred to are
    /// (conditional URL → `Type/id`): one entry per such target (an import's Devices,
    /// the Encounters of a sync), not per resource.
    referred: HashMap<String, String>,
    /// The Provenance of the last chunk that wrote something, being written.
    provenance_in_flight: Option<tokio::task::JoinHandle<Result<Value, ApiError>>>,
    /// What must succeed before anything is written (see [`ChunkWriter::write_after`]).
    gate: Option<Gate>,
    _patient_lock: tokio::sync::OwnedMutexGuard<()>,
}

/// A check that must pass before a [`ChunkWriter`] writes.
type Gate =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>> + Send + Sync>>;

/// One lock per patient for the imports of this process: the writer looks up what exists
/// before its transaction, so two imports of one patient's new data must not interleave
/// (the SQLite deployment is one process; PostgreSQL instances each serialize their own).
static PATIENT_LOCKS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
> = std::sync::LazyLock::new(Default::default);

impl ChunkWriter {
    /// A writer to `target` for the data of `patient` (`Patient/123`; imports of one
    /// patient take turns); `provenance` makes the Provenance for the versions a chunk
    /// wrote (`Type/id/_history/n`).
    pub async fn new(
        target: IngestTarget,
        patient: &str,
        provenance: impl Fn(&[String]) -> Value + Send + Sync + 'static,
    ) -> ChunkWriter {
        let lock = {
            let mut locks = PATIENT_LOCKS.lock().unwrap_or_else(|e| e.into_inner());
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            Arc::clone(locks.entry(patient.to_owned()).or_default())
        };
        ChunkWriter {
            target,
            provenance: Box::new(provenance),
            pending: Vec::with_capacity(CHUNK),
            summary: IngestSummary::default(),
            in_flight: None,
            referred: HashMap::new(),
            provenance_in_flight: None,
            gate: None,
            _patient_lock: lock.lock_owned().await,
        }
    }

    /// Writes nothing until `check` has succeeded, and fails with its error if it fails:
    /// chunks are looked up and prepared meanwhile (the wearable importer checks the
    /// whole file beside the parse that assembles it).
    pub fn write_after(
        mut self,
        check: impl std::future::Future<Output = Result<(), ApiError>> + Send + Sync + 'static,
    ) -> ChunkWriter {
        self.gate = Some(Box::pin(check));
        self
    }

    /// Waits for the check [`ChunkWriter::write_after`] named, once.
    async fn pass_gate(&mut self) -> Result<(), ApiError> {
        match self.gate.take() {
            Some(check) => check.await,
            None => Ok(()),
        }
    }

    /// The counts so far (reads and skips are the caller's to add).
    pub fn summary_mut(&mut self) -> &mut IngestSummary {
        &mut self.summary
    }

    /// Queues a resource whose source identity is the conditional URL `url`
    /// (`Observation?identifier=…`); writes a chunk when one is full. Resources refer to
    /// each other (an Observation to its Device) by the same conditional URL.
    pub async fn push(&mut self, resource: Value, url: String) -> Result<(), ApiError> {
        self.pending.push((resource, url));
        if self.pending.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes what is queued. Each resource's identity is looked up first (on the read
    /// pool, outside the writer): one equal to what is stored is left alone, a changed one
    /// becomes an update of the stored resource, a new one a create (with a `urn:uuid:`
    /// `fullUrl` that references to it in the chunk are rewritten to). A chunk of creates
    /// is a transaction of plain creates, which the server prepares before its write job.
    pub async fn flush(&mut self) -> Result<(), ApiError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let found = self.lookup_all(&pending).await?;
        let mut targets: HashMap<String, String> = HashMap::new();
        let mut entries = Vec::with_capacity(pending.len());
        for ((mut resource, url), stored) in pending.into_iter().zip(found) {
            let res_type = resource["resourceType"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            match stored {
                Some(stored) => {
                    let content = stored.content.as_deref().unwrap_or_default();
                    if crate::rest::interactions::same_content(content, &resource) {
                        self.summary.unchanged += 1;
                        targets.insert(url, format!("{res_type}/{}", stored.id));
                        continue;
                    }
                    resource["id"] = json!(stored.id);
                    let target = format!("{res_type}/{}", stored.id);
                    targets.insert(url, target.clone());
                    entries.push(json!({"resource": resource,
                        "request": {"method": "PUT", "url": target}}));
                }
                None => {
                    let full_url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
                    targets.insert(url, full_url.clone());
                    entries.push(json!({"fullUrl": full_url, "resource": resource,
                        "request": {"method": "POST", "url": res_type}}));
                }
            }
        }
        if entries.is_empty() {
            return Ok(());
        }
        for entry in &mut entries {
            rewrite_references(&mut entry["resource"], &targets);
        }
        self.resolve_earlier_references(&mut entries).await?;
        // Prepared (validated, indexed, serialized) while the previous chunk is written;
        // written once that one has committed.
        let t = &self.target;
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        let prepared = crate::rest::bundle::prepare_transaction(
            &*t.store,
            &t.caller,
            bundle,
            &t.base_url,
            &t.params,
        )
        .await?;
        self.settle().await?;
        self.pass_gate().await?;
        let target = self.target.clone();
        self.in_flight = Some(tokio::spawn(async move {
            crate::rest::bundle::commit(
                &*target.store,
                &target.caller,
                prepared,
                &target.base_url,
                false,
                &target.params,
            )
            .await
        }));
        Ok(())
    }

    /// Rewrites the conditional references of `entries` to resources of earlier chunks
    /// into `Type/id`, so the chunk's transaction resolves nothing against the store and
    /// can be prepared before the chunk in flight commits. A target not met before is
    /// looked up once the chunk in flight has committed (it may be there); one that is
    /// not found stays conditional, for the transaction to report.
    async fn resolve_earlier_references(&mut self, entries: &mut [Value]) -> Result<(), ApiError> {
        let mut unknown = Vec::new();
        for entry in entries.iter() {
            crate::rest::bundle::conditional_references(
                &entry["resource"],
                &self.referred,
                &mut unknown,
            );
        }
        if !unknown.is_empty() {
            self.settle().await?;
            for url in unknown {
                if let Some(found) = lookup(&self.target, &url).await? {
                    let res_type = url.split('?').next().unwrap_or_default();
                    let at = format!("{res_type}/{}", found.id);
                    self.referred.insert(url, at);
                }
            }
        }
        for entry in entries.iter_mut() {
            rewrite_references(&mut entry["resource"], &self.referred);
        }
        Ok(())
    }

    /// Waits for the transaction in flight, if any, and counts what it wrote.
    async fn settle(&mut self) -> Result<(), ApiError> {
        let Some(task) = self.in_flight.take() else {
            return Ok(());
        };
        let response = task.await.map_err(ApiError::internal)??;
        let mut written = Vec::new();
        for entry in response["entry"].as_array().into_iter().flatten() {
            let r = &entry["response"];
            if !r["outcome"].is_null() {
                self.summary.unchanged += 1;
                continue;
            }
            if r["status"].as_str().unwrap_or_default().starts_with("201") {
                self.summary.created += 1;
            } else {
                self.summary.updated += 1;
            }
            if let Some(location) = r["location"].as_str() {
                written.push(location.to_owned());
            }
        }
        if !written.is_empty() {
            // The server's own record of what the import wrote: written as the server,
            // not as the caller, whose scopes cover the patient's data (a Provenance
            // whose targets are Observations is in no patient's compartment).
            // It is written beside the next chunk (both queue for the writer together),
            // and waited for at the next settle.
            self.settle_provenance().await?;
            let t = self.target.clone();
            let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                {"resource": (self.provenance)(&written), "request": {"method": "POST", "url": "Provenance"}}
            ]});
            self.provenance_in_flight = Some(tokio::spawn(async move {
                crate::rest::bundle::process(
                    &*t.store,
                    &Caller::Open,
                    bundle,
                    &t.base_url,
                    false,
                    &t.params,
                )
                .await
            }));
        }
        Ok(())
    }

    /// Waits for the last chunk's Provenance, if one is being written.
    async fn settle_provenance(&mut self) -> Result<(), ApiError> {
        if let Some(task) = self.provenance_in_flight.take() {
            task.await.map_err(ApiError::internal)??;
            self.summary.provenances += 1;
        }
        Ok(())
    }

    /// The stored resource each pending conditional URL names, if any, in order. URLs
    /// that name one identifier (`Type?identifier=system|value`, what every importer
    /// writes) are looked up together, one query per type (the identifiers of a system
    /// become one `IN` list: an index seek each); any other URL alone.
    async fn lookup_all(
        &self,
        pending: &[(Value, String)],
    ) -> Result<Vec<Option<StoredResource>>, ApiError> {
        let mut found: Vec<Option<StoredResource>> = vec![None; pending.len()];
        let mut by_type: HashMap<String, Vec<(usize, String, String)>> = HashMap::new();
        let mut alone = Vec::new();
        for (n, (_, url)) in pending.iter().enumerate() {
            match identity(&self.target, url)? {
                Some((res_type, system, value)) => {
                    by_type
                        .entry(res_type)
                        .or_default()
                        .push((n, system, value));
                }
                None => alone.push(n),
            }
        }
        for (res_type, identities) in by_type {
            if !self
                .lookup_identities(&res_type, &identities, &mut found)
                .await?
            {
                alone.extend(identities.iter().map(|(n, _, _)| *n));
            }
        }
        let per_task = alone.len().div_ceil(LOOKUP_TASKS).max(1);
        let tasks: Vec<_> = alone
            .chunks(per_task)
            .map(|group| {
                let target = self.target.clone();
                let group: Vec<(usize, String)> =
                    group.iter().map(|&n| (n, pending[n].1.clone())).collect();
                tokio::spawn(async move {
                    let mut out = Vec::with_capacity(group.len());
                    for (n, url) in group {
                        out.push((n, lookup(&target, &url).await?));
                    }
                    Ok::<_, ApiError>(out)
                })
            })
            .collect();
        for task in tasks {
            for (n, stored) in task.await.map_err(ApiError::internal)?? {
                found[n] = stored;
            }
        }
        Ok(found)
    }

    /// Looks up resources of `res_type` by identifier (`(position, system, value)`) in
    /// one search and files each match at its position. `false` when the answer may be
    /// incomplete (a full page: many resources share identities), for the caller to
    /// look them up one by one.
    async fn lookup_identities(
        &self,
        res_type: &str,
        identities: &[(usize, String, String)],
        found: &mut [Option<StoredResource>],
    ) -> Result<bool, ApiError> {
        let criteria = vec![Criterion::Token {
            param: "identifier".to_owned(),
            values: identities
                .iter()
                .map(|(_, system, value)| TokenMatch {
                    system: Some(system.clone()),
                    code: Some(value.clone()),
                })
                .collect(),
        }];
        let count = 2 * identities.len() + 1;
        let resources = search_in_reach(&self.target, res_type, criteria, count).await?;
        if resources.len() >= count {
            return Ok(false);
        }
        let mut at: HashMap<(&str, &str), usize> = HashMap::with_capacity(identities.len());
        for (n, system, value) in identities {
            at.insert((system.as_str(), value.as_str()), *n);
        }
        for stored in resources {
            let content: Value = stored
                .content
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or_default();
            for identifier in content["identifier"].as_array().into_iter().flatten() {
                let key = (
                    identifier["system"].as_str().unwrap_or_default(),
                    identifier["value"].as_str().unwrap_or_default(),
                );
                if let Some(&n) = at.get(&key) {
                    match &found[n] {
                        Some(other) if other.id != stored.id => return Err(not_unique(res_type)),
                        _ => found[n] = Some(stored.clone()),
                    }
                }
            }
        }
        Ok(true)
    }

    /// Writes what is queued, waits for it to commit, and returns the counts.
    pub async fn finish(mut self) -> Result<IngestSummary, ApiError> {
        self.pass_gate().await?;
        self.flush().await?;
        self.settle().await?;
        self.settle_provenance().await?;
        Ok(self.summary)
    }
}

/// The resource type, identifier system and value a conditional URL names when it is
/// `Type?identifier=system|value` and nothing else.
fn identity(
    target: &IngestTarget,
    url: &str,
) -> Result<Option<(String, String, String)>, ApiError> {
    let (res_type, criteria) = url_criteria(target, url)?;
    Ok(match criteria.as_slice() {
        [Criterion::Token { param, values }] if param == "identifier" => match values.as_slice() {
            [
                TokenMatch {
                    system: Some(system),
                    code: Some(value),
                },
            ] if !system.is_empty() => Some((res_type.to_owned(), system.clone(), value.clone())),
            _ => None,
        },
        _ => None,
    })
}

/// The stored resource a conditional URL names, if any (within the caller's reach; more
/// than one is an error: the identity is not unique).
async fn lookup(target: &IngestTarget, url: &str) -> Result<Option<StoredResource>, ApiError> {
    let (res_type, criteria) = url_criteria(target, url)?;
    let mut found = search_in_reach(target, res_type, criteria, 2)
        .await?
        .into_iter();
    match (found.next(), found.next()) {
        (first, None) => Ok(first),
        (Some(_), Some(_)) => Err(not_unique(res_type)),
        (None, Some(_)) => Ok(None),
    }
}

/// The resource type and criteria of a conditional URL (`Type?query`).
fn url_criteria<'u>(
    target: &IngestTarget,
    url: &'u str,
) -> Result<(&'u str, Vec<Criterion>), ApiError> {
    let (res_type, query) = url.split_once('?').unwrap_or((url, ""));
    let pairs = crate::rest::criteria::query_pairs(query);
    let criteria = crate::rest::criteria::parse_criteria_with(
        &target.params,
        res_type,
        &pairs,
        &target.base_url,
    )?;
    Ok((res_type, criteria))
}

/// The first `count` resources of `res_type` matching `criteria` within what the
/// target's caller may search.
async fn search_in_reach(
    target: &IngestTarget,
    res_type: &str,
    criteria: Vec<Criterion>,
    count: usize,
) -> Result<Vec<StoredResource>, ApiError> {
    let criteria = target.within_reach(res_type, criteria)?;
    Ok(target
        .store
        .search_with(res_type, &SearchQuery::matching(criteria, count))
        .await?
        .resources)
}

/// More than one stored resource with the source identity of an imported one.
fn not_unique(res_type: &str) -> ApiError {
    ApiError::precondition_failed(
        IssueType::MultipleMatches,
        format!(
            "{res_type}: more than one stored resource has the source identity of an imported one"
        ),
    )
}

/// Rewrites every `reference` of `resource` that `targets` knows (a conditional URL of a
/// resource of the chunk) to where that resource is (`Type/id`, or the new one's
/// `urn:uuid:` fullUrl).
fn rewrite_references(resource: &mut Value, targets: &HashMap<String, String>) {
    match resource {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(text) if key == "reference" => {
                        if let Some(target) = targets.get(text.as_str()) {
                            *text = target.clone();
                        }
                    }
                    other => rewrite_references(other, targets),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite_references(item, targets);
            }
        }
        _ => {}
    }
}
