//! Timing helpers shared by the bench binaries: run for a budget, report median,
//! mean and p90. Plain loops rather than criterion, to keep build times down.

use std::time::{Duration, Instant};

pub struct Stats {
    pub median: Duration,
    pub mean: Duration,
    pub p90: Duration,
    pub runs: usize,
}

/// Runs `f` for about `budget` (at least `min_runs` times) and summarises.
pub fn measure(budget: Duration, min_runs: usize, mut f: impl FnMut()) -> Stats {
    f(); // warm up caches and the per-thread argon2 work area
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.len() < min_runs || started.elapsed() < budget {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    samples.sort_unstable();
    let runs = samples.len();
    Stats {
        median: samples[runs / 2],
        mean: samples.iter().sum::<Duration>() / runs as u32,
        p90: samples[runs * 9 / 10],
        runs,
    }
}

pub fn report(name: &str, s: &Stats) {
    println!(
        "{name:<40} median {:>10.3} ms   mean {:>10.3} ms   p90 {:>10.3} ms   ({} runs)",
        s.median.as_secs_f64() * 1e3,
        s.mean.as_secs_f64() * 1e3,
        s.p90.as_secs_f64() * 1e3,
        s.runs
    );
}

/// `cargo bench` passes `--bench`; `cargo test --benches` does not: then one quick pass.
pub fn budget(full: Duration) -> (Duration, usize) {
    if std::env::args().any(|a| a == "--bench") {
        (full, 30)
    } else {
        (Duration::ZERO, 1)
    }
}
