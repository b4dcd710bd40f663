//! What is normal for this person: rolling baselines per metric.
//!
//! A population range says little about one person (a resting HR of 70 /min is normal,
//! but not for someone who has been at 55 for a year), so everything the twin says is
//! relative to the person's own recent past. A baseline summarises one metric over one
//! window with a *robust* centre and spread, the median and the median absolute deviation
//! (MAD), because a week of illness or a broken sensor would drag a mean and SD along; the
//! mean and SD are kept beside them for readers who expect them.
//!
//! * **Window.** The baseline "as of" day D covers the `W` whole days before D,
//!   `[D − W, D − 1]`: D itself is usually incomplete (steps so far today), and a value
//!   must never be part of the baseline it is judged against. Pass tomorrow's date to
//!   include today.
//! * **Status.** No baseline below [`Config::preliminary_min_days`] days with data (3);
//!   [`BaselineStatus::Preliminary`] up to [`Config::stable_min_days`] (14);
//!   [`BaselineStatus::Stable`] from there. So a first baseline exists 72 hours after the
//!   first data.
//! * **Coverage** is `count / W`: a 180-day baseline from 20 days of data is stable (14+
//!   days) but covers 11 % of its window, and says so.
//! * **Dates** are civil days (`YYYY-MM-DD`) turned into day numbers by
//!   [`day_number`] with the calendar arithmetic of `mappers` (Howard Hinnant's
//!   `days_from_civil`), which wrote those dates; no date library is needed: the twin
//!   never deals with times of day or time zones.
//!
//! The detectors use the same statistics through [`reference()`] (and a crate-internal
//! variant that leaves out the days of episodes, so an illness does not raise its own
//! baseline).

use mappers::wearable::calendar;

use crate::config::Config;
use crate::{DailyValue, Day, Metric, PersonSeries};

/// The factor that turns a MAD into an estimate of the standard deviation of normally
/// distributed data.
pub const MAD_TO_SD: f64 = 1.4826;

/// The day number (days since 1970-01-01, proleptic Gregorian) of `YYYY-MM-DD`; only the
/// first 10 characters are read, so a dateTime gives its local date. `None` when it is
/// not a valid date.
pub fn day_number(text: &str) -> Option<i64> {
    text.get(..10).and_then(calendar::parse_date)
}

/// The `YYYY-MM-DD` text of a day number.
pub fn day_text(days: i64) -> Day {
    calendar::format_date(days)
}

/// `day` moved by `delta` days; `None` when `day` is not a date.
pub fn add_days(day: &str, delta: i64) -> Option<Day> {
    day_number(day).map(|n| day_text(n + delta))
}

/// Centre and spread of a set of daily values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Median.
    pub median: f64,
    /// Median absolute deviation from the median (unscaled).
    pub mad: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1; 0 for one value).
    pub sd: f64,
    /// Number of values.
    pub count: usize,
}

impl Stat {
    /// The statistics of `values`; `None` when empty or when a value is not finite.
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = median_of_sorted(&sorted);
        let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        let mad = median_of_sorted(&deviations);
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Some(Stat {
            median,
            mad,
            mean,
            sd,
            count: values.len(),
        })
    }

    /// The robust SD, `1.4826 · MAD`, but at least `floor` (and never zero, so a z score
    /// is always defined).
    pub fn robust_sd(&self, floor: f64) -> f64 {
        (MAD_TO_SD * self.mad).max(floor).max(1e-9)
    }

    /// How many robust SDs `value` lies above the median (negative below).
    pub fn z(&self, value: f64, floor: f64) -> f64 {
        (value - self.median) / self.robust_sd(floor)
    }
}

fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The statistics of one metric's `values` (any order) over the `window` days before
/// `before_day`, `[before_day − window, before_day − 1]`: the baseline a detector judges
/// `before_day` against, never containing the day itself. `None` when no value falls in
/// the window or `before_day` is not a date.
pub fn reference(values: &[DailyValue], before_day: &Day, window: u32) -> Option<Stat> {
    let end = day_number(before_day)?;
    let start = end - i64::from(window);
    let picked: Vec<f64> = values
        .iter()
        .filter(|v| day_number(&v.day).is_some_and(|d| d >= start && d < end))
        .map(|v| v.value)
        .collect();
    Stat::of(&picked)
}

/// The statistics of the values of a day-sorted track with day in `[from, to)` and outside
/// every `excluded` inclusive range (days of earlier episodes).
pub(crate) fn window_stat(
    days: &[i64],
    values: &[f64],
    from: i64,
    to: i64,
    excluded: &[(i64, i64)],
) -> Option<Stat> {
    let lo = days.partition_point(|d| *d < from);
    let hi = days.partition_point(|d| *d < to);
    let picked: Vec<f64> = (lo..hi)
        .filter(|i| {
            !excluded
                .iter()
                .any(|(a, b)| days[*i] >= *a && days[*i] <= *b)
        })
        .map(|i| values[i])
        .collect();
    Stat::of(&picked)
}

/// Whether a baseline has enough data to be relied on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BaselineStatus {
    /// Fewer than [`Config::stable_min_days`] days: shown, marked `preliminary`.
    Preliminary,
    /// Enough days: `final`.
    Stable,
}

/// One metric's baseline over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// The metric.
    pub metric: Metric,
    /// The window length, days.
    pub window_days: u32,
    /// First day of the window.
    pub start: Day,
    /// Last day of the window (the day before "as of").
    pub end: Day,
    /// Median (the centre the detectors use).
    pub median: f64,
    /// Median absolute deviation (unscaled; × [`MAD_TO_SD`] for a robust SD).
    pub mad: f64,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub sd: f64,
    /// Days with data in the window.
    pub count: usize,
    /// `count / window_days`, 0–1.
    pub coverage: f64,
    /// Preliminary or stable.
    pub status: BaselineStatus,
    /// The Observations of the window's values, oldest first, without repeats.
    pub sources: Vec<String>,
}

/// Every baseline as of `as_of`: per metric with at least
/// [`Config::preliminary_min_days`] values in a window, per window of
/// [`Config::windows`], over the window's days before `as_of` (see the module docs).
/// Sorted by metric, then window. Expects one value per metric and day (as
/// [`crate::input::daily_values`] gives); repeated days count as separate values. Empty
/// when `as_of` is not a date.
pub fn baselines(series: &PersonSeries, as_of: &Day, config: &Config) -> Vec<Baseline> {
    let Some(end) = day_number(as_of) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for metric in Metric::ALL {
        let mut values: Vec<(i64, &DailyValue)> = series
            .values
            .iter()
            .filter(|v| v.metric == metric)
            .filter_map(|v| day_number(&v.day).map(|d| (d, v)))
            .filter(|(d, _)| *d < end)
            .collect();
        if values.is_empty() {
            continue;
        }
        values.sort_by_key(|(d, _)| *d);
        for &window in &config.windows {
            let start = end - i64::from(window);
            let in_window: Vec<&DailyValue> = values
                .iter()
                .filter(|(d, _)| *d >= start)
                .map(|(_, v)| *v)
                .collect();
            if in_window.len() < config.preliminary_min_days.max(1) {
                continue;
            }
            let numbers: Vec<f64> = in_window.iter().map(|v| v.value).collect();
            let Some(stat) = Stat::of(&numbers) else {
                continue;
            };
            let mut sources: Vec<String> = Vec::new();
            for v in &in_window {
                for s in &v.sources {
                    if !sources.contains(s) {
                        sources.push(s.clone());
                    }
                }
            }
            out.push(Baseline {
                metric,
                window_days: window,
                start: day_text(start),
                end: day_text(end - 1),
                median: stat.median,
                mad: stat.mad,
                mean: stat.mean,
                sd: stat.sd,
                count: stat.count,
                coverage: stat.count as f64 / f64::from(window.max(1)),
                status: if stat.count >= config.stable_min_days {
                    BaselineStatus::Stable
                } else {
                    BaselineStatus::Preliminary
                },
                sources,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(metric: Metric, day: &str, v: f64) -> DailyValue {
        DailyValue {
            metric,
            day: day.into(),
            value: v,
            sources: vec![format!("Observation/{day}")],
        }
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-03-01"), Some(11_017));
        assert_eq!(day_number("2024-02-29T23:59:00+01:00"), Some(19_782));
        assert_eq!(day_text(19_782), "2024-02-29");
        assert_eq!(add_days("2024-02-28", 1).as_deref(), Some("2024-02-29"));
        assert_eq!(add_days("2023-02-28", 1).as_deref(), Some("2023-03-01"));
        assert_eq!(add_days("2024-12-31", 1).as_deref(), Some("2025-01-01"));
        assert_eq!(add_days("2024-03-01", -1).as_deref(), Some("2024-02-29"));
        assert_eq!(day_number("2023-02-29"), None);
        assert_eq!(day_number("2024-13-01"), None);
        assert_eq!(day_number("2024-03"), None);
        assert_eq!(day_number("20x4-03-01"), None);
        for n in [-25_000, -1, 0, 59, 60, 10_000, 2_932_896] {
            assert_eq!(day_number(&day_text(n)), Some(n), "{n}");
        }
    }

    #[test]
    fn stat_is_robust() {
        // 56 57 58 59 60 and one outlier 90: median 58.5, deviations 2.5 1.5 .5 .5 1.5
        // 31.5 → MAD 1.5; mean 380 / 6.
        let s = Stat::of(&[58.0, 60.0, 56.0, 90.0, 57.0, 59.0]).unwrap();
        assert_eq!(s.median, 58.5);
        assert_eq!(s.mad, 1.5);
        assert!((s.mean - 380.0 / 6.0).abs() < 1e-9);
        assert_eq!(s.count, 6);
        assert!((s.robust_sd(0.0) - 2.2239).abs() < 1e-9);
        assert_eq!(s.robust_sd(3.0), 3.0);
        assert_eq!(s.z(64.5, 3.0), 2.0);
        let one = Stat::of(&[7.0]).unwrap();
        assert_eq!((one.median, one.mad, one.sd), (7.0, 0.0, 0.0));
        // 2 4 4 4 5 5 7 9: mean 5, squares 32, sample SD sqrt(32/7).
        let s = Stat::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert!((s.sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(Stat::of(&[]), None);
        assert_eq!(Stat::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn reference_excludes_the_day_itself() {
        let values = vec![
            value(Metric::RestingHeartRate, "2024-03-01", 60.0),
            value(Metric::RestingHeartRate, "2024-03-02", 62.0),
            value(Metric::RestingHeartRate, "2024-03-03", 64.0),
            value(Metric::RestingHeartRate, "2024-03-04", 90.0),
        ];
        let r = reference(&values, &"2024-03-04".into(), 3).unwrap();
        assert_eq!((r.median, r.count), (62.0, 3));
        // Window of 2 before 03-04: 03-02 and 03-03.
        let r = reference(&values, &"2024-03-04".into(), 2).unwrap();
        assert_eq!(r.median, 63.0);
        assert_eq!(reference(&values, &"2024-03-01".into(), 30), None);
        assert_eq!(reference(&values, &"garbage".into(), 30), None);
    }

    #[test]
    fn window_stat_skips_excluded_ranges() {
        let days = [1, 2, 3, 4, 5, 6];
        let values = [10.0, 11.0, 30.0, 31.0, 12.0, 13.0];
        let s = window_stat(&days, &values, 1, 7, &[(3, 4)]).unwrap();
        assert_eq!((s.count, s.median), (4, 11.5));
        assert_eq!(window_stat(&days, &values, 3, 5, &[(3, 4)]), None);
    }

    #[test]
    fn baselines_per_metric_and_window_with_status() {
        let mut series = PersonSeries::default();
        // 20 days of resting HR, 2024-03-01..20: 58, 59, 60, 58, …
        for i in 0..20u32 {
            let day = format!("2024-03-{:02}", i + 1);
            series
                .values
                .push(value(Metric::RestingHeartRate, &day, f64::from(58 + i % 3)));
        }
        // Two nights of sleep only: no baseline.
        series
            .values
            .push(value(Metric::SleepDuration, "2024-03-19", 400.0));
        series
            .values
            .push(value(Metric::SleepDuration, "2024-03-20", 420.0));
        // As of 03-21: the 20 days 03-01..03-20 fall in every window.
        let b = baselines(&series, &"2024-03-21".into(), &Config::default());
        assert_eq!(b.len(), 3);
        assert_eq!(
            b.iter().map(|b| b.window_days).collect::<Vec<_>>(),
            [30, 90, 180]
        );
        let month = &b[0];
        assert_eq!(month.metric, Metric::RestingHeartRate);
        assert_eq!(
            (month.start.as_str(), month.end.as_str()),
            ("2024-02-20", "2024-03-20")
        );
        // Values 58 59 60 58 59 60 … (7 × 58, 7 × 59, 6 × 60): median 59, MAD 1.
        assert_eq!((month.median, month.mad, month.count), (59.0, 1.0, 20));
        assert!((month.coverage - 20.0 / 30.0).abs() < 1e-12);
        assert_eq!(month.status, BaselineStatus::Stable);
        assert_eq!(
            month.sources.first().map(String::as_str),
            Some("Observation/2024-03-01")
        );
        assert_eq!(month.sources.len(), 20);
        assert_eq!(b[2].start, "2023-09-23");

        // As of 03-04: three days (03-01..03) → preliminary; the sleep is in the future.
        let b = baselines(&series, &"2024-03-04".into(), &Config::default());
        assert_eq!(b.len(), 3);
        assert!(
            b.iter()
                .all(|b| b.status == BaselineStatus::Preliminary && b.count == 3)
        );
        // As of 03-03: two days, nothing yet.
        assert!(baselines(&series, &"2024-03-03".into(), &Config::default()).is_empty());
    }
}
