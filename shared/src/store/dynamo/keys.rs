//! Item keys and the mapping of values to items: every `pk`/`sk` this store writes is
//! built here (the table of them is in the module documentation of [`super`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::table;
use crate::auth::refresh::hash_token;
use crate::domain::{LoginKey, PushKey, PushKind, PushRegistration, User};
use crate::error::{Error, Result};
use crate::store::secondary_keys;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const APP_SK: &str = "#APP";
pub(super) const USER_SK: &str = "#USER";
pub(super) const FAMILY_SK: &str = "#FAMILY";
pub(super) const REFRESH_SK: &str = "#REFRESH";
pub(super) const PUSH_SK: &str = "#PUSH";

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (table::PARTITION_KEY.to_owned(), s(pk)),
        (table::SORT_KEY.to_owned(), s(sk)),
    ])
}

pub(super) fn app_pk(app_id: &str) -> String {
    format!("APP#{app_id}")
}

/// The partition holding a copy of every app, sorted by app id (sk), for listing.
pub(super) const APP_DIRECTORY_PK: &str = "APPS";

pub(super) fn app_name_pk(org_name: &str, app_name: &str) -> String {
    format!("APPNAME#{org_name}#{app_name}")
}

pub(super) fn user_pk(app_id: &str, key: &LoginKey) -> String {
    match key {
        LoginKey::UserId(id) => format!("USER#{app_id}#ID#{id}"),
        LoginKey::Username(name) => format!("USER#{app_id}#NAME#{name}"),
        LoginKey::Phone(phone) => format!("USER#{app_id}#PHONE#{phone}"),
        LoginKey::Email(email) => format!("USER#{app_id}#EMAIL#{email}"),
    }
}

/// Every key a user is stored under, id first, with the field name for conflicts.
pub(super) fn user_keys(user: &User) -> Vec<(&'static str, String)> {
    let mut keys = vec![(
        "user_id",
        user_pk(&user.app_id, &LoginKey::UserId(user.user_id)),
    )];
    keys.extend(
        secondary_keys(user)
            .into_iter()
            .map(|(field, key)| (field, user_pk(&user.app_id, &key))),
    );
    keys
}

pub(super) fn family_pk(family_id: &str) -> String {
    format!("FAMILY#{family_id}")
}

pub(super) fn refresh_pk(token_hash: &str) -> String {
    format!("REFRESH#{token_hash}")
}

/// The partition listing a user's refresh families and tokens: each item's sort key is
/// the `pk` of the family or token item it points at, so deleting a user finds them
/// with one Query.
pub(super) fn sessions_pk(app_id: &str, user_id: i64) -> String {
    format!("SESSIONS#{app_id}#{user_id}")
}

pub(super) fn devices_pk(app_id: &str, user_id: i64) -> String {
    format!("DEVICE#{app_id}#{user_id}")
}

pub(super) fn push_pk(key: &PushKey) -> String {
    format!(
        "PUSH#{}#{}#{}#{}",
        key.app_id,
        key.kind.as_str(),
        key.channel,
        hash_token(&key.push_token)
    )
}

pub(super) fn push_owner_pk(app_id: &str, user_id: i64, kind: PushKind) -> String {
    format!("PUSHUSER#{app_id}#{user_id}#{}", kind.as_str())
}

/// The key of the owner's copy of a registration, listed by [`push_owner_pk`].
pub(super) fn push_owner_key(registration: &PushRegistration) -> Item {
    let sk = format!(
        "{}#{}",
        registration.channel,
        hash_token(&registration.push_token)
    );
    let pk = push_owner_pk(
        &registration.app_id,
        registration.user_id,
        registration.kind,
    );
    key(pk, &sk)
}

pub(super) fn device_key(app_id: &str, user_id: i64, device_guid: &str) -> Item {
    key(devices_pk(app_id, user_id), device_guid)
}

pub(super) fn to_item(value: &impl Serialize, pk: String, sk: &str) -> Result<Item> {
    let mut item: Item =
        serde_dynamo::aws_sdk_dynamodb_1::to_item(value).map_err(Error::internal)?;
    item.extend(key(pk, sk));
    Ok(item)
}

pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|e| Error::internal(format!("stored item does not map: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            app_id: "acme".into(),
            user_id: 42,
            uuid: "u-42".into(),
            username: "alice".into(),
            phone: Some("+8613800000000".into()),
            email: Some("alice@example.com".into()),
            password_hash: "$argon2id$...".into(),
            activated: true,
            created_ms: 1,
            modified_ms: 2,
            tokens_valid_after: 0,
            revision: 3,
        }
    }

    fn text(item: &Item, name: &str) -> String {
        match item.get(name) {
            Some(AttributeValue::S(value)) => value.clone(),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn a_user_is_stored_under_every_login_key_id_first() {
        assert_eq!(
            user_keys(&user()),
            vec![
                ("user_id", "USER#acme#ID#42".to_owned()),
                ("username", "USER#acme#NAME#alice".to_owned()),
                ("phone", "USER#acme#PHONE#+8613800000000".to_owned()),
                ("email", "USER#acme#EMAIL#alice@example.com".to_owned()),
            ]
        );
        let mut no_contact = user();
        no_contact.phone = None;
        no_contact.email = None;
        assert_eq!(user_keys(&no_contact).len(), 2);
    }

    #[test]
    fn apps_families_and_refresh_tokens_have_keys_of_their_own() {
        assert_eq!(app_pk("acme"), "APP#acme");
        assert_eq!(app_name_pk("org", "im"), "APPNAME#org#im");
        assert_eq!(family_pk("f1"), "FAMILY#f1");
        assert_eq!(refresh_pk("h1"), "REFRESH#h1");
        let device = device_key("acme", 42, "phone-1");
        assert_eq!(text(&device, table::PARTITION_KEY), "DEVICE#acme#42");
        assert_eq!(text(&device, table::SORT_KEY), "phone-1");
    }

    #[test]
    fn push_keys_hold_a_hash_of_the_token_never_the_token() {
        let registration = PushRegistration {
            app_id: "acme".into(),
            kind: PushKind::Message,
            channel: "apns".into(),
            push_token: "device-secret-token".into(),
            user_id: 42,
            language: "en".into(),
            dev: 0,
            bundleid: "im.app".into(),
            os: None,
            os_token: None,
            push_platform: None,
            created_ms: 1,
            updated_ms: 1,
            revision: 0,
        };
        let hash = hash_token("device-secret-token");
        let pk = push_pk(&registration.key());
        assert_eq!(
            pk,
            format!("PUSH#acme#{}#apns#{hash}", PushKind::Message.as_str())
        );
        let owner = push_owner_key(&registration);
        assert_eq!(
            text(&owner, table::PARTITION_KEY),
            format!("PUSHUSER#acme#42#{}", PushKind::Message.as_str())
        );
        assert_eq!(text(&owner, table::SORT_KEY), format!("apns#{hash}"));
        for key in [pk, text(&owner, table::SORT_KEY)] {
            assert!(!key.contains("device-secret-token"));
        }
    }

    #[test]
    fn items_carry_their_key_and_map_back() {
        let item = to_item(&user(), user_pk("acme", &LoginKey::UserId(42)), USER_SK).unwrap();
        assert_eq!(text(&item, table::PARTITION_KEY), "USER#acme#ID#42");
        assert_eq!(text(&item, table::SORT_KEY), USER_SK);
        let back: User = from_item(item).unwrap();
        assert_eq!(back.username, "alice");
        assert_eq!(back.revision, 3);
        assert!(from_item::<User>(key("X".into(), "Y")).is_err());
    }
}
