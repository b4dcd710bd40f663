//! `twin-eval`: runs the twin engine over a synthetic cohort ([`twin::synthetic`]) and
//! prints how well its alerts find the injected illnesses ([`twin::evaluate`]), with the
//! default thresholds ([`twin::config::Config::default`]).
//!
//! `twin-eval [--people N] [--days D] [--seed S]` (defaults: 200 people, 180 days,
//! seed 7). The same arguments always give the same figures.

use std::process::ExitCode;
use std::time::Instant;

use twin::config::Config;
use twin::evaluate::evaluate;
use twin::synthetic::cohort;

const USAGE: &str = "usage: twin-eval [--people N] [--days D] [--seed S]
  --people N  people in the synthetic cohort (default 200)
  --days D    days of data per person, from 2025-01-01 (default 180)
  --seed S    seed of the generator (default 7)";

struct Args {
    people: usize,
    days: usize,
    seed: u64,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        people: 200,
        days: 180,
        seed: 7,
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--people" => parsed.people = value.parse().map_err(bad)?,
            "--days" => parsed.days = value.parse().map_err(bad)?,
            "--seed" => parsed.seed = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(Some(parsed))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("twin-eval: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let people = cohort(args.people, args.days, args.seed);
    let report = evaluate(&people, &Config::default());
    print!("{report}");
    println!(
        "({} people × {} days, seed {}, in {:.1} s)",
        args.people,
        args.days,
        args.seed,
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
