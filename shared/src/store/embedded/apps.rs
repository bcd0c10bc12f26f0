//! Apps in the embedded store: one record answers both names, so both "copies" change
//! together.

use async_trait::async_trait;

use super::EmbeddedStore;
use crate::domain::App;
use crate::error::{Error, Result};
use crate::store::{AppAdmin, AppChange, AppDirectory};

#[async_trait]
impl AppDirectory for EmbeddedStore {
    async fn app_by_id(&self, app_id: &str) -> Result<Option<App>> {
        Ok(self.read()?.apps.get(app_id).cloned())
    }

    async fn app_by_name(&self, org_name: &str, app_name: &str) -> Result<Option<App>> {
        let tables = self.read()?;
        Ok(tables
            .app_names
            .get(&(org_name.to_owned(), app_name.to_owned()))
            .and_then(|id| tables.apps.get(id))
            .cloned())
    }
}

#[async_trait]
impl AppAdmin for EmbeddedStore {
    async fn create_app(&self, app: &App) -> Result<()> {
        let mut tables = self.write()?;
        let name = (app.org_name.clone(), app.app_name.clone());
        if tables.apps.contains_key(&app.app_id) {
            return Err(Error::Conflict("app_id already taken".into()));
        }
        if tables.app_names.contains_key(&name) {
            return Err(Error::Conflict("org_name/app_name already taken".into()));
        }
        tables.app_names.insert(name, app.app_id.clone());
        tables.apps.insert(app.app_id.clone(), app.clone());
        Ok(())
    }

    async fn update_app(&self, app_id: &str, change: &AppChange, now_ms: i64) -> Result<App> {
        let mut tables = self.write()?;
        // One record answers both names here, so both "copies" change together.
        let app = tables
            .apps
            .get_mut(app_id)
            .ok_or_else(|| Error::NotFound(format!("no app {app_id}")))?;
        *app = change.apply(app, now_ms)?;
        Ok(app.clone())
    }

    async fn list_apps(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<App>, Option<String>)> {
        let tables = self.read()?;
        let mut ids: Vec<&String> = tables
            .apps
            .keys()
            .filter(|id| after.is_none_or(|after| id.as_str() > after))
            .collect();
        ids.sort();
        let more = ids.len() > limit;
        let page: Vec<App> = ids
            .into_iter()
            .take(limit)
            .filter_map(|id| tables.apps.get(id).cloned())
            .collect();
        let next = if more {
            page.last().map(|app| app.app_id.clone())
        } else {
            None
        };
        Ok((page, next))
    }
}
