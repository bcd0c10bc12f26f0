//! Handler tests: API Gateway events from `events/` fed through
//! `lambda_http::request::from_str` into the same `handle` every Lambda runs.

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::auth::password::PasswordPolicy;
use shared::auth::tokens::TokenType;
use shared::clock::Clock as _;
use shared::config::{Settings, StoreKind};
use shared::http::{Route, Services, handle};

mod support;
use support::repo_path;

async fn services() -> Services {
    Settings {
        seed_file: Some(repo_path("events/seed.json")),
        password_policy: PasswordPolicy::INSECURE_FAST,
        store: StoreKind::Embedded,
        ..Settings::default()
    }
    .build_services()
    .await
    .unwrap()
}

fn event(name: &str) -> Request {
    let text = std::fs::read_to_string(repo_path(&format!("events/{name}"))).unwrap();
    lambda_http::request::from_str(&text).unwrap()
}

struct Answer {
    status: u16,
    body: Value,
    raw: String,
}

fn answer(response: Response<Body>) -> Answer {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "every answer is JSON"
    );
    let raw = String::from_utf8(response.body().to_vec()).unwrap();
    let body: Value = serde_json::from_str(&raw).unwrap();
    Answer { status, body, raw }
}

async fn call(services: &Services, route: Route, name: &str) -> Answer {
    answer(handle(services, route, event(name)).await)
}

fn assert_error(answer: &Answer, status: u16, message_contains: &str) {
    assert_eq!(answer.status, status, "{}", answer.raw);
    assert_eq!(answer.body["code"], status);
    assert_eq!(answer.body["data"], Value::Null);
    let message = answer.body["message"].as_str().unwrap();
    assert!(
        message.contains(message_contains),
        "{message:?} should mention {message_contains:?}"
    );
}

#[tokio::test]
async fn token_id_success_has_every_seed_000_field_and_tokens_verify() {
    let services = services().await;
    let a = call(&services, Route::TokenId, "token-id/ok.json").await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["code"], 200);
    assert_eq!(a.body["message"], Value::Null);
    let data = &a.body["data"];
    let mut keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_key_secret",
            "encrypt_type",
            "expire",
            "public_key",
            "refresh_expire",
            "refresh_token",
            "store_token",
            "token",
            "user_id"
        ]
    );
    assert_eq!(data["user_id"], 10001);
    assert_eq!(data["encrypt_type"], 1);
    assert_eq!(data["public_key"], "demo-public-key");

    let tokens = &services.login.crypto().tokens;
    let access = tokens
        .verify(data["token"].as_str().unwrap(), TokenType::Access)
        .unwrap();
    assert_eq!(access.sub, "10001");
    assert_eq!(access.app, "demo");
    assert_eq!(data["expire"].as_i64().unwrap(), access.exp);
    let now = shared::clock::SystemClock.now_secs();
    assert!((access.exp - now - 86_400).abs() < 5, "app ttl");
    let store = tokens
        .verify(data["store_token"].as_str().unwrap(), TokenType::Store)
        .unwrap();
    assert_eq!(store.sid, access.sid);
    assert_eq!(
        data["access_key_secret"],
        tokens.access_key_secret(&access.sid).unwrap()
    );
    // The access token is not a store token and vice versa.
    assert!(
        tokens
            .verify(data["token"].as_str().unwrap(), TokenType::Store)
            .is_err()
    );
}

#[tokio::test]
async fn device_guid_adds_a_push_token_bound_to_the_device() {
    let services = services().await;
    let a = call(&services, Route::TokenId, "token-id/ok-device.json").await;
    assert_eq!(a.status, 200, "{}", a.raw);
    let push = a.body["data"]["push_token"].as_str().unwrap();
    let claims = services
        .login
        .crypto()
        .tokens
        .verify(push, TokenType::Push)
        .unwrap();
    assert_eq!(claims.dev.as_deref(), Some("ios-7f3a9c"));
    assert_eq!(claims.sub, "10001");
    assert!(
        services
            .login
            .crypto()
            .tokens
            .verify(push, TokenType::Access)
            .is_err()
    );
}

#[tokio::test]
async fn login_accepts_phone_email_and_username_in_any_case() {
    let services = services().await;
    for name in [
        "token-login/ok-phone.json",
        "token-login/ok-email.json",
        "token-login/ok-username.json",
    ] {
        let a = call(&services, Route::TokenLogin, name).await;
        assert_eq!(a.status, 200, "{name}: {}", a.raw);
        assert_eq!(a.body["data"]["user_id"], 10001, "{name}");
    }
    for name in ["token-user/ok.json", "token-user/ok-base64.json"] {
        let a = call(&services, Route::TokenUser, name).await;
        assert_eq!(a.status, 200, "{name}: {}", a.raw);
        assert_eq!(a.body["data"]["user_id"], 10001, "{name}");
    }
}

#[tokio::test]
async fn unknown_user_and_wrong_password_are_indistinguishable() {
    let services = services().await;
    for (route, dir) in [
        (Route::TokenId, "token-id"),
        (Route::TokenLogin, "token-login"),
        (Route::TokenUser, "token-user"),
    ] {
        let wrong = call(&services, route, &format!("{dir}/wrong-password.json")).await;
        let unknown = call(&services, route, &format!("{dir}/unknown-user.json")).await;
        assert_error(&wrong, 401, "invalid user or password");
        assert_eq!(wrong.raw, unknown.raw, "{dir}: bodies must be identical");
        assert_eq!(wrong.status, unknown.status);
    }
}

#[tokio::test]
async fn banned_users_are_told_only_after_the_right_password() {
    let services = services().await;
    let a = call(&services, Route::TokenId, "token-id/banned.json").await;
    assert_error(&a, 403, "banned");
    let a = call(&services, Route::TokenUser, "token-user/banned.json").await;
    assert_error(&a, 403, "banned");
    // Wrong password for the banned user: the ordinary answer, nothing about the ban.
    let mut req = event("token-user/banned.json");
    *req.body_mut() = Body::Text(r#"{"name":"bob","password":"nope"}"#.into());
    let a = answer(handle(&services, Route::TokenUser, req).await);
    assert_error(&a, 401, "invalid user or password");
}

#[tokio::test]
async fn bad_input_gets_a_4xx_naming_the_problem() {
    let services = services().await;
    let cases = [
        (
            Route::TokenId,
            "token-id/user-id-not-int.json",
            400,
            "user_id",
        ),
        (
            Route::TokenId,
            "token-id/missing-password.json",
            400,
            "password",
        ),
        (
            Route::TokenId,
            "token-id/malformed-json.json",
            400,
            "malformed JSON",
        ),
        (Route::TokenId, "token-id/empty-body.json", 400, "empty"),
        (
            Route::TokenId,
            "token-id/missing-app-id.json",
            400,
            "app_id",
        ),
        (
            Route::TokenId,
            "token-id/unknown-app-id.json",
            400,
            "app_id",
        ),
        (
            Route::TokenId,
            "token-id/acting-without-admin.json",
            403,
            "user_id",
        ),
        (Route::TokenId, "token-id/get.json", 405, "GET"),
        (
            Route::TokenLogin,
            "token-login/missing-login-name.json",
            400,
            "login_name",
        ),
        (
            Route::TokenUser,
            "token-user/name-not-string.json",
            400,
            "name",
        ),
    ];
    for (route, name, status, mention) in cases {
        let a = call(&services, route, name).await;
        assert_error(&a, status, mention);
    }
}

#[tokio::test]
async fn wrong_method_says_which_are_allowed() {
    let services = services().await;
    let response = handle(&services, Route::TokenId, event("token-id/get.json")).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_parsing() {
    let services = services().await;
    let mut req = event("token-id/ok.json");
    let huge = format!(
        r#"{{"user_id":10001,"password":"{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    *req.body_mut() = Body::Text(huge);
    let a = answer(handle(&services, Route::TokenId, req).await);
    assert_error(&a, 413, "bytes");
    // Just under the body limit, a password over its own byte limit: 400, not hashed.
    let mut req = event("token-id/ok.json");
    *req.body_mut() = Body::Text(format!(
        r#"{{"user_id":10001,"password":"{}"}}"#,
        "x".repeat(2000)
    ));
    let a = answer(handle(&services, Route::TokenId, req).await);
    assert_error(&a, 400, "password must be at most");
}

#[tokio::test]
async fn hostile_bodies_never_cause_a_5xx() {
    let services = services().await;
    let bodies: Vec<Vec<u8>> = vec![
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"str\"".to_vec(),
        b"{\"user_id\":1e400,\"password\":\"x\"}".to_vec(),
        b"{\"user_id\":-1,\"password\":\"x\"}".to_vec(),
        b"{\"user_id\":9223372036854775808,\"password\":\"x\"}".to_vec(),
        b"{\"user_id\":10001,\"password\":\"\"}".to_vec(),
        b"{\"user_id\":10001,\"password\":\"\\u0000\"}".to_vec(),
        b"{\"user_id\":10001,\"password\":\"x\",\"device_guid\":\"\"}".to_vec(),
        b"{\"user_id\":10001,\"password\":\"alice-password\",\"device_guid\":\"has space\"}"
            .to_vec(),
        vec![0xff, 0xfe, 0x00],
        b"{\"login_name\":\"\",\"password\":\"x\"}".to_vec(),
        b"{\"login_name\":\"@\",\"password\":\"x\"}".to_vec(),
        b"{\"login_name\":\"+\",\"password\":\"x\"}".to_vec(),
        b"{\"name\":\"\xe4\xb8\xad\xe6\x96\x87\",\"password\":\"x\"}".to_vec(),
        "{\"a\":".repeat(5000).into_bytes(),
    ];
    for route in [Route::TokenId, Route::TokenLogin, Route::TokenUser] {
        for body in &bodies {
            let mut req = event("token-id/ok.json");
            *req.body_mut() = Body::Binary(body.clone());
            let a = answer(handle(&services, route, req).await);
            assert!(
                (400..500).contains(&a.status),
                "{route:?} {:?} -> {}",
                String::from_utf8_lossy(body),
                a.raw
            );
        }
    }
}

#[tokio::test]
async fn every_event_file_parses_and_answers() {
    // Guards events/ against drift: each payload is a valid API Gateway v2 event that
    // the handler for its path answers with JSON.
    let services = services().await;
    let mut seen = 0;
    for dir in [
        "token-id",
        "token-login",
        "token-user",
        "app-token",
        "token-refresh",
        "push-token",
    ] {
        for entry in std::fs::read_dir(repo_path(&format!("events/{dir}"))).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let req = lambda_http::request::from_str(&text).unwrap();
            let route = Route::for_path(req.uri().path()).unwrap();
            let a = answer(handle(&services, route, req).await);
            assert!(a.status < 500, "{}: {}", path.display(), a.raw);
            seen += 1;
        }
    }
    assert!(seen >= 20, "only {seen} events");
}

/// `app_id` spelled `app-id` (what survives nginx and SAM's local API) is the same header.
#[tokio::test]
async fn app_id_may_arrive_dashed_and_both_spellings_must_agree() {
    let services = services().await;
    let text = std::fs::read_to_string(repo_path("events/token-id/ok.json")).unwrap();
    let with_headers = |headers: Value| {
        let mut event: Value = serde_json::from_str(&text).unwrap();
        event["headers"] = headers;
        lambda_http::request::from_str(&event.to_string()).unwrap()
    };
    let dashed =
        with_headers(serde_json::json!({"app-id": "demo", "content-type": "application/json"}));
    let a = answer(handle(&services, Route::TokenId, dashed).await);
    assert_eq!(a.status, 200, "{}", a.raw);
    let both = with_headers(serde_json::json!({"app-id": "demo", "app_id": "other"}));
    let a = answer(handle(&services, Route::TokenId, both).await);
    assert_error(&a, 400, "app_id and app-id");
}
