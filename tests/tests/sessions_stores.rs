//! Refresh families and lockout counters on both stores, and the races that must have
//! exactly one winner, on DynamoDB Local.

use std::sync::Arc;

use shared::auth::password::{Password, PasswordHasher, PasswordPolicy};
use shared::auth::refresh::{RefreshFamily, RefreshRecord};
use shared::auth::tokens::{KeySetDocument, TokenKeys};
use shared::clock::SystemClock;
use shared::domain::LoginKey;
use shared::error::Error;
use shared::http::Services;
use shared::service::provision::{NewApp, NewUser, build_app, build_user};
use shared::service::{Crypto, Lifetime, LoginRequest};
use shared::store::{
    AdminStore, LoginStore, PushRegistrationStore, RefreshStore, Rotation, SessionStore,
};

trait AllStores:
    AdminStore + LoginStore + SessionStore + RefreshStore + PushRegistrationStore + 'static
{
}
impl<T: AdminStore + LoginStore + SessionStore + RefreshStore + PushRegistrationStore + 'static>
    AllStores for T
{
}

fn crypto() -> Arc<Crypto> {
    Arc::new(Crypto {
        hasher: PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap(),
        tokens: TokenKeys::from_document(&KeySetDocument::generate(0).unwrap(), "imauth").unwrap(),
        clock: Arc::new(SystemClock),
        key_refresh: None,
    })
}

async fn provision<S: AllStores>(store: &S, crypto: &Crypto) {
    let (app, _) = build_app(NewApp {
        app_id: "demo".into(),
        ..NewApp::default()
    })
    .unwrap();
    store.create_app(&app).await.unwrap();
    let user = build_user(
        NewUser {
            app_id: "demo".into(),
            user_id: 10001,
            username: "alice".into(),
            phone: Some("+8613800000000".into()),
            email: Some("alice@example.com".into()),
            password: "alice-password".into(),
            activated: Some(true),
        },
        &crypto.hasher,
        &SystemClock,
    )
    .unwrap();
    store.create_user(&user).await.unwrap();
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

async fn failure_counts_reach_every_copy_and_clear<S: AllStores>(store: Arc<S>) {
    let crypto = crypto();
    provision(store.as_ref(), &crypto).await;
    let keys = [
        LoginKey::UserId(10001),
        LoginKey::Username("alice".into()),
        LoginKey::Phone("+8613800000000".into()),
        LoginKey::Email("alice@example.com".into()),
    ];
    for (i, key) in keys.iter().enumerate() {
        let user = store.find_user("demo", key).await.unwrap().unwrap();
        store
            .record_login_failure(&user, 5_000 + i as i64, i == 0)
            .await
            .unwrap();
    }
    for key in &keys {
        let copy = store.find_user("demo", key).await.unwrap().unwrap();
        assert_eq!(
            (copy.failed_logins, copy.last_failure_ms),
            (4, 5_003),
            "{key:?}"
        );
    }
    let user = store.find_user("demo", &keys[2]).await.unwrap().unwrap();
    store.clear_login_failures(&user).await.unwrap();
    for key in &keys {
        assert_eq!(
            store
                .find_user("demo", key)
                .await
                .unwrap()
                .unwrap()
                .failed_logins,
            0
        );
    }
}

/// `n` concurrent refreshes presenting the same token: exactly one gets new tokens.
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
            Err(Error::Unauthorized(_)) => {}
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
    failure_counts_reach_every_copy_and_clear,
    concurrent_refreshes_of_one_token_have_exactly_one_winner,
);
