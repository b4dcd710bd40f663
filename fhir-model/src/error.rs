//! The one error type of `fhir-model`.

use crate::outcome::{Issue, IssueType};

/// Why content could not be parsed, validated or converted. Every variant carries issues
/// that name the problem and, where known, the element path.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not well-formed JSON or XML.
    #[error("malformed {format}: {message}")]
    Syntax {
        /// `JSON` or `XML`.
        format: &'static str,
        /// The parser's message (position, not content).
        message: String,
    },
    /// The content is well-formed but does not fit the R4 structures.
    #[error("{}", .0.first().map(ToString::to_string).unwrap_or_default())]
    Invalid(Vec<Issue>),
}

impl ModelError {
    /// The issues for an OperationOutcome.
    pub fn issues(&self) -> Vec<Issue> {
        match self {
            ModelError::Syntax { format, message } => {
                vec![Issue::error(
                    IssueType::Structure,
                    format!("Malformed {format}: {message}"),
                )]
            }
            ModelError::Invalid(issues) => issues.clone(),
        }
    }
}
