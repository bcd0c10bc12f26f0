//! Refresh rotation with reuse detection, revocation, and account lockout, through the
//! handlers on the embedded store with an injected clock (no sleeping).

use std::sync::Arc;

use lambda_http::{Body, Request};
use serde_json::{Value, json};
use shared::auth::password::{PasswordHasher, PasswordPolicy};
use shared::auth::tokens::{KeySetDocument, TokenKeys};
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::http::{Route, Services, handle};
use shared::service::Crypto;
use shared::service::seed::SeedFile;
use shared::store::{EmbeddedStore, UserAdmin as _, UserChange};

fn repo_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

struct Env {
    services: Services,
    store: Arc<EmbeddedStore>,
    clock: Arc<ManualClock>,
}

async fn env() -> Env {
    let clock = Arc::new(ManualClock::at_ms(SystemClock.now_ms()));
    let crypto = Arc::new(Crypto {
        hasher: PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap(),
        tokens: TokenKeys::from_document(&KeySetDocument::generate(0).unwrap(), "imauth").unwrap(),
        clock: clock.clone(),
        key_refresh: None,
    });
    let seed = std::fs::read_to_string(repo_path("events/seed.json")).unwrap();
    let store = Arc::new(
        SeedFile::parse(&seed)
            .unwrap()
            .into_store(&crypto.hasher, clock.as_ref())
            .await
            .unwrap(),
    );
    Env {
        services: Services::over(store.clone(), crypto),
        store,
        clock,
    }
}

fn request(route: Route, headers: &[(&str, &str)], body: Value) -> Request {
    let path = match route {
        Route::AppToken => "/demo-org/demo-app/token",
        other => other.path(),
    };
    let mut req = http::Request::builder().method("POST").uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::Text(body.to_string())).unwrap()
}

async fn call(env: &Env, route: Route, headers: &[(&str, &str)], body: Value) -> (u16, Value) {
    let response = handle(&env.services, route, request(route, headers, body)).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

async fn login(env: &Env, user_id: i64, password: &str) -> (u16, Value) {
    call(
        env,
        Route::TokenId,
        &[("app_id", "demo")],
        json!({"user_id": user_id, "password": password}),
    )
    .await
}

async fn refresh(env: &Env, token: &str) -> (u16, Value) {
    call(
        env,
        Route::TokenRefresh,
        &[],
        json!({"refresh_token": token}),
    )
    .await
}

fn refresh_token(answer: &Value) -> String {
    answer["data"]["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token in {answer}"))
        .to_owned()
}

#[tokio::test]
async fn every_login_returns_a_refresh_token_that_rotates() {
    let env = env().await;
    let (status, first) = login(&env, 10001, "alice-password").await;
    assert_eq!(status, 200);
    let opener = refresh_token(&first);
    let refresh_expire = first["data"]["refresh_expire"].as_i64().unwrap();
    assert!(refresh_expire > first["data"]["expire"].as_i64().unwrap());

    let (status, second) = refresh(&env, &opener).await;
    assert_eq!(status, 200, "{second}");
    let rotated = refresh_token(&second);
    assert_ne!(rotated, opener);
    assert_eq!(second["data"]["user_id"], 10001);
    assert_eq!(second["data"]["id"], 10001);
    assert_eq!(second["data"]["reflash_key"], rotated.as_str());
    assert_eq!(second["data"]["time"], second["data"]["refresh_expire"]);
    assert_ne!(second["data"]["token"], first["data"]["token"]);

    // Seed 003's spelling works too, and each use rotates again.
    let (status, third) = call(
        &env,
        Route::TokenRefresh,
        &[],
        json!({"reflash_key": rotated}),
    )
    .await;
    assert_eq!(status, 200, "{third}");
    assert_ne!(refresh_token(&third), rotated);

    // The Easemob route returns one as well.
    let (status, easemob) = call(
        &env,
        Route::AppToken,
        &[],
        json!({"grant_type": "password", "username": "alice", "password": "alice-password"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(easemob["refresh_token"].as_str().is_some(), "{easemob}");
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    let env = env().await;
    let (_, first) = login(&env, 10001, "alice-password").await;
    let opener = refresh_token(&first);
    let (_, second) = refresh(&env, &opener).await;
    let rotated = refresh_token(&second);
    let (_, third) = refresh(&env, &rotated).await;
    let newest = refresh_token(&third);

    // `rotated` was already used: presenting it again is reuse.
    let (status, body) = refresh(&env, &rotated).await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("already used"),
        "{body}"
    );
    // ... and the family is dead, including the newest token.
    assert_eq!(refresh(&env, &newest).await.0, 401);
    // Reusing the login's opener is reuse too.
    let (_, other) = login(&env, 10001, "alice-password").await;
    let other_opener = refresh_token(&other);
    assert_eq!(refresh(&env, &other_opener).await.0, 200);
    assert_eq!(refresh(&env, &other_opener).await.0, 401);
    // Garbage and forgeries are plain 401s; a missing field is a 400.
    for bad in ["", "r.nope", "o.e30.AAAA", &"x".repeat(2000)] {
        assert_eq!(refresh(&env, bad).await.0, 401, "{bad:?}");
    }
    assert_eq!(call(&env, Route::TokenRefresh, &[], json!({})).await.0, 400);
}

#[tokio::test]
async fn refresh_after_ban_password_change_revoke_or_logout_everywhere_is_refused() {
    let env = env().await;
    let now = || env.clock.now_ms();

    let (_, a) = login(&env, 10001, "alice-password").await;
    env.clock.advance_secs(1);
    env.store
        .update_user("demo", 10001, &UserChange::Activated(false), now())
        .await
        .unwrap();
    assert_eq!(refresh(&env, &refresh_token(&a)).await.0, 401, "after ban");
    env.store
        .update_user("demo", 10001, &UserChange::Activated(true), now())
        .await
        .unwrap();
    env.clock.advance_ms(1);
    assert_eq!(
        refresh(&env, &refresh_token(&a)).await.0,
        401,
        "unban revives nothing"
    );

    let (status, b) = login(&env, 10001, "alice-password").await;
    assert_eq!(status, 200, "{b}");
    env.clock.advance_secs(1);
    let hash = PasswordHasher::new(PasswordPolicy::INSECURE_FAST)
        .unwrap()
        .hash(&shared::auth::password::Password::new("alice-password".into()).unwrap())
        .unwrap();
    env.store
        .update_user("demo", 10001, &UserChange::Password { hash }, now())
        .await
        .unwrap();
    assert_eq!(
        refresh(&env, &refresh_token(&b)).await.0,
        401,
        "after password change"
    );
    env.clock.advance_ms(1);

    let (_, c) = login(&env, 10001, "alice-password").await;
    let (status, _) = call(
        &env,
        Route::TokenRevoke,
        &[],
        json!({"refresh_token": refresh_token(&c)}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        refresh(&env, &refresh_token(&c)).await.0,
        401,
        "after revoke"
    );
    // A rotated token can be revoked too.
    let (_, d) = login(&env, 10001, "alice-password").await;
    let (_, d2) = refresh(&env, &refresh_token(&d)).await;
    assert_eq!(
        call(
            &env,
            Route::TokenRevoke,
            &[],
            json!({"refresh_token": refresh_token(&d2)})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        refresh(&env, &refresh_token(&d2)).await.0,
        401,
        "after revoking a rotated token"
    );

    // Logout everywhere: needs the access token; kills the access token and every family.
    let (_, e) = login(&env, 10001, "alice-password").await;
    let (_, f) = login(&env, 10001, "alice-password").await;
    let access = e["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&env, Route::TokenRevoke, &[], json!({"all": true}))
            .await
            .0,
        401
    );
    let (status, body) = call(
        &env,
        Route::TokenRevoke,
        &[("authorization", &format!("Bearer {access}"))],
        json!({"all": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        refresh(&env, &refresh_token(&e)).await.0,
        401,
        "after logout everywhere"
    );
    assert_eq!(
        refresh(&env, &refresh_token(&f)).await.0,
        401,
        "every session"
    );
    assert!(
        env.services.sessions.verify_access(&access).await.is_err(),
        "access token revoked"
    );
    // A login after the logout works again, even within the same second.
    env.clock.advance_ms(1);
    let (_, g) = login(&env, 10001, "alice-password").await;
    assert!(
        env.services
            .sessions
            .verify_access(g["data"]["token"].as_str().unwrap())
            .await
            .is_ok()
    );
    assert_eq!(refresh(&env, &refresh_token(&g)).await.0, 200);
}

#[tokio::test]
async fn expired_refresh_tokens_are_refused_even_if_still_stored() {
    let env = env().await;
    let (_, a) = login(&env, 10001, "alice-password").await;
    let (_, b) = refresh(&env, &refresh_token(&a)).await;
    let rotated = refresh_token(&b);
    let (_, c) = login(&env, 10001, "alice-password").await;
    env.clock
        .advance_secs(shared::auth::refresh::IDLE_LIFETIME_SECS + 1);
    // The rotated record is still in the store (nothing deletes it here), but expired.
    assert_eq!(refresh(&env, &rotated).await.0, 401);
    assert_eq!(
        refresh(&env, &refresh_token(&c)).await.0,
        401,
        "an expired opener"
    );
}

async fn wrong(env: &Env, how: usize) -> (u16, Value) {
    // Every way of naming alice, so the counter is shown to be per account.
    match how % 5 {
        0 => login(env, 10001, "wrong").await,
        1 => {
            call(
                env,
                Route::TokenUser,
                &[("app_id", "demo")],
                json!({"name": "ALICE", "password": "wrong"}),
            )
            .await
        }
        2 => {
            call(
                env,
                Route::TokenLogin,
                &[("app_id", "demo")],
                json!({"login_name": "+8613800000000", "password": "wrong"}),
            )
            .await
        }
        3 => {
            call(
                env,
                Route::TokenLogin,
                &[("app_id", "demo")],
                json!({"login_name": "alice@example.com", "password": "wrong"}),
            )
            .await
        }
        _ => {
            call(
                env,
                Route::AppToken,
                &[],
                json!({"grant_type": "password", "username": "alice", "password": "wrong"}),
            )
            .await
        }
    }
}

#[tokio::test]
async fn lockout_follows_the_schedule_step_by_step_across_identifiers() {
    let env = env().await;
    let (_, wrong_answer) = login(&env, 10001, "wrong").await; // failure 1
    for i in 1..4 {
        assert_eq!(wrong(&env, i).await.0, 401);
    }
    // Failures 1-4: the right password still works... but that would reset the count,
    // so check the lock only after the fifth failure, named by the Easemob route.
    let (status, body) = wrong(&env, 4).await; // failure 5 → locked for 1 s
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, locked) = login(&env, 10001, "alice-password").await;
    assert_eq!(status, 401, "locked: even the right password is refused");
    assert_eq!(locked, wrong_answer, "and the answer is the ordinary one");

    // Each lock is 2^(n-5) s; attempts while locked are not counted.
    for (failures, expected_lock_secs) in (5..).zip([1i64, 2, 4, 8, 16]) {
        for _ in 0..3 {
            assert_eq!(wrong(&env, failures).await.0 / 100, 4, "while locked");
        }
        env.clock.advance_secs(expected_lock_secs - 1);
        assert_eq!(
            login(&env, 10001, "alice-password").await.0,
            401,
            "still locked at {expected_lock_secs}-1 s"
        );
        env.clock.advance_secs(1);
        // Unlocked now: one more failure, which locks for twice as long.
        wrong(&env, failures).await;
    }
    // After 32 s of the last lock the right password works, and resets the count.
    env.clock.advance_secs(32);
    assert_eq!(login(&env, 10001, "alice-password").await.0, 200);
    for i in 0..4 {
        wrong(&env, i).await;
    }
    assert_eq!(
        login(&env, 10001, "alice-password").await.0,
        200,
        "four failures lock nothing"
    );
    // Other users are not affected by alice's failures.
    assert_eq!(login(&env, 10003, "1").await.0, 200);
}

#[tokio::test]
async fn locks_cap_at_fifteen_minutes_and_fifteen_quiet_minutes_reset_the_count() {
    let env = env().await;
    for i in 0..20 {
        wrong(&env, i).await;
        env.clock.advance_secs(901); // every attempt lands after any lock has ended...
    }
    // ...but each failure came >15 min after the previous one, so the count never grew.
    assert_eq!(login(&env, 10001, "alice-password").await.0, 200);

    // Now fail fast: 5 + 10 failures, waiting out each lock; the lock caps at 900 s.
    for i in 0..5 {
        wrong(&env, i).await;
    }
    for _ in 0..10 {
        env.clock.advance_secs(900);
        wrong(&env, 0).await;
    }
    env.clock.advance_secs(899);
    assert_eq!(
        login(&env, 10001, "alice-password").await.0,
        401,
        "locked up to 900 s"
    );
    env.clock.advance_secs(1);
    assert_eq!(
        login(&env, 10001, "alice-password").await.0,
        200,
        "never more than 900 s"
    );
}

#[tokio::test]
async fn unknown_users_cost_no_write_and_never_lock_anything() {
    let env = env().await;
    for _ in 0..10 {
        assert_eq!(login(&env, 424242, "wrong").await.0, 401);
    }
    assert_eq!(login(&env, 10001, "alice-password").await.0, 200);
}
