//! Search compiled to SQL: typed criteria become `EXISTS` subqueries over the index
//! tables, every value bound. Conditional interactions (`WriteTx::find`) and search
//! (`ResourceStore::search`) share it.

use sqlx::Row;
use sqlx::AnyConnection;

use super::{Arg, Dialect, Query, VERSION_COLUMNS, stored};
use crate::store::{Criterion, SearchPage, StoreError};

/// Appends `r.res_type = … AND r.deleted = 0 AND <criteria>` for `resource r`.
pub(super) fn push_matches(q: &mut Query, res_type: &str, criteria: &[Criterion]) {
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

/// A page of current resources matching all criteria, in key order.
pub(super) async fn search(
    conn: &mut AnyConnection,
    dialect: Dialect,
    res_type: &str,
    criteria: &[Criterion],
    count: usize,
    after: Option<i64>,
) -> Result<SearchPage, StoreError> {
    let mut count_q = Query::new(dialect, "SELECT COUNT(*) FROM resource r WHERE ");
    push_matches(&mut count_q, res_type, criteria);
    let total: i64 = count_q.build().fetch_one(&mut *conn).await?.try_get(0)?;

    let mut q = Query::new(
        dialect,
        &format!(
            "SELECT {VERSION_COLUMNS}, r.pk FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version = r.version WHERE "
        ),
    );
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
