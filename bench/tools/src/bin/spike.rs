//! Login spike against `imauth serve`: N logins sent at once, each on its own loopback
//! connection, bounded in count and time (it stops by itself). Reports throughput,
//! latency percentiles and errors, and compares the throughput with what the machine can
//! do at best: cores / argon2-time, argon2-time measured in this process just before the
//! spike at the server's parameters (thread CPU time, so other load on the machine does
//! not inflate it). It also reports the CPU the server actually got during the spike, its
//! CPU per login, and its threads and peak memory afterwards.
//!
//! ```sh
//! cargo build --release -p imauth && cargo build -p bench-tools --bin spike
//! target/debug/spike --logins 500                 # starts target/release/imauth serve
//! target/debug/spike --url http://127.0.0.1:3000  # or targets a server already running
//! target/debug/spike --quick --bin-dir target/debug   # CI smoke
//! ```
//!
//! The server it starts is `imauth serve --addr 127.0.0.1:0 --seed events/seed.json`
//! (embedded store, the OWASP policy unless `--policy`), logging to a temp file. Each
//! login is `POST /token/id` for user 10001 of app `demo` (`alice-password`).
//!
//! Flags: `--logins N` (500), `--timeout SECS` (120: the whole spike), `--bin-dir DIR`
//! (`IMAUTH_BIN_DIR`, else target/release), `--url URL` (target a running server; it must
//! hold events/seed.json's users), `--policy P` (owasp), `--argon2-ms MS` (skip the
//! in-process argon2 measurement), `--quick` (20 logins: a smoke test, no timing claims).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use bench_tools::yardstick::{argon2_samples, argon2_samples_after, cpu_seconds};
use bench_tools::{Flags, Summary, default_seed_file, machine, ms};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use integration::fixtures::TempDir;
use integration::{bin_dir_override, repo_root};
use shared::config::parse_password_policy;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const LOGIN_BODY: &str = r#"{"user_id":10001,"password":"alice-password"}"#;
/// Issue 8: throughput at least 0.9 x cores / argon2-time.
const THROUGHPUT_BUDGET: f64 = 0.9;

#[tokio::main]
async fn main() -> Result<()> {
    let mut flags = Flags::from_env();
    let quick = flags.switch("quick");
    let logins: usize = flags
        .parsed("logins")?
        .unwrap_or(if quick { 20 } else { 500 });
    let timeout = Duration::from_secs(flags.parsed("timeout")?.unwrap_or(120));
    let bin_dir = flags
        .value("bin-dir")?
        .map(PathBuf::from)
        .or_else(bin_dir_override)
        .unwrap_or_else(|| repo_root().join("target/release"));
    let url = flags.value("url")?;
    let policy_text = flags.value("policy")?.unwrap_or_else(|| "owasp".into());
    let policy = parse_password_policy(&policy_text)?;
    let argon2_override: Option<f64> = flags.parsed("argon2-ms")?;
    flags.finish()?;
    if logins == 0 {
        bail!("--logins must be at least 1");
    }

    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!("machine: {}", machine());

    // The server: one we start (killed when `_server` drops), or the one named by --url.
    let log_dir = TempDir::new("spike")?;
    let (addr, _server) = match &url {
        Some(url) => (parse_url(url)?, None),
        None => {
            let (addr, child) = start_server(&bin_dir, &policy_text, &log_dir.0).await?;
            (addr, Some(child))
        }
    };
    println!(
        "server: http://{addr}{}   password policy: {policy_text}   logins: {logins}{}",
        if url.is_some() {
            " (given)".to_owned()
        } else {
            format!(" ({}/imauth serve, embedded store)", bin_dir.display())
        },
        if quick {
            "   (quick: smoke run, no timing claims)"
        } else {
            ""
        }
    );

    // One login first: proves the setup and warms the server (work areas, code paths).
    let warm = login(addr).await.context("warm-up login")?;
    if warm.0 != 200 {
        bail!("warm-up login answered {}: {}", warm.0, warm.1);
    }

    // argon2 time on this machine, at the server's parameters, one thread: sampled just
    // before and just after the spike (the yardstick drifts with the machine's state; one
    // median over both halves tracks the conditions the spike ran in).
    let yardstick_runs = if quick { 3 } else { 20 };
    let mut argon2_samples = match argon2_override {
        Some(_) => Vec::new(),
        None => argon2_samples(policy, yardstick_runs)?,
    };

    // CPU seconds used by the server and by this tool during the spike: whether the server
    // got the machine's cores, or something else (this client, other processes) took them.
    let server_pid = _server.as_ref().and_then(tokio::process::Child::id);
    let cpu_before = (
        server_pid.and_then(cpu_seconds),
        cpu_seconds(std::process::id()),
    );

    // The spike: every connection opened and every request sent at once.
    let deadline = tokio::time::Instant::now() + timeout;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..logins {
        tasks.spawn(async move {
            let t = Instant::now();
            let outcome = tokio::time::timeout_at(deadline, login(addr)).await;
            (t.elapsed(), outcome)
        });
    }
    let mut latencies = Vec::with_capacity(logins);
    let mut errors: std::collections::BTreeMap<String, usize> = Default::default();
    let mut last_done = started;
    while let Some(joined) = tasks.join_next().await {
        let (latency, outcome) = joined.context("login task panicked")?;
        match outcome {
            Ok(Ok((200, _))) => {
                latencies.push(latency);
                last_done = Instant::now();
            }
            Ok(Ok((status, body))) => {
                *errors
                    .entry(format!("HTTP {status}: {}", truncate(&body, 120)))
                    .or_default() += 1;
            }
            Ok(Err(e)) => *errors.entry(format!("transport: {e:#}")).or_default() += 1,
            Err(_) => {
                *errors
                    .entry(format!("not answered within {timeout:?}"))
                    .or_default() += 1
            }
        }
    }
    let wall = last_done.duration_since(started);
    let spike_wall = started.elapsed();
    let cpu_after = (
        server_pid.and_then(cpu_seconds),
        cpu_seconds(std::process::id()),
    );
    // Threads and peak memory of the server after the spike: argon2 work areas are per
    // thread (19 MiB each at OWASP), so more hashing threads than permits means more memory.
    let server_threads = server_pid.and_then(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()
            .map(Iterator::count)
    });
    let server_hwm = server_pid.and_then(|pid| bench_tools::proc_status_kib(pid, "VmHWM"));
    let argon2_time = match argon2_override {
        Some(ms) => Duration::from_secs_f64(ms / 1e3),
        None => {
            argon2_samples.extend(argon2_samples_after(policy, yardstick_runs)?);
            Summary::of(&argon2_samples).map_or(Duration::ZERO, |s| s.median)
        }
    };
    let ok = latencies.len();
    let throughput = ok as f64 / wall.as_secs_f64();
    let ideal = cores as f64 / argon2_time.as_secs_f64();

    println!();
    println!(
        "argon2 verify, one thread, in this process (thread CPU time, median of runs before and after the spike): {:.2} ms{}",
        ms(argon2_time),
        if argon2_override.is_some() {
            " (given)"
        } else if cfg!(debug_assertions) {
            " (debug build of this tool; argon2 and blake2 are opt-level 3 in dev too)"
        } else {
            ""
        }
    );
    println!(
        "ok {ok} / {logins}, errors {}   wall {:.3} s (first send to last answer)",
        logins - ok,
        wall.as_secs_f64()
    );
    if let Some(s) = Summary::of(&latencies) {
        println!(
            "latency: p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  min {:.1} ms  max {:.1} ms",
            ms(s.median),
            ms(s.p90),
            ms(s.p99),
            ms(s.min),
            ms(s.max)
        );
    }
    println!(
        "throughput {throughput:.1} logins/s;  cores / argon2-time = {cores} / {:.2} ms = {ideal:.1} /s;  ratio {:.3}x (budget >= {THROUGHPUT_BUDGET}x)",
        ms(argon2_time),
        throughput / ideal
    );
    let used = |before: Option<f64>, after: Option<f64>| {
        before.zip(after).map_or("?".to_owned(), |(b, a)| {
            format!(
                "{:.2} s CPU = {:.2} cores",
                a - b,
                (a - b) / spike_wall.as_secs_f64()
            )
        })
    };
    println!(
        "during the spike ({:.3} s): server {}; this client {}",
        spike_wall.as_secs_f64(),
        used(cpu_before.0, cpu_after.0),
        used(cpu_before.1, cpu_after.1)
    );
    if let (Some(threads), Some(hwm)) = (server_threads, server_hwm) {
        println!(
            "server after the spike: {threads} threads, peak RSS (VmHWM) {:.1} MiB",
            hwm as f64 / 1024.0
        );
    }
    if let (Some(b), Some(a)) = cpu_before
        .0
        .zip(cpu_after.0)
        .map_or((None, None), |(b, a)| (Some(b), Some(a)))
    {
        let per_login = (a - b) / logins as f64;
        println!(
            "server CPU per login {:.2} ms = {:.3}x argon2 (what the server spends per login, whatever CPU it was given)",
            per_login * 1e3,
            per_login / argon2_time.as_secs_f64()
        );
    }
    for (error, count) in &errors {
        println!("error x{count}: {error}");
    }
    if quick {
        println!("quick run: the spike completed (no timing claims)");
    }
    if ok != logins {
        bail!("{} of {logins} logins failed", logins - ok);
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn parse_url(url: &str) -> Result<SocketAddr> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let hostport = rest.split('/').next().unwrap_or(rest);
    let addr: SocketAddr = hostport
        .parse()
        .with_context(|| format!("--url {url}: expected http://IP:PORT"))?;
    if !addr.ip().is_loopback() {
        bail!("--url {url}: the spike only targets loopback addresses");
    }
    Ok(addr)
}

/// Starts `imauth serve` on an ephemeral loopback port and waits for its address line.
async fn start_server(
    bin_dir: &std::path::Path,
    policy: &str,
    log_dir: &std::path::Path,
) -> Result<(SocketAddr, tokio::process::Child)> {
    let binary = bin_dir.join("imauth");
    if !binary.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release -p imauth)",
            binary.display()
        );
    }
    let mut child = tokio::process::Command::new(&binary)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--password-policy",
            policy,
        ])
        .arg("--seed")
        .arg(default_seed_file())
        .env_remove("IMAUTH_KEYS_FILE")
        .env_remove("IMAUTH_PASSWORD_POLICY")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stderr = child.stderr.take().context("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let log_path = log_dir.join("serve.log");
    let mut log = String::new();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            log.push_str(&line);
            log.push('\n');
            if let Some(url) = line.strip_prefix("imauth serving on http://") {
                return Ok::<_, anyhow::Error>(Some(url.trim().parse::<SocketAddr>()?));
            }
        }
        Ok(None)
    })
    .await
    .context("imauth serve did not start within 60 s")??;
    let Some(addr) = addr else {
        bail!("imauth serve exited before listening:\n{log}");
    };
    // Keep draining its stderr (to a file) so the server never blocks on a full pipe.
    tokio::spawn(async move {
        let mut file = tokio::fs::File::create(&log_path).await.ok();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(f) = file.as_mut() {
                let _ =
                    tokio::io::AsyncWriteExt::write_all(f, format!("{line}\n").as_bytes()).await;
            }
        }
    });
    Ok((addr, child))
}

/// One login on a new connection: (status, body).
async fn login(addr: SocketAddr) -> Result<(u16, String)> {
    let stream = TcpStream::connect(addr).await.context("connect")?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .context("handshake")?;
    tokio::spawn(conn);
    let request = http::Request::post("/token/id")
        .header("host", addr.to_string())
        .header("app_id", "demo")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(LOGIN_BODY.as_bytes())))?;
    let response = sender.send_request(request).await.context("request")?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .context("body")?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
