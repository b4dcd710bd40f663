//! HTTP tests of the FHIR REST API: each case runs against a fresh server on SQLite, and
//! with `--features postgres-tests` also on a fresh PostgreSQL database.

mod support;
mod twin;

mod auth_store;
mod bundles;
mod custom_params;
mod ehr_sync;
mod errors;
mod examples;
mod history;
mod imports;
mod lastn;
mod logs;
mod rest;
mod search;
mod search_spec_examples;
mod search_terms;
mod smart_access;
mod smart_admin;
mod smart_browser;
mod smart_flows;
mod smart_support;
mod upgrade;
