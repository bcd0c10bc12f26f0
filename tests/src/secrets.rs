//! A fake AWS Secrets Manager on loopback: `CreateSecret`, `GetSecretValue`,
//! `PutSecretValue` and `DescribeSecret` over the awsJson1.1 protocol, enough for
//! `imauth keys` and the functions' key loader to run against it through
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER` (the real service is not reachable from tests).
//! Requests are not authenticated; every operation is recorded, so a test can count how
//! often the secret was read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Result;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::{ACCOUNT_ID, REGION};

#[derive(Debug, Clone)]
struct Secret {
    name: String,
    arn: String,
    /// `(version id, SecretString)`, oldest first; the last is AWSCURRENT.
    versions: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct State {
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
}

/// The fake service; stops when dropped.
#[derive(Debug)]
pub struct FakeSecretsManager {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeSecretsManager {
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
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

    /// Stores a secret as `CreateSecret` would; returns its ARN.
    pub fn insert(&self, name: &str, secret_string: &str) -> String {
        let mut state = lock(&self.state);
        let secret = new_secret(name, secret_string);
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

/// The built `imauth` binary with a hermetic AWS environment (no profile, no instance
/// metadata, fixed region and credentials) and, given a fake, Secrets Manager on it.
pub fn imauth_command(fake: Option<&FakeSecretsManager>) -> Result<tokio::process::Command> {
    let mut command = tokio::process::Command::new(crate::workspace_binary("imauth")?);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(fake) = fake {
        command.env("AWS_ENDPOINT_URL_SECRETS_MANAGER", fake.endpoint());
    }
    Ok(command)
}

impl Drop for FakeSecretsManager {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn new_secret(name: &str, text: &str) -> Secret {
    Secret {
        name: name.to_owned(),
        arn: format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}-AbCdEf"),
        versions: vec![(uuid::Uuid::new_v4().to_string(), text.to_owned())],
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
            let created = new_secret(&name, &secret);
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
            &format!("operation {other:?} is not faked"),
        ),
    }
}
