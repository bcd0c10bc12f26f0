//! The Easemob-compatible token route, app (admin) tokens, and admin acting through
//! the vendor login API's `user_id` / `group_id` headers.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::auth::password::PasswordPolicy;
use shared::auth::tokens::{Claims, TokenType};
use shared::config::{Settings, StoreKind};
use shared::http::{Route, Services, handle};
use shared::service::audit::MemoryAudit;

mod support;
use support::repo_path;

async fn services() -> (Services, Arc<MemoryAudit>) {
    let settings = Settings {
        seed_file: Some(repo_path("events/seed.json")),
        password_policy: PasswordPolicy::INSECURE_FAST,
        store: StoreKind::Embedded,
        ..Settings::default()
    };
    let crypto = settings.crypto().unwrap();
    let store = Arc::new(settings.embedded_store(&crypto).await.unwrap());
    let audit = Arc::new(MemoryAudit::default());
    (Services::with_audit(store, crypto, audit.clone()), audit)
}

fn event(name: &str) -> Request {
    let text = std::fs::read_to_string(repo_path(&format!("events/{name}"))).unwrap();
    lambda_http::request::from_str(&text).unwrap()
}

fn json(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

async fn call(services: &Services, route: Route, name: &str) -> (u16, Value) {
    json(handle(services, route, event(name)).await)
}

fn claims(services: &Services, token: &Value, typ: TokenType) -> Claims {
    services
        .login
        .crypto()
        .tokens
        .verify(token.as_str().unwrap(), typ)
        .unwrap()
}

#[tokio::test]
async fn the_easemob_seed_example_logs_c_in_as_lowercase_c() {
    let (services, _) = services().await;
    let (status, body) = call(&services, Route::AppToken, "app-token/seed-example.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 1_024_000);
    assert_eq!(body["user"]["username"], "c");
    assert_eq!(body["user"]["type"], "user");
    assert_eq!(body["user"]["activated"], true);
    assert!(body["user"]["uuid"].as_str().unwrap().len() >= 32);
    assert!(
        body["user"]["created"].as_i64().unwrap() > 1_600_000_000_000,
        "ms"
    );
    assert!(
        body["user"]["modified"].as_i64().unwrap() >= body["user"]["created"].as_i64().unwrap()
    );
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "user"]
    );
    let c = claims(&services, &body["access_token"], TokenType::Access);
    assert_eq!(c.sub, "10003");
    assert_eq!(c.exp - c.iat, 1_024_000);
}

#[tokio::test]
async fn ttl_absent_uses_the_app_default_and_zero_never_expires_where_allowed() {
    let (services, _) = services().await;
    let (status, body) = call(
        &services,
        Route::AppToken,
        "app-token/password-default-ttl.json",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 86_400);
    let (status, body) = call(
        &services,
        Route::AppToken,
        "app-token/password-ttl-zero.json",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 0);
    let c = claims(&services, &body["access_token"], TokenType::Access);
    assert!(c.exp - c.iat > 50 * 365 * 86_400, "a non-expiring token");
    let (status, body) = call(
        &services,
        Route::AppToken,
        "app-token/password-ttl-zero-not-allowed.json",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "illegal_argument");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("ttl 0"),
        "{body}"
    );
}

#[tokio::test]
async fn easemob_failures_have_easemob_statuses_and_bodies() {
    let (services, _) = services().await;
    let cases = [
        (
            "app-token/wrong-password.json",
            400,
            "invalid_grant",
            "invalid username or password",
        ),
        (
            "app-token/unknown-user.json",
            400,
            "invalid_grant",
            "invalid username or password",
        ),
        (
            "app-token/banned.json",
            400,
            "invalid_grant",
            "user not activated",
        ),
        (
            "app-token/banned-wrong-password.json",
            400,
            "invalid_grant",
            "invalid username or password",
        ),
        (
            "app-token/unknown-app.json",
            404,
            "organization_application_not_found",
            "no-org/no-app",
        ),
        (
            "app-token/unsupported-grant.json",
            400,
            "unsupported_grant_type",
            "authorization_code",
        ),
        (
            "app-token/missing-grant-type.json",
            400,
            "illegal_argument",
            "grant_type",
        ),
        (
            "app-token/missing-username.json",
            400,
            "illegal_argument",
            "username",
        ),
        (
            "app-token/malformed-json.json",
            400,
            "illegal_argument",
            "malformed JSON",
        ),
        (
            "app-token/ttl-negative.json",
            400,
            "illegal_argument",
            "ttl",
        ),
        (
            "app-token/ttl-fractional.json",
            400,
            "illegal_argument",
            "ttl",
        ),
        (
            "app-token/ttl-not-numeric.json",
            400,
            "illegal_argument",
            "ttl",
        ),
        ("app-token/ttl-huge.json", 400, "illegal_argument", "ttl"),
        (
            "app-token/ttl-over-app-cap.json",
            400,
            "illegal_argument",
            "ttl must be at most 2592000 seconds for this app",
        ),
        (
            "app-token/client-credentials-ttl-over-app-cap.json",
            400,
            "illegal_argument",
            "ttl must be at most 2592000 seconds for this app",
        ),
        (
            "app-token/client-credentials-wrong-secret.json",
            401,
            "unauthorized",
            "client_secret",
        ),
        ("app-token/get.json", 405, "method_not_allowed", "GET"),
    ];
    for (name, status, error, mention) in cases {
        let (got, body) = call(&services, Route::AppToken, name).await;
        assert_eq!(got, status, "{name}: {body}");
        assert_eq!(body["error"], error, "{name}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(mention),
            "{name}: {body}"
        );
        assert_eq!(
            body.as_object().unwrap().len(),
            2,
            "{name}: only error and error_description"
        );
    }
    let (_, wrong) = call(&services, Route::AppToken, "app-token/wrong-password.json").await;
    let (_, unknown) = call(&services, Route::AppToken, "app-token/unknown-user.json").await;
    assert_eq!(
        wrong, unknown,
        "unknown user and wrong password are identical"
    );
}

async fn admin_token(services: &Services) -> String {
    let (status, body) = call(
        services,
        Route::AppToken,
        "app-token/client-credentials.json",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["application"], "demo");
    assert_eq!(body["expires_in"], 86_400);
    let c = claims(services, &body["access_token"], TokenType::App);
    assert_eq!(c.sub, "demo-client");
    // An admin token is not a user token.
    assert!(
        services
            .login
            .crypto()
            .tokens
            .verify(body["access_token"].as_str().unwrap(), TokenType::Access)
            .is_err()
    );
    body["access_token"].as_str().unwrap().to_owned()
}

fn with_token(name: &str, token: &str) -> Request {
    let mut req = event(name);
    req.headers_mut()
        .insert("access-token", token.parse().unwrap());
    req
}

#[tokio::test]
async fn an_admin_acts_as_a_user_without_the_password_and_leaves_one_audit_record() {
    let (services, audit) = services().await;
    let admin = admin_token(&services).await;
    let (status, body) = json(
        handle(
            &services,
            Route::TokenId,
            with_token("token-id/acting-as-user.json", &admin),
        )
        .await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user_id"], 10001);
    let c = claims(&services, &body["data"]["token"], TokenType::Access);
    assert_eq!(c.sub, "10001");
    assert_eq!(c.act.as_ref().map(|a| a.sub.as_str()), Some("demo-client"));
    let push = claims(&services, &body["data"]["push_token"], TokenType::Push);
    assert_eq!(push.act, c.act);
    let events = audit.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "admin_act");
    assert_eq!(events[0].app_id, "demo");
    assert_eq!(events[0].admin, "demo-client");
    assert_eq!(events[0].target_user, Some(10001));
    assert_eq!(events[0].source_ip.as_deref(), Some("203.0.113.7"));
    assert!(
        !format!("{events:?}").contains(&admin),
        "no token in the audit trail"
    );
}

#[tokio::test]
async fn an_admin_acts_as_a_group_admin() {
    let (services, audit) = services().await;
    let admin = admin_token(&services).await;
    let (status, body) = json(
        handle(
            &services,
            Route::TokenId,
            with_token("token-id/acting-as-group-admin.json", &admin),
        )
        .await,
    );
    assert_eq!(status, 200, "{body}");
    let c = claims(&services, &body["data"]["token"], TokenType::Access);
    assert_eq!(c.grp, Some(555));
    assert_eq!(c.sub, "group-admin:555");
    assert_eq!(c.act.as_ref().map(|a| a.sub.as_str()), Some("demo-client"));
    assert_eq!(body["data"]["user_id"], 0);
    let events = audit.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].target_group, Some(555));
}

#[tokio::test]
async fn acting_headers_with_anything_but_a_valid_admin_token_are_refused() {
    let (services, audit) = services().await;
    let (_, user_login) = call(&services, Route::TokenId, "token-id/ok.json").await;
    let user_token = user_login["data"]["token"].as_str().unwrap().to_owned();
    let store_token = user_login["data"]["store_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The strict app's admin token: valid, but for another app.
    let mut other_app = event("app-token/client-credentials.json");
    *other_app.body_mut() = Body::Text(
        r#"{"grant_type":"client_credentials","client_id":"strict-client","client_secret":"strict-client-secret-0123456789"}"#.into(),
    );
    *other_app.uri_mut() = "/strict-org/strict-app/token".parse().unwrap();
    let (status, other) = json(handle(&services, Route::AppToken, other_app).await);
    assert_eq!(status, 200, "{other}");
    let other_admin = other["access_token"].as_str().unwrap().to_owned();
    let admin = admin_token(&services).await;
    let mut forged = admin.clone();
    forged.replace_range(forged.len() - 6.., "AAAAAA");

    let cases = [
        (None, 403),
        (Some(user_token.as_str()), 403),
        (Some(other_admin.as_str()), 403),
        (Some(store_token.as_str()), 401),
        (Some(forged.as_str()), 401),
        (Some("garbage"), 401),
    ];
    for name in [
        "token-id/acting-as-user.json",
        "token-id/acting-as-group-admin.json",
    ] {
        for (token, status) in cases {
            let mut req = event(name);
            req.headers_mut().remove("access-token");
            if let Some(token) = token {
                req.headers_mut()
                    .insert("access-token", token.parse().unwrap());
            }
            let (got, body) = json(handle(&services, Route::TokenId, req).await);
            assert_eq!(got, status, "{name} with {token:?}: {body}");
            assert_eq!(body["data"], Value::Null);
        }
    }
    // Acting for a user the body does not name, or a banned or unknown user.
    let mut req = with_token("token-id/acting-as-user.json", &admin);
    *req.body_mut() = Body::Text(r#"{"user_id":10003}"#.into());
    assert_eq!(json(handle(&services, Route::TokenId, req).await).0, 403);
    let mut req = with_token("token-id/acting-as-user.json", &admin);
    req.headers_mut()
        .insert("user_id", "10002".parse().unwrap());
    assert_eq!(
        json(handle(&services, Route::TokenId, req).await).0,
        403,
        "banned"
    );
    let mut req = with_token("token-id/acting-as-user.json", &admin);
    req.headers_mut()
        .insert("user_id", "424242".parse().unwrap());
    assert_eq!(json(handle(&services, Route::TokenId, req).await).0, 404);
    // An acting admin needs no password or proof, but one sent malformed is a 400.
    for body in [
        r#"{"password":""}"#,
        r#"{"password":5}"#,
        r#"{"device_proof":"p"}"#,
    ] {
        let mut req = with_token("token-id/acting-as-user.json", &admin);
        *req.body_mut() = Body::Text(body.into());
        assert_eq!(
            json(handle(&services, Route::TokenId, req).await).0,
            400,
            "{body}"
        );
    }
    assert!(
        audit.events().is_empty(),
        "no act happened: {:?}",
        audit.events()
    );
}

#[tokio::test]
async fn acting_works_on_every_login_route() {
    let (services, audit) = services().await;
    let admin = admin_token(&services).await;
    for (route, body) in [
        (Route::TokenLogin, r#"{"login_name":"alice@example.com"}"#),
        (Route::TokenUser, r#"{"name":"Alice"}"#),
        (Route::TokenUser, r#"{}"#),
    ] {
        let mut req = with_token("token-id/acting-as-user.json", &admin);
        *req.uri_mut() = route.path().parse().unwrap();
        *req.body_mut() = Body::Text(body.into());
        let (status, answer) = json(handle(&services, route, req).await);
        assert_eq!(status, 200, "{route:?} {body}: {answer}");
        assert_eq!(answer["data"]["user_id"], 10001);
    }
    assert_eq!(audit.events().len(), 3, "one audit record per act");
}
