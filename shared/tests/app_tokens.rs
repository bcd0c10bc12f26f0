//! Bounded and revocable tokens: the app's cap on a client-chosen `ttl`, client secret
//! rotation revoking earlier app (admin) tokens, and the app-scoped audience that lets a
//! standard JWT verifier pin the app.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use shared::auth::tokens::TokenType;
use shared::clock::Clock;
use shared::http::{Route, handle};
use shared::service::admin::rotate_client_secret;
use shared::service::provision::{NewApp, build_app};
use shared::store::AppAdmin as _;
use support::Env;

const DEMO_SECRET: &str = "demo-client-secret-0123456789";

/// The fixture apps and users of `events/seed.json` (support::env), plus app `short`
/// (org `acme`, app `short`) whose clients may ask for at most two hours.
async fn env() -> Env {
    let env = support::env().await;
    let (short, _) = build_app(NewApp {
        app_id: "short".into(),
        org_name: Some("acme".into()),
        app_name: Some("short".into()),
        client_id: Some("short-client".into()),
        client_secret: Some("short-client-secret-0123456789".into()),
        token_ttl: Some(600),
        max_token_ttl: Some(7_200),
        ..NewApp::default()
    })
    .unwrap();
    env.store.create_app(&short).await.unwrap();
    env
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Request {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
        .unwrap()
}

async fn call(env: &Env, req: Request) -> (u16, Value) {
    let route = Route::for_path(req.uri().path()).unwrap();
    let response = handle(&env.services, route, req).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

async fn easemob(env: &Env, org_app: &str, body: Value) -> (u16, Value) {
    call(
        env,
        request("POST", &format!("/{org_app}/token"), &[], Some(body)),
    )
    .await
}

async fn app_token(env: &Env, org_app: &str, client_id: &str, secret: &str) -> (u16, Value) {
    let body = json!({"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": secret});
    easemob(env, org_app, body).await
}

/// An admin token of `demo`, asserted granted.
async fn demo_admin_token(env: &Env, secret: &str) -> String {
    let (status, body) = app_token(env, "demo-org/demo-app", "demo-client", secret).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// Acting as user 10001 with `admin` on a login route and on a push route: the statuses.
async fn act(env: &Env, admin: &str) -> (u16, u16) {
    let headers = [
        ("app_id", "demo"),
        ("access-token", admin),
        ("user_id", "10001"),
    ];
    let (login, _) = call(env, request("POST", "/token/id", &headers, Some(json!({})))).await;
    let (push, _) = call(env, request("GET", "/v1/api/user/token", &headers, None)).await;
    (login, push)
}

#[tokio::test]
async fn a_client_ttl_is_granted_up_to_the_app_cap_and_refused_above_it_for_both_grants() {
    let env = env().await;
    let user = |ttl: u64, password: &str| json!({"grant_type": "password", "username": "alice", "password": password, "ttl": ttl});
    let (status, body) =
        easemob(&env, "demo-org/demo-app", user(2_592_000, "alice-password")).await;
    assert_eq!(
        (status, &body["expires_in"]),
        (200, &json!(2_592_000)),
        "{body}"
    );
    for password in ["alice-password", "not-her-password"] {
        // Refused before the password is looked at: the same answer either way.
        let (status, body) = easemob(&env, "demo-org/demo-app", user(2_592_001, password)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "illegal_argument");
        assert_eq!(
            body["error_description"],
            "ttl must be at most 2592000 seconds for this app"
        );
    }

    // The cap is the app's own: `short` allows two hours, for app tokens too.
    let secret = "short-client-secret-0123456789";
    for (ttl, status) in [(7_200, 200), (7_201, 400)] {
        let body = json!({"grant_type": "client_credentials", "client_id": "short-client",
                          "client_secret": secret, "ttl": ttl});
        let (got, answer) = easemob(&env, "acme/short", body).await;
        assert_eq!(got, status, "{answer}");
        if status == 400 {
            assert!(
                answer["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("ttl must be at most 7200"),
                "{answer}"
            );
        } else {
            assert_eq!(answer["expires_in"], ttl);
        }
    }
    // ttl 0 keeps its own rule: allowed by `demo`, not by `short`.
    let (status, _) = easemob(&env, "demo-org/demo-app", user(0, "alice-password")).await;
    assert_eq!(status, 200);
    let body = json!({"grant_type": "client_credentials", "client_id": "short-client",
                      "client_secret": secret, "ttl": 0});
    let (status, answer) = easemob(&env, "acme/short", body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .contains("ttl 0")
    );
}

#[tokio::test]
async fn rotating_the_client_secret_revokes_earlier_app_tokens_at_once() {
    let env = env().await;
    let old_admin = demo_admin_token(&env, DEMO_SECRET).await;
    let (status, user_login) = call(
        &env,
        request(
            "POST",
            "/token/id",
            &[("app_id", "demo")],
            Some(json!({"user_id": 10001, "password": "alice-password"})),
        ),
    )
    .await;
    assert_eq!(status, 200, "{user_login}");
    assert_eq!(act(&env, &old_admin).await, (200, 200));
    // What the admin minted by acting is revoked with it; the user's own token is not.
    let acted = acted_access_token(&env, &old_admin).await;
    assert_eq!(list_push(&env, &acted).await, 200);

    env.clock.advance_ms(1);
    let (app, new_secret) = rotate_client_secret(env.store.as_ref(), env.clock.as_ref(), "demo")
        .await
        .unwrap();
    assert_eq!(app.app_tokens_valid_after, env.clock.now_ms());
    env.clock.advance_ms(1);

    // The services still hold the app in their warm cache: the rotation is seen anyway.
    assert_eq!(act(&env, &old_admin).await, (401, 401));
    let (status, body) = app_token(&env, "demo-org/demo-app", "demo-client", DEMO_SECRET).await;
    assert_eq!(status, 401, "the old secret gets no token: {body}");
    let new_admin = demo_admin_token(&env, &new_secret).await;
    assert_eq!(act(&env, &new_admin).await, (200, 200));

    assert_eq!(list_push(&env, &acted).await, 401);
    let acted_again = acted_access_token(&env, &new_admin).await;
    assert_eq!(list_push(&env, &acted_again).await, 200);
    // Users' own tokens are not app tokens: a rotation leaves them alone.
    let access = user_login["data"]["token"].as_str().unwrap();
    assert_eq!(list_push(&env, access).await, 200);
}

/// An access token for user 10001 minted by `admin` acting.
async fn acted_access_token(env: &Env, admin: &str) -> String {
    let headers = [
        ("app_id", "demo"),
        ("access-token", admin),
        ("user_id", "10001"),
    ];
    let (status, body) = call(env, request("POST", "/token/id", &headers, Some(json!({})))).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["token"].as_str().unwrap().to_owned()
}

/// The status of listing ring push tokens with a user's access token.
async fn list_push(env: &Env, access: &str) -> u16 {
    let bearer = format!("Bearer {access}");
    let headers = [("authorization", bearer.as_str())];
    call(env, request("GET", "/v1/api/user/token", &headers, None))
        .await
        .0
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn tokens_name_their_app_in_aud_so_a_standard_verifier_can_pin_it() {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
    let env = env().await;
    let login = |app_id: &str, user_id: i64, password: &str| {
        request(
            "POST",
            "/token/id",
            &[("app_id", app_id)],
            Some(json!({"user_id": user_id, "password": password, "device_guid": "d-1"})),
        )
    };
    let (_, demo) = call(&env, login("demo", 10001, "alice-password")).await;
    let (_, strict) = call(&env, login("strict", 20001, "sam-password")).await;
    let demo_access = demo["data"]["token"].as_str().unwrap();
    let strict_access = strict["data"]["token"].as_str().unwrap();
    let demo_push = demo["data"]["push_token"].as_str().unwrap();
    let demo_admin = demo_admin_token(&env, DEMO_SECRET).await;
    let (_, strict_admin) = app_token(
        &env,
        "strict-org/strict-app",
        "strict-client",
        "strict-client-secret-0123456789",
    )
    .await;
    let strict_admin = strict_admin["access_token"].as_str().unwrap();
    assert_eq!(
        payload(demo_access)["aud"],
        json!(["im-api", "im-api:demo"])
    );
    assert_eq!(
        payload(demo_admin.as_str())["aud"],
        json!(["im-admin", "im-admin:demo"])
    );

    let tokens = &env.services.login.crypto().tokens;
    let public = B64.decode(&tokens.public_jwks()[0].x).unwrap();
    let key = DecodingKey::from_ed_der(&public);
    let verifies = |token: &str, audience: &str| {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&["imauth"]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        decode::<Value>(token, &key, &validation).is_ok()
    };
    assert!(verifies(demo_access, "im-api:demo"));
    assert!(
        !verifies(demo_access, "im-api:strict"),
        "app A's token fails app B's verifier"
    );
    assert!(verifies(strict_access, "im-api:strict"));
    assert!(!verifies(strict_access, "im-api:demo"));
    assert!(verifies(demo_admin.as_str(), "im-admin:demo"));
    assert!(!verifies(demo_admin.as_str(), "im-admin:strict"));
    assert!(verifies(strict_admin, "im-admin:strict"));
    assert!(!verifies(strict_admin, "im-admin:demo"));
    // The type stays pinned too, for a standard verifier and for ours.
    assert!(verifies(demo_push, "im-push:demo"));
    assert!(!verifies(demo_access, "im-push:demo"));
    assert!(!verifies(demo_push, "im-api:demo"));
    assert!(!verifies(demo_admin.as_str(), "im-api:demo"));
    assert!(tokens.verify(demo_push, TokenType::Push).is_ok());
    assert!(tokens.verify(demo_push, TokenType::Access).is_err());
    assert!(tokens.verify(demo_access, TokenType::App).is_err());
    assert!(
        tokens
            .verify(demo_admin.as_str(), TokenType::Access)
            .is_err()
    );
}

#[tokio::test]
async fn our_verifier_reads_array_and_single_audiences_and_refuses_a_foreign_app_entry() {
    use shared::auth::audience::Audience;
    let env = env().await;
    let tokens = &env.services.login.crypto().tokens;
    let (_, login) = call(
        &env,
        request(
            "POST",
            "/token/id",
            &[("app_id", "demo")],
            Some(json!({"user_id": 10001, "password": "alice-password"})),
        ),
    )
    .await;
    let minted = tokens
        .verify(login["data"]["token"].as_str().unwrap(), TokenType::Access)
        .unwrap();
    assert_eq!(minted.aud, Audience::minted(TokenType::Access, "demo"));
    let resigned = |aud: Value| {
        let mut claims = serde_json::to_value(&minted).unwrap();
        claims["aud"] = aud;
        tokens
            .sign(&serde_json::from_value(claims).unwrap())
            .unwrap()
    };
    // Tokens minted before app scoping (a single string) still verify.
    assert!(
        tokens
            .verify(&resigned(json!("im-api")), TokenType::Access)
            .is_ok()
    );
    for foreign in [
        json!(["im-api", "im-api:strict"]),
        json!(["im-api", "im-api:demo", "im-api:strict"]),
        json!(["im-api", "im-push:demo"]),
        json!(["im-api:demo"]),
    ] {
        let outcome = tokens.verify(&resigned(foreign.clone()), TokenType::Access);
        assert!(outcome.is_err(), "{foreign} was accepted");
    }
}
