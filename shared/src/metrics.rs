//! Request metrics as CloudWatch Embedded Metric Format (EMF): the one log line each
//! request writes is also an EMF document, so CloudWatch Logs extracts the metrics from
//! it at no API cost and a cold start makes no extra call (docs/operations.md).
//!
//! What a request did is recorded while it runs, into a task-local slot opened by
//! [`measure`]: services record their successes ([`record`]) and the app they resolved
//! ([`record_app`]); the error mapping records failures ([`record_error`]). Code running
//! outside a measured request (operator commands, tests calling services) records
//! nothing.
//!
//! Dimensions are bounded by design: `Service` (the stack), `Route` (a fixed set) and
//! `AppId`, which is only ever an app that exists (resolved from the store), `-`
//! otherwise. Never a user, a name, a token or a request id (those would create a metric
//! per value); the request and trace ids are plain properties of the line.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::error::Error;

/// The CloudWatch namespace of every metric we emit.
pub const NAMESPACE: &str = "imauth";
/// Name of the `Service` dimension's variable (the stack name in AWS).
pub const SERVICE_ENV: &str = "IMAUTH_SERVICE";
/// `Service` when [`SERVICE_ENV`] is unset (local runs).
pub const DEFAULT_SERVICE: &str = "imauth";
/// `AppId` when the request named no existing app.
pub const NO_APP: &str = "-";

/// Things a request can end in that operators count. Each is a Count metric of that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    LoginSucceeded,
    /// Bad credentials: an unknown user or a wrong password (not locked).
    LoginFailed,
    LoginLocked,
    /// The right password of a banned user.
    LoginBanned,
    TokenRefreshed,
    /// A used refresh token was presented: its family is revoked.
    RefreshReuseDetected,
    PushRegistered,
    /// We answered 503: the store was throttled or unreachable.
    StoreUnavailable,
}

impl Outcome {
    pub const ALL: [Self; 8] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginLocked,
        Self::LoginBanned,
        Self::TokenRefreshed,
        Self::RefreshReuseDetected,
        Self::PushRegistered,
        Self::StoreUnavailable,
    ];

    pub fn metric_name(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "LoginSucceeded",
            Self::LoginFailed => "LoginFailed",
            Self::LoginLocked => "LoginLocked",
            Self::LoginBanned => "LoginBanned",
            Self::TokenRefreshed => "TokenRefreshed",
            Self::RefreshReuseDetected => "RefreshReuseDetected",
            Self::PushRegistered => "PushRegistered",
            Self::StoreUnavailable => "StoreUnavailable",
        }
    }
}

/// Milliseconds every request took (handler time), and the same for password logins
/// only (the latency alarm watches that one).
pub const LATENCY: &str = "Latency";
pub const LOGIN_LATENCY: &str = "LoginLatency";

/// Every metric name the code can emit: the deploy-consistency test checks that each
/// alarm in `template.yaml` names one of these.
pub fn metric_names() -> Vec<&'static str> {
    Outcome::ALL
        .iter()
        .map(|o| o.metric_name())
        .chain([LATENCY, LOGIN_LATENCY])
        .collect()
}

/// What one request recorded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub outcome: Option<Outcome>,
    pub app_id: Option<String>,
}

tokio::task_local! {
    static CURRENT: RefCell<Recorded>;
}

/// Runs `request` with a fresh slot to record into, and returns what it recorded.
pub async fn measure<F: Future>(request: F) -> (F::Output, Recorded) {
    CURRENT
        .scope(RefCell::new(Recorded::default()), async move {
            let output = request.await;
            let recorded = CURRENT.with(|slot| slot.take());
            (output, recorded)
        })
        .await
}

/// Records what the request ended in (the last one recorded wins).
pub fn record(outcome: Outcome) {
    let _ = CURRENT.try_with(|slot| slot.borrow_mut().outcome = Some(outcome));
}

/// Records the app the request was for; call only with an app that exists.
pub fn record_app(app_id: &str) {
    let _ = CURRENT.try_with(|slot| slot.borrow_mut().app_id = Some(app_id.to_owned()));
}

/// Records the outcome an error stands for, if operators count it.
pub fn record_error(error: &Error) {
    let outcome = match error {
        Error::BadCredentials => Outcome::LoginFailed,
        Error::Locked => Outcome::LoginLocked,
        Error::Banned => Outcome::LoginBanned,
        Error::RefreshReused => Outcome::RefreshReuseDetected,
        Error::Unavailable(_) => Outcome::StoreUnavailable,
        _ => return,
    };
    record(outcome);
}

/// The `Service` dimension: the stack name from the environment, else "imauth".
pub fn service_name() -> String {
    crate::env::var(SERVICE_ENV).unwrap_or_else(|| DEFAULT_SERVICE.to_owned())
}

/// One request's log line.
pub struct RequestLine<'a> {
    pub service: &'a str,
    pub route: &'a str,
    /// Whether the route verifies a password (adds `LoginLatency`).
    pub login_route: bool,
    /// The outcomes the route can end in (reported as 0 or 1).
    pub outcomes: &'a [Outcome],
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration: Duration,
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
    pub recorded: &'a Recorded,
}

impl RequestLine<'_> {
    /// The line as an EMF document: the request's fields plus `_aws` and one member per
    /// metric. Counters of the outcomes a route can have are present as 0 or 1, so a
    /// quiet period graphs as 0 and alarms see data; latency is in milliseconds.
    /// `timestamp_ms`: the instant of the line, from the services' [`crate::clock::Clock`].
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        let latency_ms = self.duration.as_secs_f64() * 1000.0;
        let mut metrics = vec![(LATENCY, json!(latency_ms), "Milliseconds")];
        if self.login_route {
            metrics.push((LOGIN_LATENCY, json!(latency_ms), "Milliseconds"));
        }
        for outcome in self.counted_outcomes() {
            let happened = self.recorded.outcome == Some(outcome);
            metrics.push((outcome.metric_name(), json!(u8::from(happened)), "Count"));
        }
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Service"], ["Service", "Route"], ["Service", "AppId", "Route"]],
                    "Metrics": metrics
                        .iter()
                        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
                        .collect::<Vec<_>>(),
                }],
            }),
        );
        line.insert("level".into(), json!("INFO"));
        line.insert("target".into(), json!("imauth::request"));
        line.insert("message".into(), json!("request"));
        line.insert("Service".into(), json!(self.service));
        line.insert("Route".into(), json!(self.route));
        let app = self.recorded.app_id.as_deref().unwrap_or(NO_APP);
        line.insert("AppId".into(), json!(app));
        line.insert("method".into(), json!(self.method));
        line.insert("path".into(), json!(self.path));
        line.insert("status".into(), json!(self.status));
        line.insert("duration_ms".into(), json!(latency_ms));
        line.insert("request_id".into(), json!(self.request_id));
        if let Some(trace_id) = self.trace_id {
            line.insert("trace_id".into(), json!(trace_id));
        }
        for (name, value, _) in metrics {
            line.insert(name.into(), value);
        }
        Value::Object(line)
    }

    /// The outcomes this line reports (as 0 or 1): those its route can end in, and the
    /// recorded one should it be another.
    fn counted_outcomes(&self) -> Vec<Outcome> {
        let mut outcomes = self.outcomes.to_vec();
        if let Some(recorded) = self.recorded.outcome
            && !outcomes.contains(&recorded)
        {
            outcomes.push(recorded);
        }
        outcomes
    }
}

/// Writes one request line to stderr (with the other log lines), whatever `RUST_LOG`
/// says: it carries the metrics.
pub fn write_line(line: &Value) {
    use std::io::Write as _;
    let mut text = line.to_string();
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
