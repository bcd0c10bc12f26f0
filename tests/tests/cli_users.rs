//! The operator's user commands (`imauth user list|update|unlock|logout|delete`) and
//! Easemob's user routes through `imauth serve` on DynamoDB Local: each command's effect
//! is read back through the store or seen by a running server.

use std::net::SocketAddr;

use integration::client::request;
use integration::dynamo::{fresh_store, items_naming};
use integration::operator::{args, run, serve_dynamodb};
use serde_json::{Value, json};
use shared::auth::lockout::LockSubject;
use shared::auth::password::{PasswordHasher, PasswordPolicy};
use shared::clock::{Clock as _, SystemClock};
use shared::domain::LoginKey;
use shared::service::provision::{NewUser, build_user};
use shared::store::{CredentialLookup as _, DynamoStore, LockoutStore as _, UserAdmin as _};

/// A fresh table with app `shop` (Easemob path `/shop/shop`), and what `app create`
/// printed for it (the client id and the secret, shown once).
async fn shop() -> (DynamoStore, Value) {
    let (store, _) = fresh_store().await.unwrap();
    let app = create_app(&store, "shop").await;
    (store, app)
}

async fn create_app(store: &DynamoStore, app_id: &str) -> Value {
    run(store.table(), &["app", "create", "--app-id", app_id], "")
        .await
        .ok()
        .json()
}

/// User `id` of `shop`, named `name`, password `pw-{id}`.
async fn add_user(
    store: &DynamoStore,
    id: i64,
    name: &str,
    phone: Option<&str>,
    email: Option<&str>,
) {
    let new = NewUser {
        app_id: "shop".into(),
        user_id: id,
        username: name.into(),
        phone: phone.map(Into::into),
        email: email.map(Into::into),
        password: format!("pw-{id}"),
        activated: None,
    };
    let hasher = PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap();
    let user = build_user(new, &hasher, &SystemClock).unwrap();
    store.create_user(&user).await.unwrap();
}

async fn user_command(
    store: &DynamoStore,
    command: &str,
    id: i64,
    extra: &[&str],
) -> integration::operator::Run {
    let id = id.to_string();
    let head = [
        "user",
        command,
        "--app-id",
        "shop",
        "--user-id",
        id.as_str(),
    ];
    run(store.table(), &args(&head, extra), "").await
}

async fn post(addr: SocketAddr, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
    call(addr, "POST", path, bearer, body.to_string().as_bytes()).await
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &[u8],
) -> (u16, Value) {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json"), ("app_id", "shop")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    let response = request(addr, method, path, &headers, body).await.unwrap();
    (response.status, response.json().unwrap())
}

/// The app token of the app `app create` printed as `app`, by the client-credentials
/// grant on its Easemob path (`/{app_id}/{app_id}/token`).
async fn app_token(addr: SocketAddr, app: &Value) -> String {
    let body = json!({
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
    });
    let app_id = app["app_id"].as_str().unwrap();
    let (status, answer) = post(addr, &format!("/{app_id}/{app_id}/token"), None, &body).await;
    assert_eq!(status, 200, "{answer}");
    answer["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn user_list_pages_through_the_apps_users() {
    let (store, _) = shop().await;
    for (id, name) in [(1, "ann"), (2, "ben"), (3, "cat")] {
        add_user(&store, id, name, None, None).await;
    }
    let first = user_list(&store, &["--limit", "2"]).await;
    assert_eq!(first["users"].as_array().unwrap().len(), 2, "{first}");
    let next = first["next"].as_str().expect("a cursor").to_owned();
    let second = user_list(&store, &["--limit", "2", "--after", &next]).await;
    assert_eq!(second["users"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["next"], Value::Null);
    let mut ids: Vec<i64> = [&first, &second]
        .iter()
        .flat_map(|page| {
            page["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["user_id"].as_i64().unwrap())
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);
    assert!(!first.to_string().contains("argon2"), "no hash listed");
    run(
        store.table(),
        &["user", "list", "--app-id", "shop", "--limit", "0"],
        "",
    )
    .await
    .fails_with("limit must be 1 to 100");
}

async fn user_list(store: &DynamoStore, extra: &[&str]) -> Value {
    let head = ["user", "list", "--app-id", "shop"];
    run(store.table(), &args(&head, extra), "")
        .await
        .ok()
        .json()
}

#[tokio::test]
async fn user_update_changes_phone_and_email_unique_as_at_creation() {
    let (store, _) = shop().await;
    add_user(&store, 1, "ann", Some("+15550101"), Some("ann@example.com")).await;
    add_user(&store, 2, "ben", None, None).await;
    user_command(&store, "update", 2, &["--phone", "+1 555 0101"])
        .await
        .fails_with("phone already taken");
    let updated = user_command(
        &store,
        "update",
        2,
        &["--phone", "+1 555-0102", "--email", "Ben@Example.com"],
    )
    .await
    .ok()
    .json();
    assert_eq!(
        (updated["phone"].as_str(), updated["email"].as_str()),
        (Some("+15550102"), Some("ben@example.com"))
    );
    let by_phone = store
        .find_user("shop", &LoginKey::Phone("+15550102".into()))
        .await
        .unwrap();
    assert_eq!(by_phone.map(|u| u.user_id), Some(2));
    user_command(&store, "update", 1, &["--email", ""])
        .await
        .ok();
    assert!(
        store
            .find_user("shop", &LoginKey::Email("ann@example.com".into()))
            .await
            .unwrap()
            .is_none()
    );
    let ann = store
        .find_user("shop", &LoginKey::UserId(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ann.phone.as_deref(), ann.email),
        (Some("+15550101"), None),
        "the phone stays"
    );
    let none = user_command(&store, "update", 1, &[]).await;
    assert_eq!(none.code, 1, "{none:?}");
    assert!(none.stderr.contains("--phone"), "{none:?}");
}

#[tokio::test]
async fn user_unlock_ends_a_lockout() {
    let (store, _) = shop().await;
    add_user(&store, 1, "ann", None, None).await;
    let account = LockSubject::Account {
        app_id: "shop".into(),
        user_id: 1,
    };
    for _ in 0..7 {
        store
            .count_failure(&account, SystemClock.now_ms())
            .await
            .unwrap();
    }
    assert_eq!(store.lock_state(&account).await.unwrap().failures, 7);
    let (_server, addr) = serve_dynamodb(store.table()).await;
    let right = json!({"user_id": 1, "password": "pw-1"});
    let login = || post(addr, "/token/id", None, &right);
    assert_eq!(login().await.0, 401, "locked");
    user_command(&store, "unlock", 1, &[]).await.ok();
    assert_eq!(store.lock_state(&account).await.unwrap().failures, 0);
    let (status, body) = login().await;
    assert_eq!(status, 200, "unlocked: {body}");
}

#[tokio::test]
async fn user_logout_ends_every_session_in_a_running_server() {
    let (store, _) = shop().await;
    add_user(&store, 1, "ann", None, None).await;
    let (_server, addr) = serve_dynamodb(store.table()).await;
    let (status, login) = post(
        addr,
        "/token/id",
        None,
        &json!({"user_id": 1, "password": "pw-1"}),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let token = login["data"]["token"].as_str().unwrap().to_owned();
    let list = || call(addr, "GET", "/v1/api/user/token", Some(&token), b"");
    assert_eq!(list().await.0, 200);
    let out = user_command(&store, "logout", 1, &[]).await.ok().json();
    assert!(out["tokens_valid_after"].as_i64().unwrap() > 0);
    assert_eq!(list().await.0, 401, "the old token is refused");
}

#[tokio::test]
async fn user_delete_leaves_nothing_behind() {
    let (store, _) = shop().await;
    add_user(
        &store,
        31,
        "dora",
        Some("+15550131"),
        Some("dora@example.com"),
    )
    .await;
    add_user(&store, 32, "eve", None, None).await;
    let (_server, addr) = serve_dynamodb(store.table()).await;
    // A session on a device, a rotated refresh token, a push registration, a failure.
    let (status, login) = post(
        addr,
        "/token/id",
        None,
        &json!({"user_id": 31, "password": "pw-31", "device_guid": "ios-dora"}),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let token = login["data"]["token"].as_str().unwrap().to_owned();
    let (status, refreshed) = post(
        addr,
        "/token/refresh",
        None,
        &json!({"refresh_token": login["data"]["refresh_token"]}),
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let push = json!({"push_token": "dora-push-1", "language": "en", "id": 31});
    let (status, body) = post(addr, "/v1/api/user/token", Some(&token), &push).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        post(
            addr,
            "/token/id",
            None,
            &json!({"user_id": 31, "password": "wrong"})
        )
        .await
        .0,
        401
    );
    let mut needles = vec!["dora".to_owned(), "+15550131".into(), "ios-dora".into()];
    let before = items_naming(&store, 31, &[]).await.unwrap();
    // The refresh token names its family, whose item names nothing else.
    needles.extend(
        before
            .iter()
            .filter_map(|item| {
                item.get("family")?
                    .as_m()
                    .ok()?
                    .get("family_id")?
                    .as_s()
                    .ok()
            })
            .cloned(),
    );
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let before = items_naming(&store, 31, &needles).await.unwrap();
    // 4 copies, the account's counter, the device, 2 push items, the family and its
    // first token, 2 index entries.
    assert_eq!(before.len(), 12, "{before:#?}");
    let deleted = user_command(&store, "delete", 31, &[]).await.ok().json();
    assert_eq!(deleted["username"], "dora");
    let left = items_naming(&store, 31, &needles).await.unwrap();
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert!(
        store
            .find_user("shop", &LoginKey::UserId(32))
            .await
            .unwrap()
            .is_some(),
        "eve stays"
    );
    user_command(&store, "delete", 31, &[])
        .await
        .fails_with("no user user_id 31 in app shop");
}

#[tokio::test]
async fn twenty_concurrent_registrations_of_one_username_have_one_winner() {
    let (store, app) = shop().await;
    let (_server, addr) = serve_dynamodb(store.table()).await;
    let admin = app_token(addr, &app).await;
    let body = json!({"username": "racer", "password": "racer-password"});
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (admin, body) = (admin.clone(), body.clone());
            tokio::spawn(async move { post(addr, "/shop/shop/users", Some(&admin), &body).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        match status {
            200 => created += 1,
            _ => assert_eq!(
                (status, answer["error"].as_str()),
                (400, Some("duplicate_unique_property_exists")),
                "{answer}"
            ),
        }
    }
    assert_eq!(created, 1);
    let racer = store
        .find_user("shop", &LoginKey::Username("racer".into()))
        .await
        .unwrap()
        .unwrap();
    assert!(racer.user_id > 0 && racer.user_id < 1 << 53);
}

#[tokio::test]
async fn inherit_through_serve_needs_this_apps_token_and_creates_password_less_users() {
    let (store, app) = shop().await;
    add_user(&store, 1, "ann", None, None).await;
    let other = create_app(&store, "other").await;
    let (_server, addr) = serve_dynamodb(store.table()).await;
    let admin = app_token(addr, &app).await;
    let inherit = |username: &str, create: bool| json!({"grant_type": "inherit", "username": username, "autoCreateUser": create});
    let path = "/shop/shop/token";
    let (status, ok) = post(addr, path, Some(&admin), &inherit("ann", false)).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["user"]["username"], "ann");
    let (status, body) = post(addr, path, Some(&admin), &inherit("newbie", false)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("service_resource_not_found"))
    );
    let (status, body) = post(addr, path, Some(&admin), &inherit("newbie", true)).await;
    assert_eq!(status, 200, "{body}");
    let user_token = ok["access_token"].as_str().unwrap();
    let (status, _) = post(addr, path, Some(user_token), &inherit("ann", false)).await;
    assert_eq!(status, 401, "a user token is refused");
    let other = app_token(addr, &other).await;
    let (status, _) = post(addr, path, Some(&other), &inherit("ann", false)).await;
    assert_eq!(status, 401, "another app's token is refused");
    let grant = |u: &str| json!({"grant_type": "password", "username": u, "password": "guess"});
    let newbie = post(addr, path, None, &grant("newbie")).await;
    let wrong = post(addr, path, None, &grant("ann")).await;
    assert_eq!(newbie.0, 400);
    assert_eq!(
        newbie, wrong,
        "a password-less user looks like a wrong password"
    );
}

/// Easemob's user routes on DynamoDB Local, through `imauth serve` (the handler tests run
/// the same sequence on the embedded store).
#[tokio::test]
async fn the_user_routes_on_dynamodb_register_get_reset_ban_disconnect_and_delete() {
    let (store, app) = shop().await;
    let (_server, addr) = serve_dynamodb(store.table()).await;
    let admin = app_token(addr, &app).await;
    let users = "/shop/shop/users";
    let one = json!({"username": "Gina", "password": "gina-1"});
    let (status, body) = post(addr, users, Some(&admin), &one).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entities"][0]["username"], "gina");
    let batch =
        json!([{"username": "hal", "password": "hal-1"}, {"username": "gina", "password": "x"}]);
    let (status, body) = post(addr, users, Some(&admin), &batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entities"][0]["username"], "hal");
    assert_eq!(body["data"][0]["username"], "gina");
    let (status, body) = call(addr, "GET", "/shop/shop/users/GINA", Some(&admin), b"").await;
    assert_eq!(
        (status, &body["entities"][0]["username"]),
        (200, &json!("gina")),
        "{body}"
    );
    let gina = store
        .find_user("shop", &LoginKey::Username("gina".into()))
        .await
        .unwrap()
        .unwrap();
    let login = |password: &'static str| {
        let body = json!({"grant_type": "password", "username": "gina", "password": password});
        async move { post(addr, "/shop/shop/token", None, &body).await }
    };
    let (status, first) = login("gina-1").await;
    assert_eq!(status, 200, "{first}");
    let token = first["access_token"].as_str().unwrap().to_owned();
    let list = |token: String| async move {
        call(addr, "GET", "/v1/api/user/token", Some(&token), b"")
            .await
            .0
    };
    assert_eq!(list(token.clone()).await, 200);

    let reset = json!({"newpassword": "gina-2"});
    let (status, body) = call(
        addr,
        "PUT",
        "/shop/shop/users/gina/password",
        Some(&admin),
        reset.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(list(token).await, 401, "old tokens refused after a reset");
    assert_eq!(login("gina-1").await.0, 400);
    let (status, second) = login("gina-2").await;
    assert_eq!(status, 200, "{second}");

    let (status, _) = post(
        addr,
        "/shop/shop/users/gina/deactivate",
        Some(&admin),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, banned) = login("gina-2").await;
    assert_eq!(
        (status, banned["error_description"].as_str()),
        (400, Some("user not activated"))
    );
    let (status, _) = post(
        addr,
        "/shop/shop/users/gina/activate",
        Some(&admin),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, third) = login("gina-2").await;
    assert_eq!(status, 200, "{third}");
    let token = third["access_token"].as_str().unwrap().to_owned();
    let (status, body) = call(
        addr,
        "GET",
        "/shop/shop/users/gina/disconnect",
        Some(&admin),
        b"",
    )
    .await;
    assert_eq!(
        (status, &body["data"]["result"]),
        (200, &json!(true)),
        "{body}"
    );
    assert_eq!(list(token).await, 401, "logged out everywhere");

    let (status, body) = call(addr, "DELETE", "/shop/shop/users/gina", Some(&admin), b"").await;
    assert_eq!(status, 200, "{body}");
    let left = items_naming(&store, gina.user_id, &["gina"]).await.unwrap();
    assert!(left.is_empty(), "left behind: {left:#?}");
    let (status, body) = call(addr, "GET", "/shop/shop/users/gina", Some(&admin), b"").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("service_resource_not_found"))
    );
}
