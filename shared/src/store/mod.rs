//! The storage seam: narrow traits, one per capability, so that each Lambda is wired
//! (and, in production, granted IAM actions) for exactly what it uses.
//!
//! Every login, whichever way it names the user, is one `find_user` call, which the
//! DynamoDB store answers with one GetItem: each login key (user id, username, phone,
//! email) has its own item holding a full copy of the credential, and every change
//! rewrites all copies in one transaction.

pub mod embedded;

use async_trait::async_trait;

use crate::domain::{App, LoginKey, User};
use crate::error::Result;

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

/// Replaces a hash made under an old policy after a successful login. Conditional on the
/// hash still being `old_hash`, so it can never undo a concurrent password change.
#[async_trait]
pub trait PasswordRehash: Send + Sync {
    async fn rehash_password(&self, user: &User, old_hash: &str, new_hash: &str) -> Result<()>;
}

/// Operator provisioning of apps.
#[async_trait]
pub trait AppAdmin: Send + Sync {
    /// Fails with `Conflict` when the app id or the org/app name pair is taken.
    async fn create_app(&self, app: &App) -> Result<()>;
}

/// Operator provisioning of users.
#[async_trait]
pub trait UserAdmin: Send + Sync {
    /// Fails with `Conflict` naming the field when the user id, username, phone or email
    /// is already taken in the app. Nothing is written then.
    async fn create_user(&self, user: &User) -> Result<()>;
    /// Sets a new password hash and bumps `tokens_valid_after` on every copy.
    async fn set_password_hash(
        &self,
        app_id: &str,
        user_id: i64,
        new_hash: &str,
        tokens_valid_after: i64,
        modified_ms: i64,
    ) -> Result<()>;
    /// Bans (`activated = false`) or unbans; a ban also bumps `tokens_valid_after`.
    async fn set_activated(
        &self,
        app_id: &str,
        user_id: i64,
        activated: bool,
        tokens_valid_after: i64,
        modified_ms: i64,
    ) -> Result<()>;
}

/// What the login functions need.
pub trait LoginStore: AppDirectory + CredentialLookup + PasswordRehash {}
impl<T: AppDirectory + CredentialLookup + PasswordRehash> LoginStore for T {}

/// What the operator tooling needs.
pub trait AdminStore: AppDirectory + CredentialLookup + AppAdmin + UserAdmin {}
impl<T: AppDirectory + CredentialLookup + AppAdmin + UserAdmin> AdminStore for T {}
