//! The process-wide keys, hasher and clock every service shares, and what is done with
//! them: verifying a token (re-reading the keys once on an unknown kid) and minting a
//! session's tokens.

use std::sync::Arc;

use crate::auth::password::{Password, PasswordHasher};
use crate::auth::refresh::{self, RefreshFamily};
use crate::auth::tokens::{Actor, Claims, Minting, TokenKeys, TokenType};
use crate::clock::Clock;
use crate::domain::{App, User};
use crate::error::Result;
use crate::service::key_refresh::KeyRefresh;
use crate::service::lifetime::Lifetime;

/// The process-wide secrets and policies every service shares: built once at cold start.
pub struct Crypto {
    pub hasher: PasswordHasher,
    pub tokens: TokenKeys,
    pub clock: Arc<dyn Clock>,
    /// Where to re-read the key set when a token names a key this process does not know
    /// (the production secret); `None` for keys from a file or generated.
    pub key_refresh: Option<KeyRefresh>,
}

impl Crypto {
    /// Verifies a token of type `expected` (see [`Crypto::verify_one_of`]).
    pub async fn verify(&self, token: &str, expected: TokenType) -> Result<Claims> {
        self.verify_one_of(token, &[expected]).await
    }

    /// Verifies a token that may be any of `allowed`. A token refused because it names
    /// a key this process does not know makes it re-read the key set (at most once per
    /// [`KeyRefresh::MIN_INTERVAL`]) and try again: after `imauth keys rotate`, instances
    /// started before the rotation learn the new key from the first token it signed
    /// instead of refusing every such token until they are replaced. Accepted tokens
    /// (the hot path) are looked at once.
    pub async fn verify_one_of(&self, token: &str, allowed: &[TokenType]) -> Result<Claims> {
        let verified = self.tokens.verify_one_of(token, allowed);
        if verified.is_ok() {
            return verified;
        }
        let (Some(refresh), Some(kid)) =
            (&self.key_refresh, self.tokens.verifier().unknown_kid(token))
        else {
            return verified;
        };
        refresh.refresh(&self.tokens, &kid).await;
        self.tokens.verify_one_of(token, allowed)
    }
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto")
            .field("hasher", &self.hasher)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// The tokens of one login session.
#[derive(Clone)]
pub struct IssuedTokens {
    pub token: String,
    /// Unix seconds at which `token` expires.
    pub expire: i64,
    /// Seconds the token lives; 0 for a non-expiring token (Easemob's convention).
    pub expires_in: u64,
    pub push_token: Option<String>,
    pub store_token: String,
    pub access_key_secret: String,
    pub session_id: String,
    /// The refresh token and when it expires (Unix seconds); none for tokens an admin
    /// minted by acting, so a refresh can never shed the `act` claim.
    pub refresh: Option<(String, i64)>,
    /// A password login with a `device_guid`: the proof that lets this device past the
    /// account-wide lock next time (service::attempts).
    pub device_proof: Option<String>,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("expire", &self.expire)
            .finish_non_exhaustive()
    }
}

/// Whom the tokens are for.
#[derive(Debug, Clone)]
pub enum Subject {
    User(User),
    /// An admin acting as the admin of a group (the vendor login API's `group_id` header).
    GroupAdmin(i64),
}

impl Subject {
    fn sub(&self) -> String {
        match self {
            Self::User(user) => user.user_id.to_string(),
            Self::GroupAdmin(group) => format!("group-admin:{group}"),
        }
    }

    /// The vendor login API's `data.user_id`: the user, or 0 for a group-admin token.
    pub fn user_id(&self) -> i64 {
        match self {
            Self::User(user) => user.user_id,
            Self::GroupAdmin(_) => 0,
        }
    }
}

impl Crypto {
    /// Mints the access token, the store token, the derived `access_key_secret`, and a
    /// push token bound to `device_guid` when one is given.
    pub fn issue(
        &self,
        app: &App,
        subject: &Subject,
        device_guid: Option<&str>,
        lifetime: Lifetime,
        acting: Option<(Actor, Option<i64>)>,
    ) -> Result<IssuedTokens> {
        let tokens = &self.tokens;
        let now_ms = self.clock.now_ms();
        let now = now_ms.div_euclid(1000);
        let (expire, expires_in) = lifetime.expiry(app, now)?;
        let session_id = tokens.new_session_id()?;
        let (act, grp) = acting.map_or((None, None), |(a, g)| (Some(a), g));
        let sub = subject.sub();
        let minting = Minting {
            issuer: tokens.issuer(),
            app_id: &app.app_id,
            sub: &sub,
            session_id: &session_id,
            now_ms,
            exp: expire,
        };
        let claims = |typ: TokenType, dev: Option<&str>| {
            Claims::new(typ, minting)
                .with_device(dev)
                .with_actor(act.clone(), grp)
        };
        let token = tokens.sign(&claims(TokenType::Access, None))?;
        let store_token = tokens.sign(&claims(TokenType::Store, None))?;
        let push_token = device_guid
            .map(|guid| tokens.sign(&claims(TokenType::Push, Some(guid))))
            .transpose()?;
        let access_key_secret = tokens.access_key_secret(&session_id)?;
        Ok(IssuedTokens {
            token,
            expire,
            expires_in,
            push_token,
            store_token,
            access_key_secret,
            session_id,
            refresh: None,
            device_proof: None,
        })
    }

    /// A login's refresh token: the sealed opener of a new family (stored nowhere until
    /// first used), and until when it may be used.
    pub fn open_refresh_family(
        &self,
        user: &User,
        device_guid: Option<String>,
    ) -> Result<(String, i64)> {
        let now_ms = self.clock.now_ms();
        let now = now_ms.div_euclid(1000);
        let family = RefreshFamily {
            family_id: refresh::new_family_id()?,
            app_id: user.app_id.clone(),
            user_id: user.user_id,
            device_guid,
            created_at: now,
            created_ms: now_ms,
            expires_at: now.saturating_add(refresh::FAMILY_LIFETIME_SECS),
        };
        let expire = now.saturating_add(refresh::IDLE_LIFETIME_SECS);
        Ok((
            refresh::seal_opener(self.tokens.refresh_keys()?, &family)?,
            expire.min(family.expires_at),
        ))
    }
}

pub(super) fn verify_now(
    crypto: &Crypto,
    password: &Password,
    stored: Option<&str>,
) -> Result<bool> {
    // A password-less user (created by Easemob's `inherit` grant) has an empty hash:
    // it costs the dummy verify and fails, exactly like an unknown user.
    match stored.filter(|hash| !hash.is_empty()) {
        Some(hash) => crypto.hasher.verify(password, hash),
        None => {
            crypto.hasher.dummy_verify(password);
            Ok(false)
        }
    }
}
