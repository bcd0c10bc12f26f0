//! Easemob's `inherit` grant and the user-management routes, at the handler, on the
//! embedded store (the same routes run on DynamoDB Local in the integration tests).

mod support;

use lambda_http::{Body, Request};
use serde_json::{Value, json};
use shared::auth::lockout::LockSubject;
use shared::domain::LoginKey;
use shared::http::{Route, handle};
use shared::store::{CredentialLookup, LockoutStore};
use support::{Env, env, login, repo_path};

/// `events/{name}` with the placeholder replaced by `admin`.
fn event(name: &str, admin: &str) -> Request {
    let text = std::fs::read_to_string(repo_path(&format!("events/{name}")))
        .unwrap()
        .replace("ADMIN_TOKEN", admin);
    lambda_http::request::from_str(&text).unwrap()
}

fn request(method: &str, path: &str, bearer: Option<&str>, body: Option<Value>) -> Request {
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "api.example.com");
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    req.body(body).unwrap()
}

async fn send(env: &Env, req: Request) -> (u16, Value) {
    let route = Route::for_path(req.uri().path()).expect("a route");
    let response = handle(&env.services, route, req).await;
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap();
    (status, body)
}

/// The app token of `org/app` by the client-credentials grant.
async fn app_token(env: &Env, org: &str, app: &str, client: &str) -> String {
    let body = json!({
        "grant_type": "client_credentials",
        "client_id": format!("{client}-client"),
        "client_secret": format!("{client}-client-secret-0123456789"),
    });
    let path = format!("/{org}/{app}/token");
    let (status, answer) = send(env, request("POST", &path, None, Some(body))).await;
    assert_eq!(status, 200, "{answer}");
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn demo_token(env: &Env) -> String {
    app_token(env, "demo-org", "demo-app", "demo").await
}

async fn inherit(env: &Env, bearer: Option<&str>, username: &str, create: bool) -> (u16, Value) {
    let body = json!({"grant_type": "inherit", "username": username, "autoCreateUser": create});
    send(
        env,
        request("POST", "/demo-org/demo-app/token", bearer, Some(body)),
    )
    .await
}

async fn access_is_valid(env: &Env, token: &str) -> bool {
    env.services.sessions.verify_access(token).await.is_ok()
}

#[tokio::test]
async fn inherit_mints_an_existing_users_tokens_with_the_app_token_and_is_audited() {
    let env = env().await;
    let admin = demo_token(&env).await;
    let (status, body) = send(&env, event("app-token/inherit.json", &admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(body["user"]["activated"], true);
    assert_eq!(body["expires_in"], 86_400);
    let token = body["access_token"].as_str().unwrap();
    let (claims, user) = env.services.sessions.verify_access(token).await.unwrap();
    assert_eq!((claims.sub.as_str(), user.user_id), ("10001", 10001));
    // Refresh tokens as for the password grant.
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, refreshed) = support::refresh(&env, refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    let events = env.audit.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "admin_inherit");
    assert_eq!(events[0].target_user, Some(10001));
    assert_eq!(events[0].admin, "demo-client");
}

#[tokio::test]
async fn inherit_of_an_unknown_user_is_not_found_unless_it_may_create_it_once() {
    let env = env().await;
    let admin = demo_token(&env).await;
    let (status, body) = send(&env, event("app-token/inherit-unknown-user.json", &admin)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "service_resource_not_found");
    let (status, created) = send(&env, event("app-token/inherit-auto-create.json", &admin)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["user"]["username"], "newcomer");
    let (status, again) = inherit(&env, Some(&admin), "NewComer", true).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["user"]["uuid"], created["user"]["uuid"],
        "not created twice"
    );
    let user = env
        .store
        .find_user("demo", &LoginKey::Username("newcomer".into()))
        .await
        .unwrap()
        .unwrap();
    assert!(user.user_id > 0 && user.user_id < 1 << 53);
    assert!(user.password_hash.is_empty(), "created without a password");
}

#[tokio::test]
async fn inherit_needs_an_unrevoked_app_token_of_this_app() {
    let env = env().await;
    let (status, body) = inherit(&env, None, "alice", false).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let (_, alice) = login(&env, 10001, "alice-password").await;
    let user_token = alice["data"]["token"].as_str().unwrap();
    let (status, body) = inherit(&env, Some(user_token), "alice", false).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    let strict = app_token(&env, "strict-org", "strict-app", "strict").await;
    let (status, body) = inherit(&env, Some(&strict), "alice", true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    assert!(
        env.audit.events().is_empty(),
        "nothing minted, nothing audited"
    );
    let (status, body) = inherit(&env, Some("not.a.token"), "alice", false).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn inherit_takes_ttl_by_the_password_grants_rules_and_the_apps_cap() {
    let env = env().await;
    let admin = demo_token(&env).await;
    let path = "/demo-org/demo-app/token";
    let body = |ttl: Value| json!({"grant_type": "inherit", "username": "alice", "ttl": ttl});
    let (status, ok) = send(
        &env,
        request("POST", path, Some(&admin), Some(body(json!("1024000")))),
    )
    .await;
    assert_eq!(
        (status, ok["expires_in"].as_i64()),
        (200, Some(1_024_000)),
        "{ok}"
    );
    let (status, over) = send(
        &env,
        request("POST", path, Some(&admin), Some(body(json!(2_592_001)))),
    )
    .await;
    assert_eq!(
        (status, over["error"].as_str()),
        (400, Some("illegal_argument")),
        "{over}"
    );
    let (status, bad) = send(
        &env,
        request("POST", path, Some(&admin), Some(body(json!(-1)))),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
}

#[tokio::test]
async fn inherit_of_a_banned_user_is_easemobs_invalid_grant() {
    let env = env().await;
    let admin = demo_token(&env).await;
    let (status, body) = inherit(&env, Some(&admin), "bob", false).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "user not activated");
}

#[tokio::test]
async fn a_passwordless_user_fails_every_password_login_exactly_like_a_wrong_password() {
    let env = env().await;
    let admin = demo_token(&env).await;
    let (status, created) = inherit(&env, Some(&admin), "keyless", true).await;
    assert_eq!(status, 200, "{created}");
    let grant = |username: &str, password: &str| json!({"grant_type": "password", "username": username, "password": password});
    let path = "/demo-org/demo-app/token";
    let keyless = send(
        &env,
        request("POST", path, None, Some(grant("keyless", ""))),
    )
    .await;
    assert_eq!(
        keyless.0, 400,
        "an empty password is refused before any lookup"
    );
    let keyless = send(
        &env,
        request("POST", path, None, Some(grant("keyless", "x"))),
    )
    .await;
    let wrong = send(&env, request("POST", path, None, Some(grant("alice", "x")))).await;
    assert_eq!(keyless, wrong, "the same answer as a wrong password");
    let user = env
        .store
        .find_user("demo", &LoginKey::Username("keyless".into()))
        .await
        .unwrap()
        .unwrap();
    let account = LockSubject::Account {
        app_id: "demo".into(),
        user_id: user.user_id,
    };
    assert_eq!(
        env.store.lock_state(&account).await.unwrap().failures,
        1,
        "counted"
    );
    let (status, body) = login(&env, user.user_id, "x").await;
    assert_eq!(status, 401, "the vendor login routes too: {body}");
}

#[tokio::test]
async fn register_get_and_the_batch_report_taken_usernames_in_easemobs_shapes() {
    let env = env().await;
    let admin = demo_token(&env).await;
    let (status, body) = send(&env, event("user-admin/register.json", &admin)).await;
    assert_eq!(status, 200, "{body}");
    for field in [
        "action",
        "application",
        "path",
        "uri",
        "entities",
        "timestamp",
        "duration",
        "organization",
        "applicationName",
    ] {
        assert!(body.get(field).is_some(), "{field} missing in {body}");
    }
    assert_eq!(body["action"], "post");
    assert_eq!(body["organization"], "demo-org");
    assert_eq!(body["applicationName"], "demo-app");
    assert_eq!(
        body["uri"],
        "https://api.example.com/demo-org/demo-app/users"
    );
    assert_eq!(body["entities"][0]["username"], "dave");
    let (status, body) = send(&env, event("user-admin/register.json", &admin)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "duplicate_unique_property_exists");
    let (status, body) = send(&env, event("user-admin/register-batch.json", &admin)).await;
    assert_eq!(status, 200, "{body}");
    let created: Vec<&str> = body["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(created, ["erin"]);
    assert_eq!(body["data"][0]["username"], "alice");
    let (status, _) = login(&env, 10001, "alice-password").await;
    assert_eq!(status, 200, "alice is untouched by the refused entry");
    let too_many: Vec<Value> = (0..61)
        .map(|i| json!({"username": format!("u{i}"), "password": "p"}))
        .collect();
    let (status, body) = send(
        &env,
        request(
            "POST",
            "/demo-org/demo-app/users",
            Some(&admin),
            Some(json!(too_many)),
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("illegal_argument")),
        "{body}"
    );
    let half_bad =
        json!([{"username": "fine", "password": "p"}, {"username": "12345", "password": "p"}]);
    let (status, _) = send(
        &env,
        request(
            "POST",
            "/demo-org/demo-app/users",
            Some(&admin),
            Some(half_bad),
        ),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        &env,
        request("GET", "/demo-org/demo-app/users/fine", Some(&admin), None),
    )
    .await;
    assert_eq!(status, 404, "a refused batch creates nobody");
    let (status, body) = send(&env, event("user-admin/get.json", &admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entities"][0]["username"], "alice");
    assert!(!body.to_string().contains("argon2"), "no hash in {body}");
    let (status, body) = send(&env, event("user-admin/get-unknown.json", &admin)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("service_resource_not_found"))
    );
    let (status, body) = send(&env, event("user-admin/register-no-token.json", &admin)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let strict = app_token(&env, "strict-org", "strict-app", "strict").await;
    let (status, _) = send(&env, event("user-admin/get.json", &strict)).await;
    assert_eq!(status, 401, "another app's token");
    let numeric = json!({"username": "nums", "password": 987_654_321});
    let (status, body) = send(
        &env,
        request(
            "POST",
            "/demo-org/demo-app/users",
            Some(&admin),
            Some(numeric),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        !body.to_string().contains("987654321"),
        "a password is never echoed: {body}"
    );
}

#[tokio::test]
async fn password_reset_ban_and_disconnect_end_older_tokens() {
    let env = env().await;
    let admin = demo_token(&env).await;
    let (_, alice) = login(&env, 10001, "alice-password").await;
    let old = alice["data"]["token"].as_str().unwrap().to_owned();
    let old_refresh = support::refresh_token(&alice);
    env.clock.advance_ms(5);
    let (status, body) = send(&env, event("user-admin/password.json", &admin)).await;
    assert_eq!(status, 200, "{body}");
    assert!(!access_is_valid(&env, &old).await, "old tokens refused");
    assert_eq!(support::refresh(&env, &old_refresh).await.0, 401);
    assert_eq!(login(&env, 10001, "alice-password").await.0, 401);
    let (status, fresh) = login(&env, 10001, "alice-new-password").await;
    assert_eq!(status, 200, "{fresh}");
    let fresh = fresh["data"]["token"].as_str().unwrap().to_owned();

    env.clock.advance_ms(5);
    let (status, body) = send(&env, event("user-admin/disconnect.json", &admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"], true);
    assert!(
        !access_is_valid(&env, &fresh).await,
        "logged out everywhere"
    );

    env.clock.advance_ms(5);
    let (status, body) = send(&env, event("user-admin/deactivate.json", &admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entities"][0]["activated"], false);
    assert_eq!(
        login(&env, 10001, "alice-new-password").await.0,
        403,
        "banned"
    );
    let (status, body) = send(
        &env,
        request(
            "POST",
            "/demo-org/demo-app/users/alice/activate",
            Some(&admin),
            None,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entities"][0]["activated"], true);
    assert_eq!(login(&env, 10001, "alice-new-password").await.0, 200);
    let (status, body) = send(&env, event("user-admin/activate.json", &admin)).await;
    assert_eq!(status, 200, "bob unbanned: {body}");
    assert_eq!(login(&env, 10002, "bob-password").await.0, 200);
    // Every change is audited with the admin and the user; reads are not.
    let audited: Vec<(&str, Option<i64>)> = env
        .audit
        .events()
        .iter()
        .map(|e| (e.event, e.target_user))
        .collect();
    assert_eq!(
        audited,
        [
            ("admin_user_password", Some(10001)),
            ("admin_user_disconnect", Some(10001)),
            ("admin_user_deactivate", Some(10001)),
            ("admin_user_activate", Some(10001)),
            ("admin_user_activate", Some(10002)),
        ]
    );
}

#[tokio::test]
async fn delete_removes_the_user_so_its_tokens_and_names_are_gone() {
    let env = env().await;
    let admin = demo_token(&env).await;
    let (_, c) = login(&env, 10003, "1").await;
    let token = c["data"]["token"].as_str().unwrap().to_owned();
    let (status, body) = send(&env, event("user-admin/delete.json", &admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["action"], "delete");
    assert_eq!(body["entities"][0]["username"], "c");
    assert!(!access_is_valid(&env, &token).await);
    assert_eq!(login(&env, 10003, "1").await.0, 401);
    let (status, _) = send(&env, event("user-admin/delete.json", &admin)).await;
    assert_eq!(status, 404, "already gone");
    let (status, body) = send(
        &env,
        request(
            "POST",
            "/demo-org/demo-app/users",
            Some(&admin),
            Some(json!({"username": "c", "password": "p"})),
        ),
    )
    .await;
    assert_eq!(status, 200, "the name is free again: {body}");
}
