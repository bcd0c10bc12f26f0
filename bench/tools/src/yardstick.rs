//! What the spike tools compare throughput with: one argon2 verify's CPU time on this
//! machine, and the CPU time a process got.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use shared::auth::password::{Password, PasswordHasher, PasswordPolicy};

use crate::thread_cpu_time;

/// `runs` single-thread argon2 verifies at `policy` after a warm-up, in thread CPU time:
/// what one verify costs a core, whatever else the machine runs.
pub fn argon2_samples(policy: PasswordPolicy, runs: usize) -> Result<Vec<Duration>> {
    verify_while(policy, |taken| taken < runs)
}

/// As [`argon2_samples`], on a fresh thread: a spike's tasks ran on this runtime's
/// threads, and the yardstick should not depend on what they left in the caches.
pub fn argon2_samples_after(policy: PasswordPolicy, runs: usize) -> Result<Vec<Duration>> {
    std::thread::spawn(move || argon2_samples(policy, runs))
        .join()
        .map_err(|_| anyhow::anyhow!("argon2 yardstick thread panicked"))?
}

/// Argon2 verifies for `span` on this thread, in thread CPU time per verify. One process
/// of [`argon2_shared_samples`].
pub fn argon2_samples_for(policy: PasswordPolicy, span: Duration) -> Result<Vec<Duration>> {
    let deadline = std::time::Instant::now() + span;
    verify_while(policy, |_| std::time::Instant::now() < deadline)
}

/// Verifies on this thread while `more(samples taken so far)`, each timed in thread CPU
/// time. The first verify faults the work area in and is not a sample.
fn verify_while(
    policy: PasswordPolicy,
    mut more: impl FnMut(usize) -> bool,
) -> Result<Vec<Duration>> {
    let hasher = PasswordHasher::new(policy)?;
    let password = Password::new("alice-password".into())?;
    let phc = hasher.hash(&password)?;
    hasher.verify(&password, &phc)?;
    let mut samples = Vec::new();
    while more(samples.len()) {
        let t = thread_cpu_time();
        if !hasher.verify(&password, &phc)? {
            bail!("argon2 verify failed");
        }
        samples.push(thread_cpu_time() - t);
    }
    Ok(samples)
}

/// What one argon2 verify costs when `processes` of them share the cores, apart from
/// anything a function does: `worker` (a command running [`argon2_samples_for`] and
/// printing each sample in microseconds on a line of its own) started that many times
/// at once. Processes, not threads, because a spike's instances are processes: on 2
/// cores, 10 of them are time-sliced, each resuming with the shared L3 cache holding the
/// others' work areas and in an address space of its own (measured here: 10 processes
/// cost 5–10% more per verify than 10 threads of one process).
pub fn argon2_shared_samples(
    worker: &mut dyn FnMut() -> std::process::Command,
    processes: usize,
) -> Result<Vec<Duration>> {
    let children = (0..processes.max(1))
        .map(|_| {
            worker()
                .stdout(std::process::Stdio::piped())
                .spawn()
                .context("starting an argon2 sharing process")
        })
        .collect::<Result<Vec<_>>>()?;
    let mut samples = Vec::new();
    for child in children {
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!("an argon2 sharing process failed: {}", output.status);
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            samples.push(Duration::from_micros(line.trim().parse()?));
        }
    }
    Ok(samples)
}

/// utime + stime of a process, in seconds (`/proc/<pid>/stat`, clock ticks of 1/100 s).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The DynamoDB Local process that `scripts/dynamodb-local.sh run` started, if this runs
/// under it: the spike tools count its CPU, since it shares the cores with the functions.
pub fn dynamodb_local_pid() -> Option<u32> {
    std::env::var("DYNAMODB_LOCAL_PID")
        .ok()?
        .trim()
        .parse()
        .ok()
}
