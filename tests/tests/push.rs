//! Push-token registration (docs/api.md, "Push tokens") on both stores: register,
//! re-register, move, cap eviction, unregister, list, every invalid field and auth
//! failure, and the race of two users registering one token on DynamoDB Local.

use std::sync::Arc;

use lambda_http::{Body, Request};
use serde_json::{Value, json};
use shared::auth::password::{Password, PasswordHasher, PasswordPolicy};
use shared::auth::tokens::{KeySetDocument, TokenKeys};
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::domain::{LoginKey, PushKind};
use shared::http::{Route, Services, handle};
use shared::service::provision::{NewApp, NewUser, build_app, build_user};
use shared::service::push::MAX_REGISTRATIONS_PER_KIND;
use shared::service::{Crypto, Lifetime, LoginRequest};
use shared::store::{AdminStore, ServiceStore};

trait AllStores: AdminStore + ServiceStore + 'static {}
impl<T: AdminStore + ServiceStore + 'static> AllStores for T {}

struct Env {
    services: Services,
    clock: Arc<ManualClock>,
    alice: String,
    carol: String,
    admin: String,
}

async fn env<S: AllStores>(store: Arc<S>) -> Env {
    let clock = Arc::new(ManualClock::at_ms(SystemClock.now_ms()));
    let crypto = Arc::new(Crypto {
        hasher: PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap(),
        tokens: TokenKeys::from_document(&KeySetDocument::generate(0).unwrap(), "imauth").unwrap(),
        clock: clock.clone(),
        key_refresh: None,
    });
    let (app, _) = build_app(NewApp {
        app_id: "demo".into(),
        client_id: Some("demo-client".into()),
        client_secret: Some("demo-client-secret-0123456789".into()),
        bundle_id: Some("com.example.default".into()),
        ..NewApp::default()
    })
    .unwrap();
    store.create_app(&app).await.unwrap();
    for (id, name) in [(10001, "alice"), (10003, "carol")] {
        let user = build_user(
            NewUser {
                app_id: "demo".into(),
                user_id: id,
                username: name.into(),
                phone: None,
                email: None,
                password: format!("{name}-password"),
                activated: Some(true),
            },
            &crypto.hasher,
            clock.as_ref(),
        )
        .unwrap();
        store.create_user(&user).await.unwrap();
    }
    let services = Services::over(store, crypto);
    let mut tokens = Vec::new();
    for (id, name) in [(10001, "alice"), (10003, "carol")] {
        let app = services.login.app("demo").await.unwrap();
        let grant = services
            .login
            .login(LoginRequest {
                app,
                key: LoginKey::UserId(id),
                password: Password::new(format!("{name}-password")).unwrap(),
                device_guid: Some(format!("{name}-phone")),
                device_proof: None,
                lifetime: Lifetime::AppDefault,
            })
            .await
            .unwrap();
        tokens.push(grant.tokens.token);
    }
    let app = services.login.app("demo").await.unwrap();
    let admin = services
        .login
        .app_token(
            &app,
            "demo-client",
            "demo-client-secret-0123456789",
            Lifetime::AppDefault,
        )
        .await
        .unwrap()
        .access_token;
    clock.advance_ms(1);
    Env {
        services,
        clock,
        alice: tokens[0].clone(),
        carol: tokens[1].clone(),
        admin,
    }
}

fn req(method: &str, route: Route, headers: &[(&str, &str)], body: Option<Value>) -> Request {
    let mut builder = http::Request::builder().method(method).uri(route.path());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    builder.body(body).unwrap()
}

async fn call(env: &Env, request: Request) -> (u16, Value) {
    let route = Route::for_path(request.uri().path()).unwrap();
    let response = handle(&env.services, route, request).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn register(env: &Env, token: &str, kind: Route, body: Value) -> (u16, Value) {
    call(
        env,
        req(
            "POST",
            kind,
            &[("authorization", &bearer(token))],
            Some(body),
        ),
    )
    .await
}

async fn list(env: &Env, token: &str, kind: Route) -> Vec<Value> {
    let (status, body) = call(
        env,
        req("GET", kind, &[("authorization", &bearer(token))], None),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

fn ring(push_token: &str, id: i64) -> Value {
    json!({"push_token": push_token, "language": "zh-CN", "id": id, "dev": 0,
           "os": "huawei", "os_token": "hw-1", "push_platform": "Huawei"})
}

async fn register_reregister_move_unregister_and_list<S: AllStores>(store: Arc<S>) {
    let env = env(store).await;
    let (status, body) = register(&env, &env.alice, Route::PushRing, ring("tok-1", 10001)).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["push_platform"], "HUAWEI", "canonical out");
    assert_eq!(data["os"], "HUAWEI");
    assert_eq!(data["id"], 10001);
    assert_eq!(data["bundleid"], "com.example.default", "the app's default");
    assert_eq!(data["kind"], "ring");
    let created = data["created"].as_i64().unwrap();

    // Re-registering is an update, not a duplicate.
    env.clock.advance_secs(5);
    let mut again = ring("tok-1", 10001);
    again["language"] = json!("en");
    let (status, body) = register(&env, &env.alice, Route::PushRing, again).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["created"], created);
    assert!(body["data"]["updated"].as_i64().unwrap() > created);
    let mine = list(&env, &env.alice, Route::PushRing).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["language"], "en");
    // The same token as a message token is a separate registration.
    assert_eq!(list(&env, &env.alice, Route::PushMessage).await.len(), 0);

    // Carol registers the same token: it moves to her (one device, one owner).
    let (status, _) = register(&env, &env.carol, Route::PushRing, ring("tok-1", 10003)).await;
    assert_eq!(status, 200);
    assert_eq!(list(&env, &env.alice, Route::PushRing).await.len(), 0);
    assert_eq!(list(&env, &env.carol, Route::PushRing).await.len(), 1);

    // Alice cannot unregister Carol's token; Carol can.
    let unregister = |token: &str| {
        req(
            "DELETE",
            Route::PushRing,
            &[("authorization", &bearer(token))],
            Some(json!({"push_token": "tok-1", "push_platform": "HUAWEI"})),
        )
    };
    assert_eq!(call(&env, unregister(&env.alice)).await.0, 404);
    let (status, body) = call(&env, unregister(&env.carol)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["push_token"], "tok-1");
    assert_eq!(list(&env, &env.carol, Route::PushRing).await.len(), 0);
    assert_eq!(
        call(&env, unregister(&env.carol)).await.0,
        404,
        "already gone"
    );
}

async fn the_cap_evicts_the_oldest<S: AllStores>(store: Arc<S>) {
    let env = env(store).await;
    for i in 0..MAX_REGISTRATIONS_PER_KIND + 2 {
        env.clock.advance_secs(1);
        let body = json!({"push_token": format!("m-{i}"), "language": "en", "id": 10001});
        let (status, answer) = register(&env, &env.alice, Route::PushMessage, body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let mine = list(&env, &env.alice, Route::PushMessage).await;
    assert_eq!(mine.len(), MAX_REGISTRATIONS_PER_KIND);
    let tokens: Vec<&str> = mine
        .iter()
        .map(|r| r["push_token"].as_str().unwrap())
        .collect();
    assert!(
        !tokens.contains(&"m-0") && !tokens.contains(&"m-1"),
        "oldest evicted: {tokens:?}"
    );
    assert!(tokens.contains(&"m-11"));
    // Refreshing an old one makes it the newest: the next eviction takes m-3, not m-2.
    env.clock.advance_secs(1);
    register(
        &env,
        &env.alice,
        Route::PushMessage,
        json!({"push_token": "m-2", "language": "en", "id": 10001}),
    )
    .await;
    env.clock.advance_secs(1);
    register(
        &env,
        &env.alice,
        Route::PushMessage,
        json!({"push_token": "m-12", "language": "en", "id": 10001}),
    )
    .await;
    let tokens: Vec<String> = list(&env, &env.alice, Route::PushMessage)
        .await
        .iter()
        .map(|r| r["push_token"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        tokens.contains(&"m-2".to_owned()) && !tokens.contains(&"m-3".to_owned()),
        "{tokens:?}"
    );
    // Ring registrations have their own cap.
    assert_eq!(list(&env, &env.alice, Route::PushRing).await.len(), 0);
}

async fn invalid_bodies_and_auth_failures_are_4xx<S: AllStores>(store: Arc<S>) {
    let env = env(store).await;
    let base = json!({"push_token": "t", "language": "en", "id": 10001});
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        if value.is_null() {
            b.as_object_mut().unwrap().remove(field);
        } else {
            b[field] = value;
        }
        b
    };
    let cases = [
        (with("push_token", Value::Null), 400, "push_token"),
        (with("push_token", json!("")), 400, "push_token"),
        (
            with("push_token", json!("x".repeat(513))),
            400,
            "push_token",
        ),
        (with("push_token", json!("has space")), 400, "push_token"),
        (with("push_token", json!(7)), 400, "push_token"),
        (with("language", Value::Null), 400, "language"),
        (with("language", json!("english please")), 400, "language"),
        (with("id", Value::Null), 400, "id"),
        (with("id", json!("ten")), 400, "id"),
        (with("id", json!(10003)), 403, "own user id"),
        (with("dev", json!(2)), 400, "dev"),
        (with("dev", json!("x")), 400, "dev"),
        (with("bundleid", json!("not a bundle")), 400, "bundleid"),
        (
            with("bundleid", json!("x".repeat(300) + ".y")),
            400,
            "bundleid",
        ),
        (with("os", json!("symbian")), 400, "os"),
        (
            with("push_platform", json!("BLACKBERRY")),
            400,
            "push_platform",
        ),
        (with("push_platform", json!("FCM")), 400, "os_token"),
        (with("os", json!("xiaomi")), 400, "os_token"),
    ];
    for (body, status, mention) in cases {
        let (got, answer) = register(&env, &env.alice, Route::PushRing, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(mention),
            "{body}: {answer}"
        );
    }
    // Unknown fields are ignored.
    let (status, _) = register(
        &env,
        &env.alice,
        Route::PushRing,
        with("colour", json!("red")),
    )
    .await;
    assert_eq!(status, 200);

    let store_token = {
        let app = env.services.login.app("demo").await.unwrap();
        let grant = env
            .services
            .login
            .login(LoginRequest {
                app,
                key: LoginKey::UserId(10001),
                password: Password::new("alice-password".into()).unwrap(),
                device_guid: None,
                device_proof: None,
                lifetime: Lifetime::AppDefault,
            })
            .await
            .unwrap();
        grant.tokens.store_token
    };
    let auth_cases: Vec<(Vec<(&str, String)>, u16)> = vec![
        (vec![], 401),
        (vec![("authorization", "Basic abc".into())], 401),
        (vec![("authorization", "Bearer not.a.jwt".into())], 401),
        (vec![("authorization", bearer(&store_token))], 401),
        (
            vec![
                ("authorization", bearer(&env.alice)),
                ("user_id", "10003".into()),
            ],
            403,
        ),
        (vec![("access-token", env.admin.clone())], 403),
    ];
    for (headers, status) in auth_cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (got, answer) = call(
            &env,
            req("POST", Route::PushRing, &headers, Some(base.clone())),
        )
        .await;
        assert_eq!(got, status, "{headers:?}: {answer}");
    }
    // The admin acting for a user may register for that user.
    let mut for_carol = base.clone();
    for_carol["id"] = json!(10003);
    let (status, answer) = call(
        &env,
        req(
            "POST",
            Route::PushRing,
            &[("access-token", &env.admin), ("user_id", "10003")],
            Some(for_carol),
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // A revoked access token (logout everywhere) is refused.
    let alice = env
        .services
        .login
        .store()
        .find_user("demo", &LoginKey::UserId(10001))
        .await
        .unwrap()
        .unwrap();
    env.services
        .sessions
        .logout_everywhere(&alice)
        .await
        .unwrap();
    assert_eq!(
        register(&env, &env.alice, Route::PushRing, base.clone())
            .await
            .0,
        401
    );
    assert_eq!(
        call(&env, req("PUT", Route::PushRing, &[], None)).await.0,
        405
    );
}

async fn two_users_racing_for_one_token_leave_one_owner<S: AllStores>(store: Arc<S>) {
    let env = Arc::new(env(store).await);
    for round in 0..5 {
        let token = format!("race-{round}");
        let mut tasks = Vec::new();
        for (user_token, id) in [(env.alice.clone(), 10001), (env.carol.clone(), 10003)] {
            let env = env.clone();
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let body = json!({"push_token": token, "language": "en", "id": id});
                register(&env, &user_token, Route::PushRing, body).await.0
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 200);
        }
        let alice_has = list(&env, &env.alice, Route::PushRing)
            .await
            .iter()
            .filter(|r| r["push_token"] == token.as_str())
            .count();
        let carol_has = list(&env, &env.carol, Route::PushRing)
            .await
            .iter()
            .filter(|r| r["push_token"] == token.as_str())
            .count();
        assert_eq!(
            alice_has + carol_has,
            1,
            "round {round}: exactly one owner, no duplicate"
        );
        let stored = env
            .services
            .push
            .store()
            .user_push_registrations(
                "demo",
                if alice_has == 1 { 10001 } else { 10003 },
                PushKind::Ring,
            )
            .await
            .unwrap();
        assert_eq!(stored.iter().filter(|r| r.push_token == token).count(), 1);
    }
}

integration::on_both_stores!(
    register_reregister_move_unregister_and_list,
    the_cap_evicts_the_oldest,
    invalid_bodies_and_auth_failures_are_4xx,
    two_users_racing_for_one_token_leave_one_owner,
);
