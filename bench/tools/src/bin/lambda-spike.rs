//! Login spike the way Lambda sees it: a burst of logins against the built function
//! binary (`token-id`), each login handed to an idle instance if there is one, else to a
//! new instance (a process of the binary against its own Runtime API on loopback, cold
//! start included), up to a concurrency limit; past it, a login waits for an instance to
//! become idle (where Lambda would throttle and the client retry). The store is DynamoDB
//! Local, reached through a counting proxy, so the requests each login costs are counted
//! as the functions make them.
//!
//! Reports p50/p99 latency split into cold logins (the instance was started for it: its
//! init is in the latency) and warm ones, instances started, errors, DynamoDB requests
//! per login by operation, and throughput against cores / argon2-time (argon2 measured in
//! this process before and after the burst, thread CPU time; build this tool with
//! `--release` for timed runs, so that its argon2 is built like the function's and its
//! proxy takes little of the cores it measures).
//!
//! ```sh
//! cargo build --release -p token-id -p bench-tools --bin token-id --bin lambda-spike
//! scripts/dynamodb-local.sh run -- target/release/lambda-spike --logins 600 --concurrency 10
//! scripts/dynamodb-local.sh run -- target/debug/lambda-spike --quick --bin-dir target/debug  # CI smoke
//! ```
//!
//! The users are made for the run in a fresh table: `--users U` users logging in with
//! their password, and as many other users receiving the wrong passwords (every
//! `--wrong-every K`th login), so the lockout the failures build up never refuses a right
//! password. A right password must answer 200, a wrong one 401; anything else is an error,
//! and so is a DynamoDB request count other than the design's (two per login, one app
//! read per instance).
//!
//! After the burst, `--concurrency` processes (this tool, started again) verify argon2 at
//! once for 3 s: the *sharing price*, what a verify costs when that many share the cores,
//! apart from anything the function does. Under `scripts/dynamodb-local.sh run` (which
//! passes `DYNAMODB_LOCAL_PID`) the report also says where the cores went during the
//! burst (instances, DynamoDB Local, this tool) and the *ceiling*: the cores left to the
//! instances over the sharing price, which no function could beat on this machine.
//!
//! Flags: `--logins N` (500), `--concurrency C` (most instances at once, 10), `--users U`
//! (8), `--wrong-every K` (10; 0: none), `--bin-dir DIR` (`IMAUTH_BIN_DIR`, else
//! target/release), `--policy P` (owasp), `--timeout SECS` (300: the whole burst),
//! `--store-warm-up R` (1000; quick: 20: before the burst, R rounds of a login's two
//! requests against DynamoDB Local for a user of their own, not counted, so that the
//! emulator's JIT compiler is not what the burst measures; DynamoDB is warm when a spike
//! reaches it), `--quick` (24 logins, 3 instances, insecure-fast policy: a smoke test, no
//! timing claims), `--help`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use bench_tools::dynamo_proxy::CountingDynamoProxy;
use bench_tools::store_warm_up::warm_up_store;
use bench_tools::yardstick::{
    argon2_samples, argon2_samples_after, argon2_samples_for, argon2_shared_samples, cpu_seconds,
    dynamodb_local_pid,
};
use bench_tools::{Flags, Summary, machine, ms, seeded_dynamo_table, with_body_field};
use integration::fixtures::{TempDir, write_key_file};
use integration::{FunctionProcess, bin_dir_override, load_event, repo_root};
use serde_json::{Value, json};
use shared::config::parse_password_policy;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// Issue 16: throughput at least 0.8 x cores / argon2-time, instances sharing the cores.
const THROUGHPUT_BUDGET: f64 = 0.8;
/// How the tool starts itself as one process of the sharing-price measurement:
/// `--argon2-worker MS --policy P` verifies for MS milliseconds and prints each
/// verify's CPU time in microseconds.
const ARGON2_WORKER_FLAG: &str = "argon2-worker";
/// First user id of the generated users.
const FIRST_USER_ID: i64 = 50_001;

struct Options {
    logins: usize,
    concurrency: usize,
    users: usize,
    wrong_every: usize,
    bin_dir: PathBuf,
    policy_text: String,
    timeout: Duration,
    store_warm_up: usize,
    quick: bool,
}

fn options() -> Result<Option<Options>> {
    let mut flags = Flags::from_env();
    if flags.switch("help") {
        bench_tools::print_module_doc(include_str!("lambda-spike.rs"));
        return Ok(None);
    }
    // One process of the sharing-price measurement: this tool started again by itself.
    if let Some(millis) = flags.parsed::<u64>(ARGON2_WORKER_FLAG)? {
        let policy = parse_password_policy(&flags.value("policy")?.unwrap_or_default())?;
        flags.finish()?;
        for sample in argon2_samples_for(policy, Duration::from_millis(millis))? {
            println!("{}", sample.as_micros());
        }
        return Ok(None);
    }
    let quick = flags.switch("quick");
    let options = Options {
        logins: flags
            .parsed("logins")?
            .unwrap_or(if quick { 24 } else { 500 }),
        concurrency: flags
            .parsed("concurrency")?
            .unwrap_or(if quick { 3 } else { 10 }),
        users: flags.parsed("users")?.unwrap_or(if quick { 3 } else { 8 }),
        wrong_every: flags.parsed("wrong-every")?.unwrap_or(10),
        bin_dir: flags
            .value("bin-dir")?
            .map(PathBuf::from)
            .or_else(bin_dir_override)
            .unwrap_or_else(|| repo_root().join("target/release")),
        policy_text: flags
            .value("policy")?
            .unwrap_or_else(|| if quick { "insecure-fast" } else { "owasp" }.into()),
        timeout: Duration::from_secs(flags.parsed("timeout")?.unwrap_or(300)),
        store_warm_up: flags
            .parsed("store-warm-up")?
            .unwrap_or(if quick { 20 } else { 1000 }),
        quick,
    };
    flags.finish()?;
    if options.logins == 0 || options.concurrency == 0 || options.users == 0 {
        bail!("--logins, --concurrency and --users must be at least 1");
    }
    Ok(Some(options))
}

/// One login of the burst: whose, and whether its password is the right one.
#[derive(Clone, Copy)]
struct Login {
    user_id: i64,
    right: bool,
}

fn password(user_id: i64) -> String {
    format!("spike-password-{user_id}")
}

/// Logins `0..n`: every `wrong_every`th with a wrong password, for a user of its own.
fn burst(n: usize, users: usize, wrong_every: usize) -> Vec<Login> {
    (0..n)
        .map(|i| {
            let slot = i64::try_from(i % users).unwrap_or(0);
            let right = wrong_every == 0 || (i + 1) % wrong_every != 0;
            let user_id = if right {
                FIRST_USER_ID + slot
            } else {
                FIRST_USER_ID + i64::try_from(users).unwrap_or(0) + slot
            };
            Login { user_id, right }
        })
        .collect()
}

/// The user the store warm-up reads, after the `2 * users` of the burst.
fn warm_up_user(users: usize) -> i64 {
    FIRST_USER_ID + 2 * i64::try_from(users).unwrap_or(0)
}

/// A seed file: app `demo` of events/seed.json, the `2 * users` users of the burst and
/// the warm-up user.
fn seed_file(dir: &Path, users: usize) -> Result<PathBuf> {
    let seed: Value =
        serde_json::from_str(&std::fs::read_to_string(bench_tools::default_seed_file())?)?;
    let users: Vec<Value> = (0..=2 * i64::try_from(users)?)
        .map(|n| {
            let user_id = FIRST_USER_ID + n;
            json!({
                "app_id": "demo",
                "user_id": user_id,
                "username": format!("spike-{user_id}"),
                "password": password(user_id),
                "activated": true,
            })
        })
        .collect();
    let path = dir.join("spike-seed.json");
    std::fs::write(
        &path,
        json!({ "apps": seed["apps"], "users": users }).to_string(),
    )?;
    Ok(path)
}

/// Lambda's scaling, played: idle instances are reused, a new one is started when none
/// is idle and fewer than `limit` exist, else the login waits for one to become idle.
struct Instances {
    binary: PathBuf,
    env: Vec<(String, String)>,
    limit: usize,
    state: Mutex<Pool>,
    released: Notify,
}

#[derive(Default)]
struct Pool {
    idle: Vec<FunctionProcess>,
    started: usize,
    pids: Vec<u32>,
}

impl Instances {
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle instance, or `None`: the caller starts a new one (a slot is counted).
    async fn acquire(&self) -> Option<FunctionProcess> {
        loop {
            // Registered before the lock is dropped, so a release in between is not lost.
            let released = self.released.notified();
            {
                let mut pool = self.pool();
                if let Some(instance) = pool.idle.pop() {
                    return Some(instance);
                }
                if pool.started < self.limit {
                    pool.started += 1;
                    return None;
                }
            }
            released.await;
        }
    }

    async fn start(&self) -> Result<FunctionProcess> {
        let mut instance = FunctionProcess::spawn(&self.binary, &self.env).await?;
        instance.wait_ready().await?;
        if let Some(pid) = instance.pid() {
            self.pool().pids.push(pid);
        }
        Ok(instance)
    }

    fn release(&self, instance: FunctionProcess) {
        self.pool().idle.push(instance);
        self.released.notify_one();
    }

    /// Like a failed Lambda environment: gone, and its slot free for a new one.
    fn discard(&self) {
        self.pool().started -= 1;
        self.released.notify_one();
    }
}

/// What one login of the burst observed.
struct Outcome {
    cold: bool,
    /// Handed to an instance → answered (a cold login includes the instance's init).
    latency: Duration,
    /// Arrival → answered, the wait for an instance included.
    end_to_end: Duration,
    /// `None` when answered as expected.
    error: Option<String>,
}

async fn one_login(instances: Arc<Instances>, template: Arc<Value>, login: Login) -> Outcome {
    let arrived = Instant::now();
    let acquired = instances.acquire().await;
    let handed = Instant::now();
    let cold = acquired.is_none();
    let instance = match acquired {
        Some(instance) => Ok(instance),
        None => instances.start().await,
    };
    let answered = match instance {
        Ok(mut instance) => {
            let answer = invoke(&mut instance, &template, login).await;
            match &answer {
                Err(_) => instances.discard(),
                Ok(_) => instances.release(instance),
            }
            answer
        }
        Err(e) => {
            instances.discard();
            Err(e)
        }
    };
    let expected = if login.right { 200 } else { 401 };
    let error = match answered {
        Ok(status) if status == expected => None,
        Ok(status) => Some(format!("HTTP {status} (expected {expected})")),
        Err(e) => Some(
            format!("{e:#}")
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
    };
    Outcome {
        cold,
        latency: handed.elapsed(),
        end_to_end: arrived.elapsed(),
        error,
    }
}

async fn invoke(instance: &mut FunctionProcess, template: &Value, login: Login) -> Result<u16> {
    let event = with_body_field(template.clone(), "user_id", Value::from(login.user_id))?;
    let secret = if login.right {
        password(login.user_id)
    } else {
        "not-the-password".to_owned()
    };
    let event = with_body_field(event, "password", Value::from(secret))?;
    Ok(instance.invoke(event).await?.api_response()?.status)
}

#[tokio::main]
async fn main() -> Result<()> {
    let Some(o) = options()? else {
        return Ok(());
    };
    let policy = parse_password_policy(&o.policy_text)?;
    // The burst is of `POST /token/id` events (events/token-id/ok.json).
    let binary = o.bin_dir.join("token-id");
    if !binary.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release -p token-id)",
            binary.display()
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!("machine: {}", machine());

    let tmp = TempDir::new("lambda-spike")?;
    let table = seeded_dynamo_table(&seed_file(&tmp.0, o.users)?, policy).await?;
    if o.store_warm_up > 0 {
        let took = warm_up_store(&table, "demo", warm_up_user(o.users), o.store_warm_up).await?;
        println!(
            "store warm-up: {} rounds = {} requests in {:.2} s, before the burst and not counted",
            o.store_warm_up,
            2 * o.store_warm_up,
            took.as_secs_f64()
        );
    }
    let proxy = CountingDynamoProxy::start(&integration::dynamo::endpoint()?).await?;
    let env: Vec<(String, String)> = vec![
        ("IMAUTH_PASSWORD_POLICY".into(), o.policy_text.clone()),
        (
            "IMAUTH_KEYS_FILE".into(),
            write_key_file(&tmp.0)?.display().to_string(),
        ),
        ("IMAUTH_STORE".into(), "dynamodb".into()),
        ("TABLE_NAME".into(), table),
        ("AWS_ENDPOINT_URL_DYNAMODB".into(), proxy.endpoint()),
        // Lambda hands the role's credentials over in the environment.
        ("AWS_ACCESS_KEY_ID".into(), "local".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
        ("AWS_SESSION_TOKEN".into(), "local".into()),
    ];
    let logins = burst(o.logins, o.users, o.wrong_every);
    let wrong = logins.iter().filter(|l| !l.right).count();
    println!(
        "function: {}   store: DynamoDB Local (counting proxy)   password policy: {}   logins: {} ({wrong} wrong passwords) over {} users   concurrency limit: {}{}",
        binary.display(),
        o.policy_text,
        o.logins,
        o.users,
        o.concurrency,
        if o.quick {
            "   (quick: smoke run, no timing claims)"
        } else {
            ""
        }
    );

    let yardstick_runs = if o.quick { 3 } else { 20 };
    let mut argon2 = argon2_samples(policy, yardstick_runs)?;

    let instances = Arc::new(Instances {
        binary,
        env,
        limit: o.concurrency,
        state: Mutex::default(),
        released: Notify::new(),
    });
    let template = Arc::new(load_event("events/token-id/ok.json")?);
    let own_cpu_before = cpu_seconds(std::process::id());
    let store_pid = dynamodb_local_pid();
    let store_cpu_before = store_pid.and_then(cpu_seconds);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + o.timeout;
    let mut tasks = JoinSet::new();
    for login in logins {
        let (instances, template) = (instances.clone(), template.clone());
        tasks.spawn(async move {
            tokio::time::timeout_at(deadline, one_login(instances, template, login)).await
        });
    }
    let mut outcomes = Vec::with_capacity(o.logins);
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.context("login task panicked")? {
            Ok(outcome) => outcomes.push(outcome),
            Err(_) => {
                *errors
                    .entry(format!("not answered within {:?}", o.timeout))
                    .or_default() += 1;
            }
        }
    }
    let wall = started.elapsed();
    let own_cpu = own_cpu_before
        .zip(cpu_seconds(std::process::id()))
        .map(|(b, a)| a - b);
    let store_cpu = store_cpu_before
        .zip(store_pid.and_then(cpu_seconds))
        .map(|(b, a)| a - b);
    let instance_cpu: f64 = instances
        .pool()
        .pids
        .iter()
        .filter_map(|&p| cpu_seconds(p))
        .sum();
    argon2.extend(argon2_samples_after(policy, yardstick_runs)?);
    let argon2_time = Summary::of(&argon2).map_or(Duration::ZERO, |s| s.median);
    // After the burst, its instances idle: the same number of verifies sharing the cores.
    let sharing_span = Duration::from_millis(if o.quick { 200 } else { 3000 });
    let exe = std::env::current_exe()?;
    let shared_argon2 = argon2_shared_samples(
        &mut || {
            let mut worker = std::process::Command::new(&exe);
            worker
                .arg(format!("--{ARGON2_WORKER_FLAG}"))
                .arg(sharing_span.as_millis().to_string())
                .args(["--policy", &o.policy_text]);
            worker
        },
        o.concurrency,
    )?;
    let shared_argon2_time = Summary::of(&shared_argon2).map_or(Duration::ZERO, |s| s.median);
    let started_instances = instances.pool().started;
    let counts = proxy.counts();

    for e in outcomes.iter().filter_map(|o| o.error.clone()) {
        *errors.entry(e).or_default() += 1;
    }
    let error_count: usize = errors.values().sum();
    println!();
    let line = |what: &str, pick: &dyn Fn(&Outcome) -> Option<Duration>| {
        let samples: Vec<Duration> = outcomes.iter().filter_map(pick).collect();
        match Summary::of(&samples) {
            Some(s) => println!(
                "{what:<34} n {:>4}  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
                s.n,
                ms(s.median),
                ms(s.p99),
                ms(s.max)
            ),
            None => println!("{what:<34} n    0"),
        }
    };
    line("cold (instance started for it)", &|o| {
        (o.cold && o.error.is_none()).then_some(o.latency)
    });
    line("warm (an idle instance)", &|o| {
        (!o.cold && o.error.is_none()).then_some(o.latency)
    });
    line("end to end (wait for an instance)", &|o| {
        o.error.is_none().then_some(o.end_to_end)
    });
    println!(
        "instances started: {started_instances} (limit {})   logins: {}   errors: {error_count}",
        o.concurrency, o.logins
    );
    let login_requests = counts.total();
    println!(
        "DynamoDB requests: {login_requests} ({}) = {:.2} per login, {:.2} without one app read per instance (its app cache); plus {} connection warm-ups (init){}",
        counts.breakdown(),
        login_requests as f64 / o.logins as f64,
        login_requests.saturating_sub(started_instances) as f64 / o.logins as f64,
        counts.warm_ups,
        if counts.failed > 0 {
            format!("; {} not answered by DynamoDB Local", counts.failed)
        } else {
            String::new()
        }
    );
    // docs/security.md: every login, right or wrong password, is one GetItem (the user)
    // and one UpdateItem (the lock check or the counted failure); an instance reads the
    // app once per minute of its app cache.
    let app_reads = started_instances * (1 + wall.as_secs() as usize / 60);
    let designed = 2 * o.logins + started_instances..=2 * o.logins + app_reads;
    let as_designed = designed.contains(&login_requests);
    println!(
        "requests per login {}: designed 2 per login + 1 app read per instance and minute = {designed:?}",
        if as_designed {
            "as designed"
        } else {
            "NOT as designed"
        },
    );
    let throughput = o.logins as f64 / wall.as_secs_f64();
    let ideal = cores as f64 / argon2_time.as_secs_f64();
    println!(
        "throughput {throughput:.1} logins/s over {:.2} s;  cores / argon2-time = {cores} / {:.2} ms = {ideal:.1} /s;  ratio {:.3}x (budget >= {THROUGHPUT_BUDGET}x)",
        wall.as_secs_f64(),
        ms(argon2_time),
        throughput / ideal
    );
    println!(
        "CPU during the burst: instances {instance_cpu:.2} s ({:.2} ms per login = {:.2}x argon2), this tool {} (proxy and Runtime APIs)",
        instance_cpu * 1e3 / o.logins as f64,
        instance_cpu / o.logins as f64 / argon2_time.as_secs_f64(),
        own_cpu.map_or("?".to_owned(), |c| format!("{c:.2} s")),
    );
    // The machine is shared (DynamoDB Local, this tool, other processes): what the
    // instances made of the CPU they got, independent of how much that was.
    let cores_got = instance_cpu / wall.as_secs_f64();
    println!(
        "instances got {cores_got:.2} of {cores} cores: throughput / (cores got / argon2-time) = {:.3}x",
        throughput / (cores_got / argon2_time.as_secs_f64())
    );
    let sharing_price = shared_argon2_time.as_secs_f64() / argon2_time.as_secs_f64();
    println!(
        "argon2 with {} processes verifying at once (no store, no function): {:.2} ms = {sharing_price:.2}x alone;  the instances spent {:.2}x that per login;  throughput / (cores / that) = {:.3}x",
        o.concurrency,
        ms(shared_argon2_time),
        instance_cpu / o.logins as f64 / shared_argon2_time.as_secs_f64(),
        throughput / (cores as f64 / shared_argon2_time.as_secs_f64()),
    );
    if let (Some(store_cpu), Some(own_cpu)) = (store_cpu, own_cpu) {
        let seconds = wall.as_secs_f64();
        let (store_cores, own_cores) = (store_cpu / seconds, own_cpu / seconds);
        println!(
            "cores during the burst: instances {cores_got:.2}, DynamoDB Local {store_cores:.2} ({:.2} ms CPU per request), this tool {own_cores:.2}, the rest {:.2} (kernel threads, other processes, idle)",
            store_cpu * 1e3 / login_requests.max(1) as f64,
            cores as f64 - cores_got - store_cores - own_cores,
        );
        // What the machine allows before the functions spend anything beyond argon2.
        let cores_left = (cores as f64 - store_cores - own_cores) / cores as f64;
        println!(
            "ceiling on this machine: cores left to the instances {cores_left:.3} / sharing price {sharing_price:.2} = {:.3}x (a login costing the instances one argon2 at this sharing and nothing else)",
            cores_left / sharing_price
        );
    }
    for (error, count) in &errors {
        println!("error x{count}: {error}");
    }
    if o.quick {
        println!("quick run: the burst completed (no timing claims)");
    }
    if error_count > 0 {
        bail!("{error_count} of {} logins failed", o.logins);
    }
    if !as_designed {
        bail!(
            "{login_requests} DynamoDB requests for {} logins: not as designed",
            o.logins
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_passwords_go_to_users_of_their_own() {
        let logins = burst(40, 4, 10);
        let wrong: Vec<i64> = logins
            .iter()
            .filter(|l| !l.right)
            .map(|l| l.user_id)
            .collect();
        assert_eq!(wrong.len(), 4);
        assert!(
            logins
                .iter()
                .filter(|l| l.right)
                .all(|l| !wrong.contains(&l.user_id))
        );
        assert!(burst(40, 4, 0).iter().all(|l| l.right));
    }
}
