//! The server's custom search parameters: the SearchParameter resources it holds (status
//! active or draft, current, not deleted), as one immutable
//! [`CustomSearchParams`] value, and the CapabilityStatement that lists them.
//!
//! Where it lives: in [`crate::AppState`], as a `std::sync::RwLock<Arc<…>>` snapshot.
//! Every request takes the current `Arc` once (a read lock held for an `Arc` clone) and
//! parses its criteria and indexes its writes with it; a refresh builds a new set and
//! swaps the `Arc`. The `arc-swap` crate would spare the uncontended read lock, which is
//! not measurable next to a request, so it is not worth a dependency.
//!
//! When it changes (the refresh rule): the set is read whole from the store at start-up,
//! and again after every committed write that touches a SearchParameter (create, update,
//! patch, delete, conditional forms, a batch or transaction with such an entry), before
//! the response is sent: a client that created a SearchParameter can search by it with
//! its next request, and data written from then on is indexed by it. Refreshes are
//! serialized and each reads the committed state, so the last one wins with the newest
//! data. Several instances on one PostgreSQL database do not see each other's writes
//! this way, so on PostgreSQL the set is also re-read every
//! `search_param_refresh_secs` (default 30 s), and every `$reindex` re-reads it first.
//! A refresh reads only the SearchParameters, a few rows.
//!
//! Validity is checked when a SearchParameter is written (400 with the reason and the
//! element path, [`crate::rest::interactions::prepare_version`]), against the set as the
//! request found it. Two writes racing to define one code, or two clashing definitions in
//! one transaction, can both pass; the set then keeps the older one (by storage order) and
//! logs that the other is ignored (its id and the element path: no content).
//!
//! What `$reindex` is for (`crate::rest::reindex`): resources stored before a parameter
//! existed, or in the same transaction as its SearchParameter (indexed with the set the
//! request found), are found by it once re-indexed; the rows of a parameter that was
//! deleted or whose expression changed stay until then (its code is unknown at once, but
//! `_include=*` still follows such reference rows).

use std::sync::{Arc, RwLock};

use fhir_model::custom_params::CustomSearchParams;
use serde_json::Value;

use crate::store::{ResourceStore, StoreError};

/// SearchParameters read per query while loading.
const PAGE: usize = 500;

/// The current custom search parameters and the CapabilityStatement built with them.
pub struct SearchParameters {
    current: RwLock<Snapshot>,
    /// Serializes refreshes, so an older read never replaces a newer one.
    refreshing: tokio::sync::Mutex<()>,
    base_url: String,
    /// When the server started (the CapabilityStatement's `date`).
    started: String,
}

#[derive(Clone)]
struct Snapshot {
    params: Arc<CustomSearchParams>,
    capability: Arc<Value>,
}

impl SearchParameters {
    /// Reads the SearchParameters from the store and builds the set.
    pub async fn load(
        store: &dyn ResourceStore,
        base_url: &str,
        started: &str,
    ) -> Result<SearchParameters, StoreError> {
        let params = Arc::new(read_all(store).await?.with_local_base(base_url));
        let capability = Arc::new(crate::rest::capability::statement(
            base_url, started, &params,
        ));
        Ok(SearchParameters {
            current: RwLock::new(Snapshot { params, capability }),
            refreshing: tokio::sync::Mutex::new(()),
            base_url: base_url.to_owned(),
            started: started.to_owned(),
        })
    }

    /// The set as it is now (official lookups included).
    pub fn current(&self) -> Arc<CustomSearchParams> {
        self.snapshot().params
    }

    /// The CapabilityStatement, with the custom parameters on their types.
    pub fn capability(&self) -> Arc<Value> {
        self.snapshot().capability
    }

    fn snapshot(&self) -> Snapshot {
        match self.current.read() {
            Ok(s) => s.clone(),
            // A panic while swapping cannot leave a half-written snapshot: use it.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the SearchParameters and swaps the set (and the CapabilityStatement).
    pub async fn refresh(&self, store: &dyn ResourceStore) -> Result<(), StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let params = Arc::new(read_all(store).await?.with_local_base(&self.base_url));
        let capability = Arc::new(crate::rest::capability::statement(
            &self.base_url,
            &self.started,
            &params,
        ));
        let next = Snapshot { params, capability };
        match self.current.write() {
            Ok(mut s) => *s = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(())
    }

    /// [`Self::refresh`] after a committed write: the write stands whatever happens
    /// here, so a failure is logged (without content) rather than answered.
    pub async fn refresh_after_write(&self, store: &dyn ResourceStore) {
        if let Err(e) = self.refresh(store).await {
            tracing::error!(error = %e, "could not re-read the search parameters after a write");
        }
    }
}

/// Every current SearchParameter, as a set (those that cannot be used are logged by id
/// and left out).
async fn read_all(store: &dyn ResourceStore) -> Result<CustomSearchParams, StoreError> {
    let mut resources: Vec<(String, Value)> = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .current_resources(Some("SearchParameter"), after, PAGE)
            .await?;
        let full = page.len() == PAGE;
        for r in page {
            after = r.pk;
            if let Some(v) = r
                .stored
                .content
                .as_deref()
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
            {
                resources.push((r.stored.id, v));
            }
        }
        if !full {
            break;
        }
    }
    let (set, rejected) =
        CustomSearchParams::from_resources(resources.iter().map(|(id, v)| (id.as_str(), v)));
    for (id, why) in rejected {
        tracing::warn!(
            search_parameter = %id,
            element = %why.path,
            "a stored SearchParameter cannot be used (it clashes or is invalid); it is ignored"
        );
    }
    Ok(set)
}
