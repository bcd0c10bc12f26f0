//! DynamoDB-specific guarantees: the requests each login outcome costs, bounded retries and
//! a 503 "try again" when DynamoDB is throttled or unreachable.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use integration::dynamo::{RequestLog, client_for, fresh_store};
use lambda_http_event::login_event;
use shared::auth::password::{PasswordHasher, PasswordPolicy};
use shared::auth::tokens::{KeySetDocument, TokenKeys};
use shared::clock::SystemClock;
use shared::domain::LoginKey;
use shared::error::Error;
use shared::http::{Route, Services, handle};
use shared::service::provision::{NewApp, build_app};
use shared::service::{Crypto, LoginRequest, LoginService};
use shared::store::{AppAdmin as _, DynamoStore};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

mod lambda_http_event {
    /// A `/token/id` API Gateway event with the given body.
    pub fn login_event(body: &str) -> String {
        let text =
            std::fs::read_to_string(integration::repo_root().join("events/token-id/ok.json"))
                .unwrap();
        let mut event: serde_json::Value = serde_json::from_str(&text).unwrap();
        event["body"] = body.into();
        event.to_string()
    }
}

fn crypto() -> Arc<Crypto> {
    Arc::new(Crypto {
        hasher: PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap(),
        tokens: TokenKeys::from_document(&KeySetDocument::generate(0).unwrap(), "imauth").unwrap(),
        clock: Arc::new(SystemClock),
        key_refresh: None,
    })
}

async fn provision(store: &DynamoStore, crypto: &Crypto) {
    integration::fixtures::provision_alice(store, &crypto.hasher)
        .await
        .unwrap();
}

fn request(
    app: &Arc<shared::domain::App>,
    key: LoginKey,
    password: &str,
    device: Option<&str>,
) -> LoginRequest {
    LoginRequest {
        app: app.clone(),
        key,
        password: shared::auth::password::Password::new(password.into()).unwrap(),
        device_guid: device.map(Into::into),
        device_proof: None,
        lifetime: shared::service::Lifetime::AppDefault,
    }
}

/// What each outcome costs in DynamoDB requests (docs/security.md, "What it costs"): every
/// login, success or failure, whoever it names, is one read (the user) and one write on
/// the failure counter (a counted failure, or the lock check of a right password, made as
/// a write so that its time matches a failure's).
#[tokio::test]
async fn every_login_costs_one_read_and_one_write_whatever_its_outcome() {
    let (store, log) = fresh_store().await.unwrap();
    let crypto = crypto();
    provision(&store, &crypto).await;
    let service = LoginService::new(Arc::new(store), crypto);
    let app = service.app("demo").await.unwrap();
    log.take();
    for key in [
        LoginKey::UserId(10001),
        LoginKey::Username("alice".into()),
        LoginKey::Phone("+8613800000000".into()),
        LoginKey::Email("alice@example.com".into()),
    ] {
        let grant = service
            .login(request(&app, key.clone(), "alice-password", None))
            .await
            .unwrap();
        assert_eq!(grant.subject.user_id(), 10001);
        assert_eq!(log.take(), ["GetItem", "UpdateItem"], "{key:?}");
    }
    // A wrong password and an unknown user: the same work, one read and one write.
    for key in [
        LoginKey::UserId(10001),
        LoginKey::UserId(424242),
        LoginKey::Email("alice@example.com".into()),
        LoginKey::Email("nobody@example.com".into()),
    ] {
        let outcome = service
            .login(request(&app, key.clone(), "wrong", None))
            .await;
        assert!(matches!(outcome, Err(Error::BadCredentials)), "{key:?}");
        assert_eq!(log.take(), ["GetItem", "UpdateItem"], "{key:?}");
    }
    // The next success resets the count: its read and write, plus one write to clear it.
    service
        .login(request(
            &app,
            LoginKey::UserId(10001),
            "alice-password",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(log.take(), ["GetItem", "UpdateItem", "UpdateItem"]);
    service
        .login(request(
            &app,
            LoginKey::UserId(10001),
            "alice-password",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(
        log.take(),
        ["GetItem", "UpdateItem"],
        "and then logins are one read and one write again"
    );
}

#[tokio::test]
async fn a_login_under_an_older_policy_rehashes_once_with_one_conditional_write() {
    let (store, log) = fresh_store().await.unwrap();
    let old = crypto();
    provision(&store, &old).await;
    let stronger = Arc::new(Crypto {
        hasher: PasswordHasher::new(PasswordPolicy {
            memory_kib: 16,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap(),
        tokens: TokenKeys::from_document(&KeySetDocument::generate(0).unwrap(), "imauth").unwrap(),
        clock: Arc::new(SystemClock),
        key_refresh: None,
    });
    let store = Arc::new(store);
    let service = LoginService::new(store.clone(), stronger.clone());
    let app = service.app("demo").await.unwrap();
    service
        .login(request(
            &app,
            LoginKey::Username("alice".into()),
            "alice-password",
            None,
        ))
        .await
        .unwrap();
    let requests = log.take();
    assert!(
        requests.contains(&"TransactWriteItems".to_owned()),
        "{requests:?}"
    );
    let user = shared::store::CredentialLookup::find_user(
        store.as_ref(),
        "demo",
        &LoginKey::Email("alice@example.com".into()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!stronger.hasher.needs_rehash(&user.password_hash));
    log.take();
    service
        .login(request(
            &app,
            LoginKey::UserId(10001),
            "alice-password",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(
        log.take(),
        ["GetItem", "UpdateItem"],
        "no second rehash: the user and the failure counter only"
    );
}

/// A loopback server that answers every DynamoDB call with a throttling error.
async fn throttling_dynamodb() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                // Read the head and the body (Content-Length), then answer.
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
                            break;
                        }
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: fake\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), hits)
}

async fn services_over(endpoint: &str, log: &RequestLog) -> Services {
    let client = client_for(endpoint, log).await;
    Services::over(Arc::new(DynamoStore::new(client, "imauth")), crypto())
}

async fn assert_try_again(services: &Services) -> Duration {
    let started = Instant::now();
    let req = lambda_http::request::from_str(&login_event(
        r#"{"user_id":10001,"password":"alice-password"}"#,
    ))
    .unwrap();
    let response = handle(services, Route::TokenId, req).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["code"], 503);
    assert_eq!(body["data"], serde_json::Value::Null);
    assert!(
        body["message"].as_str().unwrap().contains("try again"),
        "{body}"
    );
    elapsed
}

#[tokio::test]
async fn throttled_dynamodb_is_retried_a_bounded_number_of_times_then_503() {
    let (endpoint, hits) = throttling_dynamodb().await;
    let log = RequestLog::default();
    let services = services_over(&endpoint, &log).await;
    let elapsed = assert_try_again(&services).await;
    // The SDK's standard retry mode: 3 attempts, then give up.
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(log.take().len(), 3);
    assert!(elapsed < Duration::from_secs(15), "bounded: {elapsed:?}");
}

#[tokio::test]
async fn unreachable_dynamodb_is_retried_a_bounded_number_of_times_then_503() {
    // A port that was free a moment ago: connections are refused.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let log = RequestLog::default();
    let services = services_over(&format!("http://127.0.0.1:{port}"), &log).await;
    let elapsed = assert_try_again(&services).await;
    assert_eq!(log.take().len(), 3, "standard retry: 3 attempts");
    assert!(elapsed < Duration::from_secs(15), "bounded: {elapsed:?}");
}

#[tokio::test]
async fn an_app_stored_before_caps_and_rotation_loads_with_defaults_and_rotates() {
    use aws_sdk_dynamodb::types::AttributeValue::{Bool, N, S};
    use shared::domain::DEFAULT_MAX_TOKEN_TTL_SECS;
    use shared::store::{AppAdmin as _, AppChange, AppDirectory as _};
    let (store, log) = fresh_store().await.unwrap();
    // Both items exactly as the previous release wrote them: no `max_token_ttl`,
    // `app_tokens_valid_after` or `revision` attribute.
    for pk in ["APP#old", "APPNAME#old-org#old-app"] {
        store
            .client()
            .put_item()
            .table_name(store.table())
            .item("pk", S(pk.into()))
            .item("sk", S("#APP".into()))
            .item("app_id", S("old".into()))
            .item("org_name", S("old-org".into()))
            .item("app_name", S("old-app".into()))
            .item("encrypt_type", N("0".into()))
            .item("public_key", S(String::new()))
            .item("token_ttl", N("86400".into()))
            .item("allow_non_expiring", Bool(false))
            .item("client_id", S("old-client".into()))
            .item("client_secret_hash", S("sha256:old".into()))
            .item("bundle_id", S(String::new()))
            .send()
            .await
            .unwrap();
    }
    let old = store.app_by_id("old").await.unwrap().unwrap();
    assert_eq!(
        (old.max_token_ttl, old.app_tokens_valid_after, old.revision),
        (DEFAULT_MAX_TOKEN_TTL_SECS, 0, 0)
    );
    log.take();
    let change = AppChange::ClientSecret {
        hash: "sha256:new".into(),
    };
    let rotated = store.update_app("old", &change, 7_000).await.unwrap();
    assert_eq!(log.take(), ["GetItem", "TransactWriteItems"]);
    assert_eq!(
        store.app_by_id("old").await.unwrap().as_ref(),
        Some(&rotated)
    );
    assert_eq!(
        store.app_by_name("old-org", "old-app").await.unwrap(),
        Some(rotated.clone())
    );
    assert_eq!(
        (
            rotated.client_secret_hash.as_str(),
            rotated.app_tokens_valid_after,
            rotated.revision
        ),
        ("sha256:new", 7_000, 1)
    );
}

#[tokio::test]
async fn app_token_grants_and_admin_acting_each_read_the_app_once_past_the_cache() {
    use shared::service::Lifetime;
    let (store, log) = fresh_store().await.unwrap();
    let crypto = crypto();
    let (app, secret) = build_app(NewApp {
        app_id: "demo".into(),
        ..NewApp::default()
    })
    .unwrap();
    store.create_app(&app).await.unwrap();
    let secret = secret.unwrap();
    let service = LoginService::new(Arc::new(store), crypto);
    let cached = service.app("demo").await.unwrap();
    log.take();
    // The secret is checked against the app as stored now: one read, even when cached.
    let grant = service
        .app_token(&cached, &cached.client_id, &secret, Lifetime::AppDefault)
        .await
        .unwrap();
    assert_eq!(log.take(), ["GetItem"]);
    let admin = service
        .crypto()
        .tokens
        .verify(&grant.access_token, shared::auth::tokens::TokenType::App)
        .unwrap();
    service.admin_app(&admin).await.unwrap();
    assert_eq!(log.take(), ["GetItem"], "acting checks the stored app");
    service.app("demo").await.unwrap();
    assert_eq!(
        log.take(),
        Vec::<String>::new(),
        "logins still use the cache"
    );
}
