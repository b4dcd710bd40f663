//! [Observation `$lastn`](https://hl7.org/fhir/R4/observation-operation-lastn.html): the
//! most recent `max` Observations of each code group, for the criteria of a search.
//!
//! The spec's rules and how they are kept here:
//!
//! - *GROUP BY `Observation.code`*: two codings are the same code when their system and
//!   code are; a code with no coding code is grouped by its text (the normalized text the
//!   `code` index holds, so `Text` and `text` fall in one group where the spec would keep
//!   them apart). Codings of one Observation are the same code (*translations*), and
//!   grouping is transitive: `a`, `b` and `a,c` make the two groups `[a,c]` and `[b]`. So
//!   each Observation is in exactly one group and returned at most once.
//! - *Sorted from most recent to the oldest*: by the start of the Observation's `date`
//!   index range (`effective[x]`); Observations without one come last.
//! - *Limited to `max` per group; in a tie, both are returned*: an Observation is kept
//!   when fewer than `max` of its group are strictly more recent (SQL `RANK`, not
//!   `ROW_NUMBER`), so a group can return more than `max`.
//!
//! One statement does the ranking: over the matches (`search::push_matches`), the `code`
//! index rows of each (`k`), ranked per coding by a window function (`RANK() OVER
//! (PARTITION BY system, code, text …)`), keeping the candidates (rank <= `max`) and every
//! key of the matches that have more than one (`COUNT(*) OVER (PARTITION BY pk)`: the
//! translations that join codings into one group). The most recent `max` of a merged group
//! are among the most recent `max` of one of its codings (each coding's Observations are
//! a subset of the group), so merging the candidates' groups in Rust (union-find) and
//! ranking again gives the exact answer; without translations (the usual case) nothing
//! is merged. A second statement reads the chosen versions (the versions ranked, so a
//! concurrent update cannot swap in another date).

use std::collections::HashMap;

use sqlx::AnyConnection;
use sqlx::Row;

use super::search::push_matches;
use super::{Arg, Dialect, Query, VERSION_COLUMNS, stored};
use crate::store::{LastnQuery, StoreError, StoredResource};

/// The resource type `$lastn` is defined on.
const OBSERVATION: &str = "Observation";
/// The search parameter whose index rows are the codes grouped by (`Observation.code`).
const CODE_PARAM: &str = "code";
/// The search parameter whose index rows date an Observation (`Observation.effective`).
const DATE_PARAM: &str = "date";

/// What a group is keyed by: `(system, code)` for a coding with a code, else the text.
type GroupKey = (Option<String>, Option<String>, Option<String>);

/// One row of the ranking statement.
struct KeyRow {
    pk: i64,
    version: i64,
    key: GroupKey,
    start: Option<String>,
    /// Among the most recent `max` of its coding (ties included).
    candidate: bool,
    /// One of several keys of its Observation (translations).
    translation: bool,
}

/// See the module doc.
pub(super) async fn lastn(
    conn: &mut AnyConnection,
    dialect: Dialect,
    query: &LastnQuery,
) -> Result<Vec<StoredResource>, StoreError> {
    let max = query.max.max(1);
    let rows = key_rows(conn, dialect, query, max).await?;
    let chosen = choose(rows, max);
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::new(
        dialect,
        &format!("SELECT {VERSION_COLUMNS}, v.res_pk FROM resource_version v WHERE "),
    );
    for (i, (pk, version)) in chosen.iter().enumerate() {
        q.sql(if i == 0 {
            "(v.res_pk = "
        } else {
            " OR (v.res_pk = "
        });
        q.arg(Arg::Int(*pk))
            .sql(" AND v.version = ")
            .arg(Arg::Int(*version))
            .sql(")");
    }
    let mut by_pk: HashMap<i64, StoredResource> = HashMap::with_capacity(chosen.len());
    for row in q.build().fetch_all(&mut *conn).await? {
        by_pk.insert(row.try_get(7)?, stored(&row)?);
    }
    Ok(chosen
        .iter()
        .filter_map(|(pk, _)| by_pk.remove(pk))
        .collect())
}

/// The ranking statement: the `code` keys of the matches that are candidates (rank <=
/// `max` per coding) or belong to a match with several keys, in one pass over them (two
/// window functions; an `IN (… GROUP BY … HAVING)` there made PostgreSQL rescan the keys
/// once per key).
async fn key_rows(
    conn: &mut AnyConnection,
    dialect: Dialect,
    query: &LastnQuery,
    max: usize,
) -> Result<Vec<KeyRow>, StoreError> {
    // On SQLite a unary `+` keeps the correlated probes on the clustered key (`res_pk`)
    // rather than the lookup index by (res_type, param), as in `search::exists_open`.
    let p = if dialect.numbered { "" } else { "+" };
    let mut q = Query::new(
        dialect,
        "SELECT pk, version, system, code, text_key, start_at, rk, n FROM (SELECT k.pk, k.version, k.system, k.code, k.text_key, k.start_at, RANK() OVER (PARTITION BY k.system, k.code, k.text_key ORDER BY (k.start_at IS NULL), k.start_at DESC) AS rk, COUNT(*) OVER (PARTITION BY k.pk) AS n FROM (SELECT DISTINCT m.pk, m.version, i.system, i.code, CASE WHEN i.code IS NULL THEN i.text END AS text_key, m.start_at FROM (SELECT r.pk, r.version, (SELECT MAX(d.start_at) FROM idx_date d WHERE d.res_pk = r.pk AND ",
    );
    q.sql(&format!("{p}d.res_type = "))
        .text(OBSERVATION)
        .sql(&format!(" AND {p}d.param = "))
        .text(DATE_PARAM)
        .sql(") AS start_at FROM resource r WHERE ");
    push_matches(&mut q, OBSERVATION, &query.criteria);
    q.sql(") m JOIN idx_token i ON i.res_pk = m.pk WHERE ");
    q.sql(&format!("{p}i.res_type = "))
        .text(OBSERVATION)
        .sql(&format!(" AND {p}i.param = "))
        .text(CODE_PARAM)
        .sql(" AND (i.code IS NOT NULL OR (i.system IS NULL AND i.text IS NOT NULL))) k) ranked WHERE rk <= ");
    q.arg(Arg::Int(max as i64)).sql(" OR n > 1");
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            Ok(KeyRow {
                pk: row.try_get(0)?,
                version: row.try_get(1)?,
                key: (row.try_get(2)?, row.try_get(3)?, row.try_get(4)?),
                start: row.try_get(5)?,
                candidate: row.try_get::<i64, _>(6)? <= max as i64,
                translation: row.try_get::<i64, _>(7)? > 1,
            })
        })
        .collect()
}

/// Merges the candidates' groups through the translations, keeps the most recent `max`
/// of each group (ties at the cut all kept), and orders the result: groups by their most
/// recent Observation, newest first within a group; the internal key breaks ties.
/// Returns `(pk, version)` pairs.
fn choose(rows: Vec<KeyRow>, max: usize) -> Vec<(i64, i64)> {
    let mut groups = UnionFind::default();
    let mut keys_of: HashMap<i64, Vec<usize>> = HashMap::new();
    for row in rows.iter().filter(|r| r.translation) {
        let key = groups.id(&row.key);
        keys_of.entry(row.pk).or_default().push(key);
    }
    for keys in keys_of.values() {
        for pair in keys.windows(2) {
            groups.union(pair[0], pair[1]);
        }
    }
    // The candidates of each merged group, each Observation once.
    let mut members: HashMap<usize, Vec<&KeyRow>> = HashMap::new();
    for row in rows.iter().filter(|r| r.candidate) {
        let id = groups.id(&row.key);
        let root = groups.find(id);
        let list = members.entry(root).or_default();
        if !list.iter().any(|r| r.pk == row.pk) {
            list.push(row);
        }
    }
    // Most recent first; no date last; then the internal key.
    let order = |r: &KeyRow| (r.start.is_none(), std::cmp::Reverse(r.start.clone()), r.pk);
    let mut kept: Vec<Vec<&KeyRow>> = members
        .into_values()
        .map(|mut list| {
            list.sort_by_key(|r| order(r));
            // Rank as SQL `RANK`: 1 + the number strictly more recent.
            let mut out = Vec::new();
            let mut rank = 0;
            for (i, r) in list.iter().enumerate() {
                if i == 0 || list[i - 1].start != r.start {
                    rank = i + 1;
                }
                if rank > max {
                    break;
                }
                out.push(*r);
            }
            out
        })
        .collect();
    kept.sort_by_key(|list| list.first().map(|r| order(r)));
    kept.into_iter()
        .flatten()
        .map(|r| (r.pk, r.version))
        .collect()
}

/// Disjoint sets of group keys.
#[derive(Default)]
struct UnionFind {
    ids: HashMap<GroupKey, usize>,
    parent: Vec<usize>,
}

impl UnionFind {
    /// The set number of a key (a new singleton the first time).
    fn id(&mut self, key: &GroupKey) -> usize {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.parent.len();
        self.parent.push(id);
        self.ids.insert(key.clone(), id);
        id
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coding(code: &str) -> GroupKey {
        (Some("http://loinc.org".into()), Some(code.into()), None)
    }

    /// A key row: a candidate, one of several keys (a translation), or both.
    fn row(pk: i64, code: &str, start: Option<&str>, candidate: bool, translation: bool) -> KeyRow {
        KeyRow {
            pk,
            version: 1,
            key: coding(code),
            start: start.map(str::to_owned),
            candidate,
            translation,
        }
    }

    fn pks(chosen: Vec<(i64, i64)>) -> Vec<i64> {
        chosen.into_iter().map(|(pk, _)| pk).collect()
    }

    #[test]
    fn groups_newest_first_and_ties_at_the_cut_are_kept() {
        let rows = vec![
            row(1, "a", Some("2020-01-01"), true, false),
            row(2, "a", Some("2021-01-01"), true, false),
            row(3, "a", Some("2021-01-01"), true, false),
            row(4, "b", Some("2019-01-01"), true, false),
            row(5, "b", None, true, false),
        ];
        // Group a (newest 2021) first: 2 and 3 tie for rank 1, 1 is rank 3.
        assert_eq!(pks(choose(rows, 2)), [2, 3, 4, 5]);
        let rows = vec![
            row(2, "a", Some("2021-01-01"), true, false),
            row(3, "a", Some("2021-01-01"), true, false),
            row(1, "a", Some("2020-01-01"), true, false),
            row(5, "b", None, true, false),
            row(4, "b", Some("2019-01-01"), true, false),
        ];
        assert_eq!(pks(choose(rows, 1)), [2, 3, 4]);
    }

    #[test]
    fn translations_merge_groups_transitively() {
        // Codes a, b and a+c: groups [a, c] and [b]; 3 (a and c) is in one group, once.
        let rows = vec![
            row(1, "a", Some("2020-01-01"), true, false),
            row(2, "b", Some("2020-06-01"), true, false),
            row(3, "a", Some("2019-01-01"), true, true),
            row(3, "c", Some("2019-01-01"), true, true),
            row(4, "c", Some("2018-01-01"), true, false),
        ];
        assert_eq!(pks(choose(rows, 2)), [2, 1, 3]);
        // A translation that is no candidate still joins the groups: with max 1, 5 (a+c,
        // old) joins a and c, whose newest is 1.
        let rows = vec![
            row(1, "a", Some("2020-01-01"), true, false),
            row(4, "c", Some("2018-01-01"), true, false),
            row(5, "a", Some("2010-01-01"), false, true),
            row(5, "c", Some("2010-01-01"), false, true),
        ];
        assert_eq!(pks(choose(rows, 1)), [1]);
    }
}
