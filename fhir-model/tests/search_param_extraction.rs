//! The search-parameter extraction report: every R4 search parameter loads, and every
//! one whose resource type has an official example is evaluated over all of them.
//!
//! Why: the search index is built by evaluating each parameter's FHIRPath expression from
//! the official definitions, and `extract_index_values` skips an expression that fails on
//! a resource — silently, so that one bad path cannot stop a resource from being stored.
//! A parameter that errs therefore just finds nothing. This test makes such failures
//! visible: it evaluates every applicable parameter (the expression, and for composites
//! each component on each root item, exactly as the indexer does) over every official
//! example of its type (`fixtures/fhir-r4-examples`, Bundle entries included), writes the
//! outcome to `fhir-model/SEARCH_PARAMETERS.md` and fails if any parameter errs that is
//! not in [`KNOWN`] with its reason (the list is exact, so it cannot go stale).
//!
//! Run `cargo test -p fhir-model --test search_param_extraction -- --nocapture` to see
//! the summary line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fhir_model::definitions::resource_types;
use fhir_model::fhirpath::{Expression, Item, parse};
use fhir_model::index::extract_index_values;
use fhir_model::search_params::{
    SearchParamKind, composite_parts, kind_of_definition, search_params_for,
};
use serde_json::Value;

/// Parameters allowed to err on some official example, as (resource type, code, reason).
/// None today: the R4 expressions that apply `as` to a path holding several items
/// (`Observation.component.value as Quantity`, an error in FHIRPath for more than one
/// item) are read as `ofType()`, as R5 writes them (`search_params.rs`).
const KNOWN: &[(&str, &str, &str)] = &[];

/// One official example: where it came from (a file, or a Bundle entry in one) and the
/// resource.
struct Example {
    source: String,
    resource: Value,
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/fhir-r4-examples")
}

/// Collects `resource` and, for a Bundle, its entries' resources (recursively: a Bundle
/// entry may itself be a Bundle), each under a name that says where it sits.
fn collect(source: String, resource: Value, out: &mut Vec<Example>) {
    if resource["resourceType"] == "Bundle" {
        for (i, entry) in resource["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if entry["resource"].is_object() {
                collect(
                    format!("{source} entry[{i}]"),
                    entry["resource"].clone(),
                    out,
                );
            }
        }
    }
    out.push(Example { source, resource });
}

/// Every official example by resource type, in file order (Bundle entries after their
/// Bundle's file name).
fn examples_by_type() -> BTreeMap<String, Vec<Example>> {
    let dir = examples_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 467, "the pinned fixture set changed");
    let mut all = Vec::new();
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap();
        let resource: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        collect(name, resource, &mut all);
    }
    let mut by_type: BTreeMap<String, Vec<Example>> = BTreeMap::new();
    for ex in all {
        let ty = ex.resource["resourceType"]
            .as_str()
            .expect("every example names its type")
            .to_owned();
        by_type.entry(ty).or_default().push(ex);
    }
    by_type
}

/// A search parameter compiled for evaluation.
struct Compiled {
    ty: &'static str,
    code: String,
    kind: SearchParamKind,
    expression: Option<Expression>,
    /// For composites, each component's expression (relative to a root item).
    components: Vec<Expression>,
}

/// What evaluating one parameter over its type's examples gave.
#[derive(Default)]
struct Outcome {
    /// (example, error text) for each example on which the evaluation failed.
    errors: Vec<(String, String)>,
    /// Examples on which it yielded a value (for a composite: a root item on which every
    /// component yields one, i.e. a matchable index group).
    with_values: usize,
    /// Examples on which `extract_index_values` produced a row for it (its own, or one
    /// derived for a modifier).
    with_rows: usize,
    /// What the values look like (see [`shape`]), to explain values without rows.
    shapes: BTreeSet<String>,
}

/// Loads every parameter of every type, checking that expressions parse and composite
/// components resolve to a typed parameter.
fn load_parameters() -> Vec<Compiled> {
    let mut out = Vec::new();
    for &ty in resource_types() {
        let params = search_params_for(ty);
        assert!(!params.is_empty(), "{ty} has no search parameters");
        for p in params {
            let expression = p.expression.as_deref().map(|e| {
                parse(e).unwrap_or_else(|err| panic!("{ty}.{} does not parse: {e}: {err}", p.code))
            });
            let mut components = Vec::new();
            if p.kind == SearchParamKind::Composite {
                assert!(
                    p.components.len() >= 2,
                    "{ty}.{}: a composite has at least two components",
                    p.code
                );
                for (definition, expr) in &p.components {
                    assert!(
                        kind_of_definition(definition).is_some(),
                        "{ty}.{}: component {definition} does not resolve",
                        p.code
                    );
                    components.push(parse(expr).unwrap_or_else(|err| {
                        panic!("{ty}.{} component {expr} does not parse: {err}", p.code)
                    }));
                }
            }
            out.push(Compiled {
                ty,
                code: p.code.clone(),
                kind: p.kind,
                expression,
                components,
            });
        }
    }
    out
}

/// A short description of a value: its type, and for a Reference what it points with.
fn shape(item: &Item<'_>) -> String {
    let ty = item.type_name();
    if ty != "Reference" {
        return ty;
    }
    let json = item.to_json();
    match json["reference"].as_str() {
        Some(r) if r.starts_with('#') => "Reference to a contained resource".into(),
        Some(_) => ty,
        None if json.get("identifier").is_some() => "Reference by identifier only".into(),
        None => "Reference without reference or identifier".into(),
    }
}

/// Evaluates one parameter on one resource: `Err` with the first error, else whether a
/// value (for composites, a complete group) came out. Records the values' shapes.
fn evaluate(
    param: &Compiled,
    expression: &Expression,
    resource: &Value,
    shapes: &mut BTreeSet<String>,
) -> Result<bool, String> {
    let items = expression.evaluate(resource).map_err(|e| e.to_string())?;
    if param.kind != SearchParamKind::Composite {
        shapes.extend(items.iter().map(shape));
        return Ok(!items.is_empty());
    }
    let mut complete = false;
    for item in &items {
        let mut all = true;
        for (k, component) in param.components.iter().enumerate() {
            let parts = component
                .evaluate_on(resource, item)
                .map_err(|e| format!("component {k} (`{}`): {e}", component.text()))?;
            all &= !parts.is_empty();
        }
        complete |= all;
    }
    Ok(complete)
}

/// The index parameter names a search parameter's rows use (a composite's are
/// `{code}${k}`, or its parts' when it has none of its own).
fn row_names(param: &Compiled) -> Vec<String> {
    if let Some(parts) = composite_parts(param.ty, &param.code) {
        return parts.iter().map(|p| (*p).to_owned()).collect();
    }
    if param.kind == SearchParamKind::Composite {
        (0..param.components.len())
            .map(|k| fhir_model::index::composite_component(&param.code, k))
            .collect()
    } else {
        vec![param.code.clone()]
    }
}

/// Replaces characters that would break a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[test]
fn every_search_parameter_extracts_over_the_official_examples() {
    let params = load_parameters();
    let examples = examples_by_type();

    // The index rows of every example, by example source, computed once.
    let rows: BTreeMap<&str, BTreeSet<String>> = examples
        .values()
        .flatten()
        .map(|ex| {
            let names = extract_index_values(&ex.resource)
                .into_iter()
                .map(|e| e.param)
                .collect();
            (ex.source.as_str(), names)
        })
        .collect();

    let loaded = params.len();
    let mut without_expression: Vec<String> = Vec::new();
    // Parameters with an expression whose type has no example: count per type.
    let mut no_examples: BTreeMap<&str, usize> = BTreeMap::new();
    let mut outcomes: Vec<(&Compiled, Outcome)> = Vec::new();
    for param in &params {
        let Some(expression) = &param.expression else {
            without_expression.push(format!("{}.{}", param.ty, param.code));
            continue;
        };
        let Some(exs) = examples.get(param.ty) else {
            *no_examples.entry(param.ty).or_default() += 1;
            continue;
        };
        let names = row_names(param);
        // A composite on its parts has rows when every part has.
        let every_part = composite_parts(param.ty, &param.code).is_some();
        let mut outcome = Outcome::default();
        for ex in exs {
            match evaluate(param, expression, &ex.resource, &mut outcome.shapes) {
                Err(e) => outcome.errors.push((ex.source.clone(), e)),
                Ok(yielded) => outcome.with_values += usize::from(yielded),
            }
            let has = |n: &String| {
                rows[ex.source.as_str()]
                    .iter()
                    .any(|r| r == n || r.starts_with(&format!("{n}:")))
            };
            let with_rows = if every_part {
                names.iter().all(has)
            } else {
                names.iter().any(has)
            };
            if with_rows {
                outcome.with_rows += 1;
            }
        }
        outcomes.push((param, outcome));
    }

    let applicable = outcomes.len();
    let erring: Vec<&(&Compiled, Outcome)> = outcomes
        .iter()
        .filter(|(_, o)| !o.errors.is_empty())
        .collect();
    let clean = applicable - erring.len();
    let yielding = outcomes.iter().filter(|(_, o)| o.with_values > 0).count();
    let summary = format!(
        "search parameters: {loaded} loaded, {applicable} applicable, {clean} evaluate without \
         error, {yielding} yield values"
    );
    println!("{summary}");

    let report = render_report(
        &summary,
        &examples,
        &outcomes,
        &without_expression,
        &no_examples,
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("SEARCH_PARAMETERS.md");
    std::fs::write(&path, report).unwrap_or_else(|e| panic!("{}: {e}", path.display()));

    // Every applicable parameter errs only if listed, and every listed one still errs.
    let errs: BTreeSet<(String, String)> = erring
        .iter()
        .map(|(p, _)| (p.ty.to_owned(), p.code.clone()))
        .collect();
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(t, c, _)| ((*t).to_owned(), (*c).to_owned()))
        .collect();
    let unexpected: Vec<String> = erring
        .iter()
        .filter(|(p, _)| !known.contains(&(p.ty.to_owned(), p.code.clone())))
        .map(|(p, o)| format!("{}.{}: {} ({})", p.ty, p.code, o.errors[0].1, o.errors[0].0))
        .collect();
    let stale: Vec<String> = known
        .difference(&errs)
        .map(|(t, c)| format!("{t}.{c}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "search parameters err on official examples:\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed in KNOWN but no longer err (remove them): {stale:?}"
    );

    // The totals, worked out independently from `search-parameters.json`,
    // `profiles-resources.json` and the fixtures: 146 concrete resource types (143 of them
    // DomainResources) have 3 008 (type, code) parameters — 8 `Resource` ones each, one
    // `DomainResource` one (`_text`) each, and the rest by base; 435 of them have no
    // expression (`_content`, `_query`, `_text`); the examples (467 files, 800 resources
    // counting Bundle entries) cover 58 types, whose parameters with an expression number
    // 1 105; the other 88 types have 1 468.
    assert_eq!(resource_types().len(), 146);
    assert_eq!(loaded, 3008);
    assert_eq!(without_expression.len(), 435);
    assert_eq!(examples.len(), 58, "resource types with examples");
    assert_eq!(examples.values().map(Vec::len).sum::<usize>(), 800);
    assert_eq!(applicable, 1105);
    assert_eq!(
        (no_examples.len(), no_examples.values().sum::<usize>()),
        (88, 1468)
    );
    assert_eq!(clean, applicable - KNOWN.len());
}

fn render_report(
    summary: &str,
    examples: &BTreeMap<String, Vec<Example>>,
    outcomes: &[(&Compiled, Outcome)],
    without_expression: &[String],
    no_examples: &BTreeMap<&str, usize>,
) -> String {
    use std::fmt::Write;
    let mut md = String::new();
    let example_count: usize = examples.values().map(Vec::len).sum();
    let _ = writeln!(
        md,
        "# Search-parameter extraction over the official R4 examples\n"
    );
    let _ = writeln!(
        md,
        "Generated by `cargo test -p fhir-model --test search_param_extraction` \
         (`fhir-model/tests/search_param_extraction.rs`); do not edit by hand.\n"
    );
    let _ = writeln!(
        md,
        "Every search parameter of every R4 resource type is loaded from \
         `definitions/search-parameters.json` (one per resource type and code, the common \
         `Resource`/`DomainResource` ones counted for each type), its FHIRPath expression \
         parsed and, for composites, its components resolved. Each parameter with an \
         expression whose type has at least one official example \
         (`fixtures/fhir-r4-examples`, {example_count} resources of {} types counting Bundle \
         entries) is *applicable* and is evaluated over every example of its type — for \
         composites, each component on each root item, as the indexer does. It *yields values* \
         when it gives at least one item on some example (a composite: a root item on which \
         every component gives one).\n",
        examples.len()
    );
    let _ = writeln!(md, "**{summary}**\n");
    let errs: Vec<&(&Compiled, Outcome)> = outcomes
        .iter()
        .filter(|(_, o)| !o.errors.is_empty())
        .collect();
    let _ = writeln!(md, "## Parameters that err\n");
    if errs.is_empty() {
        let _ = writeln!(
            md,
            "None: every applicable parameter evaluates without error.\n"
        );
    } else {
        let _ = writeln!(
            md,
            "| Parameter | Examples failing | First failing example | Error | Known reason |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|");
        for (p, o) in &errs {
            let reason = KNOWN
                .iter()
                .find(|(t, c, _)| *t == p.ty && *c == p.code)
                .map_or("(not listed)", |(_, _, r)| r);
            let _ = writeln!(
                md,
                "| `{}.{}` | {} of {} | {} | {} | {} |",
                p.ty,
                p.code,
                o.errors.len(),
                examples[p.ty].len(),
                cell(&o.errors[0].0),
                cell(&o.errors[0].1),
                cell(reason)
            );
        }
        let _ = writeln!(md);
    }

    let silent: Vec<&(&Compiled, Outcome)> = outcomes
        .iter()
        .filter(|(_, o)| o.errors.is_empty() && o.with_values == 0)
        .collect();
    let _ = writeln!(
        md,
        "## Applicable parameters that yield no value on any example ({})\n",
        silent.len()
    );
    let _ = writeln!(
        md,
        "They evaluate without error; the examples just do not carry the element (or, for a \
         composite, not every component on one item).\n"
    );
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (p, _) in &silent {
        by_type.entry(p.ty).or_default().push(&p.code);
    }
    for (ty, codes) in &by_type {
        let _ = writeln!(
            md,
            "- {ty} ({} examples): {}",
            examples[*ty].len(),
            fmt_codes(codes)
        );
    }
    let _ = writeln!(md);

    let unindexed: Vec<&(&Compiled, Outcome)> = outcomes
        .iter()
        .filter(|(_, o)| o.with_values > 0 && o.with_rows == 0)
        .collect();
    let _ = writeln!(
        md,
        "## Parameters that yield values but no index rows ({})\n",
        unindexed.len()
    );
    let _ = writeln!(
        md,
        "Their expression finds something on some example, yet `extract_index_values` \
         makes no row for it on any example (a value of a type the parameter's kind does \
         not normalise, or a parameter the indexer leaves out, such as `special` ones).\n"
    );
    if unindexed.is_empty() {
        let _ = writeln!(md, "None.\n");
    } else {
        let _ = writeln!(
            md,
            "| Parameter | Type | Examples with values | Values found |"
        );
        let _ = writeln!(md, "|---|---|---|---|");
        for (p, o) in &unindexed {
            let shapes: Vec<&str> = o.shapes.iter().map(String::as_str).collect();
            let _ = writeln!(
                md,
                "| `{}.{}` | {:?} | {} | {} |",
                p.ty,
                p.code,
                p.kind,
                o.with_values,
                shapes.join(", ")
            );
        }
        let _ = writeln!(md);
    }

    let total_no_examples: usize = no_examples.values().sum();
    let _ = writeln!(
        md,
        "## Parameters not applicable: no example of their type ({total_no_examples} in {} types)\n",
        no_examples.len()
    );
    let _ = writeln!(md, "Loaded and parsed, not evaluated. Per type:\n");
    let list: Vec<String> = no_examples
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    let _ = writeln!(md, "{}\n", list.join(", "));

    let _ = writeln!(
        md,
        "## Parameters without an expression ({})\n",
        without_expression.len()
    );
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for p in without_expression {
        let code = p.rsplit('.').next().unwrap_or(p);
        *codes.entry(code).or_default() += 1;
    }
    let list: Vec<String> = codes
        .iter()
        .map(|(c, n)| format!("`{c}` ({n} types)"))
        .collect();
    let _ = writeln!(
        md,
        "{}: the definitions give no FHIRPath for these (full-text and named-query \
         searches), so there is nothing to extract.",
        list.join(", ")
    );
    md
}

fn fmt_codes(codes: &[&str]) -> String {
    codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
