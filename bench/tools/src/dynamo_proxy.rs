//! A counting proxy in front of DynamoDB (Local): every request a function sends is
//! forwarded unchanged and counted by operation (`X-Amz-Target`), so a tool can state
//! how many requests a login costs as the functions actually make them, not as a test's
//! own SDK client would.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// The key of the connection warm-up every function makes during init
/// (`DynamoStore::warm_up`): counted apart, it is not a login's request.
const WARM_UP_KEY: &[u8] = b"\"WARMUP\"";

/// Requests seen, by operation (`GetItem`, `UpdateItem`, ...); warm-ups apart.
#[derive(Debug, Clone, Default)]
pub struct RequestCounts {
    pub by_operation: BTreeMap<String, usize>,
    pub warm_ups: usize,
    /// Requests the upstream did not answer (connection refused or reset).
    pub failed: usize,
}

impl RequestCounts {
    /// Every request but the warm-ups.
    pub fn total(&self) -> usize {
        self.by_operation.values().sum()
    }

    /// `GetItem 10, UpdateItem 12`.
    pub fn breakdown(&self) -> String {
        let parts: Vec<String> = self
            .by_operation
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        parts.join(", ")
    }
}

/// Listens on loopback, forwards to `upstream` over one upstream connection per client
/// connection, counts. Stops when dropped.
pub struct CountingDynamoProxy {
    addr: SocketAddr,
    counts: Arc<Mutex<RequestCounts>>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingDynamoProxy {
    /// `upstream`: an `http://host:port` endpoint (DynamoDB Local).
    pub async fn start(upstream: &str) -> Result<Self> {
        Self::start_with_delay(upstream, Duration::ZERO).await
    }

    /// As [`Self::start`], each request held for `delay` before it is forwarded: a
    /// regional endpoint's round trip played on loopback (DynamoDB Local answers in
    /// about a millisecond; DynamoDB over TLS in-region takes several).
    pub async fn start_with_delay(upstream: &str, delay: Duration) -> Result<Self> {
        let upstream_addr = upstream
            .strip_prefix("http://")
            .with_context(|| format!("{upstream}: the proxy forwards to plain http only"))?
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Mutex::new(RequestCounts::default()));
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (counts, upstream_addr) = (shared.clone(), upstream_addr.clone());
                tokio::spawn(async move {
                    let _ = relay(client, &upstream_addr, counts, delay).await;
                });
            }
        });
        Ok(Self { addr, counts, task })
    }

    /// The value for a function's `AWS_ENDPOINT_URL_DYNAMODB`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn counts(&self) -> RequestCounts {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for CountingDynamoProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one client connection, each request forwarded over one upstream connection.
async fn relay(
    client: TcpStream,
    upstream_addr: &str,
    counts: Arc<Mutex<RequestCounts>>,
    delay: Duration,
) -> Result<()> {
    client.set_nodelay(true)?;
    let upstream = TcpStream::connect(upstream_addr).await?;
    upstream.set_nodelay(true)?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await?;
    tokio::spawn(connection);
    let sender = Arc::new(tokio::sync::Mutex::new(sender));
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let (sender, counts) = (sender.clone(), counts.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = body.collect().await?.to_bytes();
            count(&counts, &parts.headers, &body);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let forwarded = http::Request::from_parts(parts, Full::new(body));
            let answer = sender.lock().await.send_request(forwarded).await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => {
                    lock(&counts).failed += 1;
                    return Err(e);
                }
            };
            let (parts, body) = answer.into_parts();
            let body: Bytes = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>(http::Response::from_parts(parts, Full::new(body)))
        }
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(client), service)
        .await?;
    Ok(())
}

fn count(counts: &Mutex<RequestCounts>, headers: &http::HeaderMap, body: &[u8]) {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("unknown")
        .to_owned();
    let mut counts = lock(counts);
    if body.windows(WARM_UP_KEY.len()).any(|w| w == WARM_UP_KEY) {
        counts.warm_ups += 1;
    } else {
        *counts.by_operation.entry(operation).or_default() += 1;
    }
}

fn lock(counts: &Mutex<RequestCounts>) -> std::sync::MutexGuard<'_, RequestCounts> {
    counts.lock().unwrap_or_else(PoisonError::into_inner)
}
