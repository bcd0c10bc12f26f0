//! The storage seam: narrow traits, one per capability, so that each Lambda is wired
//! (and, in production, granted IAM actions) for exactly what it uses.
//!
//! Every login, whichever way it names the user, is one `find_user` call, which the
//! DynamoDB store answers with one GetItem: each login key (user id, username, phone,
//! email) has its own item holding a full copy of the credential, and every change
//! rewrites all copies in one transaction. Failed-login counters live in items of
//! their own (`LockoutStore`).

pub mod dynamo;
pub mod embedded;

use async_trait::async_trait;

use crate::auth::lockout::{LockState, LockSubject};
use crate::auth::refresh::{RefreshFamily, RefreshRecord};
use crate::domain::{App, LoginKey, PushKey, PushKind, PushRegistration, User};
use crate::error::Result;

pub use dynamo::DynamoStore;
pub use embedded::EmbeddedStore;

/// Read apps by either name. Used by every route.
#[async_trait]
pub trait AppDirectory: Send + Sync {
    async fn app_by_id(&self, app_id: &str) -> Result<Option<App>>;
    async fn app_by_name(&self, org_name: &str, app_name: &str) -> Result<Option<App>>;
}

/// The one read a login makes.
#[async_trait]
pub trait CredentialLookup: Send + Sync {
    /// The user named by `key` in `app_id`, with everything needed to verify a password.
    async fn find_user(&self, app_id: &str, key: &LoginKey) -> Result<Option<User>>;
}

/// Replaces a hash made under an old policy after a successful login. Applied only if
/// the user is still at `user.revision`, so it can never undo a concurrent change.
#[async_trait]
pub trait PasswordRehash: Send + Sync {
    /// `Ok(false)` when the user changed in between and nothing was written.
    async fn rehash_password(&self, user: &User, new_hash: &str) -> Result<bool>;
}

/// Operator provisioning of apps.
#[async_trait]
pub trait AppAdmin: Send + Sync {
    /// Fails with `Conflict` when the app id or the org/app name pair is taken.
    async fn create_app(&self, app: &App) -> Result<()>;
    /// Applies `change` to every copy of the app at once and returns the new app.
    /// `NotFound` for an unknown app; `BadRequest` when the result breaks an app rule
    /// ([`App::check_settings`]), judged against the app as it is when written.
    async fn update_app(&self, app_id: &str, change: &AppChange, now_ms: i64) -> Result<App>;
    /// Apps in `app_id` order, at most `limit`, starting after `after`; the second value is
    /// the cursor of the next page (`None` on the last page).
    async fn list_apps(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<App>, Option<String>)>;
}

/// A change to an app. Both stores apply it with [`AppChange::apply`].
#[derive(Clone, PartialEq, Eq)]
pub enum AppChange {
    /// A new client secret (its hash): every app token minted before now stops working.
    ClientSecret { hash: String },
    /// New token lifetimes or connection settings.
    Settings(AppSettings),
}

/// Settings an operator may change after creation; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSettings {
    pub token_ttl: Option<u64>,
    pub max_token_ttl: Option<u64>,
    pub encrypt_type: Option<i32>,
    pub public_key: Option<String>,
}

impl std::fmt::Debug for AppChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientSecret { .. } => f.write_str("ClientSecret"),
            Self::Settings(settings) => write!(f, "{settings:?}"),
        }
    }
}

impl AppChange {
    /// The app after the change, at `now_ms`; `BadRequest` if it would break an app rule.
    pub fn apply(&self, app: &App, now_ms: i64) -> Result<App> {
        let mut next = app.clone();
        match self {
            Self::ClientSecret { hash } => {
                next.client_secret_hash = hash.clone();
                next.app_tokens_valid_after = app.app_tokens_valid_after.max(now_ms);
            }
            Self::Settings(settings) => {
                next.token_ttl = settings.token_ttl.unwrap_or(app.token_ttl);
                next.max_token_ttl = settings.max_token_ttl.unwrap_or(app.max_token_ttl);
                next.encrypt_type = settings.encrypt_type.unwrap_or(app.encrypt_type);
                if let Some(public_key) = &settings.public_key {
                    next.public_key.clone_from(public_key);
                }
                next.check_settings()?;
            }
        }
        next.revision = app.revision + 1;
        Ok(next)
    }
}

/// A change to a user. Both stores apply it with [`UserChange::apply`] and write every
/// copy of the user in one atomic step.
#[derive(Clone, PartialEq, Eq)]
pub enum UserChange {
    /// A new password: every token issued before now stops working.
    Password { hash: String },
    /// Same password, new hash parameters (rehash on login): tokens stay valid.
    Rehash { hash: String },
    /// Ban (`false`) or unban. A ban also ends every token issued before now.
    Activated(bool),
    /// New phone and/or email (`None` removes it); uniqueness holds as at creation.
    Contact {
        phone: Option<String>,
        email: Option<String>,
    },
    /// Logout everywhere: every token issued before now stops working.
    RevokeTokens,
}

impl std::fmt::Debug for UserChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password { .. } => f.write_str("Password"),
            Self::Rehash { .. } => f.write_str("Rehash"),
            Self::Activated(a) => write!(f, "Activated({a})"),
            Self::Contact { .. } => f.write_str("Contact"),
            Self::RevokeTokens => f.write_str("RevokeTokens"),
        }
    }
}

impl UserChange {
    /// The user after the change, at `now_ms`.
    pub fn apply(&self, user: &User, now_ms: i64) -> User {
        let mut next = user.clone();
        let revoke = |u: &mut User| {
            u.tokens_valid_after = u.tokens_valid_after.max(now_ms);
        };
        match self {
            Self::Password { hash } => {
                next.password_hash = hash.clone();
                revoke(&mut next);
            }
            Self::Rehash { hash } => next.password_hash = hash.clone(),
            Self::Activated(activated) => {
                next.activated = *activated;
                if !activated {
                    revoke(&mut next);
                }
            }
            Self::Contact { phone, email } => {
                next.phone = phone.clone();
                next.email = email.clone();
            }
            Self::RevokeTokens => revoke(&mut next),
        }
        if !matches!(self, Self::Rehash { .. }) {
            next.modified_ms = now_ms;
        }
        next.revision = user.revision + 1;
        next
    }
}

/// Operator provisioning of users.
#[async_trait]
pub trait UserAdmin: Send + Sync {
    /// Fails with `Conflict` naming the field when the user id, username, phone or email
    /// is already taken in the app. Nothing is written then.
    async fn create_user(&self, user: &User) -> Result<()>;
    /// Applies `change` to every copy of the user at once and returns the new user.
    /// `NotFound` for an unknown user; `Conflict` if a new phone/email is taken.
    async fn update_user(
        &self,
        app_id: &str,
        user_id: i64,
        change: &UserChange,
        now_ms: i64,
    ) -> Result<User>;
}

/// One page of an app's users and the cursor of the next (none on the last page). The
/// cursor is opaque: hand it back as `after` unchanged.
#[derive(Debug, Clone, Default)]
pub struct UserPage {
    pub users: Vec<User>,
    pub next: Option<String>,
}

/// Deleting and listing users: only the user-management function and the operator CLI
/// have it (in AWS, the only holders of `dynamodb:DeleteItem` and `Scan` on the table).
#[async_trait]
pub trait UserRemoval: Send + Sync {
    /// Deletes every copy of `user`, only if it is still at `user.revision` (`Ok(false)`
    /// when it changed in between: nothing was deleted), then everything else that
    /// names the user: failed-login counters (the account's, its devices', and those of
    /// its username, phone and email), devices, push registrations, refresh families
    /// and tokens. A refresh rotation needs the user's id item, so none can slip in
    /// after the copies are gone.
    async fn delete_user(&self, user: &User) -> Result<bool>;
    /// Up to `limit` users of `app_id` after the cursor `after`.
    async fn list_users(&self, app_id: &str, after: Option<&str>, limit: usize)
    -> Result<UserPage>;
}

/// The login keys under which a user can be found besides the user id, with the field
/// name used in conflict messages.
pub fn secondary_keys(user: &User) -> Vec<(&'static str, LoginKey)> {
    let mut keys = vec![("username", LoginKey::Username(user.username.clone()))];
    if let Some(phone) = &user.phone {
        keys.push(("phone", LoginKey::Phone(phone.clone())));
    }
    if let Some(email) = &user.email {
        keys.push(("email", LoginKey::Email(email.clone())));
    }
    keys
}

/// Failed-login counters (see `auth::lockout`): one per [`LockSubject`], apart from the
/// user's copies, so that a failure is one small write and a login still finds the
/// user with one read.
#[async_trait]
pub trait LockoutStore: Send + Sync {
    /// Counts one failure at `now_ms` with one atomic increment (no lost counts under
    /// any concurrency), starting a new run after 15 quiet minutes. Returns the state
    /// after this failure.
    async fn count_failure(&self, subject: &LockSubject, now_ms: i64) -> Result<LockState>;
    /// The counter as it is now (a strongly consistent read); default when none.
    async fn lock_state(&self, subject: &LockSubject) -> Result<LockState>;
    /// The counter as it is now, read *with a write* that changes nothing a decision
    /// depends on: a right password then costs the store what a wrong one does (one
    /// write), so its time tells nothing, even while the account is locked.
    async fn observe_lock(&self, subject: &LockSubject, now_ms: i64) -> Result<LockState>;
    /// A success: the count goes back to zero, but only if it is still `seen`, so a
    /// failure counted in between is never wiped. `Ok(false)` when it was not.
    async fn clear_failures(&self, subject: &LockSubject, seen: &LockState) -> Result<bool>;
}

/// How a rotation attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// The presented token was already used (or the family already opened): reuse.
    Reused,
    /// The family was revoked.
    Revoked,
}

/// Refresh-token families and rotated tokens (see `auth::refresh`).
#[async_trait]
pub trait RefreshStore: Send + Sync {
    /// First use of a login's opener: creates the family (which must not exist) and
    /// stores `first`. `Reused` if the family exists already.
    async fn open_family(&self, family: &RefreshFamily, first: &RefreshRecord) -> Result<Rotation>;
    async fn find_refresh(&self, token_hash: &str) -> Result<Option<RefreshRecord>>;
    /// Marks `old` used and stores `next`, only if `old` is unused and its family is not
    /// revoked: of two concurrent rotations of one token, exactly one wins.
    async fn rotate_refresh(&self, old: &RefreshRecord, next: &RefreshRecord) -> Result<Rotation>;
    /// Revokes the family (creating its record if it was never opened).
    async fn revoke_family(&self, family: &RefreshFamily) -> Result<()>;
}

/// Push-token registrations (the vendor push-token guide, docs/api.md) and the devices logins name.
#[async_trait]
pub trait PushStore: Send + Sync {
    async fn push_registration(&self, key: &PushKey) -> Result<Option<PushRegistration>>;
    /// The user's registrations of one kind.
    async fn user_push_registrations(
        &self,
        app_id: &str,
        user_id: i64,
        kind: PushKind,
    ) -> Result<Vec<PushRegistration>>;
    /// Writes `next` (a new registration, or `current` updated or moved to another
    /// user) and removes `evict` (the owner's oldest, over the cap), all at once, only
    /// if `current` is still what is stored. `Ok(false)` when it changed in between.
    async fn save_push_registration(
        &self,
        current: Option<&PushRegistration>,
        next: &PushRegistration,
        evict: &[PushRegistration],
    ) -> Result<bool>;
    /// Removes `registration` if it is still as read. `Ok(false)` when it changed.
    async fn delete_push_registration(&self, registration: &PushRegistration) -> Result<bool>;
}

/// Devices users log in from (`device_guid`), for push tokens bound to them.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn record_device(
        &self,
        app_id: &str,
        user_id: i64,
        device_guid: &str,
        now_ms: i64,
    ) -> Result<()>;
}

/// What the login functions need (`UserAdmin` for Easemob's `inherit` grant, which may
/// create the user it names).
pub trait LoginStore:
    AppDirectory + CredentialLookup + PasswordRehash + LockoutStore + DeviceStore + UserAdmin
{
}
impl<T> LoginStore for T where
    T: AppDirectory + CredentialLookup + PasswordRehash + LockoutStore + DeviceStore + UserAdmin
{
}

/// What the push-registration function needs.
pub trait PushRegistrationStore: AppDirectory + CredentialLookup + PushStore {}
impl<T: AppDirectory + CredentialLookup + PushStore> PushRegistrationStore for T {}

/// What the refresh/revoke function needs.
pub trait SessionStore: AppDirectory + CredentialLookup + RefreshStore + UserAdmin {}
impl<T: AppDirectory + CredentialLookup + RefreshStore + UserAdmin> SessionStore for T {}

/// What the user-management routes and the operator's user commands need.
pub trait UserManagementStore:
    AppDirectory + CredentialLookup + UserAdmin + UserRemoval + LockoutStore
{
}
impl<T: AppDirectory + CredentialLookup + UserAdmin + UserRemoval + LockoutStore>
    UserManagementStore for T
{
}

/// Everything the request services need (`http::Services::over`): a store that can back
/// every function.
pub trait ServiceStore:
    LoginStore + SessionStore + PushRegistrationStore + UserManagementStore
{
}
impl<T: LoginStore + SessionStore + PushRegistrationStore + UserManagementStore> ServiceStore
    for T
{
}

/// What the operator tooling needs.
pub trait AdminStore:
    AppDirectory + CredentialLookup + AppAdmin + UserAdmin + PasswordRehash
{
}
impl<T: AppDirectory + CredentialLookup + AppAdmin + UserAdmin + PasswordRehash> AdminStore for T {}
