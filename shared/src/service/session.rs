//! Sessions after login: refresh-token rotation with reuse detection (RFC 9700),
//! revocation of one session family, logout everywhere, and the check every
//! access-token use needs (`tokens_valid_after`).

use std::sync::Arc;

use crate::auth::refresh::{self, Presented, RefreshFamily, RefreshRecord};
use crate::auth::tokens::{Claims, TokenType};
use crate::domain::{App, LoginKey, User};
use crate::error::{Error, Result};
use crate::metrics::{self, Outcome};
use crate::service::Crypto;
use crate::service::login::{IssuedTokens, Lifetime, Subject};
use crate::store::{Rotation, SessionStore, UserChange};

pub struct SessionService {
    store: Arc<dyn SessionStore>,
    crypto: Arc<Crypto>,
}

/// A successful refresh: new tokens for the family's user.
#[derive(Debug)]
pub struct Refreshed {
    pub app: App,
    pub user: User,
    pub tokens: IssuedTokens,
}

fn invalid() -> Error {
    Error::Unauthorized("invalid or expired refresh token".into())
}

impl SessionService {
    pub fn new(store: Arc<dyn SessionStore>, crypto: Arc<Crypto>) -> Self {
        Self { store, crypto }
    }

    pub fn crypto(&self) -> &Crypto {
        &self.crypto
    }

    /// The family a presented refresh token belongs to, and its stored record (none for
    /// a login's opener). Expired-but-undeleted records count as absent.
    async fn resolve(
        &self,
        presented: &str,
        now: i64,
    ) -> Result<(RefreshFamily, Option<RefreshRecord>)> {
        match refresh::parse(self.crypto.tokens.refresh_keys()?, presented)? {
            Presented::Opener(family) => {
                let idle_end = family
                    .created_at
                    .saturating_add(refresh::IDLE_LIFETIME_SECS);
                if now >= idle_end || now >= family.expires_at {
                    return Err(invalid());
                }
                Ok((family, None))
            }
            Presented::Rotated { token_hash } => {
                let record = self
                    .store
                    .find_refresh(&token_hash)
                    .await?
                    .filter(|r| r.is_live(now))
                    .ok_or_else(invalid)?;
                Ok((record.family.clone(), Some(record)))
            }
        }
    }

    /// Rotates a refresh token: the presented one dies, a new one and fresh access
    /// tokens are returned. A token presented a second time revokes its whole family.
    pub async fn refresh(&self, presented: &str) -> Result<Refreshed> {
        let now = self.crypto.clock.now_secs();
        let (family, old) = self.resolve(presented, now).await?;
        let app = self
            .store
            .app_by_id(&family.app_id)
            .await?
            .ok_or_else(invalid)?;
        let user = self
            .store
            .find_user(&family.app_id, &LoginKey::UserId(family.user_id))
            .await?
            .ok_or_else(invalid)?;
        // A ban, a password change or a logout-everywhere after this family's login
        // ends it.
        if !user.activated || family.created_ms <= user.tokens_valid_after {
            return Err(Error::Unauthorized("the session has been revoked".into()));
        }
        let (token, token_hash) = refresh::new_rotated()?;
        let next = RefreshRecord {
            token_hash,
            family: family.clone(),
            expires_at: now
                .saturating_add(refresh::IDLE_LIFETIME_SECS)
                .min(family.expires_at),
            used: false,
        };
        let rotation = match &old {
            None => self.store.open_family(&family, &next).await?,
            Some(old) if old.used => Rotation::Reused,
            Some(old) => self.store.rotate_refresh(old, &next).await?,
        };
        match rotation {
            Rotation::Rotated => {}
            Rotation::Reused => {
                self.store.revoke_family(&family).await?;
                tracing::warn!(
                    target: "imauth::audit",
                    event = "refresh_reuse",
                    app_id = %family.app_id,
                    user_id = family.user_id,
                    family = %family.family_id,
                    "a used refresh token was presented; its family is revoked"
                );
                return Err(Error::RefreshReused);
            }
            Rotation::Revoked => {
                return Err(Error::Unauthorized("the session has been revoked".into()));
            }
        }
        let mut tokens = self.crypto.issue(
            &app,
            &Subject::User(user.clone()),
            family.device_guid.as_deref(),
            Lifetime::AppDefault,
            None,
        )?;
        tokens.refresh = Some((token, next.expires_at));
        metrics::record_app(&app.app_id);
        metrics::record(Outcome::TokenRefreshed);
        Ok(Refreshed { app, user, tokens })
    }

    /// Logs out one session: its refresh family is revoked. Revoking an unknown or
    /// expired token succeeds (RFC 7009); a malformed or forged one is refused.
    pub async fn revoke(&self, presented: &str) -> Result<()> {
        let family = match refresh::parse(self.crypto.tokens.refresh_keys()?, presented)? {
            Presented::Opener(family) => Some(family),
            Presented::Rotated { token_hash } => self
                .store
                .find_refresh(&token_hash)
                .await?
                .map(|record| record.family),
        };
        if let Some(family) = family {
            self.store.revoke_family(&family).await?;
        }
        Ok(())
    }

    /// Verifies a user's access token, including revocation: the user must exist, not
    /// be banned, and the token must not predate the user's `tokens_valid_after`.
    pub async fn verify_access(&self, token: &str) -> Result<(Claims, User)> {
        let claims = self.crypto.verify(token, TokenType::Access).await?;
        let user = self.token_user(&claims).await?;
        Ok((claims, user))
    }

    /// The user a verified access token names, if the token is not revoked. A token an
    /// admin minted by acting (`act`) is also revoked by the app's client secret rotation,
    /// like the admin token that minted it.
    pub async fn token_user(&self, claims: &Claims) -> Result<User> {
        let revoked = || Error::Unauthorized("the token has been revoked".into());
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| Error::Unauthorized("the token does not name a user".into()))?;
        let user = self
            .store
            .find_user(&claims.app, &LoginKey::UserId(user_id))
            .await?
            .filter(|u| u.activated && claims.iat_ms > u.tokens_valid_after)
            .ok_or_else(revoked)?;
        if claims.act.is_some() {
            let app = self
                .store
                .app_by_id(&claims.app)
                .await?
                .ok_or_else(revoked)?;
            if claims.iat_ms <= app.app_tokens_valid_after {
                return Err(revoked());
            }
        }
        Ok(user)
    }

    /// Logout everywhere: every token and refresh family of the user issued before now
    /// stops working.
    pub async fn logout_everywhere(&self, user: &User) -> Result<User> {
        self.store
            .update_user(
                &user.app_id,
                user.user_id,
                &UserChange::RevokeTokens,
                self.crypto.clock.now_ms(),
            )
            .await
    }
}
