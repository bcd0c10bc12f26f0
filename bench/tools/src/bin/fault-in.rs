//! The floor under a login function's cold penalty (BENCHMARKS.md §9): how long this
//! fresh process takes to fault in argon2's work area at a password policy, the very
//! call a login function makes during init (`PasswordPolicy::prefault_work_area`).
//! One measurement per process, because a second one would reuse pages the first
//! already mapped.
//!
//! ```sh
//! cargo build --release -p bench-tools --bin fault-in
//! for i in $(seq 15); do target/release/fault-in; done    # milliseconds, one per line
//! ```
//!
//! Flags: `--policy P` (owasp), `--help`.

use std::time::Instant;

use anyhow::Result;
use bench_tools::Flags;
use shared::config::parse_password_policy;

fn main() -> Result<()> {
    let mut flags = Flags::from_env();
    if flags.switch("help") {
        bench_tools::print_module_doc(include_str!("fault-in.rs"));
        return Ok(());
    }
    let policy = parse_password_policy(&flags.value("policy")?.unwrap_or_else(|| "owasp".into()))?;
    flags.finish()?;
    let started = Instant::now();
    policy.prefault_work_area();
    println!("{:.2}", started.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
