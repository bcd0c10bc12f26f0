//! Account lockout and device proofs through the handlers, step by step on the embedded
//! store with an injected clock. The same rules under parallel bursts, on both stores,
//! are in the integration crate (tests/tests/lockout_burst.rs).

mod support;

use serde_json::{Value, json};
use shared::auth::lockout::{LockSubject, MAX_LOCK_MS};
use shared::auth::password::Password;
use shared::clock::Clock as _;
use shared::domain::LoginKey;
use shared::http::Route;
use shared::store::{LockoutStore as _, UserAdmin as _, UserChange};
use support::{Env, call, env, login, wrong};

const RIGHT: &str = "alice-password";

async fn on_device(env: &Env, password: &str, guid: &str, proof: Option<&str>) -> (u16, Value) {
    let mut body = json!({"user_id": 10001, "password": password, "device_guid": guid});
    if let Some(proof) = proof {
        body["device_proof"] = json!(proof);
    }
    call(env, Route::TokenId, &[("app_id", "demo")], body).await
}

fn proof_of(answer: &Value) -> String {
    answer["data"]["device_proof"]
        .as_str()
        .unwrap_or_else(|| panic!("no device proof in {answer}"))
        .to_owned()
}

#[tokio::test]
async fn lockout_follows_the_schedule_step_by_step_across_identifiers() {
    let env = env().await;
    let (_, wrong_answer) = login(&env, 10001, "wrong").await; // failure 1
    for i in 1..4 {
        assert_eq!(wrong(&env, i).await.0, 401);
    }
    let (status, body) = wrong(&env, 4).await; // failure 5, by the Easemob route
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, locked) = login(&env, 10001, RIGHT).await;
    assert_eq!(status, 401, "locked: even the right password is refused");
    assert_eq!(locked, wrong_answer, "and the answer is the ordinary one");
    env.clock.advance_ms(999);
    assert_eq!(login(&env, 10001, RIGHT).await.0, 401, "locked for 1 s");
    env.clock.advance_ms(1);
    assert_eq!(login(&env, 10001, RIGHT).await.0, 200, "unlocked after 1 s");

    // The success reset the count: four failures lock nothing...
    for i in 0..4 {
        wrong(&env, i).await;
    }
    assert_eq!(
        login(&env, 10001, RIGHT).await.0,
        200,
        "four failures lock nothing"
    );
    // ...and failures while locked are counted: each one restarts a longer lock.
    for i in 0..5 {
        wrong(&env, i).await;
    }
    for (failures, lock_secs) in (6..).zip([2i64, 4, 8, 16]) {
        env.clock.advance_ms(500);
        wrong(&env, failures).await; // while still locked
        env.clock.advance_ms(lock_secs * 1000 - 1);
        assert_eq!(
            login(&env, 10001, RIGHT).await.0,
            401,
            "locked {lock_secs} s"
        );
        env.clock.advance_ms(1);
        if lock_secs == 16 {
            assert_eq!(login(&env, 10001, RIGHT).await.0, 200, "after 16 s");
        }
    }
    // Other users are not affected by alice's failures.
    assert_eq!(login(&env, 10003, "1").await.0, 200);
}

#[tokio::test]
async fn locks_cap_at_fifteen_minutes_and_fifteen_quiet_minutes_reset_the_count() {
    let env = env().await;
    for i in 0..20 {
        wrong(&env, i).await;
        env.clock.advance_secs(901); // each attempt comes after 15 quiet minutes...
    }
    // ...so the count never grew past one.
    assert_eq!(login(&env, 10001, RIGHT).await.0, 200);

    for i in 0..30 {
        wrong(&env, i).await;
    }
    env.clock.advance_secs(899);
    assert_eq!(login(&env, 10001, RIGHT).await.0, 401, "locked up to 900 s");
    env.clock.advance_secs(1);
    assert_eq!(
        login(&env, 10001, RIGHT).await.0,
        200,
        "never more than 900 s"
    );
}

#[tokio::test]
async fn unknown_names_are_counted_like_accounts_and_lock_nothing_else() {
    let env = env().await;
    for _ in 0..10 {
        assert_eq!(login(&env, 424242, "wrong").await.0, 401);
    }
    let tried = LockSubject::UnknownName {
        app_id: "demo".into(),
        key: LoginKey::UserId(424242),
    };
    assert_eq!(env.store.lock_state(&tried).await.unwrap().failures, 10);
    assert_eq!(login(&env, 10001, RIGHT).await.0, 200);
}

#[tokio::test]
async fn a_device_proof_gets_the_owner_past_a_lock_that_strangers_caused() {
    let env = env().await;
    let (status, first) = on_device(&env, RIGHT, "alice-phone", None).await;
    assert_eq!(status, 200);
    let proof = proof_of(&first);
    assert_eq!(
        login(&env, 10001, RIGHT).await.1["data"]["device_proof"],
        Value::Null
    );

    // 50 failures from clients without a proof: the account is locked.
    for i in 0..50 {
        assert_eq!(wrong(&env, i).await.0 / 100, 4);
    }
    assert_eq!(login(&env, 10001, RIGHT).await.0, 401, "account locked");
    assert_eq!(on_device(&env, RIGHT, "alice-phone", None).await.0, 401);

    // The owner's device with its proof: past the lock, and handed a fresh proof.
    let (status, answer) = on_device(&env, RIGHT, "alice-phone", Some(&proof)).await;
    assert_eq!(status, 200, "{answer}");
    let proof = proof_of(&answer);
    // The proof is bound to its device, user and purpose.
    assert_eq!(
        on_device(&env, RIGHT, "other-phone", Some(&proof)).await.0,
        401
    );
    let access_token = answer["data"]["token"].as_str().unwrap();
    assert_eq!(
        on_device(&env, RIGHT, "alice-phone", Some(access_token))
            .await
            .0,
        401
    );

    // Wrong passwords with the proof count against that device alone, and lock it.
    for _ in 0..5 {
        assert_eq!(
            on_device(&env, "wrong", "alice-phone", Some(&proof))
                .await
                .0,
            401
        );
    }
    let (status, _) = on_device(&env, RIGHT, "alice-phone", Some(&proof)).await;
    assert_eq!(status, 401, "the device is locked now");
    let device = LockSubject::Device {
        app_id: "demo".into(),
        user_id: 10001,
        device_guid: "alice-phone".into(),
    };
    assert_eq!(env.store.lock_state(&device).await.unwrap().failures, 5);
    env.clock.advance_ms(1000);
    let (status, answer) = on_device(&env, RIGHT, "alice-phone", Some(&proof)).await;
    assert_eq!(status, 200, "the device's own 1 s lock is over");
    let proof = proof_of(&answer);

    // A password change ends every proof issued before it.
    env.clock.advance_ms(1);
    env.store
        .update_user(
            "demo",
            10001,
            &UserChange::Password {
                hash: env
                    .services
                    .login
                    .crypto()
                    .hasher
                    .hash(&Password::new("new-password".into()).unwrap())
                    .unwrap(),
            },
            env.clock.now_ms(),
        )
        .await
        .unwrap();
    env.clock.advance_ms(1);
    let (status, _) = on_device(&env, "new-password", "alice-phone", Some(&proof)).await;
    assert_eq!(
        status, 401,
        "the old proof no longer gets past the account's lock"
    );
    env.clock.advance_ms(MAX_LOCK_MS);
    assert_eq!(
        on_device(&env, "new-password", "alice-phone", Some(&proof))
            .await
            .0,
        200
    );
}
