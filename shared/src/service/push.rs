//! Push-token registration (the vendor push-token guide, docs/api.md): ring and message tokens per device. An
//! idempotent upsert keyed on (app, kind, channel, token); a token registered by another
//! user moves to that user (one device, one owner); each user holds at most
//! [`MAX_REGISTRATIONS_PER_KIND`] per kind, the oldest evicted.

use std::sync::Arc;

use crate::domain::{DEFAULT_PUSH_CHANNEL, PUSH_CHANNELS, PushKey, PushKind, PushRegistration};
use crate::error::{Error, Result};
use crate::metrics::{self, Outcome};
use crate::service::Crypto;
use crate::store::PushRegistrationStore;

pub const MAX_REGISTRATIONS_PER_KIND: usize = 10;
pub const MAX_PUSH_TOKEN_LEN: usize = 512;
pub const MAX_BUNDLE_ID_LEN: usize = 255;
/// Attempts of a register/unregister before reporting contention as 503.
const ATTEMPTS: u32 = 5;

/// A registration request as the body gives it, before validation.
#[derive(Debug, Default, Clone)]
pub struct RegistrationInput {
    pub push_token: Option<String>,
    pub language: Option<String>,
    pub id: Option<i64>,
    pub dev: Option<i64>,
    pub bundleid: Option<String>,
    pub os: Option<String>,
    pub os_token: Option<String>,
    pub push_platform: Option<String>,
}

/// A validated registration, without owner or times yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRegistration {
    pub push_token: String,
    pub language: String,
    pub dev: u8,
    pub bundleid: Option<String>,
    pub os: Option<String>,
    pub os_token: Option<String>,
    pub push_platform: Option<String>,
}

impl ValidRegistration {
    pub fn channel(&self) -> String {
        self.push_platform
            .clone()
            .or_else(|| self.os.clone())
            .unwrap_or_else(|| DEFAULT_PUSH_CHANNEL.to_owned())
    }
}

fn bad(message: impl Into<String>) -> Error {
    Error::bad_request(message)
}

/// A push token: visible ASCII, no spaces, bounded.
pub fn validate_push_token(token: &str) -> Result<String> {
    if token.is_empty() || token.len() > MAX_PUSH_TOKEN_LEN {
        return Err(bad(format!(
            "push_token must be 1 to {MAX_PUSH_TOKEN_LEN} characters"
        )));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("push_token must be printable ASCII without spaces"));
    }
    Ok(token.to_owned())
}

/// A vendor channel, case-insensitive in, canonical out.
pub fn canonical_channel(field: &str, value: &str) -> Result<String> {
    let upper = value.trim().to_ascii_uppercase();
    PUSH_CHANNELS
        .iter()
        .find(|c| **c == upper)
        .map(|c| (*c).to_owned())
        .ok_or_else(|| {
            bad(format!(
                "{field} must be one of {}",
                PUSH_CHANNELS.join(", ")
            ))
        })
}

/// A short language tag such as `en`, `zh-CN`, `zh_Hans_CN`.
fn validate_language(language: &str) -> Result<String> {
    let mut parts = language.split(['-', '_']);
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if language.len() <= 35 && primary_ok && rest_ok {
        Ok(language.to_owned())
    } else {
        Err(bad("language must be a language tag such as en or zh-CN"))
    }
}

/// Reverse-DNS bundle id such as `com.example.chat`.
fn validate_bundle_id(bundle: &str) -> Result<String> {
    let labels_ok = bundle.split('.').count() >= 2
        && bundle.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if bundle.len() <= MAX_BUNDLE_ID_LEN && labels_ok {
        Ok(bundle.to_owned())
    } else {
        Err(bad(
            "bundleid must be a reverse-DNS name such as com.example.chat",
        ))
    }
}

impl RegistrationInput {
    /// Checks every field; each violation is a 400 naming the field.
    pub fn validate(self, caller_user_id: i64) -> Result<ValidRegistration> {
        let push_token = validate_push_token(
            &self
                .push_token
                .ok_or_else(|| bad("missing field push_token"))?,
        )?;
        let language =
            validate_language(&self.language.ok_or_else(|| bad("missing field language"))?)?;
        let id = self.id.ok_or_else(|| bad("missing field id"))?;
        let dev = match self.dev.unwrap_or(0) {
            0 => 0,
            1 => 1,
            _ => return Err(bad("dev must be 0 (release) or 1 (development)")),
        };
        let bundleid = self
            .bundleid
            .filter(|b| !b.is_empty())
            .map(|b| validate_bundle_id(&b))
            .transpose()?;
        let os = self
            .os
            .filter(|o| !o.is_empty())
            .map(|o| canonical_channel("os", &o))
            .transpose()?;
        let push_platform = self
            .push_platform
            .filter(|p| !p.is_empty())
            .map(|p| canonical_channel("push_platform", &p))
            .transpose()?;
        let os_token = self.os_token.filter(|t| !t.is_empty());
        if (os.is_some() || push_platform.is_some()) && os_token.is_none() {
            return Err(bad(
                "os_token is required when os or push_platform names a channel",
            ));
        }
        let os_token = os_token
            .map(|t| {
                validate_push_token(&t)
                    .map_err(|_| bad("os_token must be 1 to 512 printable characters"))
            })
            .transpose()?;
        // Checked last so that a malformed body is a 400 whoever sends it.
        if id != caller_user_id {
            return Err(Error::Forbidden(
                "id must be the caller's own user id".into(),
            ));
        }
        Ok(ValidRegistration {
            push_token,
            language,
            dev,
            bundleid,
            os,
            os_token,
            push_platform,
        })
    }
}

pub struct PushService {
    store: Arc<dyn PushRegistrationStore>,
    crypto: Arc<Crypto>,
}

impl PushService {
    pub fn new(store: Arc<dyn PushRegistrationStore>, crypto: Arc<Crypto>) -> Self {
        Self { store, crypto }
    }

    pub fn store(&self) -> &dyn PushRegistrationStore {
        self.store.as_ref()
    }

    /// Registers (or re-registers, or moves) a token for `user_id`.
    pub async fn register(
        &self,
        app_id: &str,
        user_id: i64,
        kind: PushKind,
        valid: ValidRegistration,
    ) -> Result<PushRegistration> {
        let default_bundle = match self.store.app_by_id(app_id).await? {
            Some(app) => {
                metrics::record_app(&app.app_id);
                app.bundle_id
            }
            None => String::new(),
        };
        let key = PushKey {
            app_id: app_id.to_owned(),
            kind,
            channel: valid.channel(),
            push_token: valid.push_token.clone(),
        };
        for _ in 0..ATTEMPTS {
            let now = self.crypto.clock.now_ms();
            let current = self.store.push_registration(&key).await?;
            let next = PushRegistration {
                app_id: app_id.to_owned(),
                kind,
                channel: key.channel.clone(),
                push_token: valid.push_token.clone(),
                user_id,
                language: valid.language.clone(),
                dev: valid.dev,
                bundleid: valid
                    .bundleid
                    .clone()
                    .unwrap_or_else(|| default_bundle.clone()),
                os: valid.os.clone(),
                os_token: valid.os_token.clone(),
                push_platform: valid.push_platform.clone(),
                // A move to another user is a new registration for that user.
                created_ms: current
                    .as_ref()
                    .filter(|c| c.user_id == user_id)
                    .map_or(now, |c| c.created_ms),
                updated_ms: now,
                revision: current.as_ref().map_or(0, |c| c.revision + 1),
            };
            let evict = self.over_cap(app_id, user_id, kind, &key).await?;
            if self
                .store
                .save_push_registration(current.as_ref(), &next, &evict)
                .await?
            {
                metrics::record(Outcome::PushRegistered);
                return Ok(next);
            }
        }
        Err(Error::Unavailable(
            "the push registration kept changing; please try again".into(),
        ))
    }

    /// The owner's oldest registrations that must go for one more to fit the cap.
    async fn over_cap(
        &self,
        app_id: &str,
        user_id: i64,
        kind: PushKind,
        incoming: &PushKey,
    ) -> Result<Vec<PushRegistration>> {
        let mut others: Vec<PushRegistration> = self
            .store
            .user_push_registrations(app_id, user_id, kind)
            .await?
            .into_iter()
            .filter(|r| r.key() != *incoming)
            .collect();
        let excess = (others.len() + 1).saturating_sub(MAX_REGISTRATIONS_PER_KIND);
        others.sort_by_key(|r| (r.updated_ms, r.created_ms));
        others.truncate(excess);
        Ok(others)
    }

    pub async fn list(
        &self,
        app_id: &str,
        user_id: i64,
        kind: PushKind,
    ) -> Result<Vec<PushRegistration>> {
        let mut all = self
            .store
            .user_push_registrations(app_id, user_id, kind)
            .await?;
        all.sort_by_key(|r| (r.created_ms, r.push_token.clone()));
        Ok(all)
    }

    /// Removes the caller's own registration of `push_token` (in `channel`, or in any
    /// channel when none is named). Another user's token is "not found", never removed.
    pub async fn unregister(
        &self,
        app_id: &str,
        user_id: i64,
        kind: PushKind,
        push_token: &str,
        channel: Option<String>,
    ) -> Result<PushRegistration> {
        let not_found = || Error::NotFound("no such push registration for this user".into());
        for _ in 0..ATTEMPTS {
            let mine = self
                .store
                .user_push_registrations(app_id, user_id, kind)
                .await?
                .into_iter()
                .find(|r| {
                    r.push_token == push_token && channel.as_ref().is_none_or(|c| *c == r.channel)
                });
            let Some(stale) = mine else {
                return Err(not_found());
            };
            let Some(current) = self.store.push_registration(&stale.key()).await? else {
                return Err(not_found());
            };
            if current.user_id != user_id {
                return Err(not_found());
            }
            if self.store.delete_push_registration(&current).await? {
                return Ok(current);
            }
        }
        Err(Error::Unavailable(
            "the push registration kept changing; please try again".into(),
        ))
    }
}
