//! Token [`:in`/`:not-in`](https://hl7.org/fhir/R4/search.html#token): before a search
//! is compiled, each [`Criterion::InValueSet`] becomes a token criterion on the codes of
//! the ValueSets it names, read from this server on the search's own connection (so a
//! conditional write sees the ValueSets of its transaction). Which codes a ValueSet
//! stands for is `fhir_model::valueset`'s business; imports (`compose.include.valueSet`)
//! are followed to a bounded depth. A ValueSet not stored here, or one whose codes need a
//! terminology server, is an error naming it.

use sqlx::{AnyConnection, Row};

use super::{Dialect, Query};
use crate::store::{Criterion, StoreError, TokenMatch};

/// How deep ValueSet imports are followed (and so how a cycle ends).
const MAX_IMPORT_DEPTH: usize = 8;

/// The criteria with every `InValueSet` resolved; `None` when there is none (the common
/// case costs nothing).
pub(super) async fn resolve(
    conn: &mut AnyConnection,
    dialect: Dialect,
    criteria: &[Criterion],
) -> Result<Option<Vec<Criterion>>, StoreError> {
    if !criteria.iter().any(has_value_set) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(criteria.len());
    for c in criteria {
        out.push(resolve_one(conn, dialect, c).await?);
    }
    Ok(Some(out))
}

fn has_value_set(c: &Criterion) -> bool {
    match c {
        Criterion::InValueSet { .. } => true,
        Criterion::Not(inner) => has_value_set(inner),
        Criterion::AnyOf(criteria)
        | Criterion::AllOf(criteria)
        | Criterion::ForType { criteria, .. } => criteria.iter().any(has_value_set),
        Criterion::Chain { targets, .. } => targets.iter().any(|(_, c)| has_value_set(c)),
        Criterion::Has { criterion, .. } => has_value_set(criterion),
        Criterion::Composite { alternatives, .. } => {
            alternatives.iter().flatten().any(has_value_set)
        }
        _ => false,
    }
}

fn resolve_one<'a>(
    conn: &'a mut AnyConnection,
    dialect: Dialect,
    c: &'a Criterion,
) -> futures::future::BoxFuture<'a, Result<Criterion, StoreError>> {
    Box::pin(async move {
        Ok(match c {
            Criterion::InValueSet { param, urls } => {
                let mut values = Vec::new();
                for url in urls {
                    codes(conn, dialect, url, 0, &mut values).await?;
                }
                Criterion::Token {
                    param: param.clone(),
                    values,
                }
            }
            Criterion::Not(inner) => {
                Criterion::Not(Box::new(resolve_one(conn, dialect, inner).await?))
            }
            Criterion::AnyOf(criteria) | Criterion::AllOf(criteria) => {
                let mut resolved = Vec::with_capacity(criteria.len());
                for c in criteria {
                    resolved.push(resolve_one(conn, dialect, c).await?);
                }
                if matches!(c, Criterion::AnyOf(_)) {
                    Criterion::AnyOf(resolved)
                } else {
                    Criterion::AllOf(resolved)
                }
            }
            Criterion::Chain { param, targets } => {
                let mut resolved = Vec::with_capacity(targets.len());
                for (t, c) in targets {
                    resolved.push((t.clone(), resolve_one(conn, dialect, c).await?));
                }
                Criterion::Chain {
                    param: param.clone(),
                    targets: resolved,
                }
            }
            Criterion::Has {
                source_type,
                param,
                criterion,
            } => Criterion::Has {
                source_type: source_type.clone(),
                param: param.clone(),
                criterion: Box::new(resolve_one(conn, dialect, criterion).await?),
            },
            Criterion::ForType { res_type, criteria } => {
                let mut resolved = Vec::with_capacity(criteria.len());
                for c in criteria {
                    resolved.push(resolve_one(conn, dialect, c).await?);
                }
                Criterion::ForType {
                    res_type: res_type.clone(),
                    criteria: resolved,
                }
            }
            other => other.clone(),
        })
    })
}

/// Appends the codes of the ValueSet `url` (`url|version` pins a version) and of the
/// ValueSets it imports.
fn codes<'a>(
    conn: &'a mut AnyConnection,
    dialect: Dialect,
    url: &'a str,
    depth: usize,
    out: &'a mut Vec<TokenMatch>,
) -> futures::future::BoxFuture<'a, Result<(), StoreError>> {
    Box::pin(async move {
        if depth > MAX_IMPORT_DEPTH {
            return Err(StoreError::Criteria(format!(
                "ValueSet '{url}': imports nest deeper than {MAX_IMPORT_DEPTH} (a cycle?)"
            )));
        }
        let (canonical, version) = match url.split_once('|') {
            Some((u, v)) => (u, Some(v)),
            None => (url, None),
        };
        let mut q = Query::new(
            dialect,
            "SELECT v.content FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version = r.version WHERE r.deleted = 0 AND r.pk IN (SELECT i.res_pk FROM idx_uri i WHERE i.res_type = 'ValueSet' AND i.param = 'url' AND i.uri = ",
        );
        q.text(canonical).sql(")");
        if let Some(version) = version {
            q.sql(" AND EXISTS (SELECT 1 FROM idx_token t WHERE t.res_pk = r.pk AND t.param = 'version' AND t.code = ")
                .text(version)
                .sql(")");
        }
        // The newest stored ValueSet with that URL.
        q.sql(" ORDER BY r.pk DESC LIMIT 1");
        let row = q.build().fetch_optional(&mut *conn).await?;
        let content: Option<String> = match row {
            Some(row) => row.try_get(0)?,
            None => None,
        };
        let Some(content) = content else {
            return Err(StoreError::Criteria(format!(
                "ValueSet '{url}' is not stored on this server"
            )));
        };
        let vs: serde_json::Value = serde_json::from_str(&content)
            .map_err(|e| StoreError::Criteria(format!("ValueSet '{url}' cannot be read: {e}")))?;
        let found = fhir_model::valueset::value_set_codes(&vs)
            .map_err(|why| StoreError::Criteria(format!("ValueSet '{url}': {why}")))?;
        out.extend(found.codes.into_iter().map(|(system, code)| TokenMatch {
            system: Some(system),
            code,
        }));
        for import in &found.imports {
            codes(conn, dialect, import, depth + 1, out).await?;
        }
        Ok(())
    })
}
