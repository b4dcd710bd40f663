//! Scores the engine against a synthetic cohort's known truth ([`crate::synthetic`]), so
//! "precision above 0.85, a baseline within 72 hours" is a measured figure that CI can
//! hold the engine to, not a hope.
//!
//! Scoring rules:
//!
//! * **Illness alerts** are episodes of the detectors in [`ILLNESS_DETECTORS`]: the
//!   elevated-resting-HR episode, which is the engine's one illness alert. It opens on
//!   resting heart rate, the signal that moves before symptoms, sooner when skin
//!   temperature or respiratory rate corroborate it, and carries the HRV, temperature and
//!   respiratory-rate evidence of its days. HRV suppression on its own is a stress
//!   indicator (hard training, short nights and travel lower HRV as well), and sleep
//!   degradation and activity drops are behaviour (they follow symptoms but also travel
//!   or a bad night): they stay their own alerts and are scored only on their own in
//!   [`Report::per_detector`]. With several detectors ([`evaluate_with`]), episodes that
//!   overlap (or touch: one starts the day after another's last day) are one alert,
//!   starting on the earliest start: the person sees one warning either way.
//! * An alert is **true** when its start lies in `[onset − 7, onset + 3]` days of an
//!   illness not already matched (each illness is matched at most once, earliest onset
//!   first); everything else is **false**, including a second alert for one illness or
//!   one raised too late. False alerts are sorted by what was happening around them
//!   ([`FalseAlerts`]), to show where the engine goes wrong.
//! * **Lead time** = onset − alert start, in days (positive = before onset), over true
//!   alerts. **Recall** = illnesses matched / illnesses. **Precision** = true alerts /
//!   alerts (0 when there are none). False alerts per person-month use 30-day months
//!   over the days from each person's first to last value.
//! * **Time to a baseline**, per person, for resting heart rate (the metric the main
//!   alert needs): the smallest `D − F` such that [`baselines`] as of day `D` has a
//!   resting-HR baseline, `F` being the first day with any data. A baseline as of `D`
//!   covers the days before `D`, so it exists at the end of day `D − 1`, after `D − F`
//!   days of data (3 = within 72 hours of the first data); likewise for the first
//!   baseline whose status is [`BaselineStatus::Stable`].

use std::fmt;

use crate::baseline::{BaselineStatus, baselines, day_number, day_text};
use crate::config::Config;
use crate::detect::{Detector, Episode, detect};
use crate::synthetic::{Confounder, SyntheticPerson, TruthKind};
use crate::{Metric, PersonSeries};

/// The detectors whose episodes count as "you may be getting ill" alerts: elevated resting
/// HR, corroborated by HRV, temperature and respiratory rate (see the module docs).
pub const ILLNESS_DETECTORS: &[Detector] = &[Detector::ElevatedRestingHeartRate];

/// An alert may start this many days before an illness's onset and still be about it.
pub const EARLIEST_BEFORE_ONSET: i64 = 7;

/// An alert may start this many days after an illness's onset and still count.
pub const LATEST_AFTER_ONSET: i64 = 3;

/// The figures of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// People in the cohort.
    pub people: usize,
    /// Days from each person's first to last value, summed.
    pub person_days: usize,
    /// The detectors counted as illness alerts.
    pub detectors: Vec<Detector>,
    /// The figures for those detectors together.
    pub score: Score,
    /// False alerts by what was happening around them.
    pub false_alerts: FalseAlerts,
    /// False alerts per person-month (30 days).
    pub false_alerts_per_person_month: f64,
    /// Median days of data before the first resting-HR baseline exists.
    pub median_days_to_first_baseline: Option<f64>,
    /// Share of people with a resting-HR baseline within 3 days of first data.
    pub first_baseline_within_3_days: f64,
    /// Median days of data before the first stable resting-HR baseline exists.
    pub median_days_to_stable_baseline: Option<f64>,
    /// Each detector that fired, scored alone (lifestyle detectors included).
    pub per_detector: Vec<(Detector, Score)>,
}

/// Alerts against illnesses, for one set of detectors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Score {
    /// Injected illnesses.
    pub illnesses: usize,
    /// Illnesses matched by an alert.
    pub detected: usize,
    /// Alerts.
    pub alerts: usize,
    /// Alerts that matched an illness.
    pub true_alerts: usize,
    /// `true_alerts / alerts` (0 when there are no alerts).
    pub precision: f64,
    /// `detected / illnesses` (0 when there are no illnesses).
    pub recall: f64,
    /// Median of onset − alert start over true alerts, in days (positive = before onset).
    pub median_lead_days: Option<f64>,
}

/// False alerts, by the nearest injected episode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FalseAlerts {
    /// Starting from 7 days before an illness to 10 days after its end: a second alert
    /// for the same illness, or one too early or too late.
    pub near_illness: usize,
    /// From 2 days before a training week to 3 days after it.
    pub training_week: usize,
    /// From 2 days before a trip to 3 days after it.
    pub travel: usize,
    /// From 2 days before a bad night to 3 days after it.
    pub bad_night: usize,
    /// In the 21 days after a device swap (while the baseline catches up with the shift).
    pub device_swap: usize,
    /// None of the above: noise.
    pub unexplained: usize,
}

impl FalseAlerts {
    /// All false alerts.
    pub fn total(&self) -> usize {
        self.near_illness
            + self.training_week
            + self.travel
            + self.bad_night
            + self.device_swap
            + self.unexplained
    }
}

/// Runs the engine over every person of `cohort` and scores its illness alerts
/// ([`ILLNESS_DETECTORS`]) and baselines.
pub fn evaluate(cohort: &[SyntheticPerson], config: &Config) -> Report {
    evaluate_with(cohort, config, ILLNESS_DETECTORS)
}

/// [`evaluate`], counting the episodes of `detectors` as illness alerts.
pub fn evaluate_with(
    cohort: &[SyntheticPerson],
    config: &Config,
    detectors: &[Detector],
) -> Report {
    let runs: Vec<(Truths, Vec<Episode>)> = cohort
        .iter()
        .map(|person| (Truths::of(person), detect(&person.series, config)))
        .collect();
    let tally = |detectors: &[Detector]| {
        let mut tally = Tally::default();
        for (truth, episodes) in &runs {
            tally.add(truth, episodes, detectors);
        }
        tally
    };
    let total = tally(detectors);
    let mut fired: Vec<Detector> = runs
        .iter()
        .flat_map(|(_, episodes)| episodes.iter().map(|e| e.detector))
        .collect();
    fired.sort();
    fired.dedup();
    let (mut first, mut stable) = (Vec::new(), Vec::new());
    for person in cohort {
        let (f, s) = days_to_baseline(person, config);
        first.extend(f);
        stable.extend(s);
    }
    let person_days: usize = runs.iter().map(|(truth, _)| truth.days).sum();
    let within_3 = first.iter().filter(|d| **d <= 3.0).count();
    Report {
        people: cohort.len(),
        person_days,
        detectors: detectors.to_vec(),
        false_alerts_per_person_month: if person_days == 0 {
            0.0
        } else {
            total.false_alerts.total() as f64 * 30.0 / person_days as f64
        },
        score: total.score(),
        false_alerts: total.false_alerts,
        first_baseline_within_3_days: ratio(within_3, cohort.len()),
        median_days_to_first_baseline: median(first),
        median_days_to_stable_baseline: median(stable),
        per_detector: fired
            .into_iter()
            .map(|d| (d, tally(&[d]).score()))
            .collect(),
    }
}

/// A person's injected episodes as day numbers.
struct Truths {
    /// (onset, start, end) of each illness.
    illnesses: Vec<(i64, i64, i64)>,
    /// (kind, start, end) of each confounder.
    confounders: Vec<(Confounder, i64, i64)>,
    /// Days from the first to the last value.
    days: usize,
}

impl Truths {
    fn of(person: &SyntheticPerson) -> Truths {
        let mut illnesses = Vec::new();
        let mut confounders = Vec::new();
        for t in &person.episodes {
            let days = (
                day_number(&t.onset),
                day_number(&t.start),
                day_number(&t.end),
            );
            let (Some(onset), Some(start), Some(end)) = days else {
                continue;
            };
            match t.kind {
                TruthKind::Illness => illnesses.push((onset, start, end)),
                TruthKind::Confounder(kind) => confounders.push((kind, start, end)),
            }
        }
        illnesses.sort_unstable();
        let span = data_span(person);
        Truths {
            illnesses,
            confounders,
            days: span.map_or(0, |(a, b)| (b - a + 1) as usize),
        }
    }
}

/// Counts for one set of detectors, summed over people.
#[derive(Default)]
struct Tally {
    illnesses: usize,
    detected: usize,
    alerts: usize,
    true_alerts: usize,
    leads: Vec<f64>,
    false_alerts: FalseAlerts,
}

impl Tally {
    fn add(&mut self, truth: &Truths, episodes: &[Episode], detectors: &[Detector]) {
        let (alerts, unreadable) = alerts(episodes, detectors);
        // An episode whose days do not parse cannot be matched: a false alert.
        self.alerts += alerts.len() + unreadable;
        self.false_alerts.unexplained += unreadable;
        self.illnesses += truth.illnesses.len();
        let mut matched = vec![false; truth.illnesses.len()];
        for (start, _) in alerts {
            let hit = truth
                .illnesses
                .iter()
                .enumerate()
                .position(|(i, (onset, ..))| {
                    !matched[i]
                        && (onset - EARLIEST_BEFORE_ONSET..=onset + LATEST_AFTER_ONSET)
                            .contains(&start)
                });
            if let Some(i) = hit {
                matched[i] = true;
                self.true_alerts += 1;
                self.detected += 1;
                self.leads.push((truth.illnesses[i].0 - start) as f64);
            } else {
                self.classify(truth, start);
            }
        }
    }

    fn classify(&mut self, truth: &Truths, start: i64) {
        let f = &mut self.false_alerts;
        if truth
            .illnesses
            .iter()
            .any(|(_, s, e)| (s - 7..=e + 10).contains(&start))
        {
            f.near_illness += 1;
            return;
        }
        for (kind, s, e) in &truth.confounders {
            let (counter, near) = match kind {
                Confounder::DeviceSwap => (&mut f.device_swap, (*s..=s + 21).contains(&start)),
                Confounder::TrainingWeek => {
                    (&mut f.training_week, (s - 2..=e + 3).contains(&start))
                }
                Confounder::Travel => (&mut f.travel, (s - 2..=e + 3).contains(&start)),
                Confounder::BadNight => (&mut f.bad_night, (s - 2..=e + 3).contains(&start)),
            };
            if near {
                *counter += 1;
                return;
            }
        }
        f.unexplained += 1;
    }

    fn score(&self) -> Score {
        Score {
            illnesses: self.illnesses,
            detected: self.detected,
            alerts: self.alerts,
            true_alerts: self.true_alerts,
            precision: ratio(self.true_alerts, self.alerts),
            recall: ratio(self.detected, self.illnesses),
            median_lead_days: median(self.leads.clone()),
        }
    }
}

/// The alerts made of `detectors`' episodes, as (day raised, last day) in order (an
/// episode counts from `opened_on`, the day the engine raised it, not from the first day
/// of its run, which it only knew afterwards),
/// overlapping or touching episodes merged; and how many episodes had unreadable days.
fn alerts(episodes: &[Episode], detectors: &[Detector]) -> (Vec<(i64, i64)>, usize) {
    let mut unreadable = 0;
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for e in episodes.iter().filter(|e| detectors.contains(&e.detector)) {
        match (day_number(&e.opened_on), day_number(&e.last)) {
            (Some(start), Some(last)) => runs.push((start, last.max(start))),
            _ => unreadable += 1,
        }
    }
    runs.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (start, last) in runs {
        match merged.last_mut() {
            Some(alert) if start <= alert.1 + 1 => alert.1 = alert.1.max(last),
            _ => merged.push((start, last)),
        }
    }
    (merged, unreadable)
}

/// The first and last day with any value.
fn data_span(person: &SyntheticPerson) -> Option<(i64, i64)> {
    let days = person
        .series
        .values
        .iter()
        .filter_map(|v| day_number(&v.day));
    days.fold(None, |span, d| match span {
        None => Some((d, d)),
        Some((a, b)) => Some((a.min(d), b.max(d))),
    })
}

/// Days of data before the first resting-HR baseline, and before the first stable one
/// (see the module docs); `None` when there is none by the end of the data.
fn days_to_baseline(person: &SyntheticPerson, config: &Config) -> (Option<f64>, Option<f64>) {
    let Some((first_day, last_day)) = data_span(person) else {
        return (None, None);
    };
    // A baseline as of D reads only the days before D: scanning the first weeks needs
    // only their values, which keeps this cheap for long series.
    let early_days = first_day + 61;
    let early = PersonSeries {
        values: (person.series.values.iter())
            .filter(|v| day_number(&v.day).is_some_and(|d| d < early_days))
            .cloned()
            .collect(),
        doses: Vec::new(),
    };
    let mut first = None;
    for as_of in first_day + 1..=last_day + 1 {
        let series = if as_of <= early_days {
            &early
        } else {
            &person.series
        };
        let all = baselines(series, &day_text(as_of), config);
        let mut rhr = all.iter().filter(|b| b.metric == Metric::RestingHeartRate);
        let days = (as_of - first_day) as f64;
        let mut any = false;
        for b in rhr.by_ref() {
            any = true;
            if matches!(b.status, BaselineStatus::Stable) {
                return (first.or(Some(days)), Some(days));
            }
        }
        if any && first.is_none() {
            first = Some(days);
        }
    }
    (first, None)
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

fn days(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |d| format!("{d:.1} days"))
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "precision {:.3} ({} of {} alerts), recall {:.3} ({} of {} illnesses), median lead {}",
            self.precision,
            self.true_alerts,
            self.alerts,
            self.recall,
            self.detected,
            self.illnesses,
            days(self.median_lead_days),
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.detectors.iter().map(|d| format!("{d:?}")).collect();
        writeln!(
            f,
            "cohort: {} people, {} person-days",
            self.people, self.person_days
        )?;
        writeln!(f, "illness alerts ({}):", names.join(" + "))?;
        writeln!(f, "  {}", self.score)?;
        let fa = &self.false_alerts;
        writeln!(
            f,
            "  false alerts: {:.3} per person-month ({}: near an illness {}, training week {}, travel {}, bad night {}, device swap {}, unexplained {})",
            self.false_alerts_per_person_month,
            fa.total(),
            fa.near_illness,
            fa.training_week,
            fa.travel,
            fa.bad_night,
            fa.device_swap,
            fa.unexplained,
        )?;
        writeln!(
            f,
            "baseline (resting HR): first after median {} ({:.1} % within 3 days), stable after median {}",
            days(self.median_days_to_first_baseline),
            100.0 * self.first_baseline_within_3_days,
            days(self.median_days_to_stable_baseline),
        )?;
        writeln!(f, "each detector alone:")?;
        for (detector, score) in &self.per_detector {
            writeln!(f, "  {detector:?}: {score}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DailyValue;
    use crate::detect::{Recommendation, Severity};
    use crate::synthetic::Truth;

    fn episode(detector: Detector, start: &str, last: &str) -> Episode {
        Episode {
            detector,
            metric: None,
            start: start.to_owned(),
            last: last.to_owned(),
            opened_on: start.to_owned(),
            doses: Vec::new(),
            resolved_on: None,
            severity: Severity::Moderate,
            evidence: Vec::new(),
            detail: String::new(),
            recommendation: Recommendation::Rest,
        }
    }

    fn truth(kind: TruthKind, onset: &str, start: &str, end: &str) -> Truth {
        Truth {
            kind,
            onset: onset.to_owned(),
            start: start.to_owned(),
            end: end.to_owned(),
        }
    }

    /// A person with resting HR on 2025-02-01 … 2025-03-31, an illness with onset
    /// 2025-02-10 (from 02-07 to 02-14), a training week 03-01 … 03-07 and an illness with
    /// onset 2025-03-25 (03-22 to 03-29).
    fn person() -> SyntheticPerson {
        let values = (0..59)
            .map(|i| DailyValue {
                metric: Metric::RestingHeartRate,
                day: day_text(day_number("2025-02-01").unwrap() + i),
                value: 60.0,
                sources: Vec::new(),
            })
            .collect();
        SyntheticPerson {
            id: "p0000".to_owned(),
            series: PersonSeries {
                values,
                doses: Vec::new(),
            },
            episodes: vec![
                truth(TruthKind::Illness, "2025-02-10", "2025-02-07", "2025-02-14"),
                truth(
                    TruthKind::Confounder(Confounder::TrainingWeek),
                    "2025-03-01",
                    "2025-03-01",
                    "2025-03-07",
                ),
                truth(TruthKind::Illness, "2025-03-25", "2025-03-22", "2025-03-29"),
            ],
        }
    }

    #[test]
    fn scores_by_the_matching_window() {
        use Detector::*;
        let p = person();
        let truth = Truths::of(&p);
        assert_eq!(truth.days, 59);
        let episodes = [
            // Two days before the first onset; an HRV episode overlapping it is the same
            // alert, and a second RHR run the day after its end as well.
            episode(ElevatedRestingHeartRate, "2025-02-08", "2025-02-11"),
            episode(HrvSuppression, "2025-02-09", "2025-02-13"),
            episode(ElevatedRestingHeartRate, "2025-02-14", "2025-02-15"),
            // A separate alert 2 days later: near the illness, false.
            episode(ElevatedRestingHeartRate, "2025-02-18", "2025-02-19"),
            // In the training week.
            episode(HrvSuppression, "2025-03-04", "2025-03-06"),
            // Four days after the second onset: too late.
            episode(ElevatedRestingHeartRate, "2025-03-29", "2025-03-31"),
            // Nothing around.
            episode(ElevatedRestingHeartRate, "2025-01-10", "2025-01-12"),
            // Not an illness detector.
            episode(SleepDegradation, "2025-03-24", "2025-03-26"),
        ];
        // Resting HR and HRV together: overlapping episodes are one alert.
        let mut t = Tally::default();
        t.add(
            &truth,
            &episodes,
            &[ElevatedRestingHeartRate, HrvSuppression],
        );
        let s = t.score();
        assert_eq!(
            (s.alerts, s.true_alerts, s.illnesses, s.detected),
            (5, 1, 2, 1)
        );
        assert_eq!(s.precision, 0.2);
        assert_eq!(s.recall, 0.5);
        assert_eq!(s.median_lead_days, Some(2.0));
        assert_eq!(
            t.false_alerts,
            FalseAlerts {
                near_illness: 2,
                training_week: 1,
                unexplained: 1,
                ..FalseAlerts::default()
            }
        );

        // Sleep alone: one day before the second onset.
        let mut t = Tally::default();
        t.add(&truth, &episodes, &[SleepDegradation]);
        let s = t.score();
        assert_eq!((s.alerts, s.true_alerts, s.detected), (1, 1, 1));
        assert_eq!(s.median_lead_days, Some(1.0));
    }

    #[test]
    fn each_illness_is_matched_once() {
        let truth = Truths::of(&person());
        let episodes = [
            episode(
                Detector::ElevatedRestingHeartRate,
                "2025-02-03",
                "2025-02-04",
            ),
            episode(
                Detector::ElevatedRestingHeartRate,
                "2025-02-10",
                "2025-02-11",
            ),
        ];
        let mut t = Tally::default();
        t.add(&truth, &episodes, ILLNESS_DETECTORS);
        // 02-03 is 7 days before onset: in the window; 02-10 is then a second alert.
        assert_eq!((t.alerts, t.true_alerts, t.detected), (2, 1, 1));
        assert_eq!(t.leads, [7.0]);
        assert_eq!(t.false_alerts.near_illness, 1);
    }

    #[test]
    fn unreadable_days_are_false_alerts() {
        let truth = Truths::of(&person());
        let mut t = Tally::default();
        t.add(
            &truth,
            &[episode(
                Detector::ElevatedRestingHeartRate,
                "10 Feb",
                "2025-02-11",
            )],
            ILLNESS_DETECTORS,
        );
        assert_eq!((t.alerts, t.true_alerts), (1, 0));
        assert_eq!(t.false_alerts.unexplained, 1);
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
