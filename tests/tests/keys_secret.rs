//! Production keys come from Secrets Manager, read once per cold start through the real
//! SDK (here against a loopback stand-in for the service): the signing functions read the
//! private key set, the verify-only ones (`jwks`, `push-token`) only the public one. A
//! missing or malformed secret fails the cold start; no keys at all fails closed. The
//! refresh secret is separate from the store secret, and survives one rotation.

use integration::secrets::{FakeSecretsManager, imauth_command};
use integration::{
    ApiResponse, FunctionProcess, invoke_all, load_event, repo_root, workspace_binary,
};
use serde_json::Value;
use shared::auth::keyset::{HmacKeys, SecretVersions};
use shared::auth::refresh::{RefreshFamily, seal_opener};
use shared::auth::tokens::{KeySetDocument, TokenKeys, TokenType};

/// A loopback Secrets Manager holding one secret; returns it and the secret's ARN.
async fn fake_secrets_manager(secret_string: String) -> (FakeSecretsManager, String) {
    let fake = FakeSecretsManager::start().await.unwrap();
    let arn = fake.insert("imauth-keys", &secret_string);
    (fake, arn)
}

/// The environment of a function reading the private key set from `arn`.
fn env(endpoint: &str, arn: &str) -> Vec<(String, String)> {
    env_with(endpoint, "IMAUTH_KEYS_SECRET_ARN", arn)
}

/// The environment of a verify-only function reading the public key set from `arn`.
fn public_env(endpoint: &str, arn: &str) -> Vec<(String, String)> {
    env_with(endpoint, "IMAUTH_PUBLIC_KEYS_SECRET_ARN", arn)
}

fn env_with(endpoint: &str, keys_variable: &str, arn: &str) -> Vec<(String, String)> {
    vec![
        ("IMAUTH_STORE".into(), "embedded".into()),
        (
            "IMAUTH_SEED_FILE".into(),
            repo_root().join("events/seed.json").display().to_string(),
        ),
        ("IMAUTH_PASSWORD_POLICY".into(), "insecure-fast".into()),
        (keys_variable.into(), arn.into()),
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
    assert!(text.contains("does not hold a key set"), "{text}");
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
    let public_arn = fake.insert("imauth-keys-public", &public_text(&doc));
    let env = env(&fake.endpoint(), &arn);
    // push-token only verifies: it reads (and re-reads) the public key set only.
    let mut push = FunctionProcess::spawn(
        &workspace_binary("push-token").unwrap(),
        &public_env(&fake.endpoint(), &public_arn),
    )
    .await
    .unwrap();
    push.wait_ready().await.unwrap();
    assert_eq!(fake.operations(), ["GetSecretValue"]);

    // `imauth keys rotate`: a new active key, as new versions of both secrets (the public
    // one first). An instance started now signs with it.
    doc.rotate(2).unwrap();
    fake.put(&public_arn, &public_text(&doc));
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
    let push_reads: Vec<String> = fake.reads().into_iter().filter(|id| id != &arn).collect();
    assert_eq!(push_reads, [public_arn.clone(), public_arn]);
}

/// push-token's answer to listing the ring tokens of the bearer of `token`.
async fn list_ring(push: &mut FunctionProcess, token: &str) -> ApiResponse {
    let mut event = load_event("events/push-token/list-ring.json").unwrap();
    event["headers"]["authorization"] = format!("Bearer {token}").into();
    push.invoke(event).await.unwrap().api_response().unwrap()
}

/// The public key set of `doc`, as `imauth keys` writes it to the public key secret.
fn public_text(doc: &KeySetDocument) -> String {
    serde_json::to_string(&doc.public_key_set().unwrap()).unwrap()
}

#[tokio::test]
async fn verify_only_functions_start_and_serve_with_only_the_public_key_secret() {
    let doc = KeySetDocument::generate(1).unwrap();
    let (fake, arn) = fake_secrets_manager(serde_json::to_string(&doc).unwrap()).await;
    let public_arn = fake.insert("imauth-keys-public", &public_text(&doc));
    let public_env = public_env(&fake.endpoint(), &public_arn);

    let jwks = invoke_all(
        &workspace_binary("jwks").unwrap(),
        &public_env,
        vec![load_event("events/jwks/get.json").unwrap()],
    )
    .await
    .unwrap();
    let answer = jwks.invocations[0].api_response().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["keys"],
        serde_json::to_value(doc.public_jwks().unwrap()).unwrap()
    );

    // A token from a signing function (private key set) is accepted by push-token.
    let login = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &env(&fake.endpoint(), &arn),
        vec![load_event("events/token-id/ok.json").unwrap()],
    )
    .await
    .unwrap();
    let access = login.invocations[0].api_response().unwrap().body["data"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut push = FunctionProcess::spawn(&workspace_binary("push-token").unwrap(), &public_env)
        .await
        .unwrap();
    push.wait_ready().await.unwrap();
    let answer = list_ring(&mut push, &access).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    push.shutdown().await;
    assert_eq!(
        fake.reads(),
        [public_arn.clone(), arn.clone(), public_arn],
        "jwks and push-token read the public key secret only"
    );

    // A function that signs refuses to start with the public key set alone.
    let err = invoke_all(
        &workspace_binary("token-id").unwrap(),
        &public_env,
        vec![load_event("events/token-id/ok.json").unwrap()],
    )
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("needs the private key set"),
        "{err:#}"
    );
}

/// token-refresh's answer to `refresh_token`, one event per token, in one process.
async fn refresh_all(env: &[(String, String)], tokens: &[&str]) -> Vec<ApiResponse> {
    let events = tokens
        .iter()
        .map(|token| {
            let mut event = load_event("events/token-refresh/refresh.json").unwrap();
            event["body"] = serde_json::json!({ "refresh_token": token })
                .to_string()
                .into();
            event
        })
        .collect();
    invoke_all(&workspace_binary("token-refresh").unwrap(), env, events)
        .await
        .unwrap()
        .api_responses()
        .unwrap()
}

/// The refresh tokens (openers) of `n` logins through token-id.
async fn openers(env: &[(String, String)], n: usize) -> Vec<String> {
    let events = (0..n)
        .map(|_| load_event("events/token-id/ok.json").unwrap())
        .collect();
    let run = invoke_all(&workspace_binary("token-id").unwrap(), env, events)
        .await
        .unwrap();
    run.invocations
        .iter()
        .map(|i| {
            let answer = i.api_response().unwrap();
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.body["data"]["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn an_opener_forged_with_the_store_secret_is_refused_by_token_refresh() {
    let doc = KeySetDocument::generate(1).unwrap();
    let (fake, arn) = fake_secrets_manager(serde_json::to_string(&doc).unwrap()).await;
    let env = env(&fake.endpoint(), &arn);
    let genuine = openers(&env, 1).await.remove(0);

    // What the file store could mint: the genuine opener's family, sealed with the store
    // secret, under the store secret's version id and under the refresh secret's.
    let (_, rest) = genuine.split_at(2);
    let payload = rest.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let family: RefreshFamily = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let mut relabelled = doc.store.current.clone();
    relabelled.id = doc.refresh.current.id.clone();
    let forgeries: Vec<String> = [
        doc.store.clone(),
        SecretVersions {
            current: relabelled,
            previous: None,
        },
    ]
    .iter()
    .map(|versions| {
        let keys = HmacKeys::from_versions(versions, "store").unwrap();
        seal_opener(&keys, &family).unwrap()
    })
    .collect();

    let answers = refresh_all(&env, &[&forgeries[0], &forgeries[1], &genuine]).await;
    assert_eq!(answers[0].status, 401, "{}", answers[0].body);
    assert_eq!(answers[1].status, 401, "{}", answers[1].body);
    // The same family sealed with the refresh secret is accepted: only the key differs.
    assert_eq!(answers[2].status, 200, "{}", answers[2].body);
}

/// token-refresh's answer to one `refresh_token`, from a running instance.
async fn refresh_one(process: &mut FunctionProcess, token: &str) -> ApiResponse {
    let mut event = load_event("events/token-refresh/refresh.json").unwrap();
    event["body"] = serde_json::json!({ "refresh_token": token })
        .to_string()
        .into();
    process.invoke(event).await.unwrap().api_response().unwrap()
}

/// `imauth keys ARGS` against the fake; its JSON summary.
async fn keys_command(args: &[&str], fake: &FakeSecretsManager) -> Value {
    let output = imauth_command(Some(fake))
        .unwrap()
        .arg("keys")
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "imauth keys {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn sessions_opened_before_a_rotation_refresh_once_after_it_and_not_after_two() {
    let fake = FakeSecretsManager::start().await.unwrap();
    let init = keys_command(&["init", "--secret-id", "imauth/keys"], &fake).await;
    let arn = init["arn"].as_str().unwrap().to_owned();
    let env = env(&fake.endpoint(), &arn);
    let before = openers(&env, 2).await;

    keys_command(&["rotate", "--secret-id", &arn], &fake).await;
    // A function started after the rotation: the opener of a login before it rotates,
    // its rotated token rotates again, and a second use of the opener is reuse, as always.
    let mut refresh = FunctionProcess::spawn(&workspace_binary("token-refresh").unwrap(), &env)
        .await
        .unwrap();
    refresh.wait_ready().await.unwrap();
    let first = refresh_one(&mut refresh, &before[0]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let rotated = first.body["data"]["refresh_token"].as_str().unwrap();
    let second = refresh_one(&mut refresh, rotated).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let reused = refresh_one(&mut refresh, &before[0]).await;
    assert_eq!(reused.status, 401, "{}", reused.body);
    refresh.shutdown().await;

    let doc: KeySetDocument = serde_json::from_str(&fake.current(&arn).unwrap()).unwrap();
    let access = first.body["data"]["token"].as_str().unwrap();
    let claims = TokenKeys::from_document(&doc, "imauth")
        .unwrap()
        .verify(access, TokenType::Access)
        .unwrap();
    assert_eq!(
        claims.sid.split_once('.').map(|(version, _)| version),
        Some(doc.store.current.id.as_str()),
        "a refreshed session derives access_key_secret with the new store secret"
    );

    // Two rotations after its login, an opener is refused (the overlap is one rotation).
    keys_command(&["rotate", "--secret-id", &arn], &fake).await;
    let answers = refresh_all(&env, &[&before[1]]).await;
    assert_eq!(answers[0].status, 401, "{}", answers[0].body);
}
