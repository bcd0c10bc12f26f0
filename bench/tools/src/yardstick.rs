//! What the spike tools compare throughput with: one argon2 verify's CPU time on this
//! machine, and the CPU time a process got.

use std::time::Duration;

use anyhow::{Result, bail};
use shared::auth::password::{Password, PasswordHasher, PasswordPolicy};

use crate::thread_cpu_time;

/// `runs` single-thread argon2 verifies at `policy` after a warm-up, in thread CPU time:
/// what one verify costs a core, whatever else the machine runs.
pub fn argon2_samples(policy: PasswordPolicy, runs: usize) -> Result<Vec<Duration>> {
    let hasher = PasswordHasher::new(policy)?;
    let password = Password::new("alice-password".into())?;
    let phc = hasher.hash(&password)?;
    hasher.verify(&password, &phc)?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = thread_cpu_time();
        if !hasher.verify(&password, &phc)? {
            bail!("argon2 verify failed");
        }
        samples.push(thread_cpu_time() - t);
    }
    Ok(samples)
}

/// As [`argon2_samples`], on a fresh thread: a spike's tasks ran on this runtime's
/// threads, and the yardstick should not depend on what they left in the caches.
pub fn argon2_samples_after(policy: PasswordPolicy, runs: usize) -> Result<Vec<Duration>> {
    std::thread::spawn(move || argon2_samples(policy, runs))
        .join()
        .map_err(|_| anyhow::anyhow!("argon2 yardstick thread panicked"))?
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
