//! Logging a user in: one credential read, one argon2 verify, tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::auth::password::Password;
use crate::auth::tokens::{Claims, TokenType, random_id};
use crate::domain::{App, LoginKey, User};
use crate::error::{Error, Result};
use crate::service::Crypto;
use crate::store::LoginStore;

/// How long a warm process trusts its copy of an app record. Apps change rarely, and
/// caching them keeps a login at one store read.
const APP_CACHE_TTL: Duration = Duration::from_secs(60);

pub const MAX_DEVICE_GUID_LEN: usize = 128;

pub struct LoginRequest {
    pub app_id: String,
    pub key: LoginKey,
    pub password: Password,
    pub device_guid: Option<String>,
}

/// The tokens of one login session.
#[derive(Clone)]
pub struct IssuedTokens {
    pub token: String,
    /// Unix seconds at which `token` expires.
    pub expire: i64,
    pub push_token: Option<String>,
    pub store_token: String,
    pub access_key_secret: String,
    pub session_id: String,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("expire", &self.expire)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct LoginGrant {
    pub app: Arc<App>,
    pub user: User,
    pub tokens: IssuedTokens,
}

pub struct LoginService {
    store: Arc<dyn LoginStore>,
    crypto: Arc<Crypto>,
    apps: Mutex<HashMap<String, (Instant, Arc<App>)>>,
}

/// Checks a client-supplied device id before it goes into a token.
pub fn validate_device_guid(guid: &str) -> Result<()> {
    if guid.is_empty() || guid.len() > MAX_DEVICE_GUID_LEN {
        return Err(Error::bad_request(format!(
            "device_guid must be 1 to {MAX_DEVICE_GUID_LEN} characters"
        )));
    }
    if !guid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::bad_request(
            "device_guid must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

impl LoginService {
    pub fn new(store: Arc<dyn LoginStore>, crypto: Arc<Crypto>) -> Self {
        Self {
            store,
            crypto,
            apps: Mutex::new(HashMap::new()),
        }
    }

    pub fn crypto(&self) -> &Crypto {
        &self.crypto
    }

    /// The app named by the `app_id` header, from the warm cache when fresh.
    pub async fn app(&self, app_id: &str) -> Result<Arc<App>> {
        if let Ok(cache) = self.apps.lock()
            && let Some((at, app)) = cache.get(app_id)
            && at.elapsed() < APP_CACHE_TTL
        {
            return Ok(app.clone());
        }
        let app = self
            .store
            .app_by_id(app_id)
            .await?
            .map(Arc::new)
            .ok_or_else(|| Error::UnknownApp(format!("app_id {app_id:?} names no app")))?;
        if let Ok(mut cache) = self.apps.lock() {
            cache.insert(app_id.to_owned(), (Instant::now(), app.clone()));
        }
        Ok(app)
    }

    /// Verifies the password and mints the session's tokens.
    ///
    /// An unknown user, a wrong password (and, later, a locked account) all end in
    /// `BadCredentials` after one argon2 verify. A banned user hears so only after the
    /// right password.
    pub async fn login(&self, request: LoginRequest) -> Result<LoginGrant> {
        if let Some(guid) = &request.device_guid {
            validate_device_guid(guid)?;
        }
        let app = self.app(&request.app_id).await?;
        let hasher = &self.crypto.hasher;
        let Some(user) = self.store.find_user(&app.app_id, &request.key).await? else {
            hasher.dummy_verify(&request.password);
            return Err(Error::BadCredentials);
        };
        if !hasher.verify(&request.password, &user.password_hash)? {
            return Err(Error::BadCredentials);
        }
        if !user.activated {
            return Err(Error::Banned);
        }
        self.rehash_if_needed(&user, &request.password).await;
        let tokens = self.issue(&app, &user, request.device_guid.as_deref())?;
        Ok(LoginGrant { app, user, tokens })
    }

    /// The policy changed since this hash was made: store a new one. Failure here must
    /// not fail the login that already succeeded; it is retried at the next login.
    async fn rehash_if_needed(&self, user: &User, password: &Password) {
        let hasher = &self.crypto.hasher;
        if !hasher.needs_rehash(&user.password_hash) {
            return;
        }
        let outcome = match hasher.hash(password) {
            Ok(new_hash) => {
                self.store
                    .rehash_password(user, &user.password_hash, &new_hash)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::warn!(app_id = %user.app_id, user_id = user.user_id, error = %e, "password rehash failed");
        }
    }

    /// Mints the access token, the store token, the derived `access_key_secret`, and a
    /// push token bound to `device_guid` when one is given.
    pub fn issue(&self, app: &App, user: &User, device_guid: Option<&str>) -> Result<IssuedTokens> {
        let tokens = &self.crypto.tokens;
        let now = self.crypto.clock.now_secs();
        let ttl = i64::try_from(app.token_ttl).unwrap_or(i64::MAX);
        let expire = now.saturating_add(ttl);
        let session_id = random_id::<16>()?;
        let claims = |typ: TokenType, dev: Option<&str>| Claims {
            iss: tokens.issuer().to_owned(),
            aud: typ.audience().to_owned(),
            sub: user.user_id.to_string(),
            app: app.app_id.clone(),
            iat: now,
            exp: Some(expire),
            sid: session_id.clone(),
            typ,
            dev: dev.map(str::to_owned),
            act: None,
            grp: None,
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
            push_token,
            store_token,
            access_key_secret,
            session_id,
        })
    }
}
