//! A function binary run as one Lambda execution environment against its own Runtime API.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::api_response::lenient_json;
use crate::capture::Capture;
use crate::runtime_api::NEXT_ID;
use crate::{
    DEFAULT_INVOKE_TIMEOUT, FailureKind, FunctionFailure, FunctionOutput, FunctionRun, Invocation,
    InvocationTimings, REGION, RuntimeApi, RuntimeReport,
};

pub(crate) const STDIO_TAIL_LINES: usize = 40;
/// Grandchildren that inherited the stdio pipes can keep them open after the function is
/// killed; past this we stop waiting for EOF and report what was captured.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Host variables worth keeping in the otherwise hermetic function environment: PATH so
/// scripts resolve their tools, the rest so coverage and backtraces of the child still work.
const PASSTHROUGH_ENV: &[&str] = &[
    "PATH",
    "LLVM_PROFILE_FILE",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
];

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
