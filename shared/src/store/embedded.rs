//! The in-process store: for `imauth serve`, unit tests and benchmarks. It keeps the
//! same rules as the DynamoDB store (uniqueness per app, all-or-nothing changes) so the
//! conformance suite holds for both.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;

use super::{AppAdmin, AppDirectory, CredentialLookup, PasswordRehash, UserAdmin};
use crate::domain::{App, LoginKey, User};
use crate::error::{Error, Result};

#[derive(Default)]
struct Tables {
    apps: HashMap<String, App>,
    app_names: HashMap<(String, String), String>,
    users: HashMap<(String, i64), User>,
    /// (app, username/phone/email key) → user id.
    logins: HashMap<(String, LoginKey), i64>,
}

#[derive(Default)]
pub struct EmbeddedStore {
    tables: RwLock<Tables>,
}

impl EmbeddedStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Tables>> {
        self.tables
            .read()
            .map_err(|_| Error::internal("embedded store lock poisoned"))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Tables>> {
        self.tables
            .write()
            .map_err(|_| Error::internal("embedded store lock poisoned"))
    }
}

/// The secondary login keys of a user, with the field name used in conflict messages.
pub(crate) fn secondary_keys(user: &User) -> Vec<(&'static str, LoginKey)> {
    let mut keys = vec![("username", LoginKey::Username(user.username.clone()))];
    if let Some(phone) = &user.phone {
        keys.push(("phone", LoginKey::Phone(phone.clone())));
    }
    if let Some(email) = &user.email {
        keys.push(("email", LoginKey::Email(email.clone())));
    }
    keys
}

fn user_mut<'a>(tables: &'a mut Tables, app_id: &str, user_id: i64) -> Result<&'a mut User> {
    tables
        .users
        .get_mut(&(app_id.to_owned(), user_id))
        .ok_or_else(|| Error::NotFound(format!("user {user_id} in app {app_id}")))
}

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
impl CredentialLookup for EmbeddedStore {
    async fn find_user(&self, app_id: &str, key: &LoginKey) -> Result<Option<User>> {
        let tables = self.read()?;
        let user_id = match key {
            LoginKey::UserId(id) => Some(*id),
            other => tables
                .logins
                .get(&(app_id.to_owned(), other.clone()))
                .copied(),
        };
        Ok(user_id.and_then(|id| tables.users.get(&(app_id.to_owned(), id)).cloned()))
    }
}

#[async_trait]
impl PasswordRehash for EmbeddedStore {
    async fn rehash_password(&self, user: &User, old_hash: &str, new_hash: &str) -> Result<()> {
        let mut tables = self.write()?;
        let stored = user_mut(&mut tables, &user.app_id, user.user_id)?;
        if stored.password_hash == old_hash {
            stored.password_hash = new_hash.to_owned();
        }
        Ok(())
    }
}

#[async_trait]
impl AppAdmin for EmbeddedStore {
    async fn create_app(&self, app: &App) -> Result<()> {
        let mut tables = self.write()?;
        let name = (app.org_name.clone(), app.app_name.clone());
        if tables.apps.contains_key(&app.app_id) {
            return Err(Error::Conflict(format!(
                "app_id {} already exists",
                app.app_id
            )));
        }
        if tables.app_names.contains_key(&name) {
            return Err(Error::Conflict(format!(
                "org/app {}/{} already exists",
                app.org_name, app.app_name
            )));
        }
        tables.app_names.insert(name, app.app_id.clone());
        tables.apps.insert(app.app_id.clone(), app.clone());
        Ok(())
    }
}

#[async_trait]
impl UserAdmin for EmbeddedStore {
    async fn create_user(&self, user: &User) -> Result<()> {
        let mut tables = self.write()?;
        if tables
            .users
            .contains_key(&(user.app_id.clone(), user.user_id))
        {
            return Err(Error::Conflict(format!(
                "user_id {} already exists",
                user.user_id
            )));
        }
        let keys = secondary_keys(user);
        for (field, key) in &keys {
            if tables
                .logins
                .contains_key(&(user.app_id.clone(), key.clone()))
            {
                return Err(Error::Conflict(format!("{field} already taken")));
            }
        }
        for (_, key) in keys {
            tables
                .logins
                .insert((user.app_id.clone(), key), user.user_id);
        }
        tables
            .users
            .insert((user.app_id.clone(), user.user_id), user.clone());
        Ok(())
    }

    async fn set_password_hash(
        &self,
        app_id: &str,
        user_id: i64,
        new_hash: &str,
        tokens_valid_after: i64,
        modified_ms: i64,
    ) -> Result<()> {
        let mut tables = self.write()?;
        let user = user_mut(&mut tables, app_id, user_id)?;
        user.password_hash = new_hash.to_owned();
        user.tokens_valid_after = user.tokens_valid_after.max(tokens_valid_after);
        user.modified_ms = modified_ms;
        Ok(())
    }

    async fn set_activated(
        &self,
        app_id: &str,
        user_id: i64,
        activated: bool,
        tokens_valid_after: i64,
        modified_ms: i64,
    ) -> Result<()> {
        let mut tables = self.write()?;
        let user = user_mut(&mut tables, app_id, user_id)?;
        user.activated = activated;
        user.tokens_valid_after = user.tokens_valid_after.max(tokens_valid_after);
        user.modified_ms = modified_ms;
        Ok(())
    }
}
