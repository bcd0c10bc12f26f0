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

/// Like [`measure`] for several cases at once, run round-robin (one call of each per
/// round) for about `budget` in total and at least `min_runs` rounds, so a change in
/// machine load during the run hits every case alike and their ratios stay meaningful.
#[allow(dead_code)] // used by the login bench, not by the requests bench
pub fn measure_interleaved(
    budget: Duration,
    min_runs: usize,
    cases: &mut [&mut dyn FnMut()],
) -> Vec<Stats> {
    for case in cases.iter_mut() {
        case(); // warm up
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let started = Instant::now();
    let mut rounds = 0;
    while rounds < min_runs || started.elapsed() < budget {
        for (case, samples) in cases.iter_mut().zip(&mut samples) {
            let t = Instant::now();
            case();
            samples.push(t.elapsed());
        }
        rounds += 1;
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_unstable();
            let runs = s.len();
            Stats {
                median: s[runs / 2],
                mean: s.iter().sum::<Duration>() / runs as u32,
                p90: s[runs * 9 / 10],
                runs,
            }
        })
        .collect()
}
