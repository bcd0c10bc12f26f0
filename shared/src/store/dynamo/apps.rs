//! Changing an app: both of its items (`APP#…` and `APPNAME#…`) rewritten in one
//! transaction, conditioned on the revision read, so the copies never disagree and
//! concurrent changes each apply to what the other left.

use std::time::Duration;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::{APP_SK, DynamoStore, UPDATE_ATTEMPTS, app_name_pk, app_pk, at_revision, to_item};
use crate::domain::App;
use crate::error::{Error, Result};
use crate::store::{AppChange, AppDirectory as _};

impl DynamoStore {
    pub(super) async fn change_app(
        &self,
        app_id: &str,
        change: &AppChange,
        now_ms: i64,
    ) -> Result<App> {
        let mut backoff = Duration::from_millis(10);
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self
                .app_by_id(app_id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no app {app_id}")))?;
            let next = change.apply(&current, now_ms);
            if self.replace_app(&current, &next).await? {
                return Ok(next);
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        Err(Error::Unavailable(format!(
            "app {app_id} kept changing; update not applied"
        )))
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
