//! A Secrets Manager on loopback: `CreateSecret`, `GetSecretValue`, `PutSecretValue` and
//! `DescribeSecret` over the awsJson1.1 protocol the AWS SDKs speak, for everything that
//! reads or writes secrets through `AWS_ENDPOINT_URL_SECRETS_MANAGER` where the real
//! service must not be reached: the integration tests, and local runs of the functions
//! (`imauth dev secrets-manager`, `sam local`).
//!
//! It serves whatever `SecretString` documents it is given, by name or ARN; it does not
//! know what they mean. Requests are not authenticated, so it only listens on loopback.
//! Every operation is recorded, so a test can count how often a secret was read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Result, bail};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The account in the ARNs of secrets created by name.
pub const ACCOUNT_ID: &str = "123456789012";
/// The region of those ARNs unless [`SecretsManager::bind`] is given another.
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, Clone)]
struct Secret {
    name: String,
    arn: String,
    /// `(version id, SecretString)`, oldest first; the last is AWSCURRENT.
    versions: Vec<(String, String)>,
}

#[derive(Debug)]
struct State {
    region: String,
    secrets: Vec<Secret>,
    /// Operation names (`GetSecretValue`, ...) in the order they arrived.
    operations: Vec<String>,
    /// The `SecretId` of every `GetSecretValue`, in order.
    reads: Vec<String>,
}

impl State {
    fn find(&mut self, id: &str) -> Option<&mut Secret> {
        self.secrets
            .iter_mut()
            .find(|s| s.name == id || s.arn == id)
    }

    /// A secret known by `id`: a full ARN (kept as given, so a template's ARN parameter
    /// can name it) or a name (given an ARN in this service's account and region).
    fn new_secret(&self, id: &str, text: &str) -> Secret {
        let (name, arn) = match id.split_once(":secret:") {
            Some((_, name)) if id.starts_with("arn:") => (name.to_owned(), id.to_owned()),
            _ => (
                id.to_owned(),
                format!(
                    "arn:aws:secretsmanager:{}:{ACCOUNT_ID}:secret:{id}-AbCdEf",
                    self.region
                ),
            ),
        };
        Secret {
            name,
            arn,
            versions: vec![(uuid::Uuid::new_v4().to_string(), text.to_owned())],
        }
    }
}

/// The service; stops when dropped.
#[derive(Debug)]
pub struct SecretsManager {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SecretsManager {
    /// On a free loopback port, ARNs in [`DEFAULT_REGION`].
    pub async fn start() -> Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_REGION).await
    }

    /// On `addr`, which must be a loopback address: anyone who can connect reads every
    /// secret.
    pub async fn bind(addr: SocketAddr, region: &str) -> Result<Self> {
        if !addr.ip().is_loopback() {
            bail!("the local Secrets Manager listens on loopback only, not on {addr}");
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            region: region.to_owned(),
            secrets: Vec::new(),
            operations: Vec::new(),
            reads: Vec::new(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(&state, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The value for `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stores a secret as `CreateSecret` would, under a name or a full ARN; returns its
    /// ARN.
    pub fn insert(&self, id: &str, secret_string: &str) -> String {
        let mut state = lock(&self.state);
        let secret = state.new_secret(id, secret_string);
        let arn = secret.arn.clone();
        state.secrets.push(secret);
        arn
    }

    /// Stores a new current version of a secret, as `PutSecretValue` would (`imauth keys
    /// rotate` writes one).
    pub fn put(&self, id: &str, secret_string: &str) {
        let mut state = lock(&self.state);
        if let Some(secret) = state.find(id) {
            secret
                .versions
                .push((uuid::Uuid::new_v4().to_string(), secret_string.to_owned()));
        }
    }

    /// The current SecretString of a secret, by name or ARN.
    pub fn current(&self, id: &str) -> Option<String> {
        lock(&self.state)
            .find(id)
            .and_then(|s| s.versions.last().map(|(_, text)| text.clone()))
    }

    /// How many versions a secret has had.
    pub fn version_count(&self, id: &str) -> usize {
        lock(&self.state).find(id).map_or(0, |s| s.versions.len())
    }

    /// The operations received so far, in order.
    pub fn operations(&self) -> Vec<String> {
        lock(&self.state).operations.clone()
    }

    /// The secret ids `GetSecretValue` asked for so far (found or not), in order.
    pub fn reads(&self) -> Vec<String> {
        lock(&self.state).reads.clone()
    }
}

impl Drop for SecretsManager {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Some(kind) = body["__type"].as_str()
        && let Ok(value) = http::HeaderValue::from_str(kind)
    {
        response.headers_mut().insert("x-amzn-errortype", value);
    }
    response
}

fn error(kind: &str, message: &str) -> Response<Full<Bytes>> {
    answer(
        StatusCode::BAD_REQUEST,
        &json!({"__type": kind, "message": message}),
    )
}

async fn handle(state: &Mutex<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let operation = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("secretsmanager."))
        .unwrap_or_default()
        .to_owned();
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return error("InvalidRequestException", "unreadable body"),
    };
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut state = lock(state);
    state.operations.push(operation.clone());
    let text = |field: &str| input[field].as_str().map(str::to_owned);
    if operation == "GetSecretValue" {
        state.reads.push(text("SecretId").unwrap_or_default());
    }
    match operation.as_str() {
        "CreateSecret" => {
            let (Some(name), Some(secret)) = (text("Name"), text("SecretString")) else {
                return error(
                    "InvalidParameterException",
                    "Name and SecretString are required",
                );
            };
            if state.find(&name).is_some() {
                return error(
                    "ResourceExistsException",
                    &format!("The operation failed because the secret {name} already exists."),
                );
            }
            let created = state.new_secret(&name, &secret);
            let body = json!({"ARN": created.arn, "Name": created.name, "VersionId": created.versions[0].0});
            state.secrets.push(created);
            answer(StatusCode::OK, &body)
        }
        "GetSecretValue" | "PutSecretValue" | "DescribeSecret" => {
            let Some(id) = text("SecretId") else {
                return error("InvalidParameterException", "SecretId is required");
            };
            let Some(secret) = state.find(&id) else {
                return error(
                    "ResourceNotFoundException",
                    "Secrets Manager can't find the specified secret.",
                );
            };
            if operation == "PutSecretValue" {
                let Some(value) = text("SecretString") else {
                    return error("InvalidParameterException", "SecretString is required");
                };
                let version =
                    text("ClientRequestToken").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                secret.versions.push((version, value));
            }
            let (version, value) = secret.versions.last().cloned().unwrap_or_default();
            let mut body = json!({
                "ARN": secret.arn,
                "Name": secret.name,
                "VersionId": version,
                "VersionStages": ["AWSCURRENT"],
            });
            if operation == "GetSecretValue" {
                body["SecretString"] = json!(value);
                body["CreatedDate"] = json!(1_795_352_400.0);
            }
            answer(StatusCode::OK, &body)
        }
        other => error(
            "InvalidRequestException",
            &format!("operation {other:?} is not emulated"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_to_listen_beyond_loopback() {
        let everywhere = SocketAddr::from(([0, 0, 0, 0], 0));
        let error = SecretsManager::bind(everywhere, DEFAULT_REGION)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("loopback only"), "{error}");
        assert!(
            SecretsManager::bind(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_REGION)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_secret_named_by_arn_keeps_that_arn_and_is_found_by_its_name_too() {
        let service = SecretsManager::start().await.unwrap();
        let given = "arn:aws:secretsmanager:eu-west-1:210987654321:secret:imauth/local-keys-Zz9Zz9";
        assert_eq!(service.insert(given, "one"), given);
        assert_eq!(service.current(given).as_deref(), Some("one"));
        assert_eq!(
            service.current("imauth/local-keys-Zz9Zz9").as_deref(),
            Some("one")
        );

        let by_name = service.insert("other", "two");
        assert_eq!(
            by_name,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf"
        );
        assert_eq!(service.current(&by_name).as_deref(), Some("two"));
    }
}
