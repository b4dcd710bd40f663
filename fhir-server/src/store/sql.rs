//! The SQL both backends share, run through sqlx's `Any` driver.
//!
//! Every value is bound as a parameter; the only text spliced into SQL is placeholders,
//! fixed column names and the [`Dialect`]'s fixed fragments.

use async_trait::async_trait;
use fhir_model::index::{IndexEntry, IndexValue};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{
    Criterion, CurrentState, HistoryPage, HistoryQuery, HistoryScope, NewVersion, SearchPage,
    StoreError, StoredResource, WriteTx,
};

/// What differs between the SQL of SQLite and of PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// Appended to a `SELECT` that must lock the rows it reads until commit.
    pub lock_suffix: &'static str,
}

impl Dialect {
    /// SQLite: there is one writer, so reads inside a write need no lock.
    pub const SQLITE: Dialect = Dialect { lock_suffix: "" };
    /// PostgreSQL: row locks serialize concurrent writers of one resource.
    pub const POSTGRES: Dialect = Dialect {
        lock_suffix: " FOR UPDATE",
    };
}

/// A bound argument.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Float(f64),
}

/// SQL text with its arguments, numbered `$1`, `$2`, … as they are pushed.
#[derive(Debug, Default)]
struct Query {
    text: String,
    args: Vec<Arg>,
}

impl Query {
    fn new(text: &str) -> Self {
        Query {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    fn sql(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    fn arg(&mut self, a: Arg) -> &mut Self {
        self.args.push(a);
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.arg(Arg::Text(s.into()))
    }

    fn build(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text.clone()));
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::OptText(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
                Arg::Float(f) => q.bind(*f),
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
pub struct SqlTx<'c> {
    /// The connection, inside a transaction.
    pub conn: &'c mut AnyConnection,
    /// The SQL dialect.
    pub dialect: Dialect,
}

#[async_trait]
impl WriteTx for SqlTx<'_> {
    async fn current(
        &mut self,
        res_type: &str,
        id: &str,
    ) -> Result<Option<CurrentState>, StoreError> {
        let mut q = Query::new("SELECT pk, version, deleted FROM resource WHERE res_type = ");
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
        let q = read_query(res_type, id);
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
        let mut q = Query::new("SELECT r.res_id FROM resource r WHERE ");
        push_matches(&mut q, res_type, criteria);
        q.sql(" ORDER BY r.pk LIMIT 1000");
        let rows = q.build().fetch_all(&mut *self.conn).await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn write_version(&mut self, v: NewVersion<'_>) -> Result<(), StoreError> {
        let deleted = i64::from(v.content.is_none());
        let pk = match v.existing_pk {
            Some(pk) => {
                let mut q = Query::new("UPDATE resource SET version = ");
                q.arg(Arg::Int(v.version))
                    .sql(", deleted = ")
                    .arg(Arg::Int(deleted))
                    .sql(", last_updated = ")
                    .text(v.last_updated)
                    .sql(" WHERE pk = ")
                    .arg(Arg::Int(pk));
                q.build().execute(&mut *self.conn).await?;
                for table in INDEX_TABLES {
                    let mut q = Query::new(&format!("DELETE FROM {table} WHERE res_pk = "));
                    q.arg(Arg::Int(pk));
                    q.build().execute(&mut *self.conn).await?;
                }
                pk
            }
            None => {
                let mut q = Query::new(
                    "INSERT INTO resource (res_type, res_id, version, deleted, last_updated) VALUES (",
                );
                q.text(v.res_type)
                    .sql(", ")
                    .text(v.id)
                    .sql(", ")
                    .arg(Arg::Int(v.version))
                    .sql(", ")
                    .arg(Arg::Int(deleted))
                    .sql(", ")
                    .text(v.last_updated)
                    .sql(") ON CONFLICT (res_type, res_id) DO NOTHING RETURNING pk");
                match q.build().fetch_optional(&mut *self.conn).await? {
                    Some(row) => row.try_get(0)?,
                    None => return Err(StoreError::Conflict(format!("{}/{}", v.res_type, v.id))),
                }
            }
        };
        let mut q = Query::new(
            "INSERT INTO resource_version (res_pk, res_type, res_id, version, last_updated, method, deleted, content) VALUES (",
        );
        q.arg(Arg::Int(pk))
            .sql(", ")
            .text(v.res_type)
            .sql(", ")
            .text(v.id)
            .sql(", ")
            .arg(Arg::Int(v.version))
            .sql(", ")
            .text(v.last_updated)
            .sql(", ")
            .text(v.method)
            .sql(", ")
            .arg(Arg::Int(deleted))
            .sql(", ")
            .arg(Arg::OptText(v.content.map(str::to_owned)))
            .sql(")");
        q.build().execute(&mut *self.conn).await?;
        insert_index_rows(self.conn, pk, v.res_type, v.index).await
    }
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

/// Rows per multi-row `INSERT` (well under SQLite's and PostgreSQL's parameter limits).
const ROWS_PER_INSERT: usize = 500;

async fn insert_index_rows(
    conn: &mut AnyConnection,
    pk: i64,
    res_type: &str,
    entries: &[IndexEntry],
) -> Result<(), StoreError> {
    // Group the entries by table, then insert each group with multi-row statements.
    let mut by_table: [Vec<&IndexEntry>; 7] = Default::default();
    for e in entries {
        let t = match e.value {
            IndexValue::Token { .. } => 0,
            IndexValue::Reference { .. } => 1,
            IndexValue::String { .. } => 2,
            IndexValue::Date { .. } => 3,
            IndexValue::Number { .. } => 4,
            IndexValue::Quantity { .. } => 5,
            IndexValue::Uri(_) => 6,
        };
        by_table[t].push(e);
    }
    const COLUMNS: [&str; 7] = [
        "param, system, code",
        "param, target_type, target_id, url",
        "param, normalized, exact",
        "param, start_at, end_at",
        "param, value",
        "param, value, system, code, unit",
        "param, uri",
    ];
    for (t, rows) in by_table.iter().enumerate() {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut q = Query::new(&format!(
                "INSERT INTO {} (res_pk, res_type, {}) VALUES ",
                INDEX_TABLES[t], COLUMNS[t]
            ));
            for (i, e) in chunk.iter().enumerate() {
                if i > 0 {
                    q.sql(", ");
                }
                q.sql("(")
                    .arg(Arg::Int(pk))
                    .sql(", ")
                    .text(res_type)
                    .sql(", ")
                    .text(e.param.clone());
                match &e.value {
                    IndexValue::Token { system, code, .. } => {
                        q.sql(", ").arg(Arg::OptText(system.clone()));
                        q.sql(", ").arg(Arg::OptText(code.clone()));
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
                    } => {
                        q.sql(", ").arg(Arg::Float(*value));
                        q.sql(", ").arg(Arg::OptText(system.clone()));
                        q.sql(", ").arg(Arg::OptText(code.clone()));
                        q.sql(", ").arg(Arg::OptText(unit.clone()));
                    }
                    IndexValue::Uri(uri) => {
                        q.sql(", ").text(uri.clone());
                    }
                }
                q.sql(")");
            }
            q.build().execute(&mut *conn).await?;
        }
    }
    Ok(())
}

fn read_query(res_type: &str, id: &str) -> Query {
    let mut q = Query::new(&format!(
        "SELECT {VERSION_COLUMNS} FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version = r.version WHERE r.res_type = "
    ));
    q.text(res_type).sql(" AND r.res_id = ").text(id);
    q
}

/// Appends `r.res_type = … AND r.deleted = 0 AND <criteria>` for `resource r`.
fn push_matches(q: &mut Query, res_type: &str, criteria: &[Criterion]) {
    q.sql("r.res_type = ")
        .text(res_type)
        .sql(" AND r.deleted = 0");
    for c in criteria {
        q.sql(" AND ");
        match c {
            Criterion::Id(ids) => {
                q.sql("r.res_id IN (");
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        q.sql(", ");
                    }
                    q.text(id.clone());
                }
                q.sql(")");
            }
            Criterion::Token { param, values } => {
                exists_open(q, "idx_token", res_type, param);
                for (i, v) in values.iter().enumerate() {
                    q.sql(if i == 0 { "(" } else { " OR (" });
                    let mut first = true;
                    match &v.system {
                        None => {}
                        Some(s) if s.is_empty() => {
                            q.sql("i.system IS NULL");
                            first = false;
                        }
                        Some(s) => {
                            q.sql("i.system = ").text(s.clone());
                            first = false;
                        }
                    }
                    if let Some(code) = &v.code {
                        if !first {
                            q.sql(" AND ");
                        }
                        q.sql("i.code = ").text(code.clone());
                        first = false;
                    }
                    if first {
                        q.sql("1 = 1");
                    }
                    q.sql(")");
                }
                q.sql("))");
            }
            Criterion::Reference { param, values } => {
                exists_open(q, "idx_reference", res_type, param);
                for (i, v) in values.iter().enumerate() {
                    q.sql(if i == 0 { "(" } else { " OR (" });
                    match (&v.url, &v.target_id) {
                        (Some(url), _) => {
                            q.sql("i.url = ").text(url.clone());
                        }
                        (None, Some(id)) => {
                            q.sql("i.target_id = ").text(id.clone());
                            if let Some(t) = &v.target_type {
                                q.sql(" AND i.target_type = ").text(t.clone());
                            }
                        }
                        (None, None) => {
                            q.sql("1 = 0");
                        }
                    }
                    q.sql(")");
                }
                q.sql("))");
            }
            Criterion::String {
                param,
                values,
                exact,
            } => {
                exists_open(q, "idx_string", res_type, param);
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        q.sql(" OR ");
                    }
                    if *exact {
                        q.sql("i.exact = ").text(v.clone());
                    } else {
                        // Prefix match on the normalized form: [v, v + U+10FFFF).
                        q.sql("(i.normalized >= ").text(v.clone());
                        q.sql(" AND i.normalized < ")
                            .text(format!("{v}\u{10FFFF}"))
                            .sql(")");
                    }
                }
                q.sql("))");
            }
            Criterion::Uri { param, values } => {
                exists_open(q, "idx_uri", res_type, param);
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        q.sql(" OR ");
                    }
                    q.sql("i.uri = ").text(v.clone());
                }
                q.sql("))");
            }
        }
    }
}

fn exists_open(q: &mut Query, table: &str, res_type: &str, param: &str) {
    q.sql(&format!(
        "EXISTS (SELECT 1 FROM {table} i WHERE i.res_pk = r.pk AND i.res_type = "
    ));
    q.text(res_type)
        .sql(" AND i.param = ")
        .text(param)
        .sql(" AND (");
}

/// Reads run on any connection of the pool.
pub async fn read(
    conn: &mut AnyConnection,
    res_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, StoreError> {
    let q = read_query(res_type, id);
    Ok(q.build()
        .fetch_optional(conn)
        .await?
        .map(|r| stored(&r))
        .transpose()?)
}

/// One version of a resource.
pub async fn vread(
    conn: &mut AnyConnection,
    res_type: &str,
    id: &str,
    version: i64,
) -> Result<Option<StoredResource>, StoreError> {
    let mut q = Query::new(&format!(
        "SELECT {VERSION_COLUMNS} FROM resource r JOIN resource_version v ON v.res_pk = r.pk WHERE r.res_type = "
    ));
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
pub async fn history(
    conn: &mut AnyConnection,
    scope: &HistoryScope,
    query: &HistoryQuery,
) -> Result<HistoryPage, StoreError> {
    let mut filter = Query::new(" WHERE 1 = 1");
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
    let mut count_q = Query {
        text: format!("SELECT COUNT(*) FROM resource_version v{}", filter.text),
        args: filter.args.clone(),
    };
    let total: i64 = count_q
        .sql("")
        .build()
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;

    let mut q = Query {
        text: format!(
            "SELECT {VERSION_COLUMNS} FROM resource_version v{}",
            filter.text
        ),
        args: filter.args,
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

/// A page of current resources matching all criteria, in key order.
pub async fn search(
    conn: &mut AnyConnection,
    res_type: &str,
    criteria: &[Criterion],
    count: usize,
    after: Option<i64>,
) -> Result<SearchPage, StoreError> {
    let mut count_q = Query::new("SELECT COUNT(*) FROM resource r WHERE ");
    push_matches(&mut count_q, res_type, criteria);
    let total: i64 = count_q.build().fetch_one(&mut *conn).await?.try_get(0)?;

    let mut q = Query::new(&format!(
        "SELECT {VERSION_COLUMNS}, r.pk FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version = r.version WHERE "
    ));
    push_matches(&mut q, res_type, criteria);
    if let Some(after) = after {
        q.sql(" AND r.pk > ").arg(Arg::Int(after));
    }
    q.sql(" ORDER BY r.pk LIMIT ")
        .arg(Arg::Int(count as i64 + 1));
    let rows = q.build().fetch_all(&mut *conn).await?;
    let mut resources = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    for row in &rows {
        resources.push(stored(row)?);
        keys.push(row.try_get::<i64, _>(7)?);
    }
    let next = if resources.len() > count {
        resources.truncate(count);
        keys.get(count.wrapping_sub(1)).copied()
    } else {
        None
    };
    Ok(SearchPage {
        resources,
        next,
        total,
    })
}
