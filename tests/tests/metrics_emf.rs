//! Every request's log line is a CloudWatch EMF document (shared/src/metrics.rs): a login
//! of each outcome through the token-id binary, as Lambda runs it, emits exactly one
//! valid document with the metric it stands for at 1 and the others at 0, bounded
//! dimensions, and nothing about the user.

use integration::fixtures::{TempDir, write_key_file};
use integration::{emf, invoke_all, load_event, repo_root, workspace_binary};
use serde_json::Value;

const LOGIN_OUTCOMES: [&str; 4] = [
    "LoginSucceeded",
    "LoginFailed",
    "LoginLocked",
    "LoginBanned",
];

fn env(keys: &std::path::Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("IMAUTH_STORE", "embedded".to_owned()),
        (
            "IMAUTH_SEED_FILE",
            repo_root().join("events/seed.json").display().to_string(),
        ),
        ("IMAUTH_KEYS_FILE", keys.display().to_string()),
        ("IMAUTH_PASSWORD_POLICY", "insecure-fast".to_owned()),
        ("IMAUTH_SERVICE", "imauth-test".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    env
}

/// The EMF documents among a function's log lines, in order.
fn emf_documents(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|doc| doc.get("_aws").is_some())
        .collect()
}

fn metric_units(doc: &Value) -> Vec<(String, String)> {
    doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Name"].as_str().unwrap().to_owned(),
                m["Unit"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Checks one document: valid EMF, our namespace and dimensions, the login outcome
/// counters with exactly `outcome` at 1, latency in milliseconds, and no user data.
fn check(doc: &Value, outcome: &str, app: &str) {
    assert_eq!(emf::violations(doc), Vec::<String>::new(), "{doc}");
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "imauth");
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([
            ["Service"],
            ["Service", "Route"],
            ["Service", "AppId", "Route"]
        ])
    );
    assert_eq!(
        (&doc["Service"], &doc["Route"], &doc["AppId"]),
        (&"imauth-test".into(), &"TokenId".into(), &app.into())
    );
    let units = metric_units(doc);
    for name in LOGIN_OUTCOMES.iter().chain(&["StoreUnavailable"]) {
        assert!(
            units.contains(&((*name).to_owned(), "Count".to_owned())),
            "{name} in {units:?}"
        );
        let expected = u64::from(*name == outcome);
        assert_eq!(
            doc[*name].as_u64(),
            Some(expected),
            "{name} for a {outcome} line: {doc}"
        );
    }
    for latency in ["Latency", "LoginLatency"] {
        assert!(units.contains(&(latency.to_owned(), "Milliseconds".to_owned())));
        assert!(doc[latency].as_f64().is_some_and(|ms| ms >= 0.0));
    }
    // Nothing that names or authenticates a user, anywhere in the line.
    let text = doc.to_string();
    for private in [
        "10001", "10002", "alice", "bob", "password", "eyJ", "device",
    ] {
        assert!(!text.contains(private), "{private:?} in {text}");
    }
}

#[tokio::test]
async fn each_login_outcome_emits_one_emf_document_through_the_function_binary() {
    let dir = TempDir::new("emf").unwrap();
    let keys = write_key_file(&dir.0).unwrap();
    let mut events = vec![load_event("events/token-id/ok.json").unwrap()];
    // Seven failures: locked for 4 s, ample for the next request even on a busy machine.
    for _ in 0..7 {
        events.push(load_event("events/token-id/wrong-password.json").unwrap());
    }
    events.push(load_event("events/token-id/ok.json").unwrap()); // the right password, locked
    events.push(load_event("events/token-id/banned.json").unwrap());
    let run = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env(&keys, &[]),
        events,
    )
    .await
    .unwrap();
    let statuses: Vec<u16> = run
        .invocations
        .iter()
        .map(|i| i.api_response().unwrap().status)
        .collect();
    assert_eq!(statuses, [200, 401, 401, 401, 401, 401, 401, 401, 401, 403]);
    let docs = emf_documents(&run.stderr);
    assert_eq!(docs.len(), 10, "one document per request:\n{}", run.stderr);
    check(&docs[0], "LoginSucceeded", "demo");
    for doc in &docs[1..8] {
        check(doc, "LoginFailed", "demo");
    }
    check(&docs[8], "LoginLocked", "demo");
    check(&docs[9], "LoginBanned", "demo");
    // The Lambda request id, as in the answer's x-request-id: logs and answers correlate.
    let answer = run.invocations[0].api_response().unwrap();
    assert_eq!(docs[0]["request_id"], answer.headers["x-request-id"]);
    assert!(!docs[0]["request_id"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn a_store_that_cannot_be_reached_is_counted_as_store_unavailable() {
    let dir = TempDir::new("emf-503").unwrap();
    let keys = write_key_file(&dir.0).unwrap();
    // Nothing listens on port 9 of loopback: every DynamoDB call fails fast.
    let env = env(
        &keys,
        &[
            ("IMAUTH_STORE", "dynamodb"),
            ("TABLE_NAME", "imauth-nowhere"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
        ],
    );
    let events = vec![load_event("events/token-id/ok.json").unwrap()];
    let run = invoke_all(&workspace_binary("token-id").unwrap(), &env, events)
        .await
        .unwrap();
    assert_eq!(run.invocations[0].api_response().unwrap().status, 503);
    let docs = emf_documents(&run.stderr);
    assert_eq!(docs.len(), 1, "{}", run.stderr);
    // The app could not be read, so no app is named: `-`, never the header's value.
    check(&docs[0], "StoreUnavailable", "-");
    // Other lines of the request carry its request id too (the runtime's span).
    let warning = run
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "store unavailable")
        .unwrap_or_else(|| panic!("no store-unavailable warning in\n{}", run.stderr));
    assert_eq!(
        warning["span"]["requestId"], docs[0]["request_id"],
        "{warning}"
    );
}
