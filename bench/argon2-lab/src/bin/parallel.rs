//! argon2 0.5.3 (m=19456 t=2 p=1), reused work area per thread, on T threads at once for
//! a few seconds: per-verify thread-CPU time and wall time, and the aggregate rate.
//! `parallel 1` vs `parallel 2` shows what running one verify per core costs each verify
//! (shared L3 / memory bandwidth), independent of how much CPU the process is given.
use argon2_05::{Algorithm, Argon2, Block, Params, Version};
use std::time::{Duration, Instant};

fn cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let secs = 6;
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let params = Params::new(19456, 2, 1, Some(32)).unwrap();
                let mut mem = vec![Block::new(); params.block_count()];
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                let mut out = [0u8; 32];
                argon
                    .hash_password_into_with_memory(
                        b"alice-password",
                        b"somesalt0123456",
                        &mut out,
                        &mut mem,
                    )
                    .unwrap();
                let (mut c, mut w) = (Vec::new(), Vec::new());
                while start.elapsed() < Duration::from_secs(secs) {
                    let (w0, c0) = (Instant::now(), cpu());
                    argon
                        .hash_password_into_with_memory(
                            b"alice-password",
                            b"somesalt0123456",
                            &mut out,
                            &mut mem,
                        )
                        .unwrap();
                    c.push(cpu() - c0);
                    w.push(w0.elapsed());
                }
                (c, w)
            })
        })
        .collect();
    let (mut c, mut w) = (Vec::new(), Vec::new());
    for h in handles {
        let (a, b) = h.join().unwrap();
        c.extend(a);
        w.extend(b);
    }
    let n = c.len();
    c.sort();
    w.sort();
    println!(
        "threads {threads}: {n} verifies in {secs} s = {:.1}/s; per verify: cpu median {:.2} ms, wall median {:.2} ms",
        n as f64 / secs as f64,
        c[n / 2].as_secs_f64() * 1e3,
        w[n / 2].as_secs_f64() * 1e3
    );
}
