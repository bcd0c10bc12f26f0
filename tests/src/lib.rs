//! Integration-test harness for imauth's Lambda functions.
//!
//! Tests run the real function binaries against a Lambda Runtime API (2018-06-01) served on
//! loopback, so they exercise the same bootstrap, long-polling and (de)serialisation path as
//! production instead of calling handlers in-process.

pub mod bench;
pub mod client;
pub mod dynamo;
pub mod emf;
pub mod secrets;

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Runtime API version the harness serves; it is the only one AWS has published.
pub const RUNTIME_API_VERSION: &str = "2018-06-01";
/// Per-event budget, also advertised to the function as its deadline.
pub const DEFAULT_INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
pub const REGION: &str = "us-east-1";
pub const ACCOUNT_ID: &str = "123456789012";

const STDIO_TAIL_LINES: usize = 40;
/// Grandchildren that inherited the stdio pipes can keep them open after the function is
/// killed; past this we stop waiting for EOF and report what was captured.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Host variables worth keeping in the otherwise hermetic function environment: PATH so
/// scripts resolve their tools, the rest so coverage and backtraces of the child still work.
const PASSTHROUGH_ENV: &[&str] = &[
    "PATH",
    "LLVM_PROFILE_FILE",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
];

const HDR_REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const HDR_DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
const HDR_FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
const HDR_TRACE_ID: &str = "lambda-runtime-trace-id";
const HDR_ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// Root of the repository (the workspace), independent of the test's working directory.
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.join(".."), Path::to_path_buf)
}

/// Path of a workspace binary, e.g. `workspace_binary("token-id")`: from the directory in
/// `IMAUTH_BIN_DIR` when that is set (relative paths are taken from the repository root,
/// e.g. `IMAUTH_BIN_DIR=target/release`), otherwise from the debug profile's output.
pub fn workspace_binary(name: &str) -> Result<PathBuf> {
    match bin_dir_override() {
        Some(dir) => binary_in(&dir, name, "IMAUTH_BIN_DIR"),
        None => profile_binary(name, "debug"),
    }
}

/// Path of a workspace binary built in `profile` (`"debug"`, `"release"`, ...), ignoring
/// `IMAUTH_BIN_DIR`.
pub fn profile_binary(name: &str, profile: &str) -> Result<PathBuf> {
    let flag = match profile {
        "debug" => String::new(),
        "release" => " --release".to_owned(),
        other => format!(" --profile {other}"),
    };
    binary_in(
        &target_dir()?.join(profile),
        name,
        &format!("cargo build --workspace --bins{flag}"),
    )
}

/// The binary directory named by `IMAUTH_BIN_DIR`, if set.
pub fn bin_dir_override() -> Option<PathBuf> {
    let dir = std::env::var_os("IMAUTH_BIN_DIR").filter(|d| !d.is_empty())?;
    let dir = PathBuf::from(dir);
    Some(if dir.is_absolute() {
        dir
    } else {
        repo_root().join(dir)
    })
}

fn binary_in(dir: &Path, name: &str, how: &str) -> Result<PathBuf> {
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        bail!(
            "binary {name} not built: run `{how}` first (looked for {})",
            path.display()
        )
    }
}

fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        // Cargo resolves a relative CARGO_TARGET_DIR against the directory it was run from,
        // normally the workspace root, whereas tests run with their package as cwd.
        return Ok(if dir.is_absolute() {
            dir
        } else {
            repo_root().join(dir)
        });
    }
    let exe = std::env::current_exe().context("locating the running executable")?;
    // Test executables live in <target>/<profile>/deps/, binaries of this crate (the
    // bench tools) in <target>/<profile>/.
    let profile_dir = exe.parent().and_then(|dir| {
        if dir
            .file_name()
            .is_some_and(|n| n == "deps" || n == "examples")
        {
            dir.parent()
        } else {
            Some(dir)
        }
    });
    profile_dir
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "executable {} is not inside <target>/<profile>[/deps]",
                exe.display()
            )
        })
}

/// Reads a JSON event from a path relative to the repository root, e.g. `events/login.json`.
pub fn load_event(path_relative_to_repo: &str) -> Result<Value> {
    let path = repo_root().join(path_relative_to_repo);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading event {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing event {} as JSON", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Runtime API server
// ---------------------------------------------------------------------------------------------

/// What the function did against the Runtime API, in the order the server saw it.
#[derive(Debug, Clone)]
pub enum RuntimeReport {
    /// `next` handed this event to the function.
    Delivered { request_id: String, at: Instant },
    /// `POST invocation/{id}/response`.
    Response {
        request_id: String,
        body: Bytes,
        at: Instant,
    },
    /// `POST invocation/{id}/error`.
    InvocationError {
        request_id: String,
        error_type: Option<String>,
        body: Bytes,
        at: Instant,
    },
    /// `POST init/error`.
    InitError {
        error_type: Option<String>,
        body: Bytes,
        at: Instant,
    },
    /// A request the server refused (unknown route, unknown or already answered request id,
    /// unreadable body); surfaced so a misbehaving client fails tests visibly.
    Rejected {
        method: Method,
        path: String,
        status: StatusCode,
    },
}

struct QueuedEvent {
    request_id: String,
    body: Bytes,
}

struct Shared {
    function_arn: String,
    deadline_budget: Duration,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<QueuedEvent>>,
    in_flight: Mutex<HashSet<String>>,
    reports: mpsc::UnboundedSender<RuntimeReport>,
    first_poll: watch::Sender<Option<Instant>>,
}

/// A Lambda Runtime API on `127.0.0.1:<ephemeral port>`. Events are queued with
/// [`RuntimeApi::enqueue`]; everything the function sends back is read with
/// [`RuntimeApi::next_report`]. The server stops when this value is dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    function_name: String,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<QueuedEvent>,
    reports: mpsc::UnboundedReceiver<RuntimeReport>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> Result<Self> {
        Self::start_with_deadline(function_name, DEFAULT_INVOKE_TIMEOUT).await
    }

    /// `deadline_budget` is added to the delivery time to form `Lambda-Runtime-Deadline-Ms`.
    pub async fn start_with_deadline(
        function_name: &str,
        deadline_budget: Duration,
    ) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the Runtime API listener on 127.0.0.1")?;
        let addr = listener
            .local_addr()
            .context("reading the Runtime API listener address")?;
        let (events, queue) = mpsc::unbounded_channel();
        let (report_tx, reports) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"),
            deadline_budget,
            queue: tokio::sync::Mutex::new(queue),
            in_flight: Mutex::new(HashSet::new()),
            reports: report_tx,
            first_poll: watch::Sender::new(None),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Ok(Self {
            addr,
            function_name: function_name.to_owned(),
            shared,
            events,
            reports,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Value for `AWS_LAMBDA_RUNTIME_API` (`host:port`, no scheme, as Lambda sets it).
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    pub fn function_name(&self) -> &str {
        &self.function_name
    }

    pub fn function_arn(&self) -> &str {
        &self.shared.function_arn
    }

    /// Queues an event for the next `next` poll and returns the request id it will carry.
    pub fn enqueue(&self, event: &Value) -> Result<String> {
        let body = serde_json::to_vec(event).context("serialising event")?;
        let request_id = new_request_id();
        self.events
            .send(QueuedEvent {
                request_id: request_id.clone(),
                body: Bytes::from(body),
            })
            .context("Runtime API event queue closed")?;
        Ok(request_id)
    }

    /// When the function first polled `next`, i.e. finished its init phase.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.shared.first_poll.borrow()
    }

    /// Resolves with the first-poll instant. The future owns its state, so it can be raced
    /// against other uses of this `RuntimeApi`. `None` only if the server is gone.
    pub fn wait_first_poll(&self) -> impl Future<Output = Option<Instant>> + Send + 'static {
        let mut first_poll = self.shared.first_poll.subscribe();
        async move {
            first_poll
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|first| *first)
        }
    }

    /// Next thing the function did; `None` once the server has been dropped.
    pub async fn next_report(&mut self) -> Option<RuntimeReport> {
        self.reports.recv().await
    }

    /// Stops serving and closes open connections, releasing any client blocked in `next`.
    pub fn shutdown(&self) {
        self.server.abort();
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// UUID-shaped like real request ids; pid + counter keeps ids unique across the harnesses
/// running concurrently in one test binary and across test binaries sharing log output.
fn new_request_id() -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-0000-4000-8000-{n:012x}", std::process::id())
}

fn new_trace_id() -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "Root=1-{secs:08x}-{:08x}{n:016x};Parent={n:016x};Sampled=0",
        std::process::id()
    )
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    // Owning the connection tasks here means aborting the server also closes every
    // connection, which unblocks a function parked in `next` at teardown.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = Arc::clone(&shared);
                    connections.spawn(async move {
                        let service = service_fn(move |req| {
                            let shared = Arc::clone(&shared);
                            async move { Ok::<_, Infallible>(route(&shared, req).await) }
                        });
                        // Connection errors are the function going away mid-request (killed
                        // while long-polling), which is how every run ends.
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                // accept() fails transiently (e.g. EMFILE); back off rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

enum Completion {
    Response,
    Error,
}

async fn route(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let prefix = format!("/{RUNTIME_API_VERSION}/runtime/");
    let segments: Vec<&str> = path
        .strip_prefix(prefix.as_str())
        .map(|rest| rest.split('/').collect())
        .unwrap_or_default();

    match (&method, segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next_invocation(shared).await,
        (&Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
            let kind = if *kind == "response" {
                Completion::Response
            } else {
                Completion::Error
            };
            let id = (*id).to_owned();
            complete_invocation(shared, req, &method, &path, id, kind).await
        }
        (&Method::POST, ["init", "error"]) => {
            let error_type = error_type_header(&req);
            match read_body(req).await {
                Ok(body) => {
                    report(
                        shared,
                        RuntimeReport::InitError {
                            error_type,
                            body,
                            at: Instant::now(),
                        },
                    );
                    accepted()
                }
                Err(_) => reject(shared, &method, &path, StatusCode::BAD_REQUEST),
            }
        }
        _ => reject(shared, &method, &path, StatusCode::NOT_FOUND),
    }
}

async fn next_invocation(shared: &Shared) -> Response<Full<Bytes>> {
    let polled_at = Instant::now();
    shared.first_poll.send_if_modified(|first| {
        let is_first = first.is_none();
        if is_first {
            *first = Some(polled_at);
        }
        is_first
    });

    let Some(event) = shared.queue.lock().await.recv().await else {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"errorMessage":"Runtime API shutting down","errorType":"ServiceException"}"#,
        );
    };

    // Real Lambda computes the deadline when the event is handed out, not when it is queued.
    let deadline_ms = (SystemTime::now() + shared.deadline_budget)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    lock(&shared.in_flight).insert(event.request_id.clone());
    report(
        shared,
        RuntimeReport::Delivered {
            request_id: event.request_id.clone(),
            at: Instant::now(),
        },
    );

    let response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(HDR_REQUEST_ID, &event.request_id)
        .header(HDR_DEADLINE_MS, deadline_ms.to_string())
        .header(HDR_FUNCTION_ARN, &shared.function_arn)
        .header(HDR_TRACE_ID, new_trace_id())
        .body(Full::new(event.body));
    response.unwrap_or_else(|err| {
        json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &serde_json::json!({ "errorMessage": err.to_string(), "errorType": "HarnessError" })
                .to_string(),
        )
    })
}

async fn complete_invocation(
    shared: &Shared,
    req: Request<Incoming>,
    method: &Method,
    path: &str,
    request_id: String,
    kind: Completion,
) -> Response<Full<Bytes>> {
    let error_type = error_type_header(&req);
    let Ok(body) = read_body(req).await else {
        return reject(shared, method, path, StatusCode::BAD_REQUEST);
    };
    // Like Lambda, accept exactly one completion per delivered event.
    if !lock(&shared.in_flight).remove(&request_id) {
        report(
            shared,
            RuntimeReport::Rejected {
                method: method.clone(),
                path: path.to_owned(),
                status: StatusCode::BAD_REQUEST,
            },
        );
        return json_response(
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
        );
    }
    let at = Instant::now();
    report(
        shared,
        match kind {
            Completion::Response => RuntimeReport::Response {
                request_id,
                body,
                at,
            },
            Completion::Error => RuntimeReport::InvocationError {
                request_id,
                error_type,
                body,
                at,
            },
        },
    );
    accepted()
}

fn error_type_header(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get(HDR_ERROR_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, hyper::Error> {
    Ok(req.into_body().collect().await?.to_bytes())
}

fn report(shared: &Shared, report: RuntimeReport) {
    // Sending only fails once the RuntimeApi (the receiver) is dropped, and then nobody is
    // left to care about the report.
    let _ = shared.reports.send(report);
}

fn reject(
    shared: &Shared,
    method: &Method,
    path: &str,
    status: StatusCode,
) -> Response<Full<Bytes>> {
    report(
        shared,
        RuntimeReport::Rejected {
            method: method.clone(),
            path: path.to_owned(),
            status,
        },
    );
    json_response(
        status,
        r#"{"errorMessage":"Unsupported request","errorType":"InvalidRequest"}"#,
    )
}

fn accepted() -> Response<Full<Bytes>> {
    json_response(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

fn json_response(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a single insert/remove/extend, so a poisoned lock still
    // holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Function process
// ---------------------------------------------------------------------------------------------

/// One completed invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// `Ok(response body)` or `Err(error body)`; error bodies that are not JSON are kept as
    /// `Value::String`.
    pub outcome: Result<Value, Value>,
    /// `Lambda-Runtime-Function-Error-Type` of an error completion.
    pub error_type: Option<String>,
    pub timings: InvocationTimings,
}

#[derive(Debug, Clone, Copy)]
pub struct InvocationTimings {
    pub queued_at: Instant,
    /// Queued → handed out by `next`. For the first event this includes the function's init.
    pub pickup: Duration,
    /// Handed out → response/error received: handler plus runtime overhead.
    pub handler: Duration,
    /// Queued → response/error received.
    pub total: Duration,
}

impl Invocation {
    /// The response body, or an error carrying the function's error body.
    pub fn response(&self) -> Result<&Value> {
        match &self.outcome {
            Ok(body) => Ok(body),
            Err(body) => bail!(
                "invocation {} failed ({}): {body}",
                self.request_id,
                self.error_type.as_deref().unwrap_or("no error type")
            ),
        }
    }

    /// The response decoded as an API Gateway HTTP API (v2) response.
    pub fn api_response(&self) -> Result<ApiResponse> {
        ApiResponse::from_invocation(self.response()?)
    }
}

/// Everything [`invoke_all`] observed.
#[derive(Debug, Clone)]
pub struct FunctionRun {
    pub invocations: Vec<Invocation>,
    /// Spawn → first `next` poll: the cold-start init phase.
    pub init: Duration,
    pub stdout: String,
    pub stderr: String,
    /// Requests the Runtime API refused (see [`RuntimeReport::Rejected`]), as `METHOD path -> status`.
    pub rejected_requests: Vec<String>,
}

/// Captured output and exit of a stopped function.
#[derive(Debug, Clone)]
pub struct FunctionOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_status: Option<ExitStatus>,
    /// Whether the harness killed the process (the normal end of a run) rather than it exiting.
    pub killed_by_harness: bool,
    pub rejected_requests: Vec<String>,
}

/// Why a function run was abandoned. Returned inside `anyhow::Error`; downcast to inspect.
#[derive(Debug, Clone)]
pub enum FailureKind {
    /// The process exited on its own; `request_id` is the event it was handling, if any.
    Exited { request_id: Option<String> },
    /// No completion within the timeout; `request_id` is `None` if it never finished init.
    TimedOut {
        request_id: Option<String>,
        after: Duration,
        delivered: bool,
    },
    /// The function posted to `init/error`.
    InitError {
        error_type: Option<String>,
        body: Value,
    },
    /// The function broke the Runtime API contract in a way the harness cannot recover from.
    Protocol(String),
}

#[derive(Debug, Clone)]
pub struct FunctionFailure {
    pub function: String,
    pub kind: FailureKind,
    pub exit_status: Option<ExitStatus>,
    pub killed_by_harness: bool,
    pub stdout: String,
    pub stderr: String,
    pub rejected_requests: Vec<String>,
}

impl fmt::Display for FunctionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "function `{}` ", self.function)?;
        match &self.kind {
            FailureKind::Exited {
                request_id: Some(id),
            } => write!(f, "exited while handling request {id}")?,
            FailureKind::Exited { request_id: None } => {
                write!(f, "exited before polling for an event")?;
            }
            FailureKind::TimedOut {
                request_id: Some(id),
                after,
                delivered,
            } => write!(
                f,
                "timed out after {after:?} on request {id} ({})",
                if *delivered {
                    "event was delivered but never answered"
                } else {
                    "event was never picked up"
                }
            )?,
            FailureKind::TimedOut {
                request_id: None,
                after,
                ..
            } => write!(f, "did not poll for an event within {after:?}")?,
            FailureKind::InitError { error_type, body } => write!(
                f,
                "reported an init error ({}): {body}",
                error_type.as_deref().unwrap_or("no error type")
            )?,
            FailureKind::Protocol(msg) => write!(f, "violated the Runtime API contract: {msg}")?,
        }
        match self.exit_status {
            Some(_) if self.killed_by_harness => write!(f, "; killed by the harness")?,
            Some(status) => write!(f, "; {status}")?,
            None => write!(f, "; exit status unknown")?,
        }
        if !self.rejected_requests.is_empty() {
            write!(
                f,
                "; rejected requests: {}",
                self.rejected_requests.join(", ")
            )?;
        }
        write!(
            f,
            "\n--- stderr (last {STDIO_TAIL_LINES} lines) ---\n{}",
            tail(&self.stderr, STDIO_TAIL_LINES)
        )?;
        // Lambda Rust functions usually log through tracing to stdout, so that is where the
        // explanation often is.
        if !self.stdout.trim().is_empty() {
            write!(
                f,
                "\n--- stdout (last {STDIO_TAIL_LINES} lines) ---\n{}",
                tail(&self.stdout, STDIO_TAIL_LINES)
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for FunctionFailure {}

fn tail(text: &str, lines: usize) -> &str {
    let text = text.trim_end();
    match lines
        .checked_sub(1)
        .and_then(|skip| text.rmatch_indices('\n').nth(skip))
    {
        Some((newline, _)) => &text[newline + 1..],
        None => text,
    }
}

struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Capture {
    fn start<R>(pipe: Option<R>) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let reader = pipe.map(|mut pipe| {
            let buf = Arc::clone(&buf);
            tokio::spawn(async move {
                let mut chunk = [0_u8; 8192];
                // Read errors mean the pipe is gone; what was captured so far is all there is.
                while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
                    lock(&buf).extend_from_slice(&chunk[..n]);
                }
            })
        });
        Self { buf, reader }
    }

    fn snapshot(&self) -> String {
        String::from_utf8_lossy(&lock(&self.buf)).into_owned()
    }

    async fn drain(&mut self) {
        if let Some(mut reader) = self.reader.take()
            && tokio::time::timeout(DRAIN_TIMEOUT, &mut reader)
                .await
                .is_err()
        {
            reader.abort();
        }
    }
}

enum Wake {
    Report(Option<RuntimeReport>),
    FirstPoll(Option<Instant>),
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
}

/// A function binary running against its own [`RuntimeApi`], invoked one event at a time
/// like a single Lambda execution environment. The process is killed on drop.
pub struct FunctionProcess {
    name: String,
    api: RuntimeApi,
    child: Child,
    spawned_at: Instant,
    timeout: Duration,
    stdout: Capture,
    stderr: Capture,
    exit_status: Option<ExitStatus>,
    killed_by_harness: bool,
    stopped: bool,
    rejected: Vec<String>,
}

impl FunctionProcess {
    /// Spawns `binary` with the Lambda environment plus `env` (which wins on conflicts).
    /// The function name is the binary's file name.
    pub async fn spawn(binary: &Path, env: &[(String, String)]) -> Result<Self> {
        Self::spawn_with_timeout(binary, env, DEFAULT_INVOKE_TIMEOUT).await
    }

    /// Like [`FunctionProcess::spawn`] with a custom per-event timeout (also the advertised
    /// deadline).
    pub async fn spawn_with_timeout(
        binary: &Path,
        env: &[(String, String)],
        timeout: Duration,
    ) -> Result<Self> {
        let name = binary
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} has no UTF-8 file name", binary.display()))?
            .to_owned();
        let api = RuntimeApi::start_with_deadline(&name, timeout).await?;
        let task_root = binary
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));

        let mut cmd = Command::new(binary);
        // Start from an empty environment so the developer's AWS credentials, RUST_LOG etc.
        // cannot change what the function does; tests pass what they need explicitly.
        cmd.env_clear();
        for var in PASSTHROUGH_ENV {
            if let Some(value) = std::env::var_os(var) {
                cmd.env(var, value);
            }
        }
        cmd.envs(lambda_env(&name, &api.endpoint(), task_root))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);

        let spawned_at = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning function binary {}", binary.display()))?;
        let stdout = Capture::start(child.stdout.take());
        let stderr = Capture::start(child.stderr.take());
        Ok(Self {
            name,
            api,
            child,
            spawned_at,
            timeout,
            stdout,
            stderr,
            exit_status: None,
            killed_by_harness: false,
            stopped: false,
            rejected: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The function's process id, while it runs (for reading `/proc/<pid>/status`).
    pub fn pid(&self) -> Option<u32> {
        if self.stopped { None } else { self.child.id() }
    }

    pub fn runtime_api(&self) -> &RuntimeApi {
        &self.api
    }

    /// Spawn → first `next` poll, once the function has polled.
    pub fn init(&self) -> Option<Duration> {
        self.api
            .first_poll()
            .map(|first| first.saturating_duration_since(self.spawned_at))
    }

    /// Output captured so far.
    pub fn stdout(&self) -> String {
        self.stdout.snapshot()
    }

    /// Output captured so far.
    pub fn stderr(&self) -> String {
        self.stderr.snapshot()
    }

    /// Waits until the function finishes init (first `next` poll) and returns the init time.
    pub async fn wait_ready(&mut self) -> Result<Duration> {
        self.ensure_usable()?;
        if let Some(init) = self.init() {
            return Ok(init);
        }
        let deadline = tokio::time::Instant::from_std(self.spawned_at + self.timeout);
        loop {
            let first_poll = self.api.wait_first_poll();
            let wake = tokio::select! {
                biased;
                report = self.api.next_report() => Wake::Report(report),
                first = first_poll => Wake::FirstPoll(first),
                status = self.child.wait() => Wake::Exited(status),
                () = tokio::time::sleep_until(deadline) => Wake::TimedOut,
            };
            match wake {
                Wake::FirstPoll(Some(first)) => {
                    return Ok(first.saturating_duration_since(self.spawned_at));
                }
                Wake::FirstPoll(None) | Wake::Report(None) => {
                    return Err(self
                        .fail(FailureKind::Protocol("Runtime API stopped".into()))
                        .await);
                }
                Wake::Report(Some(report)) => {
                    if let Some(kind) = self.absorb(report) {
                        return Err(self.fail(kind).await);
                    }
                }
                Wake::Exited(status) => {
                    return Err(self
                        .exited(status, FailureKind::Exited { request_id: None })
                        .await);
                }
                Wake::TimedOut => {
                    let after = self.timeout;
                    return Err(self
                        .fail(FailureKind::TimedOut {
                            request_id: None,
                            after,
                            delivered: false,
                        })
                        .await);
                }
            }
        }
    }

    /// Sends one event and waits for its response or error.
    ///
    /// Any failure (exit, timeout, init error, protocol violation) stops the process and
    /// returns a [`FunctionFailure`] carrying its stdout/stderr; the process is unusable after.
    pub async fn invoke(&mut self, event: Value) -> Result<Invocation> {
        self.ensure_usable()?;
        let request_id = self.api.enqueue(&event)?;
        let queued_at = Instant::now();
        let deadline = tokio::time::Instant::from_std(queued_at + self.timeout);
        let mut delivered_at = None;
        loop {
            let wake = tokio::select! {
                // Reports first: a function that answers and then exits must count as answered.
                biased;
                report = self.api.next_report() => Wake::Report(report),
                status = self.child.wait() => Wake::Exited(status),
                () = tokio::time::sleep_until(deadline) => Wake::TimedOut,
            };
            let report = match wake {
                Wake::Report(Some(report)) => report,
                Wake::Report(None) | Wake::FirstPoll(_) => {
                    return Err(self
                        .fail(FailureKind::Protocol("Runtime API stopped".into()))
                        .await);
                }
                Wake::Exited(status) => {
                    let kind = FailureKind::Exited {
                        request_id: Some(request_id),
                    };
                    return Err(self.exited(status, kind).await);
                }
                Wake::TimedOut => {
                    let kind = FailureKind::TimedOut {
                        request_id: Some(request_id),
                        after: self.timeout,
                        delivered: delivered_at.is_some(),
                    };
                    return Err(self.fail(kind).await);
                }
            };
            let (body, error_type, completed_at, is_error) = match report {
                RuntimeReport::Delivered { request_id: id, at } if id == request_id => {
                    delivered_at = Some(at);
                    continue;
                }
                RuntimeReport::Response {
                    request_id: id,
                    body,
                    at,
                } if id == request_id => (body, None, at, false),
                RuntimeReport::InvocationError {
                    request_id: id,
                    error_type,
                    body,
                    at,
                } if id == request_id => (body, error_type, at, true),
                other => match self.absorb(other) {
                    Some(kind) => return Err(self.fail(kind).await),
                    None => continue,
                },
            };

            let outcome = if is_error {
                Err(lenient_json(&body))
            } else {
                match serde_json::from_slice(&body) {
                    Ok(value) => Ok(value),
                    Err(err) => {
                        let msg = format!(
                            "response to {request_id} is not JSON ({err}): {}",
                            String::from_utf8_lossy(&body)
                        );
                        return Err(self.fail(FailureKind::Protocol(msg)).await);
                    }
                }
            };
            let delivered_at = delivered_at.unwrap_or(queued_at);
            return Ok(Invocation {
                request_id,
                outcome,
                error_type,
                timings: InvocationTimings {
                    queued_at,
                    pickup: delivered_at.saturating_duration_since(queued_at),
                    handler: completed_at.saturating_duration_since(delivered_at),
                    total: completed_at.saturating_duration_since(queued_at),
                },
            });
        }
    }

    /// Kills the function and returns everything it wrote.
    pub async fn shutdown(mut self) -> FunctionOutput {
        self.stop().await;
        FunctionOutput {
            stdout: self.stdout.snapshot(),
            stderr: self.stderr.snapshot(),
            exit_status: self.exit_status,
            killed_by_harness: self.killed_by_harness,
            rejected_requests: std::mem::take(&mut self.rejected),
        }
    }

    fn ensure_usable(&self) -> Result<()> {
        if self.stopped {
            bail!("function `{}` has already been stopped", self.name);
        }
        Ok(())
    }

    /// Handles a report that is not the completion being waited for. Returns the failure it
    /// implies, if any.
    fn absorb(&mut self, report: RuntimeReport) -> Option<FailureKind> {
        match report {
            RuntimeReport::Rejected {
                method,
                path,
                status,
            } => {
                self.rejected.push(format!("{method} {path} -> {status}"));
                None
            }
            RuntimeReport::InitError {
                error_type, body, ..
            } => Some(FailureKind::InitError {
                error_type,
                body: lenient_json(&body),
            }),
            other => Some(FailureKind::Protocol(format!(
                "unexpected Runtime API activity: {other:?}"
            ))),
        }
    }

    async fn exited(
        &mut self,
        status: std::io::Result<ExitStatus>,
        kind: FailureKind,
    ) -> anyhow::Error {
        match status {
            Ok(status) => {
                self.exit_status = Some(status);
                self.fail(kind).await
            }
            Err(err) => {
                let err = anyhow::Error::new(err)
                    .context(format!("waiting for function `{}` to exit", self.name));
                self.stop().await;
                err
            }
        }
    }

    async fn fail(&mut self, kind: FailureKind) -> anyhow::Error {
        self.stop().await;
        anyhow::Error::new(FunctionFailure {
            function: self.name.clone(),
            kind,
            exit_status: self.exit_status,
            killed_by_harness: self.killed_by_harness,
            stdout: self.stdout.snapshot(),
            stderr: self.stderr.snapshot(),
            rejected_requests: self.rejected.clone(),
        })
    }

    async fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if self.exit_status.is_none() {
            // try_wait distinguishes "already exited on its own" from "we killed it".
            match self.child.try_wait() {
                Ok(Some(status)) => self.exit_status = Some(status),
                _ => {
                    self.killed_by_harness = self.child.start_kill().is_ok();
                    self.exit_status = self.child.wait().await.ok();
                }
            }
        }
        self.api.shutdown();
        self.stdout.drain().await;
        self.stderr.drain().await;
    }
}

fn lambda_env(function_name: &str, runtime_api: &str, task_root: &Path) -> Vec<(String, String)> {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024".to_owned()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("harness/[$LATEST]{:08x}{n:024x}", std::process::id()),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function_name}"),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn lenient_json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Cold-starts `binary`, feeds it `events` in order (each must complete within
/// [`DEFAULT_INVOKE_TIMEOUT`]), then kills it.
///
/// Fails with a [`FunctionFailure`] (including the stderr tail) if the function exits,
/// times out, reports an init error or breaks the protocol. Error *completions* of an event
/// are not failures: they are returned as `Err` outcomes.
pub async fn invoke_all(
    binary: &Path,
    env: &[(String, String)],
    events: Vec<Value>,
) -> Result<FunctionRun> {
    let mut function = FunctionProcess::spawn(binary, env).await?;
    // Measured before the first event is queued so init is known even with no events.
    let init = function.wait_ready().await?;
    let mut invocations = Vec::with_capacity(events.len());
    for event in events {
        invocations.push(function.invoke(event).await?);
    }
    let output = function.shutdown().await;
    Ok(FunctionRun {
        invocations,
        init,
        stdout: output.stdout,
        stderr: output.stderr,
        rejected_requests: output.rejected_requests,
    })
}

// ---------------------------------------------------------------------------------------------
// API Gateway HTTP API (v2) responses
// ---------------------------------------------------------------------------------------------

/// An API Gateway HTTP API (payload v2) response as `lambda_http` serialises it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Map<String, Value>,
    /// `Set-Cookie` values, which lambda_http moves out of `headers` for v2.
    pub cookies: Vec<String>,
    /// The body parsed as JSON; `Value::String` if it is not JSON; `Value::Null` if absent.
    pub body: Value,
    /// The body bytes after base64 decoding.
    pub raw_body: Vec<u8>,
    pub is_base64_encoded: bool,
}

impl ApiResponse {
    pub fn from_invocation(response: &Value) -> Result<Self> {
        let obj = response
            .as_object()
            .with_context(|| format!("API Gateway v2 response is not an object: {response}"))?;

        let status = obj
            .get("statusCode")
            .and_then(Value::as_u64)
            .with_context(|| format!("statusCode missing or not an integer in {response}"))?;
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (100..=599).contains(s))
            .with_context(|| format!("statusCode {status} is not an HTTP status"))?;

        let headers = match obj.get("headers") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(headers)) => headers.clone(),
            Some(other) => bail!("headers is not an object: {other}"),
        };

        let cookies = match obj.get("cookies") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|c| {
                    c.as_str()
                        .map(str::to_owned)
                        .with_context(|| format!("cookie is not a string: {c}"))
                })
                .collect::<Result<_>>()?,
            Some(other) => bail!("cookies is not an array: {other}"),
        };

        let is_base64_encoded = match obj.get("isBase64Encoded") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => bail!("isBase64Encoded is not a boolean: {other}"),
        };

        let (raw_body, body) = match obj.get("body") {
            None | Some(Value::Null) => (Vec::new(), Value::Null),
            Some(Value::String(text)) => {
                let raw = if is_base64_encoded {
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .context("body is marked isBase64Encoded but is not valid base64")?
                } else {
                    text.as_bytes().to_vec()
                };
                let body = lenient_json(&raw);
                (raw, body)
            }
            Some(other) => bail!("body is not a string: {other}"),
        };

        Ok(Self {
            status,
            headers,
            cookies,
            body,
            raw_body,
            is_base64_encoded,
        })
    }

    /// Header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

/// Runs each listed `async fn case(store: Arc<…>)` twice, as `embedded::case` on the
/// embedded store and as `dynamodb_local::case` on a fresh DynamoDB Local table: the one
/// way the suites prove both stores behave alike.
#[macro_export]
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(std::sync::Arc::new(shared::store::EmbeddedStore::new())).await;
                }
            )*
        }
        mod dynamodb_local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (store, _) = $crate::dynamo::fresh_store().await.unwrap();
                    super::$case(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_response_parses_json_body_and_headers() {
        let r = ApiResponse::from_invocation(&json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json"},
            "multiValueHeaders": {},
            "body": "{\"ok\":true}",
            "isBase64Encoded": false,
            "cookies": ["a=b; HttpOnly"]
        }))
        .unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.body, json!({"ok": true}));
        assert_eq!(r.cookies, vec!["a=b; HttpOnly".to_owned()]);
    }

    #[test]
    fn api_response_decodes_base64_and_keeps_non_json_as_string() {
        let r = ApiResponse::from_invocation(&json!({
            "statusCode": 200,
            "body": "eyJhIjoxfQ==",
            "isBase64Encoded": true
        }))
        .unwrap();
        assert_eq!(r.body, json!({"a": 1}));

        let r =
            ApiResponse::from_invocation(&json!({"statusCode": 404, "body": "not found"})).unwrap();
        assert_eq!(r.body, Value::String("not found".into()));
        assert_eq!(r.raw_body, b"not found");

        let r = ApiResponse::from_invocation(&json!({"statusCode": 204, "cookies": []})).unwrap();
        assert_eq!(r.body, Value::Null);
    }

    #[test]
    fn api_response_rejects_malformed() {
        assert!(ApiResponse::from_invocation(&json!({"body": "x"})).is_err());
        assert!(ApiResponse::from_invocation(&json!({"statusCode": 70000})).is_err());
        assert!(
            ApiResponse::from_invocation(
                &json!({"statusCode": 200, "body": "%%%", "isBase64Encoded": true})
            )
            .is_err()
        );
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a\nb", 5), "a\nb");
        assert_eq!(tail("", 3), "");
    }
}
