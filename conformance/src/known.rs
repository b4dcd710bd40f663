//! The one list of known failures: `conformance/known-failures.toml`.
//!
//! Every entry names a case, why it fails and the issue it waits on. A listed case that
//! fails is reported as a known failure; a listed case that passes fails the run (take it
//! off the list); an entry naming a case that no longer exists fails the run too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ConformanceError;
use crate::error::read_text;

/// One listed known failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFailure {
    /// The case id, `suite/name`.
    pub case: String,
    /// Why it fails today.
    pub reason: String,
    /// The issue that will fix it, e.g. `issue 5 (SMART)`.
    pub waits_on: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    failure: Vec<KnownFailure>,
}

/// The known failures, by case id.
#[derive(Debug, Clone, Default)]
pub struct KnownFailures {
    by_case: BTreeMap<String, KnownFailure>,
}

impl KnownFailures {
    /// No known failures (what the CLI uses against a foreign server by default).
    pub fn none() -> KnownFailures {
        KnownFailures::default()
    }

    /// `conformance/known-failures.toml` of this checkout.
    pub fn default_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("known-failures.toml")
    }

    /// Reads a known-failures file.
    pub fn load(path: &Path) -> Result<KnownFailures, ConformanceError> {
        KnownFailures::parse(&read_text(path)?)
    }

    /// Parses the TOML text: `[[failure]]` tables with `case`, `reason` and `waits_on`,
    /// none empty, no case twice.
    pub fn parse(text: &str) -> Result<KnownFailures, ConformanceError> {
        let file: File =
            toml::from_str(text).map_err(|e| ConformanceError::KnownFailures(e.to_string()))?;
        let mut by_case = BTreeMap::new();
        for f in file.failure {
            if f.reason.trim().is_empty() || f.waits_on.trim().is_empty() {
                return Err(ConformanceError::KnownFailures(format!(
                    "{}: every entry needs a reason and the issue it waits on",
                    f.case
                )));
            }
            if let Some(dup) = by_case.insert(f.case.clone(), f) {
                return Err(ConformanceError::KnownFailures(format!(
                    "{} is listed twice",
                    dup.case
                )));
            }
        }
        Ok(KnownFailures { by_case })
    }

    /// The entry for `case`.
    pub fn get(&self, case: &str) -> Option<&KnownFailure> {
        self.by_case.get(case)
    }

    /// The entries of one suite.
    pub fn of_suite<'a>(&'a self, suite: &'a str) -> impl Iterator<Item = &'a KnownFailure> + 'a {
        let prefix = format!("{suite}/");
        self.by_case
            .values()
            .filter(move |f| f.case.starts_with(&prefix))
    }
}

/// TOML entries for `failures` (case id, actual outcome), ready to paste into the file
/// once each has a real reason: printed when a run has unexpected failures.
pub fn suggest_entries<'a>(failures: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (case, actual) in failures {
        let first = actual.lines().next().unwrap_or_default().replace('"', "'");
        out.push_str(&format!(
            "[[failure]]\ncase = \"{case}\"\nreason = \"FILL IN (saw: {first})\"\nwaits_on = \"FILL IN\"\n\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_rejects_duplicates_and_empty_reasons() {
        let ok = "[[failure]]\ncase = \"smart/discovery\"\nreason = \"no endpoint\"\nwaits_on = \"issue 5 (SMART)\"\n";
        let k = KnownFailures::parse(ok).unwrap();
        assert_eq!(
            k.get("smart/discovery").unwrap().waits_on,
            "issue 5 (SMART)"
        );
        assert_eq!(k.of_suite("smart").count(), 1);
        assert_eq!(k.of_suite("sma").count(), 0);

        let twice = format!("{ok}{ok}");
        assert!(
            KnownFailures::parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let empty = "[[failure]]\ncase = \"a/b\"\nreason = \" \"\nwaits_on = \"x\"\n";
        assert!(KnownFailures::parse(empty).is_err());
        let unknown_key =
            "[[failure]]\ncase = \"a/b\"\nreason = \"r\"\nwaits_on = \"x\"\nwhy = 1\n";
        assert!(KnownFailures::parse(unknown_key).is_err());
    }

    #[test]
    fn the_checked_in_file_parses() {
        KnownFailures::load(&KnownFailures::default_path()).unwrap();
    }
}
