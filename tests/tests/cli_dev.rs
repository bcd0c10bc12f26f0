//! `imauth dev secrets-manager`, run as the built binary: a function started with
//! `IMAUTH_KEYS_SECRET_ARN` and `AWS_ENDPOINT_URL_SECRETS_MANAGER` pointing at it signs
//! with the key set of the file it was given (the path `sam local` runs use,
//! docs/sam-local.md); it serves on loopback only and refuses a file it cannot read.

use std::process::Stdio;
use std::time::Duration;

use integration::{invoke_all, load_event, repo_root, workspace_binary};
use serde_json::Value;
use shared::auth::tokens::{KeySetDocument, TokenKeys, TokenType};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:imauth/local-keys-AbCdEf";

fn dev_secrets_manager(args: &[&str]) -> Child {
    Command::new(workspace_binary("imauth").unwrap())
        .args(["dev", "secrets-manager"])
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "imauth-cli-dev-{}-{}-{name}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn a_function_signs_with_the_key_file_served_under_the_template_arn() {
    let doc = KeySetDocument::generate(1).unwrap();
    let file = temp_file("keys.json", &serde_json::to_string(&doc).unwrap());
    let mut service = dev_secrets_manager(&["--secret", &format!("{ARN}={}", file.display())]);
    let mut first_line = String::new();
    let stdout = service.stdout.take().unwrap();
    tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).read_line(&mut first_line),
    )
    .await
    .expect("imauth dev secrets-manager printed nothing")
    .unwrap();
    let started: Value = serde_json::from_str(&first_line).unwrap();
    assert_eq!(started["secrets"][0]["arn"], ARN, "{started}");
    let endpoint = started["endpoint"].as_str().unwrap();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let env: Vec<(String, String)> = [
        ("IMAUTH_STORE", "embedded".to_owned()),
        (
            "IMAUTH_SEED_FILE",
            repo_root().join("events/seed.json").display().to_string(),
        ),
        ("IMAUTH_PASSWORD_POLICY", "insecure-fast".to_owned()),
        ("IMAUTH_KEYS_SECRET_ARN", ARN.to_owned()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let run = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env,
        vec![load_event("events/token-id/ok.json").unwrap()],
    )
    .await
    .unwrap();
    let answer = run.invocations[0].api_response().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Signed with the file's key: keys generated anywhere else would not verify.
    TokenKeys::from_document(&doc, "imauth")
        .unwrap()
        .verify(
            answer.body["data"]["token"].as_str().unwrap(),
            TokenType::Access,
        )
        .unwrap();

    // Another ARN is not served: the function refuses to start.
    let wrong = format!("{ARN}-other");
    let env: Vec<_> = env
        .into_iter()
        .map(|(name, value)| match name.as_str() {
            "IMAUTH_KEYS_SECRET_ARN" => (name, wrong.clone()),
            _ => (name, value),
        })
        .collect();
    let refused = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env,
        vec![load_event("events/token-id/ok.json").unwrap()],
    )
    .await
    .unwrap_err();
    let text = format!("{refused:#}");
    assert!(text.contains("configuration refused"), "{text}");
    assert!(text.contains("ResourceNotFoundException"), "{text}");
    let _ = std::fs::remove_file(file);
}

async fn exit_of(mut service: Child) -> (i32, String) {
    let status = tokio::time::timeout(Duration::from_secs(30), service.wait())
        .await
        .expect("imauth dev secrets-manager kept running")
        .unwrap();
    let mut stderr = String::new();
    let mut reader = BufReader::new(service.stderr.take().unwrap());
    while reader.read_line(&mut stderr).await.unwrap() > 0 {}
    (status.code().unwrap_or(-1), stderr)
}

#[tokio::test]
async fn it_listens_on_loopback_only() {
    let file = temp_file("secret.txt", "anything");
    let service = dev_secrets_manager(&[
        "--listen",
        "0.0.0.0:0",
        "--secret",
        &format!("name={}", file.display()),
    ]);
    let (code, stderr) = exit_of(service).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("loopback only"), "{stderr}");
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn an_unreadable_secret_file_stops_it_before_it_serves() {
    let service = dev_secrets_manager(&["--secret", "name=/nonexistent/imauth-keys.json"]);
    let (code, stderr) = exit_of(service).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("/nonexistent/imauth-keys.json"), "{stderr}");
}
