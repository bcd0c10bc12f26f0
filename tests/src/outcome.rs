//! What a function run produced: completed invocations, captured output, and why a run
//! was abandoned.

use std::fmt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;

use crate::ApiResponse;
use crate::capture::tail;
use crate::process::STDIO_TAIL_LINES;

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

impl FunctionRun {
    /// Every invocation's API Gateway response, in order.
    pub fn api_responses(&self) -> Result<Vec<ApiResponse>> {
        self.invocations
            .iter()
            .map(Invocation::api_response)
            .collect()
    }
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
