//! # conformance
//!
//! The HealthOS conformance kit: pinned official FHIR R4 suites, run against any FHIR
//! server over HTTP (and, for FHIRPath, against the in-process engine), with a report.
//!
//! Why it looks like this (after oxigraph's `testsuite/`):
//! - **Suites are pinned**: every input comes from the repository's `fixtures/` folder
//!   (each with a `SOURCE.md`); nothing is fetched at run time, so a run is reproducible.
//! - **A registry of suite kinds** ([`SUITES`]): each kind has its own handler in
//!   `src/suites/` that turns its fixtures into [`Case`]s.
//! - **Nothing skips silently**: a case that cannot run today is a [`Run::NotRun`] with
//!   its reason, and a case that is expected to fail is listed, with its reason and the
//!   issue it waits on, in the one `known-failures.toml` ([`KnownFailures`]). A listed
//!   case that passes fails the run, so the list never goes stale.
//! - **It only speaks HTTP**: the kit never links the server, so the same suites run
//!   against HealthOS, HAPI or any other R4 server. The `fhir-server` crate is only a
//!   dev-dependency of the integration tests, which start it embedded.

pub mod client;
pub mod compare;
pub mod error;
pub mod known;
pub mod report;
pub mod suites;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Instant;

use serde::Serialize;

pub use client::{Client, ClientConfig, Exchange};
pub use error::ConformanceError;
pub use known::{KnownFailure, KnownFailures};
pub use report::{Counts, Report, SuiteReport};

/// What a case expected and what it got, with the request that showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The request (method, URL, headers, body excerpt) or the input that was evaluated.
    pub request: String,
    /// What the specification requires.
    pub expected: String,
    /// What happened (status, headers, body excerpt, or the engine's result).
    pub actual: String,
}

impl Failure {
    /// A failure not tied to one HTTP exchange (local evaluation, kit-side set-up).
    pub fn new(
        request: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Failure {
        Failure {
            request: request.into(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

/// The result of one case before known failures are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The case ran and met every expectation.
    Passed,
    /// The case ran and an expectation was not met.
    Failed(Failure),
    /// The case did not run; the reason says why and, where it applies, which issue it
    /// waits on.
    NotRun(String),
}

/// A boxed future of an HTTP case.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// An HTTP case: a function of the client.
pub type HttpCase = Box<dyn for<'a> Fn(&'a Client) -> CaseFuture<'a> + Send + Sync>;

/// An in-process case (the FHIRPath suite runs against `fhir_model::fhirpath`).
pub type LocalCase = Box<dyn Fn() -> Result<(), Failure> + Send + Sync>;

/// How a case runs.
pub enum Run {
    /// Against the server, through [`Client`].
    Http(HttpCase),
    /// In this process, without the server.
    Local(LocalCase),
    /// Not at all, for the reason given (e.g. "waits on issue 4 (search)").
    NotRun(String),
    /// Written, but waiting on a later issue: reported as not run with the reason unless
    /// [`SuiteConfig::run_pending`] asks to run it anyway (to see how far an
    /// implementation has come).
    Pending {
        /// Why it does not run by default.
        reason: String,
        /// The case itself.
        case: HttpCase,
    },
}

/// One conformance case.
pub struct Case {
    /// `suite/name`, unique across all suites; the key of `known-failures.toml`.
    pub id: String,
    /// How it runs.
    pub run: Run,
    /// When a prerequisite case fails (e.g. loading the search data set), the cases after
    /// it in the suite are reported as not run, naming it.
    pub prerequisite: bool,
}

impl Case {
    /// A case against the server.
    pub fn http<F>(id: impl Into<String>, f: F) -> Case
    where
        F: for<'a> Fn(&'a Client) -> CaseFuture<'a> + Send + Sync + 'static,
    {
        Case {
            id: id.into(),
            run: Run::Http(Box::new(f)),
            prerequisite: false,
        }
    }

    /// An in-process case.
    pub fn local<F>(id: impl Into<String>, f: F) -> Case
    where
        F: Fn() -> Result<(), Failure> + Send + Sync + 'static,
    {
        Case {
            id: id.into(),
            run: Run::Local(Box::new(f)),
            prerequisite: false,
        }
    }

    /// A case that does not run, with the reason.
    pub fn not_run(id: impl Into<String>, reason: impl Into<String>) -> Case {
        Case {
            id: id.into(),
            run: Run::NotRun(reason.into()),
            prerequisite: false,
        }
    }

    /// A written case that waits on a later issue.
    pub fn pending<F>(id: impl Into<String>, reason: impl Into<String>, f: F) -> Case
    where
        F: for<'a> Fn(&'a Client) -> CaseFuture<'a> + Send + Sync + 'static,
    {
        Case {
            id: id.into(),
            run: Run::Pending {
                reason: reason.into(),
                case: Box::new(f),
            },
            prerequisite: false,
        }
    }

    /// Marks the case as a prerequisite of the cases after it.
    pub fn as_prerequisite(mut self) -> Case {
        self.prerequisite = true;
        self
    }
}

/// What the suites need besides the client: where the fixtures are and what the kit may
/// assume of the server.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// The repository's `fixtures/` folder.
    pub fixtures: PathBuf,
    /// The server's request-body limit in bytes, when known: the `rest` suite sends one
    /// byte more and expects 413. Unknown limits make that case not run, with the reason.
    pub body_limit: Option<usize>,
    /// Also run the cases that wait on a later issue.
    pub run_pending: bool,
}

impl SuiteConfig {
    /// The fixtures of this checkout (`<repo>/fixtures`), found from the crate's folder at
    /// compile time.
    pub fn default_fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("fixtures")
    }
}

/// One registered suite kind.
pub struct SuiteDef {
    /// The name used by `--suite` and as the case-id prefix.
    pub name: &'static str,
    /// One line on what it checks.
    pub about: &'static str,
    /// Turns the fixtures into cases.
    pub load: fn(&SuiteConfig) -> Result<Vec<Case>, ConformanceError>,
}

/// The registry of suite kinds, in report order.
pub const SUITES: &[SuiteDef] = &[
    SuiteDef {
        name: "examples",
        about: "every official R4 example: create, read back, compare, in JSON and XML",
        load: suites::examples::load,
    },
    SuiteDef {
        name: "fhirpath",
        about: "the official FHIRPath R4 suite against fhir_model::fhirpath (in-process)",
        load: suites::fhirpath::load,
    },
    SuiteDef {
        name: "rest",
        about: "the interactions of R4 http.html, positive and negative",
        load: suites::rest::load,
    },
    SuiteDef {
        name: "search",
        about: "search over the Synthea data set, expected ids written from the spec",
        load: suites::search::load,
    },
    SuiteDef {
        name: "transaction",
        about: "transaction and batch Bundles: atomicity, ordering, references, responses",
        load: suites::transaction::load,
    },
    SuiteDef {
        name: "smart",
        about: "SMART App Launch: discovery, launch, scopes",
        load: suites::smart::load,
    },
];

/// The registered suite of that name.
pub fn suite(name: &str) -> Option<&'static SuiteDef> {
    SUITES.iter().find(|s| s.name == name)
}

/// Loads and runs one suite, case after case (the cases share the server, so they do
/// not run concurrently), and applies the known failures.
pub async fn run_suite(
    def: &SuiteDef,
    config: &SuiteConfig,
    client: &Client,
    known: &KnownFailures,
) -> Result<SuiteReport, ConformanceError> {
    let cases = (def.load)(config)?;
    let mut results = Vec::with_capacity(cases.len());
    let mut blocked_by: Option<String> = None;
    for case in cases {
        let started = Instant::now();
        let outcome = match (&blocked_by, &case.run) {
            (Some(prereq), _) => Outcome::NotRun(format!("prerequisite {prereq} failed")),
            (None, Run::NotRun(reason)) => Outcome::NotRun(reason.clone()),
            (None, Run::Pending { reason, .. }) if !config.run_pending => {
                Outcome::NotRun(reason.clone())
            }
            (None, Run::Pending { case: f, .. }) | (None, Run::Http(f)) => {
                outcome_of(run_http(f, client).await)
            }
            (None, Run::Local(f)) => outcome_of(run_local(f)),
        };
        if case.prerequisite && matches!(outcome, Outcome::Failed(_)) {
            blocked_by = Some(case.id.clone());
        }
        results.push((case.id, outcome, started.elapsed()));
    }
    Ok(SuiteReport::new(def.name, results, known))
}

fn outcome_of(result: Result<(), Failure>) -> Outcome {
    match result {
        Ok(()) => Outcome::Passed,
        Err(failure) => Outcome::Failed(failure),
    }
}

async fn run_http(f: &HttpCase, client: &Client) -> Result<(), Failure> {
    // A panic in a case is a kit bug, but it must not take the other cases with it.
    let fut = AssertUnwindSafe(f(client));
    match futures_catch_unwind(fut).await {
        Ok(result) => result,
        Err(message) => Err(Failure::new("(case code)", "no panic", message)),
    }
}

fn run_local(f: &LocalCase) -> Result<(), Failure> {
    // The in-process engine is young: a panic is a failure of that case, not of the run.
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(Failure::new(
            "(in-process)",
            "no panic",
            panic_message(&*payload),
        )),
    }
}

async fn futures_catch_unwind<F: Future>(fut: AssertUnwindSafe<F>) -> Result<F::Output, String> {
    let mut fut = Box::pin(fut.0);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(payload) => std::task::Poll::Ready(Err(panic_message(&*payload))),
        }
    })
    .await
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".to_owned());
    format!("panicked: {text}")
}
