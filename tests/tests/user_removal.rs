//! Deleting a user leaves nothing behind, on both stores: its copies, failed-login
//! counters, devices, push registrations, refresh families and tokens all go, another
//! user's stay, and no refresh item can be added afterwards. On DynamoDB Local a Scan of
//! the whole table proves it.

use std::sync::Arc;

use integration::dynamo::{items_naming, scan_all};
use integration::fixtures::provision_alice;
use shared::auth::lockout::LockSubject;
use shared::auth::password::{PasswordHasher, PasswordPolicy};
use shared::auth::refresh::{RefreshFamily, RefreshRecord};
use shared::clock::SystemClock;
use shared::domain::{LoginKey, PushKind, PushRegistration};
use shared::service::provision::{NewUser, build_user};
use shared::service::users;
use shared::store::{
    AppAdmin, DeviceStore, PushStore, RefreshStore, Rotation, UserManagementStore,
};

const ALICE: i64 = 10001;
const BOB: i64 = 10002;

trait Store: AppAdmin + UserManagementStore + DeviceStore + PushStore + RefreshStore {}
impl<T: AppAdmin + UserManagementStore + DeviceStore + PushStore + RefreshStore> Store for T {}

fn family(user_id: i64, id: &str) -> RefreshFamily {
    RefreshFamily {
        family_id: id.into(),
        app_id: "demo".into(),
        user_id,
        device_guid: Some("ios-1".into()),
        created_at: 1_800_000_000,
        created_ms: 1_800_000_000_000,
        expires_at: 4_000_000_000,
    }
}

fn record(family: &RefreshFamily, hash: &str) -> RefreshRecord {
    RefreshRecord {
        token_hash: hash.into(),
        family: family.clone(),
        expires_at: 4_000_000_000,
        used: false,
    }
}

fn push(user_id: i64, kind: PushKind, token: &str) -> PushRegistration {
    PushRegistration {
        app_id: "demo".into(),
        kind,
        channel: "APNS".into(),
        push_token: token.into(),
        user_id,
        language: "en".into(),
        dev: 0,
        bundleid: "com.example".into(),
        os: None,
        os_token: None,
        push_platform: Some("APNS".into()),
        created_ms: 1,
        updated_ms: 1,
        revision: 0,
    }
}

fn account(user_id: i64) -> LockSubject {
    LockSubject::Account {
        app_id: "demo".into(),
        user_id,
    }
}

fn alice_subjects() -> Vec<LockSubject> {
    vec![
        account(ALICE),
        LockSubject::Device {
            app_id: "demo".into(),
            user_id: ALICE,
            device_guid: "ios-1".into(),
        },
        // Failures counted against the name before the user existed.
        LockSubject::UnknownName {
            app_id: "demo".into(),
            key: LoginKey::Email("alice@example.com".into()),
        },
    ]
}

/// Alice and bob, each with everything a user can have in the store.
async fn populate(store: &dyn Store) {
    let hasher = PasswordHasher::new(PasswordPolicy::INSECURE_FAST).unwrap();
    provision_alice(store, &hasher).await.unwrap();
    let bob = NewUser {
        app_id: "demo".into(),
        user_id: BOB,
        username: "bob".into(),
        phone: None,
        email: None,
        password: "bob-password".into(),
        activated: None,
    };
    store
        .create_user(&build_user(bob, &hasher, &SystemClock).unwrap())
        .await
        .unwrap();
    for (user_id, tag) in [(ALICE, "a"), (BOB, "b")] {
        store
            .record_device("demo", user_id, "ios-1", 1)
            .await
            .unwrap();
        let f = family(user_id, &format!("family-{tag}"));
        let first = record(&f, &format!("hash-{tag}-1"));
        assert_eq!(
            store.open_family(&f, &first).await.unwrap(),
            Rotation::Rotated
        );
        let next = record(&f, &format!("hash-{tag}-2"));
        assert_eq!(
            store.rotate_refresh(&first, &next).await.unwrap(),
            Rotation::Rotated
        );
        for kind in [PushKind::Ring, PushKind::Message] {
            let registration = push(user_id, kind, &format!("push-{tag}"));
            assert!(
                store
                    .save_push_registration(None, &registration, &[])
                    .await
                    .unwrap()
            );
        }
    }
    for subject in alice_subjects().iter().chain([&account(BOB)]) {
        store.count_failure(subject, 1).await.unwrap();
    }
}

/// What the store traits can see of alice after her deletion: nothing; of bob: all.
async fn alice_is_gone_and_bob_is_not(store: &dyn Store) {
    for key in [
        LoginKey::UserId(ALICE),
        LoginKey::Username("alice".into()),
        LoginKey::Phone("+8613800000000".into()),
        LoginKey::Email("alice@example.com".into()),
    ] {
        assert!(
            store.find_user("demo", &key).await.unwrap().is_none(),
            "{key:?}"
        );
    }
    for subject in alice_subjects() {
        assert_eq!(
            store.lock_state(&subject).await.unwrap().failures,
            0,
            "{subject:?}"
        );
    }
    for hash in ["hash-a-1", "hash-a-2"] {
        assert!(store.find_refresh(hash).await.unwrap().is_none(), "{hash}");
    }
    for kind in [PushKind::Ring, PushKind::Message] {
        let left = store
            .user_push_registrations("demo", ALICE, kind)
            .await
            .unwrap();
        assert!(left.is_empty(), "{left:?}");
        let key = push(ALICE, kind, "push-a").key();
        assert!(store.push_registration(&key).await.unwrap().is_none());
        assert_eq!(
            store
                .user_push_registrations("demo", BOB, kind)
                .await
                .unwrap()
                .len(),
            1
        );
    }
    assert!(
        store
            .find_user("demo", &LoginKey::UserId(BOB))
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.find_refresh("hash-b-2").await.unwrap().is_some());
    assert_eq!(store.lock_state(&account(BOB)).await.unwrap().failures, 1);
    // A refresh of one of alice's sessions cannot add an item after her deletion.
    let late = family(ALICE, "family-late");
    assert_ne!(
        store
            .open_family(&late, &record(&late, "hash-late"))
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert!(store.find_refresh("hash-late").await.unwrap().is_none());
}

async fn delete_alice(store: &dyn Store) {
    let deleted = users::delete(store, "demo", &LoginKey::Username("alice".into()))
        .await
        .unwrap();
    assert_eq!(deleted.user_id, ALICE);
}

async fn a_deleted_user_leaves_nothing_behind<S: Store + 'static>(store: Arc<S>) {
    populate(store.as_ref()).await;
    delete_alice(store.as_ref()).await;
    alice_is_gone_and_bob_is_not(store.as_ref()).await;
}

async fn users_are_listed_a_page_at_a_time<S: Store + 'static>(store: Arc<S>) {
    populate(store.as_ref()).await;
    let first = users::list(store.as_ref(), "demo", None, 1).await.unwrap();
    assert_eq!(first.users.len(), 1);
    let cursor = first.next.expect("a second page");
    let second = users::list(store.as_ref(), "demo", Some(&cursor), 1)
        .await
        .unwrap();
    assert_eq!(second.users.len(), 1);
    assert_ne!(first.users[0].user_id, second.users[0].user_id);
    let all = users::list(store.as_ref(), "demo", None, 100)
        .await
        .unwrap();
    let mut ids: Vec<i64> = all.users.iter().map(|u| u.user_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [ALICE, BOB]);
    assert!(all.next.is_none());
    assert!(users::list(store.as_ref(), "demo", None, 0).await.is_err());
}

integration::on_both_stores!(
    a_deleted_user_leaves_nothing_behind,
    users_are_listed_a_page_at_a_time,
);

/// What names alice in an item besides her id: her names, family and tokens.
const ALICE_NEEDLES: &[&str] = &["alice", "+8613800000000", "family-a", "hash-a-", "push-a"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scan_of_dynamodb_finds_no_item_of_a_deleted_user() {
    let (store, _) = integration::dynamo::fresh_store().await.unwrap();
    populate(&store).await;
    let before = items_naming(&store, ALICE, ALICE_NEEDLES).await.unwrap();
    // 4 copies, 3 counters, 1 device, 2 push items x 2 kinds, 1 family, 2 tokens and
    // their 3 index entries: the check below would see any of them.
    assert_eq!(before.len(), 18, "{before:#?}");
    delete_alice(&store).await;
    let left = items_naming(&store, ALICE, ALICE_NEEDLES).await.unwrap();
    assert!(left.is_empty(), "left behind: {left:#?}");
    // The app's 3 items (by id, by name, its `APPS` directory copy) and bob's 14 (2 copies, 1 counter, 1 device, 4 push items, 1
    // family, 2 tokens, 3 index entries) stay.
    let after = scan_all(&store).await.unwrap();
    assert_eq!(after.len(), 17, "{after:#?}");
}
