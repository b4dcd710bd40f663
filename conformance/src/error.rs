//! The one error type of the kit's library: what stops a suite from being loaded or a
//! report from being written. A case that fails is not an error: it is a [`crate::Failure`].

use std::path::PathBuf;

/// Why the kit could not load a suite, read the known failures or write a report.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// A fixture or kit file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A pinned fixture is not in the shape the suite expects.
    #[error("{path}: {message}")]
    Fixture {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `known-failures.toml` does not parse or lists a case twice.
    #[error("known failures: {0}")]
    KnownFailures(String),
    /// The HTTP client could not be built (e.g. an `https` URL without the `https` feature).
    #[error("HTTP client: {0}")]
    Client(String),
    /// A report could not be serialized.
    #[error("report: {0}")]
    Report(#[from] serde_json::Error),
}

impl ConformanceError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ConformanceError {
        ConformanceError::Io {
            path: path.into(),
            source,
        }
    }

    /// A fixture that does not fit.
    pub fn fixture(path: impl Into<PathBuf>, message: impl Into<String>) -> ConformanceError {
        ConformanceError::Fixture {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Reads a kit or fixture file as text.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, ConformanceError> {
    std::fs::read_to_string(path).map_err(|e| ConformanceError::io(path, e))
}
