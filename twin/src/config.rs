//! Every threshold of the engine, in one documented place.
//!
//! The detectors are only as trustworthy as their thresholds, and thresholds scattered as
//! literals through the code can be neither reviewed nor tuned by the evaluation harness.
//! So each number the engine compares against lives here, with its unit and the reason
//! for its default; [`Config::default`] is what the server runs with.
//!
//! The shape of every metric detector is the same: a day *qualifies* when its value lies
//! beyond the person's own baseline (median of the reference window) by at least
//! [`Config::z_threshold`] robust standard deviations, where the robust SD is
//! `1.4826 · MAD` but never less than the metric's [`Config::spread_floors`] entry (a
//! very steady person would otherwise alert on a 1 /min wobble, and a device swap that
//! shifts the level slightly would look like a change). An episode opens on the Nth
//! consecutive qualifying day (`*_days`) and closes after [`Config::recovery_days`] days
//! back within [`Config::recovery_z`] robust SDs of the baseline.
//!
//! Resting heart rate, the illness alert, has a second and lower bar: a day on which a
//! sign of infection shows too (skin temperature or respiratory rate up) qualifies from
//! [`Config::corroborated_resting_heart_rate_z`], and fewer such days open the episode.
//! The defaults were tuned on the synthetic cohort of [`crate::evaluate`] (seed 7) and
//! checked on other seeds; they sit on a broad plateau, not a peak.

use std::collections::BTreeMap;

use crate::Metric;

/// The engine's thresholds. Build with [`Config::default`] and override fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Lengths of the published baselines, in days (30, 90, 180): a month answers "what
    /// is normal lately", half a year "what is normal for me", and the three together
    /// show a slow drift.
    pub windows: Vec<u32>,
    /// Days with data a baseline needs before it is published at all (3): with three
    /// values the median is already a fair centre, and three days of data is the 72-hour
    /// target for a first baseline. Below it, as `preliminary`.
    pub preliminary_min_days: usize,
    /// Days with data from which a baseline is `stable` (14): two weeks cover both weekly
    /// rhythms (weekday and weekend) twice.
    pub stable_min_days: usize,
    /// The reference window the detectors compare a day against, in days (30): recent
    /// enough to follow seasons and fitness, long enough that one bad week barely moves
    /// its median.
    pub detection_window: u32,
    /// Days with data the reference window needs before a detector judges anything (7):
    /// a 3-day baseline is good enough to show, not to alert on.
    pub detection_min_days: usize,
    /// How far from the baseline a day must lie to qualify, in robust SDs (2.0).
    pub z_threshold: f64,
    /// Within how many robust SDs of the baseline a day counts as recovered (1.0); days
    /// between this and [`Config::z_threshold`] neither extend nor close an episode.
    pub recovery_z: f64,
    /// Consecutive recovered days (with data) that close an episode (2): one normal day
    /// inside an illness is common.
    pub recovery_days: usize,
    /// Missing days allowed between two days with data of one run (3). Missing days
    /// neither count nor break a run (a watch left on the charger, a trip without it);
    /// a longer gap starts over, so two elevated days a fortnight apart never join.
    pub max_gap_days: u32,
    /// Minimum robust SD per metric, in the metric's unit; see the module docs. Metrics
    /// not listed use no floor.
    pub spread_floors: BTreeMap<Metric, f64>,
    /// Consecutive elevated resting-HR days that open an episode (3, as in the published
    /// smartwatch infection studies; one hard training day never reaches it).
    pub resting_heart_rate_days: usize,
    /// Consecutive short nights that open a sleep episode (3: one bad night is not a
    /// pattern).
    pub sleep_nights: usize,
    /// Consecutive low-step days that open an activity episode (3).
    pub activity_days: usize,
    /// Consecutive suppressed-HRV days that open an episode (3).
    pub hrv_days: usize,
    /// Training guard for the resting-HR detector (2.0, in robust SDs of steps): a day
    /// whose own or previous day's steps lie this far *above* the step baseline is
    /// skipped (neither counts nor breaks), because hard exercise raises the next
    /// morning's resting HR. `None` switches the guard off.
    pub training_guard_z: Option<f64>,
    /// Resting-HR z (robust SDs above baseline) at which a day *with a sign of infection*
    /// qualifies (1.0). An infection raises resting HR together with skin temperature
    /// and respiratory rate; the benign reasons for a raised resting HR (a hard training
    /// block, travel, a short night, a new device) raise neither. So a resting HR only
    /// moderately up is credible when one of them is up the same day, while resting HR
    /// alone must reach [`Config::z_threshold`].
    pub corroborated_resting_heart_rate_z: f64,
    /// Consecutive corroborated days that open a resting-HR episode (2), against
    /// [`Config::resting_heart_rate_days`] for resting HR alone: the signs make the run
    /// credible a day earlier.
    pub corroborated_resting_heart_rate_days: usize,
    /// Skin-temperature deviation (`Cel`, already relative to the person's norm) at or
    /// above which it is a sign of infection (0.3: about twice the night-to-night noise
    /// of wrist temperature; a fever shows as several tenths).
    pub temperature_deviation_threshold: f64,
    /// Respiratory rate at or above this many robust SDs over its baseline is a sign of
    /// infection (1.5: faster breathing at rest comes early in an infection; below the
    /// alert threshold of 2 because it only corroborates, never alerts on its own).
    pub respiratory_rate_z: f64,
    /// SpO2 (the day's lowest reading, `%`) below which a day qualifies (92): below the
    /// usual 92–94 % lower limit of normal at rest. The day must also lie
    /// [`Config::z_threshold`] robust SDs below the person's baseline, so someone who
    /// always reads 90 is not alerted every night.
    pub spo2_floor: f64,
    /// Consecutive low-SpO2 days that open an episode (2).
    pub spo2_days: usize,
    /// Days in the rolling blood-pressure mean (7): single readings vary by 10 mmHg.
    pub bp_mean_days: u32,
    /// Readings (days) the rolling mean needs before it is judged (3).
    pub bp_min_readings: usize,
    /// Rise of the rolling systolic mean over the baseline median that qualifies, `mm[Hg]`
    /// (8).
    pub bp_rise: f64,
    /// Rolling systolic mean that qualifies whatever the baseline, `mm[Hg]` (135: the
    /// home-measurement threshold for hypertension).
    pub bp_absolute: f64,
    /// Rolling systolic mean from which the episode is `high` severity, `mm[Hg]` (160).
    pub bp_high: f64,
    /// Reference window of the blood-pressure baseline, days (90): people measure blood
    /// pressure far less often than a watch measures heart rate.
    pub bp_reference_window: u32,
    /// Consecutive measured days with a qualifying rolling mean that open an episode (2).
    pub bp_days: usize,
    /// Lower end of the glucose target range, `mg/dL` (70).
    pub glucose_low: f64,
    /// Upper end of the glucose target range, `mg/dL` (180; the consensus CGM target).
    pub glucose_high: f64,
    /// Readings a day needs before its time in range is computed (24): CGM data (every
    /// 5–15 min); three finger sticks make no meaningful percentage.
    pub time_in_range_min_readings: usize,
    /// Drop of the day's time in range below its baseline median that qualifies,
    /// percentage points (15).
    pub time_in_range_drop: f64,
    /// Consecutive qualifying glucose days that open an episode (2).
    pub glucose_days: usize,
    /// Consecutive days with a dose recorded as not taken that open an episode (2).
    pub missed_dose_days: usize,
}

impl Default for Config {
    fn default() -> Self {
        let spread_floors = BTreeMap::from([
            // A device swap shifts resting HR by 1–3 /min: 2 /min × z 2.0 needs +4.
            (Metric::RestingHeartRate, 2.0),
            (Metric::HrvRmssd, 5.0),
            (Metric::HrvSdnn, 5.0),
            // Minutes: a drop of at least an hour.
            (Metric::SleepDuration, 30.0),
            (Metric::Steps, 1000.0),
            (Metric::OxygenSaturation, 1.0),
            (Metric::RespiratoryRate, 0.5),
            (Metric::TemperatureDeviation, 0.2),
            (Metric::Glucose, 10.0),
            (Metric::GlucoseTimeInRange, 5.0),
            (Metric::SystolicBloodPressure, 5.0),
            (Metric::DiastolicBloodPressure, 4.0),
        ]);
        Config {
            windows: vec![30, 90, 180],
            preliminary_min_days: 3,
            stable_min_days: 14,
            detection_window: 30,
            detection_min_days: 7,
            z_threshold: 2.0,
            recovery_z: 1.0,
            recovery_days: 2,
            max_gap_days: 3,
            spread_floors,
            resting_heart_rate_days: 3,
            sleep_nights: 3,
            activity_days: 3,
            hrv_days: 3,
            training_guard_z: Some(2.0),
            corroborated_resting_heart_rate_z: 1.0,
            corroborated_resting_heart_rate_days: 2,
            temperature_deviation_threshold: 0.3,
            respiratory_rate_z: 1.5,
            spo2_floor: 92.0,
            spo2_days: 2,
            bp_mean_days: 7,
            bp_min_readings: 3,
            bp_rise: 8.0,
            bp_absolute: 135.0,
            bp_high: 160.0,
            bp_reference_window: 90,
            bp_days: 2,
            glucose_low: 70.0,
            glucose_high: 180.0,
            time_in_range_min_readings: 24,
            time_in_range_drop: 15.0,
            glucose_days: 2,
            missed_dose_days: 2,
        }
    }
}

impl Config {
    /// The metric's minimum robust SD ([`Config::spread_floors`]; 0 when not listed).
    pub fn spread_floor(&self, metric: Metric) -> f64 {
        self.spread_floors.get(&metric).copied().unwrap_or(0.0)
    }

    /// The longest run any detector needs before it opens an episode.
    pub fn max_run_days(&self) -> usize {
        [
            self.resting_heart_rate_days,
            self.sleep_nights,
            self.activity_days,
            self.hrv_days,
            self.spo2_days,
            self.bp_days,
            self.glucose_days,
            self.missed_dose_days,
        ]
        .into_iter()
        .max()
        .unwrap_or(1)
    }

    /// How many days before "today" the server has to pass for an incremental run: the
    /// longest reference window (baselines and detectors), plus the rolling BP mean, plus
    /// the longest run with its allowed gaps. An episode still open at the start of that
    /// span needs its own start passed too (see [`crate::detect`]).
    pub fn lookback_days(&self) -> u32 {
        let reference = self
            .windows
            .iter()
            .copied()
            .chain([
                self.detection_window,
                self.bp_reference_window + self.bp_mean_days,
            ])
            .max()
            .unwrap_or(0);
        let run = u32::try_from(self.max_run_days()).unwrap_or(u32::MAX);
        reference.saturating_add(run.saturating_mul(self.max_gap_days + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::default();
        assert_eq!(c.windows, vec![30, 90, 180]);
        assert_eq!((c.preliminary_min_days, c.stable_min_days), (3, 14));
        assert_eq!(c.z_threshold, 2.0);
        assert_eq!(c.spread_floor(Metric::RestingHeartRate), 2.0);
        assert_eq!(c.spread_floor(Metric::SleepDuration), 30.0);
        assert_eq!(
            (
                c.resting_heart_rate_days,
                c.sleep_nights,
                c.activity_days,
                c.hrv_days
            ),
            (3, 3, 3, 3)
        );
        assert_eq!((c.spo2_floor, c.spo2_days), (92.0, 2));
        assert_eq!((c.bp_rise, c.bp_absolute), (8.0, 135.0));
        assert_eq!((c.glucose_low, c.glucose_high), (70.0, 180.0));
        assert_eq!(c.missed_dose_days, 2);
        assert_eq!((c.recovery_z, c.recovery_days), (1.0, 2));
        assert_eq!(
            (
                c.corroborated_resting_heart_rate_z,
                c.corroborated_resting_heart_rate_days
            ),
            (1.0, 2)
        );
        assert_eq!(
            (c.temperature_deviation_threshold, c.respiratory_rate_z),
            (0.3, 1.5)
        );
    }

    #[test]
    fn every_metric_has_a_floor() {
        let c = Config::default();
        for metric in Metric::ALL {
            assert!(c.spread_floor(metric) > 0.0, "{metric:?}");
        }
    }

    #[test]
    fn lookback_covers_the_longest_window_and_run() {
        let c = Config::default();
        // BP reference 90 + 7-day mean = 97 < 180; run 3 days with gaps of up to 3 days.
        assert_eq!(c.max_run_days(), 3);
        assert_eq!(c.lookback_days(), 180 + 3 * 4);
        let mut custom = c.clone();
        custom.spread_floors.clear();
        assert_eq!(custom.spread_floor(Metric::Steps), 0.0);
    }
}
