//! Push registrations: the registration item, keyed by the token, and the owner's copy
//! that lists a user's registrations, written and deleted together.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::DynamoStore;
use super::keys::{
    Item, PUSH_SK, from_item, key, push_owner_key, push_owner_pk, push_pk, s, to_item,
};
use super::transactions::{at_revision, sdk_error};
use crate::domain::{PushKey, PushKind, PushRegistration};
use crate::error::{Error, Result};
use crate::store::PushStore;

impl DynamoStore {
    /// The registration item, written only if it is still at `current`'s revision (or
    /// absent when `current` is none).
    fn put_push(
        &self,
        current: Option<&PushRegistration>,
        next: &PushRegistration,
    ) -> Result<TransactWriteItem> {
        let item = to_item(next, push_pk(&next.key()), PUSH_SK)?;
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match current {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(current) => put
                .condition_expression("revision = :rev")
                .set_expression_attribute_values(Some(at_revision(current.revision))),
        };
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(Error::internal)?)
            .build())
    }

    fn delete_push(&self, registration: &PushRegistration) -> Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(push_pk(&registration.key()), PUSH_SK)))
            .condition_expression("revision = :rev")
            .set_expression_attribute_values(Some(at_revision(registration.revision)))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn delete_owner_copy(&self, registration: &PushRegistration) -> Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(push_owner_key(registration)))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

#[async_trait]
impl PushStore for DynamoStore {
    async fn push_registration(&self, key: &PushKey) -> Result<Option<PushRegistration>> {
        self.get(push_pk(key), PUSH_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn user_push_registrations(
        &self,
        app_id: &str,
        user_id: i64,
        kind: PushKind,
    ) -> Result<Vec<PushRegistration>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(push_owner_pk(app_id, user_id, kind)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn save_push_registration(
        &self,
        current: Option<&PushRegistration>,
        next: &PushRegistration,
        evict: &[PushRegistration],
    ) -> Result<bool> {
        let owner_copy = to_item(next, String::new(), "")?
            .into_iter()
            .chain(push_owner_key(next))
            .collect::<Item>();
        let mut items = vec![
            self.put_push(current, next)?,
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(owner_copy))
                        .build()
                        .map_err(Error::internal)?,
                )
                .build(),
        ];
        // Moved from another user: that user's copy goes in the same transaction.
        if let Some(previous) = current.filter(|c| c.user_id != next.user_id) {
            items.push(self.delete_owner_copy(previous)?);
        }
        for evicted in evict {
            items.push(self.delete_push(evicted)?);
            items.push(self.delete_owner_copy(evicted)?);
        }
        Ok(self.transact(items).await?.is_none())
    }

    async fn delete_push_registration(&self, registration: &PushRegistration) -> Result<bool> {
        let items = vec![
            self.delete_push(registration)?,
            self.delete_owner_copy(registration)?,
        ];
        Ok(self.transact(items).await?.is_none())
    }
}
