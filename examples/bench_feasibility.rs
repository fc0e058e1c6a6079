//! Prints how long the exact feasibility check takes for a person's day of
//! n linked visits (worst case: every window overlaps every other), and the
//! booking path's typical case. Run with `scripts/bench`.

use kept::domain::feasibility::{check, Slot};
use std::time::Instant;

fn day(n: usize, seed: u64) -> Vec<Slot<u32>> {
    let mut s = seed;
    let mut next = move |m: u64| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s % m
    };
    (0..n as u32)
        .map(|id| {
            // Windows spread over a 10-hour day, each 2-4 hours wide, 15-30 minutes long:
            // they all reach each other, so the whole day is one cluster.
            let start = 8 * 3600 + next(6 * 3600) as i64;
            Slot {
                id,
                window_start: start,
                window_end: start + 7200 + next(7200) as i64,
                duration_secs: 900 + next(900) as i64,
            }
        })
        .collect()
}

fn main() {
    println!("{:>8} {:>10} {:>14} {:>14}", "visits", "feasible", "median", "worst");
    for n in [4usize, 8, 12, 16, 18, 20] {
        let runs = if n >= 18 { 5 } else { 50 };
        let mut times = Vec::new();
        let mut feasible = 0;
        for seed in 0..runs {
            let slots = day(n, 0x9e37_79b9_7f4a_7c15 ^ (seed as u64 + 1));
            let t = Instant::now();
            let ok = check(&slots, 15 * 60).is_ok();
            times.push(t.elapsed());
            feasible += ok as usize;
        }
        times.sort();
        println!(
            "{n:>8} {:>7}/{runs:<2} {:>14.3?} {:>14.3?}",
            feasible,
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}
