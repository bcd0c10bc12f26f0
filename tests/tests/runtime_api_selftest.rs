//! Proves the harness itself, independently of imauth's functions: shell-script "functions"
//! speak the Runtime API with curl, and a raw HTTP client checks the server's contract.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use integration::{
    ApiResponse, FailureKind, FunctionFailure, FunctionProcess, RuntimeApi, RuntimeReport,
    invoke_all, load_event, workspace_binary,
};
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// Custom runtime that echoes each event together with the metadata it was invoked with.
const ECHO: &str = r#"#!/bin/sh
set -eu
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "echo-fn init: name=${AWS_LAMBDA_FUNCTION_NAME} version=${AWS_LAMBDA_FUNCTION_VERSION} memory=${AWS_LAMBDA_FUNCTION_MEMORY_SIZE} region=${AWS_REGION} handler=${_HANDLER}" >&2
echo "probe status $(curl -s -o /dev/null -w '%{http_code}' "http://${AWS_LAMBDA_RUNTIME_API}/does/not/exist")" >&2
# Simulated cold start so the measured init time has a known lower bound.
sleep 0.3
# Beside this script, in the test's scratch directory: the harness kills the runtime
# (no EXIT trap then), and a file in /tmp would be left behind on every run.
headers="$(dirname "$0")/headers.$$"
trap 'rm -f "$headers"' EXIT
header() { grep -i "^$1:" "$headers" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }
while :; do
  event="$(curl -sS --fail -D "$headers" "$api/invocation/next")"
  id="$(header lambda-runtime-aws-request-id)"
  deadline="$(header lambda-runtime-deadline-ms)"
  arn="$(header lambda-runtime-invoked-function-arn)"
  trace="$(header lambda-runtime-trace-id)"
  echo "handling $id"
  case "$event" in
    *'"fail":true'*)
      curl -sS --fail -o /dev/null -H 'Lambda-Runtime-Function-Error-Type: Echo.Failed' \
        --data-binary '{"errorType":"Echo.Failed","errorMessage":"asked to fail"}' \
        "$api/invocation/$id/error" ;;
    *)
      curl -sS --fail -o /dev/null --data-binary \
        "{\"event\":$event,\"requestId\":\"$id\",\"deadlineMs\":$deadline,\"arn\":\"$arn\",\"trace\":\"$trace\",\"name\":\"$AWS_LAMBDA_FUNCTION_NAME\",\"taskRoot\":\"$LAMBDA_TASK_ROOT\",\"custom\":\"${ECHO_CUSTOM:-unset}\",\"home\":\"${HOME:-unset}\"}" \
        "$api/invocation/$id/response" ;;
  esac
done
"#;

const CRASH_AT_INIT: &str = r#"#!/bin/sh
echo "fatal: SIGNING_KEY is not set" >&2
exit 3
"#;

const CRASH_IN_HANDLER: &str = r#"#!/bin/sh
curl -sS --fail -o /dev/null "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next"
echo "thread 'main' panicked while handling the event" >&2
exit 4
"#;

const HANG: &str = r#"#!/bin/sh
curl -sS --fail -o /dev/null "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next"
echo "stuck handling the event" >&2
exec sleep 60
"#;

const INIT_ERROR: &str = r#"#!/bin/sh
curl -sS --fail -o /dev/null -H 'Lambda-Runtime-Function-Error-Type: Runtime.ConfigError' \
  --data-binary '{"errorType":"Runtime.ConfigError","errorMessage":"bad config"}' \
  "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error"
echo "init failed, exiting" >&2
exit 1
"#;

const SCRIPTS: &[(&str, &str)] = &[
    ("echo.sh", ECHO),
    ("crash-at-init.sh", CRASH_AT_INIT),
    ("crash-in-handler.sh", CRASH_IN_HANDLER),
    ("hang.sh", HANG),
    ("init-error.sh", INIT_ERROR),
];

/// Writes every script once, before any test spawns a process: exec'ing a file while another
/// thread's fork still holds a write descriptor to it fails with ETXTBSY.
fn script(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("runtime-api-selftest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in SCRIPTS {
            let path = dir.join(file);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    });
    dir.join(name)
}

fn failure(err: &anyhow::Error) -> &FunctionFailure {
    err.downcast_ref::<FunctionFailure>()
        .unwrap_or_else(|| panic!("expected a FunctionFailure, got: {err:#}"))
}

fn epoch_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test]
async fn invoke_all_round_trips_events_through_a_custom_runtime() {
    assert!(
        std::env::var_os("HOME").is_some(),
        "precondition: HOME must be set in the test environment to check it is not leaked"
    );
    let binary = script("echo.sh");
    let events = vec![
        json!({"n": 1, "msg": "hello"}),
        json!({"n": 2, "fail": true}),
        json!({"n": 3, "nested": {"a": [1, 2, null]}}),
    ];
    let env = [("ECHO_CUSTOM".to_owned(), "from-test".to_owned())];

    let before = epoch_ms();
    let run = invoke_all(&binary, &env, events.clone())
        .await
        .unwrap_or_else(|err| panic!("{err:#}"));
    let after = epoch_ms();

    assert_eq!(run.invocations.len(), 3);
    let ids: Vec<&str> = run
        .invocations
        .iter()
        .map(|i| i.request_id.as_str())
        .collect();
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );

    for (index, invocation) in [(0, &run.invocations[0]), (2, &run.invocations[2])] {
        let echoed = invocation.response().unwrap();
        assert_eq!(echoed["event"], events[index], "events answered in order");
        assert_eq!(echoed["requestId"], invocation.request_id.as_str());
        assert_eq!(echoed["name"], "echo.sh");
        assert_eq!(
            echoed["arn"],
            "arn:aws:lambda:us-east-1:123456789012:function:echo.sh"
        );
        assert!(
            echoed["trace"].as_str().unwrap().starts_with("Root=1-"),
            "{echoed}"
        );
        let deadline = echoed["deadlineMs"].as_u64().unwrap();
        assert!(
            deadline >= before + 29_000 && deadline <= after + 30_000,
            "deadline {deadline} not ~30 s after {before}..{after}"
        );
        assert_eq!(
            echoed["taskRoot"],
            binary.parent().unwrap().to_str().unwrap()
        );
        assert_eq!(echoed["custom"], "from-test", "caller env is passed");
        assert_eq!(echoed["home"], "unset", "host env is not leaked");
        assert!(invocation.timings.total >= invocation.timings.handler);
        assert!(invocation.timings.total >= invocation.timings.pickup);
    }

    let failed = &run.invocations[1];
    assert_eq!(
        failed.outcome,
        Err(json!({"errorType": "Echo.Failed", "errorMessage": "asked to fail"}))
    );
    assert_eq!(failed.error_type.as_deref(), Some("Echo.Failed"));
    assert!(failed.response().is_err());

    assert!(
        run.init >= Duration::from_millis(300) && run.init < Duration::from_secs(30),
        "init {:?} should cover the script's 0.3 s start-up",
        run.init
    );

    for id in &ids {
        assert!(
            run.stdout.contains(&format!("handling {id}")),
            "stdout: {}",
            run.stdout
        );
    }
    assert!(
        run.stderr.contains(
            "echo-fn init: name=echo.sh version=$LATEST memory=1024 region=us-east-1 handler=bootstrap"
        ),
        "stderr: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("probe status 404"),
        "stderr: {}",
        run.stderr
    );
    assert_eq!(
        run.rejected_requests,
        vec!["GET /does/not/exist -> 404 Not Found".to_owned()]
    );
}

#[tokio::test]
async fn process_exiting_at_init_is_an_error_with_its_stderr() {
    let err = invoke_all(&script("crash-at-init.sh"), &[], vec![json!({"n": 1})])
        .await
        .expect_err("a function that exits must not succeed");

    let message = format!("{err:#}");
    assert!(
        message.contains("fatal: SIGNING_KEY is not set"),
        "{message}"
    );
    assert!(message.contains("exited before polling"), "{message}");
    let failure = failure(&err);
    assert!(matches!(
        failure.kind,
        FailureKind::Exited { request_id: None }
    ));
    assert_eq!(failure.exit_status.and_then(|s| s.code()), Some(3));
    assert!(!failure.killed_by_harness);
}

#[tokio::test]
async fn process_exiting_mid_invocation_is_an_error_naming_the_request() {
    let mut function = FunctionProcess::spawn(&script("crash-in-handler.sh"), &[])
        .await
        .unwrap();
    let err = function
        .invoke(json!({"n": 1}))
        .await
        .expect_err("a function that exits must not succeed");

    let failure = failure(&err);
    let FailureKind::Exited {
        request_id: Some(id),
    } = &failure.kind
    else {
        panic!("unexpected failure: {err:#}");
    };
    assert!(format!("{err:#}").contains(&format!("exited while handling request {id}")));
    assert!(failure.stderr.contains("panicked while handling the event"));
    assert_eq!(failure.exit_status.and_then(|s| s.code()), Some(4));

    let again = function.invoke(json!({})).await.unwrap_err();
    assert!(
        format!("{again:#}").contains("already been stopped"),
        "{again:#}"
    );
}

#[tokio::test]
async fn unanswered_event_times_out_and_the_process_is_killed() {
    let mut function =
        FunctionProcess::spawn_with_timeout(&script("hang.sh"), &[], Duration::from_secs(1))
            .await
            .unwrap();
    let started = Instant::now();
    let err = function
        .invoke(json!({"n": 1}))
        .await
        .expect_err("an unanswered event must not succeed");
    let elapsed = started.elapsed();

    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    let failure = failure(&err);
    assert!(
        matches!(
            failure.kind,
            FailureKind::TimedOut {
                request_id: Some(_),
                delivered: true,
                ..
            }
        ),
        "{err:#}"
    );
    assert!(failure.killed_by_harness);
    assert!(
        format!("{err:#}").contains("stuck handling the event"),
        "{err:#}"
    );
}

#[tokio::test]
async fn init_error_is_reported_with_its_body() {
    let err = invoke_all(&script("init-error.sh"), &[], vec![json!({})])
        .await
        .expect_err("an init error must not succeed");
    let failure = failure(&err);
    let FailureKind::InitError { error_type, body } = &failure.kind else {
        panic!("unexpected failure: {err:#}");
    };
    assert_eq!(error_type.as_deref(), Some("Runtime.ConfigError"));
    assert_eq!(body["errorMessage"], "bad config");
    assert!(
        format!("{err:#}").contains("Runtime.ConfigError"),
        "{err:#}"
    );
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

fn hdr<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn runtime_api_serves_the_2018_06_01_contract() {
    let mut api = RuntimeApi::start("contract-fn").await.unwrap();
    let addr = api.addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(api.first_poll(), None);

    let poll = tokio::spawn(send(
        addr,
        Method::GET,
        "/2018-06-01/runtime/invocation/next",
        &[],
        "",
    ));
    tokio::time::timeout(Duration::from_secs(5), api.wait_first_poll())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !poll.is_finished(),
        "`next` must block while no event is queued"
    );

    let event = json!({"hello": "world", "n": [1, 2, 3]});
    let before = epoch_ms();
    let id = api.enqueue(&event).unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&next.body).unwrap(), event);
    assert_eq!(hdr(&next, "Lambda-Runtime-Aws-Request-Id"), id);
    assert_eq!(
        hdr(&next, "Lambda-Runtime-Invoked-Function-Arn"),
        "arn:aws:lambda:us-east-1:123456789012:function:contract-fn"
    );
    assert!(hdr(&next, "Lambda-Runtime-Trace-Id").starts_with("Root=1-"));
    let deadline: u64 = hdr(&next, "Lambda-Runtime-Deadline-Ms").parse().unwrap();
    assert!(
        deadline >= before + 30_000 && deadline <= epoch_ms() + 30_000,
        "{deadline}"
    );
    assert!(matches!(
        api.next_report().await,
        Some(RuntimeReport::Delivered { request_id, .. }) if request_id == id
    ));

    let response_path = format!("/2018-06-01/runtime/invocation/{id}/response");
    let ok = send(addr, Method::POST, &response_path, &[], r#"{"ok":1}"#).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED);
    match api.next_report().await {
        Some(RuntimeReport::Response {
            request_id, body, ..
        }) => {
            assert_eq!(request_id, id);
            assert_eq!(&body[..], br#"{"ok":1}"#);
        }
        other => panic!("unexpected report {other:?}"),
    }

    // One completion per event, and only for events that were handed out.
    let duplicate = send(addr, Method::POST, &response_path, &[], "{}").await;
    assert_eq!(duplicate.status, StatusCode::BAD_REQUEST);
    let unknown = send(
        addr,
        Method::POST,
        "/2018-06-01/runtime/invocation/not-a-request/error",
        &[],
        "{}",
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    for expected in [
        &response_path[..],
        "/2018-06-01/runtime/invocation/not-a-request/error",
    ] {
        assert!(matches!(
            api.next_report().await,
            Some(RuntimeReport::Rejected { path, status: StatusCode::BAD_REQUEST, .. }) if path == expected
        ));
    }

    for (method, path) in [
        (Method::GET, response_path.as_str()),
        (Method::GET, "/2018-06-01/runtime/init/error"),
        (Method::POST, "/2018-06-01/runtime/invocation/next"),
        (Method::GET, "/2020-01-01/extension/register"),
        (Method::GET, "/"),
    ] {
        let reply = send(addr, method.clone(), path, &[], "").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert!(matches!(
            api.next_report().await,
            Some(RuntimeReport::Rejected { path: p, status: StatusCode::NOT_FOUND, .. }) if p == path
        ));
    }

    let init = send(
        addr,
        Method::POST,
        "/2018-06-01/runtime/init/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.Boom")],
        r#"{"errorMessage":"boom"}"#,
    )
    .await;
    assert_eq!(init.status, StatusCode::ACCEPTED);
    match api.next_report().await {
        Some(RuntimeReport::InitError {
            error_type, body, ..
        }) => {
            assert_eq!(error_type.as_deref(), Some("Runtime.Boom"));
            assert_eq!(&body[..], br#"{"errorMessage":"boom"}"#);
        }
        other => panic!("unexpected report {other:?}"),
    }
}

#[test]
fn api_response_from_a_lambda_http_style_invocation() {
    let response = ApiResponse::from_invocation(&json!({
        "statusCode": 401,
        "headers": {"content-type": "application/json", "www-authenticate": "Bearer"},
        "multiValueHeaders": {},
        "body": "eyJlcnJvciI6ImludmFsaWRfdG9rZW4ifQ==",
        "isBase64Encoded": true,
        "cookies": []
    }))
    .unwrap();
    assert_eq!(response.status, 401);
    assert_eq!(response.header("WWW-Authenticate"), Some("Bearer"));
    assert_eq!(response.body, json!({"error": "invalid_token"}));
}

#[test]
fn missing_binary_and_event_errors_are_actionable() {
    let err = workspace_binary("no-such-function")
        .unwrap_err()
        .to_string();
    assert!(err.contains("binary no-such-function not built"), "{err}");
    assert!(err.contains("looked for"), "{err}");
    assert!(err.contains("cargo build"), "{err}");

    let err = load_event("events/definitely-missing.json").unwrap_err();
    assert!(
        format!("{err:#}").contains("definitely-missing.json"),
        "{err:#}"
    );

    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("selftest-event-{}.json", std::process::id()));
    std::fs::write(&path, r#"{"rawPath": "/token"}"#).unwrap();
    // An absolute path replaces the repo root, which keeps this independent of target/'s location.
    assert_eq!(
        load_event(path.to_str().unwrap()).unwrap(),
        json!({"rawPath": "/token"})
    );
}
