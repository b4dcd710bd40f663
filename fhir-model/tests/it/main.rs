//! Integration tests of `fhir-model`'s parsing, validation, views and Bundles.

mod examples;
mod rules;
mod synthea;
mod views;
