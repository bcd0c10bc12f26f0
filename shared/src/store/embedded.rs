//! The in-process store: for `imauth serve`, unit tests and benchmarks. It keeps the
//! same rules as the DynamoDB store (uniqueness per app, all-or-nothing changes) so the
//! conformance suite holds for both.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;

use super::{
    CredentialLookup, DeviceStore, LockoutStore, PasswordRehash, PushStore, RefreshStore, Rotation,
    UserAdmin, UserChange, UserPage, UserRemoval, secondary_keys,
};
use crate::auth::lockout::{LockState, LockSubject};
use crate::auth::refresh::{RefreshFamily, RefreshRecord};
use crate::domain::{App, LoginKey, PushKey, PushKind, PushRegistration, User};
use crate::error::{Error, Result};

mod apps;

#[derive(Default)]
struct Tables {
    push: HashMap<PushKey, PushRegistration>,
    /// (app, user) → device guid → last login (ms).
    devices: HashMap<(String, i64), HashMap<String, i64>>,
    /// Refresh families: family id → revoked.
    families: HashMap<String, bool>,
    /// Rotated refresh tokens by hash.
    refresh: HashMap<String, RefreshRecord>,
    apps: HashMap<String, App>,
    app_names: HashMap<(String, String), String>,
    users: HashMap<(String, i64), User>,
    /// (app, username/phone/email key) → user id.
    logins: HashMap<(String, LoginKey), i64>,
    /// Failed-login counters.
    locks: HashMap<LockSubject, LockState>,
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

impl Tables {
    fn user(&self, app_id: &str, user_id: i64) -> Result<&User> {
        self.users
            .get(&(app_id.to_owned(), user_id))
            .ok_or_else(|| Error::NotFound(format!("no user {user_id} in app {app_id}")))
    }

    /// Replaces `old` by `new` (same app and id) if `old` is still current, keeping the
    /// login-key index unique: the embedded twin of the DynamoDB transaction.
    fn replace_user(&mut self, old: &User, new: User) -> Result<()> {
        let app = &new.app_id;
        let old_keys = secondary_keys(old);
        let new_keys = secondary_keys(&new);
        for (field, key) in &new_keys {
            if !old_keys.iter().any(|(_, k)| k == key)
                && self.logins.contains_key(&(app.clone(), key.clone()))
            {
                return Err(Error::Conflict(format!("{field} already taken")));
            }
        }
        for (_, key) in old_keys {
            self.logins.remove(&(app.clone(), key));
        }
        for (_, key) in new_keys {
            self.logins.insert((app.clone(), key), new.user_id);
        }
        self.users.insert((app.clone(), new.user_id), new);
        Ok(())
    }

    /// Whether the family's user still exists (as the DynamoDB store's condition check).
    fn has_owner(&self, family: &RefreshFamily) -> bool {
        self.users
            .contains_key(&(family.app_id.clone(), family.user_id))
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
    async fn rehash_password(&self, user: &User, new_hash: &str) -> Result<bool> {
        let mut tables = self.write()?;
        let current = tables.user(&user.app_id, user.user_id)?.clone();
        if current.revision != user.revision {
            return Ok(false);
        }
        let change = UserChange::Rehash {
            hash: new_hash.to_owned(),
        };
        let next = change.apply(&current, current.modified_ms);
        tables.replace_user(&current, next)?;
        Ok(true)
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
            return Err(Error::Conflict("user_id already taken".into()));
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

    async fn update_user(
        &self,
        app_id: &str,
        user_id: i64,
        change: &UserChange,
        now_ms: i64,
    ) -> Result<User> {
        let mut tables = self.write()?;
        let current = tables.user(app_id, user_id)?.clone();
        let next = change.apply(&current, now_ms);
        tables.replace_user(&current, next.clone())?;
        Ok(next)
    }
}

#[async_trait]
impl LockoutStore for EmbeddedStore {
    async fn count_failure(&self, subject: &LockSubject, now_ms: i64) -> Result<LockState> {
        let mut tables = self.write()?;
        let state = tables.locks.entry(subject.clone()).or_default();
        *state = state.after_failure(now_ms);
        Ok(*state)
    }

    async fn lock_state(&self, subject: &LockSubject) -> Result<LockState> {
        Ok(self.read()?.locks.get(subject).copied().unwrap_or_default())
    }

    async fn observe_lock(&self, subject: &LockSubject, _now_ms: i64) -> Result<LockState> {
        self.lock_state(subject).await
    }

    async fn clear_failures(&self, subject: &LockSubject, seen: &LockState) -> Result<bool> {
        let mut tables = self.write()?;
        match tables.locks.get_mut(subject) {
            Some(state) if state == seen => {
                state.failures = 0;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl RefreshStore for EmbeddedStore {
    async fn open_family(&self, family: &RefreshFamily, first: &RefreshRecord) -> Result<Rotation> {
        let mut tables = self.write()?;
        if tables.families.contains_key(&family.family_id) || !tables.has_owner(family) {
            return Ok(Rotation::Reused);
        }
        tables.families.insert(family.family_id.clone(), false);
        tables
            .refresh
            .insert(first.token_hash.clone(), first.clone());
        Ok(Rotation::Rotated)
    }

    async fn find_refresh(&self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        Ok(self.read()?.refresh.get(token_hash).cloned())
    }

    async fn rotate_refresh(&self, old: &RefreshRecord, next: &RefreshRecord) -> Result<Rotation> {
        let mut tables = self.write()?;
        if tables.families.get(&old.family.family_id) != Some(&false)
            || !tables.has_owner(&old.family)
        {
            return Ok(Rotation::Revoked);
        }
        match tables.refresh.get_mut(&old.token_hash) {
            Some(stored) if !stored.used => stored.used = true,
            _ => return Ok(Rotation::Reused),
        }
        tables.refresh.insert(next.token_hash.clone(), next.clone());
        Ok(Rotation::Rotated)
    }

    async fn revoke_family(&self, family: &RefreshFamily) -> Result<()> {
        self.write()?
            .families
            .insert(family.family_id.clone(), true);
        Ok(())
    }
}

#[async_trait]
impl PushStore for EmbeddedStore {
    async fn push_registration(&self, key: &PushKey) -> Result<Option<PushRegistration>> {
        Ok(self.read()?.push.get(key).cloned())
    }

    async fn user_push_registrations(
        &self,
        app_id: &str,
        user_id: i64,
        kind: PushKind,
    ) -> Result<Vec<PushRegistration>> {
        Ok(self
            .read()?
            .push
            .values()
            .filter(|r| r.app_id == app_id && r.user_id == user_id && r.kind == kind)
            .cloned()
            .collect())
    }

    async fn save_push_registration(
        &self,
        current: Option<&PushRegistration>,
        next: &PushRegistration,
        evict: &[PushRegistration],
    ) -> Result<bool> {
        let mut tables = self.write()?;
        let key = next.key();
        if tables.push.get(&key) != current {
            return Ok(false);
        }
        if evict.iter().any(|e| tables.push.get(&e.key()) != Some(e)) {
            return Ok(false);
        }
        for e in evict {
            tables.push.remove(&e.key());
        }
        tables.push.insert(key, next.clone());
        Ok(true)
    }

    async fn delete_push_registration(&self, registration: &PushRegistration) -> Result<bool> {
        let mut tables = self.write()?;
        let key = registration.key();
        if tables.push.get(&key) != Some(registration) {
            return Ok(false);
        }
        tables.push.remove(&key);
        Ok(true)
    }
}

#[async_trait]
impl DeviceStore for EmbeddedStore {
    async fn record_device(
        &self,
        app_id: &str,
        user_id: i64,
        device_guid: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.write()?
            .devices
            .entry((app_id.to_owned(), user_id))
            .or_default()
            .insert(device_guid.to_owned(), now_ms);
        Ok(())
    }
}

#[async_trait]
impl UserRemoval for EmbeddedStore {
    async fn delete_user(&self, user: &User) -> Result<bool> {
        let mut tables = self.write()?;
        let id = (user.app_id.clone(), user.user_id);
        match tables.users.get(&id) {
            Some(current) if current.revision == user.revision => {}
            _ => return Ok(false),
        }
        tables.users.remove(&id);
        let keys = secondary_keys(user);
        for (_, key) in &keys {
            tables.logins.remove(&(user.app_id.clone(), key.clone()));
        }
        tables.devices.remove(&id);
        tables
            .push
            .retain(|_, r| !(r.app_id == user.app_id && r.user_id == user.user_id));
        let owned =
            |family: &RefreshFamily| family.app_id == user.app_id && family.user_id == user.user_id;
        let families: Vec<String> = tables
            .refresh
            .values()
            .filter(|r| owned(&r.family))
            .map(|r| r.family.family_id.clone())
            .collect();
        for family in families {
            tables.families.remove(&family);
        }
        tables.refresh.retain(|_, r| !owned(&r.family));
        tables.locks.retain(|subject, _| match subject {
            LockSubject::Account { app_id, user_id }
            | LockSubject::Device {
                app_id, user_id, ..
            } => !(*app_id == user.app_id && *user_id == user.user_id),
            LockSubject::UnknownName { app_id, key } => {
                !(*app_id == user.app_id && keys.iter().any(|(_, k)| k == key))
            }
        });
        Ok(true)
    }

    async fn list_users(
        &self,
        app_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<UserPage> {
        let after = match after {
            None => i64::MIN,
            Some(cursor) => cursor
                .parse::<i64>()
                .map_err(|_| Error::bad_request("malformed cursor"))?,
        };
        let tables = self.read()?;
        let mut ids: Vec<i64> = tables
            .users
            .keys()
            .filter(|(app, id)| app == app_id && *id > after)
            .map(|(_, id)| *id)
            .collect();
        ids.sort_unstable();
        let more = ids.len() > limit;
        ids.truncate(limit);
        let users: Vec<User> = ids
            .iter()
            .filter_map(|id| tables.users.get(&(app_id.to_owned(), *id)).cloned())
            .collect();
        let next = if more {
            users.last().map(|u| u.user_id.to_string())
        } else {
            None
        };
        Ok(UserPage { users, next })
    }
}
