//! Search compiled to SQL: typed criteria become `EXISTS` subqueries over the index
//! tables, every value bound. Conditional interactions (`WriteTx::find`) and search
//! (`ResourceStore::search`) share it.
//!
//! Dates compare the stored inclusive range `[start_at, end_at]` with the search range
//! `[qs, qe]` as [search.html](https://hl7.org/fhir/R4/search.html#prefix) defines the
//! prefixes (fixed-width UTC instants, so text order is time order):
//!
//! | prefix | matches when |
//! |---|---|
//! | `eq` | the search range contains the stored one: `start >= qs AND end <= qe` |
//! | `ne` | not `eq` |
//! | `gt` | the range above the search value overlaps it: `end > qe` |
//! | `lt` | the range below the search value overlaps it: `start < qs` |
//! | `ge` | `gt` or `eq` |
//! | `le` | `lt` or `eq` |
//! | `sa` | it starts after the search range: `start > qe` |
//! | `eb` | it ends before the search range: `end < qs` |
//! | `ap` | it overlaps the (widened) search range |
//!
//! `_lastUpdated` is the column `resource.last_updated`, a range of one instant.
//! Numbers and quantities: `eq`/`ne` against the precision range `[low, high)`, the
//! other prefixes against the value, `ap` within `[low, high]`. A quantity with a UCUM
//! unit compares `canon_value` in `canon_unit` (canonical UCUM) with the converted search
//! value; stored rows without a canonical form fall back to the value and unit as written.
//!
//! A composite's alternative is an `EXISTS` over the index rows of its first component
//! (`{param}$0`) with, for each other component, an `EXISTS` over rows of the same
//! resource and the same `grp` (the same item of the resource).
//!
//! A system-level search (type `""`) tests `r.res_type IN (…)` when `_type` lists types,
//! and leaves out the type tests of the index probes (they are reached through
//! `res_pk`, which fixes the type).
//!
//! Token `:text` is a prefix match on `idx_token.text`, the display text normalized
//! (lower case, accents removed). That column came with migration 0002: index rows
//! written before it have no text, so resources stored earlier are not found by `:text`
//! until they are re-indexed (written again).
//!
//! A chain (`subject:Patient.name=…`) is an `EXISTS` over the resource's `idx_reference`
//! rows joined to the current (not deleted) `resource` they point to, with the chained
//! criterion on that resource (nested for each hop); `_has` the other way round: an
//! `EXISTS` over the `idx_reference` rows pointing to the resource, joined to the current
//! referring resource that must match. Each level has its own table aliases.
//!
//! `_sort`: each key is a column of a derived table of the matches (`k0`, `k1`, …): a
//! correlated `MIN` (ascending) or `MAX` (descending) over the parameter's index rows
//! (NULL when it has none), or `resource.res_id`/`last_updated` for `_id`/`_lastUpdated`.
//! The page is ordered by `(k IS NULL), k` per key, then `pk`, so no value sorts last
//! both ways on SQLite and PostgreSQL alike; the cursor is the last row's key values and
//! `pk`, compared as expanded OR/AND terms (no row-value comparison, no OFFSET). A
//! `previous` page reads the rows before its cursor in the reverse order and turns them
//! around.
//!
//! `_include` and `_revinclude` follow `idx_reference` rows (`target_type`, `target_id`)
//! from the page's matches only; `:iterate` values are applied again to what was just
//! included, until nothing new is found. Each resource appears once (a match is never
//! also an include), and at most `include_limit` are included: the page then says it was
//! truncated.

use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use fhir_model::search_params::SearchParamKind;

use super::{Arg, Dialect, Query, VERSION_COLUMNS, stored};
use crate::store::{
    Criterion, DateMatch, Include, NumberMatch, Prefix, QuantityMatch, ReferenceMatch,
    SearchCursor, SearchPage, SearchQuery, SortKey, SortValue, StoreError, StoredResource,
    StringMode, UriMode,
};

/// The column `resource.last_updated`, searched as the date parameter `_lastUpdated`.
const LAST_UPDATED: &str = "_lastUpdated";

/// Appends `r.res_type = … AND r.deleted = 0 AND <criteria>` for `resource r`.
/// The most selective criterion is compiled as `r.pk IN (SELECT res_pk FROM idx_… WHERE
/// <lookup index columns>)`, so the database starts from the few index rows it matches
/// instead of testing every resource of the type; the others stay correlated `EXISTS`
/// probes on those candidates (cheap: the index tables are clustered by `res_pk`).
/// Reference and token criteria are the usual selective ones; dates and quantities
/// rarely are.
pub(super) fn push_matches(q: &mut Query, res_type: &str, criteria: &[Criterion]) {
    if res_type.is_empty() {
        push_system_matches(q, &[], criteria);
        return;
    }
    let rank = |c: &Criterion| match c {
        Criterion::Reference { .. } => Some(0),
        Criterion::Token { .. } => Some(1),
        Criterion::String { .. } | Criterion::Uri { .. } => Some(2),
        _ => None,
    };
    let driver = criteria
        .iter()
        .enumerate()
        .filter_map(|(i, c)| rank(c).map(|r| (r, i)))
        .min()
        .map(|(_, i)| i);
    if q.patient_tokens
        && let Some((patient, param, token)) = patient_token_driver(res_type, criteria)
    {
        // The patient's rows with the token's values: typically a handful, where the
        // patient alone has hundreds of resources of the type. Every other criterion is
        // still tested below (the compartment is wider than the reference criterion);
        // the token's own is not: these rows are that criterion's rows, so testing it
        // again would only cost one more index probe per candidate.
        q.sql("r.pk IN (SELECT i.res_pk FROM idx_token_patient i WHERE i.patient_id = ")
            .text(patient)
            .sql(" AND i.res_type = ")
            .text(res_type)
            .sql(" AND i.param = ")
            .text(param)
            .sql(" AND (");
        push_values(q, "i", token);
        q.sql(")) AND r.deleted = 0");
        for c in criteria.iter().filter(|c| !std::ptr::eq(*c, token)) {
            q.sql(" AND ");
            push_criterion(q, res_type, "r", c);
        }
        return;
    }
    if driver.is_some() {
        // The driving subquery only yields keys of this type (index rows carry it); a
        // `res_type` test here would tempt the planner to scan the type instead.
        q.sql("r.deleted = 0");
    } else {
        q.sql("r.res_type = ")
            .text(res_type)
            .sql(" AND r.deleted = 0");
    }
    for (i, c) in criteria.iter().enumerate() {
        q.sql(" AND ");
        q.drive_next = driver == Some(i);
        push_criterion(q, res_type, "r", c);
        q.drive_next = false;
    }
}

/// A search of one patient's resources by a token (`Observation?patient=…&code=…`): the
/// patient, when a criterion names exactly one `Patient/ID` through a compartment
/// parameter of the type (or `patient`, where `subject` is one: every match is then in
/// that patient's compartment), and the first token criterion. `idx_token_patient`
/// (PostgreSQL) holds exactly the token rows of compartment members.
fn patient_token_driver<'c>(
    res_type: &str,
    criteria: &'c [Criterion],
) -> Option<(&'c str, &'c str, &'c Criterion)> {
    let params = fhir_model::compartment::patient_compartment_params(res_type)?;
    let in_compartment = |param: &str| {
        params.iter().any(|p| p == param)
            || (param == "patient" && params.iter().any(|p| p == "subject"))
    };
    let patient = criteria.iter().find_map(|c| match c {
        Criterion::Reference { param, values } if in_compartment(param) => {
            match values.as_slice() {
                [
                    ReferenceMatch {
                        target_type: Some(t),
                        target_id: Some(id),
                        url: None,
                    },
                ] if t == "Patient" => Some(id.as_str()),
                _ => None,
            }
        }
        _ => None,
    })?;
    criteria.iter().find_map(|c| match c {
        Criterion::Token { param, values } if !values.is_empty() => {
            Some((patient, param.as_str(), c))
        }
        _ => None,
    })
}

/// Appends `r.deleted = 0 AND [r.res_type IN (types) AND] <criteria>` for a system-level
/// search: the criteria are correlated probes on every candidate (there is no one type
/// whose lookup index could drive the query).
fn push_system_matches(q: &mut Query, types: &[String], criteria: &[Criterion]) {
    q.sql("r.deleted = 0");
    if !types.is_empty() {
        q.sql(" AND r.res_type IN (");
        for (i, t) in types.iter().enumerate() {
            if i > 0 {
                q.sql(", ");
            }
            q.text(t.clone());
        }
        q.sql(")");
    }
    for c in criteria {
        q.sql(" AND ");
        push_criterion(q, "", "r", c);
    }
}

/// Appends the condition of `c` on the resource `alias` (a row of `resource`, of type
/// `res_type`).
fn push_criterion(q: &mut Query, res_type: &str, alias: &str, c: &Criterion) {
    match c {
        Criterion::Id(ids) => {
            if ids.is_empty() {
                q.sql("1 = 0");
                return;
            }
            q.sql(&format!("{alias}.res_id IN ("));
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    q.sql(", ");
                }
                q.text(id.clone());
            }
            q.sql(")");
        }
        Criterion::Date { param, values } if param == LAST_UPDATED => {
            q.sql("(");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    q.sql(" OR ");
                }
                let column = format!("{alias}.last_updated");
                date_condition(q, &column, &column, v);
            }
            q.sql(")");
        }
        Criterion::Token { param, .. }
        | Criterion::TokenText { param, .. }
        | Criterion::Reference { param, .. }
        | Criterion::String { param, .. }
        | Criterion::Uri { param, .. }
        | Criterion::Date { param, .. }
        | Criterion::Number { param, .. }
        | Criterion::Quantity { param, .. } => {
            exists_open(q, alias, index_table(c), res_type, param);
            push_values(q, "i", c);
            q.sql("))");
        }
        Criterion::InValueSet { .. } => {
            // The store replaces these by the ValueSets' codes before compiling
            // (`valueset::resolve`); one left here matches nothing.
            q.sql("1 = 0");
        }
        Criterion::Composite { alternatives, .. } => {
            q.sql("(");
            for (n, components) in alternatives.iter().enumerate() {
                if n > 0 {
                    q.sql(" OR ");
                }
                push_composite(q, res_type, alias, components);
            }
            if alternatives.is_empty() {
                q.sql("1 = 0");
            }
            q.sql(")");
        }
        Criterion::Missing {
            param,
            kind,
            missing,
        } => {
            let table = match kind {
                SearchParamKind::Token => "idx_token",
                SearchParamKind::Reference => "idx_reference",
                SearchParamKind::String => "idx_string",
                SearchParamKind::Date if param == LAST_UPDATED => {
                    // A column every resource has.
                    q.sql(if *missing { "1 = 0" } else { "1 = 1" });
                    return;
                }
                SearchParamKind::Date => "idx_date",
                SearchParamKind::Number => "idx_number",
                SearchParamKind::Quantity => "idx_quantity",
                SearchParamKind::Uri => "idx_uri",
                // Not indexed: the criteria parser refuses `:missing` on them.
                SearchParamKind::Composite | SearchParamKind::Special => {
                    q.sql("1 = 0");
                    return;
                }
            };
            if *missing {
                q.sql("NOT ");
            }
            exists_open(q, alias, table, res_type, param);
            q.sql("1 = 1))");
        }
        Criterion::Not(inner) => {
            q.sql("NOT (");
            push_criterion(q, res_type, alias, inner);
            q.sql(")");
        }
        Criterion::AnyOf(criteria) => push_joined(q, res_type, alias, criteria, " OR "),
        Criterion::AllOf(criteria) => push_joined(q, res_type, alias, criteria, " AND "),
        Criterion::ForType {
            res_type: t,
            criteria,
        } => {
            q.sql(&format!("({alias}.res_type <> "))
                .text(t.clone())
                .sql(" OR ");
            push_joined(q, t, alias, criteria, " AND ");
            q.sql(")");
        }
        Criterion::InPatientCompartment(patient) => {
            // Each type's compartment parameters, as `Type|param` pairs.
            q.sql(&format!("(({alias}.res_type = 'Patient' AND {alias}.res_id = "))
                .text(patient.clone())
                .sql(&format!(
                    ") OR EXISTS (SELECT 1 FROM idx_reference x WHERE x.res_pk = {alias}.pk AND x.target_type = 'Patient' AND x.target_id = "
                ))
                .text(patient.clone())
                .sql(" AND x.res_type || '|' || x.param IN (");
            for (i, pair) in fhir_model::compartment::patient_compartment_pairs()
                .iter()
                .enumerate()
            {
                if i > 0 {
                    q.sql(", ");
                }
                q.text(pair.clone());
            }
            q.sql(")))");
        }
        Criterion::Chain { param, targets } => {
            if targets.is_empty() {
                q.sql("1 = 0");
                return;
            }
            // `x` is the reference row of `alias`, `t` the current resource it points to.
            let t = format!("{alias}c");
            let x = format!("{t}_ref");
            q.sql(&format!(
                "EXISTS (SELECT 1 FROM idx_reference {x} JOIN resource {t} ON {t}.res_type = {x}.target_type AND {t}.res_id = {x}.target_id WHERE {x}.res_pk = {alias}.pk"
            ));
            same_type(q, &format!("{x}.res_type"), res_type);
            q.sql(&format!(" AND {x}.param = "))
                .text(param.clone())
                .sql(&format!(" AND {t}.deleted = 0 AND ("));
            for (i, (target_type, criterion)) in targets.iter().enumerate() {
                q.sql(if i == 0 { "(" } else { " OR (" });
                q.sql(&format!("{t}.res_type = "))
                    .text(target_type.clone())
                    .sql(" AND ");
                push_criterion(q, target_type, &t, criterion);
                q.sql(")");
            }
            q.sql("))");
        }
        Criterion::Has {
            source_type,
            param,
            criterion,
        } => {
            // `x` is a reference row of the referring resource `s`, pointing to `alias`.
            let s = format!("{alias}h");
            let x = format!("{s}_ref");
            q.sql(&format!(
                "EXISTS (SELECT 1 FROM idx_reference {x} JOIN resource {s} ON {s}.pk = {x}.res_pk WHERE {x}.res_type = "
            ));
            q.text(source_type.clone())
                .sql(&format!(" AND {x}.param = "))
                .text(param.clone());
            if res_type.is_empty() {
                q.sql(&format!(" AND {x}.target_type = {alias}.res_type"));
            } else {
                q.sql(&format!(" AND {x}.target_type = ")).text(res_type);
            }
            q.sql(&format!(
                " AND {x}.target_id = {alias}.res_id AND {s}.res_type = "
            ))
            .text(source_type.clone())
            .sql(&format!(" AND {s}.deleted = 0 AND "));
            push_criterion(q, source_type, &s, criterion);
            q.sql(")");
        }
    }
}

/// `(c1 OR c2 …)` or `(c1 AND c2 …)` on the resource `alias`; with no criteria, what the
/// empty OR (false) or AND (true) is.
fn push_joined(q: &mut Query, res_type: &str, alias: &str, criteria: &[Criterion], join: &str) {
    q.sql("(");
    for (i, c) in criteria.iter().enumerate() {
        if i > 0 {
            q.sql(join);
        }
        push_criterion(q, res_type, alias, c);
    }
    if criteria.is_empty() {
        q.sql(if join == " OR " { "1 = 0" } else { "1 = 1" });
    }
    q.sql(")");
}

/// The index table a value criterion reads.
fn index_table(c: &Criterion) -> &'static str {
    match c {
        Criterion::Token { .. } | Criterion::TokenText { .. } => "idx_token",
        Criterion::Reference { .. } => "idx_reference",
        Criterion::String { .. } => "idx_string",
        Criterion::Uri { .. } => "idx_uri",
        Criterion::Date { .. } => "idx_date",
        Criterion::Number { .. } => "idx_number",
        Criterion::Quantity { .. } => "idx_quantity",
        _ => unreachable!("only value criteria have an index table"),
    }
}

/// One alternative of a composite: an index row of the first component matching it, and
/// rows of the same resource and group (`grp`) matching each other component.
fn push_composite(q: &mut Query, res_type: &str, alias: &str, components: &[Criterion]) {
    let Some((first, rest)) = components.split_first() else {
        q.sql("1 = 0");
        return;
    };
    let Some(first_param) = value_param(first) else {
        q.sql("1 = 0");
        return;
    };
    let p0 = format!("{alias}p0");
    q.sql(&format!(
        "EXISTS (SELECT 1 FROM {} {p0} WHERE {p0}.res_pk = {alias}.pk",
        index_table(first)
    ));
    same_type(q, &format!("{p0}.res_type"), res_type);
    q.sql(&format!(" AND {p0}.param = "))
        .text(first_param)
        .sql(" AND (");
    push_values(q, &p0, first);
    q.sql(")");
    for (k, c) in rest.iter().enumerate() {
        let Some(param) = value_param(c) else {
            q.sql(" AND 1 = 0");
            continue;
        };
        let pk = format!("{alias}p{}", k + 1);
        q.sql(&format!(
            " AND EXISTS (SELECT 1 FROM {} {pk} WHERE {pk}.res_pk = {p0}.res_pk AND {pk}.grp = {p0}.grp AND {pk}.param = ",
            index_table(c)
        ));
        q.text(param).sql(" AND (");
        push_values(q, &pk, c);
        q.sql("))");
    }
    q.sql(")");
}

/// The index parameter name of a value criterion.
fn value_param(c: &Criterion) -> Option<String> {
    match c {
        Criterion::Token { param, .. }
        | Criterion::TokenText { param, .. }
        | Criterion::Reference { param, .. }
        | Criterion::String { param, .. }
        | Criterion::Uri { param, .. }
        | Criterion::Date { param, .. }
        | Criterion::Number { param, .. }
        | Criterion::Quantity { param, .. } => Some(param.clone()),
        _ => None,
    }
}

/// The OR of a value criterion's values, on the index row `i` (an alias of its table).
fn push_values(q: &mut Query, i: &str, c: &Criterion) {
    match c {
        Criterion::Token { values, .. } if values.is_empty() => {
            // An empty ValueSet: nothing is in it.
            q.sql("1 = 0");
        }
        Criterion::Token { values, .. } => {
            // Values with a code are grouped by their system into `code IN (…)`: an OR
            // of `system AND code` pairs plans as a scan of the parameter's rows, where
            // an IN list is one index seek per code (an import's identity lookups, a
            // `code=` list of one code system).
            let mut groups: Vec<(&Option<String>, Vec<&String>)> = Vec::new();
            for v in values {
                let Some(code) = &v.code else {
                    groups.push((&v.system, Vec::new()));
                    continue;
                };
                match groups
                    .iter_mut()
                    .find(|(system, codes)| *system == &v.system && !codes.is_empty())
                {
                    Some((_, codes)) => codes.push(code),
                    None => groups.push((&v.system, vec![code])),
                }
            }
            for (n, (system, codes)) in groups.iter().enumerate() {
                q.sql(if n == 0 { "(" } else { " OR (" });
                let mut first = true;
                match system {
                    None => {}
                    Some(s) if s.is_empty() => {
                        q.sql(&format!("{i}.system IS NULL"));
                        first = false;
                    }
                    Some(s) => {
                        q.sql(&format!("{i}.system = ")).text(s.clone());
                        first = false;
                    }
                }
                if !codes.is_empty() {
                    if !first {
                        q.sql(" AND ");
                    }
                    if let [code] = codes.as_slice() {
                        q.sql(&format!("{i}.code = ")).text((*code).clone());
                    } else {
                        q.sql(&format!("{i}.code IN ("));
                        for (k, code) in codes.iter().enumerate() {
                            if k > 0 {
                                q.sql(", ");
                            }
                            q.text((*code).clone());
                        }
                        q.sql(")");
                    }
                    first = false;
                }
                if first {
                    q.sql("1 = 1");
                }
                q.sql(")");
            }
        }
        Criterion::TokenText { values, .. } => {
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    q.sql(" OR ");
                }
                // Prefix match on the normalized text: [v, v + U+10FFFF).
                q.sql(&format!("({i}.text >= ")).text(v.clone());
                q.sql(&format!(" AND {i}.text < "))
                    .text(format!("{v}\u{10FFFF}"))
                    .sql(")");
            }
        }
        Criterion::Reference { values, .. } => {
            for (n, v) in values.iter().enumerate() {
                q.sql(if n == 0 { "(" } else { " OR (" });
                match (&v.url, &v.target_id) {
                    (Some(url), _) => {
                        q.sql(&format!("{i}.url = ")).text(url.clone());
                    }
                    (None, Some(id)) => {
                        q.sql(&format!("{i}.target_id = ")).text(id.clone());
                        if let Some(t) = &v.target_type {
                            q.sql(&format!(" AND {i}.target_type = ")).text(t.clone());
                        }
                    }
                    (None, None) => {
                        q.sql("1 = 0");
                    }
                }
                q.sql(")");
            }
        }
        Criterion::String { values, mode, .. } => {
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    q.sql(" OR ");
                }
                match mode {
                    StringMode::Exact => {
                        q.sql(&format!("{i}.exact = ")).text(v.clone());
                    }
                    StringMode::Prefix => {
                        // Prefix match on the normalized form: [v, v + U+10FFFF).
                        q.sql(&format!("({i}.normalized >= ")).text(v.clone());
                        q.sql(&format!(" AND {i}.normalized < "))
                            .text(format!("{v}\u{10FFFF}"))
                            .sql(")");
                    }
                    StringMode::Contains => {
                        // Both sides are normalized (lower case), so LIKE's case rules
                        // (insensitive for ASCII in SQLite, sensitive in PostgreSQL) agree.
                        q.sql(&format!("{i}.normalized LIKE "))
                            .text(format!("%{}%", like_escape(v)))
                            .sql(" ESCAPE '\\'");
                    }
                }
            }
        }
        Criterion::Uri { values, mode, .. } => {
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    q.sql(" OR ");
                }
                match mode {
                    UriMode::Exact => {
                        q.sql(&format!("{i}.uri = ")).text(v.clone());
                    }
                    UriMode::Below => {
                        // The value itself, or a path under it: a uri that starts with
                        // `v/` (with `v` itself when it ends in `/`).
                        let prefix = if v.ends_with('/') {
                            v.clone()
                        } else {
                            format!("{v}/")
                        };
                        q.sql(&format!("({i}.uri = ")).text(v.clone());
                        q.sql(&format!(" OR substr({i}.uri, 1, length("))
                            .text(prefix.clone())
                            .sql(")) = ")
                            .text(prefix)
                            .sql(")");
                    }
                    UriMode::Above => {
                        // The value itself, or a path it is under (`uri/…` starts it).
                        q.sql(&format!("({i}.uri = ")).text(v.clone());
                        q.sql(" OR substr(")
                            .text(v.clone())
                            .sql(&format!(", 1, length({i}.uri) + 1) = {i}.uri || '/')"));
                    }
                }
            }
        }
        Criterion::Date { values, .. } => {
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    q.sql(" OR ");
                }
                date_condition(q, &format!("{i}.start_at"), &format!("{i}.end_at"), v);
            }
        }
        Criterion::Number { values, .. } => {
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    q.sql(" OR ");
                }
                number_condition(q, &format!("{i}.value"), v);
            }
        }
        Criterion::Quantity { values, .. } => {
            for (n, v) in values.iter().enumerate() {
                q.sql(if n == 0 { "(" } else { " OR (" });
                push_quantity(q, i, v);
                q.sql(")");
            }
        }
        _ => {
            q.sql("1 = 0");
        }
    }
}

/// One quantity value on the row `i`: in canonical UCUM units when both sides have them,
/// otherwise the number with the unit as written.
fn push_quantity(q: &mut Query, i: &str, v: &QuantityMatch) {
    let as_written = |q: &mut Query| {
        number_condition(q, &format!("{i}.value"), &v.number);
        match (&v.system, &v.code) {
            (Some(system), code) => {
                q.sql(&format!(" AND {i}.system = ")).text(system.clone());
                if let Some(code) = code {
                    q.sql(&format!(" AND {i}.code = ")).text(code.clone());
                }
            }
            // `number||code`: the code or the human unit, any system.
            (None, Some(code)) => {
                q.sql(&format!(" AND ({i}.code = ")).text(code.clone());
                q.sql(&format!(" OR {i}.unit = "))
                    .text(code.clone())
                    .sql(")");
            }
            (None, None) => {}
        }
    };
    match &v.canonical {
        Some((number, unit)) => {
            q.sql(&format!("({i}.canon_unit = "))
                .text(unit.clone())
                .sql(" AND ");
            number_condition(q, &format!("{i}.canon_value"), number);
            q.sql(&format!(") OR ({i}.canon_unit IS NULL AND "));
            as_written(q);
            q.sql(")");
        }
        None => as_written(q),
    }
}

/// `[start, end]` (stored) against the search range of `m`, as the module doc says.
fn date_condition(q: &mut Query, start: &str, end: &str, m: &DateMatch) {
    let (qs, qe) = (m.start.clone(), m.end.clone());
    let within = |q: &mut Query| {
        q.sql(&format!("({start} >= "))
            .text(qs.clone())
            .sql(&format!(" AND {end} <= "))
            .text(qe.clone())
            .sql(")");
    };
    match m.prefix {
        Prefix::Eq => within(q),
        Prefix::Ne => {
            q.sql("NOT ");
            within(q);
        }
        Prefix::Gt => {
            q.sql(&format!("{end} > ")).text(qe.clone());
        }
        Prefix::Lt => {
            q.sql(&format!("{start} < ")).text(qs.clone());
        }
        Prefix::Ge => {
            q.sql(&format!("({end} > ")).text(qe.clone()).sql(" OR ");
            within(q);
            q.sql(")");
        }
        Prefix::Le => {
            q.sql(&format!("({start} < ")).text(qs.clone()).sql(" OR ");
            within(q);
            q.sql(")");
        }
        Prefix::Sa => {
            q.sql(&format!("{start} > ")).text(qe.clone());
        }
        Prefix::Eb => {
            q.sql(&format!("{end} < ")).text(qs.clone());
        }
        Prefix::Ap => {
            q.sql(&format!("({start} <= "))
                .text(qe.clone())
                .sql(&format!(" AND {end} >= "))
                .text(qs.clone())
                .sql(")");
        }
    }
}

/// `column` against a number search value.
fn number_condition(q: &mut Query, column: &str, m: &NumberMatch) {
    // `[low, high)` (`eq`, `ne`) or `[low, high]` (`ap`).
    let range = |q: &mut Query, negate: &str, upper: &str| {
        q.sql(&format!("{negate}({column} >= "))
            .arg(Arg::Float(m.low))
            .sql(&format!(" AND {column} {upper} "))
            .arg(Arg::Float(m.high))
            .sql(")");
    };
    let (op, value) = match m.prefix {
        Prefix::Eq => return range(q, "", "<"),
        Prefix::Ne => return range(q, "NOT ", "<"),
        Prefix::Ap => return range(q, "", "<="),
        Prefix::Gt | Prefix::Sa => (">", m.value),
        Prefix::Lt | Prefix::Eb => ("<", m.value),
        Prefix::Ge => (">=", m.value),
        Prefix::Le => ("<=", m.value),
    };
    q.sql(&format!("{column} {op} ")).arg(Arg::Float(value));
}

/// Escapes `%`, `_` and `\` for `LIKE … ESCAPE '\'`.
fn like_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// ` AND {column} = res_type`; nothing for a system-level search (`res_type` empty), where
/// index rows are reached through their resource's key and carry its type anyway.
fn same_type(q: &mut Query, column: &str, res_type: &str) {
    if !res_type.is_empty() {
        q.sql(&format!(" AND {column} = ")).text(res_type);
    }
}

fn exists_open(q: &mut Query, alias: &str, table: &str, res_type: &str, param: &str) {
    if std::mem::take(&mut q.drive_next) {
        q.sql(&format!(
            "{alias}.pk IN (SELECT i.res_pk FROM {table} i WHERE i.res_type = "
        ));
    } else {
        // A correlated probe must walk the candidate's own rows (the clustered key
        // `res_pk`), not the lookup index by (res_type, param), which would scan every
        // value of the parameter for each candidate: on SQLite a unary `+` keeps those
        // two terms off the index.
        let p = if q.numbered { "" } else { "+" };
        q.sql(&format!(
            "EXISTS (SELECT 1 FROM {table} i WHERE i.res_pk = {alias}.pk"
        ));
        same_type(q, &format!("{p}i.res_type"), res_type);
        q.sql(&format!(" AND {p}i.param = "))
            .text(param)
            .sql(" AND (");
        return;
    }
    q.text(res_type)
        .sql(" AND i.param = ")
        .text(param)
        .sql(" AND (");
}

/// A page of current resources matching all criteria, in key order, with the total
/// and the included resources the query asks for.
pub(super) async fn search(
    conn: &mut AnyConnection,
    dialect: Dialect,
    res_type: &str,
    query: &SearchQuery,
) -> Result<SearchPage, StoreError> {
    let resolved = super::valueset::resolve(conn, dialect, &query.criteria).await?;
    let criteria = resolved.as_deref().unwrap_or(&query.criteria);
    let mut page = SearchPage {
        resources: Vec::new(),
        next: None,
        previous: None,
        total: None,
        included: Vec::new(),
        includes_truncated: false,
    };
    if query.count == 0 {
        if query.total {
            page.total =
                Some(count_matches(&mut *conn, dialect, res_type, &query.types, criteria).await?);
        }
        return Ok(page);
    }

    // The matches with their sort keys, as `r`; then the page of them after the cursor.
    let mut q = Query::new(
        dialect,
        &format!(
            "SELECT {VERSION_COLUMNS}, r.pk{} FROM (SELECT r.pk, r.version",
            (0..query.sort.len())
                .map(|n| format!(", r.k{n}"))
                .collect::<String>()
        ),
    );
    for (n, key) in query.sort.iter().enumerate() {
        q.sql(", ");
        push_sort_key(&mut q, res_type, key);
        q.sql(&format!(" AS k{n}"));
    }
    q.sql(" FROM resource r WHERE ");
    push_query_matches(&mut q, res_type, &query.types, criteria);
    q.sql(") r JOIN resource_version v ON v.res_pk = r.pk AND v.version = r.version");
    // Backwards (a `previous` link): the rows before the cursor in reverse order, then
    // turned around.
    let backward = query.before.is_some();
    if let Some(cursor) = query.after.as_ref().or(query.before.as_ref()) {
        q.sql(" WHERE ");
        push_keyset(&mut q, &query.sort, cursor, 0, !backward);
    }
    q.sql(" ORDER BY ");
    for (n, key) in query.sort.iter().enumerate() {
        // No value sorts last in both directions (`IS NULL` is false before true).
        let (nulls, dir) = match (key.descending, backward) {
            (false, false) => ("", "ASC"),
            (true, false) => ("", "DESC"),
            (false, true) => (" DESC", "DESC"),
            (true, true) => (" DESC", "ASC"),
        };
        q.sql(&format!("(r.k{n} IS NULL){nulls}, r.k{n} {dir}, "));
    }
    q.sql(if backward { "r.pk DESC" } else { "r.pk" });
    q.sql(" LIMIT ").arg(Arg::Int(query.count as i64 + 1));
    let mut rows = q.build().fetch_all(&mut *conn).await?;
    let more = rows.len() > query.count;
    rows.truncate(query.count);
    if backward {
        rows.reverse();
    }
    let (resources, keys) = stored_with_keys(&rows)?;
    let cursor_at = |row: &AnyRow, pk: i64| -> Result<SearchCursor, StoreError> {
        let values = query
            .sort
            .iter()
            .enumerate()
            .map(|(n, key)| sort_value(row, 8 + n, key))
            .collect::<Result<_, _>>()?;
        Ok(SearchCursor { values, pk })
    };
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        // Forward: more after the page if the query found one more; backward: the page
        // ends just before where the client came from, so there is always a next page.
        if more || backward {
            page.next = Some(cursor_at(last, keys[keys.len() - 1])?);
        }
        if (backward && more) || query.after.is_some() {
            page.previous = Some(cursor_at(first, keys[0])?);
        }
    }
    if query.total {
        // A first page that holds every match is its own count (most searches): no
        // second query.
        let whole = !more && query.after.is_none() && query.before.is_none();
        page.total = Some(if whole {
            resources.len() as i64
        } else {
            count_matches(&mut *conn, dialect, res_type, &query.types, criteria).await?
        });
    }
    page.resources = resources;
    if !keys.is_empty() && (!query.include.is_empty() || !query.revinclude.is_empty()) {
        (page.included, page.includes_truncated) = includes(conn, dialect, &keys, query).await?;
    }
    Ok(page)
}

/// How many resources match (`Bundle.total`).
async fn count_matches(
    conn: &mut AnyConnection,
    dialect: Dialect,
    res_type: &str,
    types: &[String],
    criteria: &[Criterion],
) -> Result<i64, StoreError> {
    let mut q = Query::new(dialect, "SELECT COUNT(*) FROM resource r WHERE ");
    push_query_matches(&mut q, res_type, types, criteria);
    Ok(q.build().fetch_one(conn).await?.try_get(0)?)
}

/// The matches of a search of `res_type`, or system-level (`res_type` empty) of `types`.
fn push_query_matches(q: &mut Query, res_type: &str, types: &[String], criteria: &[Criterion]) {
    if res_type.is_empty() {
        push_system_matches(q, types, criteria);
    } else {
        push_matches(q, res_type, criteria);
    }
}

fn stored_with_keys(rows: &[AnyRow]) -> Result<(Vec<StoredResource>, Vec<i64>), StoreError> {
    let mut resources = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        resources.push(stored(row)?);
        keys.push(row.try_get::<i64, _>(7)?);
    }
    Ok((resources, keys))
}

/// The value of sort key `key` of the resource `r`: a column of `resource` for `_id` and
/// `_lastUpdated`, otherwise the lowest (ascending) or highest (descending) index value
/// of the parameter, NULL when it has none.
fn push_sort_key(q: &mut Query, res_type: &str, key: &SortKey) {
    match key.param.as_str() {
        "_id" => {
            q.sql("r.res_id");
            return;
        }
        LAST_UPDATED => {
            q.sql("r.last_updated");
            return;
        }
        _ => {}
    }
    let (table, column) = match key.kind {
        SearchParamKind::String => ("idx_string", "i.normalized"),
        SearchParamKind::Token => ("idx_token", "i.code"),
        SearchParamKind::Date => ("idx_date", "i.start_at"),
        SearchParamKind::Number => ("idx_number", "i.value"),
        SearchParamKind::Quantity => ("idx_quantity", "i.value"),
        SearchParamKind::Uri => ("idx_uri", "i.uri"),
        SearchParamKind::Reference => (
            "idx_reference",
            "COALESCE(i.target_type || '/' || i.target_id, i.target_id, i.url)",
        ),
        // The criteria parser refuses to sort by them.
        SearchParamKind::Composite | SearchParamKind::Special => {
            q.sql("NULL");
            return;
        }
    };
    let agg = if key.descending { "MAX" } else { "MIN" };
    q.sql(&format!(
        "(SELECT {agg}({column}) FROM {table} i WHERE i.res_pk = r.pk"
    ));
    same_type(q, "i.res_type", res_type);
    q.sql(" AND i.param = ").text(key.param.clone()).sql(")");
}

/// The keyset condition "after `cursor`" (`forward`) or "before `cursor`" over the keys
/// `sort[n..]` (`r.k{n}`, …) and then `r.pk`, expanded into OR/AND terms: strictly after
/// (before) on key `n`, or equal on it and after (before) on the rest. A value sorts
/// before no value in both directions.
fn push_keyset(q: &mut Query, sort: &[SortKey], cursor: &SearchCursor, n: usize, forward: bool) {
    let Some(key) = sort.get(n) else {
        q.sql(if forward { "r.pk > " } else { "r.pk < " })
            .arg(Arg::Int(cursor.pk));
        return;
    };
    let k = format!("r.k{n}");
    let value = match cursor.values.get(n) {
        Some(SortValue::Text(t)) => Some(Arg::Text(t.clone())),
        Some(SortValue::Number(f)) => Some(Arg::Float(*f)),
        Some(SortValue::Null) | None => None,
    };
    match (value, forward) {
        // After no value: only other resources without one, then the rest of the keys.
        (None, true) => {
            q.sql(&format!("({k} IS NULL AND ("));
            push_keyset(q, sort, cursor, n + 1, forward);
            q.sql("))");
        }
        // Before no value: every value, or no value and before on the rest.
        (None, false) => {
            q.sql(&format!("({k} IS NOT NULL OR ({k} IS NULL AND ("));
            push_keyset(q, sort, cursor, n + 1, forward);
            q.sql(")))");
        }
        (Some(v), true) => {
            let op = if key.descending { "<" } else { ">" };
            q.sql(&format!("({k} IS NULL OR {k} {op} "))
                .arg(v.clone())
                .sql(&format!(" OR ({k} = "))
                .arg(v)
                .sql(" AND (");
            push_keyset(q, sort, cursor, n + 1, forward);
            q.sql(")))");
        }
        (Some(v), false) => {
            let op = if key.descending { ">" } else { "<" };
            q.sql(&format!("({k} IS NOT NULL AND ({k} {op} "))
                .arg(v.clone())
                .sql(&format!(" OR ({k} = "))
                .arg(v)
                .sql(" AND (");
            push_keyset(q, sort, cursor, n + 1, forward);
            q.sql("))))");
        }
    }
}

/// Sort key value `n` of a page row (at column `index`).
fn sort_value(row: &AnyRow, index: usize, key: &SortKey) -> Result<SortValue, StoreError> {
    Ok(if key.is_numeric() {
        row.try_get::<Option<f64>, _>(index)?
            .map_or(SortValue::Null, SortValue::Number)
    } else {
        row.try_get::<Option<String>, _>(index)?
            .map_or(SortValue::Null, SortValue::Text)
    })
}

/// The resources `_include`/`_revinclude` add to a page whose matches have the keys
/// `matches`, and whether the limit cut them short.
async fn includes(
    conn: &mut AnyConnection,
    dialect: Dialect,
    matches: &[i64],
    query: &SearchQuery,
) -> Result<(Vec<StoredResource>, bool), StoreError> {
    let specs: Vec<(bool, &Include)> = query
        .include
        .iter()
        .map(|i| (false, i))
        .chain(query.revinclude.iter().map(|i| (true, i)))
        .collect();
    let mut seen: Vec<i64> = matches.to_vec();
    let mut included = Vec::new();
    let mut sources: Vec<i64> = matches.to_vec();
    let mut first_round = true;
    while !sources.is_empty() {
        let mut found = Vec::new();
        for (reverse, spec) in &specs {
            if !first_round && !spec.iterate {
                continue;
            }
            let room = query.include_limit.saturating_sub(included.len());
            let mut q = include_query(dialect, *reverse, spec, &sources, &seen);
            q.arg(Arg::Int(room as i64 + 1));
            let (resources, keys) = stored_with_keys(&q.build().fetch_all(&mut *conn).await?)?;
            if resources.len() > room {
                included.extend(resources.into_iter().take(room));
                return Ok((included, true));
            }
            seen.extend(&keys);
            found.extend(keys);
            included.extend(resources);
        }
        first_round = false;
        sources = found;
    }
    Ok((included, false))
}

/// The current resources one include value reaches from `sources` (internal keys),
/// except those in `seen`, in key order; ends with `LIMIT` awaiting its argument.
fn include_query(
    dialect: Dialect,
    reverse: bool,
    spec: &Include,
    sources: &[i64],
    seen: &[i64],
) -> Query {
    let mut q = Query::new(
        dialect,
        &format!(
            "SELECT {VERSION_COLUMNS}, r.pk FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version = r.version WHERE r.deleted = 0 AND r.pk IN (SELECT "
        ),
    );
    // `t` is the referenced resource; `i` the reference row of the referring one.
    q.sql(if reverse { "i.res_pk" } else { "t.pk" });
    q.sql(" FROM idx_reference i JOIN resource t ON t.res_type = i.target_type AND t.res_id = i.target_id WHERE ");
    q.sql(if reverse {
        "t.pk IN ("
    } else {
        "i.res_pk IN ("
    });
    push_keys(&mut q, sources);
    q.sql(")");
    // Forward, the page's own reference rows are few and clustered by `res_pk`: on SQLite
    // a unary `+` keeps the type and parameter tests off the lookup index, which would
    // read every such reference of every resource instead.
    let p = if reverse || q.numbered { "" } else { "+" };
    if let Some(t) = &spec.source_type {
        q.sql(&format!(" AND {p}i.res_type = ")).text(t.clone());
    }
    if let Some(param) = &spec.param {
        q.sql(&format!(" AND {p}i.param = ")).text(param.clone());
    }
    if let Some(t) = &spec.target_type {
        q.sql(" AND i.target_type = ").text(t.clone());
    }
    q.sql(") AND r.pk NOT IN (");
    push_keys(&mut q, seen);
    q.sql(") ORDER BY r.pk LIMIT ");
    q
}

fn push_keys(q: &mut Query, keys: &[i64]) {
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            q.sql(", ");
        }
        q.arg(Arg::Int(*k));
    }
}
