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

/// Argon2 verifies on `threads` threads at once for `span`, each thread with a work area
/// of its own, in thread CPU time per verify: what one verify costs when as many
/// password checks share the cores as a spike has instances. On 2 cores, 10 of them are
/// time-sliced, and each resumes with the shared L3 cache holding the others' work areas:
/// the machine's price of the sharing, apart from anything the functions do.
pub fn argon2_shared_samples(
    policy: PasswordPolicy,
    threads: usize,
    span: Duration,
) -> Result<Vec<Duration>> {
    let hasher = PasswordHasher::new(policy)?;
    let password = Password::new("alice-password".into())?;
    let phc = std::sync::Arc::new(hasher.hash(&password)?);
    let deadline = std::time::Instant::now() + span;
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let phc = phc.clone();
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let hasher = PasswordHasher::new(policy)?;
                let password = Password::new("alice-password".into())?;
                // The first verify faults this thread's work area in; not a sample.
                hasher.verify(&password, &phc)?;
                let mut samples = Vec::new();
                while std::time::Instant::now() < deadline {
                    let t = thread_cpu_time();
                    if !hasher.verify(&password, &phc)? {
                        bail!("argon2 verify failed");
                    }
                    samples.push(thread_cpu_time() - t);
                }
                Ok(samples)
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("argon2 sharing thread panicked"))??,
        );
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
