//! `$reindex` (`POST [base]/$reindex`, `POST [base]/[type]/$reindex`): recomputes the
//! search index rows of every current resource, of one type or of all, with the official
//! and the server's custom search parameters, and answers a Parameters resource with
//! `count`, the number of resources re-indexed.
//!
//! Why: a SearchParameter POSTed to the server indexes what is written from then on; what
//! was stored before is found by it only once re-indexed (HAPI and Blaze work the same
//! way). Likewise, index rows written before schema migration 0002 have no token display
//! text (`:text`), and rows written before 0003 no composite components, no `:of-type`
//! and `:identifier` rows and no canonical UCUM quantities: `$reindex` brings them up to
//! date. Rows of a deleted custom parameter are dropped by it too.
//!
//! How: synchronously (the response comes when the work is done, which suits the sizes
//! this server holds; a background job with a status to poll would be the step for much
//! larger ones). Resources are read in pages of [`BATCH`] in internal-key order (keyset,
//! outside any transaction); each page's index values are computed in the request's own
//! task (off the single SQLite writer, as for creates), and the page is written by one
//! write job ([`crate::store::WriteTx::reindex`]): one transaction per page, replacing
//! index rows only, so no version is created and history is untouched. A resource
//! written between its read and its page's job keeps the rows that write made (the job
//! checks the version); one deleted meanwhile is skipped. The custom set is re-read from
//! the store first, so an instance sharing a PostgreSQL database with the one that took
//! the SearchParameter re-indexes with it.

use fhir_model::index::IndexEntry;
use serde_json::{Value, json};

use super::bundle::parse_content;
use super::interactions::index_values;
use crate::AppState;
use crate::error::ApiError;
use crate::store::{self, Reindexed};

/// The canonical URL of this server's `$reindex` OperationDefinition (R4 defines no
/// such operation; HAPI and Blaze each have their own).
pub const DEFINITION: &str = "https://healthos.dev/fhir/OperationDefinition/reindex";

/// Resources per page (and per write job).
pub const BATCH: usize = 500;

/// Re-indexes every current resource of `res_type` (every type when `None`) and returns
/// the Parameters resource of the answer.
pub async fn reindex(state: &AppState, res_type: Option<&str>) -> Result<Value, ApiError> {
    state.search_params.refresh(&*state.store).await?;
    let params = state.search_params.current();
    let mut after = 0;
    let mut count: usize = 0;
    loop {
        let page = state
            .store
            .current_resources(res_type, after, BATCH)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.pk;
        let full = page.len() == BATCH;
        let batch: Vec<Reindexed> = page
            .into_iter()
            .map(|r| {
                let resource = parse_content(&r.stored);
                let index: Vec<IndexEntry> = index_values(&resource, &params);
                Reindexed {
                    pk: r.pk,
                    res_type: r.stored.res_type,
                    version: r.stored.version,
                    index,
                }
            })
            .collect();
        count += store::write(&*state.store, move |tx| {
            Box::pin(async move { Ok(tx.reindex(batch).await?) })
        })
        .await?;
        if !full {
            break;
        }
    }
    Ok(json!({
        "resourceType": "Parameters",
        "parameter": [{"name": "count", "valueInteger": count.min(i32::MAX as usize)}],
    }))
}
