//! Refresh families and rotated refresh tokens: a rotation marks the old token used,
//! checks the family is live and writes the next token, all in one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};

use super::keys::{
    FAMILY_SK, Item, REFRESH_SK, USER_SK, family_pk, from_item, key, n, refresh_pk, sessions_pk,
    to_item, user_pk, values,
};
use super::transactions::{item_failed, put_new, sdk_error};
use super::{DynamoStore, table};
use crate::auth::refresh::{RefreshFamily, RefreshRecord};
use crate::domain::LoginKey;
use crate::error::{Error, Result};
use crate::store::{RefreshStore, Rotation};

impl DynamoStore {
    /// The user's index entry for the new family or token item `target_pk`, so that
    /// deleting the user finds it.
    fn session_entry(
        &self,
        family: &RefreshFamily,
        target_pk: &str,
        expires_at: i64,
    ) -> Result<TransactWriteItem> {
        let entry: Item = key(sessions_pk(&family.app_id, family.user_id), target_pk)
            .into_iter()
            .chain([(table::TTL_ATTRIBUTE.to_owned(), n(expires_at))])
            .collect();
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(entry))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A check that the family's user still exists, so that no refresh item is written
    /// after the user is deleted.
    fn user_still_exists(&self, family: &RefreshFamily) -> Result<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                user_pk(&family.app_id, &LoginKey::UserId(family.user_id)),
                USER_SK,
            )))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

/// What a rotation's transaction came to: committed, or cancelled because the old token
/// was used already (item 0, its `used = false` check) or the family is revoked.
fn rotation_outcome(cancelled: Option<&[String]>) -> Rotation {
    match cancelled {
        None => Rotation::Rotated,
        Some(codes) if item_failed(codes, 0) => Rotation::Reused,
        Some(_) => Rotation::Revoked,
    }
}

#[async_trait]
impl RefreshStore for DynamoStore {
    async fn open_family(&self, family: &RefreshFamily, first: &RefreshRecord) -> Result<Rotation> {
        let marker: Item = HashMap::from([
            ("revoked".to_owned(), AttributeValue::Bool(false)),
            (table::TTL_ATTRIBUTE.to_owned(), n(family.expires_at)),
        ])
        .into_iter()
        .chain(key(family_pk(&family.family_id), FAMILY_SK))
        .collect();
        let mut items = vec![
            put_new(&self.table, marker)?,
            put_new(
                &self.table,
                to_item(first, refresh_pk(&first.token_hash), REFRESH_SK)?,
            )?,
        ];
        items.push(self.session_entry(family, &family_pk(&family.family_id), family.expires_at)?);
        items.push(self.session_entry(family, &refresh_pk(&first.token_hash), first.expires_at)?);
        items.push(self.user_still_exists(family)?);
        Ok(match self.transact(items).await? {
            None => Rotation::Rotated,
            Some(_) => Rotation::Reused,
        })
    }

    async fn find_refresh(&self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        self.get(refresh_pk(token_hash), REFRESH_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn rotate_refresh(&self, old: &RefreshRecord, next: &RefreshRecord) -> Result<Rotation> {
        let mark_used = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(refresh_pk(&old.token_hash), REFRESH_SK)))
            .update_expression("SET used = :yes")
            .condition_expression("used = :no")
            .set_expression_attribute_values(Some(values([
                (":yes", AttributeValue::Bool(true)),
                (":no", AttributeValue::Bool(false)),
            ])))
            .build()
            .map_err(Error::internal)?;
        let family_live = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(family_pk(&old.family.family_id), FAMILY_SK)))
            .condition_expression("revoked = :no")
            .set_expression_attribute_values(Some(values([(":no", AttributeValue::Bool(false))])))
            .build()
            .map_err(Error::internal)?;
        let mut items = vec![
            TransactWriteItem::builder().update(mark_used).build(),
            TransactWriteItem::builder()
                .condition_check(family_live)
                .build(),
            put_new(
                &self.table,
                to_item(next, refresh_pk(&next.token_hash), REFRESH_SK)?,
            )?,
        ];
        items.push(self.session_entry(
            &next.family,
            &refresh_pk(&next.token_hash),
            next.expires_at,
        )?);
        items.push(self.user_still_exists(&next.family)?);
        Ok(rotation_outcome(self.transact(items).await?.as_deref()))
    }

    async fn revoke_family(&self, family: &RefreshFamily) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(family_pk(&family.family_id), FAMILY_SK)))
            .update_expression("SET revoked = :yes, #ttl = :exp")
            .expression_attribute_names("#ttl", table::TTL_ATTRIBUTE)
            .set_expression_attribute_values(Some(values([
                (":yes", AttributeValue::Bool(true)),
                (":exp", n(family.expires_at)),
            ])))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_used_token_is_reuse_and_a_revoked_family_is_revocation() {
        let codes = |c: &[&str]| c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(rotation_outcome(None), Rotation::Rotated);
        let used = codes(&["ConditionalCheckFailed", "None", "None"]);
        assert_eq!(rotation_outcome(Some(&used)), Rotation::Reused);
        let revoked = codes(&["None", "ConditionalCheckFailed", "None"]);
        assert_eq!(rotation_outcome(Some(&revoked)), Rotation::Revoked);
    }
}
