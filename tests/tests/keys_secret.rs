//! Production signing keys come from a Secrets Manager secret, read once per cold
//! start through the real SDK (here against a loopback stand-in for the service); a
//! missing or malformed secret fails the cold start; no keys at all fails closed.

use integration::secrets::FakeSecretsManager;
use integration::{
    ApiResponse, FunctionProcess, invoke_all, load_event, repo_root, workspace_binary,
};
use shared::auth::tokens::{KeySetDocument, TokenKeys, TokenType};

/// A loopback Secrets Manager holding one secret; returns it and the secret's ARN.
async fn fake_secrets_manager(secret_string: String) -> (FakeSecretsManager, String) {
    let fake = FakeSecretsManager::start().await.unwrap();
    let arn = fake.insert("imauth-keys", &secret_string);
    (fake, arn)
}

fn env(endpoint: &str, arn: &str) -> Vec<(String, String)> {
    vec![
        ("IMAUTH_STORE".into(), "embedded".into()),
        (
            "IMAUTH_SEED_FILE".into(),
            repo_root().join("events/seed.json").display().to_string(),
        ),
        ("IMAUTH_PASSWORD_POLICY".into(), "insecure-fast".into()),
        ("IMAUTH_KEYS_SECRET_ARN".into(), arn.into()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), endpoint.into()),
        ("AWS_ACCESS_KEY_ID".into(), "local".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
    ]
}

#[tokio::test]
async fn keys_are_read_from_the_secret_once_per_cold_start() {
    let doc = KeySetDocument::generate(1).unwrap();
    let (fake, arn) = fake_secrets_manager(serde_json::to_string(&doc).unwrap()).await;
    let events = vec![
        load_event("events/token-id/ok.json").unwrap(),
        load_event("events/token-id/ok.json").unwrap(),
    ];
    let run = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env(&fake.endpoint(), &arn),
        events,
    )
    .await
    .unwrap();
    assert_eq!(
        fake.operations(),
        ["GetSecretValue"],
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
    let (fake, arn) = fake_secrets_manager("{\"not\":\"a key set\"}".into()).await;
    let err = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env(&fake.endpoint(), &arn),
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
        &env(
            &format!("http://127.0.0.1:{port}"),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:imauth-keys-AbCdEf",
        ),
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

#[tokio::test]
async fn an_instance_started_before_a_rotation_learns_the_new_key_from_its_first_token() {
    let mut doc = KeySetDocument::generate(1).unwrap();
    let (fake, arn) = fake_secrets_manager(serde_json::to_string(&doc).unwrap()).await;
    let env = env(&fake.endpoint(), &arn);
    let mut push = FunctionProcess::spawn(&workspace_binary("push-token").unwrap(), &env)
        .await
        .unwrap();
    push.wait_ready().await.unwrap();
    assert_eq!(fake.operations(), ["GetSecretValue"]);

    // `imauth keys rotate`: a new active key, as a new version of the secret. An
    // instance started now signs with it.
    doc.rotate(2).unwrap();
    fake.put(&arn, &serde_json::to_string(&doc).unwrap());
    let login = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env,
        vec![load_event("events/token-id/ok.json").unwrap()],
    )
    .await
    .unwrap();
    let access = login.invocations[0].api_response().unwrap().body["data"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fake.operations().len(), 2);

    // The old instance re-reads the secret once and accepts the new key's token.
    let answer = list_ring(&mut push, &access).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(fake.operations().len(), 3);
    let answer = list_ring(&mut push, &access).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        fake.operations().len(),
        3,
        "a key once learnt needs no read"
    );

    // Tokens naming made-up keys are refused and, within the interval, cost no read.
    let (_, rest) = access.split_once('.').unwrap();
    use base64::Engine as _;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"alg":"EdDSA","typ":"JWT","kid":"made-up"}"#);
    for _ in 0..3 {
        let answer = list_ring(&mut push, &format!("{header}.{rest}")).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
    }
    assert_eq!(fake.operations().len(), 3, "rate-limited re-reads");
    let output = push.shutdown().await;
    assert!(
        output.stderr.contains("re-read the signing keys"),
        "{}",
        output.stderr
    );
}

/// push-token's answer to listing the ring tokens of the bearer of `token`.
async fn list_ring(push: &mut FunctionProcess, token: &str) -> ApiResponse {
    let mut event = load_event("events/push-token/list-ring.json").unwrap();
    event["headers"]["authorization"] = format!("Bearer {token}").into();
    push.invoke(event).await.unwrap().api_response().unwrap()
}
