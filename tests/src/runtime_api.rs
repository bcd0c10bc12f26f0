//! A Lambda Runtime API (2018-06-01) on loopback: queues events for a function process and
//! reports back everything it did, in order.

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Runtime API version the harness serves; it is the only one AWS has published.
pub const RUNTIME_API_VERSION: &str = "2018-06-01";
/// Per-event budget, also advertised to the function as its deadline.
pub const DEFAULT_INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
pub const REGION: &str = "us-east-1";
pub const ACCOUNT_ID: &str = "123456789012";

const HDR_REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const HDR_DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
const HDR_FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
const HDR_TRACE_ID: &str = "lambda-runtime-trace-id";
const HDR_ERROR_TYPE: &str = "lambda-runtime-function-error-type";

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

pub(crate) static NEXT_ID: AtomicU64 = AtomicU64::new(1);

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

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a single insert/remove/extend, so a poisoned lock still
    // holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
