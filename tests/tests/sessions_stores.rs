//! Refresh families and lockout counters on both stores, and the races that must have
//! exactly one winner, on DynamoDB Local.

use std::sync::Arc;

use shared::auth::lockout::{LockState, LockSubject, MAX_LOCK_MS};
use shared::auth::password::{Password, PasswordHasher, PasswordPolicy};
use shared::auth::refresh::{RefreshFamily, RefreshRecord};
use shared::auth::tokens::{KeySetDocument, TokenKeys};
use shared::clock::SystemClock;
use shared::domain::LoginKey;
use shared::error::Error;
use shared::http::Services;
use shared::service::{Crypto, Lifetime, LoginRequest};
use shared::store::{AdminStore, RefreshStore, Rotation, ServiceStore};

trait AllStores: AdminStore + ServiceStore + RefreshStore + 'static {}
impl<T: AdminStore + ServiceStore + RefreshStore + 'static> AllStores for T {}

fn crypto() -> Arc<Crypto> {
    Arc::new(Crypto {
        hasher: PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap(),
        tokens: TokenKeys::from_document(&KeySetDocument::generate(0).unwrap(), "imauth").unwrap(),
        clock: Arc::new(SystemClock),
        key_refresh: None,
    })
}

async fn provision<S: AllStores>(store: &S, crypto: &Crypto) {
    integration::fixtures::provision_alice(store, &crypto.hasher)
        .await
        .unwrap();
}

fn family(id: &str) -> RefreshFamily {
    RefreshFamily {
        family_id: id.into(),
        app_id: "demo".into(),
        user_id: 10001,
        device_guid: Some("dev-1".into()),
        created_at: 1,
        created_ms: 1000,
        expires_at: 4_000_000_000,
    }
}

fn record(hash: &str, family: &RefreshFamily) -> RefreshRecord {
    RefreshRecord {
        token_hash: hash.into(),
        family: family.clone(),
        expires_at: 4_000_000_000,
        used: false,
    }
}

async fn families_open_once_rotate_once_and_stay_revoked<S: AllStores>(store: Arc<S>) {
    // A family is opened and rotated only while its user exists.
    provision(store.as_ref(), &crypto()).await;
    let f = family("f1");
    let first = record("h1", &f);
    assert_eq!(
        store.open_family(&f, &first).await.unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        store.open_family(&f, &record("h1b", &f)).await.unwrap(),
        Rotation::Reused
    );
    assert_eq!(
        store.find_refresh("h1b").await.unwrap(),
        None,
        "nothing half-written"
    );
    assert_eq!(store.find_refresh("h1").await.unwrap(), Some(first.clone()));

    let second = record("h2", &f);
    assert_eq!(
        store.rotate_refresh(&first, &second).await.unwrap(),
        Rotation::Rotated
    );
    assert!(store.find_refresh("h1").await.unwrap().unwrap().used);
    assert_eq!(
        store
            .rotate_refresh(&first, &record("h2b", &f))
            .await
            .unwrap(),
        Rotation::Reused
    );
    assert_eq!(store.find_refresh("h2b").await.unwrap(), None);

    store.revoke_family(&f).await.unwrap();
    assert_eq!(
        store
            .rotate_refresh(&second, &record("h3", &f))
            .await
            .unwrap(),
        Rotation::Revoked
    );
    assert_eq!(store.find_refresh("h3").await.unwrap(), None);
    // Revoking a family never opened makes its opener useless.
    let g = family("g1");
    store.revoke_family(&g).await.unwrap();
    assert_eq!(
        store.open_family(&g, &record("hg", &g)).await.unwrap(),
        Rotation::Reused
    );
}

async fn failure_counters_count_restart_after_quiet_and_clear_only_what_was_seen<S: AllStores>(
    store: Arc<S>,
) {
    let account = LockSubject::Account {
        app_id: "demo".into(),
        user_id: 10001,
    };
    let device = LockSubject::Device {
        app_id: "demo".into(),
        user_id: 10001,
        device_guid: "ios-1".into(),
    };
    assert_eq!(
        store.lock_state(&account).await.unwrap(),
        LockState::default()
    );
    for i in 1..=4 {
        let state = store.count_failure(&account, 5_000 + i).await.unwrap();
        assert_eq!(
            state,
            LockState {
                failures: i as u32,
                last_failure_ms: 5_000 + i
            }
        );
    }
    // Counters are per subject: the device's is untouched by the account's.
    assert_eq!(
        store.lock_state(&device).await.unwrap(),
        LockState::default()
    );
    let seen = store.lock_state(&account).await.unwrap();
    // A failure counted after the read: the clear that saw the old state does nothing.
    store.count_failure(&account, 6_000).await.unwrap();
    assert!(!store.clear_failures(&account, &seen).await.unwrap());
    assert_eq!(store.lock_state(&account).await.unwrap().failures, 5);
    let seen = store.lock_state(&account).await.unwrap();
    assert!(store.clear_failures(&account, &seen).await.unwrap());
    assert_eq!(store.lock_state(&account).await.unwrap().failures, 0);
    // After a clear, the next failure is the first of a run.
    assert_eq!(
        store.count_failure(&account, 7_000).await.unwrap().failures,
        1
    );
    assert_eq!(
        store.count_failure(&account, 8_000).await.unwrap().failures,
        2
    );
    // 15 quiet minutes later the run starts over.
    let later = 8_000 + MAX_LOCK_MS + 1;
    assert_eq!(
        store.count_failure(&account, later).await.unwrap(),
        LockState {
            failures: 1,
            last_failure_ms: later
        }
    );
}

/// A burst of failures on one fresh counter, all in parallel: none is lost.
async fn concurrent_failures_are_all_counted<S: AllStores>(store: Arc<S>) {
    let subject = LockSubject::UnknownName {
        app_id: "demo".into(),
        key: LoginKey::Username("mallory".into()),
    };
    let now = 1_000_000;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            let subject = subject.clone();
            tokio::spawn(async move { store.count_failure(&subject, now + i).await.unwrap() })
        })
        .collect();
    let mut seen_counts = Vec::new();
    for task in tasks {
        seen_counts.push(task.await.unwrap().failures);
    }
    seen_counts.sort_unstable();
    assert_eq!(
        seen_counts,
        (1..=40).collect::<Vec<u32>>(),
        "each increment seen once"
    );
    assert_eq!(store.lock_state(&subject).await.unwrap().failures, 40);
}

async fn race_refresh(services: &Arc<Services>, token: &str, n: usize) -> Vec<String> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let services = services.clone();
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            services.sessions.refresh(&token).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(refreshed) => winners.push(refreshed.tokens.refresh.unwrap().0),
            Err(Error::Unauthorized(_) | Error::RefreshReused) => {}
            Err(other) => panic!("unexpected error in a refresh race: {other:?}"),
        }
    }
    winners
}

async fn concurrent_refreshes_of_one_token_have_exactly_one_winner<S: AllStores>(store: Arc<S>) {
    let crypto = crypto();
    provision(store.as_ref(), &crypto).await;
    let services = Arc::new(Services::over(store, crypto));
    let app = services.login.app("demo").await.unwrap();
    let grant = services
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
    let opener = grant.tokens.refresh.unwrap().0;
    // The login's opener, used by 10 at once.
    let winners = race_refresh(&services, &opener, 10).await;
    assert_eq!(winners.len(), 1, "opener race: {winners:?}");
    // The loser's attempt counted as reuse: the family is revoked, the winner's token too.
    assert!(services.sessions.refresh(&winners[0]).await.is_err());

    // A fresh session: one sequential rotation, then a race on the rotated token.
    let app = services.login.app("demo").await.unwrap();
    let grant = services
        .login
        .login(LoginRequest {
            app,
            key: LoginKey::Username("alice".into()),
            password: Password::new("alice-password".into()).unwrap(),
            device_guid: None,
            device_proof: None,
            lifetime: Lifetime::AppDefault,
        })
        .await
        .unwrap();
    let rotated = services
        .sessions
        .refresh(&grant.tokens.refresh.unwrap().0)
        .await
        .unwrap()
        .tokens
        .refresh
        .unwrap()
        .0;
    let winners = race_refresh(&services, &rotated, 10).await;
    assert_eq!(winners.len(), 1, "rotated-token race: {winners:?}");
}

integration::on_both_stores!(
    families_open_once_rotate_once_and_stay_revoked,
    failure_counters_count_restart_after_quiet_and_clear_only_what_was_seen,
    concurrent_failures_are_all_counted,
    concurrent_refreshes_of_one_token_have_exactly_one_winner,
);
