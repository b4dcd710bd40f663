//! The SQL both backends share, run through sqlx's `Any` driver.
//!
//! Every value is bound as a parameter; the only text spliced into SQL is placeholders,
//! fixed column names and the [`Dialect`]'s fixed fragments.

mod lastn;
mod search;
mod valueset;

use async_trait::async_trait;
use fhir_model::index::{IndexEntry, IndexValue};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{
    Criterion, CurrentResource, CurrentState, HistoryPage, HistoryQuery, HistoryScope, LastnQuery,
    NewVersion, Reindexed, SearchPage, SearchQuery, StoreError, StoredResource, WriteTx,
};

/// What differs between the SQL of SQLite and of PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// Appended to a `SELECT` that must lock the rows it reads until commit.
    pub lock_suffix: &'static str,
    /// Placeholders are `$1`, `$2`, … (PostgreSQL) or anonymous `?` (SQLite, where binding
    /// numbered parameters costs time quadratic in their count).
    pub numbered: bool,
    /// The database keeps `idx_token_patient` (token rows by compartment patient,
    /// PostgreSQL's migration 0006) and searches by patient and token start from it.
    pub patient_tokens: bool,
}

impl Dialect {
    /// A fixed statement written with `?` placeholders, numbered `$1`, `$2`, … where the
    /// dialect wants them. Values are always bound, never spliced; the statement must have
    /// no `?` other than placeholders. For the small side tables (authorization, twin jobs)
    /// that are queried outside write jobs.
    pub fn statement(
        self,
        sql: &'static str,
    ) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        if !self.numbered {
            return sqlx::query(sql);
        }
        let mut text = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                text.push('$');
                text.push_str(&n.to_string());
            } else {
                text.push(c);
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(text))
    }

    /// SQLite: there is one writer, so reads inside a write need no lock.
    pub const SQLITE: Dialect = Dialect {
        lock_suffix: "",
        numbered: false,
        patient_tokens: false,
    };
    /// PostgreSQL: row locks serialize concurrent writers of one resource.
    pub const POSTGRES: Dialect = Dialect {
        lock_suffix: " FOR UPDATE",
        numbered: true,
        patient_tokens: true,
    };
}

/// A bound argument.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
    OptFloat(Option<f64>),
}

/// SQL text with its arguments, as placeholders in the dialect's style as they are pushed.
#[derive(Debug)]
struct Query {
    text: String,
    args: Vec<Arg>,
    numbered: bool,
    /// [`Dialect::patient_tokens`].
    patient_tokens: bool,
    /// The next index subquery drives the search (`pk IN (…)` instead of a correlated
    /// `EXISTS`); see `search::push_matches`.
    drive_next: bool,
}

impl Query {
    fn new(dialect: Dialect, text: &str) -> Self {
        Query {
            text: text.to_owned(),
            args: Vec::new(),
            numbered: dialect.numbered,
            patient_tokens: dialect.patient_tokens,
            drive_next: false,
        }
    }

    fn sql(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    fn arg(&mut self, a: Arg) -> &mut Self {
        if let Arg::OptFloat(None) = a {
            // sqlx's `Any` driver declares a NULL double as PostgreSQL `float4`; a cached
            // statement would then refuse the 8-byte doubles of later rows.
            self.text.push_str("NULL");
            return self;
        }
        self.args.push(a);
        if self.numbered {
            self.text.push('$');
            self.text.push_str(&self.args.len().to_string());
        } else {
            self.text.push('?');
        }
        self
    }

    fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.arg(Arg::Text(s.into()))
    }

    fn build(self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text));
        for a in self.args {
            q = match a {
                Arg::Text(s) => q.bind(s),
                Arg::OptText(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
                Arg::OptInt(i) => q.bind(i),
                Arg::Float(f) => q.bind(f),
                Arg::OptFloat(f) => q.bind(f),
            };
        }
        q
    }
}

const VERSION_COLUMNS: &str =
    "v.res_type, v.res_id, v.version, v.last_updated, v.method, v.content, v.row_id";

fn stored(row: &AnyRow) -> Result<StoredResource, sqlx::Error> {
    Ok(StoredResource {
        res_type: row.try_get(0)?,
        id: row.try_get(1)?,
        version: row.try_get(2)?,
        last_updated: row.try_get(3)?,
        method: row.try_get(4)?,
        content: row.try_get(5)?,
    })
}

/// A write transaction on one connection (already inside `BEGIN`).
///
/// New versions are buffered and written in multi-row statements when the job ends or
/// before the next read, so a transaction Bundle of hundreds of resources costs a handful
/// of statements instead of several per resource. Reads always see earlier writes.
pub struct SqlTx<'c> {
    /// The connection, inside a transaction.
    pub conn: &'c mut AnyConnection,
    /// The SQL dialect.
    pub dialect: Dialect,
    /// Versions written but not yet sent to the database.
    pending: Vec<NewVersion>,
    /// The ids in `pending`, so a write of one again is found without a scan (a group
    /// commit buffers hundreds of versions).
    pending_ids: std::collections::HashSet<String>,
    /// When several jobs share this transaction (SQLite group commit): where the current
    /// job's writes start in `pending`.
    job_start: Option<usize>,
    /// Whether the current job flushed its own writes under a savepoint.
    job_savepoint: bool,
    /// A write that belongs to no savepoint failed: the whole transaction must roll back.
    poisoned: bool,
}

/// Buffered versions beyond this are flushed at once (bounds memory).
const MAX_PENDING: usize = 1000;

impl<'c> SqlTx<'c> {
    /// A transaction on a connection that is already inside `BEGIN` (or a savepoint).
    pub fn new(conn: &'c mut AnyConnection, dialect: Dialect) -> Self {
        SqlTx {
            conn,
            dialect,
            pending: Vec::new(),
            pending_ids: std::collections::HashSet::new(),
            job_start: None,
            job_savepoint: false,
            poisoned: false,
        }
    }

    /// Starts a job that shares this transaction with others. Its buffered writes can be
    /// dropped if it fails; once it has flushed them, a savepoint covers them.
    pub fn begin_job(&mut self) {
        self.job_start = Some(self.pending.len());
        self.job_savepoint = false;
    }

    /// Ends the current job: keeps its writes if it succeeded, undoes them if not.
    pub async fn end_job(&mut self, succeeded: bool) {
        let start = self.job_start.take();
        if !succeeded && let Some(start) = start {
            // Buffered writes of this job are dropped; flushed ones are undone below.
            self.pending.truncate(start);
            self.pending_ids = self.pending.iter().map(|p| p.id.clone()).collect();
        }
        if self.job_savepoint {
            self.job_savepoint = false;
            let sql = if succeeded {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            if sqlx::raw_sql(sql).execute(&mut *self.conn).await.is_err() {
                self.poisoned = true;
            }
        }
    }

    /// Whether the transaction must be rolled back whole.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

#[async_trait]
impl WriteTx for SqlTx<'_> {
    async fn current(
        &mut self,
        res_type: &str,
        id: &str,
    ) -> Result<Option<CurrentState>, StoreError> {
        self.flush().await?;
        let mut q = Query::new(
            self.dialect,
            "SELECT pk, version, deleted FROM resource WHERE res_type = ",
        );
        q.text(res_type)
            .sql(" AND res_id = ")
            .text(id)
            .sql(self.dialect.lock_suffix);
        let row = q.build().fetch_optional(&mut *self.conn).await?;
        Ok(match row {
            Some(row) => Some(CurrentState {
                pk: row.try_get(0)?,
                version: row.try_get(1)?,
                deleted: row.try_get::<i64, _>(2)? != 0,
            }),
            None => None,
        })
    }

    async fn read(
        &mut self,
        res_type: &str,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        self.flush().await?;
        let q = read_query(self.dialect, res_type, id);
        Ok(q.build()
            .fetch_optional(&mut *self.conn)
            .await?
            .map(|r| stored(&r))
            .transpose()?)
    }

    async fn find(
        &mut self,
        res_type: &str,
        criteria: &[Criterion],
    ) -> Result<Vec<String>, StoreError> {
        self.flush().await?;
        let resolved = valueset::resolve(self.conn, self.dialect, criteria).await?;
        let criteria = resolved.as_deref().unwrap_or(criteria);
        let mut q = Query::new(self.dialect, "SELECT r.res_id FROM resource r WHERE ");
        search::push_matches(&mut q, res_type, criteria);
        q.sql(" ORDER BY r.pk LIMIT 1000");
        let rows = q.build().fetch_all(&mut *self.conn).await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn write_version(&mut self, v: NewVersion) -> Result<(), StoreError> {
        let again = self.pending_ids.contains(v.id.as_str())
            && self
                .pending
                .iter()
                .any(|p| p.res_type == v.res_type && p.id == v.id);
        if again || self.pending.len() >= MAX_PENDING {
            self.flush().await?;
        }
        self.pending_ids.insert(v.id.clone());
        self.pending.push(v);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Some(start) = self.job_start
            && !self.job_savepoint
        {
            // Earlier jobs' writes go first, outside this job's savepoint: this job's
            // failure must not undo them, and their failure dooms the whole batch.
            let earlier: Vec<NewVersion> = self.pending.drain(..start).collect();
            if let Err(e) = write_versions(self.conn, self.dialect, &earlier).await {
                self.poisoned = true;
                return Err(e);
            }
            if let Err(e) = sqlx::raw_sql("SAVEPOINT job")
                .execute(&mut *self.conn)
                .await
            {
                self.poisoned = true;
                return Err(e.into());
            }
            self.job_savepoint = true;
            self.job_start = Some(0);
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending_ids.clear();
        let result = write_versions(self.conn, self.dialect, &pending).await;
        if result.is_err() && !self.job_savepoint {
            self.poisoned = true;
        }
        result
    }

    async fn reindex(&mut self, resources: Vec<Reindexed>) -> Result<usize, StoreError> {
        // Earlier writes first.
        self.flush().await?;
        if resources.is_empty() {
            return Ok(0);
        }
        if self.job_start.is_some() && !self.job_savepoint {
            // The rows are written at once, not buffered: in a group commit they go under
            // this job's savepoint, so the job's failure undoes them and nothing else.
            if let Err(e) = sqlx::raw_sql("SAVEPOINT job")
                .execute(&mut *self.conn)
                .await
            {
                self.poisoned = true;
                return Err(e.into());
            }
            self.job_savepoint = true;
            self.job_start = Some(0);
        }
        // Lock the resources (PostgreSQL) and keep those still at the version indexed.
        let mut current = std::collections::HashMap::with_capacity(resources.len());
        for chunk in resources.chunks(ROWS_PER_INSERT) {
            let mut q = Query::new(
                self.dialect,
                "SELECT pk, version, deleted FROM resource WHERE pk IN (",
            );
            for (j, r) in chunk.iter().enumerate() {
                if j > 0 {
                    q.sql(", ");
                }
                q.arg(Arg::Int(r.pk));
            }
            q.sql(")").sql(self.dialect.lock_suffix);
            for row in q.build().fetch_all(&mut *self.conn).await? {
                let pk: i64 = row.try_get(0)?;
                let version: i64 = row.try_get(1)?;
                let deleted = row.try_get::<i64, _>(2)? != 0;
                current.insert(pk, (version, deleted));
            }
        }
        let kept: Vec<&Reindexed> = resources
            .iter()
            .filter(|r| current.get(&r.pk) == Some(&(r.version, false)))
            .collect();
        let pks: Vec<i64> = kept.iter().map(|r| r.pk).collect();
        delete_index_rows(self.conn, self.dialect, &pks).await?;
        let mut rows = Vec::new();
        for r in &kept {
            rows.extend(
                r.index
                    .iter()
                    .enumerate()
                    .map(|(seq, e)| (r.pk, seq as i64, r.res_type.as_str(), e)),
            );
        }
        execute_in_turn(self.conn, index_rows(self.dialect, rows)).await?;
        Ok(kept.len())
    }
}

/// Deletes the index rows of these resources from every index table.
async fn delete_index_rows(
    conn: &mut AnyConnection,
    dialect: Dialect,
    pks: &[i64],
) -> Result<(), StoreError> {
    let tables = INDEX_TABLES
        .iter()
        .chain(dialect.patient_tokens.then_some(&PATIENT_TOKENS));
    for chunk in pks.chunks(ROWS_PER_INSERT) {
        for table in tables.clone() {
            let mut q = Query::new(dialect, &format!("DELETE FROM {table} WHERE res_pk IN ("));
            for (j, pk) in chunk.iter().enumerate() {
                if j > 0 {
                    q.sql(", ");
                }
                q.arg(Arg::Int(*pk));
            }
            q.sql(")");
            q.build().execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// Writes buffered versions: resource rows (updated or inserted), version rows, and the
/// index rows that replace the old ones.
async fn write_versions(
    conn: &mut AnyConnection,
    dialect: Dialect,
    pending: &[NewVersion],
) -> Result<(), StoreError> {
    let mut pks: Vec<i64> = vec![0; pending.len()];
    // Existing resources: move the current version, drop their old index rows.
    let mut updated = Vec::new();
    for (i, v) in pending.iter().enumerate() {
        if let Some(pk) = v.existing_pk {
            let mut q = Query::new(dialect, "UPDATE resource SET version = ");
            q.arg(Arg::Int(v.version))
                .sql(", deleted = ")
                .arg(Arg::Int(i64::from(v.content.is_none())))
                .sql(", last_updated = ")
                .text(v.last_updated.clone())
                .sql(" WHERE pk = ")
                .arg(Arg::Int(pk));
            q.build().execute(&mut *conn).await?;
            pks[i] = pk;
            updated.push(pk);
        }
    }
    delete_index_rows(conn, dialect, &updated).await?;
    // New resources: one multi-row insert per chunk; keys come back by (type, id), so no
    // assumption is made about the order of RETURNING rows.
    let new: Vec<usize> = (0..pending.len())
        .filter(|&i| pending[i].existing_pk.is_none())
        .collect();
    for chunk in new.chunks(ROWS_PER_INSERT) {
        let mut q = Query::new(
            dialect,
            "INSERT INTO resource (res_type, res_id, version, deleted, last_updated) VALUES ",
        );
        for (j, &i) in chunk.iter().enumerate() {
            let v = &pending[i];
            q.sql(if j == 0 { "(" } else { ", (" });
            q.text(v.res_type.clone())
                .sql(", ")
                .text(v.id.clone())
                .sql(", ")
                .arg(Arg::Int(v.version));
            q.sql(", ").arg(Arg::Int(i64::from(v.content.is_none())));
            q.sql(", ").text(v.last_updated.clone()).sql(")");
        }
        q.sql(" ON CONFLICT (res_type, res_id) DO NOTHING RETURNING pk, res_type, res_id");
        let rows = q.build().fetch_all(&mut *conn).await?;
        let mut keys = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let pk: i64 = row.try_get(0)?;
            let t: String = row.try_get(1)?;
            let id: String = row.try_get(2)?;
            keys.insert((t, id), pk);
        }
        for &i in chunk {
            let v = &pending[i];
            match keys.get(&(v.res_type.clone(), v.id.clone())) {
                Some(pk) => pks[i] = *pk,
                None => return Err(StoreError::Conflict(format!("{}/{}", v.res_type, v.id))),
            }
        }
    }
    // Version rows, then index rows: each statement built while the last one runs.
    let version_rows = (0..pending.len())
        .step_by(ROWS_PER_INSERT)
        .map(|start| version_rows(dialect, rows_from(pending, start), &pks[start..]));
    let mut rows = Vec::new();
    for (v, pk) in pending.iter().zip(&pks) {
        rows.extend(
            v.index
                .iter()
                .enumerate()
                .map(|(seq, e)| (*pk, seq as i64, v.res_type.as_str(), e)),
        );
    }
    execute_in_turn(conn, version_rows.chain(index_rows(dialect, rows))).await
}

/// The `resource_version` rows of `pending`, whose resource keys start `pks`.
fn version_rows(dialect: Dialect, pending: &[NewVersion], pks: &[i64]) -> Query {
    let mut q = Query::new(
        dialect,
        "INSERT INTO resource_version (res_pk, res_type, res_id, version, last_updated, method, deleted, content) VALUES ",
    );
    for (j, (v, pk)) in pending.iter().zip(pks).enumerate() {
        q.sql(if j == 0 { "(" } else { ", (" });
        q.arg(Arg::Int(*pk))
            .sql(", ")
            .text(v.res_type.clone())
            .sql(", ")
            .text(v.id.clone());
        q.sql(", ")
            .arg(Arg::Int(v.version))
            .sql(", ")
            .text(v.last_updated.clone());
        q.sql(", ")
            .text(v.method)
            .sql(", ")
            .arg(Arg::Int(i64::from(v.content.is_none())));
        q.sql(", ").arg(Arg::OptText(v.content.clone())).sql(")");
    }
    q
}

/// Runs statements in order, building each one while the database runs the one before
/// it: on SQLite the database works on its connection's own thread, so the writer's
/// part (arguments, copies) overlaps the database's instead of adding to it.
async fn execute_in_turn(
    conn: &mut AnyConnection,
    mut statements: impl Iterator<Item = Query>,
) -> Result<(), StoreError> {
    let mut next = statements.next();
    while let Some(q) = next {
        // `join!` polls the execution first, which hands the statement to the
        // connection, then builds the next one.
        let (done, following) =
            futures::join!(q.build().execute(&mut *conn), async { statements.next() });
        done?;
        next = following;
    }
    Ok(())
}

/// The index tables, one per search-parameter value kind.
pub const INDEX_TABLES: [&str; 7] = [
    "idx_token",
    "idx_reference",
    "idx_string",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_uri",
];

/// Token rows by compartment patient (PostgreSQL, [`Dialect::patient_tokens`]).
pub const PATIENT_TOKENS: &str = "idx_token_patient";

/// Rows per multi-row statement (well under SQLite's and PostgreSQL's parameter limits).
const ROWS_PER_INSERT: usize = 500;

fn table_of(value: &IndexValue) -> usize {
    match value {
        IndexValue::Token { .. } => 0,
        IndexValue::Reference { .. } => 1,
        IndexValue::String { .. } => 2,
        IndexValue::Date { .. } => 3,
        IndexValue::Number { .. } => 4,
        IndexValue::Quantity { .. } => 5,
        IndexValue::Uri(_) => 6,
    }
}

/// An index row: resource key, position among the resource's rows, resource type, entry.
type IndexRow<'a> = (i64, i64, &'a str, &'a IndexEntry);

/// The multi-row statements that insert `entries` into their index tables (and, where the
/// dialect keeps it, `idx_token_patient`), each built only when it is taken.
fn index_rows<'a>(
    dialect: Dialect,
    entries: Vec<IndexRow<'a>>,
) -> impl Iterator<Item = Query> + 'a {
    let patient_tokens = if dialect.patient_tokens {
        patient_token_rows(&entries)
    } else {
        Vec::new()
    };
    // Group the entries by table, then insert each group with multi-row statements.
    let mut by_table: [Vec<IndexRow<'a>>; 7] = Default::default();
    for row in entries {
        by_table[table_of(&row.3.value)].push(row);
    }
    let starts: Vec<(usize, usize)> = by_table
        .iter()
        .enumerate()
        .flat_map(|(t, rows)| {
            (0..rows.len())
                .step_by(ROWS_PER_INSERT)
                .map(move |s| (t, s))
        })
        .collect();
    (0..patient_tokens.len())
        .step_by(ROWS_PER_INSERT)
        .map(move |s| patient_token_statement(dialect, rows_from(&patient_tokens, s)))
        .chain(
            starts
                .into_iter()
                .map(move |(t, s)| index_statement(dialect, t, rows_from(&by_table[t], s))),
        )
}

/// The rows of one multi-row statement: up to [`ROWS_PER_INSERT`] from `start`.
fn rows_from<T>(rows: &[T], start: usize) -> &[T] {
    &rows[start..rows.len().min(start + ROWS_PER_INSERT)]
}

/// One multi-row insert into index table `t`.
fn index_statement(dialect: Dialect, t: usize, chunk: &[IndexRow<'_>]) -> Query {
    const COLUMNS: [&str; 7] = [
        "param, grp, system, code, text",
        "param, grp, target_type, target_id, url",
        "param, grp, normalized, exact",
        "param, grp, start_at, end_at",
        "param, grp, value",
        "param, grp, value, system, code, unit, canon_value, canon_unit",
        "param, grp, uri",
    ];
    let mut q = Query::new(
        dialect,
        &format!(
            "INSERT INTO {} (res_pk, seq, res_type, {}) VALUES ",
            INDEX_TABLES[t], COLUMNS[t]
        ),
    );
    for (i, (pk, seq, res_type, e)) in chunk.iter().enumerate() {
        if i > 0 {
            q.sql(", ");
        }
        q.sql("(")
            .arg(Arg::Int(*pk))
            .sql(", ")
            .arg(Arg::Int(*seq))
            .sql(", ")
            .text(*res_type)
            .sql(", ")
            .text(e.param.clone())
            .sql(", ")
            .arg(match e.group {
                Some(g) => Arg::Int(i64::from(g)),
                None => Arg::OptInt(None),
            });
        push_index_values(&mut q, &e.value);
        q.sql(")");
    }
    q
}

/// An `idx_token_patient` row: resource key, patient id, resource type, token entry.
type PatientTokenRow<'a> = (i64, &'a str, &'a str, &'a IndexEntry);

/// The `idx_token_patient` rows of `entries` (grouped by resource, as written): each
/// token row once for every patient whose compartment the resource is in, i.e. every
/// `Patient/ID` one of its compartment parameters refers to.
fn patient_token_rows<'a>(entries: &[IndexRow<'a>]) -> Vec<PatientTokenRow<'a>> {
    let mut rows: Vec<PatientTokenRow<'a>> = Vec::new();
    for resource in entries.chunk_by(|a, b| a.0 == b.0) {
        let (pk, res_type) = (resource[0].0, resource[0].2);
        let Some(params) = fhir_model::compartment::patient_compartment_params(res_type) else {
            continue;
        };
        let mut patients: Vec<&str> = resource
            .iter()
            .filter_map(|(_, _, _, e)| match &e.value {
                IndexValue::Reference {
                    target_type: Some(t),
                    target_id: Some(id),
                    ..
                } if t == "Patient" && params.contains(&e.param) => Some(id.as_str()),
                _ => None,
            })
            .collect();
        patients.sort_unstable();
        patients.dedup();
        for patient in patients {
            rows.extend(
                resource
                    .iter()
                    .filter(|(_, _, _, e)| matches!(e.value, IndexValue::Token { .. }))
                    .map(|(_, _, _, e)| (pk, patient, res_type, *e)),
            );
        }
    }
    rows
}

/// One multi-row insert into `idx_token_patient`.
fn patient_token_statement(dialect: Dialect, chunk: &[PatientTokenRow<'_>]) -> Query {
    let mut q = Query::new(
        dialect,
        &format!(
            "INSERT INTO {PATIENT_TOKENS} (res_pk, patient_id, res_type, param, system, code) VALUES "
        ),
    );
    for (i, (pk, patient, res_type, e)) in chunk.iter().enumerate() {
        let IndexValue::Token { system, code, .. } = &e.value else {
            continue;
        };
        if i > 0 {
            q.sql(", ");
        }
        q.sql("(")
            .arg(Arg::Int(*pk))
            .sql(", ")
            .text(*patient)
            .sql(", ")
            .text(*res_type)
            .sql(", ")
            .text(e.param.clone())
            .sql(", ")
            .arg(Arg::OptText(system.clone()))
            .sql(", ")
            .arg(Arg::OptText(code.clone()))
            .sql(")");
    }
    q
}

fn push_index_values(q: &mut Query, value: &IndexValue) {
    match value {
        IndexValue::Token { system, code, text } => {
            q.sql(", ").arg(Arg::OptText(system.clone()));
            q.sql(", ").arg(Arg::OptText(code.clone()));
            let text = text.as_deref().map(fhir_model::index::normalize);
            q.sql(", ").arg(Arg::OptText(text));
        }
        IndexValue::Reference {
            target_type,
            target_id,
            url,
        } => {
            q.sql(", ").arg(Arg::OptText(target_type.clone()));
            q.sql(", ").arg(Arg::OptText(target_id.clone()));
            q.sql(", ").text(url.clone());
        }
        IndexValue::String { normalized, exact } => {
            q.sql(", ")
                .text(normalized.clone())
                .sql(", ")
                .text(exact.clone());
        }
        IndexValue::Date { start, end } => {
            q.sql(", ").text(start.clone()).sql(", ").text(end.clone());
        }
        IndexValue::Number { value, .. } => {
            q.sql(", ").arg(Arg::Float(*value));
        }
        IndexValue::Quantity {
            value,
            system,
            code,
            unit,
            canonical,
        } => {
            q.sql(", ").arg(Arg::Float(*value));
            q.sql(", ").arg(Arg::OptText(system.clone()));
            q.sql(", ").arg(Arg::OptText(code.clone()));
            q.sql(", ").arg(Arg::OptText(unit.clone()));
            q.sql(", ")
                .arg(Arg::OptFloat(canonical.as_ref().map(|c| c.0)));
            q.sql(", ")
                .arg(Arg::OptText(canonical.as_ref().map(|c| c.1.clone())));
        }
        IndexValue::Uri(uri) => {
            q.sql(", ").text(uri.clone());
        }
    }
}

fn read_query(dialect: Dialect, res_type: &str, id: &str) -> Query {
    let mut q = Query::new(
        dialect,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version = r.version WHERE r.res_type = "
        ),
    );
    q.text(res_type).sql(" AND r.res_id = ").text(id);
    q
}

/// The read side both backends share: a pool and the dialect.
pub struct SqlReader {
    /// Connections for reads.
    pub pool: sqlx::AnyPool,
    /// The SQL dialect.
    pub dialect: Dialect,
}

impl SqlReader {
    /// See [`super::ResourceStore::read`].
    pub async fn read(
        &self,
        res_type: &str,
        id: &str,
    ) -> Result<Option<StoredResource>, StoreError> {
        read(&mut *self.pool.acquire().await?, self.dialect, res_type, id).await
    }

    /// See [`super::ResourceStore::vread`].
    pub async fn vread(
        &self,
        res_type: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<StoredResource>, StoreError> {
        vread(
            &mut *self.pool.acquire().await?,
            self.dialect,
            res_type,
            id,
            version,
        )
        .await
    }

    /// See [`super::ResourceStore::history`].
    pub async fn history(
        &self,
        scope: &HistoryScope,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, StoreError> {
        history(&mut *self.pool.acquire().await?, self.dialect, scope, query).await
    }

    /// See [`super::ResourceStore::search`].
    pub async fn search(
        &self,
        res_type: &str,
        query: &SearchQuery,
    ) -> Result<SearchPage, StoreError> {
        search::search(
            &mut *self.pool.acquire().await?,
            self.dialect,
            res_type,
            query,
        )
        .await
    }

    /// See [`super::ResourceStore::current_resources`].
    pub async fn current_resources(
        &self,
        res_type: Option<&str>,
        after_pk: i64,
        limit: usize,
    ) -> Result<Vec<CurrentResource>, StoreError> {
        let mut q = Query::new(
            self.dialect,
            &format!(
                "SELECT {VERSION_COLUMNS}, r.pk FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version = r.version WHERE r.deleted = 0 AND r.pk > "
            ),
        );
        q.arg(Arg::Int(after_pk));
        if let Some(t) = res_type {
            q.sql(" AND r.res_type = ").text(t);
        }
        q.sql(" ORDER BY r.pk LIMIT ").arg(Arg::Int(limit as i64));
        let rows = q
            .build()
            .fetch_all(&mut *self.pool.acquire().await?)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(CurrentResource {
                    pk: row.try_get(7)?,
                    stored: stored(row)?,
                })
            })
            .collect()
    }

    /// See [`super::ResourceStore::lastn`].
    pub async fn lastn(&self, query: &LastnQuery) -> Result<Vec<StoredResource>, StoreError> {
        lastn::lastn(&mut *self.pool.acquire().await?, self.dialect, query).await
    }
}

/// Reads run on any connection of the pool.
async fn read(
    conn: &mut AnyConnection,
    dialect: Dialect,
    res_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, StoreError> {
    let q = read_query(dialect, res_type, id);
    Ok(q.build()
        .fetch_optional(conn)
        .await?
        .map(|r| stored(&r))
        .transpose()?)
}

/// One version of a resource.
async fn vread(
    conn: &mut AnyConnection,
    dialect: Dialect,
    res_type: &str,
    id: &str,
    version: i64,
) -> Result<Option<StoredResource>, StoreError> {
    let mut q = Query::new(
        dialect,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM resource r JOIN resource_version v ON v.res_pk = r.pk WHERE r.res_type = "
        ),
    );
    q.text(res_type)
        .sql(" AND r.res_id = ")
        .text(id)
        .sql(" AND v.version = ")
        .arg(Arg::Int(version));
    Ok(q.build()
        .fetch_optional(conn)
        .await?
        .map(|r| stored(&r))
        .transpose()?)
}

/// A page of history, newest first, with a keyset cursor.
async fn history(
    conn: &mut AnyConnection,
    dialect: Dialect,
    scope: &HistoryScope,
    query: &HistoryQuery,
) -> Result<HistoryPage, StoreError> {
    let mut filter = Query::new(dialect, " WHERE 1 = 1");
    match scope {
        HistoryScope::System => {}
        HistoryScope::Type(t) => {
            filter.sql(" AND v.res_type = ").text(t.clone());
        }
        HistoryScope::Instance(t, id) => {
            filter
                .sql(" AND v.res_type = ")
                .text(t.clone())
                .sql(" AND v.res_id = ")
                .text(id.clone());
        }
    }
    if let Some(since) = &query.since {
        filter.sql(" AND v.last_updated >= ").text(since.clone());
    }
    if let Some(at) = &query.at {
        // The version current at `at`: updated at or before it, and no later version
        // of the same resource also at or before it.
        filter.sql(" AND v.last_updated <= ").text(at.clone());
        filter.sql(" AND NOT EXISTS (SELECT 1 FROM resource_version w WHERE w.res_pk = v.res_pk AND w.version > v.version AND w.last_updated <= ");
        filter.text(at.clone()).sql(")");
    }
    let count_q = Query {
        text: format!("SELECT COUNT(*) FROM resource_version v{}", filter.text),
        args: filter.args.clone(),
        numbered: dialect.numbered,
        patient_tokens: dialect.patient_tokens,
        drive_next: false,
    };
    let total: i64 = count_q.build().fetch_one(&mut *conn).await?.try_get(0)?;

    let mut q = Query {
        text: format!(
            "SELECT {VERSION_COLUMNS} FROM resource_version v{}",
            filter.text
        ),
        args: filter.args,
        numbered: dialect.numbered,
        patient_tokens: dialect.patient_tokens,
        drive_next: false,
    };
    if let Some((lu, row)) = &query.before {
        q.sql(" AND (v.last_updated < ").text(lu.clone());
        q.sql(" OR (v.last_updated = ")
            .text(lu.clone())
            .sql(" AND v.row_id < ")
            .arg(Arg::Int(*row))
            .sql("))");
    }
    q.sql(" ORDER BY v.last_updated DESC, v.row_id DESC LIMIT ")
        .arg(Arg::Int(query.count as i64 + 1));
    let rows = q.build().fetch_all(&mut *conn).await?;
    let mut versions = Vec::with_capacity(rows.len());
    let mut cursors = Vec::with_capacity(rows.len());
    for row in &rows {
        let s = stored(row)?;
        cursors.push((s.last_updated.clone(), row.try_get::<i64, _>(6)?));
        versions.push(s);
    }
    let next = if versions.len() > query.count {
        versions.truncate(query.count);
        cursors.get(query.count.wrapping_sub(1)).cloned()
    } else {
        None
    };
    Ok(HistoryPage {
        versions,
        next,
        total,
    })
}
