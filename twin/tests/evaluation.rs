//! The evaluation harness as a CI gate: the engine, with its default thresholds, must keep
//! finding the injected illnesses of a small synthetic cohort at least as well as the
//! figures reported when it was tuned (`cargo run -p twin --bin twin-eval -- --people 40
//! --days 150 --seed 7` prints them).

use twin::config::Config;
use twin::evaluate::evaluate;
use twin::synthetic::cohort;

/// Minimum precision of illness alerts (elevated resting HR, corroborated by skin
/// temperature and respiratory rate) on the cohort below: measured 0.949 (93 of 98
/// alerts); the gate is that figure, rounded down.
const MIN_PRECISION: f64 = 0.94;

/// Minimum recall of injected illnesses on the cohort below: measured 0.939 (93 of 99);
/// the gate is that figure, rounded down.
const MIN_RECALL: f64 = 0.93;

/// A resting-HR baseline exists after at most this many days of data (the issue's
/// "within 72 hours"), for the median person.
const MAX_DAYS_TO_FIRST_BASELINE: f64 = 3.0;

#[test]
fn engine_meets_the_reported_figures() {
    let people = cohort(40, 150, 7);
    let report = evaluate(&people, &Config::default());
    println!("{report}");
    // The cohort is what the figures were measured on.
    assert_eq!(report.people, 40);
    assert!(report.score.illnesses >= 60, "{report}");
    assert!(report.score.precision >= MIN_PRECISION, "{report}");
    assert!(report.score.recall >= MIN_RECALL, "{report}");
    let first = report.median_days_to_first_baseline;
    assert!(
        first.is_some_and(|d| d <= MAX_DAYS_TO_FIRST_BASELINE),
        "{report}"
    );
}
