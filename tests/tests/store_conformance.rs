//! One conformance suite for the store traits, run against the embedded store and
//! against DynamoDB Local (a fresh table per test). Both must behave identically.

use std::sync::Arc;

use shared::auth::password::{Password, PasswordHasher, PasswordPolicy};
use shared::clock::SystemClock;
use shared::domain::{App, LoginKey, User};
use shared::error::Error;
use shared::service::provision::{NewApp, NewUser, build_app, build_user};
use shared::store::{AdminStore, AppChange, AppSettings, UserChange};

type Store = Arc<dyn AdminStore>;

fn hasher() -> PasswordHasher {
    PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap()
}

fn app(app_id: &str) -> App {
    build_app(NewApp {
        app_id: app_id.into(),
        org_name: Some(format!("{app_id}-org")),
        app_name: Some(format!("{app_id}-app")),
        ..NewApp::default()
    })
    .unwrap()
    .0
}

fn user(
    app_id: &str,
    user_id: i64,
    username: &str,
    phone: Option<&str>,
    email: Option<&str>,
) -> User {
    build_user(
        NewUser {
            app_id: app_id.into(),
            user_id,
            username: username.into(),
            phone: phone.map(Into::into),
            email: email.map(Into::into),
            password: format!("pw-{user_id}"),
            activated: None,
        },
        &hasher(),
        &SystemClock,
    )
    .unwrap()
}

fn all_keys(u: &User) -> Vec<LoginKey> {
    let mut keys = vec![
        LoginKey::UserId(u.user_id),
        LoginKey::Username(u.username.clone()),
    ];
    keys.extend(u.phone.clone().map(LoginKey::Phone));
    keys.extend(u.email.clone().map(LoginKey::Email));
    keys
}

async fn found(store: &Store, app_id: &str, key: &LoginKey) -> Option<User> {
    store.find_user(app_id, key).await.unwrap()
}

fn conflict_on(result: Result<impl std::fmt::Debug, Error>, field: &str) {
    match result {
        Err(Error::Conflict(message)) => {
            assert!(message.contains(field), "{message:?} should name {field}")
        }
        other => panic!("expected a conflict on {field}, got {other:?}"),
    }
}

async fn apps_by_id_and_by_name(store: Store) {
    let a = app("a1");
    store.create_app(&a).await.unwrap();
    assert_eq!(store.app_by_id("a1").await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.app_by_name("a1-org", "a1-app").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.app_by_id("nope").await.unwrap(), None);
    assert_eq!(store.app_by_name("a1-org", "other").await.unwrap(), None);
    conflict_on(store.create_app(&a).await, "app_id");
    let mut same_name = app("a2");
    same_name.org_name = "a1-org".into();
    same_name.app_name = "a1-app".into();
    conflict_on(store.create_app(&same_name).await, "app_name");
    assert_eq!(
        store.app_by_id("a2").await.unwrap(),
        None,
        "nothing half-written"
    );
}

async fn app_changes_reach_both_copies_at_once(store: Store) {
    let a = app("a1");
    store.create_app(&a).await.unwrap();
    let change = |hash: &str| AppChange::ClientSecret { hash: hash.into() };
    let changed = store
        .update_app("a1", &change("sha256:new"), 5_000)
        .await
        .unwrap();
    assert_eq!(
        (
            changed.client_secret_hash.as_str(),
            changed.app_tokens_valid_after,
            changed.revision
        ),
        ("sha256:new", 5_000, 1)
    );
    let by_id = store.app_by_id("a1").await.unwrap().unwrap();
    let by_name = store
        .app_by_name("a1-org", "a1-app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_id, changed);
    assert_eq!(by_name, changed);
    // Revocation never moves back, even with an older clock.
    let again = store
        .update_app("a1", &change("sha256:newer"), 4_000)
        .await
        .unwrap();
    assert_eq!((again.app_tokens_valid_after, again.revision), (5_000, 2));
    assert_eq!(
        store.app_by_name("a1-org", "a1-app").await.unwrap(),
        Some(again)
    );
    assert!(matches!(
        store.update_app("nope", &change("sha256:x"), 1).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        store.app_by_id("nope").await.unwrap(),
        None,
        "nothing created"
    );

    // Concurrent changes each apply to what the others left: none is lost.
    let rotations = (0..4).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .update_app("a1", &change(&format!("sha256:{i}")), 6_000 + i)
                .await
        })
    });
    let outcomes = futures_join(rotations).await;
    let applied = outcomes.iter().filter(|o| o.is_ok()).count() as i64;
    for outcome in &outcomes {
        assert!(
            matches!(outcome, Ok(_) | Err(Error::Unavailable(_))),
            "{outcome:?}"
        );
    }
    let last = store.app_by_id("a1").await.unwrap().unwrap();
    assert_eq!(last.revision, 2 + applied);
    assert!(applied >= 1);
    assert_eq!(
        store.app_by_name("a1-org", "a1-app").await.unwrap(),
        Some(last)
    );
}

async fn apps_are_listed_a_page_at_a_time(store: Store) {
    for id in ["c", "a", "e", "b", "d"] {
        store.create_app(&app(id)).await.unwrap();
    }
    let ids = |apps: &[App]| apps.iter().map(|a| a.app_id.clone()).collect::<Vec<_>>();
    let (first, next) = store.list_apps(None, 2).await.unwrap();
    assert_eq!(
        (ids(&first), next.as_deref()),
        (vec!["a".into(), "b".into()], Some("b"))
    );
    let (second, next) = store.list_apps(next.as_deref(), 2).await.unwrap();
    assert_eq!(
        (ids(&second), next.as_deref()),
        (vec!["c".into(), "d".into()], Some("d"))
    );
    let (last, next) = store.list_apps(next.as_deref(), 2).await.unwrap();
    assert_eq!((ids(&last), next), (vec!["e".to_owned()], None));
    // A page that holds exactly what is left is the last one.
    let (all, next) = store.list_apps(None, 5).await.unwrap();
    assert_eq!((all.len(), next), (5, None));
    // The listed copy follows every change.
    let changed = store
        .update_app(
            "c",
            &AppChange::ClientSecret {
                hash: "sha256:c2".into(),
            },
            9,
        )
        .await
        .unwrap();
    let (page, _) = store.list_apps(Some("b"), 1).await.unwrap();
    assert_eq!(page, vec![changed]);
}

async fn app_settings_keep_the_rules_of_creation_even_when_changed_at_once(store: Store) {
    store.create_app(&app("s")).await.unwrap();
    let settings = |token_ttl, max_token_ttl| {
        AppChange::Settings(AppSettings {
            token_ttl,
            max_token_ttl,
            ..AppSettings::default()
        })
    };
    let changed = store
        .update_app("s", &settings(Some(3_600), Some(7_200)), 1)
        .await
        .unwrap();
    assert_eq!((changed.token_ttl, changed.max_token_ttl), (3_600, 7_200));
    assert!(matches!(
        store.update_app("s", &settings(Some(7_201), None), 2).await,
        Err(Error::BadRequest(_))
    ));
    assert_eq!(store.app_by_id("s").await.unwrap(), Some(changed.clone()));
    // Each change alone keeps token_ttl <= max_token_ttl; together they would not. The
    // one applied second is judged against the first's result and refused.
    let raise_ttl = settings(Some(7_000), None);
    let lower_cap = settings(None, Some(5_000));
    let outcomes = futures_join([raise_ttl, lower_cap].into_iter().map(|change| {
        let store = store.clone();
        tokio::spawn(async move { store.update_app("s", &change, 3).await })
    }))
    .await;
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::BadRequest(_))))
        .count();
    assert_eq!(refused, 1, "{outcomes:?}");
    let now = store.app_by_id("s").await.unwrap().unwrap();
    assert!(now.token_ttl <= now.max_token_ttl, "{now:?}");
    assert_eq!(now.revision, changed.revision + 1);
    assert_eq!(
        store.app_by_name("s-org", "s-app").await.unwrap(),
        Some(now)
    );
}

async fn futures_join<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        results.push(task.await.unwrap());
    }
    results
}

async fn every_login_key_finds_the_user_in_its_app_only(store: Store) {
    store.create_app(&app("a")).await.unwrap();
    store.create_app(&app("b")).await.unwrap();
    let u = user(
        "a",
        1,
        "alice",
        Some("+8613800000000"),
        Some("alice@example.com"),
    );
    store.create_user(&u).await.unwrap();
    for key in all_keys(&u) {
        assert_eq!(found(&store, "a", &key).await.as_ref(), Some(&u), "{key:?}");
        assert_eq!(
            found(&store, "b", &key).await,
            None,
            "{key:?} leaked across apps"
        );
    }
    assert_eq!(found(&store, "a", &LoginKey::UserId(2)).await, None);
    assert_eq!(
        found(&store, "a", &LoginKey::Username("bob".into())).await,
        None
    );
    // The same names are free in another app.
    let in_b = user(
        "b",
        1,
        "alice",
        Some("+8613800000000"),
        Some("alice@example.com"),
    );
    store.create_user(&in_b).await.unwrap();
}

async fn uniqueness_is_per_field_and_nothing_is_half_written(store: Store) {
    store.create_app(&app("a")).await.unwrap();
    let first = user("a", 1, "alice", Some("+100000001"), Some("a@x.io"));
    store.create_user(&first).await.unwrap();
    let cases = [
        (user("a", 1, "other", None, None), "user_id"),
        (user("a", 2, "ALICE", Some("+100000002"), None), "username"),
        (
            user("a", 3, "carol", Some("+100000001"), Some("c@x.io")),
            "phone",
        ),
        (
            user("a", 4, "dave", Some("+100000004"), Some("A@X.io")),
            "email",
        ),
    ];
    for (candidate, field) in cases {
        conflict_on(store.create_user(&candidate).await, field);
        // None of the candidate's other keys may exist afterwards.
        assert_eq!(
            found(&store, "a", &LoginKey::UserId(candidate.user_id))
                .await
                .map(|u| u.username),
            (candidate.user_id == 1).then(|| "alice".to_owned())
        );
        for key in all_keys(&candidate).into_iter().skip(1) {
            if let Some(existing) = found(&store, "a", &key).await {
                assert_eq!(existing.user_id, 1, "{key:?} half-written for {field}");
            }
        }
    }
}

async fn password_ban_and_contact_changes_reach_every_copy(store: Store) {
    store.create_app(&app("a")).await.unwrap();
    let u = user("a", 1, "alice", Some("+100000001"), Some("a@x.io"));
    store.create_user(&u).await.unwrap();
    let h = hasher();
    let hash = h
        .hash(&Password::new("new-password".into()).unwrap())
        .unwrap();
    let now_ms = u.modified_ms + 5_000;
    let changed = store
        .update_user("a", 1, &UserChange::Password { hash: hash.clone() }, now_ms)
        .await
        .unwrap();
    assert_eq!(changed.revision, u.revision + 1);
    assert_eq!(
        changed.tokens_valid_after, now_ms,
        "tokens_valid_after is in ms"
    );
    for key in all_keys(&u) {
        let copy = found(&store, "a", &key).await.unwrap();
        assert_eq!(copy, changed, "{key:?} copy differs after password change");
        assert!(
            h.verify(
                &Password::new("new-password".into()).unwrap(),
                &copy.password_hash
            )
            .unwrap()
        );
    }

    let banned = store
        .update_user("a", 1, &UserChange::Activated(false), now_ms + 1000)
        .await
        .unwrap();
    assert!(!banned.activated);
    for key in all_keys(&u) {
        assert!(
            !found(&store, "a", &key).await.unwrap().activated,
            "{key:?}"
        );
    }
    let unbanned = store
        .update_user("a", 1, &UserChange::Activated(true), now_ms + 2000)
        .await
        .unwrap();
    assert!(unbanned.activated);
    assert_eq!(
        unbanned.tokens_valid_after, banned.tokens_valid_after,
        "unban revokes nothing"
    );
    for key in all_keys(&u) {
        assert!(found(&store, "a", &key).await.unwrap().activated, "{key:?}");
    }

    let moved = store
        .update_user(
            "a",
            1,
            &UserChange::Contact {
                phone: Some("+100000009".into()),
                email: None,
            },
            now_ms + 3000,
        )
        .await
        .unwrap();
    assert_eq!(
        found(&store, "a", &LoginKey::Phone("+100000001".into())).await,
        None
    );
    assert_eq!(
        found(&store, "a", &LoginKey::Email("a@x.io".into())).await,
        None
    );
    assert_eq!(
        found(&store, "a", &LoginKey::Phone("+100000009".into())).await,
        Some(moved.clone())
    );
    assert_eq!(
        found(&store, "a", &LoginKey::UserId(1)).await,
        Some(moved.clone())
    );

    // A contact change onto someone else's phone is refused and changes nothing.
    store
        .create_user(&user("a", 2, "bob", Some("+100000002"), None))
        .await
        .unwrap();
    conflict_on(
        store
            .update_user(
                "a",
                1,
                &UserChange::Contact {
                    phone: Some("+100000002".into()),
                    email: Some("new@x.io".into()),
                },
                now_ms + 4000,
            )
            .await,
        "phone",
    );
    assert_eq!(found(&store, "a", &LoginKey::UserId(1)).await, Some(moved));
    assert_eq!(
        found(&store, "a", &LoginKey::Email("new@x.io".into())).await,
        None
    );
    assert!(matches!(
        store
            .update_user("a", 99, &UserChange::RevokeTokens, now_ms)
            .await,
        Err(Error::NotFound(_))
    ));
}

async fn rehash_applies_only_to_the_revision_it_read(store: Store) {
    store.create_app(&app("a")).await.unwrap();
    let u = user("a", 1, "alice", None, Some("a@x.io"));
    store.create_user(&u).await.unwrap();
    assert!(
        store
            .rehash_password(&u, "$argon2id$rehashed")
            .await
            .unwrap()
    );
    let after = found(&store, "a", &LoginKey::Email("a@x.io".into()))
        .await
        .unwrap();
    assert_eq!(after.password_hash, "$argon2id$rehashed");
    assert_eq!(
        after.tokens_valid_after, u.tokens_valid_after,
        "rehash revokes nothing"
    );
    // `u` is now stale: a second rehash from it must not overwrite anything.
    assert!(!store.rehash_password(&u, "$argon2id$stale").await.unwrap());
    assert_eq!(
        found(&store, "a", &LoginKey::UserId(1))
            .await
            .unwrap()
            .password_hash,
        "$argon2id$rehashed"
    );
}

/// 50 concurrent creates claiming the same `field`: exactly one wins, the others get a
/// conflict naming it, and exactly one user holds the key afterwards.
async fn race(store: Store, field: &str) {
    store.create_app(&app("a")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..50i64 {
        let store = store.clone();
        let candidate = match field {
            "username" => user("a", 100 + i, "taken", None, None),
            "phone" => user("a", 100 + i, &format!("u{i}"), Some("+100000001"), None),
            _ => user("a", 100 + i, &format!("u{i}"), None, Some("same@x.io")),
        };
        tasks.push(tokio::spawn(
            async move { store.create_user(&candidate).await },
        ));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => winners += 1,
            Err(Error::Conflict(message)) => assert!(message.contains(field), "{message}"),
            Err(other) => panic!("unexpected error in the {field} race: {other:?}"),
        }
    }
    assert_eq!(winners, 1, "exactly one create of the same {field} may win");
    let mut holders = 0;
    for i in 0..50i64 {
        if found(&store, "a", &LoginKey::UserId(100 + i))
            .await
            .is_some()
        {
            holders += 1;
        }
    }
    assert_eq!(holders, 1, "losers must leave no user behind");
}

async fn fifty_concurrent_creates_of_one_username_have_one_winner(store: Store) {
    race(store, "username").await;
}

async fn fifty_concurrent_creates_of_one_phone_have_one_winner(store: Store) {
    race(store, "phone").await;
}

async fn fifty_concurrent_creates_of_one_email_have_one_winner(store: Store) {
    race(store, "email").await;
}

integration::on_both_stores!(
    apps_by_id_and_by_name,
    app_changes_reach_both_copies_at_once,
    apps_are_listed_a_page_at_a_time,
    app_settings_keep_the_rules_of_creation_even_when_changed_at_once,
    every_login_key_finds_the_user_in_its_app_only,
    uniqueness_is_per_field_and_nothing_is_half_written,
    password_ban_and_contact_changes_reach_every_copy,
    rehash_applies_only_to_the_revision_it_read,
    fifty_concurrent_creates_of_one_username_have_one_winner,
    fifty_concurrent_creates_of_one_phone_have_one_winner,
    fifty_concurrent_creates_of_one_email_have_one_winner,
);
