//! (being written: the detectors)

use crate::{DailyValue, Day, Metric};

/// The detectors. Each watches one pattern and explains what it saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detector {
    /// Resting heart rate above the person's baseline on consecutive days.
    ElevatedRestingHeartRate,
    /// Sleep duration below baseline on consecutive nights.
    SleepDegradation,
    /// Steps below baseline on consecutive days.
    ActivityDrop,
    /// Oxygen saturation below a floor (and below baseline).
    LowOxygenSaturation,
    /// Heart-rate variability below baseline on consecutive days (a stress indicator).
    HrvSuppression,
    /// Blood pressure trending up over the baseline.
    RisingBloodPressure,
    /// Glucose out of range / time in range dropping.
    GlucoseOutOfRange,
    /// Doses missed on consecutive days.
    MissedMedication,
}

/// How serious an episode is (DetectedIssue.severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// `low`.
    Low,
    /// `moderate`.
    Moderate,
    /// `high`.
    High,
}

/// What the person is advised to do, chosen by rule, never a diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recommendation {
    /// Rest and recovery.
    Rest,
    /// Drink more fluids.
    Hydration,
    /// A telehealth check-in with a clinician.
    TelehealthCheckIn,
    /// A lifestyle adjustment (activity, sleep routine).
    LifestyleAdjustment,
}

/// One detected episode: a run of days on which a detector's condition held.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// Which detector.
    pub detector: Detector,
    /// The metric it watched (none for missed medication).
    pub metric: Option<Metric>,
    /// First day of the run.
    pub start: Day,
    /// Last day the condition held.
    pub last: Day,
    /// First day back to baseline after the run, if the data shows one (then the episode
    /// is over and its Flag is closed).
    pub resolved_on: Option<Day>,
    /// Severity.
    pub severity: Severity,
    /// The days that triggered it (their values and source Observations).
    pub evidence: Vec<DailyValue>,
    /// One sentence with the numbers: "resting HR 68, 71, 70 /min on 3 consecutive days
    /// vs baseline 58 ± 3".
    pub detail: String,
    /// What to do.
    pub recommendation: Recommendation,
}
