//! HTTP tests of the FHIR REST API: each case runs against a fresh server on SQLite, and
//! with `--features postgres-tests` also on a fresh PostgreSQL database.

mod support;

mod bundles;
mod errors;
mod examples;
mod history;
mod logs;
mod rest;
mod search;
mod upgrade;
