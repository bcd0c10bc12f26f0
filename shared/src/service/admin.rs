//! Operator use cases behind the `imauth` CLI: provisioning apps and users, bans and
//! password resets. Each writes through the store traits only.

use crate::auth::password::Password;
use crate::clock::Clock;
use crate::domain::{App, LoginKey, User};
use crate::error::{Error, Result};
use crate::service::Crypto;
use crate::service::provision::{NewApp, NewUser, build_app, build_user, new_client_secret};
use crate::store::{AdminStore, AppChange, AppSettings, CredentialLookup, UserAdmin, UserChange};

/// Creates an app. Returns the client secret in clear when one was generated: it is
/// shown once and only its hash is stored.
pub async fn create_app(store: &dyn AdminStore, new: NewApp) -> Result<(App, Option<String>)> {
    let (app, secret) = build_app(new)?;
    store.create_app(&app).await?;
    Ok((app, secret))
}

pub async fn find_app(store: &dyn AdminStore, app_id: &str) -> Result<App> {
    store
        .app_by_id(app_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no app {app_id}")))
}

/// Replaces the app's client secret with a new random one, returned in clear to be
/// shown once (only its hash is stored), and revokes every app token minted before now.
pub async fn rotate_client_secret(
    store: &dyn AdminStore,
    clock: &dyn Clock,
    app_id: &str,
) -> Result<(App, String)> {
    let (hash, secret) = new_client_secret()?;
    let app = store
        .update_app(app_id, &AppChange::ClientSecret { hash }, clock.now_ms())
        .await?;
    Ok((app, secret))
}

/// Changes an app's token lifetimes or connection settings (the rules of creation hold).
pub async fn update_app_settings(
    store: &dyn AdminStore,
    clock: &dyn Clock,
    app_id: &str,
    settings: AppSettings,
) -> Result<App> {
    if settings == AppSettings::default() {
        return Err(Error::bad_request("nothing to change"));
    }
    store
        .update_app(app_id, &AppChange::Settings(settings), clock.now_ms())
        .await
}

/// Most apps a page of [`list_apps`] holds.
pub const MAX_APPS_PER_PAGE: usize = 1000;

/// A page of apps in `app_id` order after `after`, and the cursor of the next page.
pub async fn list_apps(
    store: &dyn AdminStore,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<App>, Option<String>)> {
    if !(1..=MAX_APPS_PER_PAGE).contains(&limit) {
        return Err(Error::bad_request(format!(
            "limit must be 1 to {MAX_APPS_PER_PAGE}"
        )));
    }
    store.list_apps(after, limit).await
}

/// Creates a user in an existing app.
pub async fn create_user(store: &dyn AdminStore, crypto: &Crypto, new: NewUser) -> Result<User> {
    if store.app_by_id(&new.app_id).await?.is_none() {
        return Err(Error::UnknownApp(format!(
            "app_id {:?} names no app",
            new.app_id
        )));
    }
    let user = build_user(new, &crypto.hasher, crypto.clock.as_ref())?;
    store.create_user(&user).await?;
    Ok(user)
}

pub async fn find_user(store: &dyn CredentialLookup, app_id: &str, key: &LoginKey) -> Result<User> {
    store
        .find_user(app_id, key)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user {key} in app {app_id}")))
}

/// Bans or unbans; a ban ends every token issued before it.
pub async fn set_activated(
    store: &dyn UserAdmin,
    crypto: &Crypto,
    app_id: &str,
    user_id: i64,
    activated: bool,
) -> Result<User> {
    store
        .update_user(
            app_id,
            user_id,
            &UserChange::Activated(activated),
            crypto.clock.now_ms(),
        )
        .await
}

/// Sets a new password (hashed under the current policy); ends every older token.
pub async fn set_password(
    store: &dyn UserAdmin,
    crypto: &Crypto,
    app_id: &str,
    user_id: i64,
    password: String,
) -> Result<User> {
    let hash = crypto.hasher.hash(&Password::new(password)?)?;
    store
        .update_user(
            app_id,
            user_id,
            &UserChange::Password { hash },
            crypto.clock.now_ms(),
        )
        .await
}
