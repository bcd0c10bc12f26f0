//! Users: one item per login key, every copy rewritten in one transaction conditioned
//! on the revision read; and the last login per device.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::DynamoStore;
use super::keys::{USER_SK, device_key, from_item, key, n, to_item, user_keys, user_pk};
use super::transactions::{UPDATE_RETRY, at_revision, put_new, sdk_error, taken_field};
use crate::domain::{LoginKey, User};
use crate::error::{Error, Result};
use crate::retry::Attempt;
use crate::store::{CredentialLookup, DeviceStore, PasswordRehash, UserAdmin, UserChange};

/// Outcome of one attempt at rewriting a user's copies.
enum Replace {
    Done,
    /// The user changed since it was read (or a concurrent transaction held an item).
    Stale,
}

impl DynamoStore {
    /// Rewrites every copy of `old` as `new` in one transaction: copies that stay are
    /// replaced only if still at `old.revision`; copies that go are deleted under the
    /// same condition; new copies must not exist yet (uniqueness).
    async fn replace_user(&self, old: &User, new: &User) -> Result<Replace> {
        let old_keys = user_keys(old);
        let new_keys = user_keys(new);
        let mut items = Vec::new();
        // (index in the transaction, field) of puts that claim a new unique key.
        let mut claims = Vec::new();
        for (field, pk) in &new_keys {
            let item = to_item(new, pk.clone(), USER_SK)?;
            if old_keys.iter().any(|(_, old_pk)| old_pk == pk) {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("revision = :rev")
                    .set_expression_attribute_values(Some(at_revision(old.revision)))
                    .build()
                    .map_err(Error::internal)?;
                items.push(TransactWriteItem::builder().put(put).build());
            } else {
                claims.push((items.len(), *field));
                items.push(put_new(&self.table, item)?);
            }
        }
        for (_, pk) in &old_keys {
            if !new_keys.iter().any(|(_, new_pk)| new_pk == pk) {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk.clone(), USER_SK)))
                    .condition_expression("revision = :rev")
                    .set_expression_attribute_values(Some(at_revision(old.revision)))
                    .build()
                    .map_err(Error::internal)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        match self.transact(items).await? {
            None => Ok(Replace::Done),
            Some(codes) => match taken_field(&codes, &claims) {
                Some(field) => Err(Error::Conflict(format!("{field} already taken"))),
                None => Ok(Replace::Stale),
            },
        }
    }
}

#[async_trait]
impl CredentialLookup for DynamoStore {
    async fn find_user(&self, app_id: &str, key: &LoginKey) -> Result<Option<User>> {
        self.get(user_pk(app_id, key), USER_SK)
            .await?
            .map(from_item)
            .transpose()
    }
}

#[async_trait]
impl PasswordRehash for DynamoStore {
    async fn rehash_password(&self, user: &User, new_hash: &str) -> Result<bool> {
        let change = UserChange::Rehash {
            hash: new_hash.to_owned(),
        };
        let next = change.apply(user, user.modified_ms);
        Ok(matches!(
            self.replace_user(user, &next).await?,
            Replace::Done
        ))
    }
}

#[async_trait]
impl UserAdmin for DynamoStore {
    async fn create_user(&self, user: &User) -> Result<()> {
        let items = user_keys(user)
            .into_iter()
            .map(|(field, pk)| Ok((field, to_item(user, pk, USER_SK)?)))
            .collect::<Result<Vec<_>>>()?;
        self.create_all(items).await
    }

    async fn update_user(
        &self,
        app_id: &str,
        user_id: i64,
        change: &UserChange,
        now_ms: i64,
    ) -> Result<User> {
        UPDATE_RETRY
            .run(|| async {
                let current: User = self
                    .find_user(app_id, &LoginKey::UserId(user_id))
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no user {user_id} in app {app_id}")))?;
                let next = change.apply(&current, now_ms);
                Ok(match self.replace_user(&current, &next).await? {
                    Replace::Done => Attempt::Done(next),
                    Replace::Stale => Attempt::Retry(Error::Unavailable(format!(
                        "user {user_id} kept changing; update not applied"
                    ))),
                })
            })
            .await
    }
}

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn record_device(
        &self,
        app_id: &str,
        user_id: i64,
        device_guid: &str,
        now_ms: i64,
    ) -> Result<()> {
        let mut item = device_key(app_id, user_id, device_guid);
        item.insert("last_login_ms".to_owned(), n(now_ms));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }
}
