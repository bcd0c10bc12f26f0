//! Deleting a user with everything that names it, and listing an app's users.
//!
//! The copies go first, in one transaction conditioned on the revision read; then the
//! items that only point at the user: failed-login counters, devices (and their
//! counters), push registrations, and the refresh families and tokens its `SESSIONS#`
//! partition lists. No refresh item can be added once the copies are gone (every
//! family opening and rotation checks that the user's id item exists).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};

use super::DynamoStore;
use super::keys::{
    FAMILY_SK, Item, PUSH_SK, REFRESH_SK, USER_SK, devices_pk, from_item, key, push_owner_key,
    push_pk, s, sessions_pk, user_keys, user_pk,
};
use super::lockout::{LOCK_SK, lock_pk};
use super::table::{PARTITION_KEY, SORT_KEY};
use super::transactions::{at_revision, sdk_error};
use crate::auth::lockout::LockSubject;
use crate::domain::{LoginKey, PushKind, User};
use crate::error::{Error, Result};
use crate::store::{PushStore, UserPage, UserRemoval, secondary_keys};

/// Items a list request reads per Scan page (before the filter keeps the app's users).
const SCAN_PAGE: i32 = 200;

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

impl DynamoStore {
    /// Every item of partition `pk` (all pages).
    async fn partition(&self, pk: String) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn delete_item(&self, key: Item) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(())
    }

    /// The keys of every item besides the copies that names `user`.
    async fn items_naming(&self, user: &User) -> Result<Vec<Item>> {
        let (app_id, user_id) = (user.app_id.as_str(), user.user_id);
        let account = LockSubject::Account {
            app_id: app_id.to_owned(),
            user_id,
        };
        let mut doomed = vec![key(lock_pk(&account), LOCK_SK)];
        for (_, login) in secondary_keys(user) {
            let name = LockSubject::UnknownName {
                app_id: app_id.to_owned(),
                key: login,
            };
            doomed.push(key(lock_pk(&name), LOCK_SK));
        }
        for device in self.partition(devices_pk(app_id, user_id)).await? {
            let Some(guid) = text(&device, SORT_KEY) else {
                continue;
            };
            let counter = LockSubject::Device {
                app_id: app_id.to_owned(),
                user_id,
                device_guid: guid.clone(),
            };
            doomed.push(key(lock_pk(&counter), LOCK_SK));
            doomed.push(key(devices_pk(app_id, user_id), &guid));
        }
        for entry in self.partition(sessions_pk(app_id, user_id)).await? {
            let Some(target) = text(&entry, SORT_KEY) else {
                continue;
            };
            let sk = if target.starts_with("FAMILY#") {
                FAMILY_SK
            } else {
                REFRESH_SK
            };
            doomed.push(key(target.clone(), sk));
            doomed.push(key(sessions_pk(app_id, user_id), &target));
        }
        Ok(doomed)
    }

    /// Removes the user's push registrations: a registration moved to another user in
    /// between is left to its new owner (its delete is conditioned on the revision
    /// read), the user's own copy goes either way.
    async fn delete_push_registrations(&self, user: &User) -> Result<()> {
        for kind in [PushKind::Ring, PushKind::Message] {
            let registrations = self
                .user_push_registrations(&user.app_id, user.user_id, kind)
                .await?;
            for registration in registrations {
                if !self.delete_push_registration(&registration).await? {
                    self.delete_item(push_owner_key(&registration)).await?;
                    if let Some(current) = self.push_registration(&registration.key()).await?
                        && current.user_id == user.user_id
                    {
                        self.delete_item(key(push_pk(&current.key()), PUSH_SK))
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl UserRemoval for DynamoStore {
    async fn delete_user(&self, user: &User) -> Result<bool> {
        let copies = user_keys(user)
            .into_iter()
            .map(|(_, pk)| {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, USER_SK)))
                    .condition_expression("revision = :rev")
                    .set_expression_attribute_values(Some(at_revision(user.revision)))
                    .build()
                    .map_err(Error::internal)?;
                Ok(TransactWriteItem::builder().delete(delete).build())
            })
            .collect::<Result<Vec<_>>>()?;
        if self.transact(copies).await?.is_some() {
            return Ok(false);
        }
        self.delete_push_registrations(user).await?;
        for doomed in self.items_naming(user).await? {
            self.delete_item(doomed).await?;
        }
        Ok(true)
    }

    async fn list_users(
        &self,
        app_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<UserPage> {
        let prefix = user_pk(app_id, &LoginKey::UserId(0));
        let prefix = prefix.trim_end_matches('0').to_owned();
        let mut start = match after {
            None => None,
            Some(cursor) if cursor.starts_with(&prefix) => Some(key(cursor.to_owned(), USER_SK)),
            Some(_) => return Err(Error::bad_request("malformed cursor")),
        };
        let mut users: Vec<User> = Vec::new();
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :prefix) AND sk = :sk")
                .expression_attribute_values(":prefix", s(prefix.clone()))
                .expression_attribute_values(":sk", AttributeValue::S(USER_SK.to_owned()))
                .limit(SCAN_PAGE)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Scan", e))?;
            let items = output.items.unwrap_or_default();
            let count = items.len();
            for (index, item) in items.into_iter().enumerate() {
                let pk = text(&item, PARTITION_KEY).unwrap_or_default();
                users.push(from_item(item)?);
                if users.len() == limit {
                    // Resume right after this item: the scan may go on past it.
                    let more = index + 1 < count || output.last_evaluated_key.is_some();
                    return Ok(UserPage {
                        users,
                        next: more.then_some(pk),
                    });
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(UserPage { users, next: None });
            }
        }
    }
}
