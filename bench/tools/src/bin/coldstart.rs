//! Cold-start probe: starts each function binary against a Lambda Runtime API on loopback
//! with the Lambda environment, N times, beside a do-nothing `lambda_http` function built
//! the same way (`bench/noop-lambda`), and reports
//!
//! - init: process spawn → first `GET /2018-06-01/runtime/invocation/next`;
//! - first: the first invocation (event handed out → response posted), and warm: the
//!   second one, so `first - warm` is what the first request pays for being first;
//! - peak RSS (`VmHWM`) after both invocations, and RSS after init;
//!
//! - penalty: init + first - warm, per run: everything a cold instance costs its first
//!   caller beyond a warm request (DESIGN's cold-start budget, issue 16: init alone
//!   counted the designed DynamoDB warm-up as waste and hid work moved into the first
//!   request);
//!
//! as median / p90 and the ratio of the medians to the noop function's. Runs are
//! interleaved (run 1 of every function, then run 2, ...) so a change of machine load
//! hits every function alike.
//!
//! ```sh
//! cargo build --release -p token-id -p token-login -p token-user -p app-token \
//!     -p token-refresh -p push-token -p jwks -p user-admin -p noop-lambda
//! cargo build -p bench-tools --bin coldstart
//! scripts/dynamodb-local.sh run -- target/debug/coldstart --runs 20
//! target/debug/coldstart --quick --bin-dir target/debug --store embedded   # CI smoke
//! ```
//!
//! Flags: `--runs N` (20), `--bin-dir DIR` (`IMAUTH_BIN_DIR`, else target/release),
//! `--store dynamodb|embedded` (dynamodb: a fresh table in the DynamoDB Local named by
//! `AWS_ENDPOINT_URL_DYNAMODB`, filled from events/seed.json), `--policy P` (argon2
//! policy of the seeded hashes and the functions, default owasp), `--functions a,b,...`,
//! `--store instant` (a stub endpoint answering every DynamoDB request at once with
//! `{}`: init only, no invocations; it isolates the function's own init work from the
//! store's latency), `--keys file|secret` (file: `IMAUTH_KEYS_FILE`, default; secret: the
//! production path, `IMAUTH_KEYS_SECRET_ARN` read during init from a fake Secrets Manager
//! on loopback), `--env KEY=VALUE` (repeatable: added to every function's environment, e.g.
//! `SSL_CERT_FILE`), `--dynamodb-delay-ms MS` (dynamodb store: every request held MS
//! before it reaches DynamoDB Local, a regional round trip played on loopback),
//! `--baseline-dir DIR` (each function also as built in DIR, labelled
//! `name@base`, in the same interleaved runs: before/after under the same load), `--quick` (1 run, insecure-fast policy: a smoke test, no timing
//! claims).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use bench_tools::dynamo_proxy::CountingDynamoProxy;
use bench_tools::{
    Flags, InstantDynamo, Summary, default_seed_file, get_event, machine, ms, proc_status_kib,
    seeded_dynamo_table, with_body_field, with_header,
};
use integration::fixtures::{TempDir, write_key_file};
use integration::secrets::FakeSecretsManager;
use integration::{ApiResponse, FunctionProcess, bin_dir_override, load_event, repo_root};
use serde_json::Value;
use shared::config::parse_password_policy;

const NOOP: &str = "noop-lambda";
const FUNCTIONS: &[&str] = &[
    "token-id",
    "token-login",
    "token-user",
    "app-token",
    "token-refresh",
    "push-token",
    "jwks",
    "user-admin",
];
/// DESIGN §7: cold start at most 1.5x the do-nothing function.
const INIT_BUDGET: f64 = 1.5;
/// Issue 16: a function's cold penalty at most 3x the do-nothing function's.
const PENALTY_BUDGET: f64 = 3.0;

#[derive(Default)]
struct Samples {
    init: Vec<Duration>,
    first: Vec<Duration>,
    warm: Vec<Duration>,
    /// init + first - warm of each run.
    penalty: Vec<Duration>,
    rss_init_kib: Vec<u64>,
    hwm_kib: Vec<u64>,
}

/// Per run: a fresh login's access and refresh tokens (refresh tokens are single-use).
struct Session {
    access: String,
    refresh: String,
    /// The demo app's admin token (client credentials), for user-admin.
    admin: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut flags = Flags::from_env();
    let quick = flags.switch("quick");
    let runs: usize = flags.parsed("runs")?.unwrap_or(if quick { 1 } else { 20 });
    let bin_dir = match flags.value("bin-dir")? {
        Some(dir) => absolute(PathBuf::from(dir)),
        None => bin_dir_override().unwrap_or_else(|| repo_root().join("target/release")),
    };
    let store = flags.value("store")?.unwrap_or_else(|| "dynamodb".into());
    let keys = flags.value("keys")?.unwrap_or_else(|| "file".into());
    let policy_text = flags
        .value("policy")?
        .unwrap_or_else(|| if quick { "insecure-fast" } else { "owasp" }.into());
    let policy = parse_password_policy(&policy_text)?;
    let extra_env: Vec<(String, String)> = flags
        .values("env")?
        .into_iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--env {kv}: expected KEY=VALUE"))
        })
        .collect::<Result<_>>()?;
    let dynamodb_delay = flags
        .parsed::<u64>("dynamodb-delay-ms")?
        .map(Duration::from_millis);
    let baseline_dir = flags
        .value("baseline-dir")?
        .map(|dir| absolute(PathBuf::from(dir)));
    let only: Option<Vec<String>> = flags
        .value("functions")?
        .map(|list| list.split(',').map(str::to_owned).collect());
    flags.finish()?;
    if runs == 0 {
        bail!("--runs must be at least 1");
    }

    let mut functions: Vec<&'static str> = FUNCTIONS
        .iter()
        .copied()
        .filter(|f| only.as_ref().is_none_or(|o| o.iter().any(|x| x == f)))
        .collect();
    // Each function as built in `bin_dir` and, with --baseline-dir, as built there (labelled
    // `name@base`), measured in the same interleaved runs: a comparison under the same
    // machine load.
    let mut entries: Vec<Entry> = Vec::new();
    for &function in &functions {
        entries.push(Entry::new(function.to_owned(), function, &bin_dir)?);
        if let Some(base) = &baseline_dir {
            entries.push(Entry::new(format!("{function}@base"), function, base)?);
        }
    }
    entries.push(Entry::new(NOOP.to_owned(), NOOP, &bin_dir)?);
    functions.push(NOOP);

    let tmp = TempDir::new("coldstart")?;
    let key_file = write_key_file(&tmp.0)?;
    let mut env: Vec<(String, String)> =
        vec![("IMAUTH_PASSWORD_POLICY".into(), policy_text.clone())];
    // Held to the end: the fake Secrets Manager and the instant DynamoDB stop on drop.
    let mut _secrets = None;
    let mut _instant = None;
    let mut _proxy = None;
    match keys.as_str() {
        "file" => env.push(("IMAUTH_KEYS_FILE".into(), key_file.display().to_string())),
        // The production path: the key set read from Secrets Manager during init (here a
        // fake on loopback, plain http).
        "secret" => {
            let sm = FakeSecretsManager::start().await?;
            let arn = sm.insert("imauth/keys", &std::fs::read_to_string(&key_file)?);
            env.extend([
                ("IMAUTH_KEYS_SECRET_ARN".into(), arn),
                ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), sm.endpoint()),
            ]);
            _secrets = Some(sm);
        }
        other => bail!("--keys {other}: expected file or secret"),
    }
    let aws_env = |endpoint: String, table: String| -> [(String, String); 6] {
        [
            ("IMAUTH_STORE".into(), "dynamodb".into()),
            ("TABLE_NAME".into(), table),
            ("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint),
            // Lambda hands the role's credentials over in the environment.
            ("AWS_ACCESS_KEY_ID".into(), "local".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
            ("AWS_SESSION_TOKEN".into(), "local".into()),
        ]
    };
    let init_only = store == "instant";
    match store.as_str() {
        "instant" => {
            let stub = InstantDynamo::start().await?;
            env.extend(aws_env(stub.endpoint(), "imauth-instant".into()));
            _instant = Some(stub);
        }
        "dynamodb" => {
            let mut endpoint = integration::dynamo::endpoint()?;
            let table = seeded_dynamo_table(&default_seed_file(), policy).await?;
            if let Some(delay) = dynamodb_delay {
                let proxy = CountingDynamoProxy::start_with_delay(&endpoint, delay).await?;
                endpoint = proxy.endpoint();
                _proxy = Some(proxy);
            }
            env.extend(aws_env(endpoint, table));
        }
        "embedded" => env.extend([
            ("IMAUTH_STORE".into(), "embedded".into()),
            (
                "IMAUTH_SEED_FILE".into(),
                default_seed_file().display().to_string(),
            ),
        ]),
        other => bail!("--store {other}: expected dynamodb, instant or embedded"),
    }
    env.extend(extra_env.iter().cloned());

    println!("machine: {}", machine());
    println!(
        "binaries: {}   store: {store}   keys: {keys}   password policy: {policy_text}   runs: {runs}{}",
        bin_dir.display(),
        if quick {
            "   (quick: smoke run, no timing claims)"
        } else {
            ""
        }
    );
    for (k, v) in &extra_env {
        println!("extra environment: {k}={v}");
    }
    if let Some(delay) = dynamodb_delay {
        println!("every DynamoDB request held {delay:?} (--dynamodb-delay-ms)");
    }

    // Refresh, push and user-admin need tokens of a real login; one per run and binary (refresh
    // tokens rotate).
    let needs_session =
        |function: &str| matches!(function, "token-refresh" | "push-token" | "user-admin");
    let sessions_per_run = if init_only {
        0
    } else {
        entries.iter().filter(|e| needs_session(e.function)).count()
    };
    let mut sessions = if sessions_per_run > 0 {
        let login_bin = bin_dir.join("token-id");
        logins(&login_bin, &env, runs * sessions_per_run).await?
    } else {
        Vec::new()
    }
    .into_iter();

    let mut samples: BTreeMap<&str, Samples> = BTreeMap::new();
    for run in 0..runs {
        for entry in &entries {
            let s = samples.entry(&entry.label).or_default();
            let invocations = if init_only {
                None
            } else {
                let session = if needs_session(entry.function) {
                    sessions.next()
                } else {
                    None
                };
                Some(events(entry.function, session.as_ref())?)
            };
            measure_once(&entry.binary, &env, invocations, s)
                .await
                .with_context(|| format!("{}, run {}", entry.label, run + 1))?;
        }
    }

    let labels: Vec<&str> = entries.iter().map(|e| e.label.as_str()).collect();
    print_report(&labels, &samples, quick);
    Ok(())
}

/// One binary measured: its label in the report, the function it is, its file.
struct Entry {
    label: String,
    function: &'static str,
    binary: PathBuf,
}

impl Entry {
    fn new(label: String, function: &'static str, dir: &Path) -> Result<Self> {
        let binary = dir.join(function);
        if !binary.is_file() {
            bail!(
                "{} not found: build the functions and {NOOP} first (see --help in the source)",
                binary.display()
            );
        }
        Ok(Self {
            label,
            function,
            binary,
        })
    }
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir().map_or(path.clone(), |cwd| cwd.join(path))
    }
}

/// `count` logins through the token-id function (one process), for their tokens, and
/// the demo app's admin token through app-token (the binary beside it).
async fn logins(binary: &Path, env: &[(String, String)], count: usize) -> Result<Vec<Session>> {
    let credentials = load_event("events/app-token/client-credentials.json")?;
    let run = integration::invoke_all(&binary.with_file_name("app-token"), env, vec![credentials])
        .await?;
    let answer = run
        .invocations
        .first()
        .context("no admin token answer")?
        .api_response()?;
    let admin = answer.body["access_token"]
        .as_str()
        .with_context(|| {
            format!(
                "setup admin token failed: {} {}",
                answer.status, answer.body
            )
        })?
        .to_owned();
    let event = load_event("events/token-id/ok.json")?;
    let run = integration::invoke_all(binary, env, vec![event; count]).await?;
    run.invocations
        .iter()
        .map(|i| {
            let r = i.api_response()?;
            if r.status != 200 {
                bail!("setup login failed: {} {}", r.status, r.body);
            }
            let data = &r.body["data"];
            Ok(Session {
                access: data["token"].as_str().context("no token")?.to_owned(),
                refresh: data["refresh_token"]
                    .as_str()
                    .context("no refresh_token")?
                    .to_owned(),
                admin: admin.clone(),
            })
        })
        .collect()
}

/// The first event and a builder of the second (which may depend on the first answer).
type Warm = Box<dyn FnOnce(&ApiResponse) -> Result<Value>>;

fn events(function: &str, session: Option<&Session>) -> Result<(Value, Warm)> {
    let same = |path: &str| -> Result<(Value, Warm)> {
        let e = load_event(path)?;
        Ok((e.clone(), Box::new(move |_| Ok(e))))
    };
    match function {
        "token-id" | NOOP => same("events/token-id/ok.json"),
        "token-login" => same("events/token-login/ok-email.json"),
        "token-user" => same("events/token-user/ok.json"),
        "app-token" => same("events/app-token/password-default-ttl.json"),
        "jwks" => {
            let e = get_event(
                &load_event("events/token-id/get.json")?,
                "/.well-known/jwks.json",
            );
            Ok((e.clone(), Box::new(move |_| Ok(e))))
        }
        "token-refresh" => {
            let session = session.context("no session for token-refresh")?;
            let template = load_event("events/token-refresh/refresh.json")?;
            let first = with_body_field(
                template.clone(),
                "refresh_token",
                Value::from(session.refresh.clone()),
            )?;
            Ok((
                first,
                Box::new(move |answer: &ApiResponse| {
                    let rotated = answer.body["data"]["refresh_token"]
                        .as_str()
                        .context("refresh answer has no refresh_token")?;
                    with_body_field(template, "refresh_token", Value::from(rotated))
                }),
            ))
        }
        "push-token" => {
            let session = session.context("no session for push-token")?;
            let bearer = format!("Bearer {}", session.access);
            let first = with_header(
                load_event("events/push-token/register-ring.json")?,
                "authorization",
                &bearer,
            );
            let list = with_header(
                load_event("events/push-token/list-ring.json")?,
                "authorization",
                &bearer,
            );
            Ok((first, Box::new(move |_| Ok(list))))
        }
        "user-admin" => {
            let session = session.context("no session for user-admin")?;
            let text = load_event("events/user-admin/get.json")?.to_string();
            let get: Value = serde_json::from_str(&text.replace("ADMIN_TOKEN", &session.admin))?;
            Ok((get.clone(), Box::new(move |_| Ok(get))))
        }
        other => bail!("no events for {other}"),
    }
}

async fn measure_once(
    binary: &Path,
    env: &[(String, String)],
    invocations: Option<(Value, Warm)>,
    samples: &mut Samples,
) -> Result<()> {
    let mut function = FunctionProcess::spawn(binary, env).await?;
    let init = function.wait_ready().await?;
    let pid = function.pid().context("function has no pid")?;
    let rss_init = proc_status_kib(pid, "VmRSS");
    samples.init.push(init);
    samples.rss_init_kib.extend(rss_init);
    if let Some((first, warm)) = invocations {
        let one = function.invoke(first).await?;
        let answer = one.api_response()?;
        if answer.status != 200 {
            bail!(
                "first invocation answered {}: {}",
                answer.status,
                answer.body
            );
        }
        let two = function.invoke(warm(&answer)?).await?;
        let answer2 = two.api_response()?;
        if answer2.status != 200 {
            bail!(
                "second invocation answered {}: {}",
                answer2.status,
                answer2.body
            );
        }
        samples.first.push(one.timings.handler);
        samples.warm.push(two.timings.handler);
        samples
            .penalty
            .push((init + one.timings.handler).saturating_sub(two.timings.handler));
    }
    let hwm = proc_status_kib(pid, "VmHWM");
    let output = function.shutdown().await;
    if !output.rejected_requests.is_empty() {
        bail!("Runtime API rejected {:?}", output.rejected_requests);
    }
    samples.hwm_kib.extend(hwm);
    Ok(())
}

fn print_report(functions: &[&str], samples: &BTreeMap<&str, Samples>, quick: bool) {
    print_init_table(functions, samples);
    let penalties = print_penalty_table(functions, samples);
    println!();
    if quick {
        println!("quick run: every function started and answered 200 twice (no timing claims)");
        return;
    }
    let init_ratios: Vec<(&str, f64)> = functions
        .iter()
        .filter(|&&f| f != NOOP)
        .filter_map(|&f| Some((f, median_ratio(&samples[f].init, &samples[NOOP].init)?)))
        .collect();
    verdict("init budget", INIT_BUDGET, &init_ratios);
    verdict("cold penalty budget", PENALTY_BUDGET, &penalties);
    println!("(peak RSS = VmHWM after both invocations; RSS init = VmRSS at the first poll)");
}

/// Median of `samples` over the median of `noop`.
fn median_ratio(samples: &[Duration], noop: &[Duration]) -> Option<f64> {
    let (s, n) = Summary::of(samples).zip(Summary::of(noop))?;
    Some(s.median.as_secs_f64() / n.median.as_secs_f64())
}

fn verdict(what: &str, budget: f64, ratios: &[(&str, f64)]) {
    if ratios.is_empty() {
        return;
    }
    let over: Vec<String> = ratios
        .iter()
        .filter(|(_, r)| *r > budget)
        .map(|(f, r)| format!("{f} {r:.2}x"))
        .collect();
    if over.is_empty() {
        println!("{what} (<= {budget}x noop median): met by every function");
    } else {
        println!(
            "{what} (<= {budget}x noop median): NOT met by {}",
            over.join(", ")
        );
    }
}

fn cell(v: Option<Duration>) -> String {
    v.map_or("-".to_owned(), |v| format!("{:.2} ms", ms(v)))
}

fn print_init_table(functions: &[&str], samples: &BTreeMap<&str, Samples>) {
    println!();
    println!(
        "{:<18} {:>9} {:>9} {:>7} {:>10} {:>10} {:>7} {:>10} {:>10} {:>11} {:>10}",
        "function",
        "init p50",
        "init p90",
        "x noop",
        "first p50",
        "first p90",
        "x noop",
        "warm p50",
        "first-warm",
        "RSS init",
        "peak RSS"
    );
    let noop = &samples[NOOP];
    let ratio = |v: Option<f64>| v.map_or("-".to_owned(), |r| format!("{r:.2}x"));
    for &f in functions {
        let s = &samples[f];
        let Some(init) = Summary::of(&s.init) else {
            continue;
        };
        let first = Summary::of(&s.first);
        let warm = Summary::of(&s.warm);
        let mib = |v: &[u64]| {
            v.iter()
                .max()
                .map_or("?".to_owned(), |k| format!("{:.1} MiB", *k as f64 / 1024.0))
        };
        let first_minus_warm = first
            .zip(warm)
            .map(|(f, w)| format!("{:.2} ms", ms(f.median) - ms(w.median)));
        println!(
            "{:<18} {:>6.2} ms {:>6.2} ms {:>7} {:>10} {:>10} {:>7} {:>10} {:>10} {:>11} {:>10}",
            f,
            ms(init.median),
            ms(init.p90),
            ratio(median_ratio(&s.init, &noop.init)),
            cell(first.map(|s| s.median)),
            cell(first.map(|s| s.p90)),
            ratio(median_ratio(&s.first, &noop.first)),
            cell(warm.map(|s| s.median)),
            first_minus_warm.unwrap_or_else(|| "-".to_owned()),
            mib(&s.rss_init_kib),
            mib(&s.hwm_kib),
        );
    }
}

/// The cold penalty per function (init + first - warm, per run); returns each
/// function's ratio to the noop's median penalty.
fn print_penalty_table<'a>(
    functions: &[&'a str],
    samples: &BTreeMap<&str, Samples>,
) -> Vec<(&'a str, f64)> {
    let noop = &samples[NOOP].penalty;
    if noop.is_empty() {
        return Vec::new();
    }
    println!();
    println!(
        "{:<18} {:>12} {:>12} {:>8}   (penalty = init + first - warm, per run)",
        "function", "penalty p50", "penalty p90", "x noop"
    );
    let mut ratios = Vec::new();
    for &f in functions {
        let penalty = Summary::of(&samples[f].penalty);
        let ratio = median_ratio(&samples[f].penalty, noop);
        println!(
            "{:<18} {:>12} {:>12} {:>8}",
            f,
            cell(penalty.map(|s| s.median)),
            cell(penalty.map(|s| s.p90)),
            ratio.map_or("-".to_owned(), |r| format!("{r:.2}x")),
        );
        if let Some(r) = ratio
            && f != NOOP
        {
            ratios.push((f, r));
        }
    }
    ratios
}
