//! Creating apps and users: validation, normalization and hashing in one place, shared
//! by the seed loader, `imauth serve --demo` and the operator CLI.

use serde::Deserialize;

use crate::auth::hash_client_secret;
use crate::auth::password::{Password, PasswordHasher};
use crate::auth::random::random_id;
use crate::clock::Clock;
use crate::domain::{
    App, DEFAULT_MAX_TOKEN_TTL_SECS, DEFAULT_TOKEN_TTL_SECS, User, normalize_email,
    normalize_phone, normalize_username,
};
use crate::error::{Error, Result};

pub use crate::domain::MAX_TOKEN_TTL_SECS;

/// An app as an operator describes it (seed file, CLI).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApp {
    pub app_id: String,
    pub org_name: Option<String>,
    pub app_name: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub encrypt_type: Option<i32>,
    pub public_key: Option<String>,
    pub token_ttl: Option<u64>,
    /// Cap on a client-chosen `ttl` (default [`DEFAULT_MAX_TOKEN_TTL_SECS`]).
    pub max_token_ttl: Option<u64>,
    pub allow_non_expiring: Option<bool>,
    pub bundle_id: Option<String>,
}

/// A user as an operator describes it (seed file, CLI, CSV import).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub app_id: String,
    pub user_id: i64,
    pub username: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub password: String,
    pub activated: Option<bool>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("app_id", &self.app_id)
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn validate_name(field: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "{field} must be 1 to 64 characters of letters, digits, '_', '-' and '.'"
        )))
    }
}

/// A new random client secret: `(hash to store, secret to show once)`.
pub fn new_client_secret() -> Result<(String, String)> {
    let secret = random_id::<32>()?;
    Ok((hash_client_secret(&secret), secret))
}

/// Builds the app record. Returns the client secret in clear when one was generated,
/// so the caller can show it once; only its hash is kept.
pub fn build_app(new: NewApp) -> Result<(App, Option<String>)> {
    validate_name("app_id", &new.app_id)?;
    let org_name = new.org_name.unwrap_or_else(|| new.app_id.clone());
    let app_name = new.app_name.unwrap_or_else(|| new.app_id.clone());
    validate_name("org_name", &org_name)?;
    validate_name("app_name", &app_name)?;
    let token_ttl = new.token_ttl.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    let max_token_ttl = new
        .max_token_ttl
        .unwrap_or(DEFAULT_MAX_TOKEN_TTL_SECS.max(token_ttl));
    let encrypt_type = new.encrypt_type.unwrap_or(0);
    let client_id = match new.client_id {
        Some(id) => {
            validate_name("client_id", &id)?;
            id
        }
        None => format!("{}-{}", new.app_id, random_id::<6>()?.to_ascii_lowercase()),
    };
    let (secret_hash, generated) = match new.client_secret {
        Some(secret) if secret.len() < 16 => {
            return Err(Error::bad_request(
                "client_secret must be at least 16 characters",
            ));
        }
        Some(secret) => (hash_client_secret(&secret), None),
        None => {
            let (hash, secret) = new_client_secret()?;
            (hash, Some(secret))
        }
    };
    let app = App {
        app_id: new.app_id,
        org_name,
        app_name,
        encrypt_type,
        public_key: new.public_key.unwrap_or_default(),
        token_ttl,
        allow_non_expiring: new.allow_non_expiring.unwrap_or(false),
        client_id,
        client_secret_hash: secret_hash,
        bundle_id: new.bundle_id.unwrap_or_default(),
        max_token_ttl,
        app_tokens_valid_after: 0,
        revision: 0,
    };
    app.check_settings()?;
    Ok((app, generated))
}

/// Validates and normalizes the user and hashes the password under the current policy.
pub fn build_user(new: NewUser, hasher: &PasswordHasher, clock: &dyn Clock) -> Result<User> {
    let mut user = unhashed_user(&new, clock)?;
    user.password_hash = hasher.hash(&Password::new(new.password)?)?;
    Ok(user)
}

/// A user without a password (Easemob's `inherit` grant creates these): it can get
/// tokens only through its app's admin token; every password login fails for it as a
/// wrong password does (see `service::crypto::verify_now`).
pub fn build_passwordless_user(
    app_id: &str,
    user_id: i64,
    username: &str,
    clock: &dyn Clock,
) -> Result<User> {
    let new = NewUser {
        app_id: app_id.to_owned(),
        user_id,
        username: username.to_owned(),
        phone: None,
        email: None,
        password: String::new(),
        activated: Some(true),
    };
    unhashed_user(&new, clock)
}

/// The user record of `new`, validated and normalized, with an empty password hash.
fn unhashed_user(new: &NewUser, clock: &dyn Clock) -> Result<User> {
    if new.user_id <= 0 {
        return Err(Error::bad_request("user_id must be a positive int64"));
    }
    let username = normalize_username(&new.username)?;
    let phone = new
        .phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(normalize_phone)
        .transpose()?;
    let email = new
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(normalize_email)
        .transpose()?;
    let now = clock.now_ms();
    Ok(User {
        app_id: new.app_id.clone(),
        user_id: new.user_id,
        uuid: uuid::Uuid::new_v4().to_string(),
        username,
        phone,
        email,
        password_hash: String::new(),
        activated: new.activated.unwrap_or(true),
        created_ms: now,
        modified_ms: now,
        tokens_valid_after: 0,
        revision: 0,
    })
}
