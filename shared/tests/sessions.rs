//! Refresh rotation with reuse detection and revocation, through the handlers on the
//! embedded store with an injected clock (no sleeping).

mod support;

use serde_json::json;
use shared::auth::password::{PasswordHasher, PasswordPolicy};
use shared::clock::Clock as _;
use shared::http::Route;
use shared::store::{UserAdmin as _, UserChange};
use support::{call, env, login, refresh, refresh_token};
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

    // The vendor push-token guide's spelling works too, and each use rotates again.
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
    // A malformed Authorization is refused, not ignored because the body names a
    // refresh token (openapi.yaml states the header's form; the session stays open).
    let (status, body) = call(
        &env,
        Route::TokenRevoke,
        &[("authorization", "Basic abc")],
        json!({"refresh_token": refresh_token(&c)}),
    )
    .await;
    assert_eq!(status, 401, "{body}");
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
    // A wrong-typed refresh field is a 400 even where `all` decides, and logs nobody out.
    let (status, body) = call(
        &env,
        Route::TokenRevoke,
        &[("authorization", &format!("Bearer {access}"))],
        json!({"all": true, "refresh_token": 5}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
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
