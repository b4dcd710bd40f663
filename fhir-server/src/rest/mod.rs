//! The FHIR interaction logic, free of HTTP types where it can be: write interactions
//! over a store transaction, Bundle processing, history, search criteria and search
//! Bundles, and the CapabilityStatement that describes exactly this.

pub mod bundle;
pub mod capability;
pub mod criteria;
pub mod history;
pub mod interactions;
pub mod lastn;
pub mod reindex;
pub mod search;
