//! croner beside relay's Python next-fire arithmetic: per-tick cost, and the DST cases of
//! tests/unit/test_schedule_timing.py (compare the printed ticks with the Python ones).

use std::str::FromStr as _;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

const ROUNDS: u32 = 2000;

fn cost(expr: &str, zone: &str) {
    let tz: Tz = zone.parse().expect("zone");
    let cron = Cron::from_str(expr).expect("cron");
    let start = Utc
        .with_ymd_and_hms(2026, 3, 28, 12, 0, 0)
        .unwrap()
        .with_timezone(&tz);
    let mut ticks = vec![start];
    for _ in 0..50 {
        let last = *ticks.last().expect("a tick");
        ticks.push(cron.find_next_occurrence(&last, false).expect("next"));
    }
    let t0 = Instant::now();
    let mut sink = 0i64;
    for _ in 0..ROUNDS {
        for t in &ticks {
            sink ^= cron
                .find_next_occurrence(t, false)
                .expect("next")
                .timestamp();
        }
    }
    let per_tick = t0.elapsed().as_secs_f64() * 1e6 / (f64::from(ROUNDS) * ticks.len() as f64);
    let t1 = Instant::now();
    for _ in 0..ROUNDS {
        sink ^= i64::from(Cron::from_str(expr).is_ok());
    }
    let parse = t1.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    println!(
        "{expr:18} {zone:18} next {per_tick:5.2} us/tick  parse {parse:5.2} us  ({})",
        sink & 1
    );
}

fn ticks(expr: &str, zone: &str, start: (i32, u32, u32, u32, u32), n: usize) {
    let tz: Tz = zone.parse().expect("zone");
    let cron = Cron::from_str(expr).expect("cron");
    let (y, mo, d, h, mi) = start;
    let mut t = tz.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        t = cron.find_next_occurrence(&t, false).expect("next");
        out.push(t.format("%Y-%m-%d %H:%M%z").to_string());
    }
    println!("{expr:18} {zone:18} {out:?}");
}

fn main() {
    for (expr, zone) in [
        ("*/5 * * * *", "UTC"),
        ("0 6 * * *", "Europe/Paris"),
        ("30 2 * * *", "Europe/Paris"),
        ("0 9 * * MON-FRI", "America/New_York"),
    ] {
        cost(expr, zone);
    }
    ticks("30 2 * * *", "Europe/Paris", (2026, 3, 28, 12, 0), 2);
    ticks("0 2 * * *", "Australia/Lord_Howe", (2026, 10, 3, 12, 0), 2);
    ticks("* 2 * * *", "America/New_York", (2026, 3, 8, 1, 58), 3);
    ticks("30 1 * * *", "America/New_York", (2026, 10, 31, 12, 0), 2);
    ticks("*/30 * * * *", "America/New_York", (2026, 11, 1, 0, 50), 5);
}
