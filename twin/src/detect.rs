//! The detectors: explained early warnings from a person's daily values.
//!
//! An alert nobody can check is an alert nobody trusts, so every detector is a short
//! rule over the person's own baseline, and every [`Episode`] carries the days that
//! triggered it, their source Observations, a sentence with the numbers, and a
//! recommendation chosen by rule (never a diagnosis). Thresholds are in [`Config`].
//!
//! # How a detector runs
//!
//! Days with data are walked in order. Each day gets a verdict against the reference
//! (baseline) window of [`Config::detection_window`] days before it: *qualifies*,
//! *recovered* (within [`Config::recovery_z`] robust SDs), *in between*, or *skip*.
//!
//! * **Runs.** The first qualifying day starts a run; a day that does not qualify breaks
//!   it; the Nth qualifying day (`Config::*_days`) opens an episode starting on the run's
//!   first day, with those days as evidence. Resting HR also has *corroborated* days
//!   (qualifying at a lower z because a sign of infection shows the same day), and fewer
//!   of them open an episode ([`Config::corroborated_resting_heart_rate_days`]). It is *opened on* the Nth day
//!   ([`Episode::opened_on`]): the detection is causal, so a run over the whole history
//!   opens each episode on the same day an incremental run would have.
//! * **Missing days** neither count nor break a run (a watch on the charger, a trip
//!   without it), up to [`Config::max_gap_days`] in a row; a longer gap starts over.
//! * **Frozen baseline.** While a run or episode is open, every day is judged against the
//!   reference that ended the day before the run began, and the days of earlier episodes
//!   are left out of every reference: an illness never raises its own baseline, and a
//!   ten-day episode stays one episode.
//! * **Extension and recovery.** A qualifying day extends the episode (evidence grows);
//!   an in-between day neither extends nor recovers; [`Config::recovery_days`]
//!   consecutive recovered days close it, [`Episode::resolved_on`] being the first of
//!   them. Without them it is ongoing.
//! * **Skipped days** (not enough reference data yet, the training guard, too few BP
//!   readings) count as missing.
//!
//! # The detectors
//!
//! | detector | qualifies | N | severity | recommendation |
//! |---|---|---|---|---|
//! | elevated resting HR | z ≥ 2 above baseline, or z ≥ 1 with a sign of infection the same day: skin temperature deviation ≥ 0.3 °C or respiratory rate z ≥ 1.5 (days after unusually many steps skipped) | 3, or 2 corroborated | low; moderate with HRV suppression, temperature deviation or raised respiratory rate on the episode's days | rest; telehealth check-in when corroborated |
//! | sleep degradation | minutes asleep z ≤ −2 | 3 nights | low | lifestyle adjustment |
//! | activity drop | steps z ≤ −2 | 3 | low | lifestyle adjustment |
//! | low SpO2 | day's lowest < 92 % and z ≤ −2 | 2 | high | telehealth check-in |
//! | HRV suppression | HRV z ≤ −2 (RMSSD, or SDNN when that has more days) | 3 | low | rest |
//! | rising BP | 7-day mean systolic ≥ baseline (90 days before the 7) + 8, or ≥ 135 | 2 | moderate; high from 160 | telehealth check-in |
//! | glucose | day's mean outside 70–180 mg/dL, or time in range ≥ 15 points below baseline | 2 | moderate; high when below range | telehealth check-in |
//! | missed medication | a dose recorded as not taken | 2 | low | lifestyle adjustment (a reminder) |
//!
//! Confounders this answers: a single bad night or one hard training day never reaches
//! N; a device swap that shifts a level slightly stays within the robust threshold and
//! its floor, and the baseline follows the new level within weeks; travel without data
//! neither counts nor breaks; a hard training block skips resting-HR days after high
//! step counts. None of them brings fever or faster breathing, so none gets the lower
//! bar of a corroborated resting HR; an infection usually does, which is why the
//! resting-HR episode is the engine's illness alert and carries the HRV, temperature and
//! respiratory-rate evidence of its days (HRV suppression alone is a stress indicator).
//!
//! # Cost
//!
//! Each day's verdict reads only its reference window, so a run is O(days × window log
//! window) per detector. For an incremental run the server passes the days from
//! `as_of − Config::lookback_days()` (about 192 days by default), or from the start of an
//! episode it still holds open minus the detection window if that is earlier: the work of
//! a new day is bounded by the window, not the history. Episodes are identified by
//! detector and start day, so the same episode found again is the same Flag.

use std::collections::BTreeSet;

use mappers::wearable::fhir::decimal_text;

use crate::baseline::{Stat, day_number, day_text, window_stat};
use crate::config::Config;
use crate::{DailyValue, Day, MedicationDose, Metric, PersonSeries};

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

impl Detector {
    /// Every detector.
    pub const ALL: [Detector; 8] = [
        Detector::ElevatedRestingHeartRate,
        Detector::SleepDegradation,
        Detector::ActivityDrop,
        Detector::LowOxygenSaturation,
        Detector::HrvSuppression,
        Detector::RisingBloodPressure,
        Detector::GlucoseOutOfRange,
        Detector::MissedMedication,
    ];

    /// The code in the HealthOS `twin-alert` CodeSystem.
    pub fn code(self) -> &'static str {
        match self {
            Detector::ElevatedRestingHeartRate => "elevated-resting-heart-rate",
            Detector::SleepDegradation => "sleep-degradation",
            Detector::ActivityDrop => "activity-drop",
            Detector::LowOxygenSaturation => "low-oxygen-saturation",
            Detector::HrvSuppression => "hrv-suppression",
            Detector::RisingBloodPressure => "rising-blood-pressure",
            Detector::GlucoseOutOfRange => "glucose-out-of-range",
            Detector::MissedMedication => "missed-medication",
        }
    }

    /// Display text.
    pub fn display(self) -> &'static str {
        match self {
            Detector::ElevatedRestingHeartRate => "Resting heart rate above personal baseline",
            Detector::SleepDegradation => "Sleep below personal baseline",
            Detector::ActivityDrop => "Activity below personal baseline",
            Detector::LowOxygenSaturation => "Low oxygen saturation",
            Detector::HrvSuppression => "Heart-rate variability below personal baseline",
            Detector::RisingBloodPressure => "Blood pressure rising above personal baseline",
            Detector::GlucoseOutOfRange => "Glucose out of target range",
            Detector::MissedMedication => "Missed medication doses",
        }
    }

    /// The rule, as the CodeSystem's definition.
    pub fn definition(self) -> &'static str {
        match self {
            Detector::ElevatedRestingHeartRate => {
                "Resting heart rate at least 2 robust standard deviations above the person's 30-day median on 3 consecutive days with data, or at least 1 robust standard deviation above it on 2 consecutive days that each show a sign of infection (skin temperature deviation of at least 0.3 °C, or respiratory rate at least 1.5 robust standard deviations above its median)."
            }
            Detector::SleepDegradation => {
                "Minutes asleep at least 2 robust standard deviations below the person's 30-day median on 3 consecutive nights with data."
            }
            Detector::ActivityDrop => {
                "Daily steps at least 2 robust standard deviations below the person's 30-day median on 3 consecutive days with data."
            }
            Detector::LowOxygenSaturation => {
                "The day's lowest oxygen saturation below 92 % (and below the person's baseline when one exists) on 2 consecutive days with data."
            }
            Detector::HrvSuppression => {
                "Heart-rate variability at least 2 robust standard deviations below the person's 30-day median on 3 consecutive days with data."
            }
            Detector::RisingBloodPressure => {
                "7-day mean systolic blood pressure at least 8 mmHg above the person's 90-day median, or at least 135 mmHg, on 2 consecutive measured days."
            }
            Detector::GlucoseOutOfRange => {
                "The day's mean glucose outside 70-180 mg/dL, or time in range at least 15 percentage points below the person's median, on 2 consecutive days with data."
            }
            Detector::MissedMedication => {
                "A medication dose recorded as not taken on 2 consecutive days with dose records."
            }
        }
    }
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

impl Severity {
    /// The code in `http://hl7.org/fhir/detectedissue-severity`.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Moderate => "moderate",
            Severity::High => "high",
        }
    }
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

impl Recommendation {
    /// Every recommendation.
    pub const ALL: [Recommendation; 4] = [
        Recommendation::Rest,
        Recommendation::Hydration,
        Recommendation::TelehealthCheckIn,
        Recommendation::LifestyleAdjustment,
    ];

    /// The code in the HealthOS `twin-recommendation` CodeSystem.
    pub fn code(self) -> &'static str {
        match self {
            Recommendation::Rest => "rest",
            Recommendation::Hydration => "hydration",
            Recommendation::TelehealthCheckIn => "telehealth-check-in",
            Recommendation::LifestyleAdjustment => "lifestyle-adjustment",
        }
    }

    /// Display text.
    pub fn display(self) -> &'static str {
        match self {
            Recommendation::Rest => "Rest and recovery",
            Recommendation::Hydration => "Hydration",
            Recommendation::TelehealthCheckIn => "Telehealth check-in",
            Recommendation::LifestyleAdjustment => "Lifestyle adjustment",
        }
    }

    /// What it asks of the person, as the CodeSystem's definition.
    pub fn definition(self) -> &'static str {
        match self {
            Recommendation::Rest => {
                "Take it easy for a few days: rest, sleep and no hard exercise."
            }
            Recommendation::Hydration => "Drink more fluids over the next few days.",
            Recommendation::TelehealthCheckIn => {
                "Arrange a telehealth check-in so a clinician can review the readings."
            }
            Recommendation::LifestyleAdjustment => {
                "Adjust a daily routine (sleep, activity, medication reminders)."
            }
        }
    }
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
    /// The day the episode was raised: the Nth qualifying day of the run.
    pub opened_on: Day,
    /// First day back to baseline after the run, if the data shows one (then the episode
    /// is over and its Flag is closed).
    pub resolved_on: Option<Day>,
    /// Severity.
    pub severity: Severity,
    /// The days that triggered it (their values and source Observations), then any
    /// corroborating values (HRV, temperature deviation for resting HR), by day.
    pub evidence: Vec<DailyValue>,
    /// For missed medication: the doses recorded as not taken.
    pub doses: Vec<MedicationDose>,
    /// One sentence with the numbers: "resting HR 68, 71, 70 /min on 3 consecutive days
    /// vs baseline 58 ± 3".
    pub detail: String,
    /// What to do.
    pub recommendation: Recommendation,
}

impl Episode {
    /// Whether the data shows no recovery yet.
    pub fn is_ongoing(&self) -> bool {
        self.resolved_on.is_none()
    }

    /// The references of the evidence (Observations, then dose resources), in evidence
    /// order without repeats.
    pub fn evidence_references(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.evidence
            .iter()
            .flat_map(|v| v.sources.iter())
            .chain(self.doses.iter().map(|d| &d.source))
            .filter(|s| !s.is_empty() && seen.insert(s.as_str()))
            .cloned()
            .collect()
    }

    /// The recommendation as a plain sentence for the person, specific to the detector.
    /// Never a diagnosis.
    pub fn advice(&self) -> String {
        let text = match (self.recommendation, self.detector) {
            (Recommendation::Rest, Detector::HrvSuppression) => {
                "Your body may be under more strain than usual. Take it easy for a few days: rest, sleep and skip hard workouts until your readings are back in your usual range."
            }
            (Recommendation::Rest, _) => {
                "Take it easy for a few days: rest, sleep and skip hard workouts until your readings are back in your usual range. Contact a clinician if you feel unwell."
            }
            (Recommendation::Hydration, _) => {
                "Drink more fluids over the next few days and see whether your readings return to your usual range."
            }
            (Recommendation::TelehealthCheckIn, Detector::LowOxygenSaturation) => {
                "Arrange a telehealth check-in soon so a clinician can review your oxygen readings. Seek urgent care if you are short of breath."
            }
            (Recommendation::TelehealthCheckIn, _) => {
                "Arrange a telehealth check-in so a clinician can review these readings with you."
            }
            (Recommendation::LifestyleAdjustment, Detector::SleepDegradation) => {
                "Protect your sleep for the next few nights: a regular bedtime, a dark and quiet room, and no screens late in the evening."
            }
            (Recommendation::LifestyleAdjustment, Detector::MissedMedication) => {
                "Take your medication as prescribed; a daily reminder can help. Ask your pharmacist or clinician what to do about the missed doses."
            }
            (Recommendation::LifestyleAdjustment, _) => {
                "Build some light activity back into your days, such as a short walk, if you feel well enough."
            }
        };
        text.to_owned()
    }
}

/// Runs every detector over the whole series (see the [module docs](self)). Episodes are
/// sorted by start day, then detector.
pub fn detect(series: &PersonSeries, config: &Config) -> Vec<Episode> {
    let tracks = Tracks::of(series);
    let mut out = Vec::new();
    out.extend(resting_heart_rate(&tracks, config));
    let below_baseline = [
        (
            Detector::SleepDegradation,
            Some(Metric::SleepDuration),
            config.sleep_nights,
            Recommendation::LifestyleAdjustment,
        ),
        (
            Detector::ActivityDrop,
            Some(Metric::Steps),
            config.activity_days,
            Recommendation::LifestyleAdjustment,
        ),
        (
            Detector::HrvSuppression,
            tracks.hrv_metric(),
            config.hrv_days,
            Recommendation::Rest,
        ),
    ];
    for (detector, metric, n, recommendation) in below_baseline {
        if let Some(metric) = metric {
            out.extend(below_baseline_episodes(
                &tracks,
                detector,
                metric,
                n,
                recommendation,
                config,
            ));
        }
    }
    out.extend(oxygen_saturation(&tracks, config));
    out.extend(blood_pressure(&tracks, config));
    out.extend(glucose(&tracks, config));
    out.extend(missed_medication(&series.doses, config));
    out.sort_by(|a, b| (&a.start, a.detector).cmp(&(&b.start, b.detector)));
    out
}

/// What the engine knew at the start of `as_of`: [`detect`] over the values and doses of
/// the days before it (the day itself is still incomplete). Empty when `as_of` is not a
/// date.
pub fn detect_as_of(series: &PersonSeries, as_of: &Day, config: &Config) -> Vec<Episode> {
    let Some(end) = day_number(as_of) else {
        return Vec::new();
    };
    let before = |day: &str| day_number(day).is_some_and(|d| d < end);
    let known = PersonSeries {
        values: series
            .values
            .iter()
            .filter(|v| before(&v.day))
            .cloned()
            .collect(),
        doses: series
            .doses
            .iter()
            .filter(|d| before(&d.day))
            .cloned()
            .collect(),
    };
    detect(&known, config)
}

/// One metric's values, one per day, by day.
#[derive(Debug, Default)]
struct Track<'a> {
    days: Vec<i64>,
    values: Vec<f64>,
    items: Vec<&'a DailyValue>,
}

impl<'a> Track<'a> {
    fn of(series: &'a PersonSeries, metric: Metric) -> Self {
        let mut dated: Vec<(i64, &DailyValue)> = series
            .values
            .iter()
            .filter(|v| v.metric == metric && v.value.is_finite())
            .filter_map(|v| day_number(&v.day).map(|d| (d, v)))
            .collect();
        // Stable: of repeated days the first given wins.
        dated.sort_by_key(|(d, _)| *d);
        dated.dedup_by_key(|(d, _)| *d);
        Track {
            days: dated.iter().map(|(d, _)| *d).collect(),
            values: dated.iter().map(|(_, v)| v.value).collect(),
            items: dated.iter().map(|(_, v)| *v).collect(),
        }
    }

    /// The reference of `window` days ending before `end`, without the excluded ranges,
    /// when it has at least `min` values.
    fn reference(
        &self,
        end: i64,
        window: u32,
        excluded: &[(i64, i64)],
        min: usize,
    ) -> Option<Stat> {
        window_stat(
            &self.days,
            &self.values,
            end - i64::from(window),
            end,
            excluded,
        )
        .filter(|s| s.count >= min.max(1))
    }

    /// The reference a detector judges a day against: [`Config::detection_window`] days
    /// ending before `end`, without the excluded ranges, when it has at least
    /// [`Config::detection_min_days`] values.
    fn detection_reference(
        &self,
        end: i64,
        excluded: &[(i64, i64)],
        config: &Config,
    ) -> Option<Stat> {
        self.reference(
            end,
            config.detection_window,
            excluded,
            config.detection_min_days,
        )
    }

    fn at(&self, day: i64) -> Option<usize> {
        self.days.binary_search(&day).ok()
    }

    /// Indices of the values with day in `[from, to]`.
    fn between(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        self.days.partition_point(|d| *d < from)..self.days.partition_point(|d| *d <= to)
    }

    /// The values at `indices`.
    fn values_at(&self, indices: &[usize]) -> Vec<f64> {
        indices.iter().map(|i| self.values[*i]).collect()
    }

    /// The daily values at `indices`, as evidence.
    fn evidence(&self, indices: &[usize]) -> Vec<DailyValue> {
        indices.iter().map(|i| self.items[*i].clone()).collect()
    }
}

/// Every metric's track, in [`Metric::ALL`] order.
struct Tracks<'a> {
    tracks: Vec<Track<'a>>,
}

impl<'a> Tracks<'a> {
    fn of(series: &'a PersonSeries) -> Self {
        Tracks {
            tracks: Metric::ALL
                .into_iter()
                .map(|m| Track::of(series, m))
                .collect(),
        }
    }

    fn get(&self, metric: Metric) -> &Track<'a> {
        // Every metric is in `ALL`, so the position always exists.
        let index = Metric::ALL.iter().position(|m| *m == metric).unwrap_or(0);
        &self.tracks[index]
    }

    /// The HRV metric to watch: the one with more days (RMSSD on a tie); `None` without
    /// HRV data. Two scales are never mixed.
    fn hrv_metric(&self) -> Option<Metric> {
        let rmssd = self.get(Metric::HrvRmssd).days.len();
        let sdnn = self.get(Metric::HrvSdnn).days.len();
        match (rmssd, sdnn) {
            (0, 0) => None,
            (r, s) if r >= s => Some(Metric::HrvRmssd),
            _ => Some(Metric::HrvSdnn),
        }
    }
}

/// A day's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Qualifies,
    /// Qualifies with corroborating signs (resting HR: fever or fast breathing the same
    /// day); enough such days open an episode sooner ([`Opening::corroborated`]).
    Corroborated,
    Recovered,
    Between,
    /// Treated like a missing day.
    Skip,
}

/// How many qualifying days of a run open an episode.
#[derive(Debug, Clone, Copy)]
struct Opening {
    /// Qualifying days, corroborated or not.
    qualifying: usize,
    /// Corroborated days (fewer, when a detector has corroboration).
    corroborated: usize,
}

impl Opening {
    /// `n` qualifying days, corroborated or not.
    fn after(n: usize) -> Opening {
        Opening {
            qualifying: n,
            corroborated: n,
        }
    }
}

/// An episode as the runner finds it: indices into the detector's days.
#[derive(Debug, Clone)]
struct Raw {
    /// Indices of the qualifying days.
    days: Vec<usize>,
    start: i64,
    opened_on: i64,
    resolved_on: Option<i64>,
}

impl Raw {
    fn last(&self, days: &[i64]) -> i64 {
        self.days.last().map_or(self.start, |i| days[*i])
    }
}

enum State {
    Idle,
    /// Qualifying days so far, and how many of them were corroborated.
    Run {
        run: Vec<usize>,
        corroborated: usize,
    },
    Open {
        raw: Raw,
        recovery: Vec<usize>,
    },
}

/// The run/episode state machine of the module docs. `judge(i, reference_end, excluded)`
/// gives day `i`'s verdict against the reference ending before `reference_end`.
fn run(
    days: &[i64],
    opening: Opening,
    config: &Config,
    mut judge: impl FnMut(usize, i64, &[(i64, i64)]) -> Verdict,
) -> Vec<Raw> {
    let mut raws: Vec<Raw> = Vec::new();
    let mut excluded_ranges: Vec<(i64, i64)> = Vec::new();
    let mut state = State::Idle;
    let mut previous: Option<i64> = None;
    for (i, &day) in days.iter().enumerate() {
        if previous.is_some_and(|p| day - p > i64::from(config.max_gap_days) + 1) {
            match &mut state {
                State::Run { .. } => state = State::Idle,
                State::Open { recovery, .. } => recovery.clear(),
                State::Idle => {}
            }
        }
        previous = Some(day);
        let reference_end = match &state {
            State::Idle => day,
            State::Run { run, .. } => days[run[0]],
            State::Open { raw, .. } => raw.start,
        };
        let verdict = judge(i, reference_end, &excluded_ranges);
        let corroboration = usize::from(verdict == Verdict::Corroborated);
        state = match (std::mem::replace(&mut state, State::Idle), verdict) {
            (s, Verdict::Skip) => s,
            (State::Idle, Verdict::Qualifies | Verdict::Corroborated) => State::Run {
                run: vec![i],
                corroborated: corroboration,
            },
            (State::Idle, _) => State::Idle,
            (
                State::Run {
                    mut run,
                    corroborated,
                },
                Verdict::Qualifies | Verdict::Corroborated,
            ) => {
                run.push(i);
                State::Run {
                    run,
                    corroborated: corroborated + corroboration,
                }
            }
            (State::Run { .. }, _) => State::Idle,
            (State::Open { mut raw, .. }, Verdict::Qualifies | Verdict::Corroborated) => {
                raw.days.push(i);
                State::Open {
                    raw,
                    recovery: Vec::new(),
                }
            }
            (State::Open { raw, .. }, Verdict::Between) => State::Open {
                raw,
                recovery: Vec::new(),
            },
            (
                State::Open {
                    mut raw,
                    mut recovery,
                },
                Verdict::Recovered,
            ) => {
                recovery.push(i);
                if recovery.len() >= config.recovery_days.max(1) {
                    let first = days[recovery[0]];
                    raw.resolved_on = Some(first);
                    excluded_ranges.push((raw.start, first - 1));
                    raws.push(raw);
                    State::Idle
                } else {
                    State::Open { raw, recovery }
                }
            }
        };
        if let State::Run { run, corroborated } = &state
            && (run.len() >= opening.qualifying.max(1)
                || *corroborated >= opening.corroborated.max(1))
        {
            state = State::Open {
                raw: Raw {
                    days: run.clone(),
                    start: days[run[0]],
                    opened_on: day,
                    resolved_on: None,
                },
                recovery: Vec::new(),
            };
        }
    }
    if let State::Open { raw, .. } = state {
        raws.push(raw);
    }
    raws
}

/// The verdict of a day `z` robust SDs beyond the baseline in the detector's direction.
fn z_verdict(z: f64, config: &Config) -> Verdict {
    if z >= config.z_threshold {
        Verdict::Qualifies
    } else if z <= config.recovery_z {
        Verdict::Recovered
    } else {
        Verdict::Between
    }
}

/// A raw episode with the reference it was judged against (frozen at its start) and the
/// ranges of earlier episodes that reference leaves out.
struct Judged {
    raw: Raw,
    stat: Option<Stat>,
    excluded: Vec<(i64, i64)>,
}

/// Runs a baseline-deviation rule over one metric: `verdict(i, reference, reference_end,
/// excluded)` judges day `i` against its detection reference (days without one are
/// skipped).
fn deviation_raws(
    track: &Track<'_>,
    opening: Opening,
    config: &Config,
    verdict: impl Fn(usize, &Stat, i64, &[(i64, i64)]) -> Verdict,
) -> Vec<Judged> {
    let raws = run(&track.days, opening, config, |i, end, excluded| match track
        .detection_reference(end, excluded, config)
    {
        Some(stat) => verdict(i, &stat, end, excluded),
        None => Verdict::Skip,
    });
    with_references(raws, |start, excluded| {
        track.reference(start, config.detection_window, excluded, 1)
    })
}

/// Pairs each raw episode with the reference it was judged against (frozen at its start,
/// without the episodes before it).
fn with_references(
    raws: Vec<Raw>,
    reference: impl Fn(i64, &[(i64, i64)]) -> Option<Stat>,
) -> Vec<Judged> {
    let mut before: Vec<(i64, i64)> = Vec::new();
    raws.into_iter()
        .map(|raw| {
            let judged = Judged {
                stat: reference(raw.start, &before),
                excluded: before.clone(),
                raw,
            };
            if let Some(end) = judged.raw.resolved_on {
                before.push((judged.raw.start, end - 1));
            }
            judged
        })
        .collect()
}

fn episode(
    detector: Detector,
    metric: Option<Metric>,
    raw: &Raw,
    days: &[i64],
    evidence: Vec<DailyValue>,
    severity: Severity,
    recommendation: Recommendation,
    detail: String,
) -> Episode {
    Episode {
        detector,
        metric,
        start: day_text(raw.start),
        last: day_text(raw.last(days)),
        opened_on: day_text(raw.opened_on),
        resolved_on: raw.resolved_on.map(day_text),
        severity,
        evidence,
        doses: Vec::new(),
        detail,
        recommendation,
    }
}

/// "resting HR 68, 71, 70 /min on 3 consecutive days vs baseline 58 ± 2 /min (30-day
/// median ± robust SD)": the run's values against the baseline.
fn deviation_detail(
    track: &Track<'_>,
    metric: Metric,
    judged: &Judged,
    noun: &str,
    config: &Config,
) -> String {
    format!(
        "{} {} on {}{}",
        metric.label(),
        list(metric, &track.values_at(&judged.raw.days)),
        run_phrase(&judged.raw, &track.days, noun),
        versus(
            metric,
            judged.stat.as_ref(),
            config.spread_floor(metric),
            config.detection_window
        )
    )
}

/// Sleep, activity and HRV: `metric` [`Config::z_threshold`] robust SDs below baseline on
/// `n` days.
fn below_baseline_episodes(
    tracks: &Tracks<'_>,
    detector: Detector,
    metric: Metric,
    n: usize,
    recommendation: Recommendation,
    config: &Config,
) -> Vec<Episode> {
    let track = tracks.get(metric);
    let floor = config.spread_floor(metric);
    let noun = if metric == Metric::SleepDuration {
        "nights"
    } else {
        "days"
    };
    deviation_raws(track, Opening::after(n), config, |i, stat, _, _| {
        z_verdict(-stat.z(track.values[i], floor), config)
    })
    .into_iter()
    .map(|judged| {
        episode(
            detector,
            Some(metric),
            &judged.raw,
            &track.days,
            track.evidence(&judged.raw.days),
            Severity::Low,
            recommendation,
            deviation_detail(track, metric, &judged, noun, config),
        )
    })
    .collect()
}

/// The signs of an infection that corroborate a raised resting HR (see
/// [`Config::corroborated_resting_heart_rate_z`]): skin temperature deviation at or above
/// [`Config::temperature_deviation_threshold`], respiratory rate
/// [`Config::respiratory_rate_z`] robust SDs above its baseline. Exercise, travel and a
/// short night raise resting HR too, but not these.
struct InfectionSigns<'t, 'a> {
    temperature: &'t Track<'a>,
    respiratory: &'t Track<'a>,
    config: &'t Config,
}

impl InfectionSigns<'_, '_> {
    fn fever(&self, value: f64) -> bool {
        value >= self.config.temperature_deviation_threshold
    }

    fn fast_breathing(&self, value: f64, reference: &Stat) -> bool {
        reference.z(value, self.config.spread_floor(Metric::RespiratoryRate))
            >= self.config.respiratory_rate_z
    }

    /// Whether `day` shows a sign, judging respiratory rate against the reference ending
    /// before `end`.
    fn on(&self, day: i64, end: i64, excluded: &[(i64, i64)]) -> bool {
        let temperature = self.temperature;
        let fever = temperature
            .at(day)
            .is_some_and(|j| self.fever(temperature.values[j]));
        fever
            || self.respiratory.at(day).is_some_and(|j| {
                self.respiratory
                    .detection_reference(end, excluded, self.config)
                    .is_some_and(|r| self.fast_breathing(self.respiratory.values[j], &r))
            })
    }
}

/// The days of `track` in `[from, to]` whose value `holds`, as a clause for an episode's
/// detail ("; HRV (RMSSD) 30, 28 ms vs baseline 45 ± 5 ms (…)", the baseline when
/// `reference` is given) and their evidence; `None` when no day does.
fn corroboration(
    track: &Track<'_>,
    metric: Metric,
    (from, to): (i64, i64),
    reference: Option<&Stat>,
    config: &Config,
    holds: impl Fn(f64) -> bool,
) -> Option<(String, Vec<DailyValue>)> {
    let days: Vec<usize> = track
        .between(from, to)
        .filter(|i| holds(track.values[*i]))
        .collect();
    if days.is_empty() {
        return None;
    }
    let clause = format!(
        "; {} {}{}",
        metric.label(),
        list(metric, &track.values_at(&days)),
        versus(
            metric,
            reference,
            config.spread_floor(metric),
            config.detection_window
        )
    );
    Some((clause, track.evidence(&days)))
}

fn resting_heart_rate(tracks: &Tracks<'_>, config: &Config) -> Vec<Episode> {
    let metric = Metric::RestingHeartRate;
    let track = tracks.get(metric);
    let floor = config.spread_floor(metric);
    let steps = tracks.get(Metric::Steps);
    let steps_floor = config.spread_floor(Metric::Steps);
    // Unusually many steps on the day or the day before: resting HR is expected up.
    let trained = |day: i64| {
        let Some(guard) = config.training_guard_z else {
            return false;
        };
        [day - 1, day].into_iter().any(|d| {
            steps.at(d).is_some_and(|i| {
                steps
                    .detection_reference(d, &[], config)
                    .is_some_and(|s| s.z(steps.values[i], steps_floor) >= guard)
            })
        })
    };
    let signs = InfectionSigns {
        temperature: tracks.get(Metric::TemperatureDeviation),
        respiratory: tracks.get(Metric::RespiratoryRate),
        config,
    };
    let opening = Opening {
        qualifying: config.resting_heart_rate_days,
        corroborated: config.corroborated_resting_heart_rate_days,
    };
    let hrv = tracks.hrv_metric();
    deviation_raws(track, opening, config, |i, stat, end, excluded| {
        let day = track.days[i];
        if trained(day) {
            return Verdict::Skip;
        }
        let z = stat.z(track.values[i], floor);
        if z >= config.corroborated_resting_heart_rate_z && signs.on(day, end, excluded) {
            Verdict::Corroborated
        } else {
            z_verdict(z, config)
        }
    })
    .into_iter()
    .map(|judged| {
        let raw = &judged.raw;
        let span = (raw.start, raw.last(&track.days));
        let mut detail = deviation_detail(track, metric, &judged, "days", config);
        let mut evidence = track.evidence(&raw.days);
        // Against the references the signs were judged by: frozen at the start, without
        // earlier episodes.
        let reference = |t: &Track<'_>| t.detection_reference(raw.start, &judged.excluded, config);
        let hrv_low = hrv.and_then(|hrv| {
            let t = tracks.get(hrv);
            let r = reference(t)?;
            let hrv_floor = config.spread_floor(hrv);
            corroboration(t, hrv, span, Some(&r), config, |v| {
                -r.z(v, hrv_floor) >= config.z_threshold
            })
        });
        let warm = corroboration(
            signs.temperature,
            Metric::TemperatureDeviation,
            span,
            None,
            config,
            |v| signs.fever(v),
        );
        let breathing = reference(signs.respiratory).and_then(|r| {
            corroboration(
                signs.respiratory,
                Metric::RespiratoryRate,
                span,
                Some(&r),
                config,
                |v| signs.fast_breathing(v, &r),
            )
        });
        let corroborated = hrv_low.is_some() || warm.is_some() || breathing.is_some();
        for (clause, values) in [hrv_low, warm, breathing].into_iter().flatten() {
            detail.push_str(&clause);
            evidence.extend(values);
        }
        evidence.sort_by(|a, b| a.day.cmp(&b.day));
        let (severity, recommendation) = if corroborated {
            (Severity::Moderate, Recommendation::TelehealthCheckIn)
        } else {
            (Severity::Low, Recommendation::Rest)
        };
        episode(
            Detector::ElevatedRestingHeartRate,
            Some(metric),
            raw,
            &track.days,
            evidence,
            severity,
            recommendation,
            detail,
        )
    })
    .collect()
}

fn oxygen_saturation(tracks: &Tracks<'_>, config: &Config) -> Vec<Episode> {
    let metric = Metric::OxygenSaturation;
    let track = tracks.get(metric);
    let floor = config.spread_floor(metric);
    let reference =
        |end: i64, excluded: &[(i64, i64)]| track.detection_reference(end, excluded, config);
    let raws = run(
        &track.days,
        Opening::after(config.spo2_days),
        config,
        |i, end, excluded| {
            let value = track.values[i];
            let Some(stat) = reference(end, excluded) else {
                return Verdict::Skip;
            };
            let below = -stat.z(value, floor);
            if value < config.spo2_floor && below >= config.z_threshold {
                Verdict::Qualifies
            } else if value >= config.spo2_floor && below <= config.recovery_z {
                Verdict::Recovered
            } else {
                Verdict::Between
            }
        },
    );
    with_references(raws, reference)
        .into_iter()
        .map(|Judged { raw, stat, .. }| {
            let mut detail = format!(
                "{} {} on {}, below the {} % floor",
                metric.label(),
                list(metric, &track.values_at(&raw.days)),
                run_phrase(&raw, &track.days, "days"),
                number(config.spo2_floor)
            );
            if let Some(s) = &stat {
                detail.push_str(&format!(
                    " (baseline {} ± {} %, {}-day median ± robust SD)",
                    number(s.median),
                    number(s.robust_sd(floor)),
                    config.detection_window
                ));
            }
            episode(
                Detector::LowOxygenSaturation,
                Some(metric),
                &raw,
                &track.days,
                track.evidence(&raw.days),
                Severity::High,
                Recommendation::TelehealthCheckIn,
                detail,
            )
        })
        .collect()
}

fn blood_pressure(tracks: &Tracks<'_>, config: &Config) -> Vec<Episode> {
    let metric = Metric::SystolicBloodPressure;
    let track = tracks.get(metric);
    let floor = config.spread_floor(metric);
    let span = i64::from(config.bp_mean_days.max(1)) - 1;
    // The rolling mean of the days [day − span, day], when it has enough readings.
    let rolling = |i: usize| {
        let range = track.between(track.days[i] - span, track.days[i]);
        (range.len() >= config.bp_min_readings.max(1)).then(|| {
            let n = range.len() as f64;
            (track.values[range].iter().sum::<f64>() / n, track.days[i])
        })
    };
    // The baseline ends where the 7-day window of the judged (or run's first) day begins.
    let reference = |end: i64, excluded: &[(i64, i64)]| {
        track.reference(
            end - span,
            config.bp_reference_window,
            excluded,
            config.detection_min_days,
        )
    };
    let raws = run(
        &track.days,
        Opening::after(config.bp_days),
        config,
        |i, end, excluded| {
            let Some((mean, _)) = rolling(i) else {
                return Verdict::Skip;
            };
            let stat = reference(end, excluded);
            let risen = stat
                .as_ref()
                .is_some_and(|s| mean >= s.median + config.bp_rise);
            let calm = match &stat {
                Some(s) => {
                    (s.median + config.recovery_z * s.robust_sd(floor)).min(config.bp_absolute)
                }
                None => config.bp_absolute - floor,
            };
            if mean >= config.bp_absolute || risen {
                Verdict::Qualifies
            } else if mean <= calm {
                Verdict::Recovered
            } else {
                Verdict::Between
            }
        },
    );
    with_references(raws, reference)
        .into_iter()
        .map(|Judged { raw, stat, .. }| {
            let means: Vec<f64> = raw.days.iter().filter_map(|i| rolling(*i)).map(|m| m.0).collect();
            let mut window: Vec<usize> = Vec::new();
            for i in &raw.days {
                for j in track.between(track.days[*i] - span, track.days[*i]) {
                    if !window.contains(&j) {
                        window.push(j);
                    }
                }
            }
            window.sort_unstable();
            let mut detail = format!(
                "{}-day mean systolic BP {} mmHg on {}",
                span + 1,
                list(metric, &means),
                run_phrase(&raw, &track.days, "measured days")
            );
            match &stat {
                Some(s) => detail.push_str(&format!(
                    " vs baseline {} ± {} mmHg ({}-day median ± robust SD); alert level {} mmHg (baseline + {}) or {} mmHg",
                    number(s.median),
                    number(s.robust_sd(floor)),
                    config.bp_reference_window,
                    number(s.median + config.bp_rise),
                    number(config.bp_rise),
                    number(config.bp_absolute)
                )),
                None => detail.push_str(&format!(
                    ", at or above {} mmHg",
                    number(config.bp_absolute)
                )),
            }
            let severity = if means.iter().any(|m| *m >= config.bp_high) {
                Severity::High
            } else {
                Severity::Moderate
            };
            episode(
                Detector::RisingBloodPressure,
                Some(metric),
                &raw,
                &track.days,
                track.evidence(&window),
                severity,
                Recommendation::TelehealthCheckIn,
                detail,
            )
        })
        .collect()
}

fn glucose(tracks: &Tracks<'_>, config: &Config) -> Vec<Episode> {
    let track = tracks.get(Metric::Glucose);
    let tir = tracks.get(Metric::GlucoseTimeInRange);
    let tir_floor = config.spread_floor(Metric::GlucoseTimeInRange);
    let out_of_range = |v: f64| v < config.glucose_low || v > config.glucose_high;
    let reference =
        |end: i64, excluded: &[(i64, i64)]| tir.detection_reference(end, excluded, config);
    let dropped = |day: i64, stat: Option<&Stat>| {
        let (Some(j), Some(s)) = (tir.at(day), stat) else {
            return false;
        };
        tir.values[j] <= s.median - config.time_in_range_drop
    };
    let raws = run(
        &track.days,
        Opening::after(config.glucose_days),
        config,
        |i, end, excluded| {
            let day = track.days[i];
            let stat = reference(end, excluded);
            let back = match (tir.at(day), &stat) {
                (Some(j), Some(s)) => {
                    tir.values[j] >= s.median - config.recovery_z * s.robust_sd(tir_floor)
                }
                _ => true,
            };
            if out_of_range(track.values[i]) || dropped(day, stat.as_ref()) {
                Verdict::Qualifies
            } else if back {
                Verdict::Recovered
            } else {
                Verdict::Between
            }
        },
    );
    with_references(raws, reference)
        .into_iter()
        .map(|Judged { raw, stat, .. }| {
            let means = track.values_at(&raw.days);
            let mut parts = Vec::new();
            let mut evidence = track.evidence(&raw.days);
            if means.iter().any(|v| out_of_range(*v)) {
                parts.push(format!(
                    "{} {} mg/dL on {} (target {}–{} mg/dL)",
                    Metric::Glucose.label(),
                    list(Metric::Glucose, &means),
                    run_phrase(&raw, &track.days, "days"),
                    number(config.glucose_low),
                    number(config.glucose_high)
                ));
            }
            let low_tir: Vec<usize> = raw
                .days
                .iter()
                .filter(|i| dropped(track.days[**i], stat.as_ref()))
                .filter_map(|i| tir.at(track.days[*i]))
                .collect();
            if let (false, Some(s)) = (low_tir.is_empty(), &stat) {
                let values = tir.values_at(&low_tir);
                parts.push(format!(
                    "{} {} % vs baseline {} % ({}-day median; alert at {} points below)",
                    Metric::GlucoseTimeInRange.label(),
                    list(Metric::GlucoseTimeInRange, &values),
                    number(s.median),
                    config.detection_window,
                    number(config.time_in_range_drop)
                ));
                evidence.extend(tir.evidence(&low_tir));
                evidence.sort_by(|a, b| (&a.day, a.metric).cmp(&(&b.day, b.metric)));
            }
            let severity = if means.iter().any(|v| *v < config.glucose_low) {
                Severity::High
            } else {
                Severity::Moderate
            };
            episode(
                Detector::GlucoseOutOfRange,
                Some(Metric::Glucose),
                &raw,
                &track.days,
                evidence,
                severity,
                Recommendation::TelehealthCheckIn,
                parts.join("; "),
            )
        })
        .collect()
}

fn missed_medication(doses: &[MedicationDose], config: &Config) -> Vec<Episode> {
    let mut dated: Vec<(i64, &MedicationDose)> = doses
        .iter()
        .filter_map(|d| day_number(&d.day).map(|n| (n, d)))
        .collect();
    dated.sort_by(|a, b| (a.0, &a.1.medication).cmp(&(b.0, &b.1.medication)));
    let mut days: Vec<i64> = dated.iter().map(|(d, _)| *d).collect();
    days.dedup();
    let missed_on = |day: i64| -> Vec<&MedicationDose> {
        dated
            .iter()
            .filter(|(d, dose)| *d == day && !dose.taken)
            .map(|(_, dose)| *dose)
            .collect()
    };
    let raws = run(
        &days,
        Opening::after(config.missed_dose_days),
        config,
        |i, _, _| {
            if missed_on(days[i]).is_empty() {
                Verdict::Recovered
            } else {
                Verdict::Qualifies
            }
        },
    );
    raws.iter()
        .map(|raw| {
            let missed: Vec<MedicationDose> = raw
                .days
                .iter()
                .flat_map(|i| missed_on(days[*i]))
                .cloned()
                .collect();
            let mut names: Vec<&str> = Vec::new();
            for dose in &missed {
                if !names.contains(&dose.medication.as_str()) {
                    names.push(&dose.medication);
                }
            }
            let dates: Vec<String> = raw.days.iter().map(|i| day_text(days[*i])).collect();
            let detail = format!(
                "{} recorded as not taken on {} ({})",
                names.join(", "),
                run_phrase(raw, &days, "days"),
                dates.join(", ")
            );
            let mut e = episode(
                Detector::MissedMedication,
                None,
                raw,
                &days,
                Vec::new(),
                Severity::Low,
                Recommendation::LifestyleAdjustment,
                detail,
            );
            e.doses = missed;
            e
        })
        .collect()
}

/// "3 consecutive days", or "3 days in a row (days without data skipped)".
fn run_phrase(raw: &Raw, days: &[i64], noun: &str) -> String {
    let n = raw.days.len();
    let first = days[raw.days[0]];
    let consecutive = raw
        .days
        .iter()
        .enumerate()
        .all(|(k, i)| days[*i] == first + k as i64);
    if consecutive {
        format!("{n} consecutive {noun}")
    } else {
        format!("{n} {noun} in a row (days without data skipped)")
    }
}

/// " vs baseline 58 ± 3 /min (30-day median ± robust SD)".
fn versus(metric: Metric, stat: Option<&Stat>, floor: f64, window: u32) -> String {
    match stat {
        Some(s) => {
            let spread = s.robust_sd(floor);
            let unit = text_unit(metric);
            let spread_text = match metric {
                Metric::SleepDuration => duration(spread),
                _ => format_value(metric, spread),
            };
            format!(
                " vs baseline {} ± {}{unit} ({window}-day median ± robust SD)",
                format_value(metric, s.median),
                spread_text,
            )
        }
        None => String::new(),
    }
}

/// Values joined by commas, then the unit: "68, 71, 70 /min"; at most 7, then "…".
fn list(metric: Metric, values: &[f64]) -> String {
    let mut shown: Vec<String> = values
        .iter()
        .take(7)
        .map(|v| format_value(metric, *v))
        .collect();
    if values.len() > 7 {
        shown.push("…".to_owned());
    }
    let unit = match metric {
        // The callers name these units themselves.
        Metric::SystolicBloodPressure | Metric::Glucose | Metric::GlucoseTimeInRange => "",
        _ => text_unit(metric),
    };
    format!("{}{unit}", shown.join(", "))
}

/// The unit as it follows a number in a sentence ("" where the number says it all).
fn text_unit(metric: Metric) -> &'static str {
    match metric {
        Metric::RestingHeartRate | Metric::RespiratoryRate => " /min",
        Metric::HrvRmssd | Metric::HrvSdnn => " ms",
        Metric::SleepDuration | Metric::Steps => "",
        Metric::OxygenSaturation | Metric::GlucoseTimeInRange => " %",
        Metric::TemperatureDeviation => " °C",
        Metric::Glucose => " mg/dL",
        Metric::SystolicBloodPressure | Metric::DiastolicBloodPressure => " mmHg",
    }
}

fn format_value(metric: Metric, value: f64) -> String {
    match metric {
        Metric::SleepDuration => duration(value),
        Metric::Steps => format!("{value:.0}"),
        Metric::TemperatureDeviation => {
            let text = number(value);
            if value > 0.0 {
                format!("+{text}")
            } else {
                text
            }
        }
        _ => number(value),
    }
}

/// A number with at most one decimal, trailing zero dropped ("58", "58.5").
fn number(value: f64) -> String {
    decimal_text(value, 1)
}

/// Minutes as "7 h 5 min", "45 min", "6 h".
fn duration(minutes: f64) -> String {
    let total = minutes.round().max(0.0) as i64;
    match (total / 60, total % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of one metric from `start`, one per day; `NAN` is a day without data.
    fn series_of(metric: Metric, start: &str, values: &[f64]) -> Vec<DailyValue> {
        let first = day_number(start).unwrap();
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(k, v)| {
                let day = day_text(first + k as i64);
                DailyValue {
                    metric,
                    sources: vec![format!(
                        "Observation/{}-{day}",
                        metric.label().replace(' ', "-")
                    )],
                    day,
                    value: *v,
                }
            })
            .collect()
    }

    fn person(parts: Vec<Vec<DailyValue>>) -> PersonSeries {
        PersonSeries {
            values: parts.into_iter().flatten().collect(),
            doses: Vec::new(),
        }
    }

    /// 21 days of 57, 58, 59, … (median 58, MAD 1 → robust SD 1.48, floored to 2).
    fn calm_rhr() -> Vec<f64> {
        (0..21).map(|k| 57.0 + f64::from(k % 3)).collect()
    }

    const M: f64 = f64::NAN;

    #[test]
    fn elevated_resting_hr_fires_explains_and_closes() {
        let mut rhr = calm_rhr();
        // 2024-03-22..24 raised, then two days back at baseline.
        rhr.extend([68.0, 71.0, 70.0, 59.0, 58.0]);
        let series = person(vec![series_of(
            Metric::RestingHeartRate,
            "2024-03-01",
            &rhr,
        )]);
        let episodes = detect(&series, &Config::default());
        assert_eq!(episodes.len(), 1);
        let e = &episodes[0];
        assert_eq!(e.detector, Detector::ElevatedRestingHeartRate);
        assert_eq!(e.metric, Some(Metric::RestingHeartRate));
        assert_eq!(
            (e.start.as_str(), e.last.as_str(), e.opened_on.as_str()),
            ("2024-03-22", "2024-03-24", "2024-03-24")
        );
        assert_eq!(e.resolved_on.as_deref(), Some("2024-03-25"));
        assert_eq!(
            e.detail,
            "resting HR 68, 71, 70 /min on 3 consecutive days vs baseline 58 ± 2 /min (30-day median ± robust SD)"
        );
        assert_eq!(
            e.evidence_references(),
            [
                "Observation/resting-HR-2024-03-22",
                "Observation/resting-HR-2024-03-23",
                "Observation/resting-HR-2024-03-24"
            ]
        );
        assert_eq!(
            (e.severity, e.recommendation),
            (Severity::Low, Recommendation::Rest)
        );
        assert!(e.advice().contains("rest"));
    }

    #[test]
    fn a_long_illness_stays_one_episode_against_a_frozen_baseline() {
        let mut rhr = calm_rhr();
        // Ten raised days, one in-between day (61: z 1.5), then recovery. The baseline never absorbs the illness.
        rhr.extend([
            66.0, 67.0, 68.0, 69.0, 70.0, 70.0, 69.0, 68.0, 67.0, 66.0, 61.0, 58.0, 57.0,
        ]);
        let series = person(vec![series_of(
            Metric::RestingHeartRate,
            "2024-03-01",
            &rhr,
        )]);
        let episodes = detect(&series, &Config::default());
        assert_eq!(episodes.len(), 1);
        assert_eq!(episodes[0].evidence.len(), 10);
        assert_eq!(episodes[0].last, "2024-03-31");
        assert_eq!(episodes[0].resolved_on.as_deref(), Some("2024-04-02"));
        assert!(episodes[0].detail.contains("68, 69, 70, 70, 69, …"));
    }

    #[test]
    fn ongoing_without_recovery() {
        let mut rhr = calm_rhr();
        rhr.extend([68.0, 71.0, 70.0, 72.0]);
        let series = person(vec![series_of(
            Metric::RestingHeartRate,
            "2024-03-01",
            &rhr,
        )]);
        let episodes = detect(&series, &Config::default());
        assert_eq!(episodes.len(), 1);
        assert!(episodes[0].is_ongoing());
        assert_eq!(episodes[0].evidence.len(), 4);
        // As of the 24th (data up to the 23rd): two raised days, nothing yet.
        assert!(detect_as_of(&series, &"2024-03-24".into(), &Config::default()).is_empty());
        let known = detect_as_of(&series, &"2024-03-25".into(), &Config::default());
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].opened_on, "2024-03-24");
    }

    #[test]
    fn resting_hr_confounders_do_not_fire() {
        let config = Config::default();
        // One hard training day, then another two days later: never 3 in a row.
        let mut rhr = calm_rhr();
        rhr.extend([68.0, 58.0, 67.0, 66.0, 58.0, 59.0]);
        let s = person(vec![series_of(
            Metric::RestingHeartRate,
            "2024-03-01",
            &rhr,
        )]);
        assert!(detect(&s, &config).is_empty());
        // A device swap reading 2–3 /min higher from then on: z ≤ 1.5.
        let mut rhr = calm_rhr();
        rhr.extend([61.0, 60.0, 61.0, 60.0, 61.0, 61.0, 60.0, 61.0]);
        let s = person(vec![series_of(
            Metric::RestingHeartRate,
            "2024-03-01",
            &rhr,
        )]);
        assert!(detect(&s, &config).is_empty());
        // Too little history: nothing is judged in the first week.
        let s = person(vec![series_of(
            Metric::RestingHeartRate,
            "2024-03-01",
            &[58.0, 57.0, 58.0, 70.0, 71.0, 72.0],
        )]);
        assert!(detect(&s, &config).is_empty());
    }

    #[test]
    fn missing_days_neither_count_nor_break_up_to_the_gap() {
        let config = Config::default();
        let mut rhr = calm_rhr();
        // Raised, 2 days without data (travel), raised, raised.
        rhr.extend([68.0, M, M, 71.0, 70.0]);
        let s = person(vec![series_of(
            Metric::RestingHeartRate,
            "2024-03-01",
            &rhr,
        )]);
        let e = detect(&s, &config);
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].start.as_str(), e[0].last.as_str()),
            ("2024-03-22", "2024-03-26")
        );
        assert!(
            e[0].detail
                .contains("on 3 days in a row (days without data skipped)")
        );
        // A 5-day gap starts over.
        let mut rhr = calm_rhr();
        rhr.extend([68.0, M, M, M, M, M, 71.0, 70.0, 58.0]);
        let s = person(vec![series_of(
            Metric::RestingHeartRate,
            "2024-03-01",
            &rhr,
        )]);
        assert!(detect(&s, &config).is_empty());
    }

    #[test]
    fn resting_hr_with_hrv_and_temperature_asks_for_a_check_in() {
        let mut rhr = calm_rhr();
        rhr.extend([68.0, 71.0, 70.0]);
        // HRV 45 ± ~2 (floor 5), then 30 and 28 on the first two raised days.
        let mut hrv: Vec<f64> = (0..21).map(|k| 44.0 + f64::from(k % 3)).collect();
        hrv.extend([30.0, 28.0, 44.0]);
        let mut temp = vec![0.0; 21];
        temp.extend([0.1, 0.6, 0.7]);
        let s = person(vec![
            series_of(Metric::RestingHeartRate, "2024-03-01", &rhr),
            series_of(Metric::HrvRmssd, "2024-03-01", &hrv),
            series_of(Metric::TemperatureDeviation, "2024-03-01", &temp),
        ]);
        let e = detect(&s, &Config::default());
        let rhr_episode = e
            .iter()
            .find(|e| e.detector == Detector::ElevatedRestingHeartRate)
            .unwrap();
        assert_eq!(
            (rhr_episode.severity, rhr_episode.recommendation),
            (Severity::Moderate, Recommendation::TelehealthCheckIn)
        );
        assert_eq!(
            rhr_episode.detail,
            "resting HR 68, 71, 70 /min on 3 consecutive days vs baseline 58 ± 2 /min (30-day median ± robust SD); \
             HRV (RMSSD) 30, 28 ms vs baseline 45 ± 5 ms (30-day median ± robust SD); \
             skin temperature deviation +0.6, +0.7 °C"
        );
        // 3 resting HR + 2 HRV + 2 temperature values.
        assert_eq!(rhr_episode.evidence.len(), 7);
        assert_eq!(rhr_episode.evidence[0].day, "2024-03-22");
        // HRV alone dropped for 2 days only: no HRV episode.
        assert!(e.iter().all(|e| e.detector != Detector::HrvSuppression));
    }

    /// 21 calm days of a metric: `level`, `level + step`, `level + 2·step`, …
    fn calm(level: f64, step: f64) -> Vec<f64> {
        (0..21).map(|k| level + step * f64::from(k % 3)).collect()
    }

    #[test]
    fn resting_hr_with_fever_opens_sooner_at_a_lower_bar() {
        // Resting HR 61 on two days: 1.5 robust SDs over 58 ± 2, short of the z 2 resting
        // HR alone needs; skin temperature +0.5 and +0.6 °C on the same days.
        let mut rhr = calm_rhr();
        rhr.extend([61.0, 61.0, 58.0, 57.0]);
        let mut temp = calm(0.0, 0.05);
        temp.extend([0.5, 0.6, 0.1, 0.0]);
        let s = person(vec![
            series_of(Metric::RestingHeartRate, "2024-03-01", &rhr),
            series_of(Metric::TemperatureDeviation, "2024-03-01", &temp),
        ]);
        let e = detect(&s, &Config::default());
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(e.detector, Detector::ElevatedRestingHeartRate);
        // Opened on the second corroborated day, closed by the two calm days after it.
        assert_eq!(
            (e.start.as_str(), e.opened_on.as_str(), e.last.as_str()),
            ("2024-03-22", "2024-03-23", "2024-03-23")
        );
        assert_eq!(e.resolved_on.as_deref(), Some("2024-03-24"));
        assert_eq!(
            e.detail,
            "resting HR 61, 61 /min on 2 consecutive days vs baseline 58 ± 2 /min (30-day median ± robust SD); \
             skin temperature deviation +0.5, +0.6 °C"
        );
        assert_eq!(
            (e.severity, e.recommendation),
            (Severity::Moderate, Recommendation::TelehealthCheckIn)
        );
        assert_eq!(
            e.evidence_references(),
            [
                "Observation/resting-HR-2024-03-22",
                "Observation/skin-temperature-deviation-2024-03-22",
                "Observation/resting-HR-2024-03-23",
                "Observation/skin-temperature-deviation-2024-03-23"
            ]
        );
        // The same resting HR without the temperature: nothing.
        let alone = person(vec![series_of(
            Metric::RestingHeartRate,
            "2024-03-01",
            &rhr,
        )]);
        assert!(detect(&alone, &Config::default()).is_empty());
    }

    #[test]
    fn resting_hr_with_fast_breathing_is_corroborated() {
        let mut rhr = calm_rhr();
        rhr.extend([61.0, 62.0]);
        // 14.8–15.2 /min: median 15, robust SD 0.3 floored to 0.5; then 16 and 16.2
        // (z 2 and 2.4, over the 1.5 that counts as a sign).
        let mut resp = calm(14.8, 0.2);
        resp.extend([16.0, 16.2]);
        let s = person(vec![
            series_of(Metric::RestingHeartRate, "2024-03-01", &rhr),
            series_of(Metric::RespiratoryRate, "2024-03-01", &resp),
        ]);
        let e = detect(&s, &Config::default());
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].opened_on, "2024-03-23");
        assert!(e[0].is_ongoing());
        assert_eq!(
            e[0].detail,
            "resting HR 61, 62 /min on 2 consecutive days vs baseline 58 ± 2 /min (30-day median ± robust SD); \
             respiratory rate 16, 16.2 /min vs baseline 15 ± 0.5 /min (30-day median ± robust SD)"
        );
        assert_eq!(e[0].evidence.len(), 4);
        // A sign on one day only: the next moderately raised day breaks the run.
        let mut once = calm(14.8, 0.2);
        once.extend([16.0, 15.0]);
        let s = person(vec![
            series_of(Metric::RestingHeartRate, "2024-03-01", &rhr),
            series_of(Metric::RespiratoryRate, "2024-03-01", &once),
        ]);
        assert!(detect(&s, &Config::default()).is_empty());
    }

    #[test]
    fn a_training_week_does_not_fire() {
        // A hard week: 20,000 steps on days 1, 3, 5 and 6, resting HR 1.5–2 robust SDs up
        // on the mornings after (and, without the guard, on three days running), while
        // temperature and respiratory rate stay where they were.
        let mut rhr = calm_rhr();
        rhr.extend([58.0, 61.0, 58.0, 62.0, 61.0, 61.0, 61.0, 58.0, 58.0]);
        let mut steps = calm(8000.0, 200.0);
        steps.extend([
            20_000.0, 8000.0, 20_000.0, 8200.0, 20_000.0, 21_000.0, 8000.0, 8000.0, 8200.0,
        ]);
        let mut temp = calm(0.0, 0.05);
        temp.extend([0.1, 0.0, 0.1, 0.2, 0.1, 0.0, 0.1, 0.0, 0.1]);
        let mut resp = calm(14.8, 0.2);
        resp.extend([15.0, 15.2, 14.8, 15.4, 15.2, 15.0, 15.2, 15.0, 14.8]);
        let s = person(vec![
            series_of(Metric::RestingHeartRate, "2024-03-01", &rhr),
            series_of(Metric::Steps, "2024-03-01", &steps),
            series_of(Metric::TemperatureDeviation, "2024-03-01", &temp),
            series_of(Metric::RespiratoryRate, "2024-03-01", &resp),
        ]);
        assert!(detect(&s, &Config::default()).is_empty());
        let unguarded = Config {
            training_guard_z: None,
            ..Config::default()
        };
        assert!(detect(&s, &unguarded).is_empty());
        // What keeps it quiet is the missing signs: were every day a sign, the raised days
        // would open an episode.
        let any_temperature = Config {
            temperature_deviation_threshold: -1.0,
            ..unguarded
        };
        assert_eq!(detect(&s, &any_temperature).len(), 1);
    }

    #[test]
    fn training_guard_skips_days_after_many_steps() {
        let mut rhr = calm_rhr();
        rhr.extend([65.0, 66.0, 65.0, 58.0, 58.0]);
        let mut steps: Vec<f64> = (0..21).map(|k| 8000.0 + 200.0 * f64::from(k % 3)).collect();
        // A training block: 20000 steps on the three days of raised resting HR.
        steps.extend([20_000.0, 21_000.0, 19_000.0, 8200.0, 8000.0]);
        let s = person(vec![
            series_of(Metric::RestingHeartRate, "2024-03-01", &rhr),
            series_of(Metric::Steps, "2024-03-01", &steps),
        ]);
        assert!(detect(&s, &Config::default()).is_empty());
        let unguarded = Config {
            training_guard_z: None,
            ..Config::default()
        };
        assert_eq!(detect(&s, &unguarded).len(), 1);
    }

    #[test]
    fn sleep_degradation_needs_three_nights() {
        // 7 h ± 20 min (floor 30), then a single bad night: nothing.
        let mut sleep: Vec<f64> = (0..21).map(|k| 400.0 + 20.0 * f64::from(k % 3)).collect();
        sleep.extend([240.0, 415.0, 420.0]);
        let s = person(vec![series_of(Metric::SleepDuration, "2024-03-01", &sleep)]);
        assert!(detect(&s, &Config::default()).is_empty());
        // Three short nights, then two normal ones.
        sleep.extend([300.0, 290.0, 310.0, 410.0, 420.0]);
        let s = person(vec![series_of(Metric::SleepDuration, "2024-03-01", &sleep)]);
        let e = detect(&s, &Config::default());
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].detector, Detector::SleepDegradation);
        assert_eq!(
            e[0].detail,
            "sleep 5 h, 4 h 50 min, 5 h 10 min on 3 consecutive nights vs baseline 7 h ± 30 min (30-day median ± robust SD)"
        );
        assert_eq!(e[0].start, "2024-03-25");
        assert_eq!(e[0].resolved_on.as_deref(), Some("2024-03-28"));
        assert_eq!(e[0].recommendation, Recommendation::LifestyleAdjustment);
    }

    #[test]
    fn activity_drop_fires_and_travel_does_not() {
        let mut steps: Vec<f64> = (0..21).map(|k| 8000.0 + 500.0 * f64::from(k % 3)).collect();
        // Travel: a week without data, then normal again.
        let mut travel = steps.clone();
        travel.extend([M, M, M, M, M, M, M, 8200.0, 8600.0, 8100.0]);
        let s = person(vec![series_of(Metric::Steps, "2024-03-01", &travel)]);
        assert!(detect(&s, &Config::default()).is_empty());
        steps.extend([2000.0, 1500.0, 2500.0, 3000.0, 8000.0, 8500.0]);
        let s = person(vec![series_of(Metric::Steps, "2024-03-01", &steps)]);
        let e = detect(&s, &Config::default());
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].detector, Detector::ActivityDrop);
        assert_eq!(e[0].evidence.len(), 4);
        assert_eq!(e[0].resolved_on.as_deref(), Some("2024-03-26"));
        // MAD 500 → robust SD 741.3, floored to 1000.
        assert_eq!(
            e[0].detail,
            "steps 2000, 1500, 2500, 3000 on 4 consecutive days vs baseline 8500 ± 1000 (30-day median ± robust SD)"
        );
    }

    #[test]
    fn low_spo2_is_high_severity() {
        let mut spo2: Vec<f64> = (0..14).map(|k| 95.0 + f64::from(k % 3)).collect();
        // One low night: nothing; then two in a row.
        spo2.extend([90.0, 96.0, 90.0, 89.0, 95.0, 96.0]);
        let s = person(vec![series_of(
            Metric::OxygenSaturation,
            "2024-03-01",
            &spo2,
        )]);
        let e = detect(&s, &Config::default());
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(
            (e.detector, e.severity, e.recommendation),
            (
                Detector::LowOxygenSaturation,
                Severity::High,
                Recommendation::TelehealthCheckIn
            )
        );
        assert_eq!(e.start, "2024-03-17");
        assert_eq!(e.resolved_on.as_deref(), Some("2024-03-19"));
        assert_eq!(
            e.detail,
            "lowest SpO2 90, 89 % on 2 consecutive days, below the 92 % floor (baseline 96 ± 1.5 %, 30-day median ± robust SD)"
        );
        assert!(e.advice().contains("oxygen"));
    }

    #[test]
    fn low_spo2_respects_a_low_personal_baseline() {
        // Someone who always reads 89–91: only a drop below their own range counts.
        let mut spo2: Vec<f64> = (0..14).map(|k| 89.0 + f64::from(k % 3)).collect();
        spo2.extend([90.0, 89.0, 90.0]);
        let s = person(vec![series_of(
            Metric::OxygenSaturation,
            "2024-03-01",
            &spo2,
        )]);
        assert!(detect(&s, &Config::default()).is_empty());
        spo2.extend([85.0, 84.0]);
        let s = person(vec![series_of(
            Metric::OxygenSaturation,
            "2024-03-01",
            &spo2,
        )]);
        assert_eq!(detect(&s, &Config::default()).len(), 1);
        // Nothing is judged before a week of reference data.
        let s = person(vec![series_of(
            Metric::OxygenSaturation,
            "2024-03-01",
            &[90.0, 85.0, 84.0],
        )]);
        assert!(detect(&s, &Config::default()).is_empty());
    }

    #[test]
    fn hrv_suppression_recommends_rest() {
        let mut hrv: Vec<f64> = (0..21).map(|k| 60.0 + 2.0 * f64::from(k % 3)).collect();
        hrv.extend([40.0, 42.0, 38.0, 61.0, 60.0]);
        // SDNN with fewer days is ignored in favour of RMSSD.
        let s = person(vec![
            series_of(Metric::HrvRmssd, "2024-03-01", &hrv),
            series_of(Metric::HrvSdnn, "2024-03-20", &[10.0, 10.0, 10.0]),
        ]);
        let e = detect(&s, &Config::default());
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].detector, e[0].metric, e[0].recommendation),
            (
                Detector::HrvSuppression,
                Some(Metric::HrvRmssd),
                Recommendation::Rest
            )
        );
        assert_eq!(e[0].resolved_on.as_deref(), Some("2024-03-25"));
    }

    #[test]
    fn rising_blood_pressure_on_the_rolling_mean() {
        // 30 days at 118–122, then a week at 134–138, then back.
        let mut sys: Vec<f64> = (0..30).map(|k| 118.0 + 2.0 * f64::from(k % 3)).collect();
        let calm = sys.clone();
        sys.extend([134.0, 136.0, 138.0, 136.0, 134.0, 136.0, 138.0]);
        let s = person(vec![series_of(
            Metric::SystolicBloodPressure,
            "2024-01-01",
            &sys,
        )]);
        let e = detect(&s, &Config::default());
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(e.detector, Detector::RisingBloodPressure);
        // Means of the 7 days ending 31 Jan (118 120 122 118 120 122 134) = 122, 1 Feb
        // 124.57, 2 Feb 127.14 (between: above 120 + 5), 3 Feb 129.14 (≥ 120 + 8: the
        // first qualifying day), 4 Feb 131.43, 5 Feb 133.71, 6 Feb 136.
        assert_eq!(
            (e.start.as_str(), e.opened_on.as_str()),
            ("2024-02-03", "2024-02-04")
        );
        assert!(e.detail.starts_with("7-day mean systolic BP 129.1, 131.4, 133.7, 136 mmHg on 4 consecutive measured days"), "{}", e.detail);
        assert!(e.detail.contains("vs baseline 120 ± 5 mmHg (90-day median ± robust SD); alert level 128 mmHg (baseline + 8) or 135 mmHg"));
        assert_eq!(e.severity, Severity::Moderate);
        assert!(e.is_ongoing());
        // The evidence is every reading in the qualifying days' 7-day windows.
        assert_eq!(
            e.evidence.first().map(|v| v.day.as_str()),
            Some("2024-01-28")
        );
        // A single high reading among normal ones does not move a 7-day mean enough.
        let mut one = calm;
        one.extend([150.0, 120.0, 118.0, 122.0]);
        let s = person(vec![series_of(
            Metric::SystolicBloodPressure,
            "2024-01-01",
            &one,
        )]);
        assert!(detect(&s, &Config::default()).is_empty());
    }

    #[test]
    fn glucose_out_of_range_and_time_in_range_drop() {
        let mut mean: Vec<f64> = (0..14).map(|k| 120.0 + 5.0 * f64::from(k % 3)).collect();
        let mut tir: Vec<f64> = (0..14).map(|k| 85.0 + f64::from(k % 3)).collect();
        // Two days above range, then two in range with time in range 60 % (drop ≥ 15
        // points from 86), then two normal days.
        mean.extend([200.0, 190.0, 150.0, 150.0, 125.0, 120.0]);
        tir.extend([50.0, 55.0, 60.0, 60.0, 85.0, 86.0]);
        let s = person(vec![
            series_of(Metric::Glucose, "2024-03-01", &mean),
            series_of(Metric::GlucoseTimeInRange, "2024-03-01", &tir),
        ]);
        let e = detect(&s, &Config::default());
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(e.detector, Detector::GlucoseOutOfRange);
        assert_eq!(e.evidence.len(), 8);
        assert_eq!(e.last, "2024-03-18");
        assert_eq!(e.resolved_on.as_deref(), Some("2024-03-19"));
        assert_eq!(
            e.detail,
            "mean glucose 200, 190, 150, 150 mg/dL on 4 consecutive days (target 70–180 mg/dL); \
             glucose time in range 50, 55, 60, 60 % vs baseline 86 % (30-day median; alert at 15 points below)"
        );
        assert_eq!(e.severity, Severity::Moderate);
        // A low day mean makes it high severity.
        let mut low = (0..14)
            .map(|k| 120.0 + 5.0 * f64::from(k % 3))
            .collect::<Vec<_>>();
        low.extend([65.0, 68.0]);
        let s = person(vec![series_of(Metric::Glucose, "2024-03-01", &low)]);
        assert_eq!(detect(&s, &Config::default())[0].severity, Severity::High);
        // One high day alone does not fire.
        let mut once = (0..14)
            .map(|k| 120.0 + 5.0 * f64::from(k % 3))
            .collect::<Vec<_>>();
        once.extend([220.0, 130.0, 125.0]);
        let s = person(vec![series_of(Metric::Glucose, "2024-03-01", &once)]);
        assert!(detect(&s, &Config::default()).is_empty());
    }

    fn dose(day: &str, taken: bool, medication: &str, id: &str) -> MedicationDose {
        MedicationDose {
            day: day.into(),
            taken,
            medication: medication.into(),
            source: format!("MedicationAdministration/{id}"),
        }
    }

    #[test]
    fn missed_medication_streak() {
        let doses = vec![
            dose("2024-03-01", true, "Metformin", "1"),
            dose("2024-03-02", false, "Metformin", "2"),
            dose("2024-03-03", true, "Metformin", "3"),
            dose("2024-03-04", false, "Metformin", "4"),
            dose("2024-03-05", false, "Metformin", "5"),
            dose("2024-03-05", true, "Lisinopril", "6"),
            dose("2024-03-06", false, "Lisinopril", "7"),
            dose("2024-03-07", true, "Metformin", "8"),
            dose("2024-03-08", true, "Metformin", "9"),
        ];
        let s = PersonSeries {
            values: Vec::new(),
            doses,
        };
        let e = detect(&s, &Config::default());
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(
            (e.detector, e.metric, e.severity, e.recommendation),
            (
                Detector::MissedMedication,
                None,
                Severity::Low,
                Recommendation::LifestyleAdjustment
            )
        );
        assert_eq!(
            (e.start.as_str(), e.last.as_str()),
            ("2024-03-04", "2024-03-06")
        );
        assert_eq!(e.resolved_on.as_deref(), Some("2024-03-07"));
        assert_eq!(
            e.detail,
            "Metformin, Lisinopril recorded as not taken on 3 consecutive days (2024-03-04, 2024-03-05, 2024-03-06)"
        );
        assert_eq!(
            e.evidence_references(),
            [
                "MedicationAdministration/4",
                "MedicationAdministration/5",
                "MedicationAdministration/7"
            ]
        );
    }

    #[test]
    fn episodes_are_sorted_and_codes_are_stable() {
        let mut rhr = calm_rhr();
        rhr.extend([68.0, 71.0, 70.0]);
        let mut sleep: Vec<f64> = (0..21).map(|k| 400.0 + 20.0 * f64::from(k % 3)).collect();
        sleep.extend([420.0, 300.0, 290.0, 310.0]);
        let s = person(vec![
            series_of(Metric::SleepDuration, "2024-03-01", &sleep),
            series_of(Metric::RestingHeartRate, "2024-03-01", &rhr),
        ]);
        let e = detect(&s, &Config::default());
        let got: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.start.as_str(), e.detector.code()))
            .collect();
        assert_eq!(
            got,
            [
                ("2024-03-22", "elevated-resting-heart-rate"),
                ("2024-03-23", "sleep-degradation")
            ]
        );
        let codes: BTreeSet<&str> = Detector::ALL.iter().map(|d| d.code()).collect();
        assert_eq!(codes.len(), 8);
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(duration(425.0), "7 h 5 min");
        assert_eq!(duration(45.0), "45 min");
        assert_eq!(duration(360.0), "6 h");
        assert_eq!(number(58.04), "58");
        assert_eq!(number(58.46), "58.5");
        assert_eq!(number(-0.01), "0");
        assert_eq!(format_value(Metric::TemperatureDeviation, 0.6), "+0.6");
        let many: Vec<f64> = (0..9).map(f64::from).collect();
        assert_eq!(
            list(Metric::RestingHeartRate, &many),
            "0, 1, 2, 3, 4, 5, 6, … /min"
        );
    }
}
