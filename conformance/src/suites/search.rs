//! `search`: [R4 search](https://hl7.org/fhir/R4/search.html) over a loaded data set, the
//! Synthea bulk export in `fixtures/synthea/synthea-bulk-ndjson-ktmtwm` (one patient with
//! her encounters, conditions and observations, all with fixed ids).
//!
//! The cases are data (`search_cases.toml`): a query, the ids it must match (as a set, or
//! in order for `_sort`), the ids it must include, and paging or total expectations, one
//! case per parameter type, modifier, prefix, chain, include, sort and paging rule. The
//! queries are scoped to the data set's own ids, so other data on the server does not
//! change their results.
//!
//! Search itself is issue 4. Every case runs: `_id`, token, reference, string, uri, date,
//! quantity, composite and `_lastUpdated` parameters with their prefixes; quantities
//! given in another unit of the same dimension (compared in canonical UCUM units);
//! composites whose parts must match within one component; the modifiers `:missing`,
//! `:not`, `:text`, `:contains`, `:exact`, `:[type]`, `:of-type` and `:identifier`;
//! system-level search with `_type`; chains, `_has`, `_include`, `_revinclude`, paging, `_sort`, `_total` and
//! `_summary=count`. A case marked `runs_now = false` would be reported as not run with
//! "waits on issue 4 (search)" (and run with `--run-pending`); none is today. Cases of
//! resources the batch Bundles create (server-assigned ids) check `Bundle.total` with
//! `_summary=count` instead of ids.
//!
//! The first case loads the data set (the Organization/Location/Practitioner batch
//! Bundles as they are, then one transaction that PUTs every resource by its id, which
//! also resolves the Encounters' conditional references); if it fails, the other cases
//! are not run, naming it.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::suites::{WAITS_ON_SEARCH, read_json};
use crate::{Case, Client, ConformanceError, Failure, HttpCase, Run, SuiteConfig};

/// The data set, under `fixtures/`.
pub const DATA_SET: &str = "synthea/synthea-bulk-ndjson-ktmtwm";
const BATCHES: &[&str] = &[
    "hospitalInformation1638153633548.json",
    "practitionerInformation1638153633548.json",
];
const RESOURCES: &[&str] = &[
    "Patient1.ndjson",
    "Encounter.ndjson",
    "Condition.ndjson",
    "Observation.ndjson",
];
/// How many pages a case follows at most.
const MAX_PAGES: usize = 50;

/// One search case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchCase {
    /// The case name (`search/<name>`).
    pub name: String,
    /// The rule it checks.
    pub about: String,
    /// `Type?params`, relative to the base.
    pub query: String,
    /// Whether it runs before issue 4.
    #[serde(default)]
    pub runs_now: bool,
    /// The `Type/id`s the search must match.
    pub matches: Vec<String>,
    /// Whether `matches` is in the required order.
    #[serde(default)]
    pub ordered: bool,
    /// The `Type/id`s the search must include (`search.mode = include`).
    #[serde(default)]
    pub includes: Vec<String>,
    /// The number of matches on the first page, with a `next` link.
    pub page_size: Option<usize>,
    /// The `Bundle.total` of the first page.
    pub total: Option<u64>,
}

#[derive(Deserialize)]
struct CaseFile {
    case: Vec<SearchCase>,
}

/// The cases of `search_cases.toml`.
pub fn search_cases() -> Result<Vec<SearchCase>, ConformanceError> {
    let file: CaseFile = toml::from_str(include_str!("search_cases.toml")).map_err(|e| {
        ConformanceError::fixture("conformance/src/suites/search_cases.toml", e.to_string())
    })?;
    Ok(file.case)
}

/// The load case, then one case per search case.
pub fn load(config: &SuiteConfig) -> Result<Vec<Case>, ConformanceError> {
    let dir = config.fixtures.join(DATA_SET);
    let mut batches = Vec::new();
    for name in BATCHES {
        batches.push(read_json(&dir.join(name))?);
    }
    let mut entries = Vec::new();
    for name in RESOURCES {
        let path = dir.join(name);
        let text = crate::error::read_text(&path)?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let r: Value = serde_json::from_str(line)
                .map_err(|e| ConformanceError::fixture(&path, e.to_string()))?;
            let url = format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            );
            entries.push(json!({"resource": r, "request": {"method": "PUT", "url": url}}));
        }
    }
    let transaction = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let data = Arc::new((batches, transaction));
    let mut cases = vec![
        Case::http("search/load-data-set", move |c| {
            let data = data.clone();
            Box::pin(async move { load_data(c, &data.0, &data.1).await })
        })
        .as_prerequisite(),
    ];
    for sc in search_cases()? {
        let id = format!("search/{}", sc.name);
        let runs_now = sc.runs_now;
        let sc = Arc::new(sc);
        let run: HttpCase = Box::new(move |c| {
            let sc = sc.clone();
            Box::pin(async move { check(c, &sc).await })
        });
        cases.push(Case {
            id,
            run: if runs_now {
                Run::Http(run)
            } else {
                Run::Pending {
                    reason: WAITS_ON_SEARCH.into(),
                    case: run,
                }
            },
            prerequisite: false,
        });
    }
    Ok(cases)
}

async fn load_data(c: &Client, batches: &[Value], transaction: &Value) -> Result<(), Failure> {
    for b in batches {
        let ex = c.post("", b).send().await?;
        ex.expect_status(&[200])?;
        let v = ex.resource("Bundle")?;
        let ok = v["entry"].as_array().is_some_and(|es| {
            es.iter().all(|e| {
                e["response"]["status"]
                    .as_str()
                    .is_some_and(|s| s.starts_with('2'))
            })
        });
        ex.ensure(ok, "every batch entry succeeds (2xx)")?;
    }
    let ex = c.post("", transaction).send().await?;
    ex.expect_status(&[200])?;
    ex.resource("Bundle").map(drop)
}

/// One page's matches and includes.
fn page_ids(b: &Value) -> (Vec<String>, Vec<String>) {
    let mut matches = Vec::new();
    let mut includes = Vec::new();
    for e in b["entry"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let r = &e["resource"];
        let key = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap_or("?"),
            r["id"].as_str().unwrap_or("?")
        );
        match e["search"]["mode"].as_str() {
            Some("include") => includes.push(key),
            Some("outcome") => {}
            _ => matches.push(key),
        }
    }
    (matches, includes)
}

fn next_link(b: &Value) -> Option<String> {
    b["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")?["url"]
        .as_str()
        .map(str::to_owned)
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() {
        "(none)".into()
    } else {
        ids.join("\n")
    }
}

/// Runs a search, following `next` links, and checks it.
pub async fn check(c: &Client, sc: &SearchCase) -> Result<(), Failure> {
    let first = c.get(&sc.query).send().await?;
    first.expect_status(&[200])?;
    first.expect_fhir_json()?;
    let b = first.resource("Bundle")?;
    first.ensure(b["type"] == "searchset", "a Bundle of type searchset")?;
    let (mut matches, mut includes) = page_ids(&b);
    if let Some(size) = sc.page_size {
        first.ensure(
            matches.len() == size && next_link(&b).is_some(),
            format!(
                "{size} matches on the first page, and a next link ({})",
                sc.about
            ),
        )?;
    }
    if let Some(total) = sc.total {
        first.ensure(
            b["total"].as_u64() == Some(total),
            format!("Bundle.total {total} ({})", sc.about),
        )?;
    }
    let mut next = next_link(&b);
    let mut pages = 1;
    while let Some(url) = next {
        pages += 1;
        let ex = c.get(&url).send().await?;
        ex.expect_status(&[200])?;
        if pages > MAX_PAGES {
            return Err(ex.fail(format!("at most {MAX_PAGES} pages")));
        }
        let b = ex.resource("Bundle")?;
        let (m, i) = page_ids(&b);
        matches.extend(m);
        includes.extend(i);
        next = next_link(&b);
    }
    let expected = || {
        let mut s = format!(
            "{}\nmatches{}:\n{}",
            sc.about,
            if sc.ordered { " in this order" } else { "" },
            list(&sc.matches)
        );
        if !sc.includes.is_empty() {
            s.push_str(&format!("\nincludes:\n{}", list(&sc.includes)));
        }
        s
    };
    let got_matches = if sc.ordered {
        matches == sc.matches
    } else {
        let dedup: BTreeSet<&String> = matches.iter().collect();
        dedup.len() == matches.len() && dedup == sc.matches.iter().collect()
    };
    let got_includes = includes.iter().collect::<BTreeSet<_>>() == sc.includes.iter().collect();
    if got_matches && got_includes {
        Ok(())
    } else {
        let mut actual = format!("matches ({pages} pages):\n{}", list(&matches));
        if !includes.is_empty() || !sc.includes.is_empty() {
            actual.push_str(&format!("\nincludes:\n{}", list(&includes)));
        }
        Err(Failure::new(first.request_text(), expected(), actual))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_cover_the_rules_and_reference_only_the_data_set() {
        let cases = search_cases().unwrap();
        let now: Vec<&str> = cases
            .iter()
            .filter(|c| c.runs_now)
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            now.iter().all(|n| [
                "id",
                "identifier",
                "token",
                "reference",
                "string",
                "date",
                "quantity",
                "composite",
                "system",
                "uri",
                "modifier-missing",
                "modifier-not",
                "modifier-type",
                "modifier-text",
                "last-updated",
                "include",
                "revinclude",
                "paging",
                "total",
                "summary-count",
                "chain",
                "reverse-chain",
                "sort",
            ]
            .iter()
            .any(|p| n.starts_with(p))),
            "{now:?}"
        );
        let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cases.len(), "names are unique");
        for rule in [
            "string",
            "date",
            "quantity",
            "uri",
            "composite",
            "composite-same-component",
            "composite-code-value-quantity",
            "quantity-ucum",
            "identifier-of-type",
            "reference-identifier",
            "modifier-missing",
            "modifier-not",
            "chain",
            "reverse-chain",
            "include",
            "revinclude",
            "sort",
            "paging",
            "summary-count",
        ] {
            assert!(
                cases.iter().any(|c| c.name.starts_with(rule)),
                "no case for {rule}"
            );
        }
        // Every expected id is a resource of the data set.
        let config = SuiteConfig {
            fixtures: SuiteConfig::default_fixtures(),
            body_limit: None,
            run_pending: false,
        };
        let dir = config.fixtures.join(DATA_SET);
        let mut ids = BTreeSet::new();
        for name in RESOURCES {
            for line in std::fs::read_to_string(dir.join(name)).unwrap().lines() {
                let r: Value = serde_json::from_str(line).unwrap();
                ids.insert(format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                ));
            }
        }
        for c in &cases {
            for id in c.matches.iter().chain(&c.includes) {
                assert!(ids.contains(id), "{}: {id} is not in the data set", c.name);
            }
        }
        let loaded = load(&config).unwrap();
        assert_eq!(loaded.len(), cases.len() + 1);
        assert!(loaded[0].prerequisite);
    }

    #[test]
    fn page_ids_split_matches_and_includes() {
        let b = json!({"entry": [
            {"resource": {"resourceType": "Observation", "id": "a"}, "search": {"mode": "match"}},
            {"resource": {"resourceType": "Patient", "id": "p"}, "search": {"mode": "include"}},
            {"resource": {"resourceType": "Observation", "id": "b"}},
            {"resource": {"resourceType": "OperationOutcome", "id": "o"}, "search": {"mode": "outcome"}}
        ], "link": [{"relation": "next", "url": "http://x/next"}]});
        let (m, i) = page_ids(&b);
        assert_eq!(m, ["Observation/a", "Observation/b"]);
        assert_eq!(i, ["Patient/p"]);
        assert_eq!(next_link(&b).as_deref(), Some("http://x/next"));
    }
}
