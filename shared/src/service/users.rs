//! Managing an app's users: the one implementation behind Easemob's user-management
//! routes (`http::users`), the `inherit` grant's automatic creation and the operator's
//! `imauth user` commands.

use crate::auth::lockout::{LockState, LockSubject};
use crate::auth::random::random_bytes;
use crate::clock::Clock;
use crate::domain::{LoginKey, User, normalize_email, normalize_phone};
use crate::error::{Error, Result};
use crate::service::Crypto;
use crate::service::provision::{NewUser, build_passwordless_user, build_user};
use crate::store::{UserAdmin, UserChange, UserManagementStore, UserPage};

/// Most users one registration request may create (Easemob's batch limit).
pub const MAX_BATCH: usize = 60;
/// Longest password the user-management routes accept, in characters (Easemob's rule).
pub const MAX_REST_PASSWORD_CHARS: usize = 64;
/// Most users one page of `list` holds.
pub const MAX_PAGE: usize = 100;
/// Ids are random below 2^53, so they are exact as JSON numbers in every client.
const USER_ID_LIMIT: u64 = 1 << 53;
/// Fresh ids tried when the one drawn is taken (about never, at 2^53 ids).
const ID_ATTEMPTS: usize = 5;
/// Attempts at an operation that lost a race with a concurrent change of the user.
const RACE_ATTEMPTS: usize = 5;

/// A user to register through the REST route; `password: None` makes a password-less
/// user (the `inherit` grant's automatic creation).
#[derive(Clone)]
pub struct Registration {
    pub username: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A random user id in 1..2^53.
fn random_user_id() -> Result<i64> {
    let raw = u64::from_le_bytes(random_bytes::<8>()?) % (USER_ID_LIMIT - 1) + 1;
    i64::try_from(raw).map_err(Error::internal)
}

fn id_taken(error: &Error) -> bool {
    matches!(error, Error::Conflict(message) if message.starts_with("user_id "))
}

/// The user record of `registration` under `user_id`, its password (if any) hashed.
fn build(crypto: &Crypto, app_id: &str, user_id: i64, registration: &Registration) -> Result<User> {
    match &registration.password {
        None => build_passwordless_user(
            app_id,
            user_id,
            &registration.username,
            crypto.clock.as_ref(),
        ),
        Some(password) => build_user(
            NewUser {
                app_id: app_id.to_owned(),
                user_id,
                username: registration.username.clone(),
                phone: None,
                email: None,
                password: password.clone(),
                activated: Some(true),
            },
            &crypto.hasher,
            crypto.clock.as_ref(),
        ),
    }
}

/// Creates one user under a fresh random id (see [`USER_ID_LIMIT`]). A taken username
/// is `Conflict("username already taken")`.
pub async fn register(
    store: &dyn UserAdmin,
    crypto: &Crypto,
    app_id: &str,
    registration: &Registration,
) -> Result<User> {
    // Validates and hashes once; only the id changes between attempts.
    let mut user = build(crypto, app_id, random_user_id()?, registration)?;
    let mut attempt = 1;
    loop {
        match store.create_user(&user).await {
            Err(e) if id_taken(&e) && attempt < ID_ATTEMPTS => {
                attempt += 1;
                user.user_id = random_user_id()?;
            }
            outcome => return outcome.map(|()| user),
        }
    }
}

/// Checks a REST registration before any user is created: a batch is refused whole
/// for one malformed entry, never half applied.
pub fn check_registration(registration: &Registration) -> Result<()> {
    if registration.username.trim() != registration.username {
        return Err(Error::bad_request(
            "username must not start or end with whitespace",
        ));
    }
    crate::domain::normalize_username(&registration.username)?;
    match &registration.password {
        Some(password) => check_password(password),
        None => Ok(()),
    }
}

/// A password the REST routes accept: 1 to [`MAX_REST_PASSWORD_CHARS`] characters.
pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() > MAX_REST_PASSWORD_CHARS {
        return Err(Error::bad_request(format!(
            "password must be at most {MAX_REST_PASSWORD_CHARS} characters"
        )));
    }
    crate::auth::password::Password::new(password.to_owned()).map(drop)
}

/// What a batch registration did: the users created and, for each entry whose
/// username was taken, the username and why.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub created: Vec<User>,
    pub refused: Vec<(String, Error)>,
}

/// Registers up to [`MAX_BATCH`] users. Every entry is checked first (one malformed
/// entry refuses the whole request); then a taken username (also one taken earlier in
/// the same batch) is reported in `refused` while the others are created.
pub async fn register_batch(
    store: &dyn UserAdmin,
    crypto: &Crypto,
    app_id: &str,
    registrations: &[Registration],
) -> Result<BatchOutcome> {
    if registrations.is_empty() || registrations.len() > MAX_BATCH {
        return Err(Error::bad_request(format!(
            "a registration holds 1 to {MAX_BATCH} users"
        )));
    }
    for registration in registrations {
        check_registration(registration)?;
    }
    let mut outcome = BatchOutcome::default();
    for registration in registrations {
        match register(store, crypto, app_id, registration).await {
            Ok(user) => outcome.created.push(user),
            Err(e @ Error::Conflict(_)) => outcome.refused.push((registration.username.clone(), e)),
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

/// The user named `username` in `app_id`, created without a password if absent and
/// `create` is set: the `inherit` grant. Of concurrent creations of one name, one
/// creates and the others read what it created.
pub async fn find_or_create(
    store: &dyn UserAdmin,
    lookup: &dyn crate::store::CredentialLookup,
    crypto: &Crypto,
    app_id: &str,
    username: &LoginKey,
    create: bool,
) -> Result<User> {
    let LoginKey::Username(name) = username else {
        return Err(Error::internal("inherit names users by username"));
    };
    if let Some(user) = lookup.find_user(app_id, username).await? {
        return Ok(user);
    }
    if !create {
        return Err(Error::NotFound(format!("no user {name} in this app")));
    }
    let registration = Registration {
        username: name.clone(),
        password: None,
    };
    match register(store, crypto, app_id, &registration).await {
        Err(Error::Conflict(_)) => lookup
            .find_user(app_id, username)
            .await?
            .ok_or_else(|| Error::Unavailable(format!("user {name} is being changed"))),
        outcome => outcome,
    }
}

/// The user named by `key`, or `NotFound`.
pub async fn user(store: &dyn UserManagementStore, app_id: &str, key: &LoginKey) -> Result<User> {
    crate::service::admin::find_user(store, app_id, key).await
}

/// Deletes the user named by `key` with everything that names it (see
/// [`crate::store::UserRemoval::delete_user`]); returns the user as it was.
pub async fn delete(store: &dyn UserManagementStore, app_id: &str, key: &LoginKey) -> Result<User> {
    for _ in 0..RACE_ATTEMPTS {
        let current = user(store, app_id, key).await?;
        if store.delete_user(&current).await? {
            return Ok(current);
        }
    }
    Err(Error::Unavailable(
        "the user kept changing; it was not deleted".into(),
    ))
}

/// Ends every session of the user: every token issued before now stops working.
pub async fn logout(
    store: &dyn UserAdmin,
    clock: &dyn Clock,
    app_id: &str,
    user_id: i64,
) -> Result<User> {
    store
        .update_user(app_id, user_id, &UserChange::RevokeTokens, clock.now_ms())
        .await
}

/// A change of phone and/or email: `None` keeps the current value, `Some("")` removes
/// it. Uniqueness holds as at creation (`Conflict`).
#[derive(Debug, Clone, Default)]
pub struct ContactUpdate {
    pub phone: Option<String>,
    pub email: Option<String>,
}

pub async fn update_contact(
    store: &dyn UserManagementStore,
    clock: &dyn Clock,
    app_id: &str,
    user_id: i64,
    update: &ContactUpdate,
) -> Result<User> {
    if update.phone.is_none() && update.email.is_none() {
        return Err(Error::bad_request("name a new phone or email"));
    }
    let normalized = |value: &Option<String>,
                      current: &Option<String>,
                      normalize: fn(&str) -> Result<String>| {
        match value.as_deref().map(str::trim) {
            None => Ok(current.clone()),
            Some("") => Ok(None),
            Some(raw) => normalize(raw).map(Some),
        }
    };
    // The field not named keeps the value read here.
    let current = user(store, app_id, &LoginKey::UserId(user_id)).await?;
    let change = UserChange::Contact {
        phone: normalized(&update.phone, &current.phone, normalize_phone)?,
        email: normalized(&update.email, &current.email, normalize_email)?,
    };
    store
        .update_user(app_id, user_id, &change, clock.now_ms())
        .await
}

/// Clears the account's failed-login counter (a lockout ends at once). Counters of the
/// user's proven devices are left: they lock only that device.
pub async fn unlock(store: &dyn UserManagementStore, app_id: &str, user_id: i64) -> Result<User> {
    let user = user(store, app_id, &LoginKey::UserId(user_id)).await?;
    let subject = LockSubject::Account {
        app_id: app_id.to_owned(),
        user_id,
    };
    for _ in 0..RACE_ATTEMPTS {
        let seen = store.lock_state(&subject).await?;
        if seen == LockState::default() || store.clear_failures(&subject, &seen).await? {
            return Ok(user);
        }
    }
    Err(Error::Unavailable(
        "failures kept being counted; the account was not unlocked".into(),
    ))
}

/// One page of the app's users (1 to [`MAX_PAGE`]), after the cursor of the previous.
pub async fn list(
    store: &dyn UserManagementStore,
    app_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<UserPage> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::bad_request(format!("limit must be 1 to {MAX_PAGE}")));
    }
    store.list_users(app_id, after, limit).await
}
