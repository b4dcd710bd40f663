//! The suite kinds, one file each. Every `load` turns pinned fixtures (or cases written
//! here from the spec) into [`crate::Case`]s; none reads the network.

pub mod examples;
pub mod fhirpath;
pub mod rest;
pub mod search;
pub mod smart;
pub mod transaction;

use std::path::{Path, PathBuf};

use crate::ConformanceError;

/// The files of `dir` ending in `ext`, sorted by name (so case order is stable).
pub(crate) fn files_with_ext(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, ConformanceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ConformanceError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| ConformanceError::io(dir, e))?.path();
        if path.extension().is_some_and(|x| x == ext) {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(ConformanceError::fixture(
            dir,
            format!("no .{ext} files: are the fixtures there?"),
        ));
    }
    Ok(files)
}

/// Reads a JSON fixture.
pub(crate) fn read_json(path: &Path) -> Result<serde_json::Value, ConformanceError> {
    let text = crate::error::read_text(path)?;
    serde_json::from_str(&text).map_err(|e| ConformanceError::fixture(path, e.to_string()))
}

/// The issue the search cases wait on.
pub const WAITS_ON_SEARCH: &str = "waits on issue 4 (search)";
/// The issue the SMART cases wait on.
pub const WAITS_ON_SMART: &str = "waits on issue 5 (SMART)";
