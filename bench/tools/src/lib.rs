//! The performance tools of BENCHMARKS.md (`coldstart`, `spike`, `login-timing`,
//! `lambda-spike`, `fault-in` in `src/bin/`) and what only they use: summary statistics,
//! `/proc` memory readings, a DynamoDB Local table filled from a seed file and warmed up,
//! a stand-in DynamoDB endpoint, a counting proxy, argon2 yardsticks and a tiny flag
//! parser. They drive the function binaries through the integration crate's Runtime-API
//! harness. See BENCHMARKS.md for how they are run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use shared::auth::password::{PasswordHasher, PasswordPolicy};
use shared::clock::SystemClock;
use shared::service::provision::{build_app, build_user};
use shared::service::seed::SeedFile;
use shared::store::dynamo::table::create_table;
use shared::store::{AppAdmin as _, DynamoStore, UserAdmin as _};

pub use integration::proc_status_kib;
use integration::repo_root;

pub mod dynamo_proxy;
pub mod store_warm_up;
pub mod yardstick;

/// Median, p90, p99, min and max of a set of durations.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub min: Duration,
    pub median: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Summary {
    /// `None` for an empty set. Percentiles are nearest-rank.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_unstable();
        let rank = |p: f64| {
            let idx = ((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
            s[idx]
        };
        Some(Self {
            n: s.len(),
            min: s[0],
            median: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            max: s[s.len() - 1],
        })
    }
}

/// CPU time consumed by the calling thread so far (immune to preemption by other
/// processes, unlike wall time; cache and memory contention still count).
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// A tool's `--help`: the `//!` lines its source file opens with. A reader that stops
/// early (`--help | head`) is not an error.
pub fn print_module_doc(source: &str) {
    let doc: String = source
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
        .collect();
    let _ = std::io::Write::write_all(&mut std::io::stdout(), doc.as_bytes());
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A new table in the DynamoDB Local named by `AWS_ENDPOINT_URL_DYNAMODB`, holding the
/// apps and users of `seed_file` with passwords hashed under `policy`. Returns the table
/// name.
pub async fn seeded_dynamo_table(seed_file: &Path, policy: PasswordPolicy) -> Result<String> {
    let endpoint = integration::dynamo::endpoint()?;
    let client =
        integration::dynamo::client_for(&endpoint, &integration::dynamo::RequestLog::default())
            .await;
    let table = format!("imauth-bench-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table)
        .await
        .with_context(|| format!("creating table {table} at {endpoint}"))?;
    let store = DynamoStore::new(client, table.clone());
    let text = std::fs::read_to_string(seed_file)
        .with_context(|| format!("reading {}", seed_file.display()))?;
    let seed = SeedFile::parse(&text)?;
    let hasher = PasswordHasher::new(policy)?;
    for new in seed.apps {
        let (app, _) = build_app(new)?;
        store.create_app(&app).await?;
    }
    for new in seed.users {
        let user = build_user(new, &hasher, &SystemClock)?;
        store.create_user(&user).await?;
    }
    Ok(table)
}

/// `events/seed.json` under the repository root.
pub fn default_seed_file() -> PathBuf {
    repo_root().join("events/seed.json")
}

/// The body of an API Gateway event parsed as JSON (events keep it as a string).
pub fn event_body(event: &Value) -> Result<Value> {
    let body = event["body"].as_str().context("event has no string body")?;
    Ok(serde_json::from_str(body)?)
}

/// `event` with its JSON body's `field` set to `value`.
pub fn with_body_field(mut event: Value, field: &str, value: Value) -> Result<Value> {
    let mut body = event_body(&event)?;
    body[field] = value;
    event["body"] = Value::from(body.to_string());
    Ok(event)
}

/// `event` with header `name` set to `value`.
pub fn with_header(mut event: Value, name: &str, value: &str) -> Value {
    event["headers"][name] = Value::from(value);
    event
}

/// A `GET path` HTTP API (payload 2.0) event made from another event of the same shape.
pub fn get_event(template: &Value, path: &str) -> Value {
    let mut e = template.clone();
    e["routeKey"] = Value::from(format!("GET {path}"));
    e["rawPath"] = Value::from(path);
    e["rawQueryString"] = Value::from("");
    e["requestContext"]["routeKey"] = Value::from(format!("GET {path}"));
    e["requestContext"]["http"]["method"] = Value::from("GET");
    e["requestContext"]["http"]["path"] = Value::from(path);
    if let Some(obj) = e.as_object_mut() {
        obj.remove("body");
    }
    e
}

/// Minimal `--flag value` / `--switch` parser for the bench tools (no extra dependency).
pub struct Flags {
    args: Vec<String>,
}

impl Flags {
    pub fn from_env() -> Self {
        Self {
            args: std::env::args().skip(1).collect(),
        }
    }

    /// Whether `--name` was given (and removes it).
    pub fn switch(&mut self, name: &str) -> bool {
        let flag = format!("--{name}");
        let before = self.args.len();
        self.args.retain(|a| a != &flag);
        self.args.len() != before
    }

    /// The value of `--name VALUE` or `--name=VALUE` (and removes it).
    pub fn value(&mut self, name: &str) -> Result<Option<String>> {
        let flag = format!("--{name}");
        let prefix = format!("--{name}=");
        if let Some(i) = self.args.iter().position(|a| a == &flag) {
            if i + 1 >= self.args.len() {
                bail!("{flag} needs a value");
            }
            let v = self.args.remove(i + 1);
            self.args.remove(i);
            return Ok(Some(v));
        }
        if let Some(i) = self.args.iter().position(|a| a.starts_with(&prefix)) {
            let v = self.args.remove(i)[prefix.len()..].to_owned();
            return Ok(Some(v));
        }
        Ok(None)
    }

    /// Every value of a repeatable `--name VALUE` (and removes them).
    pub fn values(&mut self, name: &str) -> Result<Vec<String>> {
        let mut all = Vec::new();
        while let Some(v) = self.value(name)? {
            all.push(v);
        }
        Ok(all)
    }

    pub fn parsed<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.value(name)? {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|e| anyhow::anyhow!("--{name} {v}: {e}")),
        }
    }

    /// Fails on anything not consumed, so a typo is not silently ignored.
    pub fn finish(self) -> Result<()> {
        if self.args.is_empty() {
            Ok(())
        } else {
            bail!("unknown arguments: {}", self.args.join(" "))
        }
    }
}

/// The machine, for the reports: CPU model and the number of cores this process may use.
pub fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "{model}, {cores} cores, {} {}, load average {load}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// A stand-in DynamoDB endpoint on loopback that answers every request at once with
/// `200 {}` (a GetItem that found nothing). Pointing a function's
/// `AWS_ENDPOINT_URL_DYNAMODB` at it measures the function's own init work without the
/// store's latency (DynamoDB Local, a JVM, takes milliseconds per request). Stops when
/// dropped.
pub struct InstantDynamo {
    addr: std::net::SocketAddr,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl InstantDynamo {
    pub async fn start() -> Result<Self> {
        use http_body_util::Full;
        use hyper::body::Bytes;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req| {
                        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        async {
                            let mut r = http::Response::new(Full::new(Bytes::from_static(b"{}")));
                            r.headers_mut().insert(
                                http::header::CONTENT_TYPE,
                                http::HeaderValue::from_static("application/x-amz-json-1.0"),
                            );
                            Ok::<_, std::convert::Infallible>(r)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            requests,
            task,
        })
    }

    /// The value for `AWS_ENDPOINT_URL_DYNAMODB`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for InstantDynamo {
    fn drop(&mut self) {
        self.task.abort();
    }
}
