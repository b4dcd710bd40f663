//! Suite results and the report writers: the terminal table, JSON, JUnit XML, and the
//! table of `conformance/REPORT.md` that the test run regenerates.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::known::KnownFailure;
use crate::{Failure, KnownFailures, Outcome};

/// A case's result after the known failures are applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// Met every expectation.
    Passed,
    /// Failed and is not listed: fails the run.
    Failed {
        /// What was expected and seen.
        failure: Failure,
    },
    /// Failed and is listed in `known-failures.toml`.
    KnownFailure {
        /// What was expected and seen.
        failure: Failure,
        /// The listed entry.
        known: KnownFailure,
    },
    /// Passed although listed as a known failure: fails the run until it is taken off.
    UnexpectedPass {
        /// The stale entry.
        known: KnownFailure,
    },
    /// Did not run.
    NotRun {
        /// Why.
        reason: String,
    },
}

impl Verdict {
    fn of(outcome: Outcome, known: Option<&KnownFailure>) -> Verdict {
        match (outcome, known) {
            (Outcome::Passed, None) => Verdict::Passed,
            (Outcome::Passed, Some(k)) => Verdict::UnexpectedPass { known: k.clone() },
            (Outcome::Failed(failure), None) => Verdict::Failed { failure },
            (Outcome::Failed(failure), Some(k)) => Verdict::KnownFailure {
                failure,
                known: k.clone(),
            },
            (Outcome::NotRun(reason), _) => Verdict::NotRun { reason },
        }
    }

    /// Whether this verdict fails the run.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Verdict::Failed { .. } | Verdict::UnexpectedPass { .. }
        )
    }
}

/// One case's report.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// `suite/name`.
    pub id: String,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Wall time in milliseconds.
    pub millis: u128,
}

/// Case counts of a suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// All cases.
    pub cases: usize,
    /// Passed.
    pub passed: usize,
    /// Failed, not listed, or listed but passed: these fail the run.
    pub failed: usize,
    /// Failed as listed in `known-failures.toml`.
    pub known_failures: usize,
    /// Did not run (each with its reason).
    pub not_run: usize,
}

/// One suite's report.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// The suite name.
    pub suite: String,
    /// The counts.
    pub counts: Counts,
    /// Every case.
    pub cases: Vec<CaseReport>,
    /// Known-failure entries of this suite that name no case: they fail the run.
    pub stale_entries: Vec<KnownFailure>,
}

impl SuiteReport {
    /// Builds the report of `suite` from raw outcomes, applying `known`.
    pub fn new(
        suite: &str,
        outcomes: Vec<(String, Outcome, Duration)>,
        known: &KnownFailures,
    ) -> SuiteReport {
        let cases: Vec<CaseReport> = outcomes
            .into_iter()
            .map(|(id, outcome, took)| {
                let verdict = Verdict::of(outcome, known.get(&id));
                CaseReport {
                    id,
                    verdict,
                    millis: took.as_millis(),
                }
            })
            .collect();
        let stale_entries = known
            .of_suite(suite)
            .filter(|k| !cases.iter().any(|c| c.id == k.case))
            .cloned()
            .collect();
        let mut counts = Counts {
            cases: cases.len(),
            ..Counts::default()
        };
        for c in &cases {
            match c.verdict {
                Verdict::Passed => counts.passed += 1,
                Verdict::Failed { .. } | Verdict::UnexpectedPass { .. } => counts.failed += 1,
                Verdict::KnownFailure { .. } => counts.known_failures += 1,
                Verdict::NotRun { .. } => counts.not_run += 1,
            }
        }
        SuiteReport {
            suite: suite.to_owned(),
            counts,
            cases,
            stale_entries,
        }
    }

    /// Whether the suite passes: no failures, no unexpected passes, no stale entries.
    pub fn is_ok(&self) -> bool {
        self.counts.failed == 0 && self.stale_entries.is_empty()
    }

    /// Not-run and known-failure reasons with how many cases each covers, in order.
    pub fn reasons(&self) -> Vec<(String, usize)> {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for c in &self.cases {
            let reason = match &c.verdict {
                Verdict::NotRun { reason } => format!("not run: {reason}"),
                Verdict::KnownFailure { known, .. } => {
                    format!(
                        "known failure (waits on {}): {}",
                        known.waits_on, known.reason
                    )
                }
                _ => continue,
            };
            *by.entry(reason).or_default() += 1;
        }
        by.into_iter().collect()
    }

    /// The suite's result for a terminal: counts, reasons, then every failure with its
    /// request, expectation and outcome.
    pub fn to_text(&self) -> String {
        let c = self.counts;
        let mut s = format!(
            "suite {}: {} cases, {} passed, {} failed, {} known failures, {} not run\n",
            self.suite, c.cases, c.passed, c.failed, c.known_failures, c.not_run
        );
        for (reason, n) in self.reasons() {
            let _ = writeln!(s, "  {n:>4} × {reason}");
        }
        for k in &self.stale_entries {
            let _ = writeln!(s, "  STALE known-failures entry (no such case): {}", k.case);
        }
        for case in &self.cases {
            match &case.verdict {
                Verdict::Failed { failure } => {
                    let _ = write!(s, "\nFAILED {}\n{}", case.id, indent_failure(failure));
                }
                Verdict::UnexpectedPass { known } => {
                    let _ = writeln!(
                        s,
                        "\nPASSED BUT LISTED AS KNOWN FAILURE {} (waits on {}): take it off known-failures.toml",
                        case.id, known.waits_on
                    );
                }
                _ => {}
            }
        }
        s
    }

    /// The failed cases' ids and actual outcomes (for `known::suggest_entries`).
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.cases.iter().filter_map(|c| match &c.verdict {
            Verdict::Failed { failure } => Some((c.id.as_str(), failure.actual.as_str())),
            _ => None,
        })
    }
}

fn indent_failure(f: &Failure) -> String {
    let ind = |t: &str| {
        t.lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    };
    format!(
        "  request:\n{}  expected:\n{}  actual:\n{}",
        ind(&f.request),
        ind(&f.expected),
        ind(&f.actual)
    )
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The server's base URL.
    pub base_url: String,
    /// One report per suite run.
    pub suites: Vec<SuiteReport>,
    /// Options the kit accepted but does not support yet, with the reason.
    pub unsupported_options: Vec<String>,
}

impl Report {
    /// Whether every suite passed.
    pub fn is_ok(&self) -> bool {
        self.suites.iter().all(SuiteReport::is_ok)
    }

    /// The summary table for a terminal.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<12} {:>6} {:>7} {:>7} {:>6} {:>8}\n",
            "suite", "cases", "passed", "failed", "known", "not run"
        );
        for r in &self.suites {
            let c = r.counts;
            let _ = writeln!(
                s,
                "{:<12} {:>6} {:>7} {:>7} {:>6} {:>8}",
                r.suite, c.cases, c.passed, c.failed, c.known_failures, c.not_run
            );
        }
        s
    }

    /// The JSON report.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The JUnit XML report: one `testsuite` per suite, known failures and not-run cases
    /// as `skipped` with their reason.
    pub fn to_junit(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
        for r in &self.suites {
            let c = r.counts;
            let _ = writeln!(
                s,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
                xml_escape(&r.suite),
                c.cases,
                c.failed,
                c.known_failures + c.not_run
            );
            for case in &r.cases {
                let _ = write!(
                    s,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                    xml_escape(&r.suite),
                    xml_escape(&case.id),
                    case.millis as f64 / 1000.0
                );
                match &case.verdict {
                    Verdict::Passed => s.push_str("/>\n"),
                    Verdict::Failed { failure } => {
                        let _ = write!(
                            s,
                            ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                            xml_escape(first_line(&failure.expected)),
                            xml_escape(&indent_failure(failure))
                        );
                    }
                    Verdict::UnexpectedPass { known } => {
                        let _ = write!(
                            s,
                            ">\n      <failure message=\"passed but listed as a known failure ({})\"/>\n    </testcase>\n",
                            xml_escape(&known.waits_on)
                        );
                    }
                    Verdict::KnownFailure { known, .. } => {
                        let _ = write!(
                            s,
                            ">\n      <skipped message=\"known failure, waits on {}: {}\"/>\n    </testcase>\n",
                            xml_escape(&known.waits_on),
                            xml_escape(&known.reason)
                        );
                    }
                    Verdict::NotRun { reason } => {
                        let _ = write!(
                            s,
                            ">\n      <skipped message=\"not run: {}\"/>\n    </testcase>\n",
                            xml_escape(reason)
                        );
                    }
                }
            }
            s.push_str("  </testsuite>\n");
        }
        s.push_str("</testsuites>\n");
        s
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The head of `REPORT.md`, above the table.
const REPORT_HEAD: &str = "# Conformance report\n\n\
Results of `cargo test -p conformance` (the embedded server on SQLite), regenerated by each \
suite's test. Known failures are listed with their reasons in \
[`known-failures.toml`](known-failures.toml); not-run cases carry their reason in the suite.\n\n";

const TABLE_HEAD: &str = "| suite | cases | passed | failed | known failures | not run |\n\
|---|---:|---:|---:|---:|---:|\n";

/// `REPORT.md` with `suite`'s row and reasons replaced (other suites' rows are kept, so
/// each suite's test can update its own part). Rows follow the registry order.
pub fn update_report_md(existing: &str, suite: &SuiteReport) -> String {
    let mut rows: BTreeMap<String, (String, String)> = BTreeMap::new();
    // Parse the rows and per-suite reason blocks of the existing file.
    for line in existing.lines() {
        if let Some(name) = table_row_suite(line) {
            rows.insert(name.to_owned(), (line.to_owned(), String::new()));
        }
    }
    let mut current: Option<String> = None;
    for line in existing.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            current = rows
                .contains_key(name.trim())
                .then(|| name.trim().to_owned());
            continue;
        }
        if let Some(name) = &current
            && let Some(entry) = rows.get_mut(name)
        {
            entry.1.push_str(line);
            entry.1.push('\n');
        }
    }
    let c = suite.counts;
    let row = format!(
        "| {} | {} | {} | {} | {} | {} |",
        suite.suite, c.cases, c.passed, c.failed, c.known_failures, c.not_run
    );
    let mut reasons = String::new();
    for (reason, n) in suite.reasons() {
        let _ = writeln!(reasons, "- {n} × {reason}");
    }
    if reasons.is_empty() {
        reasons.push_str("- every case runs and none is a known failure\n");
    }
    reasons.push('\n');
    rows.insert(suite.suite.clone(), (row, reasons));

    let order = |name: &str| {
        crate::SUITES
            .iter()
            .position(|s| s.name == name)
            .unwrap_or(usize::MAX)
    };
    let mut names: Vec<&String> = rows.keys().collect();
    names.sort_by_key(|n| (order(n), (*n).clone()));

    let mut out = String::from(REPORT_HEAD);
    out.push_str(TABLE_HEAD);
    for n in &names {
        out.push_str(&rows[*n].0);
        out.push('\n');
    }
    out.push_str("\n## Not run and known failures, by reason\n\n");
    for n in &names {
        let _ = write!(out, "### {n}\n\n{}", rows[*n].1.trim_start_matches('\n'));
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// `text` (the README) with the table row of `suite` replaced by its current counts; the
/// README carries the same summary table as `REPORT.md`. Returns `None` when `text` has
/// no row for the suite.
pub fn update_table_row(text: &str, suite: &SuiteReport) -> Option<String> {
    let c = suite.counts;
    let row = format!(
        "| {} | {} | {} | {} | {} | {} |",
        suite.suite, c.cases, c.passed, c.failed, c.known_failures, c.not_run
    );
    let mut found = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if table_row_suite(line.trim_end()) == Some(suite.suite.as_str()) {
            found = true;
            out.push_str(&row);
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    found.then_some(out)
}

fn table_row_suite(line: &str) -> Option<&str> {
    let name = line.strip_prefix("| ")?.split(" |").next()?.trim();
    (crate::suite(name).is_some()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(known: &KnownFailures) -> SuiteReport {
        let f = Failure::new("GET x", "status 200", "HTTP 404");
        SuiteReport::new(
            "rest",
            vec![
                ("rest/a".into(), Outcome::Passed, Duration::ZERO),
                ("rest/b".into(), Outcome::Failed(f.clone()), Duration::ZERO),
                ("rest/c".into(), Outcome::Failed(f), Duration::ZERO),
                (
                    "rest/d".into(),
                    Outcome::NotRun("waits on issue 4 (search)".into()),
                    Duration::ZERO,
                ),
                ("rest/e".into(), Outcome::Passed, Duration::ZERO),
            ],
            known,
        )
    }

    fn known() -> KnownFailures {
        KnownFailures::parse(
            "[[failure]]\ncase = \"rest/b\"\nreason = \"r\"\nwaits_on = \"issue 9\"\n\
             [[failure]]\ncase = \"rest/e\"\nreason = \"r\"\nwaits_on = \"issue 9\"\n\
             [[failure]]\ncase = \"rest/gone\"\nreason = \"r\"\nwaits_on = \"issue 9\"\n",
        )
        .unwrap()
    }

    #[test]
    fn known_failures_are_applied_and_unexpected_passes_and_stale_entries_fail() {
        let r = sample(&known());
        assert_eq!(
            r.counts,
            Counts {
                cases: 5,
                passed: 1,
                failed: 2,
                known_failures: 1,
                not_run: 1
            }
        );
        assert!(matches!(r.cases[4].verdict, Verdict::UnexpectedPass { .. }));
        assert_eq!(r.stale_entries.len(), 1);
        assert!(!r.is_ok());
        let text = r.to_text();
        assert!(
            text.contains("FAILED rest/c") && text.contains("take it off"),
            "{text}"
        );
        assert!(text.contains("STALE known-failures entry (no such case): rest/gone"));

        let clean = SuiteReport::new(
            "rest",
            vec![("rest/a".into(), Outcome::Passed, Duration::ZERO)],
            &KnownFailures::none(),
        );
        assert!(clean.is_ok());
    }

    #[test]
    fn junit_and_json_carry_every_case() {
        let report = Report {
            base_url: "http://x".into(),
            suites: vec![sample(&known())],
            unsupported_options: vec![],
        };
        let junit = report.to_junit();
        assert!(
            junit.contains(r#"<testsuite name="rest" tests="5" failures="2" skipped="2">"#),
            "{junit}"
        );
        assert!(junit.contains("not run: waits on issue 4 (search)"));
        assert_eq!(junit.matches("<testcase ").count(), 5);
        let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        assert_eq!(json["suites"][0]["cases"][1]["status"], "known_failure");
        assert_eq!(json["suites"][0]["counts"]["not_run"], 1);
        assert!(report.table().contains("rest"));
    }

    #[test]
    fn report_md_keeps_other_suites_and_replaces_this_one() {
        let first = update_report_md("", &sample(&KnownFailures::none()));
        assert!(first.contains("| rest | 5 | 2 | 2 | 0 | 1 |"), "{first}");
        let smart = SuiteReport::new(
            "smart",
            vec![(
                "smart/x".into(),
                Outcome::NotRun("waits on issue 5 (SMART)".into()),
                Duration::ZERO,
            )],
            &KnownFailures::none(),
        );
        let second = update_report_md(&first, &smart);
        let third = update_report_md(&second, &sample(&known()));
        assert!(third.contains("| smart | 1 | 0 | 0 | 0 | 1 |"), "{third}");
        assert!(third.contains("| rest | 5 | 1 | 2 | 1 | 1 |"), "{third}");
        assert!(!third.contains("| rest | 5 | 2 |"), "{third}");
        assert!(third.find("| rest").unwrap() < third.find("| smart").unwrap());
        assert!(
            third.contains("### smart\n\n- 1 × not run: waits on issue 5 (SMART)"),
            "{third}"
        );
        // Regenerating with the same result changes nothing.
        assert_eq!(update_report_md(&third, &sample(&known())), third);
    }
}
