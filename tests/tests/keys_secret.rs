//! Production signing keys come from a Secrets Manager secret, read once per cold
//! start through the real SDK (here against a loopback stand-in for the service); a
//! missing or malformed secret fails the cold start; no keys at all fails closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use integration::{invoke_all, load_event, repo_root, workspace_binary};
use serde_json::json;
use shared::auth::tokens::{KeySetDocument, TokenKeys, TokenType};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:imauth-keys-AbCdEf";

/// Answers every request with `GetSecretValue`'s response carrying `secret_string`.
async fn fake_secrets_manager(secret_string: String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            let secret_string = secret_string.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&seen[..end]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            assert!(
                                head.contains("x-amz-target: secretsmanager.getsecretvalue"),
                                "{head}"
                            );
                            break;
                        }
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let body = json!({"ARN": ARN, "Name": "imauth-keys", "VersionId": "v1",
                                  "SecretString": secret_string, "CreatedDate": 1.7e9})
                .to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), hits)
}

fn env(endpoint: &str) -> Vec<(String, String)> {
    vec![
        ("IMAUTH_STORE".into(), "embedded".into()),
        (
            "IMAUTH_SEED_FILE".into(),
            repo_root().join("events/seed.json").display().to_string(),
        ),
        ("IMAUTH_PASSWORD_POLICY".into(), "insecure-fast".into()),
        ("IMAUTH_KEYS_SECRET_ARN".into(), ARN.into()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), endpoint.into()),
        ("AWS_ACCESS_KEY_ID".into(), "local".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
    ]
}

#[tokio::test]
async fn keys_are_read_from_the_secret_once_per_cold_start() {
    let doc = KeySetDocument::generate(1).unwrap();
    let (endpoint, hits) = fake_secrets_manager(serde_json::to_string(&doc).unwrap()).await;
    let events = vec![
        load_event("events/token-id/ok.json").unwrap(),
        load_event("events/token-id/ok.json").unwrap(),
    ];
    let run = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env(&endpoint),
        events,
    )
    .await
    .unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "one read per cold start, not per request"
    );
    let keys = TokenKeys::from_document(&doc, "imauth").unwrap();
    for invocation in &run.invocations {
        let answer = invocation.api_response().unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        keys.verify(
            answer.body["data"]["token"].as_str().unwrap(),
            TokenType::Access,
        )
        .unwrap();
    }
    let logs = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !logs.contains(&doc.keys[0].ed25519_seed),
        "key material must never be logged"
    );
}

#[tokio::test]
async fn a_malformed_secret_fails_the_cold_start_with_a_clear_log_line() {
    let (endpoint, _) = fake_secrets_manager("{\"not\":\"a key set\"}".into()).await;
    let err = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env(&endpoint),
        vec![load_event("events/token-id/ok.json").unwrap()],
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("is not a key set"), "{text}");
    assert!(text.contains("configuration refused"), "{text}");
}

#[tokio::test]
async fn an_unreachable_secret_fails_the_cold_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env(&format!("http://127.0.0.1:{port}")),
        vec![load_event("events/token-id/ok.json").unwrap()],
    )
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("reading signing keys from secret"),
        "{err:#}"
    );
}

#[tokio::test]
async fn a_deployed_function_without_keys_fails_closed() {
    // DynamoDB store, no endpoint override (so not a local store), no key source:
    // refused before any network call.
    let env: Vec<(String, String)> = vec![
        ("IMAUTH_STORE".into(), "dynamodb".into()),
        ("TABLE_NAME".into(), "imauth".into()),
        ("AWS_ACCESS_KEY_ID".into(), "local".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
    ];
    let err = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env,
        vec![load_event("events/token-id/ok.json").unwrap()],
    )
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("no signing keys configured"),
        "{err:#}"
    );
}
