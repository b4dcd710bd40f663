//! The twin engine's throughput: `cargo bench -p twin --bench engine`.
//!
//! Over a synthetic cohort (`HEALTHOS_BENCH_TWIN_PEOPLE`, default 200 people, a year of
//! daily data each), times the whole computation the server runs for a patient (daily
//! values → baselines as of the next day → every detector) and prints person-days per
//! second. Then the cost of one incremental day: a person with a year of data gets a new
//! day, and the engine runs over the window the server reads (the last
//! [`Config::lookback_days`] days), against the same run over the whole year.

use std::hint::black_box;
use std::time::Instant;

use twin::PersonSeries;
use twin::baseline::{add_days, baselines};
use twin::config::Config;
use twin::detect::detect;
use twin::synthetic::cohort;

const DAYS: usize = 365;

fn main() {
    let people: usize = std::env::var("HEALTHOS_BENCH_TWIN_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let config = Config::default();
    let people = cohort(people, DAYS, 7);
    let person_days: usize = people.iter().map(|p| days_of(&p.series)).sum();

    let started = Instant::now();
    for person in &people {
        run(&person.series, &config);
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "twin engine: {} people, {person_days} person-days in {seconds:.2} s = {:.0} person-days/s",
        people.len(),
        person_days as f64 / seconds
    );

    // One more day for one person: the window the server reads, and the whole history.
    let series = &people[0].series;
    let last = series
        .values
        .iter()
        .map(|v| v.day.clone())
        .max()
        .unwrap_or_default();
    let from = add_days(&last, -(config.lookback_days() as i64)).unwrap_or_default();
    let window = PersonSeries {
        values: series
            .values
            .iter()
            .filter(|v| v.day >= from)
            .cloned()
            .collect(),
        doses: series.doses.clone(),
    };
    let rounds = 200;
    let time = |s: &PersonSeries| {
        let started = Instant::now();
        for _ in 0..rounds {
            run(s, &config);
        }
        started.elapsed().as_secs_f64() / rounds as f64 * 1e3
    };
    let incremental = time(&window);
    let full = time(series);
    println!(
        "twin incremental day: {incremental:.2} ms over the {}-day window vs {full:.2} ms over the whole {}-day history",
        config.lookback_days(),
        days_of(series)
    );
}

/// What the server computes for one patient.
fn run(series: &PersonSeries, config: &Config) {
    let Some(last) = series.values.iter().map(|v| v.day.as_str()).max() else {
        return;
    };
    let as_of = add_days(last, 1).unwrap_or_default();
    black_box(baselines(series, &as_of, config));
    black_box(detect(series, config));
}

/// Days with any value.
fn days_of(series: &PersonSeries) -> usize {
    let mut days: Vec<&str> = series.values.iter().map(|v| v.day.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    days.len()
}
