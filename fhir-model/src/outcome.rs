//! Issues and [OperationOutcome](https://hl7.org/fhir/R4/operationoutcome.html): the one
//! shape every HealthOS error and warning takes, whichever crate finds it.

use serde_json::{Value, json};

/// [IssueSeverity](https://hl7.org/fhir/R4/valueset-issue-severity.html).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The operation failed and the system is in an unknown state.
    Fatal,
    /// The operation failed.
    Error,
    /// The operation succeeded but something is noteworthy.
    Warning,
    /// For information only.
    Information,
}

impl Severity {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// [IssueType](https://hl7.org/fhir/R4/valueset-issue-type.html) codes HealthOS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueType {
    /// Content is invalid against the specification or a profile.
    Invalid,
    /// A structural issue: syntax, unknown or misplaced element.
    Structure,
    /// A required element is missing.
    Required,
    /// An element or header value is invalid.
    Value,
    /// A content validation rule failed.
    Invariant,
    /// The client needs to log in or lacks permission.
    Security,
    /// The client must authenticate first (no or an unusable access token).
    Login,
    /// The user may not do this.
    Forbidden,
    /// Processing issues.
    Processing,
    /// Not supported by this server.
    NotSupported,
    /// Duplicate would be created.
    Duplicate,
    /// More than one match for a conditional operation.
    MultipleMatches,
    /// The reference could not be found.
    NotFound,
    /// The resource was deleted.
    Deleted,
    /// Content too long (size limits).
    TooLong,
    /// An edit-version conflict.
    Conflict,
    /// An exception in the server.
    Exception,
    /// Informational note.
    Informational,
    /// Too costly (e.g. nesting too deep).
    TooCostly,
}

impl IssueType {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::Invariant => "invariant",
            IssueType::Security => "security",
            IssueType::Login => "login",
            IssueType::Forbidden => "forbidden",
            IssueType::Processing => "processing",
            IssueType::NotSupported => "not-supported",
            IssueType::Duplicate => "duplicate",
            IssueType::MultipleMatches => "multiple-matches",
            IssueType::NotFound => "not-found",
            IssueType::Deleted => "deleted",
            IssueType::TooLong => "too-long",
            IssueType::Conflict => "conflict",
            IssueType::Exception => "exception",
            IssueType::Informational => "informational",
            IssueType::TooCostly => "too-costly",
        }
    }
}

/// One problem (or note) found in content or in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem.
    pub code: IssueType,
    /// A sentence for a person. Never contains resource content (it may be logged).
    pub diagnostics: String,
    /// The FHIRPath of the element concerned, e.g. `Observation.component[1].code`.
    pub expression: Option<String>,
}

impl Issue {
    /// An error issue.
    pub fn error(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Error,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    /// A warning issue.
    pub fn warning(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Warning,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    /// An information issue.
    pub fn information(code: IssueType, diagnostics: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Information,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    /// The same issue, located at an element path.
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression = Some(expression.into());
        self
    }

    /// This issue as an `OperationOutcome.issue` entry.
    pub fn to_json(&self) -> Value {
        let mut issue = json!({
            "severity": self.severity.code(),
            "code": self.code.code(),
            "diagnostics": self.diagnostics,
        });
        if let Some(expr) = &self.expression {
            issue["expression"] = json!([expr]);
        }
        issue
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.expression {
            Some(e) => write!(f, "{} (at {e})", self.diagnostics),
            None => f.write_str(&self.diagnostics),
        }
    }
}

/// Builds an OperationOutcome resource from issues.
///
/// ```
/// use fhir_model::outcome::{operation_outcome, Issue, IssueType};
/// let oo = operation_outcome(&[Issue::error(IssueType::Required, "status is required").at("Observation.status")]);
/// assert_eq!(oo["resourceType"], "OperationOutcome");
/// assert_eq!(oo["issue"][0]["code"], "required");
/// assert_eq!(oo["issue"][0]["expression"][0], "Observation.status");
/// ```
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let issues: Vec<Value> = if issues.is_empty() {
        vec![Issue::information(IssueType::Informational, "All OK").to_json()]
    } else {
        issues.iter().map(Issue::to_json).collect()
    };
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}
