//! Synthetic people for the evaluation harness ([`crate::evaluate`]): months of daily
//! wearable values with realistic personal levels, weekly rhythms, day-to-day noise,
//! missing days and device changes, plus the truth the engine is scored against: injected
//! illnesses with a marked symptom onset, and benign confounders (a hard training week,
//! travel, a single bad night, a device swap) that an early-warning alert should not
//! mistake for an illness.
//!
//! Deterministic: the same arguments give the same cohort on every platform (a SplitMix64
//! generator, and normal deviates as sums of uniforms, so no libm function decides a
//! value), and a person does not depend on the cohort's size, so a small cohort is a
//! prefix of a larger one with the same seed.
//!
//! Shapes, per person (levels drawn once, then noise per day):
//!
//! | metric | level | day-to-day |
//! |---|---|---|
//! | resting HR | 50–75 /min | SD 1.5–2.5, autocorrelated (AR(1), φ 0.4), whole /min |
//! | HRV RMSSD | 25–80 ms | CV 8–14 %, autocorrelated |
//! | sleep | 360–480 min | SD 30–40; nights ending Sat/Sun 15–60 min longer |
//! | steps | 4,000–12,000 | CV 20–35 %; weekends ×0.65–1.35 |
//! | SpO2 (day's lowest) | 95–98.5 % | SD 0.8, whole % (15 % of people have none) |
//! | respiratory rate | 13–17 /min | SD 0.4 |
//! | temperature deviation | 0 °C | SD 0.15 (20 % of people have none) |
//!
//! The watch is off on 5–10 % of days at random (steps still come from the phone), each
//! metric drops out on a further 2 % of days, and a third of people have one 3–8 day gap.
//! Illnesses start 2–4 days before their onset, last 5–10 days and taper over 2 more; at
//! full strength resting HR +4–9, HRV −15–30 %, temperature +0.3–0.8, respiratory rate
//! +0.5–1.5, SpO2 −0–1.5, sleep −40–90 min and steps −30–60 %. Strength rises from half on
//! the first day to full at onset and eases over the last two days; sleep and steps
//! (behaviour) change half as much before onset. Events are placed apart (illnesses at
//! least 10 days clear of anything else), so an alert near an illness is about it.

use crate::baseline::{day_number, day_text};
use crate::{DailyValue, Day, Metric, PersonSeries};

/// The first day of every synthetic series.
pub const FIRST_DAY: &str = "2025-01-01";

/// [`FIRST_DAY`] as a day count since 1970-01-01.
const FIRST: i64 = 20_089;

/// No illness starts before this day of the period, so the engine has had three weeks
/// to learn the person's normal.
const ILLNESS_EARLIEST: usize = 21;

/// One synthetic person: their series and what really happened.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticPerson {
    /// `p0000`, `p0001`, … in cohort order.
    pub id: String,
    /// Their daily values (what the engine sees).
    pub series: PersonSeries,
    /// The injected episodes (what the engine should find, or ignore), in day order.
    pub episodes: Vec<Truth>,
}

/// An injected episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    /// Illness or a benign confounder.
    pub kind: TruthKind,
    /// The marked onset: the first day of symptoms for an illness (after the series has
    /// already started to change), the start for a confounder.
    pub onset: Day,
    /// The first day the series is affected.
    pub start: Day,
    /// The last day of full effects (an illness then tapers over two more days; a device
    /// swap's level shift lasts to the end of the series).
    pub end: Day,
}

/// What kind of episode was injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TruthKind {
    /// An infection: resting HR up, HRV down, temperature up, sleep and activity down.
    Illness,
    /// Something benign an illness alert should not fire on.
    Confounder(Confounder),
}

/// The benign confounders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confounder {
    /// Seven days with four hard sessions: steps up, and on the three days after the first
    /// sessions resting HR +1–3 and HRV 5–12 % down (never three days running).
    TrainingWeek,
    /// Three to seven days away: the watch often off on travel days (and sometimes two
    /// days mid-trip), short nights from jet lag, more walking.
    Travel,
    /// One night 90–180 min short, with a slightly raised resting HR and lower HRV.
    BadNight,
    /// A new device from this day on: resting HR +0.5–1.5 /min, HRV −3–7 ms, sleep ±15 min
    /// for good.
    DeviceSwap,
}

/// Generates `people` synthetic people with `days` days each from [`FIRST_DAY`], from
/// `seed`. Per 60 days a person has about one illness, per 90 days one training week, per
/// 120 days one trip, per 40 days one bad night, and 30 % of people swap devices once
/// (fewer when the period is too short to place them apart).
pub fn cohort(people: usize, days: usize, seed: u64) -> Vec<SyntheticPerson> {
    (0..people).map(|index| person(index, days, seed)).collect()
}

/// The metrics generated, with the short name used in source references.
const METRICS: [(Metric, &str); 7] = [
    (Metric::RestingHeartRate, "rhr"),
    (Metric::HrvRmssd, "hrv"),
    (Metric::SleepDuration, "sleep"),
    (Metric::Steps, "steps"),
    (Metric::OxygenSaturation, "spo2"),
    (Metric::RespiratoryRate, "resp"),
    (Metric::TemperatureDeviation, "temp"),
];

fn person(index: usize, days: usize, seed: u64) -> SyntheticPerson {
    let mut rng = Rng(mix(seed ^ mix(index as u64 + 1)));
    let id = format!("p{index:04}");
    let who = Persona::draw(&mut rng);
    let mut fx = Effects::new(days);
    let mut busy = vec![false; days];
    let mut truths = Vec::new();

    for _ in 0..count(&mut rng, days, 60.0) {
        let lead = rng.int(2, 4);
        let len = rng.int(5, 10);
        let profile = illness_profile(lead, len);
        if let Some(s) = place(&mut rng, &mut busy, ILLNESS_EARLIEST, profile.len(), 7) {
            fx.illness(&mut rng, s, lead, &profile);
            truths.push(truth(TruthKind::Illness, s + lead, s, s + len - 1));
        }
    }
    for _ in 0..count(&mut rng, days, 90.0) {
        if let Some(s) = place(&mut rng, &mut busy, 0, 7, 3) {
            fx.training_week(&mut rng, s);
            truths.push(confounder(Confounder::TrainingWeek, s, s + 6));
        }
    }
    for _ in 0..count(&mut rng, days, 120.0) {
        let len = rng.int(3, 7);
        if let Some(s) = place(&mut rng, &mut busy, 0, len, 3) {
            fx.travel(&mut rng, s, len);
            truths.push(confounder(Confounder::Travel, s, s + len - 1));
        }
    }
    for _ in 0..count(&mut rng, days, 40.0) {
        if let Some(s) = place(&mut rng, &mut busy, 0, 1, 2) {
            fx.bad_night(&mut rng, s);
            truths.push(confounder(Confounder::BadNight, s, s));
        }
    }
    if rng.chance(0.3)
        && let Some(s) = place(&mut rng, &mut busy, 1, 1, 3)
    {
        fx.device_swap(&mut rng, s);
        truths.push(confounder(Confounder::DeviceSwap, s, s));
    }
    if rng.chance(0.35) {
        let len = rng.int(3, 8);
        if let Some(s) = place(&mut rng, &mut busy, 0, len, 2) {
            fx.watch_off[s..s + len].fill(true);
        }
    }
    truths.sort_by_key(|t| day_number(&t.start));

    SyntheticPerson {
        series: who.series(&mut rng, &fx, &id),
        id,
        episodes: truths,
    }
}

fn truth(kind: TruthKind, onset: usize, start: usize, end: usize) -> Truth {
    Truth {
        kind,
        onset: day_text(FIRST + onset as i64),
        start: day_text(FIRST + start as i64),
        end: day_text(FIRST + end as i64),
    }
}

fn confounder(kind: Confounder, start: usize, end: usize) -> Truth {
    truth(TruthKind::Confounder(kind), start, start, end)
}

/// How many events of a kind happening once per `every` days a person gets in `days`.
fn count(rng: &mut Rng, days: usize, every: f64) -> usize {
    (days as f64 / every + rng.range(-0.5, 0.5))
        .round()
        .max(0.0) as usize
}

/// A start day for an event of `len` days at or after `earliest`, with `margin` free days
/// on each side (the margins of events already placed are marked busy too, so two events
/// are at least the sum of their margins apart); `None` when 30 tries find no room.
fn place(
    rng: &mut Rng,
    busy: &mut [bool],
    earliest: usize,
    len: usize,
    margin: usize,
) -> Option<usize> {
    let days = busy.len();
    if earliest + len > days {
        return None;
    }
    for _ in 0..30 {
        let start = rng.int(earliest, days - len);
        let span = start.saturating_sub(margin)..(start + len + margin).min(days);
        if busy[span.clone()].iter().all(|b| !b) {
            busy[span].fill(true);
            return Some(start);
        }
    }
    None
}

/// The strength (0–1) of an illness on each of its days: rising from half strength
/// `lead` days before onset to full at onset, easing over its last two days, then a
/// two-day taper after its `len` days.
fn illness_profile(lead: usize, len: usize) -> Vec<f64> {
    let mut profile: Vec<f64> = (0..len)
        .map(|j| {
            if j < lead {
                0.5 + 0.5 * j as f64 / lead as f64
            } else if j == len - 1 && j > lead {
                0.6
            } else if j == len - 2 && j > lead {
                0.8
            } else {
                1.0
            }
        })
        .collect();
    profile.extend([0.35, 0.15]);
    profile
}

/// A person's levels and habits.
struct Persona {
    rhr: f64,
    rhr_sd: f64,
    weekend_rhr: f64,
    hrv: f64,
    hrv_cv: f64,
    sleep: f64,
    sleep_sd: f64,
    weekend_sleep: f64,
    steps: f64,
    steps_cv: f64,
    weekend_steps: f64,
    spo2: Option<f64>,
    resp: f64,
    temperature: bool,
    watch_off: f64,
}

/// Autocorrelation of resting HR and HRV noise from one day to the next.
const PHI: f64 = 0.4;

impl Persona {
    fn draw(rng: &mut Rng) -> Persona {
        Persona {
            rhr: rng.range(50.0, 75.0),
            rhr_sd: rng.range(1.5, 2.5),
            weekend_rhr: rng.range(-1.0, 0.5),
            hrv: rng.range(25.0, 80.0),
            hrv_cv: rng.range(0.08, 0.14),
            sleep: rng.range(360.0, 480.0),
            sleep_sd: rng.range(30.0, 40.0),
            weekend_sleep: rng.range(15.0, 60.0),
            steps: rng.range(4_000.0, 12_000.0),
            steps_cv: rng.range(0.20, 0.35),
            weekend_steps: rng.range(0.65, 1.35),
            spo2: (!rng.chance(0.15)).then(|| rng.range(95.0, 98.5)),
            resp: rng.range(13.0, 17.0),
            temperature: !rng.chance(0.2),
            watch_off: rng.range(0.05, 0.10),
        }
    }

    /// The person's daily values: levels, weekly rhythm, noise, `fx`, missing days.
    fn series(&self, rng: &mut Rng, fx: &Effects, id: &str) -> PersonSeries {
        let innovation = (1.0 - PHI * PHI).sqrt();
        let (mut ar_rhr, mut ar_hrv) = (rng.normal(), rng.normal());
        let mut values = Vec::new();
        for d in 0..fx.rhr.len() {
            let day_number = FIRST + d as i64;
            let weekday = (day_number + 4).rem_euclid(7); // 0 = Sunday
            let weekend = weekday == 0 || weekday == 6;
            ar_rhr = PHI * ar_rhr + innovation * rng.normal();
            ar_hrv = PHI * ar_hrv + innovation * rng.normal();
            let rhr = self.rhr
                + self.rhr_sd * ar_rhr
                + if weekend { self.weekend_rhr } else { 0.0 }
                + fx.rhr[d];
            let hrv =
                ((self.hrv * (1.0 + self.hrv_cv * ar_hrv) + fx.hrv_shift[d]) * fx.hrv[d]).max(5.0);
            let sleep = (self.sleep
                + self.sleep_sd * rng.normal()
                + if weekend { self.weekend_sleep } else { 0.0 }
                + fx.sleep[d])
                .max(90.0);
            let steps = self.steps
                * if weekend { self.weekend_steps } else { 1.0 }
                * (1.0 + self.steps_cv * rng.normal()).max(0.1)
                * fx.steps[d];
            let spo2 = self
                .spo2
                .map(|s| (s + 0.8 * rng.normal() + fx.spo2[d]).min(100.0));
            let resp = self.resp + 0.4 * rng.normal() + fx.resp[d];
            let temp = 0.15 * rng.normal() + fx.temp[d];

            let watch = !fx.watch_off[d] & !rng.chance(self.watch_off);
            let phone = !rng.chance(0.03);
            let day = day_text(day_number);
            let readings = [
                (watch, Some(rhr.round())),
                (watch, Some(round(hrv, 1))),
                (watch, Some(sleep.round())),
                (phone, Some(steps.round())),
                (watch, spo2.map(f64::round)),
                (watch, Some(round(resp, 1))),
                (watch && self.temperature, Some(round(temp, 2))),
            ];
            for ((metric, name), (worn, value)) in METRICS.iter().zip(readings) {
                let dropped = rng.chance(0.02);
                if let (true, false, Some(value)) = (worn, dropped, value) {
                    values.push(DailyValue {
                        metric: *metric,
                        day: day.clone(),
                        value,
                        sources: vec![format!("Observation/syn-{id}-{name}-{day}")],
                    });
                }
            }
        }
        PersonSeries {
            values,
            doses: Vec::new(),
        }
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// What injected events do to each day: additive shifts and multiplicative factors per
/// metric, and the days the watch is off.
struct Effects {
    rhr: Vec<f64>,
    /// HRV factor.
    hrv: Vec<f64>,
    /// HRV shift in ms (a device's offset).
    hrv_shift: Vec<f64>,
    sleep: Vec<f64>,
    /// Steps factor.
    steps: Vec<f64>,
    spo2: Vec<f64>,
    resp: Vec<f64>,
    temp: Vec<f64>,
    watch_off: Vec<bool>,
}

impl Effects {
    fn new(days: usize) -> Effects {
        Effects {
            rhr: vec![0.0; days],
            hrv: vec![1.0; days],
            hrv_shift: vec![0.0; days],
            sleep: vec![0.0; days],
            steps: vec![1.0; days],
            spo2: vec![0.0; days],
            resp: vec![0.0; days],
            temp: vec![0.0; days],
            watch_off: vec![false; days],
        }
    }

    fn illness(&mut self, rng: &mut Rng, start: usize, lead: usize, profile: &[f64]) {
        let rhr = rng.range(4.0, 9.0);
        let hrv = rng.range(0.15, 0.30);
        let sleep = rng.range(40.0, 90.0);
        let steps = rng.range(0.30, 0.60);
        let temp = rng.range(0.3, 0.8);
        let resp = rng.range(0.5, 1.5);
        let spo2 = rng.range(0.0, 1.5);
        for (j, &w) in profile.iter().enumerate() {
            let d = start + j;
            let behaviour = if j < lead { 0.5 * w } else { w };
            self.rhr[d] += rhr * w;
            self.hrv[d] *= 1.0 - hrv * w;
            self.temp[d] += temp * w;
            self.resp[d] += resp * w;
            self.spo2[d] -= spo2 * w;
            self.sleep[d] -= sleep * behaviour;
            self.steps[d] *= 1.0 - steps * behaviour;
        }
    }

    fn training_week(&mut self, rng: &mut Rng, start: usize) {
        for j in [0, 2, 4, 5] {
            self.steps[start + j] *= rng.range(1.4, 2.0);
        }
        // The mornings after the first three sessions: never three days running.
        for j in [1, 3, 5] {
            let d = start + j;
            self.rhr[d] += rng.range(1.0, 3.0);
            self.hrv[d] *= 1.0 - rng.range(0.05, 0.12);
            self.sleep[d] += rng.range(0.0, 20.0);
        }
    }

    fn travel(&mut self, rng: &mut Rng, start: usize, len: usize) {
        let walking = rng.range(1.1, 1.5);
        for j in 0..len {
            let d = start + j;
            if j == 0 || j == len - 1 {
                self.watch_off[d] |= rng.chance(0.6);
                self.steps[d] *= 0.7;
                self.rhr[d] += rng.range(0.0, 1.5);
            } else {
                self.steps[d] *= walking;
            }
            if j == 1 || j == 2 {
                self.sleep[d] -= rng.range(30.0, 80.0);
                self.hrv[d] *= 0.93;
            }
        }
        if len >= 5 && rng.chance(0.4) {
            self.watch_off[start + 2..start + 4].fill(true);
        }
    }

    fn bad_night(&mut self, rng: &mut Rng, day: usize) {
        self.sleep[day] -= rng.range(90.0, 180.0);
        self.hrv[day] *= 1.0 - rng.range(0.05, 0.15);
        self.rhr[day] += rng.range(0.5, 2.0);
    }

    fn device_swap(&mut self, rng: &mut Rng, day: usize) {
        let (rhr, hrv, sleep) = (
            rng.range(0.5, 1.5),
            rng.range(3.0, 7.0),
            rng.range(-15.0, 15.0),
        );
        for d in day..self.rhr.len() {
            self.rhr[d] += rhr;
            self.hrv_shift[d] -= hrv;
            self.sleep[d] += sleep;
        }
        self.watch_off[day] |= rng.chance(0.5);
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast, and good enough for noise.
struct Rng(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in lo..=hi.
    fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Approximately standard normal (Irwin–Hall: the sum of 12 uniforms, minus 6).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(p: &SyntheticPerson, metric: Metric) -> Vec<(i64, f64)> {
        p.series
            .values
            .iter()
            .filter(|v| v.metric == metric)
            .map(|v| (day_number(&v.day).unwrap(), v.value))
            .collect()
    }

    fn median(mut xs: Vec<f64>) -> f64 {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    }

    /// The median of `metric` on days outside every injected episode (and its taper): the
    /// person's usual level (a device swap's shift of at most 1.5 /min or 7 ms included).
    fn usual(p: &SyntheticPerson, metric: Metric) -> f64 {
        let quiet = |day: i64| {
            p.episodes.iter().all(|t| {
                let (start, end) = (day_number(&t.start).unwrap(), day_number(&t.end).unwrap());
                t.kind == TruthKind::Confounder(Confounder::DeviceSwap)
                    || day < start
                    || day > end + 2
            })
        };
        median(
            values(p, metric)
                .into_iter()
                .filter(|(d, _)| quiet(*d))
                .map(|(_, v)| v)
                .collect(),
        )
    }

    #[test]
    fn first_day() {
        assert_eq!(day_number(FIRST_DAY), Some(FIRST));
        // 2025 is not a leap year: 31 days of January and 28 of February.
        assert_eq!(day_text(FIRST + 59), "2025-03-01");
        // 2025-01-01 was a Wednesday (Sunday = 0).
        assert_eq!((FIRST + 4).rem_euclid(7), 3);
    }

    #[test]
    fn deterministic_and_independent_of_cohort_size() {
        let a = cohort(5, 120, 7);
        assert_eq!(a, cohort(5, 120, 7));
        assert_eq!(a[..3], cohort(3, 120, 7)[..]);
        assert_ne!(a, cohort(5, 120, 8));
        assert_ne!(a[0].series, a[1].series);
        assert_eq!(a[3].id, "p0003");
    }

    #[test]
    fn levels_within_ranges() {
        let people = cohort(30, 180, 11);
        let mut watch_days = 0;
        for p in &people {
            let rhr = usual(p, Metric::RestingHeartRate);
            assert!((49.0..=77.0).contains(&rhr), "{} resting HR {rhr}", p.id);
            let hrv = usual(p, Metric::HrvRmssd);
            assert!((22.0..=85.0).contains(&hrv), "{} HRV {hrv}", p.id);
            let sleep = usual(p, Metric::SleepDuration);
            assert!((345.0..=510.0).contains(&sleep), "{} sleep {sleep}", p.id);
            let steps = usual(p, Metric::Steps);
            assert!(
                (3_000.0..=14_000.0).contains(&steps),
                "{} steps {steps}",
                p.id
            );
            let resp = usual(p, Metric::RespiratoryRate);
            assert!(
                (12.5..=17.5).contains(&resp),
                "{} respiratory rate {resp}",
                p.id
            );
            for (_, v) in values(p, Metric::OxygenSaturation) {
                assert!((90.0..=100.0).contains(&v), "{} SpO2 {v}", p.id);
            }
            for (_, v) in values(p, Metric::TemperatureDeviation) {
                assert!(v.abs() <= 1.8, "{} temperature deviation {v}", p.id);
            }
            // Day-to-day resting HR spread on quiet days: SD 1.5–2.5, as whole /min.
            let all = values(p, Metric::RestingHeartRate);
            assert!(all.iter().all(|(_, v)| v.fract() == 0.0));
            let days: Vec<i64> = all.iter().map(|(d, _)| *d).collect();
            assert!(days.windows(2).all(|w| w[0] < w[1]), "one value a day");
            assert!(days[0] >= FIRST && days[days.len() - 1] < FIRST + 180);
            watch_days += all.len();
        }
        // Watch off 5–10 % of days, 2 % dropped per metric, gaps and travel days.
        let share = watch_days as f64 / (30.0 * 180.0);
        assert!(
            (0.78..=0.93).contains(&share),
            "resting HR on {share} of days"
        );

        let v = &people[0].series.values[0];
        assert_eq!(
            v.sources,
            [format!("Observation/syn-p0000-{}-{}", "rhr", v.day)]
        );
        assert!(
            people
                .iter()
                .any(|p| values(p, Metric::TemperatureDeviation).is_empty())
        );
        assert!(people.iter().all(|p| !values(p, Metric::Steps).is_empty()));
    }

    #[test]
    fn weekends_sleep_longer() {
        let people = cohort(30, 180, 3);
        let mut longer = 0;
        for p in &people {
            let (mut weekend, mut week) = (Vec::new(), Vec::new());
            for (d, v) in values(p, Metric::SleepDuration) {
                match (d + 4).rem_euclid(7) {
                    0 | 6 => weekend.push(v),
                    _ => week.push(v),
                }
            }
            longer += usize::from(median(weekend) > median(week));
        }
        assert!(longer >= 25, "{longer} of 30 sleep longer at weekends");
    }

    #[test]
    fn episodes_are_placed_apart_and_shaped() {
        let people = cohort(40, 180, 5);
        let mut illnesses = 0;
        for p in &people {
            let mut previous_end = i64::MIN;
            for t in &p.episodes {
                let (onset, start, end) = (
                    day_number(&t.onset).unwrap(),
                    day_number(&t.start).unwrap(),
                    day_number(&t.end).unwrap(),
                );
                assert!(start > previous_end, "{} overlapping episodes", p.id);
                previous_end = end;
                match t.kind {
                    TruthKind::Illness => {
                        illnesses += 1;
                        assert!((2..=4).contains(&(onset - start)));
                        assert!((4..=9).contains(&(end - start)));
                        assert!(start >= FIRST + 21 && end + 2 < FIRST + 180);
                    }
                    TruthKind::Confounder(kind) => {
                        assert_eq!(onset, start);
                        let len = end - start + 1;
                        match kind {
                            Confounder::TrainingWeek => assert_eq!(len, 7),
                            Confounder::Travel => assert!((3..=7).contains(&len)),
                            Confounder::BadNight | Confounder::DeviceSwap => assert_eq!(len, 1),
                        }
                    }
                }
            }
        }
        // About three per 180 days, a few lost for want of room.
        assert!((90..=140).contains(&illnesses), "{illnesses} illnesses");
        let kinds: std::collections::BTreeSet<TruthKind> = people
            .iter()
            .flat_map(|p| p.episodes.iter().map(|t| t.kind))
            .collect();
        assert_eq!(kinds.len(), 5, "every kind occurs: {kinds:?}");
    }

    #[test]
    fn illnesses_show_in_the_series() {
        let people = cohort(40, 180, 9);
        let (mut n, mut rhr_rise, mut clear) = (0, 0.0, 0);
        let (mut hrv_lower, mut sleep_shorter) = (0, 0);
        for p in &people {
            let (rhr0, hrv0, sleep0) = (
                usual(p, Metric::RestingHeartRate),
                usual(p, Metric::HrvRmssd),
                usual(p, Metric::SleepDuration),
            );
            for t in p.episodes.iter().filter(|t| t.kind == TruthKind::Illness) {
                let onset = day_number(&t.onset).unwrap();
                let near = |metric| -> Option<f64> {
                    let xs: Vec<f64> = values(p, metric)
                        .into_iter()
                        .filter(|(d, _)| (onset - 1..=onset + 1).contains(d))
                        .map(|(_, v)| v)
                        .collect();
                    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
                };
                let Some(rhr) = near(Metric::RestingHeartRate) else {
                    continue;
                };
                n += 1;
                rhr_rise += rhr - rhr0;
                clear += usize::from(rhr - rhr0 >= 2.0);
                hrv_lower += usize::from(near(Metric::HrvRmssd).is_some_and(|v| v < hrv0));
                sleep_shorter +=
                    usize::from(near(Metric::SleepDuration).is_some_and(|v| v < sleep0));
            }
        }
        let mean_rise = rhr_rise / n as f64;
        // +4–9 /min at full strength, a little less the day before onset.
        assert!((4.0..=8.0).contains(&mean_rise), "mean rise {mean_rise}");
        assert!(clear * 10 >= n * 9, "{clear} of {n} clearly raised");
        assert!(hrv_lower * 10 >= n * 9, "{hrv_lower} of {n} with HRV down");
        assert!(
            sleep_shorter * 10 >= n * 8,
            "{sleep_shorter} of {n} sleeping less"
        );
    }

    #[test]
    fn a_training_week_never_raises_resting_hr_three_days_running() {
        let mut rng = Rng(1);
        let mut fx = Effects::new(20);
        fx.training_week(&mut rng, 5);
        let raised: Vec<bool> = fx.rhr.iter().map(|r| *r > 0.0).collect();
        assert!(raised.windows(3).all(|w| !w.iter().all(|r| *r)));
        assert_eq!(raised.iter().filter(|r| **r).count(), 3);
        assert!(fx.rhr.iter().all(|r| *r <= 3.0));
        assert!(fx.steps.iter().filter(|s| **s > 1.0).count() == 4);
    }

    #[test]
    fn illness_profile_peaks_at_onset() {
        // Three days before onset, seven days long.
        assert_eq!(
            illness_profile(3, 7),
            [
                0.5,
                0.5 + 0.5 / 3.0,
                0.5 + 1.0 / 3.0,
                1.0,
                1.0,
                0.8,
                0.6,
                0.35,
                0.15
            ]
        );
        // Four days before onset, five long: the onset is the last day at full strength.
        assert_eq!(
            illness_profile(4, 5),
            [0.5, 0.625, 0.75, 0.875, 1.0, 0.35, 0.15]
        );
    }
}
