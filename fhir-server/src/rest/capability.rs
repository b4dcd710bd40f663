//! The CapabilityStatement (`GET [base]/metadata`), generated from what the server
//! really implements: the resource types of the element model, the interactions the
//! router offers, the search parameters the criteria parser accepts (the server's custom
//! ones, from its SearchParameter resources, on their types too: the statement is rebuilt
//! when they change, see `crate::custom_params`), and the operations (Observation
//! `$lastn`, Patient `$everything`, `$reindex`).

use fhir_model::custom_params::CustomSearchParams;
use fhir_model::search_params::SearchParamKind;
use serde_json::{Value, json};

/// Interactions offered on every resource type.
const TYPE_INTERACTIONS: &[&str] = &[
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
];

/// Whether the criteria parser supports a search parameter kind today.
pub fn supported_kind(kind: SearchParamKind) -> bool {
    matches!(
        kind,
        SearchParamKind::Token
            | SearchParamKind::Reference
            | SearchParamKind::String
            | SearchParamKind::Uri
            | SearchParamKind::Date
            | SearchParamKind::Number
            | SearchParamKind::Quantity
            | SearchParamKind::Composite
    )
}

fn kind_code(kind: SearchParamKind) -> &'static str {
    match kind {
        SearchParamKind::Number => "number",
        SearchParamKind::Date => "date",
        SearchParamKind::String => "string",
        SearchParamKind::Token => "token",
        SearchParamKind::Reference => "reference",
        SearchParamKind::Composite => "composite",
        SearchParamKind::Quantity => "quantity",
        SearchParamKind::Uri => "uri",
        SearchParamKind::Special => "special",
    }
}

/// Builds the statement for a base URL with the custom search parameters of `custom`;
/// `date` is when this server started.
pub fn statement(base_url: &str, date: &str, custom: &CustomSearchParams) -> Value {
    let resources: Vec<Value> = fhir_model::definitions::resource_types()
        .iter()
        .map(|t| {
            let mut params = vec![json!({
                "name": "_id",
                "definition": "http://hl7.org/fhir/SearchParameter/Resource-id",
                "type": "token",
            })];
            // `_include` takes `*` and every reference parameter of the type.
            let mut includes = vec![json!("*")];
            for p in custom.search_params_for(t) {
                if p.code != "_id" && supported_kind(p.kind) {
                    params.push(json!({"name": p.code, "definition": p.url, "type": kind_code(p.kind)}));
                }
                if p.kind == SearchParamKind::Reference {
                    includes.push(json!(format!("{t}:{}", p.code)));
                }
            }
            let mut resource = json!({
                "type": t,
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{t}"),
                "interaction": TYPE_INTERACTIONS.iter().map(|i| json!({"code": i})).collect::<Vec<_>>(),
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "conditionalRead": "not-supported",
                "conditionalUpdate": true,
                "conditionalDelete": "single",
                "searchInclude": includes,
                "searchRevInclude": ["*"],
                "searchParam": params,
            });
            if *t == "Observation" {
                resource["operation"] = json!([{
                    "name": "lastn",
                    "definition": crate::rest::lastn::DEFINITION,
                }]);
            }
            if *t == "Patient" {
                resource["operation"] = json!([{
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }]);
            }
            resource
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "HealthOS",
        "kind": "instance",
        "software": {"name": "HealthOS", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "HealthOS FHIR R4 server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/fhir+xml", "json", "xml"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json", "application/fhir+xml"],
        "rest": [{
            "mode": "server",
            "resource": resources,
            "interaction": [
                {"code": "transaction"},
                {"code": "batch"},
                {"code": "history-system"},
                {"code": "search-system"},
            ],
            "searchParam": common_search_params(custom),
            "operation": [{
                "name": "reindex",
                "definition": crate::rest::reindex::DEFINITION,
            }],
        }],
    })
}

/// The parameters a system-level search takes: those every type has.
fn common_search_params(custom: &CustomSearchParams) -> Vec<serde_json::Value> {
    custom
        .search_params_for("Resource")
        .into_iter()
        .filter(|p| supported_kind(p.kind))
        .map(|p| json!({"name": p.code, "definition": p.url, "type": kind_code(p.kind)}))
        .collect()
}
