//! Storage: one [`ResourceStore`] trait, with an SQLite and a PostgreSQL implementation.
//!
//! Every version of every resource is kept (history). Writes go through [`WriteTx`], a
//! database transaction handed to a *write job*: single interactions and whole
//! transaction Bundles are both jobs, so they share one code path (`crate::rest`), and a
//! job either commits whole or leaves nothing behind. How jobs reach the database is each
//! backend's business: SQLite batches concurrent jobs into one transaction and one fsync
//! (group commit, each job in its own savepoint); PostgreSQL runs each job in its own
//! transaction from a pool, with row locks for version checks.
//!
//! Both backends speak the same SQL through sqlx's `Any` driver ([`sql`]); the few
//! dialect differences are in [`sql::Dialect`].

mod migrate;
mod postgres;
pub mod sql;
mod sqlite;

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use fhir_model::index::IndexEntry;
use futures::future::BoxFuture;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// One stored version of a resource (or the tombstone of a delete).
#[derive(Debug, Clone)]
pub struct StoredResource {
    /// The resource type.
    pub res_type: String,
    /// The logical id.
    pub id: String,
    /// The version id (1, 2, …).
    pub version: i64,
    /// `meta.lastUpdated` of this version, as a FHIR instant (UTC, milliseconds).
    pub last_updated: String,
    /// The interaction that made this version: `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The JSON text of the resource as served; `None` for a delete.
    pub content: Option<String>,
}

impl StoredResource {
    /// Whether this version records a delete.
    pub fn is_deleted(&self) -> bool {
        self.content.is_none()
    }
}

/// The current state of a logical resource, as a write job sees it (locked until commit).
#[derive(Debug, Clone)]
pub struct CurrentState {
    /// Internal key of the logical resource.
    pub pk: i64,
    /// The current version id.
    pub version: i64,
    /// Whether the current version is a delete.
    pub deleted: bool,
}

/// A new version to write.
#[derive(Debug)]
pub struct NewVersion {
    /// The resource type.
    pub res_type: String,
    /// The logical id.
    pub id: String,
    /// The version id; must be the current one plus one.
    pub version: i64,
    /// The key from [`CurrentState`] when the resource exists already.
    pub existing_pk: Option<i64>,
    /// `meta.lastUpdated`.
    pub last_updated: String,
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: &'static str,
    /// The JSON text, `None` for a delete.
    pub content: Option<String>,
    /// The search index values of this version (empty for a delete).
    pub index: Vec<IndexEntry>,
}

/// New index rows for the current version of a resource, written without a new version
/// (`$reindex`).
#[derive(Debug)]
pub struct Reindexed {
    /// The internal key of the logical resource.
    pub pk: i64,
    /// The resource type.
    pub res_type: String,
    /// The version the rows were computed from: if the resource has moved on since (or
    /// was deleted), its rows are left as the newer write made them.
    pub version: i64,
    /// The search index values.
    pub index: Vec<IndexEntry>,
}

/// A current (not deleted) resource with its internal key, as `$reindex` pages through
/// them.
#[derive(Debug, Clone)]
pub struct CurrentResource {
    /// The internal key (the paging key).
    pub pk: i64,
    /// The current version.
    pub stored: StoredResource,
}

/// One condition of a conditional interaction or search, already typed by the search
/// parameter's kind. A resource matches a [`Criterion`] if it matches any of its values.
#[derive(Debug, Clone, PartialEq)]
pub enum Criterion {
    /// `_id=a,b`
    Id(Vec<String>),
    /// A token parameter: `[system]|[code]` forms.
    Token {
        param: String,
        values: Vec<TokenMatch>,
    },
    /// A reference parameter: `Type/id`, `id` or an absolute URL.
    Reference {
        param: String,
        values: Vec<ReferenceMatch>,
    },
    /// A string parameter, matched on the normalized form (prefix, `:contains`) or as
    /// written (`:exact`).
    String {
        param: String,
        values: Vec<String>,
        mode: StringMode,
    },
    /// A uri parameter: exact, `:below` or `:above`.
    Uri {
        param: String,
        values: Vec<String>,
        mode: UriMode,
    },
    /// A [date](https://hl7.org/fhir/R4/search.html#date) parameter (`_lastUpdated`
    /// included: it is the column `resource.last_updated`).
    Date {
        param: String,
        values: Vec<DateMatch>,
    },
    /// A [number](https://hl7.org/fhir/R4/search.html#number) parameter.
    Number {
        param: String,
        values: Vec<NumberMatch>,
    },
    /// A [quantity](https://hl7.org/fhir/R4/search.html#quantity) parameter.
    Quantity {
        param: String,
        values: Vec<QuantityMatch>,
    },
    /// [`:missing`](https://hl7.org/fhir/R4/search.html#modifiers): whether the resource
    /// has no index value for the parameter (`missing = true`) or at least one.
    Missing {
        param: String,
        kind: fhir_model::search_params::SearchParamKind,
        missing: bool,
    },
    /// Token [`:text`](https://hl7.org/fhir/R4/search.html#modifiers): the normalized
    /// display text (CodeableConcept.text, Coding.display, Identifier.type.text) starts
    /// with one of the (normalized) values.
    TokenText { param: String, values: Vec<String> },
    /// The negation of a criterion (token `:not`: resources without a matching value,
    /// including those with no value at all).
    Not(Box<Criterion>),
    /// Any of the criteria (a parameter that is the union of two others, such as
    /// Observation `combo-code`; the alternatives of a composite matched on its parts).
    AnyOf(Vec<Criterion>),
    /// All of the criteria (one granular SMART scope's parameters, inside an
    /// [`Criterion::AnyOf`] of several scopes; one alternative of a composite matched on the
    /// parameters its components are, such as Observation `code-value-quantity`).
    AllOf(Vec<Criterion>),
    /// In a system-level search: resources of `res_type` must match all of `criteria`
    /// (read as that type's); resources of other types are not concerned. What a SMART
    /// token may reach of each type, in one query over several types.
    ForType {
        res_type: String,
        criteria: Vec<Criterion>,
    },
    /// The Patient `Patient/{0}` itself and every resource in its compartment (a
    /// reference to it through one of its type's compartment parameters): `$everything`.
    InPatientCompartment(String),
    /// Token [`:in`](https://hl7.org/fhir/R4/search.html#token): a value is one of the
    /// codes of one of the ValueSets (canonical URLs) stored on this server. The store
    /// resolves the ValueSets when it runs the search (`:not-in` is this under [`Not`]).
    ///
    /// [`Not`]: Criterion::Not
    InValueSet { param: String, urls: Vec<String> },
    /// A [composite](https://hl7.org/fhir/R4/search.html#composite) parameter: any of the
    /// alternatives (comma-separated values) matches when one root item of the composite
    /// matches all of the alternative's component criteria together (each on the index
    /// rows `{param}${k}` of one group).
    Composite {
        param: String,
        alternatives: Vec<Vec<Criterion>>,
    },
    /// A [chained](https://hl7.org/fhir/R4/search.html#chaining) parameter
    /// (`param[:Type].chained=…`): the reference `param` points to a current resource of
    /// one of the target types that matches that type's criterion (one entry per target
    /// type that has the chained parameter).
    Chain {
        param: String,
        targets: Vec<(String, Criterion)>,
    },
    /// [Reverse chaining](https://hl7.org/fhir/R4/search.html#has)
    /// (`_has:Type:param:criterion=…`): a current resource of `source_type` refers to this
    /// one through its reference parameter `param` and matches `criterion`.
    Has {
        source_type: String,
        param: String,
        criterion: Box<Criterion>,
    },
}

/// What a search asks of the store: the matches (a page of them, keyed by the internal
/// key), whether to count them all, and which related resources to add.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// All must match.
    pub criteria: Vec<Criterion>,
    /// For a system-level search (the type searched is `""`): only resources of these
    /// types, or of any type when empty.
    pub types: Vec<String>,
    /// Page size; 0 reads no page (`_summary=count`).
    pub count: usize,
    /// [`_sort`](https://hl7.org/fhir/R4/search.html#sort) keys, most significant first;
    /// empty: internal key order. The internal key always breaks ties.
    pub sort: Vec<SortKey>,
    /// Keyset cursor: only resources after this position in the sort order.
    pub after: Option<SearchCursor>,
    /// Keyset cursor of a `previous` link: the page just before this position (the last
    /// `count` resources before it, still in sort order). Exclusive with `after`.
    pub before: Option<SearchCursor>,
    /// Whether to count all matches (`_total=none` does not).
    pub total: bool,
    /// [`_include`](https://hl7.org/fhir/R4/search.html#include): resources the page's
    /// matches refer to.
    pub include: Vec<Include>,
    /// [`_revinclude`](https://hl7.org/fhir/R4/search.html#revinclude): resources that
    /// refer to the page's matches.
    pub revinclude: Vec<Include>,
    /// At most this many included resources per page; beyond it the page says it was
    /// truncated ([`SearchPage::includes_truncated`]).
    pub include_limit: usize,
}

impl SearchQuery {
    /// The first `count` resources matching `criteria`, uncounted, nothing included.
    pub fn matching(criteria: Vec<Criterion>, count: usize) -> SearchQuery {
        SearchQuery {
            criteria,
            count,
            ..SearchQuery::default()
        }
    }
}

/// One [`_sort`](https://hl7.org/fhir/R4/search.html#sort) key: a search parameter of
/// the type (`_id` and `_lastUpdated` included) and its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The search parameter's code.
    pub param: String,
    /// Its type, which names the index table and column the key is read from.
    pub kind: fhir_model::search_params::SearchParamKind,
    /// `-param`: highest first.
    pub descending: bool,
}

impl SortKey {
    /// Whether the key's values are numbers (number and quantity parameters), not text.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self.kind,
            fhir_model::search_params::SearchParamKind::Number
                | fhir_model::search_params::SearchParamKind::Quantity
        )
    }
}

/// One sort key value of a resource, as stored in the index (`Null`: no value).
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    /// The resource has no value for the key (it sorts last in both directions).
    Null,
    /// A text key (string, token, date, uri, reference, `_id`, `_lastUpdated`).
    Text(String),
    /// A number or quantity key.
    Number(f64),
}

/// A keyset position in a sorted search: the sort key values of the last resource of a
/// page (one per [`SortKey`]) and its internal key.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchCursor {
    /// The sort key values, in the order of [`SearchQuery::sort`].
    pub values: Vec<SortValue>,
    /// The internal key (the tie-break).
    pub pk: i64,
}

/// One `_include` or `_revinclude` value: `Type:param[:Target]` or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The type of the resource holding the reference; `None` for `*`.
    pub source_type: Option<String>,
    /// The reference search parameter; `None` for `*` (every reference parameter).
    pub param: Option<String>,
    /// Only references to this type (`Type:param:Target`).
    pub target_type: Option<String>,
    /// `:iterate`: applies to included resources too, until nothing new is found.
    pub iterate: bool,
}

/// How a string criterion compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMode {
    /// The normalized value starts with the (normalized) search value.
    Prefix,
    /// `:exact`: the value as written equals the search value.
    Exact,
    /// `:contains`: the normalized value contains the (normalized) search value.
    Contains,
}

/// How a uri criterion compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriMode {
    /// The uri equals the search value.
    Exact,
    /// `:below`: the uri is the search value or below it (a path under it).
    Below,
    /// `:above`: the uri is the search value or above it (a path it is under).
    Above,
}

/// A [search prefix](https://hl7.org/fhir/R4/search.html#prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `eq` (the default).
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `lt`
    Lt,
    /// `ge`
    Ge,
    /// `le`
    Le,
    /// `sa`: starts after.
    Sa,
    /// `eb`: ends before.
    Eb,
    /// `ap`: approximately.
    Ap,
}

/// One value of a date criterion: the inclusive instant range the search value covers
/// by its precision, as fixed-width UTC instants (`YYYY-MM-DDThh:mm:ss.sssZ`). For `ap`
/// the range is already widened by the approximation.
#[derive(Debug, Clone, PartialEq)]
pub struct DateMatch {
    /// The comparison.
    pub prefix: Prefix,
    /// First instant of the search range.
    pub start: String,
    /// Last instant of the search range.
    pub end: String,
}

/// One value of a number criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberMatch {
    /// The comparison.
    pub prefix: Prefix,
    /// The value as given (for `gt`, `lt`, `ge`, `le`, `sa`, `eb`).
    pub value: f64,
    /// The low end of the range the value stands for (inclusive): its implicit precision
    /// for `eq`/`ne`, the approximation for `ap`.
    pub low: f64,
    /// The high end of that range (exclusive for `eq`/`ne`, inclusive for `ap`).
    pub high: f64,
}

/// One value of a quantity criterion: a number and, optionally, the unit.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityMatch {
    /// The number part.
    pub number: NumberMatch,
    /// `Some`: the unit system must be this (`value|system|code`).
    pub system: Option<String>,
    /// `Some`: the unit code must be this (or, without a system, the code or the unit).
    pub code: Option<String>,
    /// For a UCUM unit this server can convert: the number part in canonical units and
    /// the canonical unit, compared with the canonical form of stored quantities.
    pub canonical: Option<(NumberMatch, String)>,
}

/// One value of a token criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenMatch {
    /// `None`: any system; `Some("")`: no system (`|code`); `Some(s)`: that system.
    pub system: Option<String>,
    /// `None`: any code (`system|`).
    pub code: Option<String>,
}

/// One value of a reference criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceMatch {
    /// The target type, when given.
    pub target_type: Option<String>,
    /// The target id (for relative references) …
    pub target_id: Option<String>,
    /// … or the absolute URL.
    pub url: Option<String>,
}

/// What an [Observation `$lastn`](https://hl7.org/fhir/R4/observation-operation-lastn.html)
/// asks of the store: the Observations matching the criteria, grouped by code, the most
/// recent `max` of each group (see `sql::lastn`).
#[derive(Debug, Clone)]
pub struct LastnQuery {
    /// All must match (the subject, and any other Observation search parameters).
    pub criteria: Vec<Criterion>,
    /// How many of the most recent Observations of each code group (at least 1; more when
    /// several share the effective time of the last one kept).
    pub max: usize,
}

/// Which history to read.
#[derive(Debug, Clone)]
pub enum HistoryScope {
    /// All resources.
    System,
    /// One resource type.
    Type(String),
    /// One resource.
    Instance(String, String),
}

/// History query parameters.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Only versions updated at or after this instant (`_since`).
    pub since: Option<String>,
    /// Only the version current at this instant (`_at`): versions updated at or before it.
    pub at: Option<String>,
    /// Page size.
    pub count: usize,
    /// Keyset cursor: only rows older than this `(last_updated, row_id)`.
    pub before: Option<(String, i64)>,
}

/// A page of history, newest first.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The versions.
    pub versions: Vec<StoredResource>,
    /// The cursor of the next (older) page, if there is one.
    pub next: Option<(String, i64)>,
    /// Total number of versions in scope (ignoring the cursor).
    pub total: i64,
}

/// A page of current resources matching criteria.
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// The matching resources.
    pub resources: Vec<StoredResource>,
    /// The cursor after the last one, if there are more.
    pub next: Option<SearchCursor>,
    /// The cursor before the first one, if there may be resources before it (the page
    /// was reached through a cursor).
    pub previous: Option<SearchCursor>,
    /// Total number of matches, when asked for.
    pub total: Option<i64>,
    /// Resources added by `_include`/`_revinclude` (none of them a match of the page,
    /// none twice), in the order found.
    pub included: Vec<StoredResource>,
    /// Whether more resources would have been included than the query's limit.
    pub includes_truncated: bool,
}

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A concurrent write created the same resource first.
    #[error("a concurrent write created {0} first")]
    Conflict(String),
    /// The write job failed; its error is returned to its caller unchanged.
    #[error("write job failed")]
    Job(Box<crate::error::ApiError>),
    /// The criteria name something the store cannot resolve (a ValueSet it does not hold
    /// or whose codes it cannot list); the text says what, for the client.
    #[error("{0}")]
    Criteria(String),
    /// The writer task has stopped (the server is shutting down).
    #[error("the writer has stopped")]
    WriterGone,
}

/// The result of a write job, type-erased so jobs of any result type share one queue.
pub type JobOutput = Box<dyn Any + Send>;

/// A write job: runs against a [`WriteTx`]; its effects commit only if it returns `Ok`.
pub type WriteJob = Box<
    dyn for<'t> FnOnce(
            &'t mut dyn WriteTx,
        ) -> BoxFuture<'t, Result<JobOutput, crate::error::ApiError>>
        + Send,
>;

/// The operations a write job may use, all inside one database transaction.
#[async_trait]
pub trait WriteTx: Send {
    /// The current state of a resource, locked for the rest of the transaction.
    async fn current(
        &mut self,
        res_type: &str,
        id: &str,
    ) -> Result<Option<CurrentState>, StoreError>;
    /// The current version of a resource with its content.
    async fn read(
        &mut self,
        res_type: &str,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError>;
    /// The ids of current (not deleted) resources of a type matching all criteria.
    async fn find(
        &mut self,
        res_type: &str,
        criteria: &[Criterion],
    ) -> Result<Vec<String>, StoreError>;
    /// Writes a new version and replaces the resource's index rows. The write may be
    /// buffered; every later call of this transaction sees it.
    async fn write_version(&mut self, version: NewVersion) -> Result<(), StoreError>;
    /// Sends buffered writes to the database (the backends call it before commit).
    async fn flush(&mut self) -> Result<(), StoreError>;
    /// Replaces the index rows of current resources and writes no version (`$reindex`).
    /// A resource whose current version is no longer the one given, or that was deleted,
    /// is skipped. Returns how many were re-indexed.
    async fn reindex(&mut self, resources: Vec<Reindexed>) -> Result<usize, StoreError>;
}

/// The storage behind the server. Backends provide the write path; reads share
/// [`sql::SqlReader`].
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Which backend this is (`sqlite` or `postgresql`), for logs and the benchmark.
    fn backend(&self) -> &'static str;
    /// Runs a write job in one database transaction.
    async fn write_job(&self, job: WriteJob) -> Result<JobOutput, StoreError>;
    /// The read side.
    fn reader(&self) -> &sql::SqlReader;

    /// The current version of a resource (a tombstone if deleted).
    async fn read(&self, res_type: &str, id: &str) -> Result<Option<StoredResource>, StoreError> {
        self.reader().read(res_type, id).await
    }
    /// One version of a resource.
    async fn vread(
        &self,
        res_type: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<StoredResource>, StoreError> {
        self.reader().vread(res_type, id, version).await
    }
    /// A page of history, newest first.
    async fn history(
        &self,
        scope: &HistoryScope,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, StoreError> {
        self.reader().history(scope, query).await
    }
    /// A search with every option of [`SearchQuery`] (totals, includes).
    async fn search_with(
        &self,
        res_type: &str,
        query: &SearchQuery,
    ) -> Result<SearchPage, StoreError> {
        self.reader().search(res_type, query).await
    }
    /// Up to `limit` current (not deleted) resources, of `res_type` or of every type,
    /// whose internal key is above `after_pk`, in key order (keyset paging for
    /// `$reindex` and for loading the SearchParameters).
    async fn current_resources(
        &self,
        res_type: Option<&str>,
        after_pk: i64,
        limit: usize,
    ) -> Result<Vec<CurrentResource>, StoreError> {
        self.reader()
            .current_resources(res_type, after_pk, limit)
            .await
    }
    /// The Observations an Observation `$lastn` returns, each once, grouped by code (the
    /// group with the most recent Observation first), newest first within a group.
    async fn lastn(&self, query: &LastnQuery) -> Result<Vec<StoredResource>, StoreError> {
        self.reader().lastn(query).await
    }
}

/// Runs a typed write job on any store.
pub async fn write<T, F>(store: &dyn ResourceStore, job: F) -> Result<T, crate::error::ApiError>
where
    T: Send + 'static,
    F: for<'t> FnOnce(&'t mut dyn WriteTx) -> BoxFuture<'t, Result<T, crate::error::ApiError>>
        + Send
        + 'static,
{
    let erased: WriteJob = Box::new(move |tx| {
        Box::pin(async move { job(tx).await.map(|v| Box::new(v) as JobOutput) })
    });
    match store.write_job(erased).await {
        Ok(out) => Ok(*out
            .downcast::<T>()
            .expect("a job's output has the job's type")),
        Err(StoreError::Job(e)) => Err(*e),
        Err(e) => Err(e.into()),
    }
}

/// Opens the store a database URL names (`sqlite:` or `postgres:`), running migrations.
pub async fn open(database_url: &str) -> anyhow::Result<Arc<dyn ResourceStore>> {
    sqlx::any::install_default_drivers();
    if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        Ok(Arc::new(PostgresStore::open(database_url).await?))
    } else if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(database_url).await?))
    } else {
        anyhow::bail!("unsupported database URL scheme (expected sqlite: or postgres:)")
    }
}
