//! Apps (tenants), users and the ways a user can be named at login.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A tenant. Vendor login API routes name it by `app_id`; Easemob routes by `org_name/app_name`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub app_id: String,
    pub org_name: String,
    pub app_name: String,
    /// `encrypt_type` of the vendor login API: whether clients must use an encrypted connection.
    pub encrypt_type: i32,
    /// Public key handed to clients for the encrypted connection (`public_key` of the vendor login API).
    pub public_key: String,
    /// Default access-token lifetime in seconds.
    pub token_ttl: u64,
    /// Whether `ttl: 0` (a token that never expires) may be asked for on the Easemob route.
    pub allow_non_expiring: bool,
    pub client_id: String,
    /// Hash of the client secret; the secret itself is never stored.
    pub client_secret_hash: String,
    /// Default `bundleid` of push registrations (the vendor push-token guide: "默认为公司包名").
    #[serde(default)]
    pub bundle_id: String,
    /// Longest lifetime in seconds a client may ask for with Easemob's `ttl`, for user and
    /// app tokens alike (see [`App::ttl_cap`]). Apps stored before the field existed get
    /// the default.
    #[serde(default = "default_max_token_ttl")]
    pub max_token_ttl: u64,
    /// Unix milliseconds: app (admin) tokens minted at or before this instant are refused
    /// (set by `imauth app rotate-secret`).
    #[serde(default)]
    pub app_tokens_valid_after: i64,
    /// Incremented by every change; stores rewrite both copies of the app only if neither
    /// changed in between.
    #[serde(default)]
    pub revision: i64,
}

impl App {
    /// The longest `ttl` a client may ask for. Never below the app's own default, so a
    /// client may always ask explicitly for what it would get by default.
    pub fn ttl_cap(&self) -> u64 {
        self.max_token_ttl.max(self.token_ttl)
    }

    /// The rules an app's settings obey, at creation and after every change.
    pub fn check_settings(&self) -> Result<()> {
        let token_ttl = self.token_ttl;
        if token_ttl == 0 || token_ttl > MAX_TOKEN_TTL_SECS {
            return Err(Error::bad_request(format!(
                "token_ttl must be 1 to {MAX_TOKEN_TTL_SECS} seconds"
            )));
        }
        if !(token_ttl..=MAX_TTL_SECS).contains(&self.max_token_ttl) {
            return Err(Error::bad_request(format!(
                "max_token_ttl must be from token_ttl ({token_ttl}) to {MAX_TTL_SECS} seconds"
            )));
        }
        if self.encrypt_type < 0 {
            return Err(Error::bad_request("encrypt_type must not be negative"));
        }
        Ok(())
    }
}

fn default_max_token_ttl() -> u64 {
    DEFAULT_MAX_TOKEN_TTL_SECS
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("app_id", &self.app_id)
            .field("org_name", &self.org_name)
            .field("app_name", &self.app_name)
            .field("encrypt_type", &self.encrypt_type)
            .field("token_ttl", &self.token_ttl)
            .field("max_token_ttl", &self.max_token_ttl)
            .field("client_id", &self.client_id)
            .field("app_tokens_valid_after", &self.app_tokens_valid_after)
            .finish_non_exhaustive()
    }
}

/// Default access-token lifetime when an app does not set one: one day.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 86_400;

/// Longest token lifetime an app may default to: one year.
pub const MAX_TOKEN_TTL_SECS: u64 = 365 * 86_400;

/// Longest `ttl` anyone may ask for or an app may allow (`max_token_ttl`): ten years.
pub const MAX_TTL_SECS: u64 = 10 * 365 * 86_400;

/// Default cap on a client-chosen `ttl`: 30 days (the vendor's own example asks for
/// 1,024,000 s, about 12 days).
pub const DEFAULT_MAX_TOKEN_TTL_SECS: u64 = 30 * 86_400;

/// A user of one app, with everything a login needs in one record, so that every way
/// of naming the user resolves with one store read.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub app_id: String,
    pub user_id: i64,
    pub uuid: String,
    /// Canonical (lowercase) username.
    pub username: String,
    /// Canonical phone (see [`normalize_phone`]).
    pub phone: Option<String>,
    /// Canonical (lowercase) email.
    pub email: Option<String>,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// `false` means banned.
    pub activated: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Unix milliseconds: tokens and refresh families minted at or before this instant
    /// are no longer accepted (bumped by ban, password change, logout everywhere).
    pub tokens_valid_after: i64,
    /// Incremented by every change. Stores use it for optimistic concurrency: the copies
    /// of a user (one per login key) are rewritten only if none changed in between.
    #[serde(default)]
    pub revision: i64,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password hash is left out on purpose: Debug output ends up in logs.
        f.debug_struct("User")
            .field("app_id", &self.app_id)
            .field("user_id", &self.user_id)
            .field("uuid", &self.uuid)
            .field("username", &self.username)
            .field("activated", &self.activated)
            .finish_non_exhaustive()
    }
}

/// How a login names the user. Values are canonical: build them with [`LoginKey::parse_login_name`]
/// or the `username`/`phone`/`email` constructors, which normalize.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoginKey {
    UserId(i64),
    Username(String),
    Phone(String),
    Email(String),
}

impl LoginKey {
    pub fn username(raw: &str) -> Result<Self> {
        normalize_username(raw).map(Self::Username)
    }

    pub fn phone(raw: &str) -> Result<Self> {
        normalize_phone(raw).map(Self::Phone)
    }

    pub fn email(raw: &str) -> Result<Self> {
        normalize_email(raw).map(Self::Email)
    }

    /// Resolves the vendor login API's `login_name` ("a phone, an email or a username") to exactly one
    /// kind, so the login costs one read: an `@` means an email; digits with an optional
    /// leading `+` (spaces, dashes, dots and parentheses allowed as separators) mean a phone;
    /// anything else is a username. Usernames therefore must not look like phones, which
    /// [`normalize_username`] enforces at creation.
    pub fn parse_login_name(raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        if trimmed.contains('@') {
            Self::email(trimmed)
        } else if looks_like_phone(trimmed) {
            Self::phone(trimmed)
        } else {
            Self::username(trimmed)
        }
    }
}

impl fmt::Display for LoginKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserId(id) => write!(f, "user_id {id}"),
            Self::Username(_) => f.write_str("username"),
            Self::Phone(_) => f.write_str("phone"),
            Self::Email(_) => f.write_str("email"),
        }
    }
}

pub const MAX_USERNAME_LEN: usize = 64;
pub const MAX_EMAIL_LEN: usize = 254;

/// Usernames are case-insensitive (Easemob answers `"C"` as `"c"`), 1–64 characters of
/// `a-z 0-9 _ - .`, and must not look like a phone number (digits with `-` or `.`), so
/// that no username is mistaken for one at `/token/login` (openapi.yaml's `Username`).
pub fn normalize_username(raw: &str) -> Result<String> {
    let name = raw.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(Error::bad_request("username must not be empty"));
    }
    if name.len() > MAX_USERNAME_LEN {
        return Err(Error::bad_request(format!(
            "username must be at most {MAX_USERNAME_LEN} characters"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(Error::bad_request(
            "username may only contain letters, digits, '_', '-' and '.'",
        ));
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::bad_request(
            "username must contain a non-digit character (all-digit names are read as phone numbers)",
        ));
    }
    // Not only all-digit names: `1-2` or `1.5` would be read as a phone at
    // `/token/login` too, so they could never log in there.
    if looks_like_phone(&name) {
        return Err(Error::bad_request(
            "username must contain a letter or '_' (digits with '-' or '.' are read as phone numbers)",
        ));
    }
    Ok(name)
}

fn looks_like_phone(raw: &str) -> bool {
    let body = raw.strip_prefix('+').unwrap_or(raw);
    !body.is_empty()
        && body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'(' | b')'))
}

/// Phones are stored as `+` (if given) followed by digits only: `+86 138-0000-0000` and
/// `+8613800000000` are the same phone. 5–20 digits.
pub fn normalize_phone(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if !looks_like_phone(raw) {
        return Err(Error::bad_request(
            "phone must be digits with an optional leading '+'",
        ));
    }
    let plus = raw.starts_with('+');
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if !(5..=20).contains(&digits.len()) {
        return Err(Error::bad_request("phone must have 5 to 20 digits"));
    }
    Ok(if plus { format!("+{digits}") } else { digits })
}

/// Emails are compared case-insensitively and stored lowercased.
pub fn normalize_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(Error::bad_request("email must look like name@domain"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_resolve_to_one_kind() {
        assert_eq!(
            LoginKey::parse_login_name("Alice@Example.COM").ok(),
            Some(LoginKey::Email("alice@example.com".into()))
        );
        assert_eq!(
            LoginKey::parse_login_name("+86 138-0000-0000").ok(),
            Some(LoginKey::Phone("+8613800000000".into()))
        );
        assert_eq!(
            LoginKey::parse_login_name("13800000000").ok(),
            Some(LoginKey::Phone("13800000000".into()))
        );
        assert_eq!(
            LoginKey::parse_login_name("Alice").ok(),
            Some(LoginKey::Username("alice".into()))
        );
    }

    #[test]
    fn usernames_that_look_like_phones_are_refused() {
        assert!(normalize_username("123456").is_err());
        for phone_like in ["1-2", "1.5", "-7", "138.0000.0000"] {
            assert!(normalize_username(phone_like).is_err(), "{phone_like}");
            // It really is what /token/login would read it as.
            assert!(matches!(
                LoginKey::parse_login_name(phone_like),
                Ok(LoginKey::Phone(_)) | Err(_)
            ));
        }
        for name in ["a-1", "1_2", "-.", "x"] {
            assert!(normalize_username(name).is_ok(), "{name}");
        }
        assert!(normalize_username("user 1").is_err());
        assert!(normalize_username("").is_err());
        assert!(normalize_username(&"a".repeat(65)).is_err());
        assert_eq!(normalize_username("C").ok(), Some("c".to_string()));
    }

    #[test]
    fn bad_phones_and_emails_are_refused() {
        assert!(normalize_phone("12").is_err());
        assert!(normalize_phone("+").is_err());
        assert!(normalize_phone("12a45678").is_err());
        assert!(normalize_email("no-at-sign").is_err());
        assert!(normalize_email("a@b@c").is_err());
        assert!(normalize_email("@example.com").is_err());
    }
}

/// Which push a registration is for (the vendor push-token guide, docs/api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushKind {
    /// `/v1/api/user/token`: ring (call) push.
    Ring,
    /// `/v1/api/user/message/token`: message push.
    Message,
}

impl PushKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::Message => "message",
        }
    }
}

/// Vendor push channels, canonical spelling.
pub const PUSH_CHANNELS: &[&str] = &[
    "APNS", "FCM", "HUAWEI", "XIAOMI", "OPPO", "VIVO", "HONOR", "MEIZU",
];

/// The channel of a registration that names no vendor: the IM service's own push.
pub const DEFAULT_PUSH_CHANNEL: &str = "DEFAULT";

/// A device's push token registered for a user. One token has one owner: registering it
/// for another user moves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRegistration {
    pub app_id: String,
    pub kind: PushKind,
    /// `push_platform`, else `os`, else [`DEFAULT_PUSH_CHANNEL`].
    pub channel: String,
    pub push_token: String,
    pub user_id: i64,
    pub language: String,
    pub dev: u8,
    pub bundleid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_platform: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Incremented by every write; stores condition on it.
    #[serde(default)]
    pub revision: i64,
}

/// What identifies a registration: (app, kind, channel, token).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PushKey {
    pub app_id: String,
    pub kind: PushKind,
    pub channel: String,
    pub push_token: String,
}

impl PushRegistration {
    pub fn key(&self) -> PushKey {
        PushKey {
            app_id: self.app_id.clone(),
            kind: self.kind,
            channel: self.channel.clone(),
            push_token: self.push_token.clone(),
        }
    }
}
