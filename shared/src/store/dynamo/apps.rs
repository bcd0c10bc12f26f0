//! Apps: the app item (`APP#…`) and its copy by name (`APPNAME#…`), both rewritten in
//! one transaction conditioned on the revision read, so the copies never disagree and
//! concurrent changes each apply to what the other left.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::DynamoStore;
use super::keys::{APP_DIRECTORY_PK, APP_SK, app_name_pk, app_pk, from_item, s, to_item};
use super::transactions::{UPDATE_RETRY, at_revision, sdk_error};
use crate::domain::App;
use crate::error::{Error, Result};
use crate::retry::Attempt;
use crate::store::{AppAdmin, AppChange, AppDirectory};

#[async_trait]
impl AppDirectory for DynamoStore {
    async fn app_by_id(&self, app_id: &str) -> Result<Option<App>> {
        self.get(app_pk(app_id), APP_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn app_by_name(&self, org_name: &str, app_name: &str) -> Result<Option<App>> {
        self.get(app_name_pk(org_name, app_name), APP_SK)
            .await?
            .map(from_item)
            .transpose()
    }
}

#[async_trait]
impl AppAdmin for DynamoStore {
    async fn create_app(&self, app: &App) -> Result<()> {
        self.create_all(vec![
            ("app_id", to_item(app, app_pk(&app.app_id), APP_SK)?),
            (
                "org_name/app_name",
                to_item(app, app_name_pk(&app.org_name, &app.app_name), APP_SK)?,
            ),
            (
                "app_id",
                to_item(app, APP_DIRECTORY_PK.to_owned(), &app.app_id)?,
            ),
        ])
        .await
    }

    async fn update_app(&self, app_id: &str, change: &AppChange, now_ms: i64) -> Result<App> {
        self.change_app(app_id, change, now_ms).await
    }

    async fn list_apps(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<App>, Option<String>)> {
        // One more than asked: whether a next page exists is then known for sure.
        let asked = i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX);
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(APP_DIRECTORY_PK))
            .limit(asked);
        // DynamoDB refuses an empty string as a key value: no cursor means "from the start".
        let query = match after.filter(|after| !after.is_empty()) {
            Some(after) => query
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":after", s(after)),
            None => query.key_condition_expression("pk = :pk"),
        };
        let output = query.send().await.map_err(|e| sdk_error("Query", e))?;
        let mut apps = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<App>>>()?;
        let next = if apps.len() > limit {
            apps.truncate(limit);
            apps.last().map(|app| app.app_id.clone())
        } else {
            None
        };
        Ok((apps, next))
    }
}

impl DynamoStore {
    async fn change_app(&self, app_id: &str, change: &AppChange, now_ms: i64) -> Result<App> {
        UPDATE_RETRY
            .run(|| async {
                let current = self
                    .app_by_id(app_id)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no app {app_id}")))?;
                let next = change.apply(&current, now_ms)?;
                Ok(if self.replace_app(&current, &next).await? {
                    Attempt::Done(next)
                } else {
                    Attempt::Retry(Error::Unavailable(format!(
                        "app {app_id} kept changing; update not applied"
                    )))
                })
            })
            .await
    }

    /// Writes `new` over both copies of `old` if both are still at `old.revision`;
    /// `false` when either changed in between (nothing is written then).
    async fn replace_app(&self, old: &App, new: &App) -> Result<bool> {
        // Apps written before the `revision` attribute existed have none: revision 0.
        let condition = if old.revision == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(revision) OR revision = :rev)"
        } else {
            "revision = :rev"
        };
        // The directory copy may be missing (apps created before it existed): the change
        // writes it, conditioned like the others when it is there.
        let directory_condition = format!("attribute_not_exists(pk) OR ({condition})");
        let items = [
            (app_pk(&old.app_id), APP_SK, condition),
            (app_name_pk(&old.org_name, &old.app_name), APP_SK, condition),
            (
                APP_DIRECTORY_PK.to_owned(),
                old.app_id.as_str(),
                directory_condition.as_str(),
            ),
        ]
        .into_iter()
        .map(|(pk, sk, condition)| {
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(to_item(new, pk, sk)?))
                .condition_expression(condition)
                .set_expression_attribute_values(Some(at_revision(old.revision)))
                .build()
                .map_err(Error::internal)?;
            Ok(TransactWriteItem::builder().put(put).build())
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(self.transact(items).await?.is_none())
    }
}
