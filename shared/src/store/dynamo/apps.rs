//! Apps: the app item (`APP#…`) and its copy by name (`APPNAME#…`), both rewritten in
//! one transaction conditioned on the revision read, so the copies never disagree and
//! concurrent changes each apply to what the other left.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::DynamoStore;
use super::keys::{APP_SK, app_name_pk, app_pk, from_item, to_item};
use super::transactions::{UPDATE_RETRY, at_revision};
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
        ])
        .await
    }

    async fn update_app(&self, app_id: &str, change: &AppChange, now_ms: i64) -> Result<App> {
        self.change_app(app_id, change, now_ms).await
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
                let next = change.apply(&current, now_ms);
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
        let items = [
            app_pk(&old.app_id),
            app_name_pk(&old.org_name, &old.app_name),
        ]
        .into_iter()
        .map(|pk| {
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(to_item(new, pk, APP_SK)?))
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
